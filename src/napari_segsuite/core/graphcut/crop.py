"""GrabCut on one crop around one box: the models, the iterations and the safeguards.

Used by :mod:`napari_segsuite.core.graphcut.boxes`, which checks the inputs, crops and paints. See that module
for why each safeguard is there (OpenCV's ``grabCut`` collapses to empty masks on gray nuclei).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .cells import TERRITORY_COST, cell_cues
from .gmm import GaussianMixture
from .maxflow import GridCut, contrast_weights

__all__ = ["cut_crop", "object_contrast", "prior_costs", "ellipse_radius2", "MAX_BOX_PIXELS", "PRIOR_EPS",
           "MAX_TILT"]


# -- the algorithm on one crop --------------------------------------------------------------------------
def _normalise(crop):
    """Per-channel robust scaling of a (rows, cols, channels) crop to roughly [0, 1]."""
    x = crop.astype(np.float64)
    flat = x.reshape(-1, x.shape[-1])
    lo, hi = np.percentile(flat, (1.0, 99.0), axis=0)
    span = hi - lo
    std = flat.std(0)
    span = np.where(span > 1e-12, span, np.where(std > 1e-12, 4 * std, 1.0))
    return (x - lo) / span


#: The largest |rho| of a tilted shape prior: a box's inscribed ellipse never thins to its diagonal.
MAX_TILT = 0.9


def ellipse_radius2(shape, box, fraction=1.0, rho=0.0):
    """Squared normalised radius of an ellipse inscribed in the box (scaled by ``fraction``): 1 on its outline.

    ``rho`` = 0 is the upright ellipse. Otherwise the ellipse is tilted but still touches the box's four sides
    (scaled by ``fraction``): it is the set of offsets ``d = (dy / ay, dx / ax)`` with ``d' S^-1 d <= 1`` for
    ``S = [[1, rho], [rho, 1]]``, whose coordinates correlate by ``rho`` (positive: from top left to bottom
    right). ``rho`` is clipped to [-MAX_TILT, MAX_TILT].
    """
    r0, c0, r1, c1 = box
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    cy, cx = (r0 + r1 - 1) / 2.0, (c0 + c1 - 1) / 2.0
    ay, ax = max((r1 - r0) / 2.0 * fraction, 0.75), max((c1 - c0) / 2.0 * fraction, 0.75)
    u, v = (yy - cy) / ay, (xx - cx) / ax
    rho = float(np.clip(rho, -MAX_TILT, MAX_TILT))
    if not rho:
        return u ** 2 + v ** 2
    return (u ** 2 - 2.0 * rho * u * v + v ** 2) / (1.0 - rho ** 2)


def _shape_cost(shape, box, weight, rho=0.0):
    """Flat cost of the weak shape prior: the (tilted) inscribed ellipse leans foreground, the corners not."""
    return (weight * (ellipse_radius2(shape, box, rho=rho) - 1.0)).ravel() if weight else 0.0


def _ellipse(shape, box, fraction):
    return ellipse_radius2(shape, box, fraction) <= 1.0


def _clean(mask, core):
    """Keep the connected part covering the core most (else the largest), fill its holes."""
    lab, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return mask
    if n > 1:
        overlap = np.bincount(lab[core], minlength=n + 1)[1:]
        sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:]
        best = int(np.argmax(overlap)) if overlap.max() > 0 else int(np.argmax(sizes))
        mask = lab == best + 1
    return ndi.binary_fill_holes(mask)


def prior_costs(prior, weight):
    """Data-term costs ``(fg, bg)`` (flat) of a foreground probability map: ``-weight * log p`` and
    ``-weight * log(1 - p)``, minus their value at p = 0.5, so a prior of 0.5 adds nothing. (0, 0) without one.
    """
    if prior is None or not weight:
        return 0.0, 0.0
    p = np.clip(np.asarray(prior, np.float64).ravel(), PRIOR_EPS, 1.0 - PRIOR_EPS)
    half = np.log(0.5)
    return -weight * (np.log(p) - half), -weight * (np.log1p(-p) - half)


def own_object_prior(prior, core):
    """The prior with every other object turned to background: connected parts of ``prior > 0.5`` that do
    not overlap ``core`` (or overlap it less than the part covering it most) get ``1 - prior``.

    A box around one of several touching or nearby objects then holds one object for the data term, not
    all the foreground the model sees.
    """
    lab, n = ndi.label(prior > 0.5)
    if n < 2:
        return prior
    overlap = np.bincount(lab[core], minlength=n + 1)
    overlap[0] = 0
    if overlap.max() == 0:
        return prior
    others = (lab > 0) & (lab != int(np.argmax(overlap)))
    return np.where(others, 1.0 - prior, prior)


#: Prior probabilities are clipped to [eps, 1 - eps]: a prior of 0 or 1 is strong, never a hard constraint.
PRIOR_EPS = 1e-3

#: Boxes with more pixels are first cut on a block-averaged copy, then refined in a band at full size.
MAX_BOX_PIXELS = 20_000


def _block_mean(x, f):
    h, w = x.shape[:2]
    ph, pw = -h % f, -w % f
    x = np.pad(x, ((0, ph), (0, pw)) + ((0, 0),) * (x.ndim - 2), mode="edge")
    return x.reshape(x.shape[0] // f, f, x.shape[1] // f, f, *x.shape[2:]).mean(axis=(1, 3))


def _block_any(m, f):
    h, w = m.shape
    m = np.pad(m, ((0, -h % f), (0, -w % f)))
    return m.reshape(m.shape[0] // f, f, m.shape[1] // f, f).any(axis=(1, 3))


def _cut_coarse_to_fine(crop, box, hard_fg, hard_bg, n_iter, n_components, gamma, core_fraction, shape_prior,
                        prior=None, prior_weight=0.0, extra_fg=None, rho=0.0):
    """A large box: GrabCut on a block-averaged crop, then a full-resolution cut in a band at its edge."""
    r0, c0, r1, c1 = box
    f = int(np.ceil(np.sqrt((r1 - r0) * (c1 - c0) / MAX_BOX_PIXELS)))
    small = _block_mean(crop.astype(np.float64), f)
    sbox = (r0 // f, c0 // f, -(-r1 // f), -(-c1 // f))
    s_fg, s_bg = _block_any(hard_fg, f), _block_any(hard_bg, f)
    s_prior = None if prior is None else _block_mean(prior, f)
    s_extra = None if extra_fg is None else _block_mean(extra_fg, f)
    coarse = _cut(small, sbox, s_fg & ~s_bg, s_bg & ~s_fg, n_iter, n_components, gamma, core_fraction,
                  shape_prior, s_prior, prior_weight, s_extra, rho)
    h, w = crop.shape[:2]
    coarse = np.repeat(np.repeat(coarse, f, 0), f, 1)[:h, :w]
    inbox = np.zeros((h, w), bool)
    inbox[r0:r1, c0:c1] = True
    bg_fixed = ~inbox | hard_bg
    fg_fixed = hard_fg & inbox & ~hard_bg
    coarse &= inbox
    structure = np.ones((3, 3), bool)
    band = ndi.binary_dilation(coarse, structure, iterations=f + 1) & ~ndi.binary_erosion(
        coarse, structure, iterations=f + 1, border_value=1)
    if coarse.all() or not coarse.any():  # nothing to refine against
        return coarse & ~bg_fixed | fg_fixed
    fix_fg = (coarse & ~band & ~bg_fixed) | fg_fixed
    fix_bg = ((~coarse & ~band) | bg_fixed) & ~fg_fixed
    feats = _normalise(crop)
    flat = feats.reshape(-1, feats.shape[2])
    pairs, _ = contrast_weights(feats, gamma)
    graph = GridCut((h, w), pairs, hard_fg=fix_fg, hard_bg=fix_bg)
    fg_model = GaussianMixture(n_components, variance_floor=1e-3).fit(flat[coarse.ravel()])
    bg_model = GaussianMixture(n_components, variance_floor=1e-3).fit(flat[(~coarse).ravel()])
    shape_cost = _shape_cost((h, w), box, shape_prior, rho)
    p_fg, p_bg = prior_costs(prior, prior_weight)
    extra = 0.0 if extra_fg is None else extra_fg.ravel()
    alpha = graph.cut(shape_cost + p_fg + extra - fg_model.log_likelihood(flat),
                      p_bg - bg_model.log_likelihood(flat))
    return _clean(alpha, coarse) & ~bg_fixed | fg_fixed


def _background_samples(inbox, bg_fixed, box):
    """Pixels to learn the first background model from: the margin, or the box's rim if there is none."""
    if bg_fixed.any():
        return bg_fixed
    # The box covers the whole image: learn from its outer rim (soft, not a hard constraint).
    r0, c0, r1, c1 = box
    rim = max(1, int(round(0.1 * min(r1 - r0, c1 - c0))))
    inner = np.zeros_like(inbox)
    inner[r0 + rim: r1 - rim, c0 + rim: c1 - rim] = True
    return inbox & ~inner


