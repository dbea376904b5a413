"""Shared fixtures: the sample image as a zarr array, single-process references and one small cluster."""

import pytest

pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def sample_zarr(tmp_path_factory):
    import zarr

    from napari_segsuite.core import load_sample

    image, _ = load_sample("nuclei_test")
    path = tmp_path_factory.mktemp("input") / "nuclei.zarr"
    arr = zarr.create_array(str(path), shape=image.shape, dtype=image.dtype, chunks=(128, 128))
    arr[:] = image
    return path, image


@pytest.fixture(scope="session")
def reference():
    """Single-process predictions of the sample image, per model (computed once)."""
    from napari_segsuite.core import load_sample, sample_path
    from napari_segsuite.core.predict import predict_checkpoint

    image, _ = load_sample("nuclei_test")
    cache = {}

    def get(model):
        if model not in cache:
            cache[model] = predict_checkpoint(sample_path(model), image, device="cpu")
        return cache[model]

    return get


@pytest.fixture(scope="session")
def cluster():
    """2 worker processes, 1 thread each (shared by the tests that do not test cluster start-up)."""
    import logging

    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    ) as c:
        yield c
