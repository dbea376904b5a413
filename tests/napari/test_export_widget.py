"""Export widget: the threaded path writes what load_dataset reads back; policies and mistakes."""

import json

import numpy as np
import pytest

from napari_segsuite._napari.export_widget import FORMATS, OVERWRITE, PLANES, ExportWidget
from napari_segsuite.core.dataset import load_dataset
from napari_segsuite.core.samples.synthetic import synthetic_nuclei

FORMAT_BY_KEY = {v: k for k, v in FORMATS.items()}
PLANES_BY_KEY = {v: k for k, v in PLANES.items()}
POLICY_BY_KEY = {v: k for k, v in OVERWRITE.items()}


def _run(widget, qtbot):
    widget.result = None
    worker = widget.run()
    assert worker is not None, widget.jobs.status
    # JobControls' own `finished` handler clears jobs.worker on the main thread; waiting for that cannot
    # miss a signal emitted before the wait starts (a fast worker may finish first).
    qtbot.waitUntil(lambda: widget.jobs.worker is None, timeout=30000)
    qtbot.waitUntil(lambda: widget.result is not None or "failed" in widget.jobs.status, timeout=5000)
    return widget.result


@pytest.mark.parametrize("fmt", ["tiff", "ome-zarr", "coco"])
def test_threaded_export_of_two_pairs(make_napari_viewer_proxy, qtbot, tmp_path, fmt):
    viewer = make_napari_viewer_proxy()
    image, labels = synthetic_nuclei((64, 80), n_nuclei=6, seed=1)
    viewer.add_image(image, name="nuclei", scale=(0.5, 0.5))
    viewer.add_labels(labels, name="nuclei labels", scale=(0.5, 0.5))
    viewer.add_image(image[::-1].copy(), name="flipped")
    viewer.add_labels(labels[::-1].copy(), name="flipped labels")
    widget = ExportWidget(viewer)
    choices = widget.pairs.choices
    pairs = {(img.name, lab.name): (img, lab) for img, lab in choices}
    widget.pairs.value = [pairs[("nuclei", "nuclei labels")], pairs[("flipped", "flipped labels")]]
    widget.folder.value = tmp_path / "ds"
    widget.format.value = FORMAT_BY_KEY[fmt]
    result = _run(widget, qtbot)
    assert result["items"] == ["nuclei", "flipped"] and result["format"] == fmt
    assert "Wrote 2 item(s)" in widget.summary.value
    loaded = {it.name: it for it in load_dataset(tmp_path / "ds")}
    np.testing.assert_array_equal(loaded["nuclei"].image, image)
    np.testing.assert_array_equal(loaded["nuclei"].mask, labels)
    np.testing.assert_array_equal(loaded["flipped"].mask, labels[::-1])
    manifest = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert manifest["parameters"]["source_layers"][0]["labels"] == "nuclei labels"
    assert manifest["items"][0]["pixel_size"] == [0.5, 0.5]
    assert widget.run_button.enabled


def test_every_plane_and_current_plane(make_napari_viewer_proxy, qtbot, tmp_path):
    viewer = make_napari_viewer_proxy()
    stack = np.stack([synthetic_nuclei((48, 48), n_nuclei=4, seed=s)[0] for s in range(3)])
    labels = np.stack([synthetic_nuclei((48, 48), n_nuclei=4, seed=s)[1] for s in range(3)])
    viewer.add_image(stack, name="stack")
    viewer.add_labels(labels, name="stack labels")
    widget = ExportWidget(viewer)
    widget.folder.value = tmp_path / "coco"
    widget.format.value = FORMAT_BY_KEY["coco"]
    widget.planes.value = PLANES_BY_KEY["each"]
    widget.names.value = "cells"
    result = _run(widget, qtbot)
    assert result["items"] == ["cells_z000", "cells_z001", "cells_z002"]
    loaded = load_dataset(tmp_path / "coco")
    for k, item in enumerate(loaded):
        np.testing.assert_array_equal(item.image, stack[k])
        np.testing.assert_array_equal(item.mask, labels[k])
        assert item.meta["plane"] == [k]
    viewer.dims.set_point(0, 2)
    widget.planes.value = PLANES_BY_KEY["current"]
    widget.folder.value = tmp_path / "tiff"
    widget.format.value = FORMAT_BY_KEY["tiff"]
    result = _run(widget, qtbot)
    assert result["items"] == ["cells_z002"]
    (item,) = load_dataset(tmp_path / "tiff")
    np.testing.assert_array_equal(item.mask, labels[2])


