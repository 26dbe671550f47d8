r"""The synthetic experiments of §3.4 and the regeneration of Table 1.

For each random density :math:`p_0` of Eq. (14) (d = 2, 3) or Eq. (15) (d = 7)
(:mod:`ddpm_ot_lib.densities`), :func:`run_density`

1. builds the TT of :math:`p_0` on the paper's Chebyshev grid (N = 250, 100, 50 nodes
   per axis on [−8, 8]^d);
2. solves the forward Fokker–Planck equation (Eq. 8) — by default with the exact OU
   propagator (:class:`ExactOU`, the same mathematics as
   :func:`ddpm_ot_lib.fokker_planck.solve_exact`, evaluated faster), or with the paper's
   splitting scheme (:func:`ddpm_ot_lib.fokker_planck.solve_splitting`, M = 250, 100, 50
   steps on [0, 5]) on request;
3. draws continuous samples :math:`x_i \sim p_0` (:func:`ddpm_ot_lib.sampling.tt_sample`);
4. integrates the probability-flow ODE (Eq. 9) from t = 0 to ``t_max`` (default 5, the
   paper's range) with :func:`ddpm_ot_lib.flow.encode` (adaptive Dormand–Prince 8(5,3))
   at tolerance ``rtol`` (default 1e-10; this is the encoder E) and again at the looser
   ``check_rtol`` (default 1e-9), to measure the ODE's own error;
5. computes Table 1's :math:`\varepsilon_{\mathrm{rel}}` for the pairing
   :math:`x_i \to E(x_i)` (:func:`ddpm_ot_lib.transport.relative_cost_error`).

What each row reports (exact definitions):

``d``, ``seed``, ``kind``, ``K``, ``rank``, ``n_grid``
    the density (``densities.random_density(d, seed)``), its family ("mixture", Eq. 14,
    or "tt_gaussian", Eq. 15), K = its number of mixture terms (Eq. 14) or the rank of
    its random TT factor (Eq. 15), the largest TT rank of :math:`p_0` on the grid, and
    the grid's nodes per axis.
``p0_error``
    the TT interpolant of :math:`p_0` against the formula, max abs error / max value at
    2000 random points of [−4, 4]^d (``RandomDensity.error['points']``).
``solver_error``
    the density solver against an **independent** reference, at the times
    ``check_times`` (default 0, 0.1, 1, 5) and, for each time t, at ``check_points``
    (default 100) exact samples of :math:`p_t` (:math:`e^{-t}x_i + \sqrt{1 - e^{-2t}}\,\xi`):
    :math:`\max_t \max_i |\hat p_t(y_i) - p_t(y_i)| / \max_i p_t(y_i)`. The reference
    :math:`p_t` is the formula at t = 0; for t > 0 it is the closed form of the OU
    transition applied to Eq. (15) (:func:`tt_gaussian_reference`), or, for the
    mixtures of Eq. (14), the OU kernel integrated against the formula of :math:`p_0`
    by tensor Gauss–Legendre quadrature (:func:`mixture_reference`); neither shares
    code with the solvers (no Chebyshev grid, no TT).
``score_error``
    the same for the score, which is what the flow uses:
    :math:`\max_t \max_i \lVert\hat s_t(y_i) - s_t(y_i)\rVert_\infty / \max_i \lVert s_t(y_i)\rVert_\infty`,
    :math:`s_t = \nabla\log p_t`. It is much larger than ``solver_error`` where samples
    reach the tails, where :math:`p_t` is small and its relative error large.
``mass_error``
    :math:`\max_t |\int \hat p_t - 1|` over the check times (TT integral).
``negative_mass``
    the sampler's measured bound on the negative part of the interpolant's conditionals
    (:func:`ddpm_ot_lib.sampling.tt_sample`).
``ode_error``
    :math:`\max_i \lVert E_{r'}(x_i) - E_{r}(x_i)\rVert_\infty / \max_i \lVert E_{r}(x_i)\rVert_\infty`,
    :math:`E_r` the encoder computed at tolerance r = ``rtol`` (atol = r/100), r' =
    ``check_rtol`` > r. It estimates the error of the looser run, an estimate from above
    of the error of :math:`E_r`, the encoder used for the costs. (Halving the tolerance
    instead is not enough: SciPy's step control bounds an RMS over all 1000 points, a
    single tail point can carry most of the error, and runs at r and r/2 often share
    it; the chapter measures this.) ``ode_calls``: score evaluations of both runs.
``cost_E``, ``cost_OT``, ``eps_rel``
    :math:`\frac1n\sum_i\lVert x_i - E(x_i)\rVert^2`, the exact discrete OT cost
    (``ot.emd``), and :math:`(\mathrm{Cost}(E) - \mathrm{Cost}(OT))/\mathrm{Cost}(OT)`.
``status``
    ``ok``, or ``failed at <stage>: <message>``; a failed stage leaves NaN in the
    columns it would have filled and no density is skipped.
``t_*``, ``wall``, ``cpu``
    wall-clock seconds spent building :math:`p_0`, solving, sampling, in the flow (both
    tolerances), in OT, in the solver check, and in total; and the CPU seconds of the
    whole row (``time.process_time``, one BLAS thread). On a shared machine the wall
    times grow with the load, the CPU time much less.

The encoder at ``t_max`` = 5 is not the limit :math:`t \to \infty`: for a Gaussian the
mean still carries :math:`e^{-5} \approx 0.007`. The table keeps the paper's range.

Command line (one run of it produced ``book/data/table1.csv``)::

    python -m ddpm_ot_lib.experiments table1 --dims 2 3 7 --densities 100 --jobs 2
    python -m ddpm_ot_lib.experiments summary book/data/table1.csv

Results are appended to ``<out>.partial`` (JSON lines) as each density finishes, so an
interrupted run resumes where it stopped; the CSV and a JSON summary are then written
atomically (temporary file + ``os.replace``).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.polynomial import chebyshev as npcheb

from . import _validate as check
from . import chebyshev as cheb
from . import densities as dens_mod
from . import flow, sampling, transport
from . import fokker_planck as fp

__all__ = ["ExactOU", "encode_piecewise", "tt_gaussian_reference", "mixture_formula", "mixture_reference",
           "reference_density", "run_density", "run_table", "read_rows", "summarise", "table1_markdown",
           "PAPER_TABLE1", "COLUMNS", "main"]

#: Table 1 of the paper: the largest ε_rel over 100 random densities per dimension.
PAPER_TABLE1 = {2: 5.7e-15, 3: 2.2e-15, 7: 2.1e-15}

#: The columns of the result file, in order.
COLUMNS = ["d", "seed", "kind", "K", "rank", "n_grid", "solver", "samples", "t_max", "rtol",
           "p0_error", "solver_error", "score_error", "mass_error", "negative_mass", "ode_error", "ode_calls",
           "cost_E", "cost_OT", "eps_rel", "t_density", "t_solve", "t_sample", "t_flow", "t_ot",
           "t_check", "wall", "cpu", "status"]

_STAGES = ["t_density", "t_solve", "t_sample", "t_flow", "t_ot", "t_check"]
_STAGE_KEYS = {"density": "density", "solve": "solve", "sampling": "sample", "flow": "flow", "OT": "ot",
               "solver check": "check"}


# =========================================================================== exact OU solution

class ExactOU:
    r""":math:`p_t` of Eq. (8) at any t >= 0 from the TT of :math:`p_0`, evaluated fast at points.

    The same mathematics as :func:`ddpm_ot_lib.fokker_planck.solve_exact` (every core
    multiplied by :math:`A_t = e^{tL}`, L the Chebyshev collocation of the 1-D OU
    generator with Dirichlet ends, through one eigendecomposition :math:`L = V\Lambda V^{-1}`),
    organised for the many score calls of the ODE solver:

    * :math:`V^{-1}G_k` is computed once; at each t the Chebyshev coefficients of
      :math:`A_t G_k` are :math:`Q\,\mathrm{Re}(V e^{t\Lambda} V^{-1} G_k)` (Q the DCT-I,
      conjugate eigenpairs as two real products), and those of its x-derivative one
      more product with the coefficient-space derivative matrix;
    * the Chebyshev polynomials :math:`T_j(\hat x)` of all points and coordinates come
      from one three-term recurrence, and the TT is contracted with batched matrix
      products (no Python loop over points).

    At t = 0 the cores of :math:`p_0` are used as given (as ``solve_exact`` does).
    ``fokker_planck.density`` / ``score`` on a ``solve_exact`` solution give the same
    numbers (to 1e-12 relative; tested) more slowly: they rebuild the cores of
    :math:`p_t` and of its derivative, and the differentiation matrix, at every call.

    Y0 : TT of :math:`p_0` on ``grid`` (a :class:`ddpm_ot_lib.chebyshev.Grid`).
    ``calls`` counts the calls of :meth:`score`.
    """

    def __init__(self, Y0, grid):
        if not isinstance(grid, cheb.Grid):
            raise TypeError(f"grid must be a chebyshev.Grid, got {type(grid).__name__}")
        cheb.tt_ranks(Y0)
        cores = [np.asarray(G, dtype=np.float64) for G in Y0]
        if len(cores) != grid.d or any(G.shape[1] != grid.n for G in cores):
            raise ValueError(f"Y0 must have {grid.d} cores with n = {grid.n} nodes, got shapes "
                             f"{[G.shape for G in cores]}")
        self.grid = grid
        self.shapes = [G.shape for G in cores]
        n = grid.n
        self._lam, Vinv, self._QVV, Q, self._Dc = _ou_spectral(grid.a, grid.b, n)
        self._H = [Vinv @ G[:, 1:-1, :].transpose(1, 0, 2).reshape(n - 2, -1) for G in cores]
        self._initial = [self._with_derivative(Q @ G.transpose(1, 0, 2).reshape(n, -1)) for G in cores]
        self.calls = 0

    def _with_derivative(self, C):
        return np.concatenate([C, self._Dc @ C], axis=1)              # (n, 2 r1 r2)

    def coefficients(self, t: float) -> list:
        r"""Chebyshev coefficients of the cores of :math:`p_t` and of their x-derivatives.

        List of d arrays (n, 2 r_{k-1} r_k): the first r_{k-1} r_k columns are the
        coefficients of core k (index j of :math:`T_j(\hat x_k)`), the others those of its
        derivative in :math:`x_k`.
        """
        t = check.time(t)
        if t == 0.0:
            return self._initial
        e = np.exp(t * self._lam)
        out = []
        for H in self._H:
            eH = e[:, None] * H
            out.append(self._with_derivative(self._QVV @ np.concatenate([eH.real, eH.imag])))
        return out

    def tt(self, t: float) -> list:
        """The TT (list of cores (r, n, r')) of :math:`p_t`: its values on the grid."""
        n = self.grid.n
        T = np.cos(np.pi * np.outer(np.arange(n), np.arange(n)) / (n - 1))  # T_j at node i
        out = []
        for C, (r1, _, r2) in zip(self.coefficients(t), self.shapes):
            vals = T @ C[:, : r1 * r2]
            out.append(vals.reshape(n, r1, r2).transpose(1, 0, 2).copy())
        return out

    def _evaluate(self, x, t, gradient):
        g = self.grid
        x = check.points(x, "x", d=g.d)
        outside = np.any((x < g.a) | (x > g.b), axis=1)
        if outside.any():
            raise ValueError(f"x must lie in the box [{g.a}, {g.b}]^{g.d}; {int(outside.sum())} point(s) do not")
        m = x.shape[0]
        basis = _chebyshev_basis((2.0 * x - g.a - g.b) / (g.b - g.a), g.n)  # (n, d, m)
        T, dT = [], []
        for k, (C, (r1, _, r2)) in enumerate(zip(self.coefficients(t), self.shapes)):
            if gradient:
                W = (basis[:, k, :].T @ C).reshape(m, 2, r1, r2)
                T.append(W[:, 0])
                dT.append(W[:, 1])
            else:
                T.append((basis[:, k, :].T @ C[:, : r1 * r2]).reshape(m, r1, r2))
        left = [np.ones((m, 1, 1))]
        for Tk in T:
            left.append(left[-1] @ Tk)
        val = left[-1][:, 0, 0]
        if not gradient:
            return val, None
        right = [np.ones((m, 1, 1))]
        for Tk in T[::-1]:
            right.append(Tk @ right[-1])
        right = right[::-1]
        grad = np.empty_like(x)
        for k in range(g.d):
            grad[:, k] = (left[k] @ dT[k] @ right[k + 1])[:, 0, 0]
        return val, grad

    def density(self, x, t: float) -> np.ndarray:
        r""":math:`p_t(x)` at points x (m, d) in the box -> (m,)."""
        return self._evaluate(x, t, False)[0]

    def score(self, x, t: float) -> np.ndarray:
        r""":math:`\nabla\log p_t(x)` at points x (m, d) -> (m, d); ValueError where :math:`p_t \le 0`.

        Same contract as :func:`ddpm_ot_lib.fokker_planck.score` (points outside the box
        and points where the computed density is not positive are errors).
        """
        self.calls += 1
        val, grad = self._evaluate(x, t, True)
        bad = ~(val > 0)
        if bad.any():
            raise ValueError(f"p_t(x) <= 0 at {int(bad.sum())} point(s) (t = {float(t):.4g}): x lies in the tails, "
                             "where the solution is below its accuracy and has no score")
        return grad / val[:, None]

    def mass(self, t: float) -> float:
        r""":math:`\int p_t` over the box (Clenshaw–Curtis in the coefficient form)."""
        n = self.grid.n
        mom = np.zeros(n)
        mom[::2] = 2.0 / (1.0 - np.arange(0, n, 2, dtype=float) ** 2)
        v = np.ones(1)
        for C, (r1, _, r2) in zip(self.coefficients(t), self.shapes):
            v = v @ (mom @ C[:, : r1 * r2]).reshape(r1, r2)
        return float(v.item()) * (0.5 * (self.grid.b - self.grid.a)) ** self.grid.d


@lru_cache(maxsize=8)
def _ou_spectral(a: float, b: float, n: int):
    """Cached per grid: eigenvalues, V^{-1}, Q V (as two real blocks), Q (DCT-I) and the derivative matrix."""
    lam, V = np.linalg.eig(fp.ou_generator(a, b, n)[1:-1, 1:-1])
    Vinv = np.linalg.inv(V)
    ref = fp.ou_matrix(a, b, n, 1.0)[1:-1, 1:-1]
    rebuilt = ((V * np.exp(lam)) @ Vinv).real
    if not np.abs(rebuilt - ref).max() <= 1e-9 * np.abs(ref).max():
        raise RuntimeError("the eigendecomposition of the OU generator disagrees with fokker_planck.ou_matrix")
    Q = cheb.values_to_coefficients(np.eye(n))                      # values -> coefficients (n, n)
    Dc = np.zeros((n, n))                                           # d/dx of a Chebyshev series
    for j in range(n):
        Dc[: n - 1, j] = npcheb.chebder(np.eye(n)[j]) * (2.0 / (b - a))
    QVV = Q[:, 1:-1] @ np.hstack([V.real, -V.imag])                 # (n, 2(n-2))
    for arr in (lam, Vinv, QVV, Q, Dc):
        arr.setflags(write=False)
    return lam, Vinv, QVV, Q, Dc


def _chebyshev_basis(s, n):
    r""":math:`T_j(s)` for j < n at every entry of s (m, d) -> (n, d, m), by the three-term recurrence.

    ``B[:, k, :].T`` is the (m, n) basis matrix of coordinate k (a strided view, no copy).
    """
    st = np.ascontiguousarray(s.T)                                   # (d, m)
    B = np.empty((n,) + st.shape)
    B[0] = 1.0
    B[1] = st
    two_s = 2.0 * st
    for j in range(2, n):
        np.multiply(two_s, B[j - 1], out=B[j])
        B[j] -= B[j - 2]
    return B


# =========================================================================== independent references

def _ou_params(t):
    c = math.exp(-t)
    return c, -math.expm1(-2.0 * t)


def tt_gaussian_reference(params: dict, x, t: float, norm_const: float, gradient: bool = False):
    r"""Closed-form :math:`p_t` (and :math:`\nabla p_t`) for a density of Eq. (15) at points x (m, d).

    For :math:`p_0 = \varphi_d \prod_k G_k(x_k) / Z` with entries
    :math:`g(y) = u + v(1 + \sin(\omega y + \theta))` (:mod:`ddpm_ot_lib.densities`), the OU
    transition :math:`N(c\,y, s^2)`, :math:`c = e^{-t}`, :math:`s^2 = 1 - c^2`, maps
    :math:`\varphi\cdot 1 \mapsto \varphi` and :math:`\varphi(y)\, e^{i\omega y} \mapsto
    \varphi(x)\, e^{i\omega c x - \omega^2 s^2/2}` (the pair (y, x) is jointly Gaussian
    with y | x ~ N(c x, s²)), so :math:`p_t` is :math:`p_0`'s formula with every entry
    replaced by :math:`u + v + v\,e^{-\omega^2 s^2/2}\sin(\omega c x + \theta)`. Exact; shares
    no code with the solvers.

    Returns p (m,), or (p, grad (m, d)) with ``gradient``.
    """
    x = check.points(x, "x")
    t = check.time(t)
    c, s2 = _ou_params(t)
    m, d = x.shape
    ents, dents = [], []
    for k, core in enumerate(params["cores"]):
        amp = (core["v"] * np.exp(-0.5 * core["omega"] ** 2 * s2))[None]
        arg = core["omega"][None] * c * x[:, k, None, None] + core["theta"][None]
        ents.append(core["u"][None] + core["v"][None] + amp * np.sin(arg))
        dents.append(amp * np.cos(arg) * core["omega"][None] * c)
    phi = np.exp(-0.5 * (x * x).sum(axis=1)) / (2 * np.pi) ** (d / 2) / norm_const
    left = [np.ones((m, 1, 1))]
    for E in ents:
        left.append(left[-1] @ E)
    p = left[-1][:, 0, 0] * phi
    if not gradient:
        return p
    right = [np.ones((m, 1, 1))]
    for E in ents[::-1]:
        right.append(E @ right[-1])
    right = right[::-1]
    grad = np.empty_like(x)
    for k in range(d):
        grad[:, k] = (left[k] @ dents[k] @ right[k + 1])[:, 0, 0] * phi - x[:, k] * p
    return p, grad


def mixture_formula(params: dict, x, gradient: bool = False):
    r"""The unnormalised density of Eq. (14) and its gradient from the drawn parameters.

    :math:`\tilde p_0(x) = \sum_j w_j e^{-q_{1,j}(x) - q_{2,j}(x)}`,
    :math:`\nabla\tilde p_0 = -\sum_j w_j e^{-q_{1,j} - q_{2,j}}\,(A_j z_j + 4\gamma_j z_j^{3})`,
    :math:`z_j = x - \mu_j` (:mod:`ddpm_ot_lib.densities`). Returns p (m,) or (p, grad (m, d)).
    """
    x = check.points(x, "x")
    p = np.zeros(x.shape[0])
    grad = np.zeros_like(x)
    for w, mu, a, g in zip(params["weights"], params["centres"], params["precisions"], params["quartic"]):
        z = x - mu
        az = z @ a
        e = w * np.exp(-0.5 * (az * z).sum(axis=1) - g * (z**4).sum(axis=1))
        p += e
        if gradient:
            grad -= e[:, None] * (az + 4.0 * g * z**3)
    return (p, grad) if gradient else p


def _gl_rule(lo, hi, panels, nodes):
    z, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(lo, hi, panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid[:, None] + half[:, None] * z).ravel(), (half[:, None] * w).ravel()


def _mixture_on_tensor_grid(params, y, d):
    r""":math:`\tilde p_0` of Eq. (14) on the tensor grid :math:`y^{\otimes d}` -> array (N, ..., N), by broadcasting.

    The exponent :math:`\tfrac12 z^T A z + \gamma \sum_k z_k^4` is a sum of one- and
    two-coordinate terms, so it is assembled from outer sums (no list of N^d points).
    """
    out = np.zeros((y.size,) * d)

    def axis(v, k):
        shape = [1] * d
        shape[k] = -1
        return v.reshape(shape)

    for w, mu, a, g in zip(params["weights"], params["centres"], params["precisions"], params["quartic"]):
        z = [y - mu[k] for k in range(d)]
        expo = np.zeros((1,) * d)
        for k in range(d):
            expo = expo + axis(0.5 * a[k, k] * z[k] ** 2 + g * z[k] ** 4, k)
            for j in range(k + 1, d):
                expo = expo + a[k, j] * axis(z[k], k) * axis(z[j], j)
        out += w * np.exp(-expo)
    return out


def mixture_reference(params: dict, d: int, x, t: float, box=(-8.0, 8.0), panels: int | None = None,
                      nodes: int | None = None, gradient: bool = False, _cache: dict | None = None):
    r"""Reference :math:`p_t` for a density of Eq. (14): the OU kernel integrated against its formula.

    .. math:: p_t(x) = \frac{1}{Z}\int_{B} \tilde p_0(y) \prod_{k=1}^d \frac{1}{\sqrt{2\pi s^2}}
              e^{-(x_k - c\,y_k)^2/(2 s^2)}\, dy, \qquad c = e^{-t},\ s^2 = 1 - c^2,

    :math:`\tilde p_0` the formula of :func:`mixture_formula` with the drawn ``params``, on
    the box B (where :math:`p_0` lives), by the tensor composite Gauss–Legendre rule of
    ``panels`` panels of ``nodes`` nodes per axis; Z is the same rule's
    :math:`\int \tilde p_0`, and :math:`\nabla p_t` differentiates the kernel. The kernel
    is a product, so the sum is d contractions. The rule must resolve the kernel's width
    :math:`\sigma = s\,e^{t}` in y and the features of :math:`p_0`; by default it has
    panels of width :math:`\min(1, 2.2\sigma)` with 10 nodes, or, once
    :math:`\sigma \ge 1.3` (t >= 0.5), 8 panels of 12 nodes on [−8, 8]: about 1e-13
    relative for t >= 0.05 (tested against :func:`ddpm_ot_lib.fokker_planck.ou_reference`
    in 2-D and closed forms in 3-D).
    No Chebyshev grid, no TT. t = 0 is refused (the reference is then the formula).
    Returns p (m,) or (p, grad (m, d)).
    """
    x = check.points(x, "x", d=d)
    t = check.time(t)
    if t == 0.0:
        raise ValueError("mixture_reference needs t > 0; at t = 0 the reference is the formula of p0")
    sigma = math.sqrt(math.expm1(2.0 * t))
    if panels is None:
        panels = 8 if sigma >= 1.3 else int(math.ceil((box[1] - box[0]) / min(1.0, 2.2 * sigma)))
    if nodes is None:
        nodes = 12 if sigma >= 1.3 else 10
    key = (box, int(panels), int(nodes))
    if _cache is not None and key in _cache:
        y, P0 = _cache[key]
    else:
        y, w = _gl_rule(box[0], box[1], panels, nodes)
        P0 = _mixture_on_tensor_grid(params, y, d)
        for k in range(d):
            shape = [1] * d
            shape[k] = -1
            P0 = P0 * w.reshape(shape)
        P0 = P0 / P0.sum()
        if _cache is not None:
            _cache[key] = (y, P0)
    c, s2 = _ou_params(t)
    N, m = y.size, x.shape[0]
    diff = [x[:, k, None] - c * y[None, :] for k in range(d)]
    kern = [np.exp(-0.5 * dk**2 / s2) / math.sqrt(2 * math.pi * s2) for dk in diff]
    dkern = [-dk / s2 * kk for dk, kk in zip(diff, kern)]

    first = kern[0] @ P0.reshape(N, -1)                               # axis 0 by one product

    def contract(acc, fs):
        for k in range(1, d):                                         # the others point by point
            acc = (fs[k][:, None, :] @ acc.reshape(m, N, -1))[:, 0, :]
        return acc[:, 0]

    p = contract(first, kern)
    if not gradient:
        return p
    grad = np.empty_like(x)
    grad[:, 0] = contract(dkern[0] @ P0.reshape(N, -1), kern)
    for j in range(1, d):
        grad[:, j] = contract(first, [dkern[k] if k == j else kern[k] for k in range(d)])
    return p, grad


def reference_density(dens, x, t: float, gradient: bool = False, _cache: dict | None = None):
    r"""Independent :math:`p_t(x)` (and :math:`\nabla p_t`) for a :class:`~ddpm_ot_lib.densities.RandomDensity`.

    t = 0: the formula of :math:`p_0` (and its analytic gradient); t > 0: the closed form
    (Eq. 15) or the quadrature of the OU kernel (Eq. 14) — see the module docstring.
    """
    x = check.points(x, "x", d=dens.d)
    t = check.time(t)
    if dens.kind == "tt_gaussian":
        return tt_gaussian_reference(dens.params, x, t, dens.norm_const, gradient=gradient)
    if dens.kind != "mixture":
        raise ValueError(f"no reference for densities of kind {dens.kind!r}")
    if t == 0.0:
        out = mixture_formula(dens.params, x, gradient=gradient)
        return (out[0] / dens.norm_const, out[1] / dens.norm_const) if gradient else out / dens.norm_const
    return mixture_reference(dens.params, dens.d, x, t, box=(dens.grid.a, dens.grid.b),
                             gradient=gradient, _cache=_cache)


# =========================================================================== one density

def _seed_for(d, seed, stream):
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(d), stream]))


