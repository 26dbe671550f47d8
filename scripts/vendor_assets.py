"""Copy the book's front-end assets from node_modules into book/_vendor.

Why: out of the box every page of the built book loads MathJax, RequireJS and the
Jupyter widget manager from CDNs, so math and widgets do not render offline. The
same files, pinned in package.json / package-lock.json and installed by `npm ci`,
are copied here into book/_vendor, which _config.yml names in `html_static_path`
(Sphinx copies it into _build/html/_static). It is deliberately not `book/_static`:
Jupyter Book adds every .js file found there to every page.

Layout written (paths relative to book/_vendor, as _config.yml refers to them):
  mathjax/tex-chtml.js             MathJax 3 (TeX input, CommonHTML output)
  mathjax/input/tex/extensions/    TeX packages that `autoload` / `\\require` fetch
  mathjax/output/                  CHTML fonts; SVG output (the menu's renderer switch)
  mathjax/a11y/, mathjax/sre/      what the accessibility menu items lazy-load
  require.js                       RequireJS, which the widget manager needs
  html-manager/embed-setup.js      RequireJS paths and a MathJax 2 shim (see below)
  html-manager/embed-amd.js        @jupyter-widgets/html-manager, renders saved widget state
  html-manager/*.woff2 ... *.svg   the Font Awesome files embed-amd.js refers to

The widget bundle computes the URL of its fonts from the URL RequireJS gives its
modules ("@jupyter-widgets/base" etc.); without a `paths` entry that is
<page folder>/@jupyter-widgets/, which does not exist. embed-setup.js sets it to
its own folder, whichever page depth it is loaded from. It also maps the MathJax 2
call the widgets make (MathJax.Hub.Queue, to typeset labels) onto MathJax 3, which
otherwise throws "Cannot read properties of undefined (reading 'Queue')".

The folder is built in a temporary sibling and renamed into place, so an
interrupted run never leaves a half-filled book/_vendor behind.

usage: python scripts/vendor_assets.py   (from anywhere; `make env` runs it after `npm ci`)
"""

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "book" / "_vendor"

# (source relative to node_modules, destination relative to book/_vendor).
# A source that is a folder is copied whole.
MATHJAX = "mathjax/es5"
HTML_MANAGER = "@jupyter-widgets/html-manager/dist"
COPIES = [
    (f"{MATHJAX}/tex-chtml.js", "mathjax/tex-chtml.js"),
    (f"{MATHJAX}/input/tex/extensions", "mathjax/input/tex/extensions"),
    (f"{MATHJAX}/output", "mathjax/output"),
    (f"{MATHJAX}/a11y", "mathjax/a11y"),
    (f"{MATHJAX}/sre", "mathjax/sre"),
    ("requirejs/require.js", "require.js"),
    (f"{HTML_MANAGER}/embed-amd.js", "html-manager/embed-amd.js"),
]
# The Font Awesome files of the widget bundle: hashed names, so copied by suffix.
FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")

# Loaded after require.js and MathJax, before embed-amd.js (see _config.yml).
EMBED_SETUP = """\
// Written by scripts/vendor_assets.py; loaded before html-manager/embed-amd.js.
(function (here) {
  // 1. Place the "@jupyter-widgets/*" AMD modules (all defined inside embed-amd.js)
  //    in this file's folder, so the font URLs the bundle derives from its module
  //    URLs resolve here and not under the page's folder.
  require.config({paths: {"@jupyter-widgets": here, "@jupyter-widgets/html-manager/dist": here}});
  // 2. The widgets typeset their labels with the MathJax 2 call MathJax.Hub.Queue;
  //    the book loads MathJax 3, where that throws. Map it onto MathJax 3's API.
  //    MathJax (a deferred script) has replaced window.MathJax by DOMContentLoaded,
  //    and the widgets render later, on "load".
  window.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (mj && mj.startup && !mj.Hub) {
      mj.Hub = {Queue: function (job) {
        mj.startup.promise.then(function () { return mj.typesetPromise([job[2]]); });
      }};
    }
  });
})(document.currentScript.src.replace(/\\/[^\\/]*$/, ""));
"""


def _copy(src: Path, dest: Path) -> None:
    """Copy one file or folder, creating the parent folders."""
    if not src.exists():
        raise FileNotFoundError(
            f"vendor_assets: expected {src} (from package.json) but it is missing; run `npm ci` in the repository root"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest)
    else:
        shutil.copy2(src, dest)


def build(dest: Path) -> None:
    """Fill the (empty) folder `dest` with every asset the built pages load."""
    for src, rel in COPIES:
        _copy(NODE_MODULES / src, dest / rel)
    fonts = [p for p in (NODE_MODULES / HTML_MANAGER).iterdir() if p.name.endswith(FONT_SUFFIXES)]
    if not fonts:
        raise FileNotFoundError(
            f"vendor_assets: expected Font Awesome files (*.woff2, ...) in {NODE_MODULES / HTML_MANAGER}"
        )
    for font in fonts:
        _copy(font, dest / "html-manager" / font.name)
    (dest / "html-manager" / "embed-setup.js").write_text(EMBED_SETUP)


def main() -> int:
    if not NODE_MODULES.is_dir():
        print(
            f"vendor_assets: {NODE_MODULES} is missing; run `npm ci` in {ROOT} first (needs Node.js with npm)",
            file=sys.stderr,
        )
        return 1
    VENDOR.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target (same file system, so the renames are atomic).
    tmp = Path(tempfile.mkdtemp(prefix="_vendor.", dir=VENDOR.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the book folder is not
    old = VENDOR.with_name("_vendor.old")
    try:
        build(tmp)
        shutil.rmtree(old, ignore_errors=True)
        if VENDOR.exists():
            VENDOR.rename(old)
        tmp.rename(VENDOR)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    n_files = sum(1 for p in VENDOR.rglob("*") if p.is_file())
    print(f"vendor_assets: wrote {n_files} files to {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
