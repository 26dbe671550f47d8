"""Benchmark of one Table 1 row (§3.4) at the paper's settings, stage by stage.

For each dimension (d = 2, 3, 7 by default: N = 250, 100, 50 Chebyshev nodes on [-8, 8]^d,
1000 samples, flow to t = 5) it runs ddpm_ot_lib.table1.run_density for a few seeds,
one after the other on one core (OMP_NUM_THREADS=1), and prints the median time of each
stage — building p0 (TT-cross), the exact solver, sampling, the flow (both tolerances),
exact OT, the independent solver check — so the bottleneck is visible, together with the
number of score calls, the time per score call, and the largest errors.

With --paper-pipeline it also runs, in the same process and on the same densities and
samples, the paper's pipeline as App. C and ``paper_code/fpdimod.py`` describe it: the
splitting solver with the paper's M time steps on [0, 5] (250, 100, 50), then fixed-step
RK4 at step 2h on the flow (``flow.encode_rk4``; m/2 - 1 steps, ending at 5 - 2h, as the
code's loop does), dividing by p + 1e-15 as the code does. It prints both pipelines' wall
time, their ratio, the splitting solver's density error against the exact propagator at
the samples (t = 0.1, 0.3), and the paper pipeline's code error against the exact one's
(relative max over the samples the exact pipeline did not stop).

With --tolerance-study it also measures, for one density per d, the real error of the
encoder at several tolerances against a run at 1e-12, beside the two estimates one can
compute from a pair of runs (halving the tolerance, or a run ten times looser).

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/table1.py [--dims 2 3 7] [--seeds 3]
        [--paper-pipeline] [--tolerance-study] [--out book/data/table1.benchmark.json]

The paper reports about 100 s per density on a laptop. Timings on a shared machine are
noisy: medians over seeds are reported; the JSON is written atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ddpm_ot_lib import _io, densities, flow, transport  # noqa: E402
from ddpm_ot_lib import fokker_planck as fp  # noqa: E402
from ddpm_ot_lib import table1 as tb  # noqa: E402
from ddpm_ot_lib.table1 import STAGES  # noqa: E402


def stage_table(dims, seeds, samples):
    out = {}
    for d in dims:
        rows = []
        for s in range(seeds):
            row = tb.run_density(d, s, samples=samples)
            rows.append(row)
            print(
                f"  d = {d} seed {s}: {row['wall']:.2f} s, {row['ode_calls']} score calls, {row['status']}", flush=True
            )
        med = {c: float(np.median([r[c] for r in rows])) for c in STAGES + ["wall"]}
        per_call = float(np.median([r["t_flow"] / r["ode_calls"] for r in rows]))
        out[d] = {
            "median": med,
            "score_call_ms": 1e3 * per_call,
            "ode_calls": float(np.median([r["ode_calls"] for r in rows])),
            "max": {
                c: float(np.nanmax([r[c] for r in rows]))
                for c in ("solver_error", "score_error", "ode_error", "p0_error")
            },
            "rows": rows,
        }
    return out


def paper_pipeline(dims, seeds, samples):
    """The exact pipeline (run_density) against the paper's (module docstring), same densities and samples."""
    out = {}
    for d in dims:
        rows = []
        for s in range(seeds):
            row, data = tb.run_density(d, s, samples=samples, return_data=True)
            dens, x, alive = data["density"], data["x"], data["alive"]
            m = densities.PAPER_SETTINGS[d][1]
            h = 5.0 / m
            t0 = time.perf_counter()
            sol = fp.solve_splitting(fp.ornstein_uhlenbeck(d), dens.tt, dens.grid, h * np.arange(m + 1), h=h)
            t_solve, t0 = time.perf_counter() - t0, time.perf_counter()

            def score(y, t, sol=sol):  # the paper's: grad p / (p + 1e-15), no stopping
                val, grad = fp.value_and_gradient(sol, y, t)
                return grad / (val + 1e-15)[:, None]

            with np.errstate(all="ignore"):
                z = flow.encode_rk4(x, score, t_max=(m // 2 - 1) * 2 * h, n_steps=m // 2 - 1)
            t_flow = time.perf_counter() - t0
            ok = alive & np.all(np.isfinite(z), axis=1)
            ref = data["z"]
            dens_err = max(
                float(np.abs(fp.density(sol, x, t) - fp.density(data["solution"], x, t)).max())
                / float(fp.density(data["solution"], x, t).max())
                for t in (0.1, 0.3)
            )
            r = {
                "seed": s,
                "exact_wall": row["wall"],
                "paper_wall": t_solve + t_flow,
                "paper_solve": t_solve,
                "paper_flow": t_flow,
                "ratio": (t_solve + t_flow) / row["wall"],
                "paper_density_error": dens_err,
                "paper_code_error": float(np.abs(z[ok] - ref[ok]).max() / np.abs(ref[ok]).max()),
                "paper_nonfinite": int((~np.all(np.isfinite(z), axis=1)).sum()),
                "paper_eps_rel": float(transport.relative_cost_error(x[ok], z[ok])),
                "exact_solver_error": row["solver_error"],
                "exact_ode_error": row["ode_error"],
                "exact_eps_rel": row["eps_rel"],
            }
            rows.append(r)
            print(
                f"  d = {d} seed {s}: exact {r['exact_wall']:.1f} s, paper {r['paper_wall']:.1f} s "
                f"(x{r['ratio']:.1f}); paper density error {dens_err:.1e}, code error "
                f"{r['paper_code_error']:.1e} ({r['paper_nonfinite']} non-finite)",
                flush=True,
            )
        out[d] = rows
    return out


def tolerance_study(dims, samples, tolerances=(1e-8, 5e-9, 1e-9, 1e-10), ref_tol=1e-12):
    out = {}
    for d in dims:
        _, data = tb.run_density(d, 0, samples=samples, return_data=True, check_times=())
        x, score = data["x"], data["score"]
        t0 = time.perf_counter()
        ref = flow.encode(x, score, t_max=5.0, rtol=ref_tol)
        scale = np.abs(ref).max()
        z = {r: flow.encode(x, score, t_max=5.0, rtol=r) for r in tolerances}
        err = {r: float(np.abs(z[r] - ref).max() / scale) for r in tolerances}
        halving = float(np.abs(z[1e-8] - z[5e-9]).max() / scale)
        tenfold = {
            f"{r:g} vs {r / 10:g}": float(np.abs(z[r] - z[r / 10]).max() / scale) for r in tolerances if r / 10 in z
        }
        out[d] = {
            "error_vs_1e-12": {f"{r:g}": v for r, v in err.items()},
            "halving_1e-8_vs_5e-9": halving,
            "tenfold": tenfold,
            "seconds": time.perf_counter() - t0,
        }
        print(
            f"  d = {d}: true error {out[d]['error_vs_1e-12']}; halving estimate {halving:.2g}; ten-fold {tenfold}",
            flush=True,
        )
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", type=int, nargs="+", default=[2, 3, 7])
    p.add_argument("--seeds", type=int, default=3, help="densities per dimension (seeds 0, 1, ...)")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--tolerance-study", action="store_true")
    p.add_argument("--paper-pipeline", action="store_true", help="also time the paper's pipeline (docstring)")
    p.add_argument("--out", default=None, help="write the results as JSON (atomically)")
    args = p.parse_args()
    print(
        f"stage times, {args.seeds} densities per d, {args.samples} samples, one core; load average {os.getloadavg()}:"
    )
    stages = stage_table(args.dims, args.seeds, args.samples)
    print()
    print(
        "| d | median wall [s] | "
        + " | ".join(f"{c[2:]} [s]" for c in STAGES)
        + " | score calls | ms per call | max solver err | max score err | max ODE err |"
    )
    print("|" + "---|" * (len(STAGES) + 7))
    for d, s in stages.items():
        m = s["median"]
        print(
            f"| {d} | {m['wall']:.2f} | "
            + " | ".join(f"{m[c]:.3f}" for c in STAGES)
            + f" | {s['ode_calls']:.0f} | {s['score_call_ms']:.1f} | {s['max']['solver_error']:.1e}"
            f" | {s['max']['score_error']:.1e} | {s['max']['ode_error']:.1e} |"
        )
    result = {
        "stages": {str(d): v for d, v in stages.items()},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": list(os.getloadavg())},
    }
    print(f"load average at the end: {os.getloadavg()}")
    if args.paper_pipeline:
        print("\nthe paper's pipeline (splitting solver, fixed-step RK4) on the same densities:")
        result["paper_pipeline"] = {str(d): v for d, v in paper_pipeline(args.dims, args.seeds, args.samples).items()}
        for d, rs in result["paper_pipeline"].items():
            med = {k: float(np.median([r[k] for r in rs])) for k in ("exact_wall", "paper_wall", "ratio")}
            print(
                f"| {d} | exact {med['exact_wall']:.1f} s | paper {med['paper_wall']:.1f} s | "
                f"paper / exact x{med['ratio']:.1f} | paper density error "
                f"{max(r['paper_density_error'] for r in rs):.1e} | paper code error "
                f"{max(r['paper_code_error'] for r in rs):.1e} | exact ODE error "
                f"{max(r['exact_ode_error'] for r in rs):.1e} |"
            )
    if args.tolerance_study:
        print("\nODE tolerance study (one density per d):")
        result["tolerance_study"] = {str(d): v for d, v in tolerance_study(args.dims, args.samples).items()}
    if args.out:
        _io.atomic_write(args.out, json.dumps(result, indent=1, default=_io.json_default) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
