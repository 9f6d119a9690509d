"""Grading an exported assignment: the checks run here, the students' code in their own process.

For each submission ``course/submitted/STUDENT/NAME/NAME.ipynb``, the code cells (all but
the locked test cells) run in a fresh Python process (:class:`.sandbox.StudentProcess`);
each task's check of :mod:`codebase.checks` runs in this process and calls a stand-in of
the student's function, which sends the inputs to the student's process and gets the
outputs back as plain data. The verdict is the check's, computed here: a submission cannot
patch the checks, ``sys.modules`` or torch of this process. Before anything runs, the
function's code is read (not run) for the library functions that solve the exercise (the
check's ``forbidden`` names): a submission that calls them gets no points for that task.

A submission whose code cells and tasks have not changed since the last ``grade`` is not
run again: its results are kept in ``course/grading/NAME/STUDENT.json`` under the hash of
its code, its tasks, the time limit and the grader's own code (:func:`grader_fingerprint`).
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from .sandbox import CALL_SECONDS, ProcessEnded, StudentProcess
from .submissions import code_cells, content_hash

def grader_fingerprint() -> str:
    """A hash of the grader's code (``codebase.checks`` and this package's grading modules):
    cached results are used only while it is unchanged."""
    import codebase.checks

    here = Path(__file__).parent
    checks = Path(codebase.checks.__file__)
    files = sorted(checks.parent.glob("*.py")) if checks.name == "__init__.py" else [checks]
    files += [here / f"{name}.py" for name in ("grading", "sandbox", "student_process", "plaindata", "submissions")]
    return content_hash([f.read_text(encoding="utf-8") for f in files])


@dataclass(frozen=True)
class Task:
    """One graded exercise of an assignment: its label, the student's function, the test cell."""

    label: str
    function: str
    grade_id: str
    points: float


@dataclass
class Result:
    """One student's result for one task; ``mistake`` names the known mistake found, if any."""

    label: str
    function: str
    grade_id: str
    points: float
    score: float
    passed: bool
    message: str
    mistake: str = ""


def assignment_tasks(course: Path | str, name: str) -> list[Task]:
    """The tasks of an exported assignment, read from its instructor notebook."""
    import nbformat

    path = Path(course) / "source" / name / f"{name}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such assignment (export it with export-assignment)")
    notebook = nbformat.read(path, as_version=4)
    tasks = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {})
        if "booktools" in meta and meta.get("nbgrader", {}).get("grade"):
            tasks.append(Task(meta["booktools"]["label"], meta["booktools"]["function"],
                              meta["nbgrader"]["grade_id"], float(meta["nbgrader"]["points"])))
    if not tasks:
        raise ValueError(f"{path} has no graded task written by export-assignment")
    return tasks


def _mistake(result) -> str:
    """What went wrong, for the summary: the check's classification (its ``mistake`` key) with
    its hint, else the hint, else the message's first line."""
    key, hint = str(getattr(result, "mistake", "") or "").strip(), str(result.hint or "").strip()
    if key and hint:
        return f"{key}: {hint}"[:200]
    first = result.message.strip().splitlines()[0] if result.message.strip() else ""
    return (key or hint or first)[:200]


def _cases(checks, label: str) -> dict | None:
    """The exercise's calls as plain data, if the checks offer them for it (``cases_for``)."""
    if not hasattr(checks, "grade_outputs"):
        return None
    try:
        return checks.cases_for(label)
    except KeyError:                     # a check registered without the protocol
        return None


