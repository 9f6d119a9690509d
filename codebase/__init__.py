"""``codebase``: the tested code behind *How Deep Networks Are Trained*.

Submodules are imported on first use, so ``import codebase`` is fast:

- ``codebase.optim``: SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW from scratch
- ``codebase.schedules``: learning-rate schedules as functions of the step ``s(k)``
- ``codebase.schedulers``: drivers that write a schedule's rates into an optimizer
- ``codebase.init``: weight initializers (Xavier/Glorot, He/Kaiming, ...)
- ``codebase.nn``: activations, Maxout, dropout and an MLP builder
- ``codebase.regularization``: L1/L2 penalties, proximal L1 and early stopping
- ``codebase.data``: the digits data set, synthetic and sparse-feature sets, batches
- ``codebase.surfaces``: 2-D test functions and optimizer trajectories
- ``codebase.train``: the training loop and the learning-rate range test
- ``codebase.plot``: figures used across the chapters
- ``codebase.clipping``: gradient clipping by norm and by value
- ``codebase.diagnostics``: per-layer activation and gradient statistics
- ``codebase.theory``: convergence rates of gradient descent and momentum on quadratics
- ``codebase.compare``: tuning, multi-seed runs and the cost of optimizers
- ``codebase.stacked``: many runs of one small network trained at once (for races of optimizers)
- ``codebase.search``: random search and the importance of hyperparameters
- ``codebase.second_order``: Hessians, Hessian-vector products and Newton's method
- ``codebase.checks``: checks that grade the coding exercises
- ``codebase.env``: :func:`setup`, the first call of every notebook, and :func:`glue`
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("optim", "schedules", "schedulers", "init", "nn", "regularization", "data", "surfaces", "train",
               "plot", "env", "clipping", "diagnostics", "theory", "compare", "stacked", "search",
               "second_order", "checks")

__all__ = ["setup", "glue", "__version__", *_SUBMODULES]


def setup(seed: int = 0, threads: int = 1, *, plots: bool = True) -> None:
    """Seed Python, NumPy and torch and fix torch's thread count (see :func:`codebase.env.setup`)."""
    from .env import setup as _setup

    _setup(seed, threads, plots=plots)


def glue(name: str, value, display: bool = True, *, digits: int | None = None) -> None:
    """Store a value for the page's text, as ``myst_nb.glue`` does (see :func:`codebase.env.glue`)."""
    from .env import glue as _glue

    _glue(name, value, display, digits=digits)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'codebase' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
