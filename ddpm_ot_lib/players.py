r"""The kernel-free players: interactive figures for the static HTML page, with no kernel.

(Just over the book's ~500-line guide: the two players share one markup, one script loader
and one frame format, which the browser test checks on every page; kept together.)

* :func:`trajectory_player` -- the Gaussian toy of §3.1 (Fig. 1) as a self-contained
  inline ``<svg>`` with a time slider and a play button: the density ellipses of
  :math:`p_t`, the particles and their probability-flow trajectories. Every number
  is computed here, in Python (:func:`player_frames`); the script only moves what is
  already drawn.
* :func:`frame_player` -- the generic player: any matplotlib figure drawn by a
  callable for each value of a parameter, rendered here as small PNG frames and
  embedded in the page; the script swaps the picture when the slider moves.

The two players share one markup (``div.ddpm-player`` with ``button.ddpm-player-play``,
``input.ddpm-player-slider``, ``.ddpm-player-time`` and an ``svg``), which the browser
test moves on every page. Their JavaScript lives in package data files
(``trajectory_player.js``, ``player.js``, and the two pieces both include where they say
``// @include NAME``: ``player_root.js``, which finds the player's root and marks it
ready, and ``player_controls.js``, the play/pause button and the slider), read and
inlined when a player is rendered (:func:`player_code`).
The trajectory player integrates Eq. (9), :math:`dx/dt = -(x + \nabla\log p_t(x))`,
with :func:`ddpm_ot_lib.flow.encode` and the exact Gaussian score of
:func:`ddpm_ot_lib.gaussian.score`, for data :math:`p_0 = N(a, \Sigma)` in 2-D.
The live-kernel explorer is :mod:`ddpm_ot_lib.widgets`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import numbers

import numpy as np

from . import _validate as check
from . import flow, gaussian, plots

__all__ = ["player_frames", "trajectory_player", "frame_player"]


def _ellipse_params(cov_t: np.ndarray):
    """(semi-axis major, semi-axis minor, angle of the major axis in degrees) of the 1σ ellipse."""
    lam, q = np.linalg.eigh(cov_t)
    angle = np.degrees(np.arctan2(q[1, 1], q[0, 1]))
    angle = (angle + 90.0) % 180.0 - 90.0  # the same ellipse, angle in [-90, 90)
    return np.sqrt(lam[1]), np.sqrt(lam[0]), angle


# --------------------------------------------------------------------------- frames


def player_frames(mean, cov, x, times, rtol: float = 1e-10) -> dict:
    r"""Everything the trajectory player draws, computed once.

    Parameters
    ----------
    mean : array (2,)        data mean a
    cov : array (2, 2)       data covariance Σ (SPD)
    x : array (n, 2)         particles at t = 0
    times : array (m,)       increasing frame times, times[0] = 0, m >= 2
    rtol : float             tolerance of :func:`ddpm_ot_lib.flow.encode`

    Returns
    -------
    dict with
      ``times`` (m,); ``positions`` (m, n, 2): the particles :math:`x_t` from
      ``flow.encode(x, score, t_max=times[-1], t_eval=times)`` (Eq. 9);
      ``centers`` (m, 2) = :math:`a e^{-t}` and ``axes`` (m, 2), ``angles`` (m,) (degrees):
      the 1σ ellipse of :math:`p_t = N(a e^{-t}, I + e^{-2t}(Σ - I))`;
      ``colors`` (m,): the colour of :math:`p_t` (:func:`ddpm_ot_lib.plots.time_color`);
      ``latent`` (n, 2): the codes :math:`E(x) = Σ^{-1/2}(x - a)` (Theorem 3.1).
    """
    a = check.vector(mean, "mean", d=2)
    sigma = check.spd_matrix(cov, "cov", d=2)
    x = check.points(x, "x", d=2)
    ts = check.times(times, "times")
    if ts.size < 2 or ts[0] != 0.0 or np.any(np.diff(ts) <= 0):
        raise ValueError("times must be strictly increasing, start at 0 and hold at least 2 frames")
    positions = flow.encode(x, lambda y, t: gaussian.score(y, t, a, sigma), t_max=ts[-1], rtol=rtol, t_eval=ts)
    centers, axes, angles, colors = [], [], [], []
    for t in ts:
        mean_t, cov_t = gaussian.marginal(a, sigma, t)
        major, minor, angle = _ellipse_params(cov_t)
        centers.append(mean_t)
        axes.append((major, minor))
        angles.append(angle)
        colors.append(plots.time_color(t))
    return {
        "times": ts,
        "positions": positions,
        "centers": np.array(centers),
        "axes": np.array(axes),
        "angles": np.array(angles),
        "colors": colors,
        "latent": gaussian.ot_map(x, a, sigma),
        "mean": a,
        "cov": sigma,
    }


# --------------------------------------------------------------------------- SVG player

_W, _H = 700, 430  # SVG canvas (px)
_BOX = (52.0, 14.0, 452.0, 384.0)  # plot area: left, top, right, bottom
_LEGEND_X = 472.0


def _r(v, nd=3):
    """Round for the page: ``nd`` decimals, ``-0.0`` written as ``0``."""
    out = round(float(v), nd)
    return 0.0 if out == 0 else out


def _fmt(v) -> str:
    """A pixel coordinate for the SVG: one decimal, no trailing zeros."""
    return f"{_r(v, 1):g}"


def _view(frames: dict):
    """Data window with equal aspect covering all that is drawn: (lower-left (2,), upper-right (2,), px per unit)."""
    pts = [frames["positions"].reshape(-1, 2), frames["latent"]]
    for c, (ax1, _) in zip(frames["centers"], frames["axes"]):
        pts.append(c + 2.0 * ax1 * np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]]))
    pts.append(2.0 * np.array([[1, 1], [-1, -1]]))
    pts = np.concatenate(pts)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.06 * (hi - lo).max()
    lo, hi = lo - pad, hi + pad
    left, top, right, bottom = _BOX
    scale = min((right - left) / (hi[0] - lo[0]), (bottom - top) / (hi[1] - lo[1]))
    centre = 0.5 * (lo + hi)
    half = 0.5 * np.array([right - left, bottom - top]) / scale
    return centre - half, centre + half, scale


def _ticks(lo, hi):
    from matplotlib.ticker import MaxNLocator

    return [t for t in MaxNLocator(nbins=6, steps=[1, 2, 5, 10]).tick_values(lo, hi) if lo <= t <= hi]


def _svg(frames: dict, uid: str):
    """(the SVG markup, (ox, oy, scale) of the map data -> px: (ox + s x, oy - s y))."""
    lo, hi, s = _view(frames)
    left, top, right, bottom = _BOX
    ox, oy = left - s * lo[0], bottom + s * lo[1]  # px = ox + s x,  py = oy - s y

    def px(p):
        return f"{_fmt(ox + s * p[0])},{_fmt(oy - s * p[1])}"

    def ellipse(center, major, minor, angle, k, style):
        cx, cy = ox + s * center[0], oy - s * center[1]
        return (
            f'<ellipse cx="{_fmt(cx)}" cy="{_fmt(cy)}" rx="{_fmt(k * s * major)}" ry="{_fmt(k * s * minor)}" '
            f'transform="rotate({_fmt(-angle)} {_fmt(cx)} {_fmt(cy)})" fill="none" {style}/>'
        )

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="100%" '
        f'style="max-width:{_W}px;display:block;background:#fff;font-family:sans-serif" role="img" '
        f'aria-label="probability-flow trajectories of a diffusing 2-D Gaussian">',
        f'<defs><clipPath id="{uid}-clip"><rect x="{left}" y="{top}" width="{right - left}" '
        f'height="{bottom - top}"/></clipPath></defs>',
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="#fff" stroke="none"/>',
    ]
    # ticks, grid, labels
    for t in _ticks(lo[0], hi[0]):
        X = _fmt(ox + s * t)
        out.append(
            f'<line x1="{X}" y1="{top}" x2="{X}" y2="{bottom}" stroke="#eee"/>'
            f'<line x1="{X}" y1="{bottom}" x2="{X}" y2="{bottom + 5}" stroke="#333"/>'
            f'<text x="{X}" y="{bottom + 18}" font-size="12" text-anchor="middle" fill="#333">{t:g}</text>'
        )
    for t in _ticks(lo[1], hi[1]):
        Y = _fmt(oy - s * t)
        out.append(
            f'<line x1="{left}" y1="{Y}" x2="{right}" y2="{Y}" stroke="#eee"/>'
            f'<line x1="{left - 5}" y1="{Y}" x2="{left}" y2="{Y}" stroke="#333"/>'
            f'<text x="{left - 8}" y="{Y}" dy="4" font-size="12" text-anchor="end" fill="#333">{t:g}</text>'
        )
    out.append(
        f'<text x="{(left + right) / 2}" y="{bottom + 38}" font-size="13" text-anchor="middle" '
        f'fill="#333">x\u2081</text><text x="14" y="{(top + bottom) / 2}" font-size="13" '
        f'text-anchor="middle" fill="#333" transform="rotate(-90 14 {(top + bottom) / 2})">x\u2082</text>'
    )
    out.append(f'<g clip-path="url(#{uid}-clip)">')
    # static: N(0, I), p_0, the trajectories, the codes E(x)
    for k in (1, 2):
        out.append(
            ellipse((0.0, 0.0), 1.0, 1.0, 0.0, k, f'stroke="{plots.LATENT}" stroke-dasharray="5 4" stroke-width="1.2"')
        )
        out.append(
            ellipse(
                frames["centers"][0],
                *frames["axes"][0],
                frames["angles"][0],
                k,
                f'stroke="{plots.DATA}" stroke-dasharray="2 3" stroke-width="1.2"',
            )
        )
    paths = frames["positions"]
    out.append(f'<g fill="none" stroke="{plots.FLOW}" stroke-width="1" stroke-opacity="0.45">')
    for i in range(paths.shape[1]):
        out.append('<polyline points="' + " ".join(px(p) for p in paths[:, i]) + '"/>')
    out.append(f'</g><g fill="none" stroke="{plots.LATENT}" stroke-width="1.2">')
    for p in frames["latent"]:
        out.append(f'<circle cx="{_fmt(ox + s * p[0])}" cy="{_fmt(oy - s * p[1])}" r="3.2"/>')
    # moving: density ellipses of p_t and the particles (frame 0; the script updates them)
    c0 = frames["colors"][0]
    out.append(f'</g><g class="ddpm-player-density" stroke="{c0}" stroke-width="2">')
    for k in (1, 2):
        out.append(ellipse(frames["centers"][0], *frames["axes"][0], frames["angles"][0], k, f'data-k="{k}"'))
    out.append(f'</g><g class="ddpm-player-particles" fill="{c0}" stroke="#fff" stroke-width="0.8">')
    for p in paths[0]:
        out.append(f'<circle cx="{_fmt(ox + s * p[0])}" cy="{_fmt(oy - s * p[1])}" r="4"/>')
    out.append("</g></g>")
    out.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#333"/>')
    # legend
    line = '<line x1="0" y1="0" x2="26" y2="0" '
    items = [
        (f'{line}stroke="{plots.DATA}" stroke-width="2"/>', "p\u209c: 1\u03c3, 2\u03c3 ellipses (colour: t)"),
        (f'<circle cx="13" cy="0" r="4" fill="{plots.DATA}" stroke="#fff"/>', "particles x\u209c"),
        (f'{line}stroke="{plots.FLOW}" stroke-opacity="0.6"/>', "flow trajectories, Eq. (9)"),
        (
            f'<circle cx="13" cy="0" r="3.2" fill="none" stroke="{plots.LATENT}" stroke-width="1.2"/>',
            "codes E(x) = T(x), the OT map",
        ),
        (f'{line}stroke="{plots.DATA}" stroke-dasharray="2 3" stroke-width="1.2"/>', "data p\u2080 = N(a, \u03a3)"),
        (f'{line}stroke="{plots.LATENT}" stroke-dasharray="5 4" stroke-width="1.2"/>', "latent N(0, I)"),
    ]
    for j, (mark, label) in enumerate(items):
        y = top + 14 + 24 * j
        out.append(
            f'<g transform="translate({_LEGEND_X} {y})">{mark}<text x="34" y="4" font-size="12" '
            f'fill="#333">{html.escape(label)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out), (ox, oy, s)


_INCLUDE = "// @include "


def player_code(name: str) -> str:
    """The JavaScript of the package data file ``name`` as it is inlined: each line
    ``// @include other.js`` replaced by the code of ``other.js`` (its leading comment
    lines dropped). ``player.js`` and ``trajectory_player.js`` include the play/pause
    controls they share, ``player_controls.js``."""
    from importlib.resources import files

    out = []
    for line in files(__package__).joinpath(name).read_text(encoding="utf-8").splitlines():
        if line.strip().startswith(_INCLUDE):
            piece = player_code(line.strip()[len(_INCLUDE) :]).splitlines()
            while piece and (not piece[0].strip() or piece[0].lstrip().startswith("//")):
                piece.pop(0)
            out.extend(piece)
        else:
            out.append(line)
    return "\n".join(out)


def _script(name: str, uid: str, frame_ms: int) -> str:
    """``<script>`` calling the player code of the package data file ``name`` with
    (uid, frame_ms). The file is a JavaScript function expression; it is read here, at
    render time (:func:`player_code`), and inlined, so the page loads nothing from elsewhere."""
    code = player_code(name).strip().rstrip(";")
    if "</script" in code.lower():
        raise RuntimeError(f"{name} must not contain '</script' (it is inlined in a <script> tag)")
    return f"<script>{code}({json.dumps(uid)}, {int(frame_ms)});</script>"


def trajectory_player(mean, cov, x, times=None, rtol: float = 1e-10, frame_ms: int = 60):
    r"""A kernel-free animation of the particles and of :math:`p_t` under Eq. (9).

    Parameters
    ----------
    mean : array (2,), cov : array (2, 2)   the data law :math:`p_0 = N(a, Σ)`
    x : array (n, 2)                        particles at t = 0 (a sample of p_0)
    times : array (m,)                      frame times (default ``linspace(0, 4, 81)``);
                                            increasing, from 0
    rtol : float                            tolerance of :func:`ddpm_ot_lib.flow.encode`
    frame_ms : int                          milliseconds per frame when playing

    Returns
    -------
    ``IPython.display.HTML``: a ``div.ddpm-player`` holding an inline ``<svg>``, a
    ``button.ddpm-player-play``, an ``input[type=range].ddpm-player-slider`` (0 .. m-1),
    a ``.ddpm-player-time`` label, the frame data as JSON in
    ``script.ddpm-player-data`` and a short script. Nothing is loaded from elsewhere;
    the element id is a hash of the data, so equal input gives an identical string.
    The JSON holds ``t`` (m,), ``p`` (m, 2n): the particle coordinates of
    :func:`player_frames`, and ``e`` (m, 5): centre, 1σ semi-axes and angle (degrees)
    of the ellipse of :math:`p_t`, all rounded to 3 decimals.
    """
    from IPython.display import HTML

    frame_ms = check.count(frame_ms, "frame_ms", 1)
    times = np.linspace(0.0, 4.0, 81) if times is None else times
    frames = player_frames(mean, cov, x, times, rtol=rtol)
    data = {
        "t": [_r(t) for t in frames["times"]],
        "p": [[_r(v) for v in f.ravel()] for f in frames["positions"]],
        "e": [
            [_r(c[0]), _r(c[1]), _r(ab[0]), _r(ab[1]), _r(ang, 2)]
            for c, ab, ang in zip(frames["centers"], frames["axes"], frames["angles"])
        ],
        "c": frames["colors"],
    }
    payload = json.dumps(data, separators=(",", ":"))
    uid = "ddpm-player-" + hashlib.sha256((payload + str(frame_ms)).encode()).hexdigest()[:12]
    svg, (ox, oy, s) = _svg(frames, uid)
    data.update(ox=_r(ox), oy=_r(oy), s=_r(s, 4))
    payload = json.dumps(data, separators=(",", ":"))
    m = len(data["t"])
    controls = (
        f'<div style="display:flex;align-items:center;gap:12px;max-width:{_W}px;margin-top:4px">'
        f'<button type="button" class="ddpm-player-play" style="min-width:86px">\u25b6 play</button>'
        f'<input type="range" class="ddpm-player-slider" min="0" max="{m - 1}" step="1" value="0" '
        f'aria-label="time t" style="flex:1">'
        f'<span class="ddpm-player-time" style="font-family:monospace;min-width:80px">'
        f"t = {data['t'][0]:.2f}</span>"
        f"</div>"
    )
    body = (
        f'<div class="ddpm-player" id="{uid}" style="margin:0.5em 0">{svg}{controls}'
        f'<script type="application/json" class="ddpm-player-data">{payload}</script>'
        f"{_script('trajectory_player.js', uid, frame_ms)}</div>"
    )
    return HTML(body)


# --------------------------------------------------------------------------- frame player


def _frame_values(values) -> list:
    """``values`` as a non-empty list; real numbers must be finite and strictly increasing."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__") or not hasattr(values, "__iter__"):
        raise TypeError(f"values must be a sequence (list, tuple, range or 1-D array), got {type(values).__name__}")
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
    items = list(values)
    if not items:
        raise ValueError("values must hold at least one frame value, got an empty sequence")
    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in items):
        arr = np.asarray(items, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError("values must be finite; they contain NaN or inf")
        if np.any(np.diff(arr) <= 0):
            k = int(np.flatnonzero(np.diff(arr) <= 0)[0])
            raise ValueError(
                f"values must be strictly increasing when they are numbers; "
                f"values[{k + 1}] = {items[k + 1]!r} follows {items[k]!r}"
            )
    return items


def _frame_labels(values: list, label: str, fmt) -> list[str]:
    """The slider's read-out for each value: ``"label = fmt(value)"``, all distinct."""
    texts = []
    for k, v in enumerate(values):
        try:
            text = fmt(v) if callable(fmt) else fmt.format(v)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"fmt could not format values[{k}] = {v!r}: {exc}") from None
        if not isinstance(text, str):
            raise TypeError(f"fmt must give a string, got {type(text).__name__} for values[{k}]")
        texts.append(f"{label} = {text}")
    seen = {}
    for k, text in enumerate(texts):
        if text in seen:
            raise ValueError(
                f"fmt gives the same label {text!r} to values[{seen[text]}] and values[{k}]; "
                f"use a format with more digits"
            )
        seen[text] = k
    return texts


