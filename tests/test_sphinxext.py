"""The book's Sphinx extension: Markdown downloads of the notebooks, duplicate scripts."""
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from myst_nb.core.read import read_myst_markdown_notebook

from booktools import sphinxext as sphinxext_module
from booktools.sphinxext import _drop_duplicate_scripts, notebook_to_myst

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _cells(notebook):
    for cell in notebook["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        yield cell["cell_type"], source.strip("\n"), cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_version_of_every_chapter_reads_back_to_the_same_cells(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    back = read_myst_markdown_notebook(notebook_to_myst(notebook))
    assert list(_cells(back)) == list(_cells(notebook))


def test_code_with_backtick_fences_inside_gets_a_longer_fence():
    notebook = {"cells": [{"cell_type": "code", "source": 's = """\n```\n"""', "metadata": {}},
                          {"cell_type": "markdown", "source": "text", "metadata": {}},
                          {"cell_type": "markdown", "source": "more", "metadata": {}}]}
    text = notebook_to_myst(notebook)
    assert "````{code-cell} ipython3" in text
    assert list(_cells(read_myst_markdown_notebook(text))) == list(_cells(notebook))


@pytest.mark.parametrize("bad", [None, [], {"metadata": {}}, "notebook.ipynb"])
def test_notebook_to_myst_rejects_what_is_not_a_notebook(bad):
    with pytest.raises(TypeError, match="notebook"):
        notebook_to_myst(bad)


def test_each_script_is_kept_once_in_its_first_position():
    def script(filename, **attributes):
        return SimpleNamespace(filename=filename, attributes=attributes)

    config = script(None, body="const THEBE_JS_URL = 1")
    scripts = [script("a.js"), config, script("b.js", **{"async": "async"}),
               script("", body="const THEBE_JS_URL = 1"), script("a.js")]
    context = {"script_files": scripts}
    _drop_duplicate_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] == scripts[:3]


def test_pybtex_plugins_are_looked_up_in_the_entry_points_once(monkeypatch):
    import pybtex.plugin as plugin

    from booktools import sphinxext

    sphinxext._cache_pybtex_plugin_lookups()
    sphinxext._cache_pybtex_plugin_lookups()  # a second setup() does not wrap it twice
    assert plugin._load_entry_point.book_cached
    calls = []
    real = plugin.entry_points
    monkeypatch.setattr(plugin, "entry_points", lambda **kw: calls.append(kw) or real(**kw))
    first = plugin.find_plugin("pybtex.backends", "plaintext")
    assert plugin.find_plugin("pybtex.backends", "plaintext") is first
    assert plugin.find_plugin("pybtex.backends", "latex") is not first
    looked_up = len(calls)
    plugin.find_plugin("pybtex.backends", "latex")
    assert len(calls) == looked_up  # the second lookup of each name is served from the cache

    class Runtime(plugin.Plugin):
        pass

    monkeypatch.setitem(plugin._RUNTIME_PLUGINS, "pybtex.backends", {"mine": Runtime})
    assert plugin.find_plugin("pybtex.backends", "mine") is Runtime
    monkeypatch.setitem(plugin._RUNTIME_PLUGINS, "pybtex.backends", {"mine": first})
    assert plugin.find_plugin("pybtex.backends", "mine") is first  # runtime plugins are never cached


def test_mathjax_is_copied_into_the_built_site(tmp_path):
    app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    sphinxext_module._copy(app, None)
    loader = tmp_path / "_static" / "mathjax" / "tex-chtml.js"
    assert loader.is_file() and loader.stat().st_size > 100_000
    assert (tmp_path / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    config = SimpleNamespace(mathjax_path=None, html_context={"kept": 1})
    sphinxext_module._configure(app, config)
    assert config.mathjax_path == "mathjax/tex-chtml.js"
    # the theme's colour mode is set, so a reader's console shows no "invalid theme mode"
    assert config.html_context == {"kept": 1, "default_mode": "auto"}


def test_mathjax_is_not_copied_after_a_failed_build(tmp_path):
    app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    sphinxext_module._copy(app, RuntimeError("build failed"))
    assert not (tmp_path / "_static").exists()
