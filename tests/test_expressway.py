"""Tests of ddpm_ot_lib.expressway: the sampler's NFE and landing step, the released code's
singular-point removal, the controls, the forward process of the targets, and bad input."""

import math

import numpy as np
import pytest
import torch

from ddpm_ot_lib import diffusion, semidiscrete
from ddpm_ot_lib import expressway as ex

torch.set_num_threads(1)


class _Recorder:
    """The exact eps of N(0, 0.5^2 I) data, recording every timestep it is called at."""

    def __init__(self, d=2):
        self.schedule = diffusion.linear_schedule(1000)
        self.eps = diffusion.gaussian_eps(np.zeros(d), 0.5, self.schedule)
        self.config = {"dim": d}
        self.times = []

    def __call__(self, x, t):
        self.times.append(int(t[0]))
        return self.eps(x, t)


@pytest.mark.parametrize("method", ex.METHODS)
@pytest.mark.parametrize("nfe", [1, 7, 10])
def test_generate_calls_the_model_nfe_times(method, nfe):
    model = _Recorder()
    y = ex.diffused_targets(np.random.default_rng(0).normal(size=(8, 2)), nfe - 1, model.schedule, seed=1)
    x, info = ex.generate(model, method, nfe, 16, seed=0, targets=y, heights=np.zeros(8))
    assert info["nfe"] == nfe == len(model.times)
    if method in ("ddpm", "ddim", "dpm-solver++"):
        assert model.times[0] == 999 and x.shape == (16, 2)
    else:  # the expressway lands at step M and takes unit steps
        assert model.times == list(range(nfe - 1, -1, -1))
        assert info["index"].shape == (x.shape[0],)
        assert x.shape[0] == 16 or method == "dpm-ot-singular"


def test_expressway_starts_from_the_targets_and_a_later_landing_strides():
    model = _Recorder()
    x0 = np.random.default_rng(0).normal(size=(5, 2))
    y = ex.diffused_targets(x0, 99, model.schedule, seed=1)
    z = torch.randn(40, 2, generator=torch.Generator().manual_seed(0))
    counted = diffusion.CountingEps(model)
    out, idx = ex.expressway_sample(counted, z, y, np.zeros(5), 10, t_land=99, return_index=True)
    assert counted.calls == 10 and model.times[0] == 99 and model.times[-1] == 9
    assert np.array_equal(idx, semidiscrete.assign(z, y, np.zeros(5)))
    same = diffusion.ddim_sample(model, y[idx].float(), 10, schedule=ex.truncated_schedule(model.schedule, 99))
    assert torch.allclose(out, same)


def test_singular_filter_drops_samples_between_distant_clusters():
    """Two clusters of targets far apart: pairs across the gap have the largest angles."""
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.normal(size=(10, 2)) * 0.05 + [-2, 0], rng.normal(size=(10, 2)) * 0.05 + [2, 0]])
    b = semidiscrete.solve_sdot(y, tol=0.2, n_check=40_000, seed=0).heights
    z = rng.normal(size=(4000, 2))
    keep, idx = ex.singular_filter(z, y, b, topk=2, angle_thresh=0.5)
    assert len(np.unique(idx)) == len(idx) <= 20  # one sample per target
    cells = semidiscrete.topk_cells(z, y, b, k=2)
    across = (cells[:, 0] < 10) != (cells[:, 1] < 10)
    assert not np.any(across[keep])  # no kept pair crosses the gap
    assert set(idx) <= set(np.sort(cells[keep], axis=1)[:, 0])  # the smaller index, as released


def test_voronoi_control_uses_unsolved_cells():
    model = _Recorder()
    y = ex.diffused_targets(np.random.default_rng(0).normal(size=(8, 2)) * 2, 9, model.schedule, seed=1)
    _, info = ex.generate(model, "voronoi-target", 10, 64, seed=3, targets=y, heights=np.zeros(8))
    z = torch.randn((64, 2), generator=torch.Generator().manual_seed(3))
    assert np.array_equal(info["index"], ((z.numpy()[:, None] - y.numpy()[None]) ** 2).sum(-1).argmin(1))


