"""unet_weight_map against the textbook method (one full EDT per instance) and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite.core import unet_weight_map
from napari_segsuite.core.progress import Progress, run
from napari_segsuite.core.samples.synthetic import synthetic_nuclei
from napari_segsuite.core.weightmap import border_cutoff, class_weight_values, iter_unet_weight_map


def reference_weight_map(labels, w0=10.0, sigma=5.0, class_weights="balanced", spacing=None):
    """The textbook definition, written independently: one full-image EDT per instance, no cutoff."""
    labels = np.asarray(labels)
    background = labels == 0
    n = labels.size
    if class_weights is None:
        w_bg, w_fg = 1.0, 1.0
    elif isinstance(class_weights, str):
        n_bg = int(background.sum())
        n_fg = n - n_bg
        w_bg = n / (2 * n_bg) if n_bg else 1.0
        w_fg = n / (2 * n_fg) if n_fg else 1.0
    else:
        w_bg, w_fg = class_weights
    weights = np.where(background, w_bg, w_fg).astype(np.float64)
    ids = np.unique(labels[~background])
    if len(ids) < 2:
        return weights
    d1 = np.full(labels.shape, np.inf)
    d2 = np.full(labels.shape, np.inf)
    for i in ids:
        d = ndi.distance_transform_edt(labels != i, sampling=spacing)
        d2 = np.minimum(d2, np.maximum(d1, d))
        d1 = np.minimum(d1, d)
    weights[background] += w0 * np.exp(-((d1 + d2)[background] ** 2) / (2 * sigma ** 2))
    return weights


def assert_matches_reference(labels, tol=1e-5, **kwargs):
    got = unet_weight_map(labels, **kwargs)
    want = reference_weight_map(labels, **kwargs)
    assert got.dtype == np.float32
    assert got.shape == np.shape(labels)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    return got


# ---------------------------------------------------------------- hand-computed cases

def test_two_cells_one_pixel_gap_hand_computed():
    labels = np.zeros((5, 7), np.int32)
    labels[:, :3] = 1
    labels[:, 4:] = 2
    w = unet_weight_map(labels, w0=10, sigma=5, class_weights=None)
    # gap column: one pixel from each cell
    np.testing.assert_allclose(w[:, 3], 1 + 10 * math.exp(-(1 + 1) ** 2 / 50), rtol=1e-6)
    assert np.all(w[:, :3] == 1) and np.all(w[:, 4:] == 1)


def test_two_pixel_gap_balanced_hand_computed():
    labels = np.zeros((4, 8), np.int32)
    labels[:, :3] = 5
    labels[:, 5:] = 9
    # 32 pixels: 24 foreground, 8 background -> w_bg = 32 / 16 = 2, w_fg = 32 / 48
    w = unet_weight_map(labels, w0=3, sigma=2, class_weights="balanced")
    expected_gap = 2 + 3 * math.exp(-(1 + 2) ** 2 / 8)  # d1 = 1, d2 = 2 on both gap columns
    np.testing.assert_allclose(w[:, 3:5], expected_gap, rtol=1e-6)
    np.testing.assert_allclose(w[:, :3], 32 / 48, rtol=1e-6)


def test_anisotropic_spacing_hand_computed():
    # cells above and below a one-row gap; rows are 3 units apart, columns 1
    labels = np.zeros((3, 4), np.int32)
    labels[0] = 1
    labels[2] = 2
    w = unet_weight_map(labels, w0=1, sigma=4, class_weights=None, spacing=(3.0, 1.0))
    np.testing.assert_allclose(w[1], 1 + math.exp(-(3 + 3) ** 2 / 32), rtol=1e-6)


def test_tie_between_two_cells_gives_d2_equal_d1():
    labels = np.zeros((1, 9), np.int32)
    labels[0, 0] = 1
    labels[0, 8] = 2
    w = unet_weight_map(labels, w0=2, sigma=3, class_weights=None)
    x = np.arange(9)
    d = np.minimum(x, 8 - x) + np.maximum(x, 8 - x)  # always 8 on the background
    np.testing.assert_allclose(w[0, 1:8], 1 + 2 * np.exp(-(d[1:8] ** 2) / 18), rtol=1e-6)


def test_docstring_example_value():
    labels = np.zeros((5, 7), int)
    labels[:, :3] = 1
    labels[:, 4:] = 2
    assert float(unet_weight_map(labels, w0=10, sigma=5, class_weights=None)[0, 3]) == 10.231163024902344


# ---------------------------------------------------------------- the list of inputs

def test_no_instances():
    labels = np.zeros((20, 30), np.int32)
    w = assert_matches_reference(labels)
    assert np.all(w == 0.5)  # balanced: N / (2 * N) for background; no border term
    assert np.all(unet_weight_map(labels, class_weights=None) == 1)


def test_one_instance_has_no_border_term():
    labels = np.zeros((20, 30), np.int32)
    labels[5:10, 5:12] = 3
    w = assert_matches_reference(labels, class_weights=(0.25, 4.0))
    assert set(np.unique(w)) == {np.float32(0.25), np.float32(4.0)}


def test_instances_touching_image_border():
    labels = np.zeros((40, 40), np.int32)
    labels[:6, :6] = 1
    labels[:6, 9:20] = 2
    labels[30:, 35:] = 3
    labels[34:, 20:33] = 4
    labels[10:20, :3] = 5
    w = assert_matches_reference(labels, w0=10, sigma=4)
    assert w[2, 7] > w[25, 25]


def test_touching_instances_without_gap():
    labels = np.zeros((30, 30), np.int32)
    labels[5:15, 5:15] = 1
    labels[5:15, 15:25] = 2  # shares an edge with 1: no background between them
    w = assert_matches_reference(labels)
    # all instance pixels carry the foreground weight, whatever their neighbours
    assert np.all(w[labels > 0] == w[7, 7])
    only_background = np.zeros((4, 4), np.int32) + np.array([1, 1, 2, 2])
    assert np.all(unet_weight_map(only_background, class_weights=None) == 1)


def test_non_sequential_and_huge_ids():
    _, labels = synthetic_nuclei((96, 96), n_nuclei=15, seed=3)
    ids = np.unique(labels)[1:]
    huge = np.array([70_000 + 7 * k for k in range(len(ids) - 3)] + [2**31 - 3, 2**31 - 2, 2**31 - 1])
    lut = np.zeros(labels.max() + 1, np.int64)
    lut[ids] = huge
    relabelled = lut[labels]
    expected = unet_weight_map(labels)
    np.testing.assert_array_equal(unet_weight_map(relabelled), expected)
    assert_matches_reference(relabelled)
    # past int32 (uint32 on disk) too
    lut[ids[-1]] = 2**32 - 1
    np.testing.assert_array_equal(unet_weight_map(lut[labels].astype(np.uint32)), expected)


@pytest.mark.parametrize("seed, w0, sigma", [(0, 10.0, 5.0), (1, 5.0, 2.0), (2, 20.0, 9.0), (3, 1.0, 30.0)])
def test_dense_touching_cells_match_reference(seed, w0, sigma):
    # tolerance far inside the 1e-3; includes pixels near the cutoff and crops covering the image
    _, labels = synthetic_nuclei((128, 160), n_nuclei=40, seed=seed, touching_fraction=0.8)
    assert labels.max() >= 30
    assert_matches_reference(labels, tol=2e-5, w0=w0, sigma=sigma)


def test_cutoff_region_is_exact():
    # two cells far apart (d1 + d2 around the cutoff): the dropped term is below float32 resolution
    cutoff = border_cutoff(10.0, 2.0, 1.0)
    gap = int(cutoff) + 4
    labels = np.zeros((5, gap + 4), np.int32)
    labels[:, :2] = 1
    labels[:, -2:] = 2
    got = unet_weight_map(labels, w0=10, sigma=2, class_weights=None)
    want = reference_weight_map(labels, w0=10, sigma=2, class_weights=None)
    assert np.all(got == np.float32(want))  # identical float32 values


def test_anisotropic_3d_matches_reference():
    rng = np.random.default_rng(4)
    labels = np.zeros((10, 40, 40), np.int32)
    for k in range(1, 13):
        z, y, x = rng.integers(0, 10), rng.integers(0, 40), rng.integers(0, 40)
        labels[max(z - 1, 0):z + 2, max(y - 4, 0):y + 4, max(x - 3, 0):x + 5] = k
    got = assert_matches_reference(labels, spacing=(3.0, 0.5, 0.7), sigma=3.0)
    assert got.shape == labels.shape
    isotropic = unet_weight_map(labels, sigma=3.0)
    assert not np.allclose(got, isotropic)  # spacing matters


def test_spacing_scalar_equals_per_axis():
    _, labels = synthetic_nuclei((64, 64), n_nuclei=8, seed=5)
    np.testing.assert_array_equal(unet_weight_map(labels, spacing=0.5), unet_weight_map(labels, spacing=(0.5, 0.5)))


def test_boolean_labels_are_refused():
    mask = np.zeros((10, 10), bool)
    mask[2:5, 2:5] = True
    with pytest.raises(ValueError, match="boolean mask"):
        unet_weight_map(mask)


def test_float_labels_whole_numbers_are_converted():
    _, labels = synthetic_nuclei((64, 64), n_nuclei=8, seed=6)
    np.testing.assert_array_equal(unet_weight_map(labels.astype(np.float32)), unet_weight_map(labels))
    with pytest.raises(ValueError, match="fractional"):
        unet_weight_map(labels + 0.5)
    bad = labels.astype(float)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        unet_weight_map(bad)


def test_negative_labels_are_refused():
    labels = np.zeros((10, 10), np.int32)
    labels[1, 1] = -2
    with pytest.raises(ValueError, match=">= 0"):
        unet_weight_map(labels)


def test_plane_by_plane_on_a_stack():
    stack = np.stack([synthetic_nuclei((64, 64), n_nuclei=10, seed=s)[1] for s in range(3)])
    stack[1] = 0  # an empty plane
    gen = iter_unet_weight_map(stack, w0=8, sigma=4, plane_by_plane=True, spacing=(5.0, 1.0, 1.0))
    events = []
    got = run(gen, progress=events.append)
    assert [e.step for e in events if e.message.startswith("plane")] == [1, 2, 3]
    for z in range(3):
        np.testing.assert_array_equal(got[z], unet_weight_map(stack[z], w0=8, sigma=4))
        np.testing.assert_allclose(got[z], reference_weight_map(stack[z], w0=8, sigma=4), atol=1e-5, rtol=0)
    as_3d = unet_weight_map(stack, w0=8, sigma=4)
    assert not np.allclose(as_3d, got)  # the 3D map sees neighbours in other planes


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 3, 8, 8), (8,)])
def test_wrong_dimensions_are_refused(shape):
    with pytest.raises(ValueError, match="expected 2D or 3D"):
        unet_weight_map(np.zeros(shape, np.int32))


def test_empty_array_is_refused():
    with pytest.raises(ValueError, match="empty"):
        unet_weight_map(np.zeros((0, 5), np.int32))


@pytest.mark.parametrize("kwargs, match", [
    ({"w0": -1}, "w0"), ({"w0": float("nan")}, "w0"), ({"sigma": 0}, "sigma"), ({"sigma": float("inf")}, "sigma"),
    ({"spacing": (1, 2, 3)}, "spacing"), ({"spacing": (1, -2)}, "spacing"), ({"spacing": "big"}, "spacing"),
    ({"class_weights": "uniform"}, "class_weights"), ({"class_weights": (1,)}, "class_weights"),
    ({"class_weights": (1, -1)}, "class weights"), ({"class_weights": 3}, "class_weights"),
])
def test_bad_parameters_are_refused(kwargs, match):
    labels = np.zeros((10, 10), np.int32)
    labels[2:4, 2:4] = 1
    labels[6:8, 6:8] = 2
    with pytest.raises(ValueError, match=match):
        unet_weight_map(labels, **kwargs)


def test_class_weights_pair_none_and_balanced():
    labels = np.zeros((10, 10), np.int32)
    labels[:5] = 1  # 50 / 50
    assert class_weight_values(labels, "balanced") == (1.0, 1.0)
    labels[:] = 0
    labels[0, :4] = 2  # 4 foreground, 96 background
    assert class_weight_values(labels, "balanced") == pytest.approx((100 / 192, 100 / 8))
    assert class_weight_values(labels, (0.5, 3)) == (0.5, 3.0)
    assert class_weight_values(labels, None) == (1.0, 1.0)
    w = unet_weight_map(labels, class_weights=(0.0, 2.0))
    assert np.all(w[labels > 0] == 2) and np.all(w[labels == 0] == 0)  # one instance: no border term


def test_zero_w0_gives_class_weights_only():
    _, labels = synthetic_nuclei((64, 64), n_nuclei=10, seed=7)
    w = unet_weight_map(labels, w0=0, class_weights=(1.0, 2.0))
    np.testing.assert_array_equal(w, np.where(labels > 0, 2.0, 1.0).astype(np.float32))


def test_input_is_not_modified_and_generator_reports_progress():
    _, labels = synthetic_nuclei((96, 96), n_nuclei=20, seed=8)
    before = labels.copy()
    events = []
    got = run(iter_unet_weight_map(labels), progress=events.append)
    np.testing.assert_array_equal(labels, before)
    assert events and all(isinstance(e, Progress) for e in events)
    assert events[-1].fraction == 1.0
    np.testing.assert_array_equal(got, unet_weight_map(labels))


def test_export_dataset_writes_weight_maps(tmp_path):
    from napari_segsuite.core.dataset import export_dataset, load_dataset

    items = [(f"cells{s}", *synthetic_nuclei((64, 80), n_nuclei=10, seed=s)) for s in range(2)]
    export_dataset(tmp_path / "ds", items, weight_map={"w0": 7.0, "sigma": 3.0})
    loaded = {item.name: item for item in load_dataset(tmp_path / "ds")}
    for name, _, labels in items:
        weights = loaded[name].weights
        assert weights is not None and weights.dtype == np.float32
        np.testing.assert_array_equal(weights, unet_weight_map(labels, w0=7.0, sigma=3.0))
        np.testing.assert_allclose(weights, reference_weight_map(labels, w0=7.0, sigma=3.0), atol=1e-5, rtol=0)
    assert (tmp_path / "ds" / "weights" / "cells0.tif").exists()


def test_chunked_border_term_gives_identical_result(monkeypatch):
    import napari_segsuite.core.weightmap as wm

    _, labels = synthetic_nuclei((100, 90), n_nuclei=20, seed=9)
    stack = np.stack([labels, np.roll(labels, 7, axis=1), labels[::-1]])
    whole = unet_weight_map(stack, spacing=(2, 1, 1))
    monkeypatch.setattr(wm, "_CHUNK_PIXELS", 1000)  # several rows / planes per chunk boundary
    np.testing.assert_array_equal(unet_weight_map(stack, spacing=(2, 1, 1)), whole)
    np.testing.assert_allclose(unet_weight_map(labels), reference_weight_map(labels), atol=1e-5, rtol=0)


def test_demo_step_writes_the_ground_truth_weight_map(tmp_path, monkeypatch):
    from napari_segsuite.core.demo import DEMO_STEPS, run_headless_demo
    from napari_segsuite.core.io import read_image
    from napari_segsuite.core.samples import load_sample

    step = dict(DEMO_STEPS)["border weight map"]
    (name, weights, gt, shown), = step(tmp_path)
    _, truth = load_sample("nuclei_test")
    assert name == "weight_map" and gt is None
    np.testing.assert_array_equal(weights, unet_weight_map(truth))
    import napari_segsuite.core.demo as demo

    monkeypatch.setattr(demo, "DEMO_STEPS", [("border weight map", step)])
    with open(tmp_path / "log.txt", "w") as log:
        summary = run_headless_demo(tmp_path / "out", out=log)
    assert summary == {}  # no metrics for a weight map
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "weight_map.tif"), weights)
    assert (tmp_path / "out" / "weight_map.png").stat().st_size > 1000


def test_random_labels_match_reference_property():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=40, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), ndim=st.sampled_from([2, 3]), n=st.integers(0, 6),
           w0=st.floats(0.0, 50.0), sigma=st.floats(0.3, 20.0), anisotropic=st.booleans())
    def check(seed, ndim, n, w0, sigma, anisotropic):
        rng = np.random.default_rng(seed)
        shape = (6, 14, 17) if ndim == 3 else (23, 31)
        labels = np.zeros(shape, np.int64)
        for k in range(n):
            lo = [rng.integers(0, s) for s in shape]
            hi = [min(s, a + rng.integers(1, 6)) for a, s in zip(lo, shape)]
            labels[tuple(slice(a, b) for a, b in zip(lo, hi))] = rng.integers(1, 2**31 - 1)
        spacing = tuple(rng.uniform(0.3, 3.0, ndim)) if anisotropic else None
        assert_matches_reference(labels, tol=2e-5, w0=w0, sigma=sigma, spacing=spacing)

    check()


# ---------------------------------------------------------------- bands: identical to whole-image distances

def whole_image_weight_map(labels, w0=10.0, sigma=5.0, class_weights="balanced", spacing=None):
    """The method before bands (same cutoff and crops, whole-image ``d1``/``d2``), written compactly."""
    labels = np.asarray(labels)
    w_bg, w_fg = class_weight_values(labels, class_weights)
    out = np.where(labels == 0, np.float32(w_bg), np.float32(w_fg))
    cutoff = border_cutoff(w0, sigma, w_bg)
    ids = np.unique(labels[labels > 0])
    if cutoff <= 0 or len(ids) < 2:
        return out
    spacing = (1.0,) * labels.ndim if spacing is None else tuple(np.broadcast_to(spacing, (labels.ndim,)))
    margins = [int(math.floor(cutoff / s)) + 1 for s in spacing]
    d1 = np.full(labels.shape, np.inf, np.float32)
    d2 = np.full(labels.shape, np.inf, np.float32)
    for i in ids:
        box = ndi.find_objects((labels == i).astype(np.int8))[0]
        grown = tuple(slice(max(b.start - m, 0), min(b.stop + m, n))
                      for b, m, n in zip(box, margins, labels.shape))
        d = ndi.distance_transform_edt(labels[grown] != i, sampling=spacing).astype(np.float32)
        d2[grown] = np.minimum(d2[grown], np.maximum(d1[grown], d))
        d1[grown] = np.minimum(d1[grown], d)
    near = (labels == 0) & np.isfinite(d2)
    s = d1[near].astype(np.float64) + d2[near]
    out[near] = w_bg + w0 * np.exp(s * s * (-1.0 / (2.0 * sigma * sigma)))
    return out


@pytest.fixture(params=[(1, 0), (1 << 30, 0), (64 * 70, 0), (1, 3)],
                ids=["1-row", "one-band", "64-rows", "1-row-x3"])
def bands(request, monkeypatch):
    """Band sizes: 1 row per band (or 3 axis-0 margins), all in one band, 64 rows of a 70-wide image."""
    import napari_segsuite.core.weightmap as wm

    pixels, margins = request.param
    monkeypatch.setattr(wm, "_BAND_PIXELS", pixels)
    monkeypatch.setattr(wm, "_BAND_MARGINS", margins)
    return request.param


def assert_banded_equals_whole(labels, **kwargs):
    got = unet_weight_map(labels, **kwargs)
    want = whole_image_weight_map(labels, **kwargs)
    assert got.dtype == np.float32 and got.shape == labels.shape
    assert np.array_equal(got, want)
    return got


def test_whole_image_reference_is_the_textbook_method():
    _, labels = synthetic_nuclei((90, 70), n_nuclei=14, seed=10, touching_fraction=0.6)
    want = reference_weight_map(labels)
    np.testing.assert_allclose(whole_image_weight_map(labels), want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kwargs", [
    {}, {"w0": 0.0}, {"class_weights": None}, {"class_weights": (0.0, 2.0)}, {"class_weights": (3.0, 0.5)},
    {"w0": 20.0, "sigma": 9.0}, {"sigma": 1.5, "spacing": (2.5, 0.7)}, {"spacing": 0.4},
])
def test_bands_give_identical_result_2d(bands, kwargs):
    # 300 rows: many bands, instances touching band borders and the image border, rows with no instance
    _, labels = synthetic_nuclei((300, 70), n_nuclei=40, seed=11, touching_fraction=0.7)
    labels[100:200] = 0  # bands with no instance (and bands reached only by grown boxes)
    labels[250:, 30:33] = 99  # taller than a band, touching the bottom border
    labels[:3, :] = np.where(labels[:3] > 0, labels[:3], 98)  # a wide flat instance on the top border
    assert_banded_equals_whole(labels, **kwargs)


@pytest.mark.parametrize("kwargs", [{"sigma": 2.0}, {"sigma": 2.0, "spacing": (3.0, 0.5, 0.7)},
                                    {"sigma": 4.0, "spacing": (0.5, 1.0, 1.0), "class_weights": None}])
def test_bands_give_identical_result_3d(bands, kwargs):
    rng = np.random.default_rng(12)
    labels = np.zeros((40, 24, 30), np.int32)
    for k in range(1, 30):
        z, y, x = rng.integers(0, 40), rng.integers(0, 24), rng.integers(0, 30)
        labels[max(z - 2, 0):z + 3, max(y - 3, 0):y + 3, max(x - 3, 0):x + 4] = k
    labels[:, 10:13, 0:2] = 40  # through every plane
    labels[15:25] = 0  # planes with no instance
    assert_banded_equals_whole(labels, **kwargs)


def test_bands_with_sparse_huge_ids_one_instance_and_none(bands):
    _, labels = synthetic_nuclei((200, 64), n_nuclei=20, seed=13)
    ids = np.unique(labels)[1:]
    lut = np.zeros(labels.max() + 1, np.int64)
    lut[ids] = 2**32 - 1 - 977 * np.arange(len(ids))[::-1]
    sparse = lut[labels].astype(np.uint32)
    got = assert_banded_equals_whole(sparse)
    np.testing.assert_array_equal(got, unet_weight_map(labels))
    one = np.where(labels == ids[3], 7, 0)
    assert_banded_equals_whole(one, class_weights=(0.5, 2.0))
    assert_banded_equals_whole(np.zeros((130, 20), np.int32))
    two_far = np.zeros((260, 8), np.int32)
    two_far[0, 0], two_far[-1, -1] = 1, 2  # nothing in reach of anything: class weights only
    got = assert_banded_equals_whole(two_far, sigma=2.0, class_weights=None)
    assert np.array_equal(got, np.ones((260, 8)))


def test_bands_plane_by_plane_and_progress(bands):
    stack = np.stack([synthetic_nuclei((150, 60), n_nuclei=12, seed=s)[1] for s in range(2)])
    got = unet_weight_map(stack[1], w0=6, sigma=3)
    assert np.array_equal(got, whole_image_weight_map(stack[1], w0=6, sigma=3))
    planes = run(iter_unet_weight_map(stack, w0=6, sigma=3, plane_by_plane=True))
    assert np.array_equal(planes[1], got)
    events = []
    run(iter_unet_weight_map(stack[0]), progress=events.append)
    assert events and events[-1].fraction == 1.0
    assert all(a.step <= b.step for a, b in zip(events, events[1:]))
