r"""The Fokker–Planck equation in the tensor-train format (§3.4, App. C), and its exact OU solution.

(Longer than the book's ~500-line guide, one concern: the equation and its two solvers, the paper's splitting
and the exact OU propagator, behind one :class:`Solution` and one score path that every
consumer uses; the Chebyshev/TT arithmetic they share is :mod:`ddpm_ot_lib.chebyshev`.)

The equation, as in fpcross (Chertkov & Oseledets 2021), for a drift f and a scalar
diffusion coefficient D:

.. math::  \frac{\partial p}{\partial t} = -\nabla\cdot\bigl(f(x, t)\, p\bigr) + D\,\Delta p .

The forward process of the paper (Eq. 8) is the Ornstein–Uhlenbeck case f = −x, D = 1:
:math:`\partial_t p = \nabla\cdot(x p) + \Delta p`. The density lives on the Chebyshev
grid of :mod:`ddpm_ot_lib.chebyshev` over :math:`[a, b]^d` (the paper: [−8, 8]^d) as a
tensor train, teneva's plain list of cores.

What this module keeps apart (as fpcross does): the **equation** (:class:`Equation`:
drift, its divergence, diffusion coefficient, optional initial and exact densities;
:func:`ornstein_uhlenbeck`, :func:`gaussian_ou`) and the **solvers**, which return a
:class:`Solution` holding the TT of :math:`p_t` at the requested times:

1. :func:`solve_splitting`, the paper's scheme (App. C): Strang splitting
   :math:`e^{\frac h2 \mathcal D} e^{h \mathcal C} e^{\frac h2 \mathcal D}`; the diffusion half
   step multiplies every core by :math:`\exp(\tfrac h2 D\, J D_2)` (:math:`D_2` the
   Chebyshev second-derivative matrix, J zeroing its boundary rows, as fpcross); the
   convection step follows characteristics — the value at a node x is
   :math:`p(X, t) \exp(-\int_t^{t+h} \nabla\cdot f)`, X the foot of the characteristic
   through x, from one RK4 step of the augmented ODE backward — and the new TT is built by
   TT-cross started from the current one (sweeps and rank bounded), then rounded. Unlike
   fpcross, which integrates the density factor :math:`r' = -(\nabla\cdot f) r` itself by
   RK4 (relative error per step :math:`T_4(dh)e^{-dh} - 1 \approx -(dh)^5/(120\,e^{dh})`,
   :math:`T_4` the Taylor polynomial of degree 4: about 4 % of the mass lost by t = 5 at
   the paper's d = 7 setting, computed in the chapter), the integral of the divergence
   is integrated and exponentiated, which is exact for the OU drift.
2. :func:`solve_exact`, the exact OU propagator. The transition of Eq. (8) is
   :math:`N(e^{-t}y, (1 - e^{-2t}) I)`, a product over coordinates, so
   :math:`p_t = (K_t \otimes \cdots \otimes K_t)\, p_0` and in the TT format every core is
   multiplied by one n × n matrix :math:`A_t = \exp(t L)`, L the Chebyshev collocation of
   the 1-D generator :math:`\partial_x(x\,\cdot) + \partial_x^2` (homogeneous Dirichlet
   at a, b). Ranks never grow, there is no time step, and :math:`A_t` is available at
   any t through one eigendecomposition of L (:func:`ou_matrix`).

Both solutions are evaluated at arbitrary points (n, d) by :func:`density`,
:func:`gradient` and :func:`score` (:math:`\nabla\log p_t`), and :func:`score_function`
turns a solution into a ``score(x, t)`` callable for :func:`ddpm_ot_lib.flow.encode`.

The independent ground truths live in :mod:`ddpm_ot_lib.references` (the OU transition
kernel integrated against the formula of :math:`p_0`, closed forms), sharing no code
with the solvers.

Exact solutions are evaluated (:func:`density`, :func:`gradient`, :func:`score`,
:func:`mass`) from the Chebyshev coefficients of the cores of :math:`p_t`, obtained
directly from the eigen-coordinates :math:`V^{-1} G_k` of :math:`p_0`'s cores: the one
score path of the library, fast enough for the many score calls of the Table 1 encoder.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy.linalg import expm

from . import _validate as check
from . import chebyshev as cheb

__all__ = [
    "Equation",
    "ornstein_uhlenbeck",
    "gaussian_ou",
    "Solution",
    "initial_tt",
    "ou_generator",
    "ou_eigen",
    "clear_caches",
    "value_and_gradient",
    "ou_matrix",
    "propagate_exact",
    "solve_exact",
    "diffusion_matrix",
    "characteristics",
    "convection_step",
    "splitting_step",
    "solve_splitting",
    "tt_at",
    "density",
    "gradient",
    "score",
    "score_function",
    "mass",
    "masses",
]


# =========================================================================== the equation


@dataclass(frozen=True)
class Equation:
    r"""A Fokker–Planck equation :math:`\partial_t p = -\nabla\cdot(f p) + D \Delta p` in dimension d.

    drift : callable       f(x, t): points (m, d), time -> (m, d)
    divergence : callable  :math:`\nabla\cdot f(x, t)`: (m, d), t -> (m,)
    diffusion : float      D > 0 (Eq. 8: D = 1; fpcross's default is 0.5)
    d : int                dimension
    initial : callable     optional :math:`p_0(x)`, (m, d) -> (m,)
    exact : callable       optional :math:`p(x, t)`, (m, d), t -> (m,)
    name : str
    """

    drift: Callable
    divergence: Callable
    diffusion: float
    d: int
    initial: Callable | None = None
    exact: Callable | None = None
    name: str = "Fokker-Planck"


def ornstein_uhlenbeck(d: int, initial: Callable | None = None, exact: Callable | None = None) -> Equation:
    r"""Eq. (8): :math:`\partial_t p = \nabla\cdot(x p) + \Delta p` (drift −x, divergence −d, D = 1)."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d (dimension) must be an integer >= 1, got {d!r}")
    d = int(d)
    if initial is not None:
        check.function(initial, "initial")
    if exact is not None:
        check.function(exact, "exact")
    return Equation(
        drift=lambda x, t: -x,
        divergence=lambda x, t: np.full(x.shape[0], -float(d)),
        diffusion=1.0,
        d=d,
        initial=initial,
        exact=exact,
        name="Ornstein-Uhlenbeck (Eq. 8)",
    )


