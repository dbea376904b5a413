"""The shipped sample model (sample_data/maskrcnn_nuclei.pt) on real-looking inputs."""

import numpy as np
import pytest

from napari_segsuite.core import load_sample, sample_path, synthetic_nuclei
from napari_segsuite.core.maskrcnn import load_maskrcnn_checkpoint, model_from_checkpoint, predict_maskrcnn
from napari_segsuite.core.metrics import average_precision


@pytest.fixture(scope="module")
def model():
    import torch

    torch.set_num_threads(1)
    return model_from_checkpoint(load_maskrcnn_checkpoint(sample_path("maskrcnn_nuclei.pt")))


def test_sample_checkpoint_is_small_and_well_formed():
    path = sample_path("maskrcnn_nuclei.pt")
    assert path.stat().st_size < 6e6
    ckpt = load_maskrcnn_checkpoint(path)
    assert ckpt["kind"] == "maskrcnn" and ckpt["config"]["backbone"] == "resnet18_slim"
    assert ckpt["config"]["in_channels"] == 1 and ckpt["normalization"]["method"] == "percentile"


def test_sample_model_segments_the_test_field_16bit_and_8bit_alike(model):
    image, gt = load_sample("nuclei_test")
    crop, gt_crop = image[:256], gt[:256]
    labels, table = predict_maskrcnn(model, crop, device="cpu", tile_size=None)
    assert crop.dtype == np.uint16
    assert average_precision(gt_crop, labels, thresholds=(0.5,))["ap"][0] > 0.8
    assert np.array_equal(np.unique(labels)[1:], table["label"]) and (table["score"] >= 0.5).all()
    # the same picture as 8-bit and as float gives the same cells (percentile normalisation)
    as8 = np.round(crop.astype(float) / crop.max() * 255).astype(np.uint8)
    labels8, _ = predict_maskrcnn(model, as8, device="cpu", tile_size=None)
    same = average_precision(labels, labels8, thresholds=(0.5,))
    assert same["tp"][0] >= 0.95 * labels.max()
    # an RGB rendering of it goes through the gray model (channel mean)
    rgb = np.stack([as8] * 3, -1)
    labels_rgb, _ = predict_maskrcnn(model, rgb, device="cpu", tile_size=None)
    assert average_precision(labels8, labels_rgb, thresholds=(0.5,))["ap"][0] > 0.95


def test_sample_model_finds_nothing_in_an_empty_image(model):
    labels, table = predict_maskrcnn(model, np.full((200, 300), 120, np.uint16), device="cpu")
    assert labels.shape == (200, 300) and not labels.any() and len(table["score"]) == 0


def test_hundreds_of_instances_tiled(model):
    image, gt = synthetic_nuclei((384, 1024), seed=9)
    assert gt.max() >= 150
    labels, table = predict_maskrcnn(model, image, device="cpu", tile_size=256, overlap=64)
    res = average_precision(gt, labels, thresholds=(0.5,))
    assert labels.max() >= 0.85 * gt.max() and res["ap"][0] > 0.75
    assert len(table["label"]) == labels.max()


def test_dispatch_contract_and_demo_step(tmp_path):
    """``core.predict`` dispatches by kind to iter_predict_maskrcnn(checkpoint, image, device=..., min_size=...)
    and expects labels (an array); the headless demo step scores the test field."""
    from napari_segsuite.core.demo import _step_maskrcnn
    from napari_segsuite.core.progress import run
    from napari_segsuite.core.maskrcnn import iter_predict_maskrcnn

    image, gt = load_sample("nuclei_test")
    ckpt = load_maskrcnn_checkpoint(sample_path("maskrcnn_nuclei.pt"))
    labels = run(iter_predict_maskrcnn(ckpt, image[:128, :128], device="cpu", min_size=30))
    assert isinstance(labels, np.ndarray) and labels.shape == (128, 128) and labels.max() > 3
    assert np.bincount(labels.ravel())[1:].min() >= 30
    with pytest.raises(ValueError, match="probability map"):
        run(iter_predict_maskrcnn(ckpt, image, device="cpu", return_probabilities=True))
    ((name, pred, truth, _),) = _step_maskrcnn(tmp_path)
    assert name == "maskrcnn" and average_precision(truth, pred, thresholds=(0.5,))["ap"][0] > 0.85
