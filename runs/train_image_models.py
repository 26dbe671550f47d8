"""Train every model of the chapter book/image_latents.ipynb on one CPU thread.

    .venv/bin/python runs/train_image_models.py                 # all ten models
    .venv/bin/python runs/train_image_models.py --only digits04 --steps 300 --out /tmp/x

Models (ddpm_ot_lib.diffusion.EpsMLP, residual MLPs on flattened images, unless said):
  digits04, digits59  scikit-learn digits 0-4 / 5-9, training split (the paper's
                      AFHQ cat / dog / wild models: same latents, different data)
  digits              all ten digits, training split (its encoder is the one put
                      to the OT check on the 540 held-out digits)
  china, flower       8x8 RGB patches of the two photographs inside the
                      scikit-learn wheel (the paper's FFHQ / MetFaces pair)
  digits_seed         as digits, other seeds (two training runs of one architecture)
  digits_conv         all ten digits, diffusion.EpsConv (another architecture)
  digits_cond         all ten digits, class-conditional EpsMLP (the paper's
                      conditional ImageNet model of Fig. 5)
  digits04to59        digits04 fine-tuned on digits 5-9 (as MetFaces was fine-tuned
                      from the FFHQ checkpoint); needs <out>/ddpm_digits04.pt
  cvae_digits         a conditional VAE (ddpm_ot_lib.cvae), the non-diffusion
                      generator of the sanity check (the paper's BigGAN)

Each DDPM is written to <out>/ddpm_<name>.pt, the VAE to <out>/<name>.pt (float16 weights, config and
metadata; written to a temporary file and moved into place) and its metadata
(steps, seed, seconds, final loss, checksum of the weights) is merged into
<out>/ddpm_image_models.json. Every random draw is seeded; with one torch thread a
rerun on the same machine reproduces the weights bit for bit (compare checksums).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from ddpm_ot_lib import cvae, datasets, diffusion
from ddpm_ot_lib._io import atomic_write

ROOT = Path(__file__).resolve().parents[1]

ARCH = dict(hidden=256, depth=3, emb=64, T=1000, beta_start=1e-4, beta_end=0.02)
OPTIM = dict(batch_size=128, lr=1e-3, ema=0.999)
MODELS = {
    "digits04": dict(data="digits", groups=[0, 1, 2, 3, 4], steps=4000, seed=1),
    "digits59": dict(data="digits", groups=[5, 6, 7, 8, 9], steps=4000, seed=2),
    "digits": dict(data="digits", groups=None, steps=4000, seed=3),
    "china": dict(data="patches", image="china", steps=5000, seed=4),
    "flower": dict(data="patches", image="flower", steps=5000, seed=5),
    "digits_seed": dict(data="digits", groups=None, steps=4000, seed=6),
    "digits_conv": dict(data="digits", groups=None, steps=2500, seed=7, kind="conv"),
    "digits_cond": dict(data="digits", groups=None, steps=4000, seed=8, kind="cond"),
    "digits04to59": dict(
        data="digits", groups=[5, 6, 7, 8, 9], steps=1500, seed=9, kind="finetune", base="digits04", lr=3e-4
    ),
    "cvae_digits": dict(data="digits", groups=None, steps=4000, seed=10, kind="cvae"),
}
CONV = dict(shape=(8, 8, 1), channels=16, depth=2, emb=64, T=1000, beta_start=1e-4, beta_end=0.02)
CVAE = dict(latent=16, classes=10, hidden=256, sigma=0.2)
JSON_NAME = "ddpm_image_models.json"


def training_data(spec: dict):
    """The training split a model of MODELS is trained on: (x (n, d) float32 in [-1, 1], labels or None)."""
    if spec["data"] == "digits":
        return datasets.digits("train", groups=spec["groups"])
    return datasets.colour_patches(spec["image"], "train"), None


def model_path(out: Path, name: str) -> Path:
    return out / (f"{name}.pt" if MODELS[name].get("kind") == "cvae" else f"ddpm_{name}.pt")


def build_and_train(spec: dict, x, y, out: Path, steps: int, progress: bool, name: str):
    """The model of ``spec``, trained; returns (model, losses, optimiser settings)."""
    kind, seed = spec.get("kind", "mlp"), spec["seed"]
    optim = dict(OPTIM, lr=spec.get("lr", OPTIM["lr"]))
    if kind == "cvae":
        model = cvae.CVAE(x.shape[1], seed=seed, **CVAE)
        optim = dict(batch_size=OPTIM["batch_size"], lr=optim["lr"])
        return model, cvae.train_cvae(model, x, y, steps, seed=seed, **optim), optim
    if kind == "finetune":
        model = diffusion.load_model(model_path(out, spec["base"]))
    elif kind == "conv":
        model = diffusion.EpsConv(seed=seed, **CONV)
    else:
        model = diffusion.EpsMLP(x.shape[1], seed=seed, classes=10 if kind == "cond" else 0, **ARCH)
    labels = y if kind == "cond" else None
    losses = diffusion.train(model, x, steps, seed=seed, progress=progress, desc=name, labels=labels, **optim)
    return model, losses, optim


def train_one(name: str, out: Path, steps: int | None = None, progress: bool = True) -> dict:
    spec = MODELS[name]
    steps = spec["steps"] if steps is None else steps
    x, y = training_data(spec)
    start = time.perf_counter()
    model, losses, optim = build_and_train(spec, x, y, out, steps, progress, name)
    seconds = time.perf_counter() - start
    meta = dict(
        name=name,
        data=spec["data"],
        groups=spec.get("groups"),
        image=spec.get("image"),
        kind=spec.get("kind", "mlp"),
        base=spec.get("base"),
        class_name=type(model).__name__,
        n_train=int(x.shape[0]),
        dim=int(x.shape[1]),
        steps=int(steps),
        seed=spec["seed"],
        **optim,
        seconds=round(seconds, 1),
        final_loss=float(losses[-200:].mean()),
        parameters=sum(p.numel() for p in model.parameters()),
        torch=str(torch.__version__),
        threads=torch.get_num_threads(),
        machine=platform.machine(),
        load_average=round(os.getloadavg()[0], 2),
        checksum=diffusion.state_checksum(model),
    )
    diffusion.save_model(model, model_path(out, name), metadata=meta)
    return meta


def write_json(out: Path, metas: list[dict]) -> None:
    path = out / JSON_NAME
    table = json.loads(path.read_text()) if path.exists() else {}
    table.update({m["name"]: m for m in metas})
    atomic_write(path, json.dumps(dict(sorted(table.items())), indent=1) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(MODELS), help="train only these models")
    parser.add_argument("--steps", type=int, help="override the number of training steps (for tests)")
    parser.add_argument("--out", type=Path, default=ROOT / "book" / "data", help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    metas = []
    total = time.perf_counter()
    for name in args.only or list(MODELS):
        meta = train_one(name, args.out, steps=args.steps, progress=not args.no_progress)
        metas.append(meta)
        write_json(args.out, metas)
        print(
            f"{name:9s} {meta['n_train']:5d} images, {meta['steps']} steps, {meta['seconds']:6.1f} s, "
            f"loss {meta['final_loss']:.4f} -> {model_path(args.out, name)}",
            flush=True,
        )
    print(f"total {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main()
