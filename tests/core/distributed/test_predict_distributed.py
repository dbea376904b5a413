"""Distributed prediction of the 512x512 sample on a 2-worker LocalCluster against single-process
prediction."""

import os
import signal

import numpy as np
import pytest
import zarr
from scipy import ndimage as ndi

from napari_segsuite.core import sample_path
from napari_segsuite.core.distributed import iter_predict_distributed, predict_distributed
from napari_segsuite.core.metrics import average_precision

BLOCK = {"unet_nuclei.pt": 256, "maskrcnn_nuclei.pt": 256}


def seam_duplicates(reference, result) -> int:
    """Reference objects covered (> 10% of their area) by more than one result object."""
    dup = 0
    for rid in np.unique(reference)[1:]:
        ids, counts = np.unique(result[reference == rid], return_counts=True)
        area = counts.sum()
        dup += int(sum(1 for i, c in zip(ids, counts) if i and c > 0.1 * area) > 1)
    return dup


def _s0(path):
    return zarr.open_group(str(path), mode="r")["s0"][:]


def _check_against_reference(result, ref):
    assert result.dtype == np.uint32
    ids = np.unique(result)[1:]
    assert ids.tolist() == list(range(1, len(ids) + 1))  # globally unique, numbered 1..N
    assert average_precision(ref, result, thresholds=(0.5,))["ap"][0] >= 0.99
    assert seam_duplicates(ref, result) == 0


def test_unet_on_a_new_local_cluster_equals_single_process(sample_zarr, reference, tmp_path):
    path, _ = sample_zarr
    out = predict_distributed(
        sample_path("unet_nuclei.pt"),
        path,
        tmp_path / "unet.ome.zarr",
        workers=2,
        block_size=BLOCK["unet_nuclei.pt"],
        device="cpu",
    )
    result, ref = _s0(out), reference("unet_nuclei.pt")
    _check_against_reference(result, ref)
    # the whole image's normalisation + a halo past the receptive margin: the same foreground, pixel for pixel
    assert np.array_equal(result > 0, ref > 0)
    level1 = zarr.open_group(str(out), mode="r")["s1"][:]
    assert np.array_equal(level1, result[::2, ::2])


def test_maskrcnn_on_an_existing_cluster_equals_single_process(sample_zarr, reference, cluster, tmp_path):
    path, _ = sample_zarr
    out = predict_distributed(
        sample_path("maskrcnn_nuclei.pt"),
        path,
        tmp_path / "mrcnn.ome.zarr",
        scheduler=cluster.scheduler_address,
        block_size=BLOCK["maskrcnn_nuclei.pt"],
        device="cpu",
    )
    _check_against_reference(_s0(out), reference("maskrcnn_nuclei.pt"))


def test_a_killed_worker_does_not_change_the_result(sample_zarr, reference, cluster, tmp_path):
    from distributed import Client

    path, _ = sample_zarr
    with Client(cluster) as client:
        pids = client.run(os.getpid)
    job = iter_predict_distributed(
        sample_path("unet_nuclei.pt"),
        path,
        tmp_path / "k.ome.zarr",
        scheduler=cluster.scheduler_address,
        block_size=128,
        device="cpu",
    )
    killed = False
    out = None
    try:
        while True:
            event = next(job)
            if not killed and event.info.get("phase") == "predict" and event.step >= 1:
                os.kill(next(iter(pids.values())), signal.SIGKILL)  # one worker, mid-run
                killed = True
    except StopIteration as stop:
        out = stop.value
    assert killed and event.step == event.total
    with Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        assert set(client.run(os.getpid).values()) != set(pids.values())  # the nanny restarted it
    result, ref = _s0(out), reference("unet_nuclei.pt")
    _check_against_reference(result, ref)
    assert np.array_equal(result > 0, ref > 0)


