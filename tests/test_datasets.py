"""Tests of ddpm_ot_lib.datasets: bundled images (splits, measurements, bad input) and the 2-D test mixtures."""

import numpy as np
import pytest
import torch

from ddpm_ot_lib import datasets
from ddpm_ot_lib import datasets as I


def test_digits_split_and_groups():
    xtr, ytr = I.digits("train")
    xte, yte = I.digits("test")
    assert xtr.shape == (1257, 64) and xte.shape == (540, 64)
    assert xtr.dtype == torch.float32 and xtr.min() >= -1 and xtr.max() <= 1
    # stratified: every digit is ~30 % held out
    for d in range(10):
        share = (yte == d).sum() / ((yte == d).sum() + (ytr == d).sum())
        assert abs(share - 0.3) < 0.02
    xa, ya = I.digits("train", groups=range(5))
    xb, yb = I.digits("train", groups=[5, 6, 7, 8, 9])
    assert set(ya) == {0, 1, 2, 3, 4} and set(yb) == {5, 6, 7, 8, 9}
    assert len(ya) + len(yb) == 1257
    # the split is a function of the seed only
    assert torch.equal(I.digits("test")[0], xte)


def test_colour_patches_split_is_disjoint():
    tr = I.colour_patches("china", "train")
    te = I.colour_patches("china", "test")
    assert tr.shape[1] == 192 and te.shape[1] == 192
    assert tr.shape[0] > 10 * te.shape[0] >= 2000
    assert tr.min() >= -1 and tr.max() <= 1
    # no held-out patch appears among the training patches
    a = tr.numpy().round(4)
    b = te.numpy().round(4)
    assert not set(map(bytes, b)) & set(map(bytes, a))
    assert not torch.equal(I.colour_patches("flower", "test"), te)


def test_sample_image_is_bundled():
    img = I.sample_image("flower")
    assert img.shape == (427, 640, 3) and 0 <= img.min() and img.max() <= 1


def test_to_pixels():
    x = torch.tensor([[-1.0, 0.0, 1.0, 3.0]])
    px = I.to_pixels(x, (2, 2))
    assert px.shape == (1, 2, 2)
    assert np.allclose(px.ravel(), [0.0, 0.5, 1.0, 1.0])


def test_pair_correlation():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 30))
    same = I.pair_correlation(a, a + 0.1 * rng.standard_normal(a.shape))
    assert same["beats"] == 1.0 and same["rank"] == 1.0
    assert same["same"].mean() > 0.99
    indep = I.pair_correlation(a, rng.standard_normal(a.shape))
    assert 0.35 < indep["beats"] < 0.65 and 0.45 < indep["rank"] < 0.55
    assert abs(indep["random"].mean()) < 0.05


def test_rotation():
    q = I.rotation(10, seed=3)
    assert np.allclose(q @ q.T, np.eye(10))
    r = I.rotation(10, angle=0.4, seed=3)
    assert np.allclose(r @ r.T, np.eye(10))
    z = np.random.default_rng(0).standard_normal((50, 10))
    assert np.allclose(((z @ r.T) * z).sum(1), np.cos(0.4) * (z * z).sum(1))
    assert np.allclose(I.rotation(6, angle=0.0), np.eye(6))


def test_ot_check():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 5))
    eps, share = I.ot_check(x, 2.0 * x + 1.0)  # a gradient of a convex function: optimal
    assert abs(eps) < 1e-12 and share == 1.0
    eps, share = I.ot_check(x, rng.permutation(x))
    assert eps > 0.1 and share < 0.2


