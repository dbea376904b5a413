"""``segsuite superpixels``: superpixels and merged labels written as TIFF, clear one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.cli import main
from napari_segsuite.core import build_graph, slic_superpixels, synthetic_histology, synthetic_nuclei
from napari_segsuite.core.io import read_image, write_tiff


@pytest.fixture
def gray_file(tmp_path):
    image, _ = synthetic_nuclei((96, 96), n_nuclei=8, seed=0)
    path = tmp_path / "cells.tif"
    write_tiff(path, image)
    return path, image


def test_superpixels_only(gray_file, tmp_path, capsys):
    path, image = gray_file
    out = tmp_path / "sp.tif"
    assert main(["superpixels", str(path), "-o", str(out), "--n-segments", "50", "--compactness", "5"]) == 0
    got = read_image(out)
    assert got.dtype == np.uint8  # smallest unsigned type on disk
    np.testing.assert_array_equal(got, slic_superpixels(image, n_segments=50, compactness=5))
    assert "superpixels; wrote" in capsys.readouterr().out


@pytest.mark.parametrize("mode, threshold", [("hierarchical", 2000.0), ("threshold", 2000.0), ("boundary", 3000.0),
                                             ("ncut", 0.3)])
def test_merged_output_matches_core(gray_file, tmp_path, mode, threshold):
    path, image = gray_file
    out = tmp_path / f"{mode}.tif"
    assert main(["superpixels", str(path), "-o", str(out), "--n-segments", "60", "--merge-threshold",
                 str(threshold), "--mode", mode]) == 0
    sp = slic_superpixels(image, n_segments=60)
    expected = build_graph(image, sp).merge(threshold, mode)
    got = read_image(out)
    np.testing.assert_array_equal(got, expected)
    assert 1 <= got.max() < sp.max()


def test_rgb_file_detected(tmp_path):
    rgb, _ = synthetic_histology((64, 64), seed=0)
    path = tmp_path / "he.tif"
    write_tiff(path, rgb)
    out = tmp_path / "he_sp.tif"
    assert main(["superpixels", str(path), "-o", str(out), "--n-segments", "30"]) == 0
    np.testing.assert_array_equal(read_image(out), slic_superpixels(rgb, n_segments=30, channel_axis=-1))


@pytest.mark.parametrize("extra, message", [
    (["--n-segments", "0"], "n_segments must be a positive integer"),
    (["--compactness", "-1"], "compactness must be a positive number"),
    (["--merge-threshold", "-2"], "threshold must be a finite number >= 0"),
    (["--channel-axis", "x"], "--channel-axis must be"),
    (["--spacing", "a,b"], "--spacing"),
])
def test_bad_arguments_give_one_line_errors(gray_file, tmp_path, capsys, extra, message):
    path, _ = gray_file
    assert main(["superpixels", str(path), "-o", str(tmp_path / "o.tif"), *extra]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1  # refused before any work
    assert err.startswith("segsuite superpixels: error:") and message in err
    assert not (tmp_path / "o.tif").exists()


def test_missing_file(tmp_path, capsys):
    assert main(["superpixels", str(tmp_path / "nope.tif"), "-o", str(tmp_path / "o.tif")]) == 2
    assert "nope.tif" in capsys.readouterr().err