def _noise_sigma(x):
    """Robust per-channel noise level of a (rows, cols, channels) crop, from neighbour differences.

    The MAD of horizontal and vertical differences over sqrt(2): edges are a small share of the pairs, so
    they barely move it (unlike the crop's own spread, which the object itself makes large).
    """
    c = x.shape[-1]
    d = np.concatenate([np.diff(x, axis=0).reshape(-1, c), np.diff(x, axis=1).reshape(-1, c)])
    mad = np.median(np.abs(d - np.median(d, axis=0)), axis=0)
    return np.maximum(1.4826 * mad / np.sqrt(2.0), 1e-9)


def object_contrast(crop, mask, box, width: int = 2) -> float:
    """How much the cut ``mask`` differs from what surrounds it, in units of the crop's noise level.

    The larger of two contrasts, each the largest over the channels of ``|median(a) - median(b)| / noise``:
    the band ``width`` pixels inside the mask's edge against the band just outside it (local; fails where the
    mask touches bright neighbours), and the mask against the crop's margin outside ``box`` (fails where the
    margin is crowded with other cells). A real object wins at least one; a mask cut out of plain background
    wins neither. NaN (undefined: nothing to compare) for an empty mask or one that fills the crop.

    Parameters
    ----------
    crop : ndarray, (rows, cols, channels)
    mask : ndarray of bool, (rows, cols)
    box : (row0, col0, row1, col1)
        The box in crop coordinates; the pixels outside it are the margin.
    width : int
        Width of the bands at the mask's edge, in pixels.

    Returns
    -------
    float
    """
    if not mask.any() or mask.all():
        return float("nan")
    x = np.asarray(crop, np.float64)
    sigma = _noise_sigma(x)
    structure = np.ones((3, 3), bool)
    inner = mask & ~ndi.binary_erosion(mask, structure, iterations=width)
    outer = ndi.binary_dilation(mask, structure, iterations=width) & ~mask
    r0, c0, r1, c1 = box
    margin = np.ones(mask.shape, bool)
    margin[r0:r1, c0:c1] = False
    best = 0.0
    for a, b in ((inner, outer), (mask, margin)):
        if a.any() and b.any():
            diff = np.abs(np.median(x[a], axis=0) - np.median(x[b], axis=0)) / sigma
            best = max(best, float(diff.max()))
    return best


