"""Headless Chromium on the built book, with nothing allowed to leave the machine.

Shared by tests/test_browser.py (the offline check of every page) and
scripts/build_pdf.py (printing the single-page build): the same Chromium, the same
flags, the same local server, and the same rule that a request to any host other
than 127.0.0.1 / localhost is aborted (data:, blob:, about: are fine).

Chromium is Debian's package (scripts/install_chromium.sh); never `playwright
install`, which would download a browser. DDPM_OT_CHROMIUM overrides its path.
"""

import contextlib
import functools
import http.server
import os
import threading
from urllib.parse import urlsplit

CHROMIUM = os.environ.get("DDPM_OT_CHROMIUM", "/usr/bin/chromium")
# Headless, and quiet: no first-run pages, updates, sync or other background traffic
# that would count as requests leaving the machine.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def missing_browser() -> str | None:
    """Why a headless browser cannot start here (Chromium or Playwright missing), or None."""
    if not os.path.exists(CHROMIUM):
        return f"Chromium not found at {CHROMIUM}; run scripts/install_chromium.sh"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


HARMLESS_SCHEMES = {"data", "blob", "about"}


def is_outside(url: str) -> bool:
    """True for a request that would leave the machine."""
    parts = urlsplit(url)
    if parts.scheme in HARMLESS_SCHEMES:
        return False
    return parts.hostname not in LOCAL_HOSTS


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test and build output readable
        pass


@contextlib.contextmanager
def serve(directory):
    """Serve `directory` on 127.0.0.1 at a free port in a background thread; yields
    the base URL ``http://127.0.0.1:PORT/``."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def offline_context(playwright, profile_dir):
    """A headless Chromium context with a fresh profile in `profile_dir`, in which every
    request that would leave the machine is aborted (pages may still record it)."""
    context = playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    context.route(is_outside, lambda route: route.abort())
    return context
