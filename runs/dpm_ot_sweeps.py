"""The sweeps of the chapter book/dpm_ot.ipynb: every sampler against the NFE, one file.

    .venv/bin/python runs/dpm_ot_sweeps.py                  # everything (--jobs 2: ~20 min, loaded)
    .venv/bin/python runs/dpm_ot_sweeps.py --only 8gaussians --quick --out /tmp/x   # a smoke test

Two scales, the same protocol:

* 2-D mixtures ("8gaussians", "25gaussians" of ddpm_ot_lib.datasets.MIXTURES): a DDPM
  (ddpm_ot_lib.diffusion.EpsMLP) trained on a fixed training set of 1000 points and stored
  in book/data/dpm_ot_ddpm_<name>.pt (reused when the file's recipe matches; --retrain
  forces training). Quality: exact W2 to a reference sample of the true law, mode
  mixture (farther than 3 sigma from every mode), mode coverage.
* 8x8 digits: a DDPM trained here (book/data/dpm_ot_ddpm_digits.pt; longer than the image
  chapter's ddpm_digits.pt, which is left alone). Quality: a logistic-regression
  classifier on the training split measures mode mixture (largest class probability
  < 0.5); sliced W2 to the 540 held-out images.

For every NFE in NFES, every method of ddpm_ot_lib.expressway.METHODS: DDPM, DDIM and
DPM-Solver++(2M) from N(0, I); DPM-OT with M = NFE (SDOT from N(0, I) to the training
points diffused to step M, ddpm_ot_lib.semidiscrete.solve_sdot, then M DDIM or ancestral
steps); DPM-OT with the released code's singular-point removal (topk = 2); and two
controls: a uniformly random target (same law as DPM-OT by construction) and the Voronoi
target (no OT solve; can fail). Memorisation (ddpm_ot_lib.metrics.memorisation) against
a fresh sample of the data law. Also: the base models' quality at 1000 NFE beside the
data's, the SDOT's cell masses re-measured on 10^7 fresh prior points at M = 10, the
quantisation term W2(N diffused points, p_M) against N, and later landings at 10 NFE.

Fewer repetitions than before, to fit ~25 minutes on the loaded 2-core machine: NFE 200
and 500 are left out, 3 W2 noise-floor repetitions (was 5), 3 landing steps (was 6),
1000 samples per measurement in 2-D (was 2000: the W2 noise floor is larger), the
quantisation term on 8 Gaussians only, and above 50 NFE only DPM-OT (+ DDIM) of the
target methods is run; for digits the target methods run at 10 and 100 NFE only, with
one landing step, reusing the sweep file's SDOT solves of the same targets.

Everything is seeded; one torch thread. Results go to <out>/dpm_ot_sweeps.json, written
atomically (ddpm_ot_lib._io.atomic_write). --jobs 2 runs the three
experiments in parallel processes (joblib).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ddpm_ot_lib import datasets, diffusion, metrics, semidiscrete
from ddpm_ot_lib._io import atomic_write
from ddpm_ot_lib import expressway as ex

ROOT = Path(__file__).resolve().parents[1]
NFES = [1, 2, 5, 10, 20, 50, 100, 1000]
METHODS = list(ex.METHODS)
LANDINGS = [9, 99, 999]  # t_land for DPM-OT with 10 DDIM steps
TARGET_METHODS = ("dpm-ot", "dpm-ot-ddpm", "dpm-ot-singular", "uniform-target", "voronoi-target")
MAX_NFE_CONTROLS = 50  # above it only DPM-OT itself (time)
# digits: the SDOT solve (N = 1257 points in 64-D) takes minutes on the loaded machine,
# so the target methods run at 10 and 100 NFE only, with one landing step, and the solve
# is reused from the sweep file when it holds the same solve (see cached_solve)
TARGET_NFES = {"digits": [10, 100]}
LANDINGS_OF = {"digits": [9]}
ARCH_2D = dict(hidden=256, depth=3, emb=64, T=1000, beta_start=1e-4, beta_end=0.02)
ARCH_DIGITS = dict(hidden=256, depth=3, emb=64, T=1000, beta_start=1e-4, beta_end=0.02)
TRAIN_2D = dict(batch_size=256, lr=1e-3, ema=0.999)
TRAIN_DIGITS = dict(batch_size=128, lr=1e-3, ema=0.999)
# Training until the 1000-NFE quality is near the data's own: after 8000 steps the
# 25-mode model left 40 % of its samples between modes at 1000 NFE, after 24000 steps
# 3-5 %; the image chapter's digits model (4000 steps) left 22 % unclassified (data: 5 %).
STEPS = {"8gaussians": 8000, "25gaussians": 24000, "digits": 16000}
N_TRAIN_2D = 1000
SEEDS = {"8gaussians": 11, "25gaussians": 12, "digits": 13}  # model, data, z (torch) and SDOT seeds
TARGET_SEED = 500  # + SEEDS[kind]: the noises of the diffused targets
SDOT = dict(tol=0.3, batch=4096, max_iter=8000)
N_FRESH = 1_000_000  # fresh prior sample that re-measures the cell masses
N_FRESH_10 = 10_000_000  # ... and at M = 10, ten times more
QUANT_N = [125, 250, 500, 1000]  # N for the quantisation term
N_SAMPLES_2D = 1000  # samples per measurement in 2-D (was 2000)
JSON_NAME = "dpm_ot_sweeps.json"


def _r(v, digits=4):
    """Round floats for the JSON (3-4 significant digits are all the chapter prints)."""
    if isinstance(v, dict):
        return {k: _r(x, digits) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_r(x, digits) for x in v]
    if isinstance(v, (float, np.floating)):
        return float(f"{float(v):.{digits}g}")
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return _r(v.tolist(), digits)
    return v


# --------------------------------------------------------------------------- models
def _train_or_load(path: Path, recipe: dict, arch: dict, data: torch.Tensor, retrain: bool, progress: bool):
    """The DDPM of ``recipe`` at ``path``: reused when the file's recipe matches, else trained."""
    if path.exists() and not retrain:
        model, meta = diffusion.load_model(path, return_metadata=True)
        if meta.get("recipe") == recipe:
            return model, meta
    seed = recipe.get("seed", recipe.get("data_seed"))
    model = diffusion.EpsMLP(data.shape[1], seed=seed, **arch)
    start = time.perf_counter()
    losses = diffusion.train(
        model,
        data,
        recipe.get("steps_done", recipe["steps"]),
        batch_size=recipe["batch_size"],
        lr=recipe["lr"],
        ema=recipe["ema"],
        seed=seed,
        progress=progress,
        desc=path.stem,
    )
    meta = dict(
        recipe=recipe,
        seconds=round(time.perf_counter() - start, 1),
        load_average=[round(v, 2) for v in os.getloadavg()],
        final_loss=float(losses[-200:].mean()),
        parameters=sum(p.numel() for p in model.parameters()),
        checksum=diffusion.state_checksum(model),
        torch=str(torch.__version__),
    )
    diffusion.save_model(model, path, metadata=meta)
    return diffusion.load_model(path, return_metadata=True)  # float16-rounded, as the chapter sees it


