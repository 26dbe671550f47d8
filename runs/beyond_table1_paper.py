r"""Stronger checks of optimality on the paper's own random densities (Eqs. 14 and 15) and the smooth family.

    .venv/bin/python runs/beyond_table1_paper.py --out book/data            # the full run (module constants)
    .venv/bin/python runs/beyond_table1_paper.py --quick --out /tmp/bt1p     # a tiny configuration, seconds

Writes ``<out>/beyond_table1_paper.csv`` (one row per density, family and study) and
``<out>/beyond_table1_paper.json`` (command, versions, settings, limits, wall time, per-
(study, family, d) medians), both atomically (``ddpm_ot_lib._io.atomic_write``). Rows are
appended to ``beyond_table1_paper.csv.partial`` as they finish, so an interrupted run resumes
where it stopped (same settings). An existing result is not replaced without ``--force``.

The densities and samples are Table 1's (:mod:`ddpm_ot_lib.table1`): the density
``densities.random_density(d, seed, family=family)`` on the paper's grid, the seeds of
``book/data/table1.csv`` (paper family, 101, 102, ...) and ``book/data/table1_smooth.csv``
(smooth family, 0, 1, ...), the exact OU propagator of its TT (``fokker_planck.solve_exact``),
and the samples of Table 1's stream: ``sampling.tt_sample`` of ``TABLE1_SAMPLES`` = 1000
points with ``SeedSequence([seed, d, 1])``, of which a row uses the first ``n_samples``.
The encoder is Eq. (9) from t = 0 to ``t_max`` (Table 1's 5) at tolerance ``rtol``.

Columns (per row; empty = not computed in that row; a row whose computation failed has
``status`` "failed at <stage>: <message>" and empty metric cells, never NaN):

``study``        "main" (families paper and smooth, d = 2, 3, 7, MAIN_SEEDS seeds each),
                 "convergence" (the main row of the first CONVERGENCE_SEEDS seeds with one
                 setting changed: ``change`` = "rtol" (RTOL_TIGHT = 1e-11), "t_max" (doubled) or
                 "n_grid" (x1.5)), "dimension" (Eq. 15: the paper's ``paper_tt_density`` and
                 the smooth ``tt_gaussian_density`` at d = 2 ... 20 on DIMENSION_GRID nodes per axis)
``kind``         "mixture" (Eq. 14) or "tt_gaussian" (Eq. 15)
``n_stopped``    samples whose trajectory reached the zero set of :math:`p_t` (the paper's Eq. 15
                 interpolant is negative between nodes; the box faces): stopped there, as
                 Table 1 does, at :math:`p_t \le` ``table1.STOP_FLOOR`` x :math:`p_0` at the point's
                 start (Table 1: x max p_0 over the samples, which in d >= 10 stops tail samples
                 at t = 0), and left out of every statistic. ``stop_level``: 0, or the raised floor
                 (x max p_0 at the samples) with which the run was repeated (``encode_stopping``)
``asym_median``, ``asym_p90``, ``asym_max``
                 :math:`\lVert DE - DE^{\mathsf T}\rVert_F / \lVert DE\rVert_F` over the samples
                 (``optimality.jacobian_asymmetry``), DE from the variational equation
                 (``flow.encode_with_jacobian``) with the score and Hessian of the TT
                 (``counterexamples.tt_density_derivatives``). 0 for a gradient map (Brenier).
``sym_min_eig``  min over the samples of the smallest eigenvalue of :math:`(DE + DE^{\mathsf T})/2`
``eps_rel``      Table 1's relative cost error of the pairing :math:`x_i \to E(x_i)` on the
                 row's samples (``transport.relative_cost_error``)
``jac_fd_error`` max over ``fd_points`` samples of :math:`\lVert DE - D_hE\rVert_F / \lVert D_hE\rVert_F`,
                 :math:`D_hE` central differences (step FD_STEP) of ``flow.encode`` with
                 Table 1's score (``fokker_planck.gradient``, an independent code path),
                 all 2 d perturbed points of all base points in one batch (one step sequence)
``sym_min_eig_grid``, ``asym_max_grid``, ``grid_points``
                 the same eigenvalue (and the asymmetry) at the nodes of a uniform grid of
                 GRID_SIDE[d] points per axis of the box where :math:`p_0 \ge` GRID_LEVEL max p_0
                 (the formula; on :func:`mass_cube`), not only at samples: d = 2 (GRID_SEEDS[2] seeds)
                 and 3 (GRID_SEEDS[3] seeds)
``r``, ``r_coarse``
                 distance from E to the nearest gradient field in :math:`L^2(\mu)`
                 (``optimality.gradient_projection``; Gauss-Legendre, R_NODES per axis, times
                 p_0, nodes with :math:`p_0 \ge` R_LEVEL max p_0), tensor Chebyshev degree
                 R_DEGREE and R_DEGREE_COARSE (their gap shows convergence in the degree); d = 2
``seconds``      wall-clock seconds of the row
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import math
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ddpm_ot_lib import _io
from ddpm_ot_lib import chebyshev as cheb
from ddpm_ot_lib import counterexamples as cx
from ddpm_ot_lib import densities, flow, optimality, sampling, table1, transport
from ddpm_ot_lib import fokker_planck as fp

ROOT = Path(__file__).resolve().parents[1]
NAME = "beyond_table1_paper"
COMMAND = "python runs/beyond_table1_paper.py"

# --------------------------------------------------------------------------- settings of the full run
# Chosen from per-row wall seconds measured on the shared two-core machine (load about 2), one BLAS
# thread, n_samples = 150 (MEASURED_SECONDS; "d=20 paper" at n = 150, the others' parts in brackets):
# the full run was estimated at about 27 min (tails: a paper d = 2 density can take 8x the median).
MEASURED_SECONDS = {
    "main paper d=2 seed 101 (Jacobian 3.5, FD 1.8, grid 14.6, r 7.5)": 27.4,
    "main paper d=2 seed 102": 3.4,
    "main smooth d=2 seed 0 (all parts)": 2.7,
    "main paper d=3 seed 101 (Jacobian 7.8, FD 2.6, grid 11.2)": 22.3,
    "main smooth d=3 seed 0 (with grid)": 1.8,
    "main paper d=7 seeds 102, 103": 11.5,
    "main smooth d=7 seed 1": 0.35,
    "convergence n_grid paper d=2 (N = 375)": 11.2,
    "convergence n_grid paper d=3 (N = 150; TT-cross 88 s)": 111.1,
    "convergence n_grid paper d=7 (N = 75)": 1.4,
    "convergence rtol paper d=2 seed 102": 0.7,
    "dimension paper d=20 seed 102": 40.2,
    "dimension paper d=10 seed 101 (n = 200)": 2.9,
    "dimension smooth d=20 seed 0 (n = 200)": 1.7,
}
FAMILIES = ("paper", "smooth")
SEED0 = {"paper": 101, "smooth": 0}  # the first seed of book/data/table1.csv, table1_smooth.csv
MAIN_DIMS = (2, 3, 7)
MAIN_SEEDS = 20
TABLE1_SAMPLES = 1000  # Table 1's draw; a row uses its first N_SAMPLES points
N_SAMPLES = 150
RTOL = 1e-10  # Table 1's encoder tolerance
RTOL_TIGHT = 1e-11  # the convergence study: one step tighter
T_MAX = 5.0  # Table 1's (the paper's) final time
CONVERGENCE_SEEDS = 3
CONVERGENCE_CHANGES = ("rtol", "t_max", "n_grid")  # rtol / 10, t_max x 2, n_grid x 1.5
DIMENSION_DIMS = (2, 3, 5, 7, 10, 20)
DIMENSION_SEEDS = 3
DIMENSION_GRID = 50  # the paper's d = 7 grid, at every d
FD_POINTS = 3  # finite-difference check at this many samples, every row
FD_STEP = 1e-5
GRID_SIDE = {2: 25, 3: 11}  # grid for sym_min_eig_grid (points per axis of the mass cube)
GRID_SEEDS = {2: 20, 3: 5}  # ... on the first this many seeds of each family (main study)
GRID_LEVEL = 1e-3
R_DIMS = (2,)
R_NODES = 40
R_DEGREE, R_DEGREE_COARSE = 12, 8
R_LEVEL = 1e-4

#: --quick: the same pipeline on a handful of small rows (the test's configuration, seconds)
QUICK = {
    "main_dims": [2],
    "main_seeds": 1,
    "n_samples": 6,
    "main_grid": 48,
    "convergence_seeds": 1,
    "dimension_dims": [2, 3],
    "dimension_seeds": 1,
    "dimension_grid": 24,
    "fd_points": 2,
    "grid_side": {"2": 9},
    "grid_seeds": {"2": 1},
    "r_dims": [2],
    "r_nodes": 24,
    "r_degree": 4,
    "r_degree_coarse": 3,
}

COLUMNS = [
    "study",
    "change",
    "d",
    "family",
    "kind",
    "seed",
    "n_samples",
    "n_grid",
    "rtol",
    "t_max",
    "tt_rank",
    "n_stopped",
    "stop_level",
    "asym_median",
    "asym_p90",
    "asym_max",
    "sym_min_eig",
    "eps_rel",
    "r",
    "r_coarse",
    "jac_fd_error",
    "fd_points",
    "sym_min_eig_grid",
    "asym_max_grid",
    "grid_points",
    "t_jacobian",
    "t_fd",
    "t_grid",
    "t_r",
    "seconds",
    "status",
    "notes",
]
METRICS = COLUMNS[COLUMNS.index("n_stopped") : COLUMNS.index("seconds")]  # what row_metrics fills
STUDIES = ("main", "convergence", "dimension")


def full_config() -> dict:
    """The settings of the full run (module constants) as one JSON-able dict."""
    return {
        "main_dims": list(MAIN_DIMS),
        "main_seeds": MAIN_SEEDS,
        "n_samples": N_SAMPLES,
        "main_grid": None,
        "convergence_seeds": CONVERGENCE_SEEDS,
        "dimension_dims": list(DIMENSION_DIMS),
        "dimension_seeds": DIMENSION_SEEDS,
        "dimension_grid": DIMENSION_GRID,
        "fd_points": FD_POINTS,
        "grid_side": {str(k): v for k, v in GRID_SIDE.items()},
        "grid_seeds": {str(k): v for k, v in GRID_SEEDS.items()},
        "r_dims": list(R_DIMS),
        "r_nodes": R_NODES,
        "r_degree": R_DEGREE,
        "r_degree_coarse": R_DEGREE_COARSE,
    }


def _common(cfg):
    return {
        **cfg,
        "families": list(FAMILIES),
        "seed0": SEED0,
        "table1_samples": TABLE1_SAMPLES,
        "rtol": RTOL,
        "rtol_tight": RTOL_TIGHT,
        "t_max": T_MAX,
        "fd_step": FD_STEP,
        "grid_level": GRID_LEVEL,
        "r_level": R_LEVEL,
        "stop_floor": table1.STOP_FLOOR,
        "convergence_changes": list(CONVERGENCE_CHANGES),
    }


# --------------------------------------------------------------------------- a law and its derivatives


@dataclass
class Law:
    r"""What the row metrics need of a data law :math:`p_0` under the forward process (Eq. 8).

    derivatives         (x (m, d), t) -> :math:`p_t` (m,), :math:`\nabla p_t` (m, d), :math:`\nabla^2 p_t` (m, d, d)
    value_and_gradient  (x, t) -> :math:`p_t`, :math:`\nabla p_t` (the score path of Table 1's encoder)
    density            :math:`p_0(x)` (m,) from the formula
    box                (a, b): the cube :math:`[a, b]^d` of the TT grid (grid nodes, quadrature)
    """

    d: int
    derivatives: Callable
    value_and_gradient: Callable
    density: Callable
    box: tuple


def law_of_density(dens: densities.RandomDensity) -> Law:
    """A random density's law: its TT propagated exactly (``fokker_planck.solve_exact``)."""
    sol = fp.solve_exact(dens.tt, dens.grid, [0.0])
    g = dens.grid

    value_and_gradient = functools.partial(fp.value_and_gradient, sol)  # Table 1's score path
    return Law(dens.d, cx.tt_density_derivatives(sol), value_and_gradient, dens, (g.a, g.b))


def law_of_mixture_bed(bed: cx.TestBed, box=(-8.0, 8.0)) -> Law:
    r"""A closed-form (Gaussian mixture) test bed's law, e.g. ``counterexamples.gaussian_bed()``:
    :math:`p_t` from ``gaussian.mixture_log_density``, :math:`\nabla p_t = p_t s_t`,
    :math:`\nabla^2 p_t = p_t(\nabla^2\log p_t + s_t s_t^{\mathsf T})`."""
    from ddpm_ot_lib import gaussian

    if bed.kind != "closed form":
        raise ValueError(f"bed must be a closed-form test bed, got kind {bed.kind!r}")
    w, m, c = bed.info["weights"], bed.info["means"], bed.info["covs"]

    def value_and_gradient(y, t):
        p = np.exp(gaussian.mixture_log_density(y, t, w, m, c))
        return p, p[:, None] * bed.score(y, t)

    def derivatives(y, t):
        p, grad = value_and_gradient(y, t)
        s = bed.score(y, t)
        return p, grad, p[:, None, None] * (bed.hessian(y, t) + np.einsum("mi,mj->mij", s, s))

    return Law(bed.d, derivatives, value_and_gradient, lambda y: np.exp(bed.log_density(y)), tuple(box))


class _Stopping:
    r"""Score (and Hessian) of :math:`\log p_t` with the trajectories that reach the zero set of :math:`p_t` stopped.

    Point i is stopped from the first evaluation at which :math:`p_t \le` STOP_FLOOR
    :math:`p_0(x_i)` (its own starting density): it stands still (score :math:`-x`) and its
    Jacobian is frozen (Hessian :math:`-I`), as ``flow.AbsorbingScore`` does with one floor for
    all points. (Table 1's floor is STOP_FLOOR times the largest :math:`p_0` at the samples;
    in d >= 10 that stops samples of the Gaussian tail at t = 0, so this one is per point.)
    ``hessian=False``: the score only, by ``law.value_and_gradient`` (Table 1's score path).
    ``level`` > 0 raises every floor to at least ``level`` max :math:`p_0` over x0 (see
    :func:`encode_stopping`). ``stopped`` (n,) bool after the run.
    """

    def __init__(self, law, x0, hessian=True, level=0.0):
        self.law, self.with_hessian = law, hessian
        p0 = np.asarray(law.density(x0), dtype=np.float64)
        self.floor = np.maximum(
            table1.STOP_FLOOR * np.where(p0 > 0, p0, np.inf),  # p_0(x_i) <= 0: stopped
            level * p0.max(),
        )
        self.stopped = np.zeros(len(p0), dtype=bool)
        self.eye = np.eye(law.d)
        self.key, self.value = None, None

    def _eval(self, x, t):
        key = (float(t), hash(x.tobytes()))
        if key != self.key:
            if self.with_hessian:
                p, grad, hess = self.law.derivatives(x, t)
            else:
                p, grad = self.law.value_and_gradient(x, t)
            self.stopped |= ~(p > self.floor)
            ok = ~self.stopped
            safe = np.where(ok, p, 1.0)
            s = grad / safe[:, None]
            h = None
            if self.with_hessian:
                h = hess / safe[:, None, None] - np.einsum("mi,mj->mij", s, s)
                h[~ok] = -self.eye
            s[~ok] = -x[~ok]
            self.key, self.value = key, (s, h)
        return self.value

    def score(self, x, t):
        return self._eval(x, t)[0]

    def hessian(self, x, t):
        return self._eval(x, t)[1]


#: Floors tried in turn (x max p_0 over the starting points) when the integrator fails near a zero set
STOP_LEVELS = (0.0, 1e-6, 1e-4, 1e-2)


def encode_stopping(law: Law, x, t_max: float, rtol: float, jacobian: bool = True):
    r"""E(x) (and DE(x)) with the trajectories that reach the zero set of :math:`p_t` stopped (:class:`_Stopping`).

    Near the zero set of the paper's Eq. (15) interpolant the Hessian of :math:`\log p_t`
    grows like 1/distance², and the variational equation can fail (step size below
    rounding) before :math:`p_t` reaches the per-point floor. Then the run is repeated with
    the floor raised to ``level`` max :math:`p_0` for the next of STOP_LEVELS (1e-6 is
    Table 1's floor); the level used is returned.

    Returns (z, J or None, stopped (n,) bool, level).
    """
    for k, level in enumerate(STOP_LEVELS):
        stop = _Stopping(law, x, hessian=jacobian, level=level)
        try:
            if jacobian:
                z, J = flow.encode_with_jacobian(x, stop.score, stop.hessian, t_max=t_max, rtol=rtol)
            else:
                z, J = flow.encode(x, stop.score, t_max=t_max, rtol=rtol), None
            return z, J, stop.stopped, level
        except RuntimeError:
            if k == len(STOP_LEVELS) - 1:
                raise
    raise AssertionError("unreachable")


def _finite(out: dict) -> dict:
    for k, v in out.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{k} is not finite ({v})")
    return out


def fd_jacobian(law: Law, x, t_max: float, rtol: float, step: float = FD_STEP):
    r"""Central differences of the encoder at points x (m, d): :math:`(E(x + h e_b) - E(x - h e_b)) / 2h`.

    All 2 m d perturbed points go through one ``flow.encode`` call (one step sequence of the
    integrator, so the differences are those of one smooth discrete map), with Table 1's score
    (``law.value_and_gradient``), trajectories stopped as in :class:`_Stopping`.
    Returns J (m, d, d) and ok (m,) bool (False where a perturbed trajectory was stopped).
    """
    m, d = x.shape
    shifts = step * np.concatenate([np.eye(d), -np.eye(d)])  # (2d, d)
    pts = (x[:, None, :] + shifts[None]).reshape(-1, d)
    z, _, stopped, _ = encode_stopping(law, pts, t_max, rtol, jacobian=False)
    z = z.reshape(m, 2 * d, d)
    J = np.swapaxes((z[:, :d] - z[:, d:]) / (2.0 * step), 1, 2)  # J[i, a, b] = dz_a / dx_b
    ok = ~stopped.reshape(m, 2 * d).any(axis=1)
    return J, ok


def mass_cube(law: Law, level: float, n: int = 201) -> tuple:
    r"""The smallest cube :math:`[a', b']^d` inside ``law.box`` holding every point where
    :math:`p_0 \ge` ``level`` max :math:`p_0`, widened by 2 % of the box: found on a uniform
    grid of n points per axis (d = 2), or on a box-sized sample of 20 000 uniform points (d >= 3)."""
    a, b = law.box
    d = law.d
    if d == 2:
        side = np.linspace(a, b, n)
        pts = np.stack(np.meshgrid(side, side, indexing="ij"), axis=-1).reshape(-1, 2)
    else:
        pts = np.random.default_rng(0).uniform(a, b, size=(20000, d))
    p = law.density(pts)
    hit = pts[p >= level * p.max()]
    pad = 0.02 * (b - a)
    return max(a, float(hit.min()) - pad), min(b, float(hit.max()) + pad)


def row_metrics(
    law: Law,
    x,
    rtol: float = RTOL,
    t_max: float = T_MAX,
    fd_points: int = 0,
    grid_side: int | None = None,
    r_nodes: int | None = None,
    r_degree: int = R_DEGREE,
    r_degree_coarse: int = R_DEGREE_COARSE,
) -> dict:
    """Every metric of one row (module docstring) for the law ``law`` at samples x (n, d).

    The grid of ``sym_min_eig_grid`` and the quadrature of ``r`` lie on :func:`mass_cube`
    (GRID_LEVEL, R_LEVEL). Also returns the seconds of each part (t_jacobian, t_fd, t_grid, t_r).
    Raises ValueError on a non-finite value or when fewer than 2 samples stay alive.
    """
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    clock = time.perf_counter()
    z, J, stopped, level = encode_stopping(law, x, t_max, rtol)
    alive = ~stopped
    if alive.sum() < 2:
        raise ValueError(f"only {int(alive.sum())} of {n} samples were not stopped")
    asym = optimality.jacobian_asymmetry(J[alive])
    out = {
        "n_stopped": int(n - alive.sum()),
        "stop_level": float(level),
        "asym_median": float(np.median(asym)),
        "asym_p90": float(np.percentile(asym, 90)),
        "asym_max": float(asym.max()),
        "sym_min_eig": float(optimality.symmetric_part_min_eigenvalue(J[alive]).min()),
        "eps_rel": float(transport.relative_cost_error(x[alive], z[alive])),
    }
    out["t_jacobian"], clock = time.perf_counter() - clock, time.perf_counter()
    if fd_points:
        idx = np.flatnonzero(alive)[:fd_points]
        Jfd, ok = fd_jacobian(law, x[idx], t_max, rtol)
        if ok.any():
            err = np.linalg.norm(J[idx][ok] - Jfd[ok], axis=(1, 2)) / np.linalg.norm(Jfd[ok], axis=(1, 2))
            out.update({"jac_fd_error": float(err.max()), "fd_points": int(ok.sum())})
        out["t_fd"], clock = time.perf_counter() - clock, time.perf_counter()
    if grid_side:
        a, b = mass_cube(law, GRID_LEVEL)
        side = np.linspace(a, b, int(grid_side))
        nodes = np.stack(np.meshgrid(*[side] * d, indexing="ij"), axis=-1).reshape(-1, d)
        p0 = law.density(nodes)
        nodes = nodes[p0 >= GRID_LEVEL * p0.max()]
        _, Jg, gstopped, _ = encode_stopping(law, nodes, t_max, rtol)
        keep = ~gstopped
        if keep.any():
            out.update(
                {
                    "sym_min_eig_grid": float(optimality.symmetric_part_min_eigenvalue(Jg[keep]).min()),
                    "asym_max_grid": float(optimality.jacobian_asymmetry(Jg[keep]).max()),
                    "grid_points": int(keep.sum()),
                }
            )
        out["t_grid"], clock = time.perf_counter() - clock, time.perf_counter()
    if r_nodes:
        cube = mass_cube(law, R_LEVEL)
        nodes, w = cx.quadrature_grid(cube, int(r_nodes), d)
        p0 = law.density(nodes)
        sel = p0 >= R_LEVEL * p0.max()
        nodes, w = nodes[sel], (w * p0)[sel]
        zq, _, qstopped, _ = encode_stopping(law, nodes, t_max, rtol, jacobian=False)
        keep = ~qstopped
        if keep.sum() * d < 2 * (r_degree + 1) ** d:  # gradient_projection's own condition
            out["notes"] = (
                f"r not computed: {int(keep.sum())} quadrature nodes with p_0 >= {R_LEVEL:g} max p_0 "
                f"are too few for degree {r_degree}"
            )
        else:
            proj = [
                optimality.gradient_projection(nodes[keep], zq[keep], w[keep], cube, k)
                for k in (r_degree, r_degree_coarse)
            ]
            out.update({"r": float(proj[0]["residual"]), "r_coarse": float(proj[1]["residual"])})
        out["t_r"] = time.perf_counter() - clock
    return _finite(out)


# --------------------------------------------------------------------------- one row


def table1_samples(dens: densities.RandomDensity, n: int) -> np.ndarray:
    """The first n of Table 1's samples of ``dens`` (``table1.run_density``'s stream 1, 1000 points)."""
    rng = table1.random_stream(dens.d, dens.seed, 1)  # the runner's samples
    return sampling.tt_sample(dens.tt, dens.grid, TABLE1_SAMPLES, seed=rng)[:n]


def build_density(task: dict) -> densities.RandomDensity:
    """The task's density: Table 1's (main, convergence) or Eq. (15) of its family (dimension)."""
    d, seed, n_grid = task["d"], task["seed"], task["n_grid"]
    grid = cheb.grid(densities.BOX[0], densities.BOX[1], n_grid, d)
    if task["study"] == "dimension":
        build = densities.paper_tt_density if task["family"] == "paper" else densities.tt_gaussian_density
        return build(d, seed, grid=grid)
    return densities.random_density(d, seed, family=task["family"], grid=grid)


def run_row(task: dict) -> dict:
    """One CSV row for ``task`` (a dict of the row's identifying columns and what to compute);
    a failure is recorded in ``status`` with empty metric cells, never raised."""
    start = time.perf_counter()
    row = {c: task.get(c) for c in COLUMNS}
    row.update({"kind": "", "tt_rank": None, **{k: None for k in METRICS}, "status": "ok", "notes": ""})
    stage = "density"
    try:
        dens = build_density(task)
        row.update({"kind": dens.kind, "tt_rank": int(max(dens.ranks))})
        stage = "samples"
        x = table1_samples(dens, task["n_samples"])
        stage = "metrics"
        law = law_of_density(dens)
        row.update(
            row_metrics(
                law,
                x,
                rtol=task["rtol"],
                t_max=task["t_max"],
                fd_points=task["fd_points"],
                grid_side=task["grid_side"],
                r_nodes=task["r_nodes"],
                r_degree=task["r_degree"],
                r_degree_coarse=task["r_degree_coarse"],
            )
        )
    except Exception as exc:  # noqa: BLE001 - every failure is recorded in the row, none skipped
        msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        row.update({k: None for k in METRICS})
        row["status"] = f"failed at {stage}: {msg[:300]}"
        traceback.print_exc(file=sys.stderr)
    row["seconds"] = time.perf_counter() - start
    return row


def tasks(cfg: dict, studies=STUDIES) -> list[dict]:
    """Every row of a run, in order (main, convergence, dimension)."""
    out = []

    def add(study, change, family, d, seed, n_grid, rtol=RTOL, t_max=T_MAX, extras=True):
        on_grid = extras and seed - SEED0[family] < cfg["grid_seeds"].get(str(d), 0)
        out.append(
            {
                "study": study,
                "change": change,
                "family": family,
                "d": d,
                "seed": seed,
                "n_samples": cfg["n_samples"],
                "n_grid": n_grid,
                "rtol": rtol,
                "t_max": t_max,
                "fd_points": cfg["fd_points"] if extras or study == "dimension" else 0,
                "grid_side": cfg["grid_side"].get(str(d)) if on_grid else None,
                "r_nodes": cfg["r_nodes"] if extras and d in cfg["r_dims"] else None,
                "r_degree": cfg["r_degree"],
                "r_degree_coarse": cfg["r_degree_coarse"],
            }
        )

    def grid_n(d):
        return cfg["main_grid"] or densities.PAPER_SETTINGS[d][0]

    for family in FAMILIES:
        seeds = [SEED0[family] + k for k in range(cfg["main_seeds"])]
        for d in cfg["main_dims"]:
            if "main" in studies:
                for s in seeds:
                    add("main", "", family, d, s, grid_n(d))
            if "convergence" in studies:
                for s in seeds[: cfg["convergence_seeds"]]:
                    add("convergence", "rtol", family, d, s, grid_n(d), rtol=RTOL_TIGHT, extras=False)
                    add("convergence", "t_max", family, d, s, grid_n(d), t_max=2 * T_MAX, extras=False)
                    add("convergence", "n_grid", family, d, s, int(round(1.5 * grid_n(d))), extras=False)
        if "dimension" in studies:
            for d in cfg["dimension_dims"]:
                for s in seeds[: cfg["dimension_seeds"]]:
                    add("dimension", "", family, d, s, cfg["dimension_grid"], extras=False)
    return out


def _key(row):
    return (row["study"], row["change"], row["family"], int(row["d"]), int(row["seed"]))


# --------------------------------------------------------------------------- output


def _csv_text(rows) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {k: "" if r[k] is None else (repr(float(r[k])) if isinstance(r[k], float) else r[k]) for k in COLUMNS}
        )
    return buf.getvalue()


