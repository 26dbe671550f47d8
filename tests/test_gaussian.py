"""ddpm_ot_lib.gaussian against SciPy, POT and the ODE it claims to solve; its mixture
functions: density against SciPy, score against finite differences of the log-density,
Hessian against finite differences of the score, the marginal against the Fokker–Planck
equation (Eq. 8), and the 1-D flow map against the monotone rearrangement."""

import re

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from ddpm_ot_lib import flow, gaussian, transport
from tests.conftest import dims_and_seeds, random_mixture, random_spd

_TWO = ([[0.0], [1.0]], [[[1.0]], [[1.0]]])  # two 1-D components


def _case(d, seed, n=20):
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), random_spd(rng, d), rng.normal(size=(n, d)) * 2.0


@settings(max_examples=40, deadline=None)
@given(dims_and_seeds)
def test_ot_map_equals_pot_bures_wasserstein_mapping(case):
    a, cov, x = _case(*case)
    A, b = ot.gaussian.bures_wasserstein_mapping(a, np.zeros_like(a), cov, np.eye(a.size))
    np.testing.assert_allclose(gaussian.ot_map(x, a, cov), x @ A + b, atol=1e-9, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(dims_and_seeds)
def test_ot_map_is_gradient_of_convex_function(case):
    """Brenier: the map is x -> M(x - a) with M symmetric positive definite."""
    a, cov, _ = _case(*case)
    d = a.size
    M = gaussian.ot_map(np.eye(d) + a, a, cov)  # rows: M applied to basis vectors
    np.testing.assert_allclose(M, M.T, atol=1e-10)
    assert np.linalg.eigvalsh(M).min() > 0


@settings(max_examples=30, deadline=None)
@given(dims_and_seeds)
def test_log_density_matches_scipy(case):
    a, cov, x = _case(*case)
    for t in (0.0, 0.3, 2.0):
        mean_t, cov_t = gaussian.marginal(a, cov, t)
        expected = multivariate_normal(mean_t, cov_t).logpdf(x).reshape(-1)
        np.testing.assert_allclose(gaussian.log_density(x, t, a, cov), expected, rtol=1e-10, atol=1e-10)


def test_marginal_limits(rng):
    a, cov = rng.normal(size=3), random_spd(rng, 3)
    m0, c0 = gaussian.marginal(a, cov, 0.0)
    np.testing.assert_allclose(m0, a)
    np.testing.assert_allclose(c0, cov, atol=1e-14)
    m, c = gaussian.marginal(a, cov, 40.0)
    np.testing.assert_allclose(m, 0.0, atol=1e-15)
    np.testing.assert_allclose(c, np.eye(3), atol=1e-15)


def test_score_is_gradient_of_log_density(rng):
    a, cov = rng.normal(size=4), random_spd(rng, 4)
    x, t, h = rng.normal(size=(5, 4)), 0.7, 1e-5
    fd = np.stack(
        [
            (gaussian.log_density(x + h * e, t, a, cov) - gaussian.log_density(x - h * e, t, a, cov)) / (2 * h)
            for e in np.eye(4)
        ],
        axis=1,
    )
    np.testing.assert_allclose(gaussian.score(x, t, a, cov), fd, rtol=1e-6, atol=1e-6)


def test_marginal_solves_fokker_planck_in_1d():
    """Eq. (8) checked by finite differences: dp/dt = d/dx(x p) + d2p/dx2."""
    a, cov = np.array([0.8]), np.array([[0.3]])
    x = np.linspace(-3, 3, 41)[:, None]
    t, h, k = 0.4, 1e-4, 1e-3
    p = lambda y, s: np.exp(gaussian.log_density(y, s, a, cov))  # noqa: E731
    dpdt = (p(x, t + k) - p(x, t - k)) / (2 * k)
    xp = lambda y: y[:, 0] * p(y, t)  # noqa: E731
    dxp = (xp(x + h) - xp(x - h)) / (2 * h)
    d2p = (p(x + h, t) - 2 * p(x, t) + p(x - h, t)) / h**2
    np.testing.assert_allclose(dpdt, dxp + d2p, atol=2e-5)


@settings(max_examples=30, deadline=None)
@given(dims_and_seeds)
def test_flow_map_solves_probability_flow_ode(case):
    """d/dt flow_map = -(x_t + score(x_t, t)) (Eq. 9), by central differences in t."""
    a, cov, x = _case(*case, n=5)
    t, k = 0.6, 1e-5
    xt = gaussian.flow_map(x, t, a, cov)
    dxdt = (gaussian.flow_map(x, t + k, a, cov) - gaussian.flow_map(x, t - k, a, cov)) / (2 * k)
    rhs = -(xt + gaussian.score(xt, t, a, cov))
    np.testing.assert_allclose(dxdt, rhs, rtol=1e-5, atol=1e-5 * np.abs(rhs).max())


def test_flow_map_tends_to_ot_map(rng):
    a, cov = rng.normal(size=3), random_spd(rng, 3)
    x = rng.normal(size=(10, 3))
    np.testing.assert_allclose(gaussian.flow_map(x, 0.0, a, cov), x, atol=1e-14)
    np.testing.assert_allclose(gaussian.flow_map(x, 40.0, a, cov), gaussian.ot_map(x, a, cov), atol=1e-12)


def test_sqrtm_and_inverse(rng):
    cov = random_spd(rng, 5)
    r = gaussian.sqrtm(cov)
    np.testing.assert_allclose(r @ r, cov, atol=1e-12)
    np.testing.assert_allclose(gaussian.inv_sqrtm(cov) @ r, np.eye(5), atol=1e-10)


GOOD_MEAN, GOOD_COV = np.zeros(2), np.eye(2)


# ------------------------------------------------------------------ Gaussian mixtures


def _mixture_case(seed, d, k):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 1.0, size=k)
    w /= w.sum()
    means = 2.0 * rng.normal(size=(k, d))
    covs = np.stack([random_spd(rng, d, spread=4.0) for _ in range(k)])
    x = rng.normal(size=(7, d)) * 2.0
    return w, means, covs, x


