"""One helper per figure kind, with the book's colours.

(Longer than the book's ~500-line guide: one helper per figure kind of every chapter, each
short; split further, the colours and the shared axis conventions would be imported everywhere.)

Colours are fixed across chapters: the data distribution is always ``DATA``, the
latent N(0, I) always ``LATENT``, probability-flow trajectories ``FLOW`` and
optimal-transport displacements ``OT``. Helpers draw on a given matplotlib ``Axes``
and return it, so chapters compose figures freely.

The module is organised by figure kind, not by chapter: colours; densities and level
sets in the plane; points and pairings; trajectories; curves of an error or a quality
against a parameter; image grids.
"""

from __future__ import annotations

import numpy as np

DATA = "#1f77b4"  # data distribution p_0
LATENT = "#d62728"  # latent N(0, I)
FLOW = "#2ca02c"  # probability-flow (DDPM/DDIM encoder) trajectories
OT = "#7f7f7f"  # optimal-transport displacements
ACCENT = "#ff7f0e"  # highlighted points, controls

__all__ = [
    "DATA",
    "LATENT",
    "FLOW",
    "OT",
    "ACCENT",
    "blend",
    "time_color",
    "SAMPLER_STYLE",
    "gaussian_ellipse",
    "gaussian_density",
    "density_map",
    "shaded_density",
    "laguerre_cells",
    "displacements",
    "swap_pair",
    "point_values",
    "strip",
    "sampler_panels",
    "trajectories",
    "polylines",
    "check_response",
    "nfe_curves",
    "quality_grid",
    "image_grid",
    "image_rows",
]


# ---------------------------------------------------------------------------
# Colours: fixed across chapters, and the colour of a time or a sampler.
# ---------------------------------------------------------------------------


def blend(color0, color1, s) -> str:
    """The colour ``(1 - s) * color0 + s * color1`` (s in [0, 1]) as a ``#rrggbb`` string."""
    from matplotlib.colors import to_rgb

    s = float(s)
    if not np.isfinite(s) or not 0.0 <= s <= 1.0:
        raise ValueError(f"s must be a number in [0, 1], got {s!r}")
    rgb = (1.0 - s) * np.array(to_rgb(color0)) + s * np.array(to_rgb(color1))
    return "#" + "".join(f"{int(round(255 * c)):02x}" for c in rgb)


def time_color(t) -> str:
    r"""Colour of :math:`p_t`: ``DATA`` at t = 0 blending into ``LATENT`` as t grows.

    The weight is the share of noise in :math:`\Sigma_t = e^{-2t}\Sigma + (1 - e^{-2t}) I`,
    i.e. s = 1 - e^{-2t}.
    """
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"t must be a finite time >= 0, got {t!r}")
    return blend(DATA, LATENT, 1.0 - np.exp(-2.0 * t))


SAMPLER_STYLE = {
    # method of ddpm_ot_lib.expressway.generate -> (label, colour, line style, marker)
    "ddpm": ("DDPM (ancestral)", ACCENT, "-", "s"),
    "ddim": ("DDIM", FLOW, "-", "o"),
    "dpm-solver++": ("DPM-Solver++(2M)", DATA, "-.", "^"),
    "dpm-ot": ("DPM-OT (+ DDIM)", OT, "-", "D"),
    "dpm-ot-ddpm": ("DPM-OT (+ ancestral)", OT, "--", "d"),
    "dpm-ot-singular": ("DPM-OT, singular points removed", OT, ":", "P"),
    "uniform-target": ("control: uniform target", LATENT, ":", "x"),
    "voronoi-target": ("control: Voronoi target", LATENT, "--", "+"),
}


# ---------------------------------------------------------------------------
# Densities and level sets in the plane: ellipses of a Gaussian, shaded densities,
# density maps on a grid, Laguerre cells.
# ---------------------------------------------------------------------------


def gaussian_ellipse(ax, mean, cov, n_std=(1.0, 2.0), color=DATA, **kwargs):
    """Draw the n_std-sigma ellipses of N(mean, cov) in 2-D on ``ax``."""
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if mean.shape != (2,) or cov.shape != (2, 2):
        raise ValueError(f"gaussian_ellipse needs mean (2,) and cov (2, 2), got {mean.shape} and {cov.shape}")
    lam, q = np.linalg.eigh(cov)
    angle = np.linspace(0.0, 2.0 * np.pi, 200)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    for k in np.atleast_1d(n_std):
        pts = mean[:, None] + q @ (k * np.sqrt(lam)[:, None] * circle)
        ax.plot(pts[0], pts[1], color=color, **kwargs)
    return ax


