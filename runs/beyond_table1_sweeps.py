"""Heavy sweeps of the beyond-Table-1 chapter (book/beyond_table1.ipynb).

    .venv/bin/python runs/beyond_table1_sweeps.py --out book/data --force   # all, ~15 min, one core
    .venv/bin/python runs/beyond_table1_sweeps.py --out book/data --force --only ls

(``--only`` takes one or more of: calibration convergence table ls finite_t.)

Writes OUT/beyond_table1_<sweep>.json, each atomically (``ddpm_ot_lib._io.atomic_write``),
so that a chapter never reads a half-written file, and refuses to replace an existing one
unless ``--force`` (before any work). The committed files record the command that wrote
them (``command``; they were written when this script lived in scripts/). Every
number the chapter quotes from a sweep comes from these files; the chapter names this
command beside them and re-runs a reduced version live.

Checks measured on each data law (ddpm_ot_lib.counterexamples.TestBed), all at the
same samples / quadrature nodes:
  eps_rel         Table 1's relative cost error (transport.relative_cost_error)
  asymmetry       ||DE - DE^T||_F / ||DE||_F per sample point, DE from the variational
                  equation (flow.encode_with_jacobian); median, 90th percentile, max
  min_eig         smallest eigenvalue of the symmetric part of DE over the samples
  ot_distance     relative L2(mu_n) distance from E to the exact OT map, where known
  projection      relative L2(mu) distance from E to the nearest gradient field
                  (transport.gradient_projection; Gauss-Legendre quadrature x p_0,
                  Chebyshev potential of degree K), a lower bound on the distance to
                  the OT map once converged in K
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ddpm_ot_lib import counterexamples as cx
from ddpm_ot_lib import _io, flow, transport

COMMAND = "python runs/beyond_table1_sweeps.py"
THETAS = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.3]


def floats(a):
    return [float(v) for v in np.ravel(a)]


def quadrature(bed, ng):
    """Gauss-Legendre nodes of bed.box times p_0 (counterexamples.bed_quadrature)."""
    return cx.bed_quadrature(bed, ng)


def asym_stats(J):
    a = transport.jacobian_asymmetry(J)
    return {
        "asym_median": float(np.median(a)),
        "asym_p90": float(np.percentile(a, 90)),
        "asym_max": float(a.max()),
        "min_eig": float(transport.symmetric_part_min_eigenvalue(J).min()),
    }


def measure(
    bed, n=1000, seed=1, rtol=1e-10, t_max=20.0, ng=96, degrees=(16, 24, 32), basis="tensor", with_projection=True
):
    """Every check on one bed; returns a dict of floats (and lists)."""
    start = time.perf_counter()
    x = bed.sample(n, seed)
    z, J = flow.encode_with_jacobian(x, bed.score, bed.hessian, t_max=t_max, rtol=rtol)
    out = {
        "name": bed.name,
        "kind": bed.kind,
        "d": bed.d,
        "n": n,
        "rtol": rtol,
        "t_max": t_max,
        "eps_rel": transport.relative_cost_error(x, z),
        **asym_stats(J),
        "pairing_cost": transport.pairing_cost(x, z),
    }
    if bed.ot_map is not None:
        ref = bed.ot_map(x)
        out["ot_distance"] = transport.map_distance(z, ref)
        out["ot_distance_mean_removed"] = transport.map_distance(z - bed.mean * np.exp(-t_max), ref)
    if with_projection:
        nodes, w = quadrature(bed, ng)
        zq = flow.encode(nodes, bed.score, t_max=t_max, rtol=rtol)
        proj = [transport.gradient_projection(nodes, zq, w, bed.box, k, basis=basis) for k in degrees]
        if bed.ot_map is not None:  # the true distance, on the same quadrature and with r's normalisation
            gap = zq - bed.mean * np.exp(-t_max) - bed.ot_map(nodes)
            out["ot_distance_quadrature"] = float(
                np.sqrt((w * (gap**2).sum(axis=1)).sum() / (w * (zq**2).sum(axis=1)).sum())
            )
        out.update(
            {
                "projection_degrees": list(degrees),
                "projection": [p["residual"] for p in proj],
                "projection_min_hessian_eig": proj[-1]["min_hessian_eig"],
                "quadrature_nodes": int(len(w)),
                "quadrature_mass": float(w.sum()),
                "projection_basis": basis,
                "ng": ng,
                "projection_n_basis": [p["n_basis"] for p in proj],
            }
        )
    out["wall_time"] = time.perf_counter() - start
    return out


# =========================================================================== sweeps


def sweep_calibration(bar):
    """Rotation controls R_theta o E on an exactly-OT law (separable) and on a mixture."""
    result = {"thetas": THETAS, "beds": {}}
    for bed in [cx.separable_bed(), cx.mixture_bed(2, 0)]:
        bar.set_description(f"calibration: {bed.name}")
        x = bed.sample(2000, 1)
        z, J = flow.encode_with_jacobian(x, bed.score, bed.hessian, t_max=20.0, rtol=1e-10)
        nodes, w = quadrature(bed, 96)
        zq = flow.encode(nodes, bed.score, t_max=20.0, rtol=1e-10)
        thetas = [0.0] + THETAS
        rec = {"eps_rel": {}, "asym_median": [], "projection": [], "ot_distance": []}
        for n in (250, 1000, 2000):
            rec["eps_rel"][str(n)] = [
                transport.relative_cost_error(x[:n], transport.rotation_control(z[:n], th)) for th in thetas
            ]
            bar.update(1)
        for th in thetas:
            zr, Jr = transport.rotation_control(z, th, J=J)
            rec["asym_median"].append(float(np.median(transport.jacobian_asymmetry(Jr))))
            if bed.ot_map is not None:
                rec["ot_distance"].append(transport.map_distance(zr - bed.mean * np.exp(-20.0), bed.ot_map(x)))
        proj = transport.gradient_projection(
            nodes, np.stack([transport.rotation_control(zq, th) for th in thetas]), w, bed.box, 32
        )
        rec["projection"] = floats(proj["residual"])
        rec["projection_degree"] = 32
        bar.update(1)
        result["beds"][bed.name] = {"exactly_ot": bed.exactly_ot, **rec}
    return result


def sweep_convergence(bar):
    """The mixture's asymmetry under the ODE tolerance, the final time T and the TT grid N."""
    bed = cx.mixture_bed(2, 0)
    rows = []
    for rtol in (1e-8, 1e-10, 5e-11, 1e-12):
        bar.set_description(f"convergence: rtol {rtol:g}")
        rows.append({"vary": "rtol", **measure(bed, n=500, rtol=rtol, ng=80, degrees=(24,))})
        bar.update(1)
    for t_max in (5.0, 10.0, 20.0, 40.0):
        bar.set_description(f"convergence: T {t_max:g}")
        rows.append({"vary": "T", **measure(bed, n=500, t_max=t_max, ng=80, degrees=(24,))})
        bar.update(1)
    # the same mixture through the tensor-train route: p_0 on a Chebyshev grid of N nodes
    w, m, c = bed.info["weights"], bed.info["means"], bed.info["covs"]
    x = bed.sample(500, 1)
    z_exact = flow.encode(x, bed.score, t_max=20.0, rtol=1e-10)
    from ddpm_ot_lib import gaussian

    for n_grid in (32, 64, 128, 256):
        bar.set_description(f"convergence: TT N {n_grid}")
        try:
            tt_bed = cx.tt_bed(
                f"mixture d=2 (TT, N={n_grid})",
                lambda y: np.exp(gaussian.mixture_log_density(y, 0.0, w, m, c)),
                2,
                (-8.0, 8.0),
                n_grid,
                bed.sample,
                None,
                False,
                bed.mean,
                1e-12,
                60,
                {},
            )
            row = {
                "vary": "N",
                "n_grid": n_grid,
                "tt_ranks": tt_bed.info["tt_ranks"],
                **measure(tt_bed, n=500, with_projection=False),
            }
            z = flow.encode(x, tt_bed.score, t_max=20.0, rtol=1e-10)
            row["encoder_error_vs_closed_form"] = transport.map_distance(z, z_exact)
        except (ValueError, RuntimeError) as exc:  # an under-resolved grid: record why
            row = {"vary": "N", "n_grid": n_grid, "failed": str(exc)}
        rows.append(row)
        bar.update(1)
    return {"bed": bed.name, "rows": rows}


