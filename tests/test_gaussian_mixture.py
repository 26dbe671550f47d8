"""ddpm_ot_lib.gaussian's mixture functions: density against SciPy, score against finite
differences of the log-density, the marginal against the Fokker–Planck equation (Eq. 8),
and the 1-D flow map against the monotone rearrangement."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from ddpm_ot_lib import flow, gaussian, transport
from tests.conftest import random_spd


def _mixture(seed, d, k):
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
    w, m, c, x = _mixture(*case)
    for t in (0.0, 0.5, 3.0):
        _, m_t, c_t = gaussian.mixture_marginal(w, m, c, t)
        p = sum(w[k] * multivariate_normal(m_t[k], c_t[k]).pdf(x).reshape(-1) for k in range(w.size))
        np.testing.assert_allclose(gaussian.mixture_log_density(x, t, w, m, c), np.log(p), rtol=1e-10, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(cases)
def test_score_is_gradient_of_log_density(case):
    w, m, c, x = _mixture(*case)
    d, h = m.shape[1], 1e-5
    for t in (0.0, 0.7):
        logp = lambda y: gaussian.mixture_log_density(y, t, w, m, c)  # noqa: E731
        fd = np.stack([(logp(x + h * e) - logp(x - h * e)) / (2 * h) for e in np.eye(d)], axis=1)
        np.testing.assert_allclose(gaussian.mixture_score(x, t, w, m, c), fd, rtol=1e-6, atol=1e-6)


def test_one_component_reduces_to_gaussian(rng):
    a, cov = rng.normal(size=3), random_spd(rng, 3)
    x = rng.normal(size=(6, 3))
    for t in (0.0, 1.3):
        np.testing.assert_allclose(gaussian.mixture_score(x, t, [1.0], a[None], cov[None]),
                                   gaussian.score(x, t, a, cov), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gaussian.mixture_log_density(x, t, [1.0], a[None], cov[None]),
                                   gaussian.log_density(x, t, a, cov), rtol=1e-12, atol=1e-12)


def test_score_is_stable_far_in_the_tails():
    w, m, c = [0.5, 0.5], [[-3.0], [3.0]], [[[0.1]], [[0.1]]]
    s = gaussian.mixture_score(np.array([[-60.0], [0.0], [60.0]]), 0.0, w, m, c)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s[[0, 2], 0], [570.0, -570.0], rtol=1e-12)
    assert abs(s[1, 0]) < 1e-12


def test_marginal_solves_fokker_planck_in_1d():
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
    np.testing.assert_allclose(gaussian.mixture_cdf(x, 0.4, w, m, c) + gaussian.mixture_cdf(x, 0.4, w, m, c, upper=True),
                               1.0, atol=1e-15)


def test_1d_flow_map_is_the_monotone_rearrangement():
    """In 1-D the encoder of Eq. (9) is Phi^{-1} o F (the OT map to N(0, 1))."""
    w, m, c = [0.4, 0.6], [[-2.0], [1.5]], [[[0.3]], [[0.5]]]
    x = np.linspace(-3.5, 3.5, 15)[:, None]
    enc = flow.encode(x, lambda y, t: gaussian.mixture_score(y, t, w, m, c), t_max=25.0, rtol=1e-11)
    quant = transport.quantile_map_1d(x, lambda y: gaussian.mixture_cdf(y, 0.0, w, m, c),
                                      lambda y: gaussian.mixture_cdf(y, 0.0, w, m, c, upper=True))
    np.testing.assert_allclose(enc, quant, atol=1e-8)


BAD_CALLS = [
    ("weights", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [0.5, 0.6], [[0.0], [1.0]], [[[1.0]], [[1.0]]])),
    ("weights", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [1.5, -0.5], [[0.0], [1.0]], [[[1.0]], [[1.0]]])),
    ("means", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [1.0], [[0.0], [1.0]], [[[1.0]]])),
    ("covs", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [1.0], [[0.0]], [[1.0]])),
    ("covs[0]", lambda: gaussian.mixture_score(np.zeros((2, 1)), 0.0, [1.0], [[0.0]], [[[-1.0]]])),
    ("x", lambda: gaussian.mixture_score(np.zeros((2, 2)), 0.0, [1.0], [[0.0]], [[[1.0]]])),
    ("t", lambda: gaussian.mixture_score(np.zeros((2, 1)), -1.0, [1.0], [[0.0]], [[[1.0]]])),
    ("one-dimensional", lambda: gaussian.mixture_cdf(np.zeros((2, 2)), 0.0, [1.0], [[0.0, 0.0]], [np.eye(2)])),
]


@pytest.mark.parametrize("name,call", BAD_CALLS)
def test_bad_input_names_the_argument(name, call):
    with pytest.raises((ValueError, TypeError), match=name.replace("[", r"\[").replace("]", r"\]")):
        call()
