"""One round of the correction loop (issue 16): fine-tune a model on an image's corrected labels, predict again.

The user predicts, corrects the labels, and asks for one short round of training that starts from the current
model (``init=``) with :data:`~napari_segsuite.core.training.defaults.FINETUNE_DEFAULTS`. The same image is
predicted before and after, and both predictions are scored against the corrections, so the round's effect is
measured on what the user actually fixed.

With a ``region`` (a mask: the objects the user edited, :func:`~napari_segsuite.core.training.edits.edited_region`,
or an area they marked) the round learns only there (the trainers' partial labels) and is scored there
(:func:`~napari_segsuite.core.training.regions.score_in_region`).
"""

from __future__ import annotations

import numpy as np

from .progress import Progress, run

__all__ = ["iter_finetune", "finetune"]


def _backend(kind: str):
    """(train generator, predict generator) of a checkpoint kind."""
    if kind == "unet":
        from .unet.infer import iter_predict_unet
        from .unet.train import iter_train_unet

        return iter_train_unet, iter_predict_unet
    if kind == "maskrcnn":
        from .maskrcnn import iter_predict_maskrcnn
        from .maskrcnn.train import iter_train_maskrcnn

        return iter_train_maskrcnn, iter_predict_maskrcnn
    raise ValueError(f"cannot fine-tune a {kind!r} model; fine-tuning knows 'unet' and 'maskrcnn' models.")


def _staged(gen, what: str, stage: str):
    """Re-yield ``gen``'s events with ``what`` in front of the message and ``"stage"`` in ``info``; return its
    result."""
    while True:
        try:
            event = next(gen)
        except StopIteration as done:
            return done.value
        yield Progress(event.step, event.total, f"{what}: {event.message}".rstrip(": "),
                       {**event.info, "stage": stage})


def _labels_of(result):
    return result[0] if isinstance(result, tuple) else result


def _checked_region(region, truth: np.ndarray) -> np.ndarray | None:
    """``region`` as uint8 0/1 of the labels' shape (None stays None), holding at least one corrected cell."""
    from .dataset.items import as_region
    from .training.regions import instances_inside

    region = as_region(region, truth.shape, "the fine-tuning region")  # one rule for what a region is
    if region is not None and not instances_inside(truth, region).size:
        raise ValueError("the corrected labels have no cell (at least half of one) inside the fine-tuning region, "
                         "so there is nothing to learn or score there (deleting cells alone gives no example of a "
                         "cell); fine-tune on the whole image, or mark a region that holds some correct cells too.")
    return region


def _ap50(truth: np.ndarray, labels: np.ndarray, region) -> float:
    from .training.regions import score_in_region

    return score_in_region(truth, np.asarray(labels), region)["ap50"]