def test_diffused_targets_follow_the_forward_process():
    sched = diffusion.linear_schedule(1000)
    y = ex.diffused_targets(torch.zeros(20_000, 1) + 2.0, 499, sched, seed=0)
    a = float(sched.alpha_bar[499])
    assert float(y.mean()) == pytest.approx(2.0 * math.sqrt(a), abs=0.02)
    assert float(y.std()) == pytest.approx(math.sqrt(1 - a), abs=0.02)


_Y = np.random.default_rng(0).normal(size=(10, 2))
_SCHED = diffusion.linear_schedule(1000)
_MODEL = _Recorder()


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: ex.diffused_targets(_Y, 1000, _SCHED), ValueError, r"^t must be an integer timestep in 0 \.\. 999"),
        (lambda: ex.truncated_schedule("linear", 10), TypeError, r"^schedule must be a ddpm_ot_lib"),
        (lambda: ex.generate(_MODEL, "euler", 10, 4), ValueError, r"^method must be one of"),
        (lambda: ex.generate(_MODEL, "dpm-ot", 10, 4), ValueError, r"^method 'dpm-ot' needs targets and heights"),
        (lambda: ex.generate(_MODEL, "ddim", 0, 4), ValueError, r"^nfe must be an integer >= 1"),
        (
            lambda: ex.expressway_sample(_MODEL, torch.zeros(3, 2), _Y, np.zeros(10), 10, t_land=5),
            ValueError,
            r"^t_land must be an integer timestep in 9 \.\. 999",
        ),
        (
            lambda: ex.expressway_sample(_MODEL, torch.zeros(3, 2), _Y, np.zeros(10), 10, sampler="euler"),
            ValueError,
            r"^sampler must be 'ddim' or 'ddpm'",
        ),
        (
            lambda: ex.expressway_sample(None, torch.zeros(3, 2), _Y, np.zeros(10), 10),
            TypeError,
            r"^model must be callable",
        ),
        (
            lambda: ex.singular_filter(torch.zeros(3, 2), _Y, np.zeros(10), topk=1),
            ValueError,
            r"^topk must be an integer >= 2",
        ),
    ],
)
def test_bad_input_is_rejected_with_the_argument_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# --------------------------------------------------------------------------- the stored sweep
def test_stored_sweeps_are_complete():
    """book/data/dpm_ot_sweeps.json holds every method, and the models on disk are those it measured."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = root / "book" / "data" / "dpm_ot_sweeps.json"
    if not path.exists():
        pytest.skip("book/data/dpm_ot_sweeps.json not written yet (runs/dpm_ot_sweeps.py)")
    table = json.loads(path.read_text())
    meta = table["meta"]
    if "max_nfe_controls" not in meta:
        pytest.skip("book/data/dpm_ot_sweeps.json predates runs/dpm_ot_sweeps.py's methods: rerun it")
    for kind in ("8gaussians", "25gaussians", "digits"):
        res = table[kind]
        assert set(res["curves"]) == set(ex.METHODS), kind
        for method, rows in res["curves"].items():
            nfes = [r["nfe"] for r in rows]
            targets = meta.get("target_nfes", {}).get(kind, meta["nfes"])
            if method in ("ddpm", "ddim"):
                assert nfes == meta["nfes"], (kind, method)
            elif method == "dpm-solver++":
                assert nfes == [k for k in meta["nfes"] if k <= 100], (kind, method)
            elif method == "dpm-ot":
                assert nfes == targets, (kind, method)
            else:
                assert nfes == [k for k in targets if k <= meta["max_nfe_controls"]], (kind, method)
        for row in res["sdot"]:
            assert row["converged"] and row["error_check"] <= meta["sdot"]["tol"]
        assert len(res["heights_M"]["10"]) == res["n_train"]
        _, model_meta = diffusion.load_model(root / res["model"]["file"], return_metadata=True)
        assert model_meta["checksum"] == res["model"]["checksum"], f"{kind}: rerun runs/dpm_ot_sweeps.py"
