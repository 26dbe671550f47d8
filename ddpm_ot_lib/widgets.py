r"""The live-kernel explorer: an ipywidgets control of the Gaussian toy (§3.1, Fig. 1).

:func:`gaussian_explorer` builds a :class:`GaussianExplorer` for Jupyter or Binder:
sliders for the time t, the mean a and the covariance (σ1, σ2, ρ) redraw the density
ellipses of :math:`p_t`, the particles and their probability-flow trajectories,
integrated by :func:`ddpm_ot_lib.flow.encode` (Eq. 9,
:math:`dx/dt = -(x + \nabla\log p_t(x))`) with the exact Gaussian score of
:func:`ddpm_ot_lib.gaussian.score`, for data :math:`p_0 = N(a, \Sigma)` in 2-D.

The same picture for the static page, with no kernel, and the generic frame player are
in :mod:`ddpm_ot_lib.players`; :func:`trajectory_player`, :func:`frame_player` and
:func:`player_frames` are importable from here too, where the chapters call them.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np

from . import _validate as check
from . import flow, gaussian, plots
from .players import frame_player, player_frames, trajectory_player

__all__ = ["covariance", "player_frames", "trajectory_player", "frame_player", "gaussian_explorer", "GaussianExplorer"]


# --------------------------------------------------------------------------- helpers


def covariance(std1, std2, rho) -> np.ndarray:
    r"""The 2-D covariance :math:`\begin{pmatrix}σ_1^2 & ρσ_1σ_2\\ ρσ_1σ_2 & σ_2^2\end{pmatrix}`.

    std1, std2 : float > 0 (standard deviations); rho : float in (-1, 1) (correlation).
    Returns array (2, 2), symmetric positive definite.
    """
    s1 = check.positive(std1, "std1")
    s2 = check.positive(std2, "std2")
    r = _correlation(rho)
    return np.array([[s1 * s1, r * s1 * s2], [r * s1 * s2, s2 * s2]])


def _correlation(rho) -> float:
    arr = check.float_array(rho, "rho")
    if arr.ndim != 0 or not np.isfinite(arr) or not -1.0 < float(arr) < 1.0:
        raise ValueError(f"rho must be a correlation strictly between -1 and 1, got {rho!r}")
    return float(arr)


# --------------------------------------------------------------------------- ipywidgets


def _explorer_figure(a, sigma, x, paths, ts, k, dpi):
    """PNG bytes of the explorer's picture at frame k."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(7.2, 4.6), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    latent = gaussian.ot_map(x, a, sigma)
    mean_t, cov_t = gaussian.marginal(a, sigma, ts[k])
    plots.gaussian_ellipse(ax, np.zeros(2), np.eye(2), color=plots.LATENT, ls="--", lw=1)
    plots.displacements(ax, x, latent, color=plots.OT, lw=0.9, alpha=0.8, ls=":")
    ax.plot(paths[:, :, 0], paths[:, :, 1], color=plots.FLOW, lw=0.8, alpha=0.35)
    ax.plot(paths[: k + 1, :, 0], paths[: k + 1, :, 1], color=plots.FLOW, lw=1.2, alpha=0.9)
    color = plots.time_color(ts[k])
    plots.gaussian_ellipse(ax, mean_t, cov_t, color=color, lw=2)
    ax.scatter(latent[:, 0], latent[:, 1], s=18, facecolors="none", edgecolors=plots.LATENT, lw=0.8, zorder=3)
    ax.scatter(paths[k, :, 0], paths[k, :, 1], s=22, color=color, edgecolors="white", lw=0.5, zorder=4)
    pts = np.concatenate([paths.reshape(-1, 2), latent, [[-2.2, -2.2], [2.2, 2.2]]])
    lo, hi = np.floor(pts.min(axis=0)) - 0.5, np.ceil(pts.max(axis=0)) + 0.5
    ax.set(
        xlim=(lo[0], hi[0]),
        ylim=(lo[1], hi[1]),
        aspect="equal",
        xlabel="$x_1$",
        ylabel="$x_2$",
        title=f"$t = {ts[k]:.2f}$",
    )
    handles = [
        Line2D([], [], color=color, lw=2, label="$p_t$: 1σ, 2σ"),
        Line2D([], [], color=plots.FLOW, lw=1.2, label="flow, Eq. (9)"),
        Line2D([], [], color=plots.OT, lw=0.9, ls=":", label="OT lines"),
        Line2D([], [], color=plots.LATENT, marker="o", mfc="none", ls="", label="codes E(x)"),
        Line2D([], [], color=plots.LATENT, lw=1, ls="--", label="N(0, I)"),
    ]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class GaussianExplorer(widgets.VBox):
    """The explorer of :func:`gaussian_explorer`: sliders, an image, a read-out line.

    Attributes ``sliders`` (dict name -> FloatSlider), ``image`` (``ipywidgets.Image``),
    ``readout`` (``ipywidgets.HTML``); ``update()`` recomputes and redraws (it runs by
    itself when a slider moves).
    """

    def setup(self, sliders, image, readout, z, t_max, m, rtol, dpi):
        self.sliders, self.image, self.readout = sliders, image, readout
        self._z, self._ts, self._rtol, self._dpi = z, np.linspace(0.0, t_max, m), rtol, dpi
        self._cache_key, self._cache = None, None
        for slider in sliders.values():
            slider.observe(lambda change: self.update(), names="value")
        return self.update()

    def params(self):
        """(a (2,), Σ (2, 2), t) from the sliders."""
        v = {k: s.value for k, s in self.sliders.items()}
        return np.array([v["a1"], v["a2"]]), covariance(v["std1"], v["std2"], v["rho"]), v["t"]

    def update(self):
        a, sigma, t = self.params()
        key = (tuple(a), tuple(sigma.ravel()))
        if key != self._cache_key:  # new data law: integrate Eq. (9) again
            x = a + self._z @ gaussian.sqrtm(sigma)
            paths = flow.encode(
                x, lambda y, s: gaussian.score(y, s, a, sigma), t_max=self._ts[-1], rtol=self._rtol, t_eval=self._ts
            )
            self._cache_key, self._cache = key, (x, paths)
        x, paths = self._cache
        k = int(np.argmin(np.abs(self._ts - t)))
        self.image.value = _explorer_figure(a, sigma, x, paths, self._ts, k, self._dpi)
        exact = gaussian.flow_map(x, self._ts[k], a, sigma)
        seg = np.linalg.norm(np.diff(paths, axis=0), axis=-1).sum(axis=0)
        chord = np.linalg.norm(paths[-1] - paths[0], axis=-1)
        ratio = np.median(seg / np.maximum(chord, 1e-300))
        self.readout.value = (
            f"<code>t = {self._ts[k]:.2f}</code> &nbsp; max |ODE &minus; exact flow| = "
            f"<code>{np.abs(paths[k] - exact).max():.2g}</code> &nbsp; median path/chord "
            f"length (0 &rarr; {self._ts[-1]:g}) = <code>{ratio:.3f}</code>"
        )
        return self


