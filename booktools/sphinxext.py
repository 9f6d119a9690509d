"""Sphinx extension for the book: serve MathJax 3 from the built site itself, so math renders with no network,
and keep the reader's browser console free of errors. It also loads :mod:`booktools.execution`, which
executes the notebooks in parallel before Sphinx reads them, and caches pybtex's plugin lookups.

MathJax comes from the PyPI package ``django-static-mathjax`` (pinned in
requirements.txt; it installs the import package ``mathjax``). When the HTML
build finishes, the parts of MathJax's ``es5`` folder that the page loader
needs are copied to ``_build/html/_static/mathjax/``. They are copied into the
*output* after the pages are written, not placed in the book's source
``_static`` folder, where Jupyter Book would inject every ``.js`` file into
every page.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

#: What ``tex-chtml.js`` loads at run time: fonts, TeX extensions pulled in by
#: ``autoload``, the context menu and the accessibility components.
_PARTS = ("tex-chtml.js", "input", "output", "ui", "a11y", "adaptors", "sre")
_TARGET = "mathjax"


def _source_dir() -> Path:
    try:
        import mathjax
    except ImportError as exc:  # pragma: no cover - explained to the user
        raise RuntimeError(
            "MathJax is missing: install the pinned requirements "
            "(pip install -r requirements.txt), which include django-static-mathjax."
        ) from exc
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax's tex-chtml.js was not found under {es5}")
    return es5


def _copy(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source = _source_dir()
    target = Path(app.outdir) / "_static" / _TARGET
    target.mkdir(parents=True, exist_ok=True)
    for part in _PARTS:
        src = source / part
        if src.is_dir():
            shutil.copytree(src, target / part, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target / part)


def _configure(app, config):
    _source_dir()  # fail early, before any page is built
    config.mathjax_path = f"{_TARGET}/tex-chtml.js"
    # pydata-sphinx-theme logs a console error on a reader's first visit when no
    # colour mode is set ("Got invalid theme mode"); give it the one it falls back to.
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    """Keep one copy of each script on a page.

    sphinx-thebe adds its inline configuration (``const THEBE_JS_URL = ...``) twice
    under Jupyter Book, and the second copy throws "Identifier 'THEBE_JS_URL' has
    already been declared" in the reader's console.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        key = (getattr(script, "filename", None) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


_API_NAME = re.compile(r"codebase(\.[A-Za-z_][A-Za-z0-9_]*)+")


def _link_api_names(app, doctree, docname):
    """Turn ``codebase.x.y`` written in code font in any page into a link to its API entry.

    The chapters name the functions they use (``codebase.optim.Adam``); the API page
    documents them with autodoc. A name that is documented becomes a link; any other
    code stays as it is.
    """
    from docutils import nodes

    domain = app.env.get_domain("py")
    for literal in list(doctree.findall(nodes.literal)):
        text = literal.astext()
        if not _API_NAME.fullmatch(text) or isinstance(literal.parent, nodes.reference):
            continue
        entry = domain.objects.get(text) or domain.modules.get(text)
        if entry is None or entry.docname == docname:
            continue
        uri = app.builder.get_relative_uri(docname, entry.docname) + "#" + entry.node_id
        link = nodes.reference("", "", internal=True, refuri=uri, reftitle=f"API: {text}")
        literal.replace_self(link)
        link.append(literal)


def notebook_to_myst(notebook: dict) -> str:
    """Write a notebook (as JSON data) as a MyST Markdown notebook, the text format of Jupytext and MyST-NB.

    Markdown cells are separated by ``+++`` lines; code cells become ``{code-cell}``
    directives (with their tags); outputs are dropped. MyST-NB and Jupytext read the
    result back into the same cells.
    """
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise TypeError("notebook must be a notebook's JSON data with a 'cells' list")
    kernel = notebook.get("metadata", {}).get("kernelspec", {})
    name = kernel.get("name", "python3")
    lines = ["---", "jupytext:", "  text_representation:", "    extension: .md",
             "    format_name: myst", "kernelspec:",
             f"  display_name: {kernel.get('display_name', 'Python 3')}", f"  name: {name}", "---", ""]
    previous = None
    for cell in notebook["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        source = source.rstrip("\n")
        if cell["cell_type"] == "markdown":
            if previous == "markdown":
                lines += ["+++", ""]
            lines += [source, ""]
        elif cell["cell_type"] == "code":
            longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
            fence = "`" * max(3, longest + 1)
            lines.append(f"{fence}{{code-cell}} ipython3")
            tags = cell.get("metadata", {}).get("tags")
            if tags:
                lines.append(":tags: [" + ", ".join(tags) + "]")
                lines.append("")
            lines += ([source] if source else []) + [fence, ""]
        previous = cell["cell_type"]
    return "\n".join(lines)


def _markdown_download(app, pagename, templatename, context, doctree):
    """Offer each notebook page as MyST Markdown too, next to the ``.ipynb`` download."""
    import json

    if context.get("page_source_suffix") != ".ipynb" or "header_buttons" not in context:
        return
    source = Path(app.env.doc2path(pagename))
    target = Path(app.outdir) / "_sources" / (pagename + ".md")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(notebook_to_myst(json.loads(source.read_text(encoding="utf-8"))), encoding="utf-8")
    for group in context["header_buttons"]:
        if group.get("label") == "download-buttons":
            group["buttons"].insert(1, {
                "type": "link",
                "url": f"{context['pathto']('_sources', 1)}/{pagename}.md",
                "text": ".md",
                "tooltip": "Download as MyST Markdown (opens in Jupyter with Jupytext)",
                "icon": "fas fa-file-lines",
                "label": "download-markdown-button",
            })


def _cache_pybtex_plugin_lookups() -> None:
    """Look each pybtex plugin up in the installed entry points once, not at every citation.

    sphinxcontrib-bibtex asks pybtex for its formatting plugins for every citation it
    resolves, and pybtex scans the entry points of every installed distribution each
    time: about 30 ms per call, 10 s of a build of this book (measured with cProfile).
    Plugins registered at run time (``pybtex.plugin.register_plugin``, as
    sphinxcontrib-bibtex does for its styles) are still looked up on every call.
    """
    try:
        import pybtex.plugin as plugin
    except ImportError:  # pragma: no cover - sphinxcontrib-bibtex is pinned
        return
    original = plugin._load_entry_point
    if getattr(original, "book_cached", False):
        return
    found: dict = {}

    def load(group, name, use_aliases=False):
        groups = [group, group + ".aliases"] if use_aliases else [group]
        if any(name in plugin._RUNTIME_PLUGINS.get(g, {}) for g in groups):
            return original(group, name, use_aliases)
        key = (group, name, use_aliases)
        if key not in found:
            found[key] = original(group, name, use_aliases)
        return found[key]

    load.book_cached = True
    plugin._load_entry_point = load


def setup(app):
    from . import execution

    _cache_pybtex_plugin_lookups()
    execution.setup(app)  # notebooks executed in parallel, before Sphinx reads them
    app.connect("config-inited", _configure)
    app.connect("build-finished", _copy)
    app.connect("html-page-context", _drop_duplicate_scripts)
    app.connect("doctree-resolved", _link_api_names)
    app.connect("html-page-context", _markdown_download, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
