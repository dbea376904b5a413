"""Mask R-CNN on partial labels: unlabelled area hidden, edge cells kept when half inside, crops from the
region, and a short fine-tuning that does not unlearn the unlabelled cells."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_segsuite.core import load_sample, sample_path  # noqa: E402
from napari_segsuite.core.maskrcnn import predict_maskrcnn, train_maskrcnn  # noqa: E402
from napari_segsuite.core.maskrcnn.targets import partial_view  # noqa: E402
from napari_segsuite.core.maskrcnn.train import augment_crop, load_training_pairs  # noqa: E402


def test_partial_view_hides_unlabelled_area_and_keeps_cells_mostly_inside():
    lab = np.zeros((20, 30), np.int32)
    lab[2:7, 11:16] = 1           # columns 11..15 with the region's edge at 14: 3/5 inside, kept whole
    lab[10:14, 12:17] = 2         # 2/5 inside: dropped and hidden
    lab[15:18, 3:6] = 3           # inside
    region = np.zeros((20, 30), bool)
    region[:, :14] = True
    rng = np.random.default_rng(0)
    image = np.stack([rng.uniform(0.0, 0.2, (20, 30)) + (lab > 0), np.full((20, 30), 0.5)]).astype(np.float32)
    shown, kept = partial_view(image, lab, region)
    assert np.unique(kept).tolist() == [0, 1, 3] and np.array_equal(kept == 1, lab == 1)
    visible = (region & (lab == 0)) | (lab == 1) | (lab == 3)
    assert np.array_equal(shown[:, visible], image[:, visible])
    fill = np.median(image[:, region & (lab == 0)], axis=1)
    assert np.allclose(shown[:, ~visible], fill[:, None]) and (~visible).sum() == 20 * 16 - 5 * 2 + 4 * 2
    assert shown.dtype == np.float32
    same = partial_view(image, lab, None)
    assert same[0] is image and same[1] is lab


def test_crops_are_taken_from_the_region_and_items_carry_regions():
    region = np.zeros((200, 200), bool)
    region[120:, :] = True                                       # the bottom 40%
    image = region[None].astype(np.float32)
    rng = np.random.default_rng(0)
    fractions = [(augment_crop(image, region.astype(np.int32), 64, rng, region)[0] > 0.5).mean()
                 for _ in range(200)]
    assert min(fractions) >= 0.45 and np.mean(fractions) > 0.85  # uniform crops would average 0.4
    pairs = load_training_pairs([(image[0], region.astype(np.int32), region), (image[0], region.astype(np.int32))])
    assert pairs[0][4] is region and pairs[1][4] is None and pairs[0][3] is None


def test_finetuning_on_partial_labels_keeps_the_unlabelled_cells():
    """The shipped model is fine-tuned on a field whose left quarter is labelled and whose other cells are
    erased. With the region it keeps finding the erased cells; without it, it learns they are background."""
    torch.set_num_threads(1)
    image, gt = load_sample("nuclei_train")
    image, gt = image[:192, :192], gt[:192, :192]
    region = np.zeros(gt.shape, bool)
    region[:, :48] = True
    erased = np.where(np.isin(gt, np.unique(gt[:, 48:])), 0, gt)
    unlabelled = [i for i in np.unique(gt[:, 48:]) if i and not (gt[:, :48] == i).any()]
    assert len(unlabelled) >= 15

    def found(item):
        ckpt = train_maskrcnn([item], init=sample_path("maskrcnn_nuclei.pt"), epochs=1, steps_per_epoch=15,
                              batch_size=2, patch_size=96, learning_rate=5e-4, val_fraction=0, device="cpu",
                              seed=0)
        pred, _ = predict_maskrcnn(ckpt, image, device="cpu")
        return np.mean([(pred[gt == i] > 0).mean() > 0.5 for i in unlabelled])

    with_region, without = found((image, erased, region)), found((image, erased))
    assert with_region >= 0.8 and without <= 0.2
