"""The book's other editions and downloads: student edition, PDF, .ipynb/.md, Binder.

Two kinds of test live here.

Unmarked (stage 1 of scripts/run_tests.sh, no build needed): how
scripts/build_student.py finds solutions. Every form that sphinx-exercise renders as
a solution (```{solution}, :::{solution}, nested in another directive, gated
{solution-start} ... {solution-end} spanning cells, cells tagged "solution") is
removed, and code blocks that merely show solution syntax are not. On a fixture book
of its own (so independent of the chapters' state), gated solutions' code, outputs
and prose are absent from the stripped copy and its .md conversion.

Marked `editions` (stage 4, after scripts/build_student.py and scripts/build_pdf.py):
  - the fixture book's student edition, built, holds no marker of its gated
    solutions in any file (pages, search index, .ipynb and .md downloads);
  - the student edition's HTML holds no element of class `solution` and none of the
    solutions' text, nor do its downloadable .ipynb and .md files; the default
    edition holds one solution element per solution and the text of every solution;
  - every notebook chapter offers .ipynb and .md downloads, in both editions, and the
    .md (MyST, by jupytext) reads back to the notebook's cells;
  - the launch buttons open the chapter's notebook on mybinder.org, from the
    repository and branch in _config.yml;
  - the PDF has a page count in proportion to the book, its first, middle and last
    pages render (pdftoppm) to images that are not blank, it holds the figures, the
    chapter-numbered equation numbers, the bibliography and the (unfolded) solutions.

How "holds the text of a solution" is decided: text is reduced to its sequence of
words (lower-case letters only; math, markup and tags dropped on both sides), and a
solution's fingerprints are its runs of NGRAM consecutive words that occur nowhere in
the book's sources outside solutions (text, code and stored outputs). The student
edition must contain none of them; the default edition most of each solution's (not
all: cross-references such as {eq}`label` render as numbers).

Paths (environment variables): DDPM_OT_HTML_DIR the default edition (default
_build/html), DDPM_OT_STUDENT_DIR the student edition (_build/student/html),
DDPM_OT_PDF the PDF (_build/pdf/ddpm-ot.pdf). Missing builds fail the marked tests;
missing poppler tools (scripts/install_poppler.sh) skip the PDF checks, except under
CI, where they fail.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import build_student  # scripts/: the script's own folder, or pytest's pythonpath

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_HTML = Path(os.environ.get("DDPM_OT_HTML_DIR", ROOT / "_build" / "html")).resolve()
STUDENT_HTML = Path(os.environ.get("DDPM_OT_STUDENT_DIR", ROOT / "_build" / "student" / "html")).resolve()
PDF = Path(os.environ.get("DDPM_OT_PDF", ROOT / "_build" / "pdf" / "ddpm-ot.pdf")).resolve()

NGRAM = 7  # words per fingerprint
MIN_FOUND = 0.6  # share of a solution's fingerprints the default edition and the PDF must show
PAGES_PER_DOCUMENT = 3  # the PDF has at least this many pages per page of the toc

editions = pytest.mark.editions


# ------------------------------------------------------------ unit tests: stripping


def _strip(text: str) -> str:
    return build_student.split_markdown(text, "test.md")[0]


def test_strips_backtick_solution_with_nested_code():
    text = (
        "Intro.\n\n```{exercise} Ex\n:label: ex-1\n\nDo it.\n```\n\n"
        "````{solution} ex-1\n:class: dropdown\n\nSECRET prose.\n\n"
        "```python\nsecret_code = 1\n```\n\nMore SECRET.\n````\n\nAfter.\n"
    )
    out = _strip(text)
    assert "SECRET" not in out and "secret_code" not in out
    assert "Intro." in out and "Do it." in out and out.rstrip().endswith("After.")
    assert "{solution}" not in out


def test_strips_colon_fence_and_nested_solutions():
    text = (
        "A\n\n::::{solution} ex-1\n:class: dropdown\nSECRET\n:::{note}\ninner SECRET\n:::\n::::\n\n"
        "```{admonition} Box\nkept text\n\n:::{solution} ex-2\nSECRET in a box\n:::\n```\nB\n"
    )
    out = _strip(text)
    assert "SECRET" not in out
    assert "kept text" in out and "{admonition}" in out and out.rstrip().endswith("B")


def test_keeps_code_blocks_that_show_solution_syntax():
    text = "How to write one:\n\n````markdown\n```{solution} ex-1\nexample\n```\n````\n"
    assert _strip(text) == text


def test_gated_solution_across_notebook_cells():
    def cell(kind, source, tags=None):
        c = {"cell_type": kind, "metadata": {"tags": tags} if tags else {}, "source": source}
        if kind == "code":
            c.update(
                outputs=[{"output_type": "stream", "name": "stdout", "text": f"output of {source}\n"}],
                execution_count=1,
            )
        return c

    nb = {
        "cells": [
            cell(
                "markdown",
                "```{exercise} Ex\n:label: ex-1\nDo it.\n```\n\n"
                "```{solution-start} ex-1\n:class: dropdown\n```\nSECRET start",
            ),
            cell("code", "secret = 1"),
            cell("markdown", "SECRET middle"),
            cell("code", "secret = 2"),
            cell("markdown", "```{solution-end}\n```\n\nNext section."),
            cell("code", "visible = 3"),
            cell("code", "tagged_secret = 4", tags=["solution"]),
            cell("markdown", "SECRET tagged markdown", tags=["hide-input", "solution"]),
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    out, sols = build_student.split_notebook(nb, "test.ipynb")
    dump = json.dumps(out)
    assert "SECRET" not in dump and "secret" not in dump
    assert [c["cell_type"] for c in out["cells"]] == ["markdown", "markdown", "code"]
    assert "Do it." in "".join(out["cells"][0]["source"])
    assert "".join(out["cells"][1]["source"]) == "Next section."
    assert len(sols) == 3  # the gated one (4 cells), the tagged code cell, the tagged markdown cell
    assert "secret = 2" in sols[0].text and "SECRET middle" in sols[0].text


def test_strips_tagged_code_cell_in_myst_notebook():
    text = (
        "# T\n\n```{code-cell} ipython3\nvisible = 1\n```\n\n"
        "```{code-cell} ipython3\n:tags: [hide-output, solution]\n\nsecret = 2\n```\n\n"
        "```{code-cell} ipython3\n---\ntags: [solution]\n---\nsecret = 3\n```\n\n"
        "```{code-cell} ipython3\n:tags: [solutions-not]\nkept = 4\n```\n"
    )
    out = _strip(text)
    assert "visible = 1" in out and "kept = 4" in out and "secret" not in out


def test_unbalanced_gates_are_errors():
    with pytest.raises(ValueError, match="solution-end"):
        _strip("```{solution-start} ex\n```\ntext\n")
    with pytest.raises(ValueError, match="solution-start"):
        _strip("text\n```{solution-end}\n```\n")


def test_book_sources_strip_completely():
    """Stripping each chapter leaves nothing that a second pass would call a solution."""
    for path in build_student.toc_sources():
        if path.suffix == ".ipynb":
            nb, _ = build_student.split_notebook(build_student.read_notebook(path), path.name)
            assert build_student.split_notebook(nb, path.name)[1] == []
        else:
            text, _ = build_student.split_markdown(path.read_text(), path.name)
            assert build_student.split_markdown(text, path.name)[1] == []


# --------------------------------------- gated solutions, end to end on a fixture book
#
# A two-page book of its own (the book's _config.yml, extensions and assets; a fixture
# chapter), so these checks do not depend on the state of the real chapters. Its
# gated solutions hold code, stream/display/result outputs and prose, each carrying a
# marker word; none of the markers may reach the student edition's copy of the
# sources, its .md download (md_downloads converts the copy) or, once built, any file
# of its HTML output (pages, search index, _sources downloads).

GATED_MARKERS = ("zqgatedcode", "zqgatedstream", "zqgatedresult", "zqgatedhtml", "zqgatedprose", "zqsecondcode")
KEPT_MARKERS = ("zqvisiblecode", "zqexerciseprompt", "zqafterend")


def _fixture_notebook() -> dict:
    def md(source):
        return {"cell_type": "markdown", "metadata": {}, "source": source}

    def code(source, outputs=(), tags=None):
        return {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {"tags": tags} if tags else {},
            "outputs": list(outputs),
            "source": source,
        }

    stream = {"output_type": "stream", "name": "stdout", "text": "zqgatedstream 42\n"}
    result = {
        "output_type": "execute_result",
        "execution_count": 1,
        "metadata": {},
        "data": {"text/plain": "'zqgatedresult'"},
    }
    display = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"text/html": "<b>zqgatedhtml</b>", "text/plain": "zqgatedhtml"},
    }
    cells = [
        md("# Fixture chapter\n\nSome text."),
        code("zqvisiblecode = 1\nprint(zqvisiblecode)", [{"output_type": "stream", "name": "stdout", "text": "1\n"}]),
        md(
            "## Exercises\n\n```{exercise} First\n:label: fx-ex-1\n\nzqexerciseprompt: compute it.\n```\n\n"
            "```{solution-start} fx-ex-1\n:class: dropdown\n```\n\nzqgatedprose before the code."
        ),
        code("zqgatedcode = 6 * 7\nprint('zqgatedstream', zqgatedcode)", [stream]),
        md("More zqgatedprose between code cells."),
        code("'zqgatedresult'", [result], tags=["hide-input"]),
        code("from IPython.display import HTML\nHTML('<b>zqgatedhtml</b>')", [display]),
        md("```{solution-end}\n```\n\nzqafterend text stays.\n\n```{exercise} Second\n:label: fx-ex-2\n\nAgain.\n```"),
        md("```{solution-start} fx-ex-2\n:class: dropdown\n```"),
        code("zqsecondcode = 2"),
        md("```{solution-end}\n```"),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def fixture_book(tmp_path) -> Path:
    root = tmp_path / "fixture"
    (root / "book").mkdir(parents=True)
    shutil.copy2(ROOT / "_config.yml", root / "_config.yml")
    shutil.copy2(ROOT / "book" / "references.bib", root / "book" / "references.bib")
    shutil.copytree(ROOT / "book" / "_ext", root / "book" / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    if (ROOT / "book" / "_vendor").exists():
        (root / "book" / "_vendor").symlink_to(ROOT / "book" / "_vendor", target_is_directory=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/chapter\n")
    (root / "book" / "intro.md").write_text("# Fixture book\n\nThe chapter is next.\n")
    build_student.write_notebook(_fixture_notebook(), root / "book" / "chapter.ipynb")
    return root


def _files_with(folder: Path, words) -> dict[str, list[str]]:
    """{file relative to folder: the words of `words` it contains}, symbolic links not followed."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            text = path.read_bytes().decode("utf-8", errors="replace").lower()
            hits = [w for w in words if w in text]
            if hits:
                found[path.relative_to(folder).as_posix()] = hits
    return found