def sweep_table(bar):
    """Every check on every test bed."""
    beds = [cx.gaussian_bed(), cx.separable_bed(), cx.radial_bed(2), cx.radial_bed(3)]
    beds += [cx.mixture_bed(2, s) for s in range(5)] + [cx.mixture_bed(3, s) for s in range(3)]
    beds += [cx.random_density_bed(2, 0), cx.lavenant_santambrogio_bed(0.1, n_grid=128)]
    labels = [
        f"{b.name}, seed {b.info['seed']}"
        if b.name.startswith("mixture")
        else f"{b.name} d={b.d}"
        if b.name == "radial"
        else b.name
        for b in beds
    ]
    rows = []
    for bed, label in zip(beds, labels):
        bar.set_description(f"table: {bed.name}")
        if bed.d == 2:
            n = 500 if bed.kind == "tensor train" else 1000
            rows.append(measure(bed, n=n, ng=96 if bed.kind == "closed form" else 128, degrees=(16, 24, 32)))
        else:
            rows.append(measure(bed, n=1000, ng=36, degrees=(8, 12, 16), basis="total"))
        rows[-1]["label"] = label
        bar.update(1)
    return {"rows": rows}


def sweep_ls(bar):
    """The Lavenant-Santambrogio density for several eps (TT, N = 256), and N = 128 at the largest eps.

    N = 256 is needed for the quadrature nodes down to p_0 = 1e-6 max p_0 near eps_max (on
    N = 128 the TT density turns negative on some of their trajectories); the samples
    alone are resolved on N = 128, which the last row checks.
    """
    rows = []
    for eps, n_grid, with_projection in [
        (0.025, 256, True),
        (0.05, 256, True),
        (0.1, 256, True),
        (0.15, 256, True),
        (0.2, 256, True),
        (0.2, 128, False),
    ]:
        bar.set_description(f"ls: eps {eps:g}, N {n_grid}")
        bed = cx.lavenant_santambrogio_bed(eps, n_grid=n_grid)
        row = {
            "eps": eps,
            "n_grid": n_grid,
            "tt_ranks": bed.info["tt_ranks"],
            "eps_max": bed.info["eps_max"],
            **measure(bed, n=500, ng=128, degrees=(16, 24, 32), with_projection=with_projection),
        }
        x = bed.sample(500, 1)
        z5 = flow.encode(x, bed.score, t_max=5.0, rtol=1e-10)
        row["ot_distance_T5"] = transport.map_distance(z5, bed.ot_map(x))
        rows.append(row)
        bar.update(1)
    return {"width": 1.0, "rows": rows}


