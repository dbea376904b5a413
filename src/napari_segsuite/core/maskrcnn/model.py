"""Building torchvision Mask R-CNN models for cells (no download unless asked for).

Two architectures, chosen by ``config["backbone"]``:

``"resnet50_fpn_v2"``
    torchvision's ``maskrcnn_resnet50_fpn_v2`` (the GPU default), built with ``weights=None,
    weights_backbone=None`` unless ``pretrained=True`` is asked for explicitly.
``"resnet18_slim"``
    a ResNet-18-shaped body with configurable width (``width`` channels in the first stage, doubled per
    stage), wrapped by torchvision's ``BackboneWithFPN`` with few FPN channels and slim heads (the CPU
    default: ~4 M parameters, a few MB on disk).

Images are processed at their native scale (``image_scale`` 1.0) with anchors sized for cells; torchvision's
default ``min_size=800`` would upscale every tile.
"""

from __future__ import annotations

import copy

__all__ = ["DEFAULT_CONFIG", "default_config", "build_maskrcnn", "count_parameters"]

#: Configuration keys and defaults (stored in every checkpoint's ``config``).
DEFAULT_CONFIG = {
    "backbone": "resnet18_slim",      # or "resnet50_fpn_v2"
    "in_channels": 1,                 # image channels (1 gray, 3 RGB, N multichannel)
    "num_classes": 2,                 # including background: one cell class by default
    "class_names": None,              # optional list of names for classes 1..K-1
    "width": 32,                      # resnet18_slim: channels of the first stage
    "fpn_channels": 64,               # resnet18_slim: FPN width
    "representation_size": 256,       # resnet18_slim: box head MLP width
    "mask_head_channels": 64,         # resnet18_slim: mask head conv width
    "anchor_sizes": [8, 16, 32, 64, 128],  # pixels, one per FPN level (cells are small)
    "aspect_ratios": [0.5, 1.0, 2.0],
    "image_scale": 1.0,               # resize factor applied inside the model (1.0 = native scale)
    "detections_per_image": 500,      # per image or tile (hundreds of cells are common); proposals follow
    "pretrained": False,              # True downloads torchvision's COCO weights (resnet50_fpn_v2, 3 channels)
}

_BACKBONES = ("resnet18_slim", "resnet50_fpn_v2")


def default_config(device_type: str = "cpu", **overrides) -> dict:
    """The default model configuration for a device type.

    Parameters
    ----------
    device_type : str
        ``"cuda"`` gives the ResNet-50-FPN v2 model; anything else the slim ResNet-18-FPN.
    **overrides
        Keys of :data:`DEFAULT_CONFIG` to change.

    Returns
    -------
    dict
        A complete configuration.

    Raises
    ------
    ValueError
        For an unknown key.
    """
    config = copy.deepcopy(DEFAULT_CONFIG)
    if device_type == "cuda":
        config["backbone"] = "resnet50_fpn_v2"
    for key, value in overrides.items():
        if key not in DEFAULT_CONFIG:
            raise ValueError(f"unknown Mask R-CNN option {key!r}; known: {', '.join(DEFAULT_CONFIG)}.")
        if value is not None:
            config[key] = value
    return config


def _check_config(config: dict) -> dict:
    full = copy.deepcopy(DEFAULT_CONFIG)
    full.update(config or {})
    if full["backbone"] not in _BACKBONES:
        raise ValueError(f"unknown backbone {full['backbone']!r}; use one of {', '.join(_BACKBONES)}.")
    if int(full["in_channels"]) < 1:
        raise ValueError(f"in_channels must be >= 1, got {full['in_channels']}.")
    if int(full["num_classes"]) < 2:
        raise ValueError("num_classes counts the background too and must be >= 2.")
    if len(full["anchor_sizes"]) != 5:
        raise ValueError("anchor_sizes needs one size per FPN level (5 values, e.g. [8, 16, 32, 64, 128]).")
    if not float(full["image_scale"]) > 0:
        raise ValueError("image_scale must be > 0.")
    return full


def _slim_resnet18_body(in_channels: int, width: int):
    """A ResNet-18-shaped body (2 BasicBlocks per stage) with widths ``w, 2w, 4w, 8w``."""
    from torch import nn
    from torchvision.models.resnet import BasicBlock

    class SlimResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            chans = in_c = width
            for i in range(4):
                chans = width * 2**i
                stride = 1 if i == 0 else 2
                down = None
                if stride != 1 or in_c != chans:
                    down = nn.Sequential(nn.Conv2d(in_c, chans, 1, stride=stride, bias=False), nn.BatchNorm2d(chans))
                layer = nn.Sequential(BasicBlock(in_c, chans, stride, down), BasicBlock(chans, chans))
                setattr(self, f"layer{i + 1}", layer)
                in_c = chans

    return SlimResNet18()



def _make_transform(config: dict):
    from torchvision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes

    scale = float(config["image_scale"])
    channels = int(config["in_channels"])
    if config["pretrained"]:
        mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    else:
        mean, std = [0.5] * channels, [0.25] * channels

    class CellTransform(GeneralizedRCNNTransform):
        """Resize by ``image_scale`` (no resize at 1.0); return masks as per-box 28x28 probabilities.

        Pasting every mask into a full-size tile costs N x H x W floats (hundreds of cells per tile);
        the inference code pastes each mask into its own box instead.
        """

        def resize(self, image, target=None):
            if scale == 1.0:
                return image, target
            h, w = image.shape[-2:]
            self.min_size = (max(1, round(min(h, w) * scale)),)
            self.max_size = max(1, round(max(h, w) * scale))
            return super().resize(image, target)

        def postprocess(self, result, image_shapes, original_image_sizes):
            if self.training:
                return result
            for pred, im_s, o_im_s in zip(result, image_shapes, original_image_sizes):
                if tuple(im_s) != tuple(o_im_s):
                    pred["boxes"] = resize_boxes(pred["boxes"], im_s, o_im_s)
            return result

    return CellTransform(min_size=128, max_size=4096, image_mean=mean, image_std=std, size_divisible=32)


