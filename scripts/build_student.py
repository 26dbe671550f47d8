"""Build the student edition: the book with every solution removed.

Not collapsed: absent. The edition is built from a generated copy of the book's
sources in which the solutions have been deleted, so they are missing from its HTML,
its search index and the notebooks and Markdown files its pages offer for download.
Notebooks are not executed: the copy renders the outputs stored in them.

    python scripts/build_student.py            (or: make student)

writes
    _build/student/src/    the copy of _config.yml, _toc.yml and book/ without solutions
                           (book/_vendor and book/data are symbolic links to the originals)
    _build/student/html/   the student edition (open index.html); replaced as a whole
                           only once a build has succeeded

What counts as a solution (for chapter authors)
-----------------------------------------------
1. A sphinx-exercise solution directive, in a Markdown cell of a notebook or in a .md
   page, fenced with backticks or colons of any length, also when nested inside another
   directive::

       ````{solution} my-exercise-label          :::{solution} my-exercise-label
       :class: dropdown                          :class: dropdown
       ...text, math, ```python blocks...        ...
       ````                                      :::

2. A gated solution, which may span cells: from the ```` ```{solution-start} label ````
   fence to the matching ```` ```{solution-end} ```` fence, everything goes, including
   the code cells in between and their outputs. Text after the solution-end fence in
   the same cell stays.

3. Any cell (code, Markdown or raw) whose metadata has the tag ``solution``
   (``"tags": ["solution"]``), for instance a code cell that belongs to a plain
   ``{solution}`` block written just above it. In a MyST-Markdown notebook the same
   holds for a ```` ```{code-cell} ```` whose options carry ``:tags: [solution]``.
   Note that Jupyter Book's own ``remove-cell`` / ``hide-cell`` tags only affect the
   HTML; the downloadable notebook keeps such cells, so they are not a way to hide
   solutions.

Referring to a solution from elsewhere (``{ref}`` to a solution's label) breaks the
student edition, whose build runs with warnings as errors: refer to the exercise.

The copy's _config.yml differs from the book's in three ways: the title ends with
"(student edition)", notebook execution is off, and it is written by PyYAML (no
comments). Everything else, launch buttons and download menu included, is the same;
the .md downloads (book/_ext/md_downloads.py) are converted from the stripped
notebooks, so they have no solutions either. tests/test_editions.py checks the result
against the default edition.

usage: python scripts/build_student.py [--no-strict]
  --no-strict   do not turn Sphinx warnings into errors
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "student"
BIN = Path(sys.executable).parent

SOLUTION_TAG = "solution"
# Folders of book/ that the copy links to instead of copying (front-end assets,
# result files of the scripts), and files/folders of the repository root linked so
# that a chapter's {literalinclude} of library or script code resolves in the copy.
LINKED_IN_BOOK = ("_vendor", "data")
LINKED_AT_ROOT = ("ddpm_ot_lib", "scripts")

# An opening (or closing) code or directive fence: ``` or ~~~ or ::: (at least 3).
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\s*\{(?P<name>[A-Za-z0-9_:.+-]+)\}")
TAGS_OPTION = re.compile(r"^\s*:?tags\s*:(?P<value>.*)$")


# --------------------------------------------------------------------------- parsing


@dataclass
class Solution:
    """One solution found in a source: where, and its text (Markdown and code)."""

    path: str
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


def closing_line(lines: list[str], start: int, end: int, fence: str) -> int:
    """Index of the line that closes the fence opened at `start` (CommonMark rule: the
    same character, at least as many, nothing else on the line); `end - 1` if none."""
    closer = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$")
    for j in range(start + 1, end):
        if closer.match(lines[j]):
            return j
    return end - 1


def _has_solution_tag(lines: list[str], start: int, close: int) -> bool:
    """Whether the options at the top of a {code-cell} directive tag it `solution`."""
    j = start + 1
    in_yaml = j < close and lines[j].strip() == "---"
    if in_yaml:
        j += 1
    while j < close:
        line = lines[j]
        if in_yaml and line.strip() == "---":
            break
        if not in_yaml and not line.lstrip().startswith(":"):
            break
        m = TAGS_OPTION.match(line)
        if m and re.search(r"(?<![\w-])" + SOLUTION_TAG + r"(?![\w-])", m.group("value")):
            return True
        j += 1
    return False


class _Scanner:
    """Labels the lines of Markdown text: which belong to a solution.

    `gated` carries an open {solution-start} from one notebook cell to the next.
    """

    def __init__(self, path: str):
        self.path = path
        self.gated: Solution | None = None
        self.solutions: list[Solution] = []

    def _new(self) -> Solution:
        sol = Solution(self.path)
        self.solutions.append(sol)
        return sol

    def scan(self, text: str) -> list[Solution | None]:
        """One entry per line of `text` (split on "\\n"): the solution it belongs to."""
        lines = text.split("\n")
        owner: list[Solution | None] = [None] * len(lines)
        self._scan(lines, 0, len(lines), owner, nested=False)
        return owner

    def _mark(self, owner, lines, i, j, sol):
        for k in range(i, j + 1):
            owner[k] = sol
        sol.parts.append("\n".join(lines[i : j + 1]))

    def _scan(self, lines, start, end, owner, nested):
        i = start
        while i < end:
            m = FENCE.match(lines[i])
            if not m:
                if self.gated is not None:
                    self._mark(owner, lines, i, i, self.gated)
                i += 1
                continue
            close = closing_line(lines, i, end, m.group("fence"))
            d = DIRECTIVE.match(m.group("info"))
            name = d.group("name") if d else None
            if self.gated is not None:
                self._mark(owner, lines, i, close, self.gated)
                if name == "solution-end":
                    self.gated = None
            elif name == "solution":
                self._mark(owner, lines, i, close, self._new())
            elif name == "solution-start":
                self.gated = self._new()
                self._mark(owner, lines, i, close, self.gated)
            elif name == "solution-end":
                raise ValueError(f"{self.path}: {{solution-end}} without {{solution-start}} (line {i + 1})")
            elif name == "code-cell" and _has_solution_tag(lines, i, close):
                self._mark(owner, lines, i, close, self._new())
            elif name is not None and close > i:
                # Another directive: its body is Markdown that may hold a solution.
                self._scan(lines, i + 1, close, owner, nested=True)
                if self.gated is not None and nested:
                    raise ValueError(f"{self.path}: {{solution-start}} inside a directive is not closed there")
            # else: a code block; its content is not Markdown.
            i = close + 1


def _keep(lines: list[str], owner: list) -> str:
    """The lines that belong to no solution, without the blank lines a removal doubles."""
    out: list[str] = []
    removed = False
    for line, sol in zip(lines, owner):
        if sol is not None:
            removed = True
            continue
        if removed and not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
        removed = False
    return "\n".join(out).strip("\n")


def cell_source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tagged(cell) -> bool:
    return SOLUTION_TAG in (cell.get("metadata", {}).get("tags") or [])


def split_notebook(nb: dict, path: str) -> tuple[dict, list[Solution]]:
    """A copy of notebook `nb` (nbformat 4 JSON) without solutions, and the solutions."""
    scanner = _Scanner(path)
    kept = []
    for cell in nb.get("cells", []):
        source = cell_source(cell)
        if _tagged(cell):
            scanner._new().parts.append(source)
            continue
        if cell.get("cell_type") != "markdown":
            if scanner.gated is not None:  # a code cell inside a gated solution
                scanner.gated.parts.append(source)
                continue
            kept.append(cell)
            continue
        owner = scanner.scan(source)
        if not any(owner):
            kept.append(cell)
            continue
        text = _keep(source.split("\n"), owner)
        if text.strip():
            new = dict(cell)
            new["source"] = text.splitlines(keepends=True)
            kept.append(new)
    if scanner.gated is not None:
        raise ValueError(f"{path}: {{solution-start}} without {{solution-end}}")
    out = dict(nb)
    out["cells"] = kept
    return out, scanner.solutions


def split_markdown(text: str, path: str) -> tuple[str, list[Solution]]:
    """Markdown text (a page or a MyST notebook) without solutions, and the solutions."""
    scanner = _Scanner(path)
    owner = scanner.scan(text)
    if scanner.gated is not None:
        raise ValueError(f"{path}: {{solution-start}} without {{solution-end}}")
    if not any(owner):
        return text, []
    return _keep(text.split("\n"), owner) + "\n", scanner.solutions


def read_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_notebook(nb: dict, path: Path) -> None:
    # nbformat's own layout (one-space indent, non-ASCII kept), so diffs stay small.
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def solutions_of(path: Path) -> list[Solution]:
    """Every solution in one source file (.ipynb or .md); [] for other files."""
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    if path.suffix == ".ipynb":
        return split_notebook(read_notebook(path), rel)[1]
    if path.suffix == ".md":
        return split_markdown(path.read_text(encoding="utf-8"), rel)[1]
    return []


def toc_sources(root: Path = ROOT) -> list[Path]:
    """The source file of every page in the table of contents, in its order."""
    from sphinx_external_toc.parsing import parse_toc_yaml

    site_map = parse_toc_yaml(root / "_toc.yml")
    paths = []
    for docname in site_map:
        for suffix in (".ipynb", ".md"):
            if (root / f"{docname}{suffix}").exists():
                paths.append(root / f"{docname}{suffix}")
                break
    return paths


# ------------------------------------------------------------------ copy and build


def prepare_sources(
    dest: Path,
    *,
    strip: bool,
    title_suffix: str = "",
    extensions: dict[str, str] | None = None,
    root: Path = ROOT,
) -> int:
    """Write a copy of the book's sources to `dest` (emptied first), configured to render
    stored outputs; with `strip`, without solutions; `extensions` adds local Sphinx
    extensions ({module: folder relative to the root}). `root` is the book's folder
    (_config.yml, _toc.yml, book/): this repository unless a test passes a fixture.
    Returns the number of solutions removed."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    if title_suffix:
        config["title"] = f"{config.get('title', '')}{title_suffix}"
    if extensions:
        sphinx = config.setdefault("sphinx", {})
        sphinx["local_extensions"] = {**(sphinx.get("local_extensions") or {}), **extensions}
    header = "# Generated by scripts/" + Path(__file__).name + " from ../../../_config.yml; do not edit.\n"
    (dest / "_config.yml").write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    shutil.copy2(root / "_toc.yml", dest / "_toc.yml")

    book, book_dest = root / "book", dest / "book"
    ignore = shutil.ignore_patterns(*LINKED_IN_BOOK, ".ipynb_checkpoints", "__pycache__", "_build")
    shutil.copytree(book, book_dest, ignore=ignore)
    for name in LINKED_IN_BOOK:
        if (book / name).exists():
            (book_dest / name).symlink_to(book / name, target_is_directory=True)
    for name in LINKED_AT_ROOT:
        if (root / name).exists():
            (dest / name).symlink_to(root / name, target_is_directory=(root / name).is_dir())

    removed = 0
    if strip:
        in_toc = {p.resolve() for p in toc_sources(dest)}
        for path in _own_sources(book_dest):
            rel = path.relative_to(dest).as_posix()
            try:
                removed += _strip_file(path, rel)
            except ValueError as err:
                if path.resolve() in in_toc:
                    raise
                # Not in the table of contents, so not built: drop it from the copy.
                print(f"build_student: warning: {err}; {rel} is not in _toc.yml, left out", file=sys.stderr)
                path.unlink()
    return removed


