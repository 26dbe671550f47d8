"""The built book in a real headless browser: nothing loads from outside, math and
widgets render.

Why a browser: whether MathJax typesets and the saved widget state turns into
sliders depends on JavaScript, fonts and RequireJS paths resolving at run time,
which no check of the HTML text can show. The pages are served on 127.0.0.1 and
every request to any other host is recorded and aborted, so a CDN dependency fails
the test instead of silently working online (and the test never hangs on one).

Checked on every page of the build: all .html files except genindex, search and
redirect pages and Sphinx's own folders (_static, _sources, ...); extension index
pages such as sphinx-proof's prf-prf.html are checked too, they cost a second.
  - no request leaves 127.0.0.1 / localhost (data:, blob:, about: are fine);
  - no local request fails or answers 4xx/5xx (a missing font, a wrong path);
  - no uncaught JavaScript error;
  - every element of class `math` holds a rendered MathJax `mjx-container`, and none
    is a TeX error (`mjx-merror`);
  - each saved widget view (script type application/vnd.jupyter.widget-view+json)
    became a rendered, visible widget;
  - each kernel-free player (ddpm_ot_lib.widgets: div.ddpm-player holding
    input.ddpm-player-slider, .ddpm-player-time and an svg; both kinds, the
    trajectory player and the frame player) redraws when its slider moves.
The two players' scripts are also checked on a page of their own, without the book
(test_players_on_their_own_page): slider, label, picture and play button.

Needs the built HTML (`make book`, or stage 3 of scripts/run_tests.sh) and Debian's
Chromium (scripts/install_chromium.sh). Environment variables: DDPM_OT_HTML_DIR
overrides the HTML folder (default _build/html), DDPM_OT_CHROMIUM the browser
(default /usr/bin/chromium). Without Chromium the tests skip, unless CI is set,
where they fail. Never `playwright install`: the browser must not be downloaded.
"""

import os
import re
from pathlib import Path

import pytest

import headless  # scripts/: the script's own folder, or pytest's pythonpath

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]

HTML_DIR = Path(os.environ.get("DDPM_OT_HTML_DIR", ROOT / "_build" / "html")).resolve()
# Pages that are not chapters: Sphinx's index and search pages.
NOT_CHAPTERS = {"genindex.html", "search.html", "py-modindex.html"}
TIMEOUT_MS = 20_000  # for typesetting and widget rendering, per page

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Uncaught errors that are known, upstream and harmless. Jupyter Book 1.0.4 (Sphinx 7.4,
# sphinx-thebe 0.3.1) writes sphinx-thebe's inline `const THEBE_JS_URL = ...` script
# twice into every page; the second copy throws, the first already did the work.
KNOWN_JS_ERRORS = {"Identifier 'THEBE_JS_URL' has already been declared"}


def _chapter_pages() -> list[str]:
    """Every chapter page of the build, as paths relative to HTML_DIR."""
    if not HTML_DIR.is_dir():
        return []
    pages = []
    for path in sorted(HTML_DIR.rglob("*.html")):
        rel = path.relative_to(HTML_DIR)
        if rel.parts[0].startswith("_") or rel.name in NOT_CHAPTERS:
            continue  # _static, _sources, _images, ...
        if 'http-equiv="Refresh"' in path.read_text(errors="replace")[:2000]:
            continue  # the root index.html only redirects to the first chapter
        pages.append(rel.as_posix())
    return pages


PAGES = _chapter_pages()


def _class_attr(name: str) -> str:
    """A regex for a class="..." attribute that holds the class `name` as a whole word."""
    return r'class="(?:[^"]*\s)?' + re.escape(name) + r'(?:\s[^"]*)?"'


@pytest.fixture(scope="module")
def base_url():
    """Serve HTML_DIR on 127.0.0.1 at a free port, in a background thread."""
    if not HTML_DIR.is_dir():
        pytest.fail(f"no built HTML at {HTML_DIR}: run the build first (`make book`)")
    with headless.serve(HTML_DIR) as url:
        yield url


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    """One headless Chromium with a fresh profile; requests leaving the machine are aborted."""
    problem = headless.missing_browser()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem + " (CI is set, so this is a failure)")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # Aborts anything that would leave the machine; each page records it too.
        context = headless.offline_context(pw, tmp_path_factory.mktemp("chromium-profile"))
        yield context
        context.close()


