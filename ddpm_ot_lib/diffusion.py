r"""DDPM training, DDIM sampling and DDIM inversion, written plainly (torch).

(Longer than the book's ~500-line guide, one concern: the DDPM/DDIM pipeline from the schedule to the sampled
point — the schedule, the two ε-networks, training, the samplers (DDIM, its inversion,
DDPM, DPM-Solver++) and checkpoints. Each sampler is a dozen lines on the same schedule
helpers and checks; split apart they would import each other's private checks.)

The forward process of DDPM (Ho et al., 2020; the paper's Eq. (1)) adds Gaussian
noise in T small steps, :math:`q(x_t \mid x_{t-1}) = N(\sqrt{1-\beta_t}\,x_{t-1},
\beta_t I)`, so that in closed form

.. math:: x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,
          \qquad \bar\alpha_t = \prod_{s \le t} (1 - \beta_s),
          \quad \varepsilon \sim N(0, I).

A network :math:`\varepsilon_\theta(x_t, t)` is trained to predict
:math:`\varepsilon` (mean squared error, Ho et al.'s :math:`L_\mathrm{simple}`).
DDIM (Song et al., 2021; the paper's Eq. (4), :math:`\eta = 0`) then moves
deterministically between two noise levels :math:`\bar\alpha_t \to \bar\alpha_s`,

.. math:: x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s}\,
          \varepsilon_\theta(x_t, t), \qquad
          \hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta(x_t, t)}
                          {\sqrt{\bar\alpha_t}},

which is Euler's method for the probability-flow ODE (Eq. 9) in the variables
:math:`x/\sqrt{\bar\alpha}` and :math:`\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}`.
Run from noise to data it is the decoder; run from data to noise it is the DDIM
inversion, i.e. the encoder :math:`E` whose optimality the book studies.

Models: :class:`EpsMLP` (a residual MLP, optionally class-conditional, with
:class:`Conditioned` fixing its label so that the samplers take it unchanged) and
:class:`EpsConv` (a small convolutional network).

Conventions
-----------
* Timesteps are integers ``0 .. T-1`` (index into ``schedule.alpha_bar``); the
  clean end of every sampler is :math:`\bar\alpha = 1`, as in diffusers'
  ``DDIMScheduler(set_alpha_to_one=True)``.
* A sampler with ``steps`` steps calls the model exactly ``steps`` times: the
  number of function evaluations (NFE) equals ``steps``. :class:`CountingEps`
  counts them.
* "eps models" are any callable ``eps(x, t)`` with ``x`` of shape (n, d) and ``t``
  an integer tensor of shape (n,), returning (n, d). :class:`EpsMLP` is one; the
  exact predictor for Gaussian data, :func:`gaussian_eps`, is another.
* Inference runs under ``torch.no_grad()`` and keeps the dtype of its input, so
  float64 inputs with a float64 model (e.g. :func:`gaussian_eps`) give float64
  accuracy.
"""

from __future__ import annotations

import json
import math
import os
import time as _time
from typing import Callable, NamedTuple

import numpy as np
import torch
from torch import nn

from . import _io

__all__ = [
    "Schedule",
    "linear_schedule",
    "q_sample",
    "gaussian_eps",
    "EpsMLP",
    "EpsConv",
    "Conditioned",
    "train",
    "ddim_timesteps",
    "ddim_step",
    "ddim_sample",
    "ddim_invert",
    "ddpm_sample",
    "CountingEps",
    "save_model",
    "load_model",
    "state_checksum",
    "timed",
]


# --------------------------------------------------------------------------- schedule
class Schedule(NamedTuple):
    r"""A discrete DDPM noise schedule (float64 tensors of shape (T,)).

    ``betas[t]`` is :math:`\beta_t` and ``alpha_bar[t]`` is
    :math:`\bar\alpha_t = \prod_{s\le t}(1-\beta_s)`, for t = 0 .. T-1.
    """

    betas: torch.Tensor
    alpha_bar: torch.Tensor

    @property
    def T(self) -> int:
        return int(self.betas.shape[0])


