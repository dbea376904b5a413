"""Training the U-Net on instance labels with the border weight map (Ronneberger et al. 2015).

The epochs, validation, early stopping, time limit, per-epoch checkpoint and history are the shared
training loop's (:mod:`napari_segsuite.core.training`); this module supplies the U-Net's step and validation.
"""

from __future__ import annotations

import numpy as np

from ..progress import run
from ..training.defaults import UNET_DEFAULTS as D
from ..training.defaults import UNET_PATCH_SIZE_CPU, UNET_PATCH_SIZE_GPU
from ..training.defaults import check_training_params
from .augment import Augmenter
from .batches import build_batch, masked_cross_entropy, prepare_plane
from .data import DEFAULT_NORMALIZATION
from .training_items import class_targets, prepare_training_items, separate_touching, split_items, validate_unet

__all__ = ["iter_train_unet", "train_unet", "prepare_training_items", "class_targets", "separate_touching"]


def _start_from(resume, init):
    """The checkpoint to start from (or None), checked; ``resume`` needs a training state in it."""
    from .checkpoint import load_checkpoint

    if resume is not None and init is not None:
        raise ValueError("give either resume (continue a training) or init (fine-tune from weights), "
                         "not both.")
    if resume is None and init is None:
        return None
    ckpt = load_checkpoint(resume if resume is not None else init, kind="unet")
    if resume is not None and "resume" not in ckpt:
        raise ValueError("this checkpoint has no training state to resume from; fine-tune it with init= "
                         "instead.")
    return ckpt


def _load_optimizer_state(optimizer, params, state, device) -> None:
    """Restore Adam's state, also from files written with the earlier hand-written Adam (plain lists)."""
    import torch

    if "exp_avg" not in state:
        optimizer.load_state_dict(state)
        return
    if len(state["exp_avg"]) != len(params):
        raise ValueError("the optimizer state in this checkpoint does not match the model.")
    for p, m, v in zip(params, state["exp_avg"], state["exp_avg_sq"]):
        optimizer.state[p] = {"step": torch.tensor(float(state["step"])), "exp_avg": m.to(device).clone(),
                              "exp_avg_sq": v.to(device).clone()}


def iter_train_unet(data, *, epochs: int = D["epochs"], steps_per_epoch: int = D["steps_per_epoch"],
                    batch_size: int = D["batch_size"], patch_size: int | None = D["patch_size"],
                    n_classes: int = D["n_classes"], base: int | None = D["base"],
                    depth: int | None = D["depth"], batch_norm: bool = True, upsample: str = "transpose",
                    learning_rate: float = D["learning_rate"],
                    w0: float = D["w0"], sigma: float = D["sigma"], class_weights="balanced",
                    val_fraction: float = D["val_fraction"], val_data=None, patience: int = D["patience"],
                    seed: int = D["seed"], device=D["device"], checkpoint_path=None, resume=None, init=None,
                    channel_axis=None, augment: bool = True, amp: bool = True,
                    time_limit: float | None = D["time_limit"], min_size: int = D["min_size"]):
    """Generator form of :func:`train_unet`: yields :class:`Progress` every step and at every epoch's end
    with ``info={"epoch", "loss", "epoch_end", "val_ap50", "val_iou"}`` and returns the final checkpoint."""
    import torch

    from ..device import select_device
    from ..diameter import median_diameter
    from ..training.checkpoint import MODEL_FORMAT, MODEL_VERSION, to_cpu
    from ..training.loop import iter_training_loop, optimizer_step
    from ..training.schedule import LRSchedule
    from ..training.triton import load_torch_without_triton
    from .model import build_unet, default_config

    dev = select_device(device)
    if n_classes not in (2, 3):
        raise ValueError(f"n_classes must be 2 or 3, got {n_classes}.")
    check_training_params(epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
                          learning_rate=learning_rate, patience=patience, time_limit=time_limit,
                          val_fraction=val_fraction)
    if patch_size is not None and (not float(patch_size).is_integer() or patch_size < 1):
        raise ValueError(f"patch_size must be a positive whole number of pixels (None: default), "
                         f"got {patch_size!r}.")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0 pixels, got {min_size!r}.")
    start_ckpt = _start_from(resume, init)
    if start_ckpt is not None:
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
    patch = int(patch_size or (UNET_PATCH_SIZE_GPU if dev.type == "cuda" else UNET_PATCH_SIZE_CPU))
    if patch % mult:
        raise ValueError(f"patch_size {patch} must be a multiple of {mult} (2**depth).")

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    if val_data is not None:
        train_items, note = items, "validation data"
        val_items, _ = prepare_training_items(val_data, channel_axis=channel_axis,
                                              normalization=normalization, in_channels=in_channels)
    else:
        train_items, val_items, note = split_items(items, val_fraction, rng)
    prepared = [prepare_plane(img, lab, reg, n_classes=n_classes, w0=w0, sigma=sigma, class_weights=class_weights)
                for _, img, lab, reg in train_items]
    augmenter = Augmenter(patch) if augment else Augmenter(patch, flips=False, rot90=False, elastic=0,
                                                             intensity=0, noise=0)
    load_torch_without_triton()
    net = build_unet(config).to(dev)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=learning_rate)
    schedule = LRSchedule(optimizer, learning_rate, epochs * steps_per_epoch, time_limit)
    start = None
    if start_ckpt is not None and resume is not None:
        state = start_ckpt["resume"]
        net.load_state_dict(state["state_dict"])
        _load_optimizer_state(optimizer, params, state["optimizer"], dev)
        start = {"epoch": int(state["epoch"]), "best_score": float(state["best_score"]),
                 "bad_epochs": int(state["bad_epochs"]), "history": start_ckpt.get("history"),
                 "best_state": start_ckpt["state_dict"]}
        schedule.steps = start["epoch"] * steps_per_epoch  # no second warm-up
    elif start_ckpt is not None:
        net.load_state_dict(start_ckpt["state_dict"])
    use_amp = bool(amp) and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    training = dict(patch_size=patch, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                    learning_rate=learning_rate, w0=w0, sigma=sigma,
                    class_weights=(class_weights if isinstance(class_weights, (str, type(None)))
                                   else list(class_weights)),
                    val_fraction=val_fraction, seed=seed, min_size=min_size,
                    diameter=median_diameter([lab for _, _, lab, _ in train_items]))
    net.train()

    def train_step() -> float:
        x, y, wts, mask = (torch.from_numpy(a).to(dev)
                           for a in build_batch(rng, augmenter, prepared, batch_size, n_classes))
        optimizer.zero_grad(set_to_none=True)
        schedule.before_step()
        with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):  # thread-local: entered here
            logits = net(x)
        loss = masked_cross_entropy(logits, y, wts, mask)
        optimizer_step(loss, optimizer, scaler)
        return float(loss.detach())

    def snapshot() -> dict:
        return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}

    def build_checkpoint(best_state, history, loop_state) -> dict:
        return {"format": MODEL_FORMAT, "version": MODEL_VERSION, "kind": "unet", "config": dict(config),
                "normalization": dict(normalization), "state_dict": best_state, "history": history,
                "training": dict(training),
                "resume": {**loop_state, "state_dict": snapshot(),
                           "optimizer": to_cpu(optimizer.state_dict())}}

    def validate():
        return validate_unet(net, val_items, dev, min_size) if val_items else None

    result = yield from iter_training_loop(
        train_step=train_step, validate=validate,
        snapshot=snapshot, build_checkpoint=build_checkpoint, epochs=epochs, steps_per_epoch=steps_per_epoch,
        patience=patience, time_limit=time_limit, checkpoint_path=checkpoint_path,
        metrics=("val_ap50", "val_iou"), validation=note, start=start)
    return result


