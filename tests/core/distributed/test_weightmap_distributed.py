"""Distributed border weight maps equal the single-process map (2D image, 3D volume)."""

import numpy as np
import zarr

from napari_segsuite.core import load_sample, unet_weight_map
from napari_segsuite.core.distributed.weightmap import weightmap_distributed


def _zarr(path, data, chunks):
    arr = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, chunks=chunks)
    arr[:] = data
    return path


def test_2d_blocks_equal_the_whole_image_map(cluster, tmp_path):
    _, gt = load_sample("nuclei_test")
    src = _zarr(tmp_path / "gt.zarr", gt, (128, 128))
    out = weightmap_distributed(
        src, tmp_path / "w.ome.zarr", w0=10.0, sigma=5.0, block_size=128, scheduler=cluster.scheduler_address
    )
    got = zarr.open_group(str(out), mode="r")["s0"][:]
    ref = unet_weight_map(gt, w0=10.0, sigma=5.0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
    assert got.max() > 3  # border terms between touching nuclei are there (not only class weights)


def test_3d_volume_with_spacing(cluster, tmp_path):
    from skimage.draw import ellipsoid

    vol = np.zeros((20, 96, 96), np.int32)
    ball = ellipsoid(4, 8, 8)  # (11, 19, 19)
    for i, (z, y, x) in enumerate([(2, 10, 10), (2, 10, 30), (8, 40, 44), (8, 60, 50), (3, 70, 75)], 1):
        vol[z : z + ball.shape[0], y : y + ball.shape[1], x : x + ball.shape[2]][ball] = i
    src = _zarr(tmp_path / "vol.zarr", vol, (4, 32, 32))
    out = weightmap_distributed(
        src,
        tmp_path / "wv.ome.zarr",
        w0=10.0,
        sigma=3.0,
        spacing=(2.0, 1.0, 1.0),
        block_size=32,
        scheduler=cluster.scheduler_address,
    )
    got = zarr.open_group(str(out), mode="r")["s0"][:]
    ref = unet_weight_map(vol, w0=10.0, sigma=3.0, spacing=(2.0, 1.0, 1.0))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_cli_weightmap_options(cluster, tmp_path):
    import argparse
    from pathlib import Path

    from napari_segsuite.cli.distributed import add_weightmap_arguments, run_weightmap

    labels = np.zeros((64, 64), np.int32)
    labels[10:20, 10:20], labels[10:20, 23:33] = 1, 2  # two squares 3 px apart
    src = _zarr(tmp_path / "m.zarr", labels, (32, 32))
    p = argparse.ArgumentParser()
    p.add_argument("mask", type=Path)
    p.add_argument("-o", "--output", type=Path)
    p.add_argument("--w0", type=float, default=10.0)
    p.add_argument("--sigma", type=float, default=5.0)
    p.add_argument("--class-weights", default="balanced")
    p.add_argument("--spacing", default=None)
    p.add_argument("--overwrite", action="store_true")  # the weightmap verb's own option
    add_weightmap_arguments(p)
    args = p.parse_args(
        [
            str(src),
            "-o",
            str(tmp_path / "w.ome.zarr"),
            "--class-weights",
            "1,2",
            "--block-size",
            "32",
            "--scheduler",
            cluster.scheduler_address,
        ]
    )
    assert run_weightmap(args) == 0
    got = zarr.open_group(str(tmp_path / "w.ome.zarr"), mode="r")["s0"][:]
    np.testing.assert_allclose(got, unet_weight_map(labels, class_weights=(1.0, 2.0)), rtol=1e-6, atol=1e-6)
    # foreground weight; a gap pixel 2 px from each square: w_bg + w0 * exp(-(2 + 2)^2 / (2 * 5^2))
    assert got[15, 15] == 2.0 and got[15, 21] == np.float32(1.0 + 10.0 * np.exp(-16 / 50))
