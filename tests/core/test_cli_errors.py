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
from pathlib import Path

import numpy as np
import pytest

from napari_segsuite.cli import build_parser, main
from napari_segsuite.core.io import write_tiff
from napari_segsuite.core.synthetic import synthetic_nuclei


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
    return f


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


def _grabcut_cases(f, out):
    target = out / "gc.tif"
    box = ["--box", "10,10,40,40"]
    for bad in BAD_IMAGES:
        yield f"image-{bad}", ["grabcut", f[bad], *box, "-o", target], [target]
    for bad in UNREADABLE + ["negative", "fractional", "small_labels"]:
        yield f"trimap-{bad}", ["grabcut", f["image"], *box, "--trimap", f[bad], "-o", target], [target]
    for b in ("10,10,10,40", "10,10,40,10", "40,40,10,10", "-5,-5,20,20", "0,0,1000,1000", "100,100,120,120",
              "10,10,40", "a,b,c,d", "10,10,40,40,50,60"):
        yield f"box-{b}", ["grabcut", f["image"], "--box", b, "-o", target], [target]
    for params in (["--n-iter", "0"], ["--n-iter", "-1"], ["--gamma", "-1"], ["--gamma", "nan"],
                   ["--margin", "-3"], ["--channel-axis", "5"]):
        yield "param" + "".join(params), ["grabcut", f["image"], *box, "-o", target, *params], [target]
    yield "output-not-tif", ["grabcut", f["image"], *box, "-o", out / "gc.png"], [out / "gc.png"]


def _demo_cases(f, out):
    yield "headless-into-a-file", ["demo", "--headless", f["labels"]], []


SPECS = {
    "evaluate": _evaluate_cases,
    "weightmap": _weightmap_cases,
    "superpixels": _superpixels_cases,
    "grabcut": _grabcut_cases,
    "demo": _demo_cases,
}
# train and predict have their own tests below (they need a dataset and a checkpoint).
SPECIAL = {"train", "predict"}


def test_every_verb_has_a_spec():
    missing = VERBS - set(SPECS) - SPECIAL
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
