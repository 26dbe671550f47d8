"""Test beds of ddpm_ot_lib.counterexamples: exact OT maps, the Lavenant-Santambrogio
density, TT log-derivatives against closed forms, and the optimality checks on them
(E is the OT map for Gaussian, separable and radial data; not for mixtures)."""

import numpy as np
import pytest

from ddpm_ot_lib import chebyshev as cheb
from ddpm_ot_lib import counterexamples as cx
from ddpm_ot_lib import flow, gaussian, transport
from ddpm_ot_lib import fokker_planck as fp


@pytest.mark.parametrize("make", [cx.gaussian_bed, cx.separable_bed, cx.radial_bed])
def test_symmetric_beds_encoder_is_their_exact_ot_map(make):
    bed = make()
    x = bed.sample(40, 3)
    z, J = flow.encode_with_jacobian(x, bed.score, bed.hessian, t_max=20.0, rtol=1e-10)
    assert bed.exactly_ot
    assert transport.jacobian_asymmetry(J).max() < 1e-12
    assert transport.symmetric_part_min_eigenvalue(J).min() > 0
    # E(x) at T = 20 still carries mean * e^-20 (Theorem 3.1's rate); remove it
    assert transport.map_distance(z - bed.mean * np.exp(-20.0), bed.ot_map(x)) < 1e-8
    # and the asymmetry sees a rotation control of 1e-4 (about 2e-4, far above 1e-12)
    _, Jr = transport.rotation_control(z, 1e-4, J=J)
    assert np.median(transport.jacobian_asymmetry(Jr)) > 1e-4


def test_exact_ot_maps_push_the_data_to_the_standard_normal():
    from scipy.stats import kstest

    for bed in [cx.separable_bed(), cx.radial_bed()]:
        z = bed.ot_map(bed.sample(4000, 5))
        for k in range(2):
            assert kstest(z[:, k], "norm").pvalue > 1e-3


def test_mixture_encoder_is_not_a_gradient_but_table1_says_optimal():
    bed = cx.mixture_bed(2, seed=1)
    x = bed.sample(120, 0)
    z, J = flow.encode_with_jacobian(x, bed.score, bed.hessian, t_max=20.0, rtol=1e-9)
    assert np.median(transport.jacobian_asymmetry(J)) > 1e-3
    assert transport.relative_cost_error(x, z) < 1e-12


BAD_CALLS = [
    (r"^d must be an integer >= 2", lambda: cx.mixture_bed(1)),
    (r"^scales must be positive", lambda: cx.radial_bed(scales=(1.0, -1.0))),
    (r"^eps must lie in \[0, ", lambda: cx.ls_sample(5, 0.5)),
    (r"^eps must lie in \[0, ", lambda: cx.lavenant_santambrogio_bed(0.3)),
    (r"^x must have 2 columns", lambda: cx.ls_map(np.zeros((3, 3)), 0.1)),
    (r"^box must be \(a, b\) with a < b", lambda: cx.quadrature_grid((1, 0), 4, 2)),
]


@pytest.mark.parametrize("pattern,call", BAD_CALLS, ids=[p for p, _ in BAD_CALLS])
def test_beds_reject_bad_input(pattern, call):
    with pytest.raises(ValueError, match=pattern):
        call()


# ------------------------------------------------------------------ Lavenant-Santambrogio


def test_ls_potential_derivatives_match_finite_differences(rng):
    x = rng.normal(size=(9, 2)) * 1.5
    val, grad, hess = cx.ls_cutoff_potential(x, 1.0)
    h = 1e-6
    fd_grad = np.stack(
        [(cx.ls_cutoff_potential(x + h * e)[0] - cx.ls_cutoff_potential(x - h * e)[0]) / (2 * h) for e in np.eye(2)],
        axis=1,
    )
    fd_hess = np.stack([(cx.ls_map(x + h * e, 0.1) - cx.ls_map(x - h * e, 0.1)) / (2 * h) for e in np.eye(2)], axis=2)
    assert np.abs(grad - fd_grad).max() < 1e-7
    assert np.abs(cx.ls_hessian(x, 0.1) - fd_hess).max() < 1e-7
    assert np.array_equal(hess, np.swapaxes(hess, 1, 2))


