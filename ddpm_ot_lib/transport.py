r"""Transport costs and the optimality checks of the book.

Table 1's metric (§3.4): for samples :math:`x_i \sim p_0` and their codes
:math:`E(x_i)`,

.. math:: \varepsilon_{\mathrm{rel}} = \frac{\mathrm{Cost}(E) - \mathrm{Cost}(\mathrm{OT})}
                                           {\mathrm{Cost}(\mathrm{OT})},
          \qquad \mathrm{Cost}(E) = \frac1n \sum_i \lVert x_i - E(x_i)\rVert^2,

with :math:`\mathrm{Cost}(\mathrm{OT})` the exact discrete OT cost between the two
point clouds (uniform weights), computed here with POT's network simplex
(``ot.emd``). It is zero exactly when the pairing :math:`x_i \leftrightarrow E(x_i)`
is cyclically monotone on the sample, which many maps that are not optimal satisfy.
"""
from __future__ import annotations

import numpy as np
import ot

from . import _validate as check

__all__ = ["pairing_cost", "ot_cost", "ot_assignment", "relative_cost_error", "self_match_fraction"]


def _pair(x0, x1):
    x0 = check.points(x0, "x0")
    x1 = check.points(x1, "x1", d=x0.shape[1])
    if x1.shape[0] != x0.shape[0]:
        raise ValueError(f"x0 and x1 must hold the same number of points, got {x0.shape[0]} and {x1.shape[0]}")
    return x0, x1


def _plan(x0, x1):
    n = x0.shape[0]
    cost = ot.dist(x0, x1, metric="sqeuclidean")
    weights = np.full(n, 1.0 / n)
    plan, log = ot.emd(weights, weights, cost, numItermax=max(100_000, 50 * n * n), log=True)
    if log["warning"] is not None:
        raise RuntimeError(f"exact OT (ot.emd) did not converge: {log['warning']}")
    return cost, plan, float(log["cost"])


def pairing_cost(x0, x1) -> float:
    r""":math:`\frac1n\sum_i \lVert x0_i - x1_i\rVert^2`, the cost of the given pairing."""
    x0, x1 = _pair(x0, x1)
    return float(((x0 - x1) ** 2).sum(axis=1).mean())


def ot_cost(x0, x1) -> float:
    r"""Exact squared-Euclidean OT cost between two uniform point clouds (n, d) (``ot.emd``)."""
    x0, x1 = _pair(x0, x1)
    return _plan(x0, x1)[2]


def ot_assignment(x0, x1) -> np.ndarray:
    r"""The optimal permutation :math:`\sigma`: ``x0[i]`` is sent to ``x1[sigma[i]]``.

    With equal uniform weights the exact OT plan is a permutation matrix (Birkhoff);
    returns an integer array (n,).
    """
    x0, x1 = _pair(x0, x1)
    return _plan(x0, x1)[1].argmax(axis=1)


def self_match_fraction(x0, x1) -> float:
    """Share of points whose exact-OT partner is their own pair: mean of ``sigma[i] == i``."""
    sigma = ot_assignment(x0, x1)
    return float(np.mean(sigma == np.arange(sigma.size)))


def relative_cost_error(x0, x1) -> float:
    r"""Table 1's :math:`\varepsilon_{\mathrm{rel}}` (§3.4) for the pairing ``x0[i] -> x1[i]``.

    Parameters
    ----------
    x0 : array (n, d)  samples of the data law
    x1 : array (n, d)  their images under the map tested (e.g. the encoder E)

    Returns
    -------
    float >= -1e-12 in exact arithmetic >= 0: (Cost(E) - Cost(OT)) / Cost(OT).
    Both costs are read off the same cost matrix, so rounding is shared.
    """
    x0, x1 = _pair(x0, x1)
    cost, _, ot_value = _plan(x0, x1)
    if ot_value <= 0:
        raise ValueError("x0 and x1 coincide: the OT cost is 0 and the relative error is undefined")
    own = float(np.trace(cost)) / x0.shape[0]
    return (own - ot_value) / ot_value