def gaussian_explorer(
    mean=(2.0, 1.0),
    std=(1.4, 0.6),
    rho=0.6,
    t=0.5,
    n=30,
    seed=0,
    t_max: float = 4.0,
    m: int = 81,
    rtol: float = 1e-10,
    dpi: int = 80,
):
    r"""An ipywidgets explorer of the probability flow of :math:`N(a, Σ)` (Fig. 1).

    Sliders: time ``t`` (0 .. t_max), mean ``a1``, ``a2`` (-3 .. 3), standard deviations
    ``std1``, ``std2`` (0.2 .. 2.5) and correlation ``rho`` (-0.9 .. 0.9), with
    :math:`Σ` = :func:`covariance` (std1, std2, rho). The picture shows the 1σ/2σ
    ellipses of :math:`p_t`, the n particles :math:`x_t` (the same standard-normal
    draws z, mapped to :math:`a + Σ^{1/2} z`, so they move smoothly with the
    parameters), their trajectories from ``flow.encode`` on ``m`` times in [0, t_max],
    the straight OT lines :math:`x \to Σ^{-1/2}(x - a)` and N(0, I).

    Returns
    -------
    a :class:`GaussianExplorer` (an ``ipywidgets.VBox``) with ``sliders`` (dict of the
    six sliders), ``image`` (``ipywidgets.Image``), ``readout`` (``ipywidgets.HTML``)
    and ``update()``; it redraws itself when a slider moves.
    """
    w = widgets
    a = check.vector(mean, "mean", d=2)
    std = check.vector(std, "std", d=2)
    if np.any(std <= 0):
        raise ValueError(f"std must hold two standard deviations > 0, got {std}")
    rho = _correlation(rho)
    t_max = check.positive(t_max, "t_max")
    t = check.time(t, "t")
    if t > t_max:
        raise ValueError(f"t must lie in [0, t_max = {t_max}], got {t}")
    n = check.count(n, "n", 1)
    seed = check.count(seed, "seed", 0)
    m = check.count(m, "m", 2)
    dpi = check.count(dpi, "dpi", 10)
    rtol = check.positive(rtol, "rtol")
    for name, value, lo, hi in (("mean", a, -3.0, 3.0), ("std", std, 0.2, 2.5)):
        if np.any(value < lo) or np.any(value > hi):
            raise ValueError(f"{name} must lie in [{lo}, {hi}] (the slider range), got {value}")
    if abs(rho) > 0.9:
        raise ValueError(f"rho must lie in [-0.9, 0.9] (the slider range), got {rho}")

    def slider(value, lo, hi, step, desc, fmt=".2f", continuous=False):
        return w.FloatSlider(
            value=value,
            min=lo,
            max=hi,
            step=step,
            description=desc,
            readout_format=fmt,
            continuous_update=continuous,
            layout=w.Layout(width="320px"),
        )

    sliders = {
        "t": slider(t, 0.0, t_max, t_max / (m - 1), "time t", continuous=True),
        "a1": slider(a[0], -3.0, 3.0, 0.1, "mean a\u2081", ".1f"),
        "a2": slider(a[1], -3.0, 3.0, 0.1, "mean a\u2082", ".1f"),
        "std1": slider(std[0], 0.2, 2.5, 0.05, "\u03c3\u2081"),
        "std2": slider(std[1], 0.2, 2.5, 0.05, "\u03c3\u2082"),
        "rho": slider(rho, -0.9, 0.9, 0.05, "\u03c1"),
    }
    image = w.Image(format="png", layout=w.Layout(max_width="640px"))
    readout = w.HTML()
    s = sliders
    controls = w.HBox([w.VBox([s["t"], s["a1"], s["a2"]]), w.VBox([s["std1"], s["std2"], s["rho"]])])
    box = GaussianExplorer(children=[controls, image, readout])
    z = np.random.default_rng(seed).standard_normal((n, 2))
    box.setup(sliders, image, readout, z, t_max, m, rtol, dpi)
    return box
