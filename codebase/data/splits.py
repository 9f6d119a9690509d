"""A data set's parts (:class:`Split`, :class:`Splits`) and the checks shared by the data modules."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import check_int


@dataclass(frozen=True, eq=False)
class Split:
    """Inputs ``X`` (n, d) and targets ``y`` (n,) or (n, k) of one part of a data set.

    ``len(split)`` is the number of samples, and ``X, y = split`` unpacks it, so a
    ``Split`` can be passed wherever an ``(X, y)`` pair is expected. ``index`` (n,),
    when known, holds the rows of the original data set that the samples came from,
    e.g. to show the raw image of a misclassified digit.
    """

    X: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor | None = None

    def __post_init__(self):
        _check_pair(self.X, self.y)
        if self.index is not None and len(self.index) != len(self.y):
            raise ValueError(f"index must have one entry per sample, got {len(self.index)} for {len(self.y)}")

    def __len__(self) -> int:
        return self.X.shape[0]

    def __iter__(self):
        return iter((self.X, self.y))


@dataclass(frozen=True, eq=False)
class Splits:
    """The ``train``, ``val`` and ``test`` parts of a data set (each a :class:`Split`).

    ``mean`` and ``std`` are the per-feature statistics of the *training* inputs that
    were used to standardize all three parts (``None`` without standardization).
    ``train, val, test = splits`` unpacks the three parts.
    """

    train: Split
    val: Split
    test: Split
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None

    def __iter__(self):
        return iter((self.train, self.val, self.test))



def _check_pair(X, y):
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be torch tensors, got {type(X).__name__} and {type(y).__name__}")
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must have a sample dimension, got a 0-d tensor")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of samples, got {X.shape[0]} and {y.shape[0]}")


def _check_float_dtype(dtype):
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")


def _generator(seed):
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    return torch.Generator().manual_seed(seed)
