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


# ---------------------------------------------------------------------------
# Gaussian mixtures under the forward process (used in 1-D in the optimal
# transport chapter: a mixture stays a mixture, so its score is exact).
# ---------------------------------------------------------------------------
def mixture_params(weights, means, covs):
    """Checked mixture parameters ``(w (k,), m (k, d), c (k, d, d))``: weights positive and
    summing to 1, one mean row and one SPD covariance per weight. Raises ``ValueError``
    naming the argument. Shared with :mod:`counterexamples`."""
    w = check.vector(weights, "weights")
    if np.any(w <= 0) or abs(w.sum() - 1.0) > 1e-10:
        raise ValueError(f"weights must be positive and sum to 1, got {w} (sum {w.sum():.6g})")
    m = check.points(means, "means")
    if m.shape[0] != w.size:
        raise ValueError(f"means must have one row per weight ({w.size}), got shape {m.shape}")
    d = m.shape[1]
    try:
        arr = np.asarray(covs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"covs must be an array of real numbers, got {type(covs).__name__}") from exc
    if arr.ndim != 3 or arr.shape != (w.size, d, d):
        raise ValueError(f"covs must have shape (k, d, d) = ({w.size}, {d}, {d}), got shape {np.shape(covs)}")
    c = np.stack([check.spd_matrix(arr[i], f"covs[{i}]", d=d) for i in range(w.size)])
    return w, m, c


def _mixture_marginal(w, m, c, t):
    decay = np.exp(-2.0 * t)
    eye = np.eye(m.shape[1])
    covs_t = eye + decay * (c - eye)
    return w, m * np.exp(-t), 0.5 * (covs_t + np.swapaxes(covs_t, 1, 2))


def mixture_marginal(weights, means, covs, t):
    r"""The law :math:`p_t` of the forward process (Eq. 8) started from a Gaussian mixture.

    The Ornstein–Uhlenbeck transition is Gaussian and linear in the start point, so
    each component :math:`N(m_k, S_k)` evolves on its own as in App. B and the weights
    are kept:

    .. math:: p_0 = \sum_k w_k N(m_k, S_k) \;\Longrightarrow\;
              p_t = \sum_k w_k N\bigl(m_k e^{-t},\; I + e^{-2t}(S_k - I)\bigr).

    Parameters
    ----------
    weights : array (k,)        positive, summing to 1
    means : array (k, d)        component means m_k
    covs : array (k, d, d)      component covariances S_k, each SPD
    t : float >= 0              time in the units of Eq. (8)

    Returns
    -------
    weights : array (k,), means_t : array (k, d), covs_t : array (k, d, d)
    """
    w, m, c = mixture_params(weights, means, covs)
    return _mixture_marginal(w, m, c, check.time(t))


def _mixture_terms(x, t, weights, means, covs):
    """Per-component log(w_k N(x; m_k(t), S_k(t))) (n, k) and Σ_k(t)^{-1}(x - m_k(t)) (k, n, d)."""
    w, m, c = mixture_params(weights, means, covs)
    x = check.points(x, "x", d=m.shape[1])
    w, m_t, c_t = _mixture_marginal(w, m, c, check.time(t))
    d = m.shape[1]
    logs, whitened = [], []
    for k in range(w.size):
        chol = np.linalg.cholesky(c_t[k])
        diff = (x - m_t[k]).T
        z = np.linalg.solve(chol, diff)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        logs.append(np.log(w[k]) - 0.5 * (z**2).sum(axis=0) - 0.5 * (d * np.log(2 * np.pi) + logdet))
        whitened.append(np.linalg.solve(chol.T, z).T)
    return np.stack(logs, axis=1), np.stack(whitened)


def mixture_log_density(x, t, weights, means, covs) -> np.ndarray:
    r""":math:`\log p_t(x)` for a Gaussian-mixture start (see :func:`mixture_marginal`).

    x : array (n, d); returns array (n,). Computed with a log-sum-exp over components.
    """
    logs, _ = _mixture_terms(x, t, weights, means, covs)
    top = logs.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(logs - top).sum(axis=1, keepdims=True)))[:, 0]


