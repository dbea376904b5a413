"""``segsuite train {unet,maskrcnn}``: train a model on a dataset folder. Calls core only."""

from __future__ import annotations

from pathlib import Path

from .common import CLIError


def register(sub):
    p = sub.add_parser("train", help="train a model on a dataset folder")
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    _add_train_unet(kinds)
    _add_train_maskrcnn(kinds)


def _add_training_run_args(p, *, output_help: str, batch_size: int, lr: float, time_limit_help: str):
    """The arguments every ``train KIND`` shares: the data, the output, the length and the device."""
    p.add_argument("dataset", type=Path, help="dataset folder (segsuite export or NAME.tif + NAME_masks.tif pairs)")
    p.add_argument("-o", "--output", type=Path, required=True, help=output_help)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--steps-per-epoch", type=int, default=25)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--time-limit", type=float, default=None, metavar="MINUTES", help=time_limit_help)


def _check_training_paths(args) -> None:
    """Refuse a missing dataset folder or a model file not ending in .pt before any work starts."""
    if not args.dataset.exists():
        raise FileNotFoundError(f"{args.dataset}: no such dataset folder.")
    if args.output.suffix != ".pt":
        raise CLIError(f"{args.output}: the model file should end in .pt")


def _seconds(minutes: float | None) -> float | None:
    return None if minutes is None else minutes * 60


def _run_training(job, output: Path) -> int:
    """Drain a core training generator with a terminal progress bar, then print a one-line summary."""
    from napari_segsuite.core.progress import run, terminal_progress

    h = run(job, progress=terminal_progress())["history"]
    best = h.get("best_val_ap50", max((v for v in h["val_ap50"] if v == v), default=float("nan")))
    on = f" (on {h['validation']})" if h.get("validation") else ""
    print(f"trained {len(h['loss'])} epochs: loss {h['loss'][-1]:.4f}, best val AP@0.5 {best:.3f}{on}; wrote {output}")
    return 0


def _add_train_maskrcnn(kinds):
    p = kinds.add_parser("maskrcnn", help="Mask R-CNN instances (torchvision)")
    _add_training_run_args(p, output_help="checkpoint to write (.pt)", batch_size=4, lr=2e-3,
                           time_limit_help="stop after this")
    p.add_argument("--crop-size", type=int, default=128, help="training crop side, pixels")
    p.add_argument("--backbone", choices=("resnet18_slim", "resnet50_fpn_v2"), default=None,
                   help="default: resnet18_slim on CPU, resnet50_fpn_v2 on CUDA")
    p.add_argument("--width", type=int, default=None, help="resnet18_slim: channels of the first stage (32)")
    p.add_argument("--anchor-sizes", default=None, metavar="S1,...,S5",
                   help="anchor sizes in pixels, one per FPN level (default 8,16,32,64,128)")
    p.add_argument("--image-scale", type=float, default=None, help="resize factor inside the model (default 1)")
    p.add_argument("--pretrained", action="store_true",
                   help="start from torchvision's COCO weights (resnet50_fpn_v2, RGB; downloads once)")
    p.add_argument("--channel-axis", type=int, default=None, help="channel axis of multichannel images")
    p.set_defaults(func=_cmd_train_maskrcnn)


def _cmd_train_maskrcnn(args) -> int:
    from napari_segsuite.core.maskrcnn.train import iter_train_maskrcnn

    _check_training_paths(args)
    config = {"backbone": args.backbone, "width": args.width, "image_scale": args.image_scale}
    if args.pretrained:
        config.update(pretrained=True, backbone=args.backbone or "resnet50_fpn_v2")
    if args.anchor_sizes:
        try:
            config["anchor_sizes"] = [int(v) for v in args.anchor_sizes.split(",")]
        except ValueError:
            raise CLIError(f"--anchor-sizes {args.anchor_sizes!r}: give five whole numbers, e.g. 8,16,32,64,128")
    return _run_training(iter_train_maskrcnn(
        args.dataset, config={k: v for k, v in config.items() if v is not None}, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size, crop_size=args.crop_size,
        learning_rate=args.lr, seed=args.seed, channel_axis=args.channel_axis, device=args.device,
        checkpoint_path=args.output, time_limit=_seconds(args.time_limit)), args.output)


def _add_train_unet(kinds):
    p = kinds.add_parser("unet", help="U-Net with the border weight map (Ronneberger 2015)")
    _add_training_run_args(p, output_help="checkpoint to write (.pt), updated every epoch", batch_size=8, lr=1e-3,
                           time_limit_help="stop starting epochs after this")
    p.add_argument("--patch-size", type=int, default=None, help="training patch side (default 128 CPU, 256 GPU)")
    p.add_argument("--base", type=int, default=None, help="channels of the first level (default 16 CPU, 64 GPU)")
    p.add_argument("--depth", type=int, default=None, help="pooling steps (default 3 CPU, 4 GPU)")
    p.add_argument("--classes", type=int, choices=(2, 3), default=2, help="2: background/cell, 3: + boundary")
    p.add_argument("--w0", type=float, default=10.0, help="border weight (0: no border term)")
    p.add_argument("--sigma", type=float, default=5.0, help="border weight width, pixels")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--patience", type=int, default=10, help="early stopping patience in epochs (0: off)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", type=Path, help="continue the training stored in this checkpoint")
    group.add_argument("--init", type=Path, help="fine-tune the weights of this checkpoint")
    p.set_defaults(func=_cmd_train_unet)


def _cmd_train_unet(args) -> int:
    from napari_segsuite.core.unet.train import iter_train_unet

    _check_training_paths(args)
    return _run_training(iter_train_unet(
        args.dataset, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
        patch_size=args.patch_size, base=args.base, depth=args.depth, n_classes=args.classes, w0=args.w0,
        sigma=args.sigma, lr=args.lr, val_fraction=args.val_fraction, patience=args.patience, seed=args.seed,
        device=args.device, checkpoint=args.output, resume=args.resume, init=args.init,
        time_limit=_seconds(args.time_limit)), args.output)
