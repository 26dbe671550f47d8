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


# --------------------------------------------------------------------------- DPM-OT figures (dpm)
def test_dpm_ot_plot_helpers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ddpm_ot_lib import expressway, plots

    assert set(expressway.METHODS) <= set(plots.SAMPLER_STYLE)
    y = np.random.default_rng(0).normal(size=(6, 2))
    fig, ax = plt.subplots()
    assert plots.laguerre_cells(ax, y, np.zeros(6), extent=(-2, 2, -2, 2), n_grid=50) is ax
    with pytest.raises(ValueError, match=r"^laguerre_cells needs targets \(N, 2\)"):
        plots.laguerre_cells(ax, y, np.zeros(5), extent=(-2, 2, -2, 2))
    rows = [{"nfe": k, "w2": 1.0 / k, "mixture": 0.1, "sw2": 0.2} for k in (1, 10)]
    curves = {m: rows for m in ("ddpm", "ddim", "dpm-ot")}
    assert plots.nfe_curves(ax, curves, "w2", floor=0.1, floor_band=0.01) is ax
    with pytest.raises(ValueError, match=r"^unknown method 'euler'"):
        plots.nfe_curves(ax, curves, "w2", methods=["euler"])
    ref = {"w2_floor_mean": 0.1, "w2_floor_sd": 0.01, "true": {"mixture": 0.01}}
    grid = plots.quality_grid({"8gaussians": {"curves": curves, "reference": ref}}, kinds=["8gaussians"])
    assert len(grid.axes) == 2
    plt.close("all")
