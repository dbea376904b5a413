"""``segsuite cluster``: through a parser of its own and through ``segsuite``'s."""

from __future__ import annotations


import numpy as np
import pytest

from napari_segsuite.cli.cluster import register
from napari_segsuite.cli.common import Parser
from napari_segsuite.cli import CLIError
from napari_segsuite.core import cluster_pixels
from napari_segsuite.core.io import read_image, write_tiff


def parse(argv):
    parser = Parser(prog="segsuite")  # the segsuite parser class: its help shows every default
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def call(argv):
    args = parse(argv)
    return args.func(args)


@pytest.fixture
def rgb_file(tmp_path):
    truth = np.ones((40, 50), np.int32)
    truth[5:20, 5:20] = 3
    truth[25:35, 20:45] = 2
    colours = np.array([[0, 0, 0], [90, 20, 20], [20, 180, 20], [230, 230, 230]])
    image = np.clip(colours[truth] + np.random.default_rng(0).normal(0, 4, truth.shape + (3,)), 0, 255)
    path = tmp_path / "he.tif"
    write_tiff(path, image.astype(np.uint8))
    return path, image.astype(np.uint8), truth


@pytest.mark.parametrize("method", ["kmeans", "gmm", "meanshift"])
def test_cluster_verb_writes_the_core_result(rgb_file, tmp_path, capsys, method):
    path, image, truth = rgb_file
    out = tmp_path / f"{method}.tif"
    assert call(["cluster", str(path), "-o", str(out), "--method", method, "--k", "3"]) == 0
    got = read_image(out)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, truth)
    np.testing.assert_array_equal(got, cluster_pixels(image, method=method, n_clusters=3, channel_axis=-1))
    printed = capsys.readouterr().out
    assert "3 cluster(s)" in printed and str(out) in printed
    assert ("bandwidth" in printed) == (method == "meanshift")


def test_options_reach_the_core(rgb_file, tmp_path):
    path, image, _ = rgb_file
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[:, :25] = 1
    write_tiff(tmp_path / "mask.tif", mask)
    out = tmp_path / "o.tif"
    assert call(["cluster", str(path), "-o", str(out), "--k", "2", "--spatial-weight", "3", "--seed", "4",
                 "--mask", str(tmp_path / "mask.tif")]) == 0
    expected = cluster_pixels(image, n_clusters=2, channel_axis=-1, spatial_weight=3.0, seed=4, mask=mask > 0)
    np.testing.assert_array_equal(read_image(out), expected)
    assert (read_image(out)[:, 25:] == 0).all()
    # --channel-axis none: the (40, 50, 3) file is then a 3D gray stack
    assert call(["cluster", str(path), "-o", str(out), "--channel-axis", "none", "--k", "2"]) == 0
    assert read_image(out).shape == image.shape
    assert call(["cluster", str(path), "-o", str(out), "--method", "meanshift", "--bandwidth", "500"]) == 0
    assert read_image(out).max() == 1


def test_help_shows_defaults():
    parser = Parser(prog="segsuite")  # the segsuite parser class: its help shows every default
    sub = register(parser.add_subparsers(dest="command"))
    text = sub.format_help()
    for option in ("--method", "--k", "--bandwidth", "--spatial-weight", "--seed", "--channel-axis", "--mask"):
        assert option in text
    assert text.count("default") >= 7


def test_user_errors(rgb_file, tmp_path):
    path, _, _ = rgb_file
    with pytest.raises(CLIError, match="is an input"):
        call(["cluster", str(path), "-o", str(path)])
    with pytest.raises(CLIError, match=".tif"):
        call(["cluster", str(path), "-o", str(tmp_path / "out.png")])
    with pytest.raises(CLIError, match="--channel-axis"):
        call(["cluster", str(path), "-o", str(tmp_path / "o.tif"), "--channel-axis", "x"])
    with pytest.raises(ValueError, match="n_clusters"):
        call(["cluster", str(path), "-o", str(tmp_path / "o.tif"), "--k", "0"])
    with pytest.raises(FileNotFoundError):
        call(["cluster", str(tmp_path / "missing.tif"), "-o", str(tmp_path / "o.tif")])
    assert not (tmp_path / "o.tif").exists()