def gaussian_density(ax, mean, cov, extent, color=DATA, n_grid=160, vmax=None):
    """Shade the density of the 2-D Gaussian N(mean, cov) over ``extent`` on ``ax``.

    extent : (xmin, xmax, ymin, ymax); colour runs from white (0) to ``color`` (``vmax``,
    by default the peak density). Returns ``ax``.
    """
    from matplotlib.colors import LinearSegmentedColormap

    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if mean.shape != (2,) or cov.shape != (2, 2):
        raise ValueError(f"gaussian_density needs mean (2,) and cov (2, 2), got {mean.shape} and {cov.shape}")
    xmin, xmax, ymin, ymax = (float(v) for v in extent)
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with xmin < xmax, ymin < ymax, got {extent}")
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, n_grid), np.linspace(ymin, ymax, n_grid))
    diff = np.stack([gx - mean[0], gy - mean[1]], axis=-1)
    quad = np.einsum("...i,ij,...j->...", diff, np.linalg.inv(cov), diff)
    dens = np.exp(-0.5 * quad) / (2.0 * np.pi * np.sqrt(np.linalg.det(cov)))
    cmap = LinearSegmentedColormap.from_list("density", ["#ffffff", color])
    ax.imshow(
        dens,
        extent=(xmin, xmax, ymin, ymax),
        origin="lower",
        cmap=cmap,
        vmin=0.0,
        vmax=dens.max() if vmax is None else vmax,
        interpolation="bilinear",
    )
    ax.set_aspect("equal")
    return ax


def density_map(ax, values, extent, color=DATA, vmax=None):
    """Shade a 2-D density given by its values on a regular grid, white (0) to ``color``.

    values : array (ny, nx), rows along y (as ``np.meshgrid(x, y)`` gives them);
    extent : (xmin, xmax, ymin, ymax). Negative values (rounding in the tails) show as 0.
    Returns ``ax``.
    """
    from matplotlib.colors import LinearSegmentedColormap

    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"values must be a finite 2-D array (ny, nx), got shape {values.shape}")
    xmin, xmax, ymin, ymax = (float(v) for v in extent)
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with xmin < xmax, ymin < ymax, got {extent}")
    cmap = LinearSegmentedColormap.from_list("density", ["#ffffff", color])
    ax.imshow(
        np.maximum(values, 0.0),
        extent=(xmin, xmax, ymin, ymax),
        origin="lower",
        cmap=cmap,
        vmin=0.0,
        vmax=values.max() if vmax is None else vmax,
        interpolation="bilinear",
    )
    ax.set_aspect("equal")
    return ax


def shaded_density(ax, x, density, color=DATA, label="data density $p_0$ (shaded)"):
    """Shade ``density`` over the 1-D points ``x`` (m,) on a twin axis *behind* ``ax``'s own
    curves, labelled in ``color`` on the right; returns the twin axis."""
    x, density = np.ravel(np.asarray(x, dtype=float)), np.ravel(np.asarray(density, dtype=float))
    if x.shape != density.shape or not np.all(np.isfinite(density)) or np.any(density < 0):
        raise ValueError("density must hold one finite value >= 0 per point of x")
    shade = ax.twinx()
    shade.fill_between(x, density, color=color, alpha=0.2)
    shade.set(ylim=(0, 2.5 * density.max()), yticks=[])
    shade.set_ylabel(label, color=color)
    ax.set_zorder(shade.get_zorder() + 1)  # the curves above the shading
    ax.patch.set_visible(False)
    return shade