def iter_finetune(checkpoint: dict, image, labels, *, region=None, channel_axis: int | None = None,
                  device="auto", predict_kwargs: dict | None = None, **train_kwargs):
    """Generator form of :func:`finetune`: yields :class:`Progress` (predict, train, predict), returns a dict.

    The training events keep the trainer's ``info`` (``epoch``, ``loss``, ``epoch_end``, ``val_ap50``) and
    add ``"stage": "train"``; the prediction events carry ``"stage": "before"`` / ``"after"``.
    """
    from .labels import as_labels
    from .training.defaults import FINETUNE_DEFAULTS
    from .training.regions import instances_inside

    if not isinstance(checkpoint, dict) or "kind" not in checkpoint:
        raise ValueError("no model to fine-tune: load or train one first.")
    kind = checkpoint["kind"]
    train, predict = _backend(kind)
    truth = as_labels(labels, name="corrected labels", ndim=(2,))
    if not truth.any():
        raise ValueError("the corrected labels are empty: there are no cells to learn from. Predict, correct the "
                         "result, then fine-tune on it.")
    image = np.asarray(image)
    if channel_axis is not None and not -image.ndim <= channel_axis < image.ndim:
        raise ValueError(f"channel_axis {channel_axis} is out of range for an image of shape {image.shape}.")
    spatial = image.shape if channel_axis is None else np.delete(np.array(image.shape), channel_axis).tolist()
    if tuple(spatial) != truth.shape:
        raise ValueError(f"the image {image.shape} and the corrected labels {truth.shape} do not have the same "
                         "shape; choose the labels predicted from this image.")
    region = _checked_region(region, truth)
    predict_kwargs = {**(predict_kwargs or {}), "device": device}
    settings = {**FINETUNE_DEFAULTS[kind], **train_kwargs}

    result = yield from _staged(predict(checkpoint, image, channel_axis=channel_axis, **predict_kwargs),
                                "before", "before")
    before = _ap50(truth, _labels_of(result), region)
    item = (image, truth) if region is None else (image, truth, region)
    tuned = yield from _staged(train([item], init=checkpoint, device=device, channel_axis=channel_axis,
                                     **settings), "fine-tuning", "train")
    result = yield from _staged(predict(tuned, image, channel_axis=channel_axis, **predict_kwargs), "after",
                                "after")
    after = _ap50(truth, _labels_of(result), region)
    scored = np.unique(truth[truth > 0]).size if region is None else instances_inside(truth, region).size
    return {"checkpoint": tuned, "result": result, "before_ap50": before, "after_ap50": after,
            "history": tuned.get("history", {}), "settings": settings, "region": region, "cells_scored": int(scored)}


def finetune(checkpoint: dict, image, labels, **kwargs) -> dict:
    """Fine-tune a model on one image's corrected labels, then predict the image again.

    Parameters
    ----------
    checkpoint : dict
        The current model (a loaded U-Net or Mask R-CNN checkpoint); training starts from its weights.
    image : array_like
        The image the labels belong to, ``YX`` or ``YXC`` (with ``channel_axis``).
    labels : array_like of int
        The corrected instance labels (0 = background), the image's rows and columns.
    region : array_like, optional
        A mask of the labels' shape, nonzero where the labels are correct and complete (the objects the user
        edited, :func:`~napari_segsuite.core.training.edits.edited_region`, or an area they checked). The round
        learns only there (the item ``(image, labels, region)`` of the trainers' partial labels) and AP@0.5
        counts the cells at least half inside it. None: the whole image.
    channel_axis : int, optional
        The image's channel axis (``-1`` for RGB).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ...
    predict_kwargs : dict, optional
        Passed to the kind's predictor (``min_size``, ``score_threshold``, ``convert``, ...), before and after.
    **train_kwargs
        Override :data:`~napari_segsuite.core.training.defaults.FINETUNE_DEFAULTS` (``epochs``,
        ``steps_per_epoch``, ``learning_rate``, ...) for the kind's trainer.

    Returns
    -------
    dict
        ``checkpoint`` (the fine-tuned model), ``result`` (its prediction of the image, as the predictor
        returns it), ``before_ap50`` / ``after_ap50`` (AP@0.5 of the prediction before and after, scored
        against ``labels`` inside ``region``: the image trained on, so not a held-out figure), ``history`` (the
        training's), ``settings`` (the training parameters used), ``region`` (the uint8 mask used, or None) and
        ``cells_scored`` (the corrected cells the AP counts).

    Raises
    ------
    ValueError
        No model, an unknown model kind, empty labels, an image and labels of different shapes, or a region
        of another shape, empty, or without a corrected cell inside it.

    Examples
    --------
    >>> from napari_segsuite.core import load_sample, sample_path
    >>> from napari_segsuite.core.unet.checkpoint import load_checkpoint
    >>> image, truth = load_sample("nuclei_test")
    >>> model = load_checkpoint(sample_path("unet_nuclei.pt"), kind="unet")
    >>> out = finetune(model, image[:128, :128], truth[:128, :128], device="cpu")  # doctest: +SKIP
    >>> out["after_ap50"] >= out["before_ap50"]  # doctest: +SKIP
    True
    """
    return run(iter_finetune(checkpoint, image, labels, **kwargs))
