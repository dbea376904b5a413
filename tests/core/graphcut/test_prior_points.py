"""GrabCut's learned prior (``prior=``, ``model_prior``) and point prompts (``grabcut_points``)."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite.core import grabcut, grabcut_boxes, grabcut_points, load_sample, model_prior, sample_path


def _iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


def _touching_pair(seed=0):
    """Two touching discs of the same brightness (radius 12, centres 22 px apart) in noise."""
    yy, xx = np.mgrid[:64, :96]
    a = (yy - 32) ** 2 + (xx - 35) ** 2 <= 144
    b = ((yy - 32) ** 2 + (xx - 57) ** 2 <= 144) & ~a
    rng = np.random.default_rng(seed)
    img = np.where(a | b, 800.0, 200.0) + rng.normal(0, 40, a.shape)
    return img.astype(np.uint16), a, b


def _model_like_prior(a, b):
    """What a trained model gives: high inside each object, low on the seam between them and outside."""
    prob = np.where(a | b, 0.9, 0.05)
    seam = (ndi.binary_dilation(a, iterations=1) & b) | (ndi.binary_dilation(b, iterations=1) & a)
    prob[ndi.binary_dilation(seam, iterations=1)] = 0.1
    return prob


def _label_prior(labels):
    """A model-like prior with a known answer: 0.9 in objects, 0.05 outside, 0.1 where two objects touch."""
    from skimage.segmentation import find_boundaries

    prob = np.where(labels > 0, 0.9, 0.05)
    other = ndi.grey_dilation(labels, 3) != ndi.grey_erosion(np.where(labels == 0, 2 ** 30, labels), 3)
    prob[find_boundaries(labels, mode="inner") & other & (labels > 0)] = 0.1
    return prob


def test_prior_improves_crowded_touching_nuclei():
    image, labels = load_sample("nuclei_test")
    prior = _label_prior(labels)
    plain, with_prior = [], []
    for i, sl in enumerate(ndi.find_objects(labels), 1):
        box = (sl[0].start - 4, sl[1].start - 4, sl[0].stop + 4, sl[1].stop + 4)
        r0, c0, r1, c1 = (max(v, 0) for v in box)
        if len(set(np.unique(labels[r0:r1, c0:c1]).tolist()) - {0, i}) < 2:
            continue  # boxes holding parts of at least two other nuclei
        plain.append(_iou(grabcut(image, box), labels == i))
        with_prior.append(_iou(grabcut(image, box, prior=prior), labels == i))
        if i == 118:  # touches two neighbours of the same brightness
            assert plain[-1] < 0.8 and with_prior[-1] > 0.95
    assert len(plain) > 40
    assert np.mean(with_prior) > np.mean(plain) + 0.03
    assert min(with_prior) > 0.5


def test_prior_of_one_half_changes_nothing():
    image, labels = load_sample("nuclei_test")
    boxes = []
    for sl in ndi.find_objects(labels)[:12]:
        boxes.append((sl[0].start - 4, sl[1].start - 4, sl[0].stop + 4, sl[1].stop + 4))
    half = np.full(labels.shape, 0.5)
    np.testing.assert_array_equal(grabcut_boxes(image, boxes, prior=half), grabcut_boxes(image, boxes))


def test_prior_weight_zero_ignores_the_prior():
    image, labels = load_sample("nuclei_test")
    box = (460, 216, 495, 245)  # nucleus 118 and parts of two neighbours
    with_prior = grabcut(image, box, prior=_label_prior(labels))
    assert not np.array_equal(with_prior, grabcut(image, box))
    np.testing.assert_array_equal(grabcut(image, box, prior=_label_prior(labels), prior_weight=0),
                                  grabcut(image, box))


@pytest.mark.parametrize("prior, message", [
    (np.full((64, 95), 0.5), "does not match"),
    (np.full((64, 96, 3), 0.5), "does not match"),
    (np.full((64, 96), 255.0), "in [0, 1]"),
    (np.full((64, 96), -0.1), "in [0, 1]"),
    (np.where(np.eye(64, 96) > 0, np.nan, 0.5), "NaN"),
    (np.full((64, 96), "a"), "numeric"),
])
def test_bad_priors_are_refused(prior, message):
    img, _, _ = _touching_pair()
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        grabcut(img, (16, 19, 49, 52), prior=prior)
    with pytest.raises(ValueError, match="does not match|in \\[0, 1\\]|NaN|numeric"):
        grabcut_points(img, [(32, 35)], prior=prior)


def test_points_give_one_instance_per_point_and_none_on_plain_background():
    img, a, b = _touching_pair()
    big = np.full((64, 140), 200.0) + np.random.default_rng(1).normal(0, 40, (64, 140))
    big[:, :96] = img
    big = big.astype(np.uint16)
    pad = np.zeros((64, 44), bool)
    a, b = np.hstack([a, pad]), np.hstack([b, pad])
    lab = grabcut_points(big, [(32, 35), (32, 120)], prior=np.hstack([_model_like_prior(a[:, :96], b[:, :96]),
                                                                       np.full((64, 44), 0.05)]))
    assert lab.dtype == np.int32 and set(np.unique(lab).tolist()) == {0, 1}
    assert _iou(lab == 1, a) > 0.95
    lab = grabcut_points(big, [(32, 35), (32, 57), (32, 120)])  # no prior: the blob scale
    assert set(np.unique(lab).tolist()) == {0, 1, 2}
    assert _iou(lab == 1, a) > 0.8 and _iou(lab == 2, b) > 0.8


def test_points_at_the_sample_nuclei_centres_are_found():
    image, labels = load_sample("nuclei_test")
    ids = list(range(1, 21))
    pts = [np.round(ndi.center_of_mass(labels == i)).astype(int) for i in ids]
    lab = grabcut_points(image, pts)
    ious = [_iou(lab == k + 1, labels == i) for k, i in enumerate(ids)]
    assert np.mean(ious) > 0.7


@pytest.mark.parametrize("points, message", [
    ([(70, 5)], "outside the image"),
    ((32, 35), "one point"),
    ([], "points must be"),
    ([(1, 2, 3)], "points must be"),
])
def test_bad_points_are_refused(points, message):
    img, _, _ = _touching_pair()
    with pytest.raises(ValueError, match=message):
        grabcut_points(img, points)


def test_model_prior_on_crops_equals_the_whole_image_and_is_cached():
    from napari_segsuite.core.graphcut import prior as prior_mod

    prior_mod.clear_prior_cache()
    image, _ = load_sample("nuclei_test")
    image = image[:200, :200]
    path = sample_path("unet_nuclei.pt")
    boxes = [(20, 30, 50, 60)]
    crop = model_prior(path, image, boxes, device="cpu")
    assert crop.dtype == np.float32 and crop.shape == image.shape
    inside = np.zeros(image.shape, bool)
    inside[10:60, 20:70] = True  # the box + the default 10 px margin
    assert (crop[~inside] == 0.5).all() and (crop[inside] != 0.5).any()
    assert 0 <= crop.min() and crop.max() <= 1
    whole = model_prior(path, image, None, device="cpu", cache=False)
    np.testing.assert_allclose(crop[inside], whole[inside], atol=1e-5)
    (entry,) = prior_mod._CACHE.values()
    calls = []
    runner = entry.runner
    entry.runner = lambda *r: calls.append(r) or runner(*r)
    again = model_prior(path, image, boxes, device="cpu")
    np.testing.assert_array_equal(again, crop)
    assert calls == []  # nothing recomputed
    model_prior(path, image, [(100, 100, 130, 130)], device="cpu")
    assert calls == [(90, 140, 90, 140)]  # only the new crop
    prior_mod.clear_prior_cache()


def test_model_prior_refuses_what_is_not_a_model(tmp_path):
    image, _ = load_sample("nuclei_test")
    with pytest.raises(FileNotFoundError, match="not found"):
        model_prior(tmp_path / "missing.pt", image)
    with pytest.raises(ValueError, match="cannot compute a prior"):
        model_prior({"kind": "other"}, image)