def _paper_grid(d, n_grid):
    if n_grid is None:
        return dens_mod.paper_grid(d)
    return cheb.grid(dens_mod.BOX[0], dens_mod.BOX[1], int(n_grid), d)


def _default_steps(d):
    return dens_mod.PAPER_SETTINGS.get(d, (None, 100))[1]


def run_density(d: int, seed: int, samples: int = 1000, solver: str = "exact", n_grid: int | None = None,
                steps: int | None = None, t_max: float = 5.0, rtol: float = 1e-10, check_rtol: float = 1e-9,
                check_times=(0.0, 0.1, 1.0, 5.0), check_points: int = 100, split_tol: float = 1e-8,
                split_rank: int = 40, return_data: bool = False):
    r"""One row of Table 1: the density of (d, seed), its solver, samples, encoder and ε_rel.

    Parameters
    ----------
    d, seed : int          dimension and seed of the random density (:func:`densities.random_density`)
    samples : int          number n of samples of :math:`p_0` (the paper: 1000)
    solver : str           "exact" (the OU propagator, default) or "splitting" (the paper's scheme)
    n_grid : int           Chebyshev nodes per axis (default: the paper's, 250 / 100 / 50)
    steps : int            splitting steps on [0, 5] (default: the paper's, 250 / 100 / 50)
    t_max : float          final time of the flow (the paper: 5)
    rtol : float           tolerance of the encoder E used for the costs (atol = rtol / 100)
    check_rtol : float     tolerance of the second run that ``ode_error`` compares with
    check_times, check_points: where the solver is checked against the reference
    split_tol, split_rank  cross / rounding accuracy and rank cap of the splitting solver
    return_data : bool     also return a dict with the density, solution, samples x,
                           the codes z = E(x) and the score callable

    Returns
    -------
    dict with the keys of :data:`COLUMNS` (module docstring), or (dict, data).
    Never raises for a failed approximation: the row's ``status`` says where it failed.
    """
    if solver not in ("exact", "splitting"):
        raise ValueError(f"solver must be 'exact' or 'splitting', got {solver!r}")
    samples = _positive_int(samples, "samples")
    t_max = check.positive(t_max, "t_max")
    rtol = check.positive(rtol, "rtol")
    check_rtol = check.positive(check_rtol, "check_rtol")
    check_points = _positive_int(check_points, "check_points")
    check_times = [check.time(v, "check_times") for v in check_times]
    check_times = [v for v in check_times if v <= t_max]
    start, start_cpu = time.perf_counter(), time.process_time()
    row = {c: math.nan for c in COLUMNS}
    row.update({"d": int(d), "seed": int(seed), "kind": "", "K": 0, "rank": 0, "solver": solver,
                "samples": samples, "t_max": t_max, "rtol": rtol, "ode_calls": 0, "status": "ok"})
    data, failures = {}, []

    def stage(name, needs=()):
        """Run the decorated stage now, if the stages it needs succeeded; record a failure."""
        def run(fn):
            if any(k not in data for k in needs):
                return None
            t0 = time.perf_counter()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - every failure is reported in the row, none skipped
                msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
                failures.append(f"failed at {name}: {msg[:300]}")
                data.setdefault("tracebacks", []).append(traceback.format_exc())
            finally:
                row[f"t_{_STAGE_KEYS[name]}"] = time.perf_counter() - t0
            return None
        return run

    @stage("density")
    def _density():
        grid = _paper_grid(d, n_grid)
        dens = dens_mod.random_density(d, seed, family="smooth", grid=grid)
        row.update({"kind": dens.kind, "n_grid": grid.n, "rank": max(dens.ranks),
                    "K": len(dens.params["weights"]) if dens.kind == "mixture" else max(dens.ranks),
                    "p0_error": dens.error["points"]})
        data["density"] = dens

    @stage("solve", needs=("density",))
    def _solve():
        dens = data["density"]
        if solver == "exact":
            sol = ExactOU(dens.tt, dens.grid)
            data.update({"solution": sol, "score": sol.score, "counter": sol,
                         "density_at": sol.density, "mass_at": sol.mass,
                         "score_at": lambda y, t: _plain_score(sol, y, t)})
            return
        m_steps = _positive_int(steps if steps is not None else _default_steps(d), "steps")
        h = 5.0 / m_steps
        n_out = int(math.ceil(t_max / h - 1e-9))
        times = np.linspace(0.0, n_out * h, n_out + 1)
        sol = fp.solve_splitting(fp.ornstein_uhlenbeck(d), dens.tt, dens.grid, times, h=h, tol=split_tol,
                                 rank_max=split_rank)
        score = _Counted(fp.score_function(sol))
        data.update({"solution": sol, "score": score, "counter": score,
                     "density_at": lambda y, t: fp.density(sol, y, t),
                     "mass_at": lambda t: sum(w * cheb.tt_integral(Y, sol.grid) for w, Y in fp.tt_at(sol, t)),
                     "score_at": lambda y, t: fp.score(sol, y, t)})

    @stage("sampling", needs=("density",))
    def _sampling():
        dens = data["density"]
        info = {}
        data["x"] = sampling.tt_sample(dens.tt, dens.grid, samples, seed=_seed_for(d, seed, 1), info=info)
        row["negative_mass"] = info["negative_mass"]

    @stage("flow", needs=("score", "x"))
    def _flow():
        counter, x = data["counter"], data["x"]
        calls0 = counter.calls
        # the splitting solution is linear in t between its stored times: restart at each
        breaks = data["solution"].times if solver == "splitting" else None
        try:
            z = encode_piecewise(x, data["score"], t_max, rtol, breaks)
            data["z"] = z
            z_check = encode_piecewise(x, data["score"], t_max, check_rtol, breaks)
            row["ode_error"] = float(np.abs(z_check - z).max() / np.abs(z).max())
        finally:
            row["ode_calls"] = counter.calls - calls0

    @stage("OT", needs=("z",))
    def _ot():
        x, z = data["x"], data["z"]
        cost_e = transport.pairing_cost(x, z)
        cost_ot = transport.ot_cost(x, z)
        row.update({"cost_E": cost_e, "cost_OT": cost_ot, "eps_rel": (cost_e - cost_ot) / cost_ot})

    @stage("solver check", needs=("solution", "x"))
    def _check():
        dens, x = data["density"], data["x"]
        grid = dens.grid
        rng = _seed_for(d, seed, 2)
        base = x[:check_points]
        dens_errs, score_errs, mass_errs, cache = [], [], [], {}
        for t in check_times:
            c, s2 = _ou_params(t)
            y = np.clip(c * base + math.sqrt(s2) * rng.standard_normal(base.shape), grid.a, grid.b)
            ref, ref_grad = reference_density(dens, y, t, gradient=True, _cache=cache)
            ref_score = ref_grad / ref[:, None]
            dens_errs.append(float(np.abs(data["density_at"](y, t) - ref).max() / ref.max()))
            score_errs.append(float(np.abs(data["score_at"](y, t) - ref_score).max() / np.abs(ref_score).max()))
            mass_errs.append(abs(data["mass_at"](t) - 1.0))
        row["solver_error"] = max(dens_errs, default=math.nan)
        row["score_error"] = max(score_errs, default=math.nan)
        row["mass_error"] = max(mass_errs, default=math.nan)

    if failures:
        row["status"] = "; ".join(failures)
    row["wall"] = time.perf_counter() - start
    row["cpu"] = time.process_time() - start_cpu
    return (row, data) if return_data else row


