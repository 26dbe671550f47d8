"""The random initial densities of §3.4: the paper's family (Eqs. 14, 15) and the smooth one."""

import numpy as np
import pytest

from ddpm_ot_lib import chebyshev as ch
from ddpm_ot_lib import densities


def _direct_eq14(params, x):
    """Eq. (14) as the paper's density.py writes it, term by term, point by point."""
    out = np.zeros(len(x))
    for xi in range(len(x)):
        for j in range(params["K"]):
            z1 = x[xi] - params["c1"][j]
            z2 = (x[xi] - params["c2"][j]) ** 2
            q1 = z1 @ params["Q1"][j] @ z1
            q2 = z2 @ params["Q2"][j] @ z2
            out[xi] += np.exp(-0.05 * (q1 + q2)) / params["K"]
    return out


@pytest.mark.parametrize("d", [2, 3])
def test_paper_eq14_formula_against_a_direct_evaluation(d):
    p = densities.random_density(d, 11, grid=ch.grid(-8, 8, 30, d))
    x = np.random.default_rng(0).uniform(-3, 3, size=(50, d))
    assert p.family == "paper" and p.kind == "mixture"
    np.testing.assert_allclose(p.unnormalised(x), _direct_eq14(p.params, x), rtol=1e-13, atol=0)


@pytest.mark.parametrize("d", [2, 3])
def test_paper_eq14_draws_the_codes_stream(d):
    """randint(1, 5), then per term randn(d, d), randn(d, d), rand(d), rand(d) (density.py)."""
    p = densities.paper_mixture_density(d, 101, grid=ch.grid(-8, 8, 20, d))
    rs = np.random.RandomState(101)
    k = rs.randint(1, 5)
    assert p.params["K"] == k
    for j in range(k):
        a, b = rs.randn(d, d), rs.randn(d, d)
        np.testing.assert_array_equal(p.params["Q1"][j], a.T @ a)
        np.testing.assert_array_equal(p.params["Q2"][j], b.T @ b)
        np.testing.assert_array_equal(p.params["c1"][j], rs.rand(d) * 4 - 2)
        np.testing.assert_array_equal(p.params["c2"][j], rs.rand(d) * 4 - 2)
    assert p.params["c1"].shape == (k, d) and p.params["Q2"].shape == (k, d, d)


def test_paper_eq14_law_of_k_is_uniform_on_1_to_4():
    ks = [densities.paper_mixture_density(2, s, grid=ch.grid(-8, 8, 12, 2)).params["K"] for s in range(400)]
    counts = np.bincount(ks, minlength=6)
    assert counts[0] == 0 and counts[5] == 0
    assert np.all(np.abs(counts[1:5] - 100) < 35)  # 3.9 binomial sd of 100


def test_paper_eq14_gradient_against_finite_differences():
    p = densities.random_density(2, 3, grid=ch.grid(-8, 8, 20, 2))
    x = np.random.default_rng(1).uniform(-2, 2, size=(20, 2))
    val, grad = p.gradient(x)
    h = 1e-6
    for k in range(2):
        e = np.zeros(2)
        e[k] = h
        np.testing.assert_allclose(grad[:, k], (p(x + e) - p(x - e)) / (2 * h), rtol=1e-6, atol=1e-9 * val.max())


@pytest.mark.parametrize("d", [2, 3])
def test_paper_eq14_on_the_papers_grid_is_normalised_and_accurate(d):
    p = densities.random_density(d, 5)
    assert p.grid == densities.paper_grid(d) and p.build["method"] == "TT-SVD"
    assert ch.tt_integral(p.tt, p.grid) == pytest.approx(1.0, abs=1e-12)
    assert p.error["nodes"] < 1e-9
    assert p.error["points"] < (1e-9 if d == 2 else 1e-3)  # N = 100 resolves d = 3 to ~1e-4


def test_paper_eq15_is_the_drawn_rank2_tt_times_the_gaussian():
    g = ch.grid(-8, 8, 20, 4)
    p = densities.random_density(4, 9, grid=g)
    assert p.kind == "tt_gaussian" and p.ranks == [1, 2, 2, 2, 1]
    rs = np.random.RandomState(9)
    flat = rs.uniform(0, 1, size=2 * 20 * 2 * 2 + 2 * 20 * 2)
    np.testing.assert_array_equal(p.params["nodes"][0].ravel(order="F"), flat[:40])
    idx = np.array([[0, 3, 7, 19], [5, 5, 5, 5]])
    x = g.points(idx)
    want = (
        np.array([np.linalg.multi_dot([p.params["nodes"][k][:, i, :] for k, i in enumerate(row)])[0, 0] for row in idx])
        * np.exp(-0.5 * (x * x).sum(axis=1))
        / (2 * np.pi) ** 2
    )
    np.testing.assert_allclose(p.unnormalised(x), want, rtol=1e-13)
    np.testing.assert_allclose(ch.tt_evaluate(p.tt, g, x), want / p.norm_const, rtol=1e-12)
    assert ch.tt_integral(p.tt, g) == pytest.approx(1.0, abs=1e-13)