def test_fixture_copy_keeps_gated_solutions_without_strip(fixture_book, tmp_path):
    """The markers are there to be found: an unstripped copy holds every one."""
    build_student.prepare_sources(tmp_path / "src", strip=False, root=fixture_book)
    found = _files_with(tmp_path / "src", GATED_MARKERS)
    assert set().union(*found.values()) == set(GATED_MARKERS)


def test_student_copy_and_md_download_have_no_gated_solution(fixture_book, tmp_path):
    import jupytext

    src = tmp_path / "src"
    removed = build_student.prepare_sources(src, strip=True, root=fixture_book)
    assert removed == 2
    assert _files_with(src, GATED_MARKERS) == {}
    kept = _files_with(src, KEPT_MARKERS)
    assert set().union(*kept.values()) == set(KEPT_MARKERS), kept
    nb = build_student.read_notebook(src / "book" / "chapter.ipynb")
    assert [c["cell_type"] for c in nb["cells"]] == ["markdown", "code", "markdown", "markdown"]
    md = jupytext.writes(jupytext.read(src / "book" / "chapter.ipynb"), fmt="md:myst").lower()
    assert not [w for w in GATED_MARKERS if w in md]
    assert "{solution" not in md and "zqexerciseprompt" in md


@editions
def test_student_build_of_fixture_has_no_gated_solution(fixture_book, tmp_path):
    """The student edition of the fixture book, built as scripts/build_student.py
    builds the book's: no file of its output (pages, search index, downloads) holds
    a gated solution's code, outputs or prose."""
    src = tmp_path / "src"
    build_student.prepare_sources(src, strip=True, title_suffix=" (student edition)", root=fixture_book)
    out = build_student.jupyter_book(src, tmp_path / "work", "html", strict=True)
    assert (out / "searchindex.js").is_file()
    assert (out / "_sources" / "book" / "chapter.ipynb").is_file()
    assert (out / "_sources" / "book" / "chapter.md").is_file()
    assert _files_with(out, GATED_MARKERS) == {}
    page = (out / "book" / "chapter.html").read_text()
    assert "zqexerciseprompt" in page and "zqafterend" in page and "zqvisiblecode" in page
    assert _class_count(page, "solution") == 0
    assert _class_count(page, "exercise") >= 2


