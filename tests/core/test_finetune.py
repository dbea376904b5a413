"""core.finetune: the refusals (no training needed) and the schedule defined once."""

import numpy as np
import pytest

from napari_segsuite.core.finetune import finetune
from napari_segsuite.core.training.defaults import FINETUNE_DEFAULTS


def test_refusals_say_what_to_do():
    image = np.zeros((32, 32), np.uint16)
    with pytest.raises(ValueError, match="load or train one first"):
        finetune(None, image, np.ones((32, 32), np.int32))
    ck = {"kind": "unet"}
    with pytest.raises(ValueError, match="corrected labels are empty"):
        finetune(ck, image, np.zeros((32, 32), np.int32))
    with pytest.raises(ValueError, match="same shape"):
        finetune(ck, image, np.ones((16, 32), np.int32))
    with pytest.raises(ValueError, match="'unet' and 'maskrcnn'"):
        finetune({"kind": "cellpose"}, image, np.ones((32, 32), np.int32))


def test_short_schedule_per_kind():
    for kind in ("unet", "maskrcnn"):
        d = FINETUNE_DEFAULTS[kind]
        assert d["epochs"] * d["steps_per_epoch"] <= 50 and d["patience"] == 0 and 0 < d["learning_rate"] < 1e-3


def test_every_event_says_its_stage_and_a_bad_channel_axis_is_refused():
    from napari_segsuite.core import load_sample, sample_path
    from napari_segsuite.core.finetune import iter_finetune
    from napari_segsuite.core.training.checkpoint import open_checkpoint

    image, labels = load_sample("nuclei_test")
    image, labels = image[:96, :96], labels[:96, :96]
    ck = open_checkpoint(sample_path("unet_nuclei.pt"))
    with pytest.raises(ValueError, match="channel_axis 3 is out of range"):
        finetune(ck, image, labels, channel_axis=3)
    gen = iter_finetune(ck, image, labels, device="cpu", epochs=1, steps_per_epoch=1, batch_size=2,
                        val_fraction=0)
    stages = []
    while True:
        try:
            stages.append(next(gen).info["stage"])
        except StopIteration as done:
            result = done.value
            break
    assert stages[0] == "before" and stages[-1] == "after" and "train" in stages
    assert stages == sorted(stages, key=["before", "train", "after"].index)   # in that order, never mixed
    assert 0 <= result["before_ap50"] <= 1 and 0 <= result["after_ap50"] <= 1


# --- a region: learn and score only there (issue 16, "inside the regions the user marks") ----------------------
def _four_cells():
    truth = np.zeros((40, 40), np.int32)
    for i, (r, c) in enumerate(((2, 2), (2, 22), (22, 2), (22, 22))):
        truth[r:r + 10, c:c + 10] = i + 1
    return truth


def _recording_backend(seen, before, after):
    """(train, predict) that record what reached them and predict ``before`` with the first model, ``after``
    with the model the trainer returns: iter_finetune's plumbing with known answers."""
    def train(data, **kwargs):
        seen["data"], seen["kwargs"] = data, kwargs
        return {"kind": "unet", "tuned": True, "history": {"loss": [0.1]}}
        yield  # a generator, like the trainers

    def predict(checkpoint, image, **kwargs):
        return after.copy() if checkpoint.get("tuned") else before.copy()
        yield

    return lambda kind: (train, predict)


def test_a_region_reaches_the_trainer_and_the_ap_is_counted_inside_it(monkeypatch):
    from napari_segsuite.core import finetune as ft

    truth = _four_cells()
    before = np.where(np.isin(truth, [1, 2]), truth, 0)            # cells 3 and 4 missed
    after = truth.copy()
    region = np.zeros((40, 40), bool)
    region[:15, :] = True                                          # the top row of cells: 1 and 2
    seen = {}
    monkeypatch.setattr(ft, "_backend", _recording_backend(seen, before, after))
    out = finetune({"kind": "unet"}, np.zeros((40, 40), np.float32), truth, region=region, epochs=1)
    (item,) = seen["data"]
    assert len(item) == 3 and np.array_equal(item[1], truth)
    assert item[2].dtype == np.uint8 and np.array_equal(item[2], region)
    assert seen["kwargs"]["init"] == {"kind": "unet"} and seen["kwargs"]["epochs"] == 1
    assert out["before_ap50"] == 1.0 and out["after_ap50"] == 1.0 and out["cells_scored"] == 2
    assert np.array_equal(out["region"], region)
    # the lower row instead: both missed before (AP 0), found after; the whole image: 2 of 4 before
    out = finetune({"kind": "unet"}, np.zeros((40, 40), np.float32), truth, region=region[::-1].copy())
    assert (out["before_ap50"], out["after_ap50"], out["cells_scored"]) == (0.0, 1.0, 2)
    out = finetune({"kind": "unet"}, np.zeros((40, 40), np.float32), truth)
    assert len(seen["data"][0]) == 2 and out["region"] is None
    assert (out["before_ap50"], out["after_ap50"], out["cells_scored"]) == (0.5, 1.0, 4)


def test_region_refusals_say_what_to_do():
    truth = _four_cells()
    image, ck = np.zeros((40, 40), np.uint16), {"kind": "unet"}
    with pytest.raises(ValueError, match=r"fine-tuning region: region mask shape \(20, 40\) does not match labels "
                                         r"shape \(40, 40\)"):
        finetune(ck, image, truth, region=np.ones((20, 40), bool))
    with pytest.raises(ValueError, match="fine-tuning region: the region mask is empty"):
        finetune(ck, image, truth, region=np.zeros((40, 40), np.uint8))
    with pytest.raises(ValueError, match="boolean or integer"):
        finetune(ck, image, truth, region=np.ones((40, 40), np.float32))
    gap = np.zeros((40, 40), bool)
    gap[:, 14:20] = True                                           # between the cells: no cell at least half inside
    with pytest.raises(ValueError, match="no cell .* inside the fine-tuning region"):
        finetune(ck, image, truth, region=gap)


def test_a_real_round_inside_the_edited_cells():
    """The U-Net trainer takes the region (its partial labels) and the figures are scored inside it."""
    from napari_segsuite.core import load_sample, sample_path
    from napari_segsuite.core.training.checkpoint import open_checkpoint
    from napari_segsuite.core.training.edits import edited_region
    from napari_segsuite.core.training.regions import instances_inside

    image, labels = load_sample("nuclei_test")
    image, labels = image[:96, :96], labels[:96, :96].astype(np.int32)
    wrong = labels.copy()
    ids = np.unique(labels[labels > 0])[:2]
    wrong[np.isin(labels, ids)] = 0                                # "the model" missed two cells; the user adds them
    region = edited_region(wrong, labels)
    out = finetune(open_checkpoint(sample_path("unet_nuclei.pt")), image, labels, region=region, device="cpu",
                   epochs=1, steps_per_epoch=1, batch_size=2, val_fraction=0)
    assert np.array_equal(out["region"], region) and out["cells_scored"] == instances_inside(labels, region).size
    assert 2 <= out["cells_scored"] < np.unique(labels[labels > 0]).size
    assert 0 <= out["before_ap50"] <= 1 and 0 <= out["after_ap50"] <= 1
