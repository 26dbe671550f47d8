r"""Test beds for the optimality of the DDPM encoder, and the Lavenant–Santambrogio counterexample.

(Longer than the book's ~500-line guide, one concern: the laws the beyond-Table-1 checks run
on, each with its score, Hessian, samples and exact OT map where known behind one
:class:`TestBed`; the TT route's derivatives live here because only these beds, and the runs
built on them, use them.)

The beyond-Table-1 chapter asks of several data laws :math:`\mu` whether the encoder
:math:`E` (the probability-flow ODE, Eq. 9, run to :math:`t \to \infty`) is the optimal
transport map to :math:`\gamma = N(0, I)`. Each law is a :class:`TestBed`: the score and the
Hessian of :math:`\log p_t` for every t (what :func:`ddpm_ot_lib.flow.encode_with_jacobian`
needs), :math:`\log p_0` (for quadrature), exact samples, and the exact OT map where one is
known independently of the ODE.

Closed form (Gaussian mixtures stay Gaussian mixtures under Eq. 8, so score and Hessian
are exact: :func:`ddpm_ot_lib.gaussian.mixture_score`, :func:`~ddpm_ot_lib.gaussian.mixture_hessian`):

* :func:`gaussian_bed` — :math:`N(a, \Sigma)`; E is the OT map :math:`\Sigma^{-1/2}(x - a)` (Theorem 3.1).
* :func:`separable_bed` — a product of 1-D Gaussian mixtures. The forward process and the
  score act coordinate by coordinate, so E is a product of 1-D increasing maps, the
  gradient of :math:`\sum_k \psi_k(x_k)` with each :math:`\psi_k` convex: the OT map, equal to
  the product of the 1-D quantile maps :math:`\Phi^{-1}(F_k(x_k))`.
* :func:`radial_bed` — a centred scale mixture :math:`\sum_k w_k N(0, s_k^2 I)`: radially
  symmetric, so E is :math:`\rho(|x|)\,x/|x|` with ρ increasing, the gradient of the convex
  :math:`\int_0^{|x|}\rho`: the OT map, :math:`\rho = F_{\chi_d}^{-1}\circ F_{|X|}`.
* :func:`mixture_bed` — a random Gaussian mixture in d = 2, 3: the test of the hypothesis.

By tensor train (the exact OU propagator of :mod:`ddpm_ot_lib.fokker_planck` applied to a
TT of :math:`p_0`; score and Hessian from Chebyshev derivatives, :func:`tt_log_derivatives`):

* :func:`lavenant_santambrogio_bed` — after the counterexample of Lavenant & Santambrogio (2022):
  :math:`\mu_\varepsilon = (\nabla u_\varepsilon)^{-1}_{\#}\gamma` with
  :math:`u_\varepsilon = \tfrac12|x|^2 + \varepsilon\,\varphi\,\chi`,
  their :math:`\varphi = x_1 x_2 + x_1^4`, and a cut-off of our choosing, the Gaussian envelope
  :math:`\chi = e^{-|x|^2/(2w^2)}` (smooth, so the TT resolves the density). For
  :math:`\varepsilon < \varepsilon_{max}(w)` the potential :math:`u_\varepsilon` is convex, so by
  Brenier's theorem :math:`\nabla u_\varepsilon` *is* the OT map from :math:`\mu_\varepsilon` to γ —
  known exactly — and the density is the change of variables
  :math:`p_0(x) = \gamma(\nabla u_\varepsilon(x))\,\det \nabla^2 u_\varepsilon(x)`.
* :func:`random_density_bed` — a random density of Eq. (14), the paper's or the smooth family's
  (:func:`ddpm_ot_lib.densities.random_density`), sampled by rejection.

:func:`tt_density_derivatives` gives :math:`p_t` with its gradient and Hessian (no sign test), for a
caller that stops trajectories at the zero set of :math:`p_t` (the paper's Eq. 15 interpolant).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.special import ndtri
from scipy.stats import chi as _chi

from . import _validate as check
from . import chebyshev as cheb
from . import fokker_planck as fp
from . import gaussian, references

__all__ = [
    "TestBed",
    "gaussian_bed",
    "separable_bed",
    "radial_bed",
    "mixture_bed",
    "tt_log_derivatives",
    "ls_cutoff_potential",
    "ls_map",
    "ls_hessian",
    "ls_density",
    "ls_convexity_limit",
    "ls_sample",
    "lavenant_santambrogio_bed",
    "rejection_sample",
    "random_density_bed",
    "quadrature_grid",
    "tt_density_derivatives",
]


@dataclass
class TestBed:
    r"""A data law :math:`\mu = p_0` under the forward process (Eq. 8), with what the checks need.

    name, kind       label; "closed form" (Gaussian mixture) or "tensor train"
    d                dimension
    score            ``score(x, t)`` -> :math:`\nabla\log p_t(x)`, (n, d)
    hessian          ``hessian(x, t)`` -> :math:`\nabla^2\log p_t(x)`, (n, d, d)
    log_density      ``log_density(x)`` -> :math:`\log p_0(x)`, (n,) (from the formula)
    sample           ``sample(n, seed)`` -> exact samples (n, d)
    ot_map           ``ot_map(x)`` -> the exact OT map to N(0, I) at x (n, d), or None
                     where none is known independently of the ODE
    exactly_ot       True where E is the OT map by symmetry (Gaussian, separable, radial)
    box              (a, b): the cube :math:`[a, b]^d` that holds the mass (quadrature box)
    mean             the data mean (d,) (the finite-T offset of the codes is mean · e^{-T})
    info             anything else (parameters, TT ranks, grid)
    """

    name: str
    kind: str
    d: int
    score: Callable
    hessian: Callable
    log_density: Callable
    sample: Callable
    ot_map: Callable | None
    exactly_ot: bool
    box: tuple
    mean: np.ndarray
    info: dict = field(default_factory=dict)


# =========================================================================== closed form


def _mixture_bed(name, weights, means, covs, ot_map, exactly_ot, box, info=None) -> TestBed:
    w, m, c = gaussian.mixture_params(weights, means, covs)
    chols = np.linalg.cholesky(c)

    def sample(n, seed=0):
        rng = np.random.default_rng(seed)
        k = rng.choice(w.size, size=int(n), p=w)
        return m[k] + np.einsum("nij,nj->ni", chols[k], rng.standard_normal((int(n), m.shape[1])))

    return TestBed(
        name=name,
        kind="closed form",
        d=m.shape[1],
        score=lambda x, t: gaussian.mixture_score(x, t, w, m, c),
        hessian=lambda x, t: gaussian.mixture_hessian(x, t, w, m, c),
        log_density=lambda x: gaussian.mixture_log_density(x, 0.0, w, m, c),
        sample=sample,
        ot_map=ot_map,
        exactly_ot=exactly_ot,
        box=box,
        mean=(w[:, None] * m).sum(axis=0),
        info={"weights": w, "means": m, "covs": c, **(info or {})},
    )


def gaussian_bed(mean=(0.5, -1.0), cov=((1.5, 0.4), (0.4, 0.5))) -> TestBed:
    r""":math:`N(a, \Sigma)`; exact OT map :math:`\Sigma^{-1/2}(x - a)` (Theorem 3.1)."""
    a = check.vector(mean, "mean")
    sigma = check.spd_matrix(cov, "cov", d=a.size)
    return _mixture_bed(
        "Gaussian", [1.0], a[None], sigma[None], lambda x: gaussian.ot_map(x, a, sigma), True, (-8.0, 8.0)
    )


def separable_bed(marginals=None) -> TestBed:
    r"""A product of 1-D Gaussian mixtures, one per coordinate (d = number of marginals).

    marginals : list of (weights (k,), means (k,), stds (k,)); default two bimodal ones.
    Exact OT map: the product of 1-D quantile maps :math:`\Phi^{-1}(F_k(x_k))`, each
    :math:`F_k` by :func:`ddpm_ot_lib.gaussian.mixture_cdf` (upper tail without cancellation).
    """
    if marginals is None:
        marginals = [([0.5, 0.5], [-1.5, 1.5], [0.5, 0.7]), ([0.7, 0.3], [-0.5, 1.5], [0.6, 0.4])]
    parts = [(check.vector(w, "weights"), check.vector(m, "means"), check.vector(s, "stds")) for w, m, s in marginals]
    d = len(parts)
    grids = np.meshgrid(*[np.arange(p[0].size) for p in parts], indexing="ij")
    combos = np.stack([g.ravel() for g in grids], axis=1)  # one row per product component
    weights = np.prod([parts[k][0][combos[:, k]] for k in range(d)], axis=0)
    means = np.stack([parts[k][1][combos[:, k]] for k in range(d)], axis=1)
    covs = np.stack([np.diag([parts[k][2][combos[j, k]] ** 2 for k in range(d)]) for j in range(len(combos))])

    def ot_map(x):
        x = check.points(x, "x", d=d)
        out = np.empty_like(x)
        for k, (w, m, s) in enumerate(parts):
            args = (x[:, [k]], 0.0, w, m[:, None], (s**2)[:, None, None])
            f = gaussian.mixture_cdf(*args)
            g = gaussian.mixture_cdf(*args, upper=True)
            out[:, k] = np.where(f <= 0.5, ndtri(f), -ndtri(g))
        return out

    return _mixture_bed("separable", weights, means, covs, ot_map, True, (-8.0, 8.0), {"marginals": marginals})


def radial_bed(d: int = 2, weights=(0.5, 0.5), scales=(0.6, 1.5)) -> TestBed:
    r"""The centred scale mixture :math:`\sum_k w_k N(0, s_k^2 I_d)`: radially symmetric, not Gaussian.

    Exact OT map :math:`T(x) = \rho(|x|)\,x/|x|` with
    :math:`\rho = F_{\chi_d}^{-1}\bigl(\sum_k w_k F_{\chi_d}(r/s_k)\bigr)`
    (the radial monotone rearrangement; the gradient of a convex radial function).
    """
    w = check.vector(weights, "weights")
    s = check.vector(scales, "scales", d=w.size)
    if np.any(s <= 0):
        raise ValueError(f"scales must be positive, got {s}")

    def ot_map(x):
        x = check.points(x, "x", d=d)
        r = np.linalg.norm(x, axis=1)
        upper = sum(wk * _chi.sf(r / sk, d) for wk, sk in zip(w, s))
        rho = _chi.isf(upper, d)
        return np.divide(rho, r, out=np.zeros_like(r), where=r > 0)[:, None] * x

    return _mixture_bed(
        "radial",
        w,
        np.zeros((w.size, d)),
        np.stack([sk**2 * np.eye(d) for sk in s]),
        ot_map,
        True,
        (-8.0, 8.0),
        {"scales": s},
    )


def mixture_bed(d: int = 2, seed: int = 0, n_components: int = 3) -> TestBed:
    r"""A random Gaussian mixture: means :math:`U[-2, 2]^d`, covariances with eigenvalues
    :math:`U[0.2, 1]` and Haar-random eigenvectors, weights Dirichlet(2, ..., 2). No symmetry:
    whether E is the OT map here is the question. Seeded."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(2.0 * np.ones(n_components))
    m = rng.uniform(-2.0, 2.0, size=(n_components, d))
    covs = []
    for _ in range(n_components):
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        q = q * np.sign(np.diag(r))
        covs.append((q * rng.uniform(0.2, 1.0, size=d)) @ q.T)
    return _mixture_bed(f"mixture d={d}", w, m, np.stack(covs), None, False, (-7.0, 7.0), {"seed": seed})


