"""SLIC superpixels, the region adjacency graph and merging (compared with scikit-image)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.core import (
    adjusted_rand_index,
    build_graph,
    iter_superpixels,
    merge_superpixels,
    run,
    slic_superpixels,
    synthetic_histology,
    synthetic_nuclei,
    synthetic_nuclei_3d,
)


def _skimage_hierarchical(image, sp, thresh):
    from skimage import graph as skg

    def merge_mean(g, src, dst):
        g.nodes[dst]["total color"] += g.nodes[src]["total color"]
        g.nodes[dst]["pixel count"] += g.nodes[src]["pixel count"]
        g.nodes[dst]["mean color"] = g.nodes[dst]["total color"] / g.nodes[dst]["pixel count"]

    def weight_mean(g, src, dst, n):
        return {"weight": np.linalg.norm(g.nodes[dst]["mean color"] - g.nodes[n]["mean color"])}

    return skg.merge_hierarchical(sp, skg.rag_mean_color(image, sp), thresh, False, False, merge_mean, weight_mean)


def _skimage_threshold(image, sp, thresh):
    from skimage import graph as skg

    return skg.cut_threshold(sp, skg.rag_mean_color(image, sp), thresh)


# ---- SLIC -----------------------------------------------------------------------------------------
def test_slic_gray_labels_start_at_one_and_are_sequential():
    image, _ = synthetic_nuclei((128, 128), n_nuclei=12, seed=3)
    sp = slic_superpixels(image, n_segments=64)
    assert sp.dtype == np.int32 and sp.shape == image.shape
    ids = np.unique(sp)
    assert ids[0] == 1 and np.array_equal(ids, np.arange(1, ids[-1] + 1))
    assert 30 <= ids[-1] <= 100


def test_slic_mask_gives_zero_exactly_outside():
    image, gt = synthetic_nuclei((128, 128), n_nuclei=12, seed=3)
    mask = gt > 0
    sp = slic_superpixels(image, n_segments=50, mask=mask)
    assert np.all(sp[~mask] == 0)
    assert np.all(sp[mask] >= 1)


def test_slic_rgb_and_four_channels():
    rgb, _ = synthetic_histology((96, 96), seed=1)
    sp = slic_superpixels(rgb, n_segments=40, channel_axis=-1)
    assert sp.shape == rgb.shape[:2] and sp.min() == 1
    four = np.random.default_rng(0).normal(0.5, 0.02, (4, 48, 48))
    four[3, :, 24:] += 1  # the right half differs only in channel 3
    sp4 = slic_superpixels(four, n_segments=16, channel_axis=0)
    assert sp4.shape == (48, 48)
    # no superpixel straddles the channel-3 edge
    for region in np.unique(sp4):
        cols = np.nonzero(sp4 == region)[1]
        assert cols.max() < 24 or cols.min() >= 24


def test_slic_3d_with_spacing():
    vol, _ = synthetic_nuclei_3d((12, 48, 48), n_nuclei=5, seed=0)
    sp = slic_superpixels(vol, n_segments=40, spacing=(3.0, 1.0, 1.0))
    assert sp.shape == vol.shape and sp.min() == 1 and sp.max() > 5


# ---- graph ----------------------------------------------------------------------------------------
def test_graph_hand_computed_means_edges_and_boundary():
    # regions: 1 = left column pair, 2 = right column, 3 = bottom-left pair
    sp = np.array([[1, 1, 2],
                   [3, 3, 2]])
    img = np.array([[0.0, 2.0, 10.0],
                    [4.0, 6.0, 12.0]])
    g = build_graph(img, sp, channel_axis=None)
    assert g.counts[1:].tolist() == [2, 2, 2]
    assert g.means[1:, 0].tolist() == [1.0, 11.0, 5.0]
    assert g.edges.tolist() == [[1, 2], [1, 3], [2, 3]]
    assert np.allclose(g.colour_distance, [10.0, 4.0, 6.0])
    # 8-connectivity pairs: 1-2: (0,1)-(0,2) 8, (0,1)-(1,2) diag 10  -> mean 9
    # 1-3: vertical 4, 4; diagonals (0,0)-(1,1) 6, (0,1)-(1,0) 2     -> mean 4
    # 2-3: (1,1)-(1,2) 6, diagonal (0,2)-(1,1) 4                     -> mean 5
    assert np.allclose(g.boundary_strength, [9.0, 4.0, 5.0])


def test_graph_four_channel_distances_are_euclidean():
    img = np.zeros((2, 4, 4))
    img[:, 2:] = [3.0, 0, 0, 4.0]
    sp = np.array([[1, 1, 2, 2]] * 2)
    g = build_graph(img, sp, channel_axis=-1)
    assert np.allclose(g.colour_distance, [5.0])
    assert merge_superpixels(img, sp, 4.99, channel_axis=-1).tolist() == [[1, 1, 2, 2]] * 2
    assert merge_superpixels(img, sp, 5.01, channel_axis=-1).tolist() == [[1, 1, 1, 1]] * 2


def test_four_channel_skimage_fails_ours_splits_halves():
    from skimage import graph as skg

    rng = np.random.default_rng(1)
    img = rng.normal(0, 0.05, (64, 64, 4))
    img[:, 32:, 3] += 2.0
    sp = slic_superpixels(img, n_segments=36, channel_axis=-1)
    with pytest.raises(ValueError):
        skg.rag_mean_color(img, sp)
    merged = merge_superpixels(img, sp, 1.0, channel_axis=-1)
    halves = np.where(np.arange(64) < 32, 1, 2)[None, :].repeat(64, 0)
    assert adjusted_rand_index(merged, halves) == 1.0


# ---- same partitions as scikit-image --------------------------------------------------------------
@pytest.fixture(scope="module")
def images():
    from skimage import data

    gray = data.camera()[128:320, 128:320]
    fluo, _ = synthetic_nuclei((192, 192), n_nuclei=20, seed=5)
    rgb, _ = synthetic_histology((192, 192), seed=2)
    return {"gray": (gray, None), "fluorescence": (fluo, None), "rgb": (rgb, -1)}


@pytest.mark.parametrize("kind", ["gray", "fluorescence", "rgb"])
def test_same_partitions_as_skimage(images, kind):
    image, axis = images[kind]
    sp = slic_superpixels(image, n_segments=250, channel_axis=axis)
    g = build_graph(image, sp, channel_axis=axis)
    scale = np.sqrt(3) if axis is None else 1.0  # scikit-image's gray distances are sqrt(3) larger
    w = np.sort(g.colour_distance)
    for q in (0.2, 0.5, 0.8):
        t = float(np.quantile(w, q))
        for mode, reference in (("threshold", _skimage_threshold), ("hierarchical", _skimage_hierarchical)):
            ours = g.merge(t, mode)
            theirs = reference(image, sp, t * scale)
            assert ours.min() == 1
            assert len(np.unique(ours)) == len(np.unique(theirs)), (kind, mode, q)
            assert adjusted_rand_index(ours, theirs) >= 0.99, (kind, mode, q)


def test_cached_graph_equals_fresh_merge():
    image, _ = synthetic_nuclei((128, 128), n_nuclei=10, seed=7)
    sp = slic_superpixels(image, n_segments=120)
    g = build_graph(image, sp)
    for mode in ("hierarchical", "threshold", "boundary", "ncut"):
        hi = g.threshold_range(mode)[1]
        for t in (0.0, 0.1 * hi, 0.3 * hi, 0.9 * hi, 0.3 * hi):
            assert np.array_equal(g.merge(t, mode), merge_superpixels(image, sp, t, mode=mode)), (mode, t)


@pytest.mark.parametrize("mode", ["hierarchical", "threshold", "boundary"])
def test_region_count_falls_as_threshold_rises(mode):
    image, _ = synthetic_nuclei((128, 128), n_nuclei=10, seed=8)
    sp = slic_superpixels(image, n_segments=100)
    g = build_graph(image, sp)
    lo, hi = g.threshold_range(mode)
    counts = [int(g.merge(t, mode).max()) for t in np.linspace(lo, hi, 12)]
    assert counts[0] == sp.max()
    assert counts[-1] == 1
    assert all(a >= b for a, b in zip(counts, counts[1:]))


def test_boundary_mode_merges_across_weak_edges_only():
    # two flat halves with a step of 50; superpixels are a 4x4 grid of squares
    img = np.zeros((40, 40))
    img[:, 20:] = 50.0
    sp = (np.arange(40)[:, None] // 10) * 4 + (np.arange(40)[None, :] // 10) + 1
    merged = merge_superpixels(img, sp, 10.0, mode="boundary")
    assert np.array_equal(merged, np.where(np.arange(40) < 20, 1, 2)[None, :].repeat(40, 0))
    assert merge_superpixels(img, sp, 50.01, mode="boundary").max() == 1


def test_ncut_splits_two_colours():
    rng = np.random.default_rng(0)
    img = rng.normal(0, 1.0, (60, 60))
    img[15:45, 15:45] += 40
    sp = (np.arange(60)[:, None] // 5) * 12 + (np.arange(60)[None, :] // 5) + 1
    g = build_graph(img, sp)
    assert g.merge(0.0, "ncut").max() == 1  # threshold 0: no split
    # the block costs Ncut ~0.002; halving the uniform background ring costs ~0.08
    merged = g.merge(0.02, "ncut")
    truth = np.zeros((60, 60), int)
    truth[15:45, 15:45] = 1
    assert merged.max() == 2
    assert adjusted_rand_index(merged, truth) == 1.0


def test_merge_keeps_zero_outside_mask_and_starts_at_one():
    image, gt = synthetic_nuclei((128, 128), n_nuclei=12, seed=4)
    mask = gt > 0
    sp = slic_superpixels(image, n_segments=80, mask=mask)
    for mode in ("hierarchical", "threshold", "boundary", "ncut"):
        merged = merge_superpixels(image, sp, 0.5 if mode == "ncut" else 500.0, mode=mode)
        assert np.all(merged[~mask] == 0) and np.all(merged[mask] >= 1), mode
        assert np.array_equal(np.unique(merged[mask]), np.arange(1, merged.max() + 1))


def test_constant_and_one_pixel_wide_images():
    const = np.full((40, 40), 7.0)
    sp = slic_superpixels(const, n_segments=16)
    assert sp.max() > 1
    assert merge_superpixels(const, sp, 1e-6).max() == 1  # all distances are 0
    assert merge_superpixels(const, sp, 0.0).max() == sp.max()  # nothing is < 0
    line = np.concatenate([np.zeros(25), np.full(25, 100.0)])[None, :]
    sp_line = slic_superpixels(line, n_segments=6)
    assert sp_line.shape == (1, 50) and sp_line.min() == 1
    merged = merge_superpixels(line, sp_line, 50.0)
    assert merged.max() == 2 and np.all(merged[0, :25] == merged[0, 0]) and np.all(merged[0, 25:] == merged[0, -1])


def test_iter_superpixels_runs_all_steps():
    image, _ = synthetic_nuclei((96, 96), n_nuclei=6, seed=2)
    events = []
    sp, graph, merged = run(iter_superpixels(image, n_segments=40, merge_threshold=300.0), progress=events.append)
    assert events[-1].step == events[-1].total == 3
    assert np.array_equal(merged, graph.merge(300.0))
    assert graph.n_regions == sp.max()


# ---- bad inputs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"n_segments": 0}, "n_segments"),
    ({"n_segments": -5}, "n_segments"),
    ({"compactness": 0}, "compactness"),
    ({"compactness": -1.0}, "compactness"),
    ({"mask": np.zeros((32, 32), bool)}, "empty"),
    ({"mask": np.ones((31, 32), bool)}, "shape"),
    ({"spacing": (1.0,)}, "spacing"),
])
def test_slic_bad_arguments(kwargs, match):
    image = np.random.default_rng(0).random((32, 32))
    with pytest.raises(ValueError, match=match):
        slic_superpixels(image, **kwargs)


def test_nan_pixels_refused_unless_masked_out():
    image = np.random.default_rng(0).random((32, 32))
    image[5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        slic_superpixels(image, n_segments=10)
    mask = np.ones((32, 32), bool)
    mask[5, 5] = False
    sp = slic_superpixels(image, n_segments=10, mask=mask)
    assert sp[5, 5] == 0
    assert merge_superpixels(image, sp, 0.1).min() == 0  # the NaN pixel stays outside
    with pytest.raises(ValueError, match="NaN"):
        merge_superpixels(image, np.ones((32, 32), int), 0.1)


def test_rgb_without_channel_axis_is_refused():
    rgb, _ = synthetic_histology((64, 64), seed=0)
    with pytest.raises(ValueError, match="channel_axis=-1"):
        slic_superpixels(rgb)
    with pytest.raises(ValueError, match="channel_axis=-1"):
        merge_superpixels(rgb, np.ones((64, 64), int), 1.0)


def test_merge_bad_arguments():
    image = np.random.default_rng(0).random((16, 16))
    sp = np.ones((16, 16), int)
    with pytest.raises(ValueError, match="unknown merge mode"):
        merge_superpixels(image, sp, 1.0, mode="watershed")
    with pytest.raises(ValueError, match="threshold"):
        merge_superpixels(image, sp, -1.0)
    with pytest.raises(ValueError, match="threshold"):
        merge_superpixels(image, sp, float("nan"))
    with pytest.raises(ValueError, match="shape"):
        merge_superpixels(image, np.ones((16, 15), int), 1.0)
    with pytest.raises(ValueError, match="integer"):
        merge_superpixels(image, sp.astype(float), 1.0)
    with pytest.raises(ValueError, match="every label is 0"):
        merge_superpixels(image, np.zeros((16, 16), int), 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        merge_superpixels(image, -sp, 1.0)
    with pytest.raises(ValueError, match="2D"):
        merge_superpixels(np.zeros((2, 2, 2, 2, 2)), np.ones((2, 2, 2, 2), int), 1.0)
