"""Training a Mask R-CNN on the user's instance labels (dataset folders or image/label pairs).

The epochs, validation, early stopping, time limit, per-epoch checkpoint and history are the shared
training loop's (:mod:`napari_segsuite.core.training`); this module supplies the Mask R-CNN's step and
validation.
"""

from __future__ import annotations

import numpy as np

from ..labels import as_labels
from ..progress import run
from ..training.defaults import MASKRCNN_DEFAULTS as D
from ..training.defaults import check_training_params

__all__ = ["iter_train_maskrcnn", "train_maskrcnn", "load_training_pairs", "augment_crop"]

_NORMALIZATION = {"method": "percentile", "low": 1.0, "high": 99.8}


def load_training_pairs(data, channel_axis: int | None = None) -> list[tuple]:
    """Normalise the ways training data can be given into ``(name, image, labels, features, region)`` tuples.

    ``data`` is a dataset folder (``load_dataset``; items' regions are used), a list of ``DatasetItem``, of
    :class:`~napari_segsuite.core.training.TrainingItem`, or of ``(image, labels)``, ``(image, labels,
    features)`` (a table with a ``class`` column: a dict or DataFrame) or ``(image, labels, region)`` (an
    array) tuples; the rule is :func:`~napari_segsuite.core.training.items.as_training_items`'s.
    """
    from ..training.items import as_training_items

    return [(it.name, it.image, it.labels, it.features, it.region) for it in as_training_items(data)]


def augment_crop(image: np.ndarray, labels: np.ndarray, crop: int, rng: np.random.Generator, region=None):
    """A random ``crop`` x ``crop`` window (zero-padded if the image is smaller), flipped, rotated by a
    multiple of 90 degrees and with jittered intensity. ``image`` is ``(C, H, W)`` float, ``labels`` ``(H, W)``;
    with a ``region`` (``(H, W)``) the window is centred on a random region pixel
    (:func:`~napari_segsuite.core.training.regions.sample_window`)."""
    from ..training.regions import sample_window

    c, h, w = image.shape
    if h < crop or w < crop:
        ph, pw = max(0, crop - h), max(0, crop - w)
        image = np.pad(image, ((0, 0), (0, ph), (0, pw)))
        labels = np.pad(labels, ((0, ph), (0, pw)))
        region = None if region is None else np.pad(region, ((0, ph), (0, pw)))
        h, w = labels.shape
    y, x = sample_window(rng, (h, w), crop, region)
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


def _evaluate(model, val, device) -> dict:
    """Mean AP@0.5 on ``(image (C,H,W), labels, region or None)``; a region's bounding box is predicted and
    scored inside the region (:func:`~napari_segsuite.core.training.regions.score_in_region`)."""
    from ..training.regions import region_bbox, score_in_region
    from .infer import iter_predict_maskrcnn

    aps = []
    was_training = model.training
    model.eval()
    for image, labels, region in val:
        if region is not None:
            box = region_bbox(region)
            image, labels, region = image[(slice(None),) + box], labels[box], region[box]
        pred = run(iter_predict_maskrcnn(model, image, channel_axis=0, tile_size=512, overlap=64, device=device))
        aps.append(score_in_region(labels, pred, region)["ap50"])
    model.train(was_training)
    return {"val_ap50": float(np.mean(aps))}


def _prepare(pairs, what, channel_axis):
    """``(image (C,H,W) float32, labels, classes, region bool or None)`` per pair, and the channel count (the
    same for all)."""
    from ..training.items import check_region
    from .targets import class_ids_from_features, prepare_image

    out = []
    n_channels = None
    for name, image, labels, features, region in pairs:
        labels = as_labels(labels, name=f"{what} {name} labels", ndim=(2,))
        region = check_region(region, labels.shape, f"{what} {name}")
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
        out.append((prepare_image(arr, c, -1 if arr.ndim == 3 else None, _NORMALIZATION), labels, classes, region))
    return out, n_channels


def _hold_out(items, val_fraction):
    """(train, validation, note): every ``round(1/val_fraction)``-th item when there are 3 or more (the
    last one if none falls on that count), else the training images themselves."""
    if val_fraction <= 0 or len(items) < 3:
        return items, items, "training images (no held-out data)"
    k = max(2, int(round(1 / val_fraction)))
    held = set(range(k - 1, len(items), k)) or {len(items) - 1}
    return ([it for i, it in enumerate(items) if i not in held], [items[i] for i in sorted(held)],
            "held-out training items")


