"""What every trainable model shares: the epoch loop, checkpoints, parameter defaults and the triton
workaround."""

from .checkpoint import MODEL_FORMAT, MODEL_VERSION, open_checkpoint, write_checkpoint
from .defaults import MASKRCNN_DEFAULTS, UNET_DEFAULTS
from .loop import iter_training_loop
from .items import TrainingItem, as_training_items
from .triton import load_torch_without_triton

__all__ = ["iter_training_loop", "open_checkpoint", "write_checkpoint", "MODEL_FORMAT", "MODEL_VERSION",
           "UNET_DEFAULTS", "MASKRCNN_DEFAULTS", "load_torch_without_triton", "TrainingItem", "as_training_items"]