def summary(rows) -> dict:
    """Per study, family and d: rows, failed, medians of asym_median, sym_min_eig, eps_rel, seconds;
    for the convergence study, the largest relative change of asym_median against the main row."""
    out = {}
    main = {(r["family"], r["d"], r["seed"]): r for r in rows if r["study"] == "main" and r["status"] == "ok"}
    for study in STUDIES:
        for family in FAMILIES:
            for d in sorted({r["d"] for r in rows if r["study"] == study and r["family"] == family}):
                rs = [r for r in rows if (r["study"], r["family"], r["d"]) == (study, family, d)]
                ok = [r for r in rs if r["status"] == "ok"]
                s = {
                    "rows": len(rs),
                    "failed": len(rs) - len(ok),
                    "seconds_median": float(np.median([r["seconds"] for r in rs])),
                }
                for col in (
                    "asym_median",
                    "asym_max",
                    "sym_min_eig",
                    "eps_rel",
                    "jac_fd_error",
                    "r",
                    "sym_min_eig_grid",
                ):
                    v = [r[col] for r in ok if r[col] is not None]
                    if v:
                        s[f"{col}_median"] = float(np.median(v))
                        s[f"{col}_min" if "eig" in col else f"{col}_max"] = float(min(v) if "eig" in col else max(v))
                if study == "convergence":
                    for change in CONVERGENCE_CHANGES:
                        rel = [
                            abs(r["asym_median"] - main[(family, d, r["seed"])]["asym_median"])
                            / main[(family, d, r["seed"])]["asym_median"]
                            for r in ok
                            if r["change"] == change and (family, d, r["seed"]) in main
                        ]
                        if rel:
                            s[f"asym_median_relative_change_{change}_max"] = float(max(rel))
                out[f"{study}/{family}/d={d}"] = s
    return out


