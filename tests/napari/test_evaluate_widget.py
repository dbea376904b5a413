import numpy as np

from napari_segsuite._napari.evaluate_widget import EvaluateWidget


def _pair():
    gt = np.zeros((40, 60), np.int32)
    gt[2:12, 2:12] = 1
    gt[2:12, 20:30] = 2
    gt[20:30, 2:12] = 3
    pred = np.zeros_like(gt)
    pred[2:12, 2:12] = 50
    pred[2:12, 23:33] = 7
    pred[25:35, 40:50] = 9
    return gt, pred


def test_evaluate_threaded_fills_table_and_marks_errors(make_napari_viewer_proxy, qtbot, wait_job):
    viewer = make_napari_viewer_proxy()
    gt, pred = _pair()
    viewer.add_labels(gt, name="gt", scale=(2, 2))
    viewer.add_labels(pred, name="pred", scale=(2, 2))
    widget = EvaluateWidget(viewer)
    widget.gt.value = viewer.layers["gt"]
    widget.pred.value = viewer.layers["pred"]
    widget.mark_errors.value = True
    widget.run()
    wait_job(widget.jobs, 20000)
    qtbot.waitUntil(lambda: widget.metrics is not None, timeout=5000)
    assert (widget.metrics["tp"], widget.metrics["fp"], widget.metrics["fn"]) == (2, 1, 1)
    values = {row[0]: row[1] for row in widget.table.data}
    assert values["AP@0.5"] == "0.500"
    fp = viewer.layers["false positives (pred)"]
    fn = viewer.layers["false negatives (pred)"]
    assert set(np.unique(fp.data)) == {0, 9} and set(np.unique(fn.data)) == {0, 3}
    assert tuple(fp.scale) == (2, 2)
    assert widget.run_button.enabled


def test_evaluate_shape_mismatch_is_a_notice_not_a_crash(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    viewer.add_labels(np.zeros((10, 10), np.int32), name="a")
    viewer.add_labels(np.zeros((10, 12), np.int32), name="b")
    widget = EvaluateWidget(viewer)
    widget.gt.value = viewer.layers["a"]
    widget.pred.value = viewer.layers["b"]
    assert widget.run() is None
    assert "same pixels" in widget.jobs.status
    assert widget.run_button.enabled


def test_layer_in_viewer_sees_through_the_plugin_proxy(make_napari_viewer_proxy):
    from napari.utils._proxies import PublicOnlyProxy

    from napari_segsuite._napari._layers import layer_in_viewer

    viewer = make_napari_viewer_proxy()
    layer = viewer.add_labels(np.zeros((4, 4), np.int32))
    proxy = PublicOnlyProxy(viewer)
    assert layer_in_viewer(proxy, proxy.layers[0])
    viewer.layers.clear()
    assert not layer_in_viewer(proxy, layer)


def test_error_layers_have_one_colour_each_and_the_widget_says_which(make_napari_viewer_proxy, qtbot, wait_job):
    """Issue 20 item 6: both error layers were random multicolour labels, impossible to tell apart."""
    viewer = make_napari_viewer_proxy()
    gt, pred = _pair()
    viewer.add_labels(gt, name="gt")
    viewer.add_labels(pred, name="pred")
    widget = EvaluateWidget(viewer)
    widget.gt.value, widget.pred.value = viewer.layers["gt"], viewer.layers["pred"]
    widget.mark_errors.value = True
    widget.run()
    wait_job(widget.jobs, 20000)
    qtbot.waitUntil(lambda: "false positives (pred)" in viewer.layers, timeout=5000)
    fp, fn = viewer.layers["false positives (pred)"], viewer.layers["false negatives (pred)"]
    red, blue = fp.colormap.map(np.array([9]))[0], fn.colormap.map(np.array([3]))[0]
    assert np.allclose(red, (1, 0, 0, 1))
    assert blue[2] > 0.9 and blue[0] < 0.2 and blue[3] == 1
    # every id of a layer has its one colour (not a random colour per id); 0 stays transparent
    assert np.allclose(fp.colormap.map(np.array([1, 50, 1234])), red)
    assert fp.colormap.map(np.array([0]))[0][3] == 0
    assert "red" in widget.legend.value and "blue" in widget.legend.value
    assert "1 false positive(s) in red" in widget.jobs.status and "1 false negative(s) in blue" in widget.jobs.status
    assert fp.metadata["segsuite_role"] == fn.metadata["segsuite_role"] == "diagnostic"
