r"""Gaussian data under the forward process: everything in closed form (§3.3, App. B).

For data :math:`X_0 \sim N(a, \Sigma)` the forward SDE after the time change of
Eq. (8), :math:`dX = -X\,dt + \sqrt{2}\,dW`, keeps the law Gaussian:

.. math::  p_t = N\bigl(a e^{-t},\; \Sigma_t\bigr), \qquad
           \Sigma_t = I + e^{-2t}(\Sigma - I).

The probability-flow ODE (Eq. 9) is linear in :math:`x`, and since every
:math:`\Sigma_t` is a function of :math:`\Sigma` they all commute, so its flow is
explicit: :math:`x_t = a e^{-t} + \Sigma_t^{1/2}\Sigma^{-1/2}(x - a)`. As
:math:`t \to \infty` it tends to :math:`E(x) = \Sigma^{-1/2}(x - a)`, the Monge map
from :math:`N(a, \Sigma)` to :math:`N(0, I)` (Theorem 3.1).
"""
from __future__ import annotations

import numpy as np

from . import _validate as check

__all__ = ["marginal", "score", "log_density", "flow_map", "ot_map", "sqrtm", "inv_sqrtm"]


def _sym_power(cov: np.ndarray, power: float) -> np.ndarray:
    lam, q = np.linalg.eigh(cov)
    return (q * lam**power) @ q.T


def sqrtm(cov) -> np.ndarray:
    r""":math:`\Sigma^{1/2}`, the symmetric square root of an SPD matrix (d, d)."""
    return _sym_power(check.spd_matrix(cov, "cov"), 0.5)


def inv_sqrtm(cov) -> np.ndarray:
    r""":math:`\Sigma^{-1/2}`, the symmetric inverse square root of an SPD matrix (d, d)."""
    return _sym_power(check.spd_matrix(cov, "cov"), -0.5)


def _params(mean, cov):
    a = check.vector(mean, "mean")
    sigma = check.spd_matrix(cov, "cov", d=a.shape[0])
    return a, sigma


def _marginal(a, sigma, t):
    decay = np.exp(-2.0 * t)
    cov_t = np.eye(a.shape[0]) + decay * (sigma - np.eye(a.shape[0]))
    return a * np.exp(-t), 0.5 * (cov_t + cov_t.T)


def marginal(mean, cov, t):
    r"""Mean and covariance of :math:`p_t` for :math:`p_0 = N(a, \Sigma)` (App. B).

    :math:`a_t = a e^{-t}`, :math:`\Sigma_t = I + e^{-2t}(\Sigma - I)`.

    Parameters
    ----------
    mean : array (d,)      the data mean a
    cov : array (d, d)     the data covariance Σ, symmetric positive definite
    t : float >= 0         time in the units of Eq. (8)

    Returns
    -------
    mean_t : array (d,), cov_t : array (d, d)
    """
    a, sigma = _params(mean, cov)
    return _marginal(a, sigma, check.time(t))


def score(x, t, mean, cov) -> np.ndarray:
    r""":math:`\nabla \log p_t(x) = -\Sigma_t^{-1}(x - a e^{-t})` at points ``x`` (n, d)."""
    a, sigma = _params(mean, cov)
    x = check.points(x, "x", d=a.shape[0])
    mean_t, cov_t = _marginal(a, sigma, check.time(t))
    return -np.linalg.solve(cov_t, (x - mean_t).T).T


def log_density(x, t, mean, cov) -> np.ndarray:
    r""":math:`\log p_t(x)` at points ``x`` (n, d); returns shape (n,)."""
    a, sigma = _params(mean, cov)
    x = check.points(x, "x", d=a.shape[0])
    mean_t, cov_t = _marginal(a, sigma, check.time(t))
    chol = np.linalg.cholesky(cov_t)
    z = np.linalg.solve(chol, (x - mean_t).T)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (z**2).sum(axis=0) - 0.5 * (a.shape[0] * np.log(2 * np.pi) + logdet)


def flow_map(x, t, mean, cov) -> np.ndarray:
    r"""Exact solution of the probability-flow ODE (Eq. 9) from time 0 to ``t``.

    :math:`x_t = a e^{-t} + \Sigma_t^{1/2}\Sigma^{-1/2}(x - a)` (App. B; the
    matrices commute because :math:`\Sigma_t` is a polynomial in :math:`\Sigma`).

    x : array (n, d) points at time 0; returns array (n, d).
    """
    a, sigma = _params(mean, cov)
    x = check.points(x, "x", d=a.shape[0])
    mean_t, cov_t = _marginal(a, sigma, check.time(t))
    lam, q = np.linalg.eigh(sigma)
    lam_t = 1.0 + np.exp(-2.0 * check.time(t)) * (lam - 1.0)
    gain = (q * np.sqrt(lam_t / lam)) @ q.T
    return mean_t + (x - a) @ gain.T


def ot_map(x, mean, cov) -> np.ndarray:
    r"""Monge map from :math:`N(a, \Sigma)` to :math:`N(0, I)`: :math:`\Sigma^{-1/2}(x - a)`.

    Theorem 3.1: this is also the DDPM encoder :math:`E(x) = \lim_{t\to\infty} x_t`.
    x : array (n, d); returns array (n, d).
    """
    a, sigma = _params(mean, cov)
    x = check.points(x, "x", d=a.shape[0])
    return (x - a) @ _sym_power(sigma, -0.5)
