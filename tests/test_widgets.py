"""ddpm_ot_lib.widgets: the kernel-free trajectory player and the ipywidgets explorer."""
import json
import re

import ipywidgets
import numpy as np
import pytest

from ddpm_ot_lib import flow, gaussian, widgets

A = np.array([2.0, 1.0])
COV = widgets.covariance(1.6, 0.5, 0.5)
X = np.random.default_rng(0).multivariate_normal(A, COV, size=12)
TIMES = np.linspace(0.0, 3.0, 31)


@pytest.fixture(scope="module")
def player_html():
    return widgets.trajectory_player(A, COV, X, times=TIMES).data


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" class="ddpm-player-data">(.*?)</script>', page, re.S)
    assert m, "the frame data block is missing"
    return json.loads(m.group(1))


# --------------------------------------------------------------------------- covariance

def test_covariance_entries():
    np.testing.assert_allclose(widgets.covariance(2.0, 0.5, -0.3), [[4.0, -0.3], [-0.3, 0.25]])


@pytest.mark.parametrize("args, name", [((0.0, 1.0, 0.0), "std1"), ((1.0, -1.0, 0.0), "std2"),
                                        ((1.0, 1.0, 1.0), "rho"), ((1.0, 1.0, np.nan), "rho")])
def test_covariance_rejects(args, name):
    with pytest.raises(ValueError, match=name):
        widgets.covariance(*args)


# --------------------------------------------------------------------------- player frames

def test_player_frames_match_flow_and_closed_form():
    fr = widgets.player_frames(A, COV, X, TIMES)
    score = lambda y, t: gaussian.score(y, t, A, COV)      # noqa: E731
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


@pytest.mark.parametrize("kwargs, name", [
    (dict(mean=[1.0, 2.0, 3.0]), "mean"), (dict(cov=np.eye(3)), "cov"), (dict(cov=[[1.0, 2.0], [2.0, 1.0]]), "cov"),
    (dict(x=np.ones((4, 3))), "x"), (dict(x=np.full((2, 2), np.nan)), "x"),
    (dict(times=[0.5, 1.0]), "times"), (dict(times=[0.0]), "times"), (dict(times=[0.0, 1.0, 1.0]), "times"),
    (dict(times=[0.0, -1.0]), "times"),
])
def test_player_frames_rejects(kwargs, name):
    args = dict(mean=A, cov=COV, x=X, times=TIMES) | kwargs
    with pytest.raises(ValueError, match=name):
        widgets.player_frames(**args)


# --------------------------------------------------------------------------- player HTML

def test_player_dom_contract(player_html):
    page = player_html
    root = re.match(r'<div class="ddpm-player" id="(ddpm-player-[0-9a-f]{12})"', page)
    assert root, "the root must be div.ddpm-player with a hash id"
    slider = re.search(r'<input type="range" class="ddpm-player-slider" min="0" max="(\d+)"', page)
    assert slider and int(slider.group(1)) == len(TIMES) - 1
    assert re.search(r'class="ddpm-player-time"[^>]*>t = 0\.00<', page)
    assert page.count("<svg") == 1 and "</svg>" in page
    assert 'class="ddpm-player-play"' in page
    assert page.count("ddpm-player-particles") >= 1 and page.count("<circle") >= 2 * len(X)
    # the script listens to the slider's input event and finds its own root by id
    assert 'addEventListener("input"' in page
    assert f'document.getElementById("{root.group(1)}")' in page


def test_player_is_deterministic_and_self_contained(player_html):
    again = widgets.trajectory_player(A, COV, X, times=TIMES).data
    assert again == player_html
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", player_html), "no URL may be loaded"
    assert "<script src" not in player_html and "require(" not in player_html and "uuid" not in player_html
    assert len(player_html.encode()) < 300_000


def test_player_id_depends_on_data(player_html):
    other = widgets.trajectory_player(A, COV, X + 0.1, times=TIMES).data
    ids = [re.search(r'id="(ddpm-player-[0-9a-f]+)"', p).group(1) for p in (player_html, other)]
    assert ids[0] != ids[1]