# =========================================================================== tensor train


def _differentiated_cores(solution: fp.Solution):
    """``cores_at(t)``: for each term (w, Y) of :func:`ddpm_ot_lib.fokker_planck.tt_at`, the cores
    G_k with :math:`D_1 G_k` and :math:`D_2 G_k` (Chebyshev differentiation along the nodes),
    cached for the last t (the ODE asks for the score and the Hessian at the same t)."""
    g = solution.grid
    d1, d2 = cheb.diff_matrices(g.a, g.b, g.n)
    cache: dict = {}

    def cores_at(t):
        key = float(t)
        if cache.get("t") != key:
            cache.clear()
            cache["t"] = key
            cache["cores"] = [
                (w, [(G, _apply_along_nodes(d1, G), _apply_along_nodes(d2, G)) for G in Y])
                for w, Y in fp.tt_at(solution, key)
            ]
        return cache["cores"]

    return cores_at


def tt_log_derivatives(solution: fp.Solution):
    r"""``score(x, t)`` and ``hessian(x, t)`` of :math:`\log p_t` from a TT solution of Eq. (8).

    With :math:`p_t` the Chebyshev interpolant of the TT at time t
    (:func:`ddpm_ot_lib.fokker_planck.tt_at`; any t for the exact propagator), the
    derivatives are exact derivatives of the interpolant — cores multiplied by the
    differentiation matrices :math:`D_1, D_2` (:func:`ddpm_ot_lib.chebyshev.diff_matrices`):

    .. math:: \nabla\log p = \frac{\nabla p}{p}, \qquad
              \nabla^2\log p = \frac{\nabla^2 p}{p} - \frac{\nabla p\,\nabla p^{\mathsf T}}{p^2}.

    The differentiated cores are cached for the last t (the ODE asks for the score and
    the Hessian at the same t). Points outside the box or where the computed
    :math:`p_t \le 0` raise ValueError, as :func:`ddpm_ot_lib.fokker_planck.score` does.

    Returns (score, hessian): callables (x (n, d), t) -> (n, d) and (n, d, d).
    """
    if not isinstance(solution, fp.Solution):
        raise TypeError(f"solution must be a fokker_planck.Solution, got {type(solution).__name__}")
    g = solution.grid
    cores_at = _differentiated_cores(solution)

    def derivatives(x, t):
        x = check.points(x, "x", d=g.d)
        t = check.time(t)
        outside = np.any((x < g.a) | (x > g.b), axis=1)
        if outside.any():
            raise ValueError(f"x must lie in the box [{g.a}, {g.b}]^{g.d}; {int(outside.sum())} point(s) do not")
        m, d = x.shape
        p = np.zeros(m)
        grad = np.zeros((m, d))
        hess = np.zeros((m, d, d))
        mats = [cheb.interpolation_matrix(x[:, k], g.a, g.b, g.n) for k in range(d)]
        for w, cores in cores_at(t):
            # factors[k][o]: core k with derivative order o, contracted with the points (m, r, r')
            factors = [
                [(P @ C.transpose(1, 0, 2).reshape(g.n, -1)).reshape(m, C.shape[0], C.shape[2]) for C in trio]
                for P, trio in zip(mats, cores)
            ]

            def chain(orders):
                q = np.ones((m, 1))
                for k in range(d):
                    q = np.einsum("mr,mrs->ms", q, factors[k][orders[k]])
                return q[:, 0]

            p += w * chain([0] * d)
            for a in range(d):
                o = [0] * d
                o[a] = 1
                grad[:, a] += w * chain(o)
                for b in range(a, d):
                    o2 = [0] * d
                    o2[a] += 1
                    o2[b] += 1
                    hess[:, a, b] += w * chain(o2)
                    if b != a:
                        hess[:, b, a] = hess[:, a, b]
        bad = ~(p > 0)
        if bad.any():
            raise ValueError(
                f"p_t(x) <= 0 at {int(bad.sum())} point(s) (t = {t:.4g}): x lies in the tails, "
                "where the TT solution has no score"
            )
        s = grad / p[:, None]
        return s, hess / p[:, None, None] - np.einsum("mi,mj->mij", s, s)

    memo: dict = {}

    def both(x, t):
        x = np.asarray(x, dtype=np.float64)
        key = (float(t), x.shape, hash(x.tobytes()))
        if memo.get("key") != key:
            memo["key"] = key
            memo["value"] = derivatives(x, t)
        return memo["value"]

    return (lambda x, t: both(x, t)[0]), (lambda x, t: both(x, t)[1])


