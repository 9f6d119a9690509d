"""Assignments for nbgrader: export and grade."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from .instructors import _registry
from .pages import ROOT, book_exercises
from .render import _cell_id


def _signature_parts(signature: str) -> tuple[str, str, str]:
    """``'f(a, b) -> c'`` -> ``('f', 'a, b', 'c')``."""
    found = re.match(r"^\s*(\w+)\((.*?)\)\s*(?:->\s*(.+))?$", signature)
    if not found:
        raise ValueError(f"cannot read the signature {signature!r}")
    return found.group(1), found.group(2), (found.group(3) or "").strip()


def _function_bodies(path: Path | str | None) -> dict[str, str]:
    """Function name -> body source (dedented) for each top-level function in a file."""
    if path is None:
        return {}
    source = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))  # a syntax error names the file and the line
    lines = source.splitlines()
    bodies = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
                    and isinstance(first.value.value, str) and len(node.body) > 1:
                first = node.body[1]
            body = lines[first.lineno - 1:node.end_lineno]
            indent = min(len(l) - len(l.lstrip()) for l in body if l.strip())
            bodies[node.name] = "\n".join(l[indent:] for l in body)
    return bodies


def _nb_meta(grade_id: str, *, solution: bool, grade: bool, points: int | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": not solution, "grade_id": grade_id,
            "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return meta


def assignment_notebook(labels: list[str], name: str, solutions: Path | str | None = None):
    """The instructor's (source) notebook of an nbgrader assignment.

    For each exercise label of ``codebase.checks.EXERCISES``: its task, a solution cell with
    the function to write (the reference body from ``solutions``, a Python file of functions
    named as in the signatures, between nbgrader's BEGIN/END SOLUTION markers) and a locked,
    graded test cell that calls the check. Points are the exercise's difficulty.
    """
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    registry = _registry()
    unknown = [label for label in labels if label not in registry]
    if unknown:
        raise ValueError(f"labels have no check in codebase.checks.EXERCISES: {unknown}")
    if not labels:
        raise ValueError("labels must name at least one exercise")
    bodies = _function_bodies(solutions)
    book = {e.label: e for e in book_exercises()}
    cells = [new_markdown_cell(
        f"# Assignment {name}\n\nWrite each function below, then run the test cell under it. "
        "The tests are the checks of `codebase.checks`: they compare your function with the "
        "book's reference on several random inputs and explain the first difference.")]
    setup = new_code_cell("import math\n\nimport torch\n\nimport codebase\n\ncodebase.setup()")
    setup.metadata["nbgrader"] = _nb_meta("setup", solution=False, grade=False)
    cells.append(setup)
    total = 0
    for label in labels:
        entry = registry[label]
        function, params, returns = _signature_parts(entry.signature)
        where = book.get(label)
        heading = where.title if where else entry.task
        text = [f"## {heading}", "", entry.task, "",
                f"Chapter: *{entry.chapter}*; about {entry.minutes} minutes; difficulty {entry.difficulty} of 3.",
                "", f"Signature: `{entry.signature}`."]
        cells.append(new_markdown_cell("\n".join(text)))
        doc = entry.task + (f"\n\n    Returns {returns}." if returns else "")
        body = bodies.get(function, "raise NotImplementedError(\"reference solution missing\")")
        solution = (f"def {function}({params}):\n    \"\"\"{doc}\n    \"\"\"\n    ### BEGIN SOLUTION\n"
                    + "\n".join("    " + line if line else "" for line in body.splitlines())
                    + "\n    ### END SOLUTION")
        cell = new_code_cell(solution)
        cell.metadata["nbgrader"] = _nb_meta(_cell_id(label), solution=True, grade=False)
        cells.append(cell)
        test = new_code_cell(f"from codebase.checks import {entry.name}\n\n"
                             f"{entry.name}({function}).raise_for_failure()")
        test.metadata["nbgrader"] = _nb_meta(_cell_id(f"{label}-test"), solution=False, grade=True,
                                             points=entry.difficulty)
        total += entry.difficulty
        cells.append(test)
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"
    nbformat.validate(notebook)
    return notebook


def run_nbgrader(course: Path | str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader ARGS`` in the course directory (nbgrader calls ``alembic``, so
    the folder of this Python's scripts is put first on ``PATH``)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def export_assignment(labels: list[str], name: str, out: Path | str | None = None, *,
                      solutions: Path | str | None = None, generate: bool = True) -> Path:
    """Write an nbgrader course folder for ``labels`` and generate the student version.

    ``out/source/NAME/NAME.ipynb`` is the instructor's notebook, and (with ``generate``)
    ``out/release/NAME/NAME.ipynb`` the student's, made by ``nbgrader generate_assignment``.
    Returns ``out``.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"name must be letters, digits, '-' or '_', got {name!r}")
    out = Path(out) if out is not None else ROOT / "_build" / "assignments" / name
    if solutions is not None and not Path(solutions).is_file():
        raise FileNotFoundError(f"--solutions {solutions}: no such file")
    notebook = assignment_notebook(labels, name, solutions)  # checks every argument before anything is written
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; choose another --out")
    (out / "source" / name).mkdir(parents=True, exist_ok=True)
    import nbformat

    nbformat.write(notebook, out / "source" / name / f"{name}.ipynb")
    (out / "nbgrader_config.py").write_text(
        "# Written by python -m booktools.course export-assignment\n"
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {('how-networks-train-' + name)!r}\n"
        "c.CourseDirectory.root = __file__.rsplit('/', 1)[0] if '/' in __file__ else '.'\n"
        f"c.CourseDirectory.db_assignments = [dict(name={name!r})]\n"
        "c.ExecutePreprocessor.timeout = 300\n", encoding="utf-8")
    if generate:
        run_nbgrader(out, "generate_assignment", name, "--force")
    return out


def grade_assignment(course: Path | str, name: str) -> dict[str, tuple[float, float]]:
    """Autograde every submission in ``course/submitted/*/NAME/`` with nbgrader and return
    student id -> (score, max score), read from nbgrader's CSV export."""
    import csv

    course = Path(course)
    run_nbgrader(course, "autograde", name, "--force", "--create")
    run_nbgrader(course, "export", "--to", "grades.csv")
    with (course / "grades.csv").open() as handle:
        return {row["student_id"]: (float(row["score"]), float(row["max_score"]))
                for row in csv.DictReader(handle) if row["assignment"] == name}