def laguerre_cells(
    ax, targets, heights, extent, n_grid=400, target_color=DATA, edge_color=OT, prior_circles=(1.0, 2.0), shade=True
):
    r"""Draw the Laguerre cells :math:`W_j = \{x : j = \arg\max_k \langle x, y_k\rangle + b_k\}` in 2-D.

    targets : (N, 2) points :math:`y_j` (drawn as dots); heights : (N,) Brenier heights b;
    extent : (xmin, xmax, ymin, ymax) of the window. Cells are shaded in alternating light
    tones and outlined in ``edge_color``; circles of radius ``prior_circles`` mark the
    prior N(0, I) (colour ``LATENT``). Returns ``ax``.
    """
    from matplotlib.colors import ListedColormap

    from .semidiscrete import assign

    targets = np.asarray(targets, dtype=float)
    heights = np.asarray(heights, dtype=float)
    if targets.ndim != 2 or targets.shape[1] != 2 or heights.shape != (targets.shape[0],):
        raise ValueError(
            f"laguerre_cells needs targets (N, 2) and heights (N,), got {targets.shape} and {heights.shape}"
        )
    xmin, xmax, ymin, ymax = (float(v) for v in extent)
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with xmin < xmax, ymin < ymax, got {extent}")
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, n_grid), np.linspace(ymin, ymax, n_grid))
    cell = assign(np.stack([gx.ravel(), gy.ravel()], 1), targets, heights).reshape(gx.shape)
    if shade:
        tones = ListedColormap(["#f3f3f3", "#e2e2e2", "#fbfbfb", "#d6d6d6", "#ececec"])
        ax.imshow(
            cell % 5,
            extent=(xmin, xmax, ymin, ymax),
            origin="lower",
            cmap=tones,
            vmin=0,
            vmax=4,
            interpolation="nearest",
        )
    edges = (np.diff(cell, axis=0, prepend=cell[:1]) != 0) | (np.diff(cell, axis=1, prepend=cell[:, :1]) != 0)
    ax.contour(gx, gy, edges.astype(float), levels=[0.5], colors=edge_color, linewidths=0.8)
    angle = np.linspace(0.0, 2.0 * np.pi, 200)
    for r in np.atleast_1d(prior_circles):
        ax.plot(r * np.cos(angle), r * np.sin(angle), color=LATENT, lw=1.0, ls="--")
    ax.scatter(targets[:, 0], targets[:, 1], s=14, color=target_color, zorder=3)
    ax.set(xlim=(xmin, xmax), ylim=(ymin, ymax), aspect="equal")
    return ax


# ---------------------------------------------------------------------------
# Points and pairings: displacement segments, a swapped pair, values over points,
# strips of values per group, samples of several samplers side by side.
# ---------------------------------------------------------------------------


def displacements(ax, x0, x1, color=OT, lw=0.8, alpha=0.7, **kwargs):
    """Draw straight segments x0[i] -> x1[i] (2-D), as an optimal-transport plan is drawn."""
    x0 = np.asarray(x0, dtype=float)
    x1 = np.asarray(x1, dtype=float)
    if x0.shape != x1.shape or x0.ndim != 2 or x0.shape[1] != 2:
        raise ValueError(f"x0 and x1 must both have shape (n, 2), got {x0.shape} and {x1.shape}")
    seg_x = np.stack([x0[:, 0], x1[:, 0]])
    seg_y = np.stack([x0[:, 1], x1[:, 1]])
    ax.plot(seg_x, seg_y, color=color, lw=lw, alpha=alpha, **kwargs)
    return ax


def swap_pair(ax, x, z, i, j, before=ACCENT, after=OT):
    """The pairs ``x[i] -> z[i]``, ``x[j] -> z[j]`` (solid, ``before``) and the swapped
    pairs ``x[i] -> z[j]``, ``x[j] -> z[i]`` (dashed, ``after``), their end points enlarged,
    with legend entries "random pairing" and "swapped". x, z : (n, 2); i != j indices."""
    x, z = np.asarray(x, dtype=float), np.asarray(z, dtype=float)
    if x.shape != z.shape or x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x and z must both have shape (n, 2), got {x.shape} and {z.shape}")
    n = x.shape[0]
    if not (0 <= i < n and 0 <= j < n) or i == j:
        raise ValueError(f"i and j must be two distinct indices in [0, {n}), got {i} and {j}")
    pair = [i, j]
    displacements(ax, x[pair], z[pair], color=before, lw=2, alpha=1)
    displacements(ax, x[pair], z[[j, i]], color=after, lw=2, alpha=1, ls="--")
    ax.scatter(*x[pair].T, s=40, color=DATA, zorder=3)
    ax.scatter(*z[pair].T, s=40, color=LATENT, zorder=3)
    ax.plot([], [], color=before, lw=2, label="random pairing")
    ax.plot([], [], color=after, lw=2, ls="--", label="swapped")
    return ax


