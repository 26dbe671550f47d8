"""ddpm_ot_lib.players: the kernel-free players (trajectory, frames) and their shared script."""

import base64
import io
import json
import re
import tomllib
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from ddpm_ot_lib import flow, gaussian, players, widgets

A = np.array([2.0, 1.0])
COV = widgets.covariance(1.6, 0.5, 0.5)
X = np.random.default_rng(0).multivariate_normal(A, COV, size=12)
TIMES = np.linspace(0.0, 3.0, 31)


@pytest.fixture(scope="module")
def player_html():
    return players.trajectory_player(A, COV, X, times=TIMES).data


def _package_js(name: str) -> str:
    return players.player_code(name).strip().rstrip(";")


def _root(page: str, m: int, label: str) -> str:
    """The contract shared by both players: root id, slider 0 .. m-1, time label, one svg."""
    root = re.match(r'<div class="ddpm-player" id="(ddpm-player-[0-9a-f]{12})"', page)
    assert root, "the root must be div.ddpm-player with a hash id"
    slider = re.search(r'<input type="range" class="ddpm-player-slider" min="0" max="(\d+)"', page)
    assert slider and int(slider.group(1)) == m - 1
    assert re.search(r'class="ddpm-player-time"[^>]*>' + re.escape(label) + "<", page)
    assert page.count("<svg") == 1 and 'class="ddpm-player-play"' in page
    return root.group(1)


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" class="ddpm-player-data">(.*?)</script>', page, re.S)
    assert m, "the frame data block is missing"
    return json.loads(m.group(1))


# --------------------------------------------------------------------------- player frames


def test_player_frames_match_flow_and_closed_form():
    fr = players.player_frames(A, COV, X, TIMES)
    score = lambda y, t: gaussian.score(y, t, A, COV)  # noqa: E731
    np.testing.assert_array_equal(fr["positions"], flow.encode(X, score, t_max=TIMES[-1], rtol=1e-10, t_eval=TIMES))
    exact = np.stack([gaussian.flow_map(X, t, A, COV) for t in TIMES])
    assert np.abs(fr["positions"] - exact).max() < 1e-8
    for k, t in enumerate(TIMES):
        mean_t, cov_t = gaussian.marginal(A, COV, t)
        np.testing.assert_allclose(fr["centers"][k], mean_t)
        major, minor = fr["axes"][k]
        ang = np.radians(fr["angles"][k])
        u = np.array([np.cos(ang), np.sin(ang)])
        v = np.array([-u[1], u[0]])
        # the ellipse's axes are eigenvectors of cov_t with the eigenvalues major^2, minor^2
        np.testing.assert_allclose(cov_t @ u, major**2 * u, atol=1e-12)
        np.testing.assert_allclose(cov_t @ v, minor**2 * v, atol=1e-12)
    np.testing.assert_allclose(fr["latent"], gaussian.ot_map(X, A, COV))


_FRAMES_ORDER = r"^times must be strictly increasing, start at 0 and hold at least 2 frames$"


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(mean=[1.0, 2.0, 3.0]), r"^mean must have shape \(2,\), got shape \(3,\)$"),
        (dict(cov=np.eye(3)), r"^cov must have shape \(2, 2\), got shape \(3, 3\)$"),
        (dict(cov=[[1.0, 2.0], [2.0, 1.0]]), r"^cov must be positive definite"),
        (dict(x=np.ones((4, 3))), r"^x must have 2 columns \(dimension d = 2\)"),
        (dict(x=np.full((2, 2), np.nan)), r"^x must be finite; it contains NaN or inf$"),
        (dict(times=[0.5, 1.0]), _FRAMES_ORDER),
        (dict(times=[0.0]), _FRAMES_ORDER),
        (dict(times=[0.0, 1.0, 1.0]), _FRAMES_ORDER),
        (dict(times=[0.0, -1.0]), r"^times must hold times >= 0, got minimum -1\.0$"),
    ],
)
def test_player_frames_rejects(kwargs, pattern):
    args = dict(mean=A, cov=COV, x=X, times=TIMES) | kwargs
    with pytest.raises(ValueError, match=pattern):
        players.player_frames(**args)


# --------------------------------------------------------------------------- player HTML


def test_player_dom_contract(player_html):
    page = player_html
    uid = _root(page, len(TIMES), "t = 0.00")
    assert "</svg>" in page
    assert page.count("ddpm-player-particles") >= 1 and page.count("<circle") >= 2 * len(X)
    # the script of trajectory_player.js, inlined and called with (uid, frame_ms)
    assert 'addEventListener("input"' in page
    assert f'("{uid}", 60);</script></div>' in page
    assert _package_js("trajectory_player.js") in page


def test_player_is_deterministic_and_self_contained(player_html):
    again = players.trajectory_player(A, COV, X, times=TIMES).data
    assert again == player_html
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", player_html), "no URL may be loaded"
    assert "<script src" not in player_html and "require(" not in player_html and "uuid" not in player_html
    assert len(player_html.encode()) < 300_000