def training_set(kind: str) -> torch.Tensor:
    """The fixed training set of ``kind``: 1000 points of a 2-D mixture, or the digits' training split."""
    if kind == "digits":
        return datasets.digits("train")[0]
    return torch.tensor(datasets.sample_mixture(kind, N_TRAIN_2D, seed=SEEDS[kind])[0], dtype=torch.float32)


def load_or_train(kind: str, out: Path, retrain: bool, progress: bool, quick: bool = False):
    """(model, training set, metadata) of ``kind``; the file is book/data/dpm_ot_ddpm_<kind>.pt."""
    steps = 200 if quick else STEPS[kind]
    if kind == "digits":
        arch = ARCH_DIGITS
        recipe = dict(data=kind, n_train=1257, seed=SEEDS[kind], steps=steps, **TRAIN_DIGITS, arch=arch)
    else:  # the recipe format of the committed 2-D files (so that they are reused)
        arch = ARCH_2D
        recipe = dict(
            data=kind, n_train=N_TRAIN_2D, data_seed=SEEDS[kind], steps=STEPS[kind], **TRAIN_2D, steps_done=steps
        )
    x_train = training_set(kind)
    model, meta = _train_or_load(out / f"dpm_ot_ddpm_{kind}.pt", recipe, arch, x_train, retrain, progress)
    return model, x_train, dict(meta, file=f"book/data/dpm_ot_ddpm_{kind}.pt")


# --------------------------------------------------------------------------- one experiment
def solve(y, seed, n_fresh=N_FRESH):
    res = semidiscrete.solve_sdot(y, seed=seed, **SDOT)
    fresh = semidiscrete.cell_masses(y, res.heights, n=n_fresh, seed=seed + 100)
    info = dict(
        N=int(y.shape[0]),
        error_check=res.error,
        floor_check=res.floor,
        converged=bool(res.converged),
        iterations=res.iterations,
        seconds=res.seconds,
        error_fresh=semidiscrete.mass_error(fresh),
        floor_fresh=semidiscrete.mass_error_floor(y.shape[0], n_fresh),
        n_fresh=n_fresh,
        tv_fresh=float(0.5 * np.abs(fresh - 1.0 / y.shape[0]).sum()),
    )
    return res, info


