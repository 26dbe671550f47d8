"""One helper per figure kind, with the book's colours.

Colours are fixed across chapters: the data distribution is always ``DATA``, the
latent N(0, I) always ``LATENT``, probability-flow trajectories ``FLOW`` and
optimal-transport displacements ``OT``. Helpers draw on a given matplotlib ``Axes``
and return it, so chapters compose figures freely.
"""
from __future__ import annotations

import numpy as np

DATA = "#1f77b4"      # data distribution p_0
LATENT = "#d62728"    # latent N(0, I)
FLOW = "#2ca02c"      # probability-flow (DDPM/DDIM encoder) trajectories
OT = "#7f7f7f"        # optimal-transport displacements
ACCENT = "#ff7f0e"    # highlighted points, controls

__all__ = ["DATA", "LATENT", "FLOW", "OT", "ACCENT", "gaussian_ellipse", "trajectories", "displacements"]


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


def trajectories(ax, paths, color=FLOW, start_color=DATA, end_color=LATENT, lw=0.8, alpha=0.7):
    """Draw 2-D trajectories ``paths`` of shape (m, n, 2) (m times, n particles)."""
    paths = np.asarray(paths, dtype=float)
    if paths.ndim != 3 or paths.shape[2] != 2:
        raise ValueError(f"paths must have shape (m, n, 2), got {paths.shape}")
    ax.plot(paths[:, :, 0], paths[:, :, 1], color=color, lw=lw, alpha=alpha)
    ax.scatter(paths[0, :, 0], paths[0, :, 1], s=8, color=start_color, zorder=3)
    ax.scatter(paths[-1, :, 0], paths[-1, :, 1], s=8, color=end_color, zorder=3)
    return ax


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


# --- Helpers for the Gaussian toy chapter (Fig. 1) and the widgets ---------------------

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
    ax.imshow(dens, extent=(xmin, xmax, ymin, ymax), origin="lower", cmap=cmap,
              vmin=0.0, vmax=dens.max() if vmax is None else vmax, interpolation="bilinear")
    ax.set_aspect("equal")
    return ax


__all__ += ["blend", "time_color", "gaussian_density"]


# ---------------------------------------------------------------------------
# Image grids (the image-latents chapter, §3.5, Figs. 4-5).
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
        canvas[y:y + h, x:x + w] = images[k]
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
    fig, axes = plt.subplots(len(rows), 1, figsize=(width, width * per_row * len(rows) * 1.08 + 0.3),
                             squeeze=False)
    for ax, imgs, label in zip(axes[:, 0], rows, labels):
        image_grid(ax, imgs, ncol=ncol, ylabel=label, cmap=cmap)
    if title is not None:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


__all__ += ["image_grid", "image_rows"]
