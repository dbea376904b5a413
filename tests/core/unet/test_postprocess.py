"""Streaming U-Net post-processing: component batches and row bands give the whole-plane answer."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite.core.samples.synthetic import synthetic_nuclei
from napari_segsuite.core.unet import postprocess
from napari_segsuite.core.unet.postprocess import (PlaneMaps, fill_contact_gaps, maps_to_instances,
                                                   probabilities_to_instances, remove_small_instances)

torch = pytest.importorskip("torch")


def reference_instances(prob, threshold=0.5, min_size=10, watershed=False, min_distance=4, fill_gaps=True):
    """The whole-plane post-processing the streaming one replaced (one watershed over the plane)."""
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed as ws

    foreground = (1.0 - prob[0]) > threshold
    if prob.shape[0] == 3:
        interior = foreground & (prob[1] >= prob[2])
        seeds = remove_small_instances(ndi.label(interior)[0], max(1, min_size // 4))
        labels = ws(-prob[1], seeds, mask=foreground) if seeds.max() else np.zeros(prob.shape[1:], np.int32)
        return remove_small_instances(labels.astype(np.int32), min_size)
    components, n = ndi.label(foreground)
    if watershed and n:
        dist = ndi.distance_transform_edt(foreground)
        peaks = peak_local_max(dist, min_distance=min_distance, labels=components, exclude_border=False)
        markers = np.zeros(components.shape, np.int32)
        markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
        components = ws(-dist, markers, mask=foreground)
    labels = remove_small_instances(components.astype(np.int32), min_size)
    return fill_contact_gaps(labels) if fill_gaps else labels


def assert_same_partition(a, b):
    """Same instances up to their numbering: same foreground, and ids pair one to one."""
    assert a.shape == b.shape
    assert np.array_equal(a > 0, b > 0)
    fg = a > 0
    pairs = np.unique(np.stack([a[fg], b[fg]]), axis=1)
    assert pairs.shape[1] == len(np.unique(a[fg])) == len(np.unique(b[fg]))


def assert_same_instances_up_to_ties(a, b, iou=0.9):
    """Same foreground and instance count, every instance matched one to one at IoU > ``iou``
    (a watershed may break a tie on a plateau another way than a run over the whole plane)."""
    from napari_segsuite.core.metrics import average_precision

    assert np.array_equal(a > 0, b > 0) and a.max() == b.max()
    assert average_precision(b, a, thresholds=(iou,))["ap"][0] == 1.0


def assert_numbered_1_to_n(labels):
    ids = np.unique(labels)
    assert labels.dtype == np.int32 and np.array_equal(ids, np.arange(ids.size))


@pytest.fixture(scope="module")
def sample_probabilities():
    """Two-class probabilities of the shipped sample model on the 512x512 nuclei test image."""
    from napari_segsuite.core.samples import load_sample, sample_path
    from napari_segsuite.core.unet import predict_probabilities

    torch.set_num_threads(1)
    image, _ = load_sample("nuclei_test")
    return predict_probabilities(sample_path("unet_nuclei.pt"), image, device="cpu")


def three_class_probabilities(seed=0, shape=(384, 448)):
    """Smooth, noisy (background, interior, boundary) probabilities of synthetic touching nuclei."""
    _, lab = synthetic_nuclei(shape, n_nuclei=90, seed=seed)
    rim = (ndi.grey_dilation(lab, size=3) != ndi.grey_erosion(lab, size=3)) & (lab > 0)
    rng = np.random.default_rng(seed)
    logits = np.stack([(lab == 0) * 3.0, ((lab > 0) & ~rim) * 3.0, rim * 3.0]).astype(np.float32)
    logits = ndi.gaussian_filter(logits, (0, 1.5, 1.5)) + rng.normal(0, 0.6, logits.shape).astype(np.float32)
    e = np.exp(logits - logits.max(0))
    return e / e.sum(0)


@pytest.mark.parametrize("batch_pixels", [1, 3_000, 10**9])
@pytest.mark.parametrize("watershed", [False, True])
def test_two_classes_match_the_whole_plane_reference(sample_probabilities, monkeypatch, batch_pixels, watershed):
    monkeypatch.setattr(postprocess, "BATCH_PIXELS", batch_pixels)
    monkeypatch.setattr(postprocess, "GAP_BAND_PIXELS", 16 * 512)
    ref = reference_instances(sample_probabilities, watershed=watershed)
    maps = PlaneMaps(2, sample_probabilities.shape[1:])
    maps.add(0, 0, sample_probabilities)
    got, n = maps_to_instances(maps, watershed=watershed, batch_pixels=batch_pixels)
    assert n == ref.max() > 80  # the 512x512 test image holds 120 nuclei
    assert_numbered_1_to_n(got)
    if watershed:
        assert_same_instances_up_to_ties(got, ref)
    else:
        assert_same_partition(got, ref)


def test_watershed_splits_do_not_depend_on_batching_or_on_other_components(sample_probabilities):
    maps = PlaneMaps(2, sample_probabilities.shape[1:])
    maps.add(0, 0, sample_probabilities)
    whole = maps_to_instances(maps, watershed=True, batch_pixels=10**9)[0]
    assert np.array_equal(maps_to_instances(maps, watershed=True, batch_pixels=1)[0], whole)
    # a crop holding only some of the components splits them exactly as the whole plane does
    y0, y1, x0, x1 = 100, 420, 60, 380
    crop = PlaneMaps(2, (y1 - y0, x1 - x0))
    crop.add(0, 0, sample_probabilities[:, y0:y1, x0:x1])
    part = maps_to_instances(crop, watershed=True, fill_gaps=False)[0]
    full = maps_to_instances(maps, watershed=True, fill_gaps=False)[0][y0:y1, x0:x1]
    inner = ndi.label(crop.foreground)[0]
    touching_edge = np.unique(np.concatenate([inner[0], inner[-1], inner[:, 0], inner[:, -1]]))
    keep = ~np.isin(inner, touching_edge)  # components wholly inside the crop
    assert keep.sum() > 8_000  # about 40 nuclei
    assert_same_partition(np.where(keep, part, 0), np.where(keep, full, 0))


@pytest.mark.parametrize("seed", [0, 1])
def test_three_classes_match_the_whole_plane_reference(seed):
    prob = three_class_probabilities(seed)
    ref = reference_instances(prob)
    maps = PlaneMaps(3, prob.shape[1:])
    maps.add(0, 0, prob)
    got, n = maps_to_instances(maps, batch_pixels=2_000)
    assert n == ref.max() > 40
    assert_same_instances_up_to_ties(got, ref)
    assert_numbered_1_to_n(got)


def test_maps_filled_by_tiles_equal_maps_filled_at_once():
    prob = three_class_probabilities(2, shape=(200, 260))
    whole = PlaneMaps(3, prob.shape[1:], foreground_out=np.zeros(prob.shape[1:], np.float32))
    whole.add(0, 0, prob)
    tiled = PlaneMaps(3, prob.shape[1:], foreground_out=np.zeros(prob.shape[1:], np.float32))
    for y in range(0, 200, 64):
        for x in range(0, 260, 96):
            tiled.add(y, x, prob[:, y:y + 64, x:x + 96])
    for name in ("foreground", "interior", "interior_prob", "foreground_out"):
        assert np.array_equal(getattr(whole, name), getattr(tiled, name)), name
    assert np.array_equal(whole.foreground_out, 1 - prob[0])


def test_gap_filling_in_bands_is_exactly_the_whole_plane_fill():
    from napari_segsuite.core.unet.train import separate_touching

    _, lab = synthetic_nuclei((300, 260), n_nuclei=80, seed=3)
    sep = separate_touching(lab)
    comps = ndi.label(sep > 0)[0].astype(np.int32)
    whole = fill_contact_gaps(comps)
    assert (whole != comps).sum() > 100  # there are gaps to fill
    for band in (5, 7, 64, 1000):
        banded = comps.copy()
        postprocess._fill_gaps_in_bands(banded, band=band)
        assert np.array_equal(banded, whole), band


def test_one_component_larger_than_a_batch_is_split_whole():
    # a long chain of touching discs, wider than any batch: one component, several instances
    yy, xx = np.mgrid[:60, :400]
    fg = np.zeros((60, 400), bool)
    for cx in range(20, 390, 24):
        fg |= (yy - 30) ** 2 + (xx - cx) ** 2 <= 14 ** 2
    prob = np.stack([1.0 - fg, fg]).astype(np.float32)
    ref = reference_instances(prob, watershed=True)
    maps = PlaneMaps(2, fg.shape)
    maps.add(0, 0, prob)
    got, n = maps_to_instances(maps, watershed=True, batch_pixels=100)
    assert n == ref.max() == 16
    assert_same_instances_up_to_ties(got, ref)


def test_empty_and_full_planes():
    prob = np.zeros((2, 30, 40), np.float32)
    prob[0] = 1
    assert not probabilities_to_instances(prob).any()
    prob = prob[::-1].copy()
    full = probabilities_to_instances(prob)
    assert full.min() == 1 and full.max() == 1


def test_out_must_be_int32_of_the_plane_shape():
    maps = PlaneMaps(2, (10, 10))
    with pytest.raises(ValueError, match="out must be int32"):
        maps_to_instances(maps, np.zeros((10, 10), np.int64))
    with pytest.raises(ValueError, match="2 or 3 classes"):
        PlaneMaps(4, (10, 10))


def test_prediction_streams_tiles_and_matches_the_reference_on_a_stack(monkeypatch):
    """predict_unet (tiles into PlaneMaps) == reference on full probabilities; ids unique over a stack."""
    from napari_segsuite.core.samples import load_sample, sample_path
    from napari_segsuite.core.unet import load_unet, predict_probabilities, predict_unet

    torch.set_num_threads(1)
    monkeypatch.setattr(postprocess, "BATCH_PIXELS", 20_000)
    image, _ = load_sample("nuclei_test")
    planes = np.stack([image[:256, :320], image[256:, 192:]])
    model = load_unet(sample_path("unet_nuclei.pt"), "cpu")
    labels, fg_prob = predict_unet(model, planes, tile_size=256, return_probabilities=True)
    offset = 0
    for z in range(2):
        prob = predict_probabilities(model, planes[z], tile_size=256)
        assert np.array_equal(fg_prob[z], 1 - prob[0])
        ref = reference_instances(prob)
        plane = labels[z]
        assert_same_partition(plane, ref)
        assert plane[plane > 0].min() == offset + 1 and plane.max() == offset + ref.max()
        offset = int(plane.max())
    assert offset > 60
