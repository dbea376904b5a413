"""export_dataset / load_dataset: bit-exact round trips for every layout, overwrite policy, failures."""

import json
import os

import numpy as np
import pytest

import napari_segsuite
from napari_segsuite.core import Cancelled, run
from napari_segsuite.core.dataset import export_dataset, iter_export_dataset, load_dataset
from napari_segsuite.core.io import write_tiff
from napari_segsuite.core.samples.synthetic import synthetic_nuclei

LAYOUTS = ["tiff", "ome-zarr", "coco"]


def _labels(shape, ids, seed=0):
    """Non-overlapping rectangles with the given ids (known answer: one rectangle per id)."""
    rng = np.random.default_rng(seed)
    lab = np.zeros(shape, np.int64)
    h, w = shape[-2:]
    for k, value in enumerate(ids):
        y, x = (k * 7) % (h - 6), (k * 11) % (w - 6)
        lab[..., y:y + 5, x:x + 5] = value
    return lab, rng


def _cases():
    rng = np.random.default_rng(42)
    lab2, _ = _labels((40, 56), [1, 2, 3, 7])
    big, _ = _labels((40, 56), [1, 65_535, 65_536, 1_000_000, 4_000_000_000])
    stack, _ = _labels((3, 24, 32), [1, 2, 300])
    return {
        "uint8_2d": (rng.integers(0, 256, (40, 56), dtype=np.uint8), lab2),
        "uint16_2d": (rng.integers(0, 65_536, (40, 56), dtype=np.uint16), lab2),
        "float32_2d": (rng.normal(size=(40, 56)).astype(np.float32), lab2),
        "rgb_uint8": (rng.integers(0, 256, (40, 56, 3), dtype=np.uint8), lab2),
        "rgba_uint8": (rng.integers(0, 256, (40, 56, 4), dtype=np.uint8), lab2),
        "rgb_uint16": (rng.integers(0, 65_536, (40, 56, 3), dtype=np.uint16), lab2),
        "two_channel_float32": (rng.random((40, 56, 2)).astype(np.float32), lab2),
        "ids_past_65535": (rng.integers(0, 65_536, (40, 56), dtype=np.uint16), big),
        "stack_uint16": (rng.integers(0, 65_536, (3, 24, 32), dtype=np.uint16), stack),
        "stack_float32": (rng.random((3, 24, 32)).astype(np.float32), stack),
    }


CASES = _cases()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_is_bit_exact(tmp_path, layout, case):
    image, labels = CASES[case]
    if layout == "coco" and labels.ndim == 3:
        with pytest.raises(ValueError, match="COCO holds 2D images only"):
            export_dataset(tmp_path / "ds", [(case, image, labels)], format=layout)
        assert not (tmp_path / "ds").exists()
        return
    out = export_dataset(tmp_path / "ds", [(case, image, labels)], format=layout)
    (item,) = load_dataset(out)
    assert item.name == case
    assert item.image.dtype == image.dtype and item.image.shape == image.shape
    np.testing.assert_array_equal(item.image, image)
    expected_dtype = {255: np.uint8, 65_535: np.uint16}.get(
        next(v for v in (255, 65_535, 2**32 - 1) if labels.max() <= v), np.uint32)
    assert item.mask.dtype == expected_dtype
    np.testing.assert_array_equal(item.mask, labels)
    assert item.weights is None


