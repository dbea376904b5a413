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
