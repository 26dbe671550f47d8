r"""Semi-discrete optimal transport from :math:`N(0, I_d)` to N points, by dual ascent.

The first half of DPM-OT (Li et al., ICCV 2023, arXiv 2307.11308, §3.2-3.3): the
optimal map from the continuous prior :math:`\mu = N(0, I_d)` to the uniform law on N
points :math:`y_1, \dots, y_N` (in DPM-OT, training points diffused to step M).

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

(Gu, Luo, Sun & Yau 2016, Thm. 1.2; the negative of Kantorovich's semi-dual). DPM-OT's
released code (``ot_utils/optimal_transport.py`` of cognaclee/DPM-OT, inherited from
AE-OT) estimates the gradient by Monte Carlo and takes Adam steps on :math:`b`; its
Monte-Carlo source samples are drawn with ``torch.rand`` (uniform on :math:`[0, 1]^d`;
the ``torch.randn`` line is commented out). :func:`solve_sdot` takes the same steps with
Gaussian samples, a fresh batch each step, a decreasing step size, and a stopping rule
on the cell masses measured on a large *independent* sample.

Ground truths: :func:`exact_heights_1d` and :func:`exact_cell_masses_1d` (closed forms in
one dimension), :func:`emd_agreement` (exact discrete OT on many prior samples).
"""

from __future__ import annotations

import math
import time as _time
from typing import NamedTuple

import numpy as np
import torch

from . import _validate as check

__all__ = [
    "SDOTResult",
    "heights_from_dual",
    "dual_from_heights",
    "assign",
    "topk_cells",
    "sdot_map",
    "brenier_potential",
    "cell_masses",
    "mass_error",
    "mass_error_floor",
    "solve_sdot",
    "exact_heights_1d",
    "exact_cell_masses_1d",
    "emd_agreement",
]


# --------------------------------------------------------------------------- checks
def _targets(y, name="targets") -> torch.Tensor:
    return torch.from_numpy(check.points(check.array(y), name))


def _heights(b, n_targets: int, name="heights") -> torch.Tensor:
    return torch.from_numpy(check.vector(check.array(b), name, d=n_targets))


def _points(x, name: str, d: int | None = None) -> torch.Tensor:
    return torch.from_numpy(check.points(check.array(x), name, d=d))


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
        scores = torch.addmm(b[None, :], x[s : s + chunk], y.T)
        v, i = scores.max(dim=1)
        idx[s : s + chunk] = i
        if need_value:
            val[s : s + chunk] = v
    return idx, val


def assign(x, targets, heights, chunk: int = 4096) -> np.ndarray:
    r"""The Laguerre cell of each point: :math:`j(x) = \arg\max_j \langle x, y_j\rangle + b_j`.

    x : (n, d) points (e.g. prior samples); targets : (N, d); heights : (N,).
    Returns an integer array (n,). Computed in float64, ``chunk`` rows at a time.
    """
    y = _targets(targets)
    x = _points(x, "x", d=y.shape[1])
    b = _heights(heights, y.shape[0])
    return _argmax_scores(x, y, b, check.count(chunk, "chunk"))[0].numpy()


def topk_cells(x, targets, heights, k: int = 2) -> np.ndarray:
    r"""The k largest scores' cells of each point: indices (n, k), best first.

    Column 0 is :func:`assign`; column i the cell whose plane
    :math:`\langle x, y_j\rangle + b_j` is the (i+1)-th highest at x (the cell x would
    fall in if the better ones were removed). Used by the singular-point filter of
    :func:`ddpm_ot_lib.expressway.singular_filter`.
    """
    y = _targets(targets)
    x = _points(x, "x", d=y.shape[1])
    b = _heights(heights, y.shape[0])
    k = check.count(k, "k")
    if k > y.shape[0]:
        raise ValueError(f"k must be at most the number of targets {y.shape[0]}, got {k}")
    return torch.topk(torch.addmm(b[None, :], x, y.T), k, dim=1).indices.numpy()