@pytest.mark.parametrize("layout", LAYOUTS)
def test_several_items_and_provenance(tmp_path, layout):
    image, labels = synthetic_nuclei((96, 80), n_nuclei=12, seed=3)
    items = [("a", image, labels, {"source_image": "nuclei", "source_labels": "nuclei labels",
                                   "pixel_size": [0.5, 0.25], "unit": "micrometer"}),
             ("b", image[::-1].copy(), labels[::-1].copy())]
    out = export_dataset(tmp_path / "ds", items, format=layout, parameters={"note": "test"})
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["format"] == "segsuite-dataset" and manifest["layout"] == layout
    assert manifest["software"]["version"] == napari_segsuite.__version__
    assert manifest["created_by"] == f"napari-segsuite {napari_segsuite.__version__}"
    assert manifest["parameters"] == {"note": "test"}
    first = manifest["items"][0]
    assert first["source_labels"] == "nuclei labels" and first["pixel_size"] == [0.5, 0.25]
    assert first["n_instances"] == len(np.unique(labels)) - 1
    loaded = {it.name: it for it in load_dataset(out)}
    assert sorted(loaded) == ["a", "b"]
    np.testing.assert_array_equal(loaded["b"].image, image[::-1])
    np.testing.assert_array_equal(loaded["b"].mask, labels[::-1])
    assert loaded["a"].meta["source_image"] == "nuclei"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_existing_items_need_overwrite(tmp_path, layout):
    image, labels = synthetic_nuclei((64, 64), n_nuclei=6, seed=1)
    out = export_dataset(tmp_path / "ds", [("a", image, labels)], format=layout)
    before = (out / "dataset.json").read_text()
    with pytest.raises(ValueError, match="already holds item.*a.*allow overwriting"):
        export_dataset(out, [("b", image, labels), ("a", image, labels)], format=layout)
    assert (out / "dataset.json").read_text() == before  # checked before anything is written
    assert [it.name for it in load_dataset(out)] == ["a"]
    # a new name is added beside the old item
    export_dataset(out, [("b", image // 2, labels)], format=layout)
    assert [it.name for it in load_dataset(out)] == ["a", "b"]
    # overwrite replaces the item's pixels
    new_labels = np.zeros_like(labels)
    new_labels[10:20, 30:40] = 5
    export_dataset(out, [("a", image + 1, new_labels)], format=layout, overwrite=True)
    loaded = {it.name: it for it in load_dataset(out)}
    np.testing.assert_array_equal(loaded["a"].image, image + 1)
    np.testing.assert_array_equal(loaded["a"].mask, new_labels)
    np.testing.assert_array_equal(loaded["b"].image, image // 2)
    assert not [p for p in out.rglob("*") if p.name.endswith((".part", ".old"))]


def test_one_folder_holds_one_layout(tmp_path):
    image, labels = synthetic_nuclei((64, 64), n_nuclei=4, seed=2)
    out = export_dataset(tmp_path / "ds", [("a", image, labels)], format="tiff")
    with pytest.raises(ValueError, match="holds a 'tiff' dataset"):
        export_dataset(out, [("b", image, labels)], format="coco", overwrite=True)


def test_foreign_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    image, labels = synthetic_nuclei((32, 32), n_nuclei=2, seed=0)
    with pytest.raises(ValueError, match="not a napari-segsuite dataset"):
        export_dataset(tmp_path, [("a", image, labels)])
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        export_dataset(tmp_path / "file", [("a", image, labels)])


@pytest.mark.parametrize("bad, message", [
    ([("a b", np.zeros((4, 4)), np.zeros((4, 4), int))], "not usable as a file name"),
    ([("a", np.zeros((4, 4)), np.zeros((4, 4), int))] * 2, "given twice"),
    ([("a", np.zeros((4, 5)), np.zeros((4, 4), int))], "does not match labels shape"),
    ([("a", np.zeros((4, 4)), np.zeros((4, 4), bool))], "boolean mask"),
    ([("a", np.zeros((4, 4)), -np.ones((4, 4), int))], "must be >= 0"),
    ([("a", np.full((4, 4), np.nan), np.zeros((4, 4), int))], "NaN"),
    ([("a", np.zeros((4, 4)), np.full((4, 4), 0.5))], "fractional"),
    ([("a", np.zeros((4, 4), bool), np.zeros((4, 4), int))], "integer or float"),
    ([("a", np.zeros((4, 4)))], r"\(name, image, labels\)"),
    ([], "nothing to export"),
])
def test_user_mistakes_are_clear_errors(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        export_dataset(tmp_path / "ds", bad)
    assert not (tmp_path / "ds").exists()


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset format"):
        export_dataset(tmp_path, [("a", np.zeros((4, 4)), np.zeros((4, 4), int))], format="hdf5")


def _leftovers(folder):
    return [p for p in folder.rglob("*") if p.name.endswith((".part", ".old"))]


RENAMES_PER_ITEM = {"tiff": 3, "ome-zarr": 2, "coco": 3}  # files (or folders) + dataset.json


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fail_at", [1, 2, 3])
@pytest.mark.parametrize("name", ["a", "b"])  # replace an item / add one
def test_failed_rename_leaves_no_half_written_item(tmp_path, monkeypatch, layout, fail_at, name):
    """A read-only/full folder seen at any rename: the item is rolled back, the dataset unchanged."""
    if fail_at > RENAMES_PER_ITEM[layout]:
        pytest.skip("this layout renames fewer paths per item")
    image, labels = synthetic_nuclei((64, 64), n_nuclei=5, seed=4)
    out = export_dataset(tmp_path / "ds", [("a", image, labels)], format=layout)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_replace, calls = os.replace, {"n": 0}

    def flaky_replace(src, dst):
        if str(src).endswith(".part"):
            calls["n"] += 1
            if calls["n"] == fail_at:
                raise PermissionError(13, "Permission denied", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(PermissionError, match=f"cannot write here.*item {name!r} was not written"):
        export_dataset(out, [(name, image * 0, labels)], format=layout, overwrite=True)
    monkeypatch.setattr(os, "replace", real_replace)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not _leftovers(out)
    (item,) = load_dataset(out)
    np.testing.assert_array_equal(item.image, image)


def test_failure_after_complete_items_keeps_them(tmp_path, monkeypatch):
    image, labels = synthetic_nuclei((48, 48), n_nuclei=3, seed=4)
    real_replace, calls = os.replace, {"n": 0}

    def flaky_replace(src, dst):
        calls["n"] += not str(dst).endswith(".part")  # count renames onto final names
        if calls["n"] == 4:  # first rename of the second item
            raise PermissionError(13, "Permission denied", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(PermissionError, match="item 'b' was not written"):
        export_dataset(tmp_path / "ds", [("a", image, labels), ("b", image, labels)])
    monkeypatch.setattr(os, "replace", real_replace)
    assert [it.name for it in load_dataset(tmp_path / "ds")] == ["a"]
    assert sorted(p.name for p in (tmp_path / "ds").rglob("*.tif")) == ["a.tif", "a.tif"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_folder_in_the_way_of_a_file_is_never_replaced(tmp_path, layout):
    image, labels = synthetic_nuclei((48, 48), n_nuclei=3, seed=5)
    out = export_dataset(tmp_path / "ds", [("a", image, labels)], format=layout)
    manifest = (out / "dataset.json").read_text()
    blockers = [out / "images" / "b.png", out / "images" / "b.tif"] if layout != "ome-zarr" else []
    for blocker in blockers:  # a user's folder where the new item's image file must go
        blocker.mkdir(parents=True)
        (blocker / "keep.txt").write_text("mine")
    if layout == "ome-zarr":
        (out / "b.ome.zarr").write_text("a file where the item's folder must go")
    with pytest.raises(OSError, match="is in the way.*item 'b' was not written"):
        export_dataset(out, [("b", image, labels)], format=layout, overwrite=True)
    assert (out / "dataset.json").read_text() == manifest
    assert not _leftovers(out)
    assert all((b / "keep.txt").read_text() == "mine" for b in blockers)
    assert [it.name for it in load_dataset(out)] == ["a"]


def test_file_in_the_way_of_a_folder(tmp_path):
    (tmp_path / "images").write_text("not a folder")
    image, labels = synthetic_nuclei((48, 48), n_nuclei=3, seed=5)
    with pytest.raises(OSError, match="in the way.*images.*item 'a' was not written"):
        export_dataset(tmp_path, [("a", image, labels)], overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images"]


def test_stray_files_are_not_overwritten_without_consent(tmp_path):
    image, labels = synthetic_nuclei((48, 48), n_nuclei=3, seed=5)
    out = export_dataset(tmp_path / "ds", [("a", image, labels)])
    (out / "masks" / "b.tif").write_bytes(b"someone else's file")
    with pytest.raises(FileExistsError, match="b.tif exists already.*allow overwriting"):
        export_dataset(out, [("b", image, labels)])
    assert (out / "masks" / "b.tif").read_bytes() == b"someone else's file"
    assert not (out / "images" / "b.tif").exists() and not _leftovers(out)
    export_dataset(out, [("b", image, labels)], overwrite=True)
    np.testing.assert_array_equal(load_dataset(out)[1].mask, labels)


def test_full_disk_message(tmp_path, monkeypatch):
    import tifffile

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tifffile, "imwrite", full)
    image, labels = synthetic_nuclei((32, 32), n_nuclei=2, seed=0)
    with pytest.raises(OSError, match="disk is full"):
        export_dataset(tmp_path / "ds", [("a", image, labels)])
    assert not _leftovers(tmp_path) and not (tmp_path / "ds" / "dataset.json").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_folder_real_permissions(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    image, labels = synthetic_nuclei((32, 32), n_nuclei=2, seed=0)
    try:
        with pytest.raises(PermissionError, match="cannot write here"):
            export_dataset(folder, [("a", image, labels)])
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_cancel_keeps_complete_items_only(tmp_path):
    image, labels = synthetic_nuclei((48, 48), n_nuclei=3, seed=6)
    items = [(f"i{k}", image, labels) for k in range(3)]
    with pytest.raises(Cancelled):
        run(iter_export_dataset(tmp_path / "ds", items), progress=lambda event: event.step < 1)
    assert [it.name for it in load_dataset(tmp_path / "ds")] == ["i0"]
    assert sorted(p.name for p in (tmp_path / "ds" / "images").iterdir()) == ["i0.tif"]


def test_files_get_normal_permissions(tmp_path):
    image, labels = synthetic_nuclei((32, 32), n_nuclei=2, seed=0)
    out = export_dataset(tmp_path / "ds", [("a", image, labels)])
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "dataset.json").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (out / "images" / "a.tif").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("layout", LAYOUTS)
def test_weight_maps_are_written_and_read_back(tmp_path, layout):
    weightmap = pytest.importorskip("napari_segsuite.core.weightmap")
    image, labels = synthetic_nuclei((64, 64), n_nuclei=8, seed=7)
    params = {"w0": 10.0, "sigma": 3.0}
    out = export_dataset(tmp_path / "ds", [("a", image, labels)], format=layout, weight_map=params)
    (item,) = load_dataset(out)
    expected = weightmap.unet_weight_map(labels, **params)
    assert item.weights.dtype == np.float32
    np.testing.assert_array_equal(item.weights, expected)
    assert json.loads((out / "dataset.json").read_text())["parameters"]["weight_map"] == params
    # overwriting without weight maps removes the stale file
    export_dataset(out, [("a", image, labels)], format=layout, overwrite=True)
    (item,) = load_dataset(out)
    assert item.weights is None
    assert not (out / "weights").exists() or not any((out / "weights").iterdir())


# ------------------------------------------------------------------------------ cellpose-style folders
def test_cellpose_folder(tmp_path):
    image, labels = synthetic_nuclei((64, 64), n_nuclei=5, seed=8)
    write_tiff(tmp_path / "001.tif", image)
    write_tiff(tmp_path / "001_masks.tif", labels.astype(np.uint16))
    write_tiff(tmp_path / "002_img.tif", image[:, ::-1])
    write_tiff(tmp_path / "002_masks.tif", labels[:, ::-1].astype(np.uint16))
    write_tiff(tmp_path / "003.tif", image)  # no masks: ignored
    write_tiff(tmp_path / "004_masks.tif", labels.astype(np.uint16))  # no image: ignored
    (tmp_path / "notes.txt").write_text("x")
    items = load_dataset(tmp_path)
    assert [it.name for it in items] == ["001", "002"]
    np.testing.assert_array_equal(items[0].image, image)
    np.testing.assert_array_equal(items[0].mask, labels)
    assert items[0].mask.dtype == np.uint16
    np.testing.assert_array_equal(items[1].image, image[:, ::-1])
    assert items[1].meta["image_file"] == "002_img.tif"


def test_cellpose_png_masks(tmp_path):
    import imageio.v3 as iio

    image, labels = synthetic_nuclei((40, 40), n_nuclei=3, seed=9)
    iio.imwrite(tmp_path / "cell.png", (image >> 8).astype(np.uint8))
    iio.imwrite(tmp_path / "cell_masks.png", labels.astype(np.uint16))
    (item,) = load_dataset(tmp_path)
    np.testing.assert_array_equal(item.mask, labels)


def test_cellpose_bad_masks_are_named(tmp_path):
    write_tiff(tmp_path / "x.tif", np.zeros((8, 8), np.uint8))
    write_tiff(tmp_path / "x_masks.tif", np.full((8, 8), 0.5, np.float32))
    with pytest.raises(ValueError, match="x_masks.tif.*fractional"):
        load_dataset(tmp_path)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such dataset folder"):
        load_dataset(tmp_path / "missing")
    with pytest.raises(ValueError, match="no training items found"):
        load_dataset(tmp_path)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(ValueError, match="not readable JSON"):
        load_dataset(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a napari-segsuite dataset"):
        load_dataset(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"format": "segsuite-dataset", "version": 99}))
    with pytest.raises(ValueError, match="newer than this software"):
        load_dataset(tmp_path)


def test_write_tiff_gives_usual_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    path = write_tiff(tmp_path / "x.tif", np.zeros((4, 4), np.uint8))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_bad_weight_map_parameters_write_nothing(tmp_path):
    pytest.importorskip("napari_segsuite.core.weightmap")
    image, labels = synthetic_nuclei((32, 32), n_nuclei=3, seed=0)
    with pytest.raises(ValueError, match="sigma"):
        export_dataset(tmp_path / "ds", [("a", image, labels)], weight_map={"sigma": -1.0})
    assert not (tmp_path / "ds" / "dataset.json").exists() and not _leftovers(tmp_path)
    with pytest.raises(ValueError, match="weight_map must be None or a dict"):
        export_dataset(tmp_path / "ds", [("a", image, labels)], weight_map=5.0)


def test_weight_map_progress_names_the_item(tmp_path):
    pytest.importorskip("napari_segsuite.core.weightmap")
    image, labels = synthetic_nuclei((48, 48), n_nuclei=4, seed=0)
    events = []
    export_dataset(tmp_path / "ds", [("a", image, labels)], weight_map={}, progress=events.append)
    assert any(e.message.startswith("a: weight map") for e in events)
    assert events[-1].step == events[-1].total == 1 and events[-1].message == "wrote a"
