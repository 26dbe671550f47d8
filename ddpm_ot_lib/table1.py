r"""Table 1 of §3.4: the row pipeline, the runner and its command line.

(Longer than the book's ~500-line guide, one concern: Table 1 — a row's columns, its
configuration and its command-line options must agree. Part of it is the exact definitions
of its columns below, which the CSV's readers need beside the code that fills them; the rest
are the row pipeline, the resumable runner, the summaries and the command line.)

For each random density :math:`p_0` of Eq. (14) (d = 2, 3) or Eq. (15) (d = 7)
(:mod:`ddpm_ot_lib.densities`), :func:`run_density`

1. builds the TT of :math:`p_0` on the paper's Chebyshev grid (N = 250, 100, 50 nodes
   per axis on [−8, 8]^d);
2. solves the forward Fokker–Planck equation (Eq. 8) — by default with the exact OU
   propagator (:func:`ddpm_ot_lib.fokker_planck.solve_exact`, evaluated at any t by
   :func:`ddpm_ot_lib.fokker_planck.score`), or with the paper's splitting scheme
   (:func:`ddpm_ot_lib.fokker_planck.solve_splitting`, M = 250, 100, 50 steps on [0, 5])
   on request;
3. draws continuous samples :math:`x_i \sim p_0` (:func:`ddpm_ot_lib.sampling.tt_sample`);
4. integrates the probability-flow ODE (Eq. 9) from t = 0 to ``t_max`` (default 5, the
   paper's range) with :func:`ddpm_ot_lib.flow.encode` (adaptive Dormand–Prince 8(5,3))
   at tolerance ``rtol`` (default 1e-10; this is the encoder E) and again at the looser
   ``check_rtol`` (default 1e-9), to measure the ODE's own error;
5. computes Table 1's :math:`\varepsilon_{\mathrm{rel}}` for the pairing
   :math:`x_i \to E(x_i)` (:func:`ddpm_ot_lib.transport.relative_cost_error`).

What each row reports (exact definitions):

``d``, ``seed``, ``family``, ``kind``, ``K``, ``rank``, ``n_grid``
    the density (``densities.random_density(d, seed, family=family)``), the family of
    random densities it was drawn from (default "paper"), its kind ("mixture", Eq. 14,
    or "tt_gaussian", Eq. 15), K = ``params["K"]`` of the density where it has one
    (empty otherwise), the largest TT rank of :math:`p_0` on the grid, and the grid's
    nodes per axis.
``p0_error``
    the TT interpolant of :math:`p_0` against the formula, max abs error / max value at
    2000 random points of [−4, 4]^d (smooth family) or of the box (the paper's)
    (``RandomDensity.error['points']``).
``boundary_mass``, ``build_attempts``
    the mass of :math:`p_0` within 1 of the boundary of the box
    (:func:`ddpm_ot_lib.densities.boundary_mass`), and the number of TT builds of
    :math:`p_0` (> 1: its TT-cross was repeated with more rank and sweeps).
``solver_error``
    the density solver against an **independent** reference, at the times
    ``check_times`` (default 0, 0.1, 1, 5) and, for each time t, at ``check_points``
    (default 100) exact samples of :math:`p_t` (:math:`e^{-t}x_i + \sqrt{1 - e^{-2t}}\,\xi`):
    :math:`\max_t \max_i |\hat p_t(y_i) - p_t(y_i)| / \max_i p_t(y_i)`. The reference
    :math:`p_t` is the formula at t = 0; for t > 0 it is the closed form of the OU
    transition applied to Eq. (15) (:func:`ddpm_ot_lib.references.tt_gaussian_reference`),
    or, for the mixtures of Eq. (14), the OU kernel integrated against the formula of
    :math:`p_0` by tensor Gauss–Legendre quadrature
    (:func:`ddpm_ot_lib.references.mixture_reference`); neither shares
    code with the solvers (no Chebyshev grid, no TT).
``score_error``
    the same for the score, which is what the flow uses:
    :math:`\max_t \max_i \lVert\hat s_t(y_i) - s_t(y_i)\rVert_\infty / \max_i \lVert s_t(y_i)\rVert_\infty`,
    :math:`s_t = \nabla\log p_t`. It is much larger than ``solver_error`` where samples
    reach the tails, where :math:`p_t` is small and its relative error large. Taken over
    the check points where the solution's :math:`\hat p_t > 0`: where :math:`\hat p_t
    \le 0` (the negative region of the paper's Eq. 15 interpolant, at t = 0 and shortly
    after) the solver has no score; ``check_unscored`` counts those points, summed
    over the check times, and they stay in ``solver_error``.
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
``stopped``
    the number of samples whose trajectory reaches the zero set of :math:`p_t`, where
    the encoder does not exist: the negative region of the paper's Eq. (15)
    interpolant, or the faces of the box, where the solver's :math:`p_t` vanishes (its
    Dirichlet condition), reached from densities with mass near them. Such points are
    stopped at :math:`p_t \le` ``STOP_FLOOR`` × max :math:`p_0(x_i)`
    (:func:`encode_stopping`) and left out of the costs and of ``ode_error``. (The
    paper's code divides by :math:`p_t + 10^{-15}` and steps over zero sets with
    fixed-step RK4, ``paper_code/fpdimod.py``.)
``cost_E``, ``cost_OT``, ``eps_rel``
    :math:`\frac1n\sum_i\lVert x_i - E(x_i)\rVert^2` (over the samples not ``stopped``), the exact discrete OT cost
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

Command line (the book's ``book/data/table1.csv`` is written by such a run; the
library knows no book path, ``--out`` is required)::

    python -m ddpm_ot_lib.table1 run --dims 2 3 7 --densities 100 --jobs 2 --out book/data/table1.csv
    python -m ddpm_ot_lib.table1 summary book/data/table1.csv

Results are appended to ``<out>.partial`` (JSON lines, :mod:`ddpm_ot_lib._io`) as each
density finishes, so an interrupted run resumes where it stopped; the CSV and a JSON
summary are then written atomically. The runner refuses to replace a result written
with another configuration (``force`` / ``--force`` to allow it), checks that the
output is writable before any work, and refuses fewer than 2 samples (with one sample
:math:`\varepsilon_{\mathrm{rel}}` is 0 by construction).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from . import _io
from . import _validate as check
from . import chebyshev as cheb
from . import densities as dens_mod
from . import flow, paper, references, sampling, transport
from . import fokker_planck as fp

__all__ = [
    "encode_piecewise",
    "encode_stopping",
    "random_stream",
    "run_density",
    "run_table",
    "read_rows",
    "summarise",
    "table1_markdown",
    "PAPER_TABLE1",
    "COLUMNS",
    "FAMILIES",
    "BACKENDS",
    "main",
]

#: Table 1 of the paper: the largest ε_rel over 100 random densities per dimension.
PAPER_TABLE1 = {d: q.value for d, q in paper.TABLE1_MAX_EPS_REL.items()}

#: The columns of the result file, in order.
COLUMNS = [
    "d",
    "seed",
    "family",
    "kind",
    "K",
    "rank",
    "n_grid",
    "solver",
    "samples",
    "t_max",
    "rtol",
    "p0_error",
    "boundary_mass",
    "build_attempts",
    "solver_error",
    "score_error",
    "mass_error",
    "negative_mass",
    "ode_error",
    "ode_calls",
    "stopped",
    "check_unscored",
    "cost_E",
    "cost_OT",
    "eps_rel",
    "t_density",
    "t_solve",
    "t_sample",
    "t_flow",
    "t_ot",
    "t_check",
    "wall",
    "cpu",
    "status",
]

#: Families of random densities (:func:`ddpm_ot_lib.densities.random_density`).
FAMILIES = dens_mod.FAMILIES

#: Where the densities run: joblib processes on this machine, or a dask.distributed cluster.
BACKENDS = ("local", "dask")

STAGES = ["t_density", "t_solve", "t_sample", "t_flow", "t_ot", "t_check"]
_STAGE_KEYS = {
    "density": "density",
    "solve": "solve",
    "sampling": "sample",
    "flow": "flow",
    "OT": "ot",
    "solver check": "check",
}


# =========================================================================== one density


def random_stream(d: int, seed: int, stream: int) -> np.random.Generator:
    """The runner's random stream ``stream`` of the row (d, seed): 1 the samples, 2 the check points."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(d), int(stream)]))


