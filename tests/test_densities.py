"""The random initial densities of Eq. (14) and Eq. (15)."""
import numpy as np
import pytest

from ddpm_ot_lib import chebyshev as ch
from ddpm_ot_lib import densities


@pytest.mark.parametrize("d, kind, n", [(2, "mixture", 120), (3, "mixture", 70), (7, "tt_gaussian", 50)])
def test_random_density_is_normalised_accurate_and_positive(d, kind, n):
    g = ch.grid(-8, 8, n, d)
    p = densities.random_density(d, seed=7, grid=g)
    assert p.kind == kind and p.d == d and p.ranks == ch.tt_ranks(p.tt)
    assert ch.tt_integral(p.tt, g) == pytest.approx(1.0, abs=1e-12)
    assert p.error["nodes"] < 1e-8 and p.error["points"] < 1e-5
    x = np.random.default_rng(0).uniform(-4, 4, size=(500, d))
    vals = p(x)
    assert np.all(vals > 0)
    assert np.abs(ch.tt_evaluate(p.tt, g, x) - vals).max() < 1e-5 * vals.max()


def test_eq15_has_rank_two_and_eq14_mixture_has_2_or_3_terms():
    g = ch.grid(-8, 8, 30, 7)
    assert max(densities.tt_gaussian_density(7, 0, grid=g).ranks) == 2
    ks = {len(densities.mixture_density(2, s, grid=ch.grid(-8, 8, 40, 2)).params["weights"]) for s in range(8)}
    assert ks <= {2, 3} and len(ks) == 2


def test_same_seed_same_density_other_seed_other_density():
    g = ch.grid(-8, 8, 60, 2)
    a, b, c = (densities.random_density(2, s, grid=g) for s in (4, 4, 5))
    x = np.random.default_rng(1).uniform(-3, 3, size=(20, 2))
    assert np.array_equal(a(x), b(x))
    assert all(np.array_equal(G1, G2) for G1, G2 in zip(a.tt, b.tt))
    assert not np.allclose(a(x), c(x))


def test_mass_in_the_box_and_tails():
    """Both families vanish on the boundary of [-8, 8]^d (the solvers' Dirichlet condition)."""
    for d in (2, 7):
        p = densities.random_density(d, 0, grid=ch.grid(-8, 8, 30 if d == 7 else 80, d))
        rng = np.random.default_rng(2)
        edge = rng.uniform(-8, 8, size=(2000, d))
        edge[:, 0] = rng.choice([-8.0, 8.0], size=2000)
        assert p(edge).max() < 1e-12 * p(rng.uniform(-2, 2, size=(2000, d))).max()


def test_eq14_is_not_gaussian():
    """The quartic term: log p0 is not a quadratic (a least-squares quadratic fit leaves a residual)."""
    p = densities.mixture_density(2, 1, grid=ch.grid(-8, 8, 40, 2), n_components=(2,))
    x = np.random.default_rng(3).uniform(-3, 3, size=(400, 2))
    feats = np.column_stack([np.ones(400), x, x**2, x[:, :1] * x[:, 1:]])
    resid = np.linalg.lstsq(feats, np.log(p(x)), rcond=None)[1]
    assert resid[0] / 400 > 1e-2


def test_paper_grid():
    assert densities.paper_grid(2) == ch.grid(-8, 8, 250, 2)
    assert densities.paper_grid(7).n == 50
    with pytest.raises(ValueError, match="d in"):
        densities.paper_grid(4)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        densities.random_density(2, bad, grid=ch.grid(-8, 8, 20, 2))


def test_bad_dimension_and_grid():
    with pytest.raises(ValueError, match="dimension"):
        densities.random_density(0, 1)
    with pytest.raises(ValueError, match="needs d >= 2"):
        densities.tt_gaussian_density(1, 0)
    with pytest.raises(ValueError, match="grid must be"):
        densities.random_density(2, 0, grid=ch.grid(-8, 8, 20, 3))
    with pytest.raises(ValueError, match="columns"):
        densities.random_density(2, 0, grid=ch.grid(-8, 8, 20, 2))(np.zeros((3, 3)))
