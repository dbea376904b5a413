"""The GrabCut building blocks: the Gaussian mixture and the grid minimum cut (checked by brute force)."""

import itertools

import numpy as np
import pytest
from scipy import stats

from napari_segsuite.core.graphcut.gmm import GaussianMixture
from napari_segsuite.core.graphcut.maxflow import GridCut, contrast_weights


def _energy(labels, cost_fg, cost_bg, pairs):
    lab = labels.ravel()
    e = np.where(lab, cost_fg.ravel(), cost_bg.ravel()).sum()
    for p, q, w in pairs:
        e += w[lab[p] != lab[q]].sum()
    return e


@pytest.mark.parametrize("seed", range(6))
def test_grid_cut_finds_the_brute_force_minimum(seed):
    rng = np.random.default_rng(seed)
    shape = (3, 4)
    feats = rng.normal(size=shape + (1,))
    pairs, _ = contrast_weights(feats, gamma=rng.uniform(0.5, 3))
    cost_fg, cost_bg = rng.uniform(0, 4, shape), rng.uniform(0, 4, shape)
    best = min(_energy(np.array(bits, bool).reshape(shape), cost_fg, cost_bg, pairs)
               for bits in itertools.product((0, 1), repeat=12))
    got = GridCut(shape, pairs).cut(cost_fg, cost_bg)
    # Capacities are rounded to 1/256: the cut is optimal up to that rounding.
    assert _energy(got, cost_fg, cost_bg, pairs) <= best + 12 * 2 / 256


def test_grid_cut_reused_for_many_cuts_stays_optimal():
    """GrabCut cuts the same graph once per iteration with new data costs: nothing of a cut (its flow, its
    residual graph) may leak into the next, and each must still be the minimum."""
    rng = np.random.default_rng(7)
    shape = (3, 4)
    pairs, _ = contrast_weights(rng.normal(size=shape + (1,)), gamma=2.0)
    hard_bg = np.zeros(shape, bool)
    hard_bg[0, 0] = True
    cut = GridCut(shape, pairs, hard_bg=hard_bg)
    results = []
    for _ in range(6):
        cost_fg, cost_bg = rng.uniform(0, 4, shape), rng.uniform(0, 4, shape)
        got = cut.cut(cost_fg, cost_bg)
        best = min(_energy(lab, cost_fg, cost_bg, pairs) for bits in itertools.product((0, 1), repeat=12)
                   if not (lab := np.array(bits, bool).reshape(shape))[0, 0])
        assert not got[0, 0]
        assert _energy(got, cost_fg, cost_bg, pairs) <= best + 12 * 2 / 256
        assert np.array_equal(got, GridCut(shape, pairs, hard_bg=hard_bg).cut(cost_fg, cost_bg))
        results.append(got)
    assert len({r.tobytes() for r in results}) > 1  # the costs really changed the cut


def test_grid_cut_handles_a_flow_in_another_sparse_structure(monkeypatch):
    """Another scipy may return the flow without the graph's exact structure (here: its zeros dropped); the cut
    then takes the sparse-subtraction branch and must be the same minimum."""
    from scipy.sparse import csgraph

    from napari_segsuite.core.graphcut import maxflow

    rng = np.random.default_rng(3)
    shape = (3, 4)
    pairs, _ = contrast_weights(rng.normal(size=shape + (1,)), gamma=2.0)
    costs = [(rng.uniform(0, 4, shape), rng.uniform(0, 4, shape)) for _ in range(4)]
    same = [GridCut(shape, pairs).cut(*c) for c in costs]
    calls, maximum_flow = [], csgraph.maximum_flow

    class _Result:
        def __init__(self, flow):
            self.flow = flow

    def other_structure(graph, source, sink, method="dinic"):
        flow = maximum_flow(graph, source, sink, method=method).flow.copy()
        flow.eliminate_zeros()
        calls.append(flow.nnz < graph.nnz)
        return _Result(flow)

    monkeypatch.setattr(maxflow.csgraph, "maximum_flow", other_structure)
    cut = GridCut(shape, pairs)
    for (cost_fg, cost_bg), expected in zip(costs, same):
        got = cut.cut(cost_fg, cost_bg)
        assert np.array_equal(got, expected)
    assert calls and all(calls)  # the structure really differed, so the fallback branch ran


