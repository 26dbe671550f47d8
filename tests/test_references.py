"""Independent ground truths (ddpm_ot_lib.references): quadrature, closed forms, one Gauss-Legendre rule."""

import numpy as np
import pytest
from scipy import stats

from ddpm_ot_lib import chebyshev as ch
from ddpm_ot_lib import densities, gaussian, references, sampling
from ddpm_ot_lib import fokker_planck as fp


def test_gauss_legendre_integrates_polynomials_and_the_gaussian():
    y, w = references.gauss_legendre(-2.0, 3.0, 4, 5)
    assert y.shape == w.shape == (20,) and np.all(np.diff(y) > 0)
    assert np.sum(w * y**9) == pytest.approx((3.0**10 - 2.0**10) / 10, rel=1e-13)
    y, w = references.gauss_legendre(-10.0, 10.0, 20, 12)
    assert np.sum(w * np.exp(-0.5 * y**2)) == pytest.approx(np.sqrt(2 * np.pi), rel=1e-14)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"panels": 0, "nodes": 3}, r"^panels must be an integer >= 1"),
        ({"panels": 2, "nodes": 1.5}, r"^nodes must be an integer >= 1"),
    ],
)
def test_gauss_legendre_bad_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        references.gauss_legendre(0.0, 1.0, **kw)


def test_ou_coefficients():
    c, s2 = references.ou_coefficients(0.7)
    assert c == pytest.approx(np.exp(-0.7), rel=1e-15) and c * c + s2 == pytest.approx(1.0, rel=1e-15)
    assert references.ou_coefficients(0.0) == (1.0, 0.0)


def test_reference_matches_gaussian_closed_form():
    mean, cov = np.array([0.5, -1.0]), np.array([[0.6, 0.2], [0.2, 0.4]])
    eq = fp.gaussian_ou(mean, cov)
    x = np.random.default_rng(0).normal(size=(200, 2))
    for t in (0.002, 0.05, 1.0, 5.0):
        p, grad = references.ou_reference(eq.initial, t, x=x, with_gradient=True)
        ex = eq.exact(x, t)
        assert np.abs(p - ex).max() < 1e-12 * ex.max()
        assert np.abs(grad / p[:, None] - gaussian.score(x, t, mean, cov)).max() < 1e-10
    axes = (np.linspace(-3, 3, 7), np.linspace(-2, 2, 5))
    grid_p = references.ou_reference(eq.initial, 0.3, axes=axes)
    xx = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    assert np.allclose(grid_p.ravel(), references.ou_reference(eq.initial, 0.3, x=xx), rtol=1e-13)


def test_reference_refuses_tiny_times():
    with pytest.raises(ValueError, match=r"^t = 0.0001 is too small"):
        references.ou_reference(lambda y: np.ones(len(y)), 1e-4, x=np.zeros((1, 2)))


def test_mixture_reference_against_fokker_planck_ou_reference_2d():
    dens = densities.random_density(2, 3, family="smooth", grid=ch.grid(-8, 8, 60, 2))
    x = np.random.default_rng(0).normal(size=(60, 2))
    for t in (0.05, 0.1, 1.0, 5.0):
        p, grad = references.reference_density(dens, x, t, gradient=True)
        r, rg = references.ou_reference(dens, t, x=x, with_gradient=True)
        assert np.abs(p - r).max() < 1e-12 * r.max()
        assert np.abs(grad / p[:, None] - rg / r[:, None]).max() < 1e-10 * np.abs(rg / r[:, None]).max()
    with pytest.raises(ValueError, match=r"^mixture_reference needs t > 0"):
        references.mixture_reference(dens.params, 2, x, 0.0)


def test_mixture_reference_against_gaussian_mixture_closed_form_3d():
    """With the quartic term switched off Eq. (14) is a Gaussian mixture, whose p_t is explicit."""
    dens = densities.mixture_density(
        3, 5, grid=ch.grid(-8, 8, 30, 3), quartic_range=(0.0, 0.0), eig_range=(2.0, 4.0), centre_range=1.0
    )
    P = dens.params
    x = np.random.default_rng(1).normal(size=(50, 3)) * 0.8
    for t in (0.1, 1.0, 5.0):
        c, s2 = np.exp(-t), -np.expm1(-2 * t)
        exact, mass = 0.0, 0.0
        for w, mu, A in zip(P["weights"], P["centres"], P["precisions"]):
            S = np.linalg.inv(A)
            z = w * np.sqrt(np.linalg.det(2 * np.pi * S))
            exact = exact + z * stats.multivariate_normal(c * mu, c * c * S + s2 * np.eye(3)).pdf(x)
            mass += z
        p = references.mixture_reference(P, 3, x, t)
        assert np.abs(p - exact / mass).max() < 1e-11 * (exact / mass).max()


