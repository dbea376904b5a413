"""Training a Mask R-CNN on the user's instance labels (dataset folders or image/label pairs)."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import numpy as np

from ..labels import as_labels
from ..progress import Progress, run

__all__ = ["iter_train_maskrcnn", "train_maskrcnn", "load_training_pairs", "augment_crop"]

_NORMALIZATION = {"method": "percentile", "low": 1.0, "high": 99.8}


def load_training_pairs(data, channel_axis: int | None = None) -> list[tuple[str, np.ndarray, np.ndarray, dict | None]]:
    """Normalise the ways training data can be given into ``(name, image, labels, features)`` tuples.

    ``data`` is a dataset folder (``load_dataset``), a list of ``DatasetItem``, or a list of
    ``(image, labels)`` / ``(image, labels, features)`` tuples (features: a table with a ``class`` column).
    """
    from ..dataset import DatasetItem, load_dataset

    if isinstance(data, (str, Path)):
        data = load_dataset(data)
    pairs = []
    for i, item in enumerate(data):
        if isinstance(item, DatasetItem):
            pairs.append((item.name, item.image, item.mask, item.meta.get("features")))
            continue
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError("training data: give a dataset folder, DatasetItems, or (image, labels[, features]) pairs.")
        pairs.append((f"item{i}", item[0], item[1], item[2] if len(item) == 3 else None))
    if not pairs:
        raise ValueError("training data: no items were given.")
    return pairs


def augment_crop(image: np.ndarray, labels: np.ndarray, crop: int, rng: np.random.Generator):
    """A random ``crop`` x ``crop`` window (zero-padded if the image is smaller), flipped, rotated by a
    multiple of 90 degrees and with jittered intensity. ``image`` is ``(C, H, W)`` float, ``labels`` ``(H, W)``."""
    c, h, w = image.shape
    if h < crop or w < crop:
        ph, pw = max(0, crop - h), max(0, crop - w)
        image = np.pad(image, ((0, 0), (0, ph), (0, pw)))
        labels = np.pad(labels, ((0, ph), (0, pw)))
        h, w = labels.shape
    y = int(rng.integers(0, h - crop + 1))
    x = int(rng.integers(0, w - crop + 1))
    img = image[:, y:y + crop, x:x + crop]
    lab = labels[y:y + crop, x:x + crop]
    k = int(rng.integers(0, 4))
    img, lab = np.rot90(img, k, axes=(1, 2)), np.rot90(lab, k)
    if rng.random() < 0.5:
        img, lab = img[:, :, ::-1], lab[:, ::-1]
    gain = rng.uniform(0.7, 1.3, size=(c, 1, 1)).astype(np.float32)
    offset = rng.uniform(-0.1, 0.1, size=(c, 1, 1)).astype(np.float32)
    img = img * gain + offset
    if rng.random() < 0.5:
        img = img + rng.normal(0, rng.uniform(0, 0.05), img.shape).astype(np.float32)
    return np.ascontiguousarray(img, np.float32), np.ascontiguousarray(lab)


def _to_target(labels, classes, torch, device):
    from .targets import masks_to_targets

    t = masks_to_targets(labels, classes, min_area=6)
    return {"boxes": torch.from_numpy(t["boxes"]).to(device), "labels": torch.from_numpy(t["labels"]).to(device),
            "masks": torch.from_numpy(t["masks"]).to(device)}


def _evaluate(model, val, device) -> float:
    from ..metrics import average_precision
    from .infer import iter_predict_maskrcnn

    aps = []
    was_training = model.training
    model.eval()
    for image, labels in val:
        pred = run(iter_predict_maskrcnn(model, image, channel_axis=0, tile_size=512, overlap=64, device=device))
        aps.append(average_precision(labels, pred, thresholds=(0.5,))["ap"][0])
    model.train(was_training)
    return float(np.mean(aps))


def iter_train_maskrcnn(data, *, val_data=None, config: dict | None = None, epochs: int = 30,
                        steps_per_epoch: int = 25, batch_size: int = 4, crop_size: int = 128,
                        learning_rate: float = 2e-3, device="auto", channel_axis: int | None = None,
                        checkpoint_path=None, time_limit: float | None = None, seed: int = 0,
                        save_half: bool = False):
    """Generator form of :func:`train_maskrcnn`: yields :class:`Progress` per step, returns the checkpoint.

    Every event's ``info`` holds ``epoch``, ``loss`` (mean over the epoch so far) and ``val_ap50`` (the
    latest validation AP@0.5, None before the first).
    """
    import torch

    from ..device import select_device
    from .checkpoint import make_checkpoint, save_maskrcnn_checkpoint
    from .model import build_maskrcnn, default_config
    from .targets import class_ids_from_features, prepare_image

    if epochs < 1 or steps_per_epoch < 1 or batch_size < 1:
        raise ValueError("epochs, steps_per_epoch and batch_size must be >= 1.")
    if crop_size < 32:
        raise ValueError(f"crop_size must be at least 32 pixels, got {crop_size}.")
    if crop_size <= 32 and batch_size == 1:  # a 1x1 map at stride 32: batch norm cannot train on one value
        raise ValueError(f"crop_size {crop_size} with batch_size 1 is too small to train on; "
                         "use crop_size 48 or more, or batch_size 2 or more.")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"the learning rate must be a positive number, got {learning_rate!r}.")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"the time limit must be positive (None: no limit), got {time_limit!r}.")
    dev = select_device(device)
    pairs = load_training_pairs(data, channel_axis)
    val_pairs = load_training_pairs(val_data, channel_axis) if val_data is not None else None

    def prepare(pairs_, what):
        out = []
        n_channels = None
        for name, image, labels, features in pairs_:
            labels = as_labels(labels, name=f"{what} {name} labels", ndim=(2,))
            image = np.asarray(image)
            arr = image if channel_axis is None else np.moveaxis(image, channel_axis, -1)
            if channel_axis is None and arr.ndim == 3 and arr.shape[-1] == 4:
                arr = arr[..., :3]  # RGBA: drop alpha
            if arr.shape[:2] != labels.shape:
                raise ValueError(f"{what} {name}: image shape {image.shape} does not match labels shape "
                                 f"{labels.shape}.")
            c = 1 if arr.ndim == 2 else arr.shape[-1]
            n_channels = n_channels or c
            if c != n_channels:
                raise ValueError(f"{what} {name}: has {c} channel(s), earlier items {n_channels}; use one kind.")
            classes = class_ids_from_features(features, np.unique(labels[labels > 0]))
            out.append((prepare_image(arr, c, -1 if arr.ndim == 3 else None, _NORMALIZATION), labels, classes))
        return out, n_channels

    train_items, channels = prepare(pairs, "training item")
    if not any(lab.any() for _, lab, _ in train_items):
        raise ValueError("every training mask is empty: there are no cells to learn from. Label some instances "
                         "(or add items with instances) first.")
    if val_pairs is not None:
        val_items, _ = prepare(val_pairs, "validation item")
        val_note = "validation data"
    elif len(train_items) >= 3:
        val_items = train_items[4::5] or train_items[-1:]
        train_items = [it for i, it in enumerate(train_items) if i % 5 != 4] if len(train_items) >= 5 else train_items[:-1]
        val_note = "held-out training items"
    else:
        val_items = train_items
        val_note = "training images (no held-out data)"
    max_class = max([max(cl.values(), default=1) for _, _, cl in train_items] + [1])
    overrides = dict(config or {})
    overrides.setdefault("in_channels", channels)
    overrides.setdefault("num_classes", max_class + 1)
    if int(overrides["in_channels"]) != channels:
        raise ValueError(f"config in_channels={overrides['in_channels']} but the images have {channels} channel(s).")
    if int(overrides["num_classes"]) <= max_class:
        raise ValueError(f"num_classes={overrides['num_classes']} but the labels use class {max_class}.")
    full_config = default_config(dev.type, **overrides)

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_maskrcnn(full_config).to(dev)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=1e-4)
    total = epochs * steps_per_epoch
    warmup = min(50, total // 10 + 1)

    def lr_at(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    use_amp = dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    weights = np.array([lab.size for _, lab, _ in train_items], float)
    weights /= weights.sum()
    history = {"epoch": [], "loss": [], "val_ap50": [], "validation": val_note, "seconds": []}
    best = (-1.0, None)
    t0 = time.perf_counter()
    step = 0
    val_ap = None
    stopped_early = False
    for epoch in range(1, epochs + 1):
        losses = []
        for _ in range(steps_per_epoch):
            images, targets = [], []
            for _ in range(batch_size):
                img, lab, classes = train_items[int(rng.choice(len(train_items), p=weights))]
                crop_img, crop_lab = augment_crop(img, lab, crop_size, rng)
                images.append(torch.from_numpy(crop_img).to(dev))
                targets.append(_to_target(crop_lab, classes, torch, dev))
            with torch.autocast(dev.type, enabled=use_amp):
                loss_dict = model(images, targets)
                loss = sum(loss_dict.values())
            if not torch.isfinite(loss):
                raise ValueError("training diverged (the loss is not finite); lower the learning rate.")
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, 10.0)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 10.0)
                optimizer.step()
            scheduler.step()
            step += 1
            losses.append(float(loss.detach()))
            yield Progress(step, total, f"epoch {epoch}/{epochs} loss {np.mean(losses):.3f}",
                           {"epoch": epoch, "loss": float(np.mean(losses)), "val_ap50": val_ap})
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                stopped_early = True
                break
        val_ap = _evaluate(model, [(img, lab) for img, lab, _ in val_items], dev)
        history["epoch"].append(epoch)
        history["loss"].append(float(np.mean(losses)))
        history["val_ap50"].append(val_ap)
        history["seconds"].append(round(time.perf_counter() - t0, 1))
        if val_ap >= best[0]:
            best = (val_ap, copy.deepcopy(model.state_dict()))
        yield Progress(step, total, f"epoch {epoch}/{epochs} loss {np.mean(losses):.3f} val AP@0.5 {val_ap:.3f}",
                       {"epoch": epoch, "loss": float(np.mean(losses)), "val_ap50": val_ap})
        if stopped_early:
            break
    model.load_state_dict(best[1])
    history.update(best_val_ap50=best[0], stopped_early=stopped_early, steps=step, batch_size=batch_size,
                   crop_size=crop_size, learning_rate=learning_rate)
    checkpoint = make_checkpoint(model, _NORMALIZATION, history, half=save_half)
    if checkpoint_path is not None:
        save_maskrcnn_checkpoint(checkpoint_path, checkpoint)
    return checkpoint


def train_maskrcnn(data, *, progress=None, **kwargs) -> dict:
    """Train a Mask R-CNN on instance labels and return its checkpoint.

    Parameters
    ----------
    data : str, Path or list
        A dataset folder (napari-segsuite export or cellpose pairs), a list of ``DatasetItem``, or a list
        of ``(image, labels)`` / ``(image, labels, features)`` tuples. A ``class`` column in ``features``
        gives each instance its class (whole numbers >= 1); otherwise there is one cell class.
    progress : callable, optional
        Called with each :class:`Progress` event.
    **kwargs
        ``val_data`` (held-out items; default: every 5th item when there are >= 3, else the training
        images themselves), ``config`` (model options, see :data:`DEFAULT_CONFIG`; the backbone
        defaults to the slim ResNet-18-FPN on CPU and ResNet-50-FPN v2 on CUDA), ``epochs`` (30),
        ``steps_per_epoch`` (25), ``batch_size`` (4), ``crop_size`` (128), ``learning_rate`` (2e-3),
        ``device`` ("auto"), ``channel_axis``, ``checkpoint_path`` (written atomically at the end),
        ``time_limit`` (seconds; stops after the current step), ``seed``, ``save_half`` (float16 weights).

    Returns
    -------
    dict
        The checkpoint (``kind: "maskrcnn"``) with the weights of the epoch with the best validation
        AP@0.5, and ``history`` (loss and val AP@0.5 per epoch).

    Raises
    ------
    ValueError
        Empty/mismatched/invalid labels, every mask empty, bad options, a diverging loss.
    FileNotFoundError
        A dataset folder that does not exist.

    Notes
    -----
    Crops are flipped, rotated by multiples of 90 degrees and intensity-jittered. Mixed precision is
    used on CUDA only.

    Examples
    --------
    >>> from napari_segsuite.core import synthetic_nuclei
    >>> image, labels = synthetic_nuclei((128, 128), 10, seed=0)
    >>> ckpt = train_maskrcnn([(image, labels)], epochs=1, steps_per_epoch=1, device="cpu")  # doctest: +SKIP
    """
    return run(iter_train_maskrcnn(data, **kwargs), progress)
