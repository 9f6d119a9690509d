"""Figures used across the chapters: loss curves, seed bands, contours, trajectories, schedules.

Every helper takes the data and the ranges to show as arguments, draws into ``ax``
when one is given (otherwise into a new figure) and returns ``(fig, ax)``. Matplotlib
is imported inside the functions, so ``import codebase.plot`` is cheap. The figure with
sliders for pages without a kernel, :func:`slider`, lives in ``codebase.slider``
and is exported here too.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np

from ._checks import check_choice, check_flag, check_int, check_real
from .slider import Slider, slider

__all__ = ["loss_curves", "band", "contour", "trajectories", "side_by_side", "lr_range_plot",
           "schedule_plot", "slider", "Slider"]


def _figure(ax):
    """Return ``(fig, ax)``: the figure of ``ax``, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    return plt.subplots()


def _check_mapping(name, value):
    if not isinstance(value, Mapping) or not value:
        raise TypeError(f"{name} must be a non-empty dict of label -> data, got {type(value).__name__}")


def _series(curve, key):
    """Return the values to plot: ``key`` of a History (or dict), the sequence itself otherwise."""
    if hasattr(curve, "as_dict"):
        curve = curve.as_dict()
    if isinstance(curve, Mapping):
        if key not in curve:
            raise KeyError(f"history has no {key!r}; keys: {sorted(curve)}")
        curve = curve[key]
    values = np.asarray(curve, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"each curve must be 1-D, got shape {values.shape}")
    return values


def loss_curves(curves: Mapping, *, key: str | Sequence[str] = "train_loss", logy: bool = False,
                xlabel: str = "epoch", ylabel: str | None = None, title: str | None = None, ax=None):
    """Plot one line per entry of ``curves`` (label -> sequence of values, a ``History`` or its dict).

    For a ``History`` the line shows ``history.<key>``; ``key`` may list several keys,
    e.g. ``("train_loss", "val_loss")``: each run then keeps one colour and each key
    gets its own line style. The x axis counts from 1 (epochs or steps).
    """
    _check_mapping("curves", curves)
    check_flag("logy", logy)
    import matplotlib.pyplot as plt

    keys = [key] if isinstance(key, str) else list(key)
    if not keys:
        raise ValueError("key must name at least one series")
    series = {label: [_series(curve, k) for k in keys] for label, curve in curves.items()}
    styles = ["-", "--", ":", "-."]
    fig, ax = _figure(ax)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, lines) in enumerate(series.items()):
        for j, (k, values) in enumerate(zip(keys, lines)):
            name = label if len(keys) == 1 else f"{label}: {k}"
            ax.plot(np.arange(1, len(values) + 1), values, styles[j % len(styles)],
                    color=colors[i % len(colors)], label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel if ylabel is not None else keys[0].replace("_", " "))
    if title:
        ax.set_title(title)
    ax.legend()
    return fig, ax


def band(x, runs, *, label: str | None = None, kind: str = "std", color=None, alpha: float = 0.25,
         logy: bool = False, ax=None):
    """Plot the mean of several runs as a line with a shaded band around it.

    ``runs`` has shape (number of runs, len(x)), e.g. one row per seed. The band is
    the mean plus and minus one standard deviation (``kind="std"``) or the range from
    the lowest to the highest run (``kind="minmax"``). Call it once per setting on
    the same ``ax`` to compare settings.
    """
    x = np.asarray(x, dtype=float)
    runs = np.asarray(runs, dtype=float)
    if runs.ndim != 2 or x.ndim != 1 or runs.shape[1] != len(x):
        raise ValueError(f"runs must have shape (runs, len(x)) = (runs, {len(x)}), got {runs.shape}")
    check_choice("kind", kind, ("std", "minmax"))
    alpha = check_real("alpha", alpha, low=0.0, high=1.0)
    check_flag("logy", logy)
    fig, ax = _figure(ax)
    mean = runs.mean(axis=0)
    if kind == "std":
        low, high = mean - runs.std(axis=0), mean + runs.std(axis=0)
    else:
        low, high = runs.min(axis=0), runs.max(axis=0)
    (line,) = ax.plot(x, mean, color=color, label=label)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=alpha, linewidth=0)
    if logy:
        ax.set_yscale("log")
    if label is not None:
        ax.legend()
    return fig, ax


def contour(surface, *, xlim=None, ylim=None, levels: int = 30, log: bool = False, n: int = 200,
            filled: bool = False, cmap: str = "viridis", aspect: str | float = "equal", ax=None):
    """Draw the level sets of a ``codebase.surfaces.Surface`` over ``xlim`` x ``ylim``.

    The view defaults to the surface's suggested limits. With ``log=True`` the
    ``levels`` are spaced geometrically above the lowest value in view, which shows
    the floor of steep valleys such as Rosenbrock's. By default both axes have the
    same scale (``aspect="equal"``), so a round bowl looks round; ``aspect="auto"``
    fills the axes instead.
    """
    from .surface import Surface

    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a codebase.surfaces.Surface, got {type(surface).__name__}")
    levels = check_int("levels", levels, low=2)
    check_flag("log", log)
    xlim = surface.xlim if xlim is None else xlim
    ylim = surface.ylim if ylim is None else ylim
    X, Y, Z = surface.grid(n, xlim, ylim)  # also checks the limits
    fig, ax = _figure(ax)
    draw = ax.contourf if filled else ax.contour
    if log:
        height = Z - Z.min()
        positive = height[height > 0]
        low, high = np.log10(np.quantile(positive, 0.001)), np.log10(positive.max())
        # Contours of log10(f - min) at evenly spaced values are geometric levels of f - min.
        draw(X, Y, np.log10(np.maximum(height, 10**low)), levels=np.linspace(low, high, levels), cmap=cmap)
    else:
        draw(X, Y, Z, levels=levels, cmap=cmap)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_aspect(aspect, adjustable="box")
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    return fig, ax


