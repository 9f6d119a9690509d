"""What the student's function returned: its type, shape, dtype, finiteness, and differences.

These helpers turn a returned value (already decoded from plain data) into tensors or
numbers, or stop the check with a ``Failure`` that says what
to fix; ``first_difference`` finds the first entry that differs from the reference at
the tolerance of the result's precision.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from .plain import Opaque
from .results import Failure

DTYPE = torch.float64
FLOAT32_TOL = 5e-5
"""Tolerance for results computed in float32 (a float32 result, or float32 numbers such as
``torch.tensor(0.9)`` inside a float64 computation), relative to the largest entry of the
expected tensor: float32 rounding of ``beta2 = 0.999`` alone moves ``1 - beta2`` by 1.3e-5."""
FLOAT32_HINT = ("your code computes in float32 here (torch.tensor(0.9) is float32): use plain Python "
                "numbers or the inputs' dtype (torch.as_tensor(x, dtype=theta.dtype)) to keep float64.")


def fmt(x: float) -> str:
    return f"{x:.6g}"


def describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def index_text(index) -> str:
    return "" if index == () else f"[{', '.join(map(str, index))}]"


def hyper_text(hyper: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hyper.items())


def unpack(result, outputs: tuple[str, ...], where: str, returns: str) -> tuple:
    """The returned value(s) as a tuple of the expected length."""
    if result is None:
        raise Failure(f"your function returned None {where}.",
                      f"end it with `return {returns}` (also when you update the tensors in place).")
    if len(outputs) == 1:
        if isinstance(result, (tuple, list)) and len(result) == 1:
            result = result[0]
        return (result,)
    if not isinstance(result, (tuple, list)):
        raise Failure(f"your function returned one {type(result).__name__} {where}, but it must "
                      f"return {len(outputs)} values: {returns}.",
                      f"return the new optimizer state too: `return {returns}`.")
    if len(result) != len(outputs):
        raise Failure(f"your function returned {len(result)} values {where}, but it must return "
                      f"{len(outputs)}: {returns}.", f"`return {returns}`, in this order.")
    return tuple(result)


def as_tensor(value, name: str, shape, where: str, shape_hint: str = "") -> torch.Tensor:
    """Check type, shape and dtype kind of one returned tensor (float32 and float64 are both fine)."""
    if value is None:
        raise Failure(f"the returned {name} is None {where}.",
                      f"return the updated tensor {name}, not the result of an in-place method "
                      "that returns None.")
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool) and tuple(shape) == ():
        value = torch.tensor(float(value), dtype=DTYPE)
    elif not isinstance(value, torch.Tensor):
        kind = value.type_name if isinstance(value, Opaque) else type(value).__name__
        raise Failure(f"the returned {name} is a {kind} {where}; it must be a tensor of shape {tuple(shape)}.",
                      "compute with torch operations on the input tensors so the result is a tensor.")
    value = value.detach()
    if tuple(value.shape) != tuple(shape):
        hint = shape_hint or f"{name} must have the shape of the inputs, {tuple(shape)}."
        if value.dim() == 2 and tuple(value.shape) == tuple(shape)[::-1]:
            hint = f"you returned the transpose: the expected shape is {tuple(shape)}. {shape_hint}".strip()
        elif tuple(shape) == () and value.numel() > 1:
            hint = f"{name} is one number: sum over all entries (.sum()) to get a 0-d tensor."
        elif value.numel() == 1 and value.dim() == 0:
            hint = f"you reduced {name} to one number (a sum or mean?); keep one entry per parameter."
        raise Failure(f"the returned {name} has shape {tuple(value.shape)} {where}, expected "
                      f"{tuple(shape)}.", hint)
    if value.is_complex():
        raise Failure(f"the returned {name} has the complex dtype {value.dtype} {where}.",
                      "the result is real: look for the square root or power of a negative number.")
    if not value.is_floating_point():
        raise Failure(f"the returned {name} has the integer dtype {value.dtype} {where}.",
                      "compute with floating-point tensors (e.g. torch.zeros_like(theta)).")
    if value.dtype not in (torch.float32, torch.float64):
        raise Failure(f"the returned {name} has dtype {value.dtype} {where}, but the inputs are "
                      f"{DTYPE}.", "keep the inputs' dtype: build new tensors with torch.zeros_like(theta) "
                      "or torch.as_tensor(x, dtype=theta.dtype).")
    return value


def as_number(value, where: str) -> float:
    """One returned number (a float, an int, a one-element tensor or array)."""
    if value is None:
        raise Failure(f"your function returned None {where}.", "end it with `return lr` (a number).")
    if isinstance(value, bool):
        raise Failure(f"your function returned the bool {value} {where}; it must return a number.")
    if isinstance(value, (torch.Tensor, np.ndarray)):
        size = value.numel() if isinstance(value, torch.Tensor) else value.size
        if size != 1:
            raise Failure(f"your function returned a tensor of shape {tuple(value.shape)} {where}; "
                          "it must return one number.", "compute the rate for the single step k.")
        if isinstance(value, torch.Tensor) and value.is_complex() or np.iscomplexobj(value):
            raise Failure(f"your function returned the complex number {describe(value)} {where}.",
                          "the result is real: look for the power of a negative number.")
        return float(value.reshape(()).item()) if isinstance(value, np.ndarray) else float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    kind = value.type_name if isinstance(value, Opaque) else type(value).__name__
    raise Failure(f"your function returned a {kind} {where}; it must return one number.",
                  "return the learning rate at step k as a float.")


def precision(value) -> str:
    """``'float32'`` if the value was computed in float32 (or less), else ``'float64'``."""
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != torch.float64:
        return "float32"
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.dtype != np.float64:
        return "float32"
    if isinstance(value, np.generic) and isinstance(value, np.floating) and value.dtype != np.float64:
        return "float32"
    return "float64"


def nonfinite(value: torch.Tensor):
    """``None`` if all entries are finite, else (index, 'NaN' or 'inf' or '-inf') of the first bad one."""
    bad = ~torch.isfinite(value)
    if not bool(bad.any()):
        return None
    index = tuple(int(i) for i in bad.nonzero()[0]) if value.dim() else ()
    x = float(value[index]) if value.dim() else float(value)
    return index, "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def first_difference(got: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float):
    """``None`` if ``got`` is close to ``expected``, else (index, got, expected) of the first entry that is not."""
    close = torch.isclose(got.to(DTYPE), expected.to(DTYPE), rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    index = tuple(int(i) for i in (~close).nonzero()[0]) if got.dim() else ()
    return index, float(got[index]), float(expected[index])
