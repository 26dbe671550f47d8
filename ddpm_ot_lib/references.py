r"""Independent ground truths for the Fokker–Planck solutions of Eq. (8) (§3.4).

Every reference here uses the **formula** of :math:`p_0` and the OU transition
:math:`N(c\,y, s^2 I)`, :math:`c = e^{-t}`, :math:`s^2 = 1 - e^{-2t}` (:func:`ou_coefficients`),
and shares no code with the solvers: no Chebyshev grid, no interpolation, no TT
rounding or cross (only the product-rule contraction of a chain of matrices,
:func:`ddpm_ot_lib.chebyshev.tt_chain_gradient`, which is plain linear algebra).

* :func:`ou_reference` (d = 2, any formula of :math:`p_0`): the kernel integrated
  against :math:`p_0` by composite Gauss–Legendre quadrature on [−10, 10]².
* :func:`mixture_reference` (the mixtures of Eq. 14, any d): the same quadrature on
  the box, as d contractions (:func:`mixture_formula` is Eq. 14 itself).
* :func:`tt_gaussian_reference` (the densities of Eq. 15): a closed form.
* :func:`interpolant_tt_reference` (the paper's Eq. 15, whose formula is the Chebyshev
  interpolant of its node values) and :func:`paper_formula_on_grid` (the paper's Eq. 14
  for :func:`mixture_reference`): the paper's family (``family="paper"``).
* :func:`reference_density` dispatches on a :class:`~ddpm_ot_lib.densities.RandomDensity`.

All quadratures use the one composite rule :func:`gauss_legendre`.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from . import _validate as check
from . import chebyshev as cheb

__all__ = [
    "gauss_legendre",
    "ou_coefficients",
    "ou_reference",
    "tt_gaussian_reference",
    "mixture_formula",
    "mixture_reference",
    "reference_density",
    "paper_formula_on_grid",
    "interpolant_tt_reference",
]


def gauss_legendre(lo: float, hi: float, panels: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Composite Gauss–Legendre rule on [lo, hi]: ``panels`` equal panels of ``nodes`` nodes.

    Returns nodes y (panels * nodes,) and weights w with :math:`\int_{lo}^{hi} f \approx \sum w f(y)`.
    """
    panels = check.count(panels, "panels")
    nodes = check.count(nodes, "nodes")
    z, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(float(lo), float(hi), panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid[:, None] + half[:, None] * z).ravel(), (half[:, None] * w).ravel()


def ou_coefficients(t: float) -> tuple[float, float]:
    r"""(c, s²) of the OU transition of Eq. (8) over time t: :math:`x_t = c\,x_0 + s\,\xi`.

    :math:`c = e^{-t}`, :math:`s^2 = 1 - e^{-2t}` (computed as ``-expm1(-2t)``).
    """
    t = check.time(t)
    return math.exp(-t), -math.expm1(-2.0 * t)


