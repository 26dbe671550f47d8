"""Tests of ddpm_ot_lib.diffusion: DDIM / DDPM against diffusers' schedulers (an
independent implementation), against the exact noise predictor for Gaussian data,
training, save / load, the training script, and bad input."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ddpm_ot_lib import diffusion as D

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "book" / "data"
T = 1000
MU = np.array([0.8, -1.5, 0.3, 2.0])
S = 0.4


def _diffusers(cls, **kw):
    diffusers = pytest.importorskip("diffusers")
    return getattr(diffusers, cls)(
        num_train_timesteps=T, beta_start=1e-4, beta_end=0.02, beta_schedule="linear", clip_sample=False, **kw
    )


@pytest.fixture(scope="module")
def schedule():
    return D.linear_schedule(T)


@pytest.fixture(scope="module")
def oracle(schedule):
    return D.gaussian_eps(MU, S, schedule)


def test_schedule_matches_diffusers(schedule):
    ref = _diffusers("DDIMScheduler")
    assert torch.allclose(schedule.alpha_bar.float(), ref.alphas_cumprod, rtol=1e-5, atol=1e-7)
    assert schedule.T == T
    assert math.isclose(1.0 / math.sqrt(float(schedule.alpha_bar[-1])), 157, rel_tol=0.01)


@pytest.mark.parametrize("steps", [1, 7, 10, 16, 50, 333, 1000])
def test_timesteps_match_diffusers_trailing(steps):
    ref = _diffusers("DDIMScheduler", timestep_spacing="trailing")
    ref.set_timesteps(steps)
    assert torch.equal(D.ddim_timesteps(T, steps), ref.timesteps.long())


@pytest.mark.parametrize("steps", [10, 50])
def test_ddim_sampling_step_by_step_matches_diffusers(schedule, oracle, steps):
    ref = _diffusers("DDIMScheduler", timestep_spacing="trailing", set_alpha_to_one=True)
    ref.set_timesteps(steps)
    x0 = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    path = D.ddim_sample(oracle, x0.double(), steps, schedule=schedule, return_path=True)
    x = x0.clone()
    for k, t in enumerate(ref.timesteps):
        eps = oracle(x.double(), t).float()
        x = ref.step(eps, t, x, eta=0.0).prev_sample
        assert torch.allclose(path[k + 1].float(), x, rtol=1e-4, atol=1e-4), f"step {k}"


def test_ddim_inversion_step_by_step_matches_diffusers(schedule, oracle):
    steps = 20
    ref = _diffusers("DDIMInverseScheduler", timestep_spacing="trailing", set_alpha_to_one=True)
    ref.set_timesteps(steps)
    x0 = torch.as_tensor(MU + S * np.random.default_rng(1).standard_normal((64, 4)))
    path = D.ddim_invert(oracle, x0, steps, schedule=schedule, return_path=True)
    x, label = x0.float(), 0
    for k, t in enumerate(ref.timesteps):
        eps = oracle(x.double(), label).float()  # our convention: eps at the current state and time
        x = ref.step(eps, t, x).prev_sample
        label = int(t)
        assert torch.allclose(path[k + 1].float(), x, rtol=1e-4, atol=1e-4), f"step {k}"


def test_ddpm_sample_matches_diffusers_ddpm_scheduler(schedule, oracle):
    ref = _diffusers("DDPMScheduler", variance_type="fixed_small")
    ref.set_timesteps(T)
    x_T = torch.randn(16, 4, generator=torch.Generator().manual_seed(2))
    ours = D.ddpm_sample(oracle, x_T, schedule=schedule, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    x = x_T.clone()
    for t in ref.timesteps:
        x = ref.step(oracle(x.double(), t).float(), t, x, generator=g).prev_sample
    assert torch.allclose(ours, x, rtol=1e-3, atol=1e-3)


def test_ddpm_strided_is_ddim_eta_one(schedule, oracle):
    steps = 25
    ref = _diffusers("DDIMScheduler", timestep_spacing="trailing", set_alpha_to_one=True)
    ref.set_timesteps(steps)
    x_T = torch.randn(16, 4, generator=torch.Generator().manual_seed(4))
    ours = D.ddpm_sample(oracle, x_T, steps, schedule=schedule, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    x = x_T.clone()
    for k, t in enumerate(ref.timesteps):
        z = torch.randn(x.shape, generator=g) if k + 1 < steps else torch.zeros_like(x)
        x = ref.step(oracle(x.double(), t).float(), t, x, eta=1.0, variance_noise=z).prev_sample
    assert torch.allclose(ours, x, rtol=1e-4, atol=1e-4)


def _exact_encoder(x, schedule):
    """The DDIM ODE's exact flow map to t = T-1 for N(MU, S^2 I): affine, monotone."""
    a = float(schedule.alpha_bar[-1])
    return math.sqrt(a) * MU + math.sqrt(a * S**2 + 1 - a) * (x - MU) / S