cases = st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 4))


@settings(max_examples=30, deadline=None)
@given(cases)
def test_log_density_matches_scipy_sum_of_components(case):
    w, m, c, x = _mixture_case(*case)
    for t in (0.0, 0.5, 3.0):
        _, m_t, c_t = gaussian.mixture_marginal(w, m, c, t)
        p = sum(w[k] * multivariate_normal(m_t[k], c_t[k]).pdf(x).reshape(-1) for k in range(w.size))
        np.testing.assert_allclose(gaussian.mixture_log_density(x, t, w, m, c), np.log(p), rtol=1e-10, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(cases)
def test_mixture_score_is_gradient_of_log_density(case):
    w, m, c, x = _mixture_case(*case)
    d, h = m.shape[1], 1e-5
    for t in (0.0, 0.7):
        logp = lambda y: gaussian.mixture_log_density(y, t, w, m, c)  # noqa: E731
        fd = np.stack([(logp(x + h * e) - logp(x - h * e)) / (2 * h) for e in np.eye(d)], axis=1)
        np.testing.assert_allclose(gaussian.mixture_score(x, t, w, m, c), fd, rtol=1e-6, atol=1e-6)


def test_one_component_reduces_to_gaussian(rng):
    a, cov = rng.normal(size=3), random_spd(rng, 3)
    x = rng.normal(size=(6, 3))
    for t in (0.0, 1.3):
        np.testing.assert_allclose(
            gaussian.mixture_score(x, t, [1.0], a[None], cov[None]),
            gaussian.score(x, t, a, cov),
            rtol=1e-12,
            atol=1e-12,
        )
        np.testing.assert_allclose(
            gaussian.mixture_log_density(x, t, [1.0], a[None], cov[None]),
            gaussian.log_density(x, t, a, cov),
            rtol=1e-12,
            atol=1e-12,
        )


def test_score_is_stable_far_in_the_tails():
    w, m, c = [0.5, 0.5], [[-3.0], [3.0]], [[[0.1]], [[0.1]]]
    s = gaussian.mixture_score(np.array([[-60.0], [0.0], [60.0]]), 0.0, w, m, c)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s[[0, 2], 0], [570.0, -570.0], rtol=1e-12)
    assert abs(s[1, 0]) < 1e-12


def test_mixture_marginal_solves_fokker_planck_in_1d():
    """Eq. (8) by finite differences: dp/dt = d/dx(x p) + d2p/dx2 for a two-component mixture."""
    w, m, c = [0.3, 0.7], [[-1.5], [1.0]], [[[0.2]], [[0.6]]]
    x = np.linspace(-4, 4, 61)[:, None]
    t, h, k = 0.3, 1e-4, 1e-4
    p = lambda y, s: np.exp(gaussian.mixture_log_density(y, s, w, m, c))  # noqa: E731
    dpdt = (p(x, t + k) - p(x, t - k)) / (2 * k)
    dxp = ((x + h)[:, 0] * p(x + h, t) - (x - h)[:, 0] * p(x - h, t)) / (2 * h)
    d2p = (p(x + h, t) - 2 * p(x, t) + p(x - h, t)) / h**2
    np.testing.assert_allclose(dpdt, dxp + d2p, atol=1e-5)


def test_cdf_matches_integral_of_density_and_upper_tail():
    w, m, c = [0.3, 0.7], [[-1.5], [1.0]], [[[0.2]], [[0.6]]]
    grid = np.linspace(-12, 3, 30001)[:, None]
    dens = np.exp(gaussian.mixture_log_density(grid, 0.4, w, m, c))
    integral = np.sum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid[:, 0]))
    assert gaussian.mixture_cdf(grid[-1:], 0.4, w, m, c)[0] == pytest.approx(integral, abs=1e-8)
    x = np.linspace(-5, 5, 11)[:, None]
    np.testing.assert_allclose(
        gaussian.mixture_cdf(x, 0.4, w, m, c) + gaussian.mixture_cdf(x, 0.4, w, m, c, upper=True), 1.0, atol=1e-15
    )


