r"""Data laws with their data: bundled images and image-level measurements (§3.5), and
the 2-D test mixtures of the DPM-OT chapter.

Two sections: "images" and "2-D test mixtures". Images:

Nothing here downloads anything:

* :func:`digits` — scikit-learn's 1797 handwritten digits (8×8, 16 grey levels),
  bundled in the scikit-learn wheel. One seeded, stratified train / test split
  of all 1797 images is made first; digit groups (e.g. 0–4 and 5–9, the analogue
  of the paper's AFHQ cats / dogs / wild) are then selected inside each split, so
  no held-out image is ever seen by any model.
* :func:`colour_patches` — 8×8 RGB patches of the two photographs in the
  scikit-learn wheel (``sklearn/datasets/images/china.jpg`` and ``flower.jpg``),
  the analogue of the paper's FFHQ / MetFaces pair. The image is cut into square
  blocks; a seeded share of the blocks is held out, and training patches never
  overlap a held-out block.

Images are flattened to vectors in [-1, 1] (row-major, channels last), the form
the models of :mod:`ddpm_ot_lib.diffusion` take; :func:`to_pixels` turns them back.

Measurements: :func:`pair_correlation` (do two models decode the same latent to
similar images?), :func:`rotation` (control maps for the OT check) and
:func:`ot_check` (the paper's :math:`\varepsilon_\mathrm{rel}` and the share of
self-matches, via :mod:`ddpm_ot_lib.transport`).
"""

from __future__ import annotations

import numpy as np
import torch

from . import _validate as check
from . import transport

# --- images

__all__ = [
    "DIGITS_SHAPE",
    "PATCH_SHAPE",
    "digits",
    "sample_image",
    "colour_patches",
    "to_pixels",
    "pair_correlation",
    "alignment",
    "rotation",
    "ot_check",
    "MIXTURES",
    "mixture",
    "sample_mixture",
]

DIGITS_SHAPE = (8, 8)
PATCH_SHAPE = (8, 8, 3)
_IMAGES = ("china", "flower")


def _check_fraction(value, name):
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return float(value)


def _check_split(split):
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def digits(split: str = "train", groups=None, test_fraction: float = 0.3, seed: int = 0):
    """scikit-learn's 8×8 digits as (x, labels), x a float32 tensor (n, 64) in [-1, 1].

    Parameters
    ----------
    split : "train" or "test" — of one seeded split of all 1797 images,
        stratified by digit (``test_fraction=0.3`` holds out 540 images)
    groups : iterable of digits to keep (e.g. ``range(5)``), or None for all
    Returns
    -------
    x : tensor (n, 64) float32, pixel values 0..16 mapped linearly to [-1, 1]
    labels : int array (n,)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    _check_split(split)
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    bunch = load_digits()
    x, y = bunch.data.astype(np.float32), bunch.target.astype(np.int64)
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=test_fraction, stratify=y, random_state=seed)
    idx = np.sort(idx_train if split == "train" else idx_test)
    if groups is not None:
        groups = np.asarray(list(groups), dtype=np.int64)
        if groups.size == 0 or np.any((groups < 0) | (groups > 9)):
            raise ValueError(f"groups must be a non-empty collection of digits 0..9, got {groups.tolist()}")
        idx = idx[np.isin(y[idx], groups)]
    return torch.from_numpy(x[idx] / 8.0 - 1.0), y[idx]


def sample_image(name: str) -> np.ndarray:
    """One of the photographs inside the scikit-learn wheel ("china" or "flower"), (427, 640, 3) in [0, 1]."""
    from sklearn.datasets import load_sample_image

    if name not in _IMAGES:
        raise ValueError(f"name must be one of {_IMAGES}, got {name!r}")
    return load_sample_image(f"{name}.jpg").astype(np.float64) / 255.0


def colour_patches(
    name: str,
    split: str = "train",
    size: int = 8,
    downsample: int = 2,
    block: int = 32,
    test_fraction: float = 0.25,
    stride: int = 2,
    seed: int = 0,
) -> torch.Tensor:
    """RGB patches of a bundled photograph, float32 tensor (n, size*size*3) in [-1, 1].

    The photograph is mean-pooled by ``downsample`` (so a patch covers more of the
    scene) and cut into ``block`` × ``block`` blocks; a seeded ``test_fraction`` of the
    blocks is held out. ``split="train"``: every ``size`` × ``size`` window with
    stride ``stride`` lying inside a training block. ``split="test"``: the
    non-overlapping windows (stride ``size``) of the held-out blocks. No pixel is
    shared between the two splits.
    """
    _check_split(split)
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    for arg, v in (("size", size), ("downsample", downsample), ("block", block), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{arg} must be an integer >= 1, got {v!r}")
    if block < size:
        raise ValueError(f"block must be >= size, got block={block}, size={size}")
    img = sample_image(name)
    h, w = (img.shape[0] // downsample) * downsample, (img.shape[1] // downsample) * downsample
    img = img[:h, :w].reshape(h // downsample, downsample, w // downsample, downsample, 3).mean(axis=(1, 3))
    nby, nbx = img.shape[0] // block, img.shape[1] // block
    rng = np.random.default_rng(seed)
    n_test = max(1, int(round(test_fraction * nby * nbx)))
    held = np.zeros(nby * nbx, dtype=bool)
    held[rng.choice(nby * nbx, size=n_test, replace=False)] = True
    step = size if split == "test" else stride
    out = []
    for b in np.flatnonzero(held if split == "test" else ~held):
        by, bx = divmod(b, nbx)
        tile = img[by * block : (by + 1) * block, bx * block : (bx + 1) * block]
        for i in range(0, block - size + 1, step):
            for j in range(0, block - size + 1, step):
                out.append(tile[i : i + size, j : j + size].ravel())
    return torch.from_numpy(np.asarray(out, dtype=np.float32) * 2.0 - 1.0)


def to_pixels(x, shape) -> np.ndarray:
    """Flattened images (n, prod(shape)) in [-1, 1] -> array (n, *shape) in [0, 1] (clipped), for display."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    shape = tuple(int(s) for s in shape)
    if arr.ndim != 2 or arr.shape[1] != int(np.prod(shape)):
        raise ValueError(f"x must have shape (n, {int(np.prod(shape))}) for images of shape {shape}, got {arr.shape}")
    return np.clip((arr.astype(np.float64) + 1.0) / 2.0, 0.0, 1.0).reshape((-1,) + shape)


