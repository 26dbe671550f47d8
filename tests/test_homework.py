"""Homework (scripts/homework.py): assignments from the chapters' exercises, graded by otter.

On a fixture chapter of its own (a gated solution, a {solution} directive, two exercises in
one cell, an exercise left to the teacher), so independent of the chapters' state:
  - the chapter's own solutions filled into the assignment score full marks;
  - a wrong answer, an exception and an empty answer each score less, and the CSV names
    the failing exercise; a file that is not a notebook, or not this assignment, scores 0
    with a message saying so;
  - the student's files hold no hidden test and none of the expected values;
  - a specification whose label is not in the chapter, or whose answer name the chapter
    already assigns, is an error naming the chapter and the label.
On the book: every homework/*.yml fits its chapter (labels, solution code, new names),
without executing anything; marked `slow`, one real chapter built and its solutions
graded to full marks.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("homework_script", ROOT / "scripts" / "homework.py")
hw = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = hw  # dataclasses look their module up there
_spec.loader.exec_module(hw)

CHAPTER = "fixture_chapter"
SPEC = """\
chapter: fixture_chapter
exercises:
  fx-ex-1:
    answers:
      - name: centre_norm
        describe: the Euclidean norm of `centre` (a number)
        solution: norm_value
        rtol: 1.0e-9
  fx-ex-2:
    answers:
      - name: squares
        describe: the squares of 1, 2, 3 (an array of 3 numbers)
        solution: sq
      - name: square_count
        describe: how many squares (an integer)
        solution: int(sq.size)
        points: 2
  fx-ex-3:
    answers:
      - name: centre_positive
        describe: are both coordinates of `centre` positive? (True/False)
        solution: bool(np.all(centre > 0))