def _paper_grid(d, n_grid):
    if n_grid is None:
        return dens_mod.paper_grid(d)
    return cheb.grid(dens_mod.BOX[0], dens_mod.BOX[1], int(n_grid), d)


def _default_steps(d):
    return dens_mod.PAPER_SETTINGS.get(d, (None, 100))[1]


def _samples(value):
    value = check.positive_int(value, "samples")
    if value < 2:
        raise ValueError(f"samples must be >= 2 (with one sample eps_rel is 0 by construction), got {value}")
    return value


def _family(value):
    if value not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(map(repr, FAMILIES))}, got {value!r}")
    return value


def _random_density(d, seed, grid, family):
    """``densities.random_density(d, seed, family=family)`` on ``grid``."""
    return dens_mod.random_density(d, seed, family=family, grid=grid)


def run_density(
    d: int,
    seed: int,
    samples: int = 1000,
    solver: str = "exact",
    family: str = "paper",
    n_grid: int | None = None,
    steps: int | None = None,
    t_max: float = 5.0,
    rtol: float = 1e-10,
    check_rtol: float = 1e-9,
    check_times=(0.0, 0.1, 1.0, 5.0),
    check_points: int = 100,
    split_tol: float = 1e-8,
    split_rank: int = 40,
    return_data: bool = False,
):
    r"""One row of Table 1: the density of (d, seed), its solver, samples, encoder and ε_rel.

    Parameters
    ----------
    d, seed : int          dimension and seed of the random density (:func:`densities.random_density`)
    samples : int          number n >= 2 of samples of :math:`p_0` (the paper: 1000)
    solver : str           "exact" (the OU propagator, default) or "splitting" (the paper's scheme)
    family : str           family of random densities, "paper" (default) or "smooth"
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
    samples = _samples(samples)
    family = _family(family)
    t_max = check.positive(t_max, "t_max")
    rtol = check.positive(rtol, "rtol")
    check_rtol = check.positive(check_rtol, "check_rtol")
    check_points = check.positive_int(check_points, "check_points")
    check_times = [check.time(v, "check_times") for v in check_times]
    check_times = [v for v in check_times if v <= t_max]
    start, start_cpu = time.perf_counter(), time.process_time()
    row = {c: math.nan for c in COLUMNS}
    row.update(
        {
            "d": int(d),
            "seed": int(seed),
            "family": family,
            "kind": "",
            "K": None,
            "rank": 0,
            "solver": solver,
            "samples": samples,
            "t_max": t_max,
            "rtol": rtol,
            "ode_calls": 0,
            "stopped": 0,
            "check_unscored": 0,
            "status": "ok",
        }
    )
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
        dens = _random_density(d, seed, grid, family)
        K = dens.params.get("K")
        row.update(
            {
                "kind": dens.kind,
                "n_grid": grid.n,
                "rank": max(dens.ranks),
                "K": None if K is None else int(K),
                "p0_error": dens.error["points"],
                "boundary_mass": dens_mod.boundary_mass(dens, 1.0),
                "build_attempts": int(dens.build.get("attempts", 1)),
            }
        )
        data["density"] = dens

    @stage("solve", needs=("density",))
    def _solve():
        dens = data["density"]
        if solver == "exact":
            sol = fp.solve_exact(dens.tt, dens.grid, [0.0])
        else:
            m_steps = check.positive_int(steps if steps is not None else _default_steps(d), "steps")
            h = 5.0 / m_steps
            n_out = int(math.ceil(t_max / h - 1e-9))
            times = np.linspace(0.0, n_out * h, n_out + 1)
            sol = fp.solve_splitting(
                fp.ornstein_uhlenbeck(d), dens.tt, dens.grid, times, h=h, tol=split_tol, rank_max=split_rank
            )
        data.update({"solution": sol, "score": _Counted(fp.score_function(sol))})

    @stage("sampling", needs=("density",))
    def _sampling():
        dens = data["density"]
        info = {}
        data["x"] = sampling.tt_sample(dens.tt, dens.grid, samples, seed=random_stream(d, seed, 1), info=info)
        row["negative_mass"] = info["negative_mass"]

    @stage("flow", needs=("solution", "x"))
    def _flow():
        counter, x, dens = data["score"], data["x"], data["density"]
        calls0 = counter.calls
        # the splitting solution is linear in t between its stored times: restart at each
        breaks = data["solution"].times if solver == "splitting" else None
        try:
            floor = STOP_FLOOR * float(np.max(dens(x)))
            z, z_check, alive = encode_stopping(x, data["solution"], floor, t_max, rtol, check_rtol, counter, breaks)
            row["stopped"] = int((~alive).sum())
            data.update({"z": z, "alive": alive})
            both = alive & np.all(np.isfinite(z_check), axis=1)
            row["ode_error"] = float(np.abs(z_check[both] - z[both]).max() / np.abs(z[both]).max())
        finally:
            row["ode_calls"] = counter.calls - calls0

    @stage("OT", needs=("z",))
    def _ot():
        alive = data["alive"]
        x, z = data["x"][alive], data["z"][alive]
        cost_e = transport.pairing_cost(x, z)
        cost_ot = transport.ot_cost(x, z)
        row.update({"cost_E": cost_e, "cost_OT": cost_ot, "eps_rel": (cost_e - cost_ot) / cost_ot})

    @stage("solver check", needs=("solution", "x"))
    def _check():
        dens, x, sol = data["density"], data["x"], data["solution"]
        grid = dens.grid
        rng = random_stream(d, seed, 2)
        base = x[:check_points]
        dens_errs, score_errs, mass_errs, cache = [], [], [], {}
        for t in check_times:
            c, s2 = references.ou_coefficients(t)
            y = np.clip(c * base + math.sqrt(s2) * rng.standard_normal(base.shape), grid.a, grid.b)
            ref, ref_grad = references.reference_density(dens, y, t, gradient=True, cache=cache)
            ref_score = ref_grad / ref[:, None]
            dens_errs.append(float(np.abs(fp.density(sol, y, t) - ref).max() / ref.max()))
            has = fp.gradient(sol, y, t, with_value=True)[1] > 0  # fp.score's own test
            row["check_unscored"] += int((~has).sum())
            y_s = y if has.all() else y[has]
            score_errs.append(
                float(np.abs(fp.score(sol, y_s, t) - ref_score[has]).max() / np.abs(ref_score[has]).max())
            )
            mass_errs.append(abs(fp.mass(sol, t) - 1.0))
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


#: Where a trajectory is taken to have reached the zero set of p_t, relative to max p_0 at the samples.
STOP_FLOOR = 1e-6


def encode_stopping(
    x, solution, floor: float, t_max: float, rtol: float, check_rtol: float | None = None, counter=None, breaks=None
):
    r"""The encoder at two tolerances, with the trajectories that reach :math:`p_t \le` ``floor`` stopped.

    Where :math:`p_t` vanishes the velocity :math:`-(x + \nabla p_t/p_t)` points
    towards the zero set with speed ~ 1/distance, and a trajectory that starts near it
    reaches it in finite time: there the encoder does not exist
    (:class:`ddpm_ot_lib.flow.AbsorbingScore`, which stops such points). Two zero sets
    occur: the negative region of the paper's Eq. (15) interpolant, and the faces of
    the box, where the solver's :math:`p_t` is 0 for t > 0 (its Dirichlet condition;
    the free-space density is not), reached by samples of densities with mass near
    them. Outside the box :math:`p_t = 0` (the solution's convention), so a trial step
    thrown out of the box stops its point too. Away from the zero sets the score is
    :func:`ddpm_ot_lib.fokker_planck.score`'s, to the bit.

    Returns z (tolerance ``rtol``), z_check (``check_rtol``; NaN rows where that run
    stopped the point; None without ``check_rtol``) and ``alive`` (n,) bool: the points
    that the ``rtol`` run did not stop. The score evaluations are counted in ``counter``
    (a :class:`_Counted`) when one is given.
    """

    def value_and_gradient(y, t):
        if counter is not None:
            counter.calls += 1
        return fp.value_and_gradient(solution, y, t)

    runs = []
    for tol in (rtol,) if check_rtol is None else (rtol, check_rtol):
        absorbing = flow.AbsorbingScore(value_and_gradient, floor)
        z = encode_piecewise(x, absorbing, t_max, tol, breaks)
        runs.append((z, ~absorbing.stopped))
    (z, alive) = runs[0]
    if check_rtol is None:
        return z, None, alive
    z_check, alive_check = runs[1]
    return z, np.where(alive_check[:, None], z_check, np.nan), alive


class _Counted:
    """A score callable that counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.fn(x, t)


def row_worker(d, seed, kwargs):
    """run_density in a worker (local or dask), single-threaded BLAS (one core per density); the row cleaned."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return _clean(run_density(d, seed, **kwargs))
    with threadpool_limits(limits=1):
        return _clean(run_density(d, seed, **kwargs))


# =========================================================================== the table


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


def _csv_text(rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {k: ("" if r[k] is None else (repr(r[k]) if isinstance(r[k], float) else r[k])) for k in COLUMNS}
        )
    return buf.getvalue()


def _existing_config(out: Path):
    """The configuration recorded beside an existing result file, or None when there is none."""
    meta = out.with_suffix(".json")
    try:
        return json.loads(meta.read_text()).get("config")
    except (OSError, ValueError, AttributeError):
        return None


def _map_local(tasks, jobs):
    from joblib import Parallel, delayed

    par = Parallel(n_jobs=jobs, return_as="generator_unordered")
    yield from par(delayed(row_worker)(d, s, kw) for d, s, kw in tasks)


def _map_dask(tasks, jobs, scheduler):
    """Rows from a dask.distributed cluster: the one at ``scheduler``, or a LocalCluster of ``jobs`` workers."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = [client.submit(row_worker, d, s, kw, pure=False) for d, s, kw in tasks]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_table(
    out,
    dims=(2, 3, 7),
    densities: int = 100,
    samples: int = 1000,
    solver: str = "exact",
    family: str = "paper",
    seed0: int = 0,
    jobs: int = 2,
    grid=None,
    steps=None,
    t_max: float = 5.0,
    rtol: float = 1e-10,
    check_rtol: float = 1e-9,
    check_times=(0.0, 0.1, 1.0, 5.0),
    check_points: int = 100,
    resume: bool = True,
    force: bool = False,
    backend: str = "local",
    scheduler: str | None = None,
    progress: bool = True,
    command: str | None = None,
) -> list[dict]:
    r"""Regenerate Table 1: :func:`run_density` for seeds seed0 .. seed0 + densities − 1 in each d.

    out : path of the result CSV (required: the library knows no book path).

    Densities run in parallel — ``backend`` "local": joblib, ``jobs`` processes, one
    BLAS thread each; "dask": a dask.distributed cluster at ``scheduler`` (an address
    such as ``tcp://host:8786``), or a LocalCluster of ``jobs`` workers when none is
    given — and are appended to ``<out>.partial`` as they finish. The rows do not depend
    on the backend (each density is seeded by (d, seed) alone). With ``resume`` the rows
    already there (for the same configuration) are kept, so an interrupted run
    continues. When every row is in, ``out`` (CSV, columns :data:`COLUMNS`, sorted by d
    and seed) and ``out`` with suffix ``.json`` (configuration, session times,
    :func:`summarise`) are written atomically and the partial file is removed.

    Before any work: every argument is checked, ``out`` must be writable, and an
    existing ``out`` written with another configuration (or without its JSON) is not
    replaced unless ``force``.

    grid, steps : dict or None   Chebyshev nodes / splitting steps per d (default: the paper's)
    Returns the rows (list of dicts).
    """
    dims = [check.positive_int(d, "dims") for d in dims]
    if len(set(dims)) != len(dims):
        raise ValueError(f"dims must be distinct, got {dims}")
    densities = check.positive_int(densities, "densities")
    jobs = check.positive_int(jobs, "jobs")
    samples = _samples(samples)
    family = _family(family)
    if isinstance(seed0, bool) or not isinstance(seed0, (int, np.integer)) or seed0 < 0:
        raise ValueError(f"seed0 must be an integer >= 0, got {seed0!r}")
    if solver not in ("exact", "splitting"):
        raise ValueError(f"solver must be 'exact' or 'splitting', got {solver!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be 'local' or 'dask', got {backend!r}")
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler is only used by backend 'dask', got backend {backend!r}")
    grid = dict(grid or {})
    steps = dict(steps or {})
    for d in dims:
        n_grid = grid.get(d, dens_mod.PAPER_SETTINGS.get(d, (None,))[0])
        if n_grid is None:
            raise ValueError(f"no paper grid for d = {d}: give its number of nodes (grid={{{d}: N}})")
        grid[d] = check.positive_int(n_grid, f"grid[{d}]")
        steps[d] = check.positive_int(steps.get(d, _default_steps(d)), f"steps[{d}]")
    kwargs_for = {
        d: {
            "samples": samples,
            "solver": solver,
            "family": family,
            "n_grid": grid[d],
            "steps": steps[d],
            "t_max": check.positive(t_max, "t_max"),
            "rtol": check.positive(rtol, "rtol"),
            "check_rtol": check.positive(check_rtol, "check_rtol"),
            "check_times": [check.time(v, "check_times") for v in check_times],
            "check_points": check.positive_int(check_points, "check_points"),
        }
        for d in dims
    }
    config = {
        "solver": solver,
        "family": family,
        "samples": samples,
        "t_max": float(t_max),
        "rtol": float(rtol),
        "check_rtol": float(check_rtol),
        "check_times": [float(v) for v in check_times],
        "check_points": check_points,
        "grid": {str(d): grid[d] for d in dims},
        "steps": {str(d): steps[d] for d in dims},
    }
    out = _io.check_writable(out)
    if out.exists() and not force:
        old = _existing_config(out)
        if old != config:
            what = "without its .json record" if old is None else f"with another configuration ({old})"
            raise ValueError(
                f"out {str(out)!r} holds a result written {what}; "
                "choose another --out, or pass force=True (--force) to replace it"
            )
    partial = _io.partial_path(out)
    old_config, done_rows, sessions = _io.read_partial(partial) if resume else (None, [], [])
    if old_config is not None and old_config != config:
        raise ValueError(
            f"{partial} holds rows for another configuration ({old_config}); "
            "remove it or run with resume=False (--fresh)"
        )
    if not resume and partial.exists():
        partial.unlink()
    if old_config is None:
        _io.append_record(partial, {"config": config})
    done = {(r["d"], r["seed"]): r for r in done_rows}
    wanted = [(d, s) for d in dims for s in range(seed0, seed0 + densities)]
    todo = [(d, s, kwargs_for[d]) for d, s in wanted if (d, s) not in done]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(wanted), initial=len(wanted) - len(todo), desc="Table 1 densities", unit="density")
    session = {"start": time.time(), "backend": backend, "jobs": jobs, "rows": 0, "load_start": list(os.getloadavg())}
    try:
        if todo:
            rows_in = _map_local(todo, jobs) if backend == "local" else _map_dask(todo, jobs, scheduler)
            for row in rows_in:
                _io.append_record(partial, {"row": row})
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
            _io.append_record(partial, {"session": session})
            sessions.append(session)
    rows = [done[key] for key in wanted]
    meta = {
        "command": command,
        "config": config,
        "dims": dims,
        "densities": densities,
        "seed0": seed0,
        "sessions": sessions,
        "wall_total": sum(s["end"] - s["start"] for s in sessions),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "summary": {str(d): v for d, v in summarise(rows).items()},
    }
    _io.atomic_write(out, _csv_text(rows))
    _io.atomic_write(out.with_suffix(".json"), json.dumps(meta, indent=1, default=_io.json_default) + "\n")
    partial.unlink()
    return rows


