"""Both Fokker-Planck solvers against the independent quadrature ground truth (references) and closed forms."""

import numpy as np
import pytest
from scipy.integrate import quad_vec, solve_ivp
from scipy.linalg import expm

from ddpm_ot_lib import chebyshev as ch
from ddpm_ot_lib import densities, flow, gaussian
from ddpm_ot_lib import fokker_planck as fp
from ddpm_ot_lib import references


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def mixture2():
    """A random density of Eq. (14) in d = 2 on a reduced grid, its exact and splitting solutions."""
    g = ch.grid(-8, 8, 80, 2)
    dens = densities.mixture_density(2, 3, grid=g)
    times = np.array([0.0, 0.25, 0.5, 1.0])
    exact = fp.solve_exact(dens.tt, g, times)
    split = fp.solve_splitting(fp.ornstein_uhlenbeck(2), dens.tt, g, times, h=0.0125, tol=1e-10, rank_max=30)
    return dens, g, times, exact, split


def _chain_gaussian(d, rng, coupling=0.3):
    """N(mean, cov) whose precision is tridiagonal (a Markov chain: small TT ranks)."""
    prec = np.diag(rng.uniform(0.8, 1.6, d))
    for k in range(d - 1):
        prec[k, k + 1] = prec[k + 1, k] = coupling * rng.choice([-1, 1])
    return rng.uniform(-1, 1, d), np.linalg.inv(prec)


def _samples_of_pt(mean, cov, t, n, rng):
    m, c = gaussian.marginal(mean, cov, t)
    return rng.multivariate_normal(m, c, size=n)


# ----------------------------------------------------------------------------- ground truth

# ----------------------------------------------------------------------------- exact propagator


@pytest.mark.parametrize("n", [20, 50, 120])
def test_ou_matrix_equals_expm_and_is_a_semigroup(n):
    L = fp.ou_generator(-8, 8, n)[1:-1, 1:-1]
    for t in (0.01, 0.7, 5.0):
        A = fp.ou_matrix(-8, 8, n, t)
        ref = expm(t * L)
        assert np.abs(A[1:-1, 1:-1] - ref).max() < 1e-9 * np.abs(ref).max()
        assert np.all(A[[0, -1]] == 0) and np.all(A[:, [0, -1]] == 0)
    A1, A2, A3 = (fp.ou_matrix(-8, 8, n, t) for t in (0.3, 0.5, 0.8))
    assert np.abs(A1 @ A2 - A3).max() < 1e-10 * np.abs(A3).max()
    assert np.array_equal(fp.ou_matrix(-8, 8, n, 0.0), np.eye(n))


def test_ou_matrix_falls_back_to_expm_on_large_boxes():
    """On [-12, 12] the eigenvectors are too ill-conditioned (cond ~ 5e8): expm is used, same result."""
    assert fp.ou_eigen(-12.0, 12.0, 100) is None
    mean, cov = np.array([0.3, -0.2]), np.array([[0.5, 0.1], [0.1, 0.7]])
    eq = fp.gaussian_ou(mean, cov)
    g = ch.grid(-12, 12, 100, 2)
    sol = fp.solve_exact(fp.initial_tt(eq, g, tol=1e-12), g, [1.0])
    x = np.random.default_rng(0).normal(size=(100, 2))
    for t in (1.0, 0.5):
        assert np.abs(fp.density(sol, x, t) - eq.exact(x, t)).max() < 1e-10


def test_exact_against_ground_truth_d2(mixture2):
    dens, g, times, exact, _ = mixture2
    for t, Y in zip(times[1:], exact.tensors[1:]):
        ref = references.ou_reference(dens, t, axes=(g.nodes, g.nodes))
        err = np.linalg.norm(ch.tt_full(Y) - ref) / np.linalg.norm(ref)
        assert err < 1e-9, (t, err)
        assert ch.tt_ranks(Y) == ch.tt_ranks(dens.tt)  # ranks never grow


def test_value_and_gradient_is_gradient_inside_the_box_and_zero_outside(mixture2):
    _, g, _, exact, _ = mixture2
    x = np.array([[0.3, -0.2], [g.b + 0.5, 0.0], [-1.0, 1.0], [0.0, g.a - 1e-9]])
    val, grad = fp.value_and_gradient(exact, x, 0.4)
    grad_in, val_in = fp.gradient(exact, x[[0, 2]], 0.4, with_value=True)
    assert np.array_equal(val[[0, 2]], val_in) and np.array_equal(grad[[0, 2]], grad_in)
    assert np.all(val[[1, 3]] == 0) and np.all(grad[[1, 3]] == 0) and np.all(val_in > 0)


