"""The tasks of an assignment: statement, conventions, link, reference solution, stub.

A task is an autograded exercise (a label of ``codebase.checks.EXERCISES``). Its text is
the exercise's statement as the chapter writes it (MyST roles made plain), the conventions
its check states (the check's docstring), and a link to the exercise in the published book:
``html.baseurl`` of ``_config.yml``, or, when that is empty, the GitHub Pages address of
``repository.url``. Its reference solution comes from a Python file (``--solutions``) or,
by default, from the book's own solution of the exercise (the solution's code cells and
its Python code blocks); the reference keeps the imports and the helper functions and
constants it needs, put inside the function so that the function stands alone.
"""
from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

from .pages import ROOT, Exercise

_ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<body>[^`]*)`")
_PY_BLOCK = re.compile(r"^[ \t]*```(?:python|py|\{code-block\}\s*python)[ \t]*\n(.*?)^[ \t]*```", re.M | re.S)


def signature_parts(signature: str) -> tuple[str, str, str]:
    """``'f(a, b) -> c'`` -> ``('f', 'a, b', 'c')``."""
    found = re.match(r"^\s*(\w+)\((.*?)\)\s*(?:->\s*(.+))?$", signature)
    if not found:
        raise ValueError(f"cannot read the signature {signature!r}")
    return found.group(1), found.group(2), (found.group(3) or "").strip()


def book_url(root: Path | str = ROOT) -> str:
    """The published book's address, ending in ``/`` (see the module's docstring)."""
    import yaml

    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8")) or {}
    base = str((config.get("html") or {}).get("baseurl") or "")
    if not base:
        repo = str((config.get("repository") or {}).get("url") or "")
        found = re.match(r"https://github\.com/([^/]+)/([^/]+?)/?$", repo)
        if not found:
            raise ValueError("_config.yml has neither html.baseurl nor a GitHub repository.url")
        base = f"https://{found.group(1)}.github.io/{found.group(2)}/"
    return base if base.endswith("/") else base + "/"


def plain_markdown(text: str) -> str:
    """MyST roles as plain Markdown: ``{ref}`text <x>``` -> text, ``{math}`x``` -> $x$, glue -> "(see the chapter)"."""
    def replace(match):
        role, body = match.group("role"), match.group("body")
        explicit = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", body, re.S)
        if role == "math":
            return f"${body}$"
        if role.startswith("glue"):
            return "(the value in the chapter)"
        if role in ("eq", "numref"):
            return f"equation ({body})" if role == "eq" else (explicit.group("text") if explicit else body)
        if role == "cite:p" or role == "cite:t" or role.startswith("cite"):
            return f"[{body}]"
        return explicit.group("text") if explicit else f"*{body}*"
    return _ROLE.sub(replace, text)


def statement(label: str, entry, exercise: Exercise | None, root: Path | str = ROOT) -> str:
    """The markdown of a task: title, statement, conventions, signature, link and estimates."""
    function, _, _ = signature_parts(entry.signature)
    title = exercise.title if exercise else entry.task.rstrip(".")
    text = [f"## {plain_markdown(title)}", ""]
    if exercise is not None:
        text += [plain_markdown(exercise.text), "",
                 f"The exercise in the book: <{book_url(root)}chapters/{exercise.chapter}.html#{label}>", ""]
    else:
        text += [entry.task, ""]
    rules = inspect.getdoc(entry.check) or ""
    text += [f"Write `{entry.signature}`.", "", "**How your function is checked.** " + rules.replace("\n", " ").replace("``", "`"),
             "", f"*About {entry.minutes} minutes; difficulty {entry.difficulty} of 3; "
             f"chapter `{entry.chapter}`.*"]
    return "\n".join(text)


def _reference_module(label: str, exercise: Exercise | None, solutions: str | None) -> tuple[str, str]:
    """(source, where) of the Python code holding the reference solution."""
    if solutions is not None:
        return solutions, "the --solutions file"
    if exercise is None:
        return "", "the book (no chapter states this exercise)"
    blocks = list(exercise.solution_code) + _PY_BLOCK.findall(exercise.solution_text)
    return "\n\n".join(textwrap.dedent(b) for b in blocks), f"the book's solution of {label}"


def _bound(node) -> set[str]:
    """The names an import statement binds."""
    return {(a.asname or a.name).split(".")[0] for a in node.names}


def reference_body(label: str, function: str, exercise: Exercise | None,
                   solutions: str | None, filename: str = "<solutions>",
                   context: tuple[str, ...] = ()) -> tuple[str, str]:
    """``(parameters, body)`` of the reference ``function``: its parameter list as written
    (extra parameters with defaults are kept), and its body, preceded by what it needs from
    around it: the imports of the reference's code (and those of ``context``, the chapter's
    code cells, for the names the reference uses but does not import), its helper functions and
    classes, and the constants it reads. Raises ``ValueError`` if the function is missing,
    naming where it was looked for."""
    source, where = _reference_module(label, exercise, solutions)
    tree = ast.parse(source, filename=filename) if solutions is not None else _parse_blocks(source)
    target = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function), None)
    if target is None:
        raise ValueError(f"no reference solution for {label}: {where} defines no function {function}(...); "
                         "pass --solutions FILE with that function")
    lines = source.splitlines()
    helpers_nodes = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name != function]
    used = {n.id for part in [target, *helpers_nodes] for n in ast.walk(part) if isinstance(n, ast.Name)}
    local = {a.arg for a in ast.walk(target.args) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    free = used - local
    helpers, imported = [], set()
    for node in tree.body:
        keep = isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", None) != "__future__"
        if keep:
            imported |= _bound(node)
        if node in helpers_nodes:
            keep = True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in free for t in node.targets):
            keep = True
        if keep:
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            helpers.append(textwrap.dedent("\n".join(lines[start - 1:node.end_lineno])))
    around = []
    for cell in context:
        try:
            around.extend(ast.walk(ast.parse(cell)))
        except SyntaxError:
            continue
    for node in around:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", None) != "__future__" \
                and (_bound(node) & (free - imported)):
            helpers.insert(0, ast.unparse(node))
            imported |= _bound(node)
    first = target.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(target.body) > 1:
        first = target.body[1]
    body = textwrap.dedent("\n".join(lines[first.lineno - 1:target.end_lineno]))
    return ast.unparse(target.args), "\n".join(helpers + [body])


def _parse_blocks(source: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"the book's solution does not parse: {error}") from None


def stub_function(entry, message: str) -> str:
    """A stub of the function to write, with its signature, and the check call under it."""
    function, params, _ = signature_parts(entry.signature)
    return (f"def {function}({params}):\n    # {entry.task}\n"
            f"    raise NotImplementedError({message!r})\n\n\n"
            f"from codebase.checks import {entry.name}\n\n{entry.name}({function})")