"""


def _fixture_notebook() -> dict:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md("# Fixture chapter\n\nA centre point."),
        code("import numpy as np\ncentre = np.array([3.0, 4.0 + 1e-7])\nprint(centre)"),
        md(
            "## Exercises\n\n```{exercise} A norm\n:label: fx-ex-1\n\nCompute the norm of `centre`.\n```\n\n"
            "```{solution-start} fx-ex-1\n:class: dropdown\n```\n\nBy Pythagoras."
        ),
        code("norm_value = float(np.hypot(*centre))\nprint(norm_value)"),
        md(
            "```{solution-end}\n```\n\n```{exercise} Squares\n:label: fx-ex-2\n\nSquare 1, 2, 3.\n```\n\n"
            "````{solution} fx-ex-2\n:class: dropdown\n\nElementwise.\n\n```python\nsq = np.arange(1, 4) ** 2\n"
            "print(sq)\n```\n````\n\n```{exercise} Signs\n:label: fx-ex-3\n\nAre both coordinates positive?\n```\n\n"
            "```{exercise} A proof\n:label: fx-ex-4\n\nProve it (graded by hand).\n```"
        ),
        md("```{solution-start} fx-ex-3\n:class: dropdown\n```"),
        code("signs = np.sign(centre)"),
        md("```{solution-end}\n```\n\n```{solution-start} fx-ex-4\n:class: dropdown\n```\nA proof."),
        md("```{solution-end}\n```"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def fixture_book(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fixture")
    (root / "book").mkdir()
    (root / "homework").mkdir()
    nbformat.write(_fixture_notebook(), root / "book" / f"{CHAPTER}.ipynb")
    (root / "homework" / f"{CHAPTER}.yml").write_text(SPEC)
    return root


def _spec(root: Path):
    return hw.load_spec(root / "homework" / f"{CHAPTER}.yml", book=root / "book")


@pytest.fixture(scope="module")
def built(fixture_book) -> Path:
    out = fixture_book / "_build" / "homework"
    hw.build(_spec(fixture_book), out_root=out)
    return out


@pytest.fixture(scope="module")
def graded(fixture_book, built, tmp_path_factory) -> dict[str, dict[str, dict]]:
    """{file: {exercise: CSV row}} for a folder of typical submissions."""
    spec = _spec(fixture_book)
    student = nbformat.read(built / CHAPTER / "student" / f"{CHAPTER}.ipynb", as_version=4)
    subs = tmp_path_factory.mktemp("submissions")
    nbformat.write(hw.filled(spec, student), subs / "solutions.ipynb")
    nbformat.write(hw.filled(spec, student, {"fx-ex-1": "centre_norm = 5.1"}), subs / "wrong.ipynb")
    raising = hw.filled(spec, student, {"fx-ex-2": "sq = np.arange(1, 4) ** 2\nraise ValueError('oops')"})
    nbformat.write(raising, subs / "exception.ipynb")
    nbformat.write(student, subs / "empty.ipynb")
    (subs / "broken.ipynb").write_text("{ this is not json")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), subs / "other.ipynb")
    out_csv = subs / "grades.csv"
    hw.grade(CHAPTER, subs, out_csv, jobs=2, timeout=300, homework=built)
    rows: dict[str, dict[str, dict]] = {}
    with out_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["file"], {})[row["exercise"]] = row
    return rows


def _score(rows: dict[str, dict]) -> tuple[float, float]:
    return sum(float(r["points"]) for r in rows.values()), sum(float(r["max_points"]) for r in rows.values())


def test_assignment_has_answer_cells_and_no_solution(built):
    nb = nbformat.read(built / CHAPTER / "student" / f"{CHAPTER}.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    for label in ("fx-ex-1", "fx-ex-2", "fx-ex-3"):
        assert f"# {label}: your work" in text and f'grader.check("{label}")' in text
    assert "fx-ex-4" in text and "# fx-ex-4: your work" not in text  # graded by hand
    assert "norm_value" not in text and "np.arange(1, 4)" not in text and "np.sign" not in text
    assert "{solution" not in text and "By Pythagoras" not in text
    assert nb.metadata.otter.assignment_name == CHAPTER


def test_solutions_score_full_marks(graded):
    rows = graded["solutions.ipynb"]
    assert set(rows) == {"fx-ex-1", "fx-ex-2", "fx-ex-3"}
    got, possible = _score(rows)
    assert possible == 5 and got == possible, rows
    assert all(r["message"] == "" for r in rows.values())


@pytest.mark.parametrize(
    "name, failing", [("wrong.ipynb", "fx-ex-1"), ("exception.ipynb", "fx-ex-2"), ("empty.ipynb", None)]
)
def test_bad_submissions_score_less_naming_the_exercise(graded, name, failing):
    rows = graded[name]
    got, possible = _score(rows)
    assert got < possible
    failed = {q for q, r in rows.items() if float(r["points"]) < float(r["max_points"])}
    if failing is None:  # empty: every exercise fails, centre_positive too (bool(...) is True)
        assert failed == set(rows)
    else:
        assert failed == {failing}
        assert rows[failing]["message"].startswith("failed")
    if name == "exception.ipynb":
        assert "ValueError: oops" in rows["fx-ex-2"]["message"]


@pytest.mark.parametrize(
    "name, reason", [("broken.ipynb", "not a readable notebook"), ("other.ipynb", "not an assignment")]
)
def test_unusable_files_score_zero_with_a_reason(graded, name, reason):
    rows = graded[name]
    assert _score(rows)[0] == 0
    assert all(r["message"].startswith(reason) for r in rows.values())


def _floats(expected: dict) -> list[float]:
    return [
        v
        for ex in expected.values()
        for a in ex.values()
        if a["kind"] == "float"
        for v in (a["value"] if isinstance(a["value"], list) else [a["value"]])
    ]


def _leaks(student: Path, expected: dict) -> dict[str, list[str]]:
    """{file under `student`: the hidden-test markers and expected values it holds}."""
    needles = {repr(v) for v in _floats(expected) if len(repr(v)) > 5} | {"hidden=True", "_value("}
    found = {}
    for path in (p for p in student.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        hits = sorted(n for n in needles if n in text)
        if hits:
            found[path.relative_to(student).as_posix()] = hits
    return found


def test_student_files_hold_no_hidden_test_or_expected_value(built):
    expected = json.loads((built / CHAPTER / "expected.json").read_text())
    floats = _floats(expected)
    assert any(len(repr(v)) > 5 for v in floats)  # something to look for
    student = built / CHAPTER / "student"
    assert any(p.is_file() for p in student.rglob("*"))
    assert _leaks(student, expected) == {}
    # ... while the autograder (kept by the teacher) has them.
    import zipfile

    with zipfile.ZipFile(built / CHAPTER / "autograder" / "autograder.zip") as z:
        tests = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("tests/"))
    assert "hidden=True" in tests and repr(floats[0]) in tests


@pytest.mark.parametrize(
    "old, new, pattern",
    [
        ("fx-ex-3:", "fx-ex-9:", r"exercise label\(s\) \['fx-ex-9'\] not in the chapter"),
        ("name: centre_norm", "name: centre", r"answer name\(s\) \['centre'\] are assigned by the chapter's own code"),
    ],
    ids=["missing label", "answer name taken"],
)
def test_spec_that_does_not_fit_the_chapter_is_an_error_naming_it(fixture_book, tmp_path, old, new, pattern):
    path = tmp_path / f"{CHAPTER}.yml"
    path.write_text(SPEC.replace(old, new))
    spec = hw.load_spec(path, book=fixture_book / "book")
    with pytest.raises(ValueError, match=r"^\S*fixture_chapter\.yml \(book/fixture_chapter\.ipynb\): " + pattern):
        hw.assignment_cells(spec, None)


def test_spec_must_name_its_chapter(tmp_path):
    path = tmp_path / "other_name.yml"
    path.write_text(SPEC)
    with pytest.raises(ValueError, match=r"^\S*other_name\.yml: chapter must be 'other_name'"):
        hw.load_spec(path)


def test_grade_needs_a_built_autograder(tmp_path):
    with pytest.raises(ValueError, match=r"^chapter: no autograder for 'nowhere'"):
        hw.grade("nowhere", tmp_path, tmp_path / "g.csv", homework=tmp_path)


@pytest.mark.parametrize("cut", [len(hw.CAPTURE), len(hw.CAPTURE) + 1, 40])
def test_a_capture_line_cut_across_stream_outputs_is_still_read(cut):
    # CI lost two exercises' reference values when the kernel flushed stdout between
    # print's writes and the line arrived as two stream outputs.
    line = hw.CAPTURE + " " + json.dumps({"ex-1": {"x": {"kind": "int", "value": 3}}}) + "\n"
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="before\n" + line[:cut]),
        nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
        nbformat.v4.new_output("stream", name="stdout", text=line[cut:]),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert hw.captured_values(nb) == {"ex-1": {"x": {"kind": "int", "value": 3}}}


# ------------------------------------------------------------------------ the book


BOOK_SPECS = sorted((ROOT / "homework").glob("*.yml"))


@pytest.mark.parametrize("path", BOOK_SPECS, ids=[p.stem for p in BOOK_SPECS])
def test_book_spec_fits_its_chapter(path):
    """Labels present, solution code found, answer names new (no execution)."""
    spec = hw.load_spec(path)
    cells = hw.assignment_cells(spec, None)
    text = "\n".join(c["source"] for c in cells if c["cell_type"] == "code")
    for ex in spec.exercises:
        assert f"# {ex.label}: your work" in text


@pytest.mark.slow
def test_book_chapter_solutions_score_full_marks(tmp_path):
    spec = hw.load_spec(ROOT / "homework" / "theorem_3_1.yml")
    out = tmp_path / "homework"
    hw.build(spec, out_root=out)
    student = nbformat.read(out / spec.chapter / "student" / f"{spec.chapter}.ipynb", as_version=4)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(hw.filled(spec, student), subs / "solutions.ipynb")
    rows = hw.grade(spec.chapter, subs, subs / "grades.csv", homework=out)
    expected = json.loads((out / spec.chapter / "expected.json").read_text())
    assert _leaks(out / spec.chapter / "student", expected) == {}
    assert len(rows) == len(spec.exercises)
    assert all(float(r["points"]) == float(r["max_points"]) > 0 for r in rows), rows
