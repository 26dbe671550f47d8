"""ddpm_ot_lib.optimality: the checks of optimality that can fail (Jacobian asymmetry,
rotation controls, projection on gradient fields, distance to a map) against closed
forms and exact identities."""

import numpy as np
import pytest

from ddpm_ot_lib import counterexamples as cx
from ddpm_ot_lib import optimality, transport

_QX, _QW = cx.quadrature_grid((-1, 1), 8, 2)  # a small rule for the bad-input calls


def test_the_checks_are_importable_from_transport():
    for name in optimality.__all__:
        assert getattr(transport, name) is getattr(optimality, name)


def test_asymmetry_of_a_rotation_is_twice_the_sine():
    for theta in [1e-6, 1e-3, 0.1, 0.5]:
        R = optimality.rotation_matrix(2, theta)
        assert optimality.jacobian_asymmetry(R[None])[0] == pytest.approx(2 * np.sin(theta), rel=1e-9)
    assert optimality.jacobian_asymmetry(np.zeros((1, 3, 3)))[0] == 0.0
    sym = np.array([[[2.0, 1.0], [1.0, 3.0]]])
    assert optimality.jacobian_asymmetry(sym)[0] == 0.0
    assert optimality.symmetric_part_min_eigenvalue(sym)[0] == pytest.approx((5 - np.sqrt(5)) / 2)


def test_rotation_control_is_orthogonal_and_rotates_the_jacobians(rng):
    z, J = rng.normal(size=(5, 3)), rng.normal(size=(5, 3, 3))
    zr, Jr = optimality.rotation_control(z, 0.3, plane=(0, 2), J=J)
    R = optimality.rotation_matrix(3, 0.3, plane=(0, 2))
    assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)
    assert np.allclose(np.linalg.norm(zr, axis=1), np.linalg.norm(z, axis=1))
    assert np.allclose(Jr, R @ J) and np.allclose(zr[:, 1], z[:, 1])


def test_gradient_projection_is_exact_for_gradients_and_sees_a_rotation_field(rng):
    # mu = N(0, I) by quadrature; a gradient field has residual ~0, the field S x + theta A x
    # has residual theta |A x| / |S x + theta A x| exactly (A x is L2(gamma)-orthogonal to gradients)
    nodes, w = cx.quadrature_grid((-8, 8), 48, 2)
    w = w * np.exp(-0.5 * (nodes**2).sum(axis=1)) / (2 * np.pi)
    grad = np.column_stack([nodes[:, 0] + 0.3 * nodes[:, 0] ** 3, 2 * nodes[:, 1] + nodes[:, 0] ** 0])
    assert optimality.gradient_projection(nodes, grad, w, (-8, 8), degree=6)["residual"] < 1e-10
    S = np.array([[2.0, 0.5], [0.5, 1.0]])
    A = np.array([[0.0, -1.0], [1.0, 0.0]])
    for theta in [1e-3, 0.1]:
        field = nodes @ (S + theta * A).T
        expected = np.sqrt((w * ((theta * nodes @ A.T) ** 2).sum(1)).sum() / (w * (field**2).sum(1)).sum())
        out = optimality.gradient_projection(nodes, field, w, (-8, 8), degree=6)
        assert out["residual"] == pytest.approx(expected, rel=1e-6)
        assert out["min_hessian_eig"] == pytest.approx(np.linalg.eigvalsh(S).min(), rel=1e-6)


def test_map_distance_and_detection_threshold():
    z = np.array([[3.0, 4.0], [0.0, 5.0]])
    assert optimality.map_distance(z, z) == 0.0
    assert optimality.map_distance(z + [0.0, 0.5], z) == pytest.approx(0.1)
    thetas = np.array([1e-3, 1e-2, 1e-1, 1.0])
    assert optimality.detection_threshold(thetas, [0.0, 5.0, 1.0, 9.0], baseline=1.0) == 1.0
    assert optimality.detection_threshold(thetas, [0.0, 5.0, 3.0, 9.0], baseline=1.0) == 1e-2
    assert optimality.detection_threshold(thetas, [0, 0, 0, 1e-13], baseline=0.0, floor=1e-12) is None
    assert optimality.detection_threshold(thetas, [3.0, 3.0, 3.0, 3.0], baseline=1.0) == 1e-3


BAD_CALLS = [
    (r"^plane must be two distinct axes", lambda: optimality.rotation_matrix(3, 0.1, plane=(1, 1))),
    (r"^d must be an integer >= 2", lambda: optimality.rotation_matrix(1, 0.1)),
    (
        r"^J must have shape \(5, 3, 3\)",
        lambda: optimality.rotation_control(np.zeros((5, 3)), 0.1, J=np.zeros((2, 3, 3))),
    ),
    (r"^J must have shape \(n, d, d\)", lambda: optimality.jacobian_asymmetry(np.zeros((3, 2)))),
    (r"^J must be finite", lambda: optimality.symmetric_part_min_eigenvalue(np.full((1, 2, 2), np.nan))),
    (r"^weights must be finite, >= 0", lambda: optimality.gradient_projection(_QX, _QX, -_QW, (-1, 1))),
    (r"^the nodes x must lie in the box", lambda: optimality.gradient_projection(_QX, _QX, _QW, (-0.5, 0.5))),
    (r"^degree must be an integer >= 2", lambda: optimality.gradient_projection(_QX, _QX, _QW, (-1, 1), degree=1)),
    (
        r"^basis must be 'tensor' or 'total'",
        lambda: optimality.gradient_projection(_QX, _QX, _QW, (-1, 1), degree=3, basis="spline"),
    ),
    (
        r"^values must have one entry per theta",
        lambda: optimality.detection_threshold([1e-3, 1e-2, 1e-1, 1.0], [1.0], baseline=0.0),
    ),
]


@pytest.mark.parametrize("pattern,call", BAD_CALLS, ids=[p for p, _ in BAD_CALLS])
def test_bad_input_names_the_argument(pattern, call):
    with pytest.raises((ValueError, TypeError), match=pattern):
        call()
