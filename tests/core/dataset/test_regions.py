"""Region masks (partial labels) in every layout, and one rule for deleting a replaced item's old files."""

import json

import numpy as np
import pytest

from napari_segsuite.core.dataset import export_dataset, load_dataset

LAYOUTS = ["tiff", "ome-zarr", "coco"]
REGION_KEY = {"tiff": "regions/a.tif", "ome-zarr": "a.ome.zarr/labels/regions", "coco": "annotations.json"}


def _item(shape=(70, 90), dtype=np.uint16, seed=0):
    """An image, labels with known rectangles (ids 1, 2, 9) and a region covering the top-left block."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 1000, shape).astype(dtype)
    labels = np.zeros(shape[:2], np.int32)
    labels[5:15, 5:20] = 1
    labels[30:40, 50:70] = 2  # outside the region: a cell the user has not checked
    labels[20:25, 10:15] = 9
    region = np.zeros(shape[:2], bool)
    region[:30, :45] = True
    return image, labels, region


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kind", ["bool", "uint8_255", "int64_ids"])
def test_region_round_trip_is_bit_exact(tmp_path, layout, kind):
    image, labels, region = _item()
    given = {"bool": region, "uint8_255": region.astype(np.uint8) * 255,
             "int64_ids": region.astype(np.int64) * np.arange(1, 91)}[kind]  # nonzero all over the region
    out = export_dataset(tmp_path / "ds", [("a", image, labels, given), ("b", image, labels)], format=layout)
    loaded = {it.name: it for it in load_dataset(out)}
    a, b = loaded["a"], loaded["b"]
    assert a.region.dtype == np.uint8 and a.region.shape == labels.shape
    np.testing.assert_array_equal(a.region, region.astype(np.uint8))  # 0/1 exactly
    assert int(a.region.sum()) == 30 * 45
    np.testing.assert_array_equal(a.image, image)
    np.testing.assert_array_equal(a.mask, labels)  # labels outside the region are kept as given
    assert b.region is None  # no region = the whole image is labelled
    entries = {e["name"]: e for e in json.loads((out / "dataset.json").read_text())["items"]}
    assert entries["a"]["region"] == REGION_KEY[layout] and "region" not in entries["b"]
    assert entries["a"]["region_fraction"] == round(30 * 45 / (70 * 90), 6)


@pytest.mark.parametrize("layout", ["tiff", "ome-zarr"])
def test_region_of_rgb_and_stack_items(tmp_path, layout):
    image, labels, region = _item((70, 90, 3), np.uint8, seed=1)
    stack_image = np.stack([image[..., 0]] * 3)
    stack_labels = np.stack([labels, labels * 0, labels])
    stack_region = np.stack([region, region, ~region]).astype(np.uint8)
    items = [("rgb", image, labels, region),
             ("stack", stack_image, stack_labels, stack_region, {"unit": "um"})]
    out = export_dataset(tmp_path / "ds", items, format=layout)
    loaded = {it.name: it for it in load_dataset(out)}
    np.testing.assert_array_equal(loaded["rgb"].region, region)
    np.testing.assert_array_equal(loaded["rgb"].image, image)
    np.testing.assert_array_equal(loaded["stack"].region, stack_region)
    np.testing.assert_array_equal(loaded["stack"].mask, stack_labels)
    assert loaded["stack"].meta["unit"] == "um"


def test_omezarr_region_is_a_second_label_image(tmp_path):
    image, labels, region = _item((140, 150))
    out = export_dataset(tmp_path / "ds", [("a", image, labels, region)], format="ome-zarr")
    group = json.loads((out / "a.ome.zarr" / "labels" / "zarr.json").read_text())
    assert group["attributes"]["ome"]["labels"] == ["masks", "regions"]
    meta = json.loads((out / "a.ome.zarr/labels/regions/zarr.json").read_text())["attributes"]["ome"]
    assert meta["image-label"]["version"] == "0.5"
    assert len(meta["multiscales"][0]["datasets"]) == 2  # the image's levels (150 // 2 >= 64)
    import zarr

    level1 = zarr.open_group(str(out / "a.ome.zarr" / "labels" / "regions"), mode="r")["s1"][...]
    np.testing.assert_array_equal(level1, region[::2, ::2].astype(np.uint8))


def test_coco_region_decodes_with_pycocotools(tmp_path):
    mask_utils = pytest.importorskip("pycocotools.mask")
    image, labels, region = _item()
    out = export_dataset(tmp_path / "ds", [("a", image, labels, region)], format="coco")
    (info,) = json.loads((out / "annotations.json").read_text())["images"]
    rle = dict(info["segsuite_region"])
    rle["counts"] = rle["counts"].encode("ascii")
    np.testing.assert_array_equal(mask_utils.decode(rle), region.astype(np.uint8))


@pytest.mark.parametrize("region, message", [
    (np.zeros((70, 90), bool), "region mask is empty"),
    (np.ones((70, 91), bool), r"region mask shape \(70, 91\) does not match labels shape \(70, 90\)"),
    (np.ones((70, 90), np.float32), "must be boolean or integer"),
    ({"not": "a region"}, r"\(name, image, labels, region\)"),
])
def test_bad_regions_are_refused_before_writing(tmp_path, region, message):
    image, labels, _ = _item()
    with pytest.raises(ValueError, match=message):
        export_dataset(tmp_path / "ds", [("ok", image, labels), ("a", image, labels, region, {})])
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_replaced_item_leaves_exactly_the_files_of_a_fresh_export(tmp_path, layout):
    """One loop decides what to delete for every layout: after replacing item "a" (uint8 image, region,
    weight map) by one without region and weights and with a float image (another image file type in
    COCO), the folder holds exactly the files a fresh export of the final items writes; and back."""
    pytest.importorskip("napari_segsuite.core.weightmap")
    image, labels, region = _item(dtype=np.uint8)
    other_image, other_labels, _ = _item(seed=5)
    new_image = image.astype(np.float32) / 7
    new_labels = labels.copy()
    new_labels[50:60, 5:15] = 4
    out, weights = tmp_path / "ds", {"w0": 5.0, "sigma": 3.0}
    export_dataset(out, [("a", image, labels, region), ("b", other_image, other_labels)], format=layout,
                   weight_map=weights)
    export_dataset(out, [("a", new_image, new_labels)], format=layout, overwrite=True)
    fresh = tmp_path / "fresh"
    export_dataset(fresh, [("a", new_image, new_labels)], format=layout)
    export_dataset(fresh, [("b", other_image, other_labels)], format=layout, weight_map=weights)
    assert _files(out) == _files(fresh)
    loaded = {it.name: it for it in load_dataset(out)}
    assert loaded["a"].region is None and loaded["a"].weights is None
    np.testing.assert_array_equal(loaded["a"].image, new_image)
    np.testing.assert_array_equal(loaded["a"].mask, new_labels)
    assert loaded["b"].weights is not None  # the other item is untouched
    np.testing.assert_array_equal(loaded["b"].mask, other_labels)
    # and back: the region and the uint8 image return, the float image file (COCO: a.tif) goes
    export_dataset(out, [("a", image, labels, region)], format=layout, overwrite=True)
    back = tmp_path / "back"
    export_dataset(back, [("a", image, labels, region)], format=layout)
    export_dataset(back, [("b", other_image, other_labels)], format=layout, weight_map=weights)
    assert _files(out) == _files(back)
    np.testing.assert_array_equal(load_dataset(out)[0].region, region)
