"""Continuous sampling from a TT density (ddpm_ot_lib.sampling), checked by goodness-of-fit tests.

Every statistical test uses a fixed seed, so it is deterministic; the thresholds are
ordinary significance levels (p > 0.01 for the right law), and the same tests are shown
to reject a wrong law (p < 1e-4), so they can fail.
"""

import numpy as np
import pytest
from scipy import stats

from ddpm_ot_lib import chebyshev as ch
from ddpm_ot_lib import sampling

MEAN = np.array([0.5, -1.0])
COV = np.array([[1.0, 0.6], [0.6, 0.8]])


@pytest.fixture(scope="module")
def gaussian2():
    """A correlated 2-D Gaussian as a TT on [-8, 8]^2 with 100 nodes, and 20000 samples of it."""
    g = ch.grid(-8, 8, 100, 2)
    rv = stats.multivariate_normal(MEAN, COV)
    Y = ch.tt_cross(rv.pdf, g, tol=1e-12)
    info = {}
    x = sampling.tt_sample(Y, g, 20000, seed=1, info=info)
    return g, Y, x, info


# weights, means and (diagonal) standard deviations of a 3-D Gaussian mixture
W3 = np.array([0.3, 0.5, 0.2])
MU3 = np.array([[-1.5, 0.0, 1.0], [1.0, 1.0, -0.5], [0.0, -2.0, 0.0]])
SD3 = np.array([[0.7, 1.0, 0.8], [1.2, 0.6, 0.9], [0.8, 0.8, 1.3]])


def _mixture3_pdf(x):
    out = np.zeros(x.shape[0])
    for w, mu, sd in zip(W3, MU3, SD3):
        out += w * np.prod(stats.norm.pdf(x, mu, sd), axis=1)
    return out


def _mixture3_cdf_1d(v, k, mean_shift=0.0):
    return sum(w * stats.norm.cdf(v, mu[k] + mean_shift, sd[k]) for w, mu, sd in zip(W3, MU3, SD3))


@pytest.fixture(scope="module")
def mixture3():
    g = ch.grid(-8, 8, 60, 3)
    Y = ch.tt_cross(_mixture3_pdf, g, tol=1e-12)
    return g, Y, sampling.tt_sample(Y, g, 15000, seed=2)


def test_gaussian_marginals_projection_and_2d_bins(gaussian2):
    g, Y, x, info = gaussian2
    for k in range(2):
        assert stats.kstest(x[:, k], stats.norm(MEAN[k], np.sqrt(COV[k, k])).cdf).pvalue > 0.01
    v = np.array([0.6, -0.8])
    assert stats.kstest(x @ v, stats.norm(v @ MEAN, np.sqrt(v @ COV @ v)).cdf).pvalue > 0.01
    # chi-square on a 10 x 10 grid of equiprobable bins of the whitened coordinates
    white = (x - MEAN) @ np.linalg.inv(np.linalg.cholesky(COV)).T
    edges = stats.norm.ppf(np.linspace(0, 1, 11))
    counts = np.histogram2d(white[:, 0], white[:, 1], bins=[edges, edges])[0].ravel()
    assert counts.sum() == x.shape[0]
    assert stats.chisquare(counts).pvalue > 0.01
    # the interpolant is accurate here: its negative part is tiny even in the conditionals
    # of the farthest samples (relative to their own, small, mass)
    assert info["negative_mass"] < 1e-8
    assert info["mass"] == pytest.approx(1.0, abs=1e-10)


def test_the_same_tests_reject_a_wrong_law(gaussian2):
    """Shifting the reference by 0.05 standard deviations, or rotating the bins, is detected."""
    _, _, x, _ = gaussian2
    assert stats.kstest(x[:, 0], stats.norm(MEAN[0] + 0.05, 1.0).cdf).pvalue < 1e-4
    wrong = np.array([[1.0, 0.5], [0.5, 0.8]])  # correlation 0.56 instead of 0.67
    white = (x - MEAN) @ np.linalg.inv(np.linalg.cholesky(wrong)).T
    edges = stats.norm.ppf(np.linspace(0, 1, 11))
    counts = np.histogram2d(white[:, 0], white[:, 1], bins=[edges, edges])[0].ravel()
    assert stats.chisquare(counts).pvalue < 1e-4


