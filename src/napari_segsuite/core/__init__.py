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
    "TrainingItem": "training",
    "export_dataset": "dataset",
    "iter_export_dataset": "dataset",
    "load_dataset": "dataset",
    "synthetic_nuclei": "samples.synthetic",
    "synthetic_histology": "samples.synthetic",
    "synthetic_nuclei_3d": "samples.synthetic",
    "sample_path": "samples",
    "grabcut": "graphcut",
    "grabcut_boxes": "graphcut",
    "iter_grabcut_boxes": "graphcut",
    "iter_grabcut_masks": "graphcut",
    "paint_box_masks": "graphcut",
    "clip_box": "graphcut",
    "BoxMask": "graphcut",
    "grabcut_points": "graphcut",
    "iter_grabcut_points": "graphcut",
    "model_prior": "graphcut",
    "clear_prior_cache": "graphcut",
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
    "SuperpixelGraph": "superpixels",
    "adjusted_rand_index": "metrics",
    "build_maskrcnn": "maskrcnn",
    "train_maskrcnn": "maskrcnn",
    "iter_train_maskrcnn": "maskrcnn",
    "predict_maskrcnn": "maskrcnn",
    "iter_predict_maskrcnn": "maskrcnn",
    "load_maskrcnn_checkpoint": "maskrcnn",
    "save_maskrcnn_checkpoint": "maskrcnn",
    "masks_to_targets": "maskrcnn",
    "predict_distributed": "distributed",
    "iter_predict_distributed": "distributed",
    "weightmap_distributed": "distributed.weightmap",
    "iter_weightmap_distributed": "distributed.weightmap",
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
