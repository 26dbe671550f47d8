r"""DPM-OT: semi-discrete optimal transport and the "expressway" sampler (Li et al., ICCV 2023).

DPM-OT (Li et al., 2023, arXiv 2307.11308) replaces the first :math:`T - M` steps of a
diffusion sampler, from the prior :math:`N(0, I)` down to the noise level of step
:math:`M`, by one optimal-transport jump, and then runs only :math:`M` denoising steps.
The jump is the *semi-discrete* OT map from the continuous prior :math:`\mu = N(0, I_d)`
to the uniform law on N points :math:`y_1, \dots, y_N` (the "data latents": N training
points diffused to step M, :math:`y_j = \sqrt{\bar\alpha_M}\,x^{(j)}_0 +
\sqrt{1-\bar\alpha_M}\,\varepsilon_j`).

Semi-discrete OT (Gu, Luo, Sun & Yau 2016; the paper's §3.2–3.3)
-----------------------------------------------------------------
For the cost :math:`\lVert x - y\rVert^2` the optimal map is the gradient of a piecewise
linear convex *Brenier potential*

.. math:: u_b(x) = \max_j \bigl(\langle x, y_j\rangle + b_j\bigr), \qquad
          T_b(x) = \nabla u_b(x) = y_{j(x)}, \quad j(x) = \arg\max_j \langle x, y_j\rangle + b_j,

whose *heights* :math:`b \in \mathbb{R}^N` are chosen so that every *Laguerre cell*
:math:`W_j(b) = \{x : j(x) = j\}` carries prior mass :math:`\mu(W_j(b)) = 1/N`.
Equivalently, with the dual potential :math:`h_j = 2 b_j + \lVert y_j\rVert^2`,
:math:`j(x) = \arg\min_j \lVert x - y_j\rVert^2 - h_j` (:func:`heights_from_dual`).
The heights minimise the convex energy

.. math:: E(b) = \int u_b \, d\mu - \frac1N \sum_j b_j, \qquad
          \frac{\partial E}{\partial b_j} = \mu(W_j(b)) - \frac1N ,

(Gu et al. 2016, Thm. 1.2; the negative of Kantorovich's semi-dual). DPM-OT's released
code (``ot_utils/optimal_transport.py`` of cognaclee/DPM-OT, inherited from AE-OT)
estimates the gradient by Monte Carlo — the share of a batch of prior samples falling in
each cell, minus 1/N — and takes Adam steps on :math:`b`. :func:`solve_sdot` does the
same, with a fresh batch each step, a decreasing step size, and a stopping rule on the
cell masses measured on a large *independent* sample.

The expressway (Li et al. 2023, §4)
-----------------------------------
:func:`expressway_sample`: :math:`z \sim N(0, I)` :math:`\to` :math:`T_b(z)` (no network
evaluation) :math:`\to` M DDIM or ancestral steps from timestep :math:`t_M` to data.
The NFE is M. Because :math:`T_b(z)` is always one of the N targets, the M steps
start from a diffused *training* point; :func:`nearest_distance` and
:func:`duplicate_share` measure what that does to diversity.

Conventions are those of :mod:`ddpm_ot_lib.diffusion`: timesteps are integers
0 .. T-1, "step M" is the noise level :math:`\bar\alpha_{t_M}` with :math:`t_M = M - 1`
(so that M unit steps reach the data), models are callables ``eps(x, t)``.
"""
from __future__ import annotations

import math
import time as _time
from typing import NamedTuple

import numpy as np
import torch

from . import _validate as check
from . import diffusion

__all__ = [
    "SDOTResult", "heights_from_dual", "dual_from_heights", "assign", "sdot_map", "brenier_potential",
    "cell_masses", "mass_error", "mass_error_floor", "solve_sdot",
    "diffused_targets", "truncated_schedule", "expressway_sample",
]


# --------------------------------------------------------------------------- checks
def _targets(y, name="targets") -> torch.Tensor:
    arr = check.points(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y, name)
    return torch.from_numpy(arr)


def _heights(b, n_targets: int, name="heights") -> torch.Tensor:
    arr = check.vector(b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else b, name, d=n_targets)
    return torch.from_numpy(arr)