def tt_density_derivatives(solution: fp.Solution):
    r"""``derivatives(x, t)`` -> :math:`(p_t, \nabla p_t, \nabla^2 p_t)` of a TT solution of Eq. (8), unchecked sign.

    The same Chebyshev interpolant and differentiated cores as :func:`tt_log_derivatives`,
    but (i) no test of :math:`p_t > 0`: the caller decides what a point in the zero set
    of :math:`p_t` means (e.g. it stops the trajectory, as
    :class:`ddpm_ot_lib.flow.AbsorbingScore` does), and (ii) points outside the box get
    :math:`p_t = 0` and zero derivatives (the solution's convention) instead of an error.
    The Hessian uses prefix and suffix products of the contracted cores, so a call costs
    :math:`O(d^2)` core contractions instead of :math:`O(d^3)` (d = 20 is affordable):

    .. math:: \partial_a\partial_b p = L_a\,F'_a\,F_{a+1}\cdots F_{b-1}\,F'_b\,R_{b+1},
              \qquad L_a = F_1\cdots F_{a-1},\ R_b = F_b\cdots F_d,

    :math:`F_k, F'_k, F''_k` core k of order 0, 1, 2 at the points.

    Returns a callable (x (m, d), t) -> p (m,), grad (m, d), hess (m, d, d).
    """
    if not isinstance(solution, fp.Solution):
        raise TypeError(f"solution must be a fokker_planck.Solution, got {type(solution).__name__}")
    g = solution.grid
    cores_at = _differentiated_cores(solution)

    def inside_derivatives(x, t):
        m, d = x.shape
        p, grad, hess = np.zeros(m), np.zeros((m, d)), np.zeros((m, d, d))
        mats = [cheb.interpolation_matrix(x[:, k], g.a, g.b, g.n) for k in range(d)]
        for w, cores in cores_at(t):
            f = [
                [(P @ C.transpose(1, 0, 2).reshape(g.n, -1)).reshape(m, C.shape[0], C.shape[2]) for C in trio]
                for P, trio in zip(mats, cores)
            ]
            left = [np.ones((m, 1))]  # left[k] = F_0 ... F_{k-1}, (m, r_k)
            for k in range(d):
                left.append(np.einsum("mr,mrs->ms", left[k], f[k][0]))
            right = [np.ones((m, 1))] * (d + 1)  # right[k] = F_k ... F_{d-1}, (m, r_k)
            for k in range(d - 1, -1, -1):
                right[k] = np.einsum("mrs,ms->mr", f[k][0], right[k + 1])
            p += w * left[d][:, 0]
            for a in range(d):
                q1 = np.einsum("mr,mrs->ms", left[a], f[a][1])
                grad[:, a] += w * np.einsum("ms,ms->m", q1, right[a + 1])
                hess[:, a, a] += w * np.einsum("ms,ms->m", np.einsum("mr,mrs->ms", left[a], f[a][2]), right[a + 1])
                q = q1
                for b in range(a + 1, d):
                    val = w * np.einsum("ms,ms->m", np.einsum("mr,mrs->ms", q, f[b][1]), right[b + 1])
                    hess[:, a, b] += val
                    hess[:, b, a] += val
                    q = np.einsum("mr,mrs->ms", q, f[b][0])
        return p, grad, hess

    def derivatives(x, t):
        x = check.points(x, "x", d=g.d)
        t = check.time(t)
        inside = np.all((x >= g.a) & (x <= g.b), axis=1)
        if inside.all():
            return inside_derivatives(x, t)
        m, d = x.shape
        p, grad, hess = np.zeros(m), np.zeros((m, d)), np.zeros((m, d, d))
        if inside.any():
            p[inside], grad[inside], hess[inside] = inside_derivatives(x[inside], t)
        return p, grad, hess

    return derivatives


