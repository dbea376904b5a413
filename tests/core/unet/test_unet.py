"""U-Net: training overfits a known image, tiling is exact, checkpoints are safe, bad inputs are refused."""

from __future__ import annotations


import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_segsuite.core.metrics import average_precision  # noqa: E402
from napari_segsuite.core.progress import run  # noqa: E402
from napari_segsuite.core.unet import (build_unet, iter_train_unet, load_checkpoint, predict_probabilities,  # noqa: E402
                                       predict_unet, probabilities_to_instances, save_checkpoint, train_unet)
from napari_segsuite.core.unet.augment import Augmenter  # noqa: E402
from napari_segsuite.core.unet.model import receptive_margin  # noqa: E402

TINY = dict(base=8, depth=2, patch_size=64, batch_size=2, device="cpu")


def discs(shape=(64, 64), centers=((14, 14), (14, 46), (46, 20), (44, 48)), r=8, seed=0):
    """Bright discs of radius r on a noisy background: the known answer is the discs."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    lab = np.zeros(shape, np.int32)
    for i, (cy, cx) in enumerate(centers):
        lab[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = i + 1
    rng = np.random.default_rng(seed)
    img = (100 + 800 * (lab > 0) + rng.normal(0, 40, shape)).clip(0).astype(np.uint16)
    return img, lab


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny U-Net overfitted on the discs image, saved to a file."""
    img, lab = discs()
    ckpt = train_unet([(img, lab)], epochs=1, steps_per_epoch=20, learning_rate=3e-3, augment=False,
                      val_fraction=0,
                      seed=0, **TINY)
    path = tmp_path_factory.mktemp("unet") / "discs.pt"
    save_checkpoint(path, kind="unet", **{k: ckpt[k] for k in ("config", "normalization", "state_dict", "history")})
    return path, ckpt


def random_checkpoint(in_channels=1, depth=2, seed=0, n_classes=2):
    torch.manual_seed(seed)
    net = build_unet(dict(in_channels=in_channels, n_classes=n_classes, base=4, depth=depth, batch_norm=True,
                          upsample="transpose"))
    # non-trivial batch-norm statistics
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return {"format": "segsuite-model", "version": 1, "kind": "unet", "config": net.config,
            "normalization": {"method": "percentile", "low": 1.0, "high": 99.8},
            "state_dict": net.state_dict(), "history": {}}


# ----------------------------------------------------------------------------------------- training
def test_overfits_known_discs(trained):
    path, ckpt = trained
    img, lab = discs()
    pred = predict_unet(path, img, device="cpu")
    assert pred.dtype == np.int32 and pred.shape == lab.shape
    ap = average_precision(lab, pred, thresholds=(0.5, 0.75))["ap"]
    assert ap[0] == 1.0 and ap[1] >= 0.75
    assert ckpt["config"] == dict(in_channels=1, n_classes=2, base=8, depth=2, batch_norm=True, upsample="transpose")
    assert len(ckpt["history"]["loss"]) == 1


def test_image_without_cells_gives_empty_labels(trained):
    path, ckpt = trained
    assert 50 < ckpt["normalization"]["min_range"][0] < 100  # a tenth of the discs' contrast (~800)
    img = np.full((64, 80), 100, np.uint16) + np.random.default_rng(1).integers(0, 40, (64, 80)).astype(np.uint16)
    labels, prob = predict_unet(path, img, device="cpu", return_probabilities=True)
    assert labels.max() == 0
    assert prob.shape == (64, 80) and prob.dtype == np.float32 and prob.max() < 0.5


def test_float_and_16bit_images_give_the_same_labels(trained):
    path, _ = trained
    img, lab = discs(seed=5)
    a = predict_unet(path, img, device="cpu")
    b = predict_unet(path, img.astype(np.float32), device="cpu")
    assert np.array_equal(a, b)
    assert average_precision(lab, a, (0.5,))["ap"][0] == 1.0