def _count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_tensor_points(x, name: str, d: int | None = None) -> torch.Tensor:
    arr = check.points(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, name, d=d)
    return torch.from_numpy(arr)


# --------------------------------------------------------------------------- the map
def heights_from_dual(h, targets) -> np.ndarray:
    r"""Brenier heights :math:`b_j = (h_j - \lVert y_j\rVert^2)/2` from dual potentials h.

    :math:`\arg\min_j \lVert x-y_j\rVert^2 - h_j = \arg\max_j \langle x, y_j\rangle + b_j`,
    because :math:`\lVert x-y_j\rVert^2 - h_j = \lVert x\rVert^2 - 2(\langle x, y_j\rangle + b_j)`.
    h : (N,); targets : (N, d). Returns (N,).
    """
    y = _targets(targets).numpy()
    h = check.vector(h, "h", d=y.shape[0])
    return 0.5 * (h - (y * y).sum(axis=1))


def dual_from_heights(b, targets) -> np.ndarray:
    r"""The inverse of :func:`heights_from_dual`: :math:`h_j = 2 b_j + \lVert y_j\rVert^2`."""
    y = _targets(targets).numpy()
    b = check.vector(b, "heights", d=y.shape[0])
    return 2.0 * b + (y * y).sum(axis=1)


def _argmax_scores(x: torch.Tensor, y: torch.Tensor, b: torch.Tensor, chunk: int, need_value: bool = False):
    """argmax_j <x, y_j> + b_j over row chunks of x (float64). Returns (idx, value or None)."""
    idx = torch.empty(x.shape[0], dtype=torch.long)
    val = torch.empty(x.shape[0], dtype=torch.float64) if need_value else None
    for s in range(0, x.shape[0], chunk):
        scores = torch.addmm(b[None, :], x[s:s + chunk], y.T)
        v, i = scores.max(dim=1)
        idx[s:s + chunk] = i
        if need_value:
            val[s:s + chunk] = v
    return idx, val


def assign(x, targets, heights, chunk: int = 4096) -> np.ndarray:
    r"""The Laguerre cell of each point: :math:`j(x) = \arg\max_j \langle x, y_j\rangle + b_j`.

    x : (n, d) points (e.g. prior samples); targets : (N, d); heights : (N,).
    Returns an integer array (n,). Computed in float64, ``chunk`` rows at a time.
    """
    y = _targets(targets)
    x = _as_tensor_points(x, "x", d=y.shape[1])
    b = _heights(heights, y.shape[0])
    return _argmax_scores(x, y, b, _count(chunk, "chunk"))[0].numpy()


def sdot_map(x, targets, heights, chunk: int = 4096) -> np.ndarray:
    r"""The semi-discrete OT map :math:`T_b(x) = y_{j(x)}`, shape (n, d) (see :func:`assign`)."""
    y = _targets(targets).numpy()
    return y[assign(x, targets, heights, chunk)]


def brenier_potential(x, targets, heights, chunk: int = 4096) -> np.ndarray:
    r"""The Brenier potential :math:`u_b(x) = \max_j \langle x, y_j\rangle + b_j`, shape (n,).

    Convex and piecewise linear; its gradient is :func:`sdot_map`.
    """
    y = _targets(targets)
    x = _as_tensor_points(x, "x", d=y.shape[1])
    b = _heights(heights, y.shape[0])
    return _argmax_scores(x, y, b, _count(chunk, "chunk"), need_value=True)[1].numpy()


def cell_masses(targets, heights, n: int = 200_000, seed: int = 0, chunk: int = 4096) -> np.ndarray:
    r"""Monte-Carlo prior masses of the Laguerre cells, :math:`\hat\mu(W_j(b))`, shape (N,).

    Draws n points of :math:`N(0, I_d)` (torch generator seeded by ``seed``) and returns
    the share that falls in each cell. Each entry has standard error
    :math:`\sqrt{\mu_j(1-\mu_j)/n}`.
    """
    y = _targets(targets)
    b = _heights(heights, y.shape[0])
    n = _count(n, "n")
    chunk = _count(chunk, "chunk")
    gen = torch.Generator().manual_seed(int(seed))
    counts = torch.zeros(y.shape[0], dtype=torch.float64)
    for s in range(0, n, chunk):
        x = torch.randn((min(chunk, n - s), y.shape[1]), generator=gen, dtype=torch.float64)
        counts += torch.bincount(_argmax_scores(x, y, b, chunk)[0], minlength=y.shape[0]).double()
    return (counts / n).numpy()