def gaussian_ou(mean, cov) -> Equation:
    r"""Eq. (8) started from :math:`N(a, \Sigma)`, with its exact solution (App. B).

    :math:`p_t = N(a e^{-t}, I + e^{-2t}(\Sigma - I))`, from :func:`ddpm_ot_lib.gaussian.marginal`.
    """
    from . import gaussian

    a = check.vector(mean, "mean")
    sigma = check.spd_matrix(cov, "cov", d=a.shape[0])

    def exact(x, t):
        return np.exp(gaussian.log_density(x, t, a, sigma))

    return ornstein_uhlenbeck(a.shape[0], initial=lambda x: exact(x, 0.0), exact=exact)


def _checked_drift(eq: Equation, x: np.ndarray, t: float):
    f = np.asarray(eq.drift(x, t), dtype=np.float64)
    if f.shape != x.shape:
        raise ValueError(f"drift(x, t) must return an array of shape {x.shape} like x, got {f.shape}")
    return f


def _checked_div(eq: Equation, x: np.ndarray, t: float):
    g = np.asarray(eq.divergence(x, t), dtype=np.float64)
    if g.shape != (x.shape[0],):
        raise ValueError(f"divergence(x, t) must return an array of shape ({x.shape[0]},), got {g.shape}")
    return g


def _check_equation(eq, grid_: cheb.Grid | None = None) -> Equation:
    if not isinstance(eq, Equation):
        raise TypeError(f"equation must be a fokker_planck.Equation, got {type(eq).__name__}")
    check.function(eq.drift, "equation.drift")
    check.function(eq.divergence, "equation.divergence")
    check.positive(eq.diffusion, "equation.diffusion")
    if grid_ is not None and grid_.d != eq.d:
        raise ValueError(f"the grid has dimension {grid_.d} but the equation has d = {eq.d}")
    probe = np.zeros((2, eq.d))
    if not np.all(np.isfinite(_checked_drift(eq, probe, 0.0))) or not np.all(np.isfinite(_checked_div(eq, probe, 0.0))):
        raise ValueError("drift(x, t) and divergence(x, t) must be finite")
    return eq