def _model_config(config, init, channels, max_class, dev_type):
    """The full model configuration: from ``init``'s checkpoint, or the defaults with ``config`` on top."""
    from .checkpoint import load_maskrcnn_checkpoint
    from .model import default_config

    start = None
    if init is not None:
        if config:
            raise ValueError("give either config (a new model) or init (start from a checkpoint), not both.")
        start = load_maskrcnn_checkpoint(init)  # a path or an already loaded dict, checked the same way
        overrides = dict(start["config"])
    else:
        overrides = dict(config or {})
        overrides.setdefault("in_channels", channels)
        overrides.setdefault("num_classes", max_class + 1)
    if int(overrides["in_channels"]) != channels:
        raise ValueError(f"the model is for {overrides['in_channels']} channel(s) but the images have "
                         f"{channels}.")
    if int(overrides["num_classes"]) <= max_class:
        raise ValueError(f"num_classes={overrides['num_classes']} but the labels use class {max_class}.")
    return (dict(overrides) if start is not None else default_config(dev_type, **overrides)), start


def iter_train_maskrcnn(data, *, val_data=None, val_fraction: float = D["val_fraction"],
                        config: dict | None = None,
                        epochs: int = D["epochs"], steps_per_epoch: int = D["steps_per_epoch"],
                        batch_size: int = D["batch_size"], patch_size: int = D["patch_size"],
                        learning_rate: float = D["learning_rate"], patience: int = D["patience"],
                        device=D["device"], channel_axis: int | None = None, checkpoint_path=None, init=None,
                        time_limit: float | None = D["time_limit"], seed: int = D["seed"],
                        save_half: bool = False, freeze_norm: bool = D["freeze_norm"]):
    """Generator form of :func:`train_maskrcnn`: yields :class:`Progress` per step and at every epoch's end,
    returns the checkpoint.

    Every event's ``info`` holds ``epoch``, ``loss`` (mean over the epoch so far), ``epoch_end`` and
    ``val_ap50`` (the latest validation AP@0.5, None before the first).
    """
    import torch

    from ..device import select_device
    from ..training.loop import freeze_batch_norm, iter_training_loop, optimizer_step
    from ..diameter import median_diameter
    from ..training.schedule import LRSchedule
    from ..training.triton import load_torch_without_triton
    from .checkpoint import make_checkpoint, model_from_checkpoint
    from .targets import partial_view

    check_training_params(epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
                          learning_rate=learning_rate, patience=patience, time_limit=time_limit,
                          val_fraction=val_fraction)
    if patch_size < 32:
        raise ValueError(f"patch_size must be at least 32 pixels, got {patch_size}.")
    if patch_size <= 32 and batch_size == 1:  # a 1x1 map at stride 32: batch norm cannot train on one value
        raise ValueError(f"patch_size {patch_size} with batch_size 1 is too small to train on; "
                         "use patch_size 48 or more, or batch_size 2 or more.")
    dev = select_device(device)
    pairs = load_training_pairs(data, channel_axis)
    val_pairs = load_training_pairs(val_data, channel_axis) if val_data is not None else None
    train_items, channels = _prepare(pairs, "training item", channel_axis)
    if not any(lab.any() if reg is None else lab[reg].any() for _, lab, _, reg in train_items):
        raise ValueError("every training mask is empty: there are no cells to learn from. Label some instances "
                         "(or add items with instances) first.")
    if val_pairs is not None:
        val_items, _ = _prepare(val_pairs, "validation item", channel_axis)
        val_note = "validation data"
    else:
        train_items, val_items, val_note = _hold_out(train_items, val_fraction)
    max_class = max([max(cl.values(), default=1) for _, _, cl, _ in train_items] + [1])
    full_config, start = _model_config(config, init, channels, max_class, dev.type)

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    load_torch_without_triton(torchvision=True)
    if start is not None:
        model = model_from_checkpoint({**start, "config": full_config}, dev)
    else:
        from .model import build_maskrcnn

        model = build_maskrcnn(full_config).to(dev)
    if freeze_norm:
        freeze_batch_norm(model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=1e-4)
    schedule = LRSchedule(optimizer, learning_rate, epochs * steps_per_epoch, time_limit)
    scaler = torch.amp.GradScaler("cuda") if dev.type == "cuda" else None
    weights = np.array([lab.size if reg is None else reg.sum() for _, lab, _, reg in train_items], float)
    weights /= weights.sum()
    views = [partial_view(img, lab, reg) + (cl, reg) for img, lab, cl, reg in train_items]
    training = dict(patch_size=patch_size, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                    learning_rate=learning_rate, val_fraction=val_fraction, seed=seed, freeze_norm=bool(freeze_norm),
                    diameter=median_diameter([lab for _, lab, _, _ in train_items]))

    def train_step() -> float:
        images, targets = [], []
        for _ in range(batch_size):
            img, lab, classes, region = views[int(rng.choice(len(views), p=weights))]
            crop_img, crop_lab = augment_crop(img, lab, patch_size, rng, region)
            images.append(torch.from_numpy(crop_img).to(dev))
            targets.append(_to_target(crop_lab, classes, torch, dev))
        schedule.before_step()
        with torch.autocast(dev.type, enabled=scaler is not None):
            loss = sum(model(images, targets).values())
        if not torch.isfinite(loss):
            raise ValueError("training diverged (the loss is not finite); lower the learning rate.")
        optimizer.zero_grad(set_to_none=True)
        optimizer_step(loss, optimizer, scaler, clip_norm=10.0)
        return float(loss.detach())

    def snapshot() -> dict:
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def build_checkpoint(best_state, history, loop_state) -> dict:
        return make_checkpoint(model, _NORMALIZATION, history, half=save_half, state_dict=best_state,
                               training=dict(training))

    val = [(img, lab, reg) for img, lab, _, reg in val_items]
    result = yield from iter_training_loop(
        train_step=train_step, validate=lambda: _evaluate(model, val, dev), snapshot=snapshot,
        build_checkpoint=build_checkpoint, epochs=epochs, steps_per_epoch=steps_per_epoch, patience=patience,
        time_limit=time_limit, checkpoint_path=checkpoint_path, metrics=("val_ap50",), validation=val_note)
    return result


