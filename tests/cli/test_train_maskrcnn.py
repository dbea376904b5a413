import numpy as np
import pytest

from napari_segsuite.cli import main
from napari_segsuite.core import synthetic_nuclei
from napari_segsuite.core.io import write_tiff


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_train_maskrcnn_on_a_cellpose_folder_writes_a_checkpoint(tmp_path, capsys):
    from napari_segsuite.core.maskrcnn import load_maskrcnn_checkpoint

    image, labels = synthetic_nuclei((80, 96), 6, seed=2)
    write_tiff(tmp_path / "a.tif", image)
    write_tiff(tmp_path / "a_masks.tif", labels.astype(np.uint16))
    out = tmp_path / "model.pt"
    code = main(["train", "maskrcnn", str(tmp_path), "-o", str(out), "--epochs", "1", "--steps-per-epoch", "1",
                 "--batch-size", "1", "--crop-size", "64", "--width", "8", "--anchor-sizes", "6,12,24,48,96",
                 "--device", "cpu"])
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    ckpt = load_maskrcnn_checkpoint(out)
    assert ckpt["kind"] == "maskrcnn" and ckpt["config"]["width"] == 8
    assert ckpt["config"]["anchor_sizes"] == [6, 12, 24, 48, 96]
    assert ckpt["training"]["freeze_norm"] is False
    # fine-tuning that model with --freeze-norm keeps its batch-norm statistics
    tuned = tmp_path / "tuned.pt"
    assert main(["train", "maskrcnn", str(tmp_path), "-o", str(tuned), "--epochs", "1", "--steps-per-epoch", "1",
                 "--batch-size", "2", "--crop-size", "64", "--init", str(out), "--freeze-norm", "--device", "cpu"]) == 0
    new = load_maskrcnn_checkpoint(tuned)
    assert new["training"]["freeze_norm"] is True
    stats = [k for k in ckpt["state_dict"] if k.endswith("running_var")]
    assert stats and all(np.array_equal(new["state_dict"][k].float(), ckpt["state_dict"][k].float()) for k in stats)


def test_train_maskrcnn_user_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "maskrcnn", str(tmp_path / "nope"), "-o", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert "no such dataset folder" in err and "Traceback" not in err and err.count("\n") == 1
    assert main(["train", "maskrcnn", str(tmp_path), "-o", str(tmp_path / "m.txt")]) == 2
    assert "should end in .pt" in capsys.readouterr().err
    assert main(["train", "maskrcnn", str(tmp_path), "-o", str(tmp_path / "m.pt"), "--anchor-sizes", "a,b"]) == 2
    assert "--anchor-sizes" in capsys.readouterr().err
    # a folder whose only mask is empty: nothing to learn, said clearly
    write_tiff(tmp_path / "a.tif", np.zeros((64, 64), np.uint16))
    write_tiff(tmp_path / "a_masks.tif", np.zeros((64, 64), np.uint16))
    assert main(["train", "maskrcnn", str(tmp_path), "-o", str(tmp_path / "m.pt"), "--device", "cpu"]) == 2
    assert "every training mask is empty" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()