def grade_cells(cells: list[str], tasks: list[Task], *, call_seconds: float = CALL_SECONDS) -> list[Result]:
    """Grade one submission's code cells against ``tasks`` (see the module's docstring); the
    library functions refused are those the check declares (``EXERCISES[label].forbidden``)."""
    from codebase import checks

    EXERCISES = checks.EXERCISES
    results: list[Result] = []
    process: StudentProcess | None = None
    try:
        for task in tasks:
            entry = EXERCISES[task.label]

            def failed(message: str, mistake: str) -> Result:
                return Result(task.label, task.function, task.grade_id, task.points, 0.0, False, message, mistake)

            hits = checks.forbidden_in_source(task.label, cells, task.function)
            if hits:
                results.append(failed(
                    f"{task.function} calls {', '.join(hits)}, which solves the exercise for you: "
                    "the exercise asks you to write the rule yourself.", "calls the library's solution"))
                continue
            if process is None or process.ended:
                if process is not None:
                    process.close()
                try:
                    process = StudentProcess(cells, call_seconds=call_seconds)
                except (ProcessEnded, TimeoutError) as error:
                    results += [failed(f"your notebook could not be run: {error}.", "notebook does not run")
                                for task in tasks[len(results):]]
                    break
            if task.function not in process.signatures:
                errors = "; ".join(f"cell {e['cell'] + 1}: {e['error']}: {e['message']}" for e in process.cell_errors)
                results.append(failed(f"your notebook defines no function named {task.function}"
                                      + (f" (errors while running it: {errors})" if errors else "") + ".",
                                      "function missing"))
                continue
            cases = _cases(checks, task.label)
            if cases is not None:                  # the checks' own protocol: cases out, outputs in
                outcome = checks.grade_outputs(task.label, process.outputs(task.function, cases))
            else:                                  # the check calls a stand-in that forwards each call
                outcome = entry.check(process.function(task.function))
            results.append(Result(task.label, task.function, task.grade_id, task.points,
                                  task.points if outcome.passed else 0.0, bool(outcome.passed),
                                  outcome.message, "" if outcome.passed else _mistake(outcome)))
    finally:
        if process is not None:
            process.close()
    return results


def grade_assignment(course: Path | str, name: str, *, call_seconds: float = CALL_SECONDS,
                     reports: bool = True, workers: int = 2) -> dict[str, tuple[float, float]]:
    """Grade every submission of ``course/submitted/*/NAME/NAME.ipynb`` and return
    student id -> (score, max score). With ``reports``, write the CSVs, the feedback and
    the summary of mistakes too (:func:`.reports.write_reports`)."""
    import nbformat

    course = Path(course)
    tasks = assignment_tasks(course, name)
    test_ids = {task.grade_id for task in tasks}
    cache = course / "grading" / name
    cache.mkdir(parents=True, exist_ok=True)
    everyone: dict[str, list[Result]] = {}
    todo = []
    grader = grader_fingerprint()
    submissions = sorted(course.glob(f"submitted/*/{name}/{name}.ipynb"))
    if not submissions:
        raise FileNotFoundError(f"no submission to grade: {course}/submitted/STUDENT/{name}/{name}.ipynb is missing "
                                "for every student")
    for path in submissions:
        student = path.parents[1].name
        cells = code_cells(nbformat.read(path, as_version=4), test_ids)
        key = content_hash(grader, cells, [asdict(t) for t in tasks], call_seconds)
        stored = cache / f"{student}.json"
        kept = json.loads(stored.read_text(encoding="utf-8")) if stored.exists() else {}
        if kept.get("key") == key:
            everyone[student] = [Result(**r) for r in kept["results"]]
        else:
            todo.append((student, cells, key, stored))

    def grade(item):
        student, cells, key, stored = item
        results = grade_cells(cells, tasks, call_seconds=call_seconds)
        stored.write_text(json.dumps({"key": key, "results": [asdict(r) for r in results]}, indent=1),
                          encoding="utf-8")
        return student, results

    # the students' processes do the work: two at a time keep two cores busy
    with ThreadPoolExecutor(max_workers=workers) as pool:
        everyone.update(pool.map(grade, todo))
    everyone = dict(sorted(everyone.items()))
    if reports:
        from .reports import write_reports

        write_reports(course, name, tasks, everyone)
    top = sum(task.points for task in tasks)
    return {student: (sum(r.score for r in results), top) for student, results in everyone.items()}
