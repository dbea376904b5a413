"""segsuite export: files or folders in, datasets out; conversions between layouts stay exact."""

import numpy as np

from napari_segsuite.cli import main
from napari_segsuite.core.dataset import load_dataset
from napari_segsuite.core.io import write_tiff
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


def test_export_image_and_mask_then_convert(tmp_path, capsys):
    image, labels = synthetic_nuclei((48, 48), n_nuclei=4, seed=0)
    write_tiff(tmp_path / "cells.tif", image)
    write_tiff(tmp_path / "cells_masks.tif", labels.astype(np.uint16))
    assert main(["export", str(tmp_path / "cells.tif"), str(tmp_path / "cells_masks.tif"),
                 "-o", str(tmp_path / "ds")]) == 0
    assert "wrote 1 item(s)" in capsys.readouterr().out
    for fmt in ("ome-zarr", "coco"):
        assert main(["export", str(tmp_path / "ds"), "-o", str(tmp_path / fmt), "--format", fmt]) == 0
        (item,) = load_dataset(tmp_path / fmt)
        assert item.name == "cells"
        np.testing.assert_array_equal(item.image, image)
        np.testing.assert_array_equal(item.mask, labels)
    # a cellpose folder converts too
    cp = tmp_path / "cp"
    cp.mkdir()
    write_tiff(cp / "x.tif", image)
    write_tiff(cp / "x_masks.tif", labels.astype(np.uint16))
    assert main(["export", str(cp), "-o", str(tmp_path / "from_cp"), "--format", "coco"]) == 0
    np.testing.assert_array_equal(load_dataset(tmp_path / "from_cp")[0].mask, labels)


def test_export_errors_are_one_line(tmp_path, capsys):
    image, labels = synthetic_nuclei((32, 32), n_nuclei=2, seed=1)
    write_tiff(tmp_path / "a.tif", image)
    write_tiff(tmp_path / "a_masks.tif", labels.astype(np.uint16))
    args = ["export", str(tmp_path / "a.tif"), str(tmp_path / "a_masks.tif"), "-o", str(tmp_path / "ds")]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already holds item(s) a" in err and "Traceback" not in err and err.count("\n") == 1
    assert main(args + ["--overwrite"]) == 0
    assert main(["export", str(tmp_path / "missing.tif"), str(tmp_path / "a.tif"), "-o", "x"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "a.tif"), "-o", str(tmp_path / "y")]) == 2
    assert "IMAGE MASK" in capsys.readouterr().err


def test_export_item_name_from_a_file_name_with_spaces(tmp_path, capsys):
    image = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32)
    mask = np.zeros((32, 32), np.uint16)
    mask[4:9, 4:9] = 1
    write_tiff(tmp_path / "my image (1).tif", image)
    write_tiff(tmp_path / "mask.tif", mask)
    assert main(["export", str(tmp_path / "my image (1).tif"), str(tmp_path / "mask.tif"),
                 "-o", str(tmp_path / "ds")]) == 0
    (item,) = load_dataset(tmp_path / "ds")
    assert item.name == "my_image_1"
    np.testing.assert_array_equal(item.image, image)
    np.testing.assert_array_equal(item.mask, mask)
    # A name the user types is still checked, not silently changed.
    assert main(["export", str(tmp_path / "my image (1).tif"), str(tmp_path / "mask.tif"), "--name", "a b",
                 "-o", str(tmp_path / "ds2")]) == 2
    assert "item name 'a b' is not usable" in capsys.readouterr().err


def test_export_with_region_and_convert_keeps_it(tmp_path, capsys):
    image, labels = synthetic_nuclei((48, 48), n_nuclei=4, seed=2)
    region = np.zeros((48, 48), np.uint8)
    region[:20, 10:40] = 255
    write_tiff(tmp_path / "cells.tif", image)
    write_tiff(tmp_path / "cells_masks.tif", labels.astype(np.uint16))
    write_tiff(tmp_path / "checked.tif", region)
    assert main(["export", str(tmp_path / "cells.tif"), str(tmp_path / "cells_masks.tif"),
                 "--region", str(tmp_path / "checked.tif"), "-o", str(tmp_path / "ds")]) == 0
    (item,) = load_dataset(tmp_path / "ds")
    np.testing.assert_array_equal(item.region, (region > 0).astype(np.uint8))
    assert item.meta["source_region"] == "checked.tif"
    for fmt in ("ome-zarr", "coco"):  # a conversion carries the region
        assert main(["export", str(tmp_path / "ds"), "-o", str(tmp_path / fmt), "--format", fmt]) == 0
        (converted,) = load_dataset(tmp_path / fmt)
        np.testing.assert_array_equal(converted.region, item.region)
        np.testing.assert_array_equal(converted.mask, labels)
    capsys.readouterr()
    write_tiff(tmp_path / "empty.tif", np.zeros((48, 48), np.uint8))
    assert main(["export", str(tmp_path / "cells.tif"), str(tmp_path / "cells_masks.tif"),
                 "--region", str(tmp_path / "empty.tif"), "-o", str(tmp_path / "ds2")]) == 2
    assert "region mask is empty" in capsys.readouterr().err and not (tmp_path / "ds2").exists()
    assert main(["export", str(tmp_path / "ds"), "--region", str(tmp_path / "checked.tif"),
                 "-o", str(tmp_path / "ds3")]) == 2
    assert "--region goes with IMAGE MASK" in capsys.readouterr().err
