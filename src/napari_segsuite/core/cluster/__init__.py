"""Pixel clustering: k-means, Gaussian mixture and mean shift on intensity/colour (and position)."""

from .api import cluster_pixels, iter_cluster_pixels
from .instances import cluster_instances
from .meanshift import estimate_bandwidth, mean_shift_modes
from .models import METHODS
from .superpixels import cluster_superpixel_means

__all__ = [
           "METHODS",
           "cluster_instances",
           "cluster_pixels",
           "cluster_superpixel_means",
           "estimate_bandwidth",
           "iter_cluster_pixels",
           "mean_shift_modes",
]