def test_player_frame_data_equals_flow(player_html):
    data = _data(player_html)
    np.testing.assert_allclose(data["t"], TIMES, atol=5e-4)
    pos = np.array(data["p"]).reshape(len(TIMES), len(X), 2)
    score = lambda y, t: gaussian.score(y, t, A, COV)      # noqa: E731
    ode = flow.encode(X, score, t_max=TIMES[-1], rtol=1e-10, t_eval=TIMES)
    exact = np.stack([gaussian.flow_map(X, t, A, COV) for t in TIMES])
    assert np.abs(pos - ode).max() <= 5e-4 + 1e-12          # rounded to 3 decimals
    assert np.abs(pos - exact).max() <= 5e-4 + 1e-8
    ell = np.array(data["e"])
    centers = np.array([gaussian.marginal(A, COV, t)[0] for t in TIMES])
    np.testing.assert_allclose(ell[:, :2], centers, atol=5e-4)
    lam = np.array([np.linalg.eigvalsh(gaussian.marginal(A, COV, t)[1])[::-1] for t in TIMES])
    np.testing.assert_allclose(ell[:, 2:4], np.sqrt(lam), atol=5e-4)
    assert len(data["c"]) == len(TIMES) and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in data["c"])


def test_player_default_times_and_frame_ms():
    page = widgets.trajectory_player(A, COV, X[:3]).data
    assert 'max="80"' in page
    with pytest.raises(ValueError, match="frame_ms"):
        widgets.trajectory_player(A, COV, X[:3], frame_ms=0)
    with pytest.raises(TypeError, match="frame_ms"):
        widgets.trajectory_player(A, COV, X[:3], frame_ms=1.5)


# --------------------------------------------------------------------------- explorer

@pytest.fixture(scope="module")
def explorer():
    return widgets.gaussian_explorer(mean=(2.0, 1.0), std=(1.6, 0.5), rho=0.5, t=0.5, n=8, m=21)


def test_explorer_is_a_widget(explorer):
    assert isinstance(explorer, ipywidgets.VBox) and isinstance(explorer, widgets.GaussianExplorer)
    assert set(explorer.sliders) == {"t", "a1", "a2", "std1", "std2", "rho"}
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "max |ODE" in explorer.readout.value


@pytest.mark.parametrize("settings", [
    dict(t=0.0), dict(t=4.0), dict(a1=-3.0, a2=3.0), dict(std1=1.0, std2=1.0, rho=0.0),
    dict(std1=2.5, std2=0.2, rho=-0.9), dict(rho=0.9, t=1.3),
])
def test_explorer_updates(explorer, settings):
    before = explorer.image.value
    for name, value in settings.items():
        explorer.sliders[name].value = value          # observers redraw
    assert explorer.image.value != before
    a, sigma, t = explorer.params()
    np.testing.assert_allclose(a, [explorer.sliders["a1"].value, explorer.sliders["a2"].value])
    err = float(re.search(r"exact flow\| = <code>([^<]+)</code>", explorer.readout.value).group(1))
    assert err < 1e-6
    assert explorer.update() is explorer


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(mean=(1.0,)), ValueError, "mean"), (dict(mean=(5.0, 0.0)), ValueError, "mean"),
    (dict(std=(0.0, 1.0)), ValueError, "std"), (dict(std=(3.0, 1.0)), ValueError, "std"),
    (dict(rho=1.0), ValueError, "rho"), (dict(rho=0.95), ValueError, "rho"),
    (dict(t=-1.0), ValueError, "t"), (dict(t=5.0), ValueError, "t"),
    (dict(n=0), ValueError, "n"), (dict(n=2.5), TypeError, "n"), (dict(seed="a"), TypeError, "seed"),
    (dict(m=1), ValueError, "m"), (dict(t_max=0.0), ValueError, "t_max"),
])
def test_explorer_rejects(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        widgets.gaussian_explorer(**kwargs)
