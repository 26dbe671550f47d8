"""Make Jupyter Book's single-page HTML build render what the per-page build renders.

Used by scripts/build_pdf.py (added to the generated config of its copy of the
sources); it only acts for the "singlehtml" builder. Two fixes:

1. Node visitors. Sphinx looks up a builder's node visitors by the builder's name and
   falls back to its format ("html") only when no extension registered any visitor
   under that name. sphinx-exercise 1.2.1 registers its nodes for "singlehtml" too,
   so the fallback is lost and sphinx-proof 0.4's nodes (registered for "html" only)
   make `--builder singlehtml` fail with "unknown node type: unenumerable_node".
   On builder-inited the "html" visitors with no "singlehtml" counterpart are copied.

2. Saved widget state. myst-nb adds a notebook's widget state and the widget manager
   scripts (`nb_ipywidgets_js` in _config.yml) per page, from the page's own document
   only; the single page is the root document (the introduction), so the chapters'
   widgets would stay blank. On html-page-context every other document's scripts are
   added as well (the state of each notebook as its own script tag, which
   @jupyter-widgets/html-manager renders one by one; the manager scripts once).
"""

from sphinx.application import Sphinx

__version__ = "1.0"


def _inherit_html_visitors(app: Sphinx) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node, visitors in handlers.get("html", {}).items():
        single.setdefault(node, visitors)


def _add_all_widget_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if app.builder.name != "singlehtml" or pagename != app.config.root_doc:
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    data = NbMetadataCollector.get_doc_data(app.env)
    own = data[pagename].get("js_files", {}) if pagename in data else {}
    libraries = {}
    for docname in sorted(data):
        if docname == pagename:
            continue  # myst-nb adds the root document's own scripts itself
        for key, (uri, kwargs) in data[docname].get("js_files", {}).items():
            if uri is None:  # inline: a notebook's widget state
                app.add_js_file(None, **kwargs)
            elif key not in own:
                libraries[key] = (uri, kwargs)
    for uri, kwargs in libraries.values():
        app.add_js_file(uri, **kwargs)


def setup(app: Sphinx):
    app.connect("builder-inited", _inherit_html_visitors)
    # Before myst-nb's own handler (priority 500), so the root's scripts come last.
    app.connect("html-page-context", _add_all_widget_scripts, priority=450)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