def cached_solve(old: dict | None, y, seed, M: int):
    """A solve stored in ``old`` (the sweep file's entry of this kind) for the same targets
    and settings, or None. solve_sdot is seeded, so a stored solve of the same targets is
    the solve this run would do; the stored row is returned with ``cached=True``."""
    if not old or str(M) not in old.get("heights_M", {}) or old.get("target_seed") != seed + TARGET_SEED:
        return None
    row = next((r for r in old.get("sdot", []) if r["M"] == M), None)
    if row is None or row["N"] != y.shape[0] or not row["converged"]:
        return None
    heights = np.asarray(old["heights_M"][str(M)])
    return heights, {k: v for k, v in row.items() if k not in ("M", "t_land")} | {"cached": True}


def quantisation(kind: str, seed: int) -> list:
    """W2(N training points diffused to step 10, p_10) against N, beside two fresh samples."""
    sched = diffusion.linear_schedule(1000)
    rows = []
    for N in QUANT_N:
        y = [
            ex.diffused_targets(
                datasets.sample_mixture(kind, N, seed=seed + 7000 + 10 * N + i)[0],
                9,
                sched,
                seed=seed + 8000 + 10 * N + i,
            )
            for i in range(3)
        ]
        rows.append(dict(N=N, w2=metrics.w2(y[0], y[1]), w2_repeat=metrics.w2(y[0], y[2])))
    return rows


