r"""Data laws with their data: the 2-D test mixtures of the DPM-OT chapter.

(The image data sets join this module in their own section; see the README's map.)
"""
from __future__ import annotations

import numpy as np

from . import _validate as check

__all__ = ["MIXTURES", "mixture", "sample_mixture"]


# --- 2-D test mixtures
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
    n = check.count(n, "n")
    rng = np.random.default_rng(seed)
    labels = rng.integers(means.shape[0], size=n)
    return means[labels] + sigma * rng.standard_normal((n, 2)), labels