def test_existing_items_policies(make_napari_viewer_proxy, qtbot, tmp_path):
    viewer = make_napari_viewer_proxy()
    image, labels = synthetic_nuclei((40, 40), n_nuclei=3, seed=2)
    viewer.add_image(image, name="a")
    viewer.add_labels(labels, name="a labels")
    widget = ExportWidget(viewer)
    widget.folder.value = tmp_path
    _run(widget, qtbot)
    before = (tmp_path / "dataset.json").read_text()
    # never: a clear message at once, nothing changes
    widget.overwrite.value = POLICY_BY_KEY["never"]
    assert widget.run() is None
    assert "already holds item(s) a" in widget.jobs.status
    assert (tmp_path / "dataset.json").read_text() == before
    # skip: nothing left to export is said at once
    widget.overwrite.value = POLICY_BY_KEY["skip"]
    assert widget.run() is None and "every item exists already" in widget.jobs.status
    # replace: the new labels win
    viewer.layers["a labels"].data = (labels > 0).astype(np.int32)
    widget.overwrite.value = POLICY_BY_KEY["replace"]
    _run(widget, qtbot)
    (item,) = load_dataset(tmp_path)
    np.testing.assert_array_equal(item.mask, (labels > 0).astype(np.uint8))


def test_weight_maps_from_the_widget(make_napari_viewer_proxy, qtbot, tmp_path):
    weightmap = pytest.importorskip("napari_segsuite.core.weightmap")
    viewer = make_napari_viewer_proxy()
    image, labels = synthetic_nuclei((48, 48), n_nuclei=5, seed=3)
    viewer.add_image(image, name="a")
    viewer.add_labels(labels, name="a labels")
    widget = ExportWidget(viewer)
    widget.folder.value = tmp_path
    widget.weights.value = True
    widget.w0.value, widget.sigma.value = 8.0, 3.0
    _run(widget, qtbot)
    (item,) = load_dataset(tmp_path)
    np.testing.assert_array_equal(item.weights, weightmap.unet_weight_map(labels, w0=8.0, sigma=3.0))
    assert "with weight maps" in widget.summary.value


def test_mistakes_are_notices(make_napari_viewer_proxy, tmp_path):
    viewer = make_napari_viewer_proxy()
    widget = ExportWidget(viewer)
    widget.folder.value = tmp_path
    assert widget.run() is None and "at least one Image + Labels pair" in widget.jobs.status
    viewer.add_image(np.zeros((10, 10), np.uint8), name="img")
    viewer.add_labels(np.zeros((10, 12), np.int32), name="other shape")
    assert widget.pairs.choices == ()  # no pair of matching shapes
    viewer.add_labels(np.zeros((10, 10), np.int32), name="lab")
    assert len(widget.pairs.choices) == 1 and widget.pairs.value
    widget.names.value = "a, b"
    assert widget.run() is None and "one item name per selected pair" in widget.jobs.status
    widget.names.value = "bad name!"
    assert widget.run() is None and "not usable as a file name" in widget.jobs.status
    widget.names.value = ""
    widget.folder.line_edit.value = ""  # the user cleared the field
    assert widget.run() is None and "choose an output folder" in widget.jobs.status


