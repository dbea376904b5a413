import numpy as np
import pytest

from napari_segsuite.core.metrics import (
    average_precision,
    dice,
    evaluate_segmentation,
    iou,
    match_instances,
    pixel_accuracy,
    unmatched_instances,
)


def _square(img, r, c, size, value):
    img[r : r + size, c : c + size] = value


@pytest.fixture
def pair():
    # Ground truth: three 10x10 squares. Prediction: square 1 exact, square 2 shifted by 3 px
    # (IoU = 70/130 = 0.538), square 3 missing, plus one false positive.
    gt = np.zeros((40, 60), np.int32)
    _square(gt, 2, 2, 10, 1)
    _square(gt, 2, 20, 10, 2)
    _square(gt, 20, 2, 10, 3)
    pred = np.zeros_like(gt)
    _square(pred, 2, 2, 10, 50)  # non-sequential ids on purpose
    _square(pred, 2, 23, 10, 7)
    _square(pred, 25, 40, 10, 9)
    return gt, pred


def test_semantic_metrics_hand_computed(pair):
    gt, pred = pair
    inter = 100 + 70
    union = 300 + 300 - inter
    assert iou(gt, pred) == pytest.approx(inter / union)
    assert dice(gt, pred) == pytest.approx(2 * inter / 600)
    wrong = (300 - inter) + (300 - inter)
    assert pixel_accuracy(gt, pred) == pytest.approx(1 - wrong / gt.size)


def test_average_precision_hand_computed(pair):
    gt, pred = pair
    res = average_precision(gt, pred, thresholds=(0.5, 0.75))
    # t=0.5: two matches (IoU 1.0 and 0.538), 1 FP, 1 FN -> 2/4; t=0.75: one match, 2 FP, 2 FN -> 1/5.
    assert res["tp"] == [2, 1] and res["fp"] == [1, 2] and res["fn"] == [1, 2]
    assert res["ap"] == pytest.approx([0.5, 0.2])
    assert res["mean_ap"] == pytest.approx(0.35)


def test_match_is_strictly_greater_than_threshold():
    gt = np.zeros((10, 10), int)
    gt[0:2, 0:5] = 1  # 10 px
    pred = np.zeros_like(gt)
    pred[0:2, 0:5] = 1
    pred[2:4, 0:5] = 1  # union 20, intersection 10 -> IoU exactly 0.5
    assert match_instances(gt, pred, (0.5,))[0].tp == 0
    assert match_instances(gt, pred, (0.49,))[0].tp == 1


def test_empty_prediction_and_empty_ground_truth():
    gt = np.zeros((8, 8), int)
    gt[1:4, 1:4] = 1
    empty = np.zeros_like(gt)
    res = average_precision(gt, empty, (0.5,))
    assert (res["tp"], res["fp"], res["fn"], res["ap"]) == ([0], [0], [1], [0.0])
    res = average_precision(empty, gt, (0.5,))
    assert (res["tp"], res["fp"], res["fn"], res["ap"]) == ([0], [1], [0], [0.0])
    assert average_precision(empty, empty, (0.5,))["ap"] == [1.0]
    assert iou(empty, empty) == 1.0 and dice(empty, empty) == 1.0


def test_hungarian_finds_the_one_to_one_assignment():
    # One big prediction covering two GT halves can match at most one of them.
    gt = np.zeros((4, 8), int)
    gt[:, :4] = 1
    gt[:, 4:] = 2
    pred = np.zeros_like(gt)
    pred[:, :7] = 5
    m = match_instances(gt, pred, (0.5,))[0]
    assert (m.tp, m.fp, m.fn) == (1, 0, 1)


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="same pixels"):
        iou(np.zeros((4, 4), int), np.zeros((4, 5), int))


def test_evaluate_and_error_layers(pair):
    gt, pred = pair
    m = evaluate_segmentation(gt, pred)
    assert (m["tp"], m["fp"], m["fn"], m["n_gt"], m["n_pred"]) == (2, 1, 1, 3, 3)
    fp, fn = unmatched_instances(gt, pred)
    assert set(np.unique(fp)) == {0, 9}
    assert set(np.unique(fn)) == {0, 3}


def test_perfect_prediction_on_sample_data():
    from napari_segsuite.core.samples import load_sample

    _, gt = load_sample("nuclei_test")
    # Renumber instances at random (a bijection that keeps 0 as background): a perfect prediction.
    shuffled = np.concatenate([[0], 1000 + np.random.default_rng(0).permutation(int(gt.max()))])
    res = average_precision(gt, shuffled[gt])
    assert res["mean_ap"] == 1.0 and res["tp"][0] == gt.max()


def test_adjusted_rand_index_hand_computed():
    """The superpixel tests measure with this index, so check it on values worked out by hand.

    [0,0,1,1] vs [0,1,0,1]: no pair agrees (index 0), row and column sums 2 each, 6 pairs: expected 4/6,
    maximum 2 -> (0 - 2/3) / (2 - 2/3) = -1/2. [0,0,0,1,1,1] vs [0,0,1,1,2,2]: index 2, rows 6, columns 3,
    15 pairs: expected 18/15, maximum 4.5 -> 0.8 / 3.3 = 8/33.
    """
    from napari_segsuite.core import adjusted_rand_index

    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(8 / 33)
    assert adjusted_rand_index([3, 3, 7, 7], [1, 1, 2, 2]) == 1.0
