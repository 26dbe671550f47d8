"""Argument checks shared by every public function of :mod:`ddpm_ot_lib`.

Each helper returns the argument as a float64 array (or float) and raises
``ValueError`` / ``TypeError`` whose message names the argument and says what was
expected, so that bad input fails loudly instead of propagating NaNs.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "finite",
    "float_array",
    "points",
    "paired_points",
    "vector",
    "spd_matrix",
    "time",
    "times",
    "positive",
    "function",
    "positive_int",
    "interval",
    "tt",
    "count",
    "array",
]


def finite(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` unchanged if every entry is finite."""
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return arr


def float_array(value, name: str) -> np.ndarray:
    """``value`` as a float64 array of any shape (TypeError naming ``name`` if it is not numeric)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__}") from exc
    return arr


def points(x, name: str = "x", d: int | None = None) -> np.ndarray:
    """``x`` as a finite float array of shape (n, d), n >= 1."""
    arr = float_array(x, name)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, d) with n, d >= 1, got shape {arr.shape}")
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name} must have {d} columns (dimension d = {d}), got shape {arr.shape}")
    return finite(arr, name)


def paired_points(x0, x1, names=("x0", "x1")) -> tuple[np.ndarray, np.ndarray]:
    """Two point clouds (n, d) of the same shape: the i-th point of one is paired with the i-th of the other."""
    n0, n1 = names
    x0 = points(x0, n0)
    x1 = points(x1, n1, d=x0.shape[1])
    if x1.shape[0] != x0.shape[0]:
        raise ValueError(f"{n0} and {n1} must hold the same number of points, got {x0.shape[0]} and {x1.shape[0]}")
    return x0, x1


def vector(a, name: str, d: int | None = None) -> np.ndarray:
    """``a`` as a finite float vector of shape (d,)."""
    arr = float_array(a, name)
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError(f"{name} must be a vector of shape (d,), got shape {arr.shape}")
    if d is not None and arr.shape[0] != d:
        raise ValueError(f"{name} must have shape ({d},), got shape {arr.shape}")
    return finite(arr, name)


def spd_matrix(cov, name: str = "cov", d: int | None = None, rtol: float = 1e-10) -> np.ndarray:
    """``cov`` as a symmetric positive-definite (d, d) matrix (symmetrised exactly)."""
    arr = finite(float_array(cov, name), name)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square (d, d) matrix, got shape {arr.shape}")
    if d is not None and arr.shape[0] != d:
        raise ValueError(f"{name} must have shape ({d}, {d}), got shape {arr.shape}")
    scale = max(np.abs(arr).max(), np.finfo(float).tiny)
    if np.abs(arr - arr.T).max() > rtol * scale:
        raise ValueError(f"{name} must be symmetric; max |{name} - {name}.T| = {np.abs(arr - arr.T).max():.3g}")
    arr = 0.5 * (arr + arr.T)
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        lam = np.linalg.eigvalsh(arr).min()
        raise ValueError(f"{name} must be positive definite; its smallest eigenvalue is {lam:.3g}") from None
    return arr


def time(t, name: str = "t") -> float:
    """``t`` as a finite float >= 0."""
    arr = float_array(t, name)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar time, got shape {arr.shape}")
    value = float(arr)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite time >= 0, got {value}")
    return value


def times(ts, name: str = "t_eval") -> np.ndarray:
    """``ts`` as a non-empty, non-decreasing 1-D array of finite times >= 0."""
    arr = finite(float_array(ts, name), name)
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError(f"{name} must be a non-empty 1-D array of times, got shape {arr.shape}")
    if arr.min() < 0:
        raise ValueError(f"{name} must hold times >= 0, got minimum {arr.min()}")
    if np.any(np.diff(arr) < 0):
        raise ValueError(f"{name} must be non-decreasing")
    return arr


def positive(value, name: str) -> float:
    """``value`` as a finite float > 0."""
    arr = float_array(value, name)
    if arr.ndim != 0 or not np.isfinite(arr) or float(arr) <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(arr)


def function(f, name: str):
    """``f`` if it is callable."""
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    return f


# --- tt: the Chebyshev interval and the tensor train, shared by chebyshev,
# fokker_planck, sampling and table1


def interval(a, b, n):
    """A Chebyshev interval: finite scalars a < b and an integer n >= 3 of nodes -> (a, b, n)."""
    arr_a, arr_b = np.asarray(a), np.asarray(b)
    if arr_a.ndim != 0 or arr_b.ndim != 0:
        raise ValueError(f"a and b must be scalars (the box is [a, b]^d), got shapes {arr_a.shape}, {arr_b.shape}")
    a, b = float(a), float(b)
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"a and b must be finite, got a = {a}, b = {b}")
    if not a < b:
        raise ValueError(f"the interval must have a < b, got a = {a}, b = {b}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n (number of Chebyshev nodes) must be an integer, got {type(n).__name__}")
    if n < 3:
        raise ValueError(f"n (number of Chebyshev nodes) must be >= 3, got {n}")
    return a, b, int(n)


def tt(Y, name: str = "Y", grid_=None) -> list:
    """A tensor train: a non-empty list of 3-d float cores whose ranks chain from 1 to 1.

    With a grid (a :class:`ddpm_ot_lib.chebyshev.Grid`): d cores of n nodes each.
    """
    if not isinstance(Y, (list, tuple)) or len(Y) < 1:
        raise TypeError(f"{name} must be a tensor train: a non-empty list of 3-d cores, got {type(Y).__name__}")
    cores = []
    r_prev = 1
    for k, G in enumerate(Y):
        G = np.asarray(G, dtype=np.float64)
        if G.ndim != 3:
            raise ValueError(f"{name}[{k}] must be a 3-d core (r_prev, n, r_next), got shape {G.shape}")
        if G.shape[0] != r_prev:
            raise ValueError(f"{name}[{k}] has left rank {G.shape[0]}, expected {r_prev} (ranks must chain)")
        r_prev = G.shape[2]
        cores.append(G)
    if r_prev != 1:
        raise ValueError(f"the last core of {name} must have right rank 1, got {r_prev}")
    if grid_ is not None:
        if len(cores) != grid_.d:
            raise ValueError(f"{name} has {len(cores)} cores but the grid has dimension d = {grid_.d}")
        bad = [G.shape[1] for G in cores if G.shape[1] != grid_.n]
        if bad:
            raise ValueError(f"every core of {name} must have n = {grid_.n} grid nodes, got {bad[0]}")
    return cores


# --- integers


def count(value, name: str, minimum: int = 1) -> int:
    """``value`` as a Python int, checked to be an integer (not a bool) >= ``minimum``.

    The one integer check of the library: every count, size and seed goes through it.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive_int(value, name: str) -> int:
    """``count(value, name, 1)``: the same check under its older name (table1 uses it)."""
    return count(value, name, 1)


def array(x) -> np.ndarray:
    """A torch tensor (detached, on the CPU) or array-like as a numpy array, unchecked."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