def sweep_finite_t(bar):
    """The paper's final time T = 5 against T = 20 and 40: how much of a gap the mean offset mean e^{-T} explains."""
    rows = []
    for bed in [cx.gaussian_bed(), cx.mixture_bed(2, 0), cx.lavenant_santambrogio_bed(0.1, n_grid=128)]:
        bar.set_description(f"finite T: {bed.name}")
        x = bed.sample(500, 1)
        ts = [2.0, 3.0, 5.0, 10.0, 20.0, 40.0]
        zs, Js = flow.encode_with_jacobian(x, bed.score, bed.hessian, t_max=40.0, rtol=1e-11, t_eval=ts)
        ref = bed.ot_map(x) if bed.ot_map is not None else zs[-1]
        for k, t in enumerate(ts):
            rows.append(
                {
                    "name": bed.name,
                    "T": t,
                    "reference": "exact OT map" if bed.ot_map is not None else "E at T = 40",
                    "distance": transport.map_distance(zs[k], ref),
                    "distance_mean_removed": transport.map_distance(zs[k] - bed.mean * np.exp(-t), ref),
                    "mean_offset": float(np.linalg.norm(bed.mean) * np.exp(-t) / np.sqrt((ref**2).sum(axis=1).mean())),
                    "eps_rel": transport.relative_cost_error(x, zs[k]),
                    **asym_stats(Js[k]),
                }
            )
        bar.update(1)
    return {"rows": rows}


SWEEPS = {
    "calibration": (sweep_calibration, 8),
    "convergence": (sweep_convergence, 12),
    "table": (sweep_table, 14),
    "ls": (sweep_ls, 6),
    "finite_t": (sweep_finite_t, 3),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(SWEEPS), help="run only these sweeps")
    parser.add_argument("--out", type=Path, required=True, help="output folder (the book's: book/data)")
    parser.add_argument("--force", action="store_true", help="replace existing result files")
    args = parser.parse_args(argv)
    names = args.only or list(SWEEPS)
    paths = {name: _io.check_writable(args.out / f"beyond_table1_{name}.json") for name in names}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not args.force:
        parser.error(f"--out already holds {', '.join(existing)}; pass --force to replace")
    import scipy

    for name in names:
        func, steps = SWEEPS[name]
        start = time.perf_counter()
        with tqdm(total=steps, desc=name, file=sys.stderr) as bar:
            payload = func(bar)
        payload.update(
            {
                "sweep": name,
                "command": f"{COMMAND} --only {name}",
                "wall_time_s": time.perf_counter() - start,
                "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
            }
        )
        text = json.dumps(payload, indent=1, sort_keys=True) + "\n"
        _io.atomic_write(paths[name], text)
        print(f"wrote {paths[name]} ({payload['wall_time_s']:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