def point_values(ax, x, values, label, cmap="viridis", vmin=None, vmax=None, s=10):
    """Scatter 2-D points ``x`` (n, 2) coloured by log10 of positive ``values`` (n,), with a colour bar."""
    x = np.asarray(x, dtype=float)
    v = np.asarray(values, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2 or v.shape != (x.shape[0],):
        raise ValueError(f"x must have shape (n, 2) and values (n,), got {x.shape} and {v.shape}")
    logv = np.log10(np.maximum(v, np.finfo(float).tiny))
    art = ax.scatter(x[:, 0], x[:, 1], c=logv, s=s, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.figure.colorbar(art, ax=ax, label=f"log10 {label}")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    return ax


def strip(ax, groups, color=OT, reference=None, reference_label="paper", seed=0, s=6, alpha=0.5):
    """One jittered column of points per group: ``groups`` maps a label to its values (n,).

    ``reference`` (optional) maps labels to one value each, drawn as a short bar beside
    the column (e.g. the paper's maximum). Non-finite values are left out. Returns ``ax``.
    """
    if not groups:
        raise ValueError("groups must map at least one label to values")
    rng = np.random.default_rng(seed)
    for i, (label, vals) in enumerate(groups.items()):
        v = np.asarray(vals, dtype=float)
        v = v[np.isfinite(v)]
        ax.scatter(i + rng.uniform(-0.18, 0.18, v.size), v, s=s, color=color, alpha=alpha, lw=0)
        if reference is not None and label in reference:
            ax.plot(
                [i + 0.25, i + 0.45],
                [reference[label]] * 2,
                color=ACCENT,
                lw=2,
                label=reference_label if i == 0 else None,
            )
    ax.set_xticks(range(len(groups)), [str(k) for k in groups])
    return ax


def sampler_panels(fig, samples: dict, methods, lim: float = 1.5, s: float = 2, fontsize: float = 8):
    """One scatter panel per sampler, side by side on ``fig``, in the colours of ``SAMPLER_STYLE``.

    samples : dict method -> points (n, 2); methods : the panels, in order (keys of
    ``SAMPLER_STYLE``); the axes share the square ``[-lim, lim]^2`` and carry no ticks.
    Returns the axes.
    """
    methods = list(methods)
    unknown = [m for m in methods if m not in SAMPLER_STYLE or m not in samples]
    if not methods or unknown:
        raise ValueError(f"methods must be non-empty keys of SAMPLER_STYLE and of samples, got {unknown or methods}")
    axes = np.atleast_1d(fig.subplots(1, len(methods), sharex=True, sharey=True))
    for ax, method in zip(axes, methods):
        label, color = SAMPLER_STYLE[method][:2]
        ax.scatter(*samples[method].T, s=s, color=color)
        ax.set(title=label, aspect="equal", xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[])
        ax.title.set_fontsize(fontsize)
    return axes


# ---------------------------------------------------------------------------
# Trajectories: probability-flow paths of particles, polylines.
# ---------------------------------------------------------------------------


def trajectories(ax, paths, color=FLOW, start_color=DATA, end_color=LATENT, lw=0.8, alpha=0.7):
    """Draw 2-D trajectories ``paths`` of shape (m, n, 2) (m times, n particles)."""
    paths = np.asarray(paths, dtype=float)
    if paths.ndim != 3 or paths.shape[2] != 2:
        raise ValueError(f"paths must have shape (m, n, 2), got {paths.shape}")
    ax.plot(paths[:, :, 0], paths[:, :, 1], color=color, lw=lw, alpha=alpha)
    ax.scatter(paths[0, :, 0], paths[0, :, 1], s=8, color=start_color, zorder=3)
    ax.scatter(paths[-1, :, 0], paths[-1, :, 1], s=8, color=end_color, zorder=3)
    return ax


def polylines(ax, lines, color=FLOW, lw=0.8, alpha=0.9):
    """Draw each curve of ``lines`` (a list of arrays (k, 2), or an array (m, k, 2)) on ``ax``.

    Used for the image of a grid of lines under a map (e.g. the encoder E).
    """
    arrs = [np.asarray(line, dtype=float) for line in lines]
    if not arrs or any(a.ndim != 2 or a.shape[1] != 2 for a in arrs):
        raise ValueError("lines must be a non-empty list of arrays of shape (k, 2)")
    for a in arrs:
        ax.plot(a[:, 0], a[:, 1], color=color, lw=lw, alpha=alpha)
    return ax


# ---------------------------------------------------------------------------
# Curves of an error or a quality against a parameter: the response of a check to
# rotation controls, quality against NFE, the grid of quality curves of a sweep file.
# ---------------------------------------------------------------------------


def check_response(ax, thetas, curves, floor=1e-17, title=None):
    """Log-log responses of optimality checks to the rotation angle θ of a control map.

    curves : list of (values (m,), label, color, marker[, resolution]) with one value per θ.
    Values at or below a curve's ``resolution`` (default ``floor``; e.g. 1e-12 for a cost
    error that is 0 up to rounding) count as "no response" and are drawn at ``floor`` with
    hollow markers. Returns ``ax``.
    """
    thetas = np.asarray(thetas, dtype=float)
    if thetas.ndim != 1 or np.any(thetas <= 0):
        raise ValueError(f"thetas must be a 1-D array of positive angles, got {thetas}")
    for k, curve in enumerate(curves):
        if len(curve) not in (4, 5):
            raise ValueError("each curve must be (values, label, color, marker) or (..., resolution)")
        values, label, color, marker = curve[:4]
        resolution = float(curve[4]) if len(curve) == 5 else floor
        v = np.asarray(values, dtype=float)
        if v.shape != thetas.shape:
            raise ValueError(f"each curve needs one value per theta ({thetas.size}), got {v.shape} for {label!r}")
        low = ~(v > resolution)
        ax.plot(thetas, np.where(low, floor, v), "-", color=color, lw=1.2, alpha=0.8, zorder=2 + k)
        ax.plot(thetas[~low], v[~low], marker, color=color, ms=5, label=label, zorder=2 + k)
        ax.plot(thetas[low], np.full(low.sum(), floor), marker, color=color, ms=5, mfc="none", zorder=2 + k)
    ax.set(xscale="log", yscale="log", xlabel=r"control angle $\theta$ (rad)", ylabel="check's value")
    if title is not None:
        ax.set_title(title, fontsize=10)
    return ax


def nfe_curves(ax, curves, metric, methods=None, floor=None, floor_label="noise floor", floor_band=None, logy=False):
    """Plot ``metric`` against the NFE for each sampler in ``curves`` (log NFE axis).

    curves : dict method -> list of rows with keys "nfe" and ``metric`` (the format of
    book/data/dpm_ot_sweeps.json, written by runs/dpm_ot_sweeps.py); methods : which to
    draw (default: all, in the order of
    SAMPLER_STYLE); floor : a reference value drawn as a horizontal ``DATA`` line, with an
    optional ``floor_band`` half-width shaded around it. Returns ``ax``.
    """
    methods = [m for m in SAMPLER_STYLE if m in curves] if methods is None else list(methods)
    for m in methods:
        if m not in SAMPLER_STYLE:
            raise ValueError(f"unknown method {m!r}; expected one of {list(SAMPLER_STYLE)}")
        rows = curves[m]
        label, color, ls, marker = SAMPLER_STYLE[m]
        ax.plot(
            [r["nfe"] for r in rows],
            [r[metric] for r in rows],
            color=color,
            ls=ls,
            marker=marker,
            ms=4,
            lw=1.6 if m == "dpm-ot" else 1.2,
            label=label,
        )
    if floor is not None:
        ax.axhline(floor, color=DATA, lw=1.0, label=floor_label)
        if floor_band is not None:
            ax.axhspan(floor - floor_band, floor + floor_band, color=DATA, alpha=0.12, lw=0)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("network evaluations (NFE)")
    return ax


def quality_grid(sweeps, kinds=("8gaussians", "25gaussians", "digits"), width=10.0):
    """The chapter's quality-against-NFE figure: one row per scale in ``kinds``.

    sweeps : the dict of book/data/dpm_ot_sweeps.json. Left column: the distance to the
    data law (W2 for 2-D mixtures, sliced W2 to held-out images for "digits") with its
    noise floor; right column: the mode-mixture rate with that of real data. Returns the
    figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(kinds), 2, figsize=(width, 3.6 * len(kinds)), sharex=True, squeeze=False)
    for row, kind in zip(axes, kinds):
        res = sweeps[kind]
        ref = res["reference"]
        if "sw2_floor_train_vs_test" in ref:
            nfe_curves(
                row[0],
                res["curves"],
                "sw2",
                floor=ref["sw2_floor_train_vs_test"],
                floor_label="training set vs held-out",
                logy=True,
            )
            nfe_curves(row[1], res["curves"], "mixture", floor=ref["test"]["mixture"], floor_label="held-out images")
            row[0].set_ylabel("sliced $W_2$ to held-out")
        else:
            nfe_curves(
                row[0],
                res["curves"],
                "w2",
                floor=ref["w2_floor_mean"],
                floor_band=ref["w2_floor_sd"],
                floor_label="two true samples",
                logy=True,
            )
            nfe_curves(row[1], res["curves"], "mixture", floor=ref["true"]["mixture"], floor_label="true law")
            row[0].set_ylabel("$W_2$ to the true law")
        row[1].set_ylabel("mode-mixture rate")
        row[0].set_title(kind, loc="left", fontsize=11)
    axes[0, 1].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# Image grids.
# ---------------------------------------------------------------------------


def _mosaic(images, ncol, pad, background):
    images = np.asarray(images, dtype=float)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] != 3):
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, 3), got {images.shape}")
    n, h, w = images.shape[:3]
    ncol = n if ncol is None else int(ncol)
    if ncol < 1:
        raise ValueError(f"ncol must be >= 1, got {ncol}")
    nrow = -(-n // ncol)
    shape = (nrow * (h + pad) + pad, ncol * (w + pad) + pad) + images.shape[3:]
    canvas = np.full(shape, background, dtype=float)
    for k in range(n):
        r, c = divmod(k, ncol)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        canvas[y : y + h, x : x + w] = images[k]
    return canvas


def image_grid(ax, images, ncol=None, pad=1, cmap="gray_r", background=None, title=None, ylabel=None):
    """Tile ``images`` (n, h, w) grey or (n, h, w, 3) RGB, values in [0, 1], into one picture on ``ax``.

    Images fill the rows left to right, ``ncol`` per row (default: all in one row),
    separated by ``pad`` pixels of ``background`` (default: white). Grey images use
    ``cmap``, with 0 -> white for the default ``"gray_r"`` (ink on paper, as the
    digits are drawn).
    Axis ticks are removed; ``ylabel`` labels the row (e.g. the model's name).
    """
    if background is None:
        background = 0.0 if np.ndim(images) == 3 and cmap == "gray_r" else 1.0
    canvas = _mosaic(images, ncol, pad, background)
    if canvas.ndim == 2:
        ax.imshow(canvas, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(canvas, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if title is not None:
        ax.set_title(title, fontsize=10)
    if ylabel is not None:
        ax.set_ylabel(ylabel, rotation=0, ha="right", va="center", fontsize=10)
    return ax


def image_rows(rows, labels, ncol=None, width=9.0, title=None, cmap="gray_r"):
    """One figure, one row of :func:`image_grid` per entry of ``rows`` (e.g. one per model).

    rows : list of arrays (n, h, w[, 3]) with the same n (the same latents decoded by
    different models line up in columns); labels : one name per row.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if len(rows) != len(labels) or not rows:
        raise ValueError(f"rows and labels must be non-empty and of equal length, got {len(rows)} and {len(labels)}")
    first = np.asarray(rows[0])
    n, h, w = first.shape[:3]
    ncol = n if ncol is None else ncol
    per_row = -(-n // ncol) * (h + 1) / (ncol * (w + 1))
    fig, axes = plt.subplots(len(rows), 1, figsize=(width, width * per_row * len(rows) * 1.08 + 0.3), squeeze=False)
    for ax, imgs, label in zip(axes[:, 0], rows, labels):
        image_grid(ax, imgs, ncol=ncol, ylabel=label, cmap=cmap)
    if title is not None:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