def test_grid_node_sampling_is_not_a_sample_of_the_density(gaussian2):
    """The paper's sampler (distinct grid nodes with weight Y) fails the KS test."""
    g, Y, _, _ = gaussian2
    nodes = sampling.grid_node_sample(Y, g, 2000, seed=0)
    assert np.all(np.isin(nodes[:, 0], g.nodes))
    assert len(np.unique(nodes, axis=0)) == 2000
    assert stats.kstest(nodes[:, 0], stats.norm(MEAN[0], 1.0).cdf).pvalue < 1e-10


def test_mixture_3d_marginals_projection_and_pair_bins(mixture3):
    g, Y, x = mixture3
    for k in range(3):
        assert stats.kstest(x[:, k], lambda v, k=k: _mixture3_cdf_1d(v, k)).pvalue > 0.01
        assert stats.kstest(x[:, k], lambda v, k=k: _mixture3_cdf_1d(v, k, 0.1)).pvalue < 1e-4
    v = np.array([1.0, -1.0, 0.5]) / 1.5
    proj_cdf = lambda u: sum(
        w * stats.norm.cdf(u, mu @ v, np.sqrt((sd**2) @ v**2))  # noqa: E731
        for w, mu, sd in zip(W3, MU3, SD3)
    )
    assert stats.kstest(x @ v, proj_cdf).pvalue > 0.01
    # chi-square on 8 x 8 bins of (x1, x3): exact cell probabilities (diagonal components)
    edges = np.concatenate([[-np.inf], np.linspace(-2.5, 2.5, 7), [np.inf]])
    probs = sum(
        w * np.outer(np.diff(stats.norm.cdf(edges, mu[0], sd[0])), np.diff(stats.norm.cdf(edges, mu[2], sd[2])))
        for w, mu, sd in zip(W3, MU3, SD3)
    ).ravel()
    counts = np.histogram2d(x[:, 0], x[:, 2], bins=[edges, edges])[0].ravel()
    assert stats.chisquare(counts, probs * x.shape[0]).pvalue > 0.01


def test_inverse_cdf_is_solved_to_rounding():
    """In 1-D the sample is F^{-1}(u) for the uniforms of the seeded stream: F(x) = u to 1e-12."""
    g = ch.grid(-8, 8, 80, 1)
    f = lambda x: np.exp(-0.5 * (x[:, 0] - 1) ** 2) + 0.5 * np.exp(-2 * (x[:, 0] + 2) ** 2)  # noqa: E731
    Y = ch.tt_cross(f, g)
    x = sampling.tt_sample(Y, g, 500, seed=np.random.default_rng(7))
    u = np.random.default_rng(7).random(500)
    assert np.abs(sampling.tt_marginal_cdf(Y, g, 0, x[:, 0]) - u).max() < 1e-12


def test_marginals_of_the_interpolant_are_exact(gaussian2):
    g, Y, _, _ = gaussian2
    pts = np.linspace(-5, 5, 41)
    for k in range(2):
        sd = np.sqrt(COV[k, k])
        assert np.abs(sampling.tt_marginal(Y, g, k, pts) - stats.norm.pdf(pts, MEAN[k], sd)).max() < 1e-10
        assert np.abs(sampling.tt_marginal_cdf(Y, g, k, pts) - stats.norm.cdf(pts, MEAN[k], sd)).max() < 1e-10
    assert sampling.tt_marginal(Y, g, 0, np.array([-9.0, 9.0])).tolist() == [0.0, 0.0]
    assert sampling.tt_marginal_cdf(Y, g, 0, np.array([-9.0, 9.0])).tolist() == pytest.approx([0.0, 1.0])


