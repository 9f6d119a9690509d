"""Following an optimizer on a two-dimensional surface.

:func:`run_optimizer` follows any ``torch.optim.Optimizer`` on a ``Surface``
and returns its :class:`Trajectory`; :func:`start_point` and :func:`record_step` are the two
pieces every method that walks a surface shares (``codebase.second_order.run_newton`` too).
``codebase.surfaces`` exports the same names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ._checks import check_callable, check_choice, check_int, check_real
from .surface import Surface

__all__ = ["Trajectory", "run_optimizer", "start_point", "record_step"]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The path of an optimizer on a surface.

    - ``points``: array (k + 1, 2), the start and the iterate after each of ``k`` steps.
    - ``losses``: array (k + 1,), ``f`` at each point.
    - ``diverged``: ``True`` if the run stopped early because the iterate or its loss
      became non-finite, or the iterate went farther than ``diverge_above`` from the
      origin. Only finite points are kept, so ``points`` can always be plotted.

    ``np.asarray(trajectory)`` gives ``points``.
    """

    points: np.ndarray
    losses: np.ndarray
    diverged: bool = False

    @property
    def steps(self) -> int:
        """The number of optimizer steps taken (``len(points) - 1``)."""
        return len(self.points) - 1

    @property
    def final(self) -> np.ndarray:
        """The last finite iterate."""
        return self.points[-1]

    def __array__(self, dtype=None, copy=None):
        return self.points if dtype is None else self.points.astype(dtype)

    def __len__(self):
        return len(self.points)

    def __repr__(self):
        return (f"Trajectory(steps={self.steps}, final={np.round(self.final, 4).tolist()}, "
                f"loss={self.losses[-1]:.4g}, diverged={self.diverged})")


def run_optimizer(surface: Surface, make_optimizer: Callable, start=None, steps: int = 100, *,
                  grad: str = "analytic", diverge_above: float = 1e6) -> Trajectory:
    """Run an optimizer for ``steps`` steps on ``surface`` and return its :class:`Trajectory`.

    ``make_optimizer`` maps a list of parameters to an optimizer, e.g.
    ``lambda p: torch.optim.SGD(p, lr=0.1)`` or a ``codebase.optim`` class used the
    same way. The point is a float64 ``torch.nn.Parameter`` starting at ``start``
    (default: ``surface.start``). Each step sets its ``.grad`` (from the analytic
    gradient, or from ``torch.autograd`` with ``grad="autograd"``) and calls
    ``optimizer.step()``.

    A run that diverges is not an error: it stops at the first non-finite iterate or
    loss, or once the iterate is farther than ``diverge_above`` from the origin, and
    returns the finite prefix with ``diverged=True``.
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface, got {type(surface).__name__}")
    check_callable("make_optimizer", make_optimizer, ("params",))
    steps = check_int("steps", steps, low=0)
    check_choice("grad", grad, ("analytic", "autograd"))
    diverge_above = check_real("diverge_above", diverge_above, low=0.0, low_open=True, finite=False)
    point = torch.nn.Parameter(start_point(surface, start))
    optimizer = make_optimizer([point])
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"make_optimizer must return an optimizer with a step() method, got {type(optimizer).__name__}")
    if not any(p is point for group in getattr(optimizer, "param_groups", ()) for p in group["params"]):
        raise ValueError("make_optimizer must build the optimizer on the parameters it is given "
                         "(lambda p: SGD(p, lr=0.1)); this one holds other tensors, so the point would never move")

    points = [point.detach().clone()]
    losses = [surface.value_fn(point.detach()).item()]
    diverged = False
    for _ in range(steps):
        if grad == "analytic":
            point.grad = surface.grad_fn(point.detach()).clone()
        else:
            point.grad = None
            surface.value_fn(point).backward()
        optimizer.step()
        if not record_step(surface, point.detach(), points, losses, diverge_above):
            diverged = True
            break
    return Trajectory(torch.stack(points).numpy(), np.array(losses), diverged)


def start_point(surface: Surface, start=None) -> torch.Tensor:
    """The float64 tensor ``(x, y)`` a run on ``surface`` starts from: ``start``, or ``surface.start``.

    With :func:`record_step`, the two pieces every method that walks a surface shares
    (:func:`run_optimizer` here, ``codebase.second_order.run_newton``).
    """
    start = surface.start if start is None else start
    point = torch.as_tensor(np.asarray(start, dtype=np.float64))
    if point.shape != (2,) or not torch.isfinite(point).all():
        raise ValueError(f"start must be 2 finite numbers (x, y), got {point.tolist()}")
    return point.clone()


def record_step(surface: Surface, point: torch.Tensor, points: list, losses: list,
                diverge_above: float) -> bool:
    """Append a copy of ``point`` and its loss to ``points`` and ``losses``, for a run that
    goes on; return ``False`` when the run diverged and must stop there.

    A non-finite point or loss is not appended (a trajectory keeps only finite points); a
    finite point farther than ``diverge_above`` from the origin is appended, then ends the run.
    """
    current = point.clone()
    loss = surface.value_fn(current).item()
    if not (torch.isfinite(current).all() and math.isfinite(loss)):
        return False
    points.append(current)
    losses.append(loss)
    return current.norm().item() <= diverge_above