def test_1d_flow_map_is_the_monotone_rearrangement():
    """In 1-D the encoder of Eq. (9) is Phi^{-1} o F (the OT map to N(0, 1))."""
    w, m, c = [0.4, 0.6], [[-2.0], [1.5]], [[[0.3]], [[0.5]]]
    x = np.linspace(-3.5, 3.5, 15)[:, None]
    enc = flow.encode(x, lambda y, t: gaussian.mixture_score(y, t, w, m, c), t_max=25.0, rtol=1e-11)
    quant = transport.quantile_map_1d(
        x, lambda y: gaussian.mixture_cdf(y, 0.0, w, m, c), lambda y: gaussian.mixture_cdf(y, 0.0, w, m, c, upper=True)
    )
    np.testing.assert_allclose(enc, quant, atol=1e-8)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("t", [0.0, 0.4, 3.0])
def test_mixture_hessian_matches_finite_differences_of_the_score(rng, d, t):
    w, m, covs = random_mixture(rng, d)
    x = rng.normal(size=(7, d)) * 2
    h = 1e-5
    fd = np.stack(
        [
            (gaussian.mixture_score(x + h * e, t, w, m, covs) - gaussian.mixture_score(x - h * e, t, w, m, covs))
            / (2 * h)
            for e in np.eye(d)
        ],
        axis=2,
    )
    hess = gaussian.mixture_hessian(x, t, w, m, covs)
    assert hess.shape == (7, d, d)
    assert np.array_equal(hess, np.swapaxes(hess, 1, 2))
    assert np.abs(hess - fd).max() < 1e-7 * max(1.0, np.abs(hess).max())


def test_mixture_hessian_of_one_component_is_minus_the_precision(rng):
    cov = random_spd(rng, 3)
    x = rng.normal(size=(4, 3))
    hess = gaussian.mixture_hessian(x, 0.7, [1.0], np.zeros((1, 3)), cov[None])
    cov_t = gaussian.marginal(np.zeros(3), cov, 0.7)[1]
    assert np.allclose(hess, -np.linalg.inv(cov_t)[None], atol=1e-12)


BAD_CALLS = [
    ("cov", lambda: gaussian.marginal(GOOD_MEAN, [[1.0, 0.5], [0.0, 1.0]], 0.1)),  # not symmetric
    ("cov", lambda: gaussian.marginal(GOOD_MEAN, [[1.0, 2.0], [2.0, 1.0]], 0.1)),  # indefinite
    ("cov", lambda: gaussian.marginal(GOOD_MEAN, np.eye(3), 0.1)),  # wrong size
    ("cov", lambda: gaussian.marginal(GOOD_MEAN, [[np.nan, 0], [0, 1.0]], 0.1)),  # NaN
    ("mean", lambda: gaussian.marginal([0.0, np.inf], GOOD_COV, 0.1)),  # inf
    ("mean", lambda: gaussian.marginal(np.zeros((2, 1)), GOOD_COV, 0.1)),  # not a vector
    ("t", lambda: gaussian.marginal(GOOD_MEAN, GOOD_COV, -1.0)),  # negative time
    ("t", lambda: gaussian.score(np.zeros((3, 2)), np.nan, GOOD_MEAN, GOOD_COV)),  # NaN time
    ("x", lambda: gaussian.score(np.zeros((3, 3)), 0.1, GOOD_MEAN, GOOD_COV)),  # wrong dimension
    ("x", lambda: gaussian.ot_map(np.zeros(2), GOOD_MEAN, GOOD_COV)),  # 1-D points
    ("x", lambda: gaussian.flow_map([[0.0, np.nan]], 1.0, GOOD_MEAN, GOOD_COV)),  # NaN point
    ("x", lambda: gaussian.log_density("abc", 1.0, GOOD_MEAN, GOOD_COV)),  # not numbers
    # the mixture functions
    ("weights", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [0.5, 0.6], *_TWO)),
    ("weights", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [1.5, -0.5], *_TWO)),
    ("means", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [1.0], [[0.0], [1.0]], [[[1.0]]])),
    ("covs", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [1.0], [[0.0]], [[1.0]])),
    ("covs[0]", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [1.0], [[0.0]], [[[-1.0]]])),
    ("x", lambda: gaussian.mixture_score(np.zeros((2, 2)), 0.0, [1.0], [[0.0]], [[[1.0]]])),
    ("t", lambda: gaussian.mixture_score(np.zeros((2, 1)), -1.0, [1.0], [[0.0]], [[[1.0]]])),
    (
        "mixture_cdf is one-dimensional",
        lambda: gaussian.mixture_cdf(np.zeros((2, 2)), 0.0, [1.0], [[0.0, 0.0]], [np.eye(2)]),
    ),
]


@pytest.mark.parametrize("name,call", BAD_CALLS, ids=[n for n, _ in BAD_CALLS])
def test_bad_input_names_the_argument(name, call):
    with pytest.raises((ValueError, TypeError), match=rf"^{re.escape(name)}(?!\w)"):
        call()