def encode_piecewise(x, score, t_max: float, rtol: float, breaks=None) -> np.ndarray:
    r"""E(x) by :func:`ddpm_ot_lib.flow.encode` from 0 to ``t_max``, restarted at the times ``breaks``.

    A score that is only continuous in t (the splitting solution, linear in t between
    stored times) has kinks that an adaptive high-order integrator resolves with many
    tiny steps; integrating each interval between kinks separately (time shifted to
    start at 0) keeps the right-hand side smooth on every call. ``breaks`` = None: one
    call of ``flow.encode``.
    """
    if breaks is None:
        return flow.encode(x, score, t_max=t_max, rtol=rtol)
    edges = np.unique(np.concatenate([[0.0], np.asarray(breaks, dtype=float), [t_max]]))
    edges = edges[(edges >= 0.0) & (edges <= t_max)]
    z = np.asarray(x, dtype=np.float64)
    for t0, t1 in zip(edges[:-1], edges[1:]):
        z = flow.encode(z, lambda y, tau, _t0=t0: score(y, _t0 + tau), t_max=t1 - t0, rtol=rtol)
    return z


class _Counted:
    """A score callable that counts its calls (for the splitting solution)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.fn(x, t)


def _plain_score(sol, y, t):
    """The score of an :class:`ExactOU` without counting the call (for the solver check)."""
    val, grad = sol._evaluate(y, t, True)
    return grad / val[:, None]


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _row_worker(d, seed, kwargs):
    """run_density in a worker, single-threaded BLAS (one core per density)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return run_density(d, seed, **kwargs)
    with threadpool_limits(limits=1):
        return run_density(d, seed, **kwargs)