def build_maskrcnn(config: dict | None = None, *, download: bool = True):
    """Build a torchvision ``MaskRCNN`` for cells from a configuration.

    Parameters
    ----------
    config : dict, optional
        Keys of :data:`DEFAULT_CONFIG` (missing keys take the defaults).
    download : bool
        With ``config["pretrained"]``, fetch torchvision's weights (default). ``False`` builds the same
        architecture without them (used when a checkpoint's own weights are loaded next).

    Returns
    -------
    torchvision.models.detection.MaskRCNN
        In training mode, on the CPU. Its ``segsuite_config`` attribute holds the full configuration.
        In eval mode it returns ``masks`` as ``(N, 1, 28, 28)`` probabilities per box (not pasted).

    Raises
    ------
    ValueError
        For an invalid configuration, or ``pretrained=True`` with a model torchvision has no weights
        for (the slim backbone, or a channel count other than 3), or when the weights cannot be
        downloaded (no network).

    Notes
    -----
    Nothing is downloaded unless ``config["pretrained"]`` is True.

    Examples
    --------
    >>> model = build_maskrcnn({"in_channels": 1, "width": 8, "fpn_channels": 16})
    >>> type(model).__name__
    'MaskRCNN'
    """
    from torch import nn
    from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn_v2
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.faster_rcnn import TwoMLPHead, FastRCNNPredictor
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

    config = _check_config(config)
    channels = int(config["in_channels"])
    num_classes = int(config["num_classes"])
    anchors = AnchorGenerator(
        sizes=tuple((int(s),) for s in config["anchor_sizes"]),
        aspect_ratios=(tuple(float(a) for a in config["aspect_ratios"]),) * 5,
    )
    det = int(config["detections_per_image"])
    # Cells are small and crops few: fewer proposals and RoI samples than the COCO defaults train faster.
    speed = {"rpn_pre_nms_top_n_train": 1000, "rpn_post_nms_top_n_train": 500, "box_batch_size_per_image": 128,
             "box_detections_per_img": det, "rpn_pre_nms_top_n_test": max(1000, 2 * det),
             "rpn_post_nms_top_n_test": max(1000, 2 * det)}
    if config["backbone"] == "resnet50_fpn_v2":
        if config["pretrained"]:
            if channels != 3:
                raise ValueError("pretrained weights exist for 3-channel (RGB) images only; "
                                 f"this model has {channels} channel(s). Train from scratch instead.")
            model = _pretrained_resnet50(num_classes, speed) if download else maskrcnn_resnet50_fpn_v2(
                weights=None, weights_backbone=None, num_classes=num_classes, **speed)
        else:
            model = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=num_classes, **speed)
            if channels != 3:
                model.backbone.body.conv1 = nn.Conv2d(channels, 64, 7, stride=2, padding=3, bias=False)
        n_anchor = len(config["aspect_ratios"])
        if n_anchor != model.rpn.anchor_generator.num_anchors_per_location()[0]:
            from torchvision.models.detection.rpn import RPNHead

            model.rpn.head = RPNHead(model.backbone.out_channels, n_anchor, conv_depth=2)
        model.rpn.anchor_generator = anchors
    else:
        if config["pretrained"]:
            raise ValueError("there are no pretrained weights for the slim ResNet-18 backbone; "
                             "use backbone 'resnet50_fpn_v2' or train from scratch.")
        width, fpn = int(config["width"]), int(config["fpn_channels"])
        body = _slim_resnet18_body(channels, width)
        backbone = BackboneWithFPN(
            body, {f"layer{i}": str(i - 1) for i in range(1, 5)},
            [width * 2**i for i in range(4)], fpn,
        )
        rep = int(config["representation_size"])
        mask_c = int(config["mask_head_channels"])
        model = MaskRCNN(
            backbone,
            num_classes=None,
            rpn_anchor_generator=anchors,
            box_head=TwoMLPHead(fpn * 7 * 7, rep),
            box_predictor=FastRCNNPredictor(rep, num_classes),
            mask_head=MaskRCNNHeads(fpn, [mask_c] * 4, 1),
            mask_predictor=MaskRCNNPredictor(mask_c, mask_c, num_classes),
            **speed,
        )
    model.transform = _make_transform(config)
    model.segsuite_config = config
    return model


def _pretrained_resnet50(num_classes: int, speed: dict):
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_V2_Weights, maskrcnn_resnet50_fpn_v2
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
    from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor

    try:
        model = maskrcnn_resnet50_fpn_v2(weights=MaskRCNN_ResNet50_FPN_V2_Weights.DEFAULT, **speed)
    except Exception as exc:  # URLError, socket errors, HTTP errors, hash mismatch ...
        raise ValueError(
            "pretrained Mask R-CNN weights were asked for but could not be downloaded "
            f"({type(exc).__name__}: {exc}). Connect to the network once (torchvision caches them) "
            "or train from scratch (pretrained=False)."
        ) from exc
    rep = model.roi_heads.box_predictor.cls_score.in_features
    model.roi_heads.box_predictor = FastRCNNPredictor(rep, num_classes)
    model.roi_heads.mask_predictor = MaskRCNNPredictor(256, 256, num_classes)
    return model


def count_parameters(model) -> int:
    """Number of trainable parameters of a torch module."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
