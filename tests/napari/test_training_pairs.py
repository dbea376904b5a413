"""TrainingPairs: the (Image, Labels) layer pairs / dataset folder chooser shared by the model widgets."""

import numpy as np
import pytest

from napari_segsuite._napari.maskrcnn_widget import MaskRCNNWidget
from napari_segsuite._napari.training_pairs import TrainingPairs
from napari_segsuite._napari.unet_widget import UNetWidget
from napari_segsuite.core.dataset import export_dataset
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


@pytest.fixture
def notes(monkeypatch):
    import napari.utils.notifications as nn

    shown = []
    monkeypatch.setattr(nn, "show_error", lambda msg: shown.append(str(msg)))
    return shown


def _two_pairs(viewer):
    a_img, a_lab = synthetic_nuclei((48, 48), 4, seed=1)
    b_img, b_lab = synthetic_nuclei((40, 56), 3, seed=2)
    layers = (viewer.add_image(a_img, name="a"), viewer.add_labels(a_lab, name="a labels"),
              viewer.add_image(b_img, name="b"), viewer.add_labels(b_lab, name="b labels"))
    return layers, (a_img, a_lab, b_img, b_lab)


def test_pairs_are_added_once_read_as_copies_and_cleared(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    (a, a_lab, b, b_lab), (a_img, a_lab_data, b_img, b_lab_data) = _two_pairs(viewer)
    pairs = TrainingPairs(viewer)
    assert pairs.pairs_label.value == "pairs: none (the selected image + labels are used)"
    for image, labels in ((a, a_lab), (b, b_lab), (a, a_lab)):  # the third is a repeat: kept once
        pairs.train_image.value, pairs.train_labels.value = image, labels
        pairs.add_pair()
    assert pairs.pairs_label.value == "pairs: a + a labels; b + b labels"
    data, channel_axis = pairs.training_data()
    assert channel_axis is None and len(data) == 2
    np.testing.assert_array_equal(data[0][0], a_img)
    np.testing.assert_array_equal(data[1][1], b_lab_data)
    data[0][1][:] = 0  # the job gets copies: painting meanwhile does not change what it trains on
    assert np.array_equal(a_lab.data, a_lab_data) and a_lab.data.max() == a_lab_data.max() > 0
    pairs.clear_pairs()
    assert pairs.pairs == [] and "none" in pairs.pairs_label.value
    # no pair added: the selected image + labels are the one pair
    pairs.train_image.value, pairs.train_labels.value = b, b_lab
    data, _ = pairs.training_data()
    assert len(data) == 1 and np.array_equal(data[0][0], b_img)


def test_removed_layers_leave_the_pairs_and_renamed_ones_stay_selected(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    (a, a_lab, b, b_lab), _ = _two_pairs(viewer)
    pairs = TrainingPairs(viewer)
    for image, labels in ((a, a_lab), (b, b_lab)):
        pairs.train_image.value, pairs.train_labels.value = image, labels
        pairs.add_pair()
    viewer.layers.remove(a_lab)
    assert [(i.name, lab.name) for i, lab in pairs.pairs] == [("b", "b labels")]
    assert pairs.pairs_label.value == "pairs: b + b labels"
    assert a_lab not in pairs.train_labels.choices
    b.name = "renamed b"
    viewer.add_image(np.zeros((8, 8), np.uint8), name="newcomer")  # refreshes the choices
    assert pairs.train_image.value == b and pairs.train_labels.value == b_lab
    assert {c.name for c in pairs.train_image.choices} == {"a", "renamed b", "newcomer"}


def test_user_mistakes_are_clear_errors(make_napari_viewer_proxy, tmp_path, notes):
    viewer = make_napari_viewer_proxy()
    pairs = TrainingPairs(viewer)
    pairs.add_pair()  # nothing to pair
    assert notes == ["choose an Image and a Labels layer to add as a pair."] and pairs.pairs == []
    with pytest.raises(ValueError, match=r"add at least one \(Image, Labels\) training pair"):
        pairs.training_data()
    image = viewer.add_image(np.zeros((30, 30), np.uint16), name="img")
    labels = viewer.add_labels(np.zeros((30, 31), np.int32), name="lab")
    pairs.train_image.value, pairs.train_labels.value = image, labels
    with pytest.raises(ValueError, match=r"image 'img' \(30, 30\) and labels 'lab' \(30, 31\) do not have the same"):
        pairs.training_data()
    pairs.source.value = "dataset folder"
    assert pairs.train_image.native.isHidden() and not pairs.dataset.native.isHidden()
    with pytest.raises(ValueError, match="choose an existing dataset folder"):
        pairs.training_data()
    pairs.dataset.value = tmp_path / "not there"
    with pytest.raises(ValueError, match="choose an existing dataset folder"):
        pairs.training_data()
    img, lab = synthetic_nuclei((32, 32), 2, seed=0)
    folder = export_dataset(tmp_path / "ds", [("x", img, lab)])
    pairs.dataset.value = folder
    assert pairs.training_data() == (folder, None)
    pairs.source.value = "layer pairs"
    assert not pairs.train_image.native.isHidden() and pairs.dataset.native.isHidden()


def test_features_and_rgb_channel_axis(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    rgb = np.zeros((20, 24, 3), np.uint8)
    lab = np.zeros((20, 24), np.int32)
    lab[2:8, 2:8], lab[10:15, 10:20] = 1, 2
    image = viewer.add_image(rgb, name="rgb", rgb=True)
    classes = viewer.add_labels(lab, name="classes", features={"index": [0, 1, 2], "class": [0, 3, 1]})
    plain = viewer.add_labels(lab, name="plain")
    pairs = TrainingPairs(viewer)
    for labels in (classes, plain):
        pairs.train_image.value, pairs.train_labels.value = image, labels
        pairs.add_pair()
    data, channel_axis = pairs.training_data(with_features=True)
    assert channel_axis == -1 and len(data[0]) == 3
    assert data[0][2]["class"].tolist() == [0, 3, 1] and data[0][2]["index"].tolist() == [0, 1, 2]
    assert data[1][2] is None  # no class column: one class
    assert all(len(item) == 2 for item in pairs.training_data()[0])


@pytest.mark.parametrize("widget_cls", [UNetWidget, MaskRCNNWidget])
def test_model_widgets_share_it_and_report_in_their_status(widget_cls, make_napari_viewer_proxy, notes):
    viewer = make_napari_viewer_proxy()
    widget = widget_cls(viewer)
    assert isinstance(widget.training, TrainingPairs)
    widget.training.add_pair()
    assert widget.jobs.status == "choose an Image and a Labels layer to add as a pair." and len(notes) == 1
    viewer.add_image(np.zeros((16, 16), np.uint16), name="img")
    assert widget.train() is None and "add at least one (Image, Labels) training pair" in widget.jobs.status
    assert widget.train_button.enabled


def test_a_region_per_pair_from_a_shapes_or_labels_layer(make_napari_viewer_proxy):
    """Partial labels: a pair's region (rectangles, or a painted Labels layer) reaches the trainer as a
    TrainingItem region of the labels' shape; without a region the pair stays a plain tuple."""
    from napari_segsuite.core.training import TrainingItem

    viewer = make_napari_viewer_proxy()
    (a, a_lab, b, b_lab), _ = _two_pairs(viewer)
    rows, cols = a_lab.data.shape
    boxes = viewer.add_shapes([np.array([[0, 0], [0, cols // 2], [rows, cols // 2], [rows, 0]])],
                              shape_type="rectangle", name="done here")
    painted = np.zeros(b_lab.data.shape, np.uint8)
    painted[: b_lab.data.shape[0] // 4] = 1
    painted_layer = viewer.add_labels(painted, name="complete")
    pairs = TrainingPairs(viewer)
    for image, labels, region in ((a, a_lab, boxes), (b, b_lab, painted_layer), (a, a_lab, None)):
        pairs.train_image.value, pairs.train_labels.value, pairs.train_region.value = image, labels, region
        pairs.add_pair()
    assert "(in done here)" in pairs.pairs_label.value and "(in complete)" in pairs.pairs_label.value
    data, _ = pairs.training_data()
    assert isinstance(data[0], TrainingItem) and isinstance(data[1], TrainingItem) and len(data[2]) == 2
    expected = np.zeros((rows, cols), np.uint8)
    expected[:, : cols // 2 + 1] = 1                    # the rectangle, its right edge column included
    assert data[0].region.dtype == np.uint8
    assert abs(int(data[0].region.sum()) - int(expected.sum())) <= rows     # napari rasterises the edge
    assert data[0].region[:, : cols // 2].all() and not data[0].region[:, cols // 2 + 2:].any()
    np.testing.assert_array_equal(data[1].region, painted)
    viewer.layers.remove(painted_layer)                 # its pair goes with it
    assert len(pairs.pairs) == len(pairs.pair_regions) == 2
    painted_layer = viewer.add_labels(np.zeros_like(painted), name="empty region")
    pairs.clear_pairs()
    pairs.train_image.value, pairs.train_labels.value, pairs.train_region.value = b, b_lab, painted_layer
    with pytest.raises(ValueError, match="marks nothing"):
        pairs.training_data()
