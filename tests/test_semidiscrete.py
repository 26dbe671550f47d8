"""Tests of ddpm_ot_lib.semidiscrete: the SDOT solver against two ground truths (the exact
1-D quantile map with its closed-form cell masses, and exact discrete OT by POT's network
simplex), the stopping rule's cell masses on a fresh sample, and bad input."""

import numpy as np
import pytest
import torch
from scipy.stats import norm

from ddpm_ot_lib import semidiscrete as sd

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def targets_1d():
    return np.random.default_rng(1).normal(size=(20, 1)) * 1.5 + 0.5


@pytest.fixture(scope="module")
def solved_1d(targets_1d):
    return sd.solve_sdot(targets_1d, tol=0.05, n_check=2_000_000, seed=0)


@pytest.fixture(scope="module")
def solved_2d():
    y = np.random.default_rng(2).normal(size=(20, 2)) * 0.8 + np.array([0.5, 0.0])
    return sd.solve_sdot(y, tol=0.1, n_check=200_000, seed=0)


def test_two_forms_of_the_map_agree():
    """argmin_j |x - y_j|^2 - h_j == argmax_j <x, y_j> + b_j with b = (h - |y|^2)/2."""
    rng = np.random.default_rng(0)
    y, h, x = rng.normal(size=(30, 3)), rng.normal(size=30), rng.normal(size=(500, 3))
    b = sd.heights_from_dual(h, y)
    direct = (((x[:, None, :] - y[None]) ** 2).sum(-1) - h[None]).argmin(1)
    assert np.array_equal(sd.assign(x, y, b), direct)
    assert np.allclose(sd.dual_from_heights(b, y), h)
    assert np.allclose(sd.sdot_map(x, y, b), y[direct])
    top = sd.topk_cells(x, y, b, k=3)
    assert np.array_equal(top[:, 0], direct)
    second = (((x[:, None, :] - y[None]) ** 2).sum(-1) - h[None]).argsort(1)[:, 1]
    assert np.array_equal(top[:, 1], second)


def test_brenier_potential_is_convex_and_its_gradient_is_the_map():
    rng = np.random.default_rng(1)
    y, b = rng.normal(size=(15, 2)), rng.normal(size=15)
    x0, x1 = rng.normal(size=(200, 2)), rng.normal(size=(200, 2))
    u = lambda p: sd.brenier_potential(p, y, b)  # noqa: E731
    assert np.all(u(0.5 * (x0 + x1)) <= 0.5 * (u(x0) + u(x1)) + 1e-12)
    eps = 1e-6
    grad = np.stack([(u(x0 + eps * e) - u(x0 - eps * e)) / (2 * eps) for e in np.eye(2)], 1)
    inside = np.abs(grad - sd.sdot_map(x0, y, b)).max(1) < 1e-5
    assert inside.mean() > 0.95  # all but points within 1e-6 of a cell boundary


def test_exact_1d_heights_give_equal_masses(targets_1d):
    b = sd.exact_heights_1d(targets_1d)
    assert np.allclose(sd.exact_cell_masses_1d(targets_1d, b), 1 / 20, atol=1e-12)
    m = sd.cell_masses(targets_1d, b, n=400_000, seed=3)
    assert sd.mass_error(m) < 2.0 * sd.mass_error_floor(20, 400_000)
    # the cells are the quantile intervals: T*(x) = y_(ceil(N Phi(x)))
    x = np.linspace(-3, 3, 1001)[:, None]
    k = np.minimum((norm.cdf(x[:, 0]) * 20).astype(int), 19)
    assert np.array_equal(sd.sdot_map(x, targets_1d, b)[:, 0], np.sort(targets_1d[:, 0])[k])


def test_exact_1d_masses_against_a_fine_grid(targets_1d):
    b = np.random.default_rng(5).normal(size=20)  # arbitrary heights: some cells empty
    exact = sd.exact_cell_masses_1d(targets_1d, b)
    x = np.linspace(-8, 8, 400_001)[:, None]
    grid = np.bincount(sd.assign(x, targets_1d, b), weights=norm.pdf(x[:, 0]), minlength=20) * (x[1, 0] - x[0, 0])
    assert exact.sum() == pytest.approx(1.0)
    assert np.abs(exact - grid).max() < 1e-4


def test_1d_solver_against_the_quantile_map(targets_1d, solved_1d):
    assert solved_1d.converged and solved_1d.error <= 0.05
    exact = sd.exact_heights_1d(targets_1d)
    assert np.abs(solved_1d.heights - exact).max() < 0.05
    # the exact masses of the solved heights: within the tolerance the check sample certified
    assert sd.mass_error(sd.exact_cell_masses_1d(targets_1d, solved_1d.heights)) < 0.05 + 0.02


def test_2d_solver_against_exact_discrete_ot(solved_2d):
    agree = sd.emd_agreement(solved_2d.targets, solved_2d.heights, n=4000, seed=4)
    assert agree > 0.9
    voronoi = sd.heights_from_dual(np.zeros(20), solved_2d.targets)
    assert sd.emd_agreement(solved_2d.targets, voronoi, n=4000, seed=4) < agree - 0.1


def test_cell_masses_on_a_fresh_sample_within_tolerance(solved_2d):
    fresh = sd.cell_masses(solved_2d.targets, solved_2d.heights, n=400_000, seed=99)
    assert fresh.sum() == pytest.approx(1.0)
    assert sd.mass_error(fresh) < 0.1 + sd.mass_error_floor(20, 400_000) + 0.03
    assert solved_2d.history.shape[1] == 3 and solved_2d.iterations == solved_2d.history[-1, 0]


def test_mass_error_floor_matches_the_simulated_exact_solution(targets_1d):
    b = sd.exact_heights_1d(targets_1d)
    errs = [sd.mass_error(sd.cell_masses(targets_1d, b, n=20_000, seed=s)) for s in range(10)]
    assert 0.5 < np.mean(errs) / sd.mass_error_floor(20, 20_000) < 1.5


_Y = np.random.default_rng(0).normal(size=(10, 2))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: sd.solve_sdot(_Y[:1]), ValueError, r"^targets must hold at least 2 points"),
        (lambda: sd.solve_sdot(np.where(_Y > 1, np.nan, _Y)), ValueError, r"^targets must be finite"),
        (lambda: sd.solve_sdot(_Y, tol=0.01, n_check=1000), ValueError, r"^tol = 0.01 cannot be certified"),
        (lambda: sd.solve_sdot(_Y, batch=0), ValueError, r"^batch must be an integer >= 1"),
        (lambda: sd.assign(_Y, _Y, np.zeros(9)), ValueError, r"^heights must have shape \(10,\)"),
        (lambda: sd.assign(np.zeros((4, 3)), _Y, np.zeros(10)), ValueError, r"^x must have 2 columns"),
        (lambda: sd.assign("points", _Y, np.zeros(10)), TypeError, r"^x must be an array of real numbers"),
        (lambda: sd.topk_cells(_Y, _Y, np.zeros(10), k=11), ValueError, r"^k must be at most the number"),
        (lambda: sd.exact_heights_1d(_Y), ValueError, r"^targets must have shape \(N, 1\)"),
        (lambda: sd.exact_cell_masses_1d(_Y, np.zeros(10)), ValueError, r"^targets must have shape \(N, 1\)"),
    ],
)
def test_bad_input_is_rejected_with_the_argument_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
