"""Two-dimensional test functions with analytic gradients, and optimizer runs on them.

A :class:`Surface` is a function ``f(x, y)`` together with its gradient, where its
minima are, and a suggested view and starting point for figures. The functions work
on torch tensors of shape ``(..., 2)`` (the last axis holds ``x`` and ``y``) and on
NumPy arrays, so the same surface serves contour plots and optimizer runs.
:func:`run_optimizer` follows any ``torch.optim.Optimizer`` on a surface.

The class lives in ``codebase.surface`` and the runs in ``codebase.surface_runs``;
this module holds the surfaces and exports all of their names.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import check_real
from .surface import Surface
from .surface_runs import Trajectory, record_step, run_optimizer, start_point

__all__ = ["Surface", "Trajectory", "quadratic", "rosenbrock", "beale", "saddle", "local_minimum",
           "run_optimizer", "start_point", "record_step"]


def _point(p) -> tuple[float, float]:
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
