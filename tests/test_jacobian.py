"""The variational equation (flow.encode_with_jacobian), the mixture Hessian
(gaussian.mixture_hessian) and the optimality checks of transport that use them:
against finite differences, closed forms and exact identities."""
import numpy as np
import pytest

from ddpm_ot_lib import counterexamples as cx
from ddpm_ot_lib import flow, gaussian, transport
from tests.conftest import random_spd


def _mixture(rng, d, k=3):
    w = rng.dirichlet(np.ones(k) * 2)
    m = rng.uniform(-2, 2, size=(k, d))
    covs = np.stack([random_spd(rng, d, spread=3.0) for _ in range(k)])
    return w, m, covs


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("t", [0.0, 0.4, 3.0])
def test_mixture_hessian_matches_finite_differences_of_the_score(rng, d, t):
    w, m, covs = _mixture(rng, d)
    x = rng.normal(size=(7, d)) * 2
    h = 1e-5
    fd = np.stack([(gaussian.mixture_score(x + h * e, t, w, m, covs)
                    - gaussian.mixture_score(x - h * e, t, w, m, covs)) / (2 * h) for e in np.eye(d)], axis=2)
    hess = gaussian.mixture_hessian(x, t, w, m, covs)
    assert hess.shape == (7, d, d)
    assert np.array_equal(hess, np.swapaxes(hess, 1, 2))
    assert np.abs(hess - fd).max() < 1e-7 * max(1.0, np.abs(hess).max())


def test_mixture_hessian_of_one_component_is_minus_the_precision(rng):
    cov = random_spd(rng, 3)
    x = rng.normal(size=(4, 3))
    hess = gaussian.mixture_hessian(x, 0.7, [1.0], np.zeros((1, 3)), cov[None])
    cov_t = gaussian.marginal(np.zeros(3), cov, 0.7)[1]
    assert np.allclose(hess, -np.linalg.inv(cov_t)[None], atol=1e-12)


def test_variational_jacobian_matches_finite_differences_of_the_flow(rng):
    w, m, covs = _mixture(rng, 2)
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
    z, J = flow.encode_with_jacobian(x, lambda y, t: gaussian.score(y, t, a, cov),
                                     lambda y, t: np.broadcast_to(-np.linalg.inv(gaussian.marginal(a, cov, t)[1]),
                                                                  (y.shape[0], 3, 3)), t_max=20.0)
    assert np.abs(J - gaussian.inv_sqrtm(cov)).max() < 1e-8
    assert transport.jacobian_asymmetry(J).max() < 1e-9
    assert transport.symmetric_part_min_eigenvalue(J) == pytest.approx(
        np.full(5, np.linalg.eigvalsh(gaussian.inv_sqrtm(cov)).min()), rel=1e-7)


def test_t_eval_returns_trajectories_and_starts_at_the_identity(rng):
    bed = cx.gaussian_bed()
    x = bed.sample(4, 0)
    zs, Js = flow.encode_with_jacobian(x, bed.score, bed.hessian, t_max=2.0, t_eval=[0.0, 1.0, 2.0])
    assert zs.shape == (3, 4, 2) and Js.shape == (3, 4, 2, 2)
    assert np.array_equal(zs[0], x) and np.array_equal(Js[0], np.broadcast_to(np.eye(2), (4, 2, 2)))


def test_encode_with_jacobian_rejects_bad_input():
    x = np.zeros((3, 2))
    good = lambda y, t: -y  # noqa: E731
    hess = lambda y, t: np.broadcast_to(-np.eye(2), (y.shape[0], 2, 2))  # noqa: E731
    with pytest.raises(TypeError, match="hessian"):
        flow.encode_with_jacobian(x, good, "not callable")
    with pytest.raises(ValueError, match="hessian"):
        flow.encode_with_jacobian(x, good, lambda y, t: np.zeros((y.shape[0], 2)))
    with pytest.raises(ValueError, match="x"):
        flow.encode_with_jacobian(np.full((3, 2), np.nan), good, hess)
    with pytest.raises(ValueError, match="t_eval"):
        flow.encode_with_jacobian(x, good, hess, t_max=1.0, t_eval=[0.0, 2.0])


# ------------------------------------------------------------------ the checks

def test_asymmetry_of_a_rotation_is_twice_the_sine():
    for theta in [1e-6, 1e-3, 0.1, 0.5]:
        R = transport.rotation_matrix(2, theta)
        assert transport.jacobian_asymmetry(R[None])[0] == pytest.approx(2 * np.sin(theta), rel=1e-9)
    assert transport.jacobian_asymmetry(np.zeros((1, 3, 3)))[0] == 0.0
    sym = np.array([[[2.0, 1.0], [1.0, 3.0]]])
    assert transport.jacobian_asymmetry(sym)[0] == 0.0
    assert transport.symmetric_part_min_eigenvalue(sym)[0] == pytest.approx((5 - np.sqrt(5)) / 2)


