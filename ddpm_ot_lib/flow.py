r"""The probability-flow ODE (Eq. 9) and the DDPM encoder / decoder it defines.

.. math::  \frac{dx}{dt} = -\bigl(x + \nabla \log p_t(x)\bigr), \qquad
           E(x_0) = \lim_{t\to\infty} x_t .

The encoder runs the ODE forward from data (t = 0) to ``t_max``; the decoder runs it
backward from ``t_max`` to 0. Both use SciPy's adaptive Dormand–Prince 8(5,3)
integrator (``DOP853``) on all points at once: the step size is chosen for the
whole batch, with local error kept below ``atol + rtol * |x|`` component-wise (in
SciPy's RMS norm over the batch).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from . import _validate as check

__all__ = ["velocity", "encode", "encode_rk4", "decode", "AbsorbingScore"]


def velocity(x, t, score) -> np.ndarray:
    r"""Right-hand side of Eq. (9): :math:`-(x + \nabla\log p_t(x))`, shape (n, d)."""
    x = check.points(x, "x")
    check.function(score, "score")
    return -(x + _call_score(score, x, check.time(t)))


def _call_score(score, x: np.ndarray, t: float) -> np.ndarray:
    s = np.asarray(score(x, t), dtype=np.float64)
    if s.shape != x.shape:
        raise ValueError(f"score(x, t) must return an array of shape {x.shape} like x, got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"score(x, t) returned NaN or inf at t = {t:.6g}")
    return s


def _integrate(x, score, t_start, t_stop, t_eval, rtol, atol, name):
    x = check.points(x, name)
    check.function(score, "score")
    rtol = check.positive(rtol, "rtol")
    atol = rtol * 1e-2 if atol is None else check.positive(atol, "atol")
    shape = x.shape

    def rhs(t, y):
        pts = y.reshape(shape)
        return (-(pts + _call_score(score, pts, t))).ravel()

    sol = solve_ivp(
        rhs, (t_start, t_stop), x.ravel(), method="DOP853", rtol=rtol, atol=atol, t_eval=t_eval, dense_output=False
    )
    if sol.status != 0:
        raise RuntimeError(f"the probability-flow ODE failed between t = {t_start} and {t_stop}: {sol.message}")
    if t_eval is None:
        out = sol.y[:, -1].reshape(shape)
    else:
        out = sol.y.T.reshape((len(t_eval),) + shape)
    if not np.all(np.isfinite(out)):
        raise RuntimeError("the probability-flow ODE produced NaN or inf")
    return out


class AbsorbingScore:
    r"""A score that stops the points whose trajectory reaches :math:`p_t \le 0`.

    For a density that is positive everywhere (every density of the book but one
    family) :math:`p_t > 0` for t > 0 and Eq. (9) is defined everywhere. The paper's
    Eq. (15) density is not: between the Chebyshev nodes its interpolant is negative
    in places, :math:`p_t` keeps a zero set for a while, and near it the velocity
    :math:`-(x + \nabla p_t / p_t)` points *towards* the zero set with speed
    ~ 1/distance, so a trajectory starting close to it reaches it in finite time
    (distance s: :math:`s\,\dot s \approx -1`, reached at :math:`t \approx s_0^2/2`).
    There the encoder does not exist. This wrapper makes such a point stand still
    (velocity 0, score :math:`-x`) from the first time the integrator evaluates the
    score at it where :math:`p_t \le` ``floor``, and records which points were stopped
    and when; the others follow Eq. (9) unchanged (the ODE is one system per point).
    A floor above 0 is needed: the speed grows like 1/distance, so an adaptive
    integrator approaching the zero set shrinks its steps without ever evaluating past
    it; with a floor it stops the point at distance ~ floor / |∇p_t| instead.

    ``value_and_gradient(x, t)`` -> (:math:`p_t(x)` (n,), :math:`\nabla p_t(x)` (n, d));
    ``floor`` > 0, the value of :math:`p_t` at which a point is stopped.
    One instance serves one batch of n points (the row index is the point); ``stopped``
    (n,) bool and ``t_stopped`` (n,) float (NaN where not stopped) after the run;
    ``calls`` counts the evaluations. The paper's own code instead divides by
    :math:`p + 10^{-15}` and steps over the zero set with fixed-step RK4
    (``paper_code/fpdimod.py``).
    """

    def __init__(self, value_and_gradient, floor: float):
        self.fn = check.function(value_and_gradient, "value_and_gradient")
        self.floor = check.positive(floor, "floor")
        self.stopped = None
        self.t_stopped = None
        self.calls = 0

    def __call__(self, x, t):
        x = check.points(x, "x")
        if self.stopped is None:
            self.stopped = np.zeros(x.shape[0], dtype=bool)
            self.t_stopped = np.full(x.shape[0], np.nan)
        elif self.stopped.shape[0] != x.shape[0]:
            raise ValueError(f"x must hold the {self.stopped.shape[0]} points of this batch, got {x.shape[0]}")
        self.calls += 1
        val, grad = self.fn(x, t)
        val = np.asarray(val, dtype=np.float64)
        new = ~(val > self.floor) & ~self.stopped
        self.t_stopped[new] = t
        self.stopped |= new
        safe = np.where(self.stopped, 1.0, val)
        return np.where(self.stopped[:, None], -x, np.asarray(grad, dtype=np.float64) / safe[:, None])


def encode(x, score, t_max: float = 20.0, rtol: float = 1e-10, atol: float | None = None, t_eval=None) -> np.ndarray:
    r"""Run Eq. (9) forward from data points ``x`` at t = 0 to ``t_max``.

    Parameters
    ----------
    x : array (n, d)       data points
    score : callable       ``score(x, t)`` -> ∇ log p_t at points x, shape (n, d)
    t_max : float > 0      final time; E(x) is the limit t_max → ∞ (for Gaussian
                           data the mean still carries a factor e^{-t_max})
    rtol, atol : float     tolerances of the adaptive integrator (atol defaults to rtol/100)
    t_eval : array (m,)    optional non-decreasing times in [0, t_max] at which to
                           record the trajectories

    Returns
    -------
    array (n, d): the points at ``t_max``; or, if ``t_eval`` is given, array (m, n, d):
    the trajectories at the times ``t_eval``.
    """
    t_max = check.positive(t_max, "t_max")
    if t_eval is not None:
        t_eval = check.times(t_eval, "t_eval")
        if t_eval[-1] > t_max:
            raise ValueError(f"t_eval must lie in [0, t_max = {t_max}], got maximum {t_eval[-1]}")
    return _integrate(x, score, 0.0, t_max, t_eval, rtol, atol, "x")


def encode_rk4(x, score, t_max: float, n_steps: int) -> np.ndarray:
    r"""Eq. (9) from t = 0 by classical fixed-step RK4: ``n_steps`` steps of :math:`H = t_{max} / n`.

    The paper's integrator (``paper_code/fpdimod.py``, ``_ode_solve``): there H = 2h, twice
    the Fokker–Planck solver's time step h, so that the stages t, t + H/2, t + H fall on the
    solver's stored times, and its loop runs m/2 − 1 steps (it ends at 5 − 2h, not 5). The
    book's encoder is the adaptive :func:`encode`; this one measures the paper's pipeline
    (``benchmarks/table1.py --paper-pipeline``). Returns the points at ``t_max``, (n, d).
    """
    y = check.points(x, "x").copy()
    check.function(score, "score")
    t_max = check.positive(t_max, "t_max")
    n = check.positive_int(n_steps, "n_steps")
    H = t_max / n
    for k in range(n):
        t = k * H
        k1 = velocity(y, t, score)
        k2 = velocity(y + 0.5 * H * k1, t + 0.5 * H, score)
        k3 = velocity(y + 0.5 * H * k2, t + 0.5 * H, score)
        k4 = velocity(y + H * k3, t + H, score)
        y = y + H * (k1 + 2.0 * (k2 + k3) + k4) / 6.0
    return y


def decode(z, score, t_max: float = 20.0, rtol: float = 1e-10, atol: float | None = None, t_eval=None) -> np.ndarray:
    r"""Run Eq. (9) backward from latent points ``z`` at ``t_max`` to t = 0.

    Same arguments as :func:`encode`; ``t_eval``, if given, must be non-increasing from
    ``t_max`` towards 0 and the result is then array (m, n, d) in that order.
    """
    t_max = check.positive(t_max, "t_max")
    if t_eval is not None:
        rev = check.times(np.asarray(t_eval, dtype=float)[::-1], "t_eval (reversed)")
        if rev[-1] > t_max:
            raise ValueError(f"t_eval must lie in [0, t_max = {t_max}], got maximum {rev[-1]}")
        t_eval = rev[::-1]
    return _integrate(z, score, t_max, 0.0, t_eval, rtol, atol, "z")


# ---------------------------------------------------------------------------
# The variational equation: the Jacobian of the encoder along each trajectory
# (the beyond-Table-1 chapter; Lavenant & Santambrogio 2022).
# ---------------------------------------------------------------------------
def _call_hessian(hessian, x: np.ndarray, t: float) -> np.ndarray:
    h = np.asarray(hessian(x, t), dtype=np.float64)
    n, d = x.shape
    if h.shape != (n, d, d):
        raise ValueError(f"hessian(x, t) must return an array of shape {(n, d, d)}, got {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError(f"hessian(x, t) returned NaN or inf at t = {t:.6g}")
    return h


def encode_with_jacobian(
    x, score, hessian, t_max: float = 20.0, rtol: float = 1e-10, atol: float | None = None, t_eval=None
):
    r"""The encoder E(x) and its Jacobian DE(x), from Eq. (9) and its variational equation.

    Differentiating Eq. (9), :math:`\dot x = -(x + \nabla\log p_t(x))`, with respect to
    the starting point gives the variational equation for :math:`J_t = \partial x_t / \partial x_0`:

    .. math:: \frac{dJ}{dt} = -\bigl(I + \nabla^2\log p_t(x_t)\bigr)\,J, \qquad J_0 = I,

    integrated together with the trajectory (one DOP853 solve for the state
    :math:`(x, J)` of all points). At :math:`t_{max}` it is the Jacobian of the flow map,
    :math:`J = DE(x)` in the limit. An optimal transport map is the gradient of a convex
    function (Brenier), so its Jacobian is symmetric positive semi-definite; whether
    :math:`DE` is symmetric is the test of :func:`ddpm_ot_lib.transport.jacobian_asymmetry`
    (Lavenant & Santambrogio 2022 show that in general it is not).

    Parameters
    ----------
    x : array (n, d)       data points
    score : callable       ``score(x, t)`` -> :math:`\nabla\log p_t` at points x, shape (n, d)
    hessian : callable     ``hessian(x, t)`` -> :math:`\nabla^2\log p_t` at points x, shape (n, d, d)
    t_max : float > 0      final time (E is the limit t_max → ∞)
    rtol, atol : float     tolerances of the integrator on the whole state (atol defaults to rtol/100)
    t_eval : array (m,)    optional non-decreasing times in [0, t_max] to record

    Returns
    -------
    z : array (n, d) and J : array (n, d, d) at ``t_max``, with ``J[i, a, b]`` =
    :math:`\partial z_{i,a} / \partial x_{i,b}`; or with ``t_eval``, arrays (m, n, d) and
    (m, n, d, d).
    """
    x = check.points(x, "x")
    check.function(score, "score")
    check.function(hessian, "hessian")
    t_max = check.positive(t_max, "t_max")
    rtol = check.positive(rtol, "rtol")
    atol = rtol * 1e-2 if atol is None else check.positive(atol, "atol")
    if t_eval is not None:
        t_eval = check.times(t_eval, "t_eval")
        if t_eval[-1] > t_max:
            raise ValueError(f"t_eval must lie in [0, t_max = {t_max}], got maximum {t_eval[-1]}")
    n, d = x.shape
    split = n * d

    def rhs(t, y):
        pts = y[:split].reshape(n, d)
        jac = y[split:].reshape(n, d, d)
        dx = -(pts + _call_score(score, pts, t))
        dj = -(jac + np.matmul(_call_hessian(hessian, pts, t), jac))
        return np.concatenate([dx.ravel(), dj.ravel()])

    y0 = np.concatenate([x.ravel(), np.broadcast_to(np.eye(d), (n, d, d)).ravel()])
    sol = solve_ivp(rhs, (0.0, t_max), y0, method="DOP853", rtol=rtol, atol=atol, t_eval=t_eval)
    if sol.status != 0:
        raise RuntimeError(f"the variational equation failed between t = 0 and {t_max}: {sol.message}")
    ys = sol.y[:, -1:] if t_eval is None else sol.y
    if not np.all(np.isfinite(ys)):
        raise RuntimeError("the variational equation produced NaN or inf")
    z = ys[:split].T.reshape(-1, n, d)
    jac = ys[split:].T.reshape(-1, n, d, d)
    return (z[0], jac[0]) if t_eval is None else (z, jac)


__all__ += ["encode_with_jacobian"]
