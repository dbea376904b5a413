"""Training the U-Net on instance labels with the border weight map (Ronneberger et al. 2015)."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from ..labels import as_labels
from ..progress import Progress, run
from ..weightmap import unet_weight_map
from .augment import Augmenter
from .data import DEFAULT_NORMALIZATION, PlaneSource, normalize_chw

__all__ = ["iter_train_unet", "train_unet", "prepare_training_items", "class_targets", "separate_touching"]


def separate_touching(labels: np.ndarray) -> np.ndarray:
    """Instances with the pixels where two instances touch set to background (a 2-pixel gap).

    A two-class network can only tell touching cells apart if the training target does: as in the
    paper, cells are separated by background, and the border weight map stresses those thin gaps.
    """
    labels = np.asarray(labels)
    contact = np.zeros(labels.shape, bool)
    for axis in range(labels.ndim):
        a = labels.swapaxes(0, axis)
        c = contact.swapaxes(0, axis)
        differ = (a[1:] > 0) & (a[:-1] > 0) & (a[1:] != a[:-1])
        c[1:] |= differ
        c[:-1] |= differ
    out = labels.copy()
    out[contact] = 0
    return out


def class_targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-pixel classes from instances: 0 background, 1 cell; with three classes 2 = cell boundary."""
    if n_classes == 2:
        return (labels > 0).astype(np.int64)
    from skimage.segmentation import find_boundaries

    target = (labels > 0).astype(np.int64)
    target[find_boundaries(labels, mode="inner") & (labels > 0)] = 2
    return target


def _as_pairs(data, channel_axis):
    """(name, image, labels) triples from a dataset path, DatasetItems or (image, labels) pairs."""
    if isinstance(data, (str, Path)):
        from ..dataset import load_dataset

        data = load_dataset(data)
    if isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape"):
        data = [data]
    out = []
    for k, item in enumerate(data):
        if hasattr(item, "image") and hasattr(item, "mask"):
            out.append((item.name, item.image, item.mask))
        else:
            try:
                image, labels = item
            except (TypeError, ValueError) as exc:
                raise ValueError("training items must be DatasetItems or (image, labels) pairs.") from exc
            out.append((f"item{k}", image, labels))
    if not out:
        raise ValueError("no training data: give at least one (image, labels) pair or a dataset folder.")
    return out


def prepare_training_items(data, *, channel_axis=None, normalization=None, in_channels=None):
    """Normalised ``(name, image (C,Y,X) float32, labels (Y,X) int32)`` planes ready for training.

    ``normalization`` (a dict, updated in place) gains ``"min_range"`` from these images unless it has one.

    Stacks (3D labels with an image of the same shape, or with a channel axis) give one item per plane.

    Raises
    ------
    ValueError
        Image and labels shapes that do not match, invalid labels (float, negative, NaN), images with
        NaN, channel counts that differ between items or from ``in_channels``, labels without any cell
        in the whole training set.
    """
    if normalization is None:
        normalization = dict(DEFAULT_NORMALIZATION)
    items = []
    for name, image, labels in _as_pairs(data, channel_axis):
        labels = as_labels(labels, name=f"{name} labels")
        image_shape = tuple(np.shape(image))
        if image_shape == labels.shape:
            ch_axis = None
        elif channel_axis is not None or (len(image_shape) == labels.ndim + 1 and image_shape[:-1] == labels.shape):
            ch_axis = -1 if channel_axis is None else channel_axis
            rest = tuple(s for a, s in enumerate(image_shape) if a != ch_axis % len(image_shape))
            if rest != labels.shape:
                raise ValueError(f"{name}: image shape {image_shape} does not match labels shape {labels.shape}.")
        else:
            raise ValueError(f"{name}: image shape {image_shape} does not match labels shape {labels.shape}; "
                             "the image must have the labels' shape, optionally with a channel axis.")
        if labels.ndim == 3 and ch_axis is None:
            source = PlaneSource(image, in_channels=1, what=name)
        else:
            source = PlaneSource(image, channel_axis=ch_axis, in_channels=None if ch_axis is not None else 1,
                                 what=name)
        if in_channels is not None and source.n_channels != in_channels:
            raise ValueError(f"{name}: the model is for {in_channels} channel(s) but this image has "
                             f"{source.n_channels}; a checkpoint made for another number of channels cannot "
                             "be trained on it.")
        in_channels = source.n_channels
        h, w = source.plane_shape
        for z in range(source.n_planes):
            block = source.read(z, slice(0, h), slice(0, w))
            lo, hi = source.plane_range(z, normalization)
            lab = labels[z] if labels.ndim == 3 else labels
            items.append((f"{name}[{z}]" if source.is_stack else name, block, lab, lo, hi))
    if not any(it[2].max() > 0 for it in items):
        raise ValueError("the training labels contain no cells at all; label at least a few cells first.")
    if "min_range" not in normalization:
        normalization["min_range"] = [float(v) for v in 0.1 * np.min([hi - lo for *_, lo, hi in items], axis=0)]
    return [(name, normalize_chw(block, lo, hi), lab) for name, block, lab, lo, hi in items], in_channels


