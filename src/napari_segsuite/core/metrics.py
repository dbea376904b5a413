"""Segmentation metrics: semantic (IoU, Dice, pixel accuracy) and instance (AP at IoU thresholds)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from .labels import as_labels, check_same_shape, relabel_sequential

__all__ = [
    "iou",
    "dice",
    "pixel_accuracy",
    "average_precision",
    "match_instances",
    "evaluate_segmentation",
    "InstanceMatch",
    "unmatched_instances",
    "iter_evaluate",
    "adjusted_rand_index",
    "DEFAULT_THRESHOLDS",
]

#: IoU thresholds 0.5, 0.55, ..., 0.95 (the DSB2018 / COCO-style range).
DEFAULT_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2).tolist())


def _fg_pair(gt, pred):
    gt = as_labels(gt, name="ground truth", ndim=(2, 3, 4))
    pred = as_labels(pred, name="prediction", ndim=(2, 3, 4))
    check_same_shape(gt.shape, pred.shape, "ground truth", "prediction")
    return gt > 0, pred > 0


def iou(gt, pred) -> float:
    """Foreground intersection over union (Jaccard index).

    Parameters
    ----------
    gt, pred : array_like
        Label images of the same shape; any non-zero pixel is foreground.

    Returns
    -------
    float
        ``|gt & pred| / |gt | pred|``; 1.0 when both are empty.
    """
    g, p = _fg_pair(gt, pred)
    union = np.count_nonzero(g | p)
    return 1.0 if union == 0 else np.count_nonzero(g & p) / union


def dice(gt, pred) -> float:
    """Foreground Dice coefficient ``2|gt & pred| / (|gt| + |pred|)``; 1.0 when both are empty."""
    g, p = _fg_pair(gt, pred)
    denom = np.count_nonzero(g) + np.count_nonzero(p)
    return 1.0 if denom == 0 else 2.0 * np.count_nonzero(g & p) / denom


def pixel_accuracy(gt, pred) -> float:
    """Fraction of pixels whose foreground/background class agrees."""
    g, p = _fg_pair(gt, pred)
    return float(np.count_nonzero(g == p)) / g.size


def _iou_matrix(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """IoU between every ground-truth instance (rows) and predicted instance (columns)."""
    g, _ = relabel_sequential(gt)
    p, _ = relabel_sequential(pred)
    ng, npred = int(g.max()), int(p.max())
    if ng == 0 or npred == 0:
        return np.zeros((ng, npred))
    # Contingency table of overlaps through one bincount over combined ids.
    overlap = np.bincount(g.ravel().astype(np.int64) * (npred + 1) + p.ravel(), minlength=(ng + 1) * (npred + 1))
    overlap = overlap.reshape(ng + 1, npred + 1)
    area_g = overlap.sum(axis=1, keepdims=True)[1:]
    area_p = overlap.sum(axis=0, keepdims=True)[:, 1:]
    inter = overlap[1:, 1:]
    union = area_g + area_p - inter
    return inter / np.maximum(union, 1)


@dataclass
class InstanceMatch:
    """Result of matching instances at one IoU threshold."""

    threshold: float
    tp: int
    fp: int
    fn: int
    #: (gt index, pred index) pairs, 0-based in sequential order of the original ids.
    pairs: list = field(default_factory=list)

    @property
    def ap(self) -> float:
        denom = self.tp + self.fp + self.fn
        return 1.0 if denom == 0 else self.tp / denom

    @property
    def precision(self) -> float:
        return 1.0 if self.tp + self.fp == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float:
        return 1.0 if self.tp + self.fn == 0 else self.tp / (self.tp + self.fn)


def _check_thresholds(thresholds) -> list[float]:
    """IoU thresholds as a list of floats in [0, 1); one number is one threshold."""
    values = np.atleast_1d(np.asarray(thresholds, dtype=object)).ravel().tolist()
    try:
        values = [float(t) for t in values]
    except (TypeError, ValueError):
        raise ValueError(f"thresholds must be numbers in [0, 1), got {thresholds!r}.") from None
    if not values:
        raise ValueError("thresholds: give at least one IoU threshold, e.g. (0.5,).")
    bad = [t for t in values if not 0.0 <= t < 1.0]  # NaN fails too
    if bad:
        raise ValueError(f"thresholds must be in [0, 1) (a match needs IoU > t), got {bad[0]}.")
    return values


def match_instances(gt, pred, thresholds=DEFAULT_THRESHOLDS) -> list[InstanceMatch]:
    """One-to-one matching of instances at each IoU threshold (Hungarian, IoU > t).

    The assignment maximises the number of pairs with IoU above the threshold (ties broken by total
    IoU). For t >= 0.5 a pair above the threshold is unique anyway, so this equals greedy matching.
    """
    from scipy.optimize import linear_sum_assignment

    thresholds = _check_thresholds(thresholds)
    gt = as_labels(gt, name="ground truth", ndim=(2, 3, 4))
    pred = as_labels(pred, name="prediction", ndim=(2, 3, 4))
    check_same_shape(gt.shape, pred.shape, "ground truth", "prediction")
    m = _iou_matrix(gt, pred)
    ng, npred = m.shape
    out = []
    for t in thresholds:
        pairs = []
        if ng and npred:
            valid = m > t
            if valid.any():
                # Maximise #matches first, total IoU second.
                cost = -(valid.astype(float) + valid * m * 1e-3)
                rows, cols = linear_sum_assignment(cost)
                keep = valid[rows, cols]
                pairs = list(zip(rows[keep].tolist(), cols[keep].tolist()))
        tp = len(pairs)
        out.append(InstanceMatch(float(t), tp, npred - tp, ng - tp, pairs))
    return out


def average_precision(gt, pred, thresholds=DEFAULT_THRESHOLDS) -> dict:
    """Instance average precision at IoU thresholds, as in the 2018 Data Science Bowl.

    Parameters
    ----------
    gt, pred : array_like
        Instance label images of the same shape (0 = background; ids need not be sequential).
    thresholds : sequence of float
        IoU thresholds; a prediction matches a ground-truth instance one-to-one when IoU > t.

    Returns
    -------
    dict
        ``{"thresholds": [...], "ap": [...], "tp": [...], "fp": [...], "fn": [...], "mean_ap": float}``
        with ``ap = TP / (TP + FP + FN)`` per threshold (1.0 when both images are empty).

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((8, 8), int); gt[1:4, 1:4] = 1; gt[5:8, 5:8] = 2
    >>> average_precision(gt, gt, thresholds=(0.5,))["ap"]
    [1.0]
    """
    matches = match_instances(gt, pred, thresholds)
    ap = [m.ap for m in matches]
    return {
        "thresholds": [m.threshold for m in matches],
        "ap": ap,
        "tp": [m.tp for m in matches],
        "fp": [m.fp for m in matches],
        "fn": [m.fn for m in matches],
        "mean_ap": float(np.mean(ap)) if ap else float("nan"),
    }


def evaluate_segmentation(gt, pred) -> dict:
    """Every metric at once: IoU, Dice, pixel accuracy, AP@0.5, AP@0.75, mean AP@0.5:0.95, TP/FP/FN@0.5."""
    res = average_precision(gt, pred, DEFAULT_THRESHOLDS)
    i50 = res["thresholds"].index(0.5)
    i75 = res["thresholds"].index(0.75)
    return {
        "iou": iou(gt, pred),
        "dice": dice(gt, pred),
        "pixel_accuracy": pixel_accuracy(gt, pred),
        "ap50": res["ap"][i50],
        "ap75": res["ap"][i75],
        "map": res["mean_ap"],
        "tp": res["tp"][i50],
        "fp": res["fp"][i50],
        "fn": res["fn"][i50],
        "n_gt": res["tp"][i50] + res["fn"][i50],
        "n_pred": res["tp"][i50] + res["fp"][i50],
    }


def unmatched_instances(gt, pred, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Label images of the errors at one IoU threshold.

    Returns
    -------
    false_positives : numpy.ndarray of int32
        The predicted instances matched to no ground-truth instance (original prediction ids).
    false_negatives : numpy.ndarray of int32
        The ground-truth instances matched to no prediction (original ground-truth ids).
    """
    gt = as_labels(gt, name="ground truth", ndim=(2, 3, 4))
    pred = as_labels(pred, name="prediction", ndim=(2, 3, 4))
    match = match_instances(gt, pred, (threshold,))[0]
    g_seq, g_ids = relabel_sequential(gt)
    p_seq, p_ids = relabel_sequential(pred)
    keep_g = np.ones(len(g_ids) + 1, bool)
    keep_p = np.ones(len(p_ids) + 1, bool)
    keep_g[0] = keep_p[0] = False
    for gi, pi in match.pairs:
        keep_g[gi + 1] = False
        keep_p[pi + 1] = False
    fp = np.where(keep_p[p_seq], pred, 0).astype(np.int32)
    fn = np.where(keep_g[g_seq], gt, 0).astype(np.int32)
    return fp, fn


