"""U-Net on partial labels: the loss mask is the region, patches come from it, augmentation moves it with
the labels, validation is scored inside it, and unlabelled cells are not taught as background."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_segsuite.core import load_sample  # noqa: E402
from napari_segsuite.core.unet import predict_unet, train_unet  # noqa: E402
from napari_segsuite.core.unet.augment import Augmenter  # noqa: E402
from napari_segsuite.core.unet.batches import build_batch, masked_cross_entropy, prepare_plane  # noqa: E402
from napari_segsuite.core.unet.training_items import prepare_training_items, split_items  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _region_field(shape=(96, 120)):
    """Labels with cells everywhere and an L-shaped region."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    lab = np.zeros(shape, np.int32)
    for i, (cy, cx) in enumerate([(15, 15), (15, 60), (50, 30), (75, 90), (40, 100), (80, 20)]):
        lab[(yy - cy) ** 2 + (xx - cx) ** 2 <= 64] = i + 1
    region = np.zeros(shape, bool)
    region[:, :40] = True
    region[60:, :] = True
    return lab, region


def test_loss_mask_is_exactly_the_region_through_every_augmentation():
    lab, region = _region_field()
    image = region[None].astype(np.float32)                      # the image *is* the region: no jitter below
    plane = prepare_plane(image, lab, region, n_classes=2, w0=10.0, sigma=5.0)
    aug = Augmenter(48, elastic=0.0, intensity=0.0, noise=0.0)   # crops, flips, rotations
    rng = np.random.default_rng(1)
    x, y, w, m = build_batch(rng, aug, [plane], 32, 2)
    assert m.shape == (32, 48, 48) and m.dtype == np.float32 and set(np.unique(m)) <= {0.0, 1.0}
    assert np.array_equal(m, x[:, 0])
    # elastic deformation too: labels made of the region itself are resampled at the same coordinates
    reg_lab = region.astype(np.int32)
    plane = prepare_plane(image, reg_lab, region, n_classes=2, w0=0.0, sigma=5.0, class_weights=None)
    x, y, w, m = build_batch(rng, Augmenter(48, elastic=1.0, intensity=0.0, noise=0.0), [plane], 16, 2)
    assert np.array_equal(m, y.astype(np.float32))
    # without a region the mask is all ones
    plane = prepare_plane(image, lab, None, n_classes=2, w0=10.0, sigma=5.0)
    assert build_batch(rng, aug, [plane], 4, 2)[3].min() == 1.0


def test_masked_cross_entropy_counts_only_the_mask():
    logits = torch.zeros(1, 2, 2, 2)
    logits[0, 1, 0, 0] = 2.0
    target = torch.tensor([[[1, 0], [0, 1]]])
    weights = torch.tensor([[[1.0, 3.0], [1.0, 1.0]]])
    mask = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    ce00 = -np.log(np.exp(2) / (1 + np.exp(2)))
    expected = (ce00 * 1.0 + np.log(2) * 3.0) / 2                # mean over the two masked-in pixels
    assert masked_cross_entropy(logits, target, weights, mask).item() == pytest.approx(expected, rel=1e-6)
    changed = logits.clone().requires_grad_(True)
    loss = masked_cross_entropy(changed, target, weights, mask)
    loss.backward()
    assert changed.grad[0, :, 1].abs().max() == 0                # no gradient outside the mask
    with torch.no_grad():
        changed[0, :, 1] = torch.randn(2, 2) * 10                # anything outside the mask: same loss
    assert masked_cross_entropy(changed, target, weights, mask).item() == pytest.approx(expected, rel=1e-6)
    ones = torch.ones_like(mask)
    plain = (torch.nn.functional.cross_entropy(logits, target, reduction="none") * weights).mean()
    assert masked_cross_entropy(logits, target, weights, ones).item() == pytest.approx(plain.item(), rel=1e-6)


