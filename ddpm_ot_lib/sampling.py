r"""Exact sampling from a density given as a tensor train on a Chebyshev grid (§3.4).

A TT ``Y = [G1, ..., Gd]`` of nodal values on the Chebyshev grid of
:mod:`ddpm_ot_lib.chebyshev` defines a polynomial interpolant :math:`\tilde p` of degree
n − 1 in each variable. In the Chebyshev basis, with :math:`\hat x = (2x - a - b)/(b - a)`,

.. math::  \tilde p(x) = \sum_{j_1, \dots, j_d} C_1[j_1] \cdots C_d[j_d]\,
           T_{j_1}(\hat x_1) \cdots T_{j_d}(\hat x_d),

where :math:`C_k[j]` is an :math:`r_{k-1} \times r_k` matrix, the DCT of the core
:math:`G_k` along its node axis (:func:`ddpm_ot_lib.chebyshev.values_to_coefficients`).
This module draws **continuous** samples from :math:`\tilde p` (not grid nodes: the
paper's code drew distinct grid nodes with weight Y, which is a discrete law) by the
chain rule, one coordinate after the other (conditional inverse-CDF sampling):

1. **Marginalise the trailing coordinates exactly.** :math:`\int_{-1}^{1} T_j = 2/(1 - j^2)`
   for even j and 0 for odd j, so integrating core k gives the matrix
   :math:`M_k = \sum_j C_k[j] \int T_j`, and the suffix vectors
   :math:`R_k = M_{k+1} \cdots M_d` marginalise coordinates k + 1, ..., d.
2. **Condition on the coordinates already drawn.** Each sample carries a left vector
   :math:`\ell = C_1(x_1) \cdots C_{k-1}(x_{k-1})` (row, rescaled to avoid under/overflow;
   scaling does not change a conditional law), and the conditional density of
   :math:`x_k` is the 1-D Chebyshev series :math:`f(\hat x) = \sum_j (\ell\, C_k[j]\, R_k)\, T_j(\hat x)`.
3. **Invert its CDF.** The CDF of a Chebyshev series is a Chebyshev series
   (``numpy.polynomial.chebyshev.chebint``). :math:`F(\hat x) = u\, F(1)`, u uniform, is
   solved for all samples at once: a table of ``table`` points brackets the first
   crossing, then safeguarded Newton steps (bisection when Newton leaves the bracket)
   converge to rounding.

The draws are exact for :math:`\tilde p` wherever :math:`\tilde p \ge 0`. An interpolant
of a positive density may dip below zero by rounding-level amounts in the far tails;
there the CDF is not monotone, and the bracketing search returns a point of the first
table interval where F crosses the target. The law drawn then differs from that of
:math:`\max(\tilde p, 0)` (normalised) by at most the negative mass in total variation.
:func:`tt_sample` measures that mass on the table (``info['negative_mass']``: the largest,
over samples and coordinates, of :math:`\int \max(-f, 0) / \int f` by the trapezoidal
rule on the table points) and reports it; nothing is clipped silently.

:func:`tt_marginal` evaluates exact 1-D marginals of :math:`\tilde p` (for goodness-of-fit
tests), and :func:`grid_node_sample` reproduces the paper's node sampler for comparison.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import chebyshev as npcheb

from . import _validate as check
from . import chebyshev as cheb

__all__ = ["tt_coefficients", "tt_sample", "tt_marginal", "tt_marginal_cdf", "grid_node_sample"]

_CHUNK = 8192  # samples per block (bounds the (block, table) arrays of the inverse-CDF search)


# --------------------------------------------------------------------------- helpers


def _check(Y, grid):
    if not isinstance(grid, cheb.Grid):
        raise TypeError(f"grid must be a chebyshev.Grid (use chebyshev.grid(a, b, n, d)), got {type(grid).__name__}")
    cores = check.tt(Y, "Y", grid)  # TypeError / ValueError for a malformed TT or the wrong grid
    if not all(np.all(np.isfinite(G)) for G in cores):
        raise ValueError("Y must be finite; a core contains NaN or inf")
    return cores


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _moments(n):
    r""":math:`\int_{-1}^{1} T_j(s)\,ds` for j < n: 2/(1 - j^2) for even j, 0 for odd j."""
    j = np.arange(n)
    mom = np.zeros(n)
    even = j % 2 == 0
    mom[even] = 2.0 / (1.0 - j[even].astype(float) ** 2)
    return mom


def tt_coefficients(Y, grid) -> list:
    r"""Chebyshev coefficients of each core: list of arrays (n, r_{k-1}, r_k).

    ``C[k][j]`` is the matrix multiplying :math:`T_j(\hat x_k)` in the expansion of the
    interpolant of Y (module docstring); the DCT-I of the core along its node axis.
    """
    cores = _check(Y, grid)
    return [cheb.values_to_coefficients(G.transpose(1, 0, 2)) for G in cores]


def _suffixes(coefs):
    """R[k] (r_k,): the coordinates k+1..d integrated out (over [-1, 1], unscaled)."""
    d = len(coefs)
    mom = _moments(coefs[0].shape[0])
    R = [None] * d
    v = np.ones(1)
    for k in range(d - 1, -1, -1):
        R[k] = v
        v = np.einsum("j,jrs,s->r", mom, coefs[k], v)
    return R, float(v.item())


def _basis(s, n):
    """T_j(s) for j < n at the points s (m,) in [-1, 1] -> (m, n) (chebyshev.chebyshev_basis)."""
    return cheb.chebyshev_basis(np.clip(s, -1.0, 1.0), n).T


def _series(coef, s):
    """Row-wise Chebyshev series: sum_j coef[m, j] T_j(s[m]) -> (m,)."""
    return np.einsum("mj,mj->m", coef, _basis(s, coef.shape[1]))


# --------------------------------------------------------------------------- sampling


def _invert_cdf(a, u, table, tol, max_iter):
    """Solve F(s) = u F(1) for each row of the conditional series a (m, n); s in [-1, 1].

    Returns s (m,), the measured negative mass (max over rows), iterations used.
    """
    m, n = a.shape
    b = npcheb.chebint(a, lbnd=-1.0, axis=1)  # CDF coefficients (m, n + 1)
    total = b.sum(axis=1)  # F(1): T_j(1) = 1
    if not np.all(total > 0):
        raise ValueError(
            "a conditional density of the TT interpolant has mass <= 0: Y is not a density "
            f"(smallest conditional mass {total.min():.3g})"
        )
    target = u * total
    grid_s = np.linspace(-1.0, 1.0, table)
    Tb = _basis(grid_s, n + 1)
    Fb = b @ Tb.T  # (m, table) CDF on the table
    fb = a @ Tb[:, :n].T  # (m, table) density on the table
    neg = np.maximum(-fb, 0.0)
    neg_mass = float((np.trapezoid(neg, grid_s, axis=1) / total).max())
    # first table interval where F reaches the target: F(lo) < target <= F(hi)
    reached = Fb >= target[:, None]
    reached[:, -1] = True
    i_hi = np.argmax(reached, axis=1)
    i_hi = np.maximum(i_hi, 1)
    lo, hi = grid_s[i_hi - 1].copy(), grid_s[i_hi].copy()
    F_lo, F_hi = Fb[np.arange(m), i_hi - 1], Fb[np.arange(m), i_hi]
    # start from the secant point of the bracket
    span = np.where(F_hi > F_lo, F_hi - F_lo, 1.0)
    s = np.clip(lo + (target - F_lo) / span * (hi - lo), lo, hi)
    active = np.ones(m, dtype=bool)
    it = 0
    for it in range(1, max_iter + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sa = s[idx]
        basis = _basis(sa, n + 1)
        F = np.einsum("mj,mj->m", b[idx], basis) - target[idx]
        f = np.einsum("mj,mj->m", a[idx], basis[:, :n])
        below = F < 0
        lo[idx] = np.where(below, sa, lo[idx])
        hi[idx] = np.where(below, hi[idx], sa)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = sa - F / f
        ok = (f > 0) & (newton > lo[idx]) & (newton < hi[idx])
        s_new = np.where(ok, newton, 0.5 * (lo[idx] + hi[idx]))
        done = (np.abs(F) <= tol * total[idx]) | (hi[idx] - lo[idx] <= 4 * np.finfo(float).eps)
        s[idx] = np.where(done, sa, s_new)
        active[idx[done]] = False
    if active.any():
        raise RuntimeError(
            f"inverse-CDF sampling did not converge for {int(active.sum())} sample(s) in {max_iter} iterations"
        )
    return s, neg_mass, it


def tt_sample(
    Y, grid, n: int, seed=0, table: int = 257, tol: float = 1e-14, max_iter: int = 100, info: dict | None = None
) -> np.ndarray:
    r"""Draw n continuous samples from the density interpolated by the TT Y (conditional inverse CDF).

    Parameters
    ----------
    Y : TT                 list of d cores (r_{k-1}, n_grid, r_k): nodal values of a density
                           (not necessarily normalised) on ``grid``
    grid : chebyshev.Grid  the Chebyshev grid of Y (box :math:`[a, b]^d`)
    n : int                number of samples
    seed : int or Generator  the random stream (one uniform per sample and coordinate)
    table : int            points of the bracketing table per conditional (odd, >= 17)
    tol : float            stop when :math:`|F(\hat x) - u F(1)| \le` tol · F(1)
    max_iter : int         safeguarded-Newton iterations per coordinate at most
    info : dict, optional  filled with ``negative_mass`` (measured, see module docstring),
                           ``mass`` (the integral of the interpolant over the box) and
                           ``iterations`` (largest number of Newton iterations used)

    Returns
    -------
    array (n, d) of points in the box, distributed with density proportional to the
    interpolant of Y (exactly, up to rounding, where it is >= 0).
    """
    cores = _check(Y, grid)
    n = check.count(n, "n")
    table = check.count(table, "table")
    if table < 17:
        raise ValueError(f"table must be >= 17, got {table}")
    rng = _rng(seed)
    coefs = [cheb.values_to_coefficients(G.transpose(1, 0, 2)) for G in cores]
    R, total = _suffixes(coefs)
    if not total > 0:
        raise ValueError(f"the integral of the TT interpolant is {total:.3g} <= 0: Y is not a density")
    ng = grid.n
    left = np.ones((n, 1))
    out = np.empty((n, grid.d))
    neg_mass, iters = 0.0, 0
    for k, C in enumerate(coefs):
        A = np.einsum("jrs,s->jr", C, R[k])  # (n_grid, r_{k-1})
        u = rng.random(n)
        r1, r2 = C.shape[1], C.shape[2]
        new_left = np.empty((n, r2))
        for c in range(0, n, _CHUNK):  # bounded memory: (chunk, table) arrays
            sl = slice(c, c + _CHUNK)
            a = left[sl] @ A.T  # conditional series (chunk, n_grid)
            s, neg, it = _invert_cdf(a, u[sl], table, tol, max_iter)
            neg_mass, iters = max(neg_mass, neg), max(iters, it)
            out[sl, k] = grid.a + 0.5 * (grid.b - grid.a) * (s + 1.0)
            if k < grid.d - 1:
                T = _basis(s, ng)  # (chunk, n_grid)
                W = (T @ C.reshape(ng, r1 * r2)).reshape(-1, r1, r2)
                nl = (left[sl][:, None, :] @ W)[:, 0, :]
                scale = np.abs(nl).max(axis=1, keepdims=True)
                new_left[sl] = nl / np.where(scale > 0, scale, 1.0)
        left = new_left
    if info is not None:
        info.update(
            {"negative_mass": neg_mass, "mass": total * (0.5 * (grid.b - grid.a)) ** grid.d, "iterations": iters}
        )
    return out


# --------------------------------------------------------------------------- marginals


def _marginal_series(Y, grid, k):
    """Chebyshev coefficients (n,) of the k-th 1-D marginal of the interpolant (in s = x-hat)."""
    cores = _check(Y, grid)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < grid.d:
        raise ValueError(f"k must be a coordinate index in [0, {grid.d - 1}], got {k!r}")
    coefs = [cheb.values_to_coefficients(G.transpose(1, 0, 2)) for G in cores]
    mom = _moments(grid.n)
    left = np.ones(1)
    for C in coefs[:k]:
        left = left @ np.einsum("j,jrs->rs", mom, C)
    right = np.ones(1)
    for C in coefs[k + 1 :][::-1]:
        right = np.einsum("j,jrs,s->r", mom, C, right)
    half = 0.5 * (grid.b - grid.a)
    return np.einsum("r,jrs,s->j", left, coefs[k], right) * half ** (grid.d - 1)


def _points_1d(x, grid):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a finite 1-D array of points, got shape {x.shape}")
    return x


def tt_marginal(Y, grid, k: int, x) -> np.ndarray:
    r"""Exact k-th 1-D marginal of the interpolant of Y at points x (m,) -> (m,) (0 outside [a, b]).

    :math:`\int \tilde p(x)\, dx_{\ne k}`, by integrating every other core's Chebyshev
    series exactly (Clenshaw–Curtis in the coefficient form).
    """
    c = _marginal_series(Y, grid, k)
    x = _points_1d(x, grid)
    s = (2.0 * x - grid.a - grid.b) / (grid.b - grid.a)
    inside = np.abs(s) <= 1.0
    out = np.zeros_like(x)
    out[inside] = npcheb.chebval(s[inside], c)
    return out


def tt_marginal_cdf(Y, grid, k: int, x, normalise: bool = True) -> np.ndarray:
    r"""CDF of the k-th 1-D marginal of the interpolant at points x (m,) -> (m,).

    :math:`\int_a^{x} \tilde p_k`, divided by the total mass when ``normalise``; 0 left of
    the box and the total (or 1) right of it. For scipy.stats.kstest against samples.
    """
    c = _marginal_series(Y, grid, k)
    x = _points_1d(x, grid)
    half = 0.5 * (grid.b - grid.a)
    cdf_coef = npcheb.chebint(c, lbnd=-1.0) * half
    total = float(npcheb.chebval(1.0, cdf_coef))
    s = np.clip((2.0 * x - grid.a - grid.b) / (grid.b - grid.a), -1.0, 1.0)
    out = npcheb.chebval(s, cdf_coef)
    return out / total if normalise else out


def grid_node_sample(Y, grid, n: int, seed=0) -> np.ndarray:
    r"""The paper's sampler, for comparison: n **distinct grid nodes** drawn with probability ∝ Y.

    Enumerates the :math:`n_{grid}^d` nodes (only for small grids: at most 10^7 nodes),
    draws n of them without replacement with weights :math:`\max(Y, 0)`, and returns
    their coordinates (n, d). The result is a discrete law on the nodes, ignoring node
    spacing, so it is *not* a sample of the density (a KS test rejects it).
    """
    cores = _check(Y, grid)
    n = check.count(n, "n")
    if grid.n**grid.d > 10**7:
        raise ValueError(f"the grid has {grid.n}^{grid.d} nodes, too many to enumerate (at most 1e7)")
    w = np.maximum(cheb.tt_full(cores).ravel(), 0.0)
    if n > np.count_nonzero(w):
        raise ValueError(f"n = {n} exceeds the number of nodes with positive weight ({np.count_nonzero(w)})")
    idx = _rng(seed).choice(w.size, size=n, replace=False, p=w / w.sum())
    return grid.points(np.stack(np.unravel_index(idx, grid.shape), axis=1))