def linear_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    r"""Ho et al.'s linear schedule :math:`\beta_t` from ``beta_start`` to ``beta_end`` (Eq. 1).

    With the defaults, :math:`\bar\alpha_{T-1} \approx 4.0\times10^{-5}`: the last
    noise level keeps :math:`\sqrt{\bar\alpha} \approx 0.0064` of the data, and the
    clean-data prediction divides by it (a factor of about 157).
    Same betas as diffusers' ``beta_schedule="linear"`` (there in float32).
    """
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")
    for name, v in (("beta_start", beta_start), ("beta_end", beta_end)):
        if not (isinstance(v, (int, float)) and 0 < v < 1):
            raise ValueError(f"{name} must be a number in (0, 1), got {v!r}")
    betas = torch.linspace(float(beta_start), float(beta_end), int(T), dtype=torch.float64)
    return Schedule(betas, torch.cumprod(1.0 - betas, dim=0))


def _check_schedule(schedule) -> Schedule:
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a ddpm_ot_lib.diffusion.Schedule, got {type(schedule).__name__}")
    return schedule


def _schedule_of(model, schedule):
    if schedule is None:
        schedule = getattr(model, "schedule", None)
        if schedule is None:
            raise ValueError("schedule is needed: model has no .schedule attribute")
    return _check_schedule(schedule)


def _check_points(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n, d), got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, d) with n, d >= 1, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return x


def _check_steps(steps, T: int, name: str = "steps") -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= T:
        raise ValueError(f"{name} must be an integer in 1 .. T = {T}, got {steps!r}")
    return int(steps)


