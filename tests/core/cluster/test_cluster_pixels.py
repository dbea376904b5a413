"""cluster_pixels: known partitions of clean synthetic images, id order, mask, position, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.core import cluster_pixels, iter_cluster_pixels, run
from napari_segsuite.core.cluster import api

METHODS = ["kmeans", "gmm", "meanshift"]


def three_regions(noise=4.0, seed=0, shape=(60, 90)):
    """Background 30, a disk at 200 and a square at 110 (ids by intensity: 1, 3, 2), plus Gaussian noise."""
    truth = np.ones(shape, dtype=np.int32)
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    truth[(rr - 30) ** 2 + (cc - 25) ** 2 < 15 ** 2] = 3
    truth[10:50, 55:80] = 2
    means = np.array([0.0, 30.0, 110.0, 200.0])
    image = means[truth] + np.random.default_rng(seed).normal(0, noise, shape)
    return image.astype(np.float32), truth


@pytest.mark.parametrize("method", METHODS)
def test_clean_gray_image_gives_the_true_partition_with_ids_by_intensity(method):
    image, truth = three_regions()
    labels = cluster_pixels(image, method=method, n_clusters=3)
    assert labels.dtype == np.int32 and labels.shape == truth.shape
    np.testing.assert_array_equal(labels, truth)  # exact ids, not just the same partition


@pytest.mark.parametrize("method", METHODS)
def test_clean_colour_image_channels_anywhere(method):
    _, truth = three_regions()
    # red background (mean 40), green square (mean 80), white disk (mean 220): order by mean over channels
    colours = np.array([[0, 0, 0], [100, 10, 10], [10, 220, 10], [220, 220, 220]], dtype=float)
    rgb = colours[truth] + np.random.default_rng(1).normal(0, 3, truth.shape + (3,))
    np.testing.assert_array_equal(cluster_pixels(rgb, method=method, n_clusters=3, channel_axis=-1), truth)
    chw = np.moveaxis(rgb, -1, 0)
    np.testing.assert_array_equal(cluster_pixels(chw, method=method, n_clusters=3, channel_axis=0), truth)


def test_ids_follow_mean_intensity_not_position_or_seed():
    image, truth = three_regions()
    flipped = cluster_pixels(image[:, ::-1], n_clusters=3)
    np.testing.assert_array_equal(flipped, truth[:, ::-1])
    for seed in (0, 1, 7):
        np.testing.assert_array_equal(cluster_pixels(image, n_clusters=3, seed=seed), truth)
    # inverted contrast: the disk becomes the darkest cluster
    inverted = cluster_pixels(-image, n_clusters=3)
    np.testing.assert_array_equal(inverted, np.array([0, 3, 2, 1])[truth])


def test_mask_clusters_inside_only_and_zero_outside():
    image, truth = three_regions()
    mask = truth != 3  # leave the bright disk out: two clusters inside are background and square
    labels = cluster_pixels(image, n_clusters=2, mask=mask)
    np.testing.assert_array_equal(labels, np.where(mask, truth, 0))


def test_stack_is_clustered_as_one_volume():
    planes = [three_regions(seed=s) for s in range(3)]
    stack = np.stack([p[0] for p in planes])
    stack[1] *= 0.0  # an empty plane: still the same ids as the background elsewhere
    stack[1] += 30.0
    labels = cluster_pixels(stack, n_clusters=3)
    assert labels.shape == stack.shape
    np.testing.assert_array_equal(labels[0], planes[0][1])
    np.testing.assert_array_equal(labels[2], planes[2][1])
    assert (labels[1] == 1).all()


def test_spatial_weight_makes_compact_regions():
    noise = np.random.default_rng(3).normal(100, 10, (40, 120))
    plain = cluster_pixels(noise, n_clusters=2)
    cols = np.arange(120)[None, :].repeat(40, 0)
    # intensity only: both clusters spread over the whole width
    assert cols[plain == 1].max() > 100 and cols[plain == 2].min() < 20
    spatial = cluster_pixels(noise, n_clusters=2, spatial_weight=20.0)
    a, b = cols[spatial == 1], cols[spatial == 2]
    assert a.size > 0 and b.size > 0
    assert a.max() < b.min() or b.max() < a.min()  # two side-by-side blocks split along the long side


def test_fit_on_sample_and_chunked_assignment_give_the_same_partition(monkeypatch):
    image, truth = three_regions()
    monkeypatch.setattr(api, "CHUNK", 1000)
    events = []
    labels = run(iter_cluster_pixels(image, n_clusters=3, max_samples=500), progress=events.append)
    np.testing.assert_array_equal(labels, truth)
    assert len(events) == 2 + int(np.ceil(image.size / 1000)) + 1
    assert events[-1].step == events[-1].total and events[-1].info["n_clusters"] == 3


def test_fewer_distinct_values_than_clusters_gives_fewer_ids():
    image = np.zeros((20, 20))
    image[:, 10:] = 5.0
    labels = cluster_pixels(image, n_clusters=4)
    np.testing.assert_array_equal(labels, np.where(image > 0, 2, 1))
    np.testing.assert_array_equal(cluster_pixels(np.full((8, 8), 3.0), method="meanshift"), 1)


def test_meanshift_bandwidth_sets_the_number_of_clusters():
    image, _ = three_regions()
    assert cluster_pixels(image, method="meanshift", bandwidth=30.0).max() == 3
    # a radius wider than the gaps between the three levels merges them all into one mode
    assert cluster_pixels(image, method="meanshift", bandwidth=400.0).max() == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "dbscan"}, "unknown clustering method"),
    ({"n_clusters": 0}, "n_clusters"),
    ({"n_clusters": 2.5}, "n_clusters"),
    ({"method": "meanshift", "bandwidth": -1.0}, "bandwidth"),
    ({"spatial_weight": -0.5}, "spatial_weight"),
    ({"channel_axis": 3}, "channel_axis"),
    ({"mask": np.zeros((60, 90), bool)}, "mask is empty"),
    ({"mask": np.ones((10, 10), bool)}, "mask has shape"),
])
def test_bad_arguments_are_refused_clearly(kwargs, message):
    image, _ = three_regions()
    with pytest.raises(ValueError, match=message):
        cluster_pixels(image, **kwargs)


def test_bad_images_are_refused_clearly():
    image, _ = three_regions()
    image[5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cluster_pixels(image)
    with pytest.raises(ValueError, match="2D or 3D"):
        cluster_pixels(np.zeros((2, 2, 8, 8)))
    with pytest.raises(ValueError, match="2D or 3D"):
        cluster_pixels(np.zeros(16))
    with pytest.raises(ValueError, match="numeric"):
        cluster_pixels(np.array([["a", "b"], ["c", "d"]]))


def test_importing_the_package_does_not_import_sklearn():
    import subprocess
    import sys

    code = ("import sys, napari_segsuite.core as c; c.cluster_pixels; import napari_segsuite.core.cluster; "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
