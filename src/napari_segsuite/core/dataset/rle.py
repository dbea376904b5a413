"""COCO run-length encoding (RLE), as pycocotools encodes it, and label images as COCO annotations.

A compressed RLE is ``{"size": [h, w], "counts": str}``: run lengths of the column-major flattened mask,
starting with a run of zeros, written in COCO's string form (5-bit groups, offset 48, each count after the
second stored as the difference to the count two places before).
"""

from __future__ import annotations

import numpy as np

__all__ = ["encode_rle", "decode_rle", "paint_rle", "rle_to_string", "rle_from_string", "instances_to_coco",
           "COCO_CATEGORY"]

COCO_CATEGORY = {"id": 1, "name": "cell", "supercategory": "cell"}


def rle_to_string(counts) -> str:
    """Compress RLE run lengths to COCO's string form (5-bit groups, offset 48, delta to counts[i-2])."""
    out = []
    counts = [int(c) for c in counts]
    for i, value in enumerate(counts):
        x = value - counts[i - 2] if i > 2 else value
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift: negative deltas keep their sign
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def rle_from_string(text: str) -> list[int]:
    """Inverse of :func:`rle_to_string`."""
    counts: list[int] = []
    p, n = 0, len(text)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _runs(column_major_bits: np.ndarray, offset: int, total: int) -> list[int]:
    """Run lengths (starting with a run of zeros) of a flat 0/1 vector placed at ``offset`` in ``total``."""
    bits = column_major_bits.astype(np.int8)
    change = np.flatnonzero(np.diff(bits)) + 1
    starts = np.concatenate(([0], change)) + offset
    ends = np.concatenate((change, [bits.size])) + offset
    counts: list[int] = []
    pos = 0
    for s, e, v in zip(starts, ends, bits[np.concatenate(([0], change))]):
        if v:
            counts.append(int(s - pos))
            counts.append(int(e - s))
            pos = int(e)
    counts.append(int(total - pos))
    return counts


def encode_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a 2D boolean mask (column-major runs, first run = zeros)."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    counts = _runs(mask.ravel(order="F"), 0, h * w)
    return {"size": [int(h), int(w)], "counts": rle_to_string(_trim(counts))}


def _trim(counts: list[int]) -> list[int]:
    # pycocotools never ends with a zero-length run of zeros unless the mask is empty
    if len(counts) > 1 and counts[-1] == 0:
        counts = counts[:-1]
    return counts


def _foreground_runs(rle: dict) -> tuple[int, int, np.ndarray, np.ndarray]:
    """``(h, w, starts, ends)`` of the runs of ones of an RLE, as column-major flat indices."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = rle_from_string(counts)
    counts = np.asarray(counts, dtype=np.int64)
    ends = np.cumsum(counts)
    if counts.size == 0 or ends[-1] != h * w or (counts < 0).any():
        raise ValueError(f"RLE counts do not describe a {h}x{w} mask.")
    starts = ends - counts
    return h, w, starts[1::2], ends[1::2]


def decode_rle(rle: dict) -> np.ndarray:
    """Boolean mask of a COCO RLE (compressed string or uncompressed list of counts)."""
    h, w, starts, ends = _foreground_runs(rle)
    flat = np.zeros(h * w, dtype=bool)
    for s, e in zip(starts, ends):
        flat[s:e] = True
    return flat.reshape((w, h)).T


def paint_rle(column_major: np.ndarray, rle: dict, value) -> None:
    """Set the pixels of an RLE to ``value`` in a flat column-major label buffer (no full-size mask)."""
    _, _, starts, ends = _foreground_runs(rle)
    for s, e in zip(starts, ends):
        column_major[s:e] = value


def instances_to_coco(labels: np.ndarray, image_id: int, first_annotation_id: int = 1) -> list[dict]:
    """One COCO annotation per instance of a 2D label image (ids in increasing order).

    Each annotation holds ``id``, ``image_id``, ``category_id`` (1), ``segmentation`` (compressed RLE),
    ``area`` (pixels), ``bbox`` ``[x, y, w, h]``, ``iscrowd`` (0) and ``label_id`` (the instance's id).
    Only the columns an instance spans are scanned, so this is fast for many small cells.
    """
    from scipy import ndimage

    labels = np.asarray(labels)
    h, w = labels.shape
    ids, inverse = np.unique(labels, return_inverse=True)
    seq = inverse.reshape(labels.shape)
    if ids[0] != 0:
        seq = seq + 1
        ids = np.concatenate(([0], ids))
    annotations = []
    for k, slc in enumerate(ndimage.find_objects(seq), start=1):
        if slc is None:
            continue
        ys, xs = slc
        strip = seq[:, xs] == k
        counts = _trim(_runs(strip.ravel(order="F"), xs.start * h, h * w))
        area = int(np.count_nonzero(strip))
        annotations.append({
            "id": first_annotation_id + len(annotations),
            "image_id": int(image_id),
            "category_id": COCO_CATEGORY["id"],
            "segmentation": {"size": [int(h), int(w)], "counts": rle_to_string(counts)},
            "area": area,
            "bbox": [float(xs.start), float(ys.start), float(xs.stop - xs.start), float(ys.stop - ys.start)],
            "iscrowd": 0,
            "label_id": int(ids[k]),
        })
    return annotations