def run(kind: str, out: Path, quick: bool, retrain: bool, progress: bool) -> dict:
    torch.set_num_threads(1)
    path = out / JSON_NAME
    old = json.loads(path.read_text()).get(kind) if path.exists() and not quick else None
    start = time.perf_counter()
    seed = SEEDS[kind]
    nfes = [1, 10, 100] if quick else NFES
    landings = [9, 99] if quick else LANDINGS_OF.get(kind, LANDINGS)
    target_nfes = TARGET_NFES.get(kind, nfes)
    model, x_train, meta = load_or_train(kind, out, retrain, progress, quick)
    if kind == "digits":
        x_ref, _ = datasets.digits("test")
        fresh = x_ref
        n = 1000
        clf, acc = metrics.digit_classifier()

        def measure(x):
            cs = metrics.class_stats(clf, x)
            return dict(
                sw2=metrics.sliced_w2(x, x_ref, seed=seed),
                mixture=cs["mixture"],
                coverage=cs["coverage"],
                n=int(x.shape[0]),
                **metrics.memorisation(x, x_train, fresh),
            )

        ref = dict(
            classifier="LogisticRegression(C=0.1) on the training split",
            test_accuracy=acc,
            test=measure(x_ref),
            train=measure(x_train),
            sw2_floor_train_vs_test=metrics.sliced_w2(x_train, x_ref, seed=seed),
        )
    else:
        means, sigma = datasets.mixture(kind)
        n = N_SAMPLES_2D
        x_ref = datasets.sample_mixture(kind, n, seed=seed + 1000)[0]
        fresh = datasets.sample_mixture(kind, 2 * n, seed=seed + 4000)[0]

        def measure(x):
            ms = metrics.mode_stats(x, means, sigma)
            return dict(
                w2=metrics.w2(x, x_ref[: x.shape[0]]),
                mixture=ms["mixture"],
                coverage=ms["coverage"],
                n=int(x.shape[0]),
                **metrics.memorisation(x, x_train, fresh),
            )

        floors = [metrics.w2(datasets.sample_mixture(kind, n, seed=seed + 2000 + i)[0], x_ref) for i in range(3)]
        ref = dict(
            w2_floor_mean=float(np.mean(floors)),
            w2_floor_sd=float(np.std(floors, ddof=1)),
            true=measure(datasets.sample_mixture(kind, n, seed=seed + 3000)[0]),
            train=measure(x_train[:n]),
        )
    schedule = model.schedule
    curves = {m: [] for m in METHODS}
    sdot_rows, heights, solved = [], {}, {}
    from tqdm.auto import tqdm

    for nfe in tqdm(nfes, desc=kind, disable=not progress):
        for method in ("ddpm", "ddim", "dpm-solver++") if nfe <= 100 else ("ddpm", "ddim"):
            t0 = time.perf_counter()
            x, info = ex.generate(model, method, nfe, n, seed=seed)
            curves[method].append(dict(nfe=info["nfe"], seconds=time.perf_counter() - t0, **measure(x)))
        if nfe not in target_nfes:
            continue
        y = ex.diffused_targets(x_train, nfe - 1, schedule, seed=seed + TARGET_SEED)
        hit = cached_solve(old, y, seed, nfe) if kind in TARGET_NFES else None
        if hit is not None:
            res, info_ot = semidiscrete.SDOTResult(y.numpy(), hit[0], None, None, None, True, 0, 0.0, None), hit[1]
        else:
            res, info_ot = solve(y, seed, N_FRESH_10 if nfe == 10 else N_FRESH)
        solved[nfe - 1] = (y, res, info_ot)
        sdot_rows.append(dict(M=nfe, t_land=nfe - 1, **info_ot))
        if nfe in (10, 100):
            heights[str(nfe)] = res.heights.tolist()
        for method in TARGET_METHODS if nfe <= MAX_NFE_CONTROLS else ("dpm-ot",):
            t0 = time.perf_counter()
            x, info = ex.generate(model, method, nfe, n, seed=seed, targets=y, heights=res.heights)
            curves[method].append(
                dict(
                    nfe=info["nfe"],
                    seconds=time.perf_counter() - t0,
                    **measure(x),
                    duplicate_share=metrics.duplicate_share(info["index"]),
                    distinct_targets=int(np.unique(info["index"]).size),
                )
            )
    landing_rows = []
    for t_land in landings:
        if t_land in solved:
            y, res, info_ot = solved[t_land]
        else:
            y = ex.diffused_targets(x_train, t_land, schedule, seed=seed + TARGET_SEED)
            res, info_ot = solve(y, seed)
        x, info = ex.generate(model, "dpm-ot", 10, n, seed=seed, targets=y, heights=res.heights, t_land=t_land)
        landing_rows.append(
            dict(
                t_land=t_land,
                nfe=info["nfe"],
                sdot_seconds=info_ot["seconds"],
                sdot_error_fresh=info_ot["error_fresh"],
                **measure(x),
                duplicate_share=metrics.duplicate_share(info["index"]),
            )
        )
    quant = quantisation(kind, seed) if kind == "8gaussians" and not quick else []
    return dict(
        kind=kind,
        n_samples=n,
        n_train=int(x_train.shape[0]),
        seed=seed,
        target_seed=seed + TARGET_SEED,
        model=meta,
        reference=ref,
        curves=curves,
        sdot=sdot_rows,
        landing=landing_rows,
        quantisation=quant,
        heights_M=heights,
        seconds=time.perf_counter() - start,
        load_average=[round(v, 2) for v in os.getloadavg()],
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only",
        nargs="*",
        default=["8gaussians", "25gaussians", "digits"],
        choices=["8gaussians", "25gaussians", "digits"],
    )
    parser.add_argument("--out", type=Path, default=ROOT / "book" / "data")
    parser.add_argument("--quick", action="store_true", help="few NFE values, short training (smoke test)")
    parser.add_argument("--retrain", action="store_true", help="retrain the models even if their files exist")
    parser.add_argument("--jobs", type=int, default=1, help="experiments run in parallel (joblib)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    start = time.perf_counter()
    if args.jobs > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=args.jobs)(
            delayed(run)(k, args.out, args.quick, args.retrain, False) for k in args.only
        )
    else:
        results = [run(k, args.out, args.quick, args.retrain, True) for k in args.only]
    path = args.out / JSON_NAME
    table = json.loads(path.read_text()) if path.exists() and not args.quick else {}
    for res in results:
        table[res["kind"]] = _r(res) | {"heights_M": res["heights_M"]}  # heights at full precision
    table["meta"] = dict(
        command="python runs/dpm_ot_sweeps.py",
        last_run=dict(only=args.only, quick=args.quick, retrain=args.retrain, jobs=args.jobs),
        nfes=NFES,
        methods=METHODS,
        max_nfe_controls=MAX_NFE_CONTROLS,
        target_nfes=TARGET_NFES,
        landings_of=LANDINGS_OF,
        sdot=SDOT,
        n_fresh=N_FRESH,
        n_fresh_10=N_FRESH_10,
        arch_2d=ARCH_2D,
        arch_digits=ARCH_DIGITS,
        train_2d=TRAIN_2D,
        train_digits=TRAIN_DIGITS,
        steps=STEPS,
        landings=LANDINGS,
        quant_n=QUANT_N,
        torch=str(torch.__version__),
        machine=platform.machine(),
        threads=1,
        load_average=[round(v, 2) for v in os.getloadavg()],
        seconds=round(time.perf_counter() - start, 1),
    )
    atomic_write(path, json.dumps(dict(sorted(table.items())), indent=1) + "\n")
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