@pytest.mark.parametrize("d, n, tol", [(2, 60, 1e-8), (3, 80, 1e-7), (7, 50, 1e-5)])
def test_exact_against_gaussian_closed_form(d, n, tol):
    rng = np.random.default_rng(d)
    mean, cov = _chain_gaussian(d, rng)
    eq = fp.gaussian_ou(mean, cov)
    g = ch.grid(-8, 8, n, d)
    sol = fp.solve_exact(fp.initial_tt(eq, g, tol=1e-11), g, [0.0, 0.2, 1.0, 4.0])
    for t in sol.times:
        x = _samples_of_pt(mean, cov, t, 300, rng)
        ex = eq.exact(x, t)
        assert np.abs(fp.density(sol, x, t) - ex).max() < tol * ex.max()  # N = 50 in d = 7: ~1e-6
        sc = gaussian.score(x, t, mean, cov)
        assert np.abs(fp.score(sol, x, t) - sc).max() < 1e3 * tol * np.abs(sc).max()


def test_exact_mass_is_conserved(mixture2):
    _, _, _, exact, _ = mixture2
    assert np.abs(fp.masses(exact) - 1).max() < 1e-10


def test_exact_at_any_time_equals_stored_times(mixture2):
    dens, g, times, exact, _ = mixture2
    x = np.random.default_rng(0).uniform(-3, 3, size=(50, 2))
    assert np.allclose(fp.density(exact, x, 0.5), ch.tt_evaluate(exact.tensors[2], g, x), rtol=1e-12, atol=1e-15)
    assert np.abs(fp.density(exact, x, 0.0) - dens(x)).max() < 1e-6 * dens(x).max()  # N = 80: ~1e-7
    # any t, no interpolation: compare with a fresh solve at that t
    direct = fp.solve_exact(dens.tt, g, [0.377]).tensors[0]
    assert np.allclose(fp.density(exact, x, 0.377), ch.tt_evaluate(direct, g, x), rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- splitting (App. C)


def test_splitting_against_ground_truth_d2(mixture2):
    dens, g, times, _, split = mixture2
    for t, Y in zip(times[1:], split.tensors[1:]):
        ref = references.ou_reference(dens, t, axes=(g.nodes, g.nodes))
        err = np.linalg.norm(ch.tt_full(Y) - ref) / np.linalg.norm(ref)
        assert err < 1e-4, (t, err)  # splitting error, h = 0.0125 (second order)


def test_splitting_mass_is_conserved(mixture2):
    _, _, _, _, split = mixture2
    assert np.abs(fp.masses(split) - 1).max() < 1e-8


def test_splitting_is_second_order():
    g = ch.grid(-8, 8, 60, 2)
    dens = densities.mixture_density(2, 1, grid=g)
    ref = fp.solve_exact(dens.tt, g, [1.0]).tensors[0]
    eq = fp.ornstein_uhlenbeck(2)
    errs = [
        ch.tt_relative_error(fp.solve_splitting(eq, dens.tt, g, [1.0], h=1.0 / m, tol=1e-11).tensors[0], ref)
        for m in (5, 10, 20)
    ]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(orders - 2) < 0.15), (errs, orders)


@pytest.mark.parametrize("d, n, h", [(2, 50, 0.05), (3, 40, 0.1)])
def test_splitting_against_gaussian_closed_form(d, n, h):
    rng = np.random.default_rng(10 + d)
    mean, cov = _chain_gaussian(d, rng)
    eq = fp.gaussian_ou(mean, cov)
    g = ch.grid(-8, 8, n, d)
    sol = fp.solve_splitting(eq, fp.initial_tt(eq, g), g, [0.5, 1.0], h=h, tol=1e-9)
    for t in sol.times:
        x = _samples_of_pt(mean, cov, t, 300, rng)
        ex = eq.exact(x, t)
        assert np.abs(fp.density(sol, x, t) - ex).max() < 5e-3 * h**2 / 0.0025 * ex.max()


@pytest.mark.slow
def test_splitting_against_gaussian_closed_form_d7():
    rng = np.random.default_rng(17)
    mean, cov = _chain_gaussian(7, rng, coupling=0.2)
    eq = fp.gaussian_ou(mean, cov)
    g = ch.grid(-8, 8, 40, 7)
    sol = fp.solve_splitting(eq, fp.initial_tt(eq, g, tol=1e-8), g, [0.25], h=0.125, tol=1e-7, rank_max=20)
    x = _samples_of_pt(mean, cov, 0.25, 300, rng)
    ex = eq.exact(x, 0.25)
    assert np.abs(fp.density(sol, x, 0.25) - ex).max() < 1e-2 * ex.max()  # the O(h^2) splitting error


