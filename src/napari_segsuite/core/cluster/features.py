"""Per-pixel feature vectors for clustering: intensity or colour, optionally position.

Features are built chunk by chunk from the image (never all at once for a big image): the intensity
channels in the image's own units (so a mean-shift bandwidth is in intensity units), then, when
``spatial_weight > 0``, the pixel's coordinates scaled so that crossing the image's longest side counts
as much as ``spatial_weight`` standard deviations of intensity.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PixelFeatures"]


class PixelFeatures:
    """The pixels to cluster (all, or those inside ``mask``) and their feature vectors.

    Parameters
    ----------
    image : array_like
        2D or 3D spatial image, gray or with channels on ``channel_axis``.
    channel_axis : int or None
        Axis of the colour channels.
    spatial_weight : float
        0 clusters on intensity alone; larger values add position, making clusters compact.
    mask : array_like of bool, optional
        Pixels to cluster (the image's spatial shape).

    Raises
    ------
    ValueError
        For a bad axis, a non-2D/3D image, non-finite values, a mask of another shape or an empty mask.
    """

    def __init__(self, image, channel_axis=None, spatial_weight: float = 0.0, mask=None):
        image = np.asarray(image)
        if image.dtype == bool:
            image = image.astype(np.uint8)
        if not (np.issubdtype(image.dtype, np.number) and not np.iscomplexobj(image)):
            raise ValueError(f"the image must be numeric, got dtype {image.dtype}.")
        if channel_axis is not None:
            if not -image.ndim <= channel_axis < image.ndim:
                raise ValueError(f"channel_axis {channel_axis} is outside the image's {image.ndim} axes "
                                 f"(shape {image.shape}).")
            image = np.moveaxis(image, channel_axis, -1)
        else:
            image = image[..., np.newaxis]
        self.spatial_shape = image.shape[:-1]
        if len(self.spatial_shape) not in (2, 3):
            raise ValueError(f"expected a 2D or 3D image (plus channels), got spatial shape {self.spatial_shape}; "
                             "give channel_axis for colour images.")
        self.n_channels = image.shape[-1]
        self._values = image.reshape(-1, self.n_channels)
        if self._values.dtype.kind == "f" and not np.isfinite(self._values).all():
            raise ValueError("the image contains NaN or infinite values; replace them (e.g. np.nan_to_num) "
                             "or exclude them with a mask of the finite pixels.")
        if spatial_weight < 0 or not np.isfinite(spatial_weight):
            raise ValueError(f"spatial_weight must be a finite number >= 0, got {spatial_weight}.")
        self.index = None  # flat indices of the clustered pixels, None = all
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != self.spatial_shape:
                raise ValueError(f"the mask has shape {mask.shape}, the image's pixels {self.spatial_shape}; "
                                 "give a mask of the same rows and columns (and planes).")
            self.index = np.flatnonzero(mask)
            if self.index.size == 0:
                raise ValueError("the mask is empty: it selects no pixel to cluster; draw the region first.")
        self.n = self._values.shape[0] if self.index is None else self.index.size
        self.intensity_scale = self._scale()
        self.position_factor = (float(spatial_weight) * self.intensity_scale / max(self.spatial_shape)
                                if spatial_weight > 0 else 0.0)
        self.n_features = self.n_channels + (len(self.spatial_shape) if self.position_factor else 0)

    def _scale(self) -> float:
        """Pooled standard deviation of the clustered intensities (from a sample; 1 when constant)."""
        sample = self.intensities(self.sample_indices(50_000, np.random.default_rng(0)))
        std = float(np.std(sample))
        return std if std > 0 else 1.0

    def sample_indices(self, size: int, rng) -> np.ndarray:
        """Positions (0..n-1 among the clustered pixels) of a random sample, sorted; all when ``n <= size``."""
        if self.n <= size:
            return np.arange(self.n)
        return np.sort(rng.choice(self.n, size=size, replace=False))

    def intensities(self, positions) -> np.ndarray:
        """Intensity rows (float64) of clustered pixels ``positions`` (slice or integer array)."""
        flat = self._flat(positions)
        return self._values[flat].astype(np.float64)

    def features(self, positions) -> np.ndarray:
        """Feature rows (float64): intensities, then scaled coordinates when spatial_weight > 0."""
        values = self.intensities(positions)
        if not self.position_factor:
            return values
        coords = np.unravel_index(self._flat(positions), self.spatial_shape)
        pos = np.stack(coords, axis=1).astype(np.float64) * self.position_factor
        return np.concatenate([values, pos], axis=1)

    def _flat(self, positions):
        if self.index is not None:
            return self.index[positions]
        if isinstance(positions, slice):
            return np.arange(self.n)[positions]
        return np.asarray(positions)

    def chunks(self, size: int):
        """Slices over the clustered pixels, ``size`` at a time."""
        return [slice(i, min(i + size, self.n)) for i in range(0, self.n, size)]
