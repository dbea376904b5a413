"""Array objects (dask, zarr) as the block predictor's input, run in process (no dask scheduler), against
single-process prediction of the 512x512 sample."""

import numpy as np
import pytest
import zarr

from napari_segsuite.core import sample_path
from napari_segsuite.core.distributed import array_source, iter_predict_distributed, predict_distributed
from napari_segsuite.core.distributed.cluster import InlineClient, connect, gather_results
from napari_segsuite.core.metrics import average_precision

UNET = "unet_nuclei.pt"


class CountingArray:
    """A read-only array that records the regions read from it (rows x cols of every read)."""

    def __init__(self, data):
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim
        self.reads = []

    def __getitem__(self, index):
        out = self.data[index]
        self.reads.append(out.shape)
        return out


def _s0(path):
    return zarr.open_group(str(path), mode="r")["s0"][:]


def test_inline_client_runs_tasks_lazily_in_order_and_drops_cancelled_ones():
    ran = []
    with connect(scheduler="inprocess") as client:
        assert isinstance(client, InlineClient)
        futures = [client.submit(lambda i: ran.append(i) or i * i, i) for i in range(4)]
        assert ran == []  # nothing runs at submit
        it = gather_results(client, futures, "test")
        assert next(it)[1] == 0 and ran == [0]
        client.cancel(futures)
        assert ran == [0]
        assert client.gather(client.map(lambda a, b: a + b, [1, 2], [10, 20])) == [11, 22]
    with pytest.raises(ValueError, match="do not give workers"):
        with connect(workers=2, scheduler="inprocess"):
            pass


def test_dask_array_in_process_equals_single_process(reference, sample_zarr, tmp_path):
    da = pytest.importorskip("dask.array")
    _, image = sample_zarr
    lazy = da.from_array(image, chunks=128)
    out = predict_distributed(
        sample_path(UNET), lazy, tmp_path / "out.ome.zarr", scheduler="inprocess", block_size=256,
        device="cpu",
    )
    result, ref = _s0(out), reference(UNET)
    assert result.dtype == np.uint32
    ids = np.unique(result)[1:]
    assert ids.tolist() == list(range(1, len(ids) + 1))
    assert average_precision(ref, result, thresholds=(0.5,))["ap"][0] >= 0.99
    assert np.array_equal(result > 0, ref > 0)
    attrs = dict(zarr.open_group(str(out), mode="r").attrs)
    assert attrs["segsuite"]["input"]["array"] == f"dask:{lazy.name}"


def test_an_array_is_read_block_by_block(reference, sample_zarr, tmp_path):
    from napari_segsuite.core.distributed import default_halo

    _, image = sample_zarr
    counting = CountingArray(image)
    out = predict_distributed(sample_path(UNET), counting, tmp_path / "out.ome.zarr", scheduler="inprocess",
                              block_size=256, device="cpu")
    halo = default_halo(sample_path(UNET))
    assert 256 + 2 * halo < 512
    # one read of the whole plane for the normalisation range (a strided subsample past 4 Mpx), then one
    # read per block, each of its core and halo only
    assert sorted(counting.reads) == sorted([(512, 512)] + [(256 + halo, 256 + halo)] * 4)
    assert average_precision(reference(UNET), _s0(out), thresholds=(0.5,))["ap"][0] >= 0.99


def test_zarr_array_stack_with_scale_and_translate(reference, sample_zarr, tmp_path):
    _, image = sample_zarr
    stack = np.stack([image[:256, :256], image[256:, 256:]])
    arr = zarr.create_array(str(tmp_path / "in.zarr"), shape=stack.shape, dtype=stack.dtype, chunks=(1, 64, 64))
    arr[:] = stack
    source = array_source(arr, axes="zyx", scale=(2.0, 0.5, 0.5), unit="micrometer",
                          translate=(4.0, 10.0, -3.0))
    out = predict_distributed(sample_path(UNET), source, tmp_path / "out.ome.zarr", scheduler="inprocess",
                              block_size=128, device="cpu")
    from napari_segsuite.core.predict import predict_checkpoint

    result = _s0(out)
    assert result.shape == stack.shape
    ref = predict_checkpoint(sample_path(UNET), stack, device="cpu")
    for z in range(2):
        assert average_precision(ref[z], result[z], thresholds=(0.5,))["ap"][0] >= 0.99
    datasets = dict(zarr.open_group(str(out), mode="r").attrs)["ome"]["multiscales"][0]["datasets"]
    assert datasets[0]["coordinateTransformations"] == [
        {"type": "scale", "scale": [2.0, 0.5, 0.5]},
        {"type": "translation", "translation": [4.0, 10.0, -3.0]},
    ]
    assert datasets[1]["coordinateTransformations"][0]["scale"] == [2.0, 1.0, 1.0]


def test_closing_the_generator_between_blocks_leaves_a_resumable_job(reference, sample_zarr, tmp_path):
    da = pytest.importorskip("dask.array")
    _, image = sample_zarr
    lazy = da.from_array(image, chunks=128)
    out = tmp_path / "out.ome.zarr"
    kwargs = dict(scheduler="inprocess", block_size=256, device="cpu")
    job = iter_predict_distributed(sample_path(UNET), lazy, out, **kwargs)
    events = []
    for event in job:
        events.append(event)
        if event.info.get("phase") == "predict":  # the first block is done: stop here
            break
    job.close()
    assert not (out / "zarr.json").exists() or "ome" not in dict(zarr.open_group(str(out), mode="r").attrs)
    events = list(_events(iter_predict_distributed(sample_path(UNET), lazy, out, **kwargs)))
    assert events[0].info["resumed"] and events[0].step == 1 and events[0].total == 4
    result = _s0(out)
    assert average_precision(reference(UNET), result, thresholds=(0.5,))["ap"][0] >= 0.99


def _events(gen):
    try:
        while True:
            yield next(gen)
    except StopIteration:
        return


def test_array_source_refusals():
    with pytest.raises(ValueError, match="axes 'yx' do not fit"):
        array_source(np.zeros((3, 32, 32)), axes="yx")
    with pytest.raises(ValueError, match="numeric"):
        array_source(np.zeros((32, 32), dtype=object))
    with pytest.raises(ValueError, match="one value per spatial axis"):
        array_source(np.zeros((32, 32, 3)), axes="yxc", translate=(0, 0, 0))
