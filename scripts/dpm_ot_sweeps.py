"""The sweeps of the chapter book/dpm_ot.ipynb: DDPM, DDIM and DPM-OT against the NFE.

    .venv/bin/python scripts/dpm_ot_sweeps.py                  # everything (about an hour on one core)
    .venv/bin/python scripts/dpm_ot_sweeps.py --only 8gaussians --quick --out /tmp/x   # a smoke test

Two scales, the same protocol:

* 2-D mixtures ("8gaussians", "25gaussians" of ddpm_ot_lib.dpm_ot.MIXTURES): a DDPM
  (ddpm_ot_lib.diffusion.EpsMLP) is trained here on a fixed training set of 1000 points
  and written to book/data/dpm_ot_ddpm_<name>.pt (float16 weights, atomically); an
  existing file with the same recipe is reused (--retrain forces training). Quality is
  measured exactly: W2 to a reference sample of the true law (POT's ot.emd2), the mode-
  mixture rate (farther than 3 sigma from every mode) and the mode coverage.
* 8x8 digits: the image chapter's model book/data/ddpm_digits.pt (all ten digits,
  written by scripts/train_image_models.py). If it is missing, a model with the same
  recipe is trained here and written to book/data/dpm_ot_ddpm_digits.pt instead.
  Quality: a logistic-regression classifier trained on the training split measures mode
  mixture (largest class probability < 0.5); sliced W2 to the 540 held-out images.

For every NFE in NFES: DDPM ancestral and DDIM from N(0, I); DPM-OT with M = NFE (the
semi-discrete OT map from N(0, I) to the N training points diffused to step M, solved
by ddpm_ot_lib.dpm_ot.solve_sdot, then M DDIM steps, or M ancestral steps); and the
control "uniform-target" (a uniformly random target instead of the OT map). Diversity:
the median distance of a sample to its nearest training point, and for the target
methods the share of duplicated targets. The OT solve is timed separately. At 10 NFE,
DPM-OT is also run with a later landing step (t_land > M - 1).

Everything is seeded; one torch thread. Results go to <out>/dpm_ot_sweeps.json, written
to a temporary file and moved into place (os.replace). --jobs 2 runs the three
experiments in parallel processes (joblib).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ddpm_ot_lib import diffusion, dpm_ot, images  # noqa: E402

NFES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
METHODS = ["ddpm", "ddim", "dpm-ot", "dpm-ot-ddpm", "uniform-target"]
LANDINGS = [9, 49, 99, 199, 499, 999]          # t_land for DPM-OT with 10 DDIM steps
ARCH_2D = dict(hidden=256, depth=3, emb=64, T=1000, beta_start=1e-4, beta_end=0.02)
TRAIN_2D = dict(batch_size=256, lr=1e-3, ema=0.999)
# The 25-mode grid needs longer training: after 8000 steps its model still left 40 % of
# the samples between modes at 1000 NFE (DDPM and DDIM alike); after 24000 steps, 3-6 %.
STEPS_2D = {"8gaussians": 8000, "25gaussians": 24000}
N_TRAIN_2D = 1000
SEEDS = {"8gaussians": 11, "25gaussians": 12, "digits": 13}   # model, data, z (torch) and SDOT seeds
TARGET_SEED = 500                              # + SEEDS[kind]: the noises of the diffused targets
SDOT = dict(tol=0.3, batch=4096, max_iter=8000)
N_FRESH = 1_000_000                            # fresh prior sample that re-measures the cell masses
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


def atomic_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- models
def model_2d(name: str, out: Path, retrain: bool, steps: int, progress: bool):
    """The 2-D DDPM of mixture ``name`` and its training set (reused from disk if the recipe matches)."""
    seed = SEEDS[name]
    x_train = torch.tensor(dpm_ot.sample_mixture(name, N_TRAIN_2D, seed=seed)[0], dtype=torch.float32)
    path = out / f"dpm_ot_ddpm_{name}.pt"
    recipe = dict(data=name, n_train=N_TRAIN_2D, data_seed=seed, steps=STEPS_2D[name], **TRAIN_2D, steps_done=steps)
    if path.exists() and not retrain:
        model, meta = diffusion.load_model(path, return_metadata=True)
        if meta.get("recipe") == recipe:
            return model, x_train, meta
    model = diffusion.EpsMLP(2, seed=seed, **ARCH_2D)
    start = time.perf_counter()
    losses = diffusion.train(model, x_train, steps, seed=seed, progress=progress, desc=f"train {name}", **TRAIN_2D)
    meta = dict(recipe=recipe, seconds=round(time.perf_counter() - start, 1),
                final_loss=float(losses[-200:].mean()), parameters=sum(p.numel() for p in model.parameters()),
                checksum=diffusion.state_checksum(model), torch=str(torch.__version__))
    diffusion.save_model(model, path, metadata=meta)
    model, meta = diffusion.load_model(path, return_metadata=True)     # float16-rounded, as the chapter sees it
    return model, x_train, meta


def model_digits(out: Path, progress: bool):
    """The image chapter's all-digits DDPM, or (if absent) one trained here with the same recipe."""
    path = ROOT / "book" / "data" / "ddpm_digits.pt"
    if path.exists():
        model, meta = diffusion.load_model(path, return_metadata=True)
        return model, dict(meta, file="book/data/ddpm_digits.pt")
    x, _ = images.digits("train")
    model = diffusion.EpsMLP(64, hidden=256, depth=3, emb=64, seed=3)
    diffusion.train(model, x, 4000, batch_size=128, lr=1e-3, ema=0.999, seed=3, progress=progress, desc="digits")
    own = out / "dpm_ot_ddpm_digits.pt"
    diffusion.save_model(model, own, metadata=dict(note="trained by scripts/dpm_ot_sweeps.py"))
    model, meta = diffusion.load_model(own, return_metadata=True)
    return model, dict(meta, file=f"book/data/{own.name}")