def mass_error(masses) -> float:
    r"""The stopping criterion :math:`\max_j \lvert N \mu_j - 1\rvert` (0 for an exact solution)."""
    m = check.vector(masses, "masses")
    return float(np.abs(m.size * m - 1.0).max())


def mass_error_floor(n_targets: int, n: int) -> float:
    r"""The typical :func:`mass_error` of the *exact* solution measured with n samples.

    Each count is binomial(n, 1/N), so :math:`N\hat\mu_j - 1` has standard deviation
    :math:`s = \sqrt{(N - 1)/n}`; the maximum of N such errors is about
    :math:`s\sqrt{2\ln N}`. A tolerance below this cannot be certified with n samples.
    """
    N = _count(n_targets, "n_targets", 2)
    n = _count(n, "n")
    return float(math.sqrt((N - 1) / n) * math.sqrt(2.0 * math.log(N)))


class SDOTResult(NamedTuple):
    r"""The output of :func:`solve_sdot`.

    targets : (N, d) float64 array, the points :math:`y_j`
    heights : (N,) float64 array, the Brenier heights b (mean zero)
    masses : (N,) cell masses of ``heights`` measured on the independent check sample
    error : :func:`mass_error` of ``masses`` (inf if no check was run)
    floor : :func:`mass_error_floor` of the check sample (what an exact b would show)
    converged : whether a check reached ``error <= tol``
    iterations : gradient steps taken
    seconds : wall time of the solve
    history : array (k, 3): iteration, running-average error, check error (NaN when
        no check was run at that point), every ``check_every`` steps
    """
    targets: np.ndarray
    heights: np.ndarray
    masses: np.ndarray
    error: float
    floor: float
    converged: bool
    iterations: int
    seconds: float
    history: np.ndarray


