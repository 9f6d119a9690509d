"""Argument checks shared by every module of ``codebase``.

Each check raises ``TypeError`` when the value has the wrong type and
``ValueError`` when it is out of range, and names the parameter in the
message so that a reader knows which argument to fix.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check_real", "check_int", "check_flag", "check_choice", "check_callable", "check_generator",
           "check_number", "check_nonnegative", "check_interval", "check_real_array", "check_eigenvalues"]


def _describe_range(low, high, low_open, high_open):
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return " and ".join(parts)


def check_real(name, value, *, low=None, high=None, low_open=False, high_open=False, finite=True):
    """Return ``value`` as a float after checking that it is a finite real number in range.

    ``low``/``high`` are bounds (``None`` for none); ``low_open``/``high_open`` make them strict.
    Booleans are rejected: ``lr=True`` is almost certainly a mistake. Infinity is rejected
    unless ``finite=False`` (for the few arguments where it has a meaning, such as a norm's
    order or a clipping threshold that clips nothing).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    if finite and math.isinf(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        raise ValueError(f"{name} must be {_describe_range(low, high, low_open, high_open)}, got {value!r}")
    return value


def check_int(name, value, *, low=None, high=None):
    """Return ``value`` after checking that it is an integer (not a bool) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {_describe_range(low, high, False, False)}, got {value!r}")
    return value


def check_flag(name, value):
    """Return ``value`` after checking that it is ``True`` or ``False`` (not 0, 1 or ``None``)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_choice(name, value, choices):
    """Return ``value`` after checking that it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(map(str, choices))}, got {value!r}")
    return value


def check_callable(name, value, args=None):
    """Return ``value`` after checking that it can be called, with ``args`` if they are given.

    ``args`` names the positional arguments the caller will pass, e.g. ``("model", "history")``.
    A function that cannot take them (``lambda: ...`` given as a callback) raises ``TypeError``
    now, naming the argument and how it is called, instead of a bare "takes 0 positional
    arguments" from deep inside a training loop. Callables whose signature Python cannot read
    (some built-ins) are trusted.
    """
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__} {value!r}")
    if args is not None:
        import inspect

        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):
            return value
        try:
            signature.bind(*args)
        except TypeError as error:
            called = getattr(value, "__name__", type(value).__name__)
            raise TypeError(f"{name} is called as {name}({', '.join(args)}) with {len(args)} positional "
                            f"argument{'s' if len(args) != 1 else ''}, but {called}{signature} cannot take "
                            f"them ({error})") from None
    return value


def check_generator(name, value):
    """Return ``value`` after checking that it is a ``torch.Generator`` or ``None``."""
    import torch

    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {type(value).__name__}")
    return value


def check_number(name, value):
    """Return ``value`` as a float after checking that it is a real number and not NaN (an optimizer's hyperparameter).

    Strings, ``None``, bools and tensors raise ``TypeError`` naming ``name``. Infinity passes
    here, so that a value torch rejects gets torch's message; ``BaseOptimizer`` then refuses
    every infinite hyperparameter of a group.
    """
    import torch

    if isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a Python number, got a tensor ({value!r}); tensor "
            "hyperparameters serve torch.optim's capturable and fused paths, "
            f"which this from-scratch version does not implement: pass float({name})"
        )
    return check_real(name, value, finite=False)


def check_nonnegative(name, value, label):
    """Return ``value`` as a float after checking that it is a real number ``>= 0``.

    ``label`` is the words ``torch.optim`` uses in its message, so that
    ``check_nonnegative("lr", -1.0, "learning rate")`` raises
    ``ValueError("Invalid learning rate: -1.0 (lr must be >= 0)")``.
    A non-number (a string, ``None``, a bool, a tensor) raises ``TypeError``.
    """
    value = check_number(name, value)
    if value < 0:
        raise ValueError(f"Invalid {label}: {value} ({name} must be >= 0)")
    return value


def check_interval(name, value, label, *, high, high_open):
    """Return ``value`` as a float after checking that it lies in ``[0, high]`` (or ``[0, high)``)."""
    value = check_number(name, value)
    if value < 0 or value > high or (high_open and value == high):
        interval = f"[0, {high:g})" if high_open else f"[0, {high:g}]"
        raise ValueError(f"Invalid {label}: {value} ({name} must be in {interval})")
    return value


def check_real_array(name, value, *, low=None, low_open=False):
    """Return ``value`` as a float64 array (or float) after checking it is finite and in range."""
    if isinstance(value, numbers.Real) and not isinstance(value, np.ndarray):
        value = check_real(name, value, low=low, low_open=low_open)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return value
    raw = np.asarray(value)
    if raw.dtype.kind not in "iuf":  # rejects strings, booleans, complex numbers, objects
        raise TypeError(f"{name} must be a real number or an array of them, got {type(value).__name__} {value!r}")
    array = raw.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if low is not None and (np.any(array <= low) if low_open else np.any(array < low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got min {array.min()!r}")
    return array


def check_eigenvalues(eigenvalues):
    """Return the eigenvalues as a non-empty 1-D float64 array of finite numbers >= 0."""
    lam = check_real_array("eigenvalues", eigenvalues, low=0.0)
    lam = np.atleast_1d(lam)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"eigenvalues must be a non-empty 1-D sequence, got shape {lam.shape}")
    return lam
