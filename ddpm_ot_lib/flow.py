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

__all__ = ["velocity", "encode", "decode"]


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

    sol = solve_ivp(rhs, (t_start, t_stop), x.ravel(), method="DOP853", rtol=rtol, atol=atol,
                    t_eval=t_eval, dense_output=False)
    if sol.status != 0:
        raise RuntimeError(f"the probability-flow ODE failed between t = {t_start} and {t_stop}: {sol.message}")
    if t_eval is None:
        out = sol.y[:, -1].reshape(shape)
    else:
        out = sol.y.T.reshape((len(t_eval),) + shape)
    if not np.all(np.isfinite(out)):
        raise RuntimeError("the probability-flow ODE produced NaN or inf")
    return out


def encode(x, score, t_max: float = 20.0, rtol: float = 1e-10, atol: float | None = None,
           t_eval=None) -> np.ndarray:
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


def decode(z, score, t_max: float = 20.0, rtol: float = 1e-10, atol: float | None = None,
           t_eval=None) -> np.ndarray:
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


def encode_with_jacobian(x, score, hessian, t_max: float = 20.0, rtol: float = 1e-10,
                         atol: float | None = None, t_eval=None):
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
