r"""Every value the book quotes from a paper, each with where it was read.

A chapter never types a number taken from a paper: it imports it from here and glues it
(``book.glue``), so the source is named once, beside the value, and the typed-number check
(``tests/test_prose_numbers.py``) can tell a quoted value from a typed one.

Each entry is a :class:`Quote`: the value as the paper prints it, and its source
(paper, section / table / figure / equation, or the released code's repository, commit
and file). Sections are grouped by paper; add a value to the section of its paper.

Sources
-------
KHRULKOV : Khrulkov, Ryzhakov, Chertkov, Oseledets, *Understanding DDPM Latent Codes
           Through Optimal Transport*, ICLR 2023, arXiv 2202.07477 (full text in
           ``shared/papers/``); its supplementary code in lucasdegeorge/diffusion_ot,
           commit 702f2f4, ``paper_code/``.
LI       : Li et al., *DPM-OT: A New Diffusion Probabilistic Model Guided by Optimal
           Transport*, ICCV 2023, arXiv 2307.11308; released code cognaclee/DPM-OT.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "Quote",
    "TABLE1_MAX_EPS_REL",
    "TABLE1_GRID",
    "TABLE1_DENSITIES",
    "TABLE1_SECONDS_PER_DENSITY",
    "TIME_RANGE",
    "LI_NFE",
    "LI_CODE_DEFAULTS",
    "quotes",
]


class Quote(NamedTuple):
    """A value as a paper states it, and where it states it."""

    value: object
    source: str


KHRULKOV = "Khrulkov et al. (ICLR 2023, arXiv 2202.07477)"

# --------------------------------------------------------------------------- Khrulkov et al., §3.4

#: Table 1, last column: the maximum of ε_rel over the random densities, per dimension d.
TABLE1_MAX_EPS_REL = {
    2: Quote(5.7e-15, f"{KHRULKOV}, Table 1"),
    3: Quote(2.2e-15, f"{KHRULKOV}, Table 1"),
    7: Quote(2.1e-15, f"{KHRULKOV}, Table 1"),
}
#: Table 1, columns 2-3: (spatial grid size N, temporal grid size M) per dimension d.
TABLE1_GRID = {
    2: Quote((250, 250), f"{KHRULKOV}, Table 1"),
    3: Quote((100, 100), f"{KHRULKOV}, Table 1"),
    7: Quote((50, 50), f"{KHRULKOV}, Table 1"),
}
#: §3.4, below Table 1: "the obtained maximum value of the error for 100 random densities".
TABLE1_DENSITIES = Quote(100, f"{KHRULKOV}, §3.4, text below Table 1")
#: §3.4, below Table 1: "run for one random density took about 100 seconds on average".
TABLE1_SECONDS_PER_DENSITY = Quote(100, f"{KHRULKOV}, §3.4, text below Table 1")
#: §3.4, "Experiment and results": "For the time dimension, we consider the range [0, 5]"
#: (the probability-flow ODE is stopped at t = 5, not integrated to infinity).
TIME_RANGE = Quote((0, 5), f"{KHRULKOV}, §3.4, 'Experiment and results'")

# --------------------------------------------------------------------------- Khrulkov et al., §3.5

# --------------------------------------------------------------------------- Li et al. (DPM-OT)
LI = "Li et al. (ICCV 2023, arXiv 2307.11308)"
LI_CODE = "cognaclee/DPM-OT"

#: Abstract: "high-quality samples within around 10 function evaluations".
LI_NFE = Quote(10, f"{LI}, abstract")
#: The released defaults of the OT section of configs/cifar10.yml: the number of reverse
#: steps after the jump (backSteps), the singular-point filter (topk, angle_thresh), the
#: SDOT solve (lr_ot, max_iter, bat_size_sr).
LI_CODE_DEFAULTS = {
    "backSteps": Quote(10, f"{LI_CODE}, configs/cifar10.yml, OT.backSteps"),
    "topk": Quote(1, f"{LI_CODE}, configs/cifar10.yml, OT.topk"),
    "angle_thresh": Quote(0.7, f"{LI_CODE}, configs/cifar10.yml, OT.angle_thresh"),
    "lr_ot": Quote(0.1, f"{LI_CODE}, configs/cifar10.yml, OT.lr_ot"),
    "max_iter": Quote(10000, f"{LI_CODE}, configs/cifar10.yml, OT.max_iter"),
    "bat_size_sr": Quote(4000, f"{LI_CODE}, configs/cifar10.yml, OT.bat_size_sr"),
}


def quotes() -> dict[str, Quote]:
    """Every module-level :class:`Quote` (dicts of quotes flattened as ``NAME[key]``)."""
    out = {}
    for name, value in globals().items():
        if isinstance(value, Quote):
            out[name] = value
        elif isinstance(value, dict) and value and all(isinstance(v, Quote) for v in value.values()):
            out.update({f"{name}[{k}]": v for k, v in value.items()})
    return out
