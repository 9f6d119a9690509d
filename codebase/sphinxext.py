"""Sphinx extension for the book: serve MathJax 3 from the built site itself, so math renders with no network.

MathJax comes from the PyPI package ``django-static-mathjax`` (pinned in
requirements.txt; it installs the import package ``mathjax``). When the HTML
build finishes, the parts of MathJax's ``es5`` folder that the page loader
needs are copied to ``_build/html/_static/mathjax/``. They are copied into the
*output* after the pages are written, not placed in the book's source
``_static`` folder, where Jupyter Book would inject every ``.js`` file into
every page.
"""
from __future__ import annotations

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


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