def _apply_along_nodes(mat, G):
    """``einsum("ij,rjs->ris", mat, G)`` as one matrix product (BLAS): G (r, n, s) -> (r, n, s)."""
    r, n, s = G.shape
    return (mat @ G.transpose(1, 0, 2).reshape(n, r * s)).reshape(n, r, s).transpose(1, 0, 2)


def tt_bed(name, density, d, box, n_grid, sample, ot_map, exactly_ot, mean, tol, rank_max, info, quad_box=None):
    """A :class:`TestBed` whose score and Hessian come from the tensor-train route: ``density``
    (a callable on points (m, d)) by TT-cross on the Chebyshev grid of ``box`` with ``n_grid``
    nodes per axis (``tol``, ``rank_max``), normalised, propagated by the exact OU solver, and
    differentiated by :func:`tt_log_derivatives`. ``info`` is merged into the bed's info
    (grid, TT ranks, mass, solution); ``quad_box`` overrides the box used for quadrature."""
    grid_ = cheb.grid(box[0], box[1], n_grid, d)
    Y = cheb.tt_cross(density, grid_, tol=tol, rank_max=rank_max, seed=0, nswp=12, dr_max=2)
    mass = cheb.tt_integral(Y, grid_)
    Y = cheb.tt_scale(Y, 1.0 / mass)
    sol = fp.solve_exact(Y, grid_, [0.0])
    score, hessian = tt_log_derivatives(sol)
    return TestBed(
        name=name,
        kind="tensor train",
        d=d,
        score=score,
        hessian=hessian,
        log_density=lambda x: np.log(np.maximum(density(check.points(x, "x", d=d)) / mass, 1e-300)),
        sample=sample,
        ot_map=ot_map,
        exactly_ot=exactly_ot,
        box=tuple(box if quad_box is None else quad_box),
        mean=mean,
        info={"grid": grid_, "tt_ranks": cheb.tt_ranks(Y), "tt_mass": mass, "solution": sol, **info},
    )