def cut_crop(crop, box, hard_fg, hard_bg, n_iter, n_components, gamma, core_fraction, shape_prior,
             min_contrast=0.0, prior=None, prior_weight=0.0, nucleus=None, seed=None):
    """GrabCut on one crop. ``box`` is in crop coordinates; returns the bool mask of the crop.

    With ``min_contrast > 0`` and no hard foreground in the box, a mask whose :func:`object_contrast` is
    below ``min_contrast`` is dropped (the box holds nothing that differs from its surroundings): the
    result is then empty instead of a blob of background shaped by the box. A mask that fills the whole
    crop (a box over a whole small image) cannot be judged and is kept.

    ``prior`` (the crop's foreground probabilities, or None) adds :func:`prior_costs` to the data term, and
    the first foreground model is learnt from the core's pixels with ``prior >= 0.5``.

    ``nucleus`` (the crop of a nucleus channel, or None; ``crop`` then holds the other channels): whole cells,
    with the cues of :func:`~napari_segsuite.core.graphcut.cells.cell_cues`. The box's nucleus is foreground for
    sure, so the cut grows the whole cell around it and keeps it; the other nuclei are background for sure (they
    are other cells); foreground costs more outside the box's nucleus territory; and the shape prior's ellipse
    tilts with the cell.

    ``seed`` (bool mask of the crop, or None): pixels that are foreground for the cut (e.g. a clicked
    point), but unlike ``hard_fg`` they do not exempt the mask from the contrast test.
    """
    extra_fg, rho = None, 0.0
    if nucleus is not None:
        inbox = np.zeros(crop.shape[:2], bool)
        inbox[box[0]:box[2], box[1]:box[3]] = True
        core = _ellipse(crop.shape[:2], box, core_fraction) & inbox & ~hard_bg
        cues = cell_cues(crop, nucleus, inbox, core)
        hard_fg = hard_fg | (cues.own & ~hard_bg)
        hard_bg = hard_bg | (cues.others & ~hard_fg)
        if cues.territory is not None:
            extra_fg = np.where(cues.territory, 0.0, TERRITORY_COST)
        rho = cues.rho
    judged_fg = hard_fg
    if seed is not None:
        hard_fg = hard_fg | (seed & ~hard_bg)
    mask = _cut(crop, box, hard_fg, hard_bg, n_iter, n_components, gamma, core_fraction, shape_prior, prior,
                prior_weight, extra_fg, rho)
    if min_contrast > 0 and not (judged_fg & mask).any() and object_contrast(crop, mask, box) < min_contrast:
        return np.zeros_like(mask)
    return mask