def iter_evaluate(gt, pred, with_errors: bool = False):
    """Generator form of :func:`evaluate_segmentation` for widgets; returns ``(metrics, (fp, fn) or None)``."""
    from .progress import Progress

    yield Progress(0, 2, "matching instances")
    metrics = evaluate_segmentation(gt, pred)
    yield Progress(1, 2, "metrics done")
    errors = unmatched_instances(gt, pred) if with_errors else None
    yield Progress(2, 2, "done")
    return metrics, errors


def adjusted_rand_index(a, b) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) of two labelings of the same pixels.

    1.0 for identical partitions (whatever the ids), about 0 for independent ones.

    Examples
    --------
    >>> adjusted_rand_index([1, 1, 2, 2], [5, 5, 0, 0])
    1.0
    """
    a = np.asarray(a).ravel()
    b = np.asarray(b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"the labelings have different sizes ({a.size} and {b.size}).")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = sparse.coo_matrix((np.ones(a.size), (ia, ib))).tocsr()
    comb = lambda x: (x * (x - 1) / 2.0).sum()  # noqa: E731
    index = comb(table.data)
    rows = comb(np.asarray(table.sum(axis=1)).ravel())
    cols = comb(np.asarray(table.sum(axis=0)).ravel())
    total = a.size * (a.size - 1) / 2.0
    expected = rows * cols / total if total else 0.0
    maximum = (rows + cols) / 2.0
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))
