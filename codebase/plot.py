"""Figures used across the chapters: loss curves, seed bands, contours, trajectories, schedules.

Every helper takes the data and the ranges to show as arguments, draws into ``ax``
when one is given (otherwise into a new figure) and returns ``(fig, ax)``. Matplotlib
is imported inside the functions, so ``import codebase.plot`` is cheap.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np

from ._checks import check_choice, check_flag, check_int, check_real

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
    from .surfaces import Surface

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


class Slider:
    """A figure with sliders that works on a static web page: one precomputed frame per setting.

    Made by :func:`slider`. In Jupyter and on the book's pages it displays as HTML: the
    frames are PNG images embedded in the page, and moving a slider swaps the image in
    the browser, with no Python kernel behind it. Its plain-text form lists the settings.
    """

    def __init__(self, frames: list[str], axes: dict[str, list], labels: dict[str, list[str]],
                 start: tuple[int, ...], title: str, names: dict[str, str] | None = None):
        self.frames = frames
        self.axes = axes
        self.labels = labels
        self.start = start
        self.title = title
        #: What each slider is called on the page (by default its keyword name).
        self.names = {name: (names or {}).get(name, name) for name in axes}

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        settings = "; ".join(f"{name}: {', '.join(self.labels[name])}" for name in self.axes)
        return f"<{self.title}: {len(self.frames)} frames, sliders for {settings}>"

    def _repr_html_(self) -> str:
        import hashlib
        import html
        import json

        # a stable id (nbval compares this HTML), unique for each figure on a page
        digest = hashlib.sha1((self.title + repr(self.labels)).encode()).hexdigest()[:10]
        root = f"cb-slider-{digest}"
        sizes = [len(values) for values in self.axes.values()]
        first = _frame_index(self.start, sizes)
        controls = []
        for k, name in enumerate(self.axes):
            shown = html.escape(self.names[name])
            # each label's name, range and value fill one row of the controls' grid, so the
            # ranges of a figure line up however long the names are
            controls.append(
                f'<label style="display:contents"><span>{shown}</span>'
                f'<input type="range" min="0" max="{sizes[k] - 1}" step="1" value="{self.start[k]}" '
                f'data-axis="{k}" aria-label="{shown}" style="width:100%;margin:0"> '
                f'<output>{html.escape(self.labels[name][self.start[k]])}</output></label>')
        labels = json.dumps([self.labels[name] for name in self.axes])
        frames = json.dumps(self.frames)
        return (
            f'<div class="cb-slider" id="{root}">'
            f'<img alt="{html.escape(self.title)}" src="data:image/png;base64,{self.frames[first]}" '
            f'style="max-width:100%">'
            f'<div class="cb-slider-controls" style="display:grid;justify-content:start;align-items:center;'
            f'grid-template-columns:auto minmax(6em,14em) auto;gap:0.3em 0.6em;margin-top:0.3em">'
            f'{"".join(controls)}</div>'
            f'<script>(function () {{\n'
            f'  const root = document.getElementById("{root}");\n'
            f'  const frames = {frames};\n'
            f'  const labels = {labels};\n'
            f'  const sizes = {json.dumps(sizes)};\n'
            f'  const inputs = root.querySelectorAll("input[type=range]");\n'
            f'  const image = root.querySelector("img");\n'
            f'  function show() {{\n'
            f'    let index = 0;\n'
            f'    inputs.forEach((input, k) => {{\n'
            f'      index = index * sizes[k] + Number(input.value);\n'
            f'      input.parentElement.querySelector("output").textContent = labels[k][input.value];\n'
            f'    }});\n'
            f'    image.src = "data:image/png;base64," + frames[index];\n'
            f'  }}\n'
            f'  inputs.forEach(input => input.addEventListener("input", show));\n'
            f'}})();</script></div>')


def _frame_index(position, sizes):
    index = 0
    for p, n in zip(position, sizes):
        index = index * n + p
    return index


def slider(draw: Callable, axes: Mapping[str, Sequence], *, start: Mapping[str, int] | None = None,
           fmt: str = "{:g}", title: str = "interactive figure", dpi: int = 72,
           colors: int = 64, names: Mapping[str, str] | None = None) -> Slider:
    """Precompute a figure for every combination of settings, for a page with no kernel.

    ``draw(**setting)`` is called once for each combination of the values in ``axes``
    (a mapping from keyword name to its values, one slider each; the first name varies
    slowest) and must return a matplotlib ``Figure``, which is rendered to PNG and
    closed. ``start`` gives the index each slider starts at (default: the first
    value); ``fmt`` formats the values shown beside the sliders, and ``names`` gives
    the text shown for a slider instead of its keyword name (``{"alpha_L": "step size
    αL"}``). Every frame is
    stored in the page, so frames are reduced to a palette of ``colors`` colors (line
    plots lose nothing visible and shrink about threefold); keep their number modest.
    """
    import base64
    import io
    import itertools

    import matplotlib.pyplot as plt
    from PIL import Image

    if not callable(draw):
        raise TypeError(f"draw must be a function returning a matplotlib Figure, got {type(draw).__name__}")
    if not isinstance(axes, Mapping):
        raise TypeError(f"axes must be a dict of slider name -> values, got {type(axes).__name__}")
    if not axes:
        raise ValueError("axes must name at least one slider")
    values = {}
    for name, vals in axes.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"axes keys must be keyword names for draw, got {name!r}")
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence) or len(vals) == 0:
            raise ValueError(f"axes[{name!r}] must be a non-empty sequence of values")
        values[name] = list(vals)
    if names is not None and not isinstance(names, Mapping):
        raise TypeError(f"names must be a dict of slider name -> text, got {type(names).__name__}")
    names = dict(names or {})
    if set(names) - set(values):
        raise ValueError(f"names refers to sliders that are not in axes: {sorted(set(names) - set(values))}")
    if not all(isinstance(text, str) and text for text in names.values()):
        raise TypeError("names must map each slider to a non-empty str")
    start = dict(start or {})
    unknown = set(start) - set(values)
    if unknown:
        raise ValueError(f"start names sliders that are not in axes: {sorted(unknown)}")
    position = tuple(check_int(f"start[{name!r}]", start.get(name, 0), low=0, high=len(vals) - 1)
                     for name, vals in values.items())
    dpi = check_int("dpi", dpi, low=10, high=300)
    colors = check_int("colors", colors, low=2, high=256)
    total = math.prod(len(v) for v in values.values())
    if total > 400:
        raise ValueError(f"{total} frames is too many for one page; use fewer values per slider")

    frames = []
    for combination in itertools.product(*values.values()):
        fig = draw(**dict(zip(values, combination)))
        if not hasattr(fig, "savefig"):
            raise TypeError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        plt.close(fig)
        buffer.seek(0)
        image = Image.open(buffer).convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                                                           dither=Image.Dither.NONE)
        small = io.BytesIO()
        image.save(small, format="PNG", optimize=True)
        frames.append(base64.b64encode(small.getvalue()).decode("ascii"))
    labels = {name: [fmt.format(v) for v in vals] for name, vals in values.items()}
    return Slider(frames, values, labels, position, title, names)
