"""Shared fixtures and hypothesis strategies for the library tests."""

import numpy as np
import pytest
from hypothesis import strategies as st


def random_spd(rng: np.random.Generator, d: int, spread: float = 10.0) -> np.ndarray:
    """A random SPD matrix with eigenvalues log-uniform in [1/spread, spread]."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    lam = np.exp(rng.uniform(-np.log(spread), np.log(spread), size=d))
    cov = (q * lam) @ q.T
    return 0.5 * (cov + cov.T)


def random_mixture(rng: np.random.Generator, d: int, k: int = 3):
    """Weights (k,), means (k, d) in [-2, 2]^d and SPD covariances (k, d, d) of a random
    Gaussian mixture."""
    w = rng.dirichlet(np.ones(k) * 2)
    m = rng.uniform(-2, 2, size=(k, d))
    covs = np.stack([random_spd(rng, d, spread=3.0) for _ in range(k)])
    return w, m, covs


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# (d, seed) pairs for property tests over dimensions and covariances
dims_and_seeds = st.tuples(st.integers(min_value=1, max_value=12), st.integers(min_value=0, max_value=2**32 - 1))