# =========================================================================== the table

def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean(row):
    out = {}
    for k in COLUMNS:
        v = row.get(k, math.nan)
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


def _atomic_write(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)                    # mkstemp's 0600 would stick to the result
        with os.fdopen(fd, "w", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_partial(path: Path):
    """Config, rows and session records of a .partial JSON-lines file (a torn last line is ignored)."""
    config, rows, sessions = None, {}, []
    if not path.exists():
        return config, rows, sessions
    with open(path) as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # an interrupted write: that density is simply run again
            if "config" in rec:
                config = rec["config"]
            elif "session" in rec:
                sessions.append(rec["session"])
            elif "row" in rec:
                r = rec["row"]
                rows[(r["d"], r["seed"])] = r
    return config, rows, sessions


def _append(path: Path, record: dict):
    with open(path, "a") as fh:
        fh.write(json.dumps(record, default=_json_default) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _csv_text(rows):
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r[k] is None else (repr(r[k]) if isinstance(r[k], float) else r[k]))
                         for k in COLUMNS})
    return buf.getvalue()


def run_table(dims=(2, 3, 7), densities: int = 100, samples: int = 1000, solver: str = "exact",
              seed0: int = 0, jobs: int = 2, out="book/data/table1.csv", grid=None, steps=None,
              t_max: float = 5.0, rtol: float = 1e-10, check_rtol: float = 1e-9,
              check_times=(0.0, 0.1, 1.0, 5.0), check_points: int = 100, resume: bool = True, progress: bool = True,
              command: str | None = None) -> list[dict]:
    r"""Regenerate Table 1: :func:`run_density` for seeds seed0 .. seed0 + densities − 1 in each d.

    Densities run in parallel (joblib, ``jobs`` processes, one BLAS thread each) and
    are appended to ``<out>.partial`` as they finish; with ``resume`` the rows already
    there (for the same configuration) are kept, so an interrupted run continues. When
    every row is in, ``out`` (CSV, columns :data:`COLUMNS`, sorted by d and seed) and
    ``out`` with suffix ``.json`` (configuration, session times, :func:`summarise`) are
    written atomically and the partial file is removed.

    grid, steps : dict or None   Chebyshev nodes / splitting steps per d (default: the paper's)
    Returns the rows (list of dicts).
    """
    from joblib import Parallel, delayed

    dims = [_positive_int(d, "dims") for d in dims]
    if len(set(dims)) != len(dims):
        raise ValueError(f"dims must be distinct, got {dims}")
    densities = _positive_int(densities, "densities")
    jobs = _positive_int(jobs, "jobs")
    if isinstance(seed0, bool) or not isinstance(seed0, (int, np.integer)) or seed0 < 0:
        raise ValueError(f"seed0 must be an integer >= 0, got {seed0!r}")
    if solver not in ("exact", "splitting"):
        raise ValueError(f"solver must be 'exact' or 'splitting', got {solver!r}")
    grid = dict(grid or {})
    steps = dict(steps or {})
    for d in dims:
        n_grid = grid.get(d, dens_mod.PAPER_SETTINGS.get(d, (None,))[0])
        if n_grid is None:
            raise ValueError(f"no paper grid for d = {d}: give its number of nodes (grid={{{d}: N}})")
        grid[d] = _positive_int(n_grid, f"grid[{d}]")
        steps[d] = _positive_int(steps.get(d, _default_steps(d)), f"steps[{d}]")
    kwargs_for = {d: {"samples": _positive_int(samples, "samples"), "solver": solver, "n_grid": grid[d],
                      "steps": steps[d], "t_max": check.positive(t_max, "t_max"),
                      "rtol": check.positive(rtol, "rtol"), "check_rtol": check.positive(check_rtol, "check_rtol"),
                      "check_times": [check.time(v, "check_times") for v in check_times],
                      "check_points": _positive_int(check_points, "check_points")} for d in dims}
    config = {"solver": solver, "samples": samples, "t_max": float(t_max), "rtol": float(rtol),
              "check_rtol": float(check_rtol),
              "check_times": [float(v) for v in check_times], "check_points": check_points,
              "grid": {str(d): grid[d] for d in dims}, "steps": {str(d): steps[d] for d in dims}}
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    old_config, done, sessions = _read_partial(partial) if resume else (None, {}, [])
    if old_config is not None and old_config != config:
        raise ValueError(f"{partial} holds rows for another configuration ({old_config}); "
                         "remove it or run with resume=False (--fresh)")
    if not resume and partial.exists():
        partial.unlink()
    if old_config is None:
        partial.parent.mkdir(parents=True, exist_ok=True)
        _append(partial, {"config": config})
    wanted = [(d, s) for d in dims for s in range(seed0, seed0 + densities)]
    todo = [key for key in wanted if key not in done]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(wanted), initial=len(wanted) - len(todo), desc="Table 1 densities", unit="density")
    session = {"start": time.time(), "jobs": jobs, "rows": 0, "load_start": list(os.getloadavg())}
    try:
        if todo:
            par = Parallel(n_jobs=jobs, return_as="generator_unordered")
            for row in par(delayed(_row_worker)(d, s, kwargs_for[d]) for d, s in todo):
                row = _clean(row)
                _append(partial, {"row": row})
                done[(row["d"], row["seed"])] = row
                session["rows"] += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"d={row['d']} seed={row['seed']} {row['wall']:.1f}s")
    finally:
        session["end"] = time.time()
        session["load_end"] = list(os.getloadavg())
        if bar is not None:
            bar.close()
        if session["rows"]:
            _append(partial, {"session": session})
            sessions.append(session)
    rows = [done[key] for key in wanted]
    meta = {"command": command, "config": config, "dims": dims, "densities": densities, "seed0": seed0,
            "sessions": sessions, "wall_total": sum(s["end"] - s["start"] for s in sessions),
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "cpus": os.cpu_count()},
            "summary": {str(d): v for d, v in summarise(rows).items()}}
    _atomic_write(out, _csv_text(rows))
    _atomic_write(out.with_suffix(".json"), json.dumps(meta, indent=1, default=_json_default) + "\n")
    partial.unlink()
    return rows


