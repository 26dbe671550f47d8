r"""Chebyshev grids, spectral differentiation and functions in the tensor-train format (App. C).

The solver of §3.4 / App. C (Chertkov & Oseledets 2021) represents a density on the box
:math:`[a, b]^d` by its values on the tensor product of Chebyshev–Gauss–Lobatto grids

.. math::  x_i = \frac{a + b}{2} + \frac{b - a}{2}\cos\frac{\pi i}{n - 1},
           \qquad i = 0, \dots, n - 1,

so that **node 0 is the right end b** and node n − 1 the left end a (teneva's
convention, kept here so that tensors can be handed to teneva unchanged). The values
define the interpolating polynomial of degree n − 1 in each variable; derivatives and
integrals of that polynomial are exact linear maps of the values (the matrices below).

A d-dimensional array of values is stored as a tensor train (TT, Eq. 13; Oseledets
2011): a plain list of d cores ``Y = [G1, ..., Gd]``, ``Gk.shape == (r_{k-1}, n, r_k)``,
``r_0 = r_d = 1``, with :math:`Y[i_1, \dots, i_d] = G_1[:, i_1, :] \cdots G_d[:, i_d, :]`.
It needs :math:`\sum_k r_{k-1} n r_k \le d n r^2` numbers instead of :math:`n^d`.

Functions here: grids (:func:`nodes`, :class:`Grid`), differentiation
(:func:`diff_matrices`), interpolation at arbitrary points (:func:`interpolation_matrix`,
vectorised barycentric formula), Clenshaw–Curtis quadrature (:func:`quadrature_weights`),
and the functional-TT operations built on them: :func:`tt_cross` (build by TT-cross),
:func:`tt_evaluate` / :func:`tt_gradient` (value and gradient at points (m, d)),
:func:`chebyshev_basis` (the one basis :math:`T_j`), :func:`tt_chain_gradient` (the one
prefix/suffix TT gradient),
:func:`tt_integral`, :func:`tt_truncate`, :func:`tt_norm`, :func:`tt_relative_error`.

Traps of teneva 0.14 that this module avoids (measured):

* ``teneva.func_get`` loops over points in Python (about 10 µs a point) and returns 0
  outside the box; :func:`tt_evaluate` is vectorised and does the same outside the box
  on purpose (documented), never extrapolating the polynomial.
* ``teneva.truncate`` by default (``is_eigh=True``) takes singular values from the
  eigenvalues of :math:`A A^T`, which cannot resolve relative accuracies below
  :math:`\sqrt{\epsilon} \approx 10^{-8}`; with ``is_eigh=False`` it uses SVDs but leaves
  the singular values in the right core of its right-to-left sweep, so for d >= 3 the
  interior bonds keep too many ranks. :func:`tt_truncate` is the TT-SVD rounding (SVDs,
  U S moved left): minimal ranks, tested against the unfoldings of the full tensor.
* ``teneva.accuracy`` / ``teneva.norm`` compute norms from TT inner products, whose
  cancellation limits a relative difference to about :math:`10^{-8}`;
  :func:`tt_norm` orthogonalises first and is accurate to rounding.
* ``teneva.cross`` has no maximum rank (it may add ``dr_max`` per core and sweep), and
  its stopping test (``teneva.accuracy`` after every sweep) forms an array of
  :math:`(2r)^4 n` numbers per core: 25 GiB at d = 3, n = 100, r = 38. :func:`tt_cross`
  runs the same maxvol sweeps (``teneva.maxvol`` / ``maxvol_rect``; the tests check it
  returns teneva.cross's tensor for the same start) with a rank cap and a cheap stopping
  test. ``teneva.rand`` without a seed is not reproducible: the start is seeded.

This module is longer than the book's ~500-line guide and one topic: functions on a Chebyshev grid, stored as
tensor trains. The 1-D part (nodes, differentiation, interpolation, quadrature, the
basis) is about 150 lines that every TT operation here is built on, and the TT
operations (cross, evaluation, gradient, rounding, integral) are the ones the paper's
App. C uses on that grid; kept together, a reader sees each trap's fix beside the
matrix it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import teneva
from scipy.fft import dct

from . import _validate as check

__all__ = [
    "Grid",
    "grid",
    "nodes",
    "diff_matrices",
    "interpolation_matrix",
    "quadrature_weights",
    "values_to_coefficients",
    "chebyshev_basis",
    "tt_cross",
    "tt_evaluate",
    "tt_chain_gradient",
    "tt_gradient",
    "tt_integral",
    "tt_truncate",
    "tt_norm",
    "tt_relative_error",
    "tt_ranks",
    "tt_storage",
    "tt_full",
    "tt_scale",
]

_CHUNK = 8192  # points per block in tt_evaluate (bounds the (m, n) interpolation matrices)


# --------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class Grid:
    """The tensor Chebyshev grid :math:`[a, b]^d` with n nodes per axis (App. C).

    Build it with :func:`grid`, which checks the arguments. ``nodes`` is the 1-D grid
    (n,), node 0 = b (teneva's order).
    """

    a: float
    b: float
    n: int
    d: int

    @property
    def nodes(self) -> np.ndarray:
        return _nodes(self.a, self.b, self.n)

    @property
    def shape(self) -> list[int]:
        return [self.n] * self.d

    def points(self, index) -> np.ndarray:
        """Grid points (m, d) for integer multi-indices ``index`` (m, d)."""
        idx = np.asarray(index, dtype=int)
        return self.nodes[idx]


def grid(a, b, n: int, d: int) -> Grid:
    """Validated :class:`Grid`: box :math:`[a, b]^d`, a < b, n >= 3 nodes per axis, d >= 1."""
    a, b, n = check.interval(a, b, n)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d (dimension) must be an integer >= 1, got {d!r}")
    return Grid(a, b, n, int(d))


def _nodes(a, b, n):
    return 0.5 * (a + b) + 0.5 * (b - a) * np.cos(np.pi * np.arange(n) / (n - 1))


def nodes(a, b, n: int) -> np.ndarray:
    r"""Chebyshev–Gauss–Lobatto nodes on [a, b], shape (n,), **descending**: node 0 is b.

    :math:`x_i = \tfrac{a+b}{2} + \tfrac{b-a}{2}\cos(\pi i / (n-1))`, identical to
    ``teneva.ind_to_poi(i, a, b, n, 'cheb')``.
    """
    a, b, n = check.interval(a, b, n)
    return _nodes(a, b, n)


def diff_matrices(a, b, n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Chebyshev differentiation matrices :math:`D_1, D_2` (n, n) on [a, b].

    For values ``y`` of a function at :func:`nodes`, ``D1 @ y`` and ``D2 @ y`` are the
    first and second derivatives of its interpolating polynomial at the nodes (exact for
    polynomials of degree < n). Computed by ``teneva.func_diff_matrix`` (App. C: the
    diffusion step is :math:`\exp(\tfrac{h}{2} D_2)` applied to every core). Cached;
    the arrays are read-only.
    """
    a, b, n = check.interval(a, b, n)
    return _diff_cached(a, b, n)


@lru_cache(maxsize=32)
def _diff_cached(a, b, n):
    d1, d2 = (np.array(m, dtype=np.float64) for m in teneva.func_diff_matrix(a, b, n, 2))
    d1.flags.writeable = False  # cached: shared between callers
    d2.flags.writeable = False
    return d1, d2


def _bary_weights(n):
    w = (-1.0) ** np.arange(n)
    w[0] *= 0.5
    w[-1] *= 0.5
    return w


def _interp_matrix(x, a, b, n):
    """Barycentric interpolation matrix (m, n); rows of points outside [a, b] are 0."""
    xs = _nodes(a, b, n)
    w = _bary_weights(n)
    diff = x[:, None] - xs[None, :]
    exact = diff == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = w / diff
        c /= c.sum(axis=1, keepdims=True)
    hit = exact.any(axis=1)
    if hit.any():
        c[hit] = exact[hit].astype(float)
    tol = 1e-13 * (b - a)
    out = (x < a - tol) | (x > b + tol)
    if out.any():
        c[out] = 0.0
    return c


def interpolation_matrix(x, a, b, n: int, derivative: int = 0) -> np.ndarray:
    r"""Matrix P (m, n) with ``P @ y`` the interpolant of nodal values y (or its derivative) at x.

    Barycentric formula for Chebyshev–Lobatto nodes (weights :math:`(-1)^j`, halved at the
    ends), stable and vectorised; ``derivative`` = 1 or 2 composes with :func:`diff_matrices`
    (exact, the derivative of the interpolant). Rows for points outside [a, b] are zero
    (the interpolant is never extrapolated, as ``teneva.func_get``).

    x : array (m,); returns array (m, n).
    """
    a, b, n = check.interval(a, b, n)
    xv = np.asarray(x, dtype=np.float64)
    if xv.ndim != 1:
        raise ValueError(f"x must be a 1-D array of points, got shape {xv.shape}")
    if not np.all(np.isfinite(xv)):
        raise ValueError("x must be finite; it contains NaN or inf")
    if derivative not in (0, 1, 2):
        raise ValueError(f"derivative must be 0, 1 or 2, got {derivative!r}")
    p = _interp_matrix(xv, a, b, n)
    if derivative:
        p = p @ diff_matrices(a, b, n)[derivative - 1]
    return p


def values_to_coefficients(values) -> np.ndarray:
    r"""Chebyshev coefficients :math:`c_k` of the interpolant from nodal values (axis 0).

    :math:`p(x) = \sum_k c_k T_k(\hat x)`, :math:`\hat x = (2x - a - b)/(b - a)`; the DCT-I,
    as ``teneva.func_int`` (which does this core by core).
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim < 1 or y.shape[0] < 3:
        raise ValueError(f"values must have at least 3 nodal values along axis 0, got shape {y.shape}")
    c = dct(y, type=1, axis=0) / (y.shape[0] - 1)
    c[0] *= 0.5
    c[-1] *= 0.5
    return c


def quadrature_weights(a, b, n: int) -> np.ndarray:
    r"""Clenshaw–Curtis weights w (n,): :math:`\int_a^b p(x)\,dx = \sum_i w_i\, p(x_i)` for the interpolant.

    Exact for polynomials of degree < n; the weights the TT integral :func:`tt_integral`
    applies core by core (:math:`\int T_k = 2/(1-k^2)` for even k, 0 for odd k).
    """
    a, b, n = check.interval(a, b, n)
    k = np.arange(n)
    mom = np.zeros(n)
    even = k[k % 2 == 0].astype(float)
    mom[k % 2 == 0] = 2.0 / (1.0 - even**2)
    return 0.5 * (b - a) * (mom @ values_to_coefficients(np.eye(n)))


# --------------------------------------------------------------------------- TT helpers


def tt_ranks(Y) -> list[int]:
    """TT ranks ``[1, r_1, ..., r_{d-1}, 1]``."""
    return [1] + [int(G.shape[2]) for G in check.tt(Y)]


def tt_storage(Y) -> int:
    r"""Numbers stored by the TT: :math:`\sum_k r_{k-1} n_k r_k` (Eq. 13), against :math:`\prod n_k` in full."""
    return int(sum(G.size for G in check.tt(Y)))


def tt_full(Y) -> np.ndarray:
    """The full array (n, ..., n) of a TT (only for small n^d)."""
    return teneva.full(check.tt(Y))


def tt_scale(Y, c: float) -> list:
    """The TT ``c * Y`` (scales the last core)."""
    Z = [G.copy() for G in check.tt(Y)]
    Z[-1] = Z[-1] * float(c)
    return Z


def tt_norm(Y) -> float:
    r"""Frobenius norm :math:`\lVert Y\rVert` of a TT, computed after left-orthogonalisation.

    Accurate to rounding even for differences of nearly equal tensors (``teneva.norm``,
    via inner products, is limited to about :math:`10^{-8}` relative there).
    """
    Z = check.tt(Y)
    if len(Z) > 1:
        Z = teneva.orthogonalize(Z, len(Z) - 1)
    return float(np.linalg.norm(Z[-1]))


def tt_relative_error(Y, Y_ref) -> float:
    r""":math:`\lVert Y - Y_{ref}\rVert_F / \lVert Y_{ref}\rVert_F` on the grid, accurate to rounding."""
    Y, Y_ref = check.tt(Y, "Y"), check.tt(Y_ref, "Y_ref")
    if [G.shape[1] for G in Y] != [G.shape[1] for G in Y_ref]:
        raise ValueError("Y and Y_ref must have the same shape")
    return tt_norm(teneva.sub(Y, Y_ref)) / tt_norm(Y_ref)


def tt_truncate(Y, tol: float = 1e-12, rank_max: int | None = None) -> list:
    r"""Round a TT to relative accuracy ``tol`` (Frobenius) and rank <= ``rank_max`` (TT-SVD).

    Oseledets' rounding (SIAM J. Sci. Comput. 33, 2011, Alg. 2): left-orthogonalise by
    QR, then sweep right to left; at bond k the unfolding ``Z[k]`` (r, n r') is
    factored :math:`U S V^T` by a true SVD (accuracies below :math:`10^{-8}` are
    honoured), :math:`V^T` becomes the (right-orthonormal) core and :math:`U S` moves
    into core k − 1. Every bond is then cut against an orthonormal context, with the
    threshold :math:`\delta = \mathrm{tol}\,\lVert Y\rVert / \sqrt{d-1}`, so the ranks
    are the numerical ranks of the unfoldings of the full tensor at that threshold
    (minimal; tested against the SVD of the full tensor). ``teneva.truncate(...,
    is_eigh=False)`` leaves S in the right core (``give_to='r'``), so its interior bonds
    are cut against a non-orthonormal context and keep too many ranks for d >= 3.
    """
    tol = check.positive(tol, "tol")
    r_cap = None if rank_max is None else int(rank_max)
    if r_cap is not None and r_cap < 1:
        raise ValueError(f"rank_max must be >= 1, got {rank_max}")
    Z = check.tt(Y)
    d = len(Z)
    if d == 1:
        return Z
    Z = teneva.orthogonalize(Z, d - 1)
    delta = tol * float(np.linalg.norm(Z[-1])) / np.sqrt(d - 1)
    for k in range(d - 1, 0, -1):
        r1, n, r2 = Z[k].shape
        U, s, Vt = np.linalg.svd(Z[k].reshape(r1, n * r2), full_matrices=False)
        tail = np.sqrt(np.cumsum(s[::-1] ** 2))[::-1]  # tail[j] = ||s[j:]||
        r = max(1, int(np.count_nonzero(tail > delta)))
        if r_cap is not None:
            r = min(r, r_cap)
        Z[k] = Vt[:r].reshape(r, n, r2)
        Z[k - 1] = np.einsum("anb,bc->anc", Z[k - 1], U[:, :r] * s[:r])
    return Z


def tt_integral(Y, grid_: Grid) -> float:
    r""":math:`\int_{[a,b]^d} p(x)\,dx` of the interpolant of the TT Y (Clenshaw–Curtis, core by core).

    Same as ``teneva.func_sum(teneva.func_int(Y), a, b)``; one contraction with the
    weights of :func:`quadrature_weights` per core.
    """
    Z = check.tt(Y, "Y", grid_)
    w = quadrature_weights(grid_.a, grid_.b, grid_.n)
    v = np.ones((1,))
    for G in Z:
        v = v @ np.einsum("rns,n->rs", G, w)
    return float(v.item())


def _maxvol_rows(Q, dr_min, dr_max, tau, tau0, k0):
    """Rows (and basis B with Q = B Q[rows]) of a (rectangular) maximal-volume submatrix of Q."""
    rows, r = Q.shape
    if rows <= r:
        return np.arange(rows), np.eye(rows)
    dr_max = max(0, min(dr_max, rows - r))
    if dr_max == 0:
        return teneva.maxvol(Q, tau0, k0)
    return teneva.maxvol_rect(Q, tau, min(dr_min, dr_max), dr_max, tau0, k0)


def _cross_step(Z, I_old, ltr, dr_min, dr_max, tau, tau0, k0):
    """One core of a cross sweep: QR + maxvol of the unfolding of Z (r1, n, r2).

    Returns the interpolation core, the factor R passed to the next core, and the
    next nested index set (left sets grow to the right, right sets to the left).
    """
    r1, n, r2 = Z.shape
    M = Z.reshape(r1 * n, r2) if ltr else Z.reshape(r1, n * r2).T
    Q, R = np.linalg.qr(M)
    ind, B = _maxvol_rows(Q, dr_min, dr_max, tau, tau0, k0)
    R = Q[ind] @ R
    if ltr:
        a, j = np.divmod(ind, n)
        I_new = np.column_stack([I_old[a], j]) if I_old is not None else j[:, None]
        return B.reshape(r1, n, -1), R, I_new
    j, b = np.divmod(ind, r2)
    I_new = np.column_stack([j, I_old[b]]) if I_old is not None else j[:, None]
    return B.T.reshape(-1, n, r2), R.T, I_new


def _fibers(f, n, I_left, I_right):
    """Values (r1, n, r2) of f at all (I_left[a], j, I_right[b])."""
    r1 = 1 if I_left is None else I_left.shape[0]
    r2 = 1 if I_right is None else I_right.shape[0]
    parts = []
    if I_left is not None:
        parts.append(np.broadcast_to(I_left[:, None, None, :], (r1, n, r2, I_left.shape[1])))
    parts.append(np.broadcast_to(np.arange(n)[None, :, None, None], (r1, n, r2, 1)))
    if I_right is not None:
        parts.append(np.broadcast_to(I_right[None, None, :, :], (r1, n, r2, I_right.shape[1])))
    index = np.concatenate(parts, axis=3).reshape(-1, sum(p.shape[3] for p in parts))
    return f(index).reshape(r1, n, r2), index.shape[0]


def _cross(f, Y0, nswp, tol, dr_min, dr_max, rank_max, tau=1.1, tau0=1.05, k0=100, info=None):
    """TT-cross (maxvol sweeps) as ``teneva.cross``, with a rank cap and a cheap stopping test.

    Same algorithm as teneva.cross (a maxvol pre-iteration on Y0, then left-to-right and
    right-to-left sweeps whose ranks grow through ``teneva.maxvol_rect``), differing in
    two places: the rank of every core is capped at ``rank_max``, and the change between
    sweeps is measured with :func:`tt_norm`. teneva.cross measures it with
    ``teneva.accuracy``, whose inner product allocates an array of
    :math:`(2r)^4 n` numbers per core (25 GiB at d = 3, n = 100, r = 38: measured).
    """
    d = len(Y0)
    n = Y0[0].shape[1]
    Y = [G.copy() for G in Y0]
    Ir = [None] * (d + 1)
    Ic = [None] * (d + 1)
    R = np.ones((1, 1))
    for i in range(d):
        Y[i], R, Ir[i + 1] = _cross_step(np.tensordot(R, Y[i], 1), Ir[i], True, 0, 0, tau, tau0, k0)
    Y[d - 1] = np.tensordot(Y[d - 1], R, 1)
    R = np.ones((1, 1))
    for i in range(d - 1, -1, -1):
        Y[i], R, Ic[i] = _cross_step(np.tensordot(Y[i], R, 1), Ic[i + 1], False, 0, 0, tau, tau0, k0)
    Y[0] = np.tensordot(R, Y[0], 1)
    Ir[d] = Ic[0] = None  # full index sets are never used
    evals, sweeps, change = 0, 0, np.inf

    def grow(r_now):
        return max(0, min(dr_max, rank_max - r_now))

    while sweeps < nswp:
        Y_old = [G.copy() for G in Y]
        R = np.ones((1, 1))
        for i in range(d):
            Z, m = _fibers(f, n, Ir[i], Ic[i + 1])
            evals += m
            dr = grow(Z.shape[2]) if i < d - 1 else 0
            Y[i], R, Ir[i + 1] = _cross_step(Z, Ir[i], True, min(dr_min, dr), dr, tau, tau0, k0)
        Y[d - 1] = np.tensordot(Y[d - 1], R, 1)
        R = np.ones((1, 1))
        for i in range(d - 1, -1, -1):
            Z, m = _fibers(f, n, Ir[i], Ic[i + 1])
            evals += m
            dr = grow(Z.shape[0]) if i > 0 else 0
            Y[i], R, Ic[i] = _cross_step(Z, Ic[i + 1], False, min(dr_min, dr), dr, tau, tau0, k0)
        Y[0] = np.tensordot(R, Y[0], 1)
        Ir[d] = Ic[0] = None
        sweeps += 1
        change = tt_relative_error(Y, Y_old)
        if change < tol:
            break
    if info is not None:
        info.update({"evals": evals, "sweeps": sweeps, "change": float(change), "rank": max(G.shape[2] for G in Y)})
    return Y


def tt_cross(
    func,
    grid_: Grid,
    tol: float = 1e-10,
    nswp: int = 10,
    rank0: int = 2,
    dr_max: int = 2,
    rank_max: int = 40,
    seed: int = 0,
    Y0=None,
    info: dict | None = None,
) -> list:
    r"""TT approximation of ``func`` on the Chebyshev grid by TT-cross, then SVD rounding.

    The cross is teneva.cross's maxvol algorithm (``teneva.maxvol`` / ``maxvol_rect``)
    with the rank capped at ``rank_max`` and a memory-light stopping test (see
    :func:`_cross`; teneva.cross itself has no rank cap and its stopping test allocates
    :math:`O(r^4 n)` memory).

    Parameters
    ----------
    func : callable        ``func(x)`` for points x (m, d) -> values (m,)
    grid_ : Grid           the tensor grid
    tol : float            stop when a sweep changes Y by less than ``tol`` (relative), and
                           the rounding accuracy afterwards
    nswp : int             at most this many sweeps
    rank0, dr_max : int    rank of the seeded random start; rank added per core and sweep
    rank_max : int         rank cap (during the cross and after rounding)
    seed : int             seed of the random start (``teneva.rand(..., seed=seed)``)
    Y0 : TT, optional      start from this TT instead (e.g. the previous time step)
    info : dict, optional  filled with evaluations, sweeps, last change and rank

    Returns
    -------
    TT (list of d cores (r, n, r')).
    """
    check.function(func, "func")
    tol = check.positive(tol, "tol")
    nodes_ = grid_.nodes
    d = grid_.d

    def f(index):
        x = nodes_[index]
        y = np.asarray(func(x), dtype=np.float64)
        if y.shape != (x.shape[0],):
            raise ValueError(f"func(x) must return shape ({x.shape[0]},) for x of shape {x.shape}, got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("func(x) returned NaN or inf")
        return y

    if d == 1:  # nothing to cross: sample the vector
        return [f(np.arange(grid_.n)[:, None]).reshape(1, -1, 1)]
    if Y0 is None:
        Y0 = teneva.rand(grid_.shape, rank0, seed=seed)
    else:
        Y0 = check.tt(Y0, "Y0", grid_)
    Y = _cross(f, Y0, int(nswp), tol, 1, int(dr_max), int(rank_max), info=info)
    return tt_truncate(Y, tol, rank_max)


def _apply(P, G):
    """(m, r1, r2): the core G (r1, n, r2) contracted with the rows of P (m, n)."""
    r1, n, r2 = G.shape
    return (P @ G.transpose(1, 0, 2).reshape(n, r1 * r2)).reshape(-1, r1, r2)


def _chain(factors):
    """Row-wise product of the (m, r_{k-1}, r_k) factors -> (m,)."""
    q = factors[0][:, 0, :]
    for T in factors[1:]:
        q = np.einsum("mr,mrs->ms", q, T)
    return q[:, 0]


def tt_evaluate(Y, grid_: Grid, x) -> np.ndarray:
    r"""Value of the interpolant of the TT Y at points x (m, d) -> (m,).

    Vectorised barycentric interpolation in each variable followed by the TT
    contraction (the same numbers as ``teneva.func_get(x, teneva.func_int(Y), a, b)``,
    without its Python loop). Points outside the box :math:`[a, b]^d` get 0.
    """
    cores = check.tt(Y, "Y", grid_)
    x = check.points(x, "x", d=grid_.d)
    out = np.empty(x.shape[0])
    for s in range(0, x.shape[0], _CHUNK):
        xs = x[s : s + _CHUNK]
        out[s : s + _CHUNK] = _chain(
            [_apply(_interp_matrix(xs[:, k], grid_.a, grid_.b, grid_.n), G) for k, G in enumerate(cores)]
        )
    return out


def chebyshev_basis(s, n: int) -> np.ndarray:
    r""":math:`T_j(s)` for j < n at every entry of s (any shape) -> array (n, *s.shape).

    The one Chebyshev basis of the library: the three-term recurrence
    :math:`T_{j+1} = 2 s T_j - T_{j-1}` (s in [−1, 1], the mapped coordinate
    :math:`\hat x = (2x - a - b)/(b - a)`). For s of shape (d, m), ``B[:, k, :].T`` is the
    (m, n) basis matrix of coordinate k.
    """
    st = np.ascontiguousarray(np.asarray(s, dtype=np.float64))
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    B = np.empty((n,) + st.shape)
    B[0] = 1.0
    if n > 1:
        B[1] = st
    two_s = 2.0 * st
    for j in range(2, n):
        np.multiply(two_s, B[j - 1], out=B[j])
        B[j] -= B[j - 2]
    return B


def tt_chain_gradient(T, dT=None):
    r"""Value and gradient of a TT whose cores are already evaluated at m points.

    ``T[k]`` (m, r_{k-1}, r_k) is core k at coordinate :math:`x_k` of each point and
    ``dT[k]`` its derivative in :math:`x_k`. The value is the matrix product
    :math:`T_1 \cdots T_d` and, by the product rule, :math:`\partial_k` of it is
    :math:`L_{k-1}\, dT_k\, R_{k+1}` with the shared prefix products
    :math:`L_k = T_1 \cdots T_k` and suffix products :math:`R_k = T_k \cdots T_d`
    (about three evaluations in all). The one TT gradient of the library (used by
    :func:`tt_gradient`, the exact OU evaluation of :mod:`ddpm_ot_lib.fokker_planck`
    and the closed-form reference of :mod:`ddpm_ot_lib.references`).

    Returns (value (m,), gradient (m, d) or None when ``dT`` is None).
    """
    m, d = T[0].shape[0], len(T)
    left = [np.ones((m, 1, 1))]
    for Tk in T:
        left.append(left[-1] @ Tk)
    val = left[d][:, 0, 0]
    if dT is None:
        return val, None
    right = [np.ones((m, 1, 1))]
    for Tk in T[::-1]:
        right.append(Tk @ right[-1])
    right = right[::-1]
    grad = np.empty((m, d))
    for k in range(d):
        grad[:, k] = (left[k] @ dT[k] @ right[k + 1])[:, 0, 0]
    return val, grad


def tt_gradient(Y, grid_: Grid, x, with_value: bool = False):
    r"""Gradient :math:`\nabla p` (m, d) of the interpolant of the TT Y at points x (m, d).

    Exact derivative of the interpolating polynomial: in direction k the core k is
    replaced by :math:`D_1 G_k`, contracted by :func:`tt_chain_gradient` (prefix and
    suffix products shared). With ``with_value`` also returns p(x) (m,).
    Zero outside the box.
    """
    cores = check.tt(Y, "Y", grid_)
    x = check.points(x, "x", d=grid_.d)
    d1 = diff_matrices(grid_.a, grid_.b, grid_.n)[0]
    dcores = [np.matmul(d1, G) for G in cores]
    m, d = x.shape
    grad = np.empty_like(x)
    val = np.empty(m)
    for s in range(0, m, _CHUNK):
        xs = x[s : s + _CHUNK]
        mats = [_interp_matrix(xs[:, k], grid_.a, grid_.b, grid_.n) for k in range(d)]
        T = [_apply(P, G) for P, G in zip(mats, cores)]
        dT = [_apply(P, G) for P, G in zip(mats, dcores)]
        val[s : s + _CHUNK], grad[s : s + _CHUNK] = tt_chain_gradient(T, dT)
    return (grad, val) if with_value else grad
