"""ddpm_ot_lib.schedules: VP-SDE schedules, the time change to Eq. (8), DDIM as Euler."""

import math

import numpy as np
import pytest
import torch

from ddpm_ot_lib import diffusion, flow, gaussian, schedules

SCHEDULES = [schedules.linear(), schedules.linear(0.5, 5.0), schedules.cosine(), schedules.cosine(0.05)]
A = np.array([1.5, -0.5])
COV = np.array([[0.6, 0.2], [0.2, 0.3]])
X = np.random.default_rng(1).multivariate_normal(A, COV, size=6)
W = [0.5, 0.3, 0.2]
M = [[2.0, 0.0], [-1.0, 1.5], [0.0, -2.0]]
C = [np.eye(2) * 0.3, np.diag([0.5, 0.1]), [[0.4, 0.2], [0.2, 0.3]]]


def gauss_score(y, s):
    return gaussian.score(y, s, A, COV)


@pytest.mark.parametrize("sch", SCHEDULES, ids=lambda s: s.name)
def test_time_change_inverts_and_differentiates_to_half_beta(sch):
    t = np.linspace(0.0, 0.98, 50)
    s = sch.s(t)
    assert s[0] == 0.0 and np.all(np.diff(s) > 0)
    np.testing.assert_allclose(sch.t_of_s(s), t, atol=1e-12)
    h = 1e-6
    tt = t[1:-1]
    np.testing.assert_allclose((sch.s(tt + h) - sch.s(tt - h)) / (2 * h), 0.5 * sch.beta(tt), rtol=1e-7)
    np.testing.assert_allclose(sch.alpha_bar(t), np.exp(-2 * s))


def test_linear_closed_form_and_cosine_limit():
    lin = schedules.linear(0.1, 20.0)
    assert lin.s(1.0) == pytest.approx(0.5 * (0.1 + 9.95))
    cos = schedules.cosine()
    assert cos.s(1.0 - 1e-9) > 15 and cos.t_of_s(15.0) < 1.0


def test_sigma_variable():
    s = np.array([0.0, 1e-8, 0.3, 2.0, 9.0])
    np.testing.assert_allclose(schedules.s_of_sigma(schedules.sigma_of_s(s)), s, rtol=1e-12, atol=1e-20)
    np.testing.assert_allclose(schedules.sigma_of_s(0.5), math.sqrt(math.e - 1.0))


def test_eps_from_score_is_the_exact_gaussian_predictor():
    """Eq. (3) with its minus sign against diffusion.gaussian_eps, written independently."""
    mu, std = np.array([0.7, -1.2]), 0.8
    sched = diffusion.linear_schedule(200)
    eps = diffusion.gaussian_eps(mu, std, sched)
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((5, 2)))
    for t in (0, 50, 199):
        s = -0.5 * math.log(float(sched.alpha_bar[t]))
        score = gaussian.score(x.numpy(), s, mu, std**2 * np.eye(2))
        np.testing.assert_allclose(schedules.eps_from_score(score, s), eps(x, t).numpy(), rtol=1e-12)
        np.testing.assert_allclose(schedules.score_from_eps(eps(x, t).numpy(), s), score, rtol=1e-10)


@pytest.mark.parametrize("sch", SCHEDULES, ids=lambda s: s.name)
def test_encode_vp_is_independent_of_the_schedule(sch):
    out = schedules.encode_vp(X, gauss_score, sch, s_end=3.0)
    np.testing.assert_allclose(out, gaussian.flow_map(X, 3.0, A, COV), atol=1e-8)


def test_encode_vp_records_its_own_clock():
    sch = schedules.linear()
    t_eval = np.array([0.0, 0.2, 0.5])
    paths = schedules.encode_vp(X, gauss_score, sch, s_end=2.0, t_eval=t_eval)
    assert paths.shape == (3,) + X.shape
    for k, t in enumerate(t_eval):
        np.testing.assert_allclose(paths[k], gaussian.flow_map(X, float(sch.s(t)), A, COV), atol=1e-8)
    with pytest.raises(ValueError, match=r"^t_eval must lie in \[0, t\(s_end\)"):
        schedules.encode_vp(X, gauss_score, sch, s_end=0.1, t_eval=[0.0, 0.9])


def test_vp_velocity_is_eq9_times_half_beta():
    sch = schedules.cosine()
    v6 = schedules.vp_velocity(X, 0.4, gauss_score, sch)
    v9 = flow.velocity(X, float(sch.s(0.4)), gauss_score)
    np.testing.assert_allclose(v6, 0.5 * sch.beta(0.4) * v9, rtol=1e-13)


