"""A dask-backed layer reaches the worker unread: the GUI thread computes no more than what napari shows."""

from __future__ import annotations

import threading

import numpy as np

from napari_segsuite.core.samples.synthetic import synthetic_nuclei


def test_dask_layer_is_read_in_the_worker_not_on_the_gui_thread(make_napari_viewer_proxy, wait_job):
    import dask

    # each compute runs in the thread that asks for it (dask's default pool would hide a GUI-thread read)
    with dask.config.set(scheduler="synchronous"):
        _check(make_napari_viewer_proxy, wait_job)


def _check(make_napari_viewer_proxy, wait_job):
    import dask
    import dask.array as da

    from napari_segsuite._napari.superpixels_widget import SuperpixelsWidget

    planes = [synthetic_nuclei((64, 64), seed=s)[0] for s in range(4)]
    reads = []  # (plane, thread) of every computed chunk

    def load(z):
        reads.append((z, threading.current_thread()))
        return planes[z][np.newaxis]

    stack = da.concatenate([da.from_delayed(dask.delayed(load)(z), (1, 64, 64), planes[0].dtype)
                            for z in range(4)])
    viewer = make_napari_viewer_proxy()
    lo, hi = float(min(p.min() for p in planes)), float(max(p.max() for p in planes))
    layer = viewer.add_image(stack, name="lazy", contrast_limits=(lo, hi))
    assert isinstance(layer.data, da.Array)
    widget = SuperpixelsWidget(viewer)
    widget.image.value = layer
    widget.n_segments.value = 50
    main = threading.main_thread()
    drawn = len(reads)  # napari reads the shown plane(s) itself, in its slicing threads
    worker = widget.compute()
    assert worker is not None, widget.status.value
    assert not [z for z, t in reads[drawn:] if t is main], reads  # starting the job read nothing here
    wait_job(widget.jobs)
    assert widget.graph is not None and widget.merged.shape == (4, 64, 64)
    assert {z for z, _ in reads[drawn:]} == {0, 1, 2, 3}, reads  # the job read every plane...
    assert not [z for z, t in reads[drawn:] if t is main], reads  # ... in its worker
