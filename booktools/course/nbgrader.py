"""Assignments for nbgrader: export (checked: the reference must pass its own checks)."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from .instructors import _registry
from .pages import ROOT, book_pages
from .render import _cell_id
from .tasks import reference_body, signature_parts, statement


def _nb_meta(grade_id: str, *, solution: bool, grade: bool, points: int | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": not solution, "grade_id": grade_id,
            "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return meta


def assignment_notebook(labels: list[str], name: str, solutions: Path | str | None = None):
    """The instructor's (source) notebook of an nbgrader assignment.

    For each exercise label of ``codebase.checks.EXERCISES``: its task (the exercise's
    statement, the check's conventions, a link to the book; :func:`.tasks.statement`), a
    solution cell with the function to write (the reference body, with the imports and
    helpers it needs, between nbgrader's BEGIN/END SOLUTION markers; from ``solutions``, a
    Python file of functions named as in the signatures, or else from the book's solution)
    and a locked, graded test cell that calls the check (for the student while working; the
    score comes from ``grade``). Points are the exercise's difficulty. Raises ``ValueError``
    if a label has no check or no reference solution.
    """
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    registry = _registry()
    unknown = [label for label in labels if label not in registry]
    if unknown:
        raise ValueError(f"labels have no check in codebase.checks.EXERCISES: {unknown}")
    if not labels:
        raise ValueError("labels must name at least one exercise")
    source = Path(solutions).read_text(encoding="utf-8") if solutions is not None else None
    if source is not None:
        ast.parse(source, filename=str(solutions))  # a syntax error names the file and the line
    pages = book_pages()
    book = {e.label: e for page in pages for e in page.exercises()}
    chapter_code = {page.name: tuple(p.text for p in page.pieces if p.kind == "code" and p.role == "public")
                    for page in pages}
    cells = [new_markdown_cell(
        f"# Assignment {name}\n\nWrite each function below, then run the test cell under it. "
        "The tests are the checks of `codebase.checks`: they compare your function with the "
        "book's reference on several random inputs and explain the first difference. Your grade "
        "comes from the same checks, run by the instructor on your function's outputs. Write the "
        "rules yourself: a function that calls the library function solving the exercise gets no "
        "points, and each call of your function must return within a few seconds.")]
    setup = new_code_cell("import math\n\nimport torch\n\nimport codebase\n\ncodebase.setup()")
    setup.metadata["nbgrader"] = _nb_meta("setup", solution=False, grade=False)
    cells.append(setup)
    for label in labels:
        entry = registry[label]
        function, params, returns = signature_parts(entry.signature)
        cells.append(new_markdown_cell(statement(label, entry, book.get(label))))
        params, body = reference_body(label, function, book.get(label), source, str(solutions),
                                      context=chapter_code.get(getattr(book.get(label), "page", None), ()))
        doc = entry.task + (f"\n\n    Returns {returns}." if returns else "")
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
        test.metadata["booktools"] = {"label": label, "function": function}
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


#: The course id of a new course folder (nbgrader's exchange keys assignments by it).
COURSE_ID = "how-networks-train"


def _config(course: Path, course_id: str | None) -> str:
    """nbgrader_config.py for ``course``: the course id it already has (or ``course_id``, or
    :data:`COURSE_ID`) and every assignment in ``source/``."""
    path = course / "nbgrader_config.py"
    old = re.search(r"course_id\s*=\s*['\"]([^'\"]+)['\"]", path.read_text(encoding="utf-8")) if path.exists() else None
    if old and course_id and old.group(1) != course_id:
        raise ValueError(f"{course} is the course {old.group(1)!r}; it cannot become {course_id!r} "
                         "(nbgrader's exchange would lose its assignments): use another --out")
    the_id = old.group(1) if old else course_id or COURSE_ID
    names = sorted(p.name for p in (course / "source").iterdir() if p.is_dir())
    return ("# Written by python -m booktools.course export-assignment; the course id is kept\n"
            "c = get_config()\n"
            f"c.CourseDirectory.course_id = {the_id!r}\n"
            "c.CourseDirectory.root = __file__.rsplit('/', 1)[0] if '/' in __file__ else '.'\n"
            f"c.CourseDirectory.db_assignments = {[dict(name=n) for n in names]!r}\n"
            "c.ExecutePreprocessor.timeout = 60\n")


def pack_labels(pack: Path | str, week: int | None = None) -> list[str]:
    """The autograded exercises of a course pack (of its week ``week``, counted from 1), in order."""
    from .packs import load_pack

    the_pack = load_pack(pack)
    weeks = the_pack.weeks
    if week is not None:
        if not 1 <= week <= len(weeks):
            raise ValueError(f"--week must be between 1 and {len(weeks)} for {pack}, got {week}")
        weeks = [weeks[week - 1]]
    registry = _registry()
    labels = [label for w in weeks for entry in w["chapters"] for label in the_pack.chapters[entry["chapter"]]
              if label in registry]
    if not labels:
        raise ValueError(f"{pack}{f' week {week}' if week else ''} has no autograded exercise")
    return labels


def validate(course: Path | str, name: str) -> None:
    """``nbgrader validate`` on the instructor's notebook: the reference must pass its own checks."""
    path = Path(course) / "source" / name / f"{name}.ipynb"
    done = run_nbgrader(course, "validate", str(path), check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0 or "Success!" not in output:
        failed = re.findall(r"CheckFailed: (.*)", output) or output.strip().splitlines()[-1:]
        raise ValueError(f"the reference solutions fail their own checks ({'; '.join(failed)[:300]}); "
                         "nothing was exported")


def export_assignment(labels: list[str], name: str, out: Path | str | None = None, *,
                      solutions: Path | str | None = None, generate: bool = True,
                      course_id: str | None = None) -> Path:
    """Write an nbgrader assignment for ``labels`` into the course folder ``out`` and generate
    the student version.

    ``out/source/NAME/NAME.ipynb`` is the instructor's notebook, and (with ``generate``)
    ``out/release/NAME/NAME.ipynb`` the student's, made by ``nbgrader generate_assignment``.
    One course folder holds many assignments: ``nbgrader_config.py`` keeps the course id it
    was first written with and lists every assignment. With ``generate``, the instructor's
    notebook is first run by ``nbgrader validate``: an assignment whose reference fails its
    own checks is refused (``ValueError``) and its folder removed. Returns ``out``.
    """
    import nbformat

    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"name must be letters, digits, '-' or '_', got {name!r}")
    out = Path(out) if out is not None else ROOT / "_build" / "assignments"
    if solutions is not None and not Path(solutions).is_file():
        raise FileNotFoundError(f"--solutions {solutions}: no such file")
    notebook = assignment_notebook(labels, name, solutions)  # checks every argument before anything is written
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; choose another --out")
    folder = out / "source" / name
    existed = folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{name}.ipynb")
    try:
        config = _config(out, course_id)
        if generate:
            validate(out, name)
    except ValueError:
        if not existed:
            import shutil

            shutil.rmtree(folder)
        raise
    (out / "nbgrader_config.py").write_text(config, encoding="utf-8")
    if generate:
        run_nbgrader(out, "generate_assignment", name, "--force")
    return out
