"""A large dask-backed layer in the U-Net widget: predicted block by block in the worker into an OME-Zarr
label image on disk (never read on the GUI thread), shown from that file; Cancel leaves it resumable."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import zarr

pytest.importorskip("dask")


class CountingArray:
    """A read-only array recording the thread and shape of every read."""

    def __init__(self, data):
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim
        self.reads = []

    def __getitem__(self, index):
        out = self.data[index]
        self.reads.append((out.shape, threading.current_thread()))
        return out


@pytest.fixture
def large(monkeypatch, tmp_path):
    """The sample image as a dask layer counted as large (over 200 x 200 a plane), 256-px blocks."""
    import dask
    import dask.array as da

    from napari_segsuite._napari import _large
    from napari_segsuite.core import load_sample

    monkeypatch.setattr(_large, "LARGE_PIXELS", 200 * 200)
    monkeypatch.setattr(_large, "BLOCK_SIZE", 256)
    monkeypatch.setattr(_large, "cache_dir", lambda: tmp_path / "cache")
    image, _ = load_sample("nuclei_test")
    counting = CountingArray(image)
    with dask.config.set(scheduler="synchronous"):  # a chunk is read in the thread that computes it
        yield counting, da.from_array(counting, chunks=128)


def _gate(monkeypatch, events):
    """Wrap the widget's job so the test sees its events and can hold it after its first finished block."""
    from napari_segsuite._napari import _large

    first_block, proceed = threading.Event(), threading.Event()
    inner_job = _large._iter_large

    def gated(*args, **kwargs):
        inner = inner_job(*args, **kwargs)
        try:
            while True:
                try:
                    event = next(inner)
                except StopIteration as done:
                    return done.value
                events.append(event)
                if event.info.get("phase") == "predict" and not first_block.is_set():
                    first_block.set()
                    proceed.wait(60)
                yield event
        finally:
            inner.close()

    monkeypatch.setattr(_large, "_iter_large", gated)
    return first_block, proceed


def test_large_dask_layer_is_predicted_block_by_block_into_a_zarr_on_disk(
    make_napari_viewer_proxy, qtbot, wait_job, large, monkeypatch, tmp_path
):
    from napari_segsuite._napari.unet_widget import UNetWidget
    from napari_segsuite.core.distributed.output import work_dir

    counting, lazy = large
    viewer = make_napari_viewer_proxy()
    layer = viewer.add_image(lazy, name="big nuclei", scale=(0.5, 0.5), translate=(10.0, -4.0),
                             contrast_limits=(0, 4000))
    widget = UNetWidget(viewer)
    assert widget.load_sample_model()
    widget.predict_image.value = layer
    widget.device.value = "cpu"
    out = tmp_path / "labels.ome.zarr"
    widget.large_output.value = out
    events = []
    first_block, proceed = _gate(monkeypatch, events)
    main = threading.main_thread()
    drawn = len(counting.reads)  # napari reads what it shows itself

    # 1. cancelled after the first of the 4 blocks: a resumable folder, no layer, nothing read here
    assert widget.predict() is not None
    qtbot.waitUntil(first_block.is_set, timeout=60_000)
    widget.jobs.cancel()
    proceed.set()
    wait_job(widget.jobs)
    assert widget.jobs.status == "cancelled"
    assert len(viewer.layers) == 1
    assert (work_dir(out) / "job.json").exists()
    assert len(list((work_dir(out) / "blocks").glob("*.done"))) == 1
    assert "ome" not in dict(zarr.open_group(str(out), mode="r").attrs)  # not yet a finished image

    # 2. predicted again: resumes at block 1 of 4, one progress event per remaining block
    events.clear()
    assert widget.predict() is not None
    wait_job(widget.jobs, 120_000)
    assert events[0].info["resumed"] and (events[0].step, events[0].total) == (1, 4)
    assert [e.step for e in events if e.info.get("phase") == "predict"] == [2, 3, 4]
    reads = counting.reads[drawn:]
    assert reads and not [shape for shape, thread in reads if thread is main]  # never on the GUI thread
    assert max(shape[0] * shape[1] for shape, _ in reads) <= 128 * 128  # dask chunks, not the image

    # 3. the result layer reads the zarr levels on disk, with the image layer's scale and translate
    result = viewer.layers["big nuclei U-Net"]
    assert result.multiscale and len(result.data) >= 2
    s0 = result.data[0]
    assert isinstance(s0, zarr.Array) and s0.shape == (512, 512) and s0.dtype == np.uint32
    on_disk = zarr.open_group(str(out), mode="r")
    assert np.array_equal(s0[:], on_disk["s0"][:]) and str(out) in str(s0.store)
    labels = s0[:]
    ids = np.unique(labels)[1:]
    assert len(ids) > 20 and ids.tolist() == list(range(1, len(ids) + 1))
    assert tuple(result.scale) == (0.5, 0.5) and tuple(result.translate) == (10.0, -4.0)
    datasets = dict(on_disk.attrs)["ome"]["multiscales"][0]["datasets"]
    assert datasets[0]["coordinateTransformations"] == [
        {"type": "scale", "scale": [0.5, 0.5]}, {"type": "translation", "translation": [10.0, -4.0]}]
    assert not work_dir(out).exists()


def test_an_existing_foreign_folder_is_refused_and_small_layers_keep_the_usual_path(
    make_napari_viewer_proxy, wait_job, large, tmp_path, shown_errors
):
    from napari_segsuite._napari import _large
    from napari_segsuite._napari.unet_widget import UNetWidget

    _, lazy = large
    viewer = make_napari_viewer_proxy()
    layer = viewer.add_image(lazy, name="big")
    widget = UNetWidget(viewer)
    assert widget.load_sample_model()
    widget.predict_image.value = layer
    foreign = tmp_path / "my data"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    widget.large_output.value = foreign
    assert widget.predict() is None
    assert "is not a napari-segsuite prediction" in shown_errors[-1]
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert _large.is_large(lazy, None) and not _large.is_large(np.asarray(lazy), None)
    assert not _large.is_large(lazy[:150, :150], None)
