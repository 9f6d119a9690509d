"""booktools.execution: notebooks run in parallel before Sphinx reads them, cached under a codebase key."""
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from booktools import execution


def _notebook(*sources):
    return {
        "cells": [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# A page"}] + [
            {"cell_type": "code", "id": f"code{i}", "execution_count": None, "metadata": {}, "outputs": [],
             "source": s} for i, s in enumerate(sources)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def _config(tmp_path, **values):
    defaults = {"book_execution_workers": 0, "nb_execution_mode": "cache", "nb_execution_cache_path": ""}
    defaults.update(values)
    return SimpleNamespace(outdir=str(tmp_path / "_build" / "html"), srcdir=str(tmp_path)), \
        SimpleNamespace(**defaults)


def test_source_key_is_stable_and_follows_the_pins(tmp_path):
    assert execution.source_key() == execution.source_key()
    assert re.fullmatch(r"[0-9a-f]{16}", execution.source_key())
    (tmp_path / "requirements.txt").write_text("torch==2.13.0\n")
    pinned = execution.source_key(tmp_path)
    assert pinned != execution.source_key()
    (tmp_path / "requirements.txt").write_text("torch==2.12.0\n")
    assert execution.source_key(tmp_path) != pinned


def test_the_cache_folder_is_keyed_and_older_keys_are_removed(tmp_path):
    app, config = _config(tmp_path)
    base = tmp_path / "_build" / ".jupyter_cache"
    (base / "codebase-0000000000000000").mkdir(parents=True)
    (base / "other").mkdir()
    execution.configure(app, config)
    assert config.nb_execution_cache_path == str(base / f"codebase-{execution.source_key(tmp_path)}")
    assert not (base / "codebase-0000000000000000").exists()
    assert (base / "other").is_dir()  # only folders this module made are removed


def test_other_execution_modes_are_left_alone(tmp_path):
    app, config = _config(tmp_path, nb_execution_mode="force")
    execution.configure(app, config)
    assert config.nb_execution_cache_path == ""


@pytest.mark.parametrize("workers, error", [(-1, ValueError), (1.5, TypeError), ("2", TypeError),
                                            (True, TypeError)])
def test_bad_worker_counts_are_rejected(tmp_path, workers, error):
    app, config = _config(tmp_path, book_execution_workers=workers)
    with pytest.raises(error, match="book_execution_workers"):
        execution.configure(app, config)


def test_a_dead_worker_leaves_the_notebook_to_myst_nb(tmp_path):
    from concurrent.futures import Future

    logged = []
    runs = execution._Runs.__new__(execution._Runs)
    runs.app = SimpleNamespace(srcdir=str(tmp_path))
    runs.logger = SimpleNamespace(info=logged.append)
    runs.cache = None  # never touched: nothing is cached for a failed run
    future = Future()
    future.set_exception(RuntimeError("killed"))
    runs.pending = {"page": (tmp_path / "page.ipynb", future)}
    runs.collect("page")
    assert runs.pending == {}
    assert logged == ["page.ipynb: execution failed (worker failed: RuntimeError: killed); "
                      "myst-nb will run it again"]


def test_a_build_runs_the_notebooks_at_once_and_myst_nb_uses_the_cache(tmp_path):
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "extensions = ['myst_nb', 'booktools.sphinxext']\n"
        "nb_execution_mode = 'cache'\nnb_execution_raise_on_error = False\n"
        "book_execution_workers = 2\nexclude_patterns = ['_build']\n")
    (src / "index.md").write_text("# Book\n\n```{toctree}\none\ntwo\nbroken\n```\n")
    # Each notebook records when its kernel ran; two workers must run them at the same time.
    timed = "import time\nstart = time.time(); time.sleep(2); print(f'{start:.3f} {time.time():.3f}')"
    for name in ("one", "two"):
        (src / f"{name}.ipynb").write_text(json.dumps(_notebook(timed, f"print('page {name}')")))
    (src / "broken.ipynb").write_text(json.dumps(_notebook("raise ValueError('on purpose')")))
    status, warnings = io.StringIO(), io.StringIO()
    app = Sphinx(str(src), str(src), str(src / "_build" / "html"), str(src / "_build" / "doctrees"),
                 "html", status=status, warning=warnings, freshenv=True)
    app.build()
    log = status.getvalue()

    assert "executing 3 notebooks, 2 at a time" in log
    for name in ("one", "two"):
        assert f"{name}.ipynb: Executed notebook in" in log
        html = (src / "_build" / "html" / f"{name}.html").read_text()
        assert f"page {name}" in html  # the outputs myst-nb rendered came from the cache
    assert log.count("Using cached notebook") == 2
    spans = [tuple(map(float, re.search(r"(\d+\.\d+) (\d+\.\d+)", (src / "_build" / "html" /
              f"{name}.html").read_text()).groups())) for name in ("one", "two")]
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1, f"the two notebooks ran one after the other: {spans}"
    # The failing notebook is not cached: myst-nb runs it again and reports the error.
    assert "broken.ipynb: execution failed (CellExecutionError" in log
    assert re.search(r"broken\.ipynb.*Executing notebook failed", warnings.getvalue())

    cache = Path(app.env.mystnb_config.execution_cache_path)
    assert cache.name == f"codebase-{execution.source_key(src)}"
    status2 = io.StringIO()
    app2 = Sphinx(str(src), str(src), str(src / "_build" / "html2"), str(src / "_build" / "doctrees2"),
                  "html", status=status2, warning=io.StringIO(), freshenv=True)
    app2.build()
    assert "executing 1 notebook, 1 at a time" in status2.getvalue()  # only the failed one is tried again


def test_the_cache_key_covers_codebase_and_the_pins_but_not_the_book_machinery():
    root = Path(__file__).resolve().parents[1]
    files = execution.source_files(root)
    assert root / "requirements.txt" in files
    assert root / "codebase" / "optim" / "adam.py" in files
    assert not [f for f in files if "booktools" in f.parts], "editing booktools would re-execute every chapter"