def test_image_smaller_than_a_tile_and_odd_sizes(trained):
    path, _ = trained
    img, lab = discs(shape=(37, 29), centers=((15, 14),), r=8)
    pred = predict_unet(path, img, device="cpu", tile_size=512)
    assert pred.shape == (37, 29)
    assert average_precision(lab, pred, (0.5,))["ap"][0] == 1.0


def test_stack_is_predicted_plane_by_plane(trained):
    path, _ = trained
    planes = [discs(seed=s) for s in range(3)]
    stack = np.stack([p[0] for p in planes])
    labels = predict_unet(path, stack, device="cpu")
    assert labels.shape == (3, 64, 64)
    single = predict_unet(path, stack[1], device="cpu")
    assert np.array_equal(labels[1] > 0, single > 0)
    ids = [set(np.unique(plane)) - {0} for plane in labels]
    assert not (ids[0] & ids[1]) and not (ids[1] & ids[2])  # unique ids across the stack
    assert sum(len(i) for i in ids) == 12


def test_labels_with_one_cell_train():
    img, lab = discs(centers=((30, 30),), r=10)
    ckpt = train_unet([(img, lab)], epochs=1, steps_per_epoch=2, val_fraction=0, seed=0, **TINY)
    assert np.isfinite(ckpt["history"]["loss"][0])


