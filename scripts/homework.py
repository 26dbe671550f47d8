"""Homework from the chapters' exercises, autograded offline by otter-grader.

    python scripts/homework.py build [CHAPTER ...]        (or: make homework)
    python scripts/homework.py grade CHAPTER FOLDER [-o grades.csv] [--jobs N] [--timeout S]

`build` writes, for each chapter with an answer specification homework/CHAPTER.yml
(all of them when none is named):

    _build/homework/CHAPTER/student/CHAPTER.ipynb   the assignment: hand out this folder
    _build/homework/CHAPTER/autograder/autograder.zip   every test, hidden ones included
    _build/homework/CHAPTER/autograder/CHAPTER.ipynb    the assignment with its solutions
    _build/homework/CHAPTER/source/                     otter's master notebook, and the
                                                        executed reference run

The assignment is the chapter as the student edition has it (scripts/build_student.py
removes every solution), with, after each exercise of the specification, an answer cell
(``name = ...``) and a ``grader.check("label")`` cell that runs its public tests.
Public tests check that an answer is there and has the right type and shape; hidden
tests (only in autograder.zip) check its value. The expected values are never typed:
the chapter's solutions removed from the assignment (the gated solution's code cells, or
the ```python blocks of a {solution} directive) are run in their place, in a reference
execution of the whole notebook, and each answer's `solution` expression is evaluated
right after its exercise's solution code.

`grade` runs each FOLDER/*.ipynb (non-recursive) through otter's containerless grader
(`otter.api.grade_submission`, one subprocess per notebook) and writes one CSV:
file, exercise, points, max_points, message. A notebook that is not valid JSON, is not
this chapter's assignment, times out or makes the grader fail scores 0 on every exercise,
with the reason in `message` and on stderr; a failing exercise's message is otter's.

The specification, homework/CHAPTER.yml (keys):

    chapter: optimal_transport            # book/optimal_transport.ipynb
    files: [data/x.json]                  # optional: files the chapter reads, relative
                                          # to book/, shipped with the assignment
    exercises:
      ot-ex-2:                            # the exercise's :label:
        answers:
          - name: w2_formula              # the variable the student sets
            describe: W_2^2 from the closed form (a number)
            solution: formula             # Python expression, in the namespace of the
                                          # chapter after the exercise's solution code
            rtol: 1.0e-8                  # optional tolerances (floats), defaults 1e-6, 0
            atol: 0.0
            points: 1                     # optional, default 1 (carried by the hidden test)
            value: hidden                 # optional: "public" makes the value test public

A label, answer name or expression that does not fit the chapter is an error naming
the chapter and the label. Answer names must be new: a name the chapter's own code
already assigns would let an empty answer pass.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from ddpm_ot_lib._io import atomic_open

import build_student  # scripts/: the script's own folder, or pytest's pythonpath

ROOT = Path(__file__).resolve().parent.parent

SPECS = ROOT / "homework"
OUT = ROOT / "_build" / "homework"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CAPTURE = "__homework_expected__"
KINDS = ("bool", "int", "float")


# ------------------------------------------------------------- the specification


@dataclass
class Answer:
    name: str
    describe: str
    solution: str
    rtol: float = 1e-6
    atol: float = 0.0
    points: float = 1
    value: str = "hidden"


@dataclass
class Exercise:
    label: str
    answers: list[Answer]


@dataclass
class Spec:
    chapter: str
    path: Path
    exercises: list[Exercise]
    files: list[str] = field(default_factory=list)
    book: Path = ROOT / "book"

    @property
    def notebook(self) -> Path:
        return self.book / f"{self.chapter}.ipynb"


def load_spec(path: Path, book: Path = ROOT / "book") -> Spec:
    """Read and check homework/CHAPTER.yml (its structure; the labels are checked
    against the chapter, in folder `book`, by `assignment_cells`)."""
    where = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or set(raw) - {"chapter", "files", "exercises"}:
        raise ValueError(f"{where}: expected the keys chapter, exercises and optionally files")
    chapter = raw.get("chapter")
    if chapter != path.stem:
        raise ValueError(f"{where}: chapter must be {path.stem!r} (the file's name), not {chapter!r}")
    exercises, names = [], set()
    for label, body in (raw.get("exercises") or {}).items():
        answers = []
        for item in (body or {}).get("answers") or []:
            unknown = set(item) - set(Answer.__dataclass_fields__)
            if unknown or not {"name", "describe", "solution"} <= set(item):
                raise ValueError(
                    f"{where}: {label}: an answer needs name, describe, solution (unknown keys {sorted(unknown)})"
                )
            ans = Answer(**item)
            if not NAME.match(ans.name) or ans.name in names:
                raise ValueError(f"{where}: {label}: answer name {ans.name!r} is not a new Python identifier")
            if ans.value not in ("hidden", "public"):
                raise ValueError(f"{where}: {label}: value must be 'hidden' or 'public', not {ans.value!r}")
            names.add(ans.name)
            answers.append(ans)
        if not answers:
            raise ValueError(f"{where}: {label}: no answers")
        exercises.append(Exercise(label, answers))
    if not exercises:
        raise ValueError(f"{where}: no exercises")
    return Spec(chapter, path, exercises, list(raw.get("files") or []), book)


# ------------------------------------------------------- exercises and solutions


def _fences(text: str):
    """(directive name, argument, first line, closing line, lines) of each top-level
    fenced block of Markdown `text`."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = build_student.FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        close = build_student.closing_line(lines, i, len(lines), m.group("fence"))
        d = build_student.DIRECTIVE.match(m.group("info"))
        arg = m.group("info")[d.end() :].strip() if d else ""
        yield (d.group("name") if d else m.group("info").strip()), arg, i, close, lines
        i = close + 1


