"""Sparse binary features with a Zipf-like frequency profile, for adaptive-rate experiments.

:func:`make_sparse_classification` draws a logistic-regression problem in which a few
features are active in many examples and most are active in very few, yet every
feature carries a weight of the same typical size. It is the setting in which one
global learning rate is a poor compromise: the gradient of a rare feature's weight is
zero in most mini-batches.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .._checks import check_int, check_real

__all__ = ["SparseClassification", "zipf_frequencies", "make_sparse_classification"]


class SparseClassification(NamedTuple):
    """A sparse binary classification set and the model that generated it.

    - ``X``: (n, d) features, each 0 or 1.
    - ``y``: (n,) labels, each 0.0 or 1.0 (floats, ready for ``BCEWithLogitsLoss``).
    - ``w``: (d,) the true weights; with ``noise=1`` they are exactly the weights of
      the logistic model ``P(y = 1 | x) = sigmoid(x . w)``.
    - ``frequency``: (d,) the probability that each feature is active (1) in an example.
    """

    X: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor
    frequency: torch.Tensor


def zipf_frequencies(d: int, *, max_frequency: float = 0.5, exponent: float = 1.0) -> torch.Tensor:
    """Return the Zipf-like activation probabilities ``max_frequency / (j + 1) ** exponent``, j = 0..d-1.

    Feature 0 is the most frequent; with ``exponent=1`` feature 99 is active a hundred
    times less often than feature 0. ``exponent=0`` makes every feature equally frequent.
    The result is a float64 tensor of shape (d,).
    """
    d = check_int("d", d, low=1)
    max_frequency = check_real("max_frequency", max_frequency, low=0.0, high=1.0, low_open=True)
    exponent = check_real("exponent", exponent, low=0.0)
    rank = torch.arange(1, d + 1, dtype=torch.float64)
    return max_frequency * rank.pow(-exponent)


def make_sparse_classification(n: int = 2000, d: int = 100, *, max_frequency: float = 0.5,
                               exponent: float = 1.0, weight_scale: float = 2.0, noise: float = 1.0,
                               seed: int = 0, dtype: torch.dtype = torch.float32) -> SparseClassification:
    """Return a sparse logistic-regression problem ``(X, y, w, frequency)`` with known weights.

    Feature ``j`` is active (``X[i, j] = 1``) independently with probability
    ``frequency[j] = max_frequency / (j + 1) ** exponent`` (see :func:`zipf_frequencies`),
    so a few features are frequent and many are rare. The true weights are
    ``w ~ N(0, weight_scale^2)``, independent of the frequency: rare features matter as
    much, when they are present, as frequent ones. The label is

    ``y = 1[x . w + noise * e > 0]``, with ``e`` standard logistic noise,

    so ``P(y = 1 | x) = sigmoid(x . w / noise)``: with ``noise=1`` the labels follow the
    logistic model with weights ``w`` exactly, and ``noise=0`` gives noiseless labels.

    Parameters
    ----------
    n, d : int
        The number of examples and of features.
    max_frequency, exponent : float
        The activation probability of the most frequent feature (in (0, 1]) and the
        Zipf exponent (>= 0) of the frequency profile.
    weight_scale : float
        The standard deviation of the true weights (> 0).
    noise : float
        The scale (>= 0) of the logistic noise on the logit.
    seed : int
        Seeds a private ``torch.Generator``: the same arguments give the same set.
    dtype : torch.dtype
        The floating-point dtype of ``X``, ``y`` and ``w`` (``frequency`` is float64).
    """
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    frequency = zipf_frequencies(d, max_frequency=max_frequency, exponent=exponent)
    weight_scale = check_real("weight_scale", weight_scale, low=0.0, low_open=True)
    noise = check_real("noise", noise, low=0.0)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    gen = torch.Generator().manual_seed(seed)
    w = weight_scale * torch.randn(d, generator=gen, dtype=torch.float64)
    X = (torch.rand(n, d, generator=gen, dtype=torch.float64) < frequency).to(torch.float64)
    u = torch.rand(n, generator=gen, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    logistic_noise = torch.log(u) - torch.log1p(-u)   # the inverse CDF of the standard logistic
    y = (X @ w + noise * logistic_noise > 0).to(torch.float64)
    return SparseClassification(X.to(dtype), y.to(dtype), w.to(dtype), frequency)
