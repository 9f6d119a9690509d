"""Data for the chapters: scikit-learn's handwritten digits, small synthetic sets, mini-batches.

Every function that draws random numbers takes a ``seed`` (or a ``torch.Generator``),
so the same call gives the same tensors on every machine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np
import torch

from ._checks import check_generator, check_int, check_real

__all__ = ["Split", "Splits", "Regression", "load_digits", "make_regression", "make_moons",
           "make_spirals", "batches", "num_batches"]


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


class Regression(NamedTuple):
    """A synthetic regression set: inputs ``X`` (n, d), targets ``y`` (n, 1), and the true ``w`` (d,) and ``b``."""

    X: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor
    b: float


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


def load_digits(*, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0,
                standardize: bool = True, dtype: torch.dtype = torch.float32) -> Splits:
    """Return scikit-learn's 8x8 handwritten digits split into train, validation and test parts.

    The set has 1,797 images of 10 classes; ``X`` holds the 64 pixel intensities
    (0 to 16) and ``y`` the digit as a ``torch.long``. The split is stratified (each
    part has the classes in the same proportions) and fixed by ``seed``: first
    ``test_fraction`` of the samples go to the test part, then ``val_fraction`` of
    the whole set to the validation part, the rest to training.

    With ``standardize=True`` every pixel is shifted and scaled by the mean and
    standard deviation of the *training* part only, so nothing about the validation
    or test images leaks into training. Pixels that are constant in the training
    part (the corners are always 0) keep a scale of 1.
    """
    val_fraction = check_real("val_fraction", val_fraction, low=0.0, high=1.0, high_open=True)
    test_fraction = check_real("test_fraction", test_fraction, low=0.0, high=1.0, high_open=True)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError("val_fraction + test_fraction must be < 1 to leave samples for training, "
                         f"got {val_fraction} + {test_fraction}")
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    _check_float_dtype(dtype)
    X, y = _digits_arrays()
    rest, test = _stratified_split(np.arange(len(y)), y, test_fraction, seed)
    # val_fraction is a fraction of the whole set; rescale it to the part that is left.
    train, val = _stratified_split(rest, y[rest], val_fraction / (1.0 - test_fraction), seed)

    mean = std = None
    if standardize:
        mean = X[train].mean(axis=0)
        std = X[train].std(axis=0)
        std[std == 0] = 1.0
        X = (X - mean) / std
        mean, std = torch.as_tensor(mean, dtype=dtype), torch.as_tensor(std, dtype=dtype)

    def part(rows):
        return Split(torch.as_tensor(X[rows], dtype=dtype), torch.as_tensor(y[rows], dtype=torch.long),
                     torch.as_tensor(rows, dtype=torch.long))

    return Splits(part(train), part(val), part(test), mean, std)


_DIGITS: tuple[np.ndarray, np.ndarray] | None = None


def _digits_arrays():
    """Return scikit-learn's digits as ``(X, y)``: float64 (1797, 64) and int (1797,), copies.

    The same arrays as ``sklearn.datasets.load_digits(return_X_y=True)``, read from
    the CSV file that scikit-learn ships, without importing scikit-learn: that
    import costs more CPU than everything else a chapter does before training.
    The arrays are read once per process.
    """
    global _DIGITS
    if _DIGITS is None:
        import gzip
        import importlib.util
        from pathlib import Path

        spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("load_digits needs scikit-learn installed (pip install scikit-learn)")
        path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
        with gzip.open(path, mode="rt", encoding="utf-8") as csv:
            data = np.loadtxt(csv, delimiter=",")
        _DIGITS = (data[:, :-1], data[:, -1].astype(int, copy=False))
    X, y = _DIGITS
    return X.copy(), y.copy()


def _stratified_split(index, labels, fraction, seed):
    """Split ``index`` into (kept, taken) with ``fraction`` of it taken, stratified by ``labels``.

    The same split as scikit-learn's ``train_test_split(index, test_size=fraction,
    random_state=seed, stratify=labels)``, drawn with the same NumPy calls in the
    same order, so the rows are identical (``tests/test_data_split.py`` checks it);
    computed here to spare every chapter the import of ``sklearn.model_selection``.
    Cases that scikit-learn rejects are passed to it, for its error message.
    """
    if fraction == 0.0:
        return index, index[:0]
    n = len(index)
    n_test = math.ceil(fraction * n)
    n_train = n - n_test
    classes, y_indices, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    if (np.ndim(labels) != 1 or len(labels) != n or n_train <= 0 or n_test <= 0 or class_counts.min() < 2
            or n_train < len(classes) or n_test < len(classes)):
        from sklearn.model_selection import train_test_split

        kept, taken = train_test_split(index, test_size=fraction, random_state=seed, stratify=labels)
        return kept, taken
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train, test = [], []
    for i in range(len(classes)):
        rows = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.extend(rows[:n_i[i]])
        test.extend(rows[n_i[i]:n_i[i] + t_i[i]])
    train, test = rng.permutation(train), rng.permutation(test)
    return index[train], index[test]


def _approximate_mode(class_counts, n_draws, rng):
    """How many of ``n_draws`` to take from each class: the floors of the proportional shares,
    then one more for the largest remainders, ties broken at random (scikit-learn's rule)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


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


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Return how many batches :func:`batches` yields for ``n`` samples.

    A ``batch_size`` larger than ``n`` counts as ``n`` (one full batch).
    """
    n = check_int("n", n, low=0)
    batch_size = check_int("batch_size", batch_size, low=1)
    if n == 0:
        return 0
    batch_size = min(batch_size, n)
    return n // batch_size if drop_last else -(-n // batch_size)


def batches(X: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = True,
            generator: torch.Generator | None = None,
            drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Iterate over one epoch of mini-batches ``(Xb, yb)``.

    With ``shuffle=True`` the order is a random permutation drawn from ``generator``
    (pass a seeded ``torch.Generator`` for reproducible epochs; ``None`` uses torch's
    global generator). Every sample appears exactly once per epoch, except that
    ``drop_last=True`` drops a last batch smaller than ``batch_size``. A
    ``batch_size`` larger than ``len(X)`` gives a single full batch, even with
    ``drop_last=True``. The arguments are checked and the permutation is drawn when
    ``batches`` is called, not when iteration starts.
    """
    _check_pair(X, y)
    batch_size = check_int("batch_size", batch_size, low=1)
    check_generator("generator", generator)
    n = X.shape[0]
    count = num_batches(n, batch_size, drop_last)
    size = min(batch_size, n)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)

    def epoch():
        for i in range(count):
            rows = order[i * size:(i + 1) * size]
            yield X[rows], y[rows]

    return epoch()
