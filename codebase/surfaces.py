"""Two-dimensional test functions with analytic gradients, and optimizer runs on them.

A :class:`Surface` is a function ``f(x, y)`` together with its gradient, where its
minima are, and a suggested view and starting point for figures. The functions work
on torch tensors of shape ``(..., 2)`` (the last axis holds ``x`` and ``y``) and on
NumPy arrays, so the same surface serves contour plots and optimizer runs.
:func:`run_optimizer` follows any ``torch.optim.Optimizer`` on a surface.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import torch

from ._checks import check_callable, check_choice, check_int, check_real

__all__ = ["Surface", "Trajectory", "quadratic", "rosenbrock", "beale", "saddle", "local_minimum",
           "run_optimizer", "start_point", "record_step"]

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


def _point(p) -> Point:
    return (float(p[0]), float(p[1]))


# ---------------------------------------------------------------------------------------
# The surfaces. Each formula is written once for f and once, by hand, for its gradient;
# the tests check every gradient against torch.autograd.


def quadratic(kappa: float = 10.0, *, scale: float = 1.0, rotation: float = 0.0) -> Surface:
    """Return the ill-conditioned quadratic ``f(p) = 1/2 p^T H p`` with condition number ``kappa``.

    Before rotation ``f(x, y) = 1/2 (L x^2 + mu y^2)`` with ``L = scale`` (the largest
    eigenvalue of ``H``, the steep direction ``x``) and ``mu = scale / kappa`` (the
    smallest, the shallow direction ``y``), so ``kappa = L / mu``. ``rotation`` turns
    the eigenvectors counter-clockwise by that angle in radians:
    ``H = R diag(L, mu) R^T``.

    Facts the chapters use: gradient descent converges iff ``0 < lr < 2 / L``; the
    best fixed rate is ``2 / (L + mu)``; heavy-ball momentum is fastest with
    ``lr = 4 / (sqrt(L) + sqrt(mu))^2`` and ``momentum = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2``.
    ``params`` holds ``L``, ``mu``, ``kappa`` and ``rotation``; the minimum is 0 at the origin.
    """
    kappa = check_real("kappa", kappa, low=1.0)
    scale = check_real("scale", scale, low=0.0, low_open=True)
    rotation = check_real("rotation", rotation)
    L, mu = scale, scale / kappa
    c, s = math.cos(rotation), math.sin(rotation)
    R = np.array([[c, -s], [s, c]])
    hessian = R @ np.diag([L, mu]) @ R.T
    H = torch.as_tensor(hessian)

    def value(xy):
        # 1/2 p^T H p for every point p in the batch.
        return 0.5 * torch.einsum("...i,ij,...j->...", xy, H.to(xy.dtype), xy)

    def grad(xy):
        return xy @ H.to(xy.dtype).T

    start = R @ np.array([-1.0, 2.0])
    return Surface(
        name=f"quadratic(kappa={kappa:g})", value_fn=value, grad_fn=grad,
        minimum=(0.0, 0.0), min_value=0.0, xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), start=_point(start),
        hessian=hessian, params={"L": L, "mu": mu, "kappa": kappa, "rotation": rotation},
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    """Return Rosenbrock's banana valley ``f(x, y) = (a - x)^2 + b (y - x^2)^2``.

    The global minimum is 0 at ``(a, a^2)``, at the end of a long curved valley
    ``y = x^2`` whose walls get steeper as ``b`` grows. Optimizers reach the valley
    fast and then crawl along it. The default start is Rosenbrock's ``(-1.2, 1)``
    (scaled with ``a``).
    """
    a = check_real("a", a)
    b = check_real("b", b, low=0.0, low_open=True)
    m = max(1.0, abs(a))

    def value(xy):
        x, y = xy[..., 0], xy[..., 1]
        return (a - x) ** 2 + b * (y - x**2) ** 2

    def grad(xy):
        x, y = xy[..., 0], xy[..., 1]
        valley = y - x**2
        return torch.stack([-2 * (a - x) - 4 * b * x * valley, 2 * b * valley], dim=-1)

    return Surface(
        name=f"rosenbrock(a={a:g}, b={b:g})", value_fn=value, grad_fn=grad,
        minimum=(a, a * a), min_value=0.0, xlim=(-2 * m, 2 * m), ylim=(-m * m, 3 * m * m),
        start=(-1.2 * m, m * m), params={"a": a, "b": b},
    )


def beale() -> Surface:
    """Return Beale's function ``f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2``.

    The global minimum is 0 at ``(3, 0.5)``. The surface is flat in the middle and
    very steep near the edges of the usual view ``[-4.5, 4.5]^2``, so the size of
    the gradient varies over orders of magnitude: a test for adaptive step sizes.
    """
    constants = (1.5, 2.25, 2.625)

    def value(xy):
        x, y = xy[..., 0], xy[..., 1]
        return sum((c - x + x * y ** (k + 1)) ** 2 for k, c in enumerate(constants))

    def grad(xy):
        x, y = xy[..., 0], xy[..., 1]
        gx = gy = torch.zeros_like(x)
        for k, c in enumerate(constants):
            power = k + 1
            r = c - x + x * y**power  # the k-th residual
            gx = gx + 2 * r * (y**power - 1)
            gy = gy + 2 * r * power * x * y ** (power - 1)
        return torch.stack([gx, gy], dim=-1)

    return Surface(
        name="beale", value_fn=value, grad_fn=grad, minimum=(3.0, 0.5), min_value=0.0,
        xlim=(-4.5, 4.5), ylim=(-4.5, 4.5), start=(1.0, 1.5),
    )


def saddle() -> Surface:
    """Return the saddle ``f(x, y) = x^2 - y^2``, unbounded below (``minimum`` is ``None``).

    The origin is a saddle point: a minimum along ``x``, a maximum along ``y``
    (Hessian ``diag(2, -2)``). Gradient descent started close to the ``x`` axis
    first slides towards the origin and stalls there, because the gradient is tiny,
    before the ``y`` component grows by a factor ``1 + 2 lr`` per step and carries it
    away. The default start ``(1.5, 0.001)`` shows that plateau.
    """

    def value(xy):
        return xy[..., 0] ** 2 - xy[..., 1] ** 2

    def grad(xy):
        return torch.stack([2 * xy[..., 0], -2 * xy[..., 1]], dim=-1)

    return Surface(
        name="saddle", value_fn=value, grad_fn=grad, minimum=None, min_value=None,
        xlim=(-2.0, 2.0), ylim=(-2.0, 2.0), start=(1.5, 1e-3), saddle_points=((0.0, 0.0),),
        hessian=np.diag([2.0, -2.0]),
    )


def local_minimum(tilt: float = 0.5) -> Surface:
    """Return a tilted double well ``f(x, y) = (x^2 - 1)^2 + tilt * x + y^2``, with a local and a global minimum.

    The critical points lie on ``y = 0`` at the three roots of ``4x^3 - 4x + tilt = 0``
    (there are three while ``0 < tilt < 8 / (3 sqrt(3))``): the global minimum on the
    left, a saddle between the wells, and a local minimum on the right. With the
    default ``tilt = 0.5`` the global minimum is ``f = -0.5148`` at ``(-1.0575, 0)``,
    the local one ``f = 0.4833`` at ``(0.9304, 0)`` and the saddle ``(0.1271, 0)``.
    From the default start ``(1.75, 1)`` gradient descent with a small step settles
    in the local minimum; enough momentum carries it over the barrier.
    """
    tilt = check_real("tilt", tilt, low=0.0, high=8 / (3 * math.sqrt(3)), low_open=True, high_open=True)
    left, middle, right = np.sort(np.roots([4.0, 0.0, -4.0, tilt]).real)

    def value(xy):
        x, y = xy[..., 0], xy[..., 1]
        return (x**2 - 1) ** 2 + tilt * x + y**2

    def grad(xy):
        x, y = xy[..., 0], xy[..., 1]
        return torch.stack([4 * x * (x**2 - 1) + tilt, 2 * y], dim=-1)

    return Surface(
        name=f"local_minimum(tilt={tilt:g})", value_fn=value, grad_fn=grad,
        minimum=(float(left), 0.0), min_value=float((left**2 - 1) ** 2 + tilt * left),
        xlim=(-2.0, 2.0), ylim=(-1.5, 1.5), start=(1.75, 1.0),
        local_minima=((float(right), 0.0),), saddle_points=((float(middle), 0.0),),
        params={"tilt": tilt},
    )


# ---------------------------------------------------------------------------------------
# Following an optimizer on a surface.


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
