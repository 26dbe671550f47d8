"""ddpm_ot_lib.flow: the numerical probability-flow ODE against the Gaussian closed form;
the variational equation (flow.encode_with_jacobian) against finite differences of the flow
and the Gaussian OT map."""

import re

import numpy as np
import pytest
from hypothesis import given, settings

from ddpm_ot_lib import counterexamples as cx
from ddpm_ot_lib import flow, gaussian, transport
from tests.conftest import dims_and_seeds, random_mixture, random_spd


def _gaussian_case(d, seed, n=30):
    rng = np.random.default_rng(seed)
    a, cov = rng.normal(size=d), random_spd(rng, d)
    x = rng.multivariate_normal(a, cov, size=n)
    return a, cov, x, (lambda y, t: gaussian.score(y, t, a, cov))


def _rel(err, ref):
    return np.linalg.norm(err, axis=1).max() / np.linalg.norm(ref, axis=1).max()


@pytest.mark.parametrize("d", [2, 5, 20])
def test_encode_reaches_1e_minus_8_at_t_max_20(d):
    """The issue's requirement: 1e-8 relative accuracy on the Gaussian case at t_max = 20."""
    a, cov, x, score = _gaussian_case(d, seed=d)
    z = flow.encode(x, score, t_max=20.0, rtol=1e-10)
    exact = gaussian.flow_map(x, 20.0, a, cov)
    assert _rel(z - exact, exact) < 1e-8


def test_encode_rk4_is_fourth_order_on_the_gaussian_flow_map():
    a, cov, x, score = _gaussian_case(3, seed=1)
    exact = gaussian.flow_map(x, 5.0, a, cov)
    err = [_rel(flow.encode_rk4(x, score, 5.0, n) - exact, exact) for n in (80, 160)]
    assert 13 < err[0] / err[1] < 19 and err[1] < 1e-6  # halving H divides the error by ~16


def test_encode_rk4_needs_a_positive_number_of_steps():
    a, cov, x, score = _gaussian_case(2, seed=0, n=3)
    with pytest.raises(ValueError, match=r"^n_steps must be an integer >= 1"):
        flow.encode_rk4(x, score, 5.0, 0)


@settings(max_examples=15, deadline=None)
@given(dims_and_seeds)
def test_encode_then_decode_returns_the_data(case):
    a, cov, x, score = _gaussian_case(*case, n=10)
    z = flow.encode(x, score, t_max=8.0, rtol=1e-10)
    back = flow.decode(z, score, t_max=8.0, rtol=1e-10)
    assert _rel(back - x, x) < 1e-7


def test_trajectories_match_flow_map_at_every_recorded_time():
    a, cov, x, score = _gaussian_case(3, seed=7)
    ts = np.linspace(0.0, 5.0, 11)
    paths = flow.encode(x, score, t_max=5.0, t_eval=ts, rtol=1e-10)
    assert paths.shape == (11,) + x.shape
    for t, xt in zip(ts, paths):
        exact = gaussian.flow_map(x, t, a, cov)
        assert _rel(xt - exact, exact) < 1e-8


def test_decode_trajectories_run_backward():
    a, cov, x, score = _gaussian_case(2, seed=3)
    z = gaussian.flow_map(x, 6.0, a, cov)
    ts = np.linspace(6.0, 0.0, 7)
    paths = flow.decode(z, score, t_max=6.0, t_eval=ts, rtol=1e-10)
    np.testing.assert_allclose(paths[-1], x, atol=1e-7)


def test_tolerance_controls_the_error():
    a, cov, x, score = _gaussian_case(4, seed=11)
    exact = gaussian.flow_map(x, 10.0, a, cov)
    errs = [_rel(flow.encode(x, score, t_max=10.0, rtol=r) - exact, exact) for r in (1e-4, 1e-8)]
    assert errs[1] < errs[0] / 100


def test_velocity_is_eq_9():
    a, cov, x, score = _gaussian_case(2, seed=5, n=4)
    np.testing.assert_allclose(flow.velocity(x, 0.3, score), -(x + score(x, 0.3)))


# ------------------------------------------------------------------ the variational equation


def test_variational_jacobian_matches_finite_differences_of_the_flow(rng):
    w, m, covs = random_mixture(rng, 2)
    score = lambda y, t: gaussian.mixture_score(y, t, w, m, covs)  # noqa: E731
    hess = lambda y, t: gaussian.mixture_hessian(y, t, w, m, covs)  # noqa: E731
    x = rng.normal(size=(6, 2))
    z, J = flow.encode_with_jacobian(x, score, hess, t_max=12.0, rtol=1e-11)
    assert np.abs(z - flow.encode(x, score, t_max=12.0, rtol=1e-11)).max() < 1e-9
    h = 1e-5
    plus = [flow.encode(x + h * e, score, t_max=12.0, rtol=1e-12) for e in np.eye(2)]
    minus = [flow.encode(x - h * e, score, t_max=12.0, rtol=1e-12) for e in np.eye(2)]
    fd = np.stack([(p - q) / (2 * h) for p, q in zip(plus, minus)], axis=2)
    assert np.abs(J - fd).max() < 1e-6 * np.abs(J).max()


