"""Fixtures shared by every test folder."""

import pytest


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test (small models train faster and steadier so on 2 cores), restored after.

    Test modules that train or predict with torch use it for every test:
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
