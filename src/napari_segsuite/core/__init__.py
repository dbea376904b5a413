"""Headless API of napari-segsuite: numpy in, numpy out. Never imports napari or Qt.

Names are loaded lazily, so ``import napari_segsuite.core`` stays cheap and torch is only imported
by the backends that need it.
"""

from __future__ import annotations

import importlib

# public name -> submodule defining it
_EXPORTS = {
    "as_labels": "labels",
    "relabel_sequential": "labels",
    "smallest_uint_dtype": "labels",
    "Progress": "progress",
    "run": "progress",
    "Cancelled": "progress",
    "terminal_progress": "progress",
    "select_device": "device",
    "read_image": "io",
    "looks_channels_last": "layout",
    "write_tiff": "io",
    "iou": "metrics",
    "dice": "metrics",
    "pixel_accuracy": "metrics",
    "average_precision": "metrics",
    "match_instances": "metrics",
    "evaluate_segmentation": "metrics",
    "unmatched_instances": "metrics",
    "DatasetItem": "dataset",
    "export_dataset": "dataset",
    "iter_export_dataset": "dataset",
    "load_dataset": "dataset",
    "synthetic_nuclei": "synthetic",
    "synthetic_histology": "synthetic",
    "synthetic_nuclei_3d": "synthetic",
    "sample_path": "samples",
    "grabcut": "boxcut",
    "grabcut_boxes": "boxcut",
    "iter_grabcut_boxes": "boxcut",
    "iter_grabcut_masks": "boxcut",
    "paint_box_masks": "boxcut",
    "clip_box": "boxcut",
    "BoxMask": "boxcut",
    "load_sample": "samples",
    "train_unet": "unet",
    "iter_train_unet": "unet",
    "predict_unet": "unet",
    "iter_predict_unet": "unet",
    "predict_checkpoint": "predict",
    "iter_predict_checkpoint": "predict",
    "slic_superpixels": "superpixels",
    "merge_superpixels": "superpixels",
    "build_graph": "superpixels",
    "iter_superpixels": "superpixels",
    "SuperpixelGraph": "rag",
    "adjusted_rand_index": "rag",
    "build_maskrcnn": "maskrcnn",
    "train_maskrcnn": "maskrcnn",
    "iter_train_maskrcnn": "maskrcnn",
    "predict_maskrcnn": "maskrcnn",
    "iter_predict_maskrcnn": "maskrcnn",
    "load_maskrcnn_checkpoint": "maskrcnn",
    "save_maskrcnn_checkpoint": "maskrcnn",
    "masks_to_targets": "maskrcnn",
    "unet_weight_map": "weightmap",
    "iter_unet_weight_map": "weightmap",
    "cluster_pixels": "cluster",
    "iter_cluster_pixels": "cluster",
    "cluster_superpixel_means": "cluster",
    "cluster_instances": "cluster",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'napari_segsuite.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