def test_rotation_control_is_orthogonal_and_rotates_the_jacobians(rng):
    z, J = rng.normal(size=(5, 3)), rng.normal(size=(5, 3, 3))
    zr, Jr = transport.rotation_control(z, 0.3, plane=(0, 2), J=J)
    R = transport.rotation_matrix(3, 0.3, plane=(0, 2))
    assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)
    assert np.allclose(np.linalg.norm(zr, axis=1), np.linalg.norm(z, axis=1))
    assert np.allclose(Jr, R @ J) and np.allclose(zr[:, 1], z[:, 1])
    with pytest.raises(ValueError, match="plane"):
        transport.rotation_matrix(3, 0.1, plane=(1, 1))
    with pytest.raises(ValueError, match="d must"):
        transport.rotation_matrix(1, 0.1)
    with pytest.raises(ValueError, match="J must"):
        transport.rotation_control(z, 0.1, J=J[:2])


def test_jacobian_checks_reject_bad_input():
    with pytest.raises(ValueError, match="shape"):
        transport.jacobian_asymmetry(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        transport.symmetric_part_min_eigenvalue(np.full((1, 2, 2), np.nan))


def test_gradient_projection_is_exact_for_gradients_and_sees_a_rotation_field(rng):
    # mu = N(0, I) by quadrature; a gradient field has residual ~0, the field S x + theta A x
    # has residual theta |A x| / |S x + theta A x| exactly (A x is L2(gamma)-orthogonal to gradients)
    nodes, w = cx.quadrature_grid((-8, 8), 48, 2)
    w = w * np.exp(-0.5 * (nodes**2).sum(axis=1)) / (2 * np.pi)
    grad = np.column_stack([nodes[:, 0] + 0.3 * nodes[:, 0] ** 3, 2 * nodes[:, 1] + nodes[:, 0] ** 0])
    assert transport.gradient_projection(nodes, grad, w, (-8, 8), degree=6)["residual"] < 1e-10
    S = np.array([[2.0, 0.5], [0.5, 1.0]])
    A = np.array([[0.0, -1.0], [1.0, 0.0]])
    for theta in [1e-3, 0.1]:
        field = nodes @ (S + theta * A).T
        expected = np.sqrt((w * ((theta * nodes @ A.T) ** 2).sum(1)).sum() / (w * (field**2).sum(1)).sum())
        out = transport.gradient_projection(nodes, field, w, (-8, 8), degree=6)
        assert out["residual"] == pytest.approx(expected, rel=1e-6)
        assert out["min_hessian_eig"] == pytest.approx(np.linalg.eigvalsh(S).min(), rel=1e-6)


def test_gradient_projection_rejects_bad_input():
    x, w = cx.quadrature_grid((-1, 1), 8, 2)
    with pytest.raises(ValueError, match="weights"):
        transport.gradient_projection(x, x, -w, (-1, 1))
    with pytest.raises(ValueError, match="box"):
        transport.gradient_projection(x, x, w, (-0.5, 0.5))
    with pytest.raises(ValueError, match="degree"):
        transport.gradient_projection(x, x, w, (-1, 1), degree=1)
    with pytest.raises(ValueError, match="basis"):
        transport.gradient_projection(x, x, w, (-1, 1), degree=3, basis="spline")


def test_map_distance_and_detection_threshold():
    z = np.array([[3.0, 4.0], [0.0, 5.0]])
    assert transport.map_distance(z, z) == 0.0
    assert transport.map_distance(z + [0.0, 0.5], z) == pytest.approx(0.1)
    thetas = np.array([1e-3, 1e-2, 1e-1, 1.0])
    assert transport.detection_threshold(thetas, [0.0, 5.0, 1.0, 9.0], baseline=1.0) == 1.0
    assert transport.detection_threshold(thetas, [0.0, 5.0, 3.0, 9.0], baseline=1.0) == 1e-2
    assert transport.detection_threshold(thetas, [0, 0, 0, 1e-13], baseline=0.0, floor=1e-12) is None
    assert transport.detection_threshold(thetas, [3.0, 3.0, 3.0, 3.0], baseline=1.0) == 1e-3
    with pytest.raises(ValueError, match="values"):
        transport.detection_threshold(thetas, [1.0], baseline=0.0)
