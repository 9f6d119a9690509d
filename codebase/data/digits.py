"""scikit-learn's 8x8 handwritten digits, split and standardized without importing scikit-learn."""
from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import check_flag, check_int, check_real
from .splits import Split, Splits, _check_float_dtype


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
    check_flag("standardize", standardize)
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