def _rows_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return (a * b).sum(axis=1) / np.maximum(den, 1e-12)


def pair_correlation(a, b, seed: int = 0) -> dict:
    r"""Do two models decode the same latent to similar images?

    ``a[i]`` and ``b[i]`` (n, d) are the images the two models decode from the same
    latent :math:`z_i`. Returns a dict with

    * ``same`` (n,): the pixel (Pearson) correlation of ``a[i]`` with ``b[i]``;
    * ``random`` (n,): of ``a[i]`` with ``b[j(i)]``, j a seeded random
      derangement (a random partner decoded from a different latent);
    * ``beats``: the fraction of latents i with ``same[i] > random[i]``;
    * ``rank``: for each i, the share of all j != i with corr(a_i, b_i) >
      corr(a_i, b_j), averaged over i (0.5 = no shared structure, 1 = always).
    """
    a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(f"a and b must both have shape (n, d) with n >= 2, got {a.shape} and {b.shape}")
    n = a.shape[0]
    rng = np.random.default_rng(seed)
    partner = (np.arange(n) + rng.integers(1, n, size=n)) % n  # never i itself
    same = _rows_corr(a, b)
    rand = _rows_corr(a, b[partner])
    za = (a - a.mean(1, keepdims=True)) / np.maximum(a.std(1, keepdims=True), 1e-12)
    zb = (b - b.mean(1, keepdims=True)) / np.maximum(b.std(1, keepdims=True), 1e-12)
    full = za @ zb.T / a.shape[1]
    rank = ((full < np.diag(full)[:, None]).sum(axis=1)) / (n - 1)
    return {"same": same, "random": rand, "beats": float(np.mean(same > rand)), "rank": float(rank.mean())}


