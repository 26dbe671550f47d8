r"""Transport costs: Table 1's metric, the exact discrete OT plan, monotonicity on a sample.

Table 1's metric (§3.4): for samples :math:`x_i \sim p_0` and their codes
:math:`E(x_i)`,

.. math:: \varepsilon_{\mathrm{rel}} = \frac{\mathrm{Cost}(E) - \mathrm{Cost}(\mathrm{OT})}
                                           {\mathrm{Cost}(\mathrm{OT})},
          \qquad \mathrm{Cost}(E) = \frac1n \sum_i \lVert x_i - E(x_i)\rVert^2,

with :math:`\mathrm{Cost}(\mathrm{OT})` the exact discrete OT cost between the two
point clouds (uniform weights), computed here with POT's network simplex
(``ot.emd``). It is zero exactly when the pairing :math:`x_i \leftrightarrow E(x_i)`
is cyclically monotone on the sample, which many maps that are not optimal satisfy.

Also here: cyclical monotonicity, displacement interpolation and the 1-D monotone
rearrangement (§3.2, App. A). The checks that can fail (Jacobian symmetry, distance to
gradient fields, rotation controls) are in :mod:`ddpm_ot_lib.optimality`, and are
importable from here too.
"""

from __future__ import annotations

import numpy as np
import ot

from . import _validate as check
from .optimality import (
    detection_threshold,
    gradient_projection,
    jacobian_asymmetry,
    map_distance,
    rotation_control,
    rotation_matrix,
    symmetric_part_min_eigenvalue,
)

__all__ = ["pairing_cost", "ot_cost", "ot_assignment", "relative_cost_error", "self_match_fraction"]


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
    x0, x1 = check.paired_points(x0, x1)
    return float(((x0 - x1) ** 2).sum(axis=1).mean())


def ot_cost(x0, x1) -> float:
    r"""Exact squared-Euclidean OT cost between two uniform point clouds (n, d) (``ot.emd``)."""
    x0, x1 = check.paired_points(x0, x1)
    return _plan(x0, x1)[2]


def ot_assignment(x0, x1) -> np.ndarray:
    r"""The optimal permutation :math:`\sigma`: ``x0[i]`` is sent to ``x1[sigma[i]]``.

    With equal uniform weights the exact OT plan is a permutation matrix (Birkhoff);
    returns an integer array (n,).
    """
    x0, x1 = check.paired_points(x0, x1)
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
    x0, x1 = check.paired_points(x0, x1)
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
    x0, x1 = check.paired_points(x0, x1)
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
    x0, x1 = check.paired_points(x0, x1)
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
    x0, x1 = check.paired_points(x0, x1)
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
    x0, x1 = check.paired_points(x0, x1)
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


__all__ += [
    "cycle_gain",
    "cyclical_monotonicity_violation",
    "best_swap",
    "displacement_interpolation",
    "kinetic_energy",
    "path_length",
    "quantile_map_1d",
]

# The checks of optimality that can fail live in ddpm_ot_lib.optimality; the chapters
# call them from here.
__all__ += [
    "jacobian_asymmetry",
    "symmetric_part_min_eigenvalue",
    "rotation_matrix",
    "rotation_control",
    "map_distance",
    "gradient_projection",
    "detection_threshold",
]
