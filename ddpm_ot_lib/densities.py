r"""The random initial densities of §3.4 (Eq. 14 and Eq. 15), seeded, built in the TT format.

The paper draws its test densities from two random families and solves Eq. (8) for each.
What it states: Eq. (14), for d = 2, 3, is a mixture of terms
:math:`\exp(-q_1(x) - q_2(x))`; Eq. (15), for d = 7, is a random rank-2 tensor train with
positive cores times the N(0, I) density. The exact random laws of the parameters are not
given in the text, so this module fixes them as follows (every choice is a parameter of
:func:`mixture_density` / :func:`tt_gaussian_density`):

**Eq. (14), mixture.** :math:`p_0(x) \propto \sum_{j=1}^K w_j \exp(-q_{1,j}(x) - q_{2,j}(x))`
with

* K drawn uniformly from {2, 3} (a single term would be nearly Gaussian; more terms
  raise the TT ranks, which the d = 3 solver pays for at every step);
* weights :math:`w \sim \mathrm{Dirichlet}(1, \dots, 1)`;
* centres :math:`\mu_j \sim U[-2, 2]^d`;
* :math:`q_{1,j}(x) = \tfrac12 (x - \mu_j)^T A_j (x - \mu_j)`, :math:`A_j = Q_j \Lambda_j Q_j^T`
  with :math:`Q_j` a Haar-random rotation and eigenvalues :math:`U[0.5, 2.5]` (component
  widths 0.63 to 1.4, resolved by the paper's grids);
* :math:`q_{2,j}(x) = \gamma_j \sum_k (x_k - \mu_{j,k})^4`, :math:`\gamma_j \sim U[0.02, 0.08]`:
  the quartic term makes the tails lighter than Gaussian (so the law is not a Gaussian
  mixture and the OT map is not affine) and keeps :math:`p_0 < 10^{-14}\max p_0` on the
  boundary of the box :math:`[-8, 8]^d`. It is a sum over coordinates (separable) because
  :math:`\lVert x - \mu\rVert^4` couples the coordinates and raised the TT ranks by about
  half (measured: d = 3, rank 37 against 28 at accuracy 1e-10) without changing the tails'
  order.

**Eq. (15), TT times Gaussian.** :math:`p_0(x) \propto \varphi_d(x)\, G_1(x_1) G_2(x_2)\cdots G_d(x_d)`,
:math:`\varphi_d` the N(0, I) density, :math:`G_k(x_k)` a (2 × 2) matrix of functions
(row vector at k = 1, column at k = d), every entry smooth and positive:
:math:`g(x) = u + v\,(1 + \sin(\omega x + \theta))` with :math:`u \sim U[0.05, 0.5]`,
:math:`v \sim U[0.5, 1]`, :math:`\omega \sim U[0.25, 0.75]`, :math:`\theta \sim U[0, 2\pi]`.
Positive cores make the product positive; the entries are functions (not random numbers
at grid nodes) so the density is smooth and the grid resolves it (N = 50 in d = 7).

Both are built on the Chebyshev grid by TT-cross (:func:`ddpm_ot_lib.chebyshev.tt_cross`),
normalised by TT integration, and returned with the measured approximation error
(max relative error at random points of the box where the density matters, and at
random grid nodes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _validate as check
from . import chebyshev as cheb

__all__ = ["RandomDensity", "mixture_density", "tt_gaussian_density", "random_density",
           "paper_grid", "PAPER_SETTINGS"]

#: The paper's grids (App. C / §3.4): dimension -> (N nodes per axis, M time steps on [0, 5]).
PAPER_SETTINGS = {2: (250, 250), 3: (100, 100), 7: (50, 50)}
BOX = (-8.0, 8.0)


def paper_grid(d: int) -> cheb.Grid:
    """The paper's grid for dimension d in {2, 3, 7}: [-8, 8]^d with N = 250, 100, 50."""
    if d not in PAPER_SETTINGS:
        raise ValueError(f"the paper uses d in {sorted(PAPER_SETTINGS)}, got d = {d!r}")
    return cheb.grid(BOX[0], BOX[1], PAPER_SETTINGS[d][0], d)


