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


def test_cli_grabcut_points_one_instance_each_none_on_background(tmp_path, capsys):
    path, a, b = _image(tmp_path)
    out = tmp_path / "out.tif"
    assert main(["grabcut", str(path), "--point", "30,25", "--point", "30,62", "--point", "5,45",
                 "-o", str(out)]) == 0
    labels = tifffile.imread(out)
    for i, ref in ((1, a), (2, b)):
        assert np.logical_and(labels == i, ref).sum() / np.logical_or(labels == i, ref).sum() > 0.9
    assert not (labels == 3).any()
    text = capsys.readouterr().out
    assert "3 point(s)" in text and "point(s) 5,45: no object" in text
    assert main(["grabcut", str(path), "-o", str(out)]) == 2
    assert "--box" in capsys.readouterr().err


def test_cli_grabcut_with_the_sample_unet_as_prior(tmp_path, capsys):
    from napari_segsuite.core import load_sample, sample_path

    image, truth = load_sample("nuclei_test")
    path = tmp_path / "nuclei.tif"
    tifffile.imwrite(path, image[:160, :160])
    truth = truth[:160, :160]
    ids = [i for i in np.unique(truth) if i and not (np.argwhere(truth == i) % 159 == 0).any()][:3]
    boxes = []
    for i in ids:
        rows, cols = np.nonzero(truth == i)
        boxes += ["--box", f"{rows.min() - 4},{cols.min() - 4},{rows.max() + 5},{cols.max() + 5}"]
    out = tmp_path / "out.tif"
    assert main(["grabcut", str(path), *boxes, "--model", str(sample_path("unet_nuclei.pt")), "--device", "cpu",
                 "-o", str(out)]) == 0
    labels = tifffile.imread(out)
    for k, i in enumerate(ids, 1):
        assert np.logical_and(labels == k, truth == i).sum() / np.logical_or(labels == k, truth == i).sum() > 0.75
    assert main(["grabcut", str(path), *boxes, "--model", str(tmp_path / "none.pt"), "-o", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
    # --prior-weight: 0 ignores the prior (what no --model gives, bit for bit); a stronger one changes the masks
    plain, weightless, strong = tmp_path / "plain.tif", tmp_path / "w0.tif", tmp_path / "w32.tif"
    assert main(["grabcut", str(path), *boxes, "-o", str(plain)]) == 0
    model = ["--model", str(sample_path("unet_nuclei.pt")), "--device", "cpu"]
    assert main(["grabcut", str(path), *boxes, *model, "--prior-weight", "0", "-o", str(weightless)]) == 0
    assert np.array_equal(tifffile.imread(weightless), tifffile.imread(plain))
    assert main(["grabcut", str(path), *boxes, *model, "--prior-weight", "32", "-o", str(strong)]) == 0
    assert not np.array_equal(tifffile.imread(strong), labels)
    capsys.readouterr()
    assert main(["grabcut", str(path), *boxes, *model, "--prior-weight", "-1", "-o", str(strong)]) == 2
    err = capsys.readouterr().err
    assert "prior_weight must be >= 0" in err and len(err.strip().splitlines()) == 1


def test_cli_grabcut_nucleus_channel_matches_the_api(tmp_path):
    from napari_segsuite.core.graphcut.boxes import grabcut_boxes

    yy, xx = np.mgrid[:80, :80]
    cell = np.hypot(yy - 40, xx - 40) <= 16
    nucleus = np.hypot(yy - 36, xx - 43) <= 6
    rng = np.random.default_rng(0)
    img = np.stack([300 * cell + 1000 + rng.normal(0, 60, cell.shape),
                    2000 * nucleus + 500 + rng.normal(0, 60, cell.shape)], -1).astype(np.uint16)
    path, out = tmp_path / "two.tif", tmp_path / "out.tif"
    tifffile.imwrite(path, img)
    assert main(["grabcut", str(path), "--channel-axis", "-1", "--nucleus-channel", "1", "--box", "20,20,61,61",
                 "-o", str(out)]) == 0
    labels = tifffile.imread(out)
    expected = grabcut_boxes(img, [(20, 20, 61, 61)], channel_axis=-1, nucleus_channel=1)
    assert np.array_equal(labels, expected)
    assert (labels[nucleus] == 1).all() and (labels == 1).sum() > 2 * nucleus.sum()
    assert main(["grabcut", str(path), "--channel-axis", "-1", "--nucleus-channel", "5", "--box", "20,20,61,61",
                 "-o", str(tmp_path / "bad.tif")]) != 0