def mixture_score(x, t, weights, means, covs) -> np.ndarray:
    r"""Exact score :math:`\nabla\log p_t(x)` of a Gaussian mixture under Eq. (8).

    .. math:: \nabla\log p_t(x) = -\sum_k r_k(x)\, S_k(t)^{-1}\bigl(x - m_k e^{-t}\bigr),
              \qquad r_k(x) = \frac{w_k N(x; m_k(t), S_k(t))}{p_t(x)},

    the responsibilities :math:`r_k` computed stably in log space. This is the score
    that the probability-flow ODE (Eq. 9) needs; pass
    ``lambda x, t: mixture_score(x, t, w, m, S)`` to :func:`ddpm_ot_lib.flow.encode`.

    x : array (n, d); returns array (n, d).
    """
    logs, whitened = _mixture_terms(x, t, weights, means, covs)
    resp = np.exp(logs - logs.max(axis=1, keepdims=True))
    resp /= resp.sum(axis=1, keepdims=True)
    return -np.einsum("nk,knd->nd", resp, whitened)


def mixture_cdf(x, t, weights, means, covs, upper: bool = False) -> np.ndarray:
    r"""Distribution function of a 1-D Gaussian mixture under Eq. (8): :math:`F_t(x)`.

    .. math:: F_t(x) = \sum_k w_k\, \Phi\!\left(\frac{x - m_k e^{-t}}{s_k(t)}\right),
              \qquad s_k(t)^2 = 1 + e^{-2t}(s_k^2 - 1).

    With ``upper=True`` returns :math:`1 - F_t(x)` computed without cancellation
    (needed in the right tail, e.g. by :func:`ddpm_ot_lib.transport.quantile_map_1d`).

    x : array (n, 1); means (k, 1); covs (k, 1, 1). Returns array (n,).
    """
    from scipy.special import ndtr

    w, m, c = mixture_params(weights, means, covs)
    if m.shape[1] != 1:
        raise ValueError(f"mixture_cdf is one-dimensional: means must have shape (k, 1), got {m.shape}")
    x = check.points(x, "x", d=1)
    w, m_t, c_t = _mixture_marginal(w, m, c, check.time(t))
    u = (x[:, 0][:, None] - m_t[:, 0][None, :]) / np.sqrt(c_t[:, 0, 0])[None, :]
    return (w[None, :] * ndtr(-u if upper else u)).sum(axis=1)


__all__ += ["mixture_params", "mixture_marginal", "mixture_log_density", "mixture_score", "mixture_cdf"]


# ---------------------------------------------------------------------------
# Hessian of log p_t for a Gaussian mixture (the beyond-Table-1 chapter: the
# variational equation of the probability-flow ODE needs it).
# ---------------------------------------------------------------------------
def mixture_hessian(x, t, weights, means, covs) -> np.ndarray:
    r"""Exact Hessian :math:`\nabla^2\log p_t(x)` of a Gaussian mixture under Eq. (8).

    With :math:`g_k = -S_k(t)^{-1}(x - m_k e^{-t})` the score of component k, the
    responsibilities :math:`r_k(x)` of :func:`mixture_score` and
    :math:`s = \sum_k r_k g_k = \nabla\log p_t`,

    .. math:: \nabla^2\log p_t(x) = -\sum_k r_k\, S_k(t)^{-1}
              + \sum_k r_k\,(g_k - s)(g_k - s)^{\mathsf T},

    the mean of the component Hessians plus the covariance of the component scores
    under :math:`r` (written as a covariance, so that no large terms cancel). It is the
    matrix :math:`\nabla^2\log p_t` of the variational equation
    :math:`\dot J = -(I + \nabla^2\log p_t)\,J` (:func:`ddpm_ot_lib.flow.encode_with_jacobian`).

    x : array (n, d); returns array (n, d, d), symmetric.
    """
    w, m, c = mixture_params(weights, means, covs)
    x = check.points(x, "x", d=m.shape[1])
    t = check.time(t)
    logs, whitened = _mixture_terms(x, t, w, m, c)
    resp = np.exp(logs - logs.max(axis=1, keepdims=True))
    resp /= resp.sum(axis=1, keepdims=True)
    _, _, c_t = _mixture_marginal(w, m, c, t)
    prec = np.linalg.inv(c_t)
    prec = 0.5 * (prec + np.swapaxes(prec, 1, 2))
    g = -whitened  # (k, n, d) component scores
    s = np.einsum("nk,knd->nd", resp, g)
    dev = g - s[None]
    hess = -np.einsum("nk,kij->nij", resp, prec) + np.einsum("nk,kni,knj->nij", resp, dev, dev)
    return 0.5 * (hess + np.swapaxes(hess, 1, 2))


__all__ += ["mixture_hessian"]