def test_inversion_converges_to_exact_encoder(schedule, oracle):
    x0 = torch.as_tensor(MU + S * np.random.default_rng(6).standard_normal((200, 4)))
    exact = _exact_encoder(x0.numpy(), schedule)
    z = {n: D.ddim_invert(oracle, x0, n, schedule=schedule).numpy() for n in (100, 200, 1000)}
    errs = {n: np.abs(v - exact).max() for n, v in z.items()}
    assert 1.8 < errs[100] / errs[200] < 2.2  # first order in 1/steps (Euler in sigma)
    assert errs[1000] < 0.015
    # the first-order error is all there is: Richardson extrapolation is 70x closer
    assert np.abs(2 * z[200] - z[100] - exact).max() < 1e-3
    # and Theorem 3.1's limit: the code is ~ (x - mu) / s (up to abar_T = 4e-5)
    assert np.abs(z[1000] - (x0.numpy() - MU) / S).max() < 0.03


def test_invert_then_sample_reconstructs(schedule, oracle):
    x0 = torch.as_tensor(MU + S * np.random.default_rng(7).standard_normal((200, 4)))
    errs = {}
    for n in (100, 200, 1000):
        rec = D.ddim_sample(oracle, D.ddim_invert(oracle, x0, n, schedule=schedule), n, schedule=schedule)
        errs[n] = float((rec - x0).abs().max())
    assert 1.8 < errs[100] / errs[200] < 2.2
    assert errs[1000] < 0.012


def test_sampling_gaussian_has_right_moments(schedule, oracle):
    x_T = torch.randn(20000, 4, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    for sampler in (
        lambda: D.ddim_sample(oracle, x_T, 200, schedule=schedule),
        lambda: D.ddpm_sample(oracle, x_T, 200, schedule=schedule, generator=torch.Generator().manual_seed(9)),
    ):
        x = sampler().numpy()
        assert np.abs(x.mean(0) - MU).max() < 0.02
        assert np.abs(x.std(0) - S).max() < 0.02


def test_nfe_equals_steps(schedule, oracle):
    x = torch.zeros(3, 4, dtype=torch.float64)
    for fn in (D.ddim_sample, D.ddim_invert, D.ddpm_sample):
        counter = D.CountingEps(oracle)
        fn(counter, x, 17)
        assert counter.calls == 17


def test_model_shapes_and_initial_output():
    m = D.EpsMLP(6, hidden=16, depth=2, emb=8)
    x = torch.randn(5, 6)
    a = m.schedule.alpha_bar[900].float()
    # zero-initialised output layer: eps = sqrt(1 - abar) x at the start
    assert torch.allclose(m(x, 900), (1 - a).sqrt() * x)
    assert m(x, torch.arange(5)).shape == (5, 6)
    assert m.config["dim"] == 6


def _gauss_data(n=512, d=6):
    return torch.as_tensor(0.5 * np.random.default_rng(0).standard_normal((n, d)) + 0.3, dtype=torch.float32)


def test_training_reduces_loss_and_is_deterministic():
    data = _gauss_data()
    sums = []
    for _ in range(2):
        m = D.EpsMLP(6, hidden=32, depth=1, emb=8, seed=3)
        losses = D.train(m, data, 150, batch_size=64, seed=4)
        sums.append(D.state_checksum(m))
    assert losses[-30:].mean() < losses[:30].mean()
    assert sums[0] == sums[1]
    assert not m.training


def test_save_load_round_trip(tmp_path):
    m = D.EpsMLP(6, hidden=16, depth=1, emb=8, seed=1)
    D.train(m, _gauss_data(), 20, batch_size=32)
    D.save_model(m, tmp_path / "m.pt", metadata={"steps": 20, "note": "x"})
    m2, meta = D.load_model(tmp_path / "m.pt", return_metadata=True)
    assert meta == {"steps": 20, "note": "x"}
    assert m2.config == m.config
    assert D.state_checksum(m2) == D.state_checksum(m)
    x = torch.randn(4, 6)
    assert torch.allclose(m(x, 500), m2(x, 500), atol=2e-3)
    assert not list(tmp_path.glob("*.tmp"))


def test_training_script_retrains_one_model(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "runs" / "train_image_models.py"),
            "--only",
            "digits04",
            "--steps",
            "200",
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / "ddpm_image_models.json").read_text())["digits04"]
    assert meta["steps"] == 200 and meta["n_train"] == 630
    m = D.load_model(tmp_path / "ddpm_digits04.pt")
    assert D.state_checksum(m) == meta["checksum"]
    x = D.ddim_sample(m, torch.randn(8, 64, generator=torch.Generator().manual_seed(0)), 10)
    assert torch.isfinite(x).all() and x.abs().max() < 3


