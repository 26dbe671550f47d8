"""Tests of ddpm_ot_lib.dpm_ot: the semi-discrete OT solver against two ground truths
(the exact 1-D quantile map and exact discrete OT by POT's network simplex), the
stopping rule's cell masses on a fresh sample, the expressway sampler's NFE and landing
step, the measurements, the stored sweep results, and bad input."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import norm

from ddpm_ot_lib import diffusion, dpm_ot

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "book" / "data" / "dpm_ot_sweeps.json"


@pytest.fixture(scope="module")
def targets_1d():
    return np.random.default_rng(1).normal(size=(20, 1)) * 1.5 + 0.5


@pytest.fixture(scope="module")
def solved_1d(targets_1d):
    return dpm_ot.solve_sdot(targets_1d, tol=0.05, n_check=2_000_000, seed=0)


@pytest.fixture(scope="module")
def solved_2d():
    y = np.random.default_rng(2).normal(size=(20, 2)) * 0.8 + np.array([0.5, 0.0])
    return dpm_ot.solve_sdot(y, tol=0.1, n_check=200_000, seed=0)


# --------------------------------------------------------------------------- the map
def test_two_forms_of_the_map_agree():
    """argmin_j |x - y_j|^2 - h_j == argmax_j <x, y_j> + b_j with b = (h - |y|^2)/2."""
    rng = np.random.default_rng(0)
    y, h, x = rng.normal(size=(30, 3)), rng.normal(size=30), rng.normal(size=(500, 3))
    b = dpm_ot.heights_from_dual(h, y)
    direct = (((x[:, None, :] - y[None]) ** 2).sum(-1) - h[None]).argmin(1)
    assert np.array_equal(dpm_ot.assign(x, y, b), direct)
    assert np.allclose(dpm_ot.dual_from_heights(b, y), h)
    assert np.allclose(dpm_ot.sdot_map(x, y, b), y[direct])


def test_brenier_potential_is_convex_and_its_gradient_is_the_map():
    rng = np.random.default_rng(1)
    y, b = rng.normal(size=(15, 2)), rng.normal(size=15)
    x0, x1 = rng.normal(size=(200, 2)), rng.normal(size=(200, 2))
    u = lambda p: dpm_ot.brenier_potential(p, y, b)  # noqa: E731
    assert np.all(u(0.5 * (x0 + x1)) <= 0.5 * (u(x0) + u(x1)) + 1e-12)
    eps = 1e-6
    grad = np.stack([(u(x0 + eps * e) - u(x0 - eps * e)) / (2 * eps) for e in np.eye(2)], 1)
    inside = np.abs(grad - dpm_ot.sdot_map(x0, y, b)).max(1) < 1e-5
    assert inside.mean() > 0.95          # all but points within 1e-6 of a cell boundary


def test_exact_1d_heights_give_equal_masses(targets_1d):
    b = dpm_ot.exact_heights_1d(targets_1d)
    m = dpm_ot.cell_masses(targets_1d, b, n=400_000, seed=3)
    floor = dpm_ot.mass_error_floor(20, 400_000)
    assert dpm_ot.mass_error(m) < 2.0 * floor
    # the cells are the quantile intervals: T*(x) = y_(ceil(N Phi(x)))
    x = np.linspace(-3, 3, 1001)[:, None]
    k = np.minimum((norm.cdf(x[:, 0]) * 20).astype(int), 19)
    assert np.array_equal(dpm_ot.sdot_map(x, targets_1d, b)[:, 0], np.sort(targets_1d[:, 0])[k])


def test_1d_solver_against_the_quantile_map(targets_1d, solved_1d):
    assert solved_1d.converged and solved_1d.error <= 0.05
    exact = dpm_ot.exact_heights_1d(targets_1d)
    assert np.abs(solved_1d.heights - exact).max() < 0.05
    x = np.linspace(-6, 6, 200_001)[:, None]
    wrong = dpm_ot.assign(x, targets_1d, solved_1d.heights) != dpm_ot.assign(x, targets_1d, exact)
    misassigned = float((norm.pdf(x[:, 0]) * wrong).sum() * (x[1, 0] - x[0, 0]))
    assert misassigned < 0.04            # share of prior mass sent to another target


def test_2d_solver_against_exact_discrete_ot(solved_2d):
    agree = dpm_ot.emd_agreement(solved_2d.targets, solved_2d.heights, n=4000, seed=4)
    assert agree > 0.9
    # a map that ignores the heights (Voronoi cells) agrees far less
    voronoi = dpm_ot.heights_from_dual(np.zeros(20), solved_2d.targets)
    assert dpm_ot.emd_agreement(solved_2d.targets, voronoi, n=4000, seed=4) < agree - 0.1


def test_cell_masses_on_a_fresh_sample_within_tolerance(solved_2d):
    fresh = dpm_ot.cell_masses(solved_2d.targets, solved_2d.heights, n=400_000, seed=99)
    assert fresh.sum() == pytest.approx(1.0)
    # tol = 0.1 on the check sample; allow its selection effect plus the fresh sample's noise
    assert dpm_ot.mass_error(fresh) < 0.1 + dpm_ot.mass_error_floor(20, 400_000) + 0.03
    assert solved_2d.history.shape[1] == 3 and solved_2d.iterations == solved_2d.history[-1, 0]


def test_mass_error_floor_matches_the_simulated_exact_solution(targets_1d):
    b = dpm_ot.exact_heights_1d(targets_1d)
    errs = [dpm_ot.mass_error(dpm_ot.cell_masses(targets_1d, b, n=20_000, seed=s)) for s in range(10)]
    assert 0.5 < np.mean(errs) / dpm_ot.mass_error_floor(20, 20_000) < 1.5


# --------------------------------------------------------------------------- the sampler
class _Recorder:
    """The exact eps of N(mu, s^2 I) data, recording every timestep it is called at."""

    def __init__(self, d=2):
        self.schedule = diffusion.linear_schedule(1000)
        self.eps = diffusion.gaussian_eps(np.zeros(d), 0.5, self.schedule)
        self.config = {"dim": d}
        self.times = []

    def __call__(self, x, t):
        self.times.append(int(t[0]))
        return self.eps(x, t)


@pytest.mark.parametrize("method", ["ddpm", "ddim", "dpm-ot", "dpm-ot-ddpm", "uniform-target"])
@pytest.mark.parametrize("nfe", [1, 7, 10])
def test_generate_calls_the_model_nfe_times(method, nfe):
    model = _Recorder()
    y = dpm_ot.diffused_targets(np.random.default_rng(0).normal(size=(8, 2)), nfe - 1, model.schedule, seed=1)
    b = np.zeros(8)
    x, info = dpm_ot.generate(model, method, nfe, 16, seed=0, targets=y, heights=b)
    assert x.shape == (16, 2) and info["nfe"] == nfe == len(model.times)
    if method in ("ddpm", "ddim"):
        assert model.times[0] == 999
    else:                                 # the expressway lands at step M and takes unit steps
        assert model.times == list(range(nfe - 1, -1, -1))
        assert info["index"].shape == (16,)


def test_expressway_starts_from_the_targets_and_a_later_landing_strides():
    model = _Recorder()
    x0 = np.random.default_rng(0).normal(size=(5, 2))
    y = dpm_ot.diffused_targets(x0, 99, model.schedule, seed=1)
    z = torch.randn(40, 2, generator=torch.Generator().manual_seed(0))
    counted = diffusion.CountingEps(model)
    out, idx = dpm_ot.expressway_sample(counted, z, y, np.zeros(5), 10, t_land=99, return_index=True)
    assert counted.calls == 10 and model.times[0] == 99 and model.times[-1] == 9
    assert np.array_equal(idx, dpm_ot.assign(z, y, np.zeros(5)))
    same = diffusion.ddim_sample(model, y[idx].float(), 10, schedule=dpm_ot.truncated_schedule(model.schedule, 99))
    assert torch.allclose(out, same)


def test_diffused_targets_follow_the_forward_process():
    sched = diffusion.linear_schedule(1000)
    x0 = torch.zeros(20_000, 1)
    y = dpm_ot.diffused_targets(x0 + 2.0, 499, sched, seed=0)
    a = float(sched.alpha_bar[499])
    assert float(y.mean()) == pytest.approx(2.0 * math.sqrt(a), abs=0.02)
    assert float(y.std()) == pytest.approx(math.sqrt(1 - a), abs=0.02)


# --------------------------------------------------------------------------- measurements
def test_mode_stats_of_the_true_law():
    x, _ = dpm_ot.sample_mixture("25gaussians", 20_000, seed=0)
    means, sigma = dpm_ot.mixture("25gaussians")
    st = dpm_ot.mode_stats(x, means, sigma)
    assert st["coverage"] == 25
    assert st["mixture"] == pytest.approx(math.exp(-4.5), abs=0.003)     # Rayleigh tail beyond 3 sigma
    collapsed = dpm_ot.mode_stats(np.zeros((100, 2)) + means[0], means, sigma)
    assert collapsed["coverage"] == 1 and collapsed["mixture"] == 0.0
    assert dpm_ot.mode_stats(np.zeros((10, 2)) + [0.25, 0.25], means, sigma)["mixture"] == 1.0


def test_distances_on_shifted_clouds():
    x = np.random.default_rng(0).normal(size=(300, 3))
    shift = np.array([0.6, 0.0, 0.0])
    assert dpm_ot.w2(x, x + shift) == pytest.approx(0.6, rel=1e-6)
    # SW2^2 = E (theta . a)^2 = |a|^2 / d for a pure shift
    assert dpm_ot.sliced_w2(x, x + shift, n_projections=4000) == pytest.approx(0.6 / math.sqrt(3), rel=0.05)
    assert np.allclose(dpm_ot.nearest_distance(x + 1e-3 * shift, x), 0.6e-3)
    assert dpm_ot.duplicate_share([1, 1, 2, 3]) == 0.25


# --------------------------------------------------------------------------- stored sweep
def test_stored_sweeps_are_complete():
    if not SWEEPS.exists():
        pytest.skip("book/data/dpm_ot_sweeps.json not written yet (scripts/dpm_ot_sweeps.py)")
    table = json.loads(SWEEPS.read_text())
    for kind in ("8gaussians", "25gaussians", "digits"):
        res = table[kind]
        for method, rows in res["curves"].items():
            assert [r["nfe"] for r in rows] == table["meta"]["nfes"], method
        for row in res["sdot"]:
            assert row["converged"] and row["error_check"] <= table["meta"]["sdot"]["tol"]
        assert len(res["heights_M"]["10"]) == res["n_train"]
    # the models the sweep measured are the models on disk (a retrained model makes it stale)
    for kind in ("8gaussians", "25gaussians"):
        _, meta = diffusion.load_model(ROOT / "book" / "data" / f"dpm_ot_ddpm_{kind}.pt", return_metadata=True)
        assert meta["checksum"] == table[kind]["model"]["checksum"], kind
    digits_file = ROOT / table["digits"]["model"]["file"]
    _, meta = diffusion.load_model(digits_file, return_metadata=True)
    assert meta["checksum"] == table["digits"]["model"]["checksum"], \
        f"{digits_file.name} changed since the sweep: rerun scripts/dpm_ot_sweeps.py --only digits"


# --------------------------------------------------------------------------- bad input
def test_bad_input_is_rejected_with_the_argument_named():
    y = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="targets"):
        dpm_ot.solve_sdot(y[:1])
    with pytest.raises(ValueError, match="targets"):
        dpm_ot.solve_sdot(np.where(y > 1, np.nan, y))
    with pytest.raises(ValueError, match="tol"):
        dpm_ot.solve_sdot(y, tol=0.01, n_check=1000)       # below the check sample's floor
    with pytest.raises(ValueError, match="heights"):
        dpm_ot.assign(y, y, np.zeros(9))
    with pytest.raises(ValueError, match="x"):
        dpm_ot.assign(np.zeros((4, 3)), y, np.zeros(10))
    with pytest.raises(TypeError, match="x"):
        dpm_ot.assign("points", y, np.zeros(10))
    with pytest.raises(ValueError, match="batch"):
        dpm_ot.solve_sdot(y, batch=0)
    sched = diffusion.linear_schedule(1000)
    with pytest.raises(ValueError, match="t"):
        dpm_ot.diffused_targets(y, 1000, sched)
    with pytest.raises(TypeError, match="schedule"):
        dpm_ot.truncated_schedule("linear", 10)
    model = _Recorder()
    with pytest.raises(ValueError, match="method"):
        dpm_ot.generate(model, "euler", 10, 4)
    with pytest.raises(ValueError, match="targets and heights"):
        dpm_ot.generate(model, "dpm-ot", 10, 4)
    with pytest.raises(ValueError, match="t_land"):
        dpm_ot.expressway_sample(model, torch.zeros(3, 2), y, np.zeros(10), 10, t_land=5)
    with pytest.raises(ValueError, match="sampler"):
        dpm_ot.expressway_sample(model, torch.zeros(3, 2), y, np.zeros(10), 10, sampler="euler")
    with pytest.raises(TypeError, match="model"):
        dpm_ot.expressway_sample(None, torch.zeros(3, 2), y, np.zeros(10), 10)
    with pytest.raises(ValueError, match="mixture|name"):
        dpm_ot.mixture("9gaussians")
    with pytest.raises(ValueError, match="targets"):
        dpm_ot.exact_heights_1d(y)


# --------------------------------------------------------------------------- figures
def test_plot_helpers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ddpm_ot_lib import plots

    y = np.random.default_rng(0).normal(size=(6, 2))
    fig, ax = plt.subplots()
    assert plots.laguerre_cells(ax, y, np.zeros(6), extent=(-2, 2, -2, 2), n_grid=50) is ax
    with pytest.raises(ValueError, match="targets"):
        plots.laguerre_cells(ax, y, np.zeros(5), extent=(-2, 2, -2, 2))
    rows = [{"nfe": k, "w2": 1.0 / k, "mixture": 0.1, "sw2": 0.2} for k in (1, 10)]
    curves = {m: rows for m in ("ddpm", "ddim", "dpm-ot")}
    assert plots.nfe_curves(ax, curves, "w2", floor=0.1, floor_band=0.01) is ax
    with pytest.raises(ValueError, match="method"):
        plots.nfe_curves(ax, curves, "w2", methods=["euler"])
    ref = {"w2_floor_mean": 0.1, "w2_floor_sd": 0.01, "true": {"mixture": 0.01}}
    grid = plots.quality_grid({"8gaussians": {"curves": curves, "reference": ref}}, kinds=["8gaussians"])
    assert len(grid.axes) == 2
    plt.close("all")