def solve_sdot(targets, tol: float = 0.2, batch: int = 4096, lr: float | None = None, max_iter: int = 5000,
               n_check: int | None = None, check_every: int = 50, patience: int = 2, seed: int = 0,
               chunk: int = 4096, avg: float = 0.02, progress: bool = False) -> SDOTResult:
    r"""Semi-discrete OT from :math:`N(0, I_d)` to the uniform law on ``targets``, by
    stochastic gradient descent on the convex energy :math:`E(b)` (module docstring).

    * Start: :math:`h = 0`, i.e. :math:`b_j = -\lVert y_j\rVert^2/2` (the Voronoi cells of
      the targets).
    * Step k: a fresh batch :math:`x_1..x_B \sim N(0, I_d)` gives the Monte-Carlo gradient
      :math:`g_j = \#\{i : j(x_i) = j\}/B - 1/N`; an Adam step (β = 0.9, 0.999, as in
      DPM-OT's released code) moves b by about ``lr`` per coordinate, and b is re-centred
      to mean zero (E does not change when a constant is added to b).
    * Monitoring: a running average of the batch masses (weight 0.01 per step, i.e.
      about 200 batches) is compared with 1/N every ``check_every`` steps. When its error
      has not improved for ``patience`` such periods, ``lr`` is halved (the decreasing
      step that stochastic approximation needs).
    * Stopping rule: when the running error is at most ``tol``, the cell masses are
      measured on a fixed *independent* sample of ``n_check`` prior points (seed
      ``seed + 1``, never used for a step); the solve stops when
      :math:`\max_j \lvert N\hat\mu_j - 1\rvert \le` ``tol`` there. The heights returned
      are those of the best check.

    Parameters
    ----------
    targets : (N, d) points :math:`y_j` (N >= 2)
    tol : tolerance on the relative cell-mass error; it must exceed
        :func:`mass_error_floor` ``(N, n_check)`` (checked), or the rule could never fire
    batch : prior samples per gradient estimate
    lr : initial Adam step (default 0.02 × the spread
        :math:`\sqrt{\mathrm{mean}_j \lVert y_j - \bar y\rVert^2}` of the targets)
    max_iter, check_every, patience, seed, chunk : budget, monitoring period, halving
        patience, seed, rows per matrix product
    n_check : size of the independent check sample (default 400 N)

    Returns
    -------
    :class:`SDOTResult`
    """
    start = _time.perf_counter()
    y64 = _targets(targets)
    N, d = y64.shape
    if N < 2:
        raise ValueError(f"targets must hold at least 2 points, got {N}")
    tol = check.positive(tol, "tol")
    batch = _count(batch, "batch")
    max_iter = _count(max_iter, "max_iter")
    check_every = _count(check_every, "check_every")
    patience = _count(patience, "patience")
    chunk = _count(chunk, "chunk")
    n_check = 400 * N if n_check is None else _count(n_check, "n_check")
    check_every = max(check_every, n_check // batch)
    floor = mass_error_floor(N, n_check)
    if tol <= floor:
        raise ValueError(f"tol = {tol} cannot be certified with n_check = {n_check} samples: the exact "
                         f"solution would show an error of about {floor:.3g}; raise tol or n_check")
    if lr is None:                       # 0.1 x the median nearest-neighbour distance of the targets
        pick = torch.randperm(N, generator=torch.Generator().manual_seed(int(seed)))[:2000]
        dist = torch.cdist(y64[pick], y64, compute_mode="donot_use_mm_for_euclid_dist")
        dist[torch.arange(pick.numel()), pick] = math.inf
        lr = 0.1 * max(float(dist.min(1).values.median()), 1e-12)
    lr = check.positive(lr, "lr")
    from tqdm.auto import tqdm

    y = y64.float()                      # the products in float32; b accumulates in float64
    gen = torch.Generator().manual_seed(int(seed))
    gen_check = torch.Generator().manual_seed(int(seed) + 1)
    x_check = torch.randn((n_check, d), generator=gen_check, dtype=torch.float32)

    def counts(x, b):
        return torch.bincount(_argmax_scores(x, y, b.float(), chunk)[0], minlength=N).double()

    b = -0.5 * (y64 * y64).sum(1)        # h = 0: the Voronoi cells of the targets
    b -= b.mean()
    b_avg = b.clone()
    m_adam = torch.zeros(N, dtype=torch.float64)
    v_adam = torch.zeros(N, dtype=torch.float64)
    best = dict(err=math.inf, b=b.clone(), masses=torch.full((N,), math.nan, dtype=torch.float64))
    best_rms, stalled, converged, k = math.inf, 0, False, 0
    history = []
    bar = tqdm(total=max_iter, desc="SDOT", disable=not progress, mininterval=1.0)
    while k < max_iter and not converged:
        x = torch.randn((batch, d), generator=gen, dtype=torch.float32)
        grad = counts(x, b) / batch - 1.0 / N
        k += 1
        m_adam.mul_(0.9).add_(grad, alpha=0.1)
        v_adam.mul_(0.999).add_(grad * grad, alpha=0.001)
        b -= lr * (m_adam / (1 - 0.9 ** k)) / ((v_adam / (1 - 0.999 ** k)).sqrt() + 1e-12)
        b -= b.mean()
        b_avg.mul_(1.0 - avg).add_(b, alpha=avg)      # averaged iterate
        bar.update(1)
        if k % check_every and k < max_iter:
            continue
        masses = counts(x_check, b_avg) / n_check
        err = float((N * masses - 1).abs().max())
        # squared RMS error minus its sampling part (N - 1)/n_check: tracks progress smoothly
        rms = float(((N * masses - 1) ** 2).mean()) - (N - 1) / n_check
        history.append((k, err, rms))
        if err < best["err"]:
            best = dict(err=err, b=b_avg.clone(), masses=masses)
        converged = err <= tol
        if rms < best_rms:
            best_rms, stalled = rms, 0
        else:
            stalled += 1
            if stalled >= patience:     # no progress: half the step (stochastic approximation)
                lr, stalled = 0.5 * lr, 0
        bar.set_postfix(err=f"{err:.3f}", lr=f"{lr:.2g}")
    bar.close()
    return SDOTResult(y64.numpy().copy(), best["b"].numpy(), best["masses"].numpy(), best["err"], floor,
                      converged, k, _time.perf_counter() - start, np.asarray(history, dtype=np.float64))


# --------------------------------------------------------------------------- ground truths
def exact_heights_1d(targets) -> np.ndarray:
    r"""The exact Brenier heights in one dimension, :math:`\mu = N(0, 1)`, shape (N,).

    In 1-D the OT map is the monotone rearrangement :math:`T^*(x) = F_
u^{-1}(\Phi(x))`:
    with the targets sorted, :math:`y_{(1)} < \dots < y_{(N)}`, cell k is the interval
    between :math:`x_{k-1} = \Phi^{-1}((k-1)/N)` and :math:`x_k = \Phi^{-1}(k/N)`. The
    line of cell k meets the line of cell k + 1 at :math:`x_k`, so
    :math:`b_{(k+1)} = b_{(k)} + x_k\,(y_{(k)} - y_{(k+1)})`; the result is centred to mean 0.
    targets : (N, 1), distinct. Returns the heights in the order of ``targets``.
    """
    from scipy.special import ndtri

    y = _targets(targets).numpy()
    if y.shape[1] != 1:
        raise ValueError(f"targets must have shape (N, 1) in one dimension, got {y.shape}")
    order = np.argsort(y[:, 0])
    ys = y[order, 0]
    if np.any(np.diff(ys) <= 0):
        raise ValueError("targets must be distinct")
    N = ys.size
    x_k = ndtri(np.arange(1, N) / N)
    b_sorted = np.concatenate([[0.0], np.cumsum(x_k * (ys[:-1] - ys[1:]))])
    b = np.empty(N)
    b[order] = b_sorted
    return b - b.mean()


def emd_agreement(targets, heights, n: int = 2000, seed: int = 0) -> float:
    r"""Share of n prior samples sent to the same target by :math:`T_b` and by exact discrete OT.

    Draws :math:`x_1..x_n \sim N(0, I_d)` (numpy generator ``seed``) and solves the
    discrete OT problem between the uniform law on them and the uniform law on the N
    targets exactly (POT's network simplex, ``ot.emd``, cost :math:`\lVert x - yVert^2`);
    sample i's exact target is the largest entry of its row of the plan. As n grows the
    discrete plan converges to the semi-discrete map, so the share tends to 1 for the
    exact heights; at finite n both maps disagree on a boundary layer of width about
    :math:`\sqrt{N/n}` cells.
    """
    import ot

    y = _targets(targets).numpy()
    b = _heights(heights, y.shape[0]).numpy()
    n = _count(n, "n")
    x = np.random.default_rng(seed).standard_normal((n, y.shape[1]))
    plan = ot.emd(np.full(n, 1.0 / n), np.full(y.shape[0], 1.0 / y.shape[0]), ot.dist(x, y),
                  numItermax=10_000_000)
    return float(np.mean(plan.argmax(1) == assign(x, y, b)))


__all__ += ["exact_heights_1d", "emd_agreement"]


# --------------------------------------------------------------------------- the sampler
def diffused_targets(x0, t: int, schedule: diffusion.Schedule, seed: int = 0) -> torch.Tensor:
    r"""The data latents at timestep t: :math:`y_j = \sqrt{\bar\alpha_t}\,x_0^{(j)} + \sqrt{1-\bar\alpha_t}\,\varepsilon_j`.

    x0 : (N, d) training points; t : integer timestep in 0 .. T-1; ``seed`` fixes the
    noises :math:`\varepsilon_j`. Returns a float32 tensor (N, d) (the forward process,
    Eq. (1) of Ho et al., via :func:`ddpm_ot_lib.diffusion.q_sample`).
    """
    if not isinstance(schedule, diffusion.Schedule):
        raise TypeError(f"schedule must be a ddpm_ot_lib.diffusion.Schedule, got {type(schedule).__name__}")
    x0 = _as_tensor_points(x0, "x0").float()
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < schedule.T:
        raise ValueError(f"t must be an integer timestep in 0 .. {schedule.T - 1}, got {t!r}")
    gen = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
    return diffusion.q_sample(x0, torch.full((x0.shape[0],), int(t), dtype=torch.long), noise, schedule)


def truncated_schedule(schedule: diffusion.Schedule, t_land: int) -> diffusion.Schedule:
    r"""The first ``t_land + 1`` noise levels of ``schedule`` (timesteps 0 .. t_land).

    :func:`ddpm_ot_lib.diffusion.ddim_sample` and ``ddpm_sample`` run on it start at
    timestep ``t_land`` instead of T - 1 and visit the same integer timesteps of the
    full schedule, so a trained model is called exactly as usual.
    """
    if not isinstance(schedule, diffusion.Schedule):
        raise TypeError(f"schedule must be a ddpm_ot_lib.diffusion.Schedule, got {type(schedule).__name__}")
    if isinstance(t_land, bool) or not isinstance(t_land, (int, np.integer)) or not 0 <= t_land < schedule.T:
        raise ValueError(f"t_land must be an integer timestep in 0 .. {schedule.T - 1}, got {t_land!r}")
    return diffusion.Schedule(schedule.betas[:t_land + 1], schedule.alpha_bar[:t_land + 1])


def expressway_sample(model, z, targets, heights, steps: int, t_land: int | None = None,
                      sampler: str = "ddim", generator: torch.Generator | None = None,
                      return_index: bool = False):
    r"""DPM-OT sampling: the OT jump :math:`z \mapsto T_b(z)`, then ``steps`` denoising steps.

    z : (n, d) prior samples :math:`N(0, I)`; targets, heights : the solved SDOT
    (:func:`solve_sdot`) whose targets are the data latents at timestep ``t_land``
    (:func:`diffused_targets`); steps : M, the number of network evaluations (NFE).
    ``t_land`` defaults to ``steps - 1``: the paper's expressway, which lands at step M
    and runs the last M steps of the chain one by one. A larger ``t_land`` lands at a
    noisier level and strides through it with DDIM's spacing
    (:func:`truncated_schedule`). ``sampler`` is "ddim" (η = 0, deterministic) or
    "ddpm" (ancestral, η = 1, noise from ``generator``).

    Returns x_0 (n, d) float32 tensor, and with ``return_index`` also the target index
    j(z) (n,) of every sample.
    """
    diffusion._check_model(model)
    schedule = diffusion._schedule_of(model, None)
    steps = diffusion._check_steps(steps, schedule.T)
    t_land = steps - 1 if t_land is None else t_land
    if isinstance(t_land, bool) or not isinstance(t_land, (int, np.integer)) or not steps - 1 <= t_land < schedule.T:
        raise ValueError(f"t_land must be an integer timestep in {steps - 1} .. {schedule.T - 1} "
                         f"(at least steps - 1 = {steps - 1}), got {t_land!r}")
    if sampler not in ("ddim", "ddpm"):
        raise ValueError(f"sampler must be 'ddim' or 'ddpm', got {sampler!r}")
    y = _targets(targets)
    idx = assign(z, y, heights)
    x = y[idx].float()
    sub = truncated_schedule(schedule, int(t_land))
    if sampler == "ddim":
        out = diffusion.ddim_sample(model, x, steps, schedule=sub)
    else:
        out = diffusion.ddpm_sample(model, x, steps, schedule=sub, generator=generator)
    return (out, idx) if return_index else out


def generate(model, method: str, nfe: int, n: int, seed: int = 0, targets=None, heights=None,
             t_land: int | None = None, d: int | None = None):
    r"""n samples from one of the samplers this chapter compares, at ``nfe`` network evaluations.

    method :
        ``"ddpm"`` — ancestral sampling, ``nfe`` steps from :math:`x_T \sim N(0, I)` (Ho et al.);
        ``"ddim"`` — DDIM, η = 0, ``nfe`` steps (Song et al., Eq. 12);
        ``"dpm-ot"`` — the OT jump to the targets, then ``nfe`` DDIM steps (Li et al.);
        ``"dpm-ot-ddpm"`` — the OT jump, then ``nfe`` ancestral steps;
        ``"uniform-target"`` — a control: a target drawn uniformly at random instead of
        :math:`T_b(z)`, then ``nfe`` DDIM steps. Its samples have exactly the law of
        ``"dpm-ot"`` when the cell masses are exactly 1/N.
    The prior sample z comes from a torch generator seeded by ``seed``, the ancestral noise
    and the control's draws from ``seed + 1``. ``targets``/``heights`` are the SDOT of the
    OT methods (:func:`solve_sdot` on :func:`diffused_targets` at ``t_land``, default
    ``nfe - 1``).

    Returns (x0, info): x0 a float32 tensor (n, d); info a dict with ``nfe`` (network calls
    counted by :class:`ddpm_ot_lib.diffusion.CountingEps`) and, for the target methods,
    ``index`` (n,), the target each sample started from.
    """
    methods = ("ddpm", "ddim", "dpm-ot", "dpm-ot-ddpm", "uniform-target")
    if method not in methods:
        raise ValueError(f"method must be one of {methods}, got {method!r}")
    counted = diffusion.CountingEps(diffusion._check_model(model))
    schedule = diffusion._schedule_of(model, None)
    nfe = diffusion._check_steps(nfe, schedule.T, "nfe")
    n = _count(n, "n")
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
    else:
        if targets is None or heights is None:
            raise ValueError(f"method {method!r} needs targets and heights (an SDOT solution)")
        y = _targets(targets)
        if method == "uniform-target":
            idx = torch.randint(y.shape[0], (n,), generator=noise_gen).numpy()
            t_land = nfe - 1 if t_land is None else t_land
            x = diffusion.ddim_sample(counted, y[idx].float(), nfe,
                                      schedule=truncated_schedule(schedule, int(t_land)))
        else:
            x, idx = expressway_sample(counted, z, y, heights, nfe, t_land=t_land,
                                       sampler="ddim" if method == "dpm-ot" else "ddpm",
                                       generator=noise_gen, return_index=True)
        info["index"] = np.asarray(idx)
    info["nfe"] = counted.calls
    return x.float(), info


__all__ += ["generate"]


# --------------------------------------------------------------------------- measurements
MIXTURES = {
    # name: (mode centres (K, 2), standard deviation of every mode)
    "8gaussians": (np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1), 0.05),
    "25gaussians": (np.stack(np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5)), -1).reshape(-1, 2), 0.05),
}


