"""One call that makes a notebook's outputs the same on every machine."""
from __future__ import annotations

import os
import random

from ._checks import check_int

__all__ = ["setup"]


def setup(seed: int = 0, threads: int = 1, *, plots: bool = True) -> None:
    """Seed Python, NumPy and torch and fix torch's thread count.

    Call it once at the top of every chapter. With one thread, torch's
    reductions add numbers in the same order on every machine, so printed
    losses agree to the last digit; ``seed`` fixes every random draw that
    does not take its own generator. With ``plots=True`` matplotlib is set
    to draw PNG figures of a fixed size and resolution.
    """
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    threads = check_int("threads", threads, low=1)
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
