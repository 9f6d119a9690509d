"""One call that makes a notebook's outputs the same on every machine."""
from __future__ import annotations

import math
import numbers
import os
import random

from ._checks import check_flag, check_int, check_real

__all__ = ["setup", "glue", "round_significant"]

# The prefix myst-nb gives the MIME types of a value glued with ``display=False``.
GLUE_PREFIX = "application/papermill.record/"


def setup(seed: int = 0, threads: int = 1, *, plots: bool = True) -> None:
    """Seed Python, NumPy and torch and fix torch's thread count.

    Call it once at the top of every chapter. ``seed`` fixes every random draw
    that does not take its own generator, and one thread fixes the order in which
    torch splits its work, so that a re-run on the same machine gives the same bits.
    It does not make other machines add floats in the same order (their vector
    kernels differ): chapters round what they print (``glue(..., digits=n)``) so that
    the page holds there too; ``python -m booktools.matrix`` checks it. With ``plots=True`` matplotlib is set
    to draw PNG figures of a fixed size and resolution.
    """
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    threads = check_int("threads", threads, low=1)
    check_flag("plots", plots)
    import numpy as np
    import torch

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    _use_deterministic_algorithms(torch)
    torch.set_default_dtype(torch.float32)
    if plots:
        import matplotlib

        matplotlib.rcParams.update({
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 80,
            "savefig.dpi": 80,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
        })
        try:  # inside Jupyter: PNG, never SVG (nbval compares SVG text exactly)
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("png")
        except ImportError:  # pragma: no cover - only outside Jupyter
            pass


def _use_deterministic_algorithms(torch) -> None:
    """``torch.use_deterministic_algorithms(True)`` without importing ``torch._dynamo``.

    torch's function first imports ``torch._inductor.config`` (to set its
    ``deterministic`` flag for ``torch.compile``), which imports the compiler stack:
    about 2 s of CPU in every notebook, as much as ``import torch`` itself. Eager
    code reads only the flag that ``torch._C`` holds, so we set that one directly,
    and pass the inductor flag through the variable that its config reads when it
    is imported (or set it, if it already was).
    """
    import sys

    torch._C._set_deterministic_algorithms(True, warn_only=False)
    inductor_config = sys.modules.get("torch._inductor.config")
    if inductor_config is not None:
        inductor_config.deterministic = True
    else:
        os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1"


def glue(name: str, value, display: bool = True, *, digits: int | None = None) -> None:
    """Store ``value`` under ``name`` for the text of the page, like ``myst_nb.glue``.

    The chapters quote numbers computed in their cells with ``{glue:text}`name```;
    this call records the value's display forms in the cell's output, where myst-nb
    finds them when the book is built. The output is exactly what ``myst_nb.glue``
    writes (a test compares the two), but this function does not import
    ``myst_nb.ext.glue``, whose import of ``nbformat`` (through ``jsonschema``'s URI
    checker) costs about 1.7 s at the first call in every notebook.

    With ``display=False`` the value is stored without being shown in the notebook.

    With ``digits=n`` a real number is rounded to ``n`` significant digits first and
    stored as a float, so that the page does not carry the last bits of the arithmetic
    (which differ between machines): ``glue("loss", 0.058158040046, digits=3)`` stores
    ``0.0582``. Every float computed by a chapter is glued this way.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    check_flag("display", display)
    if digits is not None:
        value = round_significant(value, digits, name="value")
    from IPython import display as ipython_display
    from IPython.core.formatters import format_display_data

    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipython_display.display({prefix + key: data for key, data in bundle.items()}, raw=True,
                            metadata=metadata)


def round_significant(value, digits: int, *, name: str = "value") -> float:
    """``value`` rounded to ``digits`` significant digits, as a float (``1234.5, 2 -> 1200.0``).

    ``value`` may be a Python or NumPy real number, or a one-element tensor or array; it
    must be finite (a diverged run is reported by a label, not by ``inf``).
    """
    digits = check_int("digits", digits, low=1, high=17)
    if not isinstance(value, numbers.Real) and hasattr(value, "item"):
        size = value.numel() if hasattr(value, "numel") else getattr(value, "size", 1)
        if size != 1:
            raise TypeError(f"{name} must be a single real number, got {size} elements")
        value = value.item()
    value = check_real(name, value)
    if math.isinf(value):
        raise ValueError(f"{name} must be finite to be rounded, got {value!r}")
    return float(f"{value:.{digits}g}")
