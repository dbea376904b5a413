"""``segsuite train`` and ``segsuite predict`` (U-Net and Mask R-CNN checkpoints). Calls core only."""

from __future__ import annotations

from pathlib import Path

from napari_segsuite.cli import CLIError, refuse_overwriting_inputs


def _add_train(sub):
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

def _add_predict(sub):
    p = sub.add_parser("predict", help="predict instance labels with a trained model (kind read from the file)")
    p.add_argument("model", type=Path, help="checkpoint (.pt) written by segsuite")
    p.add_argument("inputs", type=Path, nargs="+", help="image files, folders of images, or a .zarr array")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file for one input (.tif, or .zarr for a zarr input), a folder for several")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--tile-size", type=int, default=None, help="inference tile side (U-Net)")
    p.add_argument("--probabilities", action="store_true", help="also write NAME_prob.tif (U-Net)")
    p.add_argument("--min-size", type=int, default=None, help="smallest instance kept, pixels")
    p.add_argument("--watershed", action="store_true", help="split touching cells by a distance watershed (U-Net)")
    p.add_argument("--channel-axis", type=int, default=None, help="channel axis of multichannel images")
    p.set_defaults(func=_cmd_predict)

def _predict_inputs(paths: list[Path]) -> list[Path]:
    from napari_segsuite.core.io import IMAGE_SUFFIXES

    files = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder.")
        if path.is_dir() and path.suffix != ".zarr":
            found = [f for f in sorted(path.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES
                     and not f.name.startswith(".") and not f.stem.endswith(("_masks", "_prob"))]
            if not found:
                raise CLIError(f"{path}: no image files in this folder.")
            files.extend(found)
        else:
            files.append(path)
    return files

def _predict_outputs(inputs: list[Path], files: list[Path], output: Path) -> dict[Path, Path]:
    """Map each input file to its labels file: ``output`` itself for one file, else ``output/NAME_masks.tif``.

    The output is a folder when there are several files, when an input is a folder or when ``output``
    is an existing folder. Refused: a folder output named like a file, a single output that is not
    .tif (or .zarr for a zarr input), and writing into an input folder, where ``NAME_masks.tif`` is the
    name of ground-truth masks.
    """
    folders = [p for p in inputs if p.is_dir() and p.suffix != ".zarr"]
    if len(files) == 1 and not folders and not (output.is_dir() and output.suffix != ".zarr"):
        if output.suffix.lower() not in (".tif", ".tiff", ".zarr"):
            raise CLIError(f"the output must be a .tif file (or an existing folder), got {output}.")
        return {files[0]: output}
    if output.suffix.lower() in (".tif", ".tiff", ".zarr") or (output.exists() and not output.is_dir()):
        raise CLIError(f"{len(files)} input(s) from folders or several files: give an output folder, "
                       f"not the file {output}.")
    for folder in folders:
        if output.exists() and output.samefile(folder):
            raise CLIError(f"{output}: is the input folder; predictions (NAME_masks.tif) would replace "
                           "ground-truth masks kept there. Give another output folder.")
    outputs = {path: output / f"{path.stem}_masks.tif" for path in files}
    seen = {}
    for path, out in outputs.items():
        if out in seen:
            raise CLIError(f"{seen[out]} and {path} would both be written to {out}; rename one of them.")
        seen[out] = path
    return outputs

def _prob_path(out: Path) -> Path:
    return out.with_name(out.stem.removesuffix("_masks") + "_prob.tif")

def _cmd_predict(args) -> int:
    from napari_segsuite.core.io import read_image, write_tiff
    from napari_segsuite.core.labels import smallest_uint_dtype
    from napari_segsuite.core.predict import iter_predict_checkpoint
    from napari_segsuite.core.progress import run, terminal_progress
    from napari_segsuite.core.unet.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.model, kind=None)
    files = _predict_inputs(args.inputs)
    outputs = _predict_outputs(args.inputs, files, args.output)
    refuse_overwriting_inputs(files, [p for out in outputs.values() for p in (out, _prob_path(out))])
    kwargs = {"device": args.device, "channel_axis": args.channel_axis}
    if args.tile_size is not None:
        kwargs["tile_size"] = args.tile_size
    if args.probabilities:
        kwargs["return_probabilities"] = True
    if args.min_size is not None:
        kwargs["min_size"] = args.min_size
    if args.watershed:
        if ckpt["kind"] != "unet":
            raise CLIError(f"--watershed applies to U-Net models; {args.model} is a {ckpt['kind']} model.")
        kwargs["watershed"] = True
    for path, out in outputs.items():
        if path.suffix == ".zarr":
            import zarr

            if ckpt["kind"] != "unet":
                raise CLIError(f"zarr input is predicted chunk by chunk by U-Net models; {args.model} is a "
                               f"{ckpt['kind']} model (convert the input to TIFF).")

            image = zarr.open_array(str(path), mode="r")
            if out.suffix != ".zarr":
                raise CLIError("a .zarr input is predicted into a .zarr output; give -o OUT.zarr")
            from napari_segsuite.core.unet.data import PlaneSource

            shape = PlaneSource(image, channel_axis=args.channel_axis).out_shape
            chunks = ((1,) if len(shape) == 3 else ()) + tuple(min(s, 1024) for s in shape[-2:])
            labels_out = zarr.open_array(str(out), mode="w", shape=shape, chunks=chunks, dtype="uint32")
            run(iter_predict_checkpoint(ckpt, image, out=labels_out, **{**kwargs, "return_probabilities": False}),
                progress=terminal_progress())
            print(f"{path.name}: wrote {out}")
            continue
        image = read_image(path)
        result = run(iter_predict_checkpoint(ckpt, image, **kwargs), progress=terminal_progress())
        labels, prob = result if isinstance(result, tuple) else (result, None)
        write_tiff(out, labels.astype(smallest_uint_dtype(int(labels.max(initial=0)))))
        if prob is not None:
            write_tiff(_prob_path(out), prob.astype("float32"))
        print(f"{path.name}: {int(labels.max(initial=0))} instances -> {out}")
    return 0
