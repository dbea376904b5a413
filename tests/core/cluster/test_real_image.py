"""Two-cluster k-means on a real fluorescence nuclei image finds the foreground as well as Otsu (issue 19).

The reference labels of ``sample_data/real/`` were made by software, not by people (see its README); the
comparison is between two methods on the same real image, the reference only gives both a common yardstick.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.filters import threshold_otsu

from napari_segsuite.core import cluster_pixels
from napari_segsuite.core.io import read_image
from napari_segsuite.core.samples import sample_dir


def _jaccard(a, b):
    return float((a & b).sum() / (a | b).sum())


def test_kmeans_foreground_on_real_nuclei_matches_otsu():
    real = sample_dir() / "real"
    if not real.is_dir():
        pytest.skip("sample_data/real is not installed")
    image = read_image(real / "scratch_assay_hoechst_t00.tif")
    foreground = read_image(real / "scratch_assay_hoechst_t00_masks.tif") > 0
    kmeans = cluster_pixels(image, method="kmeans", n_clusters=2) == 2  # 2 = the brighter cluster
    otsu = image > threshold_otsu(image)
    # measured: k-means 0.789, Otsu 0.789
    assert _jaccard(kmeans, foreground) >= 0.70
    assert abs(_jaccard(kmeans, foreground) - _jaccard(otsu, foreground)) <= 0.05
    assert np.unique(cluster_pixels(image, method="kmeans", n_clusters=2)).tolist() == [1, 2]