@dataclass
class RandomDensity:
    """A random initial density :math:`p_0` and its TT on a Chebyshev grid.

    Attributes
    ----------
    d, seed, kind      dimension, seed, "mixture" (Eq. 14) or "tt_gaussian" (Eq. 15)
    params             the drawn parameters (dict of arrays)
    grid               the Chebyshev grid of ``tt``
    tt                 TT (list of cores) of the normalised :math:`p_0` at the grid nodes
    norm_const         Z with :math:`p_0 = \tilde p_0 / Z` (TT integral of the unnormalised one)
    error              {'points': max |TT - p0| / max p0 at random points where p0 matters,
                        'nodes': the same at random grid nodes (cross error alone)}
    ranks              TT ranks of ``tt``
    """
    d: int
    seed: int
    kind: str
    params: dict
    grid: cheb.Grid
    tt: list
    norm_const: float
    error: dict = field(default_factory=dict)
    ranks: list = field(default_factory=list)

    def unnormalised(self, x) -> np.ndarray:
        r""":math:`\tilde p_0(x)` at points x (m, d) from the formula -> (m,)."""
        x = check.points(x, "x", d=self.d)
        return _EVAL[self.kind](self.params, x)

    def __call__(self, x) -> np.ndarray:
        r"""The normalised density :math:`p_0(x)` at points x (m, d) from the formula -> (m,)."""
        return self.unnormalised(x) / self.norm_const


# ----------------------------------------------------------------------------- Eq. (14)

def _rotation(rng, d):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _draw_mixture(rng, d, n_components, centre_range, eig_range, quartic_range):
    k = int(rng.choice(n_components))
    w = rng.dirichlet(np.ones(k))
    mu = rng.uniform(-centre_range, centre_range, size=(k, d))
    prec = np.empty((k, d, d))
    for j in range(k):
        q = _rotation(rng, d)
        lam = rng.uniform(*eig_range, size=d)
        prec[j] = (q * lam) @ q.T
    gamma = rng.uniform(*quartic_range, size=k)
    return {"weights": w, "centres": mu, "precisions": prec, "quartic": gamma}


def _eval_mixture(params, x):
    out = np.zeros(x.shape[0])
    for w, mu, a, g in zip(params["weights"], params["centres"], params["precisions"], params["quartic"]):
        z = x - mu
        z2 = z * z
        q1 = 0.5 * np.einsum("mi,ij,mj->m", z, a, z)
        out += w * np.exp(-q1 - g * (z2 * z2).sum(axis=1))
    return out


# ----------------------------------------------------------------------------- Eq. (15)

def _draw_tt_gaussian(rng, d, rank, u_range, v_range, omega_range):
    shapes = [(1 if k == 0 else rank, 1 if k == d - 1 else rank) for k in range(d)]
    cores = []
    for r1, r2 in shapes:
        cores.append({"u": rng.uniform(*u_range, size=(r1, r2)), "v": rng.uniform(*v_range, size=(r1, r2)),
                      "omega": rng.uniform(*omega_range, size=(r1, r2)),
                      "theta": rng.uniform(0.0, 2 * np.pi, size=(r1, r2))})
    return {"cores": cores}


def _core_values(core, xk):
    """(m, r1, r2) entries g(x) = u + v (1 + sin(omega x + theta)) of one core at xk (m,)."""
    arg = core["omega"][None] * xk[:, None, None] + core["theta"][None]
    return core["u"][None] + core["v"][None] * (1.0 + np.sin(arg))


def _eval_tt_gaussian(params, x):
    m, d = x.shape
    q = np.ones((m, 1))
    for k, core in enumerate(params["cores"]):
        q = np.einsum("mr,mrs->ms", q, _core_values(core, x[:, k]))
    return q[:, 0] * np.exp(-0.5 * (x * x).sum(axis=1)) / (2 * np.pi) ** (d / 2)


_EVAL = {"mixture": _eval_mixture, "tt_gaussian": _eval_tt_gaussian}


# ----------------------------------------------------------------------------- building

def _seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


def _dim(d):
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d (dimension) must be an integer >= 1, got {d!r}")
    return int(d)


