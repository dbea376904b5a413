"""The distributed predict options on an argparse parser, and run_predict from parsed arguments."""

import argparse
from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_segsuite.cli.distributed import add_arguments, run_predict, wants_distributed
from napari_segsuite.core import sample_path


def _parser():
    p = argparse.ArgumentParser()
    p.add_argument("model", type=Path)
    p.add_argument("inputs", type=Path, nargs="+")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--min-size", type=int, default=None)
    add_arguments(p)
    return p


def test_defaults_and_refusals(tmp_path):
    args = _parser().parse_args(["m.pt", "in.zarr", "-o", "out.ome.zarr"])
    assert args.block_size == 2048 and args.halo is None and args.threads_per_worker == 1
    assert not wants_distributed(args)
    args = _parser().parse_args(["m.pt", "a.zarr", "b.zarr", "-o", "out.ome.zarr", "--workers", "2"])
    assert wants_distributed(args)
    with pytest.raises(ValueError, match="one .zarr"):
        run_predict(args)
    args = _parser().parse_args(["m.pt", "a.zarr", "-o", "out.tif", "--workers", "2"])
    with pytest.raises(ValueError, match="OUT.ome.zarr"):
        run_predict(args)


def test_run_predict_writes_the_label_image(sample_zarr, reference, cluster, tmp_path, capsys):
    path, _ = sample_zarr
    out = tmp_path / "cli.ome.zarr"
    args = _parser().parse_args(
        [
            str(sample_path("unet_nuclei.pt")),
            str(path),
            "-o",
            str(out),
            "--device",
            "cpu",
            "--scheduler",
            cluster.scheduler_address,
            "--block-size",
            "256",
        ]
    )
    assert run_predict(args) == 0
    result = zarr.open_group(str(out), mode="r")["s0"][:]
    ref = reference("unet_nuclei.pt")
    assert np.array_equal(result > 0, ref > 0) and result.max() == ref.max()
    assert f"{ref.max()} objects" in capsys.readouterr().out


def test_tiff_files_one_task_each_and_resumed(cluster, tmp_path, capsys):
    import tifffile

    from napari_segsuite.core import load_sample
    from napari_segsuite.core.predict import predict_checkpoint

    image, _ = load_sample("nuclei_test")
    folder = tmp_path / "tiffs"
    folder.mkdir()
    crops = {"a": image[:192, :192], "b": image[256:448, 300:492]}
    for name, crop in crops.items():
        tifffile.imwrite(folder / f"{name}.tif", crop)
    out = tmp_path / "labels"
    argv = [
        str(sample_path("unet_nuclei.pt")),
        str(folder),
        "-o",
        str(out),
        "--device",
        "cpu",
        "--scheduler",
        cluster.scheduler_address,
    ]
    assert run_predict(_parser().parse_args(argv)) == 0
    for name, crop in crops.items():
        ref = predict_checkpoint(sample_path("unet_nuclei.pt"), crop, device="cpu")
        got = zarr.open_group(str(out / f"{name}.ome.zarr"), mode="r")["s0"][:]
        assert got.dtype == np.uint32 and np.array_equal(got, ref)  # the same code path, whole file
    from napari_segsuite.core.distributed import iter_predict_distributed

    events = list(
        iter_predict_distributed(
            sample_path("unet_nuclei.pt"), folder, out, scheduler=cluster.scheduler_address, device="cpu"
        )
    )
    assert events[0].step == 2 and events[0].info["resumed"]
    assert not any(e.info.get("phase") == "predict" for e in events)


def test_output_naming_the_input_is_refused_before_anything_is_deleted(tmp_path, capsys):
    """With --overwrite the distributed path deletes an old output first: -o naming the input must be refused."""
    import zarr

    from napari_segsuite.cli import main

    labels = np.zeros((32, 32), np.int32)
    labels[4:10, 4:10] = 1
    src = tmp_path / "in.zarr"
    zarr.open_array(str(src), mode="w", shape=labels.shape, dtype="int32", chunks=(16, 16))[:] = labels
    for argv in (["weightmap", str(src), "-o", str(src), "--workers", "1", "--overwrite"],
                 ["predict", "sample_data/unet_nuclei.pt", str(src), "-o", str(src), "--workers", "1",
                  "--overwrite"]):
        assert main(argv) == 2
        assert "is an input of this command" in capsys.readouterr().err
        assert np.array_equal(zarr.open_array(str(src), mode="r")[:], labels)


def test_bad_weight_map_parameters_refused_before_an_old_output_is_deleted(tmp_path):
    import zarr

    from napari_segsuite.core.distributed.weightmap import weightmap_distributed

    src = tmp_path / "m.zarr"
    zarr.open_array(str(src), mode="w", shape=(16, 16), dtype="int32", chunks=(8, 8))[:] = 1
    old = tmp_path / "w.ome.zarr"
    old.mkdir()
    (old / "keep.txt").write_text("old result")
    for kwargs, match in (({"sigma": 0}, "sigma"), ({"class_weights": (1.0,)}, "class"),
                          ({"block_size": 0}, "block_size")):
        with pytest.raises(ValueError, match=match):
            weightmap_distributed(src, old, overwrite=True, scheduler="inprocess", **kwargs)
        assert (old / "keep.txt").read_text() == "old result"
