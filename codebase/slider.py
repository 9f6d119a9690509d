"""A figure with sliders that works on a static web page: one precomputed PNG frame per setting.

:func:`slider` draws every combination of settings once and returns a :class:`Slider`,
which displays as HTML whose sliders swap the frames in the browser, with no Python
kernel behind them. ``codebase.plot`` exports the same names.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

from ._checks import check_int

__all__ = ["slider", "Slider"]


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