def sdot_map(x, targets, heights, chunk: int = 4096) -> np.ndarray:
    r"""The semi-discrete OT map :math:`T_b(x) = y_{j(x)}`, shape (n, d) (see :func:`assign`)."""
    y = _targets(targets).numpy()
    return y[assign(x, targets, heights, chunk)]


def brenier_potential(x, targets, heights, chunk: int = 4096) -> np.ndarray:
    r"""The Brenier potential :math:`u_b(x) = \max_j \langle x, y_j\rangle + b_j`, shape (n,).

    Convex and piecewise linear; its gradient is :func:`sdot_map`.
    """
    y = _targets(targets)
    x = _points(x, "x", d=y.shape[1])
    b = _heights(heights, y.shape[0])
    return _argmax_scores(x, y, b, check.count(chunk, "chunk"), need_value=True)[1].numpy()


def cell_masses(targets, heights, n: int = 200_000, seed: int = 0, chunk: int = 4096) -> np.ndarray:
    r"""Monte-Carlo prior masses of the Laguerre cells, :math:`\hat\mu(W_j(b))`, shape (N,).

    Draws n points of :math:`N(0, I_d)` (torch generator seeded by ``seed``) and returns
    the share that falls in each cell. Each entry has standard error
    :math:`\sqrt{\mu_j(1-\mu_j)/n}`.
    """
    y = _targets(targets)
    b = _heights(heights, y.shape[0])
    n = check.count(n, "n")
    chunk = check.count(chunk, "chunk")
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
    N = check.count(n_targets, "n_targets", 2)
    n = check.count(n, "n")
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


