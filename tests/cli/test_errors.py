"""Every ``segsuite`` verb answers careless input with one line on stderr and exit code 2.

For each verb registered in the parser: a missing file, a corrupt file (random bytes named .tif), an
empty file, a text file, a pickled ``.npy``, the wrong dimensionality (1D, 4D, 5D), negative or
fractional labels, NaN images, and out-of-range parameters. Each must give exactly one stderr line
starting with ``segsuite``, exit code 2, no traceback, and leave no output file (nor a temporary
``.part`` file) behind. ``test_every_verb_has_a_spec`` keeps the table complete as verbs are added.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from napari_segsuite.cli import build_parser, main
from napari_segsuite.core.io import write_tiff
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


def _verbs() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


VERBS = _verbs()


class _TouchOnUnpickle:
    """Unpickling this object creates a file: the side effect proves whether code ran."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


# ---------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good and bad inputs, written once for the module."""
    d = tmp_path_factory.mktemp("cli_inputs")
    rng = np.random.default_rng(0)
    image, labels = synthetic_nuclei((64, 64), n_nuclei=6, seed=0)
    f = {"dir": d}
    f["image"] = write_tiff(d / "image.tif", image)
    f["labels"] = write_tiff(d / "labels.tif", labels.astype(np.uint16))
    f["missing"] = d / "missing.tif"
    f["corrupt"] = d / "corrupt.tif"
    f["corrupt"].write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    f["truncated"] = d / "truncated.tif"
    f["truncated"].write_bytes(f["image"].read_bytes()[:200])
    f["empty"] = d / "empty.tif"
    f["empty"].write_bytes(b"")
    f["text"] = d / "notes.tif"
    f["text"].write_text("these are my notes, not an image\n")
    f["folder_named_tif"] = d / "folder.tif"
    f["folder_named_tif"].mkdir()
    f["pickle_npy"] = d / "pickled.npy"
    f["pickle_side_effect"] = d / "PICKLE_RAN"
    np.save(f["pickle_npy"], np.array([_TouchOnUnpickle(f["pickle_side_effect"])], dtype=object), allow_pickle=True)
    f["1d"] = d / "line.npy"
    np.save(f["1d"], np.arange(10, dtype=np.uint16))
    f["4d"] = write_tiff(d / "four_d.tif", np.stack([np.stack([labels] * 2)] * 2).astype(np.uint16))
    f["5d"] = write_tiff(d / "five_d.tif", np.zeros((2, 2, 2, 16, 16), np.uint16))
    neg = labels.astype(np.int16)
    neg[0, 0] = -1
    f["negative"] = write_tiff(d / "negative.tif", neg)
    frac = labels.astype(np.float32)
    frac[labels == 1] = 0.5
    f["fractional"] = write_tiff(d / "fractional.tif", frac)
    nan_image = image.astype(np.float32)
    nan_image[10:20, 10:20] = np.nan
    f["nan_image"] = write_tiff(d / "nan_image.tif", nan_image)
    f["small_labels"] = write_tiff(d / "small_labels.tif", labels[:32, :32].astype(np.uint16))
    gray8 = (image / image.max() * 255).astype(np.uint8)
    f["rgb"] = write_tiff(d / "rgb.tif", np.stack([gray8, gray8 // 2, 255 - gray8], axis=-1))
    f["two_channel"] = write_tiff(d / "two_channel.tif", np.stack([gray8, 255 - gray8], axis=-1))
    _add_datasets(f, d, image, labels)
    return f


def _add_datasets(f, d, image, labels):
    """Training folders: a good one and broken ones."""
    from napari_segsuite.core.dataset import export_dataset

    image2, labels2 = synthetic_nuclei((64, 64), n_nuclei=6, seed=1)
    f["dataset"] = export_dataset(d / "dataset", [("a", image, labels), ("b", image2, labels2)])
    f["empty_dir"] = d / "empty_dir"
    f["empty_dir"].mkdir()
    bad = {"ds_corrupt": ("corrupt", "labels"), "ds_negative": ("image", "negative"),
           "ds_fractional": ("image", "fractional"), "ds_shape": ("image", "small_labels"),
           "ds_4d": ("image", "4d")}
    for name, (img_key, mask_key) in bad.items():  # cellpose-style pairs NAME.tif + NAME_masks.tif
        folder = d / name
        folder.mkdir()
        (folder / "x.tif").write_bytes(f[img_key].read_bytes())
        (folder / "x_masks.tif").write_bytes(f[mask_key].read_bytes())
        f[name] = folder
    f["ds_foreign_json"] = d / "ds_foreign_json"
    f["ds_foreign_json"].mkdir()
    (f["ds_foreign_json"] / "dataset.json").write_text('{"format": "something-else", "items": []}')
    f["ds_broken_json"] = d / "ds_broken_json"
    f["ds_broken_json"].mkdir()
    (f["ds_broken_json"] / "dataset.json").write_text('{"format": "segsuite-dataset", "items": [')
    f["ds_missing_item"] = d / "ds_missing_item"
    export_dataset(f["ds_missing_item"], [("a", image, labels)])
    (f["ds_missing_item"] / "masks" / "a.tif").unlink()


# Bad inputs every verb reading an image or labels file must refuse.
UNREADABLE = ["missing", "corrupt", "truncated", "empty", "text", "folder_named_tif", "pickle_npy", "1d", "5d"]
BAD_LABELS = UNREADABLE + ["4d", "negative", "fractional"]
BAD_IMAGES = UNREADABLE + ["nan_image"]


# ---------------------------------------------------------------------------------------------------
# Running the CLI
# ---------------------------------------------------------------------------------------------------


def run_cli(argv, capsys):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_user_error(argv, capsys, outputs=(), match=None, files=None):
    rc, out, err = run_cli(argv, capsys)
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    shown = " ".join(Path(str(a)).name if "/" in str(a) else str(a) for a in argv)
    assert rc == 2, f"exit code {rc} for `{shown}`; stderr: {' | '.join(lines)[:300]}"
    assert len(lines) == 1, f"{len(lines)} stderr lines for `{shown}`: {' | '.join(lines)[:300]}"
    assert lines[0].startswith("segsuite"), lines[0]
    if match is not None:
        assert any(m.lower() in lines[0].lower() for m in ([match] if isinstance(match, str) else match)), lines[0]
    for path in outputs:
        path = Path(path)
        assert not path.exists(), f"{path} was left behind by {argv}"
        if path.parent.exists():
            leftovers = [p.name for p in path.parent.rglob("*") if p.name.endswith(".part")]
            assert not leftovers, leftovers
    if files is not None:
        assert not files["pickle_side_effect"].exists(), "a pickled object was unpickled: code ran"
    return lines[0]


def _needs(verb):
    return pytest.mark.skipif(verb not in VERBS, reason=f"`segsuite {verb}` is not in this build")


# ---------------------------------------------------------------------------------------------------
# Per-verb specs: how to call the verb with one input replaced, and the parameter errors to try.
# ---------------------------------------------------------------------------------------------------


def _evaluate_cases(f, out):
    for bad in BAD_LABELS:
        if bad == "4d":  # evaluate accepts up to 4D (TZYX)
            continue
        yield f"gt-{bad}", ["evaluate", f[bad], f["labels"]], []
        yield f"pred-{bad}", ["evaluate", f["labels"], f[bad]], []
    yield "shape-mismatch", ["evaluate", f["labels"], f["small_labels"]], []
    yield "file-and-folder", ["evaluate", f["labels"], f["dir"]], []


def _weightmap_cases(f, out):
    target = out / "w.tif"
    for bad in BAD_LABELS:
        yield f"mask-{bad}", ["weightmap", f[bad], "-o", target], [target]
    for params in (["--sigma", "0"], ["--sigma", "-2"], ["--sigma", "nan"], ["--w0", "-1"], ["--w0", "inf"],
                   ["--class-weights", "1,2,3"], ["--class-weights", "-1,1"], ["--class-weights", "heavy"],
                   ["--spacing", "0,1"], ["--spacing", "1,1,1"], ["--spacing", "a,b"], ["--sigma", "five"]):
        yield "param" + "".join(params), ["weightmap", f["labels"], "-o", target, *params], [target]


def _superpixels_cases(f, out):
    target = out / "sp.tif"
    for bad in BAD_IMAGES:
        yield f"image-{bad}", ["superpixels", f[bad], "-o", target], [target]
    for params in (["--n-segments", "0"], ["--n-segments", "-5"], ["--compactness", "0"],
                   ["--compactness", "-1"], ["--compactness", "nan"], ["--merge-threshold", "-1"],
                   ["--merge-threshold", "nan"], ["--mode", "bogus"], ["--channel-axis", "7"],
                   ["--channel-axis", "x"], ["--spacing", "0,1"], ["--spacing", "1,1,1,1"],
                   ["--n-segments", "2.5"]):
        yield "param" + "".join(params), ["superpixels", f["image"], "-o", target, *params], [target]


def _cluster_cases(f, out):
    target = out / "clusters.tif"
    for bad in BAD_IMAGES:
        yield f"image-{bad}", ["cluster", f[bad], "-o", target], [target]
    for bad in ("missing", "corrupt", "small_labels"):
        yield f"mask-{bad}", ["cluster", f["image"], "--mask", f[bad], "-o", target], [target]
    yield "output-is-the-input", ["cluster", f["image"], "-o", f["image"]], []
    yield "output-not-tif", ["cluster", f["image"], "-o", out / "clusters.png"], [out / "clusters.png"]
    for params in (["--method", "dbscan"], ["--k", "0"], ["--k", "-2"], ["--k", "two"], ["--bandwidth", "0"],
                   ["--bandwidth", "-1"], ["--bandwidth", "nan"], ["--spatial-weight", "-1"],
                   ["--channel-axis", "7"], ["--channel-axis", "x"]):
        yield "param" + "".join(params), ["cluster", f["image"], "-o", target, *params], [target]


def _grabcut_cases(f, out):
    target = out / "gc.tif"
    box = ["--box", "10,10,40,40"]
    for bad in BAD_IMAGES:
        yield f"image-{bad}", ["grabcut", f[bad], *box, "-o", target], [target]
    for bad in UNREADABLE + ["negative", "fractional", "small_labels"]:
        yield f"trimap-{bad}", ["grabcut", f["image"], *box, "--trimap", f[bad], "-o", target], [target]
    for b in ("10,10,10,40", "10,10,40,10", "40,40,10,10", "-5,-5,20,20", "0,0,1000,1000", "100,100,120,120",
              "10,10,40", "a,b,c,d", "10,10,40,40,50,60"):
        yield f"box-{b}", ["grabcut", f["image"], f"--box={b}", "-o", target], [target]
    yield "box-space-negative", ["grabcut", f["image"], "--box", "-5,-5,20,20", "-o", target], [target]
    for params in (["--n-iter", "0"], ["--n-iter", "-1"], ["--gamma", "-1"], ["--gamma", "nan"],
                   ["--margin", "-3"], ["--channel-axis", "5"]):
        yield "param" + "".join(params), ["grabcut", f["image"], *box, "-o", target, *params], [target]
    yield "output-not-tif", ["grabcut", f["image"], *box, "-o", out / "gc.png"], [out / "gc.png"]


BAD_DATASETS = ["missing", "labels", "empty_dir", "ds_corrupt", "ds_negative", "ds_fractional", "ds_shape", "ds_4d",
                "ds_foreign_json", "ds_broken_json", "ds_missing_item"]
# Small enough that a parameter check that comes too late still ends in seconds.
QUICK_TRAIN = {
    "unet": ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "1", "--patch-size", "32", "--base", "4",
             "--depth", "1", "--device", "cpu"],
    "maskrcnn": ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "1", "--crop-size", "64",
                 "--device", "cpu"],
}
BAD_TRAIN_PARAMS = {
    "unet": [["--epochs", "0"], ["--epochs", "-1"], ["--steps-per-epoch", "0"], ["--batch-size", "0"],
             ["--patch-size", "0"], ["--patch-size", "-32"], ["--base", "0"], ["--depth", "-1"], ["--depth", "12"],
             ["--lr", "0"], ["--lr", "-1"], ["--lr", "nan"], ["--val-fraction", "1.5"], ["--val-fraction", "-0.1"],
             ["--w0", "-1"], ["--sigma", "0"], ["--device", "cuda:7"], ["--device", "gpu-please"],
             ["--time-limit", "-1"], ["--classes", "4"], ["--patience", "-1"], ["--epochs", "two"]],
    "maskrcnn": [["--epochs", "0"], ["--epochs", "-1"], ["--steps-per-epoch", "0"], ["--batch-size", "0"],
                 ["--crop-size", "0"], ["--crop-size", "-64"], ["--crop-size", "32"], ["--width", "0"],
                 ["--anchor-sizes", "a,b"],
                 ["--anchor-sizes", "-8,16,32,64,128"], ["--image-scale", "0"], ["--image-scale", "-1"],
                 ["--lr", "0"], ["--lr", "nan"], ["--channel-axis", "5"], ["--device", "cuda:7"],
                 ["--device", "gpu-please"], ["--time-limit", "-1"], ["--backbone", "vgg"]],
}


def _train_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and "train" in action.choices:
            for sub in action.choices["train"]._actions:
                if isinstance(sub, argparse._SubParsersAction):
                    return dict(sub.choices)
    return {}


def _train_cases(f, out):
    for kind, kind_parser in sorted(_train_parsers().items()):
        options = {opt for a in kind_parser._actions for opt in a.option_strings}
        target = out / f"{kind}.pt"
        quick = QUICK_TRAIN.get(kind, [])
        for bad in BAD_DATASETS:
            yield f"{kind}-dataset-{bad}", ["train", kind, f[bad], "-o", target, *quick], [target]
        for params in BAD_TRAIN_PARAMS.get(kind, []):
            argv = ["train", kind, f["dataset"], "-o", target, *quick, *params]
            yield f"{kind}-param" + "".join(params), argv, [target]
        not_pt = out / "model.tif"
        yield f"{kind}-output-not-pt", ["train", kind, f["dataset"], "-o", not_pt, *quick], [not_pt]
        yield f"{kind}-output-is-folder", ["train", kind, f["dataset"], "-o", f["empty_dir"], *quick], []
        for bad in ("missing", "corrupt", "labels"):
            for flag in ("--resume", "--init"):
                if flag in options:
                    yield (f"{kind}-{flag}-{bad}",
                           ["train", kind, f["dataset"], "-o", target, *quick, flag, f[bad]], [target])


def _sample_model(name):
    from napari_segsuite.core.samples import sample_path

    try:
        path = Path(sample_path(name))
    except (ValueError, FileNotFoundError):
        return None
    return path if path.exists() else None


def _model_files(f, d):
    """A working model (the shipped sample) and broken model files."""
    import torch

    f["model"] = _sample_model("unet_nuclei.pt")
    f["model_code"] = d / "model_code.pt"
    torch.save({"format": "segsuite-model", "version": 1, "kind": "unet",
                "x": _TouchOnUnpickle(f["pickle_side_effect"])}, f["model_code"])
    f["model_foreign"] = d / "model_foreign.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), f["model_foreign"])
    f["model_newer"] = d / "model_newer.pt"
    torch.save({"format": "segsuite-model", "version": 99, "kind": "unet", "config": {}, "normalization": {},
                "state_dict": {}}, f["model_newer"])
    f["model_kind"] = d / "model_kind.pt"
    torch.save({"format": "segsuite-model", "version": 1, "kind": "stardist", "config": {}, "normalization": {},
                "state_dict": {}}, f["model_kind"])
    f["model_mismatch"] = d / "model_mismatch.pt"
    torch.save({"format": "segsuite-model", "version": 1, "kind": "unet", "config": {"base": 4, "depth": 1},
                "normalization": {}, "state_dict": {"nonsense.weight": torch.zeros(3)}}, f["model_mismatch"])


def _predict_cases(f, out):
    if "model_code" not in f:
        _model_files(f, f["dir"])
    target = out / "pred.tif"
    for bad in ("missing", "corrupt", "empty", "text", "labels", "model_code", "model_foreign", "model_newer",
                "model_kind", "model_mismatch", "folder_named_tif"):
        yield f"model-{bad}", ["predict", f[bad], f["image"], "-o", target], [target]
    mrcnn = _sample_model("maskrcnn_nuclei.pt")
    if mrcnn is not None:
        for params in (["--min-size", "-1"], ["--tile-size", "0"], ["--tile-size", "-64"], ["--channel-axis", "5"],
                       ["--device", "cuda:7"]):
            yield "maskrcnn-param" + "".join(params), ["predict", mrcnn, f["image"], "-o", target, *params], [target]
        for bad in ("corrupt", "5d", "nan_image", "1d", "two_channel"):  # the sample model is gray
            yield f"maskrcnn-input-{bad}", ["predict", mrcnn, f[bad], "-o", target], [target]
    if f["model"] is None:
        return
    for bad in BAD_IMAGES + ["rgb", "two_channel"]:  # the sample U-Net is gray: YXC is not a stack of YX planes
        yield f"input-{bad}", ["predict", f["model"], f[bad], "-o", target], [target]
    yield "output-not-tif", ["predict", f["model"], f["image"], "-o", out / "pred"], [out / "pred"]
    yield "input-empty-folder", ["predict", f["model"], f["empty_dir"], "-o", out / "preds"], [out / "preds"]
    yield "several-into-a-file", ["predict", f["model"], f["image"], f["labels"], "-o", target], [target]
    for params in (["--tile-size", "0"], ["--tile-size", "-64"], ["--tile-size", "3"], ["--min-size", "-1"],
                   ["--channel-axis", "5"], ["--device", "cuda:7"], ["--device", "gpu-please"],
                   ["--tile-size", "big"]):
        yield "param" + "".join(params), ["predict", f["model"], f["image"], "-o", target, *params], [target]


def _export_cases(f, out):
    target = out / "ds"
    for bad in UNREADABLE + ["nan_image"]:
        yield f"image-{bad}", ["export", f[bad], f["labels"], "-o", target], [target]
    for bad in BAD_LABELS + ["small_labels"]:
        yield f"mask-{bad}", ["export", f["image"], f[bad], "-o", target], [target]
    for bad in BAD_DATASETS[2:]:
        yield f"folder-{bad}", ["export", f[bad], "-o", target], [target]
    yield "one-file", ["export", f["image"], "-o", target], [target]
    yield "three-files", ["export", f["image"], f["labels"], f["labels"], "-o", target], [target]
    yield "output-is-a-file", ["export", f["image"], f["labels"], "-o", f["labels"]], []
    pair = [f["image"], f["labels"]]
    for params in (["--format", "hdf5"], ["--name", "../escape"], ["--name", "a/b"], ["--name", ".hidden"],
                   ["--name", "x.tif"], ["--weight-maps", "--sigma", "0"], ["--weight-maps", "--w0", "-1"],
                   ["--weight-maps", "--sigma", "nan"]):
        yield "param" + "".join(params), ["export", *pair, "-o", target, *params], [target, out / "escape"]
    for fmt in ("ome-zarr", "coco"):
        yield f"{fmt}-mask-negative", ["export", f["image"], f["negative"], "-o", target, "--format", fmt], [target]
        yield f"{fmt}-mask-4d", ["export", f["image"], f["4d"], "-o", target, "--format", fmt], [target]


def _demo_cases(f, out):
    yield "headless-into-a-file", ["demo", "--headless", f["labels"]], []


SPECS = {
    "evaluate": _evaluate_cases,
    "weightmap": _weightmap_cases,
    "superpixels": _superpixels_cases,
    "grabcut": _grabcut_cases,
    "cluster": _cluster_cases,
    "demo": _demo_cases,
    "export": _export_cases,
    "train": _train_cases,
    "predict": _predict_cases,
}


def test_every_verb_has_a_spec():
    missing = VERBS - set(SPECS)
    assert not missing, f"add error cases for: {sorted(missing)}"


@pytest.mark.parametrize("verb", sorted(SPECS))
def test_user_errors_are_one_line_exit_2_and_leave_nothing(verb, files, tmp_path, capsys):
    if verb not in VERBS:
        pytest.skip(f"`segsuite {verb}` is not in this build")
    failures = []
    for case, argv, outputs in SPECS[verb](files, tmp_path):
        try:
            assert_user_error(argv, capsys, outputs, files=files)
        except AssertionError as exc:
            failures.append(f"{case}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
        except Exception as exc:  # escaped main(): the user would see a traceback
            failures.append(f"{case}: traceback: {type(exc).__name__}: {exc}")
            capsys.readouterr()
        finally:  # a case that wrongly succeeded must not make the next one fail
            for path in map(Path, outputs):
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
    assert not failures, "\n".join(failures)


def test_argparse_errors_are_one_line(capsys):
    assert_user_error(["no-such-verb"], capsys, match="invalid choice")
    assert_user_error(["evaluate"], capsys, match="required")
    assert_user_error(["evaluate", "a", "b", "--bogus"], capsys, match="unrecognized")


def test_missing_file_message_names_the_file(files, capsys):
    line = assert_user_error(["evaluate", files["missing"], files["labels"]], capsys)
    assert "missing.tif" in line and "no such file" in line


def test_pickled_npy_never_runs_code(files, capsys):
    assert_user_error(["evaluate", files["pickle_npy"], files["labels"]], capsys, files=files)
    assert not files["pickle_side_effect"].exists()
    with open(files["pickle_npy"], "rb") as fh:  # the payload is real: plain unpickling would run it
        assert b"touch" in fh.read()
    assert pickle.dumps(_TouchOnUnpickle(files["dir"] / "x"))


@_needs("export")
def test_export_into_a_foreign_folder_writes_nothing(files, tmp_path, capsys):
    folder = tmp_path / "my_documents"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"precious")
    assert_user_error(["export", files["image"], files["labels"], "-o", folder], capsys)
    assert sorted(p.name for p in folder.rglob("*")) == ["thesis.docx"]


def _overwrite_cases(f, work):
    """Each verb that writes a file, with ``-o`` naming one of its inputs (directly or by another path)."""
    image, labels = work / "image.tif", work / "labels.tif"
    yield "grabcut", ["grabcut", image, "--box", "10,10,40,40", "-o", image], image
    yield "grabcut-trimap", ["grabcut", image, "--box", "10,10,40,40", "--trimap", labels, "-o", labels], labels
    yield "superpixels", ["superpixels", image, "-o", work / "new" / ".." / "image.tif"], image
    yield "weightmap", ["weightmap", labels, "-o", labels, "--overwrite"], labels
    if f.get("model") is not None:
        yield "predict", ["predict", f["model"], image, "-o", image], image
        yield "predict-link", ["predict", f["model"], work / "link.tif", "-o", image], image


@pytest.mark.parametrize("case", ["grabcut", "grabcut-trimap", "superpixels", "weightmap", "predict", "predict-link"])
def test_output_naming_an_input_is_refused_and_the_input_kept(case, files, tmp_path, capsys):
    if "model" not in files:
        _model_files(files, files["dir"])
    shutil.copy(files["image"], tmp_path / "image.tif")
    shutil.copy(files["labels"], tmp_path / "labels.tif")
    (tmp_path / "link.tif").symlink_to(tmp_path / "image.tif")
    cases = {name: (argv, victim) for name, argv, victim in _overwrite_cases(files, tmp_path)}
    if case not in cases:
        pytest.skip("no sample model in this checkout")
    argv, victim = cases[case]
    before = victim.read_bytes()
    assert_user_error(argv, capsys, match="is an input")
    assert victim.read_bytes() == before
    assert not (tmp_path / "new").exists()
