r"""Transport costs and the optimality checks of the book.

Table 1's metric (§3.4): for samples :math:`x_i \sim p_0` and their codes
:math:`E(x_i)`,

.. math:: \varepsilon_{\mathrm{rel}} = \frac{\mathrm{Cost}(E) - \mathrm{Cost}(\mathrm{OT})}
                                           {\mathrm{Cost}(\mathrm{OT})},
          \qquad \mathrm{Cost}(E) = \frac1n \sum_i \lVert x_i - E(x_i)\rVert^2,

with :math:`\mathrm{Cost}(\mathrm{OT})` the exact discrete OT cost between the two
point clouds (uniform weights), computed here with POT's network simplex
(``ot.emd``). It is zero exactly when the pairing :math:`x_i \leftrightarrow E(x_i)`
is cyclically monotone on the sample, which many maps that are not optimal satisfy.
"""
from __future__ import annotations

import numpy as np
import ot

from . import _validate as check

__all__ = ["pairing_cost", "ot_cost", "ot_assignment", "relative_cost_error", "self_match_fraction"]


def _pair(x0, x1):
    x0 = check.points(x0, "x0")
    x1 = check.points(x1, "x1", d=x0.shape[1])
    if x1.shape[0] != x0.shape[0]:
        raise ValueError(f"x0 and x1 must hold the same number of points, got {x0.shape[0]} and {x1.shape[0]}")
    return x0, x1


def _plan(x0, x1):
    n = x0.shape[0]
    cost = ot.dist(x0, x1, metric="sqeuclidean")
    weights = np.full(n, 1.0 / n)
    plan, log = ot.emd(weights, weights, cost, numItermax=max(100_000, 50 * n * n), log=True)
    if log["warning"] is not None:
        raise RuntimeError(f"exact OT (ot.emd) did not converge: {log['warning']}")
    return cost, plan, float(log["cost"])


def pairing_cost(x0, x1) -> float:
    r""":math:`\frac1n\sum_i \lVert x0_i - x1_i\rVert^2`, the cost of the given pairing."""
    x0, x1 = _pair(x0, x1)
    return float(((x0 - x1) ** 2).sum(axis=1).mean())


def ot_cost(x0, x1) -> float:
    r"""Exact squared-Euclidean OT cost between two uniform point clouds (n, d) (``ot.emd``)."""
    x0, x1 = _pair(x0, x1)
    return _plan(x0, x1)[2]


def ot_assignment(x0, x1) -> np.ndarray:
    r"""The optimal permutation :math:`\sigma`: ``x0[i]`` is sent to ``x1[sigma[i]]``.

    With equal uniform weights the exact OT plan is a permutation matrix (Birkhoff);
    returns an integer array (n,).
    """
    x0, x1 = _pair(x0, x1)
    return _plan(x0, x1)[1].argmax(axis=1)


def self_match_fraction(x0, x1) -> float:
    """Share of points whose exact-OT partner is their own pair: mean of ``sigma[i] == i``."""
    sigma = ot_assignment(x0, x1)
    return float(np.mean(sigma == np.arange(sigma.size)))


def relative_cost_error(x0, x1) -> float:
    r"""Table 1's :math:`\varepsilon_{\mathrm{rel}}` (§3.4) for the pairing ``x0[i] -> x1[i]``.

    Parameters
    ----------
    x0 : array (n, d)  samples of the data law
    x1 : array (n, d)  their images under the map tested (e.g. the encoder E)

    Returns
    -------
    float >= -1e-12 in exact arithmetic >= 0: (Cost(E) - Cost(OT)) / Cost(OT).
    Both costs are read off the same cost matrix, so rounding is shared.
    """
    x0, x1 = _pair(x0, x1)
    cost, _, ot_value = _plan(x0, x1)
    if ot_value <= 0:
        raise ValueError("x0 and x1 coincide: the OT cost is 0 and the relative error is undefined")
    own = float(np.trace(cost)) / x0.shape[0]
    return (own - ot_value) / ot_value


# ---------------------------------------------------------------------------
# Cyclical monotonicity, displacement interpolation and the 1-D monotone
# rearrangement (the optimal transport chapter, §3.2 and App. A).
# ---------------------------------------------------------------------------
def _permutation_cycles(sigma: np.ndarray) -> list[np.ndarray]:
    seen = np.zeros(sigma.size, dtype=bool)
    cycles = []
    for start in range(sigma.size):
        if seen[start] or sigma[start] == start:
            seen[start] = True
            continue
        cycle, i = [], start
        while not seen[i]:
            seen[i] = True
            cycle.append(i)
            i = sigma[i]
        cycles.append(np.array(cycle, dtype=int))
    return cycles


