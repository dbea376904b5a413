"""Cellpose 3 trained from scratch on one image under a wall-clock budget, then run on a test image.

The peer of ``benchmarks/train_real.py``. It runs inside the separate Cellpose venv made by
``benchmarks/peers/make_cellpose_venv.sh`` (Cellpose 3 pins numpy < 2.1 and cannot share the project's
environment) and imports nothing from napari-segsuite. Run it directly as::

    .venv-cellpose/bin/python benchmarks/peers/cellpose_train.py --train-image TRAIN.tif \\
        --train-masks TRAIN_masks.tif --test-image TEST.tif --output-labels PRED.tif --minutes 10

Training: a ``CellposeModel`` with no weights loaded (``pretrained_model=False``; nothing is downloaded),
trained by Cellpose's own ``train.train_seg`` with AdamW (``SGD=False``) at that function's defaults for
AdamW (learning rate 0.005, weight decay 1e-5, batch 8), on random ``--bsize`` crops of the one training
image: the image is passed once and ``nimg_per_epoch`` is set to the batch size, so an epoch is one batch
of 8 random crops (each rotated, flipped and rescaled by Cellpose's augmentation). Cells are rescaled to
``--diam-mean`` 30 pixels, Cellpose's default for training from scratch (in a 6-minute run at 1 thread,
17, the ``nuclei`` models' value, found the nuclei sooner, after 60 epochs, but stayed at AP@0.5 0.89 where 30
reached 0.93 after 100).

The budget (``--minutes``, wall clock from the start of training, flow computation included):

1. calibration: ``train_seg`` trains the network for a few epochs (the first epochs of its linear warm-up,
   learning rate 0 to 3/9 of the final one) and the time between its training forward passes gives the
   seconds per epoch; these epochs are training, not thrown away;
2. the main run: ``train_seg`` is called again on the same network with ``n_epochs`` = the epochs that fit
   in what is left of the budget, so Cellpose's own learning-rate schedule (10-epoch warm-up, constant,
   halvings over the last 50 or 100 epochs when there are more than 100 or 300) runs whole and ends in
   time (its warm-up starts again from 0 and AdamW's moments are new: the calibration epochs only add a
   little warm-up);
3. a guard: every training forward pass checks the clock, and if the machine slowed down so that the step
   would end past the deadline (at the calibrated seconds per epoch), training stops there (the weights of
   the last completed step are used; ``stopped_by`` says ``"deadline"``);
4. top-ups: if the machine sped up after calibration (a job that loaded it ended), the plan ends early; while
   at least ``TOPUP_MIN_EPOCHS`` epochs (timed on the latest ones) fit before the deadline, ``train_seg`` is
   called again for them (a new warm-up each time), so Cellpose uses its whole budget (``topup_epochs``).

Prediction: ``model.eval`` on the test image with ``diameter`` = the median diameter of the training labels
(Cellpose's ``utils.diameters``), i.e. the test image is rescaled by ``diam_mean / diameter`` exactly as the
training image was, flow and cell-probability thresholds at Cellpose's defaults. The labels are written as a
TIFF and the last line printed is a JSON object with the training's wall and CPU seconds and its settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time

#: AdamW settings: ``cellpose.train.train_seg``'s defaults (its optimizer is AdamW unless SGD=True).
LEARNING_RATE = 0.005
WEIGHT_DECAY = 1e-5
BATCH_SIZE = 8
#: Side of the training crops (Cellpose's default is 224). Chosen in short runs on the real Hoechst half image
#: (1 thread, loaded machine): 112 reached AP@0.5 0.93 on the other half after 100 epochs (~290 s);
#: 128 costs 1.3x more per epoch and had found nothing yet after 47 epochs (3 min), nor had 112 after 64.
BSIZE = 112
#: Epochs of the calibration call that times an epoch (the first interval, with one-time costs, is not used).
CALIBRATION_EPOCHS = 4
#: Seconds kept free at the end of the budget for train_seg's final model save.
RESERVE_SECONDS = 1.0
#: A plan that ends with this many epochs' time left is topped up by another ``train_seg`` call.
TOPUP_MIN_EPOCHS = 10


class _OutOfTime(Exception):
    """Raised by the forward-pass guard once the deadline has passed."""


class _ForwardClock:
    """Wraps a network's ``forward``: notes when each training pass starts and stops training at a deadline."""

    def __init__(self, net, deadline: float, on_step=None):
        self.net = net
        self.deadline = deadline
        self.on_step = on_step
        #: seconds a step is expected to take: a step is not started unless it can end by the deadline
        self.step_seconds = 0.0
        self.stamps: list[float] = []
        self._forward = net.forward
        net.forward = self

    def __call__(self, *args, **kwargs):
        if self.net.training:
            now = time.perf_counter()
            if now + self.step_seconds >= self.deadline:
                raise _OutOfTime
            if self.on_step is not None:
                self.on_step(self.net, len(self.stamps))
            self.stamps.append(now)
        return self._forward(*args, **kwargs)

    def remove(self) -> None:
        del self.net.forward  # the instance attribute; the class's forward is back


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-image", required=True, help="2D training image (TIFF)")
    p.add_argument("--train-masks", required=True, help="its instance labels (TIFF, 0 = background)")
    p.add_argument("--test-image", required=True, help="2D image to segment after training (TIFF)")
    p.add_argument("--output-labels", required=True, help="where to write the predicted labels (TIFF)")
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock training budget (default 10)")
    p.add_argument("--seed", type=int, default=0, help="torch seed of the weight initialisation (default 0)")
    p.add_argument("--threads", type=int, default=2, help="torch / OpenMP / numba threads (default 2)")
    p.add_argument("--bsize", type=int, default=BSIZE, help=f"side of the training crops (default {BSIZE})")
    p.add_argument("--diam-mean", type=float, default=30.0,
                   help="diameter cells are rescaled to for the network (default 30, Cellpose's for training "
                        "from scratch)")
    args = p.parse_args(argv)
    if not args.minutes > 0:
        p.error("--minutes must be > 0")
    if args.threads < 1:
        p.error("--threads must be >= 1")
    return args


