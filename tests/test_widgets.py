"""ddpm_ot_lib.widgets: the ipywidgets explorer and its covariance helper."""

import re

import ipywidgets
import numpy as np
import pytest

from ddpm_ot_lib import players, widgets


# --------------------------------------------------------------------------- covariance


def test_covariance_entries():
    np.testing.assert_allclose(widgets.covariance(2.0, 0.5, -0.3), [[4.0, -0.3], [-0.3, 0.25]])


@pytest.mark.parametrize(
    "args, pattern",
    [
        ((0.0, 1.0, 0.0), r"^std1 must be a finite number > 0, got 0\.0$"),
        ((1.0, -1.0, 0.0), r"^std2 must be a finite number > 0, got -1\.0$"),
        ((1.0, 1.0, 1.0), r"^rho must be a correlation strictly between -1 and 1, got 1\.0$"),
        ((1.0, 1.0, np.nan), r"^rho must be a correlation strictly between -1 and 1, got nan$"),
    ],
)
def test_covariance_rejects(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        widgets.covariance(*args)


# --------------------------------------------------------------------------- explorer


@pytest.fixture(scope="module")
def explorer():
    return widgets.gaussian_explorer(mean=(2.0, 1.0), std=(1.6, 0.5), rho=0.5, t=0.5, n=8, m=21)


def test_explorer_is_a_widget(explorer):
    assert isinstance(explorer, ipywidgets.VBox) and isinstance(explorer, widgets.GaussianExplorer)
    assert set(explorer.sliders) == {"t", "a1", "a2", "std1", "std2", "rho"}
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "max |ODE" in explorer.readout.value


@pytest.mark.parametrize(
    "settings",
    [
        dict(t=0.0),
        dict(t=4.0),
        dict(a1=-3.0, a2=3.0),
        dict(std1=1.0, std2=1.0, rho=0.0),
        dict(std1=2.5, std2=0.2, rho=-0.9),
        dict(rho=0.9, t=1.3),
    ],
)
def test_explorer_updates(explorer, settings):
    before = explorer.image.value
    for name, value in settings.items():
        explorer.sliders[name].value = value  # observers redraw
    assert explorer.image.value != before
    a, sigma, t = explorer.params()
    np.testing.assert_allclose(a, [explorer.sliders["a1"].value, explorer.sliders["a2"].value])
    err = float(re.search(r"exact flow\| = <code>([^<]+)</code>", explorer.readout.value).group(1))
    assert err < 1e-6
    assert explorer.update() is explorer


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(mean=(1.0,)), r"^mean must have shape \(2,\), got shape \(1,\)$"),
        (dict(mean=(5.0, 0.0)), r"^mean must lie in \[-3\.0, 3\.0\] \(the slider range\)"),
        (dict(std=(0.0, 1.0)), r"^std must hold two standard deviations > 0"),
        (dict(std=(3.0, 1.0)), r"^std must lie in \[0\.2, 2\.5\] \(the slider range\)"),
        (dict(rho=1.0), r"^rho must be a correlation strictly between -1 and 1, got 1\.0$"),
        (dict(rho=0.95), r"^rho must lie in \[-0\.9, 0\.9\] \(the slider range\), got 0\.95$"),
        (dict(t=-1.0), r"^t must be a finite time >= 0, got -1\.0$"),
        (dict(t=5.0), r"^t must lie in \[0, t_max = 4\.0\], got 5\.0$"),
        (dict(n=0), r"^n must be an integer >= 1, got 0$"),
        (dict(n=2.5), r"^n must be an integer >= 1, got 2\.5$"),
        (dict(seed="a"), r"^seed must be an integer >= 0, got 'a'$"),
        (dict(m=1), r"^m must be an integer >= 2, got 1$"),
        (dict(t_max=0.0), r"^t_max must be a finite number > 0, got 0\.0$"),
    ],
)
def test_explorer_rejects(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        widgets.gaussian_explorer(**kwargs)


def test_players_are_importable_from_widgets():
    # the chapters call widgets.trajectory_player / frame_player / player_frames
    assert widgets.trajectory_player is players.trajectory_player
    assert widgets.frame_player is players.frame_player
    assert widgets.player_frames is players.player_frames
