"""Every widget with a background job, treated carelessly while the job runs.

For each widget: remove or rename the selected layer mid-job, press Cancel mid-job, and start the job
twice. The job is the widget's real core generator run through its real thread worker
(``JobControls``); the test only holds it at its first progress event (a ``threading.Event`` gate
wrapped around the core function) so it can act while the job is genuinely running.

Expected: no exception escapes into the Qt event loop, problems become notifications, the widget
stays usable (its run button enabled again and a new run works), a cancelled job adds nothing, and a
second start while running is refused.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from napari_segsuite.core.progress import Progress


@pytest.fixture
def notes(monkeypatch):
    import napari.utils.notifications as nn

    shown = []
    for kind in ("show_error", "show_warning", "show_info"):
        monkeypatch.setattr(nn, kind, lambda msg, kind=kind: shown.append((kind, str(msg))))
    return shown


class Gate:
    """Wraps a core generator function so each call stops after its first event until opened."""

    def __init__(self, real, hold_after: int = 0):
        self.real = real
        self.hold_after = hold_after  # real events to let through before holding
        self.started = threading.Event()
        self.opened = threading.Event()
        self.holding = threading.Event()  # the worker is blocked inside the job, waiting for the gate
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        inner = self.real(*args, **kwargs)
        gate = self

        def gated():
            for _ in range(gate.hold_after):
                try:
                    yield next(inner)
                except StopIteration as stop:
                    return stop.value
            gate.started.set()
            yield Progress(0, None, "held by the test")
            gate.holding.set()
            if not gate.opened.wait(60):
                raise TimeoutError("the test never opened the gate")
            result = yield from inner
            return result

        return gated()


@dataclass
class Spec:
    """How to drive one widget."""

    name: str
    widget: str  # "module:Class"
    core: list[str]  # "module:function" of the core generator(s) the run starts
    setup: Callable  # (viewer, widget) -> the source layer the job reads
    run: Callable  # (widget) -> worker or None
    button: Callable  # (widget) -> the run PushButton
    result_names: Callable = field(default=lambda source_name: [])  # names of layers a run adds
    combo: Callable = field(default=lambda w: None)  # (widget) -> the ComboBox selecting the source layer


def _labels_pair(seed=0):
    from napari_segsuite.core.samples.synthetic import synthetic_nuclei

    image, labels = synthetic_nuclei((96, 96), n_nuclei=8, seed=seed)
    return image, labels


def _setup_evaluate(viewer, w):
    _, gt = _labels_pair()
    pred = np.roll(gt, 2, axis=1)
    viewer.add_labels(gt, name="gt")
    source = viewer.add_labels(pred, name="pred", scale=(2, 2))
    w.gt.value = viewer.layers["gt"]
    w.pred.value = source
    w.mark_errors.value = True
    return source


def _setup_weightmap(viewer, w):
    _, labels = _labels_pair()
    source = viewer.add_labels(labels, name="cells", scale=(2, 2))
    w.labels_layer.value = source
    return source


def _setup_superpixels(viewer, w):
    image, _ = _labels_pair()
    source = viewer.add_image(image, name="nuclei", scale=(2, 2))
    w.image.value = source
    w.n_segments.value = 50
    return source


def _setup_grabcut(viewer, w):
    image, _ = _labels_pair()
    source = viewer.add_image(image, name="nuclei", scale=(2, 2))
    boxes = viewer.add_shapes([np.array([[10, 10], [10, 40], [40, 40], [40, 10]]) * 2.0],
                              shape_type="rectangle", name="boxes")
    w.image.value = source
    w.shapes.value = boxes
    w.output.value = None  # "new Labels layer"
    if hasattr(w, "cache"):
        w.cache.clear()  # a new run must compute, not reuse a cached box
    return source


def _setup_unet_predict(viewer, w):
    from napari_segsuite.core.samples import sample_path

    image, _ = _labels_pair()
    source = viewer.add_image(image, name="nuclei", scale=(2, 2))
    if w.checkpoint is None:
        w.model_path.value = str(sample_path("unet_nuclei.pt"))
        w.load()
        assert w.checkpoint is not None, w.jobs.status
    w.predict_image.value = source
    return source


def _setup_unet_train(viewer, w):
    image, labels = _labels_pair()
    source = viewer.add_image(image, name="nuclei", scale=(2, 2))
    lab = viewer.add_labels(labels, name="nuclei labels", scale=(2, 2))
    w.training.train_image.value = source
    w.training.train_labels.value = lab
    w.epochs.value = 1
    w.steps.value = 1
    w.patch_size.value = 64
    w.model_size.value = next(c for c in w.model_size.choices if "tiny" in c)
    w.device.value = "cpu"
    return source


def _setup_maskrcnn_predict(viewer, w):
    image, _ = _labels_pair()
    source = viewer.add_image(image, name="nuclei", scale=(2, 2))
    if w.checkpoint is None:
        assert w.load_sample_model(), w.jobs.status
    w.image.value = source
    return source


SPECS = [
    Spec("unet-predict", "napari_segsuite._napari.unet_widget:UNetWidget",
         ["napari_segsuite.core.unet.infer:iter_predict_unet"], _setup_unet_predict,
         lambda w: w.predict(), lambda w: w.predict_button, lambda src: [f"{src} U-Net"], lambda w: w.predict_image),
    Spec("unet-train", "napari_segsuite._napari.unet_widget:UNetWidget",
         ["napari_segsuite.core.unet.train:iter_train_unet"], _setup_unet_train,
         lambda w: w.train(), lambda w: w.train_button, lambda src: [], lambda w: w.training.train_image),
    Spec("maskrcnn-predict", "napari_segsuite._napari.maskrcnn_widget:MaskRCNNWidget",
         ["napari_segsuite.core.maskrcnn:iter_predict_maskrcnn"], _setup_maskrcnn_predict,
         lambda w: w.predict(), lambda w: w.predict_button, lambda src: [f"{src} Mask R-CNN"], lambda w: w.image),
    Spec("weightmap", "napari_segsuite._napari.weightmap_widget:WeightMapWidget",
         ["napari_segsuite.core.weightmap:iter_unet_weight_map"], _setup_weightmap,
         lambda w: w.run(), lambda w: w.run_button, lambda src: [f"{src} weight map"],
         lambda w: w.labels_layer),
    Spec("superpixels", "napari_segsuite._napari.superpixels_widget:SuperpixelsWidget",
         ["napari_segsuite.core.superpixels:iter_superpixels"], _setup_superpixels,
         lambda w: w.compute(), lambda w: w.compute_button, lambda src: ["superpixels"], lambda w: w.image),
    Spec("grabcut", "napari_segsuite._napari.grabcut_widget:GrabCutWidget",
         ["napari_segsuite.core.graphcut.boxes:iter_grabcut_masks"], _setup_grabcut,
         lambda w: w.run(), lambda w: w.run_button, lambda src: [f"GrabCut ({src})"], lambda w: w.image),
    Spec("evaluate", "napari_segsuite._napari.evaluate_widget:EvaluateWidget",
         ["napari_segsuite.core.metrics:iter_evaluate"], _setup_evaluate,
         lambda w: w.run(), lambda w: w.run_button,
         lambda src: [f"false positives ({src})", f"false negatives ({src})"], lambda w: w.pred),
]


def _available(spec):
    module, cls = spec.widget.split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        return None


PARAMS = [pytest.param(s, id=s.name, marks=pytest.mark.skipif(_available(s) is None, reason="not in this build"))
          for s in SPECS]


def _make(spec, viewer, monkeypatch):
    """The widget, its source layer, and the gate around its core function."""
    widget_cls = _available(spec)
    widget = widget_cls(viewer)
    gates = []
    for target in spec.core:
        module_name, func = target.split(":")
        module = importlib.import_module(module_name)
        gate = Gate(getattr(module, func))
        monkeypatch.setattr(module, func, gate)
        widget_module = importlib.import_module(spec.widget.split(":")[0])
        if hasattr(widget_module, func):  # imported at module level
            monkeypatch.setattr(widget_module, func, gate)
        gates.append(gate)
    source = spec.setup(viewer, widget)
    return widget, source, gates


def _start(spec, widget, gates):
    worker = spec.run(widget)
    assert worker is not None, f"{spec.name}: the run did not start (status: {widget.jobs.status!r})"
    assert any(g.started.wait(20) for g in gates), "the job never started"
    return worker


def _finish(qtbot, worker, gates, widget):
    with qtbot.waitSignal(worker.finished, timeout=60000):
        for g in gates:
            g.opened.set()
    qtbot.waitUntil(lambda: not widget.jobs.running, timeout=10000)


def _run_to_end(qtbot, spec, widget, gates):
    for g in gates:
        g.started.clear()
        g.opened.clear()
    worker = _start(spec, widget, gates)
    _finish(qtbot, worker, gates, widget)


@pytest.mark.parametrize("spec", PARAMS)
@pytest.mark.parametrize("action", ["remove", "rename"])
def test_changing_the_source_layer_mid_job(spec, action, make_napari_viewer_proxy, qtbot, monkeypatch, notes):
    viewer = make_napari_viewer_proxy()
    # Decoys listed first: a selection that falls back to "the first layer" picks the wrong one.
    viewer.add_image(np.zeros((96, 96), np.uint16), name="decoy image")
    viewer.add_labels(np.zeros((96, 96), np.int32), name="decoy labels")
    widget, source, gates = _make(spec, viewer, monkeypatch)
    name = source.name
    before = {layer.name for layer in viewer.layers}
    worker = _start(spec, widget, gates)
    if action == "remove":
        viewer.layers.remove(source)
    else:
        source.name = "renamed while running"
    _finish(qtbot, worker, gates, widget)
    assert spec.button(widget).enabled, "the widget stays usable"
    added = {layer.name for layer in viewer.layers} - before
    if action == "remove":
        # Either the result is added (computed from the data read at start) or the user is told why not
        # (a training job's result is the model, not a layer).
        if spec.result_names(name):
            assert added or any(kind in ("show_error", "show_warning") for kind, _ in notes), notes
        assert all(layer.name != name for layer in viewer.layers if layer is source)
        # Usable: put a layer back and run again to completion.
        source = spec.setup(viewer, widget)
        _run_to_end(qtbot, spec, widget, gates)
    else:
        assert not [n for n in notes if n[0] == "show_error"], notes
        # The renamed layer stays selected (layers were added since, so the choices were refreshed).
        combo = spec.combo(widget)
        if combo is not None:
            assert combo.value is not None and combo.value == source, \
                f"selection moved from the renamed layer to {getattr(combo.value, 'name', None)!r}"
        _run_to_end(qtbot, spec, widget, gates)
    assert not [n for n in notes if "Traceback" in n[1]]


@pytest.mark.parametrize("spec", PARAMS)
def test_cancel_mid_job_adds_nothing_and_stays_usable(spec, make_napari_viewer_proxy, qtbot, monkeypatch, notes):
    viewer = make_napari_viewer_proxy()
    widget, source, gates = _make(spec, viewer, monkeypatch)
    before = [layer.name for layer in viewer.layers]
    worker = _start(spec, widget, gates)
    with qtbot.waitSignal(worker.finished, timeout=60000):
        widget.jobs.cancel()
        for g in gates:
            g.opened.set()
    qtbot.waitUntil(lambda: not widget.jobs.running, timeout=10000)
    assert [layer.name for layer in viewer.layers] == before, "a cancelled job added layers"
    assert widget.jobs.status == "cancelled"
    assert spec.button(widget).enabled
    assert not [n for n in notes if n[0] == "show_error"], notes
    # The next run goes to the end and adds its result.
    _run_to_end(qtbot, spec, widget, gates)
    expected = spec.result_names(source.name)
    qtbot.waitUntil(lambda: all(n in viewer.layers for n in expected), timeout=10000)


@pytest.mark.parametrize("spec", PARAMS)
def test_second_start_while_running_is_refused(spec, make_napari_viewer_proxy, qtbot, monkeypatch, notes):
    viewer = make_napari_viewer_proxy()
    widget, source, gates = _make(spec, viewer, monkeypatch)
    worker = _start(spec, widget, gates)
    assert not spec.button(widget).enabled, "the run button is disabled while a job runs"
    calls = sum(g.calls for g in gates)
    try:
        second = spec.run(widget)
    except RuntimeError as exc:
        assert "already running" in str(exc)
        second = None
    assert second is None or second is worker
    assert sum(g.calls for g in gates) == calls, "a second job was started"
    _finish(qtbot, worker, gates, widget)
    assert spec.button(widget).enabled
    expected = spec.result_names(source.name)
    qtbot.waitUntil(lambda: all(n in viewer.layers for n in expected), timeout=10000)
    # Exactly one result of each kind.
    names = [layer.name for layer in viewer.layers]
    assert all(names.count(n) == 1 for n in expected), names


@pytest.mark.parametrize("spec", PARAMS)
def test_changing_layers_between_runs(spec, make_napari_viewer_proxy, qtbot, monkeypatch, notes):
    viewer = make_napari_viewer_proxy()
    widget, first, gates = _make(spec, viewer, monkeypatch)
    _run_to_end(qtbot, spec, widget, gates)
    qtbot.waitUntil(lambda: all(n in viewer.layers for n in spec.result_names(first.name)), timeout=10000)
    second = spec.setup(viewer, widget)  # new layers (napari renames clashes), selected in the widget
    assert second.name != first.name
    _run_to_end(qtbot, spec, widget, gates)
    qtbot.waitUntil(lambda: all(n in viewer.layers for n in spec.result_names(second.name)), timeout=10000)
    assert not [n for n in notes if n[0] == "show_error"], notes
    assert spec.button(widget).enabled


# ---------------------------------------------------------------------------------------------------
# Export: its result is files, not layers
# ---------------------------------------------------------------------------------------------------


def _export_widget(viewer, monkeypatch, folder, n_pairs=3, hold_after=1):
    try:
        from napari_segsuite._napari.export_widget import ExportWidget
    except ImportError:
        pytest.skip("the Export widget is not in this build")
    import napari_segsuite.core.dataset as ds

    gate = Gate(ds.iter_export_dataset, hold_after=hold_after)
    monkeypatch.setattr(ds, "iter_export_dataset", gate)
    layers = []
    for k in range(n_pairs):
        image, labels = _labels_pair(seed=k)
        layers.append((viewer.add_image(image, name=f"img{k}"), viewer.add_labels(labels, name=f"img{k} labels")))
    widget = ExportWidget(viewer)
    widget.pairs.value = [c for c in widget.pairs.choices if c[1] in [lab for _, lab in layers]
                          and c[0] in [img for img, _ in layers] and c[0].name + " labels" == c[1].name]
    widget.folder.value = str(folder)
    return widget, gate, layers


def _dataset_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_export_cancel_mid_export_leaves_only_whole_items(make_napari_viewer_proxy, qtbot, monkeypatch, tmp_path,
                                                           notes):
    from napari_segsuite.core.dataset import load_dataset

    viewer = make_napari_viewer_proxy()
    folder = tmp_path / "ds"
    widget, gate, layers = _export_widget(viewer, monkeypatch, folder)
    assert len(widget.pairs.value) == 3
    worker = widget.run()
    assert worker is not None, widget.jobs.status
    assert gate.holding.wait(20)  # img0 written; the worker is inside the next step
    with qtbot.waitSignal(worker.finished, timeout=60000):
        widget.jobs.cancel()
        gate.opened.set()
    qtbot.waitUntil(lambda: not widget.jobs.running, timeout=10000)
    assert widget.jobs.status == "cancelled"
    files = _dataset_files(folder)
    assert not [f for f in files if f.startswith(".") or "/." in f or f.endswith(".part")], files
    # Cancel was pressed while the job was busy on img1 (held inside its step), so img1 completes and
    # the export stops at its next progress event: img2 is never written, and no file is partial.
    items = load_dataset(folder)
    assert [it.name for it in items] == ["img0", "img1"]
    for item, (_, lab) in zip(items, layers):
        np.testing.assert_array_equal(item.mask, lab.data)
    assert not [f for f in files if "img2" in f], files
    assert widget.run_button.enabled and not [n for n in notes if n[0] == "show_error"]


def test_export_source_removed_mid_export_still_writes_what_was_read(make_napari_viewer_proxy, qtbot, monkeypatch,
                                                                      tmp_path, notes):
    from napari_segsuite.core.dataset import load_dataset

    viewer = make_napari_viewer_proxy()
    folder = tmp_path / "ds"
    widget, gate, layers = _export_widget(viewer, monkeypatch, folder, n_pairs=2, hold_after=0)
    expected = {img.name: lab.data.copy() for img, lab in layers}
    worker = widget.run()
    assert worker is not None, widget.jobs.status
    assert gate.started.wait(20)
    assert not widget.run_button.enabled
    for img, lab in layers:
        viewer.layers.remove(lab)
        viewer.layers.remove(img)
    with qtbot.waitSignal(worker.finished, timeout=60000):
        gate.opened.set()
    qtbot.waitUntil(lambda: not widget.jobs.running, timeout=10000)
    items = {it.name: it for it in load_dataset(folder)}
    assert sorted(items) == sorted(expected)
    for name, mask in expected.items():
        np.testing.assert_array_equal(items[name].mask, mask)
    assert widget.run_button.enabled
    assert widget.pairs.value in ([], ()) or widget.pairs.value is None