def test_an_interrupted_job_resumes_from_its_finished_blocks(sample_zarr, reference, cluster, tmp_path):
    from napari_segsuite.core.distributed.layout import block_grid
    from napari_segsuite.core.distributed.output import work_dir

    path, _ = sample_zarr
    output = tmp_path / "r.ome.zarr"
    kwargs = dict(scheduler=cluster.scheduler_address, block_size=128, device="cpu")
    job = iter_predict_distributed(sample_path("unet_nuclei.pt"), path, output, **kwargs)
    for event in job:
        if event.info.get("phase") == "predict" and event.step >= 3:
            break
    job.close()  # interrupted
    blocks_dir = work_dir(output) / "blocks"
    finished = sorted(p.stem for p in blocks_dir.glob("*.done"))
    assert len(finished) >= 3 and not (zarr.open_group(str(output), mode="r").attrs.get("ome"))
    # tamper with the first finished block: a resumed job must use what is stored, not predict it again
    first = finished[0]
    stored = np.load(blocks_dir / f"{first}.npz")["labels"]
    np.savez_compressed(blocks_dir / f"{first}.npz", labels=np.zeros_like(stored))
    events = list(iter_predict_distributed(sample_path("unet_nuclei.pt"), path, output, **kwargs))
    # (a block running at the interruption may have finished since: at least those seen are skipped)
    assert events[0].info["resumed"] and events[0].step >= len(finished)
    assert sum(e.info.get("phase") == "predict" for e in events) == 16 - events[0].step
    result = _s0(output)
    block = block_grid((), result.shape, 128, 0)[int(first[1:])]
    y0, y1, x0, x1 = block.core
    ref = reference("unet_nuclei.pt")
    boxes = ndi.find_objects(ref)
    owned_here = [
        i
        for i in np.unique(ref[y0:y1, x0:x1])[1:]
        if block.owns(*[(s.start + s.stop) / 2 for s in boxes[i - 1]])
    ]
    assert owned_here and all(not result[ref == i].any() for i in owned_here)
    assert not work_dir(output).exists()
    # a finished job reruns as a no-op; another job's parameters on the same output are refused
    assert (
        list(iter_predict_distributed(sample_path("unet_nuclei.pt"), path, output, **kwargs))[-1].message
        == "already complete"
    )
    with pytest.raises(ValueError, match="overwrite"):
        predict_distributed(sample_path("unet_nuclei.pt"), path, output, **{**kwargs, "block_size": 256})


def test_output_opens_with_ome_zarr_py(sample_zarr, cluster, tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader

    from napari_segsuite.core.dataset.ngff import pyramid_levels

    path, image = sample_zarr
    out = predict_distributed(
        sample_path("unet_nuclei.pt"),
        path,
        tmp_path / "o.ome.zarr",
        scheduler=cluster.scheduler_address,
        block_size=256,
        device="cpu",
    )
    nodes = list(Reader(parse_url(str(out)))())
    node = nodes[0]
    assert node.specs and any(isinstance(s, Label) for s in node.specs)
    assert len(node.data) == pyramid_levels(image.shape)
    assert np.array_equal(np.asarray(node.data[0]), _s0(out))
    assert [a["name"] for a in node.metadata["axes"]] == ["y", "x"]


def test_a_stack_is_predicted_plane_by_plane_with_ids_unique_over_it(cluster, tmp_path):
    from napari_segsuite.core import load_sample
    from napari_segsuite.core.predict import predict_checkpoint

    image, _ = load_sample("nuclei_test")
    stack = np.stack([image[:192, :192], image[192:384, 100:292], image[320:, 320:]])
    src = zarr.create_array(
        str(tmp_path / "stack.zarr"), shape=stack.shape, dtype=stack.dtype, chunks=(1, 96, 96)
    )
    src[:] = stack
    out = predict_distributed(
        sample_path("unet_nuclei.pt"),
        tmp_path / "stack.zarr",
        tmp_path / "s.ome.zarr",
        scheduler=cluster.scheduler_address,
        block_size=96,
        device="cpu",
    )
    result = _s0(out)
    ref = predict_checkpoint(sample_path("unet_nuclei.pt"), stack, device="cpu")
    assert result.shape == stack.shape and np.array_equal(result > 0, ref > 0)
    assert len(np.unique(result)) - 1 == result.max() == ref.max()  # unique over the stack, 1..N
    for z in range(3):
        assert seam_duplicates(ref[z], result[z]) == 0
        assert not set(np.unique(result[z])[1:]) & set(np.unique(result[(z + 1) % 3])[1:])
    assert zarr.open_group(str(out), mode="r").attrs["ome"]["multiscales"][0]["axes"][0]["name"] == "z"
