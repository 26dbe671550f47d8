"""The live notebook as a reader uses it: JupyterLab from the project environment, a
chapter opened in headless Chromium, every cell run, the explorer's slider moved.

What the README promises ("run `.venv/bin/jupyter lab book/` and open any chapter") is
checked here end to end, because none of it shows in the static HTML:
  - JupyterLab starts from this environment (the same Python that runs the tests) on
    127.0.0.1, at a free port, with a token and no browser of its own;
  - `gaussian_toy.ipynb` opens and all its cells run without an error output;
  - moving the ipywidgets explorer's "time t" slider redraws its picture (the image
    changes) and its read-out line;
  - the Markdown reads as in the book, through jupyterlab-myst: an `{exercise}` is an
    exercise box, not a code block showing its `:label:` line, and an `{eq}` reference
    is a link, not the literal role;
  - no request from the page leaves 127.0.0.1 (each is recorded and aborted);
  - the server is stopped at the end, whatever happened.
The notebook runs in a temporary copy of book/, so JupyterLab's autosave never touches
the repository. JupyterLab's own settings and workspaces live in temporary folders too,
with update checks and news off. Marker `jupyterlab`; stage of its own in
scripts/run_tests.sh. Needs Debian's Chromium (scripts/install_chromium.sh): without it
the test skips, unless CI is set, where it fails.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import headless  # scripts/: the script's own folder, or pytest's pythonpath

pytestmark = pytest.mark.jupyterlab

ROOT = Path(__file__).resolve().parents[1]

CHAPTER = "gaussian_toy.ipynb"
TOKEN = "ddpm-ot-test-token"
START_TIMEOUT_S = 120  # the server answering /api/status
RUN_TIMEOUT_MS = 240_000  # all cells of the chapter (it runs in under 3 min)
UI_TIMEOUT_MS = 60_000  # the page, the notebook panel, a redraw


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _require_chromium():
    problem = headless.missing_browser()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem + " (CI is set, so this is a failure)")
        pytest.skip(problem)


def _write_settings(settings_dir: Path) -> None:
    """Every cell in the DOM (no windowing), the notebook's kernel started without asking,
    no news, no update notices."""
    notebook = settings_dir / "@jupyterlab" / "notebook-extension"
    notebook.mkdir(parents=True)
    (notebook / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True})
    )
    news = settings_dir / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    """JupyterLab on a copy of book/; yields the base URL; always stops the server."""
    _require_chromium()
    tmp = tmp_path_factory.mktemp("jupyterlab")
    work = tmp / "book"
    shutil.copytree(ROOT / "book", work, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[var] = str(tmp / sub)
    _write_settings(tmp / "settings")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.root_dir={work}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]  # no queries to PyPI
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # CI's container runs as root
    log = open(tmp / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                log = (tmp / "jupyterlab.log").read_text()[-3000:]
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log}")
            try:
                with urllib.request.urlopen(f"{url}api/status?token={TOKEN}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT_S} s")
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its kernels
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
        log.close()


# The explorer: the ipywidgets box whose slider is labelled "time t".
EXPLORER_STATE = """() => {
    const label = Array.from(document.querySelectorAll('.widget-slider .widget-label'))
        .find(el => el.textContent.trim() === 'time t');
    if (!label) return null;
    const box = label.closest('.widget-vbox:has(img)') || label.closest('.jp-OutputArea-output');
    const img = box && box.querySelector('img');
    const readout = box && box.querySelector('.widget-html-content');
    const value = label.parentElement.querySelector('.widget-readout');
    return {src: img ? img.src : null, readout: readout ? readout.textContent : null,
            value: value ? value.textContent.trim() : null};
}"""

# The status bar's kernel item reads "Python 3 (ipykernel) | Idle" once the kernel is up.
KERNEL_IDLE = """() => /\\(ipykernel\\) \\| Idle/.test(document.body.innerText)"""

# Cells that are running ([*]) or have not run (no number) among the code cells.
PENDING_CELLS = """() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
    .filter(p => !/\\[\\d+\\]/.test(p.textContent)).length"""

MARKDOWN_REPORT = """() => {
    const md = Array.from(document.querySelectorAll(
        '.jp-MarkdownCell .jp-RenderedMarkdown, .jp-MarkdownCell .jp-RenderedMySTMarkdown, .jp-MarkdownCell .myst'));
    const text = md.map(el => el.innerText).join('\\n');
    const codeBlocks = Array.from(document.querySelectorAll('.jp-MarkdownCell pre'))
        .map(el => el.textContent);
    const exercises = Array.from(document.querySelectorAll(
        '.jp-MarkdownCell aside, .jp-MarkdownCell .admonition, .jp-MarkdownCell [class*="exercise"]'))
        .filter(el => /Exercise/.test(el.textContent));
    const eqLinks = Array.from(document.querySelectorAll('.jp-MarkdownCell a'))
        .filter(a => /gaussian-toy-eq-/.test(a.getAttribute('href') || '') ||
                     /^\\(?\\d+\\)?$/.test(a.textContent.trim()) && a.closest('.jp-MarkdownCell'));
    return {
        cells: md.length,
        rawExercise: codeBlocks.filter(t => /\\{exercise\\}|:label:/.test(t)).length +
                     (text.match(/\\{exercise\\}/g) || []).length,
        rawEq: (text.match(/\\{eq\\}`/g) || []).length,
        exercises: exercises.length,
        eqLinks: eqLinks.length,
        errors: document.querySelectorAll(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] .ansi-red-fg, ' +
            '.jp-OutputArea-child .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]').length,
    };
}"""


def _step(what: str, t0: float) -> None:
    """Progress on stderr (shown with -s, and in the captured output of a failure)."""
    print(f"[jupyterlab test, {time.monotonic() - t0:6.1f} s] {what}", file=sys.stderr, flush=True)


def test_gaussian_toy_in_jupyterlab(lab_url, tmp_path):
    from playwright.sync_api import sync_playwright

    t0 = time.monotonic()
    outside, js_errors = [], []
    with sync_playwright() as pw:
        context = headless.offline_context(pw, tmp_path / "chromium-profile")
        try:
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("request", lambda r: headless.is_outside(r.url) and outside.append(r.url))
            page.on("pageerror", lambda err: js_errors.append(str(err)))
            _step("opening the chapter", t0)
            page.goto(f"{lab_url}lab/tree/{CHAPTER}?token={TOKEN}", wait_until="load")
            page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')")
            page.wait_for_function(
                "() => document.querySelector('.jp-Notebook-ExecutionIndicator, .jp-Toolbar-kernelStatus') !== null"
            )
            page.wait_for_function(KERNEL_IDLE)
            accept_kernel = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
            if accept_kernel.count():  # "Select Kernel", should it ask anyway
                accept_kernel.first.click()
            # Stored outputs and counts out of the way, so that a number means "ran here".
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
            page.wait_for_function(f"() => ({PENDING_CELLS})() > 0")
            _step("running all cells", t0)
            # Not awaited: the command's promise settles only when every cell has run.
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            page.wait_for_function(f"() => ({PENDING_CELLS})() === 0", timeout=RUN_TIMEOUT_MS)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count()
            assert errors == 0, f"{errors} cell(s) of {CHAPTER} raised an error in JupyterLab"

            _step("all cells ran; moving the explorer's t slider", t0)
            # The explorer: move its "time t" slider and watch the picture change.
            page.wait_for_function(f"() => {{ const s = ({EXPLORER_STATE})(); return s && s.src; }}")
            before = page.evaluate(EXPLORER_STATE)
            slider = page.locator(".widget-slider:has(.widget-label:text-is('time t')) .noUi-handle").first
            slider.focus()
            for _ in range(10):
                page.keyboard.press("ArrowRight")
            page.wait_for_function(
                f"(before) => {{ const s = ({EXPLORER_STATE})(); return s && s.src !== before.src; }}", arg=before
            )
            after = page.evaluate(EXPLORER_STATE)
            assert after["value"] != before["value"], f"the t slider did not move: {before} -> {after}"
            assert after["readout"] != before["readout"], "the read-out line was not redrawn"
            _step(f"slider moved: {before['value']} -> {after['value']}; picture and read-out redrawn", t0)

            _step("checking the rendered Markdown", t0)
            report = page.evaluate(MARKDOWN_REPORT)
            _step(f"Markdown: {report}", t0)
            assert report["rawExercise"] == 0, f"exercises shown as raw MyST: {report}"
            assert report["exercises"] >= 1, f"no exercise rendered as an exercise: {report}"
            assert report["rawEq"] == 0, f"{{eq}} roles shown as literal text: {report}"
            assert report["eqLinks"] >= 1, f"no equation reference rendered as a link: {report}"
            assert not outside, f"requests left 127.0.0.1: {sorted(set(outside))}"
            assert not js_errors, f"uncaught JavaScript errors: {js_errors}"
        finally:
            # kept for a failure's post-mortem (pytest prints tmp_path on failure)
            (tmp_path / "jupyterlab-page.html").write_text(page.content())
            page.screenshot(path=tmp_path / "jupyterlab-page.png", full_page=True)
            context.close()
