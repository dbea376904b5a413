"""The U-Net of Ronneberger et al. (2015), with same-padding so output and input have one shape."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["UNet", "build_unet", "default_config", "receptive_margin", "fold_batch_norm", "CONFIG_KEYS"]

#: keys of a model configuration (stored in checkpoints under ``"config"``)
CONFIG_KEYS = ("in_channels", "n_classes", "base", "depth", "batch_norm", "upsample")


class _DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, batch_norm: bool):
        layers = []
        for i in range(2):
            layers.append(nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class _Up(nn.Module):
    def __init__(self, cin: int, cout: int, upsample: str):
        super().__init__()
        if upsample == "transpose":
            self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        else:  # bilinear upsampling followed by a 1x1 convolution halving the channels
            self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                    nn.Conv2d(cin, cout, 1))

    def forward(self, x):
        return self.up(x)


class UNet(nn.Module):
    """U-Net: contracting path, expanding path, skip connections by concatenation, 1x1 output.

    Parameters
    ----------
    in_channels : int
        Image channels (1 for gray, 3 for RGB, ...).
    n_classes : int
        Output classes: 2 (background, cell) or 3 (background, interior, boundary).
    base : int
        Feature channels of the first level; doubled at every level down.
    depth : int
        Number of 2x2 max-pooling steps. Input sizes must be multiples of ``2**depth``.
    batch_norm : bool
        Batch normalisation after every 3x3 convolution.
    upsample : {"transpose", "bilinear"}
        2x2 transposed convolutions (as in the paper) or bilinear upsampling + 1x1 convolution.

    Notes
    -----
    The paper uses unpadded convolutions (output smaller than input); here every 3x3 convolution is
    zero-padded ("same"), so the overlap-tile inference in :mod:`.infer` discards a margin of
    :func:`receptive_margin` pixels around every tile instead.

    References
    ----------
    .. [1] O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
       Segmentation", MICCAI 2015, LNCS 9351, pp. 234-241.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 2, base: int = 16, depth: int = 3,
                 batch_norm: bool = True, upsample: str = "transpose"):
        super().__init__()
        if upsample not in ("transpose", "bilinear"):
            raise ValueError(f"upsample must be 'transpose' or 'bilinear', got {upsample!r}.")
        if n_classes not in (2, 3):
            raise ValueError(f"n_classes must be 2 (background, cell) or 3 (+ boundary), got {n_classes}.")
        if int(depth) < 1 or int(base) < 1 or int(in_channels) < 1:
            raise ValueError("in_channels, base and depth must be positive integers.")
        self.config = dict(in_channels=int(in_channels), n_classes=int(n_classes), base=int(base),
                           depth=int(depth), batch_norm=bool(batch_norm), upsample=upsample)
        chans = [base * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for c in chans[:-1]:
            self.down.append(_DoubleConv(cin, c, batch_norm))
            cin = c
        self.pool = nn.MaxPool2d(2)
        self.bottom = _DoubleConv(chans[-2], chans[-1], batch_norm)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for c in reversed(chans[:-1]):
            self.up.append(_Up(2 * c, c, upsample))
            self.dec.append(_DoubleConv(2 * c, c, batch_norm))
        self.head = nn.Conv2d(chans[0], n_classes, 1)

    @property
    def multiple(self) -> int:
        """Spatial sizes must be multiples of this."""
        return 2 ** self.config["depth"]

    def forward(self, x):
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([skip, up(x)], dim=1))
        return self.head(x)


def fold_batch_norm(net: nn.Module) -> int:
    """Fold every batch-norm layer that follows a convolution into it, for inference; returns how many.

    In evaluation mode a batch norm is a fixed per-channel scale and shift, so the convolution before it can
    absorb it: ``w' = w * g / sqrt(var + eps)``, ``b' = (b - mean) * g / sqrt(var + eps) + beta``, and the
    batch norm becomes an ``nn.Identity``. The outputs agree to float rounding (1e-6 on a probability), and one
    pass less over every feature map makes the shipped U-Net's CPU forward pass about 1.6x faster
    (architecture.md). The network can no longer be trained or saved as a checkpoint of this configuration:
    fold only a network built for prediction (``unet.infer.load_unet`` does).

    Examples
    --------
    >>> net = build_unet(dict(base=4, depth=2)).eval()
    >>> x = torch.rand(1, 1, 16, 16)
    >>> with torch.no_grad():
    ...     before = net(x)
    ...     n = fold_batch_norm(net)
    ...     after = net(x)
    >>> n, bool(torch.allclose(before, after, atol=1e-5))
    (10, True)
    """
    if net.training:
        raise ValueError("fold batch norm only into a network in evaluation mode (net.eval()), for prediction.")
    folded = 0
    for block in net.modules():
        if not isinstance(block, nn.Sequential):
            continue
        for i in range(len(block) - 1):
            conv, bn = block[i], block[i + 1]
            if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
                continue
            with torch.no_grad():
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                                  conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode)
                fused = fused.to(device=conv.weight.device, dtype=conv.weight.dtype)
                fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
                fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
            block[i], block[i + 1] = fused.eval(), nn.Identity()
            folded += 1
    return folded


def receptive_margin(depth: int) -> int:
    """Pixels on each side of an output pixel that can influence it (half the receptive field).

    A 3x3 convolution at level ``l`` (resolution ``2**l``) reaches ``2**l`` input pixels further on
    each side; each level has two in the encoder and two in the decoder, the bottom level two; a 2x2
    max pooling reaches at most ``2**l`` further on one side; transposed convolutions add nothing.
    The bound is rounded up to a multiple of ``2**depth`` so tiles cut at that offset keep the
    pooling grid of the whole image (depth 3: 51 -> 56 pixels; measured influence: 46).
    """
    m = 0
    for level in range(depth):
        m += 2 * 2 ** level * 2  # encoder + decoder double convs at this level
        m += 2 ** level          # a 2x2 pooling shifts by at most one pixel of its level
    m += 2 * 2 ** depth          # bottom double conv
    mult = 2 ** depth
    return -(-m // mult) * mult


def default_config(device_type: str = "cpu") -> dict:
    """Model size suiting a device: small on a CPU (base 16, depth 3), paper-sized on a GPU (64, 4)."""
    if device_type == "cuda":
        return dict(base=64, depth=4, batch_norm=True, upsample="transpose")
    return dict(base=16, depth=3, batch_norm=True, upsample="transpose")


def build_unet(config: dict) -> UNet:
    """Build a :class:`UNet` from a configuration dict (unknown keys are refused)."""
    unknown = set(config) - set(CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown U-Net configuration keys: {', '.join(sorted(unknown))}.")
    return UNet(**config)