def _check_grid(grid_) -> cheb.Grid:
    if not isinstance(grid_, cheb.Grid):
        raise TypeError(f"grid must be a chebyshev.Grid (use chebyshev.grid(a, b, n, d)), got {type(grid_).__name__}")
    return grid_


def initial_tt(equation: Equation, grid_: cheb.Grid, tol: float = 1e-10, rank_max: int = 40, seed: int = 0) -> list:
    r"""TT of :math:`p_0` (``equation.initial``) on the grid by TT-cross, normalised to mass 1."""
    eq = _check_equation(equation, _check_grid(grid_))
    if eq.initial is None:
        raise ValueError("equation.initial is None: give the initial density p0(x)")
    Y = cheb.tt_cross(eq.initial, grid_, tol=tol, rank_max=rank_max, seed=seed)
    return cheb.tt_scale(Y, 1.0 / cheb.tt_integral(Y, grid_))


# =========================================================================== results


@dataclass
class Solution:
    r""":math:`p_t` on the grid as a TT at each of ``times``.

    grid : chebyshev.Grid, times : array (m,), tensors : list of m TTs,
    method : "splitting" or "exact", info : dict (wall time, ranks per step, ...).
    For method "exact", ``initial`` holds :math:`p_0`'s TT, from which :math:`p_t` is
    available at any t >= 0 (:func:`tt_at`).
    """

    grid: cheb.Grid
    times: np.ndarray
    tensors: list
    method: str
    info: dict = field(default_factory=dict)
    initial: list | None = None
    _eig_cores: list | None = field(default=None, repr=False)
    _coef0: list | None = field(default=None, repr=False)

    @property
    def ranks(self) -> list[list[int]]:
        """TT ranks of the stored tensors, one list per time."""
        return [cheb.tt_ranks(Y) for Y in self.tensors]


# =========================================================================== exact OU propagator


def ou_generator(a, b, n: int) -> np.ndarray:
    r"""Chebyshev collocation L (n, n) of the 1-D generator :math:`\partial_x(x\,p) + \partial_x^2 p` of Eq. (8).

    :math:`L = D_1\,\mathrm{diag}(x) + D_2` on the nodes of [a, b] (node 0 = b).
    """
    x = cheb.nodes(a, b, n)
    d1, d2 = cheb.diff_matrices(a, b, n)
    return d1 * x[None, :] + d2


@lru_cache(maxsize=16)
def ou_eigen(a: float, b: float, n: int):
    """Eigendecomposition (lam, V, V^{-1}) of the interior block of L (Dirichlet), or None.

    L is not normal (cond(V) is about 3e6 for n = 250 on [-8, 8], but 5e8 for n = 100 on
    [-12, 12]), so exp(tL) from V e^{tΛ} V^{-1} carries an error of about cond(V) eps.
    Returns None when that could exceed 1e-8; callers then use scipy.linalg.expm.
    """
    L = _interior_generator(a, b, n)
    lam, V = np.linalg.eig(L)
    Vinv = np.linalg.inv(V)
    kappa = np.linalg.cond(V)
    resid = np.abs((V * lam) @ Vinv - L).max() / np.abs(L).max()
    if not (kappa < 1e8 and resid < 1e-10):
        return None
    return lam, V, Vinv


def clear_caches() -> None:
    """Forget the cached eigendecompositions (benchmarks time them in every run)."""
    ou_eigen.cache_clear()
    _real_stack.cache_clear()
    _spectral.cache_clear()


def _interior_generator(a, b, n):
    return ou_generator(a, b, n)[1:-1, 1:-1]


