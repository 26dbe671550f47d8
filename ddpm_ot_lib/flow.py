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
