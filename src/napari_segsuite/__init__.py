"""napari-segsuite: segmentation backends and training-data tools for napari.

Importing this package is cheap: it loads neither napari, Qt nor torch. The headless API lives in
:mod:`napari_segsuite.core`, the command line in :mod:`napari_segsuite.cli`, and the napari widgets
in :mod:`napari_segsuite._napari`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