def ou_matrix(a, b, n: int, t: float) -> np.ndarray:
    r"""The exact 1-D propagator :math:`A_t = \exp(t L)` (n, n) of Eq. (8) on the Chebyshev nodes.

    L is :func:`ou_generator` with homogeneous Dirichlet conditions at a and b (the
    density vanishes there to rounding on the paper's box), so :math:`A_t` acts on the
    n − 2 interior nodes and returns 0 at the ends for t > 0. Computed as
    :math:`V e^{t\Lambda} V^{-1}` from one cached eigendecomposition, so any t costs one
    n × n product; when the eigenvectors are too ill-conditioned for 1e-8 accuracy (large
    boxes, cond(V) > 1e8) it falls back to ``scipy.linalg.expm``. The tests compare both
    with each other. The d-dimensional propagator is :math:`A_t \otimes \cdots \otimes A_t`:
    in the TT format each core is multiplied by :math:`A_t` (:func:`propagate_exact`).
    """
    a, b, n = check.interval(a, b, n)
    t = check.time(t)
    if t == 0.0:
        return np.eye(n)
    eig = ou_eigen(a, b, n)
    out = np.zeros((n, n))
    if eig is None:
        out[1:-1, 1:-1] = expm(t * _interior_generator(a, b, n))
    else:
        lam, V, Vinv = eig
        out[1:-1, 1:-1] = ((V * np.exp(t * lam)) @ Vinv).real
    return out


def _mul_cores(mat, Y):
    """Every core G (r1, n, r2) multiplied by the (n, n) matrix along its middle index."""
    return [np.matmul(mat, G) for G in Y]


def propagate_exact(Y, grid_: cheb.Grid, t: float) -> list:
    r""":math:`p_t` from the TT of :math:`p_0`: every core multiplied by :func:`ou_matrix` (same ranks)."""
    grid_ = _check_grid(grid_)
    cores = check.tt(Y, "Y", grid_)
    return _mul_cores(ou_matrix(grid_.a, grid_.b, grid_.n, t), cores)


def solve_exact(Y0, grid_: cheb.Grid, times) -> Solution:
    r"""Exact solution of Eq. (8) at ``times`` from the TT ``Y0`` of :math:`p_0` (no time stepping).

    Y0 : TT on ``grid_``; times : non-decreasing array (m,) of t >= 0.
    Returns a :class:`Solution` (method "exact"); ranks equal those of Y0 at every time.
    Each core is transformed once, :math:`H_k = V^{-1} G_k`; then every time costs
    :math:`G_k(t) = V e^{t\Lambda} H_k`, :math:`O(n^2 r^2)` per core (:func:`ou_matrix`).
    """
    grid_ = _check_grid(grid_)
    Y0 = check.tt(Y0, "Y0", grid_)
    times = check.times(times, "times")
    start = _time.perf_counter()
    sol = Solution(grid_, times, [], "exact", {}, initial=Y0)
    sol.tensors = [_exact_cores_at(sol, float(t)) for t in times]
    sol.info["wall_time"] = _time.perf_counter() - start
    return sol


def _exact_cores_at(sol: Solution, t: float) -> list:
    """Cores of p_t for the exact solution at any t, reusing H_k = V^{-1} G_k across calls."""
    g = sol.grid
    if t == 0.0:
        return sol.initial
    eig = ou_eigen(g.a, g.b, g.n)
    if eig is None:
        return propagate_exact(sol.initial, g, t)
    lam, V, Vinv = eig
    e = np.exp(t * lam)[:, None]
    vcat = _real_stack(g.a, g.b, g.n)
    out = []
    for G0, H in zip(sol.initial, _eigen_cores(sol, Vinv)):
        r1, _, r2 = G0.shape
        W = e * H  # Re(V W) = [Re V, -Im V] @ [Re W; Im W]: one real product, not a complex one
        G = np.zeros((g.n, r1 * r2))
        G[1:-1] = vcat @ np.concatenate([W.real, W.imag])
        out.append(np.ascontiguousarray(G.reshape(g.n, r1, r2).transpose(1, 0, 2)))
    return out


def _eigen_cores(sol: Solution, Vinv) -> list:
    """H_k = V^{-1} G_k (interior rows) as (n - 2, r1 r2) matrices, computed once per solution."""
    if sol._eig_cores is None:
        n = sol.grid.n
        sol._eig_cores = [Vinv @ G[:, 1:-1, :].transpose(1, 0, 2).reshape(n - 2, -1) for G in sol.initial]
    return sol._eig_cores


@lru_cache(maxsize=16)
def _real_stack(a, b, n):
    V = ou_eigen(a, b, n)[1]
    return np.hstack([V.real, -V.imag])