def train_maskrcnn(data, *, progress=None, **kwargs) -> dict:
    """Train a Mask R-CNN on instance labels and return its checkpoint.

    Parameters
    ----------
    data : str, Path or list
        A dataset folder (napari-segsuite export or cellpose pairs; its items' regions are used), a list of
        ``DatasetItem``, of :class:`~napari_segsuite.core.training.TrainingItem`, or of ``(image, labels)``,
        ``(image, labels, features)`` (a dict or DataFrame) or ``(image, labels, region)`` (an array of the
        labels' shape, nonzero where the labels are complete; see Notes) tuples. A ``class`` column in
        ``features`` gives each instance its class (whole numbers >= 1); otherwise there is one cell class.
    progress : callable, optional
        Called with each :class:`Progress` event.
    **kwargs
        ``val_data`` (held-out items), ``val_fraction`` (0.2: without ``val_data``, every
        ``round(1/val_fraction)``-th item is held out when there are >= 3, else the training images are
        validated on), ``config`` (model options, see :data:`DEFAULT_CONFIG`; the backbone defaults to the
        slim ResNet-18-FPN on CPU and ResNet-50-FPN v2 on CUDA), ``init`` (start from this checkpoint's
        model and weights instead), ``epochs`` (30), ``steps_per_epoch`` (25), ``batch_size`` (4),
        ``patch_size`` (128, the side of the random training crops), ``learning_rate`` (2e-3),
        ``patience`` (epochs without a better validation AP@0.5 before stopping; 0, the default, never
        stops early), ``device`` ("auto"), ``channel_axis``, ``checkpoint_path`` (written atomically after
        every epoch), ``time_limit`` (wall-clock seconds; checked after every step: the current epoch
        ends there and training stops), ``seed``, ``save_half`` (float16 weights), ``freeze_norm`` (keep the
        backbone's batch-norm statistics as they are, :func:`~napari_segsuite.core.training.loop.freeze_batch_norm`;
        for fine-tuning a trained model on a few images; False). Defaults:
        :data:`napari_segsuite.core.training.MASKRCNN_DEFAULTS`.

    Returns
    -------
    dict
        The checkpoint (``kind: "maskrcnn"``) with the weights of the epoch with the best validation
        AP@0.5 (a tie: the later epoch), ``history`` (per-epoch lists and the best epoch, see
        :func:`~napari_segsuite.core.training.loop.new_history`) and ``training`` (the run's parameters).

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

    Partial labels (an item with a region): torchvision's Mask R-CNN has no "ignore" label, so everything
    in a crop that is not a target is background to the RPN and the ROI heads. Unlabelled cells are
    therefore hidden rather than taught as background (:func:`~.targets.partial_view`): an instance with
    at least half of its pixels inside the region is a target, whole; an instance mostly outside is no
    target and its pixels are hidden; everything else outside the region is hidden, hidden pixels being
    painted with the region's median background colour. Crops are centred on random region pixels (so
    they are mostly region), items are drawn in proportion to their region's area, and validation is
    scored on the region's bounding box, ignoring instances lying mostly outside the region.

    Examples
    --------
    >>> from napari_segsuite.core import synthetic_nuclei
    >>> image, labels = synthetic_nuclei((128, 128), 10, seed=0)
    >>> ckpt = train_maskrcnn([(image, labels)], epochs=1, steps_per_epoch=1, device="cpu")  # doctest: +SKIP
    """
    return run(iter_train_maskrcnn(data, **kwargs), progress)
