"""Chebyshev grids, differentiation, interpolation and the functional TT operations."""

import numpy as np
import pytest
import teneva
from hypothesis import given, settings
from hypothesis import strategies as st

from ddpm_ot_lib import chebyshev as ch


def test_nodes_match_teneva_and_start_at_b():
    x = ch.nodes(-3.0, 5.0, 17)
    ref = teneva.ind_to_poi(np.arange(17)[:, None], -3.0, 5.0, 17, "cheb").ravel()
    assert np.allclose(x, ref, atol=1e-15)
    assert x[0] == pytest.approx(5.0) and x[-1] == pytest.approx(-3.0)
    assert np.all(np.diff(x) < 0)


@pytest.mark.parametrize("a, b", [(-8.0, 8.0), (-1.0, 3.0)])
def test_diff_matrices_are_exact_on_polynomials(a, b):
    n = 12
    x = ch.nodes(a, b, n)
    d1, d2 = ch.diff_matrices(a, b, n)
    p = np.polynomial.Polynomial([0.3, -1.0, 0.5, 0.25, -0.1, 0.02])
    assert np.allclose(d1 @ p(x), p.deriv(1)(x), rtol=0, atol=1e-9 * np.abs(p.deriv(1)(x)).max())
    assert np.allclose(d2 @ p(x), p.deriv(2)(x), rtol=0, atol=1e-8 * np.abs(p.deriv(2)(x)).max())


def test_spectral_convergence_of_derivative():
    errs = []
    for n in (10, 20, 40):
        x = ch.nodes(-8, 8, n)
        d1, _ = ch.diff_matrices(-8, 8, n)
        errs.append(np.abs(d1 @ np.sin(x / 2) - 0.5 * np.cos(x / 2)).max())
    assert errs[1] < 1e-3 * errs[0] and errs[2] < 1e-12


def test_interpolation_matrix_reproduces_nodes_and_polynomials():
    a, b, n = -2.0, 4.0, 9
    x = ch.nodes(a, b, n)
    assert np.allclose(ch.interpolation_matrix(x, a, b, n), np.eye(n), atol=1e-15)
    p = np.polynomial.Polynomial([1.0, 0.5, -0.3, 0.1, 0.01])
    xs = np.linspace(a, b, 101)
    assert np.allclose(ch.interpolation_matrix(xs, a, b, n) @ p(x), p(xs), atol=1e-12)
    assert np.allclose(ch.interpolation_matrix(xs, a, b, n, derivative=1) @ p(x), p.deriv()(xs), atol=1e-11)


def test_interpolation_outside_the_box_is_zero():
    P = ch.interpolation_matrix(np.array([-8.5, 9.0, 8.0]), -8, 8, 10)
    assert np.all(P[:2] == 0) and P[2, 0] == 1.0


def test_interpolation_agrees_with_teneva_func_get():
    g = ch.grid(-8, 8, 20, 3)
    Y = teneva.rand(g.shape, 3, seed=4)
    x = np.random.default_rng(1).uniform(-8, 8, size=(50, 3))
    ref = teneva.func_get(x, teneva.func_int(Y), g.a, g.b)
    assert np.allclose(ch.tt_evaluate(Y, g, x), ref, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=3, max_value=40), st.floats(-5, 5), st.floats(0.1, 10))
def test_quadrature_weights_integrate_polynomials(n, a, width):
    b = a + width
    w = ch.quadrature_weights(a, b, n)
    deg = n - 1
    p = np.polynomial.Polynomial(np.linspace(1.0, -1.0, deg + 1))
    exact = p.integ()(b) - p.integ()(a)
    assert np.sum(w * p(ch.nodes(a, b, n))) == pytest.approx(exact, rel=1e-9, abs=1e-9)


def test_values_to_coefficients_matches_teneva_func_int():
    y = np.random.default_rng(0).normal(size=15)
    assert np.allclose(ch.values_to_coefficients(y), teneva.func_int([y.reshape(1, -1, 1)])[0][0, :, 0])