# --------------------------------------------------------------------------- one experiment
def solve(y, seed):
    res = dpm_ot.solve_sdot(y, seed=seed, **SDOT)
    fresh = dpm_ot.cell_masses(y, res.heights, n=N_FRESH, seed=seed + 100)
    info = dict(N=int(y.shape[0]), error_check=res.error, floor_check=res.floor, converged=bool(res.converged),
                iterations=res.iterations, seconds=res.seconds, error_fresh=dpm_ot.mass_error(fresh),
                floor_fresh=dpm_ot.mass_error_floor(y.shape[0], N_FRESH),
                tv_fresh=float(0.5 * np.abs(fresh - 1.0 / y.shape[0]).sum()))
    return res, info


def run(kind: str, out: Path, quick: bool, retrain: bool, progress: bool) -> dict:
    torch.set_num_threads(1)
    start = time.perf_counter()
    seed = SEEDS[kind]
    nfes = [1, 10, 100] if quick else NFES
    landings = [9, 99] if quick else LANDINGS
    if kind == "digits":
        model, meta = model_digits(out, progress)
        x_train, _ = images.digits("train")
        x_ref, _ = images.digits("test")
        n = 1000
        clf, acc = dpm_ot.digit_classifier()

        def measure(x):
            cs = dpm_ot.class_stats(clf, x)
            return dict(sw2=dpm_ot.sliced_w2(x, x_ref, seed=seed), mixture=cs["mixture"], coverage=cs["coverage"],
                        nn_median=float(np.median(dpm_ot.nearest_distance(x, x_train))))

        ref = dict(classifier="LogisticRegression(C=0.1) on the training split", test_accuracy=acc,
                   test=measure(x_ref), train=measure(x_train),
                   sw2_floor_train_vs_test=dpm_ot.sliced_w2(x_train, x_ref, seed=seed))
    else:
        model, x_train, meta = model_2d(kind, out, retrain, 2000 if quick else STEPS_2D[kind], progress)
        means, sigma = dpm_ot.mixture(kind)
        n = 2000
        x_ref = dpm_ot.sample_mixture(kind, n, seed=seed + 1000)[0]

        def measure(x):
            ms = dpm_ot.mode_stats(x, means, sigma)
            return dict(w2=dpm_ot.w2(x, x_ref), mixture=ms["mixture"], coverage=ms["coverage"],
                        nn_median=float(np.median(dpm_ot.nearest_distance(x, x_train))))

        floors = [dpm_ot.w2(dpm_ot.sample_mixture(kind, n, seed=seed + 2000 + i)[0], x_ref) for i in range(5)]
        fresh_true = dpm_ot.sample_mixture(kind, n, seed=seed + 3000)[0]
        ref = dict(w2_floor_mean=float(np.mean(floors)), w2_floor_sd=float(np.std(floors, ddof=1)),
                   true=measure(fresh_true), train=measure(x_train))
    schedule = model.schedule
    curves = {m: [] for m in METHODS}
    sdot_rows, heights = [], {}
    from tqdm.auto import tqdm

    for nfe in tqdm(nfes, desc=kind, disable=not progress):
        for method in ("ddpm", "ddim"):
            start = time.perf_counter()
            x, info = dpm_ot.generate(model, method, nfe, n, seed=seed)
            row = dict(nfe=info["nfe"], seconds=time.perf_counter() - start, **measure(x))
            curves[method].append(row)
        y = dpm_ot.diffused_targets(x_train, nfe - 1, schedule, seed=seed + TARGET_SEED)
        res, info_ot = solve(y, seed)
        sdot_rows.append(dict(M=nfe, t_land=nfe - 1, **info_ot))
        if nfe in (10, 100):
            heights[str(nfe)] = res.heights.tolist()
        for method in ("dpm-ot", "dpm-ot-ddpm", "uniform-target"):
            start = time.perf_counter()
            x, info = dpm_ot.generate(model, method, nfe, n, seed=seed, targets=y, heights=res.heights)
            row = dict(nfe=info["nfe"], seconds=time.perf_counter() - start, **measure(x),
                       duplicate_share=dpm_ot.duplicate_share(info["index"]),
                       distinct_targets=int(np.unique(info["index"]).size))
            curves[method].append(row)
    landing_rows = []
    for t_land in landings:
        y = dpm_ot.diffused_targets(x_train, t_land, schedule, seed=seed + TARGET_SEED)
        res, info_ot = solve(y, seed)
        x, info = dpm_ot.generate(model, "dpm-ot", 10, n, seed=seed, targets=y, heights=res.heights, t_land=t_land)
        landing_rows.append(dict(t_land=t_land, nfe=info["nfe"], sdot_seconds=info_ot["seconds"],
                                 sdot_error_fresh=info_ot["error_fresh"], **measure(x),
                                 duplicate_share=dpm_ot.duplicate_share(info["index"])))
    return dict(kind=kind, n_samples=n, n_train=int(x_train.shape[0]), seed=seed, target_seed=seed + TARGET_SEED,
                model=meta, reference=ref,
                curves=curves, sdot=sdot_rows, landing=landing_rows, heights_M=heights,
                seconds=time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=["8gaussians", "25gaussians", "digits"],
                        choices=["8gaussians", "25gaussians", "digits"])
    parser.add_argument("--out", type=Path, default=ROOT / "book" / "data")
    parser.add_argument("--quick", action="store_true", help="few NFE values, short training (smoke test)")
    parser.add_argument("--retrain", action="store_true", help="retrain the 2-D models even if their files exist")
    parser.add_argument("--jobs", type=int, default=1, help="experiments run in parallel (joblib)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    start = time.perf_counter()
    if args.jobs > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=args.jobs)(delayed(run)(k, args.out, args.quick, args.retrain, False)
                                             for k in args.only)
    else:
        results = [run(k, args.out, args.quick, args.retrain, True) for k in args.only]
    path = args.out / JSON_NAME
    table = json.loads(path.read_text()) if path.exists() and not args.quick else {}
    for res in results:
        table[res["kind"]] = _r(res) | {"heights_M": res["heights_M"]}     # heights at full precision
    table["meta"] = dict(command="python scripts/dpm_ot_sweeps.py",
                         last_run=dict(only=args.only, quick=args.quick, retrain=args.retrain, jobs=args.jobs),
                         nfes=NFES, methods=METHODS, sdot=SDOT, n_fresh=N_FRESH, arch_2d=ARCH_2D, train_2d=TRAIN_2D, steps_2d=STEPS_2D,
                         torch=str(torch.__version__), machine=platform.machine(), threads=1,
                         seconds=round(time.perf_counter() - start, 1))
    atomic_json(path, dict(sorted(table.items())))
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