# --------------------------------------------------------------------------- Lavenant-Santambrogio


def _ls_parts(x, width):
    """phi chi (m,), its gradient (m, 2) and Hessian (m, 2, 2); phi = x1 x2 + x1^4, chi = exp(-|x|^2 / (2 w^2))."""
    x1, x2 = x[:, 0], x[:, 1]
    w2 = width**2
    chi = np.exp(-(x1**2 + x2**2) / (2.0 * w2))
    phi = x1 * x2 + x1**4
    gphi = np.stack([x2 + 4.0 * x1**3, x1], axis=1)
    hphi = np.zeros((x.shape[0], 2, 2))
    hphi[:, 0, 0] = 12.0 * x1**2
    hphi[:, 0, 1] = hphi[:, 1, 0] = 1.0
    gchi = -chi[:, None] * x / w2
    hchi = chi[:, None, None] * (np.einsum("mi,mj->mij", x, x) / w2**2 - np.eye(2) / w2)
    val = phi * chi
    grad = chi[:, None] * gphi + phi[:, None] * gchi
    hess = (
        chi[:, None, None] * hphi
        + np.einsum("mi,mj->mij", gphi, gchi)
        + np.einsum("mi,mj->mij", gchi, gphi)
        + phi[:, None, None] * hchi
    )
    return val, grad, 0.5 * (hess + np.swapaxes(hess, 1, 2))