def cycle_gain(x0, x1, cycle) -> float:
    r"""How much the pairing ``x0[i] -> x1[i]`` loses on one cycle of indices.

    For a cycle :math:`(i_1, \dots, i_k)` returns

    .. math:: \sum_{j} \lVert x0_{i_j} - x1_{i_j}\rVert^2
              - \sum_{j} \lVert x0_{i_j} - x1_{i_{j+1}}\rVert^2 \qquad (i_{k+1} = i_1),

    the drop in total cost when each point of the cycle is sent to its successor's
    partner instead. The pairing is cyclically monotone when no cycle has a positive
    gain (Villani 2009, Def. 5.1, with :math:`c = \lVert\cdot\rVert^2`).

    x0, x1 : arrays (n, d); cycle : integer array (k,) of distinct indices.
    """
    x0, x1 = _pair(x0, x1)
    cycle = np.asarray(cycle, dtype=int)
    if cycle.ndim != 1 or cycle.size < 1 or np.unique(cycle).size != cycle.size:
        raise ValueError(f"cycle must be a 1-D array of distinct indices, got {cycle}")
    if cycle.min() < 0 or cycle.max() >= x0.shape[0]:
        raise ValueError(f"cycle indices must lie in [0, {x0.shape[0]}), got {cycle}")
    succ = np.roll(cycle, -1)
    own = ((x0[cycle] - x1[cycle]) ** 2).sum()
    moved = ((x0[cycle] - x1[succ]) ** 2).sum()
    return float(own - moved)


def cyclical_monotonicity_violation(x0, x1):
    r"""A cycle on which the pairing ``x0[i] -> x1[i]`` is not cyclically monotone, or none.

    With n points of equal weight, the pairing is optimal (``relative_cost_error`` is 0)
    exactly when it is cyclically monotone. The certificate: compute the exact OT
    permutation :math:`\sigma` (``ot.emd``), split it into cycles, and return the cycle
    with the largest :func:`cycle_gain`. Since the total gain over all cycles equals
    :math:`n\,(\mathrm{Cost}(pairing) - \mathrm{Cost}(OT))`, some cycle has a positive
    gain whenever the pairing is not optimal.

    Parameters
    ----------
    x0, x1 : arrays (n, d)     the pairing to test

    Returns
    -------
    cycle : integer array (k,)   indices :math:`(i_1, \dots, i_k)` of the most
                                 violating cycle of :math:`\sigma` (empty if none)
    gain : float                 its :func:`cycle_gain`; 0.0 when the pairing is
                                 cyclically monotone (up to rounding)
    """
    x0, x1 = _pair(x0, x1)
    sigma = _plan(x0, x1)[1].argmax(axis=1)
    # sigma sends x0[i] to x1[sigma[i]]; its cycles (i, sigma(i), sigma^2(i), ...) have
    # exactly the successor relation of cycle_gain (x0[i_j] -> x1[i_{j+1}])
    best, best_gain = np.array([], dtype=int), 0.0
    for cycle in _permutation_cycles(sigma):
        gain = cycle_gain(x0, x1, cycle)
        if gain > best_gain:
            best, best_gain = cycle, gain
    return best, best_gain


def best_swap(x0, x1):
    r"""The 2-cycle (i, j) with the largest :func:`cycle_gain`, by brute force over all pairs.

    Swapping partners of i and j changes the cost by
    :math:`2\langle x0_i - x0_j,\, x1_i - x1_j\rangle` (minus sign for a drop), so
    a positive gain means the pairing is not even monotone there.

    x0, x1 : arrays (n, d), n >= 2. Returns (i, j, gain) with gain a float.
    """
    x0, x1 = _pair(x0, x1)
    if x0.shape[0] < 2:
        raise ValueError("best_swap needs at least two pairs")
    g = x0 @ x1.T
    diag = g.diagonal()
    gains = -2.0 * (diag[:, None] + diag[None, :] - g - g.T)
    np.fill_diagonal(gains, -np.inf)
    i, j = np.unravel_index(np.argmax(gains), gains.shape)
    return int(i), int(j), float(gains[i, j])


def displacement_interpolation(x0, x1, s) -> np.ndarray:
    r"""McCann's displacement interpolation of the pairing ``x0[i] -> x1[i]``.

    .. math:: x_s = (1 - s)\, x0 + s\, x1, \qquad s \in [0, 1];

    applied to an optimal pairing it is the Wasserstein geodesic (Benamou–Brenier).

    x0, x1 : arrays (n, d); s : array (m,) of times in [0, 1].
    Returns array (m, n, d).
    """
    x0, x1 = _pair(x0, x1)
    s = check.times(s, "s")
    if s[-1] > 1.0:
        raise ValueError(f"s must lie in [0, 1], got maximum {s[-1]}")
    return (1.0 - s)[:, None, None] * x0[None] + s[:, None, None] * x1[None]


