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
    with pytest.raises(ValueError, match=r"^s must be a number in \[0, 1\], got "):
        plots.blend("k", "w", s)


def test_time_color():
    assert plots.time_color(0.0) == plots.DATA
    assert plots.time_color(50.0) == plots.LATENT
    assert plots.time_color(0.5) not in (plots.DATA, plots.LATENT)
    with pytest.raises(ValueError, match=r"^t must be a finite time >= 0, got -1\.0$"):
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


@pytest.mark.parametrize(
    "mean, cov, extent, msg",
    [
        (np.zeros(3), np.eye(2), (0, 1, 0, 1), "mean"),
        (np.zeros(2), np.eye(3), (0, 1, 0, 1), "cov"),
        (np.zeros(2), np.eye(2), (1, 0, 0, 1), "extent"),
    ],
)
def test_gaussian_density_rejects(ax, mean, cov, extent, msg):
    with pytest.raises(ValueError, match=msg):
        plots.gaussian_density(ax, mean, cov, extent)


def test_exports():
    for name in ("blend", "time_color", "gaussian_density", "gaussian_ellipse", "trajectories", "displacements"):
        assert name in plots.__all__ and callable(getattr(plots, name))


# --- faith: optimal-transport chapter figures


def test_swap_pair_draws_both_pairings(ax):
    x, z = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 2.0]]), np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 3.0]])
    plots.swap_pair(ax, x, z, 0, 1)
    lines = [line for line in ax.lines if line.get_xydata().size]
    ends = {tuple(map(tuple, line.get_xydata())) for line in lines}
    assert ((0.0, 0.0), (0.0, 1.0)) in ends and ((0.0, 0.0), (1.0, 1.0)) in ends
    assert ((1.0, 0.0), (0.0, 1.0)) in ends and ((1.0, 0.0), (1.0, 1.0)) in ends
    assert [t.get_text() for t in ax.legend().get_texts()] == ["random pairing", "swapped"]


def test_shaded_density_lies_behind_the_curves(ax):
    x = np.linspace(-1, 1, 11)
    shade = plots.shaded_density(ax, x, np.exp(-(x**2)))
    assert ax.get_zorder() > shade.get_zorder() and not ax.patch.get_visible()
    assert shade.get_ylim() == pytest.approx((0.0, 2.5))


@pytest.mark.parametrize(
    "pattern,call",
    [
        (
            r"^x and z must both have shape \(n, 2\)",
            lambda ax: plots.swap_pair(ax, np.zeros((3, 2)), np.zeros((3, 3)), 0, 1),
        ),
        (
            r"^i and j must be two distinct indices",
            lambda ax: plots.swap_pair(ax, np.zeros((3, 2)), np.zeros((3, 2)), 1, 1),
        ),
        (r"^density must hold one finite value >= 0", lambda ax: plots.shaded_density(ax, [0.0, 1.0], [1.0, -1.0])),
    ],
)
def test_faith_helpers_reject_bad_input(ax, pattern, call):
    with pytest.raises(ValueError, match=pattern):
        call(ax)


# --- tt: the Table 1 chapter's plot helpers (moved from tests/test_experiments.py)


def test_plot_helpers_of_the_chapter():
    fig, axes = plt.subplots(1, 3)
    vals = np.exp(-np.add.outer(np.linspace(-2, 2, 20) ** 2, np.linspace(-2, 2, 30) ** 2))
    assert plots.density_map(axes[0], vals, (-2, 2, -2, 2)) is axes[0]
    assert len(axes[0].images) == 1
    lines = np.random.default_rng(0).normal(size=(4, 10, 2))
    lines[0, 3] = np.nan  # gaps are allowed
    plots.polylines(axes[1], lines)
    assert len(axes[1].lines) == 4
    plots.strip(axes[2], {2: [1e-16, -2e-16, np.nan], 3: [3e-16]}, reference={2: 5e-15, 3: 2e-15})
    assert len(axes[2].collections) == 2 and len(axes[2].lines) == 2
    assert [t.get_text() for t in axes[2].get_xticklabels()] == ["2", "3"]
    with pytest.raises(ValueError, match=r"^values must be a finite 2-D array \(ny, nx\), got shape \(5,\)$"):
        plots.density_map(axes[0], np.ones(5), (0, 1, 0, 1))
    with pytest.raises(ValueError, match=r"^extent must be \(xmin, xmax, ymin, ymax\) with xmin < xmax"):
        plots.density_map(axes[0], vals, (1, 0, 0, 1))
    with pytest.raises(ValueError, match=r"^lines must be a non-empty list of arrays of shape \(k, 2\)$"):
        plots.polylines(axes[1], [np.ones((3, 3))])
    with pytest.raises(ValueError, match=r"^groups must map at least one label to values$"):
        plots.strip(axes[2], {})
    plt.close(fig)


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


def test_sampler_panels_one_scatter_per_method():
    fig = plt.figure()
    pts = {"ddim": np.zeros((5, 2)), "dpm-ot": np.ones((3, 2))}
    axes = plots.sampler_panels(fig, pts, ["ddim", "dpm-ot"], lim=2.0)
    assert len(axes) == 2 and len(fig.axes) == 2
    for ax, m in zip(axes, ["ddim", "dpm-ot"]):
        assert ax.get_title() == plots.SAMPLER_STYLE[m][0] and ax.get_xlim() == (-2.0, 2.0)
        np.testing.assert_array_equal(ax.collections[0].get_offsets(), pts[m])
    unknown = r"^methods must be non-empty keys of SAMPLER_STYLE and of samples, got \['ddpm'\]$"
    with pytest.raises(ValueError, match=unknown):
        plots.sampler_panels(plt.figure(), pts, ["ddim", "ddpm"])
    plt.close("all")