def _label(lines: list[str], start: int, close: int) -> str | None:
    for line in lines[start + 1 : close]:
        m = re.match(r"^\s*:label:\s*(\S+)\s*$", line)
        if m:
            return m.group(1)
        if not line.lstrip().startswith(":"):
            break
    return None


def exercise_labels(nb: dict) -> list[str]:
    labels = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for name, _, i, close, lines in _fences(build_student.cell_source(cell)):
                if name == "exercise" and _label(lines, i, close):
                    labels.append(_label(lines, i, close))
    return labels


def solution_code(nb: dict, label: str, where: str) -> str:
    """The code of the chapter's solution to exercise `label`: the code cells of its
    gated solution, else the python code blocks of its {solution} directive."""
    cells = nb["cells"]
    for k, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        fences = list(_fences(build_student.cell_source(cell)))
        for n, (name, arg, i, close, lines) in enumerate(fences):
            if name == "solution-start" and arg == label:
                if any(f[0] == "solution-end" for f in fences[n + 1 :]):
                    return ""  # closed in the same cell: no code
                code = []
                for later in cells[k + 1 :]:
                    if later["cell_type"] == "code":
                        code.append(build_student.cell_source(later).rstrip())
                    elif later["cell_type"] == "markdown" and "{solution-end}" in build_student.cell_source(later):
                        return "\n\n".join(code)
                raise ValueError(f"{where}: {label}: {{solution-start}} without {{solution-end}}")
            if name == "solution" and arg == label:
                blocks = [
                    "\n".join(body_lines[j + 1 : c])
                    for info, _, j, c, body_lines in _fences("\n".join(lines[i + 1 : close]))
                    if info in ("python", "ipython", "ipython3", "code-cell")
                ]
                return "\n\n".join(blocks)
    raise ValueError(f"{where}: exercise {label!r} has no solution (gated or {{solution}})")


def _split_at_exercises(cell: dict) -> list[tuple[dict, str | None]]:
    """A Markdown cell cut after each exercise directive it holds: [(cell, label or None)],
    the label marking the piece that ends with that exercise."""
    text = build_student.cell_source(cell)
    pieces, start = [], 0
    for name, _, i, close, lines in _fences(text):
        label = _label(lines, i, close) if name == "exercise" else None
        if label:
            pieces.append(("\n".join(lines[start : close + 1]), label))
            start = close + 1
    lines = text.split("\n")
    if start < len(lines):
        pieces.append(("\n".join(lines[start:]), None))
    out = []
    for piece, label in pieces:
        if piece.strip():
            new = nbformat.from_dict(dict(cell))
            new.pop("id", None)
            new["source"] = piece.strip("\n")
            out.append((new, label))
    return out