def _split(items, val_fraction, rng):
    if val_fraction <= 0:
        return items, []
    if len(items) >= 2:
        order = rng.permutation(len(items))
        n_val = min(len(items) - 1, max(1, int(round(val_fraction * len(items)))))
        return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]
    name, image, labels = items[0]
    axis = 0 if labels.shape[0] >= labels.shape[1] else 1
    cut = int(round(labels.shape[axis] * (1 - val_fraction)))
    if cut < 16 or labels.shape[axis] - cut < 16:  # too small to split: validate on the training image
        return items, items
    sl_t = (slice(None, cut), slice(None)) if axis == 0 else (slice(None), slice(None, cut))
    sl_v = (slice(cut, None), slice(None)) if axis == 0 else (slice(None), slice(cut, None))
    train = [(name, image[(slice(None),) + sl_t], labels[sl_t])]
    val = [(name + "-val", image[(slice(None),) + sl_v], labels[sl_v])]
    return train, val


def _validate(net, val_items, dev, n_classes, min_size):
    import torch

    from ..metrics import average_precision, iou
    from .postprocess import probabilities_to_instances

    mult = 2 ** net.config["depth"]
    net.eval()
    ious, aps = [], []
    with torch.inference_mode():
        for _, image, labels in val_items:
            h, w = labels.shape
            ph, pw = -(-h // mult) * mult - h, -(-w // mult) * mult - w
            x = np.pad(image, ((0, 0), (0, ph), (0, pw)), mode="symmetric")
            prob = torch.softmax(net(torch.from_numpy(x[None]).to(dev)).float(), 1)[0, :, :h, :w].cpu().numpy()
            pred = probabilities_to_instances(prob, min_size=min_size)
            ious.append(iou(labels, pred))
            aps.append(average_precision(labels, pred, thresholds=(0.5,))["ap"][0])
    net.train()
    return float(np.mean(ious)), float(np.mean(aps))


def iter_train_unet(data, *, epochs: int = 30, steps_per_epoch: int = 25, batch_size: int = 8,
                    patch_size: int | None = None, n_classes: int = 2, base: int | None = None,
                    depth: int | None = None, batch_norm: bool = True, upsample: str = "transpose",
                    lr: float = 1e-3, w0: float = 10.0, sigma: float = 5.0, class_weights="balanced",
                    val_fraction: float = 0.2, patience: int = 10, seed: int = 0, device="auto",
                    checkpoint=None, resume=None, init=None, channel_axis=None, augment: bool = True,
                    amp: bool = True, time_limit: float | None = None, min_size: int = 10):
    """Generator form of :func:`train_unet`: yields :class:`Progress` every step with
    ``info={"epoch", "loss", "val_iou", "val_ap50"}`` and returns the final checkpoint dict."""
    import torch

    from ..device import select_device
    from .checkpoint import load_checkpoint, save_checkpoint
    from .model import build_unet, default_config
    from .optim import Adam

    dev = select_device(device)
    if n_classes not in (2, 3):
        raise ValueError(f"n_classes must be 2 or 3, got {n_classes}.")
    if epochs < 1 or steps_per_epoch < 1 or batch_size < 1:
        raise ValueError("epochs, steps_per_epoch and batch_size must be at least 1.")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    if patch_size is not None and (not float(patch_size).is_integer() or patch_size < 1):
        raise ValueError(f"patch_size must be a positive whole number of pixels (None: default), got {patch_size!r}.")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive number, got {lr!r}.")
    if patience < 0:
        raise ValueError(f"patience must be >= 0 epochs (0: no early stopping), got {patience!r}.")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"the time limit must be positive (None: no limit), got {time_limit!r}.")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0 pixels, got {min_size!r}.")
    start_ckpt = None
    if resume is not None and init is not None:
        raise ValueError("give either resume (continue a training) or init (fine-tune from weights), not both.")
    if resume is not None or init is not None:
        start_ckpt = load_checkpoint(resume if resume is not None else init, kind="unet")
        if resume is not None and "resume" not in start_ckpt:
            raise ValueError("this checkpoint has no training state to resume from; fine-tune it with init= instead.")
        config = dict(start_ckpt["config"])
        normalization = dict(start_ckpt["normalization"])
        n_classes = config["n_classes"]
    else:
        config = default_config(dev.type)
        config.update({k: v for k, v in (("base", base), ("depth", depth)) if v is not None})
        config.update(batch_norm=bool(batch_norm), upsample=upsample, n_classes=int(n_classes))
        normalization = dict(DEFAULT_NORMALIZATION)
    items, in_channels = prepare_training_items(
        data, channel_axis=channel_axis, normalization=normalization,
        in_channels=config.get("in_channels") if start_ckpt is not None else None)
    config["in_channels"] = in_channels
    mult = 2 ** config["depth"]
    patch = int(patch_size or (256 if dev.type == "cuda" else 128))
    if patch % mult:
        raise ValueError(f"patch_size {patch} must be a multiple of {mult} (2**depth).")

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    train_items, val_items = _split(items, val_fraction, rng)
    prepared = []
    for _, img, lab in train_items:
        separated = separate_touching(lab)
        weights = unet_weight_map(separated, w0=w0, sigma=sigma, class_weights=class_weights).astype(np.float32)
        prepared.append((img, separated if n_classes == 2 else lab, weights))
    augmenter = Augmenter(patch) if augment else Augmenter(patch, flips=False, rot90=False, elastic=0,
                                                             intensity=0, noise=0)
    net = build_unet(config).to(dev)
    optimizer = Adam(net.parameters(), lr=lr)
    history = {"loss": [], "val_iou": [], "val_ap50": [], "seconds": []}
    first_epoch, best_score, bad_epochs = 0, -np.inf, 0
    best_state = None
    if start_ckpt is not None:
        if resume is not None:
            state = start_ckpt["resume"]
            net.load_state_dict(state["state_dict"])
            optimizer.load_state_dict(state["optimizer"])
            first_epoch, best_score, bad_epochs = int(state["epoch"]), float(state["best_score"]), int(state["bad_epochs"])
            history = {k: list(v) for k, v in start_ckpt.get("history", history).items()}
            best_state = start_ckpt["state_dict"]
        else:
            net.load_state_dict(start_ckpt["state_dict"])
    use_amp = bool(amp) and dev.type == "cuda"
    scaler = {"scale": 2.0 ** 16, "good": 0} if use_amp else None
    training = dict(patch_size=patch, batch_size=batch_size, steps_per_epoch=steps_per_epoch, lr=lr, w0=w0,
                    sigma=sigma, class_weights=class_weights if isinstance(class_weights, (str, type(None)))
                    else list(class_weights), val_fraction=val_fraction, seed=seed, min_size=min_size)
    total = epochs * steps_per_epoch
    t_start = time.perf_counter()
    val_iou = val_ap = float("nan")
    result = None
    net.train()
    for epoch in range(first_epoch, epochs):
        t_epoch = time.perf_counter()
        losses = []
        for step in range(steps_per_epoch):
            batch = [augmenter(rng, *prepared[int(rng.integers(len(prepared)))]) for _ in range(batch_size)]
            x = torch.from_numpy(np.stack([b[0] for b in batch])).to(dev)
            y = torch.from_numpy(np.stack([class_targets(b[1], n_classes) for b in batch])).to(dev)
            wts = torch.from_numpy(np.stack([b[2] for b in batch])).to(dev)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):  # thread-local: entered here
                logits = net(x)
            loss = (torch.nn.functional.cross_entropy(logits.float(), y, reduction="none") * wts).mean()
            if scaler is not None:  # float16 on CUDA: scale the loss, unscale the gradients, skip inf steps
                (loss * scaler["scale"]).backward()
                grads = [p.grad for p in net.parameters() if p.grad is not None]
                finite = all(bool(torch.isfinite(g).all()) for g in grads)
                if finite:
                    for g in grads:
                        g.div_(scaler["scale"])
                    optimizer.step()
                    scaler["good"] += 1
                    if scaler["good"] % 2000 == 0:
                        scaler["scale"] *= 2.0
                else:
                    scaler["scale"] /= 2.0
            else:
                loss.backward()
                optimizer.step()
            losses.append(float(loss.detach()))
            yield Progress(epoch * steps_per_epoch + step + 1, total,
                           f"epoch {epoch + 1}/{epochs}  loss {np.mean(losses):.4f}",
                           {"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_iou": val_iou, "val_ap50": val_ap})
        mean_loss = float(np.mean(losses))
        if val_items:
            val_iou, val_ap = _validate(net, val_items, dev, n_classes, min_size)
            score = val_ap + 1e-3 * val_iou
        else:
            score = -mean_loss
        history["loss"].append(mean_loss)
        history["val_iou"].append(val_iou)
        history["val_ap50"].append(val_ap)
        history["seconds"].append(time.perf_counter() - t_epoch)
        if score > best_score:
            best_score, bad_epochs = score, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in net.state_dict().items()})
        else:
            bad_epochs += 1
        result = {"config": dict(config), "normalization": normalization, "state_dict": best_state,
                  "history": history, "training": training,
                  "resume": {"epoch": epoch + 1, "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                             "optimizer": optimizer.state_dict(), "best_score": float(best_score),
                             "bad_epochs": bad_epochs}}
        if checkpoint is not None:
            save_checkpoint(checkpoint, kind="unet", **result)
        stop = patience and bad_epochs >= patience
        elapsed = time.perf_counter() - t_start
        out_of_time = time_limit is not None and elapsed + history["seconds"][-1] > time_limit
        info = {"epoch": epoch + 1, "loss": mean_loss, "val_iou": val_iou, "val_ap50": val_ap, "epoch_end": True}
        msg = f"epoch {epoch + 1}/{epochs}  loss {mean_loss:.4f}  val IoU {val_iou:.3f}  val AP@0.5 {val_ap:.3f}"
        yield Progress((epoch + 1) * steps_per_epoch if not (stop or out_of_time) else total, total, msg, info)
        if stop or out_of_time:
            break
    if result is None:  # resumed a training that had already finished
        result = {k: start_ckpt[k] for k in ("config", "normalization", "state_dict", "history")}
    from .checkpoint import MODEL_FORMAT, MODEL_VERSION

    return {"format": MODEL_FORMAT, "version": MODEL_VERSION, "kind": "unet", **result}


