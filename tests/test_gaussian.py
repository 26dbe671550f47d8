"""ddpm_ot_lib.gaussian against SciPy, POT and the ODE it claims to solve."""
import numpy as np
import ot
import pytest
from hypothesis import given, settings
from scipy.stats import multivariate_normal

from ddpm_ot_lib import gaussian
from tests.conftest import dims_and_seeds, random_spd


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
    fd = np.stack([(gaussian.log_density(x + h * e, t, a, cov) - gaussian.log_density(x - h * e, t, a, cov)) / (2 * h)
                   for e in np.eye(4)], axis=1)
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
BAD_CALLS = [
    ("cov", lambda: gaussian.marginal(GOOD_MEAN, [[1.0, 0.5], [0.0, 1.0]], 0.1)),       # not symmetric
    ("cov", lambda: gaussian.marginal(GOOD_MEAN, [[1.0, 2.0], [2.0, 1.0]], 0.1)),       # indefinite
    ("cov", lambda: gaussian.marginal(GOOD_MEAN, np.eye(3), 0.1)),                      # wrong size
    ("cov", lambda: gaussian.marginal(GOOD_MEAN, [[np.nan, 0], [0, 1.0]], 0.1)),        # NaN
    ("mean", lambda: gaussian.marginal([0.0, np.inf], GOOD_COV, 0.1)),                  # inf
    ("mean", lambda: gaussian.marginal(np.zeros((2, 1)), GOOD_COV, 0.1)),              # not a vector
    ("t", lambda: gaussian.marginal(GOOD_MEAN, GOOD_COV, -1.0)),                        # negative time
    ("t", lambda: gaussian.score(np.zeros((3, 2)), np.nan, GOOD_MEAN, GOOD_COV)),       # NaN time
    ("x", lambda: gaussian.score(np.zeros((3, 3)), 0.1, GOOD_MEAN, GOOD_COV)),          # wrong dimension
    ("x", lambda: gaussian.ot_map(np.zeros(2), GOOD_MEAN, GOOD_COV)),                   # 1-D points
    ("x", lambda: gaussian.flow_map([[0.0, np.nan]], 1.0, GOOD_MEAN, GOOD_COV)),        # NaN point
    ("x", lambda: gaussian.log_density("abc", 1.0, GOOD_MEAN, GOOD_COV)),               # not numbers
]


@pytest.mark.parametrize("name,call", BAD_CALLS)
def test_bad_input_names_the_argument(name, call):
    with pytest.raises((ValueError, TypeError), match=rf"^{name}\b"):
        call()
