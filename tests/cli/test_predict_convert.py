"""``segsuite predict`` on a colour image with a gray model: refused with the way out, or converted with a note."""

from __future__ import annotations

import pytest

from napari_segsuite.cli import main
from napari_segsuite.core import average_precision, sample_path
from napari_segsuite.core.io import read_image


@pytest.mark.parametrize("model", ["unet_nuclei.pt", "maskrcnn_nuclei.pt"])
def test_colour_image_refused_then_converted(model, tmp_path, capsys):
    out = tmp_path / "pred.tif"
    argv = ["predict", str(sample_path(model)), str(sample_path("histology.tif")), "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trained on gray images" in err and "'hematoxylin'" in err
    assert not out.exists()
    assert main([*argv, "--convert", "hematoxylin"]) == 0
    err = capsys.readouterr().err
    assert "note: the 3-channel image is given to the gray model as its hematoxylin channel" in err
    gt = read_image(sample_path("histology_masks.tif"))
    assert average_precision(gt, read_image(out), thresholds=(0.5,))["ap"][0] >= 0.5
