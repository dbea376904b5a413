import json

import numpy as np

from napari_segsuite.cli import main
from napari_segsuite.core.io import write_tiff


def _labels():
    gt = np.zeros((30, 30), np.uint16)
    gt[2:10, 2:10] = 1
    gt[15:25, 15:25] = 2
    pred = np.zeros_like(gt)
    pred[2:10, 2:10] = 4
    return gt, pred


def test_evaluate_files_json(tmp_path, capsys):
    gt, pred = _labels()
    write_tiff(tmp_path / "gt.tif", gt)
    write_tiff(tmp_path / "pred.tif", pred)
    assert main(["evaluate", str(tmp_path / "gt.tif"), str(tmp_path / "pred.tif"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert (res["tp"], res["fp"], res["fn"]) == (1, 0, 1) and res["ap50"] == 0.5


def test_evaluate_folders_table(tmp_path, capsys):
    gt, pred = _labels()
    (tmp_path / "gt").mkdir()
    (tmp_path / "pr").mkdir()
    for name in ("a", "b"):
        write_tiff(tmp_path / "gt" / f"{name}_masks.tif", gt)
        write_tiff(tmp_path / "pr" / f"{name}.tif", pred if name == "a" else gt)
    assert main(["evaluate", str(tmp_path / "gt"), str(tmp_path / "pr")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["image", "IoU", "Dice"]
    assert out[1].startswith("a ") and out[2].startswith("b ")
    assert out[2].split()[4] == "1.000"  # b: AP@0.5 perfect


def test_evaluate_errors_are_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope.tif"), str(tmp_path / "x.tif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err
    (tmp_path / "bad.tif").write_bytes(b"not a tiff")
    write_tiff(tmp_path / "ok.tif", np.zeros((4, 4), np.uint8))
    assert main(["evaluate", str(tmp_path / "bad.tif"), str(tmp_path / "ok.tif")]) == 2
    assert "could not be read" in capsys.readouterr().err
    write_tiff(tmp_path / "neg.tif", -np.ones((4, 4), np.int16))
    assert main(["evaluate", str(tmp_path / "neg.tif"), str(tmp_path / "ok.tif")]) == 2
    assert ">= 0" in capsys.readouterr().err


def test_python_dash_m_runs(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "napari_segsuite", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "napari-segsuite" in out.stdout


def test_evaluate_folder_name_clashes(tmp_path, capsys):
    gt, pred = _labels()
    image = np.full(gt.shape, 7, np.uint16)  # the intensity image of a cellpose-style folder
    (tmp_path / "gt").mkdir()
    (tmp_path / "pr").mkdir()
    write_tiff(tmp_path / "gt" / "a.tif", image)
    write_tiff(tmp_path / "gt" / "a_masks.tif", gt)
    write_tiff(tmp_path / "pr" / "a_pred.tif", gt)
    # NAME.tif beside NAME_masks.tif: the masks are the ground truth, the image is not evaluated.
    assert main(["evaluate", str(tmp_path / "gt"), str(tmp_path / "pr"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ap50"] == 1.0
    # Two label files of one image in a folder: refused, not a silent pick.
    write_tiff(tmp_path / "pr" / "a_masks.tif", pred)
    assert main(["evaluate", str(tmp_path / "gt"), str(tmp_path / "pr")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a_masks.tif and a_pred.tif both are label files of 'a'" in err