def _read_2d(path: str, what: str):
    import numpy as np
    import tifffile

    arr = np.asarray(tifffile.imread(path))
    if arr.ndim != 2:
        raise SystemExit(f"{what} {path}: expected a 2D image, got shape {arr.shape}.")
    return arr


def _train_seg(train, net, data, flows, n_epochs: int, bsize: int, save_path: str):
    """One call of Cellpose's trainer with the settings this peer uses."""
    return train.train_seg(
        net, train_data=data, train_labels=flows, channels=[0, 0], normalize=True,
        batch_size=BATCH_SIZE, nimg_per_epoch=BATCH_SIZE, learning_rate=LEARNING_RATE, weight_decay=WEIGHT_DECAY,
        SGD=False, n_epochs=n_epochs, bsize=bsize, min_train_masks=1, save_path=save_path,
        save_every=n_epochs + 1, model_name="peer")


def train_from_scratch(image, masks, *, minutes: float, seed: int = 0, bsize: int = BSIZE, diam_mean: float = 30.0,
                       on_step=None):
    """Train a Cellpose 3 model from scratch on one image within ``minutes`` of wall clock (see the module notes).

    ``on_step(net, steps_done)``, if given, is called before every training step (for experiments).
    Returns ``(model, info)``: the ``CellposeModel`` and a dict of timings, epochs and settings.
    """
    import numpy as np
    import torch
    from cellpose import dynamics, models, train, utils

    cpu = torch.device("cpu")
    t0, c0 = time.perf_counter(), time.process_time()
    deadline = t0 + 60.0 * minutes
    flows = dynamics.labels_to_flows([masks.astype(np.int32)], device=cpu)  # a copy: it renumbers in place
    diameter = float(utils.diameters(masks.astype(np.int32))[0])
    torch.manual_seed(seed)
    model = models.CellposeModel(gpu=False, pretrained_model=False, model_type=None, diam_mean=diam_mean,
                                 nchan=2, device=cpu)
    data = [image.astype(np.float32)]
    stopped_by = "plan"
    with tempfile.TemporaryDirectory() as tmp:
        clock = _ForwardClock(model.net, deadline, on_step)
        try:
            _train_seg(train, model.net, data, flows, CALIBRATION_EPOCHS, bsize, tmp)
        except _OutOfTime:
            stopped_by = "deadline"
        steps = np.diff(clock.stamps)[1:]  # the first interval has one-time costs
        if len(steps) == 0:
            raise SystemExit(f"--minutes {minutes} is too short to time an epoch.")
        per_epoch = float(np.mean(steps))
        clock.step_seconds = per_epoch
        calibration = len(clock.stamps)
        planned = max(0, int((deadline - time.perf_counter() - RESERVE_SECONDS) // per_epoch))
        print(f"cellpose peer: {per_epoch:.2f} s per epoch (batch {BATCH_SIZE} x {bsize}^2), "
              f"{calibration} calibration epochs, {planned} more planned", file=sys.stderr, flush=True)
        if planned >= 1 and stopped_by == "plan":
            try:
                _train_seg(train, model.net, data, flows, planned, bsize, tmp)
            except _OutOfTime:
                stopped_by = "deadline"
        epochs = len(clock.stamps) - calibration
        # Top-ups: the machine sped up after calibration and the plan ended early; train on until the deadline.
        topups = 0
        while stopped_by == "plan":
            recent = np.diff(clock.stamps[-TOPUP_MIN_EPOCHS:])
            per_epoch_now = float(np.median(recent)) if len(recent) else per_epoch
            clock.step_seconds = per_epoch_now
            more = int((deadline - time.perf_counter() - RESERVE_SECONDS) // per_epoch_now)
            if more < TOPUP_MIN_EPOCHS:
                break
            print(f"cellpose peer: plan ended early; top-up of {more} epochs at {per_epoch_now:.2f} s per epoch",
                  file=sys.stderr, flush=True)
            topups += 1
            try:
                _train_seg(train, model.net, data, flows, more, bsize, tmp)
            except _OutOfTime:
                stopped_by = "deadline"
        topup_epochs = len(clock.stamps) - calibration - epochs
        clock.remove()
    info = {
        "train_wall_s": round(time.perf_counter() - t0, 2), "train_cpu_s": round(time.process_time() - c0, 2),
        "epochs": calibration + epochs + topup_epochs, "calibration_epochs": calibration, "main_epochs": epochs,
        "main_epochs_planned": planned, "topups": topups, "topup_epochs": topup_epochs,
        "seconds_per_epoch": round(per_epoch, 3), "stopped_by": stopped_by,
        "bsize": bsize, "batch_size": BATCH_SIZE, "optimizer": "AdamW", "learning_rate": LEARNING_RATE,
        "weight_decay": WEIGHT_DECAY, "diam_mean": diam_mean, "diameter": round(diameter, 2), "seed": seed,
        "minutes": minutes,
    }
    return model, info


def predict(model, image, diameter: float):
    """Labels of ``image`` by Cellpose's ``eval`` at the training labels' median diameter, default thresholds.

    On a CPU with MKL-DNN, ``eval`` converts ``model.net`` to MKL-DNN tensors in place: train it no further and
    load no state into it afterwards.
    """
    import numpy as np

    return np.asarray(model.eval(image.astype(np.float32), channels=[0, 0], diameter=diameter)[0])


def main(argv=None) -> int:
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    import tifffile
    import torch
    from cellpose import version as cellpose_version

    torch.set_num_threads(args.threads)
    log = logging.getLogger("cellpose.train")  # its per-epoch losses, to stderr
    log.addHandler(logging.StreamHandler(sys.stderr))
    log.setLevel(logging.INFO)
    image = _read_2d(args.train_image, "training image")
    masks = _read_2d(args.train_masks, "training masks")
    test = _read_2d(args.test_image, "test image")
    if image.shape != masks.shape:
        raise SystemExit(f"training image {image.shape} and masks {masks.shape} differ in shape.")
    if not masks.any():
        raise SystemExit("the training masks are empty: nothing to learn from.")

    model, info = train_from_scratch(image, masks, minutes=args.minutes, seed=args.seed, bsize=args.bsize,
                                     diam_mean=args.diam_mean)
    t1 = time.perf_counter()
    pred = predict(model, test, info["diameter"])
    info["predict_wall_s"] = round(time.perf_counter() - t1, 2)
    info["n_pred"] = int(len(np.unique(pred)) - 1)
    tifffile.imwrite(args.output_labels, pred.astype(np.uint32 if pred.max() > 65535 else np.uint16))
    info.update(threads=args.threads, cellpose=cellpose_version, torch=torch.__version__)
    print(json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