def test_paper_eq15_factor_gradient_against_finite_differences():
    p = densities.paper_tt_density(3, 2, grid=ch.grid(-8, 8, 16, 3))
    x = np.random.default_rng(2).uniform(-3, 3, size=(10, 3))
    val, grad = p.gradient(x)
    e = np.array([0.0, 1e-6, 0.0])
    np.testing.assert_allclose(grad[:, 1], (p(x + e) - p(x - e)) / 2e-6, rtol=1e-5, atol=1e-8 * abs(val).max())


@pytest.mark.parametrize("d, kind, n", [(2, "mixture", 120), (3, "mixture", 70), (7, "tt_gaussian", 50)])
def test_smooth_family_is_normalised_accurate_and_positive(d, kind, n):
    g = ch.grid(-8, 8, n, d)
    p = densities.random_density(d, seed=7, family="smooth", grid=g)
    assert p.kind == kind and p.family == "smooth" and p.ranks == ch.tt_ranks(p.tt)
    assert ch.tt_integral(p.tt, g) == pytest.approx(1.0, abs=1e-12)
    assert p.error["nodes"] < 1e-8 and p.error["points"] < 1e-5
    x = np.random.default_rng(0).uniform(-4, 4, size=(500, d))
    vals = p(x)
    assert np.all(vals > 0)
    assert np.abs(ch.tt_evaluate(p.tt, g, x) - vals).max() < 1e-5 * vals.max()


def test_smooth_eq15_has_rank_two_and_eq14_has_2_or_3_terms():
    g = ch.grid(-8, 8, 30, 7)
    assert max(densities.tt_gaussian_density(7, 0, grid=g).ranks) == 2
    ks = {len(densities.mixture_density(2, s, grid=ch.grid(-8, 8, 40, 2)).params["weights"]) for s in range(8)}
    assert ks <= {2, 3} and len(ks) == 2


def test_smooth_gradient_against_finite_differences():
    p = densities.random_density(7, 1, family="smooth", grid=ch.grid(-8, 8, 30, 7))
    x = np.random.default_rng(3).uniform(-2, 2, size=(10, 7))
    val, grad = p.gradient(x)
    e = np.zeros(7)
    e[4] = 1e-6
    np.testing.assert_allclose(grad[:, 4], (p(x + e) - p(x - e)) / 2e-6, rtol=1e-5, atol=1e-9 * val.max())


@pytest.mark.parametrize("family", ["paper", "smooth"])
def test_same_seed_same_density_other_seed_other_density(family):
    g = ch.grid(-8, 8, 60, 2)
    a, b, c = (densities.random_density(2, s, family=family, grid=g) for s in (4, 4, 5))
    x = np.random.default_rng(1).uniform(-3, 3, size=(20, 2))
    assert np.array_equal(a(x), b(x))
    assert all(np.array_equal(G1, G2) for G1, G2 in zip(a.tt, b.tt))
    assert not np.allclose(a(x), c(x))


def test_smooth_family_vanishes_on_the_boundary():
    """The smooth family is negligible on the boundary of [-8, 8]^d (the paper's may not be)."""
    for d in (2, 7):
        p = densities.random_density(d, 0, family="smooth", grid=ch.grid(-8, 8, 30 if d == 7 else 80, d))
        rng = np.random.default_rng(2)
        edge = rng.uniform(-8, 8, size=(2000, d))
        edge[:, 0] = rng.choice([-8.0, 8.0], size=2000)
        assert p(edge).max() < 1e-12 * p(rng.uniform(-2, 2, size=(2000, d))).max()


def test_smooth_eq14_is_not_gaussian():
    """The quartic term: log p0 is not a quadratic (a least-squares quadratic fit leaves a residual)."""
    p = densities.mixture_density(2, 1, grid=ch.grid(-8, 8, 40, 2), n_components=(2,))
    x = np.random.default_rng(3).uniform(-3, 3, size=(400, 2))
    feats = np.column_stack([np.ones(400), x, x**2, x[:, :1] * x[:, 1:]])
    resid = np.linalg.lstsq(feats, np.log(p(x)), rcond=None)[1]
    assert resid[0] / 400 > 1e-2


def test_cross_is_repeated_when_the_node_error_is_too_large():
    p = densities.mixture_density(2, 0, grid=ch.grid(-8, 8, 60, 2), rank_max=3, node_tol=1e-9)
    assert p.build["method"] == "TT-cross" and p.build["attempts"] == 3
    assert p.build["rank_max"] == 12 and p.build["nswp"] == 36


def test_boundary_mass_of_a_gaussian_against_its_closed_form():
    """A constant smooth-family factor makes Eq. (15) N(0, I) cut to the box: the mass beyond 6."""
    from math import erf, sqrt

    p = densities.tt_gaussian_density(2, 0, grid=ch.grid(-8, 8, 80, 2), rank=1, u_range=(1.0, 1.0), v_range=(0.0, 0.0))
    inner = (erf(6 / sqrt(2)) / erf(8 / sqrt(2))) ** 2
    assert densities.boundary_mass(p, 2.0) == pytest.approx(1 - inner, rel=1e-9)