def ou_reference(
    p0: Callable,
    t: float,
    x=None,
    axes=None,
    with_gradient: bool = False,
    half_width: float = 10.0,
    nodes_per_panel: int = 12,
    normalise: bool = True,
):
    r"""Ground truth for Eq. (8) in d = 2: the transition kernel integrated by quadrature.

    .. math:: p_t(x) = \int k_t(x_1, y_1)\, k_t(x_2, y_2)\, p_0(y)\, dy, \qquad
              k_t(x, y) = \frac{\exp\bigl(-(x - e^{-t} y)^2 / (2 s^2)\bigr)}{\sqrt{2\pi s^2}},
              \quad s^2 = 1 - e^{-2t},

    with composite Gauss–Legendre quadrature in y over :math:`[-w, w]^2` (w =
    ``half_width``), panels no wider than :math:`\min(1, 2 s e^{t})` (the kernel's width
    in y), ``nodes_per_panel`` nodes each. The kernel is a product, so on a tensor grid
    this is two matrix products. It uses the formula of :math:`p_0` only (normalised by
    the same quadrature when ``normalise``): no Chebyshev grid, no TT, nothing shared
    with the solvers. Needs :math:`s e^t \ge 0.05` (t >= 0.00125), else ValueError.

    Parameters
    ----------
    p0 : callable          :math:`p_0(y)` for points (m, 2) -> (m,)
    t : float > 0
    x : array (m, 2)       scattered points, or
    axes : (x1, x2)        1-D arrays (n1,), (n2,): the tensor grid x1 × x2
    with_gradient : bool   also return :math:`\nabla p_t`

    Returns
    -------
    p (m,) or (n1, n2); with ``with_gradient`` also grad (m, 2) or (2, n1, n2).
    """
    check.function(p0, "p0")
    t = check.time(t)
    if (x is None) == (axes is None):
        raise ValueError("give exactly one of x (points (m, 2)) and axes ((x1, x2))")
    s2 = -np.expm1(-2.0 * t)
    s = np.sqrt(s2)
    if s * np.exp(t) < 0.05:
        raise ValueError(f"t = {t} is too small for the quadrature reference (needs t >= 0.00125)")
    width = min(1.0, 2.0 * s * np.exp(t))
    y, wy = gauss_legendre(-half_width, half_width, int(np.ceil(2.0 * half_width / width)), nodes_per_panel)
    yy1, yy2 = np.meshgrid(y, y, indexing="ij")
    P0 = np.asarray(p0(np.column_stack([yy1.ravel(), yy2.ravel()])), dtype=np.float64).reshape(y.size, y.size)
    P0 = P0 * wy[:, None] * wy[None, :]
    if normalise:
        P0 = P0 / P0.sum()
    c = np.exp(-t)

    def kern(xv):
        diff = xv[:, None] - c * y[None, :]
        k = np.exp(-0.5 * diff**2 / s2) / np.sqrt(2 * np.pi * s2)
        return k, -diff / s2 * k

    if axes is not None:
        x1, x2 = (np.asarray(v, dtype=np.float64).ravel() for v in axes)
        k1, dk1 = kern(x1)
        k2, dk2 = kern(x2)
        p = k1 @ P0 @ k2.T
        if not with_gradient:
            return p
        return p, np.stack([dk1 @ P0 @ k2.T, k1 @ P0 @ dk2.T])
    x = check.points(x, "x", d=2)
    p = np.empty(x.shape[0])
    grad = np.empty_like(x)
    for st in range(0, x.shape[0], 512):
        k1, dk1 = kern(x[st : st + 512, 0])
        k2, dk2 = kern(x[st : st + 512, 1])
        a1 = k1 @ P0
        p[st : st + 512] = (a1 * k2).sum(axis=1)
        if with_gradient:
            grad[st : st + 512, 0] = ((dk1 @ P0) * k2).sum(axis=1)
            grad[st : st + 512, 1] = (a1 * dk2).sum(axis=1)
    return (p, grad) if with_gradient else p


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
    c, s2 = ou_coefficients(t)
    m, d = x.shape
    ents, dents = [], []
    for k, core in enumerate(params["cores"]):
        amp = (core["v"] * np.exp(-0.5 * core["omega"] ** 2 * s2))[None]
        arg = core["omega"][None] * c * x[:, k, None, None] + core["theta"][None]
        ents.append(core["u"][None] + core["v"][None] + amp * np.sin(arg))
        dents.append(amp * np.cos(arg) * core["omega"][None] * c)
    phi = np.exp(-0.5 * (x * x).sum(axis=1)) / (2 * np.pi) ** (d / 2) / norm_const
    if not gradient:
        return cheb.tt_chain_gradient(ents)[0] * phi
    val, dval = cheb.tt_chain_gradient(ents, dents)
    p = val * phi
    return p, dval * phi[:, None] - x * p[:, None]


#: Eq. (14) in the paper's code: log of a term is -0.05 (q1 + q2) (density.py, line 33).
PAPER_EQ14_SCALE = 0.05


def _is_paper_mixture(params):
    return "Q1" in params


def mixture_formula(params: dict, x, gradient: bool = False):
    r"""The unnormalised density of Eq. (14) and its gradient from the drawn parameters.

    Two parameterisations (:mod:`ddpm_ot_lib.densities`):

    * the book's ("smooth") family:
      :math:`\tilde p_0(x) = \sum_j w_j e^{-\frac12 z_j^T A_j z_j - \gamma_j \sum_k z_{j,k}^4}`,
      :math:`z_j = x - \mu_j`;
    * the paper's family (its code): :math:`\tilde p_0(x) = \frac1K \sum_j
      e^{-0.05\,(z_{1}^T Q_{1} z_{1} + (z_{2}^{2})^T Q_{2}\, z_{2}^{2})}`,
      :math:`z_1 = x - c_{1,j}`, :math:`z_2 = x - c_{2,j}`, the square elementwise.

    Returns p (m,) or (p, grad (m, d)).
    """
    x = check.points(x, "x")
    p = np.zeros(x.shape[0])
    grad = np.zeros_like(x)
    if _is_paper_mixture(params):
        s = PAPER_EQ14_SCALE
        k = params["K"]
        for q1, q2, c1, c2 in zip(params["Q1"], params["Q2"], params["c1"], params["c2"]):
            z1, z2 = x - c1, x - c2
            y2 = z2 * z2
            e = np.exp(-s * ((z1 @ q1) * z1).sum(axis=1) - s * ((y2 @ q2) * y2).sum(axis=1)) / k
            p += e
            if gradient:
                grad -= s * e[:, None] * (2.0 * z1 @ q1 + 4.0 * (y2 @ q2) * z2)
        return (p, grad) if gradient else p
    for w, mu, a, g in zip(params["weights"], params["centres"], params["precisions"], params["quartic"]):
        z = x - mu
        az = z @ a
        e = w * np.exp(-0.5 * (az * z).sum(axis=1) - g * (z**4).sum(axis=1))
        p += e
        if gradient:
            grad -= e[:, None] * (az + 4.0 * g * z**3)
    return (p, grad) if gradient else p


