"""The shared training loop on a fake model whose losses and validation scores are scripted: early stopping,
the time limit, the per-epoch checkpoint (atomic, loadable, untouched by a cancel), the history, the
events."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from napari_segsuite.core.progress import run  # noqa: E402
from napari_segsuite.core.training import loop as loop_module  # noqa: E402
from napari_segsuite.core.training.checkpoint import open_checkpoint  # noqa: E402
from napari_segsuite.core.training.loop import iter_training_loop  # noqa: E402


class Fake:
    """A 'model' whose weight is the number of steps taken; losses and validation scores are scripted."""

    def __init__(self, losses=None, scores=None, metrics=("val_ap50",)):
        self.steps = 0
        self.losses = losses
        self.scores = list(scores) if scores is not None else None
        self.metrics = metrics
        self.epochs_validated = 0

    def train_step(self):
        self.steps += 1
        return self.losses[self.steps - 1] if self.losses else 1.0 / self.steps

    def validate(self):
        if self.scores is None:
            return None
        score = self.scores[self.epochs_validated]
        self.epochs_validated += 1
        return {m: score / (i + 1) for i, m in enumerate(self.metrics)}

    def snapshot(self):
        return {"w": torch.tensor(float(self.steps))}

    def build(self, best_state, history, loop_state):
        return {"format": "segsuite-model", "version": 1, "kind": "fake", "config": {}, "normalization": {},
                "state_dict": best_state, "history": history, "resume": dict(loop_state)}

    def loop(self, **kw):
        kw.setdefault("metrics", self.metrics)
        return iter_training_loop(train_step=self.train_step, validate=self.validate, snapshot=self.snapshot,
                                  build_checkpoint=self.build, **kw)


def drain(gen):
    events = []
    result = run(gen, events.append)
    return events, result


def test_early_stopping_after_patience_epochs_without_improvement():
    fake = Fake(scores=[0.1, 0.5, 0.5, 0.4, 0.9, 0.9])
    events, ckpt = drain(fake.loop(epochs=6, steps_per_epoch=2, patience=2))
    h = ckpt["history"]
    # epoch 2 improves; 3 ties (not better: 1 bad epoch, but its weights are kept); 4 is worse: 2 bad -> stop
    assert h["epoch"] == [1, 2, 3, 4] and h["stopped"] == "patience"
    assert h["val_ap50"] == [0.1, 0.5, 0.5, 0.4]
    assert h["best_epoch"] == 3 and h["best_val_ap50"] == 0.5
    assert float(ckpt["state_dict"]["w"]) == 6.0          # weights after epoch 3 = 6 steps
    assert ckpt["resume"] == {"epoch": 4, "best_score": 0.5, "bad_epochs": 2}
    ends = [e for e in events if e.info["epoch_end"]]
    assert len(ends) == 4 and ends[-1].step == ends[-1].total == 12
    assert "stopped: patience" in ends[-1].message
    assert [e.step for e in events] == [1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 12]


def test_no_early_stopping_with_patience_zero():
    fake = Fake(scores=[0.5, 0.4, 0.3])
    _, ckpt = drain(fake.loop(epochs=3, steps_per_epoch=1, patience=0))
    assert ckpt["history"]["epoch"] == [1, 2, 3] and ckpt["history"]["stopped"] is None
    assert ckpt["history"]["best_epoch"] == 1 and float(ckpt["state_dict"]["w"]) == 1.0


def test_time_limit_ends_the_running_epoch_and_stops(monkeypatch):
    clock = {"t": 100.0}
    monkeypatch.setattr(loop_module.time, "perf_counter", lambda: clock["t"])
    fake = Fake(scores=[0.2, 0.3, 0.4])
    inner = fake.train_step

    def step():  # every step takes one "second"
        clock["t"] += 1.0
        return inner()

    fake.train_step = step
    events, ckpt = drain(fake.loop(epochs=3, steps_per_epoch=4, time_limit=6.5))
    h = ckpt["history"]
    # epoch 1: 4 steps (t = 4 s); epoch 2: steps at 5, 6, 7 s -> 7 >= 6.5: the epoch ends after 3 steps
    assert h["epoch"] == [1, 2] and h["steps"] == 7 and h["stopped"] == "time_limit"
    assert h["seconds"] == [4.0, 3.0]
    assert h["val_ap50"] == [0.2, 0.3]                     # the cut-short epoch is still validated
    assert float(ckpt["state_dict"]["w"]) == 7.0
    assert events[-1].info["epoch_end"] and events[-1].step == events[-1].total == 12


def test_history_and_event_fields_without_validation():
    fake = Fake(losses=[4.0, 2.0, 1.0, 3.0, 5.0, 7.0], scores=None)
    events, ckpt = drain(fake.loop(epochs=3, steps_per_epoch=2, metrics=("val_ap50", "val_iou"),
                                   validation=None))
    h = ckpt["history"]
    assert set(h) == {"epoch", "loss", "val_ap50", "val_iou", "seconds", "best_epoch", "best_val_ap50",
                      "stopped", "steps", "validation"}
    assert h["loss"] == [3.0, 2.0, 6.0] and h["epoch"] == [1, 2, 3] and h["steps"] == 6
    assert all(math.isnan(v) for v in h["val_ap50"] + h["val_iou"])
    assert h["best_epoch"] == 2 and h["best_val_ap50"] is None   # lowest loss ranks epochs without validation
    assert float(ckpt["state_dict"]["w"]) == 4.0
    assert all(set(e.info) == {"epoch", "loss", "epoch_end", "val_ap50", "val_iou"} for e in events)
    assert all(e.info["val_ap50"] is None for e in events)
    assert [e.info["loss"] for e in events[:3]] == [4.0, 3.0, 3.0]  # the mean over the epoch so far


def test_events_carry_the_latest_validation():
    fake = Fake(scores=[0.6, 0.8], metrics=("val_ap50", "val_iou"))
    events, _ = drain(fake.loop(epochs=2, steps_per_epoch=2))
    assert [e.info["val_ap50"] for e in events] == [None, None, 0.6, 0.6, 0.6, 0.8]
    assert [e.info["val_iou"] for e in events] == [None, None, 0.3, 0.3, 0.3, 0.4]
    assert [e.info["epoch_end"] for e in events] == [False, False, True, False, False, True]
    assert "val AP@0.5 0.800" in events[-1].message and "val IoU 0.400" in events[-1].message


def test_checkpoint_every_epoch_atomic_and_cancel_leaves_the_last_complete_one(tmp_path):
    path = tmp_path / "model.pt"
    fake = Fake(scores=[0.1, 0.2, 0.3])
    gen = fake.loop(epochs=3, steps_per_epoch=2, checkpoint_path=path)
    written = []
    for event in gen:
        if event.info["epoch_end"]:
            ck = open_checkpoint(path)                    # loadable with weights_only after every epoch
            written.append(path.read_bytes())
            assert ck["history"]["epoch"] == list(range(1, event.info["epoch"] + 1))
            assert float(ck["state_dict"]["w"]) == 2.0 * event.info["epoch"]
        elif event.info["epoch"] == 2:
            break                                         # cancel in the middle of epoch 2
    gen.close()
    assert len(written) == 1 and path.read_bytes() == written[0]
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_a_failing_write_keeps_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.pt"
    fake = Fake(scores=[0.1, 0.2])
    build = fake.build

    def bad_second(best_state, history, loop_state):
        ck = build(best_state, history, loop_state)
        if loop_state["epoch"] == 2:
            ck["history"]["oops"] = lambda: None          # cannot be saved
        return ck

    fake.build = bad_second
    gen = fake.loop(epochs=2, steps_per_epoch=1, checkpoint_path=path)
    next(gen), next(gen)                                  # epoch 1: step, end (file written)
    first = path.read_bytes()
    next(gen)                                             # epoch 2: step
    with pytest.raises(Exception):
        next(gen)                                         # epoch 2's write fails
    assert path.read_bytes() == first and [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_resume_continues_counters_and_history():
    fake = Fake(scores=[0.1, 0.2, 0.05])
    _, first = drain(fake.loop(epochs=2, steps_per_epoch=1))
    start = {**first["resume"], "history": first["history"], "best_state": first["state_dict"]}
    events, ckpt = drain(fake.loop(epochs=3, steps_per_epoch=1, start=start))
    assert [e.step for e in events] == [3, 3]
    assert ckpt["history"]["epoch"] == [1, 2, 3] and ckpt["history"]["val_ap50"] == [0.1, 0.2, 0.05]
    assert ckpt["history"]["best_epoch"] == 2 and float(ckpt["state_dict"]["w"]) == 2.0
    # a training that had already reached its epochs returns the stored best without stepping
    start = {**ckpt["resume"], "history": ckpt["history"], "best_state": ckpt["state_dict"]}
    _, again = drain(fake.loop(epochs=3, steps_per_epoch=1, start=start))
    assert fake.steps == 3 and again["history"]["epoch"] == [1, 2, 3]