def _paths(paths, name="paths"):
    arr = np.asarray(paths, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (m, n, d) with m >= 2 times, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return arr


def kinetic_energy(paths, times) -> float:
    r"""Benamou–Brenier action of particle paths, discretised on their time grid.

    .. math:: \mathcal{A} = \int \frac1n \sum_i \lVert \dot x_i(t)\rVert^2\, dt
              \approx \sum_k \frac{1}{n}\sum_i
              \frac{\lVert x_i(t_{k+1}) - x_i(t_k)\rVert^2}{t_{k+1} - t_k}.

    Exact for paths that are straight with constant speed on each interval. Over
    :math:`[0, 1]` it is at least :math:`W_2^2` between the end clouds, with equality for
    the displacement interpolation of an optimal pairing (Benamou & Brenier 2000).

    paths : array (m, n, d); times : array (m,), strictly increasing.
    """
    paths = _paths(paths)
    times = check.times(times, "times")
    if times.size != paths.shape[0] or np.any(np.diff(times) <= 0):
        raise ValueError(f"times must be strictly increasing with one entry per path time ({paths.shape[0]})")
    step = ((np.diff(paths, axis=0) ** 2).sum(axis=2)).mean(axis=1)
    return float((step / np.diff(times)).sum())


def path_length(paths) -> float:
    r"""Length of particle paths in :math:`L^2`: :math:`\sum_k (\frac1n\sum_i \lVert\Delta x_i\rVert^2)^{1/2}`.

    It does not depend on how the paths are timed and is at least the :math:`W_2`
    distance between the end clouds. paths : array (m, n, d).
    """
    paths = _paths(paths)
    return float(np.sqrt(((np.diff(paths, axis=0) ** 2).sum(axis=2)).mean(axis=1)).sum())


def quantile_map_1d(x, cdf, upper_cdf=None) -> np.ndarray:
    r"""The monotone rearrangement onto N(0, 1): :math:`T(x) = \Phi^{-1}(F(x))`.

    In one dimension this increasing map is the optimal transport map from the law
    with distribution function :math:`F` to N(0, 1) (Villani 2009, Remark 2.19; Peyré &
    Cuturi 2019, Remark 2.30), for every convex cost.

    Parameters
    ----------
    x : array (n, 1)             points
    cdf : callable               ``cdf(x)`` -> F(x), shape (n,)
    upper_cdf : callable, optional
                                 ``upper_cdf(x)`` -> 1 - F(x), used where F(x) > 1/2
                                 to keep digits in the right tail

    Returns
    -------
    array (n, 1)
    """
    from scipy.special import ndtri

    x = check.points(x, "x", d=1)
    check.function(cdf, "cdf")
    f = np.asarray(cdf(x), dtype=np.float64).reshape(-1)
    if f.shape != (x.shape[0],) or np.any((f < 0) | (f > 1)) or not np.all(np.isfinite(f)):
        raise ValueError("cdf(x) must return one value in [0, 1] per point")
    z = ndtri(f)
    if upper_cdf is not None:
        check.function(upper_cdf, "upper_cdf")
        g = np.asarray(upper_cdf(x), dtype=np.float64).reshape(-1)
        right = f > 0.5
        z[right] = -ndtri(g[right])
    return z[:, None]


__all__ += ["cycle_gain", "cyclical_monotonicity_violation", "best_swap", "displacement_interpolation",
            "kinetic_energy", "path_length", "quantile_map_1d"]


# ---------------------------------------------------------------------------
# Checks of optimality that can fail (the beyond-Table-1 chapter): symmetry of the
# Jacobian, distance to gradient fields, distance to an exact OT map, and the
# rotation controls that calibrate them (Brenier 1991; Lavenant & Santambrogio 2022).
# ---------------------------------------------------------------------------
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
    z, z_ref = _pair(z, z_ref)
    den = float(np.sqrt((z_ref**2).sum(axis=1).mean()))
    if den == 0:
        raise ValueError("z_ref is identically 0: the relative distance is undefined")
    return float(np.sqrt(((z - z_ref) ** 2).sum(axis=1).mean())) / den


def _cheb_tables(u, degree):
    """Chebyshev T_0..T_K at u (m,) and their first and second u-derivatives: three arrays (m, K + 1)."""
    from numpy.polynomial import chebyshev as C

    V = C.chebvander(u, degree)
    eye = np.eye(degree + 1)
    d1 = np.zeros((degree + 1, degree + 1))
    d2 = np.zeros((degree + 1, degree + 1))
    for j in range(degree + 1):
        c1 = C.chebder(eye[j])
        c2 = C.chebder(eye[j], 2) if degree >= 2 else np.zeros(1)
        d1[j, :c1.size] = c1
        d2[j, :c2.size] = c2
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
    keep = w > w.max() * 1e-14          # rows that cannot move r by 1e-7 of itself
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
        raise ValueError(f"too few weighted nodes ({x.shape[0]}) for {len(alphas)} coefficients in d = {d}: "
                         "use more quadrature nodes or a lower degree")
    sw = np.sqrt(w)
    from scipy.linalg import lstsq

    rhs = (zs * sw[None, :, None]).reshape(zs.shape[0], -1).T
    coef = lstsq((design * sw[:, None, None]).reshape(-1, len(alphas)), rhs,
                 lapack_driver="gelsy", cond=1e-13)[0]                        # (n_basis, k)
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


__all__ += ["jacobian_asymmetry", "symmetric_part_min_eigenvalue", "rotation_matrix", "rotation_control",
            "map_distance", "gradient_projection", "detection_threshold"]
