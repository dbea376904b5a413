"""A colour image meeting a gray model (issue 20, item 2): refused with what to do, or converted visibly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_segsuite.core import average_precision, load_sample, predict_unet, sample_path
from napari_segsuite.core.channels import ChannelConversion, fit_channels, hematoxylin
from napari_segsuite.core.maskrcnn import predict_maskrcnn


@pytest.fixture(scope="module")
def histology():
    return load_sample("histology")  # H&E-like RGB, 45 nuclei with ground truth


def test_hematoxylin_makes_stained_nuclei_bright(histology):
    image, gt = histology
    h = hematoxylin(np.moveaxis(image, -1, 0))[0]
    assert h.dtype == np.float32 and 0 <= h.min() and h.max() <= 65535
    # nuclei (dark purple in RGB) come out far brighter than the tissue around them
    assert np.median(h[gt > 0]) > 10 * np.median(h[gt == 0]) + 1000


def test_gray_stored_as_rgb_passes_and_other_mismatches_are_refused():
    gray = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(fit_channels(np.stack([gray] * 3), 1), gray[None])
    with pytest.raises(ValueError, match="2 channel"):
        fit_channels(np.zeros((2, 3, 4)), 1)
    with pytest.raises(ValueError, match="unknown channel conversion"):
        fit_channels(np.zeros((3, 3, 4)), 1, convert="luminance")


@pytest.mark.parametrize("backend", ["unet", "maskrcnn"])
def test_colour_into_the_gray_sample_models_is_refused_with_the_ways_out(histology, backend):
    image, _ = histology
    with pytest.raises(ValueError, match="trained on gray images.*'hematoxylin'.*'gray'"):
        if backend == "unet":
            predict_unet(sample_path("unet_nuclei.pt"), image, device="cpu")
        else:
            predict_maskrcnn(sample_path("maskrcnn_nuclei.pt"), image, device="cpu")


@pytest.mark.parametrize("backend", ["unet", "maskrcnn"])
def test_hematoxylin_conversion_is_announced_and_finds_the_nuclei(histology, backend):
    image, gt = histology
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if backend == "unet":
            h = predict_unet(sample_path("unet_nuclei.pt"), image, device="cpu", convert="hematoxylin")
            g = predict_unet(sample_path("unet_nuclei.pt"), image, device="cpu", convert="gray")
        else:
            h, _ = predict_maskrcnn(sample_path("maskrcnn_nuclei.pt"), image, device="cpu", convert="hematoxylin")
            g, _ = predict_maskrcnn(sample_path("maskrcnn_nuclei.pt"), image, device="cpu", convert="gray")
    notes = [str(w.message) for w in caught if issubclass(w.category, ChannelConversion)]
    assert any("hematoxylin" in n for n in notes) and any("mean of its channels" in n for n in notes)
    ap_h = average_precision(gt, h, thresholds=(0.5,))["ap"][0]
    ap_g = average_precision(gt, g, thresholds=(0.5,))["ap"][0]
    # measured: Mask R-CNN 0.90 vs 0.00, U-Net 0.64 vs 0.00 (the channel mean outlines the gaps between nuclei)
    assert ap_h >= 0.5 and ap_g <= 0.1, (ap_h, ap_g)
