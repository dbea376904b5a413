"""Inputs: OME-Zarr written by ome-zarr-py in NGFF 0.4 (zarr v2) and 0.5 (zarr v3), plain zarr arrays."""

import numpy as np
import pytest
import zarr

from napari_segsuite.core.distributed.source import open_source, tiff_files


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_level0_and_axes(tmp_path, version):
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image

    fmt = FormatV04() if version == "0.4" else FormatV05()
    data = np.arange(2 * 3 * 64 * 80, dtype=np.uint16).reshape(2, 3, 64, 80)  # c, z, y, x
    path = tmp_path / f"img{version}.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2 if version == "0.4" else 3)
    write_image(data, group, axes="czyx", fmt=fmt, scale_factors=(2,), scale={"z": 2.0, "y": 0.5, "x": 0.5})
    src = open_source(path)
    assert src.axes == "czyx" and src.shape == data.shape and src.label_axes == "zyx"
    assert src.scale == (1.0, 2.0, 0.5, 0.5)
    assert src.outer_shape == (3,) and src.plane_shape == (64, 80) and src.n_channels == 2
    block = src.read((1,), slice(10, 20), slice(5, 9))
    assert np.array_equal(block, data[:, 1, 10:20, 5:9])  # (C, Y, X)


def test_plain_arrays_and_refusals(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    arr = zarr.create_array(str(tmp_path / "rgb.zarr"), shape=rgb.shape, dtype=rgb.dtype, chunks=(16, 16, 3))
    arr[:] = rgb
    src = open_source(tmp_path / "rgb.zarr")
    assert src.axes == "yxc" and src.outer_shape == ()
    assert np.array_equal(src.read((), slice(0, 40, 2), slice(3, 7)), np.moveaxis(rgb[::2, 3:7], -1, 0))
    with pytest.raises(ValueError, match="axes"):
        open_source(tmp_path / "rgb.zarr", axes="yx")  # three axes, two names
    with pytest.raises(FileNotFoundError):
        open_source(tmp_path / "missing.zarr")
    zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    with pytest.raises(ValueError, match="multiscales"):
        open_source(tmp_path / "g.zarr")
    assert tiff_files(tmp_path / "rgb.zarr") is None


def test_ngff_04_input_end_to_end_carries_the_pixel_size(cluster, tmp_path):
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image

    from napari_segsuite.core import load_sample, sample_path
    from napari_segsuite.core.distributed import predict_distributed
    from napari_segsuite.core.predict import predict_checkpoint

    image, _ = load_sample("nuclei_test")
    crop = image[:160, :160]
    group = zarr.open_group(str(tmp_path / "in.ome.zarr"), mode="w", zarr_format=2)
    write_image(
        crop,
        group,
        axes="yx",
        fmt=FormatV04(),
        scale_factors=(2,),
        scale={"y": 0.5, "x": 0.5},
        axes_units={"y": "micrometer", "x": "micrometer"},
    )
    out = predict_distributed(
        sample_path("unet_nuclei.pt"),
        tmp_path / "in.ome.zarr",
        tmp_path / "o.ome.zarr",
        scheduler=cluster.scheduler_address,
        block_size=64,
        device="cpu",
    )
    result = zarr.open_group(str(out), mode="r")
    ref = predict_checkpoint(sample_path("unet_nuclei.pt"), crop, device="cpu")
    assert np.array_equal(result["s0"][:] > 0, ref > 0)
    ms = result.attrs["ome"]["multiscales"][0]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [0.5, 0.5]
    assert ms["datasets"][1]["coordinateTransformations"][0]["scale"] == [1.0, 1.0]
    assert ms["axes"][0]["unit"] == "micrometer"