def test_training_script_trains_every_kind(tmp_path):
    names = ["digits04", "digits04to59", "digits_cond", "digits_conv", "cvae_digits"]
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "runs" / "train_image_models.py"),
            "--only",
            *names,
            "--steps",
            "30",
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr
    table = json.loads((tmp_path / "ddpm_image_models.json").read_text())
    assert [table[n]["class_name"] for n in names] == ["EpsMLP", "EpsMLP", "EpsMLP", "EpsConv", "CVAE"]
    assert table["digits04to59"]["base"] == "digits04" and table["digits04to59"]["groups"] == [5, 6, 7, 8, 9]
    for n in names:
        m = D.load_model(tmp_path / (f"{n}.pt" if n.startswith("cvae") else f"ddpm_{n}.pt"))
        assert D.state_checksum(m) == table[n]["checksum"]
    assert D.load_model(tmp_path / "ddpm_digits_cond.pt").config["classes"] == 10


@pytest.mark.parametrize(
    "name",
    [
        "digits04",
        "digits59",
        "digits",
        "china",
        "flower",
        "digits_seed",
        "digits_conv",
        "digits_cond",
        "digits04to59",
        "cvae_digits",
    ],
)
def test_committed_weights_load_and_match_metadata(name):
    table = json.loads((DATA / "ddpm_image_models.json").read_text())
    path = DATA / (f"{name}.pt" if name.startswith("cvae") else f"ddpm_{name}.pt")
    m = D.load_model(path)
    assert D.state_checksum(m) == table[name]["checksum"]
    assert path.stat().st_size < 2_000_000


_X = torch.zeros(3, 4, dtype=torch.float64)
_STEPS = r"^steps must be an integer in 1 \.\. T = 1000, got "

# (call of (schedule, oracle), error, anchored message): one case each
BAD_CALLS = [
    (lambda s, o: D.ddim_sample(o, _X, 0, schedule=s), ValueError, _STEPS + "0$"),
    (lambda s, o: D.ddim_invert(o, _X, T + 1, schedule=s), ValueError, _STEPS + "1001$"),
    (lambda s, o: D.ddim_timesteps(T, 2.5), ValueError, _STEPS + r"2\.5$"),
    (
        lambda s, o: D.ddim_sample(o, torch.zeros(4, dtype=torch.float64), 5, schedule=s),
        ValueError,
        r"^x_T must have shape \(n, d\) with n, d >= 1, got shape \(4,\)$",
    ),
    (
        lambda s, o: D.ddim_invert(o, torch.full((2, 4), float("nan"), dtype=torch.float64), 5, schedule=s),
        ValueError,
        r"^x0 must be finite; it contains NaN or inf$",
    ),
    (
        lambda s, o: D.ddim_sample(o, np.zeros((3, 4)), 5, schedule=s),
        TypeError,
        r"^x_T must be a torch\.Tensor of shape \(n, d\), got ndarray$",
    ),
    (
        lambda s, o: D.ddim_sample("not a model", _X, 5, schedule=s),
        TypeError,
        r"^model must be callable as model\(x, t\), got str$",
    ),
    (
        lambda s, o: D.ddim_sample(lambda x, t: x, _X, 5),
        ValueError,
        r"^schedule is needed: model has no \.schedule attribute$",
    ),
    (
        lambda s, o: D.ddim_sample(o, _X, 5, schedule=(1, 2)),
        TypeError,
        r"^schedule must be a ddpm_ot_lib\.diffusion\.Schedule, got tuple$",
    ),
    (
        lambda s, o: D.ddim_sample(lambda x, t: x[:, :2], _X, 5, schedule=s),
        ValueError,
        r"^model\(x, t\) must return shape \(3, 4\) like x, got \(3, 2\)$",
    ),
    (lambda s, o: D.linear_schedule(0), ValueError, r"^T must be an integer >= 1, got 0$"),
    (lambda s, o: D.linear_schedule(10, 1e-4, 1.5), ValueError, r"^beta_end must be a number in \(0, 1\), got 1\.5$"),
    (lambda s, o: D.gaussian_eps(MU, -1.0, s), ValueError, r"^std must be a finite number > 0, got -1\.0$"),
    (lambda s, o: D.EpsMLP(4, hidden=0), ValueError, r"^hidden must be an integer >= 1, got 0$"),
    (
        lambda s, o: D.train(D.EpsMLP(4, hidden=8, depth=1, emb=4), torch.zeros(10, 5), 5),
        ValueError,
        r"^data must have 4 columns \(the model's dim\), got shape \(10, 5\)$",
    ),
    (
        lambda s, o: D.train(D.EpsMLP(4, hidden=8, depth=1, emb=4), torch.zeros(10, 4), 0),
        ValueError,
        r"^steps must be an integer >= 1, got 0$",
    ),
    (
        lambda s, o: D.load_model("/nonexistent/model.pt"),
        FileNotFoundError,
        r"^no model file at /nonexistent/model\.pt; run `python runs/train_image_models\.py` to create it$",
    ),
]


