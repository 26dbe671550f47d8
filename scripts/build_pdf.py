"""Build a PDF of the whole book, offline: _build/pdf/ddpm-ot.pdf.

How: Jupyter Book's single-page HTML build (`--builder singlehtml`, stored outputs,
no execution) of a copy of the sources, printed by the same headless Chromium that
tests/test_browser.py uses (Debian's /usr/bin/chromium driven by Playwright; nothing
is downloaded). The page is served on 127.0.0.1 and every request to another host is
aborted, so the PDF shows exactly what the offline HTML shows. Before printing:
  - MathJax has finished typesetting (its startup promise) and saved widget views
    have rendered;
  - collapsed blocks (solutions, dropdowns) are opened: a folded solution is useless
    on paper. With --student the solutions are not there at all (the sources are
    stripped as for the student edition, scripts/build_student.py);
  - a print style sheet hides the navigation (header, sidebars, buttons, prev/next
    links) and starts each chapter on a new page.
Equation numbers, figure numbers and citations are those of the HTML (Sphinx numbers
them; the bibliography is the book's last chapter). The PDF gets an outline (its
bookmarks follow the headings) and page numbers in the footer.

Why not LaTeX: `jupyter-book build --builder pdflatex` needs a TeX installation
(Debian's texlive-latex-extra and friends, several hundred MB) and renders widgets,
the in-page trajectory player and HTML outputs poorly or not at all; the browser
prints what readers see.

    python scripts/build_pdf.py [--student] [--no-strict]    (or: make pdf)

writes _build/pdf/src/ (the copy), _build/pdf/work/ (the single-page HTML) and
_build/pdf/ddpm-ot.pdf (ddpm-ot-student.pdf with --student), the PDF written to a
temporary name and renamed into place only when complete. Needs Chromium (run
scripts/install_chromium.sh) and the playwright Python package (in the venv).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import build_student  # scripts/: the script's own folder, or pytest's pythonpath
import headless


ROOT = build_student.ROOT
OUT = ROOT / "_build" / "pdf"
TIMEOUT_MS = 120_000  # the single page holds every chapter's math and widgets

# Applied with emulated print media. pydata-sphinx-theme already drops most of the
# chrome when printing; these rules make sure, widen the text to the page and start
# each chapter (each top-level section of the single page) on a fresh page.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 16mm 14mm; }
html, body { background: white !important; font-size: 10.5pt; }
.bd-header, .bd-header-announcement, .bd-sidebar-primary, .bd-sidebar-secondary,
.header-article, .bd-header-article, .prev-next-area, .prev-next-footer, footer,
.bd-footer, .bd-footer-content, .bd-footer-article, .toggle-button, .headerlink,
.copybtn, .skip-link, #pst-back-to-top, .search-button-field, .theme-switch-button,
.primary-toggle, .secondary-toggle, .bd-search, .sidebar-toggle, .dropdown-toggle,
.toggle-details summary {
    display: none !important;
}
.bd-container, .bd-container__inner, .bd-page-width, .bd-main, .bd-content,
.bd-article-container, .bd-article {
    max-width: none !important; width: 100% !important; margin: 0 !important;
    padding: 0 !important; display: block !important;
}
span[id^="document-"] + section { break-before: page; }  /* each chapter */
h1, h2, h3, h4, .admonition-title, .caption { break-after: avoid; }
img, figure, .cell_output, mjx-container[display="true"], .math, .highlight,
table, .ddpm-player { break-inside: avoid; }
pre { white-space: pre-wrap !important; word-break: break-word; }
.admonition.toggle-hidden .admonition-title ~ * {
    height: auto !important; opacity: 1 !important; visibility: visible !important;
}
"""

# Open every collapsed block: sphinx-togglebutton admonitions (solutions use
# `:class: dropdown`) and <details> (sphinx-design dropdowns, hidden cells).
EXPAND_JS = """() => {
    document.querySelectorAll('.toggle-hidden').forEach(el => el.classList.remove('toggle-hidden'));
    document.querySelectorAll('details').forEach(el => { el.open = true; });
}"""

# The single page asks for a search index that singlehtml does not write; harmless.
NO_SEARCH_INDEX = "/searchindex.js"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
COUNT_WIDGETS = """() => document.querySelectorAll('.widget-subarea .jupyter-widgets').length"""

