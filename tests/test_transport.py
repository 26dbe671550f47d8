"""ddpm_ot_lib.transport: exact discrete OT against brute force and SciPy's assignment solver."""
import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from ddpm_ot_lib import gaussian, transport
from tests.conftest import random_spd


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


BAD_CALLS = [
    ("x1", lambda: transport.ot_cost(np.zeros((3, 2)), np.zeros((3, 3)))),
    ("x0 and x1", lambda: transport.ot_cost(np.zeros((3, 2)), np.zeros((4, 2)))),
    ("x0", lambda: transport.relative_cost_error(np.full((3, 2), np.nan), np.zeros((3, 2)))),
    ("x0", lambda: transport.pairing_cost(np.zeros(3), np.zeros(3))),
    ("coincide", lambda: transport.relative_cost_error(np.ones((3, 2)), np.ones((3, 2)))),
]


@pytest.mark.parametrize("name,call", BAD_CALLS)
def test_bad_input_names_the_argument(name, call):
    with pytest.raises(ValueError, match=name):
        call()