def test_rgb_and_multichannel_training_and_prediction():
    img, lab = discs()
    rgb = np.stack([img // 16, img // 32, np.full_like(img, 7)], axis=-1).astype(np.uint8)
    ckpt = train_unet([(rgb, lab)], epochs=1, steps_per_epoch=2, val_fraction=0, seed=0, **TINY)
    assert ckpt["config"]["in_channels"] == 3
    assert predict_unet(ckpt, rgb, device="cpu").shape == (64, 64)
    two = np.stack([img, img[::-1]], axis=0)  # channels first, given explicitly
    ck2 = train_unet([(two, lab)], epochs=1, steps_per_epoch=1, val_fraction=0, channel_axis=0, **TINY)
    assert ck2["config"]["in_channels"] == 2
    assert predict_unet(ck2, two, channel_axis=0, device="cpu").shape == (64, 64)
    with pytest.raises(ValueError, match="trained on 3 channel"):
        predict_unet(ckpt, img, device="cpu")
    with pytest.raises(ValueError, match="another number of channels"):
        train_unet([(img, lab)], init=ckpt, epochs=1, steps_per_epoch=1, device="cpu")


@pytest.mark.parametrize("image, labels, match", [
    (np.zeros((64, 64)), np.zeros((60, 64), int), "does not match"),
    (np.zeros((64, 64)), np.zeros((64, 64), int), "no cells"),
    (np.zeros((64, 64)), np.full((64, 64), 0.5), "fractional|integer"),
    (np.zeros((64, 64)), -np.ones((64, 64), int), ">= 0"),
    (np.full((64, 64), np.nan), discs()[1], "NaN"),
])
def test_bad_training_inputs_are_refused(image, labels, match):
    with pytest.raises(ValueError, match=match):
        train_unet([(image, labels)], epochs=1, steps_per_epoch=1, **TINY)


def test_bad_options_are_refused():
    img, lab = discs()
    with pytest.raises(ValueError, match="multiple of 4"):
        train_unet([(img, lab)], epochs=1, steps_per_epoch=1, **{**TINY, "patch_size": 66})
    with pytest.raises(ValueError, match="n_classes"):
        train_unet([(img, lab)], n_classes=4, **TINY)
    with pytest.raises(ValueError, match="device"):
        train_unet([(img, lab)], **{**TINY, "device": "tpu"})


def test_three_class_variant_trains_and_predicts():
    img, lab = discs()
    ckpt = train_unet([(img, lab)], n_classes=3, epochs=1, steps_per_epoch=2, val_fraction=0, **TINY)
    assert ckpt["config"]["n_classes"] == 3
    assert predict_probabilities(ckpt, img).shape == (3, 64, 64)


def test_validation_readout_and_early_stopping():
    img, lab = discs(shape=(96, 64), centers=((14, 14), (14, 46), (46, 20), (44, 48), (80, 30)))
    events = []
    ckpt = run(iter_train_unet([(img, lab)], epochs=5, steps_per_epoch=1, patience=1, learning_rate=1e-6, seed=0,
                               **TINY),
               progress=events.append)
    ends = [e for e in events if e.info.get("epoch_end")]
    assert set(ends[0].info) >= {"epoch", "loss", "val_iou", "val_ap50"}
    assert 0.0 <= ends[0].info["val_iou"] <= 1.0 and 0.0 <= ends[0].info["val_ap50"] <= 1.0
    assert len(ends) < 5  # lr ~ 0: no improvement, stopped by patience
    assert len(ckpt["history"]["val_ap50"]) == len(ends)


def test_seed_makes_training_reproducible():
    img, lab = discs()
    a = train_unet([(img, lab)], epochs=1, steps_per_epoch=2, val_fraction=0, seed=7, **TINY)
    b = train_unet([(img, lab)], epochs=1, steps_per_epoch=2, val_fraction=0, seed=7, **TINY)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_cancel_mid_epoch_keeps_last_checkpoint_and_resume(tmp_path):
    img, lab = discs()
    path = tmp_path / "model.pt"
    gen = iter_train_unet([(img, lab)], epochs=3, steps_per_epoch=3, val_fraction=0, checkpoint_path=path, seed=0,
                          **TINY)
    for event in gen:
        if event.info["epoch"] == 2 and not event.info.get("epoch_end") and event.step == 4:
            break  # cancelled in the middle of epoch 2
    before = path.read_bytes()
    gen.close()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left
    ckpt = load_checkpoint(path)
    assert ckpt["resume"]["epoch"] == 1 and len(ckpt["history"]["loss"]) == 1
    resumed = train_unet([(img, lab)], resume=path, epochs=2, steps_per_epoch=3, val_fraction=0, seed=0,
                         device="cpu", checkpoint_path=path)
    assert len(resumed["history"]["loss"]) == 2 and load_checkpoint(path)["resume"]["epoch"] == 2


# ----------------------------------------------------------------------------------------- inference
@pytest.mark.parametrize("depth, shape, tile", [(2, (157, 203), 96), (3, (131, 250), 128)])
def test_tiled_equals_whole_image_away_from_border(depth, shape, tile):
    ckpt = random_checkpoint(depth=depth, seed=depth)
    rng = np.random.default_rng(0)
    img = rng.gamma(2.0, 100.0, shape).astype(np.float32)
    tiled = predict_probabilities(ckpt, img, tile_size=tile)
    whole = predict_probabilities(ckpt, img, tiled=False)
    m = receptive_margin(depth)
    assert tiled.shape == whole.shape == (2,) + shape
    assert np.abs(tiled - whole)[:, m:-m, m:-m].max() < 1e-4
    np.testing.assert_allclose(tiled.sum(0), 1.0, atol=1e-5)


def test_receptive_margin_bounds_the_measured_influence():
    for depth in (2, 3):
        net = build_unet(random_checkpoint(depth=depth)["config"]).eval()
        x = torch.zeros(1, 1, 192, 192)
        with torch.no_grad():
            a = net(x)
            x[0, 0, 96, 96] = 10.0
            b = net(x)
        ys, xs = np.nonzero((a - b).abs().amax(1)[0].numpy() > 0)
        reach = max(96 - ys.min(), ys.max() - 96, 96 - xs.min(), xs.max() - 96)
        assert 0 < reach <= receptive_margin(depth)


def test_invalid_tile_size_is_refused():
    ckpt = random_checkpoint(depth=2)
    with pytest.raises(ValueError, match="tile size"):
        predict_probabilities(ckpt, np.zeros((50, 50)), tile_size=40)
    with pytest.raises(ValueError, match="tile size"):
        predict_probabilities(ckpt, np.zeros((50, 50)), tile_size=98)


def test_zarr_and_dask_input_match_numpy(tmp_path):
    zarr = pytest.importorskip("zarr")
    da = pytest.importorskip("dask.array")
    ckpt = random_checkpoint(depth=2)
    img = np.random.default_rng(2).gamma(2.0, 100.0, (2, 150, 170)).astype(np.float32)
    ref_labels, ref_prob = predict_unet(ckpt, img, tile_size=96, return_probabilities=True, min_size=1)
    z = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=img.shape, chunks=(1, 64, 64), dtype="f4")
    z[:] = img
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="w", shape=img.shape, chunks=(1, 64, 64), dtype="u4")
    prob_out = zarr.open_array(str(tmp_path / "prob.zarr"), mode="w", shape=img.shape, chunks=(1, 64, 64), dtype="f4")
    predict_unet(ckpt, z, tile_size=96, out=out, prob_out=prob_out, return_probabilities=True, min_size=1)
    assert np.array_equal(out[:], ref_labels) and np.array_equal(prob_out[:], ref_prob)
    d = predict_unet(ckpt, da.from_array(img, chunks=(1, 50, 50)), tile_size=96, min_size=1)
    assert np.array_equal(d, ref_labels)


