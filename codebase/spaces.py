"""Search spaces: where each hyperparameter is drawn from, and one draw of all of them.

- :class:`LogUniform`, :class:`Uniform` and :class:`Choice` describe where a
  hyperparameter is drawn from; a *search space* is a dict ``{name: distribution}``;
- :func:`log_uniform` draws numbers whose logarithm is uniform, the right scale for
  a learning rate or a weight decay;
- :func:`sample_config` draws one configuration from a space.

Everything random takes a seed or a ``numpy.random.Generator``, so the same call
draws the same configurations on every machine. ``codebase.search`` uses these
spaces and exports the same names.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ._checks import check_flag, check_int, check_real

__all__ = ["LogUniform", "Uniform", "Choice", "log_uniform", "sample_config"]


def _rng(generator) -> np.random.Generator:
    """Return ``generator`` if it is a NumPy generator, or a new one seeded with an integer."""
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return np.random.default_rng(check_int("generator", generator, low=0))
    raise TypeError("generator must be a numpy.random.Generator or a non-negative integer seed, "
                    f"got {type(generator).__name__}")


def log_uniform(low: float, high: float, size: int | None = None, *, generator=0):
    """Draw numbers whose logarithm is uniform on ``[log low, log high]``.

    .. math:: \\log x \\sim \\mathcal{U}(\\log a, \\log b), \\qquad p(x) = \\frac{1}{x \\log(b/a)},
              \\quad a \\le x \\le b.

    Every factor of ten between ``low`` and ``high`` gets the same share of the draws.
    ``generator`` is a ``numpy.random.Generator`` or an integer seed. Returns a float
    when ``size`` is ``None``, else an array of ``size`` floats.
    """
    low = check_real("low", low, low=0.0, low_open=True)
    high = check_real("high", high, low=low, low_open=True)
    if size is not None:
        size = check_int("size", size, low=0)
    rng = _rng(generator)
    u = rng.uniform(math.log(low), math.log(high), size)
    # exp(log(high)) can round a hair past high: clip to keep the promise a <= x <= b.
    x = np.clip(np.exp(u), low, high)
    return float(x) if size is None else x


@dataclass(frozen=True)
class LogUniform:
    """A hyperparameter whose logarithm is uniform on ``[log low, log high]`` (see :func:`log_uniform`).

    With ``integer=True`` the draw is rounded to the nearest integer (e.g. a layer width).
    """

    low: float
    high: float
    integer: bool = False

    def __post_init__(self):
        low = check_real("low", self.low, low=0.0, low_open=True)
        check_real("high", self.high, low=low, low_open=True)
        if check_flag("integer", self.integer) and round(low) < 1:
            raise ValueError(f"with integer=True the draws are rounded to integers, so low must round to "
                             f"at least 1 (low >= 0.5); got low={low!r}, whose draws could round to 0")

    def sample(self, generator: np.random.Generator):
        """Draw one value."""
        x = log_uniform(self.low, self.high, generator=generator)
        return int(round(x)) if self.integer else x


@dataclass(frozen=True)
class Uniform:
    """A hyperparameter drawn uniformly from ``[low, high]`` (e.g. a dropout rate)."""

    low: float
    high: float

    def __post_init__(self):
        low = check_real("low", self.low)
        check_real("high", self.high, low=low, low_open=True)

    def sample(self, generator: np.random.Generator) -> float:
        """Draw one value."""
        return float(_rng(generator).uniform(self.low, self.high))


@dataclass(frozen=True)
class Choice:
    """A hyperparameter drawn with equal probabilities from a list of ``values``
    (e.g. batch sizes ``(16, 32, 64, 128)``, or activation names)."""

    values: tuple

    def __post_init__(self):
        if isinstance(self.values, (str, bytes)) or not hasattr(self.values, "__iter__"):
            raise TypeError(f"values must be a sequence, got {type(self.values).__name__}")
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("values must hold at least one value")

    def sample(self, generator: np.random.Generator):
        """Draw one value."""
        return self.values[int(_rng(generator).integers(len(self.values)))]


_DISTRIBUTIONS = (LogUniform, Uniform, Choice)


def _check_space(space) -> dict:
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of {{name: distribution}}, got {type(space).__name__}")
    if not space:
        raise ValueError("space must name at least one hyperparameter")
    for name, dist in space.items():
        if not isinstance(name, str):
            raise TypeError(f"space keys must be strings, got {type(name).__name__} {name!r}")
        if not isinstance(dist, _DISTRIBUTIONS):
            raise TypeError(f"space[{name!r}] must be a LogUniform, Uniform or Choice, "
                            f"got {type(dist).__name__}")
    return dict(space)


def sample_config(space: Mapping[str, Any], generator=0) -> dict:
    """Draw one configuration ``{name: value}`` from ``space``, one value per hyperparameter.

    Values are drawn independently, in the order of the space's keys, from
    ``generator`` (a ``numpy.random.Generator``, advanced by the draws, or an integer seed).
    """
    space = _check_space(space)
    rng = _rng(generator)
    return {name: dist.sample(rng) for name, dist in space.items()}
