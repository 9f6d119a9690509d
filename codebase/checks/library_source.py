"""Refusing the library's answer on source text: the grader's reader, which runs nothing.

``codebase.checks.library`` reads a live function's bytecode, in the student's own kernel.
An autograder must not import the submission, so it reads the text instead, with ``ast``,
and applies the same rule: a function that refers to a library function which solves the
exercise gets no points. Both readers follow the helpers the function calls that are
defined in the same notebook, and ``tests/test_checks_adversarial.py`` runs both on the
same submissions.

A reference is found when, resolved through the notebook's imports and top-level
assignments (``import codebase.optim.adamw as a``, ``from torch.optim import AdamW as W``,
``solver = a.adamw_update``), a name or attribute chain that starts at a library module ends
with the last part of a forbidden name; or when a string in the function spells that last
part (``getattr(torch.nn.utils, "clip_grad_norm_")``). A function of the student's own
that happens to carry a library name is the student's, and is read, not refused.
"""
from __future__ import annotations

import ast

from .library import LIBRARIES

__all__ = ["library_calls_in_source", "dotted_name"]


def _trees(source) -> list[ast.Module]:
    """The parsed cells (a string is one cell); a cell that does not parse is skipped, as it
    defines nothing the grader could call."""
    trees = []
    for text in [source] if isinstance(source, str) else list(source):
        try:
            trees.append(ast.parse(text))
        except SyntaxError:
            continue
    return trees


def dotted_name(node) -> str | None:
    """``"a.b.c"`` for the expression ``a.b.c`` (names and attributes only), else ``None``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted_name(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _namespace(trees):
    """(aliases: local name -> dotted path, functions: top-level name -> its def node,
    assigned: top-level name -> the expressions assigned to it)."""
    aliases: dict[str, str] = {}
    functions: dict[str, ast.AST] = {}
    assigned: dict[str, list] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                functions[node.name] = node
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value)
                        if (dotted := dotted_name(node.value)) is not None:
                            aliases[target.id] = dotted        # solver = a.adamw_update
    return aliases, functions, assigned


def _expand(name: str, aliases: dict) -> str:
    head, _, rest = name.partition(".")
    seen = set()
    while head in aliases and aliases[head] != head and head not in seen:
        seen.add(head)
        name = aliases[head] + (f".{rest}" if rest else "")
        head, _, rest = name.partition(".")
    return name


def library_calls_in_source(source, forbidden, function: str | None = None) -> list[str]:
    """The library names that ``source`` refers to and that solve the exercise, sorted.

    ``source`` is a string or a list of cells; ``forbidden`` the dotted names the check
    declares (``"codebase.optim.adamw_update"``). With ``function``, only that function is
    read, with the functions of the same source it calls, recursively (and what is assigned
    to its name: ``adamw_step = lambda *x: a.adamw_update(*x)``); without it, the whole
    source. Names come back as the source reaches them, aliases expanded
    (``codebase.optim.adamw.adamw_update``); a name reached through a string comes back as
    declared.
    """
    last = {name.rsplit(".", 1)[-1]: name for name in forbidden}
    trees = _trees(source)
    aliases, functions, assigned = _namespace(trees)
    if function is None:
        todo: list = list(trees)
    else:
        todo = ([functions[function]] if function in functions else []) + assigned.get(function, [])
    found: set[str] = set()
    seen: set[int] = set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for inner in ast.walk(node):
            if isinstance(inner, ast.Constant) and isinstance(inner.value, str) and inner.value in last:
                found.add(last[inner.value])
                continue
            if isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Load):
                name = dotted_name(inner)
            elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                name = inner.id
            else:
                continue
            if name is None:
                continue
            head = name.partition(".")[0]
            if function is not None and head in functions and head not in aliases:
                todo.append(functions[head])     # the student's own helper: read it too
                continue
            for value in (assigned.get(head, []) if function is not None and head not in functions else []):
                todo.append(value)
            name = _expand(name, aliases)
            if name.split(".")[0] in LIBRARIES and name.rsplit(".", 1)[-1] in last:
                found.add(name)
    return sorted(found)