@lru_cache(maxsize=16)
def _spectral(a, b, n):
    """Per grid: Q (values -> Chebyshev coefficients), Dc (d/dx on coefficients), Q[:, 1:-1] [Re V, -Im V]."""
    Q = cheb.values_to_coefficients(np.eye(n))
    Dc = np.zeros((n, n))
    for j in range(n):
        Dc[: n - 1, j] = np.polynomial.chebyshev.chebder(np.eye(n)[j]) * (2.0 / (b - a))
    QV = None if ou_eigen(a, b, n) is None else Q[:, 1:-1] @ _real_stack(a, b, n)
    for arr in (Q, Dc) + (() if QV is None else (QV,)):
        arr.setflags(write=False)
    return Q, Dc, QV


def _exact_coefficients(sol: Solution, t: float) -> list:
    r"""Chebyshev coefficients of the cores of :math:`p_t` and of their x-derivatives.

    List of d arrays (n, 2 r_{k-1} r_k): the first r_{k-1} r_k columns are the
    coefficients of core k, the others those of its derivative. For t > 0 the
    coefficients come straight from :math:`H_k = V^{-1} G_k` (one real product with
    :math:`Q\,[\mathrm{Re}\,V, -\mathrm{Im}\,V]`), not through the nodal values.
    """
    g = sol.grid
    Q, Dc, QV = _spectral(g.a, g.b, g.n)
    if t == 0.0 and sol._coef0 is not None:
        return sol._coef0
    if t == 0.0 or QV is None:
        C = [Q @ G.transpose(1, 0, 2).reshape(g.n, -1) for G in _exact_cores_at(sol, t)]
    else:
        lam, _, Vinv = ou_eigen(g.a, g.b, g.n)
        e = np.exp(t * lam)[:, None]
        C = [QV @ np.concatenate([(e * H).real, (e * H).imag]) for H in _eigen_cores(sol, Vinv)]
    out = [np.concatenate([c, Dc @ c], axis=1) for c in C]
    if t == 0.0:
        sol._coef0 = out
    return out


def _exact_evaluate(sol: Solution, x: np.ndarray, t: float, gradient: bool):
    r""":math:`p_t(x)` (and :math:`\nabla p_t`) of an exact solution from its Chebyshev coefficients.

    The basis :math:`T_j(\hat x_k)` of all points and coordinates comes from one
    recurrence (:func:`ddpm_ot_lib.chebyshev.chebyshev_basis`), each core is contracted
    with it by one matrix product, and the TT by :func:`ddpm_ot_lib.chebyshev.tt_chain_gradient`.
    The same numbers as the nodal path (:func:`ddpm_ot_lib.chebyshev.tt_gradient` on
    :func:`tt_at`) to about 1e-12 relative (tested), several times faster for the many
    score calls of the ODE solver. Points outside the box get 0, and so do points on its
    faces for t > 0 (the propagator's Dirichlet condition, exact on the nodal path).
    """
    g = sol.grid
    inside = ~np.any((x < g.a) | (x > g.b), axis=1)
    if t > 0.0:  # the Dirichlet ends: p_t = 0 on the box's faces exactly, as on the nodes
        inside &= ~np.any((x == g.a) | (x == g.b), axis=1)
    if not inside.all():
        val, grad = np.zeros(x.shape[0]), (np.zeros(x.shape) if gradient else None)
        if inside.any():
            v, gr = _exact_evaluate(sol, x[inside], t, gradient)
            val[inside] = v
            if gradient:
                grad[inside] = gr
        return val, grad
    xi = x
    basis = cheb.chebyshev_basis(((2.0 * xi - g.a - g.b) / (g.b - g.a)).T, g.n)  # (n, d, m)
    T, dT = [], []
    for k, C in enumerate(_exact_coefficients(sol, t)):
        r1, r2 = sol.initial[k].shape[0], sol.initial[k].shape[2]
        cols = C if gradient else C[:, : r1 * r2]
        W = (basis[:, k, :].T @ cols).reshape(xi.shape[0], -1, r1, r2)
        T.append(W[:, 0])
        if gradient:
            dT.append(W[:, 1])
    return cheb.tt_chain_gradient(T, dT if gradient else None)


# =========================================================================== splitting (App. C)


