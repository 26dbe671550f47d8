r"""Checks of optimality that can fail (the beyond-Table-1 chapter).

Table 1's :math:`\varepsilon_\mathrm{rel}` (:mod:`ddpm_ot_lib.transport`) vanishes for
every pairing that is cyclically monotone on the sample. The checks here test the map
itself: by Brenier's theorem (Brenier 1991) the OT map of an absolutely continuous law
is the gradient of a convex potential, so its Jacobian is symmetric positive
semi-definite (:func:`jacobian_asymmetry`, :func:`symmetric_part_min_eigenvalue`) and
it is a gradient field (:func:`gradient_projection`: the distance to the nearest
gradient field in :math:`L^2(\mu)`); where the OT map is known, :func:`map_distance`
measures the distance to it. The rotation controls (:func:`rotation_matrix`,
:func:`rotation_control`, :func:`detection_threshold`) calibrate each check: a map
composed with a rotation by θ is not optimal for θ ≠ 0, and the smallest θ a check
detects is its resolution (Lavenant & Santambrogio 2022 for a non-optimal encoder).

These names are importable from :mod:`ddpm_ot_lib.transport` too, where the chapters
call them.
"""

from __future__ import annotations

import numpy as np

from . import _validate as check
from . import chebyshev as cheb

__all__ = [
    "jacobian_asymmetry",
    "symmetric_part_min_eigenvalue",
    "rotation_matrix",
    "rotation_control",
    "map_distance",
    "gradient_projection",
    "detection_threshold",
]


def _jacobians(J, name="J") -> np.ndarray:
    arr = np.asarray(J, dtype=np.float64) if not isinstance(J, np.ndarray) else J.astype(np.float64, copy=False)
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] != arr.shape[2] or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, d, d) (one d x d Jacobian per point), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return arr


def jacobian_asymmetry(J) -> np.ndarray:
    r"""Relative asymmetry of Jacobians: :math:`\lVert J - J^{\mathsf T}\rVert_F / \lVert J\rVert_F` per point.

    An optimal transport map for the quadratic cost is the gradient of a convex
    function (Brenier 1991), so where it is differentiable its Jacobian is a Hessian:
    symmetric. A non-zero value at any point proves that the map is not a gradient,
    hence not the OT map (whatever its transport cost on a sample says).
    For a rotation :math:`R_\theta` composed with a symmetric J close to the identity
    the value is about :math:`2|\theta|`.

    J : array (n, d, d). Returns array (n,) (0 for a zero matrix).
    """
    J = _jacobians(J)
    num = np.linalg.norm(J - np.swapaxes(J, 1, 2), axis=(1, 2))
    den = np.linalg.norm(J, axis=(1, 2))
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def symmetric_part_min_eigenvalue(J) -> np.ndarray:
    r"""Smallest eigenvalue of :math:`\tfrac12(J + J^{\mathsf T})` per point, array (n,).

    The Hessian of a convex potential is positive semi-definite; a negative value
    means the map is not monotone at that point. J : array (n, d, d).
    """
    J = _jacobians(J)
    return np.linalg.eigvalsh(0.5 * (J + np.swapaxes(J, 1, 2)))[:, 0]


