"""Benchmark of the Fokker-Planck solvers of §3.4 / App. C at the paper's settings.

For d = 2 (N = 250, M = 250), d = 3 (N = 100, M = 100) and d = 7 (N = 50, M = 50), on
[-8, 8]^d and t in [0, 5] with M uniform steps, starting from the random density of
Eq. (14) (d = 2, 3) or Eq. (15) (d = 7) with seed 0 (--family: the book's smooth
family by default, the one book/fokker_planck_tt.ipynb uses; "paper" for the laws of the
paper's code), it times

* the splitting solver (ddpm_ot_lib.fokker_planck.solve_splitting, the paper's scheme),
* the exact OU propagator (solve_exact) at the same M + 1 times,
* fpcross 0.5.5 (the paper's solver; EquationOUP with the diffusion coefficient set to 1,
  since its default 0.5 has the stationary law N(0, I/2), not the N(0, I) of Eq. 8),

and reports each one's error against the exact propagator (relative Frobenius norm on the
grid, the largest over the M time steps), and, for d = 2, the error of the exact
propagator against the dense quadrature ground truth (references.ou_reference).
Times are medians over --repeats runs; the ratios are computed inside each run and
their median reported. Single-threaded BLAS (OMP_NUM_THREADS=1) unless set otherwise.

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fokker_planck.py [--repeats 3] [--dims 2 3 7]
        [--out book/data/fokker_planck_benchmark.json]

The JSON is written atomically (temporary file + rename); the chapter
book/fokker_planck_tt.ipynb reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import teneva  # noqa: E402

from ddpm_ot_lib import _io, references  # noqa: E402
from ddpm_ot_lib import chebyshev as ch  # noqa: E402
from ddpm_ot_lib import densities  # noqa: E402
from ddpm_ot_lib import fokker_planck as fp  # noqa: E402

T_FINAL = 5.0
TOL = 1e-8  # cross / rounding accuracy, the same for our splitting solver and fpcross
SEED = 0


def run_splitting(dens, M):
    times = np.linspace(0.0, T_FINAL, M + 1)
    t0 = time.perf_counter()
    sol = fp.solve_splitting(
        fp.ornstein_uhlenbeck(dens.d), dens.tt, dens.grid, times, h=T_FINAL / M, tol=TOL, rank_max=40, nswp=4, dr_max=1
    )
    return time.perf_counter() - t0, sol


def run_exact(dens, M):
    times = np.linspace(0.0, T_FINAL, M + 1)
    fp.clear_caches()  # count the eigendecomposition in every run
    t0 = time.perf_counter()
    sol = fp.solve_exact(dens.tt, dens.grid, times)
    return time.perf_counter() - t0, sol


def run_fpcross(dens, M):
    import fpcross

    class Equation(fpcross.EquationOUP):
        def r0(self, X):  # our initial density (the formula; fpcross normalises it)
            return dens(X)

    eq = Equation(d=dens.d, e=TOL)
    eq.set_coef(1.0)  # Eq. (8): diffusion coefficient 1 (fpcross's default is 0.5)
    eq.set_grid(n=dens.grid.n, a=dens.grid.a, b=dens.grid.b)
    eq.set_grid_time(m=M, t=T_FINAL)
    eq.init()
    eq.with_rs = False  # no stationary-solution check inside the timed run
    solver = fpcross.FPCross(eq, with_log=False, with_y_list=True)
    t0 = time.perf_counter()
    solver.solve()
    return time.perf_counter() - t0, solver


def errors_against(exact, tensors):
    """Relative grid errors at t_1 .. t_M (the stored tensors after each step)."""
    return np.array([ch.tt_relative_error(Y, Ye) for Y, Ye in zip(tensors, exact.tensors[1:])])


def ground_truth_error(exact, dens, times):
    g = dens.grid
    out = []
    for t in times:
        k = int(np.argmin(np.abs(exact.times - t)))
        ref = references.ou_reference(dens, float(exact.times[k]), axes=(g.nodes, g.nodes))
        out.append(float(np.linalg.norm(ch.tt_full(exact.tensors[k]) - ref) / np.linalg.norm(ref)))
    return out


def bench(d, repeats, with_fpcross=True, family="smooth"):
    N, M = densities.PAPER_SETTINGS[d]
    dens = densities.random_density(d, SEED, family=family)
    rows = {
        "d": d,
        "N": N,
        "M": M,
        "tol": TOL,
        "density": {"family": family, "kind": dens.kind, "seed": SEED, "ranks": dens.ranks, "error": dens.error},
    }
    t_split, t_exact, t_fpc, r_exact, r_split = [], [], [], [], []
    for rep in range(repeats):
        te, exact = run_exact(dens, M)
        ts, split = run_splitting(dens, M)
        t_exact.append(te)
        t_split.append(ts)
        if with_fpcross:
            tf, solver = run_fpcross(dens, M)
            t_fpc.append(tf)
            r_exact.append(tf / te)
            r_split.append(ts / tf)
        print(
            f"  d={d} run {rep + 1}/{repeats}: exact {te:.3g} s, splitting {ts:.3g} s"
            + (f", fpcross {tf:.3g} s" if with_fpcross else ""),
            flush=True,
        )
    e_split = errors_against(exact, split.tensors[1:])
    rows["exact"] = {"time_s": float(np.median(t_exact)), "times_s": t_exact, "ranks": max(max(r) for r in exact.ranks)}
    rows["splitting"] = {
        "time_s": float(np.median(t_split)),
        "times_s": t_split,
        "error_max": float(e_split.max()),
        "error_final": float(e_split[-1]),
        "rank_max_reached": int(max(split.info["ranks"])),
        "ranks_over_time": [int(r) for r in split.info["ranks"]],
    }
    if with_fpcross:
        e_fpc = errors_against(exact, solver.Y_list)
        rows["fpcross"] = {
            "time_s": float(np.median(t_fpc)),
            "times_s": t_fpc,
            "error_max": float(e_fpc.max()),
            "error_final": float(e_fpc[-1]),
            "rank_max_reached": int(max(max(teneva.ranks(Y)) for Y in solver.Y_list)),
        }
        rows["ratio_fpcross_over_exact"] = float(np.median(r_exact))
        rows["ratio_splitting_over_fpcross"] = float(np.median(r_split))
    if d == 2:
        gt_times = [0.02, 0.5, 1.0, 2.0, 5.0]
        errors = ground_truth_error(exact, dens, gt_times)
        rows["exact"]["error_vs_ground_truth"] = dict(zip(map(str, gt_times), errors))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 3, 7])
    ap.add_argument("--no-fpcross", action="store_true")
    ap.add_argument(
        "--family",
        choices=list(densities.FAMILIES),
        default="smooth",
        help="family of the random densities (default: smooth, the one the chapter uses)",
    )
    ap.add_argument("--out", default=os.path.join("book", "data", "fokker_planck_benchmark.json"))
    args = ap.parse_args(argv)
    load_start = list(os.getloadavg())
    print(f"load average at the start: {load_start}", flush=True)
    results = []
    for d in args.dims:
        results.append(bench(d, args.repeats, not args.no_fpcross, args.family))
    print()
    print(
        f"{'d':>2} {'N':>4} {'M':>4} | {'splitting s':>11} {'err':>8} | {'exact s':>8} | "
        f"{'fpcross s':>9} {'err':>8} | {'fpc/exact':>9} {'split/fpc':>9}"
    )
    for r in results:
        fpc = r.get("fpcross")
        print(
            f"{r['d']:>2} {r['N']:>4} {r['M']:>4} | {r['splitting']['time_s']:>11.3g} "
            f"{r['splitting']['error_max']:>8.2g} | {r['exact']['time_s']:>8.3g} | "
            + (
                f"{fpc['time_s']:>9.3g} {fpc['error_max']:>8.2g} | {r['ratio_fpcross_over_exact']:>9.3g} "
                f"{r['ratio_splitting_over_fpcross']:>9.3g}"
                if fpc
                else "       -- | --"
            )
        )
    for r in results:
        if "error_vs_ground_truth" in r["exact"]:
            print(
                f"exact propagator vs dense ground truth, d = {r['d']}: "
                + ", ".join(f"t={k}: {v:.2g}" for k, v in r["exact"]["error_vs_ground_truth"].items())
            )
    payload = {
        "command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fokker_planck.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "repeats": args.repeats,
        "t_final": T_FINAL,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "teneva": teneva.__version__,
            "load_average_start": load_start,
            "load_average_end": list(os.getloadavg()),
        },
        "results": results,
    }
    _io.atomic_write(args.out, json.dumps(payload, indent=1, default=_io.json_default))
    print(f"load average at the end: {payload['machine']['load_average_end']}")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