def _assigned_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


# ------------------------------------------------------------- notebook pieces


def _raw(text: str) -> dict:
    return nbformat.v4.new_raw_cell(text)


def _answer_code(ex: Exercise, solution: str | None) -> str:
    """The answer cell: the chapter's solution code (removed by otter from the student's
    copy) and one line per answer."""
    lines = [
        f"# {ex.label}: your work (add cells above as you need), then set the answer"
        + ("s" if len(ex.answers) > 1 else "")
        + " below."
    ]
    if solution is not None:
        lines += ["# BEGIN SOLUTION", solution, "# END SOLUTION"]
    for ans in ex.answers:
        lines.append(f"# {ans.name}: {ans.describe}")
        lines.append(f"{ans.name} = {ans.solution}  # SOLUTION")
    return "\n".join(lines)


def _capture_code(ex: Exercise) -> str:
    values = ", ".join(f"{a.name!r}: {a.name}" for a in ex.answers)
    return (
        "import json as _hw_json, numpy as _hw_np\n"
        "def _hw_encode(v):\n"
        "    if isinstance(v, (bool, _hw_np.bool_)):\n"
        "        return {'kind': 'bool', 'value': bool(v)}\n"
        "    if isinstance(v, (int, _hw_np.integer)):\n"
        "        return {'kind': 'int', 'value': int(v)}\n"
        "    a = _hw_np.asarray(v, dtype=float)\n"
        "    return {'kind': 'float', 'shape': list(a.shape), 'value': a.tolist()}\n"
        # One write (not print's four: name, space, value, newline), flushed: the kernel
        # flushes stdout on a timer, and a flush between print's writes split the line
        # into two stream outputs in CI (the reference values went missing).
        f"_hw_line = {CAPTURE + ' '!r} + _hw_json.dumps(\n"
        f"    {{{ex.label!r}: {{k: _hw_encode(v) for k, v in {{{values}}}.items()}}}})\n"
        "print(_hw_line + '\\n', end='', flush=True)"
    )


def _config(cell_source: str, body: str) -> str:
    return f'""" # BEGIN TEST CONFIG\n{cell_source}""" # END TEST CONFIG\n{body}'


def _tests(ans: Answer, expected: dict) -> list[dict]:
    """Otter test cells for one answer: a public type/shape test (0 points) and a value
    test (hidden unless the spec says public) carrying the points."""
    n, kind = ans.name, expected["kind"]
    if kind == "bool":
        check = (
            f"    import numpy as np\n    assert isinstance({n}, (bool, np.bool_)), "
            f"'{n} should be True or False, not ' + repr(type({n}).__name__)"
        )
        value = f"    assert bool({n}) is {expected['value']!r}, '{n} is not the expected answer'"
    elif kind == "int":
        check = (
            f"    import numpy as np\n"
            f"    assert isinstance({n}, (int, np.integer)) and not isinstance({n}, bool), "
            f"'{n} should be an integer, not ' + repr(type({n}).__name__)"
        )
        value = f"    assert abs(int({n}) - {expected['value']!r}) <= {ans.atol!r}, '{n} is not the expected answer'"
    else:
        shape = tuple(expected["shape"])
        what = "a number" if not shape else f"an array of shape {shape}"
        check = (
            f"    import numpy as np\n"
            f"    assert {n} is not None and {n} is not Ellipsis, '{n} is not set'\n"
            f"    got = np.asarray({n}, dtype=float)\n"
            f"    assert got.shape == {shape!r}, f'{n} should be {what}, got shape {{got.shape}}'\n"
            f"    assert np.all(np.isfinite(got)), '{n} should be finite'"
        )
        value = (
            f"    got = np.asarray({n}, dtype=float)\n"
            f"    assert np.allclose(got, np.asarray({expected['value']!r}, dtype=float), "
            f"rtol={ans.rtol!r}, atol={ans.atol!r}), "
            f"'{n} is not the expected value (rtol {ans.rtol:g}, atol {ans.atol:g})'"
        )
    public = _config("points: 0\n", f"def test_{n}_is_set({n}):\n{check}")
    hidden = "true" if ans.value == "hidden" else "false"
    # The value test repeats the type check: bool(...) is True, so an empty answer
    # must not reach the comparison.
    valued = _config(f"hidden: {hidden}\npoints: {ans.points!r}\n", f"def test_{n}_value({n}):\n{check}\n{value}")
    return [nbformat.v4.new_code_cell(public), nbformat.v4.new_code_cell(valued)]