def _components(params, y, d):
    """Per term of Eq. (14): (weight, unary exponents (d arrays), pairs (k, j, u_k, v_j)).

    The exponent of a term is sum_k unary[k](y_k) + sum over pairs of u_k(y_k) v_j(y_j).
    """
    if _is_paper_mixture(params):
        s = PAPER_EQ14_SCALE
        for q1, q2, c1, c2 in zip(params["Q1"], params["Q2"], params["c1"], params["c2"]):
            z1 = [y - c1[k] for k in range(d)]
            z2 = [(y - c2[k]) ** 2 for k in range(d)]
            unary = [s * (q1[k, k] * z1[k] ** 2 + q2[k, k] * z2[k] ** 2) for k in range(d)]
            pairs = [(k, j, 2 * s * q1[k, j] * z1[k], z1[j]) for k in range(d) for j in range(k + 1, d)]
            pairs += [(k, j, 2 * s * q2[k, j] * z2[k], z2[j]) for k in range(d) for j in range(k + 1, d)]
            yield 1.0 / params["K"], unary, pairs
        return
    for w, mu, a, g in zip(params["weights"], params["centres"], params["precisions"], params["quartic"]):
        z = [y - mu[k] for k in range(d)]
        unary = [0.5 * a[k, k] * z[k] ** 2 + g * z[k] ** 4 for k in range(d)]
        pairs = [(k, j, a[k, j] * z[k], z[j]) for k in range(d) for j in range(k + 1, d)]
        yield w, unary, pairs


def _mixture_on_tensor_grid(params, y, d):
    r""":math:`\tilde p_0` of Eq. (14) on the tensor grid :math:`y^{\otimes d}` -> array (N, ..., N), by broadcasting.

    The exponent of every term (both families, :func:`mixture_formula`) is a sum of one-
    and two-coordinate terms, so it is assembled from outer sums (no list of N^d points).
    """
    out = np.zeros((y.size,) * d)

    def axis(v, k):
        shape = [1] * d
        shape[k] = -1
        return v.reshape(shape)

    for w, unary, pairs in _components(params, y, d):
        expo = np.zeros((1,) * d)
        for k in range(d):
            expo = expo + axis(unary[k], k)
        for k, j, u, v in pairs:
            expo = expo + axis(u, k) * axis(v, j)
        out += w * np.exp(-expo)
    return out