def _build(kind, params, d, seed, grid, tol, rank_max, n_check):
    if grid is None:
        grid = paper_grid(d)
    elif not isinstance(grid, cheb.Grid) or grid.d != d:
        raise ValueError(f"grid must be a chebyshev.Grid of dimension {d}, got {grid!r}")
    func = lambda x: _EVAL[kind](params, x)  # noqa: E731
    tt = cheb.tt_cross(func, grid, tol=tol, rank_max=rank_max, seed=seed, nswp=12, dr_max=2)
    z = cheb.tt_integral(tt, grid)
    if not z > 0:
        raise RuntimeError(f"the TT integral of the density is {z}; the grid does not resolve it")
    tt = cheb.tt_scale(tt, 1.0 / z)
    dens = RandomDensity(d, seed, kind, params, grid, tt, z, ranks=cheb.tt_ranks(tt))
    # measured approximation error, relative to the largest value seen
    rng = np.random.default_rng(10_000 + seed)
    idx = rng.integers(0, grid.n, size=(n_check, d))
    xn = grid.points(idx)
    xp = _points_where_it_matters(dens, rng, n_check)
    ref_n, ref_p = dens(xn), dens(xp)
    scale = max(ref_n.max(), ref_p.max())
    dens.error = {"nodes": float(np.abs(cheb.tt_evaluate(tt, grid, xn) - ref_n).max() / scale),
                  "points": float(np.abs(cheb.tt_evaluate(tt, grid, xp) - ref_p).max() / scale)}
    return dens


def _points_where_it_matters(dens, rng, n):
    """Uniform points of [-4, 4]^d (clipped to the box), where the densities' mass lies."""
    lo, hi = max(dens.grid.a, -4.0), min(dens.grid.b, 4.0)
    return rng.uniform(lo, hi, size=(n, dens.d))


def mixture_density(d: int, seed: int, grid: cheb.Grid | None = None, tol: float = 1e-10,
                    rank_max: int = 40, n_components=(2, 3), centre_range: float = 2.0,
                    eig_range=(0.5, 2.5), quartic_range=(0.02, 0.08), n_check: int = 2000) -> RandomDensity:
    r"""A random density of Eq. (14): :math:`\sum_j w_j \exp(-q_{1,j} - q_{2,j})`, normalised (module docstring).

    Parameters
    ----------
    d : int            dimension (the paper: 2 and 3)
    seed : int         seed of every random draw (``numpy.random.default_rng(seed)``)
    grid : Grid        Chebyshev grid of the TT (default :func:`paper_grid`)
    tol, rank_max      TT-cross accuracy and rank cap
    n_components, centre_range, eig_range, quartic_range: the laws of the parameters

    Returns
    -------
    RandomDensity (the TT, the formula, the drawn parameters and the measured error).
    """
    d, seed = _dim(d), _seed(seed)
    rng = np.random.default_rng(seed)
    params = _draw_mixture(rng, d, n_components, centre_range, eig_range, quartic_range)
    return _build("mixture", params, d, seed, grid, tol, rank_max, n_check)


def tt_gaussian_density(d: int, seed: int, grid: cheb.Grid | None = None, tol: float = 1e-10,
                        rank_max: int = 40, rank: int = 2, u_range=(0.05, 0.5), v_range=(0.5, 1.0),
                        omega_range=(0.25, 0.75), n_check: int = 2000) -> RandomDensity:
    r"""A random density of Eq. (15): rank-``rank`` TT of positive smooth cores times N(0, I), normalised.

    Parameters as :func:`mixture_density`; ``u_range, v_range, omega_range`` are the laws
    of the core entries :math:`u + v(1 + \sin(\omega x + \theta))` (module docstring).
    """
    d, seed = _dim(d), _seed(seed)
    if d < 2:
        raise ValueError(f"Eq. (15) needs d >= 2 (a tensor train), got d = {d}")
    rng = np.random.default_rng(seed)
    params = _draw_tt_gaussian(rng, d, int(rank), u_range, v_range, omega_range)
    return _build("tt_gaussian", params, d, seed, grid, tol, rank_max, n_check)


def random_density(d: int, seed: int, grid: cheb.Grid | None = None, **kwargs) -> RandomDensity:
    """The paper's random density for dimension d: Eq. (14) for d = 2, 3, Eq. (15) for d = 7.

    Other dimensions: Eq. (14) for d <= 3, Eq. (15) for d >= 4. Keyword arguments go to
    :func:`mixture_density` / :func:`tt_gaussian_density`.
    """
    d = _dim(d)
    build = mixture_density if d <= 3 else tt_gaussian_density
    return build(d, seed, grid=grid, **kwargs)