@pytest.mark.parametrize("call, error, pattern", BAD_CALLS, ids=[p for _, _, p in BAD_CALLS])
def test_bad_input(schedule, oracle, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(schedule, oracle)


# --------------------------------------------------------------------------- conditional, conv
def _conditional(classes=3, d=4):
    """A small class-conditional EpsMLP with a random (non-zero) output layer."""
    m = D.EpsMLP(d, hidden=16, depth=1, emb=8, classes=classes, seed=0)
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        m.out.weight.copy_(0.3 * torch.randn(m.out.weight.shape, generator=g))
        m.label.weight.copy_(2.0 * torch.randn(m.label.weight.shape, generator=g))
    return m.eval()


@pytest.mark.parametrize("label", [0, 2])
def test_conditional_ddim_sampling_step_by_step_matches_diffusers(label):
    steps = 20
    m = _conditional()
    ref = _diffusers("DDIMScheduler", timestep_spacing="trailing", set_alpha_to_one=True)
    ref.set_timesteps(steps)
    x_T = torch.randn(32, 4, generator=torch.Generator().manual_seed(12))
    path = D.ddim_sample(D.Conditioned(m, label), x_T, steps, return_path=True)
    x = x_T.clone()
    y = torch.full((32,), label)
    for k, t in enumerate(ref.timesteps):
        with torch.no_grad():
            eps = m(x, t, y)
        x = ref.step(eps, t, x, eta=0.0).prev_sample
        assert torch.allclose(path[k + 1], x, rtol=1e-4, atol=1e-4), f"step {k}"


def test_conditional_ddim_inversion_step_by_step_matches_diffusers():
    steps = 20
    m = _conditional()
    y = torch.arange(30) % 3  # one label per row
    ref = _diffusers("DDIMInverseScheduler", timestep_spacing="trailing", set_alpha_to_one=True)
    ref.set_timesteps(steps)
    x0 = torch.randn(30, 4, generator=torch.Generator().manual_seed(13))
    path = D.ddim_invert(D.Conditioned(m, y), x0, steps, return_path=True)
    x, t_cur = x0.clone(), 0
    for k, t in enumerate(ref.timesteps):
        with torch.no_grad():
            eps = m(x, t_cur, y)
        x = ref.step(eps, t, x).prev_sample
        t_cur = int(t)
        assert torch.allclose(path[k + 1], x, rtol=1e-4, atol=1e-4), f"step {k}"


def test_conditioned_fixes_the_label():
    m = _conditional()
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(14))
    with torch.no_grad():
        assert torch.equal(D.Conditioned(m, 1)(x, 300), m(x, 300, torch.ones(5, dtype=torch.long)))
        assert not torch.allclose(m(x, 300, 0), m(x, 300, 1))
    assert D.Conditioned(m, 1).schedule is m.schedule
    counter = D.CountingEps(D.Conditioned(m, 0))
    D.ddim_sample(counter, x, 7)
    assert counter.calls == 7


def test_unconditional_model_is_unchanged_by_the_option():
    a, b = D.EpsMLP(6, hidden=16, depth=1, emb=8, seed=5), D.EpsMLP(6, hidden=16, depth=1, emb=8, seed=5, classes=4)
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sb) - set(sa) == {"label.weight"} and "classes" not in a.config
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_conditional_training_is_deterministic_and_round_trips(tmp_path):
    data = _gauss_data()
    labels = np.arange(len(data)) % 2
    sums = []
    for _ in range(2):
        m = D.EpsMLP(6, hidden=32, depth=1, emb=8, seed=3, classes=2)
        D.train(m, data, 40, batch_size=64, seed=4, labels=labels)
        sums.append(D.state_checksum(m))
    assert sums[0] == sums[1]
    D.save_model(m, tmp_path / "c.pt")
    m2 = D.load_model(tmp_path / "c.pt")
    assert m2.config == m.config and m2.config["classes"] == 2
    assert D.state_checksum(m2) == D.state_checksum(m)