def test_tt_gaussian_reference_closed_form():
    dens = densities.random_density(7, 2, family="smooth", grid=ch.grid(-8, 8, 30, 7))
    x = np.random.default_rng(2).normal(size=(40, 7))
    # t = 0 is the formula; the gradient matches central differences at t > 0
    assert np.allclose(references.reference_density(dens, x, 0.0), dens(x), rtol=1e-13, atol=0)
    t, h = 0.7, 1e-6
    _, grad = references.tt_gaussian_reference(dens.params, x, t, dens.norm_const, gradient=True)
    fd = np.stack(
        [
            (
                references.tt_gaussian_reference(dens.params, x + h * e, t, dens.norm_const)
                - references.tt_gaussian_reference(dens.params, x - h * e, t, dens.norm_const)
            )
            / (2 * h)
            for e in np.eye(7)
        ],
        axis=1,
    )
    assert np.abs(grad - fd).max() < 1e-7 * np.abs(fd).max()
    # and the exact TT solver on a grid fine enough for 1e-8 agrees with the closed form
    g = ch.grid(-8, 8, 60, 7)
    fine = densities.random_density(7, 2, family="smooth", grid=g)
    sol = fp.solve_exact(fine.tt, g, [0.0])
    y = sampling.tt_sample(fine.tt, g, 100, seed=1)
    for t in (0.2, 2.0):
        ref = references.tt_gaussian_reference(fine.params, y, t, fine.norm_const)
        assert np.abs(fp.density(sol, y, t) - ref).max() < 1e-8 * ref.max()


def test_mixture_formula_gradient():
    dens = densities.random_density(3, 4, family="smooth", grid=ch.grid(-8, 8, 30, 3))
    x = np.random.default_rng(3).normal(size=(30, 3))
    p, grad = references.mixture_formula(dens.params, x, gradient=True)
    assert np.allclose(p, dens.unnormalised(x), rtol=1e-13)
    h = 1e-6
    fd = np.stack([(dens.unnormalised(x + h * e) - dens.unnormalised(x - h * e)) / (2 * h) for e in np.eye(3)], 1)
    assert np.abs(grad - fd).max() < 1e-7 * np.abs(fd).max()


# ----------------------------------------------------------------------------- the paper's family


@pytest.mark.parametrize("d", [2, 3])
def test_paper_mixture_formula_matches_the_density(d):
    dens = densities.random_density(d, 3, grid=ch.grid(-8, 8, 30, d))
    assert dens.family == "paper" and dens.kind == "mixture"
    x = np.random.default_rng(4).normal(size=(40, d))
    p, grad = references.mixture_formula(dens.params, x, gradient=True)
    p_ref, g_ref = dens.gradient(x)
    assert np.abs(p / dens.norm_const - p_ref).max() < 1e-13 * p_ref.max()
    assert np.abs(grad / dens.norm_const - g_ref).max() < 1e-13 * np.abs(g_ref).max()


def test_paper_mixture_reference_against_ou_reference_2d():
    dens = densities.random_density(2, 3, grid=ch.grid(-8, 8, 80, 2))
    x = np.random.default_rng(5).normal(size=(50, 2))
    for t in (0.1, 1.0):
        p = references.reference_density(dens, x, t)
        r = references.ou_reference(dens, t, x=x)
        assert np.abs(p - r).max() < 1e-10 * r.max()


# --- table: the references of the paper's family (densities.random_density(..., family="paper"))


def test_paper_formula_on_grid_is_the_formula_at_every_node():
    dens = densities.random_density(3, 105, grid=ch.grid(-8, 8, 12, 3))
    y = np.linspace(-3, 3, 7)
    mesh = np.stack(np.meshgrid(y, y, y, indexing="ij"), -1).reshape(-1, 3)
    got = references.paper_formula_on_grid(dens, y)
    assert got.shape == (7, 7, 7)
    np.testing.assert_allclose(got.ravel(), dens.unnormalised(mesh), rtol=1e-14, atol=0)


@pytest.mark.parametrize("t, tol", [(0.3, 1e-10), (1.0, 1e-6)])
def test_paper_mixture_reference_against_the_2d_quadrature(t, tol):
    """The box's formula, propagated by the tensor rule, against ou_reference (its own rule).

    From t = 0.5 mixture_reference's default rule (8 panels of 12 nodes) does not resolve
    the paper's steeper densities: measured 3e-7 relative at t = 1 (seed 101)."""
    dens = densities.random_density(2, 101, grid=ch.grid(-8, 8, 40, 2))
    in_box = lambda y: dens(y) * np.all(np.abs(y) <= 8.0, axis=1)  # noqa: E731
    x = np.random.default_rng(4).normal(size=(50, 2))
    p, grad = references.reference_density(dens, x, t, gradient=True)
    q, qgrad = references.ou_reference(in_box, t, x=x, with_gradient=True)
    assert np.abs(p - q).max() < tol * q.max()
    assert np.abs(grad - qgrad).max() < 10 * tol * np.abs(qgrad).max()


@pytest.mark.parametrize("t", [0.3, 1.0])
def test_interpolant_tt_reference_against_the_2d_quadrature(t):
    """Eq. (15) of the paper in d = 2: factor by factor against ou_reference of the interpolant."""
    dens = densities.paper_tt_density(2, 101, grid=ch.grid(-8, 8, 20, 2))
    x = np.random.default_rng(5).normal(size=(50, 2))
    p, grad = references.reference_density(dens, x, t, gradient=True)
    q, qgrad = references.ou_reference(dens, t, x=x, with_gradient=True)
    assert np.abs(p - q).max() < 1e-10 * np.abs(q).max()
    assert np.abs(grad - qgrad).max() < 1e-9 * np.abs(qgrad).max()


def test_paper_references_at_t0_are_the_formula():
    for dens in (
        densities.random_density(2, 102, grid=ch.grid(-8, 8, 20, 2)),
        densities.paper_tt_density(3, 102, grid=ch.grid(-8, 8, 15, 3)),
    ):
        x = np.random.default_rng(6).uniform(-2, 2, size=(10, dens.d))
        p, grad = references.reference_density(dens, x, 0.0, gradient=True)
        np.testing.assert_array_equal(p, dens(x))
        np.testing.assert_array_equal(grad, dens.gradient(x)[1])
