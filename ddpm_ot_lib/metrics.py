r"""Quality measures of the DPM-OT chapter: distances, mode statistics, memorisation.

* distances between samples and a reference sample: exact :math:`W_2` (:func:`w2`, via
  :func:`ddpm_ot_lib.transport.ot_cost`) for 2-D, sliced :math:`W_2` (:func:`sliced_w2`)
  for images;
* mode mixture and coverage: against known modes (:func:`mode_stats`) or as a
  classifier sees them (:func:`digit_classifier`, :func:`class_stats`);
* memorisation: each against the same statistic of an i.i.d. sample of the data law of
  the same size, so that "close to the training set" can be told from "fresh"
  (:func:`memorisation`, :func:`nearest_distance`, :func:`self_distance`,
  :func:`duplicate_share`);
* :func:`quality_table`: one scale's quality and memorisation statistics at one NFE, as
  text, read from a sweep of ``runs/dpm_ot_sweeps.py`` (``book/data/dpm_ot_sweeps.json``).
"""

from __future__ import annotations

import numpy as np
import torch

from . import _validate as check
from . import transport

__all__ = [
    "mode_stats",
    "w2",
    "sliced_w2",
    "nearest_distance",
    "duplicate_share",
    "self_distance",
    "memorisation",
    "digit_classifier",
    "class_stats",
    "quality_table",
]


def _np(x, name: str, d: int | None = None) -> np.ndarray:
    return check.points(check.array(x), name, d=d)


def mode_stats(x, means, sigma: float, k: float = 3.0, min_share: float = 0.01) -> dict:
    r"""Mode mixture and coverage of 2-D samples x (n, 2) against modes ``means`` (K, 2).

    * ``mixture``: the share of samples farther than :math:`k\sigma` from every mode
      (for the true law and k = 3 this is :math:`e^{-k^2/2} = 1.1\%`, the Rayleigh tail);
    * ``shares`` (K,): the share of samples within :math:`k\sigma` of each mode;
    * ``coverage``: the number of modes holding at least ``min_share`` of the samples.
    """
    x = _np(x, "x", d=2)
    means = check.points(means, "means", d=2)
    sigma = check.positive(sigma, "sigma")
    k = check.positive(k, "k")
    dist = np.sqrt(((x[:, None, :] - means[None, :, :]) ** 2).sum(-1))
    near = dist.min(1) <= k * sigma
    shares = np.bincount(dist.argmin(1)[near], minlength=means.shape[0]) / x.shape[0]
    return {"mixture": float(1.0 - near.mean()), "shares": shares, "coverage": int((shares >= min_share).sum())}


def w2(x, y) -> float:
    r"""Exact :math:`W_2` between the uniform laws on x (n, d) and y (n, d): the square root
    of :func:`ddpm_ot_lib.transport.ot_cost` (POT's exact network simplex)."""
    return float(np.sqrt(transport.ot_cost(_np(x, "x"), _np(y, "y"))))


def sliced_w2(x, y, n_projections: int = 1000, seed: int = 0) -> float:
    r"""Sliced :math:`W_2` (``ot.sliced_wasserstein_distance``, p = 2) between uniform laws on x and y.

    :math:`SW_2^2 = \mathbb{E}_\theta\, W_2^2(\theta^\top_\# x, \theta^\top_\# y)` over directions
    θ uniform on the sphere, estimated with ``n_projections`` seeded directions.
    """
    import ot

    x = _np(x, "x")
    y = _np(y, "y", d=x.shape[1])
    return float(
        ot.sliced_wasserstein_distance(
            x, y, n_projections=check.count(n_projections, "n_projections"), p=2, seed=int(seed)
        )
    )


def nearest_distance(x, ref, chunk: int = 2048) -> np.ndarray:
    r"""Distance from each row of x (n, d) to its nearest row of ``ref`` (m, d): shape (n,)."""
    x = torch.from_numpy(_np(x, "x"))
    ref = torch.from_numpy(_np(ref, "ref", d=x.shape[1]))
    chunk = check.count(chunk, "chunk")
    out = [
        torch.cdist(x[s : s + chunk], ref, compute_mode="donot_use_mm_for_euclid_dist").min(1).values
        for s in range(0, x.shape[0], chunk)
    ]
    return torch.cat(out).numpy()


def duplicate_share(index) -> float:
    r"""The share of samples that repeat an earlier one: :math:`1 - \#\mathrm{distinct}/n` of ``index`` (n,)."""
    idx = np.asarray(index)
    if idx.ndim != 1 or idx.size < 1:
        raise ValueError(f"index must be a non-empty 1-D array, got shape {idx.shape}")
    return float(1.0 - np.unique(idx).size / idx.size)


def digit_classifier(seed: int = 0):
    r"""A multinomial logistic regression on the digits' training split (pixels in [-1, 1]).

    Returns ``(classifier, test_accuracy)``; the held-out split is that of
    :func:`ddpm_ot_lib.datasets.digits`, so no test image was seen by it or by any model.
    """
    from sklearn.linear_model import LogisticRegression

    from . import datasets

    x_train, y_train = datasets.digits("train")
    x_test, y_test = datasets.digits("test")
    clf = LogisticRegression(C=0.1, max_iter=5000, random_state=seed)
    clf.fit(x_train.numpy().astype(np.float64), y_train)
    return clf, float(clf.score(x_test.numpy().astype(np.float64), y_test))