def trajectories(surface, paths: Mapping, *, xlim=None, ylim=None, markers: bool = True,
                 levels: int = 30, log: bool = False, ax=None):
    """Draw optimizer paths over the contours of ``surface``: label -> points (k, 2) or a ``Trajectory``.

    Each path starts at a square marker; the global minimum, if the surface has one,
    is a black star. A diverged ``Trajectory`` gets ``(diverged)`` in its label. The
    view is the surface's suggested one unless ``xlim``/``ylim`` are given; points
    outside it are clipped.
    """
    _check_mapping("paths", paths)
    check_flag("markers", markers)
    check_flag("log", log)
    checked = {}
    for label, path in paths.items():
        points = np.asarray(path, dtype=float)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise ValueError(f"path {label!r} must have shape (k, 2), got {points.shape}")
        checked[f"{label} (diverged)" if getattr(path, "diverged", False) else label] = points
    fig, ax = contour(surface, xlim=xlim, ylim=ylim, levels=levels, log=log, ax=ax)
    for label, points in checked.items():
        (line,) = ax.plot(points[:, 0], points[:, 1], marker="o" if markers else None, markersize=3,
                          linewidth=1.2, label=label)
        ax.plot(points[0, 0], points[0, 1], "s", color=line.get_color(), markersize=7)
    if surface.minimum is not None:
        ax.plot(*surface.minimum, "*", color="black", markersize=14, label="minimum")
    ax.legend(loc="best")
    return fig, ax


def side_by_side(n: int, *, ncols: int | None = None, width: float = 4.0, height: float = 3.2,
                 sharex: bool = False, sharey: bool = False):
    """Return ``(fig, axes)``: a figure with ``n`` panels of ``width`` x ``height`` inches.

    Panels fill rows of ``ncols`` (default: all in one row, up to 3); ``axes`` is a
    flat array of the ``n`` panels, and unused grid cells are removed.
    """
    n = check_int("n", n, low=1)
    ncols = min(n, 3) if ncols is None else check_int("ncols", ncols, low=1)
    width = check_real("width", width, low=0.0, low_open=True)
    height = check_real("height", height, low=0.0, low_open=True)
    check_flag("sharex", sharex)
    check_flag("sharey", sharey)
    import matplotlib.pyplot as plt

    nrows = math.ceil(n / ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), sharex=sharex,
                             sharey=sharey, squeeze=False, layout="constrained")
    cells = grid.ravel()
    for extra in cells[n:]:
        extra.remove()
    return fig, cells[:n]


def lr_range_plot(result, *, show_raw: bool = True, mark_suggestion: bool = True, ax=None):
    """Plot a ``codebase.train.LRRangeResult``: loss against learning rate on a log axis.

    The smoothed loss is the solid line, the raw mini-batch losses a faint one; a
    dashed vertical line marks the suggested learning rate.
    """
    for attribute in ("lrs", "losses", "smoothed", "suggestion"):
        if not hasattr(result, attribute):
            raise TypeError(f"result must be an LRRangeResult, got {type(result).__name__}")
    check_flag("show_raw", show_raw)
    check_flag("mark_suggestion", mark_suggestion)
    fig, ax = _figure(ax)
    if show_raw:
        ax.plot(result.lrs, result.losses, color="0.6", linewidth=0.8, label="loss")
    ax.plot(result.lrs, result.smoothed, color="C0", label="smoothed loss")
    if mark_suggestion:
        ax.axvline(result.suggestion, color="C3", linestyle="--", label=f"suggestion {result.suggestion:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend()
    return fig, ax


def schedule_plot(schedules: Mapping[str, Callable], steps: int, *, logy: bool = False,
                  xlabel: str = "step", ylabel: str = "learning rate", ax=None):
    """Plot learning-rate schedules: label -> a function of the step ``k`` (or a sequence of rates).

    Each function is evaluated at ``k = 0, 1, ..., steps - 1``, the number of steps already taken.
    """
    _check_mapping("schedules", schedules)
    steps = check_int("steps", steps, low=1)
    check_flag("logy", logy)
    k = np.arange(steps)
    curves = {}
    for label, schedule in schedules.items():
        if callable(schedule):
            curves[label] = np.array([float(schedule(int(step))) for step in k])
        else:
            curves[label] = np.asarray(schedule, dtype=float)[:steps]
            if curves[label].ndim != 1 or len(curves[label]) < steps:
                raise ValueError(f"schedule {label!r} must be callable or hold at least {steps} rates")
    fig, ax = _figure(ax)
    for label, values in curves.items():
        ax.plot(k, values, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return fig, ax