def _ls_args(x, eps, width):
    x = check.points(x, "x", d=2)
    eps = float(np.asarray(eps, dtype=np.float64))
    if not np.isfinite(eps):
        raise ValueError(f"eps must be finite, got {eps}")
    return x, eps, check.positive(width, "width")


def ls_cutoff_potential(x, width: float = 1.0):
    r"""The cut-off perturbation :math:`\psi = (x_1 x_2 + x_1^4)\,e^{-|x|^2/(2w^2)}` of Lavenant &
    Santambrogio (2022): value (m,), gradient (m, 2) and Hessian (m, 2, 2) at x (m, 2)."""
    x = check.points(x, "x", d=2)
    return _ls_parts(x, check.positive(width, "width"))


def ls_map(x, eps: float, width: float = 1.0) -> np.ndarray:
    r""":math:`\nabla u_\varepsilon(x) = x + \varepsilon\nabla\psi(x)`: the exact OT map from
    :math:`\mu_\varepsilon` to N(0, I) (Brenier), for :math:`|\varepsilon| < \varepsilon_{max}`. x (m, 2) -> (m, 2)."""
    x, eps, width = _ls_args(x, eps, width)
    return x + eps * _ls_parts(x, width)[1]


def ls_hessian(x, eps: float, width: float = 1.0) -> np.ndarray:
    r""":math:`\nabla^2 u_\varepsilon = I + \varepsilon\nabla^2\psi` at x (m, 2) -> (m, 2, 2).

    The Jacobian of the OT map."""
    x, eps, width = _ls_args(x, eps, width)
    return np.eye(2) + eps * _ls_parts(x, width)[2]


def ls_density(x, eps: float, width: float = 1.0) -> np.ndarray:
    r"""The data density :math:`p_0(x) = \gamma(\nabla u_\varepsilon(x))\,\det\nabla^2 u_\varepsilon(x)`, (m,).

    The change-of-variables formula for :math:`(\nabla u_\varepsilon)^{-1}_{\#}\gamma`; it
    integrates to 1 exactly when :math:`u_\varepsilon` is convex (:func:`ls_convexity_limit`).
    """
    x, eps, width = _ls_args(x, eps, width)
    _, grad, hess = _ls_parts(x, width)
    z = x + eps * grad
    return np.exp(-0.5 * (z**2).sum(axis=1)) / (2.0 * np.pi) * np.linalg.det(np.eye(2) + eps * hess)


