"""Superpixels on big images: tiled SLIC and the band-by-band region adjacency graph.

The graph built band by band is compared with a whole-image reference (the former implementation,
kept here); tiled SLIC is compared with whole-image SLIC on the same synthetic images.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_segsuite.core import (
    adjusted_rand_index,
    build_graph,
    iter_superpixels,
    merge_superpixels,
    slic_superpixels,
    synthetic_histology,
    synthetic_nuclei,
    synthetic_nuclei_3d,
)
from napari_segsuite.core.superpixels import adjacency, graph as rag
from napari_segsuite.core.superpixels import tiles as slic_tiles
from napari_segsuite.core.metrics import average_precision
from napari_segsuite.core.superpixels.adjacency import neighbour_offsets, take_in_bands
from napari_segsuite.core.superpixels.tiles import grid_step, tile_bounds


# ---- reference: the whole-image graph statistics (all pixel pairs at once) ------------------------
def _shifted(arr, offset, first):
    """Pixels p (``first``) or p + offset, for every p whose neighbour is inside (any offset size)."""
    if first:
        return arr[tuple(slice(max(0, -o), n - max(0, o)) for o, n in zip(offset, arr.shape))]
    return arr[tuple(slice(max(0, o), n - max(0, -o)) for o, n in zip(offset, arr.shape))]


def _reference_graph(values, labels, connectivity=2):
    """(counts, sums, edges, boundary_sum, boundary_count) from whole-image pair arrays."""
    values = values.astype(np.float64)
    n = int(labels.max())
    flat = labels.ravel()
    values2 = values.reshape(-1, values.shape[-1])
    counts = np.bincount(flat, minlength=n + 1).astype(np.float64)
    sums = np.stack([np.bincount(flat, weights=values2[:, c], minlength=n + 1)
                     for c in range(values2.shape[1])], axis=1)
    lo_parts, hi_parts, dist_parts = [], [], []
    for off in neighbour_offsets(labels.ndim, min(connectivity, labels.ndim)):
        a, b = _shifted(labels, off, True), _shifted(labels, off, False)
        differ = a != b
        la, lb = a[differ], b[differ]
        keep = (la > 0) & (lb > 0)
        va = _shifted(values, off, True)[differ][keep]
        vb = _shifted(values, off, False)[differ][keep]
        la, lb = la[keep], lb[keep]
        lo_parts.append(np.minimum(la, lb))
        hi_parts.append(np.maximum(la, lb))
        dist_parts.append(np.sqrt(((va - vb) ** 2).sum(axis=-1)))
    codes = np.concatenate(lo_parts).astype(np.int64) * (n + 1) + np.concatenate(hi_parts)
    uniq, inverse = np.unique(codes, return_inverse=True)
    bsum = np.bincount(inverse, weights=np.concatenate(dist_parts), minlength=uniq.size)
    bcount = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
    edges = np.stack([uniq // (n + 1), uniq % (n + 1)], axis=1)
    return counts, sums, edges, bsum, bcount


def _assert_graph_equals_reference(graph, values, labels):
    counts, sums, edges, bsum, bcount = _reference_graph(values, labels)
    assert graph.n_regions == labels.max()
    np.testing.assert_array_equal(graph.counts, counts)
    np.testing.assert_allclose(graph.sums, sums, rtol=1e-12)
    np.testing.assert_array_equal(graph.edges, edges)
    np.testing.assert_array_equal(graph.boundary_count, bcount)
    np.testing.assert_allclose(graph.boundary_sum, bsum, rtol=1e-12)


@pytest.fixture
def small_bands(monkeypatch):
    """Bands of 3,000 pixels, so that a test image is cut into dozens of bands."""
    monkeypatch.setattr(adjacency, "BAND_PIXELS", 3000)


def test_band_graph_equals_whole_image_reference_gray(small_bands):
    image, _ = synthetic_nuclei((200, 170), n_nuclei=20, seed=4)
    sp = slic_superpixels(image, n_segments=150)
    graph = build_graph(image, sp)
    _assert_graph_equals_reference(graph, image[..., None], sp)
    assert len(adjacency.bands(sp.shape)) == 12  # 17 rows of 170 pixels per band
    # the merged labels of the banded graph equal those of an unbanded one
    np.testing.assert_array_equal(graph.merge(150.0), merge_superpixels(image, sp, 150.0))


def test_band_graph_equals_reference_rgb_and_mask(small_bands):
    rgb, gt = synthetic_histology((160, 150), seed=2)
    mask = np.zeros(rgb.shape[:2], bool)
    mask[20:140, 10:130] = True
    sp = slic_superpixels(rgb, n_segments=120, channel_axis=-1, mask=mask)
    assert np.all(sp[~mask] == 0)
    graph = build_graph(rgb, sp, channel_axis=-1)
    _assert_graph_equals_reference(graph, rgb, sp)


def test_band_graph_equals_reference_3d(small_bands):
    vol, _ = synthetic_nuclei_3d((14, 40, 44), n_nuclei=6, seed=1)
    sp = slic_superpixels(vol, n_segments=60, spacing=(2.0, 1.0, 1.0))
    graph = build_graph(vol, sp)  # 1,760 voxels per plane: one plane per band
    _assert_graph_equals_reference(graph, vol[..., None], sp)


def test_band_graph_equals_reference_with_many_regions(small_bands):
    # 5,625 regions: (n + 1)**2 > 2**24, so edges are reduced by sorting, not in a dense table
    image, _ = synthetic_nuclei((300, 300), n_nuclei=30, seed=5)
    rows, cols = np.indices(image.shape)
    sp = (rows // 4 * 75 + cols // 4 + 1).astype(np.int32)
    graph = build_graph(image.astype(np.float32), sp)
    assert graph.n_regions == 5625 and (graph.n_regions + 1) ** 2 > 2**24
    _assert_graph_equals_reference(graph, image[..., None], sp)


def test_graph_keeps_int32_sequential_superpixels_without_copy_and_renumbers_others():
    image, _ = synthetic_nuclei((64, 64), n_nuclei=5, seed=0)
    sp = slic_superpixels(image, n_segments=30)
    assert build_graph(image, sp).superpixels is sp
    gappy = (sp.astype(np.int64) * 10)  # ids 10, 20, ... -> renumbered 1..N as int32
    g = build_graph(image, gappy)
    assert g.superpixels.dtype == np.int32
    np.testing.assert_array_equal(g.superpixels, sp)


def test_take_in_bands_equals_fancy_indexing():
    labels = np.random.default_rng(0).integers(0, 50, (37, 29)).astype(np.int32)
    lut = np.arange(50, dtype=np.int32)[::-1].copy()
    out = take_in_bands(lut, labels, band_pixels=100)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, lut[labels])


# ---- tiled SLIC ------------------------------------------------------------------------------------
def test_tile_bounds_are_multiples_of_the_grid_step():
    assert tile_bounds(100, 40, 10) == [0, 30, 70, 100]
    assert tile_bounds(100, 500, 10) == [0, 100]
    edges = tile_bounds(8192, 1448, grid_step(8192 * 8192, 134217, 2))
    step = grid_step(8192 * 8192, 134217, 2)
    assert len(edges) == 7 and edges[0] == 0 and edges[-1] == 8192
    assert all(abs(e / step - round(e / step)) * step <= 0.5 for e in edges[1:-1])
    assert tile_bounds(10, 1, 4) == [0, 4, 8, 10]  # tiles are never narrower than one step inside


def _assert_connected_sequential(sp):
    ids = np.unique(sp[sp > 0])
    assert ids[0] == 1 and np.array_equal(ids, np.arange(1, ids[-1] + 1))
    for k, box in enumerate(ndimage.find_objects(sp), start=1):
        _, n_parts = ndimage.label(sp[box] == k)  # face connectivity, as SLIC enforces it
        assert n_parts == 1, f"superpixel {k} is in {n_parts} pieces"


def test_tiled_slic_labels_connected_count_and_no_slivers_at_seams():
    image, _ = synthetic_nuclei((512, 640), n_nuclei=60, seed=2)
    n_segments = 640
    sp = slic_superpixels(image, n_segments=n_segments, tile_size=200)
    _assert_connected_sequential(sp)
    assert 0.85 * n_segments <= sp.max() <= 1.15 * n_segments
    step = grid_step(image.size, n_segments, 2)  # 22.6 pixels
    rows, cols = tile_bounds(512, 200, step), tile_bounds(640, 200, step)
    assert len(rows) == 4 and len(cols) == 5
    # no superpixel crosses a seam
    for r in rows[1:-1]:
        assert not np.intersect1d(sp[r - 1], sp[r]).size
    for c in cols[1:-1]:
        assert not np.intersect1d(sp[:, c - 1], sp[:, c]).size
    # superpixels along seams are as big as the others (no slivers)
    sizes = np.bincount(sp.ravel())[1:]
    seam_ids = np.unique(np.concatenate([sp[r - 1] for r in rows[1:-1]] + [sp[:, c - 1] for c in cols[1:-1]]))
    assert sizes[seam_ids - 1].min() >= 0.1 * step**2  # pieces cut at a seam: no slivers
    assert np.median(sizes[seam_ids - 1]) >= 0.7 * np.median(sizes)


def test_one_tile_equals_the_whole_image_path_gray_and_rgb():
    image, _ = synthetic_nuclei((160, 192), n_nuclei=15, seed=6)
    whole = slic_superpixels(image, n_segments=120, tile_size=0)
    one_tile = slic_superpixels(image, n_segments=120, tile_size=10_000)
    assert np.mean(whole == one_tile) > 0.999
    rgb, _ = synthetic_histology((128, 144), seed=3)
    whole = slic_superpixels(rgb, n_segments=80, channel_axis=-1, tile_size=0)
    one_tile = slic_superpixels(rgb, n_segments=80, channel_axis=-1, tile_size=10_000)
    assert np.mean(whole == one_tile) > 0.999


def test_tiles_use_the_whole_image_colour_scale(monkeypatch):
    # a dim left half and a bright right half: the left tile must cluster with the whole image's
    # scale: its colour differences are small on that scale, as if the left half alone were clustered
    # with the compactness multiplied by range(all) / range(left)
    image, _ = synthetic_nuclei((256, 512), n_nuclei=40, seed=7)
    image = image.astype(np.float64)
    image[:, :256] = image[:, :256] * 0.25 + 100
    left = image[:, :256]
    # step = sqrt(256 * 512 / 128) = 32; tile 256 -> two 256 x 256 tiles with 64 superpixels each
    monkeypatch.setattr(slic_tiles, "HALO_STEPS", 0)  # no margin: the left tile is exactly the left half
    tiled = slic_superpixels(image, n_segments=128, tile_size=256, compactness=5.0)
    spread = np.ptp(left) / np.ptp(image)
    alone = slic_superpixels(left, n_segments=64, compactness=5.0 / spread, tile_size=0)
    assert spread < 0.25 and np.mean(tiled[:, :256] == alone) > 0.999
    # with the left tile's own scale instead, the superpixels differ
    own = slic_superpixels(left, n_segments=64, compactness=5.0, tile_size=0)
    assert np.mean(own == alone) < 0.9


def test_tiled_slic_mask_rgb_and_3d():
    image, gt = synthetic_nuclei((300, 320), n_nuclei=40, seed=8)
    mask = ndimage.binary_dilation(gt > 0, iterations=3)
    sp = slic_superpixels(image, n_segments=300, mask=mask, tile_size=120)
    assert np.all(sp[~mask] == 0) and np.all(sp[mask] >= 1)
    _assert_connected_sequential(sp)
    rgb, _ = synthetic_histology((200, 220), seed=4)
    sp = slic_superpixels(rgb, n_segments=150, channel_axis=-1, tile_size=100)
    _assert_connected_sequential(sp)
    # 64 superpixels whole: in CIELAB they grow past their grid cells, so seams cut more of them
    whole = slic_superpixels(rgb, n_segments=150, channel_axis=-1, tile_size=0)
    assert 0.8 * whole.max() <= sp.max() <= 1.5 * whole.max()
    vol, _ = synthetic_nuclei_3d((16, 64, 64), n_nuclei=6, seed=2)
    sp = slic_superpixels(vol, n_segments=64, tile_size=32)
    assert sp.shape == vol.shape
    _assert_connected_sequential(sp)


def test_tiled_merge_quality_matches_untiled():
    image, gt = synthetic_nuclei((512, 1024), n_nuclei=240, seed=1)
    n_segments = image.size // 500
    scores = {}
    for tile_size in (0, 256):
        sp = slic_superpixels(image, n_segments=n_segments, tile_size=tile_size)
        merged = merge_superpixels(image, sp, threshold=150.0)
        ap = average_precision(gt, merged, thresholds=(0.5,))["ap"][0]
        scores[tile_size] = (ap, adjusted_rand_index(gt, merged))
    (ap_whole, ari_whole), (ap_tiled, ari_tiled) = scores[0], scores[256]
    assert ap_whole > 0.2 and ari_whole > 0.5  # the untiled merge finds the nuclei at all
    assert ap_tiled >= ap_whole - 0.05, scores
    assert ari_tiled >= ari_whole - 0.1, scores


def test_big_2d_images_are_tiled_automatically(monkeypatch):
    monkeypatch.setattr(slic_tiles, "AUTO_TILE_PIXELS", 100 * 100)
    monkeypatch.setattr(slic_tiles, "TILE_PIXELS", 64 * 64)
    image, _ = synthetic_nuclei((128, 160), n_nuclei=10, seed=0)
    events = []
    gen = iter_superpixels(image, n_segments=80, merge_threshold=100.0)
    try:
        while True:
            events.append(next(gen))
    except StopIteration as stop:
        sp, graph, merged = stop.value
    messages = [e.message for e in events]
    assert "superpixels in 6 tiles..." in messages  # 2 x 3 tiles of about 64 x 64
    assert [e.step for e in events] == list(range(len(events)))
    assert events[-1].step == events[-1].total
    assert merged.dtype == np.int32 and merged.min() == 1
    # below the limit, or with tile_size=0, the image is done whole
    whole = slic_superpixels(image, n_segments=80, tile_size=0)
    assert not np.array_equal(whole, sp)
    vol = np.zeros((4, 60, 60))  # 3D is never tiled automatically
    vol[:, 20:40, 20:40] = 1
    assert slic_superpixels(vol, n_segments=8).shape == vol.shape


@pytest.mark.parametrize("tile_size", [-1, "big", np.nan])
def test_bad_tile_size(tile_size):
    image, _ = synthetic_nuclei((64, 64), n_nuclei=5, seed=0)
    with pytest.raises(ValueError, match="tile_size"):
        slic_superpixels(image, n_segments=20, tile_size=tile_size)


def test_block_minimum_argmin_equals_numpy_under_updates_and_ties(monkeypatch):
    from napari_segsuite.core.superpixels.graph import _BlockMinimum

    monkeypatch.setattr(_BlockMinimum, "full_scan", 0)  # blocks even for this small array
    rng = np.random.default_rng(3)
    values = rng.integers(0, 50, 5000).astype(np.float64)  # many ties: the first minimum must win
    lowest = _BlockMinimum(values)
    reference = values.copy()
    for _ in range(300):
        i = lowest.argmin()
        assert i == int(np.argmin(reference))
        written = np.unique(np.append(rng.integers(0, values.size, rng.integers(1, 12)), i))
        new = rng.integers(0, 80, written.size).astype(np.float64)
        new[-1 if written[-1] == i else 0] = np.inf
        lowest.values[written] = new
        reference[written] = new
        lowest.refresh(written)


class _FullScanMinimum:
    """Reference for _BlockMinimum: numpy.argmin over every edge at each merge (the former way)."""

    def __init__(self, values):
        self.values = np.array(values, dtype=np.float64)

    def argmin(self):
        return int(np.argmin(self.values))

    def refresh(self, written):
        pass


@pytest.mark.parametrize("mode", ["hierarchical", "boundary"])
def test_merge_order_equals_full_scan_reference(monkeypatch, mode):
    image, _ = synthetic_nuclei((384, 384), n_nuclei=40, seed=9)
    sp = slic_superpixels(image, n_segments=1200)
    monkeypatch.setattr(rag._BlockMinimum, "full_scan", 0)  # blocks even for these ~3,500 edges
    fast = build_graph(image, sp)._dendrogram(mode)
    monkeypatch.setattr(rag, "_BlockMinimum", _FullScanMinimum)
    reference = build_graph(image, sp)._dendrogram(mode)
    assert len(fast[0]) == int(sp.max()) - 1  # one connected image: everything merges at last
    np.testing.assert_array_equal(fast[0], reference[0])
    np.testing.assert_array_equal(fast[1], reference[1])