def train_unet(data, **kwargs) -> dict:
    """Train a U-Net on instance labels, weighting the cross-entropy by the border weight map.

    Parameters
    ----------
    data : str, Path or sequence
        A dataset folder (anything :func:`~napari_segsuite.core.load_dataset` reads; its items' regions
        are used), a list of ``DatasetItem``, of :class:`~napari_segsuite.core.training.TrainingItem`, or of
        ``(image, labels)`` / ``(image, labels, region)`` tuples (images ``YX``, ``YXC`` or stacks; region:
        a mask of the labels' shape, nonzero where the labels are complete; see Notes).
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
    learning_rate : float
        Adam learning rate.
    w0, sigma, class_weights
        Border weight map parameters (:func:`~napari_segsuite.core.unet_weight_map`), computed once per
        training image (weight maps stored in a dataset are not reused, so these settings always apply);
        ``w0=0`` trains without the border term. With two classes, pixels where two cells touch are
        made background in the target (a thin gap the border term stresses), and given back to the
        nearest cell after prediction.
    val_fraction : float
        Fraction of the items (or, for a single image, of its longer side) held out for validation
        (IoU and AP@0.5 every epoch); 0: no validation (the best epoch is the lowest loss).
    val_data : optional
        Validation items given like ``data`` (then ``val_fraction`` is not used).
    patience : int
        Stop after this many epochs without a better validation AP@0.5 (0 disables early stopping).
    seed : int
        Seed of the patch sampling, augmentation and weight initialisation.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ... Mixed precision is used on CUDA only (``amp``).
    checkpoint_path : str or Path, optional
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
        Wall-clock seconds. Checked after every step: once passed, the current epoch ends there
        (validated and saved) and training stops.
    min_size : int
        Smallest instance kept when validating.

    Returns
    -------
    dict
        The checkpoint (best weights; ``history`` as in
        :func:`~napari_segsuite.core.training.loop.new_history`) in the format of
        :func:`~.checkpoint.save_checkpoint`; pass it to
        :func:`~.infer.predict_unet` or save it.

    Raises
    ------
    ValueError
        Mismatched image/labels shapes, invalid labels, labels without cells, an unknown device, a
        checkpoint made for another number of channels, invalid sizes.

    Notes
    -----
    Partial labels: where an item has a region, only the pixels inside it count. The weighted
    cross-entropy is averaged over the region's pixels (the loss mask is the region; the border weight map
    is still computed from all the labels, the ``"balanced"`` class weights from inside the region);
    patches are centred on random region pixels; flips, rotations and elastic deformation move the region
    with the labels; validation is scored on the region's bounding box, ignoring instances (true or
    predicted) lying mostly outside the region. Unlabelled cells outside the region are thus never taught
    as background.

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