def _at(cost, index):
    """``cost[index]`` of a flat cost array, or the scalar itself (a term that is off is the scalar 0)."""
    return cost[index] if np.ndim(cost) else cost


def _cut(crop, box, hard_fg, hard_bg, n_iter, n_components, gamma, core_fraction, shape_prior, prior=None,
         prior_weight=0.0, extra_fg=None, rho=0.0):
    """GrabCut's iterations on one crop. ``extra_fg``: a (rows, cols) cost added to foreground (or None);
    ``rho``: the tilt of the shape prior's ellipse (:func:`ellipse_radius2`)."""
    r0, c0, r1, c1 = box
    if (r1 - r0) * (c1 - c0) > MAX_BOX_PIXELS:
        return _cut_coarse_to_fine(crop, box, hard_fg, hard_bg, n_iter, n_components, gamma, core_fraction,
                                   shape_prior, prior, prior_weight, extra_fg, rho)
    feats = _normalise(crop)
    h, w, c = feats.shape
    r0, c0, r1, c1 = box
    inbox = np.zeros((h, w), bool)
    inbox[r0:r1, c0:c1] = True
    bg_fixed = ~inbox | hard_bg
    fg_fixed = hard_fg & inbox & ~hard_bg
    if not (inbox & ~bg_fixed).any():  # background scribbles cover the whole box: nothing can be foreground
        return fg_fixed
    core = _ellipse((h, w), box, core_fraction) & ~bg_fixed
    if not core.any():
        core = inbox & ~bg_fixed
    seed = core
    if prior is not None and prior_weight:
        prior = own_object_prior(prior, core)
        likely = core & (prior >= 0.5)
        if likely.sum() >= max(4, 0.2 * core.sum()):
            seed = likely
    flat = feats.reshape(-1, c)
    pairs, _ = contrast_weights(feats, gamma)
    graph = GridCut((h, w), pairs, hard_fg=fg_fixed, hard_bg=bg_fixed)
    floor = 1e-3
    fg_model = GaussianMixture(n_components, variance_floor=floor)
    bg_model = GaussianMixture(n_components, variance_floor=floor)
    fg_model.fit(flat[(seed | fg_fixed).ravel()])
    bg_model.fit(flat[_background_samples(inbox, bg_fixed, box).ravel()])
    # Weak shape prior: the box's inscribed ellipse leans foreground, its corners background.
    shape_cost = _shape_cost((h, w), box, shape_prior, rho)
    if extra_fg is not None:
        shape_cost = shape_cost + extra_fg.ravel()
    p_fg, p_bg = prior_costs(prior, prior_weight)
    # The cut reads data costs at the free pixels only (the box, less the scribbles): the likelihoods are
    # computed there, not over the whole crop.
    free = np.flatnonzero(~(fg_fixed | bg_fixed).ravel())
    x_free = flat[free]
    fixed_fg, fixed_bg = (_at(c, free) for c in (shape_cost + p_fg, p_bg))
    cost_fg, cost_bg = np.zeros(h * w), np.zeros(h * w)
    alpha = None
    min_size = max(4, int(0.1 * core.sum()))
    for it in range(max(1, int(n_iter))):
        if it:
            if alpha.all():  # a box over the whole image, all foreground: no background left to refit
                break
            fg_model.refit(flat[alpha.ravel()])
            bg_model.refit(flat[(~alpha).ravel()])
        cost_fg[free] = fixed_fg - fg_model.log_likelihood(x_free)
        cost_bg[free] = fixed_bg - bg_model.log_likelihood(x_free)
        new = graph.cut(cost_fg, cost_bg)
        if new.sum() < min_size:  # the models collapsed: keep what we had
            if alpha is None:
                seeded = GridCut((h, w), pairs, hard_fg=fg_fixed | core, hard_bg=bg_fixed)
                alpha = seeded.cut(cost_fg, cost_bg)
            break
        if alpha is not None and np.array_equal(new, alpha):
            break
        alpha = new
    return _clean(alpha, core) & ~bg_fixed | fg_fixed