def _figsize(figsize) -> tuple[float, float]:
    arr = check.float_array(figsize, "figsize")
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"figsize must be (width, height) in inches, both finite and > 0, got {figsize!r}")
    return float(arr[0]), float(arr[1])


def _render_frame(draw, value, figsize, dpi: int, colors: int | None, k: int) -> bytes:
    """PNG bytes of ``draw(fig, value)`` on a fresh Figure, on white, reduced to a
    palette of ``colors`` colours (None: full colour); no metadata, so equal pictures
    give equal bytes."""
    from PIL import Image
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    try:
        draw(fig, value)
    except Exception as exc:
        exc.add_note(f"(in frame_player: draw(fig, values[{k}]) with values[{k}] = {value!r})")
        raise
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, pil_kwargs={"optimize": True})
    if colors is None:
        return buf.getvalue()
    buf.seek(0)
    with Image.open(buf) as rgba:
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba.convert("RGBA")).convert("RGB")
    small = rgb.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="png", optimize=True)
    return out.getvalue()


def frame_player(
    draw,
    values,
    *,
    label: str = "t",
    fmt="{:.2f}",
    figsize=(6.0, 4.0),
    dpi: int = 72,
    frame_ms: int = 200,
    alt: str | None = None,
    colors: int | None = 256,
):
    r"""A kernel-free player of precomputed frames: a slider over ``values`` and a picture.

    Parameters
    ----------
    draw : callable ``draw(fig, value)``   draws one frame into ``fig``, a fresh
                                          ``matplotlib.figure.Figure`` (Agg), for each value
    values : sequence, non-empty          the frame values, in slider order; real numbers
                                          must be finite and strictly increasing; anything
                                          else (strings, tuples, ...) is taken as it is
    label : str                           the read-out is ``f"{label} = {fmt(value)}"``
    fmt : str or callable                 ``fmt.format(value)`` or ``fmt(value)``; the
                                          labels must be distinct
    figsize : (float, float)              inches, as for ``Figure``; every frame has this size
    dpi : int >= 10                       pixels per inch of the PNG frames (keep it low:
                                          the page carries every frame)
    frame_ms : int >= 1                   milliseconds per frame when playing
    alt : str or None                     the figure's text description (``aria-label``);
                                          default ``"frames of a figure over <label>"``
    colors : int in [2, 256] or None      palette size of the PNG frames (median cut, no
                                          dithering; about 2.5 times smaller than full
                                          colour for line plots); None: full colour

    Returns
    -------
    ``IPython.display.HTML``: a ``div.ddpm-player`` holding an inline ``<svg>`` with one
    ``<image>`` (frame 0 as a PNG data URI), a ``button.ddpm-player-play``, an
    ``input[type=range].ddpm-player-slider`` (0 .. m-1), a ``.ddpm-player-time`` label
    ``"label = value"``, the other frames as base64 PNG in ``script.ddpm-player-data``
    (equal frames stored once) and the script of ``player.js``, which swaps the image's
    href. Nothing is loaded from elsewhere; the element id is a hash of the content, so
    equal input gives an identical string. The size of the page grows with the frames:
    about 4/3 of the PNG bytes (``len(html.data)`` says it).
    """
    from IPython.display import HTML

    check.function(draw, "draw")
    items = _frame_values(values)
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"label must be a non-empty string, got {label!r}")
    if not callable(fmt) and not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format string or a callable, got {type(fmt).__name__}")
    texts = _frame_labels(items, label, fmt)
    size = _figsize(figsize)
    dpi = check.count(dpi, "dpi", 10)
    frame_ms = check.count(frame_ms, "frame_ms", 1)
    if colors is not None:
        colors = check.count(colors, "colors", 2)
        if colors > 256:
            raise ValueError(f"colors must be an integer in [2, 256] (a PNG palette) or None, got {colors}")
    if alt is None:
        alt = f"frames of a figure over {label}"
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError(f"alt must be a non-empty string describing the figure, got {alt!r}")

    pngs, index, frame = [], {}, []
    for k, v in enumerate(items):
        png = _render_frame(draw, v, size, dpi, colors, k)
        if png not in index:
            index[png] = len(pngs)
            pngs.append(png)
        frame.append(index[png])
    width, height = (int(round(size[0] * dpi)), int(round(size[1] * dpi)))
    b64 = [base64.b64encode(p).decode("ascii") for p in pngs]
    data = {"labels": texts, "frame": frame, "png": [""] + b64[1:]}
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")  # safe inside <script>
    digest = hashlib.sha256("\0".join([payload, b64[0], str(frame_ms), alt]).encode()).hexdigest()
    uid = "ddpm-player-" + digest[:12]
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width:{width}px;display:block;background:#fff" role="img" '
        f'aria-label="{html.escape(alt)}"><image href="data:image/png;base64,{b64[0]}" x="0" y="0" '
        f'width="{width}" height="{height}"/></svg>'
    )
    controls = (
        f'<div style="display:flex;align-items:center;gap:12px;max-width:{width}px;margin-top:4px">'
        f'<button type="button" class="ddpm-player-play" style="min-width:86px">\u25b6 play</button>'
        f'<input type="range" class="ddpm-player-slider" min="0" max="{len(items) - 1}" step="1" '
        f'value="0" aria-label="{html.escape(label)}" style="flex:1">'
        f'<span class="ddpm-player-time" style="font-family:monospace;min-width:80px">'
        f"{html.escape(texts[0])}</span></div>"
    )
    body = (
        f'<div class="ddpm-player" id="{uid}" style="margin:0.5em 0">{svg}{controls}'
        f'<script type="application/json" class="ddpm-player-data">{payload}</script>'
        f"{_script('player.js', uid, frame_ms)}</div>"
    )
    return HTML(body)
