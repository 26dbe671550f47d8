r"""Noise schedules of the VP-SDE (the paper's Eq. 5) and the change of time to Eq. (8).

The VP-SDE :math:`dx = -\tfrac12\beta(t)x\,dt + \sqrt{\beta(t)}\,dw` (Eq. 5) has the
Fokker–Planck equation :math:`\partial_t p = \tfrac{\beta(t)}{2}[\nabla\cdot(xp) + \Delta p]`
(Eq. 7) and the probability-flow ODE :math:`dx = -\tfrac{\beta(t)}{2}[x + \nabla\log p_t(x)]dt`
(Eq. 6). With the new time

.. math::  s(t) = \tfrac12 \int_0^t \beta(r)\,dr

both lose β: :math:`\partial_s p = \nabla\cdot(xp) + \Delta p` (Eq. 8) and
:math:`dx/ds = -(x + \nabla\log p_s(x))` (Eq. 9). The paper writes this as
":math:`dt := \frac{\beta(t)}{2}dt`". In the DDPM notation of Eq. (1),
:math:`\bar\alpha(t) = e^{-2s(t)}`, and DDIM's noise-to-signal ratio is
:math:`\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha} = \sqrt{e^{2s} - 1}`.

A :class:`VPSchedule` holds β and its time change in closed form: :func:`linear`
(Ho et al. 2020; Song et al. 2021b's ``beta_min``, ``beta_max``) and :func:`cosine`
(Nichol & Dhariwal 2021). :func:`encode_vp` integrates Eq. (6) in the schedule's own
time; :func:`ddim_encode` runs DDIM (Eq. 4) over a grid of σ, which is Euler's
method for Eq. (9) written in the variables :math:`(\sigma, x/\sqrt{\bar\alpha})`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.integrate import solve_ivp

from . import _validate as check

__all__ = [
    "VPSchedule",
    "linear",
    "cosine",
    "sigma_of_s",
    "s_of_sigma",
    "eps_from_score",
    "score_from_eps",
    "vp_velocity",
    "encode_vp",
    "ddim_encode",
    "discretize",
    "fokker_planck_residual",
]


@dataclass(frozen=True)
class VPSchedule:
    r"""A continuous noise schedule :math:`\beta(t)` with its time change in closed form.

    ``beta(t)``: β at times t (array); ``s(t)``: :math:`\tfrac12\int_0^t\beta`;
    ``t_of_s(s)``: the inverse; ``t_max``: the end of the schedule's time axis (``inf``
    if β is defined for all t >= 0). Build one with :func:`linear` or :func:`cosine`.
    """

    name: str
    beta: Callable
    s: Callable
    t_of_s: Callable
    t_max: float

    def alpha_bar(self, t) -> np.ndarray:
        r""":math:`\bar\alpha(t) = e^{-2 s(t)}` (Eq. 1's :math:`\prod(1-\beta)` in the limit)."""
        return np.exp(-2.0 * self.s(t))


def _times(t, schedule_name: str, t_max: float) -> np.ndarray:
    arr = check.finite(check.float_array(t, "t"), "t")
    if np.any(arr < 0) or np.any(arr >= t_max if math.isfinite(t_max) else False):
        raise ValueError(
            f"t must lie in [0, {t_max:g}) for the {schedule_name} schedule, "
            f"got values in [{arr.min():g}, {arr.max():g}]"
        )
    return arr


def _s_values(s) -> np.ndarray:
    arr = check.finite(check.float_array(s, "s"), "s")
    if np.any(arr < 0):
        raise ValueError(f"s must be >= 0, got minimum {arr.min():g}")
    return arr


def linear(beta_min: float = 0.1, beta_max: float = 20.0) -> VPSchedule:
    r"""Linear :math:`\beta(t) = \beta_\min + (\beta_\max - \beta_\min)t`, for t >= 0.

    :math:`s(t) = \tfrac12(\beta_\min t + \tfrac12(\beta_\max-\beta_\min)t^2)`. The
    defaults are Song et al.'s VP-SDE, the continuous form of Ho et al.'s
    :math:`\beta_k` from 1e-4 to 0.02 in T = 1000 steps (:math:`\beta(k/T) = T\beta_k`).
    t may run past 1 (β keeps growing linearly), so that s can be taken as large as
    an encoder limit needs.
    """
    lo = check.positive(beta_min, "beta_min")
    hi = check.positive(beta_max, "beta_max")
    if hi < lo:
        raise ValueError(f"beta_max must be >= beta_min = {lo}, got {hi}")
    slope = hi - lo
    name = "linear"

    def beta(t):
        return lo + slope * _times(t, name, math.inf)

    def s(t):
        t = _times(t, name, math.inf)
        return 0.5 * (lo * t + 0.5 * slope * t * t)

    def t_of_s(s_val):
        s_val = _s_values(s_val)
        if slope == 0.0:
            return 2.0 * s_val / lo
        return 4.0 * s_val / (lo + np.sqrt(lo * lo + 4.0 * slope * s_val))  # stable root

    return VPSchedule(name, beta, s, t_of_s, math.inf)


def cosine(offset: float = 0.008) -> VPSchedule:
    r"""Nichol & Dhariwal's cosine schedule: :math:`\bar\alpha(t) = f(t)/f(0)`,
    :math:`f(t) = \cos^2\bigl(\tfrac{\pi}{2}\tfrac{t + c}{1 + c}\bigr)`, for t in [0, 1).

    :math:`\beta(t) = -\frac{d}{dt}\log\bar\alpha = \frac{\pi}{1+c}\tan\bigl(\tfrac{\pi}{2}
    \tfrac{t+c}{1+c}\bigr)` and :math:`s(t) = \log\cos u_0 - \log\cos u(t)`; s → ∞ as
    t → 1 (the discrete schedule clips β there; the continuous one need not).
    """
    c = check.positive(offset, "offset")
    u0 = 0.5 * math.pi * c / (1.0 + c)
    name = "cosine"

    def u(t):
        return 0.5 * math.pi * (_times(t, name, 1.0) + c) / (1.0 + c)

    def beta(t):
        return math.pi / (1.0 + c) * np.tan(u(t))

    def s(t):
        return math.log(math.cos(u0)) - np.log(np.cos(u(t)))

    def t_of_s(s_val):
        s_val = _s_values(s_val)
        return np.arccos(math.cos(u0) * np.exp(-s_val)) * 2.0 * (1.0 + c) / math.pi - c

    return VPSchedule(name, beta, s, t_of_s, 1.0)


def sigma_of_s(s) -> np.ndarray:
    r"""DDIM's :math:`\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha} = \sqrt{e^{2s} - 1}`."""
    return np.sqrt(np.expm1(2.0 * _s_values(s)))


def s_of_sigma(sigma) -> np.ndarray:
    r"""The inverse of :func:`sigma_of_s`: :math:`s = \tfrac12\log(1 + \sigma^2)`."""
    arr = check.finite(check.float_array(sigma, "sigma"), "sigma")
    if np.any(arr < 0):
        raise ValueError(f"sigma must be >= 0, got minimum {arr.min():g}")
    return 0.5 * np.log1p(arr * arr)


def eps_from_score(score, s) -> np.ndarray:
    r"""The noise that the exact predictor returns, :math:`\varepsilon = -\sqrt{1-\bar\alpha}\,
    \nabla\log p` with :math:`\bar\alpha = e^{-2s}` (Eq. 3, with the sign the paper omits).

    score : array (n, d) of :math:`\nabla\log p_s`; s : float >= 0. Returns (n, d).
    """
    return -math.sqrt(-math.expm1(-2.0 * check.time(s, "s"))) * np.asarray(score, dtype=np.float64)


def score_from_eps(eps, s) -> np.ndarray:
    r"""Eq. (3) with its sign: :math:`\nabla\log p = -\varepsilon / \sqrt{1-\bar\alpha}` (s > 0)."""
    s = check.positive(s, "s")
    return -np.asarray(eps, dtype=np.float64) / math.sqrt(-math.expm1(-2.0 * s))


def vp_velocity(x, t, score, schedule: VPSchedule) -> np.ndarray:
    r"""Right-hand side of Eq. (6): :math:`-\tfrac{\beta(t)}{2}[x + \nabla\log p_t(x)]`.

    ``score(x, s)`` is the score of Eq. (8)'s marginal at time s; the VP-SDE's marginal
    at time t is that of Eq. (8) at s(t), so it is called at ``schedule.s(t)``.
    """
    x = check.points(x, "x")
    check.function(score, "score")
    if not isinstance(schedule, VPSchedule):
        raise TypeError(f"schedule must be a VPSchedule, got {type(schedule).__name__}")
    b = float(schedule.beta(t))
    g = np.asarray(score(x, float(schedule.s(t))), dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError(f"score(x, s) must return shape {x.shape} like x, got {g.shape}")
    return -0.5 * b * (x + g)


def encode_vp(x, score, schedule: VPSchedule, s_end: float, rtol: float = 1e-10, t_eval=None) -> np.ndarray:
    r"""Integrate Eq. (6) in the schedule's own time t, from 0 to :math:`t(s_\mathrm{end})`.

    x : (n, d) data; score(x, s) : the score of Eq. (8)'s marginal; s_end > 0: where
    to stop, in the time of Eq. (8) (so that schedules can be compared at the same
    noise level); t_eval : optional non-decreasing times of the schedule's clock in
    [0, t(s_end)] to record. DOP853 with ``rtol`` and ``atol = rtol / 100``.
    Returns (n, d), or (m, n, d) with ``t_eval``.
    """
    x = check.points(x, "x")
    s_end = check.positive(s_end, "s_end")
    rtol = check.positive(rtol, "rtol")
    t_end = float(schedule.t_of_s(s_end)) if isinstance(schedule, VPSchedule) else None
    if t_eval is not None and t_end is not None:
        t_eval = check.times(t_eval, "t_eval")
        if t_eval[-1] > t_end:
            raise ValueError(f"t_eval must lie in [0, t(s_end) = {t_end:.6g}], got maximum {t_eval[-1]:.6g}")
    shape = x.shape

    def rhs(t, y):
        return vp_velocity(y.reshape(shape), t, score, schedule).ravel()

    vp_velocity(x, 0.0, score, schedule)  # check the arguments once
    sol = solve_ivp(rhs, (0.0, t_end), x.ravel(), method="DOP853", rtol=rtol, atol=rtol * 1e-2, t_eval=t_eval)
    if sol.status != 0:
        raise RuntimeError(f"Eq. (6) failed for the {schedule.name} schedule: {sol.message}")
    if t_eval is not None:
        return sol.y.T.reshape((len(t_eval),) + shape)
    return sol.y[:, -1].reshape(shape)


def ddim_encode(x, eps, sigmas) -> np.ndarray:
    r"""DDIM inversion (Eq. 4, η = 0) over the noise levels ``sigmas``, in closed form per step.

    x : (n, d) data at σ = sigmas[0]; eps(x, s) : the noise predictor at Eq. (8)'s time
    s (e.g. the exact one, :func:`eps_from_score`); sigmas : increasing, >= 0. Each step
    is :func:`ddpm_ot_lib.diffusion.ddim_step` from :math:`\bar\alpha = 1/(1+\sigma_k^2)`
    to :math:`1/(1+\sigma_{k+1}^2)`; in :math:`\bar x = x/\sqrt{\bar\alpha}` it reads
    :math:`\bar x_{k+1} = \bar x_k + (\sigma_{k+1}-\sigma_k)\,\varepsilon(x_k)`, Euler's
    method for Eq. (9) in the variable σ. Returns (n, d) at sigmas[-1].
    """
    import torch

    from .diffusion import ddim_step

    x = check.points(x, "x")
    check.function(eps, "eps")
    sig = check.finite(check.float_array(sigmas, "sigmas"), "sigmas")
    if sig.ndim != 1 or sig.size < 2 or sig[0] < 0 or np.any(np.diff(sig) <= 0):
        raise ValueError("sigmas must be a strictly increasing 1-D array of >= 2 noise levels >= 0")
    a = 1.0 / (1.0 + sig * sig)
    s_vals = s_of_sigma(sig)
    state = torch.as_tensor(x)
    for k in range(sig.size - 1):
        e = np.asarray(eps(state.numpy(), float(s_vals[k])), dtype=np.float64)
        state = ddim_step(torch.as_tensor(e), state, float(a[k]), float(a[k + 1]))
    return state.numpy().copy()


def discretize(schedule: VPSchedule, T: int):
    r"""The discrete DDPM schedule of Eq. (1) with T steps that samples ``schedule``.

    :math:`\beta_k = 1 - \bar\alpha(k/T)/\bar\alpha((k-1)/T)`, k = 1 .. T, so that
    :math:`\prod_{j\le k}(1-\beta_j) = \bar\alpha(k/T)` exactly (for the cosine schedule
    the last β would be 1; it is clipped at 0.999 as Nichol & Dhariwal do). Returns a
    :class:`ddpm_ot_lib.diffusion.Schedule`.
    """
    import torch

    from .diffusion import Schedule

    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")
    if not isinstance(schedule, VPSchedule):
        raise TypeError(f"schedule must be a VPSchedule, got {type(schedule).__name__}")
    grid = np.arange(T + 1) / T
    if math.isfinite(schedule.t_max):
        grid = np.minimum(grid, np.nextafter(schedule.t_max, 0.0))
    ab = schedule.alpha_bar(grid)
    betas = np.clip(1.0 - ab[1:] / ab[:-1], 0.0, 0.999)
    b = torch.as_tensor(betas, dtype=torch.float64)
    return Schedule(b, torch.cumprod(1.0 - b, dim=0))


def fokker_planck_residual(x, s, log_density, score, hessian, ds: float = 1e-4) -> np.ndarray:
    r"""How far :math:`\log p_s` is from solving Eq. (8), at points x.

    Divided by p, Eq. (8) reads :math:`\partial_s \log p = d + x\cdot g + \operatorname{tr} H
    + |g|^2` with :math:`g = \nabla\log p_s`, :math:`H = \nabla^2\log p_s`. Returns the
    difference of the two sides, the left by a central difference of step ``ds``
    (error :math:`O(ds^2)`), at each of the n points: array (n,).
    log_density(x, s) -> (n,), score -> (n, d), hessian -> (n, d, d).
    """
    x = check.points(x, "x")
    s = check.time(s, "s")
    ds = check.positive(ds, "ds")
    if ds > s:
        raise ValueError(f"ds must be <= s = {s} (a central difference at s), got {ds}")
    for f, name in ((log_density, "log_density"), (score, "score"), (hessian, "hessian")):
        check.function(f, name)
    dlog = (np.asarray(log_density(x, s + ds)) - np.asarray(log_density(x, s - ds))) / (2.0 * ds)
    g = np.asarray(score(x, s))
    h = np.asarray(hessian(x, s))
    rhs = x.shape[1] + (x * g).sum(axis=1) + np.trace(h, axis1=1, axis2=2) + (g * g).sum(axis=1)
    return dlog - rhs