def _wait_for(page, js_predicate: str) -> None:
    """Wait up to TIMEOUT_MS for a JavaScript predicate; on time-out carry on, so that
    the assertions that follow say what is missing."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(js_predicate, timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        pass


def _math_report(page) -> dict:
    """Count the math elements, those without a typeset MathJax container, and TeX errors."""
    return page.evaluate(
        """() => {
            const maths = Array.from(document.querySelectorAll('.math'));
            return {
                total: maths.length,
                untypeset: maths.filter(m => !m.querySelector('mjx-container')).length,
                errors: document.querySelectorAll('mjx-merror').length,
            };
        }"""
    )


# A rendered widget: html-manager puts a div.widget-subarea before each view's script
# tag and displays the view (class jupyter-widgets) inside it. It must have a size,
# unless the page hides it on purpose (a collapsed output or solution).
COUNT_VISIBLE_WIDGETS = """() => Array.from(document.querySelectorAll('.widget-subarea'))
    .filter(sub => Array.from(sub.querySelectorAll('.jupyter-widgets')).some(el => {
        const box = el.getBoundingClientRect();
        return (box.width > 0 && box.height > 0) || !sub.checkVisibility();
    })).length"""


def _move_players(page) -> tuple[int, list[str]]:
    """Move each ddpm-player's slider to its last value; return how many players the
    page holds and the problems found."""
    return page.evaluate(
        """() => {
            const stuck = [];
            const players = document.querySelectorAll('div.ddpm-player');
            players.forEach((player, i) => {
                const slider = player.querySelector('input[type=range].ddpm-player-slider');
                const time = player.querySelector('.ddpm-player-time');
                const svg = player.querySelector('svg');
                if (!slider || !time || !svg) {
                    stuck.push(`player ${i}: missing slider, .ddpm-player-time or svg`);
                    return;
                }
                const before = [time.textContent, svg.innerHTML];
                // The last value; the first if it already stands at the last.
                slider.value = slider.value === slider.max ? slider.min : slider.max;
                slider.dispatchEvent(new Event('input', {bubbles: true}));
                if (time.textContent === before[0]) stuck.push(`player ${i}: time text unchanged`);
                if (svg.innerHTML === before[1]) stuck.push(`player ${i}: svg unchanged`);
            });
            return [players.length, stuck];
        }"""
    )


@pytest.mark.parametrize("page_path", PAGES or ["<no built HTML>"])
def test_page_offline_and_rendered(page_path, base_url, browser_context):
    """One chapter page: nothing from outside, no failed request, math and widgets rendered."""
    if not PAGES:
        pytest.fail(f"no chapter pages (*.html) in {HTML_DIR}: run the build first (`make book`)")
    source = (HTML_DIR / page_path).read_text()
    n_views = source.count(f'type="{WIDGET_VIEW}"')
    has_math = re.search(_class_attr("math"), source) is not None
    n_players = len(re.findall(r"<div\s(?:[^>]*\s)?" + _class_attr("ddpm-player"), source))

    outside, failed, js_errors = [], [], []
    page = browser_context.new_page()
    page.on("request", lambda r: headless.is_outside(r.url) and outside.append(r.url))
    page.on("requestfailed", lambda r: not headless.is_outside(r.url) and failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} (HTTP {r.status})"))
    page.on("pageerror", lambda err: str(err) not in KNOWN_JS_ERRORS and js_errors.append(str(err)))

    def check_requests():
        assert not outside, f"{page_path}: requests leaving the machine: {sorted(set(outside))}"
        assert not failed, f"{page_path}: failed local requests: {failed}"

    try:
        page.goto(base_url + page_path, wait_until="load")
        # At once: a CDN script that was aborted will never render anything, so waiting
        # for math or widgets would only turn this clear message into a time-out.
        check_requests()
        if has_math:
            # MathJax's startup promise resolves once the first typesetting is done.
            _wait_for(page, "() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        if n_views:
            _wait_for(page, f"() => ({COUNT_VISIBLE_WIDGETS})() >= {n_views}")
        # Let lazily loaded fonts and MathJax components finish before judging requests.
        page.wait_for_load_state("networkidle")

        check_requests()
        assert not js_errors, f"{page_path}: uncaught JavaScript errors: {js_errors}"
        if has_math:
            math = _math_report(page)
            assert math["total"] > 0 and math["untypeset"] == 0, (
                f"{page_path}: {math['untypeset']} of {math['total']} math elements not typeset by MathJax"
            )
            assert math["errors"] == 0, f"{page_path}: {math['errors']} MathJax TeX errors (mjx-merror)"
        if n_views:
            rendered = page.evaluate(COUNT_VISIBLE_WIDGETS)
            assert rendered == n_views, (
                f"{page_path}: {n_views} saved widget views but {rendered} rendered, visible widgets"
            )
        if n_players:
            found, stuck = _move_players(page)
            assert found == n_players, f"{page_path}: {n_players} div.ddpm-player in the HTML, {found} in the page"
            assert not stuck, f"{page_path}: ddpm-player did not redraw: {stuck}"
    finally:
        page.close()


def _player_page(directory: Path) -> Path:
    """A page holding one frame player and one trajectory player, written to `directory`."""
    import numpy as np

    from ddpm_ot_lib import widgets

    def draw(fig, value):
        ax = fig.add_subplot()
        ax.plot([0.0, 1.0], [0.0, value])
        ax.set(ylim=(-0.1, 3.1))

    frames = widgets.frame_player(draw, [0.0, 1.0, 2.0, 3.0], label="s", dpi=20, frame_ms=20).data
    x = np.random.default_rng(0).standard_normal((4, 2))
    traj = widgets.trajectory_player(np.zeros(2), np.eye(2) * 2.0, x, times=np.linspace(0, 1, 5), frame_ms=20).data
    path = directory / "players.html"
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'></head><body>{frames}{traj}</body></html>", encoding="utf-8"
    )
    return path


def test_players_on_their_own_page(browser_context, tmp_path):
    """Both players on a bare page: the slider changes label and picture, play runs to
    the end, and the frame player shows each stored frame."""
    source = _player_page(tmp_path).read_text(encoding="utf-8")
    first = re.search(r'<image href="(data:image/png;base64,[A-Za-z0-9+/=]+)"', source).group(1)
    errors = []
    with headless.serve(tmp_path) as url:
        page = browser_context.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            page.goto(url + "players.html", wait_until="load")
            found, stuck = _move_players(page)
            assert found == 2 and not stuck, stuck
            # the frame player: every slider position shows the frame the data names
            shown = page.evaluate(
                """(first) => {
                    const root = document.querySelector('div.ddpm-player');
                    const data = JSON.parse(root.querySelector('script.ddpm-player-data').textContent);
                    const slider = root.querySelector('.ddpm-player-slider');
                    const image = root.querySelector('svg image');
                    const out = [];
                    for (let k = 0; k <= +slider.max; k++) {
                        slider.value = k;
                        slider.dispatchEvent(new Event('input', {bubbles: true}));
                        const j = data.frame[k];
                        const want = j === 0 ? first : 'data:image/png;base64,' + data.png[j];
                        out.push([image.getAttribute('href') === want,
                                  root.querySelector('.ddpm-player-time').textContent]);
                    }
                    slider.value = 0;
                    slider.dispatchEvent(new Event('input', {bubbles: true}));
                    return out;
                }""",
                first,
            )
            assert [ok for ok, _ in shown] == [True] * 4
            assert [text for _, text in shown] == ["s = 0.00", "s = 1.00", "s = 2.00", "s = 3.00"]
            # play: both players run to their last frame and stop
            for i in range(2):
                page.locator("button.ddpm-player-play").nth(i).click()
            page.wait_for_function(
                """() => Array.from(document.querySelectorAll('div.ddpm-player')).every(p =>
                       p.querySelector('.ddpm-player-slider').value === p.querySelector('.ddpm-player-slider').max
                       && p.querySelector('.ddpm-player-play').textContent.includes('play'))""",
                timeout=TIMEOUT_MS,
            )
            assert not errors, errors
        finally:
            page.close()