def _gauss(x):
    return np.exp(-0.5 * ((x - 0.3) ** 2).sum(axis=1) - 0.2 * x[:, 0] * x[:, 1])


def test_tt_cross_evaluate_gradient_integral():
    g = ch.grid(-8, 8, 60, 3)
    info = {}
    Y = ch.tt_cross(_gauss, g, tol=1e-12, info=info)
    x = np.random.default_rng(0).uniform(-3, 3, size=(400, 3))
    assert np.abs(ch.tt_evaluate(Y, g, x) - _gauss(x)).max() < 1e-9
    grad, val = ch.tt_gradient(Y, g, x, with_value=True)
    z = x - 0.3
    exact = -z - 0.2 * x[:, [1, 0, 2]] * np.array([1, 1, 0])
    assert np.abs(grad - exact * _gauss(x)[:, None]).max() < 1e-8
    assert np.allclose(val, ch.tt_evaluate(Y, g, x))
    # integral: Gaussian with precision [[1, .2], [.2, 1]] x 1 and a shift
    prec = np.array([[1.0, 0.2, 0], [0.2, 1.0, 0], [0, 0, 1.0]])
    lin = np.array([0.3, 0.3, 0.3])
    mu = np.linalg.solve(prec, lin)
    exact_int = (2 * np.pi) ** 1.5 / np.sqrt(np.linalg.det(prec)) * np.exp(0.5 * lin @ mu - 0.5 * 3 * 0.09)
    assert ch.tt_integral(Y, g) == pytest.approx(exact_int, rel=1e-10)
    A = teneva.func_int(Y)
    assert ch.tt_integral(Y, g) == pytest.approx(teneva.func_sum(A, g.a, g.b), rel=1e-12)
    assert info["rank"] <= 40 and info["sweeps"] >= 1


def test_tt_cross_respects_rank_cap_and_is_seeded():
    g = ch.grid(-8, 8, 40, 3)
    Y1 = ch.tt_cross(_gauss, g, tol=1e-14, rank_max=3, seed=1)
    Y2 = ch.tt_cross(_gauss, g, tol=1e-14, rank_max=3, seed=1)
    assert max(ch.tt_ranks(Y1)) <= 3
    assert all(np.array_equal(G1, G2) for G1, G2 in zip(Y1, Y2))


def test_own_cross_equals_teneva_cross():
    g = ch.grid(-8, 8, 30, 4)
    Y0 = teneva.rand(g.shape, 2, seed=1)

    def f(index):
        x = g.nodes[index]
        return np.exp(-0.5 * (x**2).sum(1) - 0.2 * x[:, 0] * x[:, 1] + 0.1 * x[:, 1] * x[:, 2])

    ref = teneva.cross(f, Y0, nswp=2, dr_min=1, dr_max=1)
    own = ch._cross(f, Y0, 2, 0.0, 1, 1, 100)
    assert list(teneva.ranks(ref)) == ch.tt_ranks(own)
    assert ch.tt_relative_error(own, ref) < 1e-12


def test_tt_norm_is_accurate_for_tiny_differences():
    g = ch.grid(-8, 8, 30, 3)
    Y = ch.tt_cross(_gauss, g, tol=1e-12)
    Z = [G.copy() for G in Y]
    Z[1] = Z[1] * (1 + 1e-12)
    assert ch.tt_relative_error(Z, Y) == pytest.approx(1e-12, rel=1e-3)


def test_tt_truncate_reaches_accuracy_below_sqrt_eps():
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.normal(size=(50, 10)))
    v, _ = np.linalg.qr(rng.normal(size=(50, 10)))
    s = 10.0 ** -np.arange(10)  # singular values 1 ... 1e-9
    M = (u * s) @ v.T
    Y = [M.reshape(1, 50, 50), np.eye(50).reshape(50, 50, 1)]
    Z = ch.tt_truncate(Y, 1e-12)
    assert ch.tt_ranks(Z)[1] == 10
    assert np.abs(ch.tt_full(Z) - M).max() < 1e-14


