r"""The random initial densities of §3.4 (Eqs. 14 and 15), seeded, built in the TT format.

(Longer than the book's ~500-line guide: two families of two equations each, their formulas, gradients, TT
builds and the two measurements the chapter reports; one concern.)

Two families, chosen by ``family`` in :func:`random_density`:

``family="paper"`` (the default) — the paper's densities, with the laws of its
supplementary code (repository lucasdegeorge/diffusion_ot, commit 702f2f4, folder
``paper_code/``). The text of §3.4 gives the structure; the code gives the laws.
Seed s draws, in the code's order, with ``numpy.random.RandomState(s)`` — the stream of
the code's ``np.random.seed(s)`` — so seed s is the density the paper's ``calc.py``
(lines 12–15: seeds 101, 102, ...) built for its seed s.

**Eq. (14), d = 2, 3** (``density.py``):

* K uniform on {1, 2, 3, 4}: ``np.random.randint(1, 5)`` (line 5). The text says
  "uniform mixtures of up to 5" and "K ~ Uniform(5)"; the code's law is used here.
* equal weights 1/K (line 11) on the *unnormalised* terms
  :math:`\exp(-0.05\,(q_1 + q_2))` (line 33); the text normalises each term first
  ("Z is a normalizing constant"), the code does not;
* :math:`q_1 = (x - c_1)^T Q_1 (x - c_1)` (line 24),
  :math:`q_2 = ((x - c_2)^2)^T Q_2 (x - c_2)^2`, the square elementwise (line 28);
* :math:`Q_1 = A^T A`, :math:`Q_2 = B^T B`, A and B d × d standard normal (lines 42–46:
  Wishart, so Q can have a tiny eigenvalue and its term a wide direction);
* :math:`c_1, c_2` independent :math:`U[-2, 2]^d` (lines 48–49);
* drawn per term in the order A, B, c1, c2 (``_p_random``), after K.

The mixture is normalised here by TT integration over the box :math:`[-8, 8]^d`
(the text: "a normalizing constant obtained by numerical integration"; the score, which
is all the flow uses, does not depend on it). ``params`` holds ``K`` and ``c1``, ``c2``
(K, d), ``Q1``, ``Q2`` (K, d, d) exactly as drawn; the 0.05 is applied in the formula.

**Eq. (15), d = 7** (``density_random.py``): a rank-2 TT whose core entries *at the
Chebyshev grid nodes* are U(0, 1) (lines 5–12: ``teneva.tensor_rand([n] * d, 2, f)`` with
``f = np.random.uniform(0, 1, size)``: all entries in one draw, cut core by core and
reshaped in Fortran order), times :math:`\exp(-|x|^2/2)/(2\pi)^{d/2}` at the nodes
(lines 14–18, a TT-cross of the Gaussian, then the product, rounding at the accuracy
e = 1e-8, lines 27–28), normalised by Chebyshev integration over the box (lines 30–32).
The Gaussian has rank 1, so the product is exactly rank 2: it is built here exactly,
core by core, without a cross. Its values are defined at the nodes only: between them
the density is the Chebyshev interpolant of random node values (the chapter measures
what that is), and a grid with another N is another density. ``params`` holds ``rank``,
``n`` and ``nodes``, the drawn cores (r, N, r').

Measured (:func:`between_nodes`, d = 7, N = 50, seeds 0-2): the interpolant is negative on
about 44 % of :math:`[-4, 4]^7` (4-6 % of :math:`\int |p_0|`), its 1-D factors dip to
-15 to -22 % of their maxima, do not decay like the Gaussian towards the boundary, and
keep Chebyshev coefficients of a third of their largest up to the last one; the score
reaches 1e4-1e6. The OU flow smooths this out: :math:`p_t > 0` on the cube from about
t = 0.3. A continuous sampler of :math:`p_0` and the flow at small t are therefore not
defined everywhere for this family; the paper's code samples distinct grid nodes
(where the values are positive, ``fpdimod.py``, ``_samples_build``:
``teneva.sample_ind_rand(P, s, unique=True)``) and divides by :math:`p + 10^{-15}` in
the score (``_ode_solve``, ``rhs``).

``family="smooth"`` — the book's own variant (:func:`mixture_density`,
:func:`tt_gaussian_density`), kept beside the paper's as a labelled variant. It exists
because the paper's Eq. (15) is rough between the grid nodes (the interpolant of
independent random node values changes sign between nodes and does not decay like the
Gaussian towards the boundary: measured in the Table 1 chapter) and its Eq. (14)
can put mass near the boundary of the box (a Wishart Q with a tiny eigenvalue): the
smooth family has the same structure with laws chosen so that every density is smooth,
positive and negligible on the boundary, a cleaner test of the OT hypothesis itself.

* Eq. (14): K uniform on {2, 3}; weights Dirichlet(1, ..., 1); centres
  :math:`\mu_j \sim U[-2, 2]^d`; :math:`q_{1,j} = \tfrac12 (x - \mu_j)^T A_j (x - \mu_j)`,
  :math:`A_j` a Haar rotation of eigenvalues U[0.5, 2.5];
  :math:`q_{2,j} = \gamma_j \sum_k (x_k - \mu_{j,k})^4`, :math:`\gamma_j \sim U[0.02, 0.08]`
  (separable: :math:`\lVert x - \mu\rVert^4` raised the d = 3 TT ranks by half).
* Eq. (15): rank-2 cores of smooth positive functions
  :math:`g(x) = u + v\,(1 + \sin(\omega x + \theta))`, :math:`u \sim U[0.05, 0.5]`,
  :math:`v \sim U[0.5, 1]`, :math:`\omega \sim U[0.25, 0.75]`, :math:`\theta \sim U[0, 2\pi]`,
  times the N(0, I) density.
* drawn with ``numpy.random.default_rng(seed)``.

Eq. (14) of the paper's family is built from the full tensor — the formula at every
node of the paper's grids (62 500 for d = 2, 10^6 for d = 3) — by TT-SVD to relative
accuracy ``tol`` (nothing to converge, minimal ranks). The smooth family, and grids too
large for the full tensor, use TT-cross (:func:`ddpm_ot_lib.chebyshev.tt_cross`); where
its measured error at the grid nodes exceeds ``node_tol`` the cross is repeated with
twice the rank cap and 12 more sweeps, up to twice, and ``build`` records the attempts
(the paper's code skipped such a density instead: ``fpdimod.py``, ``_density_build``
raises when TT-cross's validation error exceeds e_vld = 1e-4, and ``calc.py`` lines
17–22 skip the seed). Every density comes with its measured approximation error, and
:func:`boundary_mass` measures how much of it lies near the boundary of the box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _validate as check
from . import chebyshev as cheb
from . import references

__all__ = [
    "RandomDensity",
    "random_density",
    "paper_mixture_density",
    "paper_tt_density",
    "mixture_density",
    "tt_gaussian_density",
    "boundary_mass",
    "between_nodes",
    "paper_grid",
    "FAMILIES",
    "PAPER_SETTINGS",
]

#: The paper's grids (App. C / §3.4): dimension -> (N nodes per axis, M time steps on [0, 5]).
PAPER_SETTINGS = {2: (250, 250), 3: (100, 100), 7: (50, 50)}
BOX = (-8.0, 8.0)
FAMILIES = ("paper", "smooth")
_EQ14_SCALE = 0.05  # density.py line 33: log p = 0.05 (-q1 - q2)


def paper_grid(d: int) -> cheb.Grid:
    """The paper's grid for dimension d in {2, 3, 7}: [-8, 8]^d with N = 250, 100, 50."""
    if d not in PAPER_SETTINGS:
        raise ValueError(f"d must be one of the paper's {sorted(PAPER_SETTINGS)}, got d = {d!r}")
    return cheb.grid(BOX[0], BOX[1], PAPER_SETTINGS[d][0], d)


