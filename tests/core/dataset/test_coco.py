"""COCO layout: our RLE against pycocotools, bbox/area conventions, the instances round trip."""

import json

import numpy as np
import pytest

from napari_segsuite.core.dataset import export_dataset, load_dataset
from napari_segsuite.core.dataset.rle import decode_rle, encode_rle, instances_to_coco, rle_from_string
from napari_segsuite.core.samples.synthetic import synthetic_histology, synthetic_nuclei

mask_utils = pytest.importorskip("pycocotools.mask")


def test_rle_matches_pycocotools_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(300):
        h, w = rng.integers(1, 30, 2)
        mask = rng.random((h, w)) < rng.random()
        ours = encode_rle(mask)
        ref = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert ours["counts"] == ref["counts"].decode("ascii")
        assert ours["size"] == list(ref["size"])
        np.testing.assert_array_equal(decode_rle(ours), mask)


def test_rle_handles_long_runs_and_edges():
    mask = np.zeros((1000, 900), bool)
    mask[-1, -1] = True  # run lengths past 2**16 and a final pixel
    mask[0, 0] = True
    ours = encode_rle(mask)
    assert ours["counts"] == mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()
    assert rle_from_string(ours["counts"]) == [0, 1, 1000 * 900 - 2, 1]
    np.testing.assert_array_equal(decode_rle(ours), mask)


def test_annotations_known_boxes():
    labels = np.zeros((20, 30), np.int32)
    labels[2:5, 3:10] = 4  # x 3..9, y 2..4 -> bbox [3, 2, 7, 3], area 21
    labels[10:20, 0:1] = 70_000  # a 10x1 column at the image edge
    anns = instances_to_coco(labels, image_id=9, first_annotation_id=5)
    assert [a["label_id"] for a in anns] == [4, 70_000]
    assert [a["id"] for a in anns] == [5, 6] and {a["image_id"] for a in anns} == {9}
    assert anns[0]["bbox"] == [3.0, 2.0, 7.0, 3.0] and anns[0]["area"] == 21
    assert anns[1]["bbox"] == [0.0, 10.0, 1.0, 10.0] and anns[1]["area"] == 10
    for a in anns:
        assert a["iscrowd"] == 0 and a["category_id"] == 1
        assert list(mask_utils.toBbox(a["segmentation"])) == a["bbox"]
        assert mask_utils.area(a["segmentation"]) == a["area"]


def test_pycocotools_decodes_the_same_instances(tmp_path):
    from pycocotools.coco import COCO

    image, labels = synthetic_nuclei((256, 200), n_nuclei=40, seed=5)
    rgb, rgb_labels = synthetic_histology((256, 256), seed=2)
    items = [("nuclei", image, labels), ("histology", rgb, rgb_labels)]
    out = export_dataset(tmp_path / "ds", items, format="coco")
    coco = COCO(str(out / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cell"]
    for name, img, lab in items:
        (info,) = [im for im in coco.dataset["images"] if im["file_name"].startswith(name + ".")]
        assert (info["height"], info["width"]) == lab.shape
        assert (out / "images" / info["file_name"]).exists()  # file_name relative to images/
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]]))
        assert len(anns) == len(np.unique(lab)) - 1
        rebuilt = np.zeros(lab.shape, np.int64)
        for a in anns:
            m = coco.annToMask(a).astype(bool)
            assert not (rebuilt[m] > 0).any()  # instances never overlap
            rebuilt[m] = a["label_id"]
        np.testing.assert_array_equal(rebuilt, lab)


def test_png_for_trainers_tiff_otherwise(tmp_path):
    lab = np.zeros((16, 16), np.int32)
    lab[2:6, 2:6] = 1
    items = [("u8", np.zeros((16, 16), np.uint8), lab), ("u16", np.zeros((16, 16), np.uint16), lab),
             ("rgb", np.zeros((16, 16, 3), np.uint8), lab), ("f32", np.zeros((16, 16), np.float32), lab)]
    out = export_dataset(tmp_path / "ds", items, format="coco")
    assert sorted(p.name for p in (out / "images").iterdir()) == ["f32.tif", "rgb.png", "u16.png", "u8.png"]
    coco = json.loads((out / "annotations.json").read_text())
    assert [im["id"] for im in coco["images"]] == [1, 2, 3, 4]
    assert len({a["id"] for a in coco["annotations"]}) == 4


def test_overwrite_replaces_annotations_of_that_image_only(tmp_path):
    a = np.zeros((16, 16), np.int32)
    a[1:4, 1:4] = 1
    a[8:12, 8:12] = 2
    out = export_dataset(tmp_path / "ds", [("x", np.zeros((16, 16), np.uint8), a),
                                            ("y", np.ones((16, 16), np.uint8), a)], format="coco")
    b = np.zeros_like(a)
    b[0:2, 0:2] = 9
    export_dataset(out, [("x", np.zeros((16, 16), np.uint8), b)], format="coco", overwrite=True)
    coco = json.loads((out / "annotations.json").read_text())
    by_image = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann["label_id"])
    ids = {im["file_name"]: im["id"] for im in coco["images"]}
    assert by_image[ids["x.png"]] == [9] and by_image[ids["y.png"]] == [1, 2]
    assert len({a["id"] for a in coco["annotations"]}) == 3
    loaded = {it.name: it for it in load_dataset(out)}
    np.testing.assert_array_equal(loaded["x"].mask, b)
    np.testing.assert_array_equal(loaded["y"].mask, a)


def test_empty_labels_make_an_image_without_annotations(tmp_path):
    out = export_dataset(tmp_path / "ds", [("e", np.zeros((8, 8), np.uint8), np.zeros((8, 8), int))],
                         format="coco")
    coco = json.loads((out / "annotations.json").read_text())
    assert len(coco["images"]) == 1 and coco["annotations"] == []
    (item,) = load_dataset(out)
    assert item.mask.dtype == np.uint8 and not item.mask.any()