# ------------------------------------------------------------------- fingerprints

MATH_SOURCE = re.compile(r"\$\$.*?\$\$|\$(?:[^$\\]|\\.)+?\$|\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S)
MATH_HTML = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]|\$\$.*?\$\$", re.S)
DIRECTIVE_LINE = re.compile(r"^\s*(?:`{3,}|~{3,}|:{3,}).*$|^\s*:[\w-]+:.*$", re.M)
ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _source_words(text: str) -> list[str]:
    """Words of Markdown or code as a reader sees them: no math, fences or roles."""
    text = MATH_SOURCE.sub(" ", text)
    text = DIRECTIVE_LINE.sub(" ", text)
    text = ROLE.sub(" ", text)
    return _words(text)


def _html_words(text: str) -> list[str]:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    text = html.unescape(text)
    return _words(MATH_HTML.sub(" ", text))


def _ngrams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


def _notebook_visible_text(nb: dict) -> str:
    """Cell sources and text outputs of a notebook."""
    parts = []
    for cell in nb.get("cells", []):
        parts.append(build_student.cell_source(cell))
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            for mime, value in (out.get("data") or {}).items():
                if mime.startswith("text/") or mime == "application/json":
                    parts.append("".join(value) if isinstance(value, list) else str(value))
    return "\n".join(parts)