def test_predict_refuses_bad_images():
    ckpt = random_checkpoint()
    with pytest.raises(ValueError, match="NaN"):
        predict_unet(ckpt, np.full((40, 40), np.nan, np.float32))
    with pytest.raises(ValueError, match="empty"):
        predict_unet(ckpt, np.zeros((0, 40)))
    with pytest.raises(ValueError, match="shape"):
        predict_unet(ckpt, np.zeros(40))
    with pytest.raises(ValueError, match="out has shape"):
        predict_unet(ckpt, np.zeros((40, 40)), out=np.zeros((40, 41), np.int32))


# ----------------------------------------------------------------------------------------- post-processing
def test_probabilities_to_instances_known_answer():
    prob = np.zeros((2, 40, 40), np.float32)
    prob[1, 2:10, 2:10] = 1.0     # 64 px
    prob[1, 20:30, 5:35] = 1.0    # 300 px
    prob[1, 35:37, 35:37] = 1.0   # 4 px: removed by min_size
    prob[0] = 1.0 - prob[1]
    labels = probabilities_to_instances(prob, min_size=10)
    assert labels.max() == 2 and (labels == 1).sum() == 64 and (labels == 2).sum() == 300
    # two overlapping discs joined by a neck: connected components give one, the watershed two
    yy, xx = np.mgrid[:40, :60]
    fg = ((yy - 20) ** 2 + (xx - 18) ** 2 <= 100) | ((yy - 20) ** 2 + (xx - 36) ** 2 <= 100)
    prob = np.stack([1.0 - fg, fg]).astype(np.float32)
    assert probabilities_to_instances(prob).max() == 1
    assert probabilities_to_instances(prob, watershed=True, min_distance=5).max() == 2


