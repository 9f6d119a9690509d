"""A two-dimensional test function with its gradient and the facts a figure needs.

A :class:`Surface` is a function ``f(x, y)`` together with its gradient, where its
minima are, and a suggested view and starting point for figures. The functions work
on torch tensors of shape ``(..., 2)`` (the last axis holds ``x`` and ``y``) and on
NumPy arrays, so the same surface serves contour plots and optimizer runs. The
surfaces themselves are in ``codebase.surfaces``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import torch

from ._checks import check_int

__all__ = ["Surface"]

Point = tuple[float, float]


@dataclass(frozen=True, eq=False)
class Surface:
    """A 2-D test function ``f`` with its gradient and the facts a figure needs.

    - ``name``: a short label, e.g. ``"rosenbrock(a=1, b=100)"``.
    - ``value_fn``, ``grad_fn``: ``f`` and its analytic gradient on torch tensors of
      shape ``(..., 2)``; call them through :meth:`f` and :meth:`grad`, which also
      accept NumPy arrays.
    - ``minimum``, ``min_value``: where the global minimum is and its value, or
      ``None`` when ``f`` is unbounded below (the saddle).
    - ``local_minima``, ``saddle_points``: other critical points worth marking.
    - ``xlim``, ``ylim``, ``start``: a view that shows the interesting region and a
      starting point from which optimizers behave instructively.
    - ``hessian``: the constant 2x2 Hessian when ``f`` is quadratic (the quadratic,
      the saddle), else ``None``.
    - ``params``: the constants that define the surface (``L``, ``mu``, ``a``, ...).
    """

    name: str
    value_fn: Callable[[torch.Tensor], torch.Tensor]
    grad_fn: Callable[[torch.Tensor], torch.Tensor]
    minimum: Point | None
    min_value: float | None
    xlim: Point
    ylim: Point
    start: Point
    local_minima: tuple[Point, ...] = ()
    saddle_points: tuple[Point, ...] = ()
    hessian: np.ndarray | None = None
    params: Mapping[str, float] = field(default_factory=dict)

    def f(self, xy):
        """Return ``f`` at the points ``xy`` of shape ``(..., 2)``: a tensor for a tensor, else an array."""
        return _apply(self.value_fn, xy)

    def grad(self, xy):
        """Return the gradient of ``f`` at ``xy`` (shape ``(..., 2)``): a tensor for a tensor, else an array."""
        return _apply(self.grad_fn, xy)

    def grid(self, n: int = 200, xlim: Point | None = None, ylim: Point | None = None):
        """Return NumPy arrays ``(X, Y, Z)`` of shape (n, n) with ``Z = f(X, Y)``, for contour plots.

        The view defaults to the surface's ``xlim`` and ``ylim``.
        """
        n = check_int("n", n, low=2)
        xlim = _check_limits("xlim", self.xlim if xlim is None else xlim)
        ylim = _check_limits("ylim", self.ylim if ylim is None else ylim)
        X, Y = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
        return X, Y, self.f(np.stack([X, Y], axis=-1))

    def __repr__(self):
        return f"Surface({self.name}, minimum={self.minimum}, start={self.start})"


def _apply(fn, xy):
    if isinstance(xy, torch.Tensor):
        _check_xy(xy)
        return fn(xy if xy.is_floating_point() else xy.double())
    xy = torch.as_tensor(np.asarray(xy, dtype=np.float64))
    _check_xy(xy)
    return fn(xy).numpy()


def _check_xy(xy):
    if xy.ndim == 0 or xy.shape[-1] != 2:
        raise ValueError(f"xy must have shape (..., 2), got {tuple(xy.shape)}")


def _check_limits(name, limits):
    try:
        low, high = (float(v) for v in limits)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of numbers (low, high), got {limits!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{name} must be finite with low < high, got {limits!r}")
    return low, high
