"""Lint and format: ruff's correctness rules and formatter, and chapter code that fits.

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


def _ruff(*args):
    if RUFF is None:
        pytest.fail("ruff is not installed in the environment (it is pinned in pyproject.toml)")
    return subprocess.run([RUFF, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_correctness_rules_pass():
    res = _ruff("check", "--output-format", "concise", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_format_is_applied():
    """``ruff format --check .``: every file in ``[tool.ruff]`` is as ruff formats it
    (120 columns; the chapters' code cells 88, book/ruff.toml), except the files that
    ``[tool.ruff.format] exclude`` lists. Run ``ruff format .`` to apply it."""
    res = _ruff("format", "--check", ".")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("chapter", sorted(p.name for p in (ROOT / "book").glob("*.ipynb")))
def test_chapter_code_fits_the_page(chapter):
    res = _ruff("check", "--select", "E501", "--line-length", "88", "--output-format", "concise", f"book/{chapter}")
    assert res.returncode == 0, f"{chapter}: code lines wider than 88 columns:\n{res.stdout}"