# =========================================================================== reading and summaries

_INT_COLS = {"d", "seed", "K", "rank", "n_grid", "samples", "ode_calls"}
_STR_COLS = {"kind", "solver", "status"}


def read_rows(path) -> list[dict]:
    """The rows of a result CSV written by :func:`run_table`, with numbers parsed (empty -> NaN)."""
    rows = []
    with open(path, newline="") as fh:
        for rec in csv.DictReader(fh):
            row = {}
            for k, v in rec.items():
                if k in _STR_COLS:
                    row[k] = v
                elif k in _INT_COLS:
                    row[k] = int(v) if v != "" else 0
                else:
                    row[k] = float(v) if v != "" else math.nan
            rows.append(row)
    return rows


def _stat(values, fn):
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    return float(fn(v)) if v.size else math.nan


def summarise(rows) -> dict:
    r"""Per dimension: counts, ε_rel (max, median, quantiles), largest errors, median/total stage times.

    Returns {d: dict}. Rows whose status is not ``ok`` are counted in ``failed`` and their
    finite values still enter the statistics.
    """
    out = {}
    for d in sorted({r["d"] for r in rows}):
        rs = [r for r in rows if r["d"] == d]
        eps = [r["eps_rel"] for r in rs]
        s = {"n": len(rs), "failed": sum(r["status"] != "ok" for r in rs),
             "eps_max": _stat(eps, np.max), "eps_median": _stat(eps, np.median),
             "eps_q90": _stat(eps, lambda v: np.quantile(v, 0.9)), "eps_min": _stat(eps, np.min),
             "abs_eps_max": _stat([abs(e) if e is not None else None for e in eps], np.max)}
        for col in ("p0_error", "solver_error", "score_error", "mass_error", "negative_mass", "ode_error"):
            s[f"{col}_max"] = _stat([r[col] for r in rs], np.max)
        for col in _STAGES + ["wall", "cpu"]:
            s[f"{col}_median"] = _stat([r[col] for r in rs], np.median)
            s[f"{col}_total"] = _stat([r[col] for r in rs], np.sum)
        out[d] = s
    return out