def test_patches_come_from_the_region_and_class_balance_is_counted_inside_it():
    lab, region = _region_field((128, 128))
    region[:] = False
    region[:, :32] = True                                       # the left quarter
    plane = prepare_plane(np.zeros((1, 128, 128), np.float32), lab, region, n_classes=2, w0=0.0, sigma=5.0)
    rng = np.random.default_rng(0)
    masks = build_batch(rng, Augmenter(32, elastic=0.0), [plane], 300, 2)[3]   # flips and rotations on
    fractions = masks.mean(axis=(1, 2))
    # centred on a uniform region column c (0..31): the window keeps min(1, (48 - c) / 32) of the region;
    # mean (16 + 392 / 32) / 32 = 0.883 (uniform windows would average 0.25)
    assert fractions.min() >= 0.5 and fractions.mean() == pytest.approx(0.883, abs=0.03)
    # "balanced" class weights from the region: N / (2 N_k) over its pixels
    sep = plane[1]
    n_fg = np.count_nonzero(sep[region])
    n = region.sum()
    w = plane[2]
    assert w[region & (sep > 0)][0] == pytest.approx(n / (2 * n_fg))
    assert w[region & (sep == 0)][0] == pytest.approx(n / (2 * (n - n_fg)))


def test_items_carry_regions_from_every_form_and_split_keeps_region_in_both_parts(tmp_path):
    from napari_segsuite.core import export_dataset

    lab, region = _region_field((128, 64))
    image = (100 + 500 * (lab > 0)).astype(np.uint16)
    path = export_dataset(tmp_path / "ds", [("a", image, lab, region.astype(np.uint8))])
    for data in (path, [(image, lab, region)]):
        items, _ = prepare_training_items(data)
        assert len(items) == 1 and np.array_equal(items[0][3], region)
    items, _ = prepare_training_items([(image, lab)])
    assert items[0][3] is None
    with pytest.raises(ValueError, match="region shape"):
        prepare_training_items([(image, lab, region[:10])])
    with pytest.raises(ValueError, match="no cells inside the regions"):
        empty = np.zeros_like(region)
        empty[30:40, 50:60] = True                                  # a region without any cell
        prepare_training_items([(image, lab, empty)])
    # a region in the top rows only: the validation strip is cut where the region is
    top = np.zeros_like(region)
    top[:60] = True
    train, val, note = split_items([("a", image[None], lab, top)], 0.25, np.random.default_rng(0))
    assert note == "held-out part of the training image"
    assert train[0][3].sum() + val[0][3].sum() == top.sum()
    assert val[0][3].sum() == pytest.approx(0.25 * top.sum(), abs=64)


def test_training_on_partial_labels_is_not_pushed_to_background():
    """The left quarter of a field is labelled (the region); every cell reaching the other three quarters is
    erased. With the region the U-Net still finds those cells; without it, it learns they are background."""
    image, gt = load_sample("nuclei_train")
    image, gt = image[:192, :192], gt[:192, :192]
    region = np.zeros(gt.shape, bool)
    region[:, :48] = True
    erased = np.where(np.isin(gt, np.unique(gt[:, 48:])), 0, gt)
    unlabelled = [i for i in np.unique(gt[:, 48:]) if i and not (gt[:, :48] == i).any()]
    assert len(unlabelled) >= 15

    def found(item):
        ckpt = train_unet([item], base=8, depth=2, patch_size=64, batch_size=4, epochs=1, steps_per_epoch=100,
                          learning_rate=3e-3, val_fraction=0, device="cpu", seed=0)
        pred = predict_unet(ckpt, image, device="cpu")
        return np.mean([(pred[gt == i] > 0).mean() > 0.5 for i in unlabelled])

    with_region, without = found((image, erased, region)), found((image, erased))
    # (0.86 against 0.32 with the warm-up + cosine schedule; 100 steps at a constant rate gave 0.2 without)
    assert with_region >= 0.6 and without <= 0.4 and with_region - without >= 0.4
