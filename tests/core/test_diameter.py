"""Object size: measured, estimated, and prediction at the size a model was trained at."""

import numpy as np
import pytest

from napari_segsuite.core.diameter import (estimate_diameter, iter_predict_at_diameter, median_diameter,
                                           model_diameter, rescale_plane, resize_labels)
from napari_segsuite.core.progress import run
from napari_segsuite.core.samples.randomized import randomized_nuclei


def _disks(shape, radius, spacing):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    labels = np.zeros(shape, np.int32)
    k = 0
    for cy in range(spacing // 2, shape[0] - radius, spacing):
        for cx in range(spacing // 2, shape[1] - radius, spacing):
            k += 1
            labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2] = k
    return labels


def test_median_diameter_of_disks_and_lists():
    lab = _disks((100, 100), 5, 25)
    area = np.bincount(lab.ravel())[1]
    assert median_diameter(lab) == pytest.approx(np.sqrt(4 * area / np.pi))
    assert median_diameter(lab) == pytest.approx(10, abs=0.6)
    four_small = _disks((50, 50), 5, 25)  # 4 disks of radius 5, then 2 x 4 of radius 10: the median is a large one
    assert median_diameter([four_small, _disks((100, 100), 10, 40), _disks((100, 100), 10, 40)]) == pytest.approx(
        20, abs=1)
    assert median_diameter(np.zeros((5, 5), int)) is None


@pytest.mark.parametrize("radius", [4, 8, 16])
def test_estimate_diameter_follows_the_blob_size(radius):
    lab = _disks((256, 256), radius, 5 * radius)
    image = (lab > 0).astype(np.float32) * 100 + 10
    from scipy import ndimage as ndi

    image = ndi.gaussian_filter(image, 1.0) + np.random.default_rng(0).normal(0, 2, image.shape)
    est = estimate_diameter(image)
    assert est == pytest.approx(2 * radius, rel=0.4)


def test_estimate_diameter_on_randomized_nuclei_is_within_a_factor_of_two():
    for d, side in ((10, 256), (40, 512)):
        image, labels, _ = randomized_nuclei(5, (side, side), diameter=d)
        assert 0.6 < estimate_diameter(image) / median_diameter(labels) < 2.0


def test_rescale_and_resize_labels_round_trip():
    lab = _disks((64, 96), 6, 24)
    up = resize_labels(lab, (128, 192))
    assert up.dtype == lab.dtype and up.shape == (128, 192)
    assert np.array_equal(resize_labels(up, (64, 96)), lab)  # nearest neighbour, exact factor 2
    img = rescale_plane(np.dstack([lab, lab]).astype(np.uint16), 0.5)
    assert img.shape == (32, 48, 2) and img.dtype == np.float32


def _threshold_predictor(seen):
    from skimage.measure import label

    def iter_predict(plane):
        seen.append(plane.shape)
        yield "tick"
        return label(plane > plane.max() / 2), {"n": 1}
    return iter_predict


def test_predict_at_a_given_diameter_rescales_and_resizes_back():
    lab = _disks((120, 120), 10, 40)
    seen = []
    labels, extra, used = run(iter_predict_at_diameter(_threshold_predictor(seen), (lab > 0) * 1.0, 5, 20))
    assert seen == [(30, 30)] and used == 20 and extra == {"n": 1}
    assert labels.shape == lab.shape and labels.max() == lab.max()


def test_sizes_within_the_band_are_predicted_at_the_image_scale():
    lab = _disks((120, 120), 10, 40)
    seen = []
    run(iter_predict_at_diameter(_threshold_predictor(seen), (lab > 0) * 1.0, 20, 15))  # x1.33: inside
    run(iter_predict_at_diameter(_threshold_predictor(seen), (lab > 0) * 1.0, 20, 15, band=(1, 1)))
    run(iter_predict_at_diameter(_threshold_predictor(seen), (lab > 0) * 1.0, 20, 30))  # x0.67: below x0.9
    run(iter_predict_at_diameter(_threshold_predictor(seen), (lab > 0) * 1.0, 20, 21))  # x0.95: inside
    run(iter_predict_at_diameter(_threshold_predictor(seen), (lab > 0) * 1.0, 20, 24))  # x0.83: shrunk
    assert seen == [(120, 120), (160, 160), (80, 80), (120, 120), (100, 100)]


def test_auto_diameter_refines_a_wrong_estimate_with_the_first_answer():
    lab = _disks((200, 200), 12, 50)
    seen = []
    labels, _, used = run(iter_predict_at_diameter(_threshold_predictor(seen), (lab > 0) * 1.0, 24, "auto"))
    assert used == pytest.approx(24, rel=0.15)
    assert labels.max() == lab.max()


@pytest.mark.parametrize("bad", [0, -3, float("nan"), "big"])
def test_bad_diameters_are_refused(bad):
    with pytest.raises(ValueError, match="diameter"):
        run(iter_predict_at_diameter(_threshold_predictor([]), np.ones((8, 8)), 10, bad))


def test_model_without_a_recorded_size_cannot_rescale():
    assert model_diameter({"training": {"diameter": 20}}) == 20.0
    assert model_diameter({"training": {}}) is None
    with pytest.raises(ValueError, match="does not record the object size"):
        run(iter_predict_at_diameter(_threshold_predictor([]), np.ones((8, 8)), None, 10))


@pytest.mark.parametrize("kind", ["unet", "maskrcnn"])
def test_models_predict_a_shrunk_stack_plane_by_plane_at_the_diameter(kind):
    """Two planes of the sample field shrunk 2.5x: the shipped models (which record their training size)
    find the nuclei again at the given diameter, plane by plane, ids unique over the stack."""
    from napari_segsuite.core import average_precision, load_sample, sample_path
    from napari_segsuite.core.maskrcnn import predict_maskrcnn
    from napari_segsuite.core.unet import predict_unet

    image, gt = load_sample("nuclei_test")
    small = rescale_plane(image[:400, :400], 0.4)
    small_gt = resize_labels(gt[:400, :400], small.shape)
    stack = np.stack([small, small[::-1]])
    if kind == "unet":
        labels = predict_unet(sample_path("unet_nuclei.pt"), stack, device="cpu", diameter=7.5)
    else:
        labels = predict_maskrcnn(sample_path("maskrcnn_nuclei.pt"), stack, device="cpu", diameter=7.5)[0]
    assert labels.shape == stack.shape
    assert average_precision(small_gt, labels[0], thresholds=(0.5,))["ap"][0] >= 0.75
    assert average_precision(small_gt[::-1], labels[1], thresholds=(0.5,))["ap"][0] >= 0.75
    assert not set(np.unique(labels[0])[1:]) & set(np.unique(labels[1])[1:])