def outputs(out_dir: Path):
    return out_dir / f"{NAME}.csv", out_dir / f"{NAME}.json"


def run(
    out_dir, quick: bool = False, force: bool = False, studies=STUDIES, command: str = COMMAND, progress=print
) -> list[dict]:
    """The whole run: check the outputs, resume from the partial file, compute, write CSV + JSON."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out must be a folder, got the file {str(out_dir)!r}")
    csv_path, json_path = outputs(out_dir)
    _io.check_writable(csv_path, "--out")
    existing = [str(p) for p in (csv_path, json_path) if p.exists()]
    if existing and not force:
        raise ValueError(f"--out: {', '.join(existing)} exist(s); pass --force to replace")
    cfg = _common(QUICK if quick else full_config())
    config = {"quick": bool(quick), "studies": list(studies), **cfg}
    config = json.loads(json.dumps(config))
    partial = _io.partial_path(csv_path)
    old, done_rows, sessions = _io.read_partial(partial)
    if old is not None and old != config:
        if not force:
            raise ValueError(f"{partial} holds rows of another configuration; remove it or pass --force")
        partial.unlink()
        old, done_rows, sessions = None, [], []
    if old is None:
        _io.append_record(partial, {"config": config})
    done = {_key(r): r for r in done_rows}
    todo = [t for t in tasks(cfg, studies) if _key(t) not in done]
    wanted = tasks(cfg, studies)
    session = {"start": time.time(), "rows": 0, "load_start": list(os.getloadavg())}
    try:
        for k, task in enumerate(todo):
            row = run_row(task)
            _io.append_record(partial, {"row": row})
            done[_key(row)] = row
            session["rows"] += 1
            progress(
                f"[{len(done)}/{len(wanted)}] {row['study']} {row['change'] or '-'} {row['family']} "
                f"d={row['d']} seed={row['seed']}: asym_median={row['asym_median']} "
                f"fd={row['jac_fd_error']} {row['seconds']:.1f} s {row['status'][:80]}"
            )
    finally:
        session["end"] = time.time()
        session["load_end"] = list(os.getloadavg())
        if session["rows"]:
            _io.append_record(partial, {"session": session})
            sessions.append(session)
    rows = [done[_key(t)] for t in wanted]
    import scipy
    import teneva

    limits = {}
    for r in rows:
        if r["status"] != "ok":
            limits[f"{r['study']}/{r['change'] or '-'}/{r['family']}/d={r['d']}/seed={r['seed']}"] = r["status"]
    meta = {
        "command": command,
        "config": config,
        "measured_seconds_per_row": MEASURED_SECONDS,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "teneva": teneva.__version__,
        },
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "wall_time_s": sum(s["end"] - s["start"] for s in sessions),
        "sessions": sessions,
        "r_computed": f"d in {cfg['r_dims']} (main rows): tensor Chebyshev potentials of degree "
        f"{cfg['r_degree']} and {cfg['r_degree_coarse']}; in d = 3 the tensor basis of that "
        "degree needs more quadrature nodes than one core affords in the budget",
        "limits": limits or "none: every row of every study was computed",
        "notes": NOTES,
        "summary": summary(rows),
    }
    _io.atomic_write(csv_path, _csv_text(rows))
    _io.atomic_write(json_path, json.dumps(meta, indent=1, default=_io.json_default) + "\n")
    partial.unlink()
    return rows


NOTES = [
    "Paper family, Eq. (15) (d >= 4 and the dimension study): a grid with another N is another density "
    "(its values are drawn at the nodes), so the n_grid row of the convergence study changes the density, "
    "not only the resolution.",
    "n_stopped counts samples stopped at the zero set of p_t (Table 1's treatment); they are left out of "
    "every statistic of the row.",
    "eps_rel is over the row's n_samples samples (the first n_samples of Table 1's 1000), not Table 1's.",
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(ROOT / "book" / "data"), help="output folder (default book/data)")
    parser.add_argument("--quick", action="store_true", help="a tiny configuration (seconds)")
    parser.add_argument("--force", action="store_true", help="replace an existing result")
    parser.add_argument(
        "--studies", nargs="+", choices=STUDIES, default=list(STUDIES), help="studies to run (default all)"
    )
    args = parser.parse_args(argv)
    command = COMMAND + " " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        run(
            args.out,
            quick=args.quick,
            force=args.force,
            studies=args.studies,
            command=command.strip(),
            progress=lambda s: print(s, file=sys.stderr, flush=True),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {outputs(Path(args.out))[0]} and its .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