def test_boundary_mass_sees_a_wide_component():
    """Seed 2 of the paper's d = 2 family has the most mass near the boundary of seeds 0-4."""
    masses = [
        densities.boundary_mass(densities.random_density(2, s, grid=ch.grid(-8, 8, 60, 2)), 1.0) for s in range(5)
    ]
    assert int(np.argmax(masses)) == 2 and masses[2] > 1e-6


def test_paper_grid():
    assert densities.paper_grid(2) == ch.grid(-8, 8, 250, 2)
    assert densities.paper_grid(7).n == 50


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True, 2**32])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match=r"^seed must be an integer in \[0, 2\*\*32\)"):
        densities.random_density(2, bad, grid=ch.grid(-8, 8, 20, 2))


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: densities.random_density(0, 1), r"^d \(dimension\) must be an integer >= 1"),
        (lambda: densities.random_density(2, 0, family="gauss"), r"^family must be 'paper' or 'smooth'"),
        (lambda: densities.paper_tt_density(1, 0), r"^d must be >= 2 for Eq\. \(15\)"),
        (lambda: densities.tt_gaussian_density(1, 0), r"^d must be >= 2 for Eq\. \(15\)"),
        (lambda: densities.paper_tt_density(3, 0, rank=0), r"^rank must be an integer >= 1"),
        (lambda: densities.random_density(2, 0, grid=ch.grid(-8, 8, 20, 3)), r"^grid must be a chebyshev\.Grid"),
        (lambda: densities.paper_grid(4), r"^d must be one of the paper's \[2, 3, 7\]"),
        (
            lambda: densities.boundary_mass(densities.random_density(2, 0, grid=ch.grid(-8, 8, 20, 2)), 8.0),
            r"^width must be below half the box's side",
        ),
        (
            lambda: densities.boundary_mass(densities.random_density(2, 0, grid=ch.grid(-8, 8, 20, 2)), 0.0),
            r"^width must be a finite number > 0",
        ),
        (
            lambda: densities.random_density(2, 0, grid=ch.grid(-8, 8, 20, 2)).factor(0, np.zeros(3)),
            r"^factor is for Eq\. \(15\) densities",
        ),
        (
            lambda: densities.random_density(3, 0, grid=ch.grid(-8, 8, 20, 3)).factor(0, np.zeros(3)),
            r"^factor is for Eq\. \(15\) densities",
        ),
        (
            lambda: densities.random_density(4, 0, grid=ch.grid(-8, 8, 20, 4)).factor(4, np.zeros(3)),
            r"^k must be an integer in \[0, 4\)",
        ),
    ],
)
def test_bad_input(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_bad_points():
    with pytest.raises(ValueError, match=r"^x must have 2 columns"):
        densities.random_density(2, 0, grid=ch.grid(-8, 8, 20, 2))(np.zeros((3, 3)))


def test_bad_density_argument():
    with pytest.raises(TypeError, match=r"^density must be a RandomDensity"):
        densities.boundary_mass(np.zeros(3))


def test_between_nodes_tells_the_papers_eq15_from_the_smooth_one():
    g = ch.grid(-8, 8, 50, 3)  # the paper's N = 50 resolves the smooth factors
    rough = densities.between_nodes(densities.paper_tt_density(3, 0, grid=g), n_points=4000)
    smooth = densities.between_nodes(densities.tt_gaussian_density(3, 0, grid=g), n_points=4000)
    assert rough["negative_volume"] > 0.1 and rough["factor_min"] < -0.01
    assert rough["coefficient_tail"] > 1e-2 and rough["tail_excess"] > 1e3
    assert smooth["negative_volume"] == 0 and smooth["negative_share"] == 0 and smooth["factor_min"] > -1e-12
    assert smooth["coefficient_tail"] < 1e-4 and smooth["tail_excess"] < 10
    assert 0 < smooth["score_max"] < 10 < rough["score_max"]


def test_between_nodes_negative_share_against_its_definition():
    p = densities.paper_tt_density(3, 1, grid=ch.grid(-8, 8, 20, 3))
    m = densities.between_nodes(p, n_points=3000, half_width=2.0, seed=5)
    x = np.random.default_rng(5).uniform(-2, 2, size=(3000, 3))
    v = p(x)
    assert m["negative_share"] == pytest.approx(-v[v < 0].sum() / np.abs(v).sum(), rel=1e-12)
    assert m["negative_volume"] == pytest.approx(np.mean(v < 0), abs=0)


def test_between_nodes_refuses_a_mixture():
    with pytest.raises(ValueError, match=r"^between_nodes is for Eq\. \(15\) densities"):
        densities.between_nodes(densities.random_density(2, 0, grid=ch.grid(-8, 8, 20, 2)))