@functools.lru_cache(maxsize=1)
def _solutions() -> tuple[list, dict]:
    """The book's solutions, and for each its fingerprints (solution -> set of n-grams)."""
    solutions, outside = [], set()
    for path in build_student.toc_sources():
        rel = path.relative_to(ROOT).as_posix()
        if path.suffix == ".ipynb":
            stripped, sols = build_student.split_notebook(build_student.read_notebook(path), rel)
            rest = _notebook_visible_text(stripped)
        else:
            rest, sols = build_student.split_markdown(path.read_text(encoding="utf-8"), rel)
        outside |= _ngrams(_source_words(rest))
        solutions += sols
    prints = {id(s): _ngrams(_source_words(s.text)) - outside for s in solutions}
    return solutions, prints


def _html_pages(root: Path) -> dict[str, list[str]]:
    return {
        p.relative_to(root).as_posix(): _html_words(p.read_text(errors="replace")) for p in sorted(root.rglob("*.html"))
    }


def _need(folder: Path, what: str) -> None:
    if not folder.exists():
        pytest.fail(f"no {what} at {folder}: build it first (see README.md, 'Other editions')")


def _notebook_pages() -> list[str]:
    """Docnames of the toc's notebook chapters (book/gaussian_toy, ...)."""
    return [p.relative_to(ROOT).with_suffix("").as_posix() for p in build_student.toc_sources() if p.suffix == ".ipynb"]


def _class_count(page_html: str, name: str) -> int:
    return len(re.findall(r'class="(?:[^"]*\s)?' + re.escape(name) + r'(?:\s[^"]*)?"', page_html))


# ------------------------------------------------------------- student edition


@editions
def test_book_has_solutions_to_check():
    """The text checks below need solutions with words of their own. A solution too
    short for that (a formula, "see (1.3)") is still counted by the class checks."""
    solutions, prints = _solutions()
    assert solutions, "the book has no solutions: nothing for the student edition to remove"
    printable = [s for s in solutions if prints[id(s)]]
    assert len(printable) >= len(solutions) / 2, (
        f"only {len(printable)} of {len(solutions)} solutions have {NGRAM} consecutive words of their own"
    )