def diffusion_matrix(grid_: cheb.Grid, tau: float, coef: float = 1.0) -> np.ndarray:
    r""":math:`\exp(\tau D\, J D_2)` (n, n): the diffusion sub-step of length τ (App. C, as fpcross).

    J zeroes the first and last rows of :math:`D_2`, so the boundary values are held.
    """
    grid_ = _check_grid(grid_)
    tau = check.time(tau, "tau")
    coef = check.positive(coef, "coef")
    d2 = cheb.diff_matrices(grid_.a, grid_.b, grid_.n)[1].copy()
    d2[0, :] = 0.0
    d2[-1, :] = 0.0
    return expm(tau * coef * d2)


def characteristics(equation: Equation, x, t_end: float, h: float, substeps: int = 1):
    r"""Feet of the characteristics of :math:`\partial_t p + \nabla\cdot(f p) = 0` through x at t_end.

    Integrates :math:`\dot X = f(X, s)`, :math:`\dot J = \nabla\cdot f(X, s)` backward from
    s = t_end (X = x, J = 0) to s = t_end − h with ``substeps`` RK4 steps. Then
    :math:`p(x, t_{end}) = p(X, t_{end} - h)\, e^{J}` (App. C).

    x : array (m, d); returns X (m, d) and J (m,).
    """
    X = np.array(x, dtype=np.float64)
    J = np.zeros(X.shape[0])
    k = -float(h) / int(substeps)
    s = float(t_end)

    def rhs(X_, s_):
        return _checked_drift(equation, X_, s_), _checked_div(equation, X_, s_)

    for _ in range(int(substeps)):
        f1, g1 = rhs(X, s)
        f2, g2 = rhs(X + 0.5 * k * f1, s + 0.5 * k)
        f3, g3 = rhs(X + 0.5 * k * f2, s + 0.5 * k)
        f4, g4 = rhs(X + k * f3, s + k)
        X = X + k / 6.0 * (f1 + 2 * f2 + 2 * f3 + f4)
        J = J + k / 6.0 * (g1 + 2 * g2 + 2 * g3 + g4)
        s += k
    return X, J


def convection_step(
    Y,
    grid_: cheb.Grid,
    equation: Equation,
    t: float,
    h: float,
    tol: float = 1e-8,
    rank_max: int = 30,
    nswp: int = 4,
    dr_max: int = 1,
    substeps: int = 1,
    info: dict | None = None,
) -> list:
    r"""Convection sub-step from t to t + h by characteristics and TT-cross (App. C).

    The new TT is the cross approximation of
    :math:`x \mapsto p(X(x), t)\, e^{J(x)}` (:func:`characteristics`), :math:`p(\cdot, t)` the
    interpolant of Y (0 outside the box), started from Y itself, at most ``nswp`` sweeps
    adding at most ``dr_max`` rank per core and sweep, rank <= ``rank_max``.
    """

    def func(x):
        x0, jac = characteristics(equation, x, t + h, h, substeps)
        return cheb.tt_evaluate(Y, grid_, x0) * np.exp(jac)

    return cheb.tt_cross(func, grid_, tol=tol, nswp=nswp, dr_max=dr_max, rank_max=rank_max, Y0=Y, info=info)


def splitting_step(Y, grid_: cheb.Grid, equation: Equation, t: float, h: float, Z=None, **cross) -> list:
    r"""One Strang step t -> t + h: diffusion h/2, convection h, diffusion h/2, rounding (App. C).

    Z is :func:`diffusion_matrix` (grid, h/2, D), computed if not given; ``cross`` goes
    to :func:`convection_step` (tol, rank_max, nswp, dr_max, substeps, info).
    """
    if Z is None:
        Z = diffusion_matrix(grid_, 0.5 * h, equation.diffusion)
    Y = _mul_cores(Z, Y)
    Y = convection_step(Y, grid_, equation, t, h, **cross)
    Y = _mul_cores(Z, Y)
    return cheb.tt_truncate(Y, cross.get("tol", 1e-8), cross.get("rank_max", 30))


