"""Mean shift against scikit-learn's, superpixel-mean clustering, cluster -> instances."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.core.cluster import cluster_instances, cluster_superpixel_means, mean_shift_modes
from napari_segsuite.core.cluster.meanshift import bin_points, estimate_bandwidth


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 12.0], [9.0, 11.0]])
    return np.concatenate([c + rng.normal(0, 1.0, (300, 2)) for c in centres]), centres


def test_mean_shift_finds_the_modes_sklearn_finds():
    from sklearn.cluster import MeanShift

    points, centres = blobs()
    ref = MeanShift(bandwidth=3.0, bin_seeding=True).fit(points).cluster_centers_
    ours = mean_shift_modes(points, 3.0)
    assert len(ours) == len(ref) == 4
    # each of our modes within a tenth of the bandwidth of one of sklearn's, and near a true centre
    d = np.sqrt(((ours[:, None] - ref[None]) ** 2).sum(-1))
    assert d.min(1).max() < 0.3
    assert np.sqrt(((ours[:, None] - centres[None]) ** 2).sum(-1)).min(1).max() < 0.5


def test_weighted_points_count_as_repeated_points():
    points, _ = blobs(1)
    pts = np.round(points)  # many repeats
    uniq, counts = np.unique(pts, axis=0, return_counts=True)
    a = mean_shift_modes(pts, 3.0)
    b = mean_shift_modes(uniq, 3.0, weights=counts)
    np.testing.assert_allclose(np.sort(a, axis=0), np.sort(b, axis=0), atol=1e-9)


def test_bin_points_centroids_and_counts():
    pts = np.array([[0.1, 0.1], [0.3, 0.2], [1.5, 0.1], [1.7, 0.3], [1.6, 0.2]])
    centroids, counts, cell = bin_points(pts, 1.0)
    assert cell[0] == cell[1] and cell[2] == cell[3] == cell[4] and cell[0] != cell[2]
    np.testing.assert_allclose(counts[cell[[0, 2]]], [2, 3])
    np.testing.assert_allclose(centroids[cell[0]], [0.2, 0.15])
    np.testing.assert_allclose(centroids[cell[2]], [1.6, 0.2])


def test_estimate_bandwidth_hand_computed():
    # 10 points on a line, 1 apart; quantile 0.3 -> k = 3: the 3rd nearest counting the point itself
    pts = np.arange(10.0)[:, None]
    # distances to the 3rd nearest (self, then two neighbours): ends 2, others 1
    expected = (2 + 2 + 8 * 1) / 10
    assert estimate_bandwidth(pts, quantile=0.3) == pytest.approx(expected)
    assert estimate_bandwidth(np.zeros((5, 2))) == 0.0


@pytest.mark.parametrize("method", ["kmeans", "gmm", "meanshift"])
def test_superpixel_means_cluster_into_classes(method):
    # 4x6 grid of 10x10 superpixels; each superpixel has one of three levels
    levels = np.array([[20, 20, 120, 120, 220, 220], [20, 120, 120, 220, 220, 20],
                       [220, 20, 20, 120, 120, 220], [120, 220, 20, 20, 120, 120]], float)
    sp = (np.arange(24).reshape(4, 6) + 1).repeat(10, 0).repeat(10, 1)
    image = levels.repeat(10, 0).repeat(10, 1) + np.random.default_rng(0).normal(0, 5, sp.shape)
    sp[:10, :10] = 0  # not a superpixel: stays 0
    # mean shift: the radius given (estimated from 23 nearly exact means it is a fraction of a grey level)
    bandwidth = 30.0 if method == "meanshift" else None
    got = cluster_superpixel_means(image, sp, n_clusters=3, method=method, bandwidth=bandwidth)
    expected = np.searchsorted([20, 120, 220], levels).repeat(10, 0).repeat(10, 1) + 1
    expected[:10, :10] = 0
    np.testing.assert_array_equal(got, expected)


def test_superpixel_means_bad_input():
    with pytest.raises(ValueError, match="non-negative integer"):
        cluster_superpixel_means(np.zeros((4, 4)), np.full((4, 4), -1), 2)
    with pytest.raises(ValueError, match="mask has shape|superpixels have shape"):
        cluster_superpixel_means(np.zeros((4, 4)), np.ones((5, 5), int), 2)
    with pytest.raises(ValueError, match="mask is empty"):
        cluster_superpixel_means(np.zeros((4, 4)), np.zeros((4, 4), int), 2)


def test_cluster_instances_connected_components():
    labels = np.ones((10, 12), np.int32)
    labels[1:4, 1:4] = 2
    labels[6:9, 6:10] = 2
    labels[0, 11] = 2  # a single pixel
    labels[5, 0] = 3
    got = cluster_instances(labels, 2)
    assert got.dtype == np.int32 and got.max() == 3
    assert len(np.unique(got[1:4, 1:4])) == 1 and len(np.unique(got[6:9, 6:10])) == 1
    assert (got[labels != 2] == 0).all()
    big = cluster_instances(labels, 2, min_size=2)
    assert big.max() == 2 and big[0, 11] == 0
    diag = np.eye(4, dtype=int) + 1
    assert cluster_instances(diag, 2).max() == 4
    assert cluster_instances(diag, 2, connectivity=2).max() == 1
    with pytest.raises(ValueError, match="no pixel belongs to cluster 5"):
        cluster_instances(labels, 5)
