"""The one training loop: epochs of optimizer steps, validation, early stopping, a time limit, a checkpoint
written after every epoch and one history format, for every trainable model (U-Net, Mask R-CNN).

A model plugs in four small callables (see :func:`iter_training_loop`); everything about *when* to step,
validate, stop and save lives here, so both trainers behave alike and the next feature (partial labels,
fine-tuning) is added once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from ..progress import Progress

__all__ = ["iter_training_loop", "new_history", "optimizer_step", "freeze_batch_norm", "STOPPED_BY"]

#: the values of ``history["stopped"]``
STOPPED_BY = (None, "patience", "time_limit")


def new_history(metrics: Iterable[str] = ("val_ap50",), validation: str | None = None) -> dict:
    """An empty training history: per-epoch lists plus the best epoch and why training stopped.

    ``epoch``, ``loss`` (mean training loss), one list per validation metric (``val_ap50``, ...; NaN for an
    epoch without validation) and ``seconds`` (wall-clock duration of each epoch, validation included);
    ``best_epoch`` and ``best_val_ap50`` (the epoch whose weights the checkpoint holds), ``stopped``
    (None, ``"patience"`` or ``"time_limit"``), ``steps`` (optimizer steps done) and ``validation``
    (what was validated on).
    """
    history = {"epoch": [], "loss": [], **{m: [] for m in metrics}, "seconds": []}
    history.update(best_epoch=None, best_val_ap50=None, stopped=None, steps=0, validation=validation)
    return history


def _continued(history: dict | None, metrics) -> dict:
    """A history from an earlier run in the current format (older U-Net files lack some entries)."""
    out = new_history(metrics)
    if not history:
        return out
    out.update({k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in history.items()})
    n = len(out["loss"])
    if len(out["epoch"]) != n:
        out["epoch"] = list(range(1, n + 1))
    for m in metrics:
        out[m] = (list(out[m]) + [math.nan] * n)[:n]
    return out


def freeze_batch_norm(model) -> int:
    """Keep every batch-norm layer of ``model`` in inference mode from now on, even in ``model.train()``.

    Its running mean and variance stop changing and normalise the training batches too; its scale and shift
    still learn. Fine-tuning on one image needs it: a few small batches of one picture would otherwise replace
    statistics learnt from a whole corpus (from the shipped Mask R-CNN, 30 steps on the corrections of one real
    image lost up to 0.2 held-out AP@0.5 with the statistics updating, and gained with them frozen).

    Returns
    -------
    int
        The number of batch-norm layers frozen.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    >>> freeze_batch_norm(net), net.train().training, net[1].training
    (1, True, False)
    """
    import torch

    def _always_eval(module):
        def train(mode: bool = True):
            torch.nn.Module.train(module, False)
            return module
        return train

    frozen = 0
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.train = _always_eval(module)  # model.train() calls every child's train(): this one stays off
            module.eval()
            frozen += 1
    return frozen


def optimizer_step(loss, optimizer, scaler=None, clip_norm: float | None = None) -> None:
    """Backpropagate ``loss`` and step ``optimizer``; with a ``torch.amp.GradScaler`` (float16 on CUDA) the
    loss is scaled and steps with non-finite gradients are skipped; ``clip_norm`` clips the gradient norm."""
    import torch

    params = [p for group in optimizer.param_groups for p in group["params"]]
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        scaler.step(optimizer)
        scaler.update()
        return
    loss.backward()
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, clip_norm)
    optimizer.step()


def _copy(history: dict) -> dict:
    return {k: list(v) if isinstance(v, list) else v for k, v in history.items()}


def _fmt(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def iter_training_loop(*, train_step: Callable[[], float], validate: Callable[[], dict | None],
                       snapshot: Callable[[], dict], build_checkpoint: Callable[[dict, dict, dict], dict],
                       epochs: int, steps_per_epoch: int, patience: int = 0, time_limit: float | None = None,
                       checkpoint_path=None, metrics: Iterable[str] = ("val_ap50",),
                       validation: str | None = None,
                       start: dict | None = None):
    """Run ``epochs`` x ``steps_per_epoch`` training steps; yield :class:`Progress`; return the checkpoint.

    Parameters
    ----------
    train_step : callable
        ``train_step() -> float``: one optimizer step on one batch; returns its loss.
    validate : callable
        ``validate() -> dict or None``: the validation metrics named in ``metrics`` (``"val_ap50"`` first),
        optionally a ``"score"`` ranking the epochs (default: ``val_ap50``); None when there is nothing to
        validate on (epochs are then ranked by their training loss).
    snapshot : callable
        ``snapshot() -> dict``: a CPU copy of the current weights, kept while they are the best.
    build_checkpoint : callable
        ``build_checkpoint(best_state, history, loop_state) -> dict``: the complete checkpoint holding the
        best weights; ``loop_state`` is ``{"epoch", "best_score", "bad_epochs"}`` (for a ``resume`` entry).
    epochs, steps_per_epoch : int
        Training length. ``epochs`` counts from the start of the training (a resumed run continues up to it).
    patience : int
        Stop after this many epochs in a row without a better score (0: never stop early).
    time_limit : float, optional
        Wall-clock seconds. Checked after every step: once passed, the current epoch ends there (it is
        validated, recorded and saved) and training stops. None: no limit.
    checkpoint_path : str or Path, optional
        Written atomically after every epoch; a cancelled training keeps the last complete epoch's file.
    metrics : iterable of str
        The validation metrics recorded per epoch and shown in every event's ``info``.
    validation : str, optional
        What is validated on (stored in the history).
    start : dict, optional
        Continue a training: ``{"epoch", "best_score", "bad_epochs", "history", "best_state"}``.

    Yields
    ------
    Progress
        After every step and once more at the end of each epoch. ``info`` always holds ``epoch`` (from 1),
        ``loss`` (mean over the epoch so far), ``epoch_end`` (True on the end-of-epoch event) and each
        metric (the latest validation's value; None before the first validation or without validation).

    Returns
    -------
    dict
        ``build_checkpoint(...)`` of the best weights after the last epoch.

    Notes
    -----
    The best weights are those of the epoch with the highest score (on a tie the later epoch, which has
    trained longer); ``patience`` counts epochs without a strictly higher score. Closing the generator
    (Cancel) takes effect at a yield, between two atomic writes, so no half-written file is left.
    """
    from .checkpoint import write_checkpoint

    metrics = tuple(metrics)
    start = start or {}
    history = _continued(start.get("history"), metrics)
    if validation is not None:
        history["validation"] = validation
    first = int(start.get("epoch", 0))
    best_score = float(start.get("best_score", -math.inf))
    bad_epochs = int(start.get("bad_epochs", 0))
    best_state = start.get("best_state")
    latest = {m: (history[m][-1] if history[m] and history[m][-1] == history[m][-1] else None)
              for m in metrics}
    total = epochs * steps_per_epoch
    t0 = time.perf_counter()
    result = None
    for epoch in range(first, epochs):
        t_epoch = time.perf_counter()
        losses = []
        out_of_time = False
        for step in range(steps_per_epoch):
            losses.append(float(train_step()))
            history["steps"] += 1
            mean = sum(losses) / len(losses)
            yield Progress(epoch * steps_per_epoch + step + 1, total,
                           f"epoch {epoch + 1}/{epochs}  loss {mean:.4f}",
                           {"epoch": epoch + 1, "loss": mean, "epoch_end": False, **latest})
            if time_limit is not None and time.perf_counter() - t0 >= time_limit:
                out_of_time = True
                break
        mean = sum(losses) / len(losses)
        measured = validate()
        if measured is None:
            score = -mean
            latest = {m: None for m in metrics}
        else:
            measured = dict(measured)
            score = float(measured.pop("score", measured[metrics[0]]))
            latest = {m: float(measured[m]) for m in metrics}
        history["epoch"].append(epoch + 1)
        history["loss"].append(mean)
        for m in metrics:
            history[m].append(math.nan if latest[m] is None else latest[m])
        history["seconds"].append(time.perf_counter() - t_epoch)
        if best_state is None or score >= best_score:  # a tie: the later epoch, trained longer
            best_state = snapshot()
            history["best_epoch"] = epoch + 1
            history["best_val_ap50"] = latest.get("val_ap50")
        if score > best_score:
            best_score, bad_epochs = score, 0
        else:
            bad_epochs += 1
        stop = "patience" if patience and bad_epochs >= patience else "time_limit" if out_of_time else None
        history["stopped"] = stop
        loop_state = {"epoch": epoch + 1, "best_score": best_score, "bad_epochs": bad_epochs}
        result = None
        if checkpoint_path is not None:
            result = build_checkpoint(best_state, _copy(history), loop_state)
            write_checkpoint(checkpoint_path, result)
        parts = [f"epoch {epoch + 1}/{epochs}  loss {mean:.4f}"]
        parts += [f"val {m[4:].replace('ap50', 'AP@0.5').replace('iou', 'IoU')} {_fmt(latest[m])}"
                  for m in metrics if latest[m] is not None]
        if stop:
            parts.append(f"stopped: {stop.replace('_', ' ')}")
        yield Progress(total if stop else (epoch + 1) * steps_per_epoch, total, "  ".join(parts),
                       {"epoch": epoch + 1, "loss": mean, "epoch_end": True, **latest})
        if stop:
            break
    if result is None:
        if best_state is None:  # nothing trained (a resumed training that had already finished)
            best_state = snapshot()
        loop_state = {"epoch": max(first, len(history["loss"])), "best_score": best_score,
                      "bad_epochs": bad_epochs}
        result = build_checkpoint(best_state, _copy(history), loop_state)
    return result