@editions
def test_default_edition_shows_every_solution():
    _need(DEFAULT_HTML, "default edition")
    solutions, prints = _solutions()
    pages = _html_pages(DEFAULT_HTML)
    shown = set().union(*(_ngrams(w) for w in pages.values()))
    weak = []
    for sol in solutions:
        fp = prints[id(sol)]
        if not fp:
            continue  # too short to fingerprint
        share = len(fp & shown) / len(fp)
        if share < MIN_FOUND:
            weak.append(f"{sol.path}: {share:.0%} of {len(fp)} fingerprints, starting {sol.text[:80]!r}")
    assert not weak, "solutions missing from the default edition:\n" + "\n".join(weak)
    n_elements = sum(_class_count((DEFAULT_HTML / p).read_text(errors="replace"), "solution") for p in pages)
    assert n_elements == len(solutions), f"{len(solutions)} solutions in the sources, {n_elements} rendered"


@editions
def test_student_edition_has_no_solution():
    _need(STUDENT_HTML, "student edition")
    solutions, prints = _solutions()
    every_print = {g: sol for sol in solutions for g in prints[id(sol)]}
    leaks = []
    for path in sorted(STUDENT_HTML.rglob("*")):
        if not path.is_file() or path.suffix not in {".html", ".js", ".txt", ".md", ".ipynb", ".json"}:
            continue
        rel = path.relative_to(STUDENT_HTML).as_posix()
        text = path.read_text(errors="replace")
        if rel.startswith("_static/"):
            continue  # assets copied from packages and node_modules
        if path.suffix == ".ipynb":
            words = _source_words(_notebook_visible_text(json.loads(text)))
        elif path.suffix == ".md":
            words = _source_words(text)
        else:
            words = _html_words(text)
        hits = _ngrams(words) & every_print.keys()
        if hits:
            sol = every_print[next(iter(hits))]
            leaks.append(
                f"{rel}: {len(hits)} fingerprints of solutions, e.g. from {sol.path}: {' '.join(next(iter(hits)))!r}"
            )
        if path.suffix == ".html":
            assert _class_count(text, "solution") == 0, f"{rel}: an element of class 'solution'"
    assert not leaks, "solution text in the student edition:\n" + "\n".join(leaks)


@editions
def test_student_downloads_have_no_solution():
    _need(STUDENT_HTML, "student edition")
    pages = _notebook_pages()
    assert pages, "no notebook chapters in _toc.yml"
    for page in pages:
        nb_path = STUDENT_HTML / "_sources" / f"{page}.ipynb"
        md_path = STUDENT_HTML / "_sources" / f"{page}.md"
        assert nb_path.is_file() and md_path.is_file(), f"{page}: missing download {nb_path.name} or {md_path.name}"
        assert build_student.split_notebook(json.loads(nb_path.read_text()), str(nb_path))[1] == []
        md = md_path.read_text()
        assert build_student.split_markdown(md, str(md_path))[1] == []
        assert "{solution" not in md


@editions
def test_student_edition_is_labelled():
    _need(STUDENT_HTML, "student edition")
    page = (STUDENT_HTML / "book" / "intro.html").read_text()
    assert "(student edition)" in re.search(r"<title>(.*?)</title>", page, re.S).group(1)


# ------------------------------------------------------ downloads and launch buttons


def _download_links(page_html: str) -> list[str]:
    return re.findall(r'href="([^"]*_sources/[^"]+)"', page_html)


@editions
@pytest.mark.parametrize("edition", ["default", "student"])
def test_chapters_download_as_ipynb_and_md(edition):
    root = DEFAULT_HTML if edition == "default" else STUDENT_HTML
    _need(root, f"{edition} edition")
    for page in _notebook_pages():
        page_file = root / f"{page}.html"
        links = _download_links(page_file.read_text())
        suffixes = sorted(Path(link).suffix for link in links)
        assert suffixes == [".ipynb", ".md"], f"{edition} {page}: download links {links}"
        for link in links:
            target = (page_file.parent / link).resolve()
            assert target.is_file(), f"{edition} {page}: {link} does not exist"


@editions
def test_md_download_reads_back_to_the_notebook():
    import jupytext

    _need(DEFAULT_HTML, "default edition")
    for page in _notebook_pages():
        md = jupytext.read(DEFAULT_HTML / "_sources" / f"{page}.md")
        nb = jupytext.read(ROOT / f"{page}.ipynb")
        assert [(c.cell_type, c.source.strip()) for c in md.cells] == [
            (c.cell_type, c.source.strip()) for c in nb.cells
        ], f"{page}: the .md download does not hold the notebook's cells"