def solve_splitting(
    equation: Equation,
    Y0,
    grid_: cheb.Grid,
    times,
    h: float,
    tol: float = 1e-8,
    rank_max: int = 30,
    nswp: int = 4,
    dr_max: int = 1,
    substeps: int = 1,
) -> Solution:
    r"""The paper's solver (App. C): Strang splitting with TT-cross convection, for any drift.

    Parameters
    ----------
    equation : Equation   drift f(x, t), its divergence, diffusion coefficient D
    Y0 : TT               :math:`p_0` on ``grid_`` (e.g. :func:`initial_tt`)
    grid_ : Grid          the Chebyshev grid
    times : array (m,)    non-decreasing output times >= 0
    h : float             largest time step; each interval between output times is cut
                          into equal steps of length <= h (M = 250 steps on [0, 5] in d = 2)
    tol, rank_max         cross and rounding accuracy; rank cap
    nswp, dr_max          cross sweeps per step; rank added per core and sweep
    substeps : int        RK4 steps per characteristic

    Returns
    -------
    Solution (method "splitting"), with ``info`` holding the wall time, the number of
    steps, and the largest TT rank after every step (``info['ranks']``).
    """
    grid_ = _check_grid(grid_)
    eq = _check_equation(equation, grid_)
    Y = check.tt(Y0, "Y0", grid_)
    times = check.times(times, "times")
    h = check.positive(h, "h")
    cross = {
        "tol": check.positive(tol, "tol"),
        "rank_max": int(rank_max),
        "nswp": int(nswp),
        "dr_max": int(dr_max),
        "substeps": int(substeps),
    }
    if cross["rank_max"] < 1 or cross["nswp"] < 1 or cross["dr_max"] < 0 or cross["substeps"] < 1:
        raise ValueError("rank_max, nswp and substeps must be >= 1 and dr_max >= 0")
    start = _time.perf_counter()
    mats: dict[float, np.ndarray] = {}
    tensors, ranks, step_times, evals = [], [], [], 0
    t = 0.0
    for t_out in times:
        n_steps = int(np.ceil((t_out - t) / h - 1e-9))
        if n_steps > 0:
            step = (t_out - t) / n_steps
            key = round(step, 15)
            if key not in mats:
                mats[key] = diffusion_matrix(grid_, 0.5 * step, eq.diffusion)
            for _ in range(n_steps):
                rep: dict = {}
                Y = splitting_step(Y, grid_, eq, t, step, Z=mats[key], info=rep, **cross)
                evals += rep.get("evals", 0)
                t += step
                ranks.append(max(cheb.tt_ranks(Y)))
                step_times.append(t)
            t = float(t_out)
        tensors.append([G.copy() for G in Y])
    info = {
        "wall_time": _time.perf_counter() - start,
        "steps": len(ranks),
        "ranks": ranks,
        "step_times": np.array(step_times),
        "evals": evals,
        **cross,
    }
    return Solution(grid_, times, tensors, "splitting", info)


# =========================================================================== evaluation


def tt_at(solution: Solution, t: float) -> list[tuple[float, list]]:
    r"""The TT(s) of :math:`p_t` as ``[(weight, TT), ...]`` with :math:`p_t = \sum w\,TT`.

    Exact solution: one TT at any t >= 0 (the propagator evaluated at t). Splitting
    solution: the stored TT if t is one of ``times``, otherwise linear interpolation in t
    between the two neighbouring stored times (second-order error in their spacing); t
    outside [times[0], times[-1]] is an error.
    """
    if not isinstance(solution, Solution):
        raise TypeError(f"solution must be a fokker_planck.Solution, got {type(solution).__name__}")
    t = check.time(t)
    if solution.method == "exact":
        return [(1.0, _exact_cores_at(solution, t))]
    ts = solution.times
    scale = max(1.0, abs(ts[-1]))
    if t < ts[0] - 1e-12 * scale or t > ts[-1] + 1e-12 * scale:
        raise ValueError(f"t = {t} lies outside the solved times [{ts[0]}, {ts[-1]}]")
    i = int(np.searchsorted(ts, t))
    for j in (i - 1, i):
        if 0 <= j < len(ts) and abs(ts[j] - t) <= 1e-12 * scale:
            return [(1.0, solution.tensors[j])]
    w = (t - ts[i - 1]) / (ts[i] - ts[i - 1])
    return [(1.0 - w, solution.tensors[i - 1]), (w, solution.tensors[i])]


def _is_solution(solution):
    if not isinstance(solution, Solution):
        raise TypeError(f"solution must be a fokker_planck.Solution, got {type(solution).__name__}")
    return solution


def _points(solution, x):
    return check.points(x, "x", d=_is_solution(solution).grid.d)