# =========================================================================== reading and summaries

_INT_COLS = {"d", "seed", "rank", "n_grid", "samples", "ode_calls", "build_attempts", "stopped", "check_unscored"}
_STR_COLS = {"family", "kind", "solver", "status"}


def read_rows(path) -> list[dict]:
    """The rows of a result CSV written by :func:`run_table`, with numbers parsed (empty -> NaN)."""
    rows = []
    with open(path, newline="") as fh:
        for rec in csv.DictReader(fh):
            row = {}
            for k, v in rec.items():
                if k in _STR_COLS:
                    row[k] = v
                elif k == "K":
                    row[k] = int(v) if v != "" else None
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
    finite values still enter the statistics. ``rows_stopped``: rows with at least one
    stopped sample; ``stopped_max``: the most samples stopped in one row (0 for files
    written before the column existed).
    """
    out = {}
    for d in sorted({r["d"] for r in rows}):
        rs = [r for r in rows if r["d"] == d]
        eps = [r["eps_rel"] for r in rs]
        s = {
            "n": len(rs),
            "failed": sum(r["status"] != "ok" for r in rs),
            "eps_max": _stat(eps, np.max),
            "eps_median": _stat(eps, np.median),
            "eps_q90": _stat(eps, lambda v: np.quantile(v, 0.9)),
            "eps_min": _stat(eps, np.min),
            "abs_eps_max": _stat([abs(e) if e is not None else None for e in eps], np.max),
            "rows_stopped": sum(int(r.get("stopped") or 0) > 0 for r in rs),
            "stopped_max": max(int(r.get("stopped") or 0) for r in rs),
        }
        for col in ("p0_error", "solver_error", "score_error", "mass_error", "negative_mass", "ode_error"):
            s[f"{col}_max"] = _stat([r[col] for r in rs], np.max)
        for col in STAGES + ["wall", "cpu"]:
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
    lines = [
        "| d | densities | paper: max ε_rel | max ε_rel | median ε_rel | 90 % quantile | max \\|ε_rel\\| |",
        "|---|---|---|---|---|---|---|",
    ]
    for d, s in summ.items():
        lines.append(
            f"| {d} | {s['n']} | {_sci(paper.get(d))} | {_sci(s['eps_max'])} | {_sci(s['eps_median'])} "
            f"| {_sci(s['eps_q90'])} | {_sci(s['abs_eps_max'])} |"
        )
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
    p = argparse.ArgumentParser(
        prog="python -m ddpm_ot_lib.table1", description="Synthetic experiments of §3.4: regenerate Table 1."
    )
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("run", help="run the random densities and write the result file")
    t.add_argument("--out", required=True, help="result CSV (its .json and .partial go beside it)")
    t.add_argument("--dims", type=int, nargs="+", default=[2, 3, 7], help="dimensions (default: 2 3 7)")
    t.add_argument("--densities", type=int, default=100, help="random densities per dimension (default 100)")
    t.add_argument("--samples", type=int, default=1000, help="samples per density, >= 2 (default 1000)")
    t.add_argument(
        "--family", choices=list(FAMILIES), default="paper", help="family of random densities (default: paper)"
    )
    t.add_argument(
        "--solver",
        choices=["exact", "splitting"],
        default="exact",
        help="Fokker-Planck solver: exact OU propagator (default) or the paper's splitting",
    )
    t.add_argument("--seed0", type=int, default=0, help="seeds seed0 .. seed0 + densities - 1 (default 0)")
    t.add_argument("--jobs", type=int, default=2, help="densities run in parallel (default 2)")
    t.add_argument(
        "--backend",
        choices=list(BACKENDS),
        default="local",
        help="local: joblib processes (default); dask: a dask.distributed cluster",
    )
    t.add_argument(
        "--scheduler",
        default=None,
        help="dask scheduler address (backend dask; default: a LocalCluster of --jobs workers)",
    )
    t.add_argument(
        "--grid",
        type=int,
        nargs="+",
        default=None,
        help="Chebyshev nodes per axis, one value or one per d (default: the paper's 250 100 50)",
    )
    t.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=None,
        help="splitting time steps on [0, 5], one or one per d (default: the paper's 250 100 50)",
    )
    t.add_argument("--t-max", type=float, default=5.0, help="final time of the flow (default 5, the paper's)")
    t.add_argument("--rtol", type=float, default=1e-10, help="ODE tolerance of the encoder (default 1e-10)")
    t.add_argument(
        "--check-rtol",
        type=float,
        default=1e-9,
        help="tolerance of the second, looser ODE run that measures the ODE error (default 1e-9)",
    )
    t.add_argument(
        "--check-times",
        type=float,
        nargs="+",
        default=[0.0, 0.1, 1.0, 5.0],
        help="times at which the solver is checked against the reference",
    )
    t.add_argument("--check-points", type=int, default=100, help="points per check time (default 100)")
    t.add_argument("--fresh", action="store_true", help="ignore and discard a partial run of the same output")
    t.add_argument("--force", action="store_true", help="replace an existing result written with another configuration")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = sub.add_parser("summary", help="print Table 1 and the per-stage times from a result file")
    s.add_argument("path", help="a result CSV written by 'run'")
    return p


def _print_summary(rows):
    print(table1_markdown(rows))
    print()
    summ = summarise(rows)
    print(
        "| d | failed | median wall [s] | total wall [s] | median CPU [s] | "
        + " | ".join(f"median {c[2:]} [s]" for c in STAGES)
        + " | max p0 error | max solver error | max score error | max mass error | max ODE error"
        " | max negative mass |"
    )
    print("|" + "---|" * (5 + len(STAGES) + 6))
    for d, s in summ.items():
        print(
            f"| {d} | {s['failed']} | {s['wall_median']:.2f} | {s['wall_total']:.0f} | {s['cpu_median']:.2f} | "
            + " | ".join(f"{s[c + '_median']:.3f}" for c in STAGES)
            + f" | {_sci(s['p0_error_max'])} | {_sci(s['solver_error_max'])} | {_sci(s['score_error_max'])}"
            f" | {_sci(s['mass_error_max'])}"
            f" | {_sci(s['ode_error_max'])} | {_sci(s['negative_mass_max'])} |"
        )


def main(argv=None) -> int:
    """Command-line entry point (``python -m ddpm_ot_lib.table1``)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "summary":
        _print_summary(read_rows(args.path))
        return 0
    dims = args.dims
    command = "python -m ddpm_ot_lib.table1 " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        rows = run_table(
            args.out,
            dims=dims,
            densities=args.densities,
            samples=args.samples,
            solver=args.solver,
            family=args.family,
            seed0=args.seed0,
            jobs=args.jobs,
            grid=_per_dim(parser, args.grid, dims, "grid"),
            steps=_per_dim(parser, args.steps, dims, "steps"),
            t_max=args.t_max,
            rtol=args.rtol,
            check_rtol=args.check_rtol,
            check_times=args.check_times,
            check_points=args.check_points,
            resume=not args.fresh,
            force=args.force,
            backend=args.backend,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            command=command,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_summary(rows)
    print(f"\nwrote {args.out} and {Path(args.out).with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    # run the importable module's main, so that the workers can unpickle its functions
    from ddpm_ot_lib.table1 import main as _main

    sys.exit(_main())
