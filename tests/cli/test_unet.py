"""`segsuite train unet` / `segsuite predict`, and the shipped sample U-Net."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_segsuite.cli import main  # noqa: E402
from napari_segsuite.core.io import read_image, write_tiff  # noqa: E402
from napari_segsuite.core.metrics import average_precision  # noqa: E402

TINY_ARGS = ["--epochs", "1", "--steps-per-epoch", "2", "--base", "8", "--depth", "2", "--patch-size", "64",
             "--batch-size", "2", "--device", "cpu", "--val-fraction", "0"]


def _discs(seed=0):
    yy, xx = np.mgrid[:64, :64]
    lab = np.zeros((64, 64), np.uint16)
    for i, (cy, cx) in enumerate(((14, 14), (14, 46), (46, 20), (44, 48))):
        lab[(yy - cy) ** 2 + (xx - cx) ** 2 <= 64] = i + 1
    img = (100 + 800 * (lab > 0) + np.random.default_rng(seed).normal(0, 40, lab.shape)).clip(0).astype(np.uint16)
    return img, lab


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_train_then_predict_files_folders_and_zarr(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for k in range(2):
        img, lab = _discs(k)
        write_tiff(data / f"cells{k}.tif", img)
        write_tiff(data / f"cells{k}_masks.tif", lab)
    model = tmp_path / "model.pt"
    assert main(["train", "unet", str(data), "-o", str(model), *TINY_ARGS]) == 0
    assert "wrote" in capsys.readouterr().out
    ckpt = torch.load(model, weights_only=True)
    assert ckpt["kind"] == "unet" and ckpt["config"]["base"] == 8 and ckpt["resume"]["epoch"] == 1

    out = tmp_path / "pred.tif"
    assert main(["predict", str(model), str(data / "cells0.tif"), "-o", str(out), "--device", "cpu",
                 "--probabilities"]) == 0
    labels = read_image(out)
    assert labels.shape == (64, 64) and labels.dtype.kind == "u"
    prob = read_image(tmp_path / "pred_prob.tif")
    assert prob.dtype == np.float32 and prob.shape == (64, 64)

    folder = tmp_path / "preds"
    assert main(["predict", str(model), str(data), "-o", str(folder), "--device", "cpu"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["cells0_masks.tif", "cells1_masks.tif"]
    assert np.array_equal(read_image(folder / "cells0_masks.tif"), labels)

    zarr = pytest.importorskip("zarr")
    zin = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=(64, 64), chunks=(32, 32), dtype="u2")
    zin[:] = _discs(0)[0]
    assert main(["predict", str(model), str(tmp_path / "in.zarr"), "-o", str(tmp_path / "out.zarr"),
                 "--device", "cpu"]) == 0
    assert np.array_equal(zarr.open_array(str(tmp_path / "out.zarr"), mode="r")[:], labels)


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    img, _ = _discs()
    write_tiff(tmp_path / "img.tif", img)
    assert main(["predict", str(bad), str(tmp_path / "img.tif"), "-o", str(tmp_path / "o.tif")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("segsuite predict: error:") and "not a readable" in err and "\n" not in err
    assert main(["train", "unet", str(tmp_path / "missing"), "-o", str(tmp_path / "m.pt")]) == 2
    assert "no such dataset" in capsys.readouterr().err
    assert main(["predict", str(bad), str(tmp_path / "img.tif"), str(tmp_path / "img.tif"), "-o",
                 str(tmp_path / "o.tif")]) == 2


def test_sample_model_segments_the_test_field():
    from napari_segsuite.core.samples import load_sample, sample_path
    from napari_segsuite.core.unet import load_checkpoint, predict_unet

    ckpt = load_checkpoint(sample_path("unet_nuclei.pt"))
    assert ckpt["config"]["base"] == 16 and ckpt["config"]["depth"] == 3 and "resume" not in ckpt
    assert sample_path("unet_nuclei.pt").stat().st_size < 5e6
    image, gt = load_sample("nuclei_test")
    pred = predict_unet(ckpt, image, device="cpu")
    assert average_precision(gt, pred, thresholds=(0.5,))["ap"][0] >= 0.85  # 0.909 measured