@dataclass
class RandomDensity:
    r"""A random initial density :math:`p_0` and its TT on a Chebyshev grid.

    Attributes
    ----------
    d, seed            dimension and seed
    family, kind       "paper" or "smooth"; "mixture" (Eq. 14) or "tt_gaussian" (Eq. 15)
    params             the drawn parameters (dict of arrays; module docstring)
    grid               the Chebyshev grid of ``tt``
    tt                 TT (list of cores) of the normalised :math:`p_0` at the grid nodes
    norm_const         Z with :math:`p_0 = \tilde p_0 / Z` (TT integral of the unnormalised one)
    error              {'nodes': max |TT - p0| / max p0 at random grid nodes (the cross),
                        'points': the same at random points (the interpolation too):
                        of [-4, 4]^d for the smooth family, of the whole box for the paper's}
    ranks              TT ranks of ``tt``
    build              how the TT was built: {'method': 'TT-SVD' (the paper's Eq. 14),
                       'exact' (its Eq. 15) or 'TT-cross', 'attempts': builds made
                       (> 1: the cross was repeated), and for TT-cross 'rank_max', 'nswp'}
    """

    d: int
    seed: int
    family: str
    kind: str
    params: dict
    grid: cheb.Grid
    tt: list
    norm_const: float
    error: dict = field(default_factory=dict)
    ranks: list = field(default_factory=list)
    build: dict = field(default_factory=dict)

    def unnormalised(self, x) -> np.ndarray:
        r""":math:`\tilde p_0(x)` at points x (m, d) from the formula -> (m,)."""
        x = check.points(x, "x", d=self.d)
        return _EVAL[self.family, self.kind](self, x)

    def __call__(self, x) -> np.ndarray:
        r"""The normalised density :math:`p_0(x)` at points x (m, d) from the formula -> (m,)."""
        return self.unnormalised(x) / self.norm_const

    def gradient(self, x) -> tuple[np.ndarray, np.ndarray]:
        r"""(:math:`p_0(x)`, :math:`\nabla p_0(x)`) at points x (m, d) from the formula -> (m,), (m, d)."""
        x = check.points(x, "x", d=self.d)
        p, g = _GRAD[self.family, self.kind](self, x)
        return p / self.norm_const, g / self.norm_const

    def factor(self, k: int, y) -> np.ndarray:
        r"""Eq. (15): the k-th 1-D factor :math:`F_k(y)` (m, r, r') of :math:`\tilde p_0`.

        :math:`\tilde p_0(x) = F_1(x_1) F_2(x_2) \cdots F_d(x_d)` with the Gaussian's 1-D
        factor included in every :math:`F_k`: the separable form an OU reference needs
        (the OU kernel is a product over coordinates).
        """
        if self.kind != "tt_gaussian":
            raise ValueError(f"factor is for Eq. (15) densities, this one is kind {self.kind!r}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < self.d:
            raise ValueError(f"k must be an integer in [0, {self.d}), got {k!r}")
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError(f"y must be a 1-D array of points, got shape {y.shape}")
        return _FACTOR[self.family](self, int(k), y, 0)


# ----------------------------------------------------------------------------- the paper's Eq. (14)


def _draw_paper_mixture(rs, d):
    """density.py: K = randint(1, 5) (line 5), then per term A, B, c1, c2 (lines 42-49)."""
    k = int(rs.randint(1, 5))
    q1, q2, c1, c2 = (np.empty((k, d, d)), np.empty((k, d, d)), np.empty((k, d)), np.empty((k, d)))
    for j in range(k):
        a = rs.randn(d, d)
        q1[j] = a.T @ a
        b = rs.randn(d, d)
        q2[j] = b.T @ b
        c1[j] = rs.rand(d) * 4 - 2
        c2[j] = rs.rand(d) * 4 - 2
    return {"K": k, "c1": c1, "c2": c2, "Q1": q1, "Q2": q2}


def _grad_paper_mixture(dens, x, gradient=True):
    p = dens.params
    val = np.zeros(x.shape[0])
    grad = np.zeros_like(x) if gradient else None
    for q1, q2, c1, c2 in zip(p["Q1"], p["Q2"], p["c1"], p["c2"]):
        z1, z2 = x - c1, x - c2
        y2 = z2 * z2
        e = np.exp(-_EQ14_SCALE * ((z1 @ q1) * z1).sum(axis=1) - _EQ14_SCALE * ((y2 @ q2) * y2).sum(axis=1))
        val += e
        if gradient:  # d/dx of q1 = 2 Q1 z1; of q2 = 2 (Q2 y2) * 2 z2
            grad -= _EQ14_SCALE * e[:, None] * (2 * z1 @ q1 + 4 * (y2 @ q2) * z2)
    k = p["K"]
    return (val / k, grad / k) if gradient else val / k


# ----------------------------------------------------------------------------- the paper's Eq. (15)


def _draw_paper_tt(rs, d, n, rank):
    """density_random.py lines 5-12 (teneva.tensor_rand): one U(0, 1) draw, Fortran-order cores."""
    r = [1] + [rank] * (d - 1) + [1]
    sizes = [r[k] * n * r[k + 1] for k in range(d)]
    flat = rs.uniform(0.0, 1.0, size=sum(sizes))
    cut = np.cumsum([0] + sizes)
    cores = [flat[cut[k] : cut[k + 1]].reshape((r[k], n, r[k + 1]), order="F") for k in range(d)]
    return {"rank": rank, "n": n, "nodes": cores}


def _gauss1(y):
    return np.exp(-0.5 * y * y) / np.sqrt(2 * np.pi)


def _paper_tt_cores(params, grid):
    r"""The exact rank-``rank`` TT of :math:`\tilde p_0` at the nodes: U cores times the Gaussian's."""
    g = _gauss1(grid.nodes)
    return [U * g[None, :, None] for U in params["nodes"]]


def _factor_paper(dens, k, y, derivative):
    core = _paper_tt_cores(dens.params, dens.grid)[k]
    m = cheb.interpolation_matrix(y, dens.grid.a, dens.grid.b, dens.grid.n, derivative=derivative)
    return np.einsum("mi,aib->mab", m, core)


# ----------------------------------------------------------------------------- the smooth family


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


def _grad_mixture(dens, x, gradient=True):
    p = dens.params
    val = np.zeros(x.shape[0])
    grad = np.zeros_like(x) if gradient else None
    for w, mu, a, g in zip(p["weights"], p["centres"], p["precisions"], p["quartic"]):
        z = x - mu
        z2 = z * z
        e = w * np.exp(-0.5 * np.einsum("mi,ij,mj->m", z, a, z) - g * (z2 * z2).sum(axis=1))
        val += e
        if gradient:
            grad -= e[:, None] * (z @ a + 4 * g * z2 * z)
    return (val, grad) if gradient else val


def _draw_tt_gaussian(rng, d, rank, u_range, v_range, omega_range):
    shapes = [(1 if k == 0 else rank, 1 if k == d - 1 else rank) for k in range(d)]
    cores = []
    for r1, r2 in shapes:
        cores.append(
            {
                "u": rng.uniform(*u_range, size=(r1, r2)),
                "v": rng.uniform(*v_range, size=(r1, r2)),
                "omega": rng.uniform(*omega_range, size=(r1, r2)),
                "theta": rng.uniform(0.0, 2 * np.pi, size=(r1, r2)),
            }
        )
    return {"cores": cores}


def _factor_smooth(dens, k, y, derivative):
    """(g_k(y) and its derivative) times the Gaussian's 1-D factor, g = u + v (1 + sin(w y + th))."""
    c = dens.params["cores"][k]
    arg = c["omega"][None] * y[:, None, None] + c["theta"][None]
    g = c["u"][None] + c["v"][None] * (1.0 + np.sin(arg))
    phi = _gauss1(y)[:, None, None]
    if derivative == 0:
        return g * phi
    dg = c["v"][None] * c["omega"][None] * np.cos(arg)
    return (dg - y[:, None, None] * g) * phi


_FACTOR = {"paper": _factor_paper, "smooth": _factor_smooth}


def _chain(mats):
    q = mats[0][:, 0, :]
    for f in mats[1:]:
        q = np.einsum("mr,mrs->ms", q, f)
    return q[:, 0]


def _eval_tt(dens, x):
    return _chain([_FACTOR[dens.family](dens, k, x[:, k], 0) for k in range(dens.d)])


def _grad_tt(dens, x):
    f0 = [_FACTOR[dens.family](dens, k, x[:, k], 0) for k in range(dens.d)]
    grad = np.empty_like(x)
    for k in range(dens.d):
        grad[:, k] = _chain(f0[:k] + [_FACTOR[dens.family](dens, k, x[:, k], 1)] + f0[k + 1 :])
    return _chain(f0), grad


_EVAL = {
    ("paper", "mixture"): lambda dens, x: _grad_paper_mixture(dens, x, gradient=False),
    ("smooth", "mixture"): lambda dens, x: _grad_mixture(dens, x, gradient=False),
    ("paper", "tt_gaussian"): _eval_tt,
    ("smooth", "tt_gaussian"): _eval_tt,
}
_GRAD = {
    ("paper", "mixture"): _grad_paper_mixture,
    ("smooth", "mixture"): _grad_mixture,
    ("paper", "tt_gaussian"): _grad_tt,
    ("smooth", "tt_gaussian"): _grad_tt,
}


# ----------------------------------------------------------------------------- building


def _seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    return int(seed)


def _dim(d):
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d (dimension) must be an integer >= 1, got {d!r}")
    return int(d)


def _grid_for(d, grid):
    if grid is None:
        return paper_grid(d)
    if not isinstance(grid, cheb.Grid) or grid.d != d:
        raise ValueError(f"grid must be a chebyshev.Grid of dimension {d}, got {grid!r}")
    return grid


def _check_errors(dens, n_check, whole_box):
    """Max |TT - formula| / max at random grid nodes and at random points (module docstring)."""
    grid, d = dens.grid, dens.d
    rng = np.random.default_rng(10_000 + dens.seed)
    xn = grid.points(rng.integers(0, grid.n, size=(n_check, d)))
    lo, hi = (grid.a, grid.b) if whole_box else (max(grid.a, -4.0), min(grid.b, 4.0))
    xp = rng.uniform(lo, hi, size=(n_check, d))
    ref_n, ref_p = dens(xn), dens(xp)
    scale = max(ref_n.max(), ref_p.max())
    return {
        "nodes": float(np.abs(cheb.tt_evaluate(dens.tt, grid, xn) - ref_n).max() / scale),
        "points": float(np.abs(cheb.tt_evaluate(dens.tt, grid, xp) - ref_p).max() / scale),
    }


def _finish(dens, tt, n_check, whole_box):
    z = cheb.tt_integral(tt, dens.grid)
    if not z > 0:
        raise RuntimeError(f"the TT integral of the density is {z}; the grid does not resolve it")
    dens.tt, dens.norm_const = cheb.tt_scale(tt, 1.0 / z), float(z)
    dens.ranks = cheb.tt_ranks(dens.tt)
    dens.error = _check_errors(dens, n_check, whole_box)
    return dens


def _build_cross(dens, tol, rank_max, node_tol, n_check, whole_box, retries=2):
    """TT-cross of the formula; repeated with twice the rank cap and 12 more sweeps while
    the error at the nodes exceeds ``node_tol`` (at most ``retries`` times)."""
    func = lambda x: _EVAL[dens.family, dens.kind](dens, x)  # noqa: E731
    best = None
    for attempt in range(retries + 1):
        cap, nswp = rank_max * 2**attempt, 12 * (attempt + 1)
        tt = cheb.tt_cross(func, dens.grid, tol=tol, rank_max=cap, seed=dens.seed, nswp=nswp, dr_max=2)
        _finish(dens, tt, n_check, whole_box)
        dens.build = {"method": "TT-cross", "attempts": attempt + 1, "rank_max": cap, "nswp": nswp}
        if best is None or dens.error["nodes"] < best[0]:
            best = (dens.error["nodes"], dens.tt, dens.norm_const, dens.ranks, dens.error, dens.build)
        if dens.error["nodes"] <= node_tol:
            return dens
    _, dens.tt, dens.norm_const, dens.ranks, dens.error, dens.build = best
    return dens


def _tt_svd(full, tol):
    """TT-SVD of a full tensor: left to right, each bond cut at ``tol * |Y|_F / sqrt(d - 1)``
    (Oseledets 2011, Alg. 1), so the TT has relative Frobenius error <= tol, minimal ranks."""
    d, n = full.ndim, full.shape
    delta2 = (tol * np.linalg.norm(full)) ** 2 / max(d - 1, 1)
    cores, rest, r = [], full.reshape(n[0], -1), 1
    for k in range(d - 1):
        u, s, vt = np.linalg.svd(rest.reshape(r * n[k], -1), full_matrices=False)
        tail = np.cumsum((s * s)[::-1])[::-1]  # tail[j] = sum of s_i^2, i >= j
        keep = max(1, int(np.sum(tail > delta2)))
        cores.append(u[:, :keep].reshape(r, n[k], keep))
        rest, r = s[:keep, None] * vt[:keep], keep
    cores.append(rest.reshape(r, n[-1], 1))
    return cores


def _build_full(dens, tol, n_check):
    """Eq. (14) of the paper on grids of at most ``_FULL_MAX`` nodes: the formula at every
    node, then TT-SVD (exact to ``tol``, no cross, nothing can fail to converge)."""
    g = dens.grid
    mesh = np.stack(np.meshgrid(*[g.nodes] * dens.d, indexing="ij"), axis=-1).reshape(-1, dens.d)
    vals = np.concatenate(
        [_EVAL[dens.family, dens.kind](dens, mesh[i : i + 2**16]) for i in range(0, mesh.shape[0], 2**16)]
    )
    dens.build = {"method": "TT-SVD", "attempts": 1, "tol": tol}
    return _finish(dens, _tt_svd(vals.reshape([g.n] * dens.d), tol), n_check, whole_box=True)


#: Grids of at most this many nodes are built from the full tensor (the paper's d = 2, 3 grids).
_FULL_MAX = 2_000_000


def paper_mixture_density(
    d: int,
    seed: int,
    grid: cheb.Grid | None = None,
    tol: float = 1e-10,
    rank_max: int = 40,
    node_tol: float = 1e-9,
    n_check: int = 2000,
) -> RandomDensity:
    r"""The paper's Eq. (14): :math:`\frac1K\sum_j \exp(-0.05\,(q_{1,j} + q_{2,j}))`, normalised.

    Laws of ``paper_code/density.py`` (module docstring), drawn by
    ``numpy.random.RandomState(seed)``.

    Parameters
    ----------
    d : int            dimension (the paper: 2 and 3)
    seed : int         seed, in [0, 2**32)
    grid : Grid        Chebyshev grid of the TT (default :func:`paper_grid`)
    tol                relative (Frobenius) accuracy of the TT-SVD, or of the TT-cross
    rank_max           TT-cross only: rank cap of the first attempt
    node_tol           TT-cross only: node error above which it is repeated (module docstring)
    n_check            random nodes and points of the measured error

    Returns
    -------
    RandomDensity (the TT, the formula, the drawn parameters, the measured error, ``build``).
    """
    d, seed = _dim(d), _seed(seed)
    params = _draw_paper_mixture(np.random.RandomState(seed), d)
    dens = RandomDensity(d, seed, "paper", "mixture", params, _grid_for(d, grid), [], 1.0)
    if dens.grid.n**d <= _FULL_MAX:
        return _build_full(dens, tol, n_check)
    return _build_cross(dens, tol, rank_max, node_tol, n_check, whole_box=True)


def paper_tt_density(
    d: int, seed: int, grid: cheb.Grid | None = None, rank: int = 2, n_check: int = 2000
) -> RandomDensity:
    r"""The paper's Eq. (15): a rank-2 TT of U(0, 1) node values times N(0, I), normalised.

    Laws of ``paper_code/density_random.py`` (module docstring), drawn by
    ``numpy.random.RandomState(seed)`` on the grid's nodes (default :func:`paper_grid`:
    N = 50 for d = 7). The TT is exact (rank ``rank``, no cross); between the nodes the
    density is the Chebyshev interpolant of the node values.
    """
    d, seed = _dim(d), _seed(seed)
    if d < 2:
        raise ValueError(f"d must be >= 2 for Eq. (15) (a tensor train), got d = {d}")
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
        raise ValueError(f"rank must be an integer >= 1, got {rank!r}")
    grid = _grid_for(d, grid)
    params = _draw_paper_tt(np.random.RandomState(seed), d, grid.n, int(rank))
    dens = RandomDensity(
        d, seed, "paper", "tt_gaussian", params, grid, [], 1.0, build={"method": "exact", "attempts": 1}
    )
    return _finish(dens, _paper_tt_cores(params, grid), n_check, whole_box=True)


def mixture_density(
    d: int,
    seed: int,
    grid: cheb.Grid | None = None,
    tol: float = 1e-10,
    rank_max: int = 40,
    n_components=(2, 3),
    centre_range: float = 2.0,
    eig_range=(0.5, 2.5),
    quartic_range=(0.02, 0.08),
    node_tol: float = 1e-9,
    n_check: int = 2000,
) -> RandomDensity:
    r"""The smooth family's Eq. (14): :math:`\sum_j w_j \exp(-q_{1,j} - q_{2,j})`, normalised.

    Parameters as :func:`paper_mixture_density`; ``n_components, centre_range, eig_range,
    quartic_range`` are the laws of the parameters (module docstring), drawn by
    ``numpy.random.default_rng(seed)``.
    """
    d, seed = _dim(d), _seed(seed)
    params = _draw_mixture(np.random.default_rng(seed), d, n_components, centre_range, eig_range, quartic_range)
    dens = RandomDensity(d, seed, "smooth", "mixture", params, _grid_for(d, grid), [], 1.0)
    return _build_cross(dens, tol, rank_max, node_tol, n_check, whole_box=False)


def tt_gaussian_density(
    d: int,
    seed: int,
    grid: cheb.Grid | None = None,
    tol: float = 1e-10,
    rank_max: int = 40,
    rank: int = 2,
    u_range=(0.05, 0.5),
    v_range=(0.5, 1.0),
    omega_range=(0.25, 0.75),
    node_tol: float = 1e-9,
    n_check: int = 2000,
) -> RandomDensity:
    r"""The smooth family's Eq. (15): rank-``rank`` TT of smooth positive cores times N(0, I).

    Parameters as :func:`mixture_density`; ``u_range, v_range, omega_range`` are the laws
    of the core entries :math:`u + v(1 + \sin(\omega x + \theta))` (module docstring).
    """
    d, seed = _dim(d), _seed(seed)
    if d < 2:
        raise ValueError(f"d must be >= 2 for Eq. (15) (a tensor train), got d = {d}")
    params = _draw_tt_gaussian(np.random.default_rng(seed), d, int(rank), u_range, v_range, omega_range)
    dens = RandomDensity(d, seed, "smooth", "tt_gaussian", params, _grid_for(d, grid), [], 1.0)
    return _build_cross(dens, tol, rank_max, node_tol, n_check, whole_box=False)


def random_density(d: int, seed: int, family: str = "paper", grid: cheb.Grid | None = None, **kwargs) -> RandomDensity:
    """The random density of §3.4 for dimension d: Eq. (14) for d <= 3, Eq. (15) for d >= 4.

    ``family`` is "paper" (the laws of the paper's code, the default) or "smooth" (the
    book's variant); see the module docstring. The paper uses d = 2, 3 (Eq. 14) and
    d = 7 (Eq. 15). Keyword arguments go to the family's builder
    (:func:`paper_mixture_density`, :func:`paper_tt_density`, :func:`mixture_density`,
    :func:`tt_gaussian_density`).
    """
    d = _dim(d)
    if family not in FAMILIES:
        raise ValueError(f"family must be 'paper' or 'smooth', got {family!r}")
    if family == "paper":
        build = paper_mixture_density if d <= 3 else paper_tt_density
    else:
        build = mixture_density if d <= 3 else tt_gaussian_density
    return build(d, seed, grid=grid, **kwargs)


def boundary_mass(density: RandomDensity, width: float = 1.0) -> float:
    r"""Mass of :math:`p_0` within ``width`` of the boundary of the box (the TT, normalised on the box).

    :math:`1 - \int_{[a + w, b - w]^d} p_0`, the inner integral of the Chebyshev
    interpolant by Gauss–Legendre quadrature with N nodes per axis (exact for its degree
    N − 1). A wide component of Eq. (14) (a Wishart Q with a tiny eigenvalue) shows here;
    the box cuts off whatever lies beyond it.
    """
    if not isinstance(density, RandomDensity):
        raise TypeError(f"density must be a RandomDensity, got {type(density).__name__}")
    g = density.grid
    width = check.positive(width, "width")
    if not 2 * width < g.b - g.a:
        raise ValueError(f"width must be below half the box's side {g.b - g.a}, got {width}")
    x, w = references.gauss_legendre(g.a + width, g.b - width, 1, g.n)
    v = cheb.interpolation_matrix(x, g.a, g.b, g.n).T @ w
    acc = np.ones(1)
    for G in density.tt:
        acc = acc @ np.einsum("aib,i->ab", G, v)
    return float(1.0 - acc[0])


def between_nodes(
    density: RandomDensity, n_points: int = 20000, half_width: float = 4.0, per_gap: int = 20, seed: int = 0
) -> dict:
    r"""What an Eq. (15) density is between its grid nodes (the chapter's measurement).

    Returns a dict of

    * ``negative_volume``: the fraction of ``n_points`` uniform points of
      :math:`[-w, w]^d` (w = ``half_width``) where :math:`p_0 < 0`;
    * ``negative_share``: :math:`\int p_0^- / \int |p_0|` over that cube (same points);
    * ``min_relative``: :math:`\min p_0 / \max p_0` over them;
    * ``factor_min``: the most negative value of a 1-D factor entry :math:`F_k^{ab}(y)`
      (:meth:`RandomDensity.factor`) relative to that entry's largest :math:`|F_k^{ab}|`,
      over ``per_gap`` points in every gap between nodes;
    * ``tail_excess``: :math:`\max_{|y| \ge 5} \max_{k,a,b} |F_k^{ab}(y)| / \varphi(y)` over
      the same points, :math:`\varphi` the N(0, 1) density (about 1 for a smooth factor,
      huge when the interpolant does not decay like the Gaussian);
    * ``coefficient_tail``: the largest ratio, over cores and entries, of the last
      Chebyshev coefficient of the TT's core to its largest one (smoothness: the
      coefficients of a smooth factor decay, those of random node values do not);
    * ``score_max``: :math:`\max |\nabla \log p_0|` (max-norm) over the points where
      :math:`p_0 > 0`.
    """
    if not isinstance(density, RandomDensity):
        raise TypeError(f"density must be a RandomDensity, got {type(density).__name__}")
    if density.kind != "tt_gaussian":
        raise ValueError(f"between_nodes is for Eq. (15) densities, this one is kind {density.kind!r}")
    g, d = density.grid, density.d
    x = np.random.default_rng(seed).uniform(-half_width, half_width, size=(int(n_points), d))
    p, grad = density.gradient(x)
    nodes = np.sort(g.nodes)
    frac = np.linspace(0.0, 1.0, int(per_gap) + 1)[:-1]
    y = np.append((nodes[:-1, None] + np.diff(nodes)[:, None] * frac).ravel(), nodes[-1])
    fac = [density.factor(k, y) for k in range(d)]
    fmin = min(float((F.min(axis=0) / np.abs(F).max(axis=0)).min()) for F in fac)
    tail = np.abs(y) >= 5.0
    env = np.exp(-0.5 * y[tail] ** 2) / np.sqrt(2 * np.pi)
    excess = max(float((np.abs(F[tail]).max(axis=(1, 2)) / env).max()) for F in fac)
    coef = [np.abs(cheb.values_to_coefficients(np.moveaxis(G, 1, 0))) for G in density.tt]
    ctail = max(float((c[-1] / c.max(axis=0)).max()) for c in coef)
    pos = p > 0
    score = np.abs(grad[pos] / p[pos, None]).max() if pos.any() else np.nan
    return {
        "negative_volume": float(np.mean(p < 0)),
        "negative_share": float(np.clip(-p, 0.0, None).sum() / np.abs(p).sum()),
        "min_relative": float(p.min() / p.max()),
        "factor_min": fmin,
        "tail_excess": excess,
        "coefficient_tail": ctail,
        "score_max": float(score),
    }
