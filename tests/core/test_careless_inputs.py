"""Careless inputs to the core API and the CLI that used to give a wrong result, a confusing error or a loss.

Each test has a known answer: a channels-last image is not a stack, a folder output stays a folder, a
prediction never lands on ground-truth masks, odd but valid boxes, ids and thresholds behave.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_segsuite.cli import main
from napari_segsuite.core import (average_precision, export_dataset, grabcut, looks_channels_last,
                                  merge_superpixels, slic_superpixels)
from napari_segsuite.core.io import read_image, write_tiff
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


@pytest.mark.parametrize("shape, expected", [
    ((64, 64, 3), True), ((64, 64, 4), True), ((64, 64, 2), True), ((64, 64, 1), True), ((5, 64, 64, 2), True),
    ((3, 64, 64), False), ((64, 64, 5), False), ((8, 8, 3), False), ((64, 64), False), ((64, 6, 2), False),
])
def test_looks_channels_last(shape, expected):
    assert looks_channels_last(shape) is expected


def _two_channel():
    image, _ = synthetic_nuclei((64, 64), n_nuclei=6, seed=0)
    gray = (image / image.max() * 255).astype(np.uint8)
    return np.stack([gray, 255 - gray], axis=-1)


def test_slic_refuses_a_two_channel_image_without_channel_axis():
    image = _two_channel()
    with pytest.raises(ValueError, match="2-channel image; pass channel_axis=-1"):
        slic_superpixels(image, n_segments=20)
    assert slic_superpixels(image, n_segments=20, channel_axis=-1).shape == (64, 64)


@pytest.mark.parametrize("verb", ["superpixels", "grabcut"])
def test_cli_reads_a_two_channel_image_as_one_plane(verb, tmp_path, capsys):
    write_tiff(tmp_path / "two.tif", _two_channel())
    extra = ["--n-segments", "20"] if verb == "superpixels" else ["--box", "10,10,40,40"]
    assert main([verb, str(tmp_path / "two.tif"), "-o", str(tmp_path / "out.tif"), *extra]) == 0
    assert read_image(tmp_path / "out.tif").shape == (64, 64)  # not 64 planes 2 pixels wide


def _disc(n):
    yy, xx = np.mgrid[:n, :n]
    disc = (yy - n / 2 + 0.5) ** 2 + (xx - n / 2 + 0.5) ** 2 < (n / 4) ** 2
    return np.where(disc, 200.0, 20.0) + np.random.default_rng(0).normal(0, 2, (n, n)), disc


def test_grabcut_box_over_the_whole_image_finds_the_object():
    image, disc = _disc(20)
    np.testing.assert_array_equal(grabcut(image, (0, 0, 20, 20)), disc)


def test_grabcut_box_over_a_whole_tiny_image_gives_a_mask_not_an_internal_error():
    # 8x8: the first cut takes everything, leaving no background to refit (was "samples must be non-empty")
    image, disc = _disc(8)
    mask = grabcut(image, (0, 0, 8, 8))
    assert mask.shape == (8, 8) and mask[disc].all()


def test_grabcut_box_full_of_background_scribbles_gives_an_empty_mask():
    image, _ = _disc(40)
    mask = grabcut(image, (5, 5, 35, 35), trimap=np.full(image.shape, 2, np.uint8))
    assert mask.shape == image.shape and not mask.any()


def test_merge_superpixels_with_sparse_huge_ids_equals_sequential_ids():
    image, _ = synthetic_nuclei((64, 64), n_nuclei=6, seed=0)
    sp = slic_superpixels(image, n_segments=50)
    expected = merge_superpixels(image, sp, 200.0)
    huge = sp.astype(np.int64) * 2**36  # a 2**36 * 50 entry table would need terabytes
    np.testing.assert_array_equal(merge_superpixels(image, huge, 200.0), expected)


def test_average_precision_thresholds_are_checked():
    gt = np.zeros((8, 8), int)
    gt[1:4, 1:4] = 1
    assert average_precision(gt, gt, thresholds=0.5)["ap"] == [1.0]
    for bad, match in (((), "at least one"), ((1.5,), r"\[0, 1\)"), ((float("nan"),), r"\[0, 1\)"),
                       ((-0.1,), r"\[0, 1\)"), (("half",), "numbers")):
        with pytest.raises(ValueError, match=match):
            average_precision(gt, gt, thresholds=bad)


def test_export_refuses_an_unknown_weight_map_option_and_writes_nothing(tmp_path):
    image, labels = synthetic_nuclei((32, 32), n_nuclei=3, seed=0)
    with pytest.raises(ValueError, match="unknown option.*w00"):
        export_dataset(tmp_path / "ds", [("a", image, labels)], weight_map={"w00": 3})
    assert not (tmp_path / "ds").exists()


def test_evaluate_folders_says_which_images_were_left_out(tmp_path, capsys):
    _, labels = synthetic_nuclei((32, 32), n_nuclei=3, seed=0)
    for folder, names in (("gt", ("a_masks", "b_masks", "c_masks")), ("pred", ("a", "b", "zzz"))):
        (tmp_path / folder).mkdir()
        for name in names:
            write_tiff(tmp_path / folder / f"{name}.tif", labels.astype(np.uint16))
    assert main(["evaluate", str(tmp_path / "gt"), str(tmp_path / "pred"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert [r["name"] for r in json.loads(out)] == ["a", "b"]
    assert err.strip() == ("segsuite evaluate: note: not evaluated: 1 ground-truth image(s) have no prediction (c); "
                           "1 prediction(s) have no ground truth (zzz).")


# --- predict: where the labels go ------------------------------------------------------------------


@pytest.fixture
def unet_model():
    pytest.importorskip("torch")
    from napari_segsuite.core.samples import sample_path

    try:
        return sample_path("unet_nuclei.pt")
    except (ValueError, FileNotFoundError):
        pytest.skip("no sample U-Net in this checkout")


@pytest.fixture
def cellpose_folder(tmp_path):
    folder = tmp_path / "cells"
    folder.mkdir()
    image, labels = synthetic_nuclei((48, 48), n_nuclei=4, seed=0)
    write_tiff(folder / "a.tif", image)
    write_tiff(folder / "a_masks.tif", labels.astype(np.uint16))
    return folder


def test_predict_a_one_image_folder_writes_into_the_output_folder(unet_model, cellpose_folder, tmp_path, capsys):
    out = tmp_path / "preds"
    out.mkdir()
    assert main(["predict", str(unet_model), str(cellpose_folder), "-o", str(out), "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_masks.tif"]
    assert read_image(out / "a_masks.tif").shape == (48, 48)


def test_predict_one_file_into_an_existing_folder(unet_model, cellpose_folder, tmp_path, capsys):
    out = tmp_path / "preds"
    out.mkdir()
    assert main(["predict", str(unet_model), str(cellpose_folder / "a.tif"), "-o", str(out), "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_masks.tif"]


def test_predict_into_the_input_folder_keeps_the_ground_truth(unet_model, cellpose_folder, capsys):
    before = (cellpose_folder / "a_masks.tif").read_bytes()
    assert main(["predict", str(unet_model), str(cellpose_folder), "-o", str(cellpose_folder)]) == 2
    assert "ground-truth masks" in capsys.readouterr().err
    assert (cellpose_folder / "a_masks.tif").read_bytes() == before


def test_predict_two_inputs_with_one_name_are_refused(unet_model, cellpose_folder, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    write_tiff(other / "a.tif", read_image(cellpose_folder / "a.tif"))
    out = tmp_path / "preds"
    assert main(["predict", str(unet_model), str(cellpose_folder / "a.tif"), str(other / "a.tif"),
                 "-o", str(out)]) == 2
    assert "would both be written" in capsys.readouterr().err
    assert not out.exists()


def test_maskrcnn_training_refuses_a_crop_too_small_for_batch_norm(tmp_path):
    pytest.importorskip("torch")
    from napari_segsuite.core.maskrcnn.train import iter_train_maskrcnn

    # torch's own message was "Expected more than 1 value per channel when training", after loading the data
    with pytest.raises(ValueError, match="patch_size 32 with batch_size 1"):
        next(iter_train_maskrcnn(tmp_path / "no_data_needed", patch_size=32, batch_size=1, device="cpu"))


def test_ome_and_imagej_channel_axes_are_read_channels_last(tmp_path):
    import tifffile

    cyx = np.arange(3 * 16 * 20, dtype=np.uint16).reshape(3, 16, 20)
    zcyx = np.arange(4 * 2 * 16 * 20, dtype=np.uint16).reshape(4, 2, 16, 20)
    tifffile.imwrite(tmp_path / "a.ome.tif", cyx, metadata={"axes": "CYX"}, ome=True)
    tifffile.imwrite(tmp_path / "b.tif", cyx, imagej=True, metadata={"axes": "CYX"})
    tifffile.imwrite(tmp_path / "c.ome.tif", zcyx, metadata={"axes": "ZCYX"}, ome=True)
    tifffile.imwrite(tmp_path / "plain.tif", cyx)  # no axes recorded: a stack of three planes
    np.testing.assert_array_equal(read_image(tmp_path / "a.ome.tif"), np.moveaxis(cyx, 0, -1))
    np.testing.assert_array_equal(read_image(tmp_path / "b.tif"), np.moveaxis(cyx, 0, -1))
    np.testing.assert_array_equal(read_image(tmp_path / "c.ome.tif"), np.moveaxis(zcyx, 1, -1))
    np.testing.assert_array_equal(read_image(tmp_path / "plain.tif"), cyx)


def test_cli_grabcut_on_a_two_channel_ome_tiff_gives_one_plane(tmp_path, capsys):
    import tifffile

    yy, xx = np.mgrid[:60, :60]
    disc = (yy - 30) ** 2 + (xx - 30) ** 2 <= 100
    rng = np.random.default_rng(0)
    nuclei = (200 + 700 * disc + rng.normal(0, 30, disc.shape)).astype(np.uint16)
    membrane = (300 + rng.normal(0, 30, disc.shape)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "cells.ome.tif", np.stack([nuclei, membrane]), metadata={"axes": "CYX"}, ome=True)
    out = tmp_path / "out.tif"
    assert main(["grabcut", str(tmp_path / "cells.ome.tif"), "--box", "16,16,45,45", "-o", str(out)]) == 0
    labels = read_image(out)
    assert labels.shape == (60, 60)
    assert np.logical_and(labels == 1, disc).sum() / np.logical_or(labels == 1, disc).sum() > 0.9


@pytest.mark.parametrize("verb", ["weightmap", "evaluate", "export"])
def test_cli_refuses_a_colour_image_given_as_the_mask(verb, tmp_path, capsys):
    image, labels = synthetic_nuclei((64, 64), n_nuclei=5, seed=0)
    rgb = np.stack([image] * 3, axis=-1)
    write_tiff(tmp_path / "img.tif", image)
    write_tiff(tmp_path / "rgb.tif", rgb)
    write_tiff(tmp_path / "masks.tif", labels.astype(np.uint16))
    out = tmp_path / "out"
    argv = {"weightmap": ["weightmap", str(tmp_path / "rgb.tif"), "-o", str(out) + ".tif"],
            "evaluate": ["evaluate", str(tmp_path / "rgb.tif"), str(tmp_path / "masks.tif")],
            "export": ["export", str(tmp_path / "img.tif"), str(tmp_path / "rgb.tif"), "-o", str(out)]}[verb]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "looks like a colour or multichannel image (shape (64, 64, 3))" in err
    assert not (tmp_path / "out.tif").exists() and not out.exists()


def test_cli_notes_a_mask_without_background(tmp_path, capsys):
    image, labels = synthetic_nuclei((64, 64), n_nuclei=5, seed=0)
    write_tiff(tmp_path / "img.tif", image)  # the intensity image, given as ground truth by mistake
    write_tiff(tmp_path / "masks.tif", labels.astype(np.uint16))
    assert (image > 0).all()
    assert main(["evaluate", str(tmp_path / "img.tif"), str(tmp_path / "masks.tif")]) == 0
    err = capsys.readouterr().err
    assert "img.tif has no background (0) pixels; is it an intensity image rather than labels?" in err
    assert main(["evaluate", str(tmp_path / "masks.tif"), str(tmp_path / "masks.tif")]) == 0
    assert "no background" not in capsys.readouterr().err  # real labels: no note
