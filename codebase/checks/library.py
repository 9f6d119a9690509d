"""Refusing the library's answer: "write it yourself" means not calling ``adamw_update``.

A check declares the library functions that solve its exercise as dotted names
(``"codebase.optim.adamw_update"``, ``"torch.optim.AdamW"``). ``library_calls`` reads
the student's function without running it: the names and attributes its bytecode loads,
resolved through its globals and closure (so ``from codebase.optim import adamw_update as
f`` and ``import codebase.optim.adamw as a; a.adamw_update`` are both found), following the
helper functions it calls that are defined in the same notebook or module, recursively.
``codebase.checks.library_source`` applies the same rule to source text, for a grader that
must not import the submission.
"""
from __future__ import annotations

import builtins
import dis
import sys
import types

from .results import Failure

__all__ = ["LIBRARIES", "library_calls", "refuse_library"]

LIBRARIES = ("torch", "codebase", "numpy", "scipy", "sklearn", "lion_pytorch", "pytorch_optimizer",
              "schedulefree")


def _resolve(dotted: str):
    """The object a dotted name refers to, if its module is already imported (a function that
    refers to a module nobody imported cannot hold its objects), else ``None``."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        obj = sys.modules.get(".".join(parts[:cut]))
        if obj is None:
            continue
        for name in parts[cut:]:
            obj = _attribute(obj, name) if isinstance(obj, types.ModuleType) else getattr(obj, name, None)
        return obj
    return None


def _is_library(obj) -> bool:
    module = getattr(obj, "__module__", None) or getattr(obj, "__name__", "")
    return isinstance(module, str) and module.split(".")[0] in LIBRARIES


def _attribute(obj, name):
    """``obj.name`` for a module (read from its ``__dict__``, so no code runs), else ``None``."""
    if isinstance(obj, types.ModuleType):
        return vars(obj).get(name)
    return None


def _scan(code, namespace: dict, cells: dict, found: list, seen: set, bare: dict, targets: dict):
    current = None
    for ins in dis.get_instructions(code):
        op, name = ins.opname, ins.argval
        if op in ("LOAD_GLOBAL", "LOAD_NAME"):
            current = namespace.get(name, vars(builtins).get(name))
        elif op == "LOAD_DEREF":
            current = cells.get(name)
        elif op == "IMPORT_NAME":
            current = sys.modules.get(name)
            _visit(current, found, seen, bare, targets, name)
        elif op in ("LOAD_ATTR", "LOAD_METHOD", "IMPORT_FROM"):
            current = _attribute(current, name)
            if current is None and name in bare:
                found.append(bare[name])
        else:
            current = None
            continue
        _visit(current, found, seen, bare, targets, name)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _scan(const, namespace, cells, found, seen, bare, targets)


def _visit(obj, found, seen, bare, targets, name):
    if obj is None:
        return
    for dotted, target in targets.items():
        if obj is target:
            found.append(dotted)
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    func = getattr(obj, "func", None)  # functools.partial
    if func is not None and not isinstance(obj, types.FunctionType):
        _visit(func, found, seen, bare, targets, name)
    if isinstance(obj, types.FunctionType) and not _is_library(obj) and id(obj.__code__) not in seen:
        seen.add(id(obj.__code__))      # a helper of the student's: read it too
        _scan(obj.__code__, obj.__globals__, _cells(obj), found, seen, bare, targets)


def _cells(fn) -> dict:
    names = fn.__code__.co_freevars
    values = {}
    for name, cell in zip(names, fn.__closure__ or ()):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # an empty cell
            pass
    return values


def library_calls(fn, forbidden) -> list[str]:
    """The dotted names of ``forbidden`` that ``fn`` (or a helper it calls) refers to."""
    targets = {name: obj for name in forbidden if (obj := _resolve(name)) is not None}
    bare = {name.rsplit(".", 1)[-1]: name for name in forbidden}
    found: list[str] = []
    seen: set = set()
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    if isinstance(fn, types.FunctionType):
        _visit(fn, found, seen, bare, targets, "")
    else:
        _visit(fn, found, seen, bare, targets, "")
        call = getattr(type(fn), "__call__", None)
        if isinstance(call, types.FunctionType):
            _visit(call, found, seen, bare, targets, "")
    return sorted(set(found))


def refuse_library(fn, forbidden, func: str) -> None:
    """Stop the check (no points) if ``fn`` calls one of the ``forbidden`` library functions."""
    if not forbidden:
        return
    try:
        found = library_calls(fn, forbidden)
    except Exception:  # an odd callable: nothing to read, nothing refused
        return
    if found:
        raise Failure(f"{func} calls {', '.join(found)}, which solves this exercise for you: the exercise "
                      "asks you to write it yourself, so the check gives it no points.",
                      "write the computation with torch operations (the formula of the exercise); "
                      "you may call the library afterwards to compare.", "library")