def test_ddim_step_in_sigma_is_euler():
    eps = lambda y, s: schedules.eps_from_score(gauss_score(y, s), s)  # noqa: E731
    sig = np.array([0.4, 0.9])
    out = schedules.ddim_encode(X, eps, sig)
    a0, a1 = 1 / (1 + sig**2)
    xbar = X / math.sqrt(a0) + (sig[1] - sig[0]) * eps(X, float(schedules.s_of_sigma(sig[0])))
    np.testing.assert_allclose(out, math.sqrt(a1) * xbar, rtol=1e-12)


def test_ddim_converges_at_first_order():
    eps = lambda y, s: schedules.eps_from_score(gauss_score(y, s), s)  # noqa: E731
    lin = schedules.linear()
    exact = gaussian.flow_map(X, 4.0, A, COV)
    errs = []
    for n in (100, 200, 400):
        s = lin.s(np.linspace(0.0, float(lin.t_of_s(4.0)), n + 1))
        errs.append(np.abs(schedules.ddim_encode(X, eps, schedules.sigma_of_s(s)) - exact).max())
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2)), ratios


@pytest.mark.parametrize("sch", [schedules.linear(), schedules.cosine()], ids=lambda s: s.name)
def test_discretize_matches_alpha_bar(sch):
    d = schedules.discretize(sch, 100)
    grid = np.arange(1, 101) / 100
    want = sch.alpha_bar(np.minimum(grid, np.nextafter(1.0, 0.0)))
    np.testing.assert_allclose(d.alpha_bar.numpy()[:-1], want[:-1], rtol=1e-12)
    assert d.betas.max() <= 0.999 and d.betas.min() > 0


def test_fokker_planck_residual_small_for_the_solution_large_otherwise():
    x = np.random.default_rng(2).standard_normal((20, 2)) * 1.5
    args = (W, M, C)
    res = schedules.fokker_planck_residual(
        x,
        0.6,
        lambda y, s: gaussian.mixture_log_density(y, s, *args),
        lambda y, s: gaussian.mixture_score(y, s, *args),
        lambda y, s: gaussian.mixture_hessian(y, s, *args),
    )
    assert np.abs(res).max() < 1e-6
    frozen = schedules.fokker_planck_residual(
        x,
        0.6,
        lambda y, s: gaussian.mixture_log_density(y, 0.6, *args),
        lambda y, s: gaussian.mixture_score(y, s, *args),
        lambda y, s: gaussian.mixture_hessian(y, s, *args),
    )
    assert np.abs(frozen).max() > 0.1


@pytest.mark.parametrize(
    "call, exc, pattern",
    [
        (lambda: schedules.linear(0.0, 1.0), ValueError, r"^beta_min must be a finite number > 0"),
        (lambda: schedules.linear(2.0, 1.0), ValueError, r"^beta_max must be >= beta_min"),
        (lambda: schedules.cosine(-0.1), ValueError, r"^offset must be a finite number > 0"),
        (lambda: schedules.cosine().s(1.0), ValueError, r"^t must lie in \[0, 1\) for the cosine schedule"),
        (lambda: schedules.linear().beta(-0.5), ValueError, r"^t must lie in \[0, inf\) for the linear"),
        (lambda: schedules.linear().t_of_s(-1.0), ValueError, r"^s must be >= 0"),
        (lambda: schedules.s_of_sigma(-1.0), ValueError, r"^sigma must be >= 0"),
        (lambda: schedules.score_from_eps(X, 0.0), ValueError, r"^s must be a finite number > 0"),
        (lambda: schedules.vp_velocity(X, 0.1, gauss_score, "linear"), TypeError, r"^schedule must be a VPSchedule"),
        (lambda: schedules.vp_velocity(X, 0.1, None, schedules.linear()), TypeError, r"^score must be callable"),
        (lambda: schedules.encode_vp(X, gauss_score, schedules.linear(), 0.0), ValueError, r"^s_end must be"),
        (lambda: schedules.ddim_encode(X, gauss_score, [0.5, 0.2]), ValueError, r"^sigmas must be a strictly"),
        (lambda: schedules.ddim_encode(X, gauss_score, [0.5]), ValueError, r"^sigmas must be a strictly"),
        (lambda: schedules.discretize(schedules.linear(), 0), ValueError, r"^T must be an integer >= 1"),
        (
            lambda: schedules.fokker_planck_residual(X, 0.0, gauss_score, gauss_score, gauss_score),
            ValueError,
            r"^ds must be <= s",
        ),
    ],
)
def test_rejects(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