@editions
@pytest.mark.parametrize("edition", ["default", "student"])
def test_launch_buttons_open_binder(edition):
    root = DEFAULT_HTML if edition == "default" else STUDENT_HTML
    _need(root, f"{edition} edition")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].rstrip("/")
    org_repo = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", repo).group(1)
    branch = config["repository"].get("branch", "main")
    binder = config["launch_buttons"]["binderhub_url"].rstrip("/")
    assert binder == "https://mybinder.org"
    assert (ROOT / "environment.yml").is_file(), "Binder builds the environment from environment.yml"
    for page in _notebook_pages():
        links = set(re.findall(r'href="(https://mybinder\.org/[^"]*)"', (root / f"{page}.html").read_text()))
        expected = f"{binder}/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{page}.ipynb"
        assert links == {html.escape(expected)} or links == {expected}, f"{edition} {page}: Binder links {links}"
        assert (ROOT / f"{page}.ipynb").is_file()


# ------------------------------------------------------------------------- PDF


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        problem = f"{tool} (poppler-utils) is not installed; run scripts/install_poppler.sh"
        if os.environ.get("CI"):
            pytest.fail(problem + " (CI is set, so this is a failure)")
        pytest.skip(problem)
    return path


@functools.lru_cache(maxsize=1)
def _pdf_pages() -> int:
    out = subprocess.run([_poppler("pdfinfo"), str(PDF)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


@functools.lru_cache(maxsize=1)
def _pdf_text() -> str:
    return subprocess.run(
        [_poppler("pdftotext"), "-raw", str(PDF), "-"], capture_output=True, text=True, check=True
    ).stdout


@editions
def test_pdf_page_count():
    _need(PDF, "PDF")
    n_docs = len(build_student.toc_sources())
    assert _pdf_pages() >= PAGES_PER_DOCUMENT * n_docs, f"{_pdf_pages()} pages for {n_docs} documents"


@editions
def test_pdf_pages_are_not_blank(tmp_path):
    from PIL import Image, ImageStat

    _need(PDF, "PDF")
    pdftoppm = _poppler("pdftoppm")
    n = _pdf_pages()
    for page in sorted({1, (n + 1) // 2, n}):
        prefix = tmp_path / f"page{page}"
        subprocess.run(
            [pdftoppm, "-r", "40", "-png", "-singlefile", "-f", str(page), "-l", str(page), str(PDF), str(prefix)],
            check=True,
        )
        image = Image.open(f"{prefix}.png").convert("L")
        inked = sum(image.histogram()[:200]) / (image.width * image.height)
        std = ImageStat.Stat(image).stddev[0]
        assert std > 5 and inked > 0.005, f"page {page} of {n} looks blank (stddev {std:.1f}, inked {inked:.2%})"


@editions
def test_pdf_has_equation_numbers_figures_and_bibliography():
    _need(PDF, "PDF")
    text = _pdf_text()
    # Chapter-numbered equation labels, as in the HTML: (1.1), (2.1), ...
    chapters = {int(m.group(1)) for m in re.finditer(r"\((\d+)\.1\)", text)}
    assert {1, 2} <= chapters, f"equation numbers (k.1) found only for chapters {sorted(chapters)}"
    tail = text[int(len(text) * 0.8) :]
    assert "Bibliography" in tail, "the bibliography is not at the end"
    assert "Khrulkov" in tail and "Brenier" in tail, "bibliography entries missing"
    figures = 0
    for path in build_student.toc_sources():
        if path.suffix == ".ipynb":
            nb = build_student.read_notebook(path)
            figures += sum("image/png" in (o.get("data") or {}) for c in nb["cells"] for o in c.get("outputs", []))
    listing = subprocess.run(
        [_poppler("pdfimages"), "-list", str(PDF)], capture_output=True, text=True, check=True
    ).stdout
    n_images = len([line for line in listing.splitlines()[2:] if line.split()[2:3] == ["image"]])
    assert n_images >= figures, f"{n_images} images in the PDF, {figures} figures in the chapters"


@editions
def test_pdf_shows_the_solutions_unfolded():
    _need(PDF, "PDF")
    solutions, prints = _solutions()
    shown = _ngrams(_words(MATH_HTML.sub(" ", _pdf_text())))
    weak = [s.path for s in solutions if prints[id(s)] and len(prints[id(s)] & shown) < MIN_FOUND * len(prints[id(s)])]
    assert not weak, f"solutions folded or missing in the PDF: {weak}"