def test_gaussian_jacobian_is_the_symmetric_ot_map(rng):
    a, cov = rng.normal(size=3), random_spd(rng, 3)
    x = rng.multivariate_normal(a, cov, size=5)
    z, J = flow.encode_with_jacobian(
        x,
        lambda y, t: gaussian.score(y, t, a, cov),
        lambda y, t: np.broadcast_to(-np.linalg.inv(gaussian.marginal(a, cov, t)[1]), (y.shape[0], 3, 3)),
        t_max=20.0,
    )
    assert np.abs(J - gaussian.inv_sqrtm(cov)).max() < 1e-8
    assert transport.jacobian_asymmetry(J).max() < 1e-9
    assert transport.symmetric_part_min_eigenvalue(J) == pytest.approx(
        np.full(5, np.linalg.eigvalsh(gaussian.inv_sqrtm(cov)).min()), rel=1e-7
    )


def test_t_eval_returns_trajectories_and_starts_at_the_identity(rng):
    bed = cx.gaussian_bed()
    x = bed.sample(4, 0)
    zs, Js = flow.encode_with_jacobian(x, bed.score, bed.hessian, t_max=2.0, t_eval=[0.0, 1.0, 2.0])
    assert zs.shape == (3, 4, 2) and Js.shape == (3, 4, 2, 2)
    assert np.array_equal(zs[0], x) and np.array_equal(Js[0], np.broadcast_to(np.eye(2), (4, 2, 2)))


X = np.zeros((3, 2))
OK = lambda y, t: -y  # noqa: E731  (the score of N(0, I) at every t)
HESS = lambda y, t: np.broadcast_to(-np.eye(2), (y.shape[0], 2, 2))  # noqa: E731  (its Hessian)
BAD_CALLS = [
    ("score", TypeError, lambda: flow.encode(X, "not a function")),
    ("score", ValueError, lambda: flow.encode(X, lambda y, t: y[:, :1])),  # wrong shape
    ("score", ValueError, lambda: flow.encode(X + 1, lambda y, t: np.full_like(y, np.nan))),  # NaN
    ("t_max", ValueError, lambda: flow.encode(X, OK, t_max=-1.0)),
    ("t_max", ValueError, lambda: flow.decode(X, OK, t_max=0.0)),
    ("rtol", ValueError, lambda: flow.encode(X, OK, rtol=0.0)),
    ("t_eval", ValueError, lambda: flow.encode(X, OK, t_max=1.0, t_eval=[0.0, 2.0])),
    ("t_eval", ValueError, lambda: flow.encode(X, OK, t_max=1.0, t_eval=[0.5, 0.2])),
    ("x", ValueError, lambda: flow.encode(np.zeros(3), OK)),
    ("x", ValueError, lambda: flow.encode([[np.inf, 0.0]], OK)),
    ("z", ValueError, lambda: flow.decode([[np.nan, 0.0]], OK)),
    # the variational equation
    ("hessian", TypeError, lambda: flow.encode_with_jacobian(X, OK, "not callable")),
    ("hessian", ValueError, lambda: flow.encode_with_jacobian(X, OK, lambda y, t: np.zeros((y.shape[0], 2)))),
    ("x", ValueError, lambda: flow.encode_with_jacobian(np.full((3, 2), np.nan), OK, HESS)),
    ("t_eval", ValueError, lambda: flow.encode_with_jacobian(X, OK, HESS, t_max=1.0, t_eval=[0.0, 2.0])),
]


@pytest.mark.parametrize("name,exc,call", BAD_CALLS, ids=[n for n, _, _ in BAD_CALLS])
def test_bad_input_names_the_argument(name, exc, call):
    with pytest.raises(exc, match=rf"^{re.escape(name)}(?!\w)"):
        call()


def test_absorbing_score_stops_points_that_reach_the_zero_set():
    # p(x) = x_1 (signed): dx/dt = -(x + 1/x), so x^2 + 1 = (x0^2 + 1) e^{-2t} and x reaches
    # the zero set at t* = log(x0^2 + 1) / 2; x0 = 0.5 does before t = 0.5, x0 = 3 does not
    def value_and_gradient(x, t):
        return x[:, 0], np.ones_like(x)

    score = flow.AbsorbingScore(value_and_gradient, floor=1e-4)
    x0 = np.array([[0.5], [3.0]])
    z = flow.encode(x0, score, t_max=0.5, rtol=1e-10)
    assert score.stopped.tolist() == [True, False]
    assert abs(score.t_stopped[0] - 0.5 * np.log(1.25)) < 1e-3
    assert np.isnan(score.t_stopped[1])
    assert abs(z[1, 0] - np.sqrt(10.0 * np.exp(-1.0) - 1.0)) < 1e-8


def test_absorbing_score_refuses_another_batch():
    score = flow.AbsorbingScore(lambda x, t: (np.ones(len(x)), np.zeros_like(x)), floor=1e-12)
    score(np.zeros((3, 2)), 0.0)
    with pytest.raises(ValueError, match=r"^x must hold the 3 points of this batch, got 2$"):
        score(np.zeros((2, 2)), 0.0)