def test_player_id_depends_on_data(player_html):
    other = players.trajectory_player(A, COV, X + 0.1, times=TIMES).data
    ids = [re.search(r'id="(ddpm-player-[0-9a-f]+)"', p).group(1) for p in (player_html, other)]
    assert ids[0] != ids[1]


def test_player_frame_data_equals_flow(player_html):
    data = _data(player_html)
    np.testing.assert_allclose(data["t"], TIMES, atol=5e-4)
    pos = np.array(data["p"]).reshape(len(TIMES), len(X), 2)
    score = lambda y, t: gaussian.score(y, t, A, COV)  # noqa: E731
    ode = flow.encode(X, score, t_max=TIMES[-1], rtol=1e-10, t_eval=TIMES)
    exact = np.stack([gaussian.flow_map(X, t, A, COV) for t in TIMES])
    assert np.abs(pos - ode).max() <= 5e-4 + 1e-12  # rounded to 3 decimals
    assert np.abs(pos - exact).max() <= 5e-4 + 1e-8
    ell = np.array(data["e"])
    centers = np.array([gaussian.marginal(A, COV, t)[0] for t in TIMES])
    np.testing.assert_allclose(ell[:, :2], centers, atol=5e-4)
    lam = np.array([np.linalg.eigvalsh(gaussian.marginal(A, COV, t)[1])[::-1] for t in TIMES])
    np.testing.assert_allclose(ell[:, 2:4], np.sqrt(lam), atol=5e-4)
    assert len(data["c"]) == len(TIMES) and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in data["c"])


def test_player_default_times_and_frame_ms():
    page = players.trajectory_player(A, COV, X[:3]).data
    assert 'max="80"' in page


@pytest.mark.parametrize("frame_ms", [0, 1.5])
def test_player_rejects_frame_ms(frame_ms):
    with pytest.raises(ValueError, match=rf"^frame_ms must be an integer >= 1, got {frame_ms}$"):
        players.trajectory_player(A, COV, X[:3], frame_ms=frame_ms)


# --------------------------------------------------------------------------- frame player

VALUES = [0.0, 0.5, 1.0, 2.0]


def _draw(fig, value):
    ax = fig.add_subplot()
    ax.plot([0.0, 1.0], [0.0, value], color="C0")
    ax.set(xlim=(0, 1), ylim=(-0.1, 2.1))


@pytest.fixture(scope="module")
def frames_html():
    return players.frame_player(_draw, VALUES, label="s", figsize=(3.0, 2.0), dpi=40, frame_ms=90).data


