"""Tests of ddpm_ot_lib.metrics: distances on shifted clouds, mode statistics of the true
law, the memorisation statistics on copies against fresh data, and bad input."""

import math

import numpy as np
import pytest

from ddpm_ot_lib import datasets, metrics


def test_mode_stats_of_the_true_law():
    x, _ = datasets.sample_mixture("25gaussians", 20_000, seed=0)
    means, sigma = datasets.mixture("25gaussians")
    st = metrics.mode_stats(x, means, sigma)
    assert st["coverage"] == 25
    assert st["mixture"] == pytest.approx(math.exp(-4.5), abs=0.003)  # Rayleigh tail beyond 3 sigma
    collapsed = metrics.mode_stats(np.zeros((100, 2)) + means[0], means, sigma)
    assert collapsed["coverage"] == 1 and collapsed["mixture"] == 0.0
    assert metrics.mode_stats(np.zeros((10, 2)) + [0.25, 0.25], means, sigma)["mixture"] == 1.0


def test_distances_on_shifted_clouds():
    x = np.random.default_rng(0).normal(size=(300, 3))
    shift = np.array([0.6, 0.0, 0.0])
    assert metrics.w2(x, x + shift) == pytest.approx(0.6, rel=1e-6)
    # SW2^2 = E (theta . a)^2 = |a|^2 / d for a pure shift
    assert metrics.sliced_w2(x, x + shift, n_projections=4000) == pytest.approx(0.6 / math.sqrt(3), rel=0.05)
    assert np.allclose(metrics.nearest_distance(x + 1e-3 * shift, x), 0.6e-3)
    assert metrics.duplicate_share([1, 1, 2, 3]) == 0.25


def test_memorisation_tells_copies_from_fresh_data():
    train, _ = datasets.sample_mixture("8gaussians", 1000, seed=1)
    fresh, _ = datasets.sample_mixture("8gaussians", 4000, seed=2)
    again, _ = datasets.sample_mixture("8gaussians", 2000, seed=3)
    rng = np.random.default_rng(4)
    copies = train[rng.integers(1000, size=2000)] + 1e-3 * rng.normal(size=(2000, 2))
    real = metrics.memorisation(again, train, fresh)
    fake = metrics.memorisation(copies, train, fresh)
    assert 0.8 < real["nn_ratio"] < 1.25 and real["close_share"] < 0.1
    assert fake["nn_ratio"] < 0.3 and fake["close_share"] > 0.5
    assert real["m"] == 2000 and abs(real["dup_share"] - 0.05) < 0.03
    assert abs(real["dup_share_fresh"] - 0.05) < 0.03
    assert fake["dup_share"] > 0.5  # 2000 draws from 1000 points: most repeat one


_X = np.zeros((5, 2))


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: metrics.w2(_X, np.zeros((5, 3))), ValueError, r"^x1 must have 2 columns"),
        (lambda: metrics.mode_stats(np.zeros((5, 3)), _X, 0.1), ValueError, r"^x must have 2 columns"),
        (lambda: metrics.mode_stats(_X, _X, -1.0), ValueError, r"^sigma must be"),
        (lambda: metrics.duplicate_share([]), ValueError, r"^index must be a non-empty 1-D array"),
        (lambda: metrics.memorisation(_X, _X, _X, q=1.5), ValueError, r"^q must be in \(0, 1\)"),
        (lambda: metrics.nearest_distance(_X, np.zeros((4, 3))), ValueError, r"^ref must have 2 columns"),
        (lambda: metrics.self_distance(_X[:1]), ValueError, r"^x must hold at least 2 points"),
        (lambda: metrics.memorisation(_X, _X, _X[:3]), ValueError, r"^fresh must hold at least 4 points"),
    ],
)
def test_bad_input_is_rejected_with_the_argument_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def _sweep(image: bool) -> dict:
    dist = "sw2" if image else "w2"
    row = {"nfe": 10, dist: 0.1234, "mixture": 0.5, "coverage": 8, "close_share": 0.0125, "dup_share": 0.03, "n": 1000}
    fresh = {"mixture": 0.011, "coverage": 8, "close_share": 0.05, "dup_share_fresh": 0.049}
    ref = {"test": fresh, "sw2_floor_train_vs_test": 0.01} if image else {"true": fresh}
    return {"curves": {"ddim": [row], "dpm-ot": [dict(row, nfe=5)]}, "reference": ref}


@pytest.mark.parametrize("image, dist", [(False, "w2"), (True, "sw2")])
def test_quality_table_lines(image, dist):
    text = metrics.quality_table(_sweep(image), 10, ["ddim", "dpm-ot"], "toy")
    assert text.split("\n") == [
        f"toy, 10 NFE {'':14s} {dist:>6s} mixture cover  close   dup     n",
        "  ddim                      0.123   0.500     8  0.013 0.030  1000",  # dpm-ot: not run at 10
        "  fresh data" + " " * 24 + "0.011     8  0.050 0.049",  # no distance column
    ]


@pytest.mark.parametrize(
    "args, pattern",
    [
        ((_sweep(False), 0, ["ddim"], "toy"), r"^nfe must be an integer >= 1, got 0$"),
        (({"curves": {}}, 10, ["ddim"], "toy"), r"^sweep must be one scale of the sweep file"),
        ((_sweep(False), 10, ["ddpm"], "toy"), r"^methods: 'ddpm' is not in the sweep \(have \['ddim', 'dpm-ot'\]\)$"),
    ],
)
def test_quality_table_rejects(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        metrics.quality_table(*args)
