"""ddpm_ot_lib.plots: the figure helpers draw what they say and reject bad input."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ddpm_ot_lib import plots  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_blend_endpoints_and_midpoint():
    assert plots.blend("#000000", "#ffffff", 0.0) == "#000000"
    assert plots.blend("#000000", "#ffffff", 1.0) == "#ffffff"
    assert plots.blend("#000000", "#ffffff", 0.5) == "#808080"
    assert plots.blend(plots.DATA, plots.LATENT, 0.0) == plots.DATA


@pytest.mark.parametrize("s", [-0.1, 1.1, np.nan])
def test_blend_rejects(s):
    with pytest.raises(ValueError, match="s must"):
        plots.blend("k", "w", s)


def test_time_color():
    assert plots.time_color(0.0) == plots.DATA
    assert plots.time_color(50.0) == plots.LATENT
    assert plots.time_color(0.5) not in (plots.DATA, plots.LATENT)
    with pytest.raises(ValueError, match="t must"):
        plots.time_color(-1.0)


def test_gaussian_density_draws_the_density(ax):
    mean, cov = np.array([1.0, -0.5]), np.array([[2.0, 0.3], [0.3, 0.5]])
    plots.gaussian_density(ax, mean, cov, (-4, 6, -4, 3), n_grid=101)
    (img,) = ax.get_images()
    dens = np.asarray(img.get_array())
    assert dens.shape == (101, 101)
    from scipy.stats import multivariate_normal
    assert dens.max() == pytest.approx(multivariate_normal(mean, cov).pdf(mean), rel=0.02)
    assert img.get_extent() == [-4.0, 6.0, -4.0, 3.0]


@pytest.mark.parametrize("mean, cov, extent, msg", [
    (np.zeros(3), np.eye(2), (0, 1, 0, 1), "mean"),
    (np.zeros(2), np.eye(3), (0, 1, 0, 1), "cov"),
    (np.zeros(2), np.eye(2), (1, 0, 0, 1), "extent"),
])
def test_gaussian_density_rejects(ax, mean, cov, extent, msg):
    with pytest.raises(ValueError, match=msg):
        plots.gaussian_density(ax, mean, cov, extent)


def test_exports():
    for name in ("blend", "time_color", "gaussian_density", "gaussian_ellipse", "trajectories", "displacements"):
        assert name in plots.__all__ and callable(getattr(plots, name))


# --- tt: the Table 1 chapter's plot helpers (moved from tests/test_experiments.py)

def test_plot_helpers_of_the_chapter():
    fig, axes = plt.subplots(1, 3)
    vals = np.exp(-np.add.outer(np.linspace(-2, 2, 20) ** 2, np.linspace(-2, 2, 30) ** 2))
    assert plots.density_map(axes[0], vals, (-2, 2, -2, 2)) is axes[0]
    assert len(axes[0].images) == 1
    lines = np.random.default_rng(0).normal(size=(4, 10, 2))
    lines[0, 3] = np.nan                                       # gaps are allowed
    plots.polylines(axes[1], lines)
    assert len(axes[1].lines) == 4
    plots.strip(axes[2], {2: [1e-16, -2e-16, np.nan], 3: [3e-16]}, reference={2: 5e-15, 3: 2e-15})
    assert len(axes[2].collections) == 2 and len(axes[2].lines) == 2
    assert [t.get_text() for t in axes[2].get_xticklabels()] == ["2", "3"]
    with pytest.raises(ValueError, match="2-D"):
        plots.density_map(axes[0], np.ones(5), (0, 1, 0, 1))
    with pytest.raises(ValueError, match="extent"):
        plots.density_map(axes[0], vals, (1, 0, 0, 1))
    with pytest.raises(ValueError, match="lines"):
        plots.polylines(axes[1], [np.ones((3, 3))])
    with pytest.raises(ValueError, match="groups"):
        plots.strip(axes[2], {})
    plt.close(fig)