def mixture_reference(
    params: dict,
    d: int,
    x,
    t: float,
    box=(-8.0, 8.0),
    panels: int | None = None,
    nodes: int | None = None,
    gradient: bool = False,
    cache: dict | None = None,
    on_grid: Callable | None = None,
):
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
    ``on_grid(y)``, when given, is the formula on the tensor grid :math:`y^{\otimes d}`
    (the paper's family: :func:`paper_formula_on_grid`) in place of ``params``'.
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
    if cache is not None and key in cache:
        y, P0 = cache[key]
    else:
        y, w = gauss_legendre(box[0], box[1], panels, nodes)
        P0 = _mixture_on_tensor_grid(params, y, d) if on_grid is None else on_grid(y)
        for k in range(d):
            shape = [1] * d
            shape[k] = -1
            P0 = P0 * w.reshape(shape)
        P0 = P0 / P0.sum()
        if cache is not None:
            cache[key] = (y, P0)
    c, s2 = ou_coefficients(t)
    N, m = y.size, x.shape[0]
    diff = [x[:, k, None] - c * y[None, :] for k in range(d)]
    kern = [np.exp(-0.5 * dk**2 / s2) / math.sqrt(2 * math.pi * s2) for dk in diff]
    dkern = [-dk / s2 * kk for dk, kk in zip(diff, kern)]

    first = kern[0] @ P0.reshape(N, -1)  # axis 0 by one product

    def contract(acc, fs):
        for k in range(1, d):  # the others point by point
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


def reference_density(dens, x, t: float, gradient: bool = False, cache: dict | None = None):
    r"""Independent :math:`p_t(x)` (and :math:`\nabla p_t`) for a :class:`~ddpm_ot_lib.densities.RandomDensity`.

    t = 0: the formula of :math:`p_0` (and its analytic gradient); t > 0: the closed form
    (the book's Eq. 15), the core-by-core quadrature (the paper's Eq. 15,
    :func:`interpolant_tt_reference`) or the quadrature of the OU kernel (Eq. 14, both
    families) — see the module docstring.
    """
    x = check.points(x, "x", d=dens.d)
    t = check.time(t)
    if getattr(dens, "family", "smooth") == "paper":
        return _paper_reference(dens, x, t, gradient, cache)
    if dens.kind == "tt_gaussian":
        return tt_gaussian_reference(dens.params, x, t, dens.norm_const, gradient=gradient)
    if dens.kind != "mixture":
        raise ValueError(f"no reference for densities of kind {dens.kind!r}")
    if t == 0.0:
        out = mixture_formula(dens.params, x, gradient=gradient)
        return (out[0] / dens.norm_const, out[1] / dens.norm_const) if gradient else out / dens.norm_const
    return mixture_reference(dens.params, dens.d, x, t, box=(dens.grid.a, dens.grid.b), gradient=gradient, cache=cache)


# --- table: references for the paper's family (densities.random_density(..., family="paper"))


def paper_formula_on_grid(dens, y) -> np.ndarray:
    r"""The unnormalised formula of a paper-family Eq. (14) density on :math:`y^{\otimes d}` -> (N, ..., N).

    Its :math:`q_2` couples the coordinates through :math:`z_i^2 z_j^2`, so it is
    evaluated point by point (``RandomDensity.unnormalised``), one slab of the first
    axis at a time.
    """
    y = np.asarray(y, dtype=np.float64)
    d, n = dens.d, y.size
    rest = np.stack(np.meshgrid(*[y] * (d - 1), indexing="ij"), axis=-1).reshape(-1, d - 1)
    out = np.empty((n, rest.shape[0]))
    for i, yi in enumerate(y):
        out[i] = dens.unnormalised(np.column_stack([np.full(rest.shape[0], yi), rest]))
    return out.reshape((n,) * d)


def interpolant_tt_reference(dens, x, t: float, gradient: bool = False, nodes: int = 25):
    r"""Reference :math:`p_t` for the paper's Eq. (15): the OU kernel integrated against each factor.

    :math:`\tilde p_0(y) = F_1(y_1) \cdots F_d(y_d)` (``RandomDensity.factor``: the
    Chebyshev interpolant of the node values, which *is* this density's formula) and the
    kernel is a product, so :math:`p_t(x) = \frac1Z \prod_k \int_a^b k_t(x_k, y) F_k(y)\,dy`
    (a chain of (r, r') matrices), each integral by the composite Gauss–Legendre rule of
    panels :math:`\min(0.5, 2.2\sigma)` wide (:math:`\sigma = s e^t`), ``nodes`` nodes each
    (the factors are polynomials of degree N − 1). No TT rounding, no propagator.
    """
    t = check.time(t)
    if t == 0.0:
        return dens.gradient(x) if gradient else dens(x)
    c, s2 = ou_coefficients(t)
    g = dens.grid
    sigma = math.sqrt(math.expm1(2.0 * t))
    y, w = gauss_legendre(g.a, g.b, int(math.ceil((g.b - g.a) / min(0.5, 2.2 * sigma))), nodes)
    ents, dents = [], []
    for k in range(dens.d):
        wf = w[:, None, None] * dens.factor(k, y)  # (q, r, r')
        diff = x[:, k, None] - c * y[None, :]
        kern = np.exp(-0.5 * diff**2 / s2) / math.sqrt(2 * math.pi * s2)
        ents.append(np.einsum("mq,qab->mab", kern, wf))
        dents.append(np.einsum("mq,qab->mab", -diff / s2 * kern, wf))
    val, grad = cheb.tt_chain_gradient(ents, dents if gradient else None)
    return (val / dens.norm_const, grad / dens.norm_const) if gradient else val / dens.norm_const


def _paper_reference(dens, x, t, gradient, cache):
    if dens.kind == "tt_gaussian":
        return interpolant_tt_reference(dens, x, t, gradient=gradient)
    if t == 0.0:
        return dens.gradient(x) if gradient else dens(x)
    return mixture_reference(
        dens.params,
        dens.d,
        x,
        t,
        box=(dens.grid.a, dens.grid.b),
        gradient=gradient,
        cache=cache,
        on_grid=lambda y: paper_formula_on_grid(dens, y),
    )