def train_unet(data, **kwargs) -> dict:
    """Train a U-Net on instance labels, weighting the cross-entropy by the border weight map.

    Parameters
    ----------
    data : str, Path or sequence
        A dataset folder (anything :func:`~napari_segsuite.core.load_dataset` reads), a list of
        ``DatasetItem`` or a list of ``(image, labels)`` pairs (images ``YX``, ``YXC`` or stacks).
    epochs, steps_per_epoch, batch_size : int
        Training length: ``epochs * steps_per_epoch`` optimizer steps of ``batch_size`` random patches.
    patch_size : int, optional
        Side of the random training patches (128 on a CPU, 256 on a GPU).
    n_classes : {2, 3}
        (background, cell) as in the paper, or (background, interior, boundary).
    base, depth : int, optional
        Model size; default base 16 / depth 3 on a CPU, 64 / 4 (the paper's) on CUDA.
    batch_norm : bool
        Batch normalisation after every convolution.
    upsample : {"transpose", "bilinear"}
        Upsampling in the expanding path.
    lr : float
        Adam learning rate.
    w0, sigma, class_weights
        Border weight map parameters (:func:`~napari_segsuite.core.unet_weight_map`), computed once per
        training image (weight maps stored in a dataset are not reused, so these settings always apply);
        ``w0=0`` trains without the border term. With two classes, pixels where two cells touch are
        made background in the target (a thin gap the border term stresses), and given back to the
        nearest cell after prediction.
    val_fraction : float
        Fraction of the items (or, for a single image, of its longer side) held out for validation
        (IoU and AP@0.5 every epoch).
    patience : int
        Stop after this many epochs without a better validation AP@0.5 (0 disables early stopping).
    seed : int
        Seed of the patch sampling, augmentation and weight initialisation.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ... Mixed precision is used on CUDA only (``amp``).
    checkpoint : str or Path, optional
        Written atomically after every epoch (best weights + the state to resume from); a cancelled
        training leaves the last complete epoch's file intact.
    resume : str, Path or dict, optional
        Continue a training from a checkpoint (weights, optimizer, epoch counter and history).
    init : str, Path or dict, optional
        Fine-tune: start from a checkpoint's weights (its configuration and normalisation are kept).
    channel_axis : int, optional
        Channel axis of multichannel images (the last axis is assumed when the image has one more
        axis than the labels).
    augment : bool
        Random flips, 90-degree rotations, elastic deformation, intensity scale/shift and noise.
    time_limit : float, optional
        Seconds; no new epoch starts once it would end past the limit.
    min_size : int
        Smallest instance kept when validating.

    Returns
    -------
    dict
        The checkpoint (best weights) in the format of :func:`~.checkpoint.save_checkpoint`; pass it to
        :func:`~.infer.predict_unet` or save it.

    Raises
    ------
    ValueError
        Mismatched image/labels shapes, invalid labels, labels without cells, an unknown device, a
        checkpoint made for another number of channels, invalid sizes.

    References
    ----------
    .. [1] O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
       Segmentation", MICCAI 2015.

    Examples
    --------
    >>> from napari_segsuite.core import synthetic_nuclei
    >>> image, labels = synthetic_nuclei((128, 128), seed=1)
    >>> ckpt = train_unet([(image, labels)], epochs=1, steps_per_epoch=2, batch_size=2, patch_size=64,
    ...                   device="cpu")
    >>> ckpt["kind"]
    'unet'
    """
    return run(iter_train_unet(data, **kwargs))
