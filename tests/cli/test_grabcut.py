import numpy as np
import tifffile

from napari_segsuite.cli import main


def _image(tmp_path):
    yy, xx = np.mgrid[:60, :90]
    a = (yy - 30) ** 2 + (xx - 25) ** 2 <= 100
    b = (yy - 30) ** 2 + (xx - 62) ** 2 <= 144
    rng = np.random.default_rng(0)
    img = (np.where(a | b, 900, 200) + rng.normal(0, 30, a.shape)).astype(np.uint16)
    path = tmp_path / "cells.tif"
    tifffile.imwrite(path, img)
    return path, a, b


def test_cli_grabcut_writes_one_instance_per_box(tmp_path, capsys):
    path, a, b = _image(tmp_path)
    out = tmp_path / "out.tif"
    assert main(["grabcut", str(path), "--box", "16,11,45,40", "--box", "14,46,47,79", "-o", str(out)]) == 0
    labels = tifffile.imread(out)
    assert labels.dtype == np.uint8 and labels.shape == a.shape
    for i, ref in ((1, a), (2, b)):
        inter = np.logical_and(labels == i, ref).sum()
        assert inter / np.logical_or(labels == i, ref).sum() > 0.9
    assert "2 box(es)" in capsys.readouterr().out


def test_cli_grabcut_errors_are_one_line(tmp_path, capsys):
    path, _, _ = _image(tmp_path)
    out = tmp_path / "out.tif"
    assert main(["grabcut", str(path), "--box", "10,10,10,40", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no area" in err and "Traceback" not in err and not out.exists()
    assert main(["grabcut", str(tmp_path / "missing.tif"), "--box", "0,0,9,9", "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["grabcut", str(path), "--box", "0,0,9,9", "-o", str(tmp_path / "out.png")]) == 2
    assert ".tif" in capsys.readouterr().err


def test_cli_grabcut_box_on_plain_background_stays_empty_unless_forced(tmp_path, capsys):
    path, a, b = _image(tmp_path)
    out = tmp_path / "out.tif"
    # Box 2 covers only background (columns 38-50 lie between the two discs, rows 2-14 above them).
    assert main(["grabcut", str(path), "--box", "16,11,45,40", "--box", "2,38,14,50", "-o", str(out)]) == 0
    labels = tifffile.imread(out)
    assert set(np.unique(labels).tolist()) == {0, 1}
    assert "box(es) 2: nothing stands out" in capsys.readouterr().out
    forced = tmp_path / "forced.tif"
    assert main(["grabcut", str(path), "--box", "16,11,45,40", "--box", "2,38,14,50", "--min-contrast", "0",
                 "-o", str(forced)]) == 0
    assert (tifffile.imread(forced) == 2).any()
