"""npe2 reader (dataset folders -> layers) and writer (File > Save of Labels [+ Image] -> dataset item)."""

import numpy as np
import pytest

from napari_segsuite._napari.reader import get_dataset_reader, read_dataset
from napari_segsuite._napari.writer import item_name_from_layer, write_dataset_item
from napari_segsuite.core.dataset import export_dataset, load_dataset
from napari_segsuite.core.io import write_tiff
from napari_segsuite.core.samples.synthetic import synthetic_nuclei

PLUGIN = "napari-segsuite"


def _items():
    rng = np.random.default_rng(0)
    image, labels = synthetic_nuclei((64, 72), n_nuclei=6, seed=1)
    rgb = rng.integers(0, 256, (64, 72, 3), dtype=np.uint8)
    return [("gray", image, labels, {"pixel_size": [0.5, 0.25]}), ("rgb", rgb, labels[::-1].copy())]


@pytest.mark.parametrize("fmt", ["tiff", "ome-zarr", "coco"])
def test_viewer_opens_every_layout(make_napari_viewer_proxy, tmp_path, fmt):
    items = _items()
    out = export_dataset(tmp_path / "ds", items, format=fmt)
    viewer = make_napari_viewer_proxy()
    viewer.open(str(out), plugin=PLUGIN)
    assert [lay.name for lay in viewer.layers] == ["gray", "gray labels", "rgb", "rgb labels"]
    np.testing.assert_array_equal(viewer.layers["gray"].data, items[0][1])
    np.testing.assert_array_equal(viewer.layers["gray labels"].data, items[0][2])
    assert tuple(viewer.layers["gray labels"].scale) == (0.5, 0.25)
    assert tuple(viewer.layers["gray"].scale) == (0.5, 0.25)
    assert viewer.layers["rgb"].rgb
    np.testing.assert_array_equal(viewer.layers["rgb labels"].data, items[1][2])
    assert viewer.layers["rgb labels"].metadata["segsuite_item"] == "rgb"


def test_reader_only_claims_dataset_folders(tmp_path):
    assert get_dataset_reader(str(tmp_path)) is None  # empty folder
    (tmp_path / "a.tif").write_bytes(b"")
    assert get_dataset_reader(str(tmp_path / "a.tif")) is None  # a file
    assert get_dataset_reader([str(tmp_path), str(tmp_path)]) is None
    image, labels = synthetic_nuclei((32, 32), n_nuclei=3, seed=2)
    write_tiff(tmp_path / "c.tif", image)
    write_tiff(tmp_path / "c_masks.tif", labels.astype(np.uint16))
    assert get_dataset_reader(str(tmp_path)) is read_dataset  # cellpose-style pair
    layers = read_dataset(str(tmp_path))
    assert [(m["name"], t) for _, m, t in layers] == [("c", "image"), ("c labels", "labels")]
    np.testing.assert_array_equal(layers[1][0], labels)


def test_reader_adds_weights_layer(tmp_path):
    pytest.importorskip("napari_segsuite.core.weightmap")
    image, labels = synthetic_nuclei((48, 48), n_nuclei=4, seed=3)
    out = export_dataset(tmp_path / "ds", [("a", image, labels)], weight_map={"w0": 10.0, "sigma": 5.0})
    layers = read_dataset(str(out))
    assert [(m["name"], t) for _, m, t in layers] == [("a", "image"), ("a labels", "labels"),
                                                      ("a weights", "image")]
    assert layers[2][0].dtype == np.float32 and layers[2][1]["visible"] is False


def test_save_image_and_labels_as_a_dataset_item(make_napari_viewer_proxy, tmp_path):
    viewer = make_napari_viewer_proxy()
    image, labels = synthetic_nuclei((40, 48), n_nuclei=4, seed=4)
    img = viewer.add_image(image, name="my cells", scale=(0.3, 0.3))
    lab = viewer.add_labels(labels, name="my cells labels", scale=(0.3, 0.3))
    viewer.layers.selection = {img, lab}
    written = viewer.layers.save(str(tmp_path / "ds"), selected=True, plugin=PLUGIN)
    assert written == [str(tmp_path / "ds")]
    (item,) = load_dataset(tmp_path / "ds")
    assert item.name == "my_cells"
    np.testing.assert_array_equal(item.image, image)
    np.testing.assert_array_equal(item.mask, labels)
    assert item.meta["pixel_size"] == [0.3, 0.3] and item.meta["source_labels"] == "my cells labels"