def _sci(v, digits=2):
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:.{digits - 1}e}"


def table1_markdown(rows, paper=PAPER_TABLE1) -> str:
    r"""Table 1 as a Markdown table: per d, the paper's max ε_rel beside ours (max, median, 90 %)."""
    summ = summarise(rows)
    lines = ["| d | densities | paper: max ε_rel | max ε_rel | median ε_rel | 90 % quantile | max \\|ε_rel\\| |",
             "|---|---|---|---|---|---|---|"]
    for d, s in summ.items():
        lines.append(f"| {d} | {s['n']} | {_sci(paper.get(d))} | {_sci(s['eps_max'])} | {_sci(s['eps_median'])} "
                     f"| {_sci(s['eps_q90'])} | {_sci(s['abs_eps_max'])} |")
    return "\n".join(lines)


# =========================================================================== command line

def _per_dim(parser, values, dims, name):
    if values is None:
        return None
    if len(values) == 1:
        return {d: values[0] for d in dims}
    if len(values) != len(dims):
        parser.error(f"--{name} needs one value or one per dimension ({len(dims)}), got {len(values)}")
    return dict(zip(dims, values))


def _parser():
    p = argparse.ArgumentParser(prog="python -m ddpm_ot_lib.experiments",
                                description="Synthetic experiments of §3.4: regenerate Table 1.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("table1", help="run the random densities and write the result file")
    t.add_argument("--dims", type=int, nargs="+", default=[2, 3, 7], help="dimensions (default: 2 3 7)")
    t.add_argument("--densities", type=int, default=100, help="random densities per dimension (default 100)")
    t.add_argument("--samples", type=int, default=1000, help="samples per density (default 1000)")
    t.add_argument("--solver", choices=["exact", "splitting"], default="exact",
                   help="Fokker-Planck solver: exact OU propagator (default) or the paper's splitting")
    t.add_argument("--seed0", type=int, default=0, help="seeds seed0 .. seed0 + densities - 1 (default 0)")
    t.add_argument("--jobs", type=int, default=2, help="densities run in parallel (default 2)")
    t.add_argument("--out", default="book/data/table1.csv", help="result CSV (default book/data/table1.csv)")
    t.add_argument("--grid", type=int, nargs="+", default=None,
                   help="Chebyshev nodes per axis, one value or one per d (default: the paper's 250 100 50)")
    t.add_argument("--steps", type=int, nargs="+", default=None,
                   help="splitting time steps on [0, 5], one or one per d (default: the paper's 250 100 50)")
    t.add_argument("--t-max", type=float, default=5.0, help="final time of the flow (default 5, the paper's)")
    t.add_argument("--rtol", type=float, default=1e-10, help="ODE tolerance of the encoder (default 1e-10)")
    t.add_argument("--check-rtol", type=float, default=1e-9,
                   help="tolerance of the second, looser ODE run that measures the ODE error (default 1e-9)")
    t.add_argument("--check-times", type=float, nargs="+", default=[0.0, 0.1, 1.0, 5.0],
                   help="times at which the solver is checked against the reference")
    t.add_argument("--check-points", type=int, default=100, help="points per check time (default 100)")
    t.add_argument("--fresh", action="store_true", help="ignore and discard a partial run of the same output")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = sub.add_parser("summary", help="print Table 1 and the per-stage times from a result file")
    s.add_argument("path", nargs="?", default="book/data/table1.csv")
    return p


def _print_summary(rows):
    print(table1_markdown(rows))
    print()
    summ = summarise(rows)
    print("| d | failed | median wall [s] | total wall [s] | median CPU [s] | "
          + " | ".join(f"median {c[2:]} [s]" for c in _STAGES)
          + " | max p0 error | max solver error | max score error | max mass error | max ODE error"
          " | max negative mass |")
    print("|" + "---|" * (5 + len(_STAGES) + 6))
    for d, s in summ.items():
        print(f"| {d} | {s['failed']} | {s['wall_median']:.2f} | {s['wall_total']:.0f} | {s['cpu_median']:.2f} | "
              + " | ".join(f"{s[c + '_median']:.3f}" for c in _STAGES)
              + f" | {_sci(s['p0_error_max'])} | {_sci(s['solver_error_max'])} | {_sci(s['score_error_max'])}"
              f" | {_sci(s['mass_error_max'])}"
              f" | {_sci(s['ode_error_max'])} | {_sci(s['negative_mass_max'])} |")


def main(argv=None) -> int:
    """Command-line entry point (``python -m ddpm_ot_lib.experiments``)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "summary":
        _print_summary(read_rows(args.path))
        return 0
    dims = args.dims
    command = "python -m ddpm_ot_lib.experiments " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        rows = run_table(dims=dims, densities=args.densities, samples=args.samples, solver=args.solver,
                         seed0=args.seed0, jobs=args.jobs, out=args.out, grid=_per_dim(parser, args.grid, dims, "grid"),
                         steps=_per_dim(parser, args.steps, dims, "steps"), t_max=args.t_max, rtol=args.rtol,
                         check_rtol=args.check_rtol,
                         check_times=args.check_times, check_points=args.check_points, resume=not args.fresh,
                         progress=not args.no_progress, command=command)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_summary(rows)
    print(f"\nwrote {args.out} and {Path(args.out).with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    # run the importable module's main, so that joblib's workers can unpickle its functions
    from ddpm_ot_lib.experiments import main as _main

    sys.exit(_main())
