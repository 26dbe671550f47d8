r"""DPM-OT's "expressway" sampler (Li et al., ICCV 2023, arXiv 2307.11308, §4).

DPM-OT replaces the first :math:`T - M` steps of a diffusion sampler, from the prior
:math:`N(0, I)` down to the noise level of step :math:`M`, by one optimal-transport
jump, and then runs only :math:`M` denoising steps: :math:`z \sim N(0, I) \to T_b(z)`
(no network evaluation) :math:`\to` M DDIM or ancestral steps to data. :math:`T_b` is the
semi-discrete OT map (:mod:`ddpm_ot_lib.semidiscrete`) onto the *data latents*
:math:`y_j = \sqrt{\bar\alpha_M}\,x^{(j)}_0 + \sqrt{1-\bar\alpha_M}\,\varepsilon_j`
(:func:`diffused_targets`). The NFE is M.

The released code (cognaclee/DPM-OT) differs in three ways, stated where they matter:
its prior samples are ``torch.rand`` (uniform on :math:`[0, 1]^d`) both when solving
and when sampling (``ot_utils/optimal_transport.py``, ``runners/ncsn_runner.py``); its
denoiser is NCSNv2 with annealed Langevin dynamics (``models/__init__.py``), not a
DDPM; and with ``topk > 1`` (``ot_utils/ot_util.py``,
``generate_and_remove_singular_points``) it drops samples whose cell borders a cell of
a distant target and keeps one sample per target — :func:`singular_filter`.

Conventions are those of :mod:`ddpm_ot_lib.diffusion`: timesteps are integers
0 .. T-1, "step M" is the noise level :math:`\bar\alpha_{t_M}` with :math:`t_M = M - 1`
(so that M unit steps reach the data), models are callables ``eps(x, t)``.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _validate as check
from . import diffusion, semidiscrete

__all__ = ["diffused_targets", "truncated_schedule", "singular_filter", "expressway_sample", "generate", "METHODS"]

METHODS = (
    "ddpm",
    "ddim",
    "dpm-solver++",
    "dpm-ot",
    "dpm-ot-ddpm",
    "dpm-ot-singular",
    "uniform-target",
    "voronoi-target",
)


def _schedule(model) -> diffusion.Schedule:
    if not callable(model):
        raise TypeError(f"model must be callable as model(x, t), got {type(model).__name__}")
    schedule = getattr(model, "schedule", None)
    if not isinstance(schedule, diffusion.Schedule):
        raise ValueError("model must carry a ddpm_ot_lib.diffusion.Schedule as .schedule")
    return schedule


def _timestep(t, T: int, name: str, low: int = 0) -> int:
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not low <= t < T:
        raise ValueError(f"{name} must be an integer timestep in {low} .. {T - 1}, got {t!r}")
    return int(t)


def _steps(steps, T: int, name: str) -> int:
    steps = check.count(steps, name)
    if steps > T:
        raise ValueError(f"{name} must be an integer in 1 .. T = {T}, got {steps!r}")
    return steps


def diffused_targets(x0, t: int, schedule: diffusion.Schedule, seed: int = 0) -> torch.Tensor:
    r"""The data latents at timestep t.

    .. math:: y_j = \sqrt{\bar\alpha_t}\,x_0^{(j)} + \sqrt{1-\bar\alpha_t}\,\varepsilon_j .

    x0 : (N, d) training points; t : integer timestep in 0 .. T-1; ``seed`` fixes the
    noises :math:`\varepsilon_j`. Returns a float32 tensor (N, d) (the forward process,
    Eq. (1) of Ho et al., via :func:`ddpm_ot_lib.diffusion.q_sample`).
    """
    if not isinstance(schedule, diffusion.Schedule):
        raise TypeError(f"schedule must be a ddpm_ot_lib.diffusion.Schedule, got {type(schedule).__name__}")
    x0 = torch.from_numpy(check.points(check.array(x0), "x0")).float()
    t = _timestep(t, schedule.T, "t")
    gen = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
    return diffusion.q_sample(x0, torch.full((x0.shape[0],), t, dtype=torch.long), noise, schedule)


def truncated_schedule(schedule: diffusion.Schedule, t_land: int) -> diffusion.Schedule:
    r"""The first ``t_land + 1`` noise levels of ``schedule`` (timesteps 0 .. t_land).

    :func:`ddpm_ot_lib.diffusion.ddim_sample` and ``ddpm_sample`` run on it start at
    timestep ``t_land`` instead of T - 1 and visit the same integer timesteps of the
    full schedule, so a trained model is called exactly as usual.
    """
    if not isinstance(schedule, diffusion.Schedule):
        raise TypeError(f"schedule must be a ddpm_ot_lib.diffusion.Schedule, got {type(schedule).__name__}")
    t_land = _timestep(t_land, schedule.T, "t_land")
    return diffusion.Schedule(schedule.betas[: t_land + 1], schedule.alpha_bar[: t_land + 1])


def singular_filter(z, targets, heights, topk: int = 2, angle_thresh: float = 0.7):
    r"""DPM-OT's removal of "singular points" (``generate_and_remove_singular_points``).

    The released code (``ot_utils/ot_util.py`` of cognaclee/DPM-OT, used when
    ``topk > 1``) does, for prior samples z (n, d):

    1. for every sample, its ``topk`` best cells :math:`j_0(z), \dots, j_{k-1}(z)`
       (:func:`ddpm_ot_lib.semidiscrete.topk_cells`; :math:`j_0` is its own cell) and the
       pairs :math:`(j_0, j_i)`, i = 1 .. k-1;
    2. for each pair, the angle :math:`\theta` between the normals
       :math:`(y_j, -1)/\lVert (y_j, -1)\rVert` of the two supporting planes of the Brenier
       potential, rescaled to [0, 1] by its minimum and maximum over all pairs;
    3. it keeps the pairs with :math:`\theta \le` ``angle_thresh`` (the code's default
       0.7): a large angle means the sample's cell borders the cell of a distant target,
       i.e. the sample lies near the singular set where :math:`T_b` jumps between modes;
    4. it sorts each kept pair, and keeps one pair per value of its smaller index, whose
       target (the smaller index) is returned — one sample per target.

    Step 4 is as released: the target kept is the smaller *index* of the pair, which is
    the sample's own cell or its neighbour's, whichever has the smaller index. Returns
    ``(keep, index)``: the rows of z kept (m,), and their targets (m,), all distinct.
    (The released ``transfer_topk`` unpacks three values from ``torch.topk``, which
    returns two, so that code path cannot run as stored; this follows its evident intent.)
    """
    y = torch.from_numpy(check.points(check.array(targets), "targets"))
    topk = check.count(topk, "topk", 2)
    angle_thresh = check.positive(angle_thresh, "angle_thresh")
    cells = semidiscrete.topk_cells(z, y, heights, k=topk)  # (n, k)
    normal = torch.cat([y, -torch.ones(y.shape[0], 1, dtype=y.dtype)], 1)
    normal = (normal / normal.norm(dim=1, keepdim=True)).numpy()
    rows = np.repeat(np.arange(cells.shape[0]), topk - 1)
    pairs = np.stack([np.repeat(cells[:, 0], topk - 1), cells[:, 1:].reshape(-1)])
    cos = np.minimum((normal[pairs[0]] * normal[pairs[1]]).sum(1), 1.0)
    theta = np.arccos(cos)
    span = theta.max() - theta.min()
    theta = (theta - theta.min()) / span if span > 0 else np.zeros_like(theta)
    ok = theta <= angle_thresh
    pairs, rows = np.sort(pairs[:, ok], axis=0), rows[ok]
    _, first = np.unique(pairs[0], return_index=True)
    return rows[first], pairs[0, first]


def expressway_sample(
    model,
    z,
    targets,
    heights,
    steps: int,
    t_land: int | None = None,
    sampler: str = "ddim",
    generator: torch.Generator | None = None,
    return_index: bool = False,
    topk: int = 1,
    angle_thresh: float = 0.7,
):
    r"""DPM-OT sampling: the OT jump :math:`z \mapsto T_b(z)`, then ``steps`` denoising steps.

    z : (n, d) prior samples :math:`N(0, I)`; targets, heights : the solved SDOT
    (:func:`ddpm_ot_lib.semidiscrete.solve_sdot`) whose targets are the data latents at
    timestep ``t_land`` (:func:`diffused_targets`); steps : M, the number of network
    evaluations (NFE). ``t_land`` defaults to ``steps - 1``: the paper's expressway, which
    lands at step M and runs the last M steps of the chain one by one. A larger
    ``t_land`` lands at a noisier level and strides through it with DDIM's spacing
    (:func:`truncated_schedule`). ``sampler`` is "ddim" (η = 0, deterministic) or "ddpm"
    (ancestral, η = 1, noise from ``generator``). ``topk > 1`` applies the released
    code's singular-point removal first (:func:`singular_filter` with ``angle_thresh``):
    fewer samples come out, each from a different target.

    Returns x_0 (m, d) float32 tensor (m = n unless ``topk > 1``), and with
    ``return_index`` also the target index (m,) of every sample.
    """
    schedule = _schedule(model)
    steps = _steps(steps, schedule.T, "steps")
    t_land = steps - 1 if t_land is None else t_land
    t_land = _timestep(t_land, schedule.T, "t_land", low=steps - 1)
    if sampler not in ("ddim", "ddpm"):
        raise ValueError(f"sampler must be 'ddim' or 'ddpm', got {sampler!r}")
    y = torch.from_numpy(check.points(check.array(targets), "targets"))
    topk = check.count(topk, "topk")
    if topk > 1:
        _, idx = singular_filter(z, y, heights, topk=topk, angle_thresh=angle_thresh)
    else:
        idx = semidiscrete.assign(z, y, heights)
    x = y[idx].float()
    sub = truncated_schedule(schedule, t_land)
    if sampler == "ddim":
        out = diffusion.ddim_sample(model, x, steps, schedule=sub)
    else:
        out = diffusion.ddpm_sample(model, x, steps, schedule=sub, generator=generator)
    return (out, idx) if return_index else out


def generate(
    model,
    method: str,
    nfe: int,
    n: int,
    seed: int = 0,
    targets=None,
    heights=None,
    t_land: int | None = None,
    d: int | None = None,
):
    r"""n samples from one of the samplers the chapter compares, at ``nfe`` network evaluations.

    method :
        ``"ddpm"`` — ancestral sampling, ``nfe`` steps from :math:`x_T \sim N(0, I)` (Ho et al.);
        ``"ddim"`` — DDIM, η = 0, ``nfe`` steps (Song et al., Eq. 12);
        ``"dpm-solver++"`` — DPM-Solver++(2M), ``nfe`` steps
        (:func:`ddpm_ot_lib.diffusion.dpm_solver_pp_sample`);
        ``"dpm-ot"`` — the OT jump to the targets, then ``nfe`` DDIM steps (Li et al.);
        ``"dpm-ot-ddpm"`` — the OT jump, then ``nfe`` ancestral steps;
        ``"dpm-ot-singular"`` — the released code's singular-point removal
        (:func:`singular_filter`, ``topk = 2``), then as ``"dpm-ot"``: fewer than n samples;
        ``"uniform-target"`` — a target drawn uniformly at random instead of :math:`T_b(z)`,
        then ``nfe`` DDIM steps. Its samples have *by construction* the law of
        ``"dpm-ot"`` when the cell masses are exactly 1/N (a demonstration, not a test);
        ``"voronoi-target"`` — a control that can fail: the nearest target (the Voronoi
        cells, heights of :math:`h = 0`, no OT solve), then ``nfe`` DDIM steps. Its
        targets are the same but not equally likely.
    The prior sample z comes from a torch generator seeded by ``seed``, the ancestral noise
    and the control's draws from ``seed + 1``. ``targets``/``heights`` are the SDOT of the
    OT methods (at ``t_land``, default ``nfe - 1``).

    Returns (x0, info): x0 a float32 tensor (m, d); info a dict with ``nfe`` (network calls
    counted by :class:`ddpm_ot_lib.diffusion.CountingEps`) and, for the target methods,
    ``index`` (m,), the target each sample started from.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    schedule = _schedule(model)
    counted = diffusion.CountingEps(model)
    nfe = _steps(nfe, schedule.T, "nfe")
    n = check.count(n, "n")
    if d is None:
        d = getattr(model, "config", {}).get("dim")
        if d is None:
            raise ValueError("d is needed: model has no .config['dim']")
    gen = torch.Generator().manual_seed(int(seed))
    noise_gen = torch.Generator().manual_seed(int(seed) + 1)
    z = torch.randn((n, int(d)), generator=gen)
    info = {}
    if method == "ddpm":
        x = diffusion.ddpm_sample(counted, z, nfe, generator=noise_gen)
    elif method == "ddim":
        x = diffusion.ddim_sample(counted, z, nfe)
    elif method == "dpm-solver++":
        x = diffusion.dpm_solver_pp_sample(counted, z, nfe)
    else:
        if targets is None or heights is None:
            raise ValueError(f"method {method!r} needs targets and heights (an SDOT solution)")
        y = torch.from_numpy(check.points(check.array(targets), "targets"))
        t_land = nfe - 1 if t_land is None else t_land
        if method in ("uniform-target", "voronoi-target"):
            if method == "uniform-target":
                idx = torch.randint(y.shape[0], (n,), generator=noise_gen).numpy()
            else:
                idx = semidiscrete.assign(z, y, semidiscrete.heights_from_dual(np.zeros(y.shape[0]), y))
            sub = truncated_schedule(schedule, _timestep(t_land, schedule.T, "t_land", low=nfe - 1))
            x = diffusion.ddim_sample(counted, y[idx].float(), nfe, schedule=sub)
        else:
            x, idx = expressway_sample(
                counted,
                z,
                y,
                heights,
                nfe,
                t_land=t_land,
                sampler="ddpm" if method == "dpm-ot-ddpm" else "ddim",
                generator=noise_gen,
                return_index=True,
                topk=2 if method == "dpm-ot-singular" else 1,
            )
        info["index"] = np.asarray(idx)
    info["nfe"] = counted.calls
    return x.float(), info