def ls_convexity_limit(width: float = 1.0, half_width: float = 8.0, n: int = 801) -> float:
    r""":math:`\varepsilon_{max} = 1 / \max_x(-\lambda_{min}(\nabla^2\psi))` on a grid of
    :math:`[-h, h]^2` (h = ``half_width``): :math:`u_\varepsilon` is convex for
    :math:`0 \le \varepsilon < \varepsilon_{max}`."""
    width = check.positive(width, "width")
    g = np.linspace(-half_width, half_width, int(n))
    pts = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    lam = np.linalg.eigvalsh(_ls_parts(pts, width)[2])[:, 0]
    return float(1.0 / -lam.min())


def ls_sample(n: int, eps: float, width: float = 1.0, seed: int = 0, tol: float = 1e-13):
    r"""Exact samples of :math:`\mu_\varepsilon`: :math:`x = (\nabla u_\varepsilon)^{-1}(z)`, z ~ N(0, I).

    Solves :math:`\nabla u_\varepsilon(x) = z` by Newton's method from x = z (the map is the
    gradient of a strongly convex function, so the root is unique); raises RuntimeError
    if some point does not converge to ``tol``. Returns x (n, 2) and z (n, 2); z is the
    exact OT image of x.
    """
    eps = float(eps)
    if not 0.0 <= eps < ls_convexity_limit(width):
        raise ValueError(f"eps must lie in [0, {ls_convexity_limit(width):.4g}) (u must be convex), got {eps}")
    z = np.random.default_rng(seed).standard_normal((int(n), 2))
    x = z.copy()
    for _ in range(100):
        _, grad, hess = _ls_parts(x, width)
        res = x + eps * grad - z
        if np.abs(res).max() < tol:
            return x, z
        x = x - np.linalg.solve(np.eye(2) + eps * hess, res[:, :, None])[:, :, 0]
    raise RuntimeError(f"Newton's method for (grad u)^(-1) did not converge (max residual {np.abs(res).max():.3g})")


def lavenant_santambrogio_bed(
    eps: float, width: float = 1.0, n_grid: int = 128, box=(-8.0, 8.0), tol: float = 1e-12, rank_max: int = 60
) -> TestBed:
    r"""The Lavenant–Santambrogio data law :math:`\mu_\varepsilon` as a :class:`TestBed` (tensor train).

    :math:`p_0` (:func:`ls_density`) is put on the Chebyshev grid of ``box`` with ``n_grid``
    nodes per axis by TT-cross; :math:`p_t` is the exact OU propagator of that TT
    (:func:`ddpm_ot_lib.fokker_planck.solve_exact`), and score and Hessian come from
    :func:`tt_log_derivatives`. The exact OT map is :func:`ls_map`. The law is symmetric
    under :math:`x \to -x`, so its mean is 0. Its quadrature box is [-6, 6]^2 (the TT grid
    is ``box``): p_0 < 1e-9 max p_0 outside it.
    """
    eps = float(eps)
    limit = ls_convexity_limit(width)
    if not 0.0 <= eps < limit:
        raise ValueError(f"eps must lie in [0, {limit:.4g}) (u must be convex), got {eps}")
    return tt_bed(
        f"Lavenant-Santambrogio eps={eps:g}",
        lambda x: ls_density(x, eps, width),
        2,
        box,
        n_grid,
        lambda n, seed=0: ls_sample(n, eps, width, seed)[0],
        lambda x: ls_map(x, eps, width),
        False,
        np.zeros(2),
        tol,
        rank_max,
        {"eps": eps, "width": width, "eps_max": limit},
        quad_box=(-6.0, 6.0),
    )


# --------------------------------------------------------------------------- the paper's Eq. (14)


def rejection_sample(
    density: Callable, n: int, box, d: int, seed: int = 0, bound: float | None = None, batch: int = 20000
) -> np.ndarray:
    r"""n exact samples of the (unnormalised) density on :math:`[a, b]^d` by rejection from the uniform law.

    ``bound`` must dominate the density on the box; by default 1.2 times the largest
    value on a first uniform batch (enough for the smooth densities of this module).
    Returns (n, d).
    """
    check.function(density, "density")
    a, b = float(box[0]), float(box[1])
    rng = np.random.default_rng(seed)
    if bound is None:
        bound = 1.2 * float(np.max(density(rng.uniform(a, b, size=(batch, d)))))
    out, have = [], 0
    while have < n:
        x = rng.uniform(a, b, size=(batch, d))
        keep = rng.uniform(0.0, bound, size=batch) < density(x)
        out.append(x[keep])
        have += int(keep.sum())
    return np.concatenate(out)[:n]