def _check_model(model):
    if not callable(model):
        raise TypeError(f"model must be callable as model(x, t), got {type(model).__name__}")
    return model


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""The forward process in closed form (Eq. 1):
    :math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon`.

    x0, noise : (n, d); t : integer tensor (n,) of timesteps in 0 .. T-1.
    """
    a = _check_schedule(schedule).alpha_bar[t].to(x0.dtype)[:, None]
    return a.sqrt() * x0 + (1.0 - a).sqrt() * noise


def gaussian_eps(mean, std: float, schedule: Schedule) -> Callable:
    r"""The exact (optimal) noise predictor for data :math:`N(\mu, s^2 I)`.

    Then :math:`x_t \sim N(\sqrt{\bar\alpha_t}\mu, (\bar\alpha_t s^2 + 1 - \bar\alpha_t) I)`
    and :math:`\varepsilon^*(x_t) = -\sqrt{1-\bar\alpha_t}\,\nabla\log p_t(x_t)`:

    .. math:: \varepsilon^*(x_t, t) = \frac{\sqrt{1-\bar\alpha_t}\,(x_t - \sqrt{\bar\alpha_t}\,\mu)}
                                          {\bar\alpha_t s^2 + 1 - \bar\alpha_t}.

    mean : array (d,); std : s > 0. Returns ``eps(x, t)`` (float64 like ``mean``),
    with a ``.schedule`` attribute, usable wherever a trained model is.
    """
    schedule = _check_schedule(schedule)
    mu = torch.as_tensor(np.asarray(mean, dtype=np.float64))
    if mu.ndim != 1:
        raise ValueError(f"mean must be a vector of shape (d,), got shape {tuple(mu.shape)}")
    if not (isinstance(std, (int, float)) and std > 0 and math.isfinite(std)):
        raise ValueError(f"std must be a finite number > 0, got {std!r}")
    s2 = float(std) ** 2

    def eps(x, t):
        a = schedule.alpha_bar[_as_timesteps(t, x.shape[0])].to(x.dtype)[:, None]
        return (1.0 - a).sqrt() * (x - a.sqrt() * mu.to(x.dtype)) / (a * s2 + 1.0 - a)

    eps.schedule = schedule
    return eps


def _as_timesteps(t, n: int) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=torch.long)
    return t.expand(n) if t.ndim == 0 else t


# --------------------------------------------------------------------------- model
def _timestep_embedding(t: torch.Tensor, dim: int, T: int) -> torch.Tensor:
    """Sinusoidal features of t / T (Vaswani et al.; as in Ho et al.'s U-Net), shape (n, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half)
    arg = (t.float() / T * 1000.0)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class _Block(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, h, e):
        return h + self.fc2(torch.nn.functional.silu(self.fc1(self.norm(h + e))))


class EpsMLP(nn.Module):
    r"""A residual MLP noise predictor :math:`\varepsilon_\theta(x, t)` for flattened images.

    The network ``net`` (input layer, ``depth`` residual blocks with the time
    embedding added, output layer initialised at zero) is wrapped as

    .. math:: \varepsilon_\theta(x, t) = \sqrt{1-\bar\alpha_t}\,x + \sqrt{\bar\alpha_t}\,\mathrm{net}(x, t).

    This is the "v-parametrisation" (Salimans & Ho, 2022): ``net`` predicts
    :math:`v = \sqrt{\bar\alpha_t}\varepsilon - \sqrt{1-\bar\alpha_t}x_0` and
    :math:`\hat x_0 = \sqrt{\bar\alpha_t}x - \sqrt{1-\bar\alpha_t}\mathrm{net}`.
    At high noise the output is close to :math:`x` by construction, so errors of
    ``net`` are not amplified by :math:`1/\sqrt{\bar\alpha_t}` (up to 157) in
    :math:`\hat x_0`; a plain ε output overshoots there.

    Parameters
    ----------
    dim : int  data dimension d (pixels × channels)
    hidden, depth, emb : width, number of residual blocks, time-embedding size
    T, beta_start, beta_end : the linear schedule (:func:`linear_schedule`)
    seed : int  the initial weights are a function of the seed only
    classes : int  0 (default) for an unconditional model; C >= 2 adds a learned
        label embedding (C vectors of size ``hidden``) to the time embedding, a
        class-conditional model :math:`\varepsilon_\theta(x, t, y)` (§3.5's ImageNet model)

    ``model(x, t)``: x (n, d) float32, t integer (n,) or scalar -> ε (n, d);
    a conditional model is called ``model(x, t, y)`` with labels y (n,) or scalar,
    and :class:`Conditioned` fixes y to give an ordinary ε(x, t) model.
    ``model.config`` is a plain dict that rebuilds the model (:func:`load_model`).
    """

    def __init__(
        self,
        dim: int,
        hidden: int = 256,
        depth: int = 3,
        emb: int = 64,
        T: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        seed: int = 0,
        classes: int = 0,
    ):
        super().__init__()
        for name, v in (("dim", dim), ("hidden", hidden), ("depth", depth), ("emb", emb)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if emb % 2:
            raise ValueError(f"emb must be even, got {emb}")
        classes = _check_classes(classes)
        self.config = dict(
            dim=int(dim),
            hidden=int(hidden),
            depth=int(depth),
            emb=int(emb),
            T=int(T),
            beta_start=float(beta_start),
            beta_end=float(beta_end),
            seed=int(seed),
        )
        if classes:
            self.config["classes"] = classes
        self.schedule = linear_schedule(T, beta_start, beta_end)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.inp = nn.Linear(dim, hidden)
            self.temb = nn.Sequential(nn.Linear(emb, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            self.blocks = nn.ModuleList(_Block(hidden) for _ in range(depth))
            self.norm = nn.LayerNorm(hidden)
            self.out = nn.Linear(hidden, dim)
            self.label = nn.Embedding(classes, hidden) if classes else None
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def net(self, x: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        e = self.temb(_timestep_embedding(t, self.config["emb"], self.config["T"]))
        e = e + _label_embedding(self, y, x.shape[0])
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, e)
        return self.out(self.norm(h))

    def forward(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        t = _as_timesteps(t, x.shape[0])
        a = self.schedule.alpha_bar[t].to(x.dtype)[:, None]
        return (1.0 - a).sqrt() * x + a.sqrt() * self.net(x, t, y)


def _check_classes(classes) -> int:
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes == 1 or classes < 0:
        raise ValueError(f"classes must be 0 (unconditional) or an integer >= 2, got {classes!r}")
    return int(classes)


def _label_embedding(model, y, n: int):
    """The label term added to the time embedding: 0 for an unconditional model."""
    if model.label is None:
        if y is not None:
            raise ValueError("y must be None for an unconditional model (classes = 0)")
        return 0.0
    if y is None:
        raise ValueError(f"y (labels in 0 .. {model.label.num_embeddings - 1}) is needed by a conditional model")
    y = _as_timesteps(y, n)
    if y.shape != (n,) or y.min() < 0 or y.max() >= model.label.num_embeddings:
        raise ValueError(
            f"y must hold n = {n} labels in 0 .. {model.label.num_embeddings - 1}, "
            f"got shape {tuple(y.shape)} and range {int(y.min())} .. {int(y.max())}"
        )
    return model.label(y)


class EpsConv(nn.Module):
    r"""A small convolutional noise predictor for images of shape (h, w, c), flattened.

    A 3×3 input convolution to ``channels`` feature maps, ``depth`` residual blocks
    (GroupNorm, SiLU, two 3×3 convolutions, the time embedding added per channel)
    and a zero-initialised 3×3 output convolution, wrapped in the same output
    :math:`\varepsilon_\theta = \sqrt{1-\bar\alpha_t}\,x + \sqrt{\bar\alpha_t}\,\mathrm{net}`
    as :class:`EpsMLP`. It sees the image as a grid (3×3 filters shared across
    positions; GroupNorm's statistics are per image) where the MLP sees a vector: a
    different architecture trained on the same data, for the comparison of Zhang et
    al. (2024). Same calling convention (x (n, h*w*c) rows, channels last) and
    ``config`` as :class:`EpsMLP`.
    """

    def __init__(
        self,
        shape=(8, 8, 1),
        channels: int = 32,
        depth: int = 2,
        emb: int = 64,
        T: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        seed: int = 0,
        dim: int | None = None,
    ):
        super().__init__()
        shape = tuple(shape)
        if len(shape) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in shape):
            raise ValueError(f"shape must be three integers (h, w, c) >= 1, got {shape!r}")
        if dim is not None and dim != int(np.prod(shape)):
            raise ValueError(f"dim must be h*w*c = {int(np.prod(shape))} (or None), got {dim!r}")
        for name, v in (("channels", channels), ("depth", depth), ("emb", emb)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if emb % 2 or channels % 8:
            raise ValueError(f"emb must be even and channels a multiple of 8, got emb={emb}, channels={channels}")
        h, w, c = (int(v) for v in shape)
        self.config = dict(
            shape=[h, w, c],
            dim=h * w * c,
            channels=int(channels),
            depth=int(depth),
            emb=int(emb),
            T=int(T),
            beta_start=float(beta_start),
            beta_end=float(beta_end),
            seed=int(seed),
        )
        self.schedule = linear_schedule(T, beta_start, beta_end)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.inp = nn.Conv2d(c, channels, 3, padding=1)
            self.temb = nn.Sequential(nn.Linear(emb, channels), nn.SiLU(), nn.Linear(channels, channels))
            self.norms = nn.ModuleList(nn.GroupNorm(8, channels) for _ in range(2 * depth))
            self.convs = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(2 * depth))
            self.out = nn.Conv2d(channels, c, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def net(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h, w, c = self.config["shape"]
        e = self.temb(_timestep_embedding(t, self.config["emb"], self.config["T"]))[:, :, None, None]
        u = self.inp(x.reshape(-1, h, w, c).permute(0, 3, 1, 2))
        silu = torch.nn.functional.silu
        for k in range(0, len(self.convs), 2):
            r = self.convs[k](silu(self.norms[k](u + e)))
            u = u + self.convs[k + 1](silu(self.norms[k + 1](r)))
        return self.out(silu(u)).permute(0, 2, 3, 1).reshape(x.shape[0], -1)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        t = _as_timesteps(t, x.shape[0])
        a = self.schedule.alpha_bar[t].to(x.dtype)[:, None]
        return (1.0 - a).sqrt() * x + a.sqrt() * self.net(x, t)


class Conditioned:
    r"""A class-conditional model with its label fixed: an ordinary ε(x, t) model.

    ``Conditioned(model, y)(x, t) == model(x, t, y)``; ``y`` is one label (int) or
    one label per row (n,). It forwards ``.schedule``, so :func:`ddim_sample` and
    :func:`ddim_invert` decode and encode under a label without any change: the
    same latents decoded under each label are §3.5's Fig. 5 experiment.
    """

    def __init__(self, model, y):
        self.model = _check_model(model)
        label = getattr(model, "label", None)
        if label is None:
            raise ValueError("model must be class-conditional (an EpsMLP with classes >= 2)")
        y = torch.as_tensor(y, dtype=torch.long)
        if y.ndim > 1 or y.numel() == 0 or y.min() < 0 or y.max() >= label.num_embeddings:
            raise ValueError(
                f"y must be a label or a vector of labels in 0 .. {label.num_embeddings - 1}, got {y.tolist()!r}"
            )
        self.y = y
        self.schedule = model.schedule

    def __call__(self, x, t):
        if self.y.ndim == 1 and self.y.shape[0] != x.shape[0]:
            raise ValueError(f"x must have one row per label ({self.y.shape[0]}), got {x.shape[0]} rows")
        return self.model(x, t, self.y)


# --------------------------------------------------------------------------- training
def train(
    model: EpsMLP,
    data: torch.Tensor,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    ema: float = 0.999,
    seed: int = 0,
    progress: bool = False,
    desc: str | None = None,
    labels=None,
) -> np.ndarray:
    r"""Train ``model`` by ε-prediction (Ho et al.'s :math:`L_\mathrm{simple}`) on ``data``.

    Each step draws a batch :math:`x_0` from ``data`` (with replacement), timesteps
    :math:`t` uniform in 0 .. T-1 and noise :math:`\varepsilon`, forms
    :math:`x_t` by Eq. (1) and takes an Adam step on
    :math:`\lVert \varepsilon_\theta(x_t, t) - \varepsilon\rVert^2` (mean over batch
    and pixels); the learning rate decays as a cosine to 0. At the end the model's
    parameters are replaced by their exponential moving average (decay ``ema``;
    ``ema=0`` keeps the last iterate) and the model is put in eval mode.

    Parameters
    ----------
    model : EpsMLP (trained in place)
    data : tensor (n, d) float32, the training images flattened, values ~[-1, 1]
    steps, batch_size, lr, ema : optimisation settings
    seed : every random draw comes from a generator seeded here, so with one
        torch thread the result is bit-for-bit reproducible on a given machine
    progress : show a tqdm progress bar (``desc`` labels it)
    labels : int array (n,) of the images' classes, for a class-conditional model
        (and only then); the batch's labels are those of its images, so the random
        draws are the same as without labels

    Fine-tuning is calling ``train`` again on a trained model (new data, new seed).

    Returns
    -------
    losses : array (steps,), the training loss of every step
    """
    if not isinstance(model, nn.Module) or not hasattr(model, "schedule"):
        raise TypeError(f"model must be an EpsMLP (a torch module with .schedule), got {type(model).__name__}")
    data = _check_points(data, "data")
    if data.shape[1] != getattr(model, "config", {}).get("dim", data.shape[1]):
        raise ValueError(
            f"data must have {model.config['dim']} columns (the model's dim), got shape {tuple(data.shape)}"
        )
    steps = int(steps) if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) else steps
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not 0 <= ema < 1:
        raise ValueError(f"ema must be in [0, 1), got {ema!r}")
    conditional = getattr(model, "label", None) is not None
    if conditional != (labels is not None):
        raise ValueError("labels must be given exactly when the model is class-conditional")
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        if labels.shape != (data.shape[0],):
            raise ValueError(f"labels must have shape ({data.shape[0]},) like data's rows, got {tuple(labels.shape)}")
    from tqdm.auto import tqdm

    schedule = model.schedule
    gen = torch.Generator().manual_seed(int(seed))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1.0 + math.cos(math.pi * k / steps)))
    averaged = [p.detach().clone() for p in params]
    losses = np.empty(steps)
    model.train()
    bar = tqdm(range(steps), desc=desc, disable=not progress, mininterval=1.0)
    for k in bar:
        idx = torch.randint(data.shape[0], (batch_size,), generator=gen)
        t = torch.randint(schedule.T, (batch_size,), generator=gen)
        noise = torch.randn((batch_size, data.shape[1]), generator=gen, dtype=data.dtype)
        x0 = data[idx]
        args = () if labels is None else (labels[idx],)
        loss = ((model(q_sample(x0, t, noise, schedule), t, *args) - noise) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        decay = min(ema, (1.0 + k) / (10.0 + k))
        with torch.no_grad():
            for avg, p in zip(averaged, params):
                avg.mul_(decay).add_(p.detach(), alpha=1.0 - decay)
        losses[k] = loss.item()
        if progress and k % 100 == 0:
            bar.set_postfix(loss=f"{losses[max(0, k - 99) : k + 1].mean():.4f}")
    with torch.no_grad():
        for avg, p in zip(averaged, params):
            p.copy_(avg)
    model.eval()
    return losses


# --------------------------------------------------------------------------- DDIM
def ddim_timesteps(T: int, steps: int) -> torch.Tensor:
    r"""The ``steps`` timesteps a DDIM sampler visits, descending ("trailing" spacing).

    :math:`t_k = \mathrm{round}(k T / S) - 1` for k = S, ..., 1; the first is always
    T - 1 (the noisiest level), and after the last the sampler steps to
    :math:`\bar\alpha = 1`. Identical to diffusers' ``timestep_spacing="trailing"``.
    Returns a long tensor (steps,).
    """
    steps = _check_steps(steps, T)
    k = torch.arange(steps, dtype=torch.float64)
    return (torch.round(T - k * (T / steps)) - 1).long()


def ddim_step(
    eps: torch.Tensor,
    x: torch.Tensor,
    a_from: float,
    a_to: float,
) -> torch.Tensor:
    r"""One DDIM update (Eq. 4, eta = 0) from noise level a_from to a_to.

    a_from and a_to are values of alpha_bar. With the predicted clean image
    :math:`\hat x_0 = (x - \sqrt{1 - a_\mathrm{from}}\,\varepsilon)
    / \sqrt{a_\mathrm{from}}`,

    .. math:: x' = \sqrt{a_\mathrm{to}}\,\hat x_0
                   + \sqrt{1 - a_\mathrm{to}}\,\varepsilon .

    The same formula serves sampling (a_to > a_from) and inversion
    (a_to < a_from). eps, x : (n, d); returns (n, d).
    """
    a_from, a_to = float(a_from), float(a_to)
    x0_hat = (x - math.sqrt(1.0 - a_from) * eps) / math.sqrt(a_from)
    return math.sqrt(a_to) * x0_hat + math.sqrt(1.0 - a_to) * eps


def _eval(model, x, t: int) -> torch.Tensor:
    out = model(x, torch.full((x.shape[0],), int(t), dtype=torch.long))
    if out.shape != x.shape:
        raise ValueError(f"model(x, t) must return shape {tuple(x.shape)} like x, got {tuple(out.shape)}")
    return out


@torch.no_grad()
def ddim_sample(model, x_T: torch.Tensor, steps: int, schedule: Schedule | None = None, return_path: bool = False):
    r"""Decode latents ``x_T`` (n, d) to data with ``steps`` DDIM steps (η = 0; NFE = ``steps``).

    Visits :func:`ddim_timesteps` ``(T, steps)`` and ends at :math:`\bar\alpha = 1`:
    step k evaluates :math:`\varepsilon_\theta(x_{t_k}, t_k)` and applies
    :func:`ddim_step` from :math:`\bar\alpha_{t_k}` to :math:`\bar\alpha_{t_{k-1}}`.
    ``schedule`` defaults to ``model.schedule``.

    Returns x_0 (n, d), or with ``return_path`` a tensor (steps + 1, n, d) of the
    states from x_T to x_0.
    """
    _check_model(model)
    schedule = _schedule_of(model, schedule)
    x = _check_points(x_T, "x_T")
    ts = ddim_timesteps(schedule.T, steps)
    a = schedule.alpha_bar
    path = [x]
    for k, t in enumerate(ts.tolist()):
        a_next = float(a[ts[k + 1]]) if k + 1 < len(ts) else 1.0
        x = ddim_step(_eval(model, x, t), x, float(a[t]), a_next)
        path.append(x)
    return torch.stack(path) if return_path else x


@torch.no_grad()
def ddim_invert(model, x0: torch.Tensor, steps: int, schedule: Schedule | None = None, return_path: bool = False):
    r"""Encode data ``x0`` (n, d) to latents by DDIM inversion with ``steps`` steps (NFE = ``steps``).

    The encoder :math:`E` of the paper: the DDIM ODE run from data
    (:math:`\bar\alpha = 1`) up through the timesteps of :func:`ddim_timesteps`
    (ascending) to t = T - 1. Each step is explicit Euler in the other direction:
    it evaluates :math:`\varepsilon_\theta` at the current state and time (the
    clean end is evaluated at timestep 0) and applies :func:`ddim_step`.
    ``ddim_sample(model, ddim_invert(model, x0, S), S)`` returns ``x0`` up to an
    O(1/S) discretisation error.

    Returns x_T (n, d), or with ``return_path`` (steps + 1, n, d) from x_0 to x_T.
    """
    _check_model(model)
    schedule = _schedule_of(model, schedule)
    x = _check_points(x0, "x0")
    ts = ddim_timesteps(schedule.T, steps).flip(0).tolist()
    a = schedule.alpha_bar
    path = [x]
    t_cur, a_cur = 0, 1.0
    for t in ts:
        x = ddim_step(_eval(model, x, t_cur), x, a_cur, float(a[t]))
        t_cur, a_cur = t, float(a[t])
        path.append(x)
    return torch.stack(path) if return_path else x


@torch.no_grad()
def ddpm_sample(
    model,
    x_T: torch.Tensor,
    steps: int | None = None,
    schedule: Schedule | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Ancestral (stochastic) DDPM sampling from ``x_T`` (n, d); NFE = ``steps`` (default T).

    On the timesteps of :func:`ddim_timesteps`, each step from :math:`t` to
    :math:`s` (:math:`\bar\alpha_s = 1` after the last) draws

    .. math:: x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s-\sigma^2}\,\varepsilon_\theta
                    + \sigma z, \qquad
              \sigma^2 = \frac{1-\bar\alpha_s}{1-\bar\alpha_t}\Bigl(1-\frac{\bar\alpha_t}{\bar\alpha_s}\Bigr),

    DDIM's η = 1 (Song et al., 2021, Eq. 16). With ``steps = T`` this is exactly Ho
    et al.'s sampler with the posterior variance :math:`\tilde\beta_t`.
    ``generator`` seeds the noise z.
    """
    _check_model(model)
    schedule = _schedule_of(model, schedule)
    x = _check_points(x_T, "x_T")
    steps = schedule.T if steps is None else steps
    ts = ddim_timesteps(schedule.T, steps)
    a = schedule.alpha_bar
    for k, t in enumerate(ts.tolist()):
        a_t = float(a[t])
        a_s = float(a[ts[k + 1]]) if k + 1 < len(ts) else 1.0
        eps = _eval(model, x, t)
        var = (1.0 - a_s) / (1.0 - a_t) * (1.0 - a_t / a_s)
        x0_hat = (x - math.sqrt(1.0 - a_t) * eps) / math.sqrt(a_t)
        x = math.sqrt(a_s) * x0_hat + math.sqrt(max(1.0 - a_s - var, 0.0)) * eps
        if var > 0:
            x = x + math.sqrt(var) * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x


class CountingEps:
    """Wrap an eps model and count its calls (function evaluations) in ``.calls``.

    Forwards ``.schedule``, so ``ddim_sample(CountingEps(model), x, 10)`` works and
    leaves ``calls == 10``.
    """

    def __init__(self, model):
        self.model = _check_model(model)
        self.schedule = getattr(model, "schedule", None)
        self.calls = 0

    def __call__(self, x, t):
        self.calls += 1
        return self.model(x, t)


# --------------------------------------------------------------------------- save / load
def state_checksum(model: nn.Module) -> str:
    """SHA-256 of the model's float16 weights (name order), to check that a retrain reproduces a file."""
    import hashlib

    h = hashlib.sha256()
    for name, v in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(v.detach().to(torch.float16).contiguous().numpy().tobytes())
    return h.hexdigest()


def _model_classes() -> dict:
    """The classes :func:`save_model` writes and :func:`load_model` rebuilds, by name."""
    from .cvae import CVAE

    return {"EpsMLP": EpsMLP, "EpsConv": EpsConv, "CVAE": CVAE}


def save_model(model: nn.Module, path, metadata: dict | None = None) -> None:
    """Write ``model`` (class name, config, float16 weights, ``metadata``) to ``path`` atomically.

    ``model`` is an :class:`EpsMLP`, :class:`EpsConv` or :class:`ddpm_ot_lib.cvae.CVAE`.
    The file is written under a temporary name in the same folder and moved into place
    (:func:`ddpm_ot_lib._io.atomic_open`), so a reader never sees a half-written file.
    """
    classes = _model_classes()
    if type(model).__name__ not in classes or not isinstance(model, classes[type(model).__name__]):
        raise TypeError(f"model must be one of {sorted(classes)}, got {type(model).__name__}")
    path = os.fspath(path)
    payload = {
        "config": dict(model.config),
        "state_dict": {k: v.detach().to(torch.float16).clone() for k, v in model.state_dict().items()},
        # plain JSON types only, so that torch.load(weights_only=True) accepts the file
        "metadata": json.loads(json.dumps(dict(metadata or {}), default=str)),
    }
    if not isinstance(model, EpsMLP):  # files of EpsMLP models stay as they were
        payload["class"] = type(model).__name__
    with _io.atomic_open(path, "wb") as fh:
        torch.save(payload, fh)


def load_model(path, return_metadata: bool = False):
    """Load a model written by :func:`save_model` (``weights_only=True``), float32, eval mode."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path}; run `python runs/train_image_models.py` to create it")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model = _model_classes()[payload.get("class", "EpsMLP")](**payload["config"])
    model.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    model.eval()
    return (model, payload.get("metadata", {})) if return_metadata else model


def timed(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` and return ``(result, seconds)`` (wall clock)."""
    start = _time.perf_counter()
    out = fn(*args, **kwargs)
    return out, _time.perf_counter() - start


# --------------------------------------------------------------------------- DPM-Solver++ (dpm)
# A high-order ODE solver: the fair few-step baseline of the DPM-OT chapter. Written by
# the `dpm` helper; checked step for step against diffusers' DPMSolverMultistepScheduler
# in tests/test_dpm_solver.py.
def dpm_solver_timesteps(T: int, steps: int) -> torch.Tensor:
    r"""The ``steps`` timesteps DPM-Solver++ visits, descending ("linspace" spacing).

    :math:`t_k = \mathrm{round}(k (T - 1) / S)` for k = S, ..., 1 (the first is T - 1);
    after the last the solver steps to noise level 0 (:math:`\sigma = 0`, the data).
    Identical to diffusers' ``DPMSolverMultistepScheduler`` defaults.
    """
    steps = _check_steps(steps, T)
    if steps > (T - 1) // 2:  # beyond this the rounded timesteps repeat (h = 0 steps)
        raise ValueError(f"steps must be at most (T - 1) // 2 = {(T - 1) // 2} for distinct timesteps, got {steps}")
    return torch.from_numpy(np.linspace(0, T - 1, steps + 1).round()[::-1][:-1].copy()).long()


@torch.no_grad()
def dpm_solver_pp_sample(
    model, x_T: torch.Tensor, steps: int, schedule: Schedule | None = None, return_path: bool = False
):
    r"""DPM-Solver++(2M): decode ``x_T`` (n, d) with ``steps`` network evaluations (Lu et al. 2022b).

    With :math:`\alpha_t = \sqrt{\bar\alpha_t}`, :math:`\sigma_t = \sqrt{1 - \bar\alpha_t}`,
    :math:`\lambda_t = \log(\alpha_t / \sigma_t)` and the data prediction
    :math:`D_k = \hat x_0 = (x_{t_k} - \sigma_{t_k}\varepsilon_\theta)/\alpha_{t_k}`, a step
    from :math:`s = t_k` to :math:`t = t_{k+1}` with :math:`h = \lambda_t - \lambda_s` is

    .. math:: x_t = \frac{\sigma_t}{\sigma_s} x_s - \alpha_t (e^{-h} - 1)
                    \Bigl(D_k + \tfrac{1}{2 r} (D_k - D_{k-1})\Bigr),
              \qquad r = \frac{\lambda_s - \lambda_{t_{k-1}}}{h}

    (the multistep second-order update, Lu et al. 2022b, Alg. 2); the first step and
    the last (to :math:`\sigma = 0`, where :math:`x_0 = D_k`) are first order, as in
    diffusers' defaults (``solver_order=2``, ``final_sigmas_type="zero"``). Timesteps:
    :func:`dpm_solver_timesteps`. Returns x_0, or with ``return_path`` (steps + 1, n, d).
    """
    _check_model(model)
    schedule = _schedule_of(model, schedule)
    x = _check_points(x_T, "x_T")
    ts = dpm_solver_timesteps(schedule.T, steps).tolist()
    a_bar = schedule.alpha_bar.double()
    alpha = [float(a_bar[t].sqrt()) for t in ts] + [1.0]
    sigma = [float((1 - a_bar[t]).sqrt()) for t in ts] + [0.0]
    lam = [math.log(a / s) if s > 0 else math.inf for a, s in zip(alpha, sigma)]
    path, d_prev = [x], None
    for k, t in enumerate(ts):
        d_k = (x - sigma[k] * _eval(model, x, t)) / alpha[k]
        if k + 1 == len(ts):
            x = d_k  # sigma = 0: the data prediction
        else:
            h = lam[k + 1] - lam[k]
            d = d_k if d_prev is None else d_k + 0.5 * h / (lam[k] - lam[k - 1]) * (d_k - d_prev)
            x = sigma[k + 1] / sigma[k] * x - alpha[k + 1] * math.expm1(-h) * d
        d_prev = d_k
        path.append(x)
    return torch.stack(path) if return_path else x


__all__ += ["dpm_solver_timesteps", "dpm_solver_pp_sample"]