def test_cancel_leaves_only_complete_items(make_napari_viewer_proxy, qtbot, tmp_path):
    pytest.importorskip("napari_segsuite.core.weightmap")
    viewer = make_napari_viewer_proxy()
    stack = np.stack([synthetic_nuclei((96, 96), n_nuclei=10, seed=s)[0] for s in range(12)])
    labels = np.stack([synthetic_nuclei((96, 96), n_nuclei=10, seed=s)[1] for s in range(12)])
    viewer.add_image(stack, name="stack")
    viewer.add_labels(labels, name="stack labels")
    widget = ExportWidget(viewer)
    widget.folder.value = tmp_path
    widget.planes.value = PLANES_BY_KEY["each"]
    widget.weights.value = True
    widget.sigma.value = 20.0  # slower weight maps: time to cancel
    seen = []
    start = widget.jobs.start

    def cancelling_start(*args, on_yielded=None, **kwargs):
        def cancel_at_first_event(event):  # wired before the job starts: cannot miss the event
            seen.append(event)
            widget.jobs.cancel()
            if on_yielded is not None:
                on_yielded(event)

        return start(*args, on_yielded=cancel_at_first_event, **kwargs)

    widget.jobs.start = cancelling_start
    assert widget.run() is not None
    widget.jobs.start = start
    qtbot.waitUntil(lambda: widget.jobs.worker is None, timeout=60000)
    assert seen
    assert widget.jobs.cancelled and widget.jobs.status == "cancelled"
    assert widget.result is None  # no "wrote" notice for a cancelled export
    if (tmp_path / "dataset.json").exists():
        items = load_dataset(tmp_path)
        assert len(items) < 12
        for item in items:  # whatever is listed is complete
            k = int(item.name.rsplit("z", 1)[1])
            np.testing.assert_array_equal(item.mask, labels[k])
            assert item.weights is not None
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".part", ".old"))]
    assert widget.run_button.enabled


def test_pairs_exclude_diagnostic_layers_and_a_region_layer_is_exported_per_pair(make_napari_viewer_proxy, tmp_path,
                                                                                 wait_job):
    """Issue 20 item 8c: Export listed every Image x Labels pair (an image + its false-positive layer)."""
    from napari.layers import Labels

    from napari_segsuite.core.dataset import load_dataset
    from napari_segsuite._napari.export_widget import ExportWidget

    viewer = make_napari_viewer_proxy()
    img = np.arange(32 * 40, dtype=np.uint16).reshape(32, 40)
    lab = np.zeros((32, 40), np.int32)
    lab[2:10, 3:12], lab[20:28, 20:30] = 1, 2
    viewer.add_image(img, name="field")
    viewer.add_labels(lab, name="cells")
    viewer.add_labels(lab, name="false positives (cells)", metadata={"segsuite_role": "diagnostic"})
    viewer.add_layer(Labels(lab, name="superpixels", metadata={"segsuite_role": "superpixels"}))
    viewer.add_image(img.astype(np.float32), name="cells weights")
    region = np.zeros((32, 40), np.uint8)
    region[:16] = 1
    viewer.add_labels(region, name="cells region")
    widget = ExportWidget(viewer)
    assert [c[0].name + " + " + c[1].name for c in widget.pairs.choices] == ["field + cells"]
    assert [getattr(c, "name", c) for c in widget.region.choices][2:] == ["cells region"]
    widget.pairs.value = [widget.pairs.choices[0]]
    widget.region.value = viewer.layers["cells region"]
    widget.folder.value = str(tmp_path / "ds")
    assert widget.run() is not None, widget.jobs.status
    wait_job(widget.jobs)
    (item,) = load_dataset(tmp_path / "ds")
    assert np.array_equal(item.mask, lab) and np.array_equal(item.region, region)
    # 'auto' finds each pair's own region layer by name; none exports no region
    widget.region.value = widget.region.choices[1]
    items, _ = widget.build_items()
    assert np.array_equal(items[0][3], region != 0)
    widget.region.value = None
    items, _ = widget.build_items()
    assert items[0][3] is None
