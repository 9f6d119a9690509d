"""Plain data: how inputs and outputs of a student's function travel between processes.

``encode`` turns tensors, arrays, numbers, strings, ``None``, tuples, lists and
dictionaries into JSON-compatible data (arrays as base64 bytes with their dtype and shape);
anything else becomes a description of its type. ``decode`` turns that back into
tensors, arrays and numbers. Decoding runs no code of the sender: it reads JSON and copies
bytes into arrays of an allowed dtype, never unpickles, so the grading process can decode
what a student's process sent.

Inputs that are not data (a seeded random generator, a loss function) are written as
markers (``Seeded``, ``Quadratic``) and made into objects by ``materialize``
in the process that calls the student's function.
"""
from __future__ import annotations

import base64
import numbers
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["encode", "decode", "Seeded", "Quadratic", "materialize"]

_NUMPY_DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
                 "complex64", "complex128"}


@dataclass(frozen=True)
class Seeded:
    """A random generator seeded with ``seed``: ``kind`` is ``'torch'`` (``torch.Generator``) or
    ``'numpy'`` (``np.random.default_rng``). Markers with the same ``key`` in one batch of
    calls are the same generator object, so that successive calls continue its stream."""

    kind: str
    seed: int
    key: str = ""


@dataclass(frozen=True)
class Quadratic:
    """The loss ``theta @ A @ theta / 2 + b @ theta`` as a function of ``theta``."""

    A: torch.Tensor
    b: torch.Tensor


def _array(a: np.ndarray) -> dict:
    a = np.array(a, order="C", copy=True)
    return {"__array__": base64.b64encode(a.tobytes()).decode("ascii"), "dtype": str(a.dtype),
            "shape": list(a.shape)}


def encode(value, depth: int = 0):
    """``value`` as JSON-compatible data (see the module's docstring)."""
    if depth > 20:
        return {"__object__": "deeply nested data", "repr": ""}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        name = str(t.dtype).replace("torch.", "")
        data = t.to(torch.float32) if name == "bfloat16" else t.resolve_conj().resolve_neg()
        return {"__tensor__": _array(data.numpy()), "torch_dtype": name,
                "requires_grad": bool(value.requires_grad)}
    if isinstance(value, np.ndarray):
        if value.dtype.name not in _NUMPY_DTYPES:
            return {"__object__": f"numpy array of dtype {value.dtype}", "repr": ""}
        return _array(value)
    if isinstance(value, np.generic):
        return {"__numpy_scalar__": _array(np.asarray(value))}
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, numbers.Complex):
        return {"__complex__": [float(value.real), float(value.imag)]}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, Seeded):
        return {"__seeded__": [value.kind, value.seed, value.key]}
    if isinstance(value, Quadratic):
        return {"__quadratic__": [encode(value.A), encode(value.b)]}
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ of the student's object
        text = ""
    return {"__object__": type(value).__name__, "repr": text[:60]}


class Opaque:
    """A value that could not travel as data: its type name and a short repr."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text or f"<{self.type_name}>"


def _from_array(d: dict) -> np.ndarray:
    dtype = d["dtype"]
    if dtype not in _NUMPY_DTYPES:
        raise ValueError(f"unexpected dtype {dtype!r} in the data")
    raw = base64.b64decode(d["__array__"])
    return np.frombuffer(raw, dtype=dtype).reshape([int(n) for n in d["shape"]]).copy()


def decode(data):
    """The value that ``encode`` wrote (tensors, arrays, numbers, tuples, lists, dicts)."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        raise ValueError(f"unexpected {type(data).__name__} in the data")
    if "__tensor__" in data:
        t = torch.from_numpy(_from_array(data["__tensor__"]))
        name = data["torch_dtype"]
        if name == "bfloat16":
            t = t.to(torch.bfloat16)
        return t.requires_grad_(True) if data.get("requires_grad") and t.is_floating_point() else t
    if "__array__" in data:
        return _from_array(data)
    if "__numpy_scalar__" in data:
        return _from_array(data["__numpy_scalar__"])[()]
    if "__complex__" in data:
        return complex(*data["__complex__"])
    if "__tuple__" in data:
        return tuple(decode(v) for v in data["__tuple__"])
    if "__dict__" in data:
        return {_key(decode(k)): decode(v) for k, v in data["__dict__"]}
    if "__seeded__" in data:
        kind, seed, key = data["__seeded__"]
        return Seeded(str(kind), int(seed), str(key))
    if "__quadratic__" in data:
        return Quadratic(*(decode(v) for v in data["__quadratic__"]))
    if "__object__" in data:
        return Opaque(str(data["__object__"]), str(data.get("repr", "")))
    raise ValueError("unexpected mapping in the data")


def _key(k):
    return k if isinstance(k, (str, int, float, bool, tuple)) or k is None else repr(k)


def materialize(value, objects: dict):
    """``value`` with its markers made into objects; ``objects`` keeps keyed generators."""
    if isinstance(value, Seeded):
        if value.key and value.key in objects:
            return objects[value.key]
        made = (torch.Generator().manual_seed(value.seed) if value.kind == "torch"
                else np.random.default_rng(value.seed))
        if value.key:
            objects[value.key] = made
        return made
    if isinstance(value, Quadratic):
        A, b = value.A, value.b

        def loss_fn(theta):
            return 0.5 * theta @ (A @ theta) + b @ theta
        return loss_fn
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, list):
        return [materialize(v, objects) for v in value]
    if isinstance(value, tuple):
        return tuple(materialize(v, objects) for v in value)
    return value
