"""``segsuite predict --diameter``: images rescaled to the size the model was trained at, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_segsuite.cli import main
from napari_segsuite.core import average_precision, load_sample, sample_path
from napari_segsuite.core.diameter import rescale_plane, resize_labels
from napari_segsuite.core.io import read_image, write_tiff


@pytest.mark.parametrize("model", ["unet_nuclei.pt", "maskrcnn_nuclei.pt"])
def test_small_cells_found_again_at_their_diameter(model, tmp_path):
    """The test field shrunk 2.5x (nuclei ~8 px across): the diameter, given or estimated, brings back what the
    model finds at its own scale."""
    image, gt = load_sample("nuclei_test")
    small = rescale_plane(image, 0.4).astype(np.uint16)
    small_gt = resize_labels(gt, small.shape)
    write_tiff(tmp_path / "small.tif", small)
    scores = {}
    for name, extra in (("native", []), ("given", ["--diameter", "7.5"]), ("auto", ["--diameter", "auto"])):
        out = tmp_path / f"{name}.tif"
        assert main(["predict", str(sample_path(model)), str(tmp_path / "small.tif"), "-o", str(out),
                     "--device", "cpu", *extra]) == 0
        scores[name] = average_precision(small_gt, read_image(out), thresholds=(0.5,))["ap"][0]
    assert scores["given"] >= 0.75 and scores["auto"] >= 0.75
    assert scores["given"] >= scores["native"] + 0.1


def test_diameter_refusals(tmp_path, capsys):
    image, _ = load_sample("nuclei_test")
    write_tiff(tmp_path / "im.tif", image[:64, :64])
    model = sample_path("unet_nuclei.pt")
    with pytest.raises(SystemExit):
        main(["predict", str(model), str(tmp_path / "im.tif"), "-o", str(tmp_path / "o.tif"), "--diameter", "-3"])
    assert "positive number of pixels or 'auto'" in capsys.readouterr().err
    old = torch.load(model, weights_only=False)
    old.get("training", {}).pop("diameter", None)
    torch.save(old, tmp_path / "old.pt")
    assert main(["predict", str(tmp_path / "old.pt"), str(tmp_path / "im.tif"), "-o", str(tmp_path / "o.tif"),
                 "--diameter", "12"]) == 2
    assert "does not record the cell size" in capsys.readouterr().err
    assert not (tmp_path / "o.tif").exists()
