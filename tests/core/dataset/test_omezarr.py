"""OME-Zarr layout: spec metadata, pyramids, and ome-zarr-py / ome-zarr-models as independent readers."""

import json

import numpy as np
import pytest

from napari_segsuite.core.dataset import export_dataset, load_dataset
from napari_segsuite.core.dataset.ngff import pyramid_levels
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


def _meta(path):
    return json.loads((path / "zarr.json").read_text())


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    rng = np.random.default_rng(0)
    image, labels = synthetic_nuclei((300, 260), n_nuclei=20, seed=11)
    labels = labels.astype(np.int64)
    labels[labels > 0] += 70_000  # ids past 65,535
    rgb = rng.integers(0, 256, (150, 140, 3), dtype=np.uint8)
    rgb_labels = np.zeros((150, 140), np.int32)
    rgb_labels[10:40, 20:60] = 1
    rgb_labels[50:90, 20:60] = 2
    stack = rng.random((5, 128, 136)).astype(np.float32)
    stack_labels = np.zeros((5, 128, 136), np.int32)
    stack_labels[1:4, 10:50, 10:50] = 3
    items = [("nuclei", image, labels, {"pixel_size": [0.65, 0.5], "unit": "um"}),
             ("rgb", rgb, rgb_labels),
             ("stack", stack, stack_labels, {"pixel_size": [2.0, 0.5, 0.5], "unit": "micrometer"})]
    out = export_dataset(tmp_path_factory.mktemp("oz") / "ds", items, format="ome-zarr")
    return out, {name: (img, lab) for name, img, lab, *_ in items}


def test_pyramid_levels():
    assert pyramid_levels((40, 40)) == 1
    assert pyramid_levels((128, 512)) == 2
    assert pyramid_levels((300, 260)) == 3
    assert pyramid_levels((4096, 4096)) == 4


def test_ngff_metadata(exported):
    out, items = exported
    root = _meta(out / "nuclei.ome.zarr")
    assert root["zarr_format"] == 3 and root["node_type"] == "group"
    ome = root["attributes"]["ome"]
    assert ome["version"] == "0.5"
    ms = ome["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["y", "x"]
    assert all(a["unit"] == "micrometer" for a in ms["axes"])
    scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
    assert scales == [[0.65, 0.5], [1.3, 1.0], [2.6, 2.0]]
    labels_group = _meta(out / "nuclei.ome.zarr" / "labels")["attributes"]["ome"]
    assert labels_group["labels"] == ["masks"]
    label_ome = _meta(out / "nuclei.ome.zarr" / "labels" / "masks")["attributes"]["ome"]
    assert label_ome["image-label"]["version"] == "0.5"
    assert len(label_ome["multiscales"][0]["datasets"]) == len(ms["datasets"])  # same levels as the image
    for k in range(3):
        arr = _meta(out / "nuclei.ome.zarr" / "labels" / "masks" / f"s{k}")
        assert arr["data_type"] == "uint32"
    rgb = _meta(out / "rgb.ome.zarr")["attributes"]["ome"]["multiscales"][0]
    assert [a["type"] for a in rgb["axes"]] == ["channel", "space", "space"]
    stack = _meta(out / "stack.ome.zarr")["attributes"]["ome"]["multiscales"][0]
    assert [a["name"] for a in stack["axes"]] == ["z", "y", "x"]
    assert stack["datasets"][1]["coordinateTransformations"][0]["scale"] == [2.0, 1.0, 1.0]


def test_round_trip(exported):
    out, items = exported
    loaded = {it.name: it for it in load_dataset(out)}
    for name, (image, labels) in items.items():
        assert loaded[name].image.dtype == image.dtype
        np.testing.assert_array_equal(loaded[name].image, image)
        np.testing.assert_array_equal(loaded[name].mask, labels)


def test_ome_zarr_py_reads_image_and_labels(exported):
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    out, items = exported
    for name, (image, labels) in items.items():
        nodes = list(Reader(parse_url(str(out / f"{name}.ome.zarr")))())
        image_node = nodes[0]
        assert image_node.load(Multiscales) is not None
        level0 = np.asarray(image_node.data[0])
        expected = np.moveaxis(image, -1, 0) if name == "rgb" else image
        np.testing.assert_array_equal(level0, expected)
        label_nodes = [n for n in nodes if "image-label" in n.zarr.root_attrs.get("ome", n.zarr.root_attrs)]
        assert len(label_nodes) == 1
        label_levels = label_nodes[0].data
        assert len(label_levels) == len(image_node.data)
        np.testing.assert_array_equal(np.asarray(label_levels[0]), labels)
        for k, level in enumerate(label_levels):  # lower levels: every 2**k-th pixel, ids unchanged
            np.testing.assert_array_equal(np.asarray(level), labels[..., :: 2 ** k, :: 2 ** k])


def test_ome_zarr_models_validates_against_the_spec(exported):
    models = pytest.importorskip("ome_zarr_models.v05")
    import zarr

    out, _ = exported
    for name in ("nuclei", "rgb", "stack"):
        group = zarr.open_group(str(out / f"{name}.ome.zarr"), mode="r")
        image = models.Image.from_zarr(group)
        assert len(image.attributes.ome.multiscales[0].datasets) >= 1
        label_group = zarr.open_group(str(out / f"{name}.ome.zarr/labels/masks"), mode="r")
        label = models.ImageLabel.from_zarr(label_group)
        assert label.attributes.ome.image_label is not None


def test_napari_ome_zarr_plugin_reads_it(exported):
    pytest.importorskip("napari_ome_zarr")  # napari's OME-Zarr reader, when installed
    from napari_ome_zarr import napari_get_reader

    out, items = exported
    layers = napari_get_reader(str(out / "nuclei.ome.zarr"))(str(out / "nuclei.ome.zarr"))
    assert {lay[2] for lay in layers} >= {"image", "labels"}
