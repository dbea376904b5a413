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