def test_seeded_reproducible_continuous_and_in_the_box(gaussian2):
    g, Y, _, _ = gaussian2
    a = sampling.tt_sample(Y, g, 300, seed=5)
    b = sampling.tt_sample(Y, g, 300, seed=5)
    c = sampling.tt_sample(Y, g, 300, seed=6)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert a.shape == (300, 2) and np.all((a >= g.a) & (a <= g.b))
    assert not np.any(np.isin(a[:, 0], g.nodes))  # not grid nodes
    # unnormalised input: the same law
    scaled = [G.copy() for G in Y]
    scaled[0] = scaled[0] * 7.5
    assert np.allclose(sampling.tt_sample(scaled, g, 300, seed=5), a, atol=1e-12)


def test_tt_coefficients_reproduce_the_interpolant(gaussian2):
    g, Y, _, _ = gaussian2
    C = sampling.tt_coefficients(Y, g)
    x = np.array([[0.3, -0.7], [1.9, 2.2]])
    s = (2 * x - g.a - g.b) / (g.b - g.a)
    T = [np.polynomial.chebyshev.chebvander(s[:, k], g.n - 1) for k in range(2)]
    val = np.einsum("mi,irs,mj,jst->m", T[0], C[0], T[1], C[1])
    assert np.allclose(val, ch.tt_evaluate(Y, g, x), rtol=1e-12, atol=1e-15)


_G20 = ch.grid(-8, 8, 20, 2)
_Y20 = ch.tt_cross(lambda x: np.exp(-0.5 * (x**2).sum(1)), _G20)

BAD_CALLS = [
    (lambda: sampling.tt_sample(_Y20, _G20, 0), ValueError, r"^n must be an integer >= 1, got 0$"),
    (
        lambda: sampling.tt_sample(_Y20, _G20, 5, seed=-1),
        ValueError,
        r"^seed must be an integer >= 0 or a numpy Generator, got -1$",
    ),
    (
        lambda: sampling.tt_sample(_Y20, (-8, 8, 20, 2), 5),
        TypeError,
        r"^grid must be a chebyshev\.Grid \(use chebyshev\.grid\(a, b, n, d\)\), got tuple$",
    ),
    (
        lambda: sampling.tt_sample(_Y20, ch.grid(-8, 8, 20, 3), 5),
        ValueError,
        r"^Y has 2 cores but the grid has dimension d = 3$",
    ),
    (
        lambda: sampling.tt_sample(_Y20, ch.grid(-8, 8, 21, 2), 5),
        ValueError,
        r"^every core of Y must have n = 21 grid nodes, got 20$",
    ),
    (
        lambda: sampling.tt_sample("not a TT", _G20, 5),
        TypeError,
        r"^Y must be a tensor train: a non-empty list of 3-d cores, got str$",
    ),
    (
        lambda: sampling.tt_sample([-_Y20[0], _Y20[1]], _G20, 5),
        ValueError,
        r"^the integral of the TT interpolant is -\d\.\d+ <= 0: Y is not a density$",
    ),
    (lambda: sampling.tt_sample(_Y20, _G20, 5, table=5), ValueError, r"^table must be >= 17, got 5$"),
    (
        lambda: sampling.tt_marginal(_Y20, _G20, 2, np.zeros(3)),
        ValueError,
        r"^k must be a coordinate index in \[0, 1\], got 2$",
    ),
    (
        lambda: sampling.grid_node_sample([np.ones((1, 400, 1))] * 3, ch.grid(-8, 8, 400, 3), 10),
        ValueError,
        r"^the grid has 400\^3 nodes, too many to enumerate \(at most 1e7\)$",
    ),
    (
        lambda: sampling.grid_node_sample(_Y20, _G20, 401),
        ValueError,
        r"^n = 401 exceeds the number of nodes with positive weight \(400\)$",
    ),
]


@pytest.mark.parametrize("call, error, pattern", BAD_CALLS, ids=[p for _, _, p in BAD_CALLS])
def test_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
