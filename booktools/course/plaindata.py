"""Plain data between the grader and a student's process: values as JSON, never as pickles.

The grader sends the arguments of a call and reads back what the student's function
returned. What comes back is decoded with :func:`decode`, which builds only numbers,
strings, lists, tuples, dicts, tensors, NumPy arrays and random generators' states, never
an object of the student's choosing and never code: unpickling could run anything. Values
that have no plain form (a student's own class, a lambda) come back as :class:`Opaque`,
which a check rejects like any wrong type.

Going the other way (grader to student), ``allow_code=True`` also lets the grader send its
own functions (e.g. a check's loss function) as their compiled code, their defaults and
their closure's values: the student's process rebuilds them. :func:`decode` in the grader
never accepts code.
"""
from __future__ import annotations

import base64
import importlib
import json
import marshal
import types

import numpy as np
import torch

_NUMPY_KINDS = "biufc"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class Opaque:
    """A value that could not be sent as plain data; it only remembers its type and repr."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return f"<{self.type_name} {self.text}>"


class Unsendable(TypeError):
    """The grader tried to send a value that has no plain form."""


def _bytes(array) -> str:
    return base64.b64encode(array.tobytes()).decode("ascii")


def _encode(value, allow_code: bool):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"$": "tuple", "items": [_encode(v, allow_code) for v in value]}
    if isinstance(value, list):
        return [_encode(v, allow_code) for v in value]
    if isinstance(value, dict):
        return {"$": "dict", "items": [[_encode(k, allow_code), _encode(v, allow_code)] for k, v in value.items()]}
    if isinstance(value, torch.Tensor) and value.layout == torch.strided and not value.is_quantized:
        flat = value.detach().cpu().contiguous().reshape(-1)
        return {"$": "tensor", "dtype": str(flat.dtype).removeprefix("torch."), "shape": list(value.shape),
                "grad": bool(value.requires_grad), "data": _bytes(flat.view(torch.uint8).numpy())}
    if isinstance(value, np.ndarray) and value.dtype.kind in _NUMPY_KINDS:
        return {"$": "ndarray", "dtype": value.dtype.str, "shape": list(value.shape),
                "data": _bytes(np.ascontiguousarray(value))}
    if isinstance(value, np.generic) and value.dtype.kind in _NUMPY_KINDS:
        return {"$": "npscalar", "dtype": value.dtype.str, "data": _bytes(np.asarray(value))}
    if isinstance(value, torch.dtype):
        return {"$": "torch.dtype", "name": str(value).removeprefix("torch.")}
    if isinstance(value, torch.Generator):
        return {"$": "torch.Generator", "state": _encode(value.get_state(), False)}
    if isinstance(value, np.random.Generator):
        return {"$": "numpy.Generator", "state": _encode(value.bit_generator.state, False)}
    if allow_code and isinstance(value, types.FunctionType):
        return {"$": "function", "module": value.__module__, "name": value.__name__,
                "code": base64.b64encode(marshal.dumps(value.__code__)).decode("ascii"),
                "defaults": _encode(value.__defaults__, True),
                "closure": [_encode(cell.cell_contents, True) for cell in value.__closure__ or ()]}
    if allow_code:
        raise Unsendable(f"cannot send {type(value).__name__} {value!r:.60} to the student's process")
    try:
        text = repr(value)[:60]
    except Exception:                     # a student's __repr__ may raise: only the type is kept
        text = "(its repr failed)"
    return {"$": "opaque", "type": type(value).__name__, "repr": text}


def dumps(value, *, allow_code: bool = False) -> bytes:
    """``value`` as UTF-8 JSON; ``allow_code`` sends functions (grader to student only)."""
    return json.dumps(_encode(value, allow_code)).encode("utf-8")


def _decode(data, allow_code: bool):
    if isinstance(data, list):
        return [_decode(v, allow_code) for v in data]
    if not isinstance(data, dict):
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        raise ValueError(f"not plain data: {type(data).__name__}")
    kind = data.get("$")
    if kind == "tuple":
        return tuple(_decode(v, allow_code) for v in data["items"])
    if kind == "dict":
        return {_decode(k, allow_code): _decode(v, allow_code) for k, v in data["items"]}
    if kind == "tensor":
        dtype = getattr(torch, str(data["dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown tensor dtype {data['dtype']!r}")
        raw = bytearray(base64.b64decode(data["data"]))
        flat = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        tensor = flat.view(dtype).reshape([int(n) for n in data["shape"]]).clone()
        # the student's process gets the inputs that require a gradient as leaves that do
        return tensor.requires_grad_(True) if allow_code and data.get("grad") and tensor.is_floating_point() else tensor
    if kind in ("ndarray", "npscalar"):
        dtype = np.dtype(str(data["dtype"]))
        if dtype.kind not in _NUMPY_KINDS:
            raise ValueError(f"refused NumPy dtype {dtype}")
        array = np.frombuffer(base64.b64decode(data["data"]), dtype=dtype).copy()
        return array.reshape([int(n) for n in data["shape"]]) if kind == "ndarray" else array[0]
    if kind == "torch.dtype":
        dtype = getattr(torch, str(data["name"]), None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown dtype {data['name']!r}")
        return dtype
    if kind == "torch.Generator":
        generator = torch.Generator()
        generator.set_state(_decode(data["state"], False))
        return generator
    if kind == "numpy.Generator":
        state = _decode(data["state"], False)
        if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
            raise ValueError("unknown NumPy bit generator")
        bits = getattr(np.random, state["bit_generator"])()
        bits.state = state
        return np.random.Generator(bits)
    if kind == "opaque":
        return Opaque(str(data["type"])[:60], str(data["repr"])[:60])
    if kind == "function" and allow_code:
        module = importlib.import_module(data["module"])
        cells = tuple(types.CellType(_decode(v, True)) for v in data["closure"])
        return types.FunctionType(marshal.loads(base64.b64decode(data["code"])), vars(module),
                                  data["name"], _decode(data["defaults"], True), cells or None)
    raise ValueError(f"not plain data: {kind!r}")


def loads(raw: bytes, *, allow_code: bool = False):
    """The value :func:`dumps` wrote. Without ``allow_code`` (the grader's side) only plain
    data is built; anything else raises ``ValueError``."""
    return _decode(json.loads(raw.decode("utf-8")), allow_code)


def tensors(value) -> list:
    """Every tensor in ``value`` (nested lists, tuples and dict values), in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return [t for item in items for t in tensors(item)]