def test_conv_model_shapes_initial_output_and_round_trip(tmp_path):
    m = D.EpsConv((4, 4, 3), channels=8, depth=1, emb=8, seed=2)
    x = torch.randn(5, 48, generator=torch.Generator().manual_seed(15))
    a = m.schedule.alpha_bar[700].float()
    assert torch.allclose(m(x, 700), (1 - a).sqrt() * x)  # zero-initialised output
    losses = D.train(
        m, torch.tanh(torch.randn(256, 48, generator=torch.Generator().manual_seed(16))), 60, batch_size=32, seed=1
    )
    assert losses[-15:].mean() < losses[:15].mean()
    D.save_model(m, tmp_path / "conv.pt", metadata={"k": 1})
    m2 = D.load_model(tmp_path / "conv.pt")
    assert isinstance(m2, D.EpsConv) and m2.config == m.config
    assert D.state_checksum(m2) == D.state_checksum(m)
    assert torch.allclose(m(x, 300), m2(x, 300), atol=5e-3)


_X4 = torch.zeros(3, 4)


def _plain():
    return D.EpsMLP(4, hidden=8, depth=1, emb=4)


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda m: D.EpsMLP(4, classes=1), r"^classes must be 0"),
        (lambda m: m(_X4, 10), r"^y \(labels"),
        (lambda m: m(_X4, 10, 3), r"^y must hold n = 3 labels"),
        (lambda m: _plain()(_X4, 10, 0), r"^y must be None"),
        (lambda m: D.Conditioned(_plain(), 0), r"^model must be class-conditional"),
        (lambda m: D.Conditioned(m, 5), r"^y must be a label"),
        (lambda m: D.Conditioned(m, [0, 1])(_X4, 10), r"^x must have one row per label"),
        (lambda m: D.train(m, _X4, 5), r"^labels must be given exactly"),
        (lambda m: D.train(m, _X4, 5, labels=[0, 1]), r"^labels must have shape"),
        (lambda m: D.EpsConv((8, 8)), r"^shape must be three integers"),
        (lambda m: D.EpsConv(channels=12), r"^emb must be even and channels"),
    ],
)
def test_conditional_bad_input(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(_conditional())


def test_save_model_refuses_other_modules():
    with pytest.raises(TypeError, match=r"^model must be one of"):
        D.save_model(torch.nn.Linear(2, 2), "/tmp/never.pt")


# --------------------------------------------------------------------------- DPM-Solver++ (dpm)
@pytest.mark.parametrize("steps", [1, 2, 5, 10, 20])
def test_dpm_solver_pp_matches_diffusers_step_for_step(steps):
    """Every state of D.dpm_solver_pp_sample equals diffusers' DPMSolverMultistepScheduler's."""
    from diffusers import DPMSolverMultistepScheduler

    sched = D.linear_schedule(1000)
    eps = D.gaussian_eps(np.array([0.5, -1.0]), 0.3, sched)
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    path = D.dpm_solver_pp_sample(eps, x, steps, schedule=sched, return_path=True)
    ref = DPMSolverMultistepScheduler(num_train_timesteps=1000, trained_betas=sched.betas.numpy())
    ref.set_timesteps(steps)
    assert torch.equal(ref.timesteps, D.dpm_solver_timesteps(1000, steps))
    y = x.clone()
    for k, t in enumerate(ref.timesteps):
        y = ref.step(eps(y, torch.full((7,), int(t))), t, y).prev_sample
        assert torch.allclose(y, path[k + 1], atol=1e-4, rtol=1e-4), (k, t)
    assert path.shape == (steps + 1, 7, 2)


def test_dpm_solver_pp_rejects_bad_steps():
    sched = D.linear_schedule(1000)
    eps = D.gaussian_eps(np.zeros(2), 0.3, sched)
    with pytest.raises(ValueError, match=r"^steps must be an integer in 1 \.\. T = 1000"):
        D.dpm_solver_pp_sample(eps, torch.zeros(3, 2), 0, schedule=sched)
    with pytest.raises(ValueError, match=r"^steps must be at most \(T - 1\) // 2 = 499"):
        D.dpm_solver_pp_sample(eps, torch.zeros(3, 2), 1000, schedule=sched)
