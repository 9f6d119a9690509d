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
    torch.use_deterministic_algorithms(True)
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
