"""Writing pages: the student notebooks, with every solution replaced by a stub."""
from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

from codebase.checks.library_source import dotted_name

from .pages import Page, load_page


def _codebase_names(cells) -> set[str]:
    """Names that a notebook binds to ``codebase`` or to something imported from it."""
    names = set()
    for kind, source in cells:
        if kind != "code":
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update((a.asname or a.name).split(".")[0] for a in node.names
                             if a.name.split(".")[0] == "codebase")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "codebase":
                names.update(a.asname or a.name for a in node.names)
    return names


def _tools(code: list[str], bound: set[str]) -> list[str]:
    """The ``codebase`` names (functions, classes) that a solution uses, sorted."""
    found: set[str] = set()
    for source in code:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Attribute, ast.Name)):
                name = dotted_name(node)
                if name and name.split(".")[0] in bound:
                    found.add(name)
    longest = {n for n in found if not any(m.startswith(n + ".") for m in found)}
    return sorted(longest, key=lambda n: (-n.count("."), n))


def stub_source(exercise_title: str, label: str, tools: list[str]) -> str:
    """The code a student gets instead of a solution's code cells."""
    hint = f"Exercise '{exercise_title}' ({label}): replace this line with your code."
    if tools:
        hint += " Useful: " + ", ".join(tools) + "."
    return (f"# Your solution to the exercise above ({label}) goes here.\n"
            f"raise NotImplementedError({hint!r})")


#: Names a hint never suggests: the book's own machinery, and the grader.
_INTERNAL = ("glue", "checks", "setup")


def allowed_tools(tools: list[str], exercise_text: str) -> list[str]:
    """The solution's tools that a hint may name: not the book's machinery (``glue``, the
    checks), no private name, and none that the exercise says not to use ("without X")."""
    banned = {m.group(1) for m in re.finditer(r"without (?:using |calling )?`?([\w.]*\w)`?", exercise_text)}
    keep = []
    for tool in tools:
        parts = tool.split(".")
        if any(p in _INTERNAL or p.startswith("_") for p in parts):
            continue
        if any(b == tool or b.split(".")[-1] == parts[-1] for b in banned):
            continue
        keep.append(tool)
    return keep


def _stub_cell(exercise, label: str, bound: set[str], registry: dict):
    """A stub for an exercise: the function to write and its check for an autograded one,
    else a line that raises with a hint."""
    import nbformat

    from .tasks import stub_function

    title = exercise.title if exercise else label
    if label in registry:
        source = stub_function(registry[label], f"Exercise '{title}' ({label}): write the function here.")
    else:
        code = list(exercise.solution_code) if exercise else []
        source = stub_source(title, label, allowed_tools(_tools(code, bound), exercise.text if exercise else ""))
    stub = nbformat.v4.new_code_cell(source)
    stub.id = _cell_id(f"stub-{label}")
    stub.metadata["tags"] = ["raises-exception", "student-stub"]
    return stub


def _clean_markdown(parts: list[str]) -> str:
    text = "".join(parts)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def _cell_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:64]


def render_page(page: Page, *, solutions: bool, keep: set[str] | None = None, rewrite=None):
    """Return the page's new content: a notebook (``.ipynb``) or a string (``.md``).

    ``solutions=False`` drops every solution (text and code) and puts one stub cell where a
    solution's code was. ``keep`` (exercise labels) drops the other exercises with their
    solutions. ``rewrite`` maps a markdown string to a string (reference rewriting).
    """
    import nbformat

    from .instructors import _registry

    registry = _registry()
    cells = [(p.kind, p.text) for p in page.pieces if p.kind == "code"]
    bound = _codebase_names(cells)
    exercises = {e.label: e for e in page.exercises()}
    out: list = []
    buffer: list[str] = []
    buffer_cell: int | None = None
    stubbed: set[str] = set()
    dropped: list[int] = []

    pending: list[str] = []     # autograded exercises whose solution is text: a stub after the cell

    def flush():
        nonlocal buffer, buffer_cell
        if buffer_cell is not None:
            text = _clean_markdown(buffer)
            if rewrite:
                text = rewrite(text)
            if text.strip():
                if page.notebook is None:
                    out.append(text)
                else:
                    cell = copy.deepcopy(page.notebook.cells[buffer_cell])
                    cell.source = text
                    out.append(cell)
        for label in pending:
            out.append(_stub_cell(exercises.get(label), label, bound, registry))
        pending.clear()
        buffer, buffer_cell = [], None

    for piece in page.pieces:
        dropped_exercise = keep is not None and piece.role != "public" and piece.label not in keep
        drop = dropped_exercise or (piece.role == "solution" and not solutions)
        if piece.kind == "markdown":
            if buffer_cell is not None and buffer_cell != piece.cell:
                flush()
            buffer_cell = piece.cell
            if not drop:
                buffer.append(piece.text)
            elif (not dropped_exercise and page.notebook is not None and piece.label in registry
                  and piece.label not in stubbed and not exercises[piece.label].solution_code):
                stubbed.add(piece.label)
                pending.append(piece.label)
            continue
        flush()
        if not drop:
            out.append(copy.deepcopy(page.notebook.cells[piece.cell]))
            continue
        dropped.append(piece.cell)
        if not dropped_exercise and piece.label not in stubbed:
            stubbed.add(piece.label)
            out.append(_stub_cell(exercises.get(piece.label), piece.label, bound, registry))
    flush()
    if page.notebook is None:
        return "\n\n".join(out) + "\n"
    carrier = _glue_carrier(out, [page.notebook.cells[i] for i in dropped])
    if carrier is not None:
        out.append(carrier)
    notebook = copy.deepcopy(page.notebook)
    notebook.cells = out
    nbformat.validate(notebook)
    return notebook


_GLUE_USE = re.compile(r"\{glue(?::\w+)?\}`(?P<a>[^`:<]+)|\{glue(?::\w+)?\}\s+(?P<b>[\w.-]+)")


def _glue_name(output) -> str | None:
    return output.get("metadata", {}).get("scrapbook", {}).get("name")


def _glue_carrier(cells, dropped):
    """A hidden cell with the glued values that kept text quotes but only dropped cells made.

    Text outside a solution sometimes quotes a number that a solution computes; the number
    is public (the page shows it), the code is not. The cell's source is a comment.
    """
    import nbformat

    used = {m.group("a") or m.group("b") for c in cells if c.cell_type == "markdown"
            for m in _GLUE_USE.finditer(c.source)}
    have = {_glue_name(o) for c in cells if c.cell_type == "code" for o in c.get("outputs", [])}
    carried = [copy.deepcopy(o) for c in dropped for o in c.get("outputs", [])
               if _glue_name(o) in used - have]
    if not carried:
        return None
    cell = nbformat.v4.new_code_cell(
        "# The numbers quoted in the text above that an exercise's solution computes;\n"
        "# this hidden cell only carries their values (the code is in the instructor edition).")
    cell.outputs = carried
    cell.id = "glued-values"
    cell.metadata["tags"] = ["remove-cell"]
    return cell


def student_notebook(path: Path | str):
    """The student version of one chapter notebook: no solution, stubs for solution code."""
    return render_page(load_page(path, Path(path).resolve().parents[1]), solutions=False)


def _write_page(content, target: Path) -> None:
    import nbformat

    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    else:
        nbformat.write(content, target)