FOOTER = (
    '<div style="font-size:8px; width:100%; text-align:center; color:#555;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
HEADER = '<div style="font-size:8px; width:100%; text-align:center; color:#555;"><span class="title"></span></div>'


def _settle(page, pending: set, quiet_ms: int = 1000) -> None:
    """Wait until no request has been in flight for `quiet_ms` (lazily loaded MathJax
    fonts and components). Playwright's "networkidle" is not used: on this page it
    never fires, though no request is pending."""
    waited = quiet = 0
    while quiet < quiet_ms and waited < TIMEOUT_MS:
        page.wait_for_timeout(100)
        waited += 100
        quiet = 0 if pending else quiet + 100


def single_page(html_dir: Path) -> str:
    """The single page, as a file at the top of `html_dir`. The singlehtml builder
    writes it under the name of the root document of _toc.yml (book/intro.html; the
    index.html beside it only redirects there) but with every link relative to the top
    folder (_static/..., _images/...), so it is copied up there before printing."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    name = "ddpm-ot.html"
    shutil.copy2(html_dir / f"{toc['root']}.html", html_dir / name)
    return name


def print_pdf(html_dir: Path, pdf: Path) -> list[str]:
    """Print the single page in `html_dir` to `pdf` with headless Chromium; return the
    requests that tried to leave the machine (aborted) and the local ones that failed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    page_path = single_page(html_dir)
    problems: list[str] = []
    n_views = (html_dir / page_path).read_text(errors="replace").count(f'type="{WIDGET_VIEW}"')
    with headless.serve(html_dir) as base_url:
        url = base_url + page_path
        with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            context = headless.offline_context(pw, profile)
            page = context.new_page()
            pending: set = set()
            page.on("request", lambda r: headless.is_outside(r.url) and problems.append(f"outside: {r.url}"))
            page.on("request", lambda r: pending.add(r))
            page.on("requestfinished", lambda r: pending.discard(r))
            page.on("requestfailed", lambda r: pending.discard(r))
            page.on(
                "response",
                lambda r: (
                    r.status >= 400
                    and not r.url.endswith(NO_SEARCH_INDEX)
                    and problems.append(f"HTTP {r.status}: {r.url}")
                ),
            )
            page.set_viewport_size({"width": 1000, "height": 1400})
            page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=TIMEOUT_MS
            )
            page.evaluate("() => MathJax.startup.promise")
            if n_views:
                try:
                    page.wait_for_function(f"() => ({COUNT_WIDGETS})() >= {n_views}", timeout=TIMEOUT_MS)
                except PlaywrightTimeout:
                    problems.append(f"only {page.evaluate(COUNT_WIDGETS)} of {n_views} widget views rendered")
            _settle(page, pending)
            page.evaluate(EXPAND_JS)
            page.emulate_media(media="print")
            page.add_style_tag(content=PRINT_CSS)
            # Math in blocks that were hidden was typeset with the rest; this only
            # catches anything MathJax skipped. Then the fonts the print layout needs.
            page.evaluate("() => MathJax.typesetPromise()")
            page.evaluate("() => document.fonts.ready.then(() => true)")
            _settle(page, pending)
            page.pdf(
                path=str(pdf),
                format="A4",
                print_background=True,
                prefer_css_page_size=True,
                display_header_footer=True,
                header_template=HEADER,
                footer_template=FOOTER,
                outline=True,
                tagged=True,
            )
            context.close()
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", action="store_true", help="the student edition: no solutions")
    parser.add_argument("--no-strict", action="store_true", help="do not turn Sphinx warnings into errors")
    args = parser.parse_args(argv)
    if not Path(headless.CHROMIUM).exists():
        print(f"build_pdf: Chromium not found at {headless.CHROMIUM}; run scripts/install_chromium.sh", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    name = "ddpm-ot-student" if args.student else "ddpm-ot"
    src = OUT / "src"
    try:
        build_student.prepare_sources(
            src,
            strip=args.student,
            title_suffix=" (student edition)" if args.student else "",
            extensions={"singlehtml_nodes": "book/_ext"},  # see book/_ext/singlehtml_nodes.py
        )
        html = build_student.jupyter_book(src, OUT / "work", "singlehtml", strict=not args.no_strict)
    except ValueError as err:
        print(f"build_pdf: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(f"build_pdf: jupyter-book failed (exit {err.returncode})", file=sys.stderr)
        return 1
    t1 = time.perf_counter()
    pdf = OUT / f"{name}.pdf"
    # Chromium writes the PDF itself, by path, so _io.atomic_open cannot hand it a file;
    # the same rule by hand: a temporary name, renamed only when the page rendered cleanly
    tmp = pdf.with_name(pdf.name + ".part")
    problems = print_pdf(html, tmp)
    if problems:
        tmp.unlink(missing_ok=True)
        print("build_pdf: the page did not render cleanly:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    os.replace(tmp, pdf)
    size = pdf.stat().st_size / 1e6
    print(
        f"build_pdf: wrote {pdf.relative_to(ROOT)} ({size:.1f} MB; single-page HTML "
        f"{t1 - t0:.0f} s, printing {time.perf_counter() - t1:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
