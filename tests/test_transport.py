"""ddpm_ot_lib.transport: exact discrete OT against brute force and SciPy's assignment
solver; cyclical monotonicity, interpolation and 1-D tools against brute force, POT and
closed forms. The optimality checks are tested in test_optimality.py."""

import itertools

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from scipy.stats import norm

from ddpm_ot_lib import gaussian, transport
from tests.conftest import random_spd

seeds = st.integers(0, 2**32 - 1)


def test_ot_cost_equals_brute_force_over_permutations(rng):
    x0, x1 = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    best = min(((x0 - x1[list(p)]) ** 2).sum(axis=1).mean() for p in itertools.permutations(range(6)))
    assert transport.ot_cost(x0, x1) == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("n,d", [(50, 2), (200, 7)])
def test_ot_assignment_matches_linear_sum_assignment(rng, n, d):
    x0, x1 = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 1.0
    cost = ((x0[:, None, :] - x1[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    sigma = transport.ot_assignment(x0, x1)
    assert sorted(sigma) == list(range(n))  # a permutation
    assert cost[np.arange(n), sigma].sum() == pytest.approx(cost[rows, cols].sum(), rel=1e-12)


def test_relative_cost_error_is_zero_for_the_gaussian_ot_map(rng):
    a, cov = rng.normal(size=3), random_spd(rng, 3)
    x = rng.multivariate_normal(a, cov, size=300)
    z = gaussian.ot_map(x, a, cov)
    assert abs(transport.relative_cost_error(x, z)) < 1e-12
    assert transport.self_match_fraction(x, z) == 1.0


def test_relative_cost_error_detects_a_shuffled_pairing(rng):
    x = rng.normal(size=(200, 2))
    z = x + 0.1 * rng.normal(size=x.shape)
    shuffled = z[rng.permutation(200)]
    assert transport.relative_cost_error(x, shuffled) > 1.0
    assert transport.self_match_fraction(x, shuffled) < 0.1


def test_monotone_pairing_in_1d_is_optimal(rng):
    x = np.sort(rng.normal(size=100))[:, None]
    y = np.sort(rng.exponential(size=100))[:, None]
    assert abs(transport.relative_cost_error(x, y)) < 1e-12
    assert transport.pairing_cost(x, y) == pytest.approx(transport.ot_cost(x, y), rel=1e-12)


def _brute_force_violation(x0, x1):
    """Largest cycle gain over every cycle of every length (n small)."""
    n, best = x0.shape[0], 0.0
    for k in range(2, n + 1):
        for cyc in itertools.permutations(range(n), k):
            if cyc[0] == min(cyc):
                best = max(best, transport.cycle_gain(x0, x1, np.array(cyc)))
    return best


@settings(max_examples=40, deadline=None)
@given(seeds)
def test_violation_found_iff_pairing_not_optimal(seed):
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    cycle, gain = transport.cyclical_monotonicity_violation(x0, x1)
    eps = transport.relative_cost_error(x0, x1)
    brute = _brute_force_violation(x0, x1)
    if eps > 1e-12:
        assert gain > 0 and cycle.size >= 2
        assert gain == pytest.approx(transport.cycle_gain(x0, x1, cycle), rel=1e-12)
        assert gain <= brute * (1 + 1e-12)
    else:
        assert gain == 0.0 and cycle.size == 0 and brute < 1e-12


@settings(max_examples=30, deadline=None)
@given(seeds)
def test_optimal_pairing_is_cyclically_monotone(seed):
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=(40, 3)), rng.normal(size=(40, 3)) + 1.0
    x1 = x1[transport.ot_assignment(x0, x1)]
    cycle, gain = transport.cyclical_monotonicity_violation(x0, x1)
    assert cycle.size == 0 and gain == 0.0
    assert transport.best_swap(x0, x1)[2] <= 1e-12


def test_gains_of_the_ot_cycles_add_up_to_the_cost_gap(rng):
    x0, x1 = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    sigma = transport.ot_assignment(x0, x1)
    total = sum(transport.cycle_gain(x0, x1, c) for c in transport._permutation_cycles(sigma))
    gap = 30 * (transport.pairing_cost(x0, x1) - transport.ot_cost(x0, x1))
    assert total == pytest.approx(gap, rel=1e-10)


def test_best_swap_matches_brute_force(rng):
    x0, x1 = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    i, j, gain = transport.best_swap(x0, x1)
    brute = max(transport.cycle_gain(x0, x1, np.array(p)) for p in itertools.combinations(range(12), 2))
    assert gain == pytest.approx(brute, rel=1e-12)
    assert gain == pytest.approx(transport.cycle_gain(x0, x1, np.array([i, j])), rel=1e-12)


def test_cycle_gain_of_a_fixed_point_is_zero(rng):
    x0, x1 = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    assert transport.cycle_gain(x0, x1, [3]) == 0.0


@settings(max_examples=20, deadline=None)
@given(seeds)
def test_displacement_interpolation_has_energy_w2_squared(seed):
    """Benamou–Brenier: the straight constant-speed paths of an optimal pairing have action W2^2."""
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=(50, 2)), 2.0 * rng.normal(size=(50, 2)) + 1.0
    x1 = x1[transport.ot_assignment(x0, x1)]
    s = np.linspace(0.0, 1.0, 11)
    paths = transport.displacement_interpolation(x0, x1, s)
    np.testing.assert_allclose(paths[0], x0)
    np.testing.assert_allclose(paths[-1], x1)
    w22 = ot.emd2(np.full(50, 0.02), np.full(50, 0.02), ot.dist(x0, x1))
    assert transport.kinetic_energy(paths, s) == pytest.approx(w22, rel=1e-10)
    assert transport.path_length(paths) == pytest.approx(np.sqrt(w22), rel=1e-10)


def test_reparametrised_path_costs_more_energy_same_length(rng):
    x0, x1 = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
    s = np.linspace(0.0, 1.0, 2001)
    paths = transport.displacement_interpolation(x0, x1, s**2)
    base = transport.pairing_cost(x0, x1)
    assert transport.kinetic_energy(paths, s) == pytest.approx(4.0 / 3.0 * base, rel=1e-6)
    assert transport.path_length(paths) == pytest.approx(np.sqrt(base), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(seeds)
def test_quantile_map_of_a_gaussian_is_its_standardisation(seed):
    rng = np.random.default_rng(seed)
    m, s = rng.normal(), rng.uniform(0.2, 3.0)
    x = (m + s * rng.normal(size=40) * 2.5)[:, None]
    z = transport.quantile_map_1d(x, lambda y: norm.cdf(y[:, 0], m, s), lambda y: norm.sf(y[:, 0], m, s))
    np.testing.assert_allclose(z, (x - m) / s, rtol=1e-10, atol=1e-10)


def test_quantile_map_pairing_is_optimal_in_1d(rng):
    x = rng.exponential(size=(200, 1))
    z = transport.quantile_map_1d(x, lambda y: 1 - np.exp(-y[:, 0]), lambda y: np.exp(-y[:, 0]))
    assert abs(transport.relative_cost_error(x, z)) < 1e-12
    assert transport.cyclical_monotonicity_violation(x, z)[1] == 0.0


def test_gaussian_rotation_is_not_cyclically_monotone_on_a_large_sample(rng):
    """A rotation composed with the Gaussian OT map pushes to N(0, I) but is not OT;
    a large enough sample exposes a violating cycle."""
    cov = random_spd(rng, 2)
    x = rng.multivariate_normal(np.zeros(2), cov, size=400)
    th = 0.6
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    lam, q = np.linalg.eigh(cov)
    z = x @ ((q / np.sqrt(lam)) @ q.T) @ rot.T
    cycle, gain = transport.cyclical_monotonicity_violation(x, z)
    assert gain > 0 and transport.relative_cost_error(x, z) > 0.01


BAD_CALLS = [
    (r"^x1 must have 2 columns", lambda: transport.ot_cost(np.zeros((3, 2)), np.zeros((3, 3)))),
    (r"^x0 and x1 must hold the same number of points", lambda: transport.ot_cost(np.zeros((3, 2)), np.zeros((4, 2)))),
    (r"^x0 must be finite", lambda: transport.relative_cost_error(np.full((3, 2), np.nan), np.zeros((3, 2)))),
    (r"^x0 must have shape \(n, d\)", lambda: transport.pairing_cost(np.zeros(3), np.zeros(3))),
    (r"^x0 and x1 coincide", lambda: transport.relative_cost_error(np.ones((3, 2)), np.ones((3, 2)))),
    (
        r"^cycle must be a 1-D array of distinct indices",
        lambda: transport.cycle_gain(np.zeros((3, 2)), np.ones((3, 2)), [0, 0]),
    ),
    (r"^cycle indices must lie in \[0, 3\)", lambda: transport.cycle_gain(np.zeros((3, 2)), np.ones((3, 2)), [0, 5])),
    (
        r"^s must lie in \[0, 1\]",
        lambda: transport.displacement_interpolation(np.zeros((3, 2)), np.ones((3, 2)), [0.0, 1.5]),
    ),
    (r"^paths must have shape \(m, n, d\)", lambda: transport.kinetic_energy(np.zeros((1, 3, 2)), [0.0])),
    (r"^times must be strictly increasing", lambda: transport.kinetic_energy(np.zeros((3, 3, 2)), [0.0, 0.5, 0.5])),
    (r"^paths must be finite", lambda: transport.path_length(np.full((3, 3, 2), np.nan))),
    (r"^cdf must be callable", lambda: transport.quantile_map_1d(np.zeros((3, 1)), "norm")),
    (
        r"^cdf\(x\) must return one value in \[0, 1\]",
        lambda: transport.quantile_map_1d(np.zeros((3, 1)), lambda y: 2.0 + y[:, 0]),
    ),
    (r"^x must have 1 columns", lambda: transport.quantile_map_1d(np.zeros((3, 2)), norm.cdf)),
    (r"^best_swap needs at least two pairs", lambda: transport.best_swap(np.zeros((1, 2)), np.ones((1, 2)))),
]


@pytest.mark.parametrize("pattern,call", BAD_CALLS, ids=[p for p, _ in BAD_CALLS])
def test_bad_input_names_the_argument(pattern, call):
    with pytest.raises((ValueError, TypeError), match=pattern):
        call()
