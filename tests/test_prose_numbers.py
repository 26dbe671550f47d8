r"""No chapter types a result into its prose.

A result that the prose states is inserted from the cell that computed it
(``book.glue`` + ``{glue:text}`name```), or quoted from :mod:`ddpm_ot_lib.paper` the
same way; a typed one goes stale when the computation changes. This test reads every
Markdown cell of ``book/*.ipynb`` and every ``book/*.md`` and fails on a *result-looking*
number that is neither glued nor a parameter:

* scientific notation: ``1.4e-7``, ``5.7 \cdot 10^{-15}``, ``2\times10^{-4}``, and a bare
  power of ten ``10^{-8}`` (the way a bound or an error is written);
* a number with three or more significant digits (``0.0123``, ``3.14``, ``137``;
  leading zeros do not count, nor an integer's trailing zeros: ``2000`` has one).

What is not a result is listed in :data:`PARAMETERS`, one pattern per kind with its
reason: equation, section and figure numbers, years and arXiv ids, symbol assignments of
integers (``d = 7``, ``N = 32, 64, 128``), tolerances. A number is allowed when a match
of one of these patterns covers it. Markup that holds no prose (roles such as
``{cite}`...``` and ``{doc}`...```, inline code, labels, directive options, link
targets) is blanked first, keeping positions, so a message points at the prose.

Run as a script (``python tests/test_prose_numbers.py [ROOT ...]``) it prints the count
of typed numbers per chapter under each root's ``book/``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Kinds of number that are parameters or references, not results: (pattern, reason).
#: A candidate number is allowed when one match of a pattern covers it.
PARAMETERS: list[tuple[str, str]] = [
    (
        r"(?:§|\bSections?|\bSecs?\.|\bEqs?\.|\bEquations?|\bFigs?\.|\bFigures?|\bTables?"
        r"|\bTheorems?|\bThm\.|\bLemmas?|\bPropositions?|\bProp\.|\bCorollar(?:y|ies)|\bApp\.|\bAppendix"
        r"|\bAlgorithms?|\bAlg\.|\bp\.|\bpp\.|\bpages?)\s*\(?\d+(?:\.\d+)*\)?"
        r"(?:\s*(?:[–,→-]|and|to)\s*\(?\d+(?:\.\d+)*\)?)*",
        "a reference to the paper's or the book's sections, equations, figures, pages",
    ),
    (
        r"\(\d{1,2}(?:\.\d{1,2})?\)(?:\s*[–-]\s*\(\d{1,2}(?:\.\d{1,2})?\))?",
        "an equation number in parentheses, as the paper and the book write them: (8), (1.3)",
    ),
    (r"(?<![\d.])\d+\.\d+\.\d+(?:\.\d+)*(?![\d.])", "a dotted section or version number"),
    (r"(?<![\d.])\d{4}\.\d{4,5}(?:v\d+)?(?![\d.])", "an arXiv identifier (2202.07477)"),
    (r"(?<![\d.])(?:19|20)\d\d(?![\d.])", "a year"),
    (
        r"(?<![\w\\])[A-Za-z](?:_\{?\w+\}?)?\s*=\s*\d+(?:\s*,\s*\d+)*",
        "an integer assigned to a one-letter symbol: a dimension, grid size, count or time "
        "(d = 7, N = 32, 64, 128, T = 20)",
    ),
    (
        r"(?<![\w\\])[A-Za-z](?:_\{?\w+\}?)?\s*(?:=|<|\\le|\\leq|\\in)\s*\[?\s*-?\d+\s*,\s*-?\d+\s*\]",
        "an integer interval for a symbol or a box ([-8, 8])",
    ),
    (
        r"\b(?:tolerances?|rtol|atol|tol|step|floors?)\b[^.$]{0,24}\$?10\^\{?[-−]?\d+\}?\$?"
        r"(?:\s*(?:to|and|,)\s*\$?10\^\{?[-−]?\d+\}?\$?)?",
        "a solver tolerance, a difference step or a detection floor, which the chapter chooses",
    ),
    (
        r"(?:\d+(?:\.\d+)?\s*(?:\\times|\\cdot)\s*)?10\^\{?\d+\}?\$?\s+(?:[a-z-]+\s+)?"
        r"(?:points|samples|draws|nodes|particles|images)\b",
        "a sample or grid size written as a power of ten ($5 \\times 10^4$ points)",
    ),
    (
        r"\b(?:[Ss]cal(?:ed|ing)|multiplied)\s+by\s+\$10\^\{?\d+\}?\$",
        "a scale factor the chapter applies to build a control map",
    ),
    (
        r"(?<![\w])\\?[A-Za-z]+(?:_\{?\w+\}?)?\s*=\s*10\^\{?[-−]?\d+\}?",
        "a power of ten assigned to a symbol: a setting the chapter or the paper chooses "
        "(the noise schedule's \\beta_1 = 10^{-4})",
    ),
    (
        r"(?<![\d.])\d+\s*(?:×|\\times)\s*\d+(?![\d.])",
        "an image size or an array shape (the paper's 256×256 models, 8×8 digits)",
    ),
    (
        r"\bseeds?\s+\d+(?:\s*(?:[–,-]|and|to)\s*\d+)*",
        "a seed: the name of a random density, which the chapter chooses (seed 101)",
    ),
    (
        r"\b(?:tolerances?|rtol|atol|run at|against|between)\b[^.$\d]{0,30}\$?(?:\d\s*\\times\s*)?10\^\{?[-−]?\d+\}?\$?"
        r"(?:[^.$\d]{0,40}\$?(?:\d\s*\\times\s*)?10\^\{?[-−]?\d+\}?\$?)*",
        "the tolerances of a convergence study, listed or compared after a word that says "
        "so (at tolerances 10^-8, 5 x 10^-9 and 10^-12; between 10^-9 and 10^-10)",
    ),
    (r"\$?(?:\d\s*\\times\s*)?10\^\{?[-−]?\d+\}?\$?\s+runs?\b", "a tolerance naming a run (the 10^-9 run)"),
]

_ALLOW = [re.compile(p) for p, _ in PARAMETERS]

#: Markup blanked before the search (kept the same length, so positions stay true).
_MARKUP = [
    re.compile(r"\{glue(?::\w*)?\}`[^`]*`"),  # glued values: computed, not typed
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: {cite}`…`, {doc}`…`, {eq}`…`
    re.compile(r"``[^`]*``|`[^`\n]*`"),  # inline code
    re.compile(r"^\s*\([\w:-]+\)=\s*$", re.M),  # labels (name)=
    re.compile(r"^\s*:[\w-]+:.*$", re.M),  # directive options :label: …
    re.compile(r"^\s*```+\s*\{[^}]*\}.*$", re.M),  # directive heads ```{figure} path
    re.compile(r"\]\([^)]*\)"),  # link targets [text](target)
    re.compile(r"\$\$\s*\([\w:-]+\)"),  # equation labels $$ (name)
    re.compile(r"<[^<>\n]*>"),  # HTML tags and ref targets <label>
]

#: Result-looking numbers: scientific notation first, then plain numbers.
_NUMBER = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?\s*(?:\\times|\\cdot|×|·)\s*10\^\{?[-−]?\d+\}?"  # 5.7 \cdot 10^{-15}
    r"|(?<![\w.])\d+(?:\.\d+)?[eE][-+−]?\d+(?![\w.])"  # 1.4e-7
    r"|(?<![\w.^])10\^\{?[-−]?\d+\}?"  # 10^{-8}
    r"|(?<![\w.^{])\d+(?:\.\d+)?(?![\w.]|\^\{?-?\d)"
)  # 0.0123, 137


def significant_digits(number: str) -> int:
    """Significant digits of a plain decimal: leading zeros never count, an integer's
    trailing zeros do not count (``2000`` -> 1), a decimal's do (``1.50`` -> 3)."""
    digits = number.replace(".", "").lstrip("0")
    if "." not in number:
        digits = digits.rstrip("0")
    return len(digits)