def mixture(name: str):
    r"""The 2-D test laws: ``(means (K, 2), sigma)`` of an equal-weight mixture of
    :math:`N(m_k, \sigma^2 I)`.

    ``"8gaussians"``: 8 modes on the unit circle (neighbours 0.765 = 15 σ apart);
    ``"25gaussians"``: a 5 × 5 grid on [-1, 1]² (neighbours 0.5 = 10 σ apart); σ = 0.05.
    """
    if name not in MIXTURES:
        raise ValueError(f"name must be one of {sorted(MIXTURES)}, got {name!r}")
    means, sigma = MIXTURES[name]
    return means.copy(), float(sigma)


def sample_mixture(name: str, n: int, seed: int = 0):
    """n points of :func:`mixture` ``(name)`` (numpy generator ``seed``): (x (n, 2), mode labels (n,))."""
    means, sigma = mixture(name)
    n = _count(n, "n")
    rng = np.random.default_rng(seed)
    labels = rng.integers(means.shape[0], size=n)
    return means[labels] + sigma * rng.standard_normal((n, 2)), labels


def mode_stats(x, means, sigma: float, k: float = 3.0, min_share: float = 0.01) -> dict:
    r"""Mode mixture and coverage of 2-D samples x (n, 2) against modes ``means`` (K, 2).

    * ``mixture``: the share of samples farther than :math:`k\sigma` from every mode
      (for the true law and k = 3 this is :math:`e^{-k^2/2} = 1.1\%`, the Rayleigh tail);
    * ``shares`` (K,): the share of samples within :math:`k\sigma` of each mode;
    * ``coverage``: the number of modes holding at least ``min_share`` of the samples.
    """
    x = check.points(x.detach().numpy() if isinstance(x, torch.Tensor) else x, "x", d=2)
    means = check.points(means, "means", d=2)
    sigma = check.positive(sigma, "sigma")
    k = check.positive(k, "k")
    dist = np.sqrt(((x[:, None, :] - means[None, :, :]) ** 2).sum(-1))
    near = dist.min(1) <= k * sigma
    shares = np.bincount(dist.argmin(1)[near], minlength=means.shape[0]) / x.shape[0]
    return {"mixture": float(1.0 - near.mean()), "shares": shares,
            "coverage": int((shares >= min_share).sum())}


