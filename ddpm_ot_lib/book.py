r"""What every chapter shares: the data folder, the figure style, numbers for the prose.

A chapter's first cell does ``from ddpm_ot_lib import book`` and ``book.style()``; a
number that the prose states is computed in a cell and inserted with :func:`glue`
(myst-nb's ``glue``, hidden), then written in Markdown as ``{glue:text}`name```. Values
quoted from a paper come from :mod:`ddpm_ot_lib.paper`.

Round-off-level values differ in their digits between machines (BLAS, CPU), so the
text a chapter stores for them must not print those digits: :func:`fmt` writes a value
below a floor as the floor (``"< 1e-12"``), :func:`bound` as the next power of ten.
"""

from __future__ import annotations

import math
from pathlib import Path

from . import _validate as check

__all__ = ["data_dir", "style", "fmt", "bound", "glue"]


def data_dir(start: str | Path = ".") -> Path:
    """The book's data folder seen from ``start``: ``start/data`` when a chapter runs in
    ``book/``, else ``start/book/data`` (the repository root, e.g. under nbval).

    Raises ``FileNotFoundError`` naming both places when neither exists.
    """
    start = Path(start)
    for cand in (start / "data", start / "book" / "data"):
        if cand.is_dir():
            return cand
    raise FileNotFoundError(f"no book data folder under {start.resolve()}: looked for 'data' and 'book/data'")


def style(font_size: float = 11) -> None:
    """The book's matplotlib settings: 100 dpi on screen and in files, ``font_size`` points."""
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "font.size": check.positive(font_size, "font_size")})


def fmt(value, digits: int = 3, floor: float | None = None, zero: str | None = None) -> str:
    """``value`` to ``digits`` significant digits; below ``floor`` in size, the floor.

    value : real number; digits : int >= 1; floor : float > 0 or None (no floor);
    zero : text written instead of ``"< floor"`` when ``|value| < floor`` (e.g. ``"0"``).

    >>> fmt(0.0123456), fmt(3e-17, floor=1e-12), fmt(3e-17, 2, 1e-12, zero="0")
    ('0.0123', '< 1e-12', '0')
    """
    v = _real(value, "value")
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be an integer >= 1, got {digits!r}")
    if floor is not None and abs(v) < check.positive(floor, "floor"):
        return zero if zero is not None else f"< {floor:.0e}"
    return f"{v:.{digits}g}"


def bound(value) -> str:
    """The smallest power of ten above ``|value|``: ``"< 1e-8"`` for 3.2e-9; ``"0"`` for 0.

    A stable way to state an error whose digits are noise (e.g. a maximum over runs).
    """
    v = abs(_real(value, "value"))
    if v == 0:
        return "0"
    return f"< 1e{math.floor(math.log10(v)) + 1:d}"


def glue(name: str, value, spec: str | None = None):
    """Store ``value`` for the prose under ``name`` (myst-nb glue, not displayed).

    spec : a format spec applied first (``"{:.1%}"`` or ``".3g"``), so the page shows
    exactly the stored string. Returns None, so a cell that ends on a glue shows
    nothing: the value at full precision would be stored as the cell's output, and its
    last digits follow the CPU's SIMD kernels, which nbval then reports as a change
    (it did, in CI, on a machine other than the one that executed the chapter).
    """
    from myst_nb import glue as _glue

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    shown = value
    if spec is not None:
        shown = spec.format(value) if "{" in spec else format(value, spec)
    _glue(name, shown, display=False)


def _real(value, name):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v
