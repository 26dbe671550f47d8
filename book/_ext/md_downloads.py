"""Offer every notebook chapter for download as MyST Markdown, beside its .ipynb.

sphinx-book-theme 1.3.0's download menu (the arrow icon at the top of a page) lists
the page's source file (for a chapter: its .ipynb, copied by Sphinx into
``_build/html/_sources/``) and "print to PDF". This extension adds a third entry,
``.md``: the same notebook converted by jupytext to MyST Markdown (``md:myst``, the
text format Jupyter Book reads and ``jupytext --to ipynb`` turns back into a
notebook). Outputs are not part of that format; the .ipynb keeps them.

How: on ``html-page-context`` (after the theme has built its buttons, hence priority
600 > the theme's 501), for a page whose source is a .ipynb it writes
``_sources/<page>.md`` next to the copied notebook and appends an entry to the
theme's "download-buttons" group. The .md is written from the source the build read,
so a student edition built from sources without solutions (scripts/build_student.py)
offers downloads without solutions too. Pages written in Markdown already offer
their .md source. Other builders (singlehtml, latex) are left alone.

Enabled in _config.yml (``sphinx: local_extensions: {md_downloads: book/_ext}``);
checked by tests/test_editions.py.
"""

from pathlib import Path

import jupytext

__version__ = "1.0"

BUTTON_GROUP = "download-buttons"  # label of sphinx-book-theme's download menu


def _add_myst_download(app, pagename, templatename, context, doctree):
    if app.builder.name != "html" or doctree is None:
        return
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".ipynb":
        return
    group = next(
        (b for b in context.get("header_buttons", []) if b.get("label") == BUTTON_GROUP),
        None,
    )
    if group is None:  # html.use_download_button is off
        return
    rel = f"{pagename}.md"
    dest = Path(app.outdir) / "_sources" / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    text = jupytext.writes(jupytext.read(source), fmt="md:myst")
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(dest)
    entry = {
        "type": "link",
        "url": f"{context['pathto']('_sources', 1)}/{rel}",
        "text": ".md",
        "icon": "fab fa-markdown",
        "tooltip": "Download as MyST Markdown (jupytext)",
        "label": "download-myst-button",
    }
    buttons = group["buttons"]
    # After the .ipynb source entry, before "print to PDF".
    at = next((i + 1 for i, b in enumerate(buttons) if b.get("label") == "download-source-button"), len(buttons))
    buttons.insert(at, entry)


def setup(app):
    app.connect("html-page-context", _add_myst_download, priority=600)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