def alignment(decoded, seed: int = 0) -> dict:
    r"""Same-latent agreement among k decoders of the same n latents, beyond their mean images.

    ``decoded`` (k, n, d): ``decoded[l, i]`` is latent :math:`z_i` decoded by decoder l
    (one model under k labels, as in Fig. 5, or k models, as in Fig. 4). Each
    decoder's mean image over the n latents is removed first, so what is shared
    by every image of a label (the average digit) does not count. For every pair
    of decoders (l, m) and every latent i,

    * ``same``: corr(a_li, a_mi), the same latent under both decoders;
    * ``random``: corr(a_li, a_mj) with j = j(i) a seeded random other latent;

    each averaged over the k(k-1)/2 pairs, giving arrays (n,). Also returned:
    ``gap`` = same - random (n,), its mean and its standard error
    (``gap_mean``, ``gap_se``), and ``beats``, the share of latents whose same
    correlation exceeds the random one. No alignment: gap ≈ 0, beats ≈ 0.5.
    """
    a = np.asarray(decoded.detach().cpu() if isinstance(decoded, torch.Tensor) else decoded, dtype=np.float64)
    if a.ndim != 3 or a.shape[0] < 2 or a.shape[1] < 3:
        raise ValueError(f"decoded must have shape (k, n, d) with k >= 2 and n >= 3, got {a.shape}")
    k, n, _ = a.shape
    a = a - a.mean(axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    partner = (np.arange(n) + rng.integers(1, n, size=n)) % n  # never i itself
    same, rand = np.zeros(n), np.zeros(n)
    pairs = [(j, m) for j in range(k) for m in range(j + 1, k)]
    for j, m in pairs:
        same += _rows_corr(a[j], a[m]) / len(pairs)
        rand += _rows_corr(a[j], a[m][partner]) / len(pairs)
    gap = same - rand
    return {
        "same": same,
        "random": rand,
        "gap": gap,
        "gap_mean": float(gap.mean()),
        "gap_se": float(gap.std(ddof=1) / np.sqrt(n)),
        "beats": float(np.mean(same > rand)),
    }


def rotation(d: int, angle: float | None = None, seed: int = 0) -> np.ndarray:
    r"""A seeded rotation matrix (d, d): Haar-random if ``angle`` is None, else a rotation by ``angle``.

    With an angle, :math:`Q = U\,\mathrm{blockdiag}(R_\theta, \dots, R_\theta)\,U^\top`
    for a Haar-random orthogonal U: every vector is turned by exactly θ
    (d even; for odd d one axis is left fixed), so
    :math:`\langle z, Qz\rangle = \cos\theta\,\lVert z\rVert^2`.
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    rng = np.random.default_rng(seed)
    u, r = np.linalg.qr(rng.standard_normal((d, d)))
    u = u * np.sign(np.diag(r))
    if angle is None:
        return u
    if not np.isfinite(angle):
        raise ValueError(f"angle must be a finite number (radians) or None, got {angle!r}")
    c, s = np.cos(angle), np.sin(angle)
    blocks = np.eye(d)
    for k in range(d // 2):
        i = 2 * k
        blocks[i : i + 2, i : i + 2] = [[c, -s], [s, c]]
    return u @ blocks @ u.T


def ot_check(x, z) -> tuple[float, float]:
    r"""The paper's OT check for the pairing ``x[i] -> z[i]``: (ε_rel, self-match share).

    ε_rel is Table 1's relative cost error (:func:`ddpm_ot_lib.transport.relative_cost_error`);
    the self-match share is the fraction of i whose exact-OT partner is ``z[i]``
    (:func:`ddpm_ot_lib.transport.self_match_fraction`). Both are 0 / 1 exactly when
    the pairing is itself an optimal assignment of the two point clouds.
    """
    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    z = np.asarray(z.detach().cpu() if isinstance(z, torch.Tensor) else z, dtype=np.float64)
    return transport.relative_cost_error(x, z), transport.self_match_fraction(x, z)


# --- 2-D test mixtures
MIXTURES = {
    # name: (mode centres (K, 2), standard deviation of every mode)
    "8gaussians": (np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1), 0.05),
    "25gaussians": (np.stack(np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5)), -1).reshape(-1, 2), 0.05),
}


def mixture(name: str):
    r"""The 2-D test laws: ``(means (K, 2), sigma)`` of an equal-weight mixture of
    :math:`N(m_k, \sigma^2 I)`.

    ``"8gaussians"``: 8 modes on the unit circle (neighbours 0.765 = 15 σ apart);
    ``"25gaussians"``: a 5 × 5 grid on [-1, 1]² (neighbours 0.5 = 10 σ apart); σ = 0.05.
    """
    if name not in MIXTURES:
        raise ValueError(f"name must be one of {sorted(MIXTURES)}, got {name!r}")
    means, sigma = MIXTURES[name]
    return means.copy(), float(sigma)


def sample_mixture(name: str, n: int, seed: int = 0):
    """n points of :func:`mixture` ``(name)`` (numpy generator ``seed``): (x (n, 2), mode labels (n,))."""
    means, sigma = mixture(name)
    n = check.count(n, "n")
    rng = np.random.default_rng(seed)
    labels = rng.integers(means.shape[0], size=n)
    return means[labels] + sigma * rng.standard_normal((n, 2)), labels
