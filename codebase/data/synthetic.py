"""Small synthetic data sets: linear regression, two moons, spirals."""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .._checks import check_int, check_real
from .splits import _check_float_dtype, _generator


class Regression(NamedTuple):
    """A synthetic regression set: inputs ``X`` (n, d), targets ``y`` (n, 1), and the true ``w`` (d,) and ``b``."""

    X: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor
    b: float



def make_regression(n: int = 200, d: int = 1, noise: float = 0.1, seed: int = 0, *,
                    dtype: torch.dtype = torch.float32) -> Regression:
    """Return a linear regression problem ``y = X w + b + noise * eps`` with known ``w`` and ``b``.

    ``X`` and ``eps`` are standard normal; the true weights ``w`` are standard normal
    too and ``b`` is uniform in [-1, 1]. ``y`` has shape (n, 1) so that it matches the
    output of ``nn.Linear(d, 1)`` (a target of shape (n,) would silently broadcast
    in ``MSELoss``). The least-squares fit recovers ``w`` and ``b`` up to the noise.
    """
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    noise = check_real("noise", noise, low=0.0)
    _check_float_dtype(dtype)
    gen = _generator(seed)
    w = torch.randn(d, generator=gen, dtype=torch.float64)
    b = 2.0 * torch.rand((), generator=gen, dtype=torch.float64).item() - 1.0
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = X @ w + b + noise * torch.randn(n, generator=gen, dtype=torch.float64)
    return Regression(X.to(dtype), y.unsqueeze(1).to(dtype), w.to(dtype), b)


def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0, *,
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Return two interleaving half circles: ``X`` (n, 2) and labels ``y`` (n,) in {0, 1}.

    Class 0 lies on the upper half of the unit circle, ``(cos t, sin t)``; class 1 on
    the lower half circle ``(1 - cos t, 1/2 - sin t)``, with ``t`` uniform in [0, pi].
    Gaussian noise of standard deviation ``noise`` is added to every coordinate and
    the samples are shuffled. No straight line separates the classes.
    """
    n = check_int("n", n, low=2)
    noise = check_real("noise", noise, low=0.0)
    _check_float_dtype(dtype)
    gen = _generator(seed)
    y = (torch.arange(n) >= n // 2).long()
    t = math.pi * torch.rand(n, generator=gen, dtype=torch.float64)
    upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    lower = torch.stack([1.0 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
    X = torch.where(y[:, None] == 0, upper, lower)
    X = X + noise * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    order = torch.randperm(n, generator=gen)
    return X[order].to(dtype), y[order]


def make_spirals(n: int = 300, classes: int = 3, noise: float = 0.2, seed: int = 0, *,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``classes`` interleaved spiral arms: ``X`` (n, 2) and labels ``y`` (n,).

    Arm ``k`` has points at radius ``r`` evenly spaced in [0, 1] and angle
    ``2 pi k / classes + 4 r + noise * eps`` (``eps`` standard normal), i.e.
    ``x = r (cos angle, sin angle)``. The noise is on the angle, so it blurs the arms
    without moving points off the unit disc. The samples are shuffled.
    """
    n = check_int("n", n, low=1)
    classes = check_int("classes", classes, low=2)
    if n < classes:
        raise ValueError(f"n must be >= classes so that every class has a sample, got n={n}, classes={classes}")
    noise = check_real("noise", noise, low=0.0)
    _check_float_dtype(dtype)
    gen = _generator(seed)
    y = torch.arange(n) % classes
    # Position of each sample along its arm: 0, 1, 2, ... within the class.
    rank = torch.arange(n) // classes
    per_class = torch.bincount(y, minlength=classes)
    r = rank.double() / (per_class[y] - 1).clamp(min=1).double()
    angle = 2 * math.pi * y.double() / classes + 4.0 * r
    angle = angle + noise * torch.randn(n, generator=gen, dtype=torch.float64)
    X = r[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    order = torch.randperm(n, generator=gen)
    return X[order].to(dtype), y[order]