def w2(x, y) -> float:
    r"""Exact :math:`W_2` between the uniform laws on x (n, d) and y (m, d): :math:`\sqrt{\texttt{ot.emd2}}`."""
    import ot

    x = _as_tensor_points(x, "x").numpy()
    y = _as_tensor_points(y, "y", d=x.shape[1]).numpy()
    a, b = np.full(x.shape[0], 1.0 / x.shape[0]), np.full(y.shape[0], 1.0 / y.shape[0])
    return float(np.sqrt(ot.emd2(a, b, ot.dist(x, y), numItermax=10_000_000)))


def sliced_w2(x, y, n_projections: int = 1000, seed: int = 0) -> float:
    r"""Sliced :math:`W_2` (``ot.sliced_wasserstein_distance``, p = 2) between uniform laws on x and y.

    :math:`SW_2^2 = \mathbb{E}_\theta\, W_2^2(\theta^\top_\# x, \theta^\top_\# y)` over directions
    θ uniform on the sphere, estimated with ``n_projections`` seeded directions.
    """
    import ot

    x = _as_tensor_points(x, "x").numpy()
    y = _as_tensor_points(y, "y", d=x.shape[1]).numpy()
    return float(ot.sliced_wasserstein_distance(x, y, n_projections=_count(n_projections, "n_projections"),
                                                p=2, seed=int(seed)))


