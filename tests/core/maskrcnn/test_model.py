"""Mask R-CNN models, training and checkpoints on tiny synthetic data (no network, a few seconds each)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_segsuite.core import synthetic_nuclei  # noqa: E402
from napari_segsuite.core.maskrcnn import (  # noqa: E402
    build_maskrcnn, iter_train_maskrcnn, load_maskrcnn_checkpoint, model_from_checkpoint, predict_maskrcnn,
    save_maskrcnn_checkpoint, train_maskrcnn,
)
from napari_segsuite.core.maskrcnn.targets import masks_to_targets  # noqa: E402

TINY = {"width": 8, "fpn_channels": 16, "representation_size": 32, "mask_head_channels": 16}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    import torchvision.models._api as api

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(api, "load_state_dict_from_url", refuse)


def _tiny_data(seed=0, shape=(96, 96)):
    return synthetic_nuclei(shape, 8, seed=seed)


def test_tiny_model_forward_backward_on_synthetic_cells():
    torch.manual_seed(0)
    image, labels = _tiny_data()
    model = build_maskrcnn({**TINY, "in_channels": 1})
    t = masks_to_targets(labels)
    target = {"boxes": torch.from_numpy(t["boxes"]), "labels": torch.from_numpy(t["labels"]),
              "masks": torch.from_numpy(t["masks"])}
    x = torch.from_numpy(image.astype(np.float32) / image.max())[None]
    losses = model([x], [target])
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"}
    loss = sum(losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    assert model.backbone.body.conv1.weight.grad.abs().sum() > 0
    assert model.roi_heads.mask_predictor.mask_fcn_logits.weight.grad.abs().sum() > 0
    # an image without cells is a valid training example too
    empty = {"boxes": torch.zeros((0, 4)), "labels": torch.zeros((0,), dtype=torch.int64),
             "masks": torch.zeros((0, 96, 96), dtype=torch.uint8)}
    assert torch.isfinite(sum(model([x * 0], [empty]).values()))
    model.eval()
    with torch.no_grad():
        out = model([x])[0]
    assert set(out) == {"boxes", "labels", "scores", "masks"}
    assert out["masks"].shape[1:] == (1, 28, 28)        # per-box masks, not pasted into the tile


def test_architectures_build_without_download_and_pretrained_needs_network():
    big = build_maskrcnn({"backbone": "resnet50_fpn_v2", "in_channels": 2, "num_classes": 3})
    assert big.backbone.body.conv1.in_channels == 2
    assert big.roi_heads.box_predictor.cls_score.out_features == 3
    assert big.rpn.anchor_generator.sizes == ((8,), (16,), (32,), (64,), (128,))
    slim = build_maskrcnn({"in_channels": 3})
    from napari_segsuite.core.maskrcnn.model import count_parameters

    assert count_parameters(slim) < count_parameters(big) / 5
    with pytest.raises(ValueError, match="could not be downloaded"):
        build_maskrcnn({"backbone": "resnet50_fpn_v2", "in_channels": 3, "pretrained": True})
    with pytest.raises(ValueError, match="3-channel"):
        build_maskrcnn({"backbone": "resnet50_fpn_v2", "in_channels": 1, "pretrained": True})
    with pytest.raises(ValueError, match="no pretrained weights"):
        build_maskrcnn({"pretrained": True})
    with pytest.raises(ValueError, match="unknown backbone"):
        build_maskrcnn({"backbone": "vgg"})


def _silent_model(in_channels=1):
    """A model whose classifier always says 'background': it must find nothing."""
    model = build_maskrcnn({**TINY, "in_channels": in_channels})
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.bias[:] = torch.tensor([100.0, -100.0])
    return model.eval()


def test_empty_output_is_empty_labels_not_an_error():
    labels, table = predict_maskrcnn(_silent_model(), np.zeros((70, 90), np.uint16), device="cpu")
    assert labels.shape == (70, 90) and labels.dtype == np.int32 and not labels.any()
    assert all(len(v) == 0 for v in table.values()) and set(table) == {"label", "score", "class"}
    stack, t3 = predict_maskrcnn(_silent_model(), np.zeros((2, 40, 40), np.float32), device="cpu")
    assert stack.shape == (2, 40, 40) and not stack.any() and "plane" in t3


def test_training_yields_progress_and_returns_a_usable_checkpoint(tmp_path):
    image, labels = _tiny_data()
    events = []
    gen = iter_train_maskrcnn([(image, labels)], config=TINY, epochs=2, steps_per_epoch=2, batch_size=1,
                              patch_size=64, device="cpu", checkpoint_path=tmp_path / "m.pt")
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            ckpt = stop.value
            break
    assert [e.step for e in events] == [1, 2, 2, 3, 4, 4] and events[-1].total == 4
    assert all(set(e.info) == {"epoch", "loss", "val_ap50", "epoch_end"} for e in events)
    assert events[0].info["val_ap50"] is None and 0.0 <= events[-1].info["val_ap50"] <= 1.0
    assert ckpt["kind"] == "maskrcnn" and ckpt["history"]["epoch"] == [1, 2]
    assert ckpt["config"]["in_channels"] == 1 and ckpt["config"]["num_classes"] == 2
    loaded = load_maskrcnn_checkpoint(tmp_path / "m.pt")
    for key, value in ckpt["state_dict"].items():
        assert torch.equal(value, loaded["state_dict"][key])
    a = predict_maskrcnn(ckpt, image, device="cpu", score_threshold=0.0)
    b = predict_maskrcnn(tmp_path / "m.pt", image, device="cpu", score_threshold=0.0)
    np.testing.assert_array_equal(a[0], b[0])
    assert not list(tmp_path.glob(".*part"))           # atomic write left no temporary file


def test_training_from_a_dataset_folder_with_classes_and_empty_masks(tmp_path):
    from napari_segsuite.core import export_dataset

    image, labels = _tiny_data(1)
    rgb = np.stack([image // 256] * 3, -1).astype(np.uint8)
    items = [("a", rgb, labels), ("b", rgb[::-1], labels[::-1]), ("blank", rgb * 0, labels * 0)]
    path = export_dataset(tmp_path / "ds", items)
    ckpt = train_maskrcnn(path, config=TINY, epochs=1, steps_per_epoch=1, batch_size=2, patch_size=64,
                          device="cpu")
    assert ckpt["config"]["in_channels"] == 3
    assert ckpt["history"]["validation"] == "held-out training items"
    # classes from a features table
    feats = {"index": np.arange(labels.max() + 1), "class": np.r_[0, (np.arange(labels.max()) % 3) + 1]}
    ckpt3 = train_maskrcnn([(image, labels, feats)], config=TINY, epochs=1, steps_per_epoch=1, batch_size=1,
                           patch_size=64, device="cpu")
    assert ckpt3["config"]["num_classes"] == 4
    assert model_from_checkpoint(ckpt3).roi_heads.box_predictor.cls_score.out_features == 4


def test_training_refuses_bad_data():
    image, labels = _tiny_data()
    with pytest.raises(ValueError, match="every training mask is empty"):
        train_maskrcnn([(image, labels * 0)], config=TINY, epochs=1, steps_per_epoch=1, device="cpu")
    with pytest.raises(ValueError, match="does not match labels shape"):
        train_maskrcnn([(image[:50], labels)], config=TINY, device="cpu")
    with pytest.raises(ValueError, match="boolean"):
        train_maskrcnn([(image, labels > 0)], config=TINY, device="cpu")
    with pytest.raises(ValueError, match="channel"):
        train_maskrcnn([(image, labels), (np.stack([image] * 3, -1), labels)], config=TINY, device="cpu")
    with pytest.raises(FileNotFoundError):
        train_maskrcnn("/nonexistent/dataset", device="cpu")
    with pytest.raises(ValueError, match="not available"):
        train_maskrcnn([(image, labels)], device="cuda:7")


def test_checkpoint_refusals(tmp_path):
    model = build_maskrcnn(TINY)
    from napari_segsuite.core.maskrcnn.checkpoint import make_checkpoint

    good = make_checkpoint(model, {"method": "percentile", "low": 1.0, "high": 99.8})
    with pytest.raises(FileNotFoundError):
        load_maskrcnn_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a model" * 10)
    with pytest.raises(ValueError, match="not a readable"):
        load_maskrcnn_checkpoint(corrupt)
    truncated = tmp_path / "truncated.pt"
    save_maskrcnn_checkpoint(truncated, good)
    truncated.write_bytes(truncated.read_bytes()[:5000])
    with pytest.raises(ValueError, match="not a readable"):
        load_maskrcnn_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, foreign)       # a pickled module: refused, never run
    with pytest.raises(ValueError, match="refused for safety|not a readable"):
        load_maskrcnn_checkpoint(foreign)
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(3)}, plain)
    with pytest.raises(ValueError, match="not a napari-segsuite model"):
        load_maskrcnn_checkpoint(plain)
    unet = tmp_path / "unet.pt"
    torch.save({**good, "kind": "unet"}, unet)
    with pytest.raises(ValueError, match="'unet' model, not a Mask R-CNN"):
        load_maskrcnn_checkpoint(unet)
    with pytest.raises(ValueError, match="'unet' model"):
        predict_maskrcnn(unet, np.zeros((32, 32)), device="cpu")
    wrong = {**good, "config": {**good["config"], "width": 16}}
    with pytest.raises(ValueError, match="do not fit"):
        model_from_checkpoint(wrong)


def test_init_from_a_checkpoint_of_another_kind_is_refused_clearly():
    """``init`` as an already loaded dict is checked like a file (a U-Net dict gave a KeyError before)."""
    from napari_segsuite.core import load_sample, sample_path
    from napari_segsuite.core.training.checkpoint import open_checkpoint

    image, labels = load_sample("nuclei_train")
    unet = open_checkpoint(sample_path("unet_nuclei.pt"))
    with pytest.raises(ValueError, match="'unet' model, not a Mask R-CNN"):
        train_maskrcnn([(image[:128, :128], labels[:128, :128])], init=unet, epochs=1, steps_per_epoch=1,
                       device="cpu")
