"""What ``grade`` leaves for the instructor: scores as CSV (plain and for Canvas), feedback, mistakes.

Written into ``course/reports/NAME/``:

- ``scores.csv``: one row per student and exercise (student, exercise, function, score,
  max score, passed, mistake);
- ``canvas.csv``: the column layout of Canvas's gradebook import (Student, ID, SIS User
  ID, SIS Login ID, Section, then one column per assignment, and a "Points Possible" row).
  Canvas, because its import takes a new assignment column as it is and creates the
  assignment; nbgrader's student id goes in "SIS Login ID", which Canvas matches students by.
  Moodle's import asks the instructor to map each column by hand, so any CSV will do there;
- ``mistakes.md``: per exercise, how many students passed and the most common mistakes
  (the checks' classifications), to know what to teach again;
- ``feedback.md``: the list of the feedback pages, one HTML page per student made by
  ``nbgrader generate_feedback`` in ``course/feedback/STUDENT/NAME/``.

nbgrader's gradebook receives the scores given here (``auto_score`` of each test cell), and
the autograded notebooks it renders are the submissions with each test cell's output set
to the check's message: nbgrader never runs a submission.
"""
from __future__ import annotations

import copy
import csv
import warnings
from collections import Counter
from pathlib import Path


def _rows(everyone) -> list[dict]:
    return [{"student": student, "exercise": r.label, "function": r.function, "score": f"{r.score:g}",
             "max_score": f"{r.points:g}", "passed": r.passed, "mistake": r.mistake}
            for student, results in sorted(everyone.items()) for r in results]


def write_scores(folder: Path, everyone) -> Path:
    path = folder / "scores.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["student", "exercise", "function", "score", "max_score", "passed", "mistake"])
        writer.writeheader()
        writer.writerows(_rows(everyone))
    return path


def write_canvas(folder: Path, name: str, tasks, everyone) -> Path:
    path = folder / "canvas.csv"
    top = sum(task.points for task in tasks)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", name])
        writer.writerow(["Points Possible", "", "", "", "", f"{top:g}"])
        for student, results in sorted(everyone.items()):
            writer.writerow([student, "", "", student, "", f"{sum(r.score for r in results):g}"])
    return path


def write_mistakes(folder: Path, name: str, tasks, everyone) -> Path:
    lines = [f"# Assignment {name}: the most common mistakes", "",
             f"{len(everyone)} submissions. For each exercise: how many passed, and the mistakes "
             "the checks recognized, most common first.", ""]
    for task in tasks:
        results = [r for rs in everyone.values() for r in rs if r.label == task.label]
        passed = sum(r.passed for r in results)
        lines += [f"## {task.label} (`{task.function}`)", "", f"{passed} of {len(results)} passed.", ""]
        for mistake, count in Counter(r.mistake for r in results if not r.passed).most_common(5):
            lines.append(f"- {count} \u00d7 {mistake}")
        lines.append("")
    path = folder / "mistakes.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _autograded(submission, source, tasks_by_id, results_by_id):
    """The submission with the locked test cells restored from the source and their output set to the verdict."""
    import nbformat

    notebook = copy.deepcopy(submission)
    originals = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in source.cells}
    for index, cell in enumerate(notebook.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in tasks_by_id and grade_id in originals:
            cell = notebook.cells[index] = copy.deepcopy(originals[grade_id])
            result = results_by_id.get(grade_id)
            text = result.message if result else "not graded"
            if result is not None and result.passed:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
            else:
                cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue=text,
                                                       traceback=[f"CheckFailed: {text}"])]
    return notebook


def write_feedback(course: Path, name: str, tasks, everyone) -> list[Path]:
    """Scores into nbgrader's gradebook, autograded notebooks, and ``nbgrader generate_feedback``."""
    import nbformat
    from nbgrader.api import Gradebook

    from .nbgrader import run_nbgrader

    source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
    tasks_by_id = {task.grade_id: task for task in tasks}
    warnings.filterwarnings("ignore", message=".*not in session", module="nbgrader")  # nbgrader's own SQLAlchemy use
    with Gradebook(f"sqlite:///{(course / 'gradebook.db').resolve()}") as gradebook:
        for student, results in everyone.items():
            gradebook.update_or_create_student(student)
            gradebook.update_or_create_submission(name, student)
            for result in results:
                grade = gradebook.find_grade(result.grade_id, name, name, student)
                grade.auto_score = result.score
            gradebook.db.commit()
            submitted = course / "submitted" / student / name
            notebook = nbformat.read(submitted / f"{name}.ipynb", as_version=4)
            out = course / "autograded" / student / name
            out.mkdir(parents=True, exist_ok=True)
            nbformat.write(_autograded(notebook, source, tasks_by_id, {r.grade_id: r for r in results}),
                           out / f"{name}.ipynb")
            stamp = submitted / "timestamp.txt"
            if stamp.exists():
                (out / "timestamp.txt").write_text(stamp.read_text())
    run_nbgrader(course, "generate_feedback", name, "--force")
    return sorted((course / "feedback").glob(f"*/{name}/{name}.html"))


def write_reports(course: Path, name: str, tasks, everyone) -> dict[str, Path]:
    """Write every report of the module's docstring; return name -> path."""
    folder = course / "reports" / name
    folder.mkdir(parents=True, exist_ok=True)
    pages = write_feedback(course, name, tasks, everyone)
    listing = folder / "feedback.md"
    listing.write_text(f"# Assignment {name}: feedback pages\n\n" + "".join(
        f"- {page.parents[1].name}: {page.relative_to(course)}\n" for page in pages), encoding="utf-8")
    return {"scores": write_scores(folder, everyone), "canvas": write_canvas(folder, name, tasks, everyone),
            "mistakes": write_mistakes(folder, name, tasks, everyone), "feedback": listing}
