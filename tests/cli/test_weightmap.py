"""``segsuite weightmap``: one file or a folder of masks, parameters, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.cli import main
from napari_segsuite.core.io import read_image, write_tiff
from napari_segsuite.core.samples.synthetic import synthetic_nuclei
from napari_segsuite.core.weightmap import unet_weight_map


@pytest.fixture
def masks(tmp_path):
    folder = tmp_path / "data"
    labels = {}
    for s in range(2):
        image, lab = synthetic_nuclei((96, 96), n_nuclei=15, seed=s)
        write_tiff(folder / f"cells{s}.tif", image)  # cellpose pair: the image must not be read as labels
        write_tiff(folder / f"cells{s}_masks.tif", lab.astype(np.uint16))
        labels[f"cells{s}"] = lab
    return folder, labels


def test_one_file_with_parameters(masks, tmp_path, capsys):
    folder, labels = masks
    out = tmp_path / "w.tif"
    assert main(["weightmap", str(folder / "cells0_masks.tif"), "-o", str(out), "--w0", "5", "--sigma", "3",
                 "--class-weights", "0.5,2"]) == 0
    got = read_image(out)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, unet_weight_map(labels["cells0"], w0=5, sigma=3, class_weights=(0.5, 2)))
    assert "w.tif" in capsys.readouterr().out


def test_folder_of_masks(masks, tmp_path):
    folder, labels = masks
    out = tmp_path / "weights"
    assert main(["weightmap", str(folder), "-o", str(out), "--class-weights", "none"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cells0_weights.tif", "cells1_weights.tif"]
    for name, lab in labels.items():
        np.testing.assert_array_equal(read_image(out / f"{name}_weights.tif"),
                                      unet_weight_map(lab, class_weights=None))
    # a second run refuses to overwrite unless asked
    assert main(["weightmap", str(folder), "-o", str(out)]) == 2
    assert main(["weightmap", str(folder), "-o", str(out), "--overwrite"]) == 0


def test_stack_plane_by_plane_and_spacing(tmp_path):
    stack = np.stack([synthetic_nuclei((64, 64), n_nuclei=8, seed=s)[1] for s in range(3)]).astype(np.uint16)
    write_tiff(tmp_path / "stack.tif", stack)
    assert main(["weightmap", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "a.tif"), "--plane-by-plane"]) == 0
    got = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(got[2], unet_weight_map(stack[2]))
    assert main(["weightmap", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "b.tif"),
                 "--spacing", "4,1,1"]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "b.tif"), unet_weight_map(stack, spacing=(4, 1, 1)))


@pytest.mark.parametrize("extra, message", [
    (["--class-weights", "heavy"], "--class-weights"),
    (["--class-weights", "1,2,3"], "--class-weights"),
    (["--sigma", "0"], "sigma"),
    (["--spacing", "1,x"], "--spacing"),
    (["--spacing", "1,1,1"], "spacing"),
])
def test_bad_parameters_one_line_error(masks, tmp_path, capsys, extra, message):
    folder, _ = masks
    code = main(["weightmap", str(folder / "cells0_masks.tif"), "-o", str(tmp_path / "w.tif"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "w.tif").exists()


def test_bad_inputs(tmp_path, capsys):
    mask = np.zeros((20, 20), bool)
    mask[3:8, 3:8] = True
    write_tiff(tmp_path / "mask.tif", mask)
    assert main(["weightmap", str(tmp_path / "mask.tif"), "-o", str(tmp_path / "w.tif")]) == 2
    assert "boolean mask" in capsys.readouterr().err
    assert main(["weightmap", str(tmp_path / "missing.tif"), "-o", str(tmp_path / "w.tif")]) == 2
    assert "no such file" in capsys.readouterr().err
    write_tiff(tmp_path / "4d.tif", np.zeros((2, 2, 8, 8), np.uint16))
    assert main(["weightmap", str(tmp_path / "4d.tif"), "-o", str(tmp_path / "w.tif")]) == 2
    assert "expected 2D or 3D" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["weightmap", str(tmp_path / "empty"), "-o", str(tmp_path / "out")]) == 2
    assert "no mask images" in capsys.readouterr().err