def test_splitting_takes_any_drift():
    """A rotating, time-dependent linear drift f = -B x + u(t): p_t stays Gaussian, known by ODEs."""
    B = np.array([[1.0, 0.8], [-0.8, 1.0]])
    D = 0.5

    def u(t):
        return 0.5 * np.array([np.sin(3 * t), np.cos(3 * t)])

    eq = fp.Equation(
        drift=lambda x, t: -x @ B.T + u(t), divergence=lambda x, t: np.full(len(x), -np.trace(B)), diffusion=D, d=2
    )
    m0, c0 = np.array([1.0, -0.5]), np.array([[0.5, 0.1], [0.1, 0.3]])
    T = 1.0
    mT = solve_ivp(lambda t, m: -B @ m + u(t), (0, T), m0, rtol=1e-12, atol=1e-12).y[:, -1]
    cT = expm(-B * T) @ c0 @ expm(-B * T).T + 2 * D * quad_vec(lambda s: expm(-B * s) @ expm(-B * s).T, 0, T)[0]
    g = ch.grid(-8, 8, 60, 2)
    Y0 = ch.tt_cross(lambda x: np.exp(gaussian.log_density(x, 0.0, m0, c0)), g, tol=1e-11)
    sol = fp.solve_splitting(eq, Y0, g, [T], h=0.02, tol=1e-10)
    x = np.random.default_rng(0).multivariate_normal(mT, cT, size=300)
    ex = np.exp(gaussian.log_density(x, 0.0, mT, cT))
    assert np.abs(fp.density(sol, x, T) - ex).max() < 2e-4 * ex.max()


def test_splitting_interpolates_between_stored_times(mixture2):
    _, g, times, _, split = mixture2
    x = np.random.default_rng(2).uniform(-2, 2, size=(20, 2))
    mid = fp.density(split, x, 0.75)
    lin = 0.5 * (fp.density(split, x, 0.5) + fp.density(split, x, 1.0))
    assert np.allclose(mid, lin)
    with pytest.raises(ValueError, match="outside the solved times"):
        fp.density(split, x, 1.5)


# ----------------------------------------------------------------------------- the score


def test_score_where_the_density_matters_d2(mixture2):
    dens, g, times, exact, split = mixture2
    rng = np.random.default_rng(5)
    # samples of p_t: draw from p_0 by rejection, then push through the OU transition
    y = rng.uniform(-5, 5, size=(20000, 2))
    keep = rng.uniform(0, 1.05 * dens(y).max(), size=len(y)) < dens(y)
    y = y[keep][:300]
    for t in times[1:]:
        x = np.exp(-t) * y + np.sqrt(1 - np.exp(-2 * t)) * rng.normal(size=y.shape)
        p, grad = references.ou_reference(dens, t, x=x, with_gradient=True)
        ref = grad / p[:, None]
        scale = np.abs(ref).max()
        assert np.abs(fp.score(exact, x, t) - ref).max() < 1e-6 * scale
        assert np.abs(fp.score(split, x, t) - ref).max() < 1e-3 * scale


def test_score_function_drives_the_encoder():
    """flow.encode with the exact TT score reproduces the closed-form flow map (App. B)."""
    mean, cov = np.array([0.5, -0.3]), np.array([[0.5, 0.15], [0.15, 0.8]])
    eq = fp.gaussian_ou(mean, cov)
    g = ch.grid(-8, 8, 100, 2)
    sol = fp.solve_exact(fp.initial_tt(eq, g, tol=1e-12), g, [0.0])
    x = np.random.default_rng(1).multivariate_normal(mean, cov, size=20)
    z = flow.encode(x, fp.score_function(sol), t_max=2.0, rtol=1e-8)
    assert np.abs(z - gaussian.flow_map(x, 2.0, mean, cov)).max() < 1e-6


# ----------------------------------------------------------------------------- bad input

_OU = fp.ornstein_uhlenbeck(2)
_WRONG_DRIFT = fp.Equation(drift=lambda x, t: -x[:, :1], divergence=lambda x, t: np.zeros(len(x)), diffusion=1.0, d=2)
_WRONG_DIV = fp.Equation(drift=lambda x, t: -x, divergence=lambda x, t: np.zeros((len(x), 2)), diffusion=1.0, d=2)
_NEGATIVE_D = fp.Equation(lambda x, t: -x, lambda x, t: np.zeros(len(x)), -1.0, 2)

