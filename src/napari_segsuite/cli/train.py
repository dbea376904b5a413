"""``segsuite train {unet,maskrcnn}``: train a model on a dataset folder. Calls core only.

Partial labels need no option: a dataset item with a region (``regions/NAME.tif``, written by
``segsuite export --region``) is trained on inside its region only.

Both kinds take the same options for the same things, with the defaults the core trainers define
(:mod:`napari_segsuite.core.training.defaults`); ``--time-limit`` is in minutes here, seconds in core.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import CLIError


def register(sub):
    p = sub.add_parser("train", help="train a model on a dataset folder",
                       description="Train a model on a dataset folder. Items with a region (regions/NAME.tif, "
                                   "from `segsuite export --region`) are learnt from inside their region only "
                                   "(partial labels); no option is needed.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    _add_train_unet(kinds)
    _add_train_maskrcnn(kinds)


def _add_training_run_args(p, d: dict, *, output_help: str, patch_help: str) -> None:
    """The options every ``train KIND`` shares (defaults ``d`` from core)."""
    p.add_argument("dataset", type=Path,
                   help="dataset folder (segsuite export or NAME.tif + NAME_masks.tif pairs); items' regions "
                        "(partial labels) are read automatically: only inside them is learnt from")
    p.add_argument("-o", "--output", type=Path, required=True, help=output_help)
    p.add_argument("--epochs", type=int, default=d["epochs"], help="training epochs (default %(default)s)")
    p.add_argument("--steps-per-epoch", type=int, default=d["steps_per_epoch"],
                   help="optimizer steps per epoch (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d["batch_size"],
                   help="random patches per step (default %(default)s)")
    p.add_argument("--learning-rate", "--lr", dest="learning_rate", type=float, default=d["learning_rate"],
                   help="learning rate (default %(default)s)")
    p.add_argument("--patch-size", type=int, default=d["patch_size"], help=patch_help)
    p.add_argument("--val-fraction", type=float, default=d["val_fraction"],
                   help="share of the items held out for validation (default %(default)s)")
    p.add_argument("--patience", type=int, default=d["patience"],
                   help="stop after this many epochs without a better validation AP@0.5; 0: never "
                        "(default %(default)s)")
    p.add_argument("--time-limit", type=float, default=d["time_limit"], metavar="MINUTES",
                   help="wall-clock limit: the epoch running when it passes ends there and training stops "
                        "(default: none)")
    p.add_argument("--seed", type=int, default=d["seed"], help="random seed (default %(default)s)")
    p.add_argument("--device", default=d["device"],
                   help="auto, cpu, cuda, cuda:N or mps (default %(default)s)")
    p.add_argument("--channel-axis", type=int, default=None,
                   help="channel axis of multichannel images (default: none, or the last axis when the image "
                        "has one more axis than its masks)")
    p.add_argument("--init", type=Path, default=None, metavar="MODEL.pt",
                   help="start from this checkpoint's model and weights (default: a new model)")


def _check_training_paths(args) -> None:
    """Refuse a missing dataset folder or a model file not ending in .pt before any work starts."""
    if not args.dataset.exists():
        raise FileNotFoundError(f"{args.dataset}: no such dataset folder.")
    if args.output.suffix != ".pt":
        raise CLIError(f"{args.output}: the model file should end in .pt")


def _shared(args) -> dict:
    """The core keyword arguments both trainers share, from the parsed options."""
    return dict(epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
                learning_rate=args.learning_rate, patch_size=args.patch_size, val_fraction=args.val_fraction,
                patience=args.patience, seed=args.seed, device=args.device, channel_axis=args.channel_axis,
                init=args.init, checkpoint_path=args.output,
                time_limit=None if args.time_limit is None else args.time_limit * 60)


def _run_training(job, output: Path) -> int:
    """Drain a core training generator with a terminal progress bar, then print a one-line summary."""
    from napari_segsuite.core.progress import run, terminal_progress

    h = run(job, progress=terminal_progress())["history"]
    best = h.get("best_val_ap50")
    best = f"best val AP@0.5 {best:.3f} (epoch {h['best_epoch']})" if best is not None else "no validation"
    on = f" on {h['validation']}" if h.get("validation") and h.get("best_val_ap50") is not None else ""
    stopped = f", stopped by the {h['stopped'].replace('_', ' ')}" if h.get("stopped") else ""
    print(f"trained {len(h['loss'])} epochs{stopped}: loss {h['loss'][-1]:.4f}, {best}{on}; wrote {output}")
    return 0


def _add_train_maskrcnn(kinds):
    from napari_segsuite.core.training.defaults import MASKRCNN_DEFAULTS

    p = kinds.add_parser("maskrcnn", help="Mask R-CNN instances (torchvision)")
    _add_training_run_args(p, MASKRCNN_DEFAULTS, output_help="checkpoint to write (.pt), updated every epoch",
                           patch_help="training crop side, pixels (default %(default)s)")
    p.add_argument("--crop-size", dest="patch_size", type=int, default=argparse.SUPPRESS,
                   help="old name of --patch-size")
    p.add_argument("--backbone", choices=("resnet18_slim", "resnet50_fpn_v2"), default=None,
                   help="default: resnet18_slim on CPU, resnet50_fpn_v2 on CUDA")
    p.add_argument("--width", type=int, default=None, help="resnet18_slim: channels of the first stage (32)")
    p.add_argument("--anchor-sizes", default=None, metavar="S1,...,S5",
                   help="anchor sizes in pixels, one per FPN level (default 8,16,32,64,128)")
    p.add_argument("--image-scale", type=float, default=None,
                   help="resize factor inside the model (default 1)")
    p.add_argument("--pretrained", action="store_true",
                   help="start from torchvision's COCO weights (resnet50_fpn_v2, RGB; downloads once)")
    p.add_argument("--freeze-norm", action="store_true",
                   help="keep the batch-norm statistics of --init's model (fine-tuning on a few images)")
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
            raise CLIError(f"--anchor-sizes {args.anchor_sizes!r}: give five whole numbers, "
                           "e.g. 8,16,32,64,128")
    config = {k: v for k, v in config.items() if v is not None}
    if args.init is not None and config:
        raise CLIError("--init takes the model from the checkpoint: leave out --backbone, --width, "
                       "--anchor-sizes, --image-scale and --pretrained.")
    job = iter_train_maskrcnn(args.dataset, config=config or None, freeze_norm=args.freeze_norm, **_shared(args))
    return _run_training(job, args.output)


def _add_train_unet(kinds):
    from napari_segsuite.core.training.defaults import UNET_DEFAULTS as d

    p = kinds.add_parser("unet", help="U-Net with the border weight map (Ronneberger 2015)")
    _add_training_run_args(p, d, output_help="checkpoint to write (.pt), updated every epoch",
                           patch_help="training patch side, pixels (default: 128 on a CPU, 256 on a GPU)")
    p.add_argument("--base", type=int, default=d["base"],
                   help="channels of the first level (default 16 CPU, 64 GPU)")
    p.add_argument("--depth", type=int, default=d["depth"], help="pooling steps (default 3 CPU, 4 GPU)")
    p.add_argument("--classes", type=int, choices=(2, 3), default=d["n_classes"],
                   help="2: background/cell, 3: + boundary (default %(default)s)")
    p.add_argument("--w0", type=float, default=d["w0"],
                   help="border weight, 0: no border term (default %(default)s)")
    p.add_argument("--sigma", type=float, default=d["sigma"],
                   help="border weight width, pixels (default %(default)s)")
    p.add_argument("--resume", type=Path, default=None, metavar="MODEL.pt",
                   help="continue the training stored in this checkpoint (not with --init)")
    p.set_defaults(func=_cmd_train_unet)


def _cmd_train_unet(args) -> int:
    from napari_segsuite.core.unet.train import iter_train_unet

    _check_training_paths(args)
    if args.resume is not None and args.init is not None:
        raise CLIError("give either --resume (continue a training) or --init (fine-tune a model), not both.")
    return _run_training(iter_train_unet(
        args.dataset, base=args.base, depth=args.depth, n_classes=args.classes, w0=args.w0, sigma=args.sigma,
        resume=args.resume, **_shared(args)), args.output)
