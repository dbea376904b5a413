from napari_segsuite.cli import main


def test_headless_demo_writes_results_and_metrics(tmp_path, capsys):
    assert main(["demo", "--headless", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ground_truth" in out and "AP@0.5 1.000" in out
    assert (tmp_path / "ground_truth.tif").exists() and (tmp_path / "ground_truth.png").exists()
