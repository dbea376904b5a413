import pytest

torch = pytest.importorskip("torch")

from napari_segsuite.core.device import select_device  # noqa: E402


def test_auto_picks_an_available_device():
    dev = select_device("auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        expected = "mps"
    assert dev.type == expected


def test_cpu_always_works():
    assert select_device("CPU").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        select_device("cuda")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown device"):
        select_device("gpu0")