def assignment_cells(spec: Spec, expected: dict | None) -> list[dict]:
    """The cells of otter's master notebook (`expected` given) or of the reference run
    (`expected` None: solution code, then a cell printing the answers' values)."""
    shown = spec.path.relative_to(ROOT).as_posix() if spec.path.is_relative_to(ROOT) else spec.path
    where = f"{shown} (book/{spec.chapter}.ipynb)"
    if not spec.notebook.is_file():
        raise ValueError(f"{where}: no such chapter")
    nb = build_student.read_notebook(spec.notebook)
    labels = exercise_labels(nb)
    wanted = {ex.label: ex for ex in spec.exercises}
    missing = [label for label in wanted if label not in labels]
    if missing:
        raise ValueError(f"{where}: exercise label(s) {missing} not in the chapter (its exercises: {labels})")
    solutions = {label: solution_code(nb, label, where) for label in wanted}
    stripped, _ = build_student.split_notebook(nb, where)
    chapter_code = "\n".join(build_student.cell_source(c) for c in stripped["cells"] if c["cell_type"] == "code")
    clash = sorted(_assigned_names(chapter_code) & {a.name for ex in spec.exercises for a in ex.answers})
    if clash:
        raise ValueError(f"{where}: answer name(s) {clash} are assigned by the chapter's own code; choose new names")
    cells = []
    for cell in stripped["cells"]:
        cell = nbformat.from_dict(cell)
        cell["source"] = build_student.cell_source(cell)
        cell.pop("id", None)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        if cell["cell_type"] != "markdown":
            cells.append(cell)
            continue
        for piece, label in _split_at_exercises(cell):
            ex = wanted.get(label)
            if ex is None:
                cells.append(piece)
                continue
            if expected is None:
                answer = _answer_code(ex, solutions[label]).replace("  # SOLUTION", "")
                cells += [piece, nbformat.v4.new_code_cell(answer), nbformat.v4.new_code_cell(_capture_code(ex))]
                continue
            points = sum(a.points for a in ex.answers)
            cells += [
                _raw(f"# BEGIN QUESTION\nname: {label}\npoints: {points!r}"),
                piece,
                _raw("# BEGIN SOLUTION"),
                nbformat.v4.new_code_cell(_answer_code(ex, solutions[label])),
                _raw("# END SOLUTION"),
                _raw("# BEGIN TESTS"),
            ]
            for ans in ex.answers:
                cells += _tests(ans, expected[label][ans.name])
            cells += [_raw("# END TESTS"), _raw("# END QUESTION")]
    return cells


def _notebook(cells: list[dict], like: Path) -> nbformat.NotebookNode:
    meta = build_student.read_notebook(like).get("metadata", {})
    nb = nbformat.v4.new_notebook(
        cells=cells, metadata={k: meta[k] for k in ("kernelspec", "language_info") if k in meta}
    )
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"hw-{i}"
    return nb


# ----------------------------------------------------------------------- build


def captured_values(nb) -> dict:
    """{label: {answer name: encoded value}} from the capture lines an executed
    reference notebook printed. A cell's stdout may arrive as several stream outputs,
    cut anywhere (the kernel flushes on a timer), so each cell's are joined first."""
    values = {}
    for cell in nb.cells:
        stdout = "".join(
            out.get("text", "")
            for out in cell.get("outputs", [])
            if out.get("output_type") == "stream" and out.get("name") == "stdout"
        )
        for line in stdout.splitlines():
            if line.startswith(CAPTURE + " "):
                values.update(json.loads(line[len(CAPTURE) + 1 :]))
    return values


