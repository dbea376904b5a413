"""Mask R-CNN instances (torchvision): model building, targets, training, tiled inference, checkpoints."""

from .checkpoint import load_maskrcnn_checkpoint, model_from_checkpoint, save_maskrcnn_checkpoint
from .infer import iter_predict_maskrcnn, predict_maskrcnn
from .model import DEFAULT_CONFIG, build_maskrcnn, default_config
from .targets import class_ids_from_features, masks_to_targets, prepare_image
from .train import iter_train_maskrcnn, train_maskrcnn

__all__ = ["build_maskrcnn", "default_config", "DEFAULT_CONFIG", "masks_to_targets", "class_ids_from_features",
           "prepare_image", "iter_train_maskrcnn", "train_maskrcnn", "iter_predict_maskrcnn", "predict_maskrcnn",
           "load_maskrcnn_checkpoint", "save_maskrcnn_checkpoint", "model_from_checkpoint"]
