"""Tests of ddpm_ot_lib.datasets."""
import numpy as np
import pytest

from ddpm_ot_lib import datasets


# --- 2-D test mixtures
@pytest.mark.parametrize("name, k", [("8gaussians", 8), ("25gaussians", 25)])
def test_mixtures_sample_their_modes(name, k):
    means, sigma = datasets.mixture(name)
    x, labels = datasets.sample_mixture(name, 5000, seed=0)
    assert means.shape == (k, 2) and sigma == 0.05 and set(labels) == set(range(k))
    assert np.abs((x - means[labels]).std(0) - sigma).max() < 0.005
    again, _ = datasets.sample_mixture(name, 5000, seed=0)
    assert np.array_equal(x, again)


@pytest.mark.parametrize("call, pattern", [
    (lambda: datasets.mixture("9gaussians"), r"^name must be one of"),
    (lambda: datasets.sample_mixture("8gaussians", 0), r"^n must be an integer >= 1"),
])
def test_bad_input_is_rejected_with_the_argument_named(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