def test_ls_density_is_a_probability_and_the_samples_invert_the_map():
    limit = cx.ls_convexity_limit(1.0)
    assert 0.2 < limit < 0.25
    nodes, w = cx.quadrature_grid((-8, 8), 160, 2)
    for eps in [0.0, 0.1, 0.2]:
        assert (w * cx.ls_density(nodes, eps)).sum() == pytest.approx(1.0, abs=1e-9)
        x, z = cx.ls_sample(200, eps, seed=2)
        assert np.abs(cx.ls_map(x, eps) - z).max() < 1e-12


def test_tt_log_derivatives_match_a_closed_form_mixture():
    bed = cx.mixture_bed(2, seed=0)
    w, m, c = bed.info["weights"], bed.info["means"], bed.info["covs"]
    grid = cheb.grid(-8.0, 8.0, 96, 2)
    Y = cheb.tt_cross(lambda x: np.exp(gaussian.mixture_log_density(x, 0.0, w, m, c)), grid, tol=1e-12)
    score, hessian = cx.tt_log_derivatives(fp.solve_exact(Y, grid, [0.0]))
    x = bed.sample(30, 4)
    for t in [0.3, 2.0]:
        assert np.abs(score(x, t) - gaussian.mixture_score(x, t, w, m, c)).max() < 1e-6
        assert np.abs(hessian(x, t) - gaussian.mixture_hessian(x, t, w, m, c)).max() < 1e-5
    with pytest.raises(ValueError, match=r"^x must lie in the box"):
        score(np.array([[9.0, 0.0]]), 0.5)


def test_lavenant_santambrogio_encoder_departs_from_its_exact_ot_map():
    bed = cx.lavenant_santambrogio_bed(0.15, n_grid=96)
    assert bed.info["tt_mass"] == pytest.approx(1.0, abs=1e-8)
    x = bed.sample(40, 1)
    z, J = flow.encode_with_jacobian(x, bed.score, bed.hessian, t_max=15.0, rtol=1e-8)
    assert transport.map_distance(z, bed.ot_map(x)) > 3e-4
    assert np.median(transport.jacobian_asymmetry(J)) > 3e-4
    assert transport.relative_cost_error(x, z) < 1e-12


def test_rejection_sampler_and_quadrature():
    nodes, w = cx.quadrature_grid((-1, 2), 5, 2)
    assert (w * nodes[:, 0] ** 4 * nodes[:, 1] ** 3).sum() == pytest.approx((32 + 1) / 5 * (16 - 1) / 4)
    x = cx.rejection_sample(lambda y: np.exp(-0.5 * (y**2).sum(axis=1)), 3000, (-6, 6), 2, seed=0)
    assert x.shape == (3000, 2) and abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05


def test_tt_density_derivatives_agree_with_tt_log_derivatives_in_d3():
    grid = cheb.grid(-6.0, 6.0, 24, 3)
    A = np.array([[1.0, 0.3, -0.2], [0.3, 0.8, 0.25], [-0.2, 0.25, 1.2]])
    Y = cheb.tt_cross(
        lambda x: np.exp(-0.5 * np.einsum("mi,ij,mj->m", x, A, x)) * (1.2 + np.sin(x[:, 0])), grid, tol=1e-12
    )
    sol = fp.solve_exact(Y, grid, [0.0])
    score, hessian = cx.tt_log_derivatives(sol)
    deriv = cx.tt_density_derivatives(sol)
    x = np.random.default_rng(3).normal(size=(20, 3))
    for t in [0.0, 0.7]:
        p, g, h = deriv(x, t)
        s = g / p[:, None]
        assert np.abs(s - score(x, t)).max() < 1e-9 * np.abs(s).max()
        logh = h / p[:, None, None] - np.einsum("mi,mj->mij", s, s)
        assert np.abs(logh - hessian(x, t)).max() < 1e-9 * np.abs(logh).max()
        assert np.abs(h - np.swapaxes(h, 1, 2)).max() == 0.0
    p, g, h = deriv(np.array([[7.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), 0.5)  # outside the box: p = 0
    assert p[0] == 0.0 and not np.any(g[0]) and not np.any(h[0]) and p[1] > 0
    with pytest.raises(TypeError, match="solution"):
        cx.tt_density_derivatives(Y)


def test_random_density_bed_takes_the_family():
    bed = cx.random_density_bed(2, 0, n_grid=64, family="smooth")
    assert bed.info["density"].family == "smooth" and "smooth" in bed.name
    x = bed.sample(5, 1)
    assert x.shape == (5, 2) and np.all(np.isfinite(bed.score(x, 0.5)))
    with pytest.raises(ValueError, match="family"):
        cx.random_density_bed(2, 0, family="rough")