def density(solution: Solution, x, t: float) -> np.ndarray:
    r""":math:`p_t(x)` at points x (m, d) -> (m,) (0 outside the box).

    Exact solutions are evaluated from the Chebyshev coefficients of :math:`p_t`'s cores
    (:func:`_exact_evaluate`), splitting solutions by barycentric interpolation of the
    stored TTs (:func:`tt_at`, :func:`ddpm_ot_lib.chebyshev.tt_evaluate`).
    """
    x = _points(solution, x)
    if solution.method == "exact":
        return _exact_evaluate(solution, x, check.time(t), False)[0]
    return sum(w * cheb.tt_evaluate(Y, solution.grid, x) for w, Y in tt_at(solution, t))


def gradient(solution: Solution, x, t: float, with_value: bool = False):
    r""":math:`\nabla p_t(x)` at points x (m, d) -> (m, d); with ``with_value`` also :math:`p_t(x)` (m,)."""
    x = _points(solution, x)
    if solution.method == "exact":
        val, grad = _exact_evaluate(solution, x, check.time(t), True)
        return (grad, val) if with_value else grad
    grad, val = np.zeros_like(x), np.zeros(x.shape[0])
    for w, Y in tt_at(solution, t):
        g, v = cheb.tt_gradient(Y, solution.grid, x, with_value=True)
        grad += w * g
        val += w * v
    return (grad, val) if with_value else grad


def value_and_gradient(solution: Solution, x, t: float):
    r""":math:`(p_t(x), \nabla p_t(x))` at points x (m, d) -> ((m,), (m, d)), zero outside the box.

    Outside the box the solution is 0 (its convention: the Dirichlet faces), so an
    absorbing score (:class:`ddpm_ot_lib.flow.AbsorbingScore`) stops a trial step thrown
    out of the box instead of failing on it; inside, the values are :func:`gradient`'s.
    """
    x = _points(solution, x)
    g = solution.grid
    inside = np.all((x >= g.a) & (x <= g.b), axis=1)
    grad, val = np.zeros_like(x), np.zeros(x.shape[0])
    if inside.all():
        grad, val = gradient(solution, x, t, with_value=True)
    elif inside.any():
        grad[inside], val[inside] = gradient(solution, x[inside], t, with_value=True)
    return val, grad


def score(solution: Solution, x, t: float) -> np.ndarray:
    r""":math:`\nabla \log p_t(x) = \nabla p_t(x) / p_t(x)` at points x (m, d) -> (m, d).

    Raises ValueError for points outside the box or where the computed :math:`p_t \le 0`
    (far tails, where the solution carries no information).
    """
    x = _points(solution, x)
    g = solution.grid
    outside = np.any((x < g.a) | (x > g.b), axis=1)
    if outside.any():
        raise ValueError(f"x must lie in the box [{g.a}, {g.b}]^{g.d}; {int(outside.sum())} point(s) do not")
    grad, val = gradient(solution, x, t, with_value=True)
    bad = ~(val > 0)
    if bad.any():
        raise ValueError(
            f"p_t(x) <= 0 at {int(bad.sum())} point(s) (t = {float(t):.4g}): x lies in the tails, "
            "where the solution is below its accuracy and has no score"
        )
    return grad / val[:, None]


def score_function(solution: Solution) -> Callable:
    r"""A callable ``score(x, t)`` = :func:`score` (solution, x, t), for :func:`ddpm_ot_lib.flow.encode`.

    For the exact OU solution any t >= 0 is served exactly (the propagator at t, no
    interpolation in time); for a splitting solution t must lie in its time range and
    is interpolated linearly between stored times (:func:`tt_at`).
    """
    if not isinstance(solution, Solution):
        raise TypeError(f"solution must be a fokker_planck.Solution, got {type(solution).__name__}")

    def _score(x, t):
        return score(solution, x, t)

    return _score


def mass(solution: Solution, t: float) -> float:
    r""":math:`\int p_t` over the box at any t the solution serves (Clenshaw–Curtis in TT)."""
    return float(sum(w * cheb.tt_integral(Y, solution.grid) for w, Y in tt_at(solution, t)))


def masses(solution: Solution) -> np.ndarray:
    r""":math:`\int p_t` over the box at every stored time (m,), by Clenshaw–Curtis in TT."""
    return np.array([cheb.tt_integral(Y, solution.grid) for Y in solution.tensors])