def rotation_matrix(d: int, theta: float, plane=(0, 1)) -> np.ndarray:
    r"""The rotation :math:`R_\theta` (d, d) by angle ``theta`` in the coordinate plane ``plane`` = (i, j)."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2 (a rotation needs a plane), got {d!r}")
    theta = float(np.asarray(theta, dtype=np.float64))
    if not np.isfinite(theta):
        raise ValueError(f"theta must be a finite angle, got {theta}")
    i, j = (int(k) for k in plane)
    if i == j or not (0 <= i < d and 0 <= j < d):
        raise ValueError(f"plane must be two distinct axes in [0, {d}), got {plane}")
    R = np.eye(d)
    c, s = np.cos(theta), np.sin(theta)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


def rotation_control(z, theta: float, plane=(0, 1), J=None):
    r"""The control map :math:`R_\theta \circ E`: codes ``z`` rotated by θ about the origin.

    The origin is the mean of the target N(0, I), which every rotation leaves
    invariant, so :math:`R_\theta \circ E` pushes the data law to N(0, I) exactly as E does:
    it is a transport map, but not the optimal one unless θ = 0 (it is no longer a
    gradient: its Jacobian is :math:`R_\theta\,DE`). A check of optimality should see it.

    z : array (n, d) codes E(x); J : optional array (n, d, d) of Jacobians DE(x).
    Returns the rotated codes (n, d), and with J also :math:`R_\theta J` (n, d, d).
    """
    z = check.points(z, "z")
    R = rotation_matrix(z.shape[1], theta, plane)
    if J is None:
        return z @ R.T
    J = _jacobians(J)
    if J.shape != (z.shape[0], z.shape[1], z.shape[1]):
        raise ValueError(f"J must have shape {(z.shape[0], z.shape[1], z.shape[1])}, got {J.shape}")
    return z @ R.T, np.matmul(R, J)


def map_distance(z, z_ref) -> float:
    r"""Relative :math:`L^2(\mu_n)` distance between two maps sampled at the same points.

    .. math:: \frac{\bigl(\frac1n\sum_i \lVert z_i - z^{ref}_i\rVert^2\bigr)^{1/2}}
                   {\bigl(\frac1n\sum_i \lVert z^{ref}_i\rVert^2\bigr)^{1/2}},

    e.g. ``z = E(x)`` and ``z_ref`` the exact OT map at the same x. Linear in the
    departure (a cost gap is quadratic in it). z, z_ref : arrays (n, d).
    """
    z, z_ref = check.paired_points(z, z_ref)
    den = float(np.sqrt((z_ref**2).sum(axis=1).mean()))
    if den == 0:
        raise ValueError("z_ref is identically 0: the relative distance is undefined")
    return float(np.sqrt(((z - z_ref) ** 2).sum(axis=1).mean())) / den


def _cheb_tables(u, degree):
    """Chebyshev T_0..T_K at u (m,) and their first and second u-derivatives: three arrays (m, K + 1)."""
    from numpy.polynomial import chebyshev as C

    V = cheb.chebyshev_basis(u, degree + 1).T  # the library's one basis (= C.chebvander)
    eye = np.eye(degree + 1)
    d1 = np.zeros((degree + 1, degree + 1))
    d2 = np.zeros((degree + 1, degree + 1))
    for j in range(degree + 1):
        c1 = C.chebder(eye[j])
        c2 = C.chebder(eye[j], 2) if degree >= 2 else np.zeros(1)
        d1[j, : c1.size] = c1
        d2[j, : c2.size] = c2
    return V, V @ d1.T, V @ d2.T


def _index_set(d, degree, basis):
    import itertools

    if basis == "tensor":
        keep = lambda a: max(a) >= 1  # noqa: E731
    elif basis == "total":
        keep = lambda a: 1 <= sum(a) <= degree  # noqa: E731
    else:
        raise ValueError(f"basis must be 'tensor' or 'total', got {basis!r}")
    return np.array([a for a in itertools.product(range(degree + 1), repeat=d) if keep(a)])


def gradient_projection(x, z, weights, box, degree: int = 24, basis: str = "tensor", mask=None) -> dict:
    r"""Distance from a map to the nearest gradient field in :math:`L^2(\mu)`, by quadrature.

    Weighted least squares over the coefficients of a polynomial potential
    :math:`\varphi(x) = \sum_\alpha c_\alpha T_\alpha(x)` (tensor Chebyshev polynomials of the box
    :math:`[a, b]^d`, degree <= K per axis, or total degree <= K):

    .. math:: r = \min_c \frac{\bigl(\sum_g \omega_g \lVert z_g - \nabla\varphi(x_g)\rVert^2\bigr)^{1/2}}
                             {\bigl(\sum_g \omega_g \lVert z_g\rVert^2\bigr)^{1/2}}

    with :math:`x_g, \omega_g` a quadrature rule for :math:`\mu` (e.g. Gauss–Legendre nodes
    and weights times :math:`p_0(x_g)`) and :math:`z_g = E(x_g)`. As K grows, r decreases
    to :math:`\min_\varphi \lVert E - \nabla\varphi\rVert_{L^2(\mu)} / \lVert E\rVert_{L^2(\mu)}` over all
    potentials: 0 for a gradient field (spectrally fast for a smooth one), and a
    positive plateau for a map with curl. By Brenier's theorem the OT map to N(0, I)
    is a gradient, so the plateau is a lower bound on the relative distance
    :math:`\lVert E - T_{OT}\rVert_{L^2(\mu)} / \lVert E\rVert_{L^2(\mu)}` (on the box) —
    computed from values of E only, no OT solver and no Hessian of :math:`\log p_t`.

    Parameters
    ----------
    x : array (m, d)        quadrature nodes inside the box
    z : array (m, d)        the map's values at the nodes; or (k, m, d) for k maps at once
                            (one factorisation; the results are then arrays (k,))
    weights : array (m,)    quadrature weights of :math:`\mu` (>= 0, not all 0)
    box : (a, b)            the cube :math:`[a, b]^d` holding the nodes
    degree : int >= 2       K
    basis : str             "tensor" (degree <= K in each variable) or "total"
    mask : bool array (m,)  nodes at which to report the convexity of the fitted potential
                            (default: weight >= 1e-6 times the largest)

    Returns
    -------
    dict: 'residual' r; 'min_hessian_eig' the smallest eigenvalue of :math:`\nabla^2\hat\varphi`
    over the masked nodes (>= 0 where the fitted potential is convex); 'n_basis'; 'degree'.
    """
    x = check.points(x, "x")
    zs = np.asarray(z, dtype=np.float64)
    many = zs.ndim == 3
    zs = zs if many else zs[None]
    if zs.ndim != 3 or zs.shape[1:] != x.shape or not np.all(np.isfinite(zs)):
        raise ValueError(f"z must be finite with shape {x.shape} like x (or (k,) + that for k maps), got {np.shape(z)}")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (x.shape[0],) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"weights must be finite, >= 0, not all 0, one per node ({x.shape[0]}), got shape {w.shape}")
    a, b = (float(v) for v in box)
    if not a < b:
        raise ValueError(f"box must be (a, b) with a < b, got {box}")
    if np.any(x < a - 1e-12 * (b - a)) or np.any(x > b + 1e-12 * (b - a)):
        raise ValueError(f"the nodes x must lie in the box [{a}, {b}]^d")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 2:
        raise ValueError(f"degree must be an integer >= 2, got {degree!r}")
    m, d = x.shape
    K = int(degree)
    alphas = _index_set(d, K, basis)
    keep = w > w.max() * 1e-14  # rows that cannot move r by 1e-7 of itself
    x, zs, w = x[keep], zs[:, keep], w[keep]
    scale = 2.0 / (b - a)
    tabs = [_cheb_tables((2.0 * x[:, k] - a - b) / (b - a), K) for k in range(d)]
    design = np.empty((x.shape[0], d, len(alphas)))
    for g in range(d):
        col = np.ones((x.shape[0], len(alphas)))
        for k in range(d):
            col *= tabs[k][1 if k == g else 0][:, alphas[:, k]]
        design[:, g] = scale * col
    if x.shape[0] * d < 2 * len(alphas):
        raise ValueError(
            f"too few weighted nodes ({x.shape[0]}) for {len(alphas)} coefficients in d = {d}: "
            "use more quadrature nodes or a lower degree"
        )
    sw = np.sqrt(w)
    from scipy.linalg import lstsq

    rhs = (zs * sw[None, :, None]).reshape(zs.shape[0], -1).T
    coef = lstsq((design * sw[:, None, None]).reshape(-1, len(alphas)), rhs, lapack_driver="gelsy", cond=1e-13)[
        0
    ]  # (n_basis, k)
    res = zs - np.einsum("mgj,jk->kmg", design, coef)
    r = np.sqrt((w * (res**2).sum(axis=2)).sum(axis=1) / (w * (zs**2).sum(axis=2)).sum(axis=1))
    sel = (w >= 1e-6 * w.max()) if mask is None else np.asarray(mask, dtype=bool)[keep]
    hess = np.empty((coef.shape[1], int(sel.sum()), d, d))
    for g in range(d):
        for q in range(g, d):
            col = np.ones((int(sel.sum()), len(alphas)))
            for k in range(d):
                col *= tabs[k][(k == g) + (k == q)][sel][:, alphas[:, k]]
            hess[:, :, g, q] = hess[:, :, q, g] = scale**2 * (col @ coef).T
    lam = np.linalg.eigvalsh(hess)[:, :, 0].min(axis=1) if sel.any() else np.full(coef.shape[1], np.nan)
    if many:
        return {"residual": r, "min_hessian_eig": lam, "n_basis": int(len(alphas)), "degree": K}
    return {"residual": float(r[0]), "min_hessian_eig": float(lam[0]), "n_basis": int(len(alphas)), "degree": K}


def detection_threshold(thetas, values, baseline: float, factor: float = 2.0, floor: float = 0.0):
    r"""Smallest control angle θ that a check detects, or None.

    A check detects θ when its value for :math:`R_\theta\circ E` exceeds
    ``max(factor * baseline, floor)`` — ``baseline`` its value for E itself (θ = 0),
    ``floor`` the level it cannot resolve (e.g. 1e-12 for :func:`relative_cost_error`,
    which is 0 up to rounding). Returns the smallest θ of the grid from which on every
    larger θ is detected too.

    thetas : increasing array (m,) of angles > 0; values : array (m,).
    """
    thetas = check.times(thetas, "thetas")
    values = np.asarray(values, dtype=np.float64)
    if values.shape != thetas.shape:
        raise ValueError(f"values must have one entry per theta ({thetas.size}), got shape {values.shape}")
    level = max(float(factor) * float(baseline), float(floor))
    seen = values > level
    if not seen[-1]:
        return None
    k = thetas.size - 1
    while k > 0 and seen[k - 1]:
        k -= 1
    return float(thetas[k])
