"""Reading a submission without running it: its code cells, a hash of them, the calls a function makes.

Everything here parses the student's code (``ast``) and never executes it.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re

_MAGIC = re.compile(r"^(\s*)([%!].*)$", re.M)


def code_cells(notebook, skip_ids: set[str] = frozenset()) -> list[str]:
    """The code cells of a notebook, in order, without the cells whose nbgrader ``grade_id``
    is in ``skip_ids`` (the locked test cells); IPython magics (``%``, ``!``) become comments."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in skip_ids:
            continue
        cells.append(_MAGIC.sub(r"\1# (magic removed) \2", cell.source))
    return cells


def content_hash(*parts) -> str:
    """A SHA-256 of JSON-serializable parts (the code cells, the tasks, the grader's settings)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _trees(cells: list[str]) -> list[ast.Module]:
    trees = []
    for source in cells:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            continue
    return trees


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else f"?.{node.attr}"
    return None


def _names(cells: list[str]):
    """(aliases: local name -> module path, functions: top-level name -> def node)."""
    aliases, functions = {}, {}
    for tree in _trees(cells):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[node.name] = node
            elif isinstance(node, ast.Assign) and isinstance(node.value, (ast.Name, ast.Attribute)):
                for target in node.targets:      # solver = codebase.optim.adamw.adamw_update
                    if isinstance(target, ast.Name):
                        aliases[target.id] = _dotted(node.value) or ""
    return aliases, functions


def used_names(cells: list[str], function: str) -> set[str]:
    """The dotted names (resolved through imports) and the strings that ``function`` uses,
    following the other top-level functions of the submission it refers to."""
    aliases, functions = _names(cells)
    found: set[str] = set()
    todo = [functions[function]] if function in functions else []
    # ``adamw_step = some.library.function`` or ``= lambda ...``: what is assigned is the function
    todo += [node.value for tree in _trees(cells) for node in tree.body if isinstance(node, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == function for t in node.targets)]
    seen: set[int] = set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for inner in ast.walk(node):
            if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                found.add(inner.value)
            if not isinstance(inner, (ast.Name, ast.Attribute)):
                continue
            name = _dotted(inner)
            if not name:
                continue
            head, _, rest = name.partition(".")
            if head in functions:                # the student's own function: read it too
                if head != getattr(node, "name", None):
                    todo.append(functions[head])
                continue
            while head in aliases and aliases[head] and aliases[head] != head:
                name = aliases[head] + (f".{rest}" if rest else "")
                head, _, rest = name.partition(".")
            found.add(name)
    return found


def forbidden_calls(cells: list[str], function: str, forbidden) -> list[str]:
    """The names of ``forbidden`` (dotted, e.g. ``codebase.optim.adamw.adamw_update`` or
    ``torch.optim.AdamW``) that ``function`` uses, however it imports or reaches them."""
    used = used_names(cells, function)
    last_parts = {name.rsplit(".", 1)[-1] for name in used}
    hits = []
    for name in forbidden:
        last = name.rsplit(".", 1)[-1]
        if name in used or last in last_parts or last in used:
            hits.append(name)
    return hits