def random_density_bed(d: int = 2, seed: int = 0, n_grid: int | None = None, family: str = "paper") -> TestBed:
    r"""A random density of §3.4 (:func:`ddpm_ot_lib.densities.random_density`) as a TestBed.

    ``family`` "paper" (default: the paper's Eq. 14 for d <= 3) or "smooth" (the book's
    variant). On its own grid (the paper's, [-8, 8]^d with N = 250 in d = 2, or ``n_grid``
    nodes); samples by :func:`rejection_sample` from the formula on [-6, 6]^d; no exact
    OT map.
    """
    from . import densities

    if family not in densities.FAMILIES:
        raise ValueError(f"family must be one of {', '.join(map(repr, densities.FAMILIES))}, got {family!r}")
    grid_ = None if n_grid is None else cheb.grid(-8.0, 8.0, int(n_grid), d)
    dens = densities.random_density(d, seed, family=family, grid=grid_)
    sol = fp.solve_exact(dens.tt, dens.grid, [0.0])
    score, hessian = tt_log_derivatives(sol)
    probe = rejection_sample(dens, 20000, (-6.0, 6.0), d, seed=12345)
    name = f"Eq. (14) d={d} seed={seed}" if family == "paper" else f"Eq. (14), smooth family, d={d} seed={seed}"
    return TestBed(
        name=name,
        kind="tensor train",
        d=d,
        score=score,
        hessian=hessian,
        log_density=lambda x: np.log(np.maximum(dens(x), 1e-300)),
        sample=lambda n, s=0: rejection_sample(dens, n, (-6.0, 6.0), d, seed=s),
        ot_map=None,
        exactly_ot=False,
        box=(-6.0, 6.0),
        mean=probe.mean(axis=0),
        info={"grid": dens.grid, "tt_ranks": dens.ranks, "solution": sol, "density": dens},
    )


# --------------------------------------------------------------------------- quadrature


def quadrature_grid(box, n: int, d: int):
    r"""Tensor Gauss–Legendre nodes (n^d, d) and weights (n^d,) on the cube :math:`[a, b]^d`."""
    a, b = float(box[0]), float(box[1])
    if not a < b:
        raise ValueError(f"box must be (a, b) with a < b, got {box}")
    z, w = references.gauss_legendre(a, b, 1, n)  # the library's one rule, one panel
    nodes = np.stack(np.meshgrid(*[z] * d, indexing="ij"), axis=-1).reshape(-1, d)
    weights = np.prod(np.stack(np.meshgrid(*[w] * d, indexing="ij"), axis=-1).reshape(-1, d), axis=1)
    return nodes, weights


def bed_quadrature(bed: TestBed, n: int):
    r"""Quadrature for :math:`\mu` on ``bed.box``: Gauss–Legendre nodes (n per axis) and weights times :math:`p_0`.

    Nodes whose weight is below 1e-14 of the largest are dropped (they cannot change a
    relative :math:`L^2(\mu)` norm at the 1e-7 level). For tensor-train beds only the nodes
    with :math:`p_0 \ge 10^{-6}\max p_0` are kept: the TT solution has no accurate score in
    the far tails. A distance to the nearest gradient field measured on that region is
    still a lower bound on the distance to the OT map
    (:func:`ddpm_ot_lib.transport.gradient_projection`).

    Returns nodes (m, d) and weights (m,).
    """
    if not isinstance(bed, TestBed):
        raise TypeError(f"bed must be a TestBed, got {type(bed).__name__}")
    nodes, w = quadrature_grid(bed.box, n, bed.d)
    logp = bed.log_density(nodes)
    wt = w * np.exp(logp)
    if bed.kind == "tensor train":
        keep = logp >= logp.max() + np.log(1e-6)
    else:
        keep = wt > 1e-14 * wt.max()
    return nodes[keep], wt[keep]


__all__ += ["bed_quadrature", "tt_bed"]