def test_open_correct_and_save_labels_back(make_napari_viewer_proxy, tmp_path):
    image, labels = synthetic_nuclei((40, 48), n_nuclei=4, seed=5)
    other_image, other_labels = synthetic_nuclei((40, 48), n_nuclei=4, seed=6)
    out = export_dataset(tmp_path / "ds", [("a", image, labels), ("b", other_image, other_labels)],
                         format="ome-zarr")
    viewer = make_napari_viewer_proxy()
    viewer.open(str(out), plugin=PLUGIN)
    lab = viewer.layers["a labels"]
    corrected = np.asarray(lab.data).copy()
    corrected[:5, :5] = 99  # the user paints a new cell
    lab.data = corrected
    viewer.layers.selection = {lab}
    viewer.layers.save(str(out), selected=True, plugin=PLUGIN)
    loaded = {it.name: it for it in load_dataset(out)}
    np.testing.assert_array_equal(loaded["a"].mask, corrected)
    np.testing.assert_array_equal(loaded["a"].image, image)  # image kept
    np.testing.assert_array_equal(loaded["b"].mask, other_labels)  # other items untouched


def test_writer_mistakes(tmp_path):
    labels = np.zeros((8, 8), np.int32)
    with pytest.raises(ValueError, match="select the Image layer together"):
        write_dataset_item(str(tmp_path / "new"), [(labels, {"name": "x"}, "labels")])
    assert not (tmp_path / "new").exists()
    with pytest.raises(ValueError, match="one Labels layer"):
        write_dataset_item(str(tmp_path / "new"), [(labels, {"name": "x"}, "image")])
    export_dataset(tmp_path / "ds", [("a", np.zeros((8, 8), np.uint8), labels)])
    with pytest.raises(ValueError, match="has no item 'x'"):
        write_dataset_item(str(tmp_path / "ds"), [(labels, {"name": "x"}, "labels")])
    assert item_name_from_layer("nuclei (train) labels") == "nuclei_train"
    assert item_name_from_layer("z", {"segsuite_item": "kept"}) == "kept"


def test_region_layer_round_trip_through_reader_and_writer(make_napari_viewer_proxy, tmp_path):
    """Save Image + Labels + a 'region' Labels layer; reopen; correct the labels alone; the region stays."""
    viewer = make_napari_viewer_proxy()
    image, labels = synthetic_nuclei((40, 48), n_nuclei=4, seed=7)
    region = np.zeros((40, 48), np.uint8)
    region[5:30, 8:40] = 1
    img = viewer.add_image(image, name="cells")
    lab = viewer.add_labels(labels, name="cells labels")
    reg = viewer.add_labels(region * 3, name="cells region")  # any nonzero value marks "complete"
    viewer.layers.selection = {img, lab, reg}
    viewer.layers.save(str(tmp_path / "ds"), selected=True, plugin=PLUGIN)
    (item,) = load_dataset(tmp_path / "ds")
    assert item.name == "cells" and item.meta["source_region"] == "cells region"
    np.testing.assert_array_equal(item.mask, labels)
    np.testing.assert_array_equal(item.region, region)
    viewer.layers.clear()
    viewer.open(str(tmp_path / "ds"), plugin=PLUGIN)
    assert [lay.name for lay in viewer.layers] == ["cells", "cells labels", "cells region"]
    np.testing.assert_array_equal(viewer.layers["cells region"].data, region)
    assert viewer.layers["cells region"].metadata["segsuite_role"] == "region"
    corrected = np.asarray(viewer.layers["cells labels"].data).copy()
    corrected[32:36, 2:6] = 50
    viewer.layers["cells labels"].data = corrected
    viewer.layers.selection = {viewer.layers["cells labels"]}
    viewer.layers.save(str(tmp_path / "ds"), selected=True, plugin=PLUGIN)
    (item,) = load_dataset(tmp_path / "ds")
    np.testing.assert_array_equal(item.mask, corrected)
    np.testing.assert_array_equal(item.region, region)  # kept when saving Labels alone
    # the reader's region layer is recognised by its metadata, whatever the user renamed it to
    viewer.layers["cells region"].name = "checked area"
    grown = region.copy()
    grown[30:38, 0:10] = 1
    viewer.layers["checked area"].data = grown
    viewer.layers.selection = {viewer.layers["cells labels"], viewer.layers["checked area"]}
    viewer.layers.save(str(tmp_path / "ds"), selected=True, plugin=PLUGIN)
    np.testing.assert_array_equal(load_dataset(tmp_path / "ds")[0].region, grown)


def test_writer_region_mistakes(tmp_path):
    image = np.zeros((8, 8), np.uint8)
    labels = np.zeros((8, 8), np.int32)
    labels[2:4, 2:4] = 1
    two = [(image, {"name": "a"}, "image"), (labels, {"name": "a labels"}, "labels"),
           (labels, {"name": "b labels"}, "labels")]
    with pytest.raises(ValueError, match="named '... region'"):
        write_dataset_item(str(tmp_path / "ds"), two)
    empty = [(image, {"name": "a"}, "image"), (labels, {"name": "a labels"}, "labels"),
             (np.zeros((8, 8), np.uint8), {"name": "a region"}, "labels")]
    with pytest.raises(ValueError, match="region mask is empty"):
        write_dataset_item(str(tmp_path / "ds"), empty)
    assert not (tmp_path / "ds").exists()
