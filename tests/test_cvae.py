"""Tests of ddpm_ot_lib.cvae: the conditional VAE of the sanity check."""

import numpy as np
import pytest
import torch

from ddpm_ot_lib import cvae as C
from ddpm_ot_lib import diffusion as D

torch.set_num_threads(1)


def _data(n=400, d=6):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    x = 0.2 * rng.standard_normal((n, d)) + np.where(y[:, None] == 1, 0.5, -0.5)
    return torch.as_tensor(x, dtype=torch.float32), y


def test_training_is_deterministic_lowers_the_loss_and_learns_the_label():
    x, y = _data()
    sums = []
    for _ in range(2):
        m = C.CVAE(6, latent=2, classes=2, hidden=32, seed=1)
        losses = C.train_cvae(m, x, y, 300, batch_size=64, seed=2)
        sums.append(D.state_checksum(m))
    assert sums[0] == sums[1] and not m.training
    assert losses[-50:].mean() < 0.5 * losses[:50].mean()
    z = torch.randn(500, 2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        g0, g1 = m.decode(z, 0), m.decode(z, 1)
    assert g0.shape == (500, 6)
    assert abs(float(g0.mean()) + 0.5) < 0.15 and abs(float(g1.mean()) - 0.5) < 0.15


def test_round_trip_through_save_model(tmp_path):
    m = C.CVAE(6, latent=3, classes=2, hidden=16, seed=4)
    D.save_model(m, tmp_path / "v.pt", metadata={"a": 1})
    m2, meta = D.load_model(tmp_path / "v.pt", return_metadata=True)
    assert isinstance(m2, C.CVAE) and m2.config == m.config and meta == {"a": 1}
    assert D.state_checksum(m2) == D.state_checksum(m)


def _small():
    return C.CVAE(6, latent=2, classes=2, hidden=8)


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: C.CVAE(6, classes=1), ValueError, r"^classes must be an integer >= 2"),
        (lambda: C.CVAE(6, sigma=0.0), ValueError, r"^sigma must be"),
        (lambda: C.CVAE(6, latent=0), ValueError, r"^latent must be"),
        (lambda: _small().decode(torch.zeros(3, 5), 0), ValueError, r"^z must have shape"),
        (lambda: _small().decode(torch.zeros(3, 2), 2), ValueError, r"^y must hold 3 labels"),
        (lambda: C.train_cvae(_small(), torch.zeros(4, 6), [0, 1], 5), ValueError, r"^labels must have shape"),
        (lambda: C.train_cvae(_small(), torch.zeros(4, 5), [0, 1, 0, 1], 5), ValueError, r"^data must be a tensor"),
        (lambda: C.train_cvae(D.EpsMLP(6), torch.zeros(4, 6), [0, 1, 0, 1], 5), TypeError, r"^model must be a CVAE"),
    ],
)
def test_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