def reference_values(spec: Spec, folder: Path, timeout: int = 900) -> dict:
    """Execute the chapter with its solutions in place of the answers (in `folder`,
    where its files are) and return {label: {answer name: encoded value}}."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = _notebook(assignment_cells(spec, None), spec.notebook)
    path = folder / "reference.ipynb"
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except CellExecutionError as err:
        nbformat.write(nb, path)
        raise ValueError(
            f"homework/{spec.chapter}.yml: the reference run of book/{spec.chapter}.ipynb with its "
            f"solutions failed (see {path}):\n{str(err)[-1500:]}"
        ) from None
    nbformat.write(nb, path)
    values = captured_values(nb)
    missing = [ex.label for ex in spec.exercises if ex.label not in values]
    if missing:
        raise ValueError(f"homework/{spec.chapter}.yml: no reference values for {missing}")
    return values


def build(spec: Spec, out_root: Path = OUT) -> dict:
    """Write _build/homework/CHAPTER (replaced only once complete); return a summary."""
    from otter.assign import main as otter_assign

    t0 = time.perf_counter()
    out_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{spec.chapter}.", suffix=".part", dir=out_root))
    try:
        source = work / "source"
        source.mkdir()
        for rel in spec.files:
            src = spec.book / rel
            if not src.is_file():
                raise ValueError(f"homework/{spec.chapter}.yml: files: no such file book/{rel}")
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, source / rel)
        expected = reference_values(spec, source)
        config = {
            "name": spec.chapter,
            "init_cell": True,
            "check_all_cell": True,
            "export_cell": False,
            "run_tests": False,
            "solutions_pdf": False,
            "tests": {"files": False, "ok_format": False},
            "files": list(spec.files),
            "generate": True,
        }
        cells = [_raw("# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False))]
        cells.append(
            nbformat.v4.new_markdown_cell(
                f"# Homework: {spec.chapter}\n\nThis is the chapter without its solutions. After each "
                "autograded exercise, set the answer variables in the answer cell and run the "
                "`grader.check` cell below it (public tests: is the answer there, of the right type "
                "and shape). Your teacher grades the values with hidden tests. Run the whole "
                "notebook from the top before you hand it in."
            )
        )
        cells += assignment_cells(spec, expected)
        master = source / f"{spec.chapter}.ipynb"
        nbformat.write(_notebook(cells, spec.notebook), master)
        dist = work / "dist"
        cwd = Path.cwd()
        try:
            os.chdir(source)  # otter resolves `files` against the working directory
            otter_assign(str(master), str(dist), no_pdfs=True)
        finally:
            os.chdir(cwd)
        zips = sorted((dist / "autograder").glob("*-autograder_*.zip"))
        if len(zips) != 1:
            raise RuntimeError(f"otter assign wrote {len(zips)} autograder zips for {spec.chapter}")
        zips[0].rename(dist / "autograder" / "autograder.zip")
        shutil.move(str(dist / "autograder"), work / "autograder")
        shutil.move(str(dist / "student"), work / "student")
        dist.rmdir()
        (work / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
        manifest = {
            "chapter": spec.chapter,
            "points": {ex.label: sum(a.points for a in ex.answers) for ex in spec.exercises},
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        final = out_root / spec.chapter
        build_student.replace_dir(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    summary = {
        "chapter": spec.chapter,
        "exercises": len(spec.exercises),
        "answers": sum(len(e.answers) for e in spec.exercises),
        "seconds": time.perf_counter() - t0,
    }
    print(
        f"homework: {spec.chapter}: {summary['exercises']} autograded exercises "
        f"({summary['answers']} answers) in "
        f"{(out_root / spec.chapter).relative_to(ROOT) if out_root.is_relative_to(ROOT) else out_root}/ "
        f"({summary['seconds']:.0f} s)",
        flush=True,
    )
    return summary


def spec_paths(chapters: list[str]) -> list[Path]:
    if not chapters:
        paths = sorted(SPECS.glob("*.yml"))
        if not paths:
            raise ValueError(f"no answer specifications in {SPECS}")
        return paths
    paths = [SPECS / f"{c}.yml" for c in chapters]
    for p in paths:
        if not p.is_file():
            have = sorted(q.stem for q in SPECS.glob("*.yml"))
            raise ValueError(f"no answer specification {p.relative_to(ROOT)} (have: {have})")
    return paths


def answer_cell_index(nb, label: str) -> int:
    """Index of the answer cell of exercise `label` in an assignment notebook."""
    head = f"# {label}: your work"
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and build_student.cell_source(cell).startswith(head):
            return i
    raise ValueError(f"no answer cell for {label}")


def filled(spec: Spec, student_nb, code: dict[str, str] | None = None):
    """A copy of the assignment `student_nb` with answer cells replaced: by `code[label]`
    where given, else by the chapter's own solution code and the spec's expressions
    (what a student who copied the book's solutions would hand in)."""
    nb = nbformat.from_dict(json.loads(json.dumps(student_nb)))
    chapter = build_student.read_notebook(spec.notebook)
    where = f"homework/{spec.chapter}.yml"
    for ex in spec.exercises:
        if code is not None and ex.label in code:
            text = code[ex.label]
        else:
            values = "\n".join(f"{a.name} = {a.solution}" for a in ex.answers)
            text = solution_code(chapter, ex.label, where) + "\n" + values
        nb["cells"][answer_cell_index(nb, ex.label)]["source"] = text
    return nb


# ----------------------------------------------------------------------- grade

COLUMNS = ["file", "exercise", "points", "max_points", "message"]


def _grade_one(autograder: Path, submission: Path, result: Path) -> None:
    """Worker (own process): grade one notebook with otter, write a JSON summary."""
    from otter.api import grade_submission

    res = grade_submission(str(submission), str(autograder), quiet=True)
    rows = {}
    for name, tf in res.results.items():
        failed = [tcr for tcr in tf.test_case_results if not tcr.passed]
        message = ""
        if failed:
            lines = [line.strip() for line in str(failed[0].message).splitlines() if line.strip()]
            message = f"failed: {lines[-1] if lines else 'a test'}"[:300]
        rows[name] = {"points": tf.score, "max_points": tf.possible, "message": message}
    errors = []
    if res.notebook is not None:
        for i, cell in enumerate(res.notebook.cells):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    errors.append(f"cell {i}: {out.get('ename')}: {str(out.get('evalue'))[:120]}")
    catastrophic = res.summary() if res.has_catastrophic_failure() else ""
    result.write_text(json.dumps({"rows": rows, "errors": errors, "catastrophic": catastrophic}))


def _check_submission(path: Path, chapter: str) -> str | None:
    """Why `path` cannot be graded as this chapter's assignment, or None."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        nbformat.validate(nbformat.from_dict(nb))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"not a readable notebook ({type(err).__name__}: {err})"
    except nbformat.ValidationError as err:
        return f"not a valid notebook ({str(err).splitlines()[0]})"
    name = (nb.get("metadata", {}).get("otter") or {}).get("assignment_name")
    if name is None:
        return (
            "not an assignment: no otter assignment metadata "
            f"(hand out _build/homework/{chapter}/student/{chapter}.ipynb)"
        )
    if name != chapter:
        return f"not an assignment of {chapter}: it is the assignment of {name}"
    return None


def grade(
    chapter: str, folder: Path, out_csv: Path, jobs: int = 1, timeout: int = 900, homework: Path = OUT
) -> list[dict]:
    """Grade every FOLDER/*.ipynb; write one CSV row per (file, exercise); return the rows."""
    autograder = homework / chapter / "autograder" / "autograder.zip"
    if not autograder.is_file():
        raise ValueError(f"chapter: no autograder for {chapter!r} at {autograder} (run `make homework` first)")
    if not folder.is_dir():
        raise ValueError(f"folder: {folder} is not a folder")
    submissions = sorted(folder.glob("*.ipynb"))
    if not submissions:
        raise ValueError(f"folder: no .ipynb files in {folder}")
    points = json.loads((homework / chapter / "manifest.json").read_text())["points"]
    labels = list(points)

    def run(path: Path) -> list[dict]:
        def zero(message):
            print(f"homework grade: {path.name}: {message}", file=sys.stderr)
            return [
                {"file": path.name, "exercise": q, "points": 0, "max_points": points.get(q, ""), "message": message}
                for q in labels
            ]

        problem = _check_submission(path, chapter)
        if problem:
            return zero(problem)
        with tempfile.TemporaryDirectory() as tmp:
            result = Path(tmp) / "result.json"
            # Under the assignment's own name, which its otter.Notebook(...) cell opens.
            copy = Path(tmp) / "submission" / f"{chapter}.ipynb"
            copy.parent.mkdir()
            shutil.copy2(path, copy)
            cmd = [sys.executable, str(Path(__file__).resolve()), "_grade-one", str(autograder), str(copy), str(result)]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp)
            except subprocess.TimeoutExpired:
                return zero(f"did not finish in {timeout} s (does it run from the top?)")
            if proc.returncode != 0 or not result.is_file():
                tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-1:])[:300]
                return zero(f"the grader failed on it (exit {proc.returncode}): {tail}")
            res = json.loads(result.read_text())
        if res["catastrophic"]:
            return zero(f"the grader could not run it: {res['catastrophic'][:300]}")
        note = f" (the notebook raised errors: {'; '.join(res['errors'][:3])})" if res["errors"] else ""
        rows = []
        for q in labels:
            r = res["rows"].get(q)
            if r is None:
                rows.append(
                    {"file": path.name, "exercise": q, "points": 0, "max_points": "", "message": "no result" + note}
                )
            else:
                msg = r["message"] + (note if r["message"] else "")
                rows.append(
                    {
                        "file": path.name,
                        "exercise": q,
                        "points": r["points"],
                        "max_points": r["max_points"],
                        "message": msg,
                    }
                )
        got = sum(float(r["points"]) for r in rows)
        print(f"homework grade: {path.name}: {got:g} of {sum(points.values()):g} points", file=sys.stderr, flush=True)
        return rows

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = [row for result in pool.map(run, submissions) for row in result]
    with atomic_open(out_csv, "w") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


# ------------------------------------------------------------------------ main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the assignments under _build/homework/")
    b.add_argument("chapters", nargs="*", help="chapter names (default: every homework/*.yml)")
    g = sub.add_parser("grade", help="grade a folder of submitted notebooks into one CSV")
    g.add_argument("chapter")
    g.add_argument("folder", type=Path)
    g.add_argument("-o", "--output", type=Path, default=None, help="CSV to write (default: FOLDER/grades.csv)")
    g.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    g.add_argument("--timeout", type=int, default=900, help="seconds allowed per notebook (default 900)")
    one = sub.add_parser("_grade-one")
    one.add_argument("autograder", type=Path)
    one.add_argument("submission", type=Path)
    one.add_argument("result", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "_grade-one":
            _grade_one(args.autograder, args.submission, args.result)
        elif args.command == "build":
            # Every chapter is tried; one whose specification no longer fits fails the
            # command at the end, naming it, and leaves the others built.
            t0, total, failed = time.perf_counter(), 0, []
            for path in spec_paths(args.chapters):
                try:
                    total += build(load_spec(path))["exercises"]
                except ValueError as err:
                    print(f"homework: {err}", file=sys.stderr, flush=True)
                    failed.append(path.stem)
            print(
                f"homework: {total} autograded exercises in {OUT.relative_to(ROOT)}/ ({time.perf_counter() - t0:.0f} s)"
            )
            if failed:
                print(f"homework: failed for {', '.join(failed)}", file=sys.stderr)
                return 1
        else:
            out = args.output or args.folder / "grades.csv"
            t0 = time.perf_counter()
            rows = grade(args.chapter, args.folder, out, jobs=args.jobs, timeout=args.timeout)
            n = len({r["file"] for r in rows})
            print(f"homework grade: {n} notebooks graded in {time.perf_counter() - t0:.0f} s; scores in {out}")
    except ValueError as err:
        print(f"homework: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
