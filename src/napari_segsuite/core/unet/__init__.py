"""U-Net (Ronneberger et al. 2015): model, training with the border weight map, overlap-tile inference."""

from .checkpoint import load_checkpoint, save_checkpoint
from .infer import iter_predict_unet, load_unet, predict_probabilities, predict_unet
from .model import UNet, build_unet
from .postprocess import probabilities_to_instances
from .train import iter_train_unet, train_unet

__all__ = ["UNet", "build_unet", "train_unet", "iter_train_unet", "predict_unet", "iter_predict_unet",
           "predict_probabilities", "load_unet", "save_checkpoint", "load_checkpoint",
           "probabilities_to_instances"]
