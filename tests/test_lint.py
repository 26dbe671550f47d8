"""Lint: ruff's correctness rules everywhere, and chapter code that fits the page.

The rules are those of ``[tool.ruff]`` in pyproject.toml (pyflakes and pycodestyle's
E4/E7/E9: unused or undefined names, syntax, statements). Chapter code cells must also
fit the rendered page, 88 columns: wider lines are cut off or scroll sideways.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")

#: Chapters whose code is not yet within 88 columns, each with why (issue 12's note):
#: beyond_table1's wide lines sit in table-printing cells already at 15 lines; wrapping
#: them needs that code moved into the library first.
WIDE_ALLOWED = {"beyond_table1.ipynb"}


def _ruff(*args):
    if RUFF is None:
        pytest.fail("ruff is not installed in the environment (it is pinned in pyproject.toml)")
    return subprocess.run([RUFF, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_correctness_rules_pass():
    res = _ruff("check", "--output-format", "concise", ".")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("chapter", sorted(p.name for p in (ROOT / "book").glob("*.ipynb")
                                           if p.name not in WIDE_ALLOWED))
def test_chapter_code_fits_the_page(chapter):
    res = _ruff("check", "--select", "E501", "--line-length", "88", "--output-format", "concise",
                f"book/{chapter}")
    assert res.returncode == 0, f"{chapter}: code lines wider than 88 columns:\n{res.stdout}"