# (call of (tt, grid, exact solution), error, anchored message): one case each
BAD_CALLS = [
    (lambda Y, g, sol: ch.grid(-8, 8, 2, 2), ValueError, r"^n \(number of Chebyshev nodes\) must be >= 3, got 2$"),
    (lambda Y, g, sol: ch.grid(8, -8, 10, 2), ValueError, r"^the interval must have a < b, got a = 8\.0, b = -8\.0$"),
    (
        lambda Y, g, sol: fp.solve_exact(Y, g, [-1.0, 1.0]),
        ValueError,
        r"^times must hold times >= 0, got minimum -1\.0$",
    ),
    (
        lambda Y, g, sol: fp.solve_splitting(_OU, Y, g, [-0.5], h=0.1),
        ValueError,
        r"^times must hold times >= 0, got minimum -0\.5$",
    ),
    (lambda Y, g, sol: fp.solve_exact(Y, g, [1.0, 0.5]), ValueError, r"^times must be non-decreasing$"),
    (lambda Y, g, sol: fp.ou_matrix(-8, 8, 10, -0.1), ValueError, r"^t must be a finite time >= 0, got -0\.1$"),
    (
        lambda Y, g, sol: fp.solve_splitting(_WRONG_DRIFT, Y, g, [0.1], h=0.1),
        ValueError,
        r"^drift\(x, t\) must return an array of shape \(2, 2\) like x, got \(2, 1\)$",
    ),
    (
        lambda Y, g, sol: fp.solve_splitting(_WRONG_DIV, Y, g, [0.1], h=0.1),
        ValueError,
        r"^divergence\(x, t\) must return an array of shape \(2,\), got \(2, 2\)$",
    ),
    (
        lambda Y, g, sol: fp.solve_splitting(_NEGATIVE_D, Y, g, [0.1], h=0.1),
        ValueError,
        r"^equation\.diffusion must be a finite number > 0, got -1\.0$",
    ),
    (
        lambda Y, g, sol: fp.solve_splitting(fp.ornstein_uhlenbeck(3), Y, g, [0.1], h=0.1),
        ValueError,
        r"^the grid has dimension 2 but the equation has d = 3$",
    ),
    (
        lambda Y, g, sol: fp.solve_splitting(lambda x: x, Y, g, [0.1], h=0.1),
        TypeError,
        r"^equation must be a fokker_planck\.Equation, got function$",
    ),
    (
        lambda Y, g, sol: fp.solve_splitting(_OU, Y, g, [0.1], h=0.0),
        ValueError,
        r"^h must be a finite number > 0, got 0\.0$",
    ),
    (
        lambda Y, g, sol: fp.solve_exact([np.ones((1, 80, 1))] * 3, g, [0.1]),
        ValueError,
        r"^Y0 has 3 cores but the grid has dimension d = 2$",
    ),
    (
        lambda Y, g, sol: fp.solve_exact(Y[:1], g, [0.1]),
        ValueError,
        r"^the last core of Y0 must have right rank 1, got \d+$",
    ),
    (
        lambda Y, g, sol: fp.score(sol, np.array([[9.0, 0.0]]), 0.5),
        ValueError,
        r"^x must lie in the box \[-8\.0, 8\.0\]\^2; 1 point\(s\) do not$",
    ),
    (
        lambda Y, g, sol: fp.score(sol, np.array([[8.0, 8.0]]), 0.5),
        ValueError,
        r"^p_t\(x\) <= 0 at 1 point\(s\) \(t = 0\.5\): x lies in the tails",
    ),
    (
        lambda Y, g, sol: fp.density(sol, np.zeros((3, 3)), 0.5),
        ValueError,
        r"^x must have 2 columns \(dimension d = 2\), got shape \(3, 3\)$",
    ),
    (
        lambda Y, g, sol: fp.solve_exact(Y, (-8, 8, 80), [0.1]),
        TypeError,
        r"^grid must be a chebyshev\.Grid \(use chebyshev\.grid\(a, b, n, d\)\), got tuple$",
    ),
    (lambda Y, g, sol: fp.ornstein_uhlenbeck(2, initial=3.0), TypeError, r"^initial must be callable, got float$"),
]


@pytest.mark.parametrize("call, error, pattern", BAD_CALLS, ids=[p for _, _, p in BAD_CALLS])
def test_bad_input_is_rejected(mixture2, call, error, pattern):
    dens, g, _, exact, _ = mixture2
    with pytest.raises(error, match=pattern):
        call(dens.tt, g, exact)