BAD_CALLS = [
    (lambda: I.digits("valid"), r"^split must be 'train' or 'test', got 'valid'$"),
    (lambda: I.digits(groups=[10]), r"^groups must be a non-empty collection of digits 0\.\.9, got \[10\]$"),
    (lambda: I.digits(test_fraction=1.5), r"^test_fraction must be a number in \(0, 1\), got 1\.5$"),
    (lambda: I.sample_image("lena"), r"^name must be one of \('china', 'flower'\), got 'lena'$"),
    (lambda: I.colour_patches("china", block=4), r"^block must be >= size, got block=4, size=8$"),
    (
        lambda: I.to_pixels(np.zeros((2, 5)), (2, 2)),
        r"^x must have shape \(n, 4\) for images of shape \(2, 2\), got \(2, 5\)$",
    ),
    (
        lambda: I.pair_correlation(np.zeros((3, 4)), np.zeros((3, 5))),
        r"^a and b must both have shape \(n, d\) with n >= 2, got \(3, 4\) and \(3, 5\)$",
    ),
    (lambda: I.rotation(1), r"^d must be an integer >= 2, got 1$"),
    (lambda: I.rotation(4, angle=float("nan")), r"^angle must be a finite number \(radians\) or None, got nan$"),
]


@pytest.mark.parametrize("call, pattern", BAD_CALLS, ids=[p for _, p in BAD_CALLS])
def test_bad_input(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_image_plots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ddpm_ot_lib import plots

    fig, ax = plt.subplots()
    grey = I.to_pixels(I.digits("test")[0][:5], I.DIGITS_SHAPE)
    assert plots.image_grid(ax, grey, ncol=3, ylabel="model") is ax
    assert ax.images[0].get_array().shape == (2 * 9 + 1, 3 * 9 + 1)
    rgb = I.to_pixels(I.colour_patches("flower", "test")[:4], I.PATCH_SHAPE)
    fig2 = plots.image_rows([rgb, rgb], ["a", "b"])
    assert len(fig2.axes) == 2
    with pytest.raises(ValueError, match=r"^images must have shape \(n, h, w\) or \(n, h, w, 3\), got \(2, 3\)$"):
        plots.image_grid(ax, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^rows and labels must be non-empty and of equal length, got 1 and 2$"):
        plots.image_rows([grey], ["a", "b"])
    plt.close("all")


def test_alignment_sees_shared_structure_and_not_chance():
    rng = np.random.default_rng(0)
    n, d = 300, 64
    shared = rng.standard_normal((n, d))
    means = rng.standard_normal((3, 1, d)) * 5  # a different mean image per decoder
    aligned = I.alignment(means + shared + 0.5 * rng.standard_normal((3, n, d)))
    indep = I.alignment(means + rng.standard_normal((3, n, d)))
    assert aligned["same"].shape == (n,) and aligned["gap"].shape == (n,)
    assert aligned["gap_mean"] > 0.7 and aligned["beats"] > 0.99
    assert abs(indep["gap_mean"]) < 4 * indep["gap_se"] and 0.4 < indep["beats"] < 0.6
    # the means are removed: identical decoders up to their means agree exactly
    same = I.alignment(means + shared)
    assert np.allclose(same["same"], 1.0)


@pytest.mark.parametrize("shape", [(1, 10, 4), (2, 2, 4), (2, 10)])
def test_alignment_bad_shape(shape):
    with pytest.raises(ValueError, match=r"^decoded must have shape \(k, n, d\)"):
        I.alignment(np.zeros(shape))


# --- 2-D test mixtures
@pytest.mark.parametrize("name, k", [("8gaussians", 8), ("25gaussians", 25)])
def test_mixtures_sample_their_modes(name, k):
    means, sigma = datasets.mixture(name)
    x, labels = datasets.sample_mixture(name, 5000, seed=0)
    assert means.shape == (k, 2) and sigma == 0.05 and set(labels) == set(range(k))
    assert np.abs((x - means[labels]).std(0) - sigma).max() < 0.005
    again, _ = datasets.sample_mixture(name, 5000, seed=0)
    assert np.array_equal(x, again)


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: datasets.mixture("9gaussians"), r"^name must be one of"),
        (lambda: datasets.sample_mixture("8gaussians", 0), r"^n must be an integer >= 1"),
    ],
)
def test_bad_input_is_rejected_with_the_argument_named(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