def _own_sources(folder: Path) -> list[Path]:
    """The .ipynb and .md files under `folder`, never following symbolic links (the
    linked folders are the originals, which must not be rewritten)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not (Path(dirpath) / d).is_symlink())
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.suffix in (".ipynb", ".md") and not path.is_symlink():
                found.append(path)
    return found


def _strip_file(path: Path, rel: str) -> int:
    """Remove the solutions of one copied source file in place; return how many."""
    if path.suffix == ".ipynb":
        nb, sols = split_notebook(read_notebook(path), rel)
        if sols:
            write_notebook(nb, path)
    else:
        text, sols = split_markdown(path.read_text(encoding="utf-8"), rel)
        if sols:
            path.write_text(text, encoding="utf-8")
    if sols:
        print(f"build_student: {rel}: removed {len(sols)} solution(s)")
    return len(sols)


def jupyter_book(src: Path, work: Path, builder: str, strict: bool) -> Path:
    """Run `jupyter-book build` on the copy `src`; return the folder it wrote."""
    if work.exists():
        shutil.rmtree(work)
    cmd = [
        str(BIN / "jupyter-book"),
        "build",
        str(src),
        "--path-output",
        str(work),
        "--builder",
        builder,
        "-n",
        "--keep-going",
    ]
    if strict:
        cmd.append("-W")
    print("build_student: " + " ".join(cmd), flush=True)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    return work / "_build" / builder


def replace_dir(new: Path, final: Path) -> None:
    """Move the folder `new` to `final`, replacing what was there only now."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-strict", action="store_true", help="do not turn Sphinx warnings into errors")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    src = OUT / "src"
    try:
        removed = prepare_sources(src, strip=True, title_suffix=" (student edition)")
    except ValueError as err:
        print(f"build_student: {err}", file=sys.stderr)
        return 1
    if removed == 0:
        print("build_student: warning: the book has no solutions to remove", file=sys.stderr)
    try:
        html = jupyter_book(src, OUT / "work", "html", strict=not args.no_strict)
    except subprocess.CalledProcessError as err:
        print(f"build_student: jupyter-book failed (exit {err.returncode})", file=sys.stderr)
        return 1
    replace_dir(html, OUT / "html")
    print(
        f"build_student: removed {removed} solution(s); student edition in "
        f"{(OUT / 'html').relative_to(ROOT)}/ ({time.perf_counter() - t0:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
