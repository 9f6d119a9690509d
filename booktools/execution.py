"""Execute the book's notebooks in parallel, before Sphinx reads them (part of :mod:`booktools.sphinxext`).

myst-nb executes a notebook when Sphinx reads it, and Sphinx reads one page at a
time (its parallel mode is not available: ``sphinx_multitoc_numbering`` is not
parallel-safe). Each chapter runs in its own kernel with one torch thread, so on
a machine with two cores the build used half of it.

With ``execute_notebooks: cache`` in ``_config.yml`` (myst-nb's ``cache`` mode),
this module starts when Sphinx has decided which pages to read
(``env-before-read-docs``): it submits every notebook among them whose outputs are
not in the execution cache to a pool of workers (one per usable CPU;
``book_execution_workers`` changes that), in the order Sphinx reads the pages. When
Sphinx is about to read a notebook (``source-read``), it waits for that notebook's
run and stores the result in the cache, where myst-nb finds it and renders the page
without executing it again. Meanwhile the other workers run the next notebooks, and
Sphinx reads the pages that are not notebooks.

The cache is keyed by the code cells of each notebook (jupyter-cache's hash), but
a chapter's outputs also depend on ``codebase`` and the pinned environment. So the
cache lives in a folder named after a hash of ``codebase``'s source files and
``requirements.txt``: a change to either starts an empty cache (and Sphinx, seeing
a new cache path, reads every page again). A notebook that fails here is left out of
the cache; myst-nb then executes it itself and reports the error as it always does.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

_PREFIX = "codebase-"


def source_files(root: Path | str | None = None) -> list[Path]:
    """The files whose content the chapters' outputs depend on, besides their own code.

    Every ``.py`` file of ``codebase`` (the package the chapters import, wherever it is
    installed) and, when ``root`` holds one, ``requirements.txt``. Not ``booktools``: the
    chapters never import it, so editing it executes no notebook again.
    """
    package = Path(importlib.util.find_spec("codebase").origin).resolve().parent
    files = sorted(package.rglob("*.py"))
    if root is not None and (Path(root) / "requirements.txt").is_file():
        files.append(Path(root) / "requirements.txt")
    return files


def source_key(root: Path | str | None = None) -> str:
    """A hash of everything besides a notebook's code that its outputs depend on (:func:`source_files`)."""
    package = Path(importlib.util.find_spec("codebase").origin).resolve().parent
    digest = hashlib.sha256()
    for path in source_files(root):
        name = path.relative_to(package) if path.is_relative_to(package) else path.name
        digest.update(str(name).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def usable_cpus() -> int:
    """The number of CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def configure(app, config) -> None:
    """``config-inited``: put myst-nb's execution cache in a folder keyed by :func:`source_key`."""
    workers = config.book_execution_workers
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"book_execution_workers must be an int (0: one per CPU), got {workers!r}")
    if workers < 0:
        raise ValueError(f"book_execution_workers must be >= 0 (0: one per CPU), got {workers}")
    if getattr(config, "nb_execution_mode", None) != "cache":
        return
    base = Path(config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    target = base / f"{_PREFIX}{source_key(app.srcdir)}"
    if base.is_dir():  # caches made for an older codebase can never match again
        for old in base.glob(f"{_PREFIX}*"):
            if old != target and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    config.nb_execution_cache_path = str(target)


def _execute(path: str, timeout: int | None, allow_errors: bool) -> tuple[str | None, float, str | None]:
    """Run one notebook in its own folder; return it as JSON (None on failure), seconds, error."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True)
    if result.err is not None:
        return None, result.time, f"{type(result.err).__name__}: {result.err}"
    return nbformat.writes(notebook), result.time, None


class _Runs:
    """The notebooks being executed for one build, and what to do with each result."""

    def __init__(self, app, config, cache, paths):
        from sphinx.util import logging

        self.app, self.cache = app, cache
        self.logger = logging.getLogger(__name__)
        self.workers = min(app.config.book_execution_workers or usable_cpus(), len(paths))
        self.start = time.perf_counter()
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"))
        self.pending = {docname: (path, self.pool.submit(_execute, str(path), config.execution_timeout,
                                                        config.execution_allow_errors))
                        for docname, path in paths.items()}
        self.count = len(paths)

    def collect(self, docname: str) -> None:
        """Wait for one notebook and put its outputs in the cache (failures are left to myst-nb)."""
        import nbformat
        from jupyter_cache.base import CacheBundleIn

        path, future = self.pending.pop(docname)
        name = os.path.relpath(path, self.app.srcdir)
        try:
            text, seconds, error = future.result()
        except Exception as exc:  # the worker itself died (out of memory, killed): not the notebook's fault
            text, seconds, error = None, 0.0, f"worker failed: {type(exc).__name__}: {exc}"
        if error is not None:
            # Not cached: myst-nb executes it again when it reads the page and reports the error.
            self.logger.info(f"{name}: execution failed ({error}); myst-nb will run it again")
            return
        stage = self.cache.add_nb_to_project(str(path))
        self.cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(text, as_version=4), stage.uri,
                                                       data={"execution_seconds": seconds}),
                                         check_validity=False, overwrite=True)
        self.logger.info(f"{name}: Executed notebook in {seconds:.2f} seconds")

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


def execute_before_reading(app, env, docnames) -> None:
    """``env-before-read-docs``: start executing the notebooks to be read that the cache lacks.

    They are submitted in the order Sphinx reads pages, so that while Sphinx reads one
    page (and the pages that are not notebooks) the next notebooks are already running.
    """
    config = getattr(env, "mystnb_config", None)
    if config is None or config.execution_mode != "cache":
        return
    import nbformat
    from jupyter_cache import get_cache
    from sphinx.util.matching import Matcher

    excluded = Matcher(config.execution_excludepatterns)
    cache = get_cache(config.execution_cache_path)
    todo = {}
    for docname in sorted(docnames):  # Sphinx reads the pages in this order
        path = Path(env.doc2path(docname))
        if path.suffix != ".ipynb" or excluded(env.doc2path(docname, False)):
            continue
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo[docname] = path
    if not todo:
        return
    runs = app.book_execution_runs = _Runs(app, config, cache, todo)
    plural = "s" if runs.count != 1 else ""
    runs.logger.info(f"executing {runs.count} notebook{plural}, {runs.workers} at a time")


def wait_for_notebook(app, docname, source) -> None:
    """``source-read``: before myst-nb reads a notebook that is being executed, wait for it."""
    runs = getattr(app, "book_execution_runs", None)
    if runs is not None and docname in runs.pending:
        runs.collect(docname)


def finish(app, env) -> None:
    """``env-updated``: every page was read; collect anything left and stop the workers."""
    runs = getattr(app, "book_execution_runs", None)
    if runs is None:
        return
    for docname in list(runs.pending):
        runs.collect(docname)
    runs.close()
    app.book_execution_runs = None
    plural = "s" if runs.count != 1 else ""
    runs.logger.info(f"executed {runs.count} notebook{plural} in "
                     f"{time.perf_counter() - runs.start:.1f} s of wall time")


def stop_on_failure(app, exception) -> None:
    """``build-finished``: if the build failed while notebooks were running, stop them."""
    runs = getattr(app, "book_execution_runs", None)
    if runs is not None:
        runs.close(cancel=True)
        app.book_execution_runs = None


def setup(app) -> None:
    """Register the configuration value and the event handlers (called by :mod:`booktools.sphinxext`)."""
    app.add_config_value("book_execution_workers", 0, "", int)
    app.connect("config-inited", configure)
    app.connect("env-before-read-docs", execute_before_reading)
    app.connect("source-read", wait_for_notebook)
    app.connect("env-updated", finish)
    app.connect("build-finished", stop_on_failure)
