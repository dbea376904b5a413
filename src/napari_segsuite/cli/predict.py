"""``segsuite predict``: instance labels from a trained model (the kind is read from the file). Calls core only."""

from __future__ import annotations

from pathlib import Path

from .distributed import add_arguments as add_distributed_arguments
from .distributed import run_predict, wants_distributed
from .common import CLIError, add_channel_axis_argument, channel_axis_arg, refuse_overwriting_inputs


def register(sub):
    from napari_segsuite.core.channels import CONVERSIONS

    p = sub.add_parser("predict", help="predict instance labels with a trained model (kind read from the file)")
    p.add_argument("model", type=Path, help="checkpoint (.pt) written by segsuite")
    p.add_argument("inputs", type=Path, nargs="+", help="image files, folders of images, or a .zarr array")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file for one input (.tif, or .zarr for a zarr input), a folder for several")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--tile-size", type=int, default=None, help="inference tile side (U-Net; default: the model's)")
    p.add_argument("--probabilities", action="store_true", help="also write NAME_prob.tif (U-Net)")
    p.add_argument("--min-size", type=int, default=None, help="smallest instance kept, pixels (default: the model's)")
    p.add_argument("--watershed", action="store_true", help="split touching cells by a distance watershed (U-Net)")
    p.add_argument("--diameter", type=_diameter, default=None,
                   help="the cells' diameter in pixels, or 'auto' to estimate it: each 2D image is rescaled to the "
                        "size the model was trained at (default: predict at the image's own scale)")
    add_channel_axis_argument(p)
    p.add_argument("--convert", choices=CONVERSIONS, default=None,
                   help="let a colour image into a model trained on gray images: 'hematoxylin' (H&E: the "
                        "hematoxylin stain, nuclei bright) or 'gray' (channel mean); without it such an image is "
                        "refused")
    add_distributed_arguments(p)
    p.set_defaults(func=_cmd_predict)


def _diameter(text: str):
    """``--diameter``: a positive number of pixels or ``auto``."""
    import argparse

    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"a positive number of pixels or 'auto', got {text!r}")
    return value


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
    from napari_segsuite.core.training.checkpoint import open_checkpoint

    if wants_distributed(args):
        if args.diameter is not None:
            raise CLIError("--diameter is not available with --workers/--scheduler (blocks are predicted at the "
                           "image's own scale); rescale the image first or leave out --diameter.")
        return run_predict(args)
    ckpt = open_checkpoint(args.model)
    files = _predict_inputs(args.inputs)
    outputs = _predict_outputs(args.inputs, files, args.output)
    refuse_overwriting_inputs(files, [p for out in outputs.values() for p in (out, _prob_path(out))])
    kwargs = {"device": args.device}
    if args.convert is not None:
        kwargs["convert"] = args.convert
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
    if args.diameter is not None:
        from napari_segsuite.core.diameter import model_diameter

        if model_diameter(ckpt) is None:
            raise CLIError(f"--diameter: {args.model} does not record the cell size it was trained at (it was "
                           "trained before this version); predict without --diameter.")
        kwargs["diameter"] = args.diameter
    for path, out in outputs.items():
        if path.suffix == ".zarr" and args.diameter is not None:
            raise CLIError("--diameter rescales 2D images read whole; a .zarr input is predicted chunk by chunk "
                           "at its own scale (leave out --diameter).")
        if path.suffix == ".zarr":
            import zarr

            if ckpt["kind"] != "unet":
                raise CLIError(f"zarr input is predicted chunk by chunk by U-Net models; {args.model} is a "
                               f"{ckpt['kind']} model (convert the input to TIFF).")

            image = zarr.open_array(str(path), mode="r")
            if out.suffix != ".zarr":
                raise CLIError("a .zarr input is predicted into a .zarr output; give -o OUT.zarr")
            from napari_segsuite.core.unet.data import PlaneSource

            kwargs["channel_axis"] = channel_axis_arg(args.channel_axis, image)
            shape = PlaneSource(image, channel_axis=kwargs["channel_axis"]).out_shape
            chunks = ((1,) if len(shape) == 3 else ()) + tuple(min(s, 1024) for s in shape[-2:])
            labels_out = zarr.open_array(str(out), mode="w", shape=shape, chunks=chunks, dtype="uint32")
            run(iter_predict_checkpoint(ckpt, image, out=labels_out, **{**kwargs, "return_probabilities": False}),
                progress=terminal_progress())
            print(f"{path.name}: wrote {out}")
            continue
        image = read_image(path)
        kwargs["channel_axis"] = channel_axis_arg(args.channel_axis, image)
        result = run(iter_predict_checkpoint(ckpt, image, **kwargs), progress=terminal_progress())
        labels, prob = result if isinstance(result, tuple) else (result, None)
        write_tiff(out, labels.astype(smallest_uint_dtype(int(labels.max(initial=0)))))
        if prob is not None:
            write_tiff(_prob_path(out), prob.astype("float32"))
        print(f"{path.name}: {int(labels.max(initial=0))} instances -> {out}")
    return 0