def test_augmentation_moves_image_labels_and_weights_together():
    lab = np.zeros((80, 90), np.int32)
    lab[10:30, 15:25], lab[50:70, 40:80] = 1, 2
    image = lab[None].astype(np.float32)
    weights = lab.astype(np.float32) + 1.0
    aug = Augmenter(48, elastic=0.0, intensity=0.0, noise=0.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        img, la, w = aug(rng, image, lab, weights)
        assert img.shape == (1, 48, 48) and np.array_equal(img[0], la) and np.array_equal(w, la + 1.0)
    elastic = Augmenter(48, elastic=1.0, intensity=0.0, noise=0.0)
    img, la, w = elastic(rng, image, lab, weights)
    assert set(np.unique(la)) <= {0, 1, 2}
    assert np.abs(img[0] - la).mean() < 0.1  # linear vs nearest resampling differ only at edges


# ----------------------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_is_exact_and_opens_with_weights_only(trained, tmp_path):
    path, ckpt = trained
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "segsuite-model" and raw["kind"] == "unet" and raw["version"] == 1
    loaded = load_checkpoint(path)
    assert loaded["config"] == ckpt["config"] and loaded["normalization"] == ckpt["normalization"]
    assert all(torch.equal(loaded["state_dict"][k], ckpt["state_dict"][k]) for k in ckpt["state_dict"])
    again = save_checkpoint(tmp_path / "again.pt", kind="unet", **{k: loaded[k] for k in
                            ("config", "normalization", "state_dict", "history")})
    img, _ = discs(seed=3)
    assert np.array_equal(predict_unet(again, img), predict_unet(ckpt, img))


class _Foreign:
    def __reduce__(self):
        return (print, ("this would run",))


@pytest.mark.parametrize("content, match", [
    (b"", "not a readable"),
    (b"garbage bytes, not a torch file" * 10, "not a readable"),
    ("foreign-pickle", "could run code"),
    ("plain-dict", "not a napari-segsuite model"),
    ("newer", "newer"),
    ("truncated", "not a readable"),
])
def test_corrupt_or_foreign_checkpoints_are_refused(trained, tmp_path, content, match):
    path = tmp_path / "bad.pt"
    if content == "foreign-pickle":
        torch.save({"state_dict": _Foreign()}, path)
    elif content == "plain-dict":
        torch.save({"weights": torch.zeros(3)}, path)
    elif content == "newer":
        data = torch.load(trained[0], weights_only=True)
        data["version"] = 99
        torch.save(data, path)
    elif content == "truncated":
        path.write_bytes(trained[0].read_bytes()[:5000])
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_checkpoint(path)
    with pytest.raises(ValueError):
        predict_unet(path, np.zeros((32, 32)))


def test_checkpoint_of_another_kind_or_missing(trained, tmp_path):
    data = torch.load(trained[0], weights_only=True)
    data["kind"] = "maskrcnn"
    torch.save(data, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="'maskrcnn' model, not a 'unet'"):
        load_checkpoint(tmp_path / "m.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_predict_checkpoint_dispatches_by_kind(trained, tmp_path):
    from napari_segsuite.core.predict import predict_checkpoint

    path, _ = trained
    img, lab = discs()
    assert np.array_equal(predict_checkpoint(path, img, device="cpu"), predict_unet(path, img, device="cpu"))
    data = torch.load(path, weights_only=True)
    data["kind"] = "hologram"
    torch.save(data, tmp_path / "h.pt")
    with pytest.raises(ValueError, match="unknown model kind 'hologram'"):
        predict_checkpoint(tmp_path / "h.pt", img)


def test_touching_cells_are_separated_for_training_and_restored_after():
    from scipy import ndimage as ndi

    from napari_segsuite.core.unet.postprocess import fill_contact_gaps
    from napari_segsuite.core.unet.train import separate_touching

    lab = np.zeros((20, 40), np.int32)
    lab[2:12, 2:12], lab[2:12, 12:22] = 1, 2   # touching along a vertical line
    lab[14:18, 30:38] = 3                       # alone
    sep = separate_touching(lab)
    assert np.array_equal(sep == 0, (lab == 0) | np.isin(np.arange(40), [11, 12])[None, :] & (lab > 0))
    assert (sep == 3).sum() == (lab == 3).sum()  # cells touching nothing keep every pixel
    comps, n = ndi.label(sep > 0)
    assert n == 3
    assert np.array_equal(fill_contact_gaps(comps), _relabel_like(lab, comps))  # the gap is given back exactly


def _relabel_like(lab, comps):
    """``lab`` with the ids ``comps`` gave to the same cells."""
    out = np.zeros_like(lab)
    for i in range(1, lab.max() + 1):
        ids = np.unique(comps[(lab == i) & (comps > 0)])
        out[lab == i] = ids[0]
    return out