def _unfolding_ranks(A, delta):
    """Numerical ranks of the unfoldings of the full tensor A at absolute threshold delta."""
    out = []
    for k in range(1, A.ndim):
        s = np.linalg.svd(A.reshape(int(np.prod(A.shape[:k])), -1), compute_uv=False)
        out.append(int(np.count_nonzero(np.sqrt(np.cumsum(s[::-1] ** 2))[::-1] > delta)))
    return out


@pytest.mark.parametrize("d", [3, 4])
def test_tt_truncate_gives_the_ranks_of_the_unfoldings(d):
    # a TT far more accurate than asked for: its singular values decay, and rounding to
    # 1e-4 must keep exactly the numerical ranks of the full tensor's unfoldings
    # (teneva.truncate(..., is_eigh=False) keeps [12, 10] for d = 3 where they are [10, 10])
    g = ch.grid(-3, 3, 14, d)
    Y = ch.tt_cross(lambda x: 1.0 / (1.0 + (x**2).sum(axis=1) + (x[:, 1:] * x[:, :-1]).sum(axis=1) / 2), g, tol=1e-13)
    tol = 1e-4
    Z = ch.tt_truncate(Y, tol)
    A = ch.tt_full(Y)
    expected = _unfolding_ranks(A, tol * np.linalg.norm(A) / np.sqrt(d - 1))
    assert ch.tt_ranks(Z)[1:-1] == expected
    assert max(expected) < max(ch.tt_ranks(Y))
    assert np.linalg.norm(ch.tt_full(Z) - A) <= tol * np.linalg.norm(A)


def test_storage_count_eq13():
    g = ch.grid(-1, 1, 10, 4)
    Y = teneva.rand(g.shape, 3, seed=0)
    assert ch.tt_storage(Y) == 10 * 3 + 3 * 10 * 3 * 2 + 3 * 10


_G = ch.grid(-1, 1, 5, 2)


@pytest.mark.parametrize(
    "call, exc, pattern",
    [
        (lambda: ch.nodes(-1.0, 1.0, 2), ValueError, r"^n \(number of Chebyshev nodes\) must be >= 3, got 2$"),
        (lambda: ch.nodes(1.0, -1.0, 5), ValueError, r"^the interval must have a < b, got a = 1\.0, b = -1\.0$"),
        (lambda: ch.nodes(1.0, 1.0, 5), ValueError, r"^the interval must have a < b, got a = 1\.0, b = 1\.0$"),
        (
            lambda: ch.nodes(-1.0, 1.0, 5.0),
            TypeError,
            r"^n \(number of Chebyshev nodes\) must be an integer, got float$",
        ),
        (lambda: ch.nodes(-1.0, np.inf, 5), ValueError, r"^a and b must be finite, got a = -1\.0, b = inf$"),
        (
            lambda: ch.tt_evaluate(np.ones((5, 5)), _G, np.zeros((1, 2))),
            TypeError,
            r"^Y must be a tensor train: a non-empty list of 3-d cores, got ndarray$",
        ),
        (
            lambda: ch.tt_evaluate([np.ones((1, 5, 2)), np.ones((3, 5, 1))], _G, np.zeros((1, 2))),
            ValueError,
            r"^Y\[1\] has left rank 3, expected 2 \(ranks must chain\)$",
        ),
        (
            lambda: ch.tt_evaluate([np.ones((1, 5, 1)), np.ones((1, 5, 1))], _G, np.zeros((1, 3))),
            ValueError,
            r"^x must have 2 columns \(dimension d = 2\), got shape \(1, 3\)$",
        ),
        (lambda: ch.grid(-1, 1, 5, 0), ValueError, r"^d \(dimension\) must be an integer >= 1, got 0$"),
        (
            lambda: ch.tt_cross(lambda x: np.ones((x.shape[0], 2)), _G),
            ValueError,
            r"^func\(x\) must return shape \(10,\) for x of shape \(10, 2\), got \(10, 2\)$",
        ),
    ],
)
def test_bad_input_raises(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