def _is_result_looking(number: str) -> bool:
    if re.search(r"10\^|[eE][-+−]?\d", number):
        return True
    return significant_digits(number) >= 3


def _blank(text: str) -> str:
    for pattern in _MARKUP:
        text = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    return text


def typed_numbers(text: str) -> list[tuple[int, str]]:
    """The result-looking numbers typed into Markdown ``text``: (offset, number) pairs.

    Glued values, markup without prose and the kinds listed in :data:`PARAMETERS` are
    left out.
    """
    text = _blank(text)
    allowed = [m.span() for pattern in _ALLOW for m in pattern.finditer(text)]
    found = []
    for m in _NUMBER.finditer(text):
        s, e = m.span()
        if not _is_result_looking(m.group()):
            continue
        if any(a <= s and e <= b for a, b in allowed):
            continue
        found.append((s, m.group()))
    return found


def markdown_cells(path: Path) -> list[tuple[str, str]]:
    """(where, text) for each Markdown cell of a notebook, or the whole of a .md file."""
    if path.suffix == ".md":
        return [("the page", path.read_text(encoding="utf-8"))]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(f"cell {i}", "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "markdown"]


def chapters(root: Path = ROOT) -> list[Path]:
    book = root / "book"
    return sorted(list(book.glob("*.ipynb")) + list(book.glob("*.md")))


def report(path: Path) -> list[str]:
    """One line per typed number in the chapter at ``path``: chapter, cell, number."""
    lines = []
    for where, text in markdown_cells(path):
        for offset, number in typed_numbers(text):
            line = text.count("\n", 0, offset) + 1
            context = text[max(0, offset - 30) : offset + len(number) + 20].replace("\n", " ")
            lines.append(f"{path.name}, {where}, line {line}: {number!r} typed (in: ...{context}...)")
    return lines


# ----------------------------------------------------------------------------- the checker


@pytest.mark.parametrize(
    "text, expected",
    [
        ("the largest error is 1.4e-7 here", ["1.4e-7"]),
        (r"an error of $5.7 \cdot 10^{-15}$ in $d = 2$", [r"5.7 \cdot 10^{-15}"]),
        (r"$r$ sees $2\times10^{-4}$", [r"2\times10^{-4}"]),
        (r"the Jacobian is symmetric to $10^{-12}$", ["10^{-12}"]),
        ("the mean cost is 0.0123 and the run took 137 s", ["0.0123", "137"]),
        ("its value is 1.50", ["1.50"]),
    ],
)
def test_typed_number_is_caught(text, expected):
    assert [n for _, n in typed_numbers(text)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "the largest error is {glue:text}`eps_max` here",
        r"an error of {glue:text}`eps_d2` in $d = 2$",
        "a run took {glue:}`seconds` s",
    ],
)
def test_glued_number_is_not_caught(text):
    assert typed_numbers(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Eq. (8) and Eqs. (10)–(12) of §3.4, Theorem 3.1, Table 1, Thm. 5.10",
        r"central differences (step $10^{-4}$)",
        r"below its floor $10^{-12}$; their floors, $10^{-17}$ and $10^{-12}$",
        r"the encoder scaled by $10^7$; all multiplied by $10^7$",
        r"a reference sample of $5 \times 10^4$ points; $10^6$ prior points",
        "the paper (arXiv 2202.07477, ICLR 2023) {cite}`khrulkov2023understanding`",
        r"for $d = 7$ on a grid $N = 250$, and $N = 32, 64, 128, 256$ nodes",
        r"with a tolerance of $10^{-12}$, tolerances from $10^{-8}$ to $10^{-12}$",
        r"an encoder scaled by `1.234e7` in code, on the box $[-8, 8]^d$",
        "1000 samples on 2000 points, 6% off, at 0.05 and 0.3",
        "(gt-eq-ode)=\n$$ x = 1 $$ (thm31-eq-123)",
        r"from $\beta_1 = 10^{-4}$ to $\beta_T = 0.02$",
        "the paper's 256×256 models and our 8×8 digits, a $128 \\times 128$ grid",
        "seed 101 and seeds 105, 108; the trajectories of seed 107",
        r"at tolerances $10^{-8}$, $5 \times 10^{-9}$, $10^{-9}$ and $10^{-12}$",
        r"the difference between $10^{-9}$ and $10^{-10}$ matches the real error of the $10^{-9}$ run",
        r"against a run at $10^{-12}$; the $5 \times 10^{-9}$ run",
    ],
)
def test_parameter_is_not_caught(text):
    assert typed_numbers(text) == []


@pytest.mark.parametrize(
    "number, digits", [("2000", 1), ("250", 2), ("0.0123", 3), ("1.50", 3), ("137", 3), ("0.05", 1)]
)
def test_significant_digits(number, digits):
    assert significant_digits(number) == digits


def test_every_parameter_kind_has_a_reason():
    assert PARAMETERS and all(reason.strip() for _, reason in PARAMETERS)


# ----------------------------------------------------------------------------- the chapters


@pytest.mark.parametrize("path", chapters(), ids=lambda p: p.name)
def test_chapter_prose_types_no_result(path):
    found = report(path)
    assert not found, (
        f"{path.name}: {len(found)} result-looking number(s) typed into "
        "the prose; glue them from the computation (book.glue + "
        "{glue:text}`name`) or, for a parameter, see PARAMETERS:\n" + "\n".join(found)
    )


if __name__ == "__main__":
    for root in map(Path, sys.argv[1:] or [ROOT]):
        print(root)
        for path in chapters(root):
            print(f"  {path.name:28} {len(report(path)):3d}")