def solve_sdot(
    targets,
    tol: float = 0.2,
    batch: int = 4096,
    lr: float | None = None,
    max_iter: int = 5000,
    n_check: int | None = None,
    check_every: int = 50,
    patience: int = 2,
    seed: int = 0,
    chunk: int = 4096,
    avg: float = 0.02,
    progress: bool = False,
) -> SDOTResult:
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
    batch = check.count(batch, "batch")
    max_iter = check.count(max_iter, "max_iter")
    check_every = check.count(check_every, "check_every")
    patience = check.count(patience, "patience")
    chunk = check.count(chunk, "chunk")
    n_check = 400 * N if n_check is None else check.count(n_check, "n_check")
    check_every = max(check_every, n_check // batch)
    floor = mass_error_floor(N, n_check)
    if tol <= floor:
        raise ValueError(
            f"tol = {tol} cannot be certified with n_check = {n_check} samples: the exact "
            f"solution would show an error of about {floor:.3g}; raise tol or n_check"
        )
    if lr is None:  # 0.1 x the median nearest-neighbour distance of the targets
        pick = torch.randperm(N, generator=torch.Generator().manual_seed(int(seed)))[:2000]
        dist = torch.cdist(y64[pick], y64, compute_mode="donot_use_mm_for_euclid_dist")
        dist[torch.arange(pick.numel()), pick] = math.inf
        lr = 0.1 * max(float(dist.min(1).values.median()), 1e-12)
    lr = check.positive(lr, "lr")
    from tqdm.auto import tqdm

    y = y64.float()  # the products in float32; b accumulates in float64
    gen = torch.Generator().manual_seed(int(seed))
    gen_check = torch.Generator().manual_seed(int(seed) + 1)
    x_check = torch.randn((n_check, d), generator=gen_check, dtype=torch.float32)

    def counts(x, b):
        return torch.bincount(_argmax_scores(x, y, b.float(), chunk)[0], minlength=N).double()

    b = -0.5 * (y64 * y64).sum(1)  # h = 0: the Voronoi cells of the targets
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
        b -= lr * (m_adam / (1 - 0.9**k)) / ((v_adam / (1 - 0.999**k)).sqrt() + 1e-12)
        b -= b.mean()
        b_avg.mul_(1.0 - avg).add_(b, alpha=avg)  # averaged iterate
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
            if stalled >= patience:  # no progress: half the step (stochastic approximation)
                lr, stalled = 0.5 * lr, 0
        bar.set_postfix(err=f"{err:.3f}", lr=f"{lr:.2g}")
    bar.close()
    return SDOTResult(
        y64.numpy().copy(),
        best["b"].numpy(),
        best["masses"].numpy(),
        best["err"],
        floor,
        converged,
        k,
        _time.perf_counter() - start,
        np.asarray(history, dtype=np.float64),
    )


# --------------------------------------------------------------------------- ground truths
def exact_heights_1d(targets) -> np.ndarray:
    r"""The exact Brenier heights in one dimension, :math:`\mu = N(0, 1)`, shape (N,).

    In 1-D the OT map is the monotone rearrangement :math:`T^*(x) = F_\nu^{-1}(\Phi(x))`:
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


def exact_cell_masses_1d(targets, heights) -> np.ndarray:
    r"""The exact prior masses :math:`\mu(W_j(b))` of the Laguerre cells in one dimension, (N,).

    In 1-D cell j is the interval where the line :math:`x y_j + b_j` is the highest:
    with the lines sorted by slope, :math:`W_j = [\max_{i<j} x_{ij}, \min_{i>j} x_{ij}]`
    with :math:`x_{ij} = (b_i - b_j)/(y_j - y_i)` where lines i and j cross (empty when
    the bounds cross), and :math:`\mu(W_j) = \Phi(\text{upper}) - \Phi(\text{lower})`.
    The ground truth against which Monte-Carlo masses (:func:`cell_masses`) are calibrated.
    targets : (N, 1), distinct; heights : (N,).
    """
    from scipy.special import ndtr

    y = _targets(targets).numpy()
    if y.shape[1] != 1:
        raise ValueError(f"targets must have shape (N, 1) in one dimension, got {y.shape}")
    b = _heights(heights, y.shape[0]).numpy()
    order = np.argsort(y[:, 0])
    ys, bs = y[order, 0], b[order]
    if np.any(np.diff(ys) <= 0):
        raise ValueError("targets must be distinct")
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = (bs[:, None] - bs[None, :]) / (ys[None, :] - ys[:, None])  # [i, j] = x_ij
    N = ys.size
    lower = np.array([cross[:j, j].max() if j else -np.inf for j in range(N)])
    upper = np.array([cross[j + 1 :, j].min() if j < N - 1 else np.inf for j in range(N)])
    mass_sorted = np.where(upper > lower, ndtr(upper) - ndtr(lower), 0.0)
    out = np.empty(N)
    out[order] = mass_sorted
    return out


def emd_agreement(targets, heights, n: int = 2000, seed: int = 0) -> float:
    r"""Share of n prior samples sent to the same target by :math:`T_b` and by exact discrete OT.

    Draws :math:`x_1..x_n \sim N(0, I_d)` (numpy generator ``seed``) and solves the
    discrete OT problem between the uniform law on them and the uniform law on the N
    targets exactly (POT's network simplex, ``ot.emd``, cost :math:`\lVert x - y\rVert^2`);
    sample i's exact target is the largest entry of its row of the plan. As n grows the
    discrete plan converges to the semi-discrete map, so the share tends to 1 for the
    exact heights; at finite n both maps disagree on a boundary layer of width about
    :math:`\sqrt{N/n}` cells.
    """
    import ot

    y = _targets(targets).numpy()
    b = _heights(heights, y.shape[0]).numpy()
    n = check.count(n, "n")
    x = np.random.default_rng(seed).standard_normal((n, y.shape[1]))
    plan = ot.emd(np.full(n, 1.0 / n), np.full(y.shape[0], 1.0 / y.shape[0]), ot.dist(x, y), numItermax=10_000_000)
    return float(np.mean(plan.argmax(1) == assign(x, y, b)))
