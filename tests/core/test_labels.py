import numpy as np
import pytest

from napari_segsuite.core.labels import as_labels, relabel_sequential, smallest_uint_dtype


def test_integer_labels_become_int32_without_touching_input():
    lab = np.array([[0, 3], [70000, 3]], np.uint32)
    out = as_labels(lab)
    assert out.dtype == np.int32
    assert out.tolist() == [[0, 3], [70000, 3]]
    assert lab.dtype == np.uint32


def test_ids_past_int32_become_uint32():
    lab = np.array([[0, 2**31 + 5]], np.uint64)
    out = as_labels(lab)
    assert out.dtype == np.uint32 and int(out[0, 1]) == 2**31 + 5


def test_whole_number_floats_are_converted():
    out = as_labels(np.array([[0.0, 2.0], [2.0, 1.0]]))
    assert out.dtype == np.int32 and out.tolist() == [[0, 2], [2, 1]]


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[0.5, 1.0]]), "fractional"),
        (np.array([[np.nan, 1.0]]), "NaN"),
        (np.array([[-1, 2]]), ">= 0"),
        (np.ones((4, 4), bool), "boolean"),
        (np.zeros((2, 2, 2, 2, 2), np.int32), "5D"),
        (np.zeros((0, 4), np.int32), "empty"),
        (np.array([["a"]]), "integers"),
    ],
)
def test_bad_labels_are_refused_clearly(bad, match):
    with pytest.raises(ValueError, match=match):
        as_labels(bad, name="my layer")


def test_error_names_the_input():
    with pytest.raises(ValueError, match="my layer"):
        as_labels(np.array([[-3]]), name="my layer")


def test_smallest_uint_dtype():
    assert smallest_uint_dtype(0) == np.uint8
    assert smallest_uint_dtype(255) == np.uint8
    assert smallest_uint_dtype(256) == np.uint16
    assert smallest_uint_dtype(65536) == np.uint32


def test_relabel_sequential_keeps_order_and_background():
    lab = np.array([[0, 7, 7], [100, 0, 3]])
    seq, ids = relabel_sequential(lab)
    assert seq.tolist() == [[0, 2, 2], [3, 0, 1]]
    assert ids.tolist() == [3, 7, 100]