def nearest_distance(x, ref, chunk: int = 2048) -> np.ndarray:
    r"""Distance from each row of x (n, d) to its nearest row of ``ref`` (m, d): shape (n,)."""
    x = _as_tensor_points(x, "x")
    ref = _as_tensor_points(ref, "ref", d=x.shape[1])
    chunk = _count(chunk, "chunk")
    out = [torch.cdist(x[s:s + chunk], ref, compute_mode="donot_use_mm_for_euclid_dist").min(1).values
           for s in range(0, x.shape[0], chunk)]
    return torch.cat(out).numpy()


def duplicate_share(index) -> float:
    r"""The share of samples that repeat an earlier one: :math:`1 - \#\mathrm{distinct}/n` of ``index`` (n,)."""
    idx = np.asarray(index)
    if idx.ndim != 1 or idx.size < 1:
        raise ValueError(f"index must be a non-empty 1-D array, got shape {idx.shape}")
    return float(1.0 - np.unique(idx).size / idx.size)


def digit_classifier(seed: int = 0):
    r"""A multinomial logistic regression on the digits' training split (pixels in [-1, 1]).

    Returns ``(classifier, test_accuracy)``; the held-out split is that of
    :func:`ddpm_ot_lib.images.digits`, so no test image was seen by it or by any model.
    """
    from sklearn.linear_model import LogisticRegression

    from . import images

    x_train, y_train = images.digits("train")
    x_test, y_test = images.digits("test")
    clf = LogisticRegression(C=0.1, max_iter=5000, random_state=seed)
    clf.fit(x_train.numpy().astype(np.float64), y_train)
    return clf, float(clf.score(x_test.numpy().astype(np.float64), y_test))


def class_stats(classifier, x, threshold: float = 0.5, min_share: float = 0.01) -> dict:
    r"""Mode mixture of digit samples x (n, 64) as the classifier sees it.

    ``mixture``: the share of samples whose largest class probability is below
    ``threshold`` (no class claims them); ``shares`` (10,): the share predicted as each
    digit; ``coverage``: digits predicted for at least ``min_share`` of the samples.
    """
    x = _as_tensor_points(x, "x").numpy()
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    prob = classifier.predict_proba(x)
    shares = np.bincount(prob.argmax(1), minlength=prob.shape[1]) / x.shape[0]
    return {"mixture": float((prob.max(1) < threshold).mean()), "shares": shares,
            "coverage": int((shares >= min_share).sum())}


__all__ += ["MIXTURES", "mixture", "sample_mixture", "mode_stats", "w2", "sliced_w2", "nearest_distance",
            "duplicate_share", "digit_classifier", "class_stats"]