def _frames(page: str) -> list[bytes]:
    """The PNG of each slider position, as the script would show it."""
    first = re.search(r'<image href="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert first, "the svg must hold one <image> with a PNG data URI"
    data = _data(page)
    pngs = [base64.b64decode(first.group(1))] + [base64.b64decode(p) for p in data["png"][1:]]
    assert data["png"][0] == "", "frame 0 is the <image>'s href; it must not be stored twice"
    return [pngs[j] for j in data["frame"]]


def test_frame_player_dom_contract(frames_html):
    page = frames_html
    uid = _root(page, len(VALUES), "s = 0.00")
    assert page.count("<image ") == 1
    assert _data(page)["labels"] == ["s = 0.00", "s = 0.50", "s = 1.00", "s = 2.00"]
    assert f'("{uid}", 90);</script></div>' in page
    assert _package_js("player.js") in page


def test_frame_player_frames_are_the_drawings(frames_html):
    from PIL import Image

    shown = _frames(frames_html)
    assert len(shown) == len(VALUES) and len(set(shown)) == len(VALUES)
    for png, value in zip(shown, VALUES):
        with Image.open(io.BytesIO(png)) as im:
            assert im.size == (120, 80) and im.mode == "P"  # 3 x 2 in at 40 dpi, palette
        direct = players._render_frame(_draw, value, (3.0, 2.0), 40, 256, 0)
        assert png == direct


def test_frame_player_calls_draw_once_per_value_on_a_fresh_figure():
    from matplotlib.figure import Figure

    seen = []

    def draw(fig, value):
        assert isinstance(fig, Figure) and not fig.axes
        seen.append(value)
        _draw(fig, len(seen))

    values = ["a", ("b", 1), None]  # any values, in the order given
    page = players.frame_player(draw, values, label="case", fmt=str, dpi=20).data
    assert seen == values
    assert _data(page)["labels"] == ["case = a", "case = ('b', 1)", "case = None"]


def test_frame_player_stores_equal_frames_once():
    page = players.frame_player(lambda fig, v: _draw(fig, 1.0), range(5), fmt="{:d}", dpi=20).data
    data = _data(page)
    assert data["frame"] == [0] * 5 and data["png"] == [""]


def test_frame_player_is_deterministic_and_self_contained(frames_html):
    again = players.frame_player(_draw, VALUES, label="s", figsize=(3.0, 2.0), dpi=40, frame_ms=90).data
    assert again == frames_html
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", frames_html), "no URL may be loaded"
    assert "<script src" not in frames_html and "require(" not in frames_html
    other = players.frame_player(_draw, VALUES[:3] + [1.5], label="s", figsize=(3.0, 2.0), dpi=40, frame_ms=90).data
    ids = [re.search(r'id="(ddpm-player-[0-9a-f]+)"', p).group(1) for p in (frames_html, other)]
    assert ids[0] != ids[1]


def test_frame_player_full_colour_and_page_weight():
    from PIL import Image

    full = players.frame_player(_draw, VALUES, dpi=30, colors=None).data
    small = players.frame_player(_draw, VALUES, dpi=30).data
    with Image.open(io.BytesIO(_frames(full)[1])) as im:
        assert im.mode == "RGBA"
    assert len(small) < len(full)
    # a 6 x 4 in frame at 72 dpi: a few kB per frame, far below the ~3 MB a page may weigh
    assert len(players.frame_player(_draw, VALUES).data) / len(VALUES) < 30_000


def test_frame_player_escapes_text():
    page = players.frame_player(_draw, ["</script><b>", "x"], label='a"b', fmt=str, dpi=20, alt="<i>").data
    assert "</script><b>" not in page and "<i>" not in page
    assert _data(page)["labels"][0] == 'a"b = </script><b>'


def test_frame_player_names_the_failing_frame():
    def draw(fig, value):
        if value > 0.4:
            raise ZeroDivisionError("boom")
        _draw(fig, value)

    with pytest.raises(ZeroDivisionError, match=r"^boom\n\(in frame_player") as info:
        players.frame_player(draw, VALUES, dpi=20)
    assert any("values[1] = 0.5" in note for note in info.value.__notes__)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(draw=None), TypeError, r"^draw must be callable"),
        (dict(values=[]), ValueError, r"^values must hold at least one"),
        (dict(values="abc"), TypeError, r"^values must be a sequence"),
        (dict(values=iter([1.0, 2.0])), TypeError, r"^values must be a sequence"),
        (dict(values=np.zeros((2, 2))), ValueError, r"^values must be one-dimensional"),
        (dict(values=[0.0, np.nan]), ValueError, r"^values must be finite"),
        (dict(values=[0.0, 1.0, 1.0]), ValueError, r"^values must be strictly increasing"),
        (dict(values=[2.0, 1.0]), ValueError, r"^values must be strictly increasing"),
        (dict(label=""), ValueError, r"^label must be a non-empty string"),
        (dict(label=3), ValueError, r"^label must be a non-empty string"),
        (dict(fmt=3), TypeError, r"^fmt must be a format string or a callable"),
        (dict(fmt="{:.0f}"), ValueError, r"^fmt gives the same label 't = 0'"),
        (dict(fmt="{:d}"), ValueError, r"^fmt could not format values\[0\]"),
        (dict(fmt=lambda v: v), TypeError, r"^fmt must give a string"),
        (dict(figsize=(3.0,)), ValueError, r"^figsize must be \(width, height\)"),
        (dict(figsize=(3.0, 0.0)), ValueError, r"^figsize must be \(width, height\)"),
        (dict(dpi=0), ValueError, r"^dpi must be an integer >= 10"),
        (dict(dpi=72.0), ValueError, r"^dpi must be an integer >= 10, got 72\.0$"),
        (dict(frame_ms=0), ValueError, r"^frame_ms must be an integer >= 1"),
        (dict(alt=" "), ValueError, r"^alt must be a non-empty string"),
        (dict(colors=1), ValueError, r"^colors must be an integer >= 2"),
        (dict(colors=300), ValueError, r"^colors must be an integer in \[2, 256\]"),
    ],
)
def test_frame_player_rejects(kwargs, exc, pattern):
    args = dict(draw=_draw, values=VALUES, dpi=20) | kwargs
    with pytest.raises(exc, match=pattern):
        players.frame_player(args.pop("draw"), args.pop("values"), **args)


def test_player_scripts_are_package_data():
    config = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["ddpm_ot_lib"]
    for name in ("player.js", "trajectory_player.js", "player_controls.js", "player_root.js"):
        assert files("ddpm_ot_lib").joinpath(name).is_file()
        assert any(Path(name).match(p) for p in patterns), f"{name} is not declared as package data"


@pytest.mark.parametrize("name", ["player.js", "trajectory_player.js"])
def test_players_share_the_controls(name):
    raw = files("ddpm_ot_lib").joinpath(name).read_text(encoding="utf-8")
    assert raw.count("// @include player_controls.js") == 1 and "function stop()" not in raw
    assert raw.count("// @include player_root.js") == 1 and "data-ddpm-ready" not in raw
    code = players.player_code(name)
    assert code.count("function stop()") == 1 and 'addEventListener("click"' in code
    assert code.count('root.setAttribute("data-ddpm-ready", "1");') == 1
    assert "@include" not in code and "Not a script of its own" not in code