def class_stats(classifier, x, threshold: float = 0.5, min_share: float = 0.01) -> dict:
    r"""Mode mixture of digit samples x (n, 64) as the classifier sees it.

    ``mixture``: the share of samples whose largest class probability is below
    ``threshold`` (no class claims them); ``shares`` (10,): the share predicted as each
    digit; ``coverage``: digits predicted for at least ``min_share`` of the samples.
    """
    x = _np(x, "x")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    prob = classifier.predict_proba(x)
    shares = np.bincount(prob.argmax(1), minlength=prob.shape[1]) / x.shape[0]
    return {
        "mixture": float((prob.max(1) < threshold).mean()),
        "shares": shares,
        "coverage": int((shares >= min_share).sum()),
    }


def self_distance(x) -> np.ndarray:
    r"""Distance from each row of x (n, d) to its nearest *other* row: shape (n,)."""
    x = torch.from_numpy(_np(x, "x"))
    if x.shape[0] < 2:
        raise ValueError(f"x must hold at least 2 points, got {x.shape[0]}")
    out = []
    for s in range(0, x.shape[0], 2048):
        dist = torch.cdist(x[s : s + 2048], x, compute_mode="donot_use_mm_for_euclid_dist")
        rows = torch.arange(dist.shape[0])
        dist[rows, rows + s] = float("inf")
        out.append(dist.min(1).values)
    return torch.cat(out).numpy()


def memorisation(x, train, fresh, q: float = 0.05) -> dict:
    r"""Memorisation statistics of samples x (n, d), each beside the same statistic of a
    *fresh* i.i.d. sample of the data law (``fresh``, never trained on).

    * ``nn_median`` / ``nn_median_fresh``: median distance to the nearest training point;
      ``nn_ratio`` = their ratio (about 1 for fresh data, near 0 for copies);
    * ``close_share``: the share of samples closer to the training set than the
      ``q``-quantile of the fresh sample's distances — ``q`` for fresh data, up to 1 for
      copies of training points;
    * ``dup_share`` / ``dup_share_fresh``: near-duplicates within the sample — the share
      of the first m = min(n, len(fresh)) samples whose nearest other sample is closer
      than the ``q``-quantile of the same distance in a fresh sample of size m
      (:func:`self_distance`); ``dup_share_fresh`` is that share for a second fresh
      sample of size m (the second half of ``fresh`` against its first half, so m is at
      most len(fresh) / 2). About ``q`` for i.i.d. data; a sampler that repeats itself
      scores its repeat rate.
    """
    x = _np(x, "x")
    train = _np(train, "train", d=x.shape[1])
    fresh = _np(fresh, "fresh", d=x.shape[1])
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    if fresh.shape[0] < 4:
        raise ValueError(f"fresh must hold at least 4 points, got {fresh.shape[0]}")
    d_x, d_f = nearest_distance(x, train), nearest_distance(fresh, train)
    m = min(x.shape[0], fresh.shape[0] // 2)
    tau = np.quantile(self_distance(fresh[:m]), q)
    return {
        "nn_median": float(np.median(d_x)),
        "nn_median_fresh": float(np.median(d_f)),
        "nn_ratio": float(np.median(d_x) / np.median(d_f)),
        "close_share": float(np.mean(d_x < np.quantile(d_f, q))),
        "q": float(q),
        "dup_share": float(np.mean(self_distance(x[:m]) < tau)),
        "dup_share_fresh": float(np.mean(self_distance(fresh[m : 2 * m]) < tau)),
        "m": int(m),
    }


def quality_table(sweep: dict, nfe: int, methods, name: str) -> str:
    r"""One scale's quality and memorisation statistics at ``nfe`` NFE, as a text table.

    sweep : one scale of the file written by ``runs/dpm_ot_sweeps.py``: ``curves``
    (method -> rows with ``nfe``, the distance, ``mixture``, ``coverage``,
    ``close_share``, ``dup_share``, ``n``) and ``reference``; for images the reference
    holds ``sw2_floor_train_vs_test`` and the distance is the sliced :math:`W_2` to
    held-out images (``sw2``), with ``test`` as the fresh data; else :math:`W_2`
    (``w2``) with ``true``. methods : the rows, in order (a method not run at this NFE
    is left out); name : the scale's name, for the title line.

    Returns the lines joined by newlines: a title, one line per method and the last one
    for fresh data (its ``dup`` is ``dup_share_fresh``, :func:`memorisation`).
    """
    nfe = check.count(nfe, "nfe")
    if not isinstance(sweep, dict) or not {"curves", "reference"} <= set(sweep):
        raise ValueError("sweep must be one scale of the sweep file: a dict with 'curves' and 'reference'")
    image = "sw2_floor_train_vs_test" in sweep["reference"]
    dist = "sw2" if image else "w2"
    lines = [f"{name}, {nfe} NFE {'':14s} {dist:>6s} mixture cover  close   dup     n"]
    for m in methods:
        if m not in sweep["curves"]:
            raise ValueError(f"methods: {m!r} is not in the sweep (have {sorted(sweep['curves'])})")
        r = next((r for r in sweep["curves"][m] if r["nfe"] == nfe), None)
        if r is None:  # not run at this NFE
            continue
        lines.append(
            f"  {m:24s} {r[dist]:6.3f} {r['mixture']:7.3f} {r['coverage']:5d} "
            f"{r['close_share']:6.3f} {r['dup_share']:5.3f} {r['n']:5d}"
        )
    fresh = sweep["reference"]["test" if image else "true"]
    lines.append(
        f"  {'fresh data':24s} {'':6s} {fresh['mixture']:7.3f} {fresh['coverage']:5d} "
        f"{fresh['close_share']:6.3f} {fresh['dup_share_fresh']:5.3f}"
    )
    return "\n".join(lines)