def test_grid_cut_hard_constraints_fold_into_terminals():
    rng = np.random.default_rng(1)
    shape = (3, 3)
    pairs, _ = contrast_weights(rng.normal(size=shape + (2,)), gamma=2.0)
    cost_fg, cost_bg = rng.uniform(0, 3, shape), rng.uniform(0, 3, shape)
    hard_fg = np.zeros(shape, bool)
    hard_fg[0, 0] = True
    hard_bg = np.zeros(shape, bool)
    hard_bg[2, 2] = True
    best_e = np.inf
    for bits in itertools.product((0, 1), repeat=9):
        lab = np.array(bits, bool).reshape(shape)
        if not lab[0, 0] or lab[2, 2]:
            continue
        e = _energy(lab, cost_fg, cost_bg, pairs)
        if e < best_e:
            best_e = e
    got = GridCut(shape, pairs, hard_fg=hard_fg, hard_bg=hard_bg).cut(cost_fg, cost_bg)
    assert got[0, 0] and not got[2, 2]
    assert _energy(got, cost_fg, cost_bg, pairs) <= best_e + 9 * 2 / 256
    with pytest.raises(ValueError, match="both"):
        GridCut(shape, pairs, hard_fg=hard_fg, hard_bg=hard_fg)


def test_contrast_weights_beta_is_inverse_twice_mean_squared_difference():
    feats = np.array([[0.0, 1.0], [0.0, 1.0]])[..., None]
    pairs, beta = contrast_weights(feats, gamma=10.0)
    # Pairs: horizontal (2, diff 1), vertical (2, diff 0), diagonals (1 + 1, diff 1 each) -> mean 4/6.
    assert beta == pytest.approx(1 / (2 * 4 / 6))
    (_, _, w_h), (_, _, w_v), (_, _, w_d), _ = pairs
    assert np.allclose(w_v, 10.0) and np.allclose(w_h, 10.0 * np.exp(-beta))
    assert np.allclose(w_d, 10.0 / np.sqrt(2) * np.exp(-beta))


def test_gmm_single_component_is_the_sample_gaussian():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, 500)
    gmm = GaussianMixture(1, variance_floor=0.0).fit(x)
    expect = stats.norm(x.mean(), x.std()).logpdf(x)
    assert np.allclose(gmm.log_likelihood(x), expect)


def test_gmm_gray_mixture_log_likelihood_is_the_mixture_density():
    """Gray images take a shortcut (no LAPACK per component): it must give the mixture's own density."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0.2, 0.05, 400), rng.normal(0.7, 0.1, 200), rng.normal(1.5, 0.2, 100)])
    gmm = GaussianMixture(3, variance_floor=1e-3).fit(x, n_steps=4)
    assert len(gmm.weights) >= 2  # a real mixture, not one Gaussian
    dens = sum(w * stats.norm(m[0], np.sqrt(c[0, 0])).pdf(x)
               for w, m, c in zip(gmm.weights, gmm.means, gmm.covariances))
    assert np.allclose(gmm.log_likelihood(x), np.log(dens))


def test_gmm_separates_clusters_and_survives_identical_samples():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (300, 2)), rng.normal(5, 0.1, (300, 2))])
    gmm = GaussianMixture(2).fit(x, n_steps=3)
    assert sorted(np.round(gmm.means[:, 0]).tolist()) == [0.0, 5.0]
    assert np.allclose(gmm.weights, 0.5)
    # 8-bit gray: many identical values. The floor keeps every density finite.
    same = np.full((100, 1), 7.0)
    flat = GaussianMixture(5, variance_floor=1e-3).fit(same)
    assert np.isfinite(flat.log_likelihood(same)).all()
    assert flat.covariances.min() >= 1e-3 - 1e-12
    with pytest.raises(ValueError, match="non-empty"):
        GaussianMixture(2).fit(np.zeros((0, 1)))
    with pytest.raises(ValueError, match="at least 1"):
        GaussianMixture(0)
