"""Grading that a submission cannot switch off, and an instructor's side that checks itself.

Each submission below runs in its own Python process (booktools.course.sandbox); the
checks run in the test's process on the outputs that come back as plain data. The
adversarial submissions try what issue 18 saw work: patching the result class,
``codebase.checks`` or ``sys.modules``, torch and math functions, calling the library's
solution, looping forever, printing megabytes, asking for 400 GB. Each gets 0 for its wrong answers and full
marks for its right ones.
"""
import csv
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import torch

from booktools import course
from booktools.course import plaindata
from booktools.course.grading import Task, grade_cells

sys.path.insert(0, str(Path(__file__).parent))
from course_submissions import (ADAM_F32, ADAM_INPLACE, ADAM_OUT, ADAM_WRONG, CLIP, CLIP_F32,  # noqa: E402
                                CLIP_INPLACE, CLIP_LIBRARY, LIBRARY, LOOP, MEMORY, PATCH_MODULES, PATCH_RESULT, PATCH_TORCH,
                                PRINTS, RESTARTS, RESTARTS_WRONG, SETUP)

TASKS = [Task("adam-ex-implement", "adam_step", "a", 2.0), Task("lr-ex-clip-by-hand", "clip_by_norm", "c", 1.0),
         Task("lr-ex-restarts", "cosine_restarts", "r", 2.0)]
FULL = {"adam-ex-implement": 2.0, "lr-ex-clip-by-hand": 1.0, "lr-ex-restarts": 2.0}

# name -> (code cells after the setup cell, the exercises that must get 0)
SUBMISSIONS = {
    "in place": ([ADAM_INPLACE, CLIP_INPLACE, RESTARTS], set()),
    "out of place": ([ADAM_OUT, CLIP, RESTARTS], set()),
    "float32 inputs": ([ADAM_F32, CLIP_F32, RESTARTS], set()),      # issue 18's float32 betas
    "patches the result class and sys.modules": (
        [PATCH_RESULT, PATCH_MODULES, ADAM_WRONG, CLIP, RESTARTS_WRONG], {"adam-ex-implement", "lr-ex-restarts"}),
    "patches torch and math": ([PATCH_TORCH, ADAM_WRONG, CLIP, RESTARTS_WRONG], {"adam-ex-implement", "lr-ex-restarts"}),
    "calls the library": ([LIBRARY, CLIP_LIBRARY, RESTARTS], {"adam-ex-implement", "lr-ex-clip-by-hand"}),
    "prints megabytes": ([PRINTS, CLIP, RESTARTS], {"adam-ex-implement"}),
    "loops forever, asks for 400 GB": ([LOOP, MEMORY, RESTARTS], {"adam-ex-implement", "lr-ex-clip-by-hand"}),
}


@pytest.fixture(scope="module")
def graded():
    def run(name):
        cells, _ = SUBMISSIONS[name]
        return name, grade_cells([SETUP, *cells], TASKS, call_seconds=2.0)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, SUBMISSIONS))


@pytest.mark.parametrize("name", list(SUBMISSIONS))
def test_each_submission_gets_zero_for_its_wrong_answers_and_full_marks_for_its_right_ones(graded, name):
    wrong = SUBMISSIONS[name][1]
    scores = {r.label: r.score for r in graded[name]}
    assert scores == {label: 0.0 if label in wrong else points for label, points in FULL.items()}, \
        [r.message for r in graded[name] if not r.passed]


def test_the_messages_say_what_happened(graded):
    by = {name: {r.label: r.message for r in results} for name, results in graded.items()}
    assert "did not return within 2 s" in by["loops forever, asks for 400 GB"]["adam-ex-implement"]
    assert "alloc" in by["loops forever, asks for 400 GB"]["lr-ex-clip-by-hand"]
    assert "clip_grad_norm_" in by["calls the library"]["lr-ex-clip-by-hand"]
    assert "adam_update" in by["calls the library"]["adam-ex-implement"]
    assert "does not match the reference" in by["patches torch and math"]["adam-ex-implement"]


def test_the_library_is_found_through_imports_aliases_helpers_and_assignments():
    from codebase.checks.library_source import library_calls_in_source as found

    cells = ["import codebase.optim.adam as a\nfrom torch.nn.utils import clip_grad_norm_ as cg\nimport torch",
             "def _helper(*x):\n    return a.adam_update(*x)\n\ndef adam_step(theta, g, m, v, t, lr, b1, b2, eps):\n"
             "    return _helper(theta, g, m, v, t)",
             "def clip_by_norm(g, c):\n    return getattr(__import__('torch').nn.utils, 'clip_grad_norm_')(g, c)",
             "def l1_penalty(w, lam):\n    return lam * w.abs().sum()\n\nprint(l1_penalty(torch.ones(2), 1.0))",
             "adamw_step = lambda *x: a.adamw_update(*x)",
             "def broken(:\n"]
    assert found(cells, ["codebase.optim.adam_update"], "adam_step") == ["codebase.optim.adam.adam_update"]
    assert found(cells, ["torch.nn.utils.clip_grad_norm_"], "clip_by_norm") == ["torch.nn.utils.clip_grad_norm_"]
    assert found(cells, ["codebase.optim.adamw_update"], "adamw_step") == ["codebase.optim.adam.adamw_update"]
    # a student's own function with the library's name is the student's
    assert found(cells, ["codebase.regularization.l1_penalty"], "l1_penalty") == []
    # a function reads only what it reaches: adam_step does not reach clip_grad_norm_
    assert found(cells, ["torch.nn.utils.clip_grad_norm_"], "adam_step") == []


def test_plain_data_round_trips_and_never_builds_code_or_objects():
    value = (torch.arange(6, dtype=torch.float32).reshape(2, 3), [1, 2.5, None, "x"], {"k": torch.tensor(True)},
             torch.Generator().manual_seed(3))
    back = plaindata.loads(plaindata.dumps(value))
    assert torch.equal(back[0], value[0]) and back[1] == value[1] and bool(back[2]["k"])
    assert torch.equal(back[3].get_state(), value[3].get_state())
    sent = plaindata.dumps(lambda x: x, allow_code=True)
    with pytest.raises(ValueError, match="not plain data"):
        plaindata.loads(sent)                       # the grader's side refuses code
    assert isinstance(plaindata.loads(plaindata.dumps(object())), plaindata.Opaque)
    with pytest.raises(ValueError):
        plaindata.loads(json.dumps({"$": "ndarray", "dtype": "O", "shape": [1], "data": ""}).encode())


# --------------------------------------------------------------------------------------
# The instructor's side: export checks the reference; a course folder keeps its course id
# --------------------------------------------------------------------------------------

HELPER_REFERENCE = '''
import math

T_MIN = 0.0


def _cycle(k, T0, T_mult):
    start, length = 0, T0
    while k >= start + length:
        start, length = start + length, length * T_mult
    return start, length


def cosine_restarts(k, lr0, T0, T_mult):
    start, length = _cycle(k, T0, T_mult)
    return T_MIN + lr0 * (1 + math.cos(math.pi * (k - start) / length)) / 2
'''


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    solutions = folder.parent / "solutions.py"
    solutions.write_text(HELPER_REFERENCE)
    course.export_assignment(["lr-ex-restarts"], "week1", folder / "course", solutions=solutions)
    return folder / "course"


def test_a_reference_with_helpers_validates_and_a_broken_one_is_refused(course_dir, tmp_path):
    source = json.dumps(nbformat.read(course_dir / "source/week1/week1.ipynb", as_version=4))
    assert "def _cycle(" in source and "import math" in source
    broken = tmp_path / "broken.py"
    broken.write_text(HELPER_REFERENCE.replace("(1 + math.cos", "(1 - math.cos"))
    with pytest.raises(ValueError, match="fail their own checks"):
        course.export_assignment(["lr-ex-restarts"], "broken", course_dir, solutions=broken)
    assert not (course_dir / "source" / "broken").exists()
    assert "broken" not in (course_dir / "nbgrader_config.py").read_text()


def test_one_course_folder_holds_many_assignments_with_one_course_id(course_dir):
    config = (course_dir / "nbgrader_config.py").read_text()
    # without --solutions the book's own solutions are the reference
    course.export_assignment(["lr-ex-clip-by-hand", "adam-ex-implement"], "week2", course_dir, generate=False)
    again = (course_dir / "nbgrader_config.py").read_text()
    assert "course_id = 'how-networks-train'" in config and "course_id = 'how-networks-train'" in again
    assert "'week1'" in again and "'week2'" in again
    with pytest.raises(ValueError, match="cannot become"):
        course.export_assignment(["lr-ex-clip-by-hand"], "week3", course_dir, generate=False, course_id="other")


def test_grade_writes_the_reports_and_does_not_run_unchanged_submissions_again(course_dir, monkeypatch, capsys):
    from booktools.course.__main__ import main

    assert main(["grade", str(course_dir), "--name", "week1"]) == 2      # nothing submitted yet
    assert "no submission to grade" in capsys.readouterr().err
    release = nbformat.read(course_dir / "release/week1/week1.ipynb", as_version=4)
    for student, body in (("ada", RESTARTS), ("bob", RESTARTS_WRONG)):
        notebook = nbformat.from_dict(json.loads(json.dumps(release)))
        for cell in notebook.cells:
            if cell.cell_type == "code" and cell.source.startswith("def cosine_restarts("):
                cell.source = body
        (course_dir / "submitted" / student / "week1").mkdir(parents=True)
        nbformat.write(notebook, course_dir / "submitted" / student / "week1" / "week1.ipynb")
    scores = course.grade_assignment(course_dir, "week1")
    assert scores == {"ada": (2.0, 2.0), "bob": (0.0, 2.0)}
    reports = course_dir / "reports" / "week1"
    with (reports / "canvas.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "week1"]
    assert rows[1][0] == "Points Possible" and rows[2][3] == "ada" and rows[3][-1] == "0"
    with (reports / "scores.csv").open() as handle:
        assert [r["score"] for r in csv.DictReader(handle)] == ["2", "0"]
    assert "1 of 2 passed" in (reports / "mistakes.md").read_text()
    pages = (reports / "feedback.md").read_text()
    for student in ("ada", "bob"):
        page = course_dir / "feedback" / student / "week1" / "week1.html"
        assert page.exists() and str(page.relative_to(course_dir)) in pages
    cached = sorted((course_dir / "grading" / "week1").glob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert course.grade_assignment(course_dir, "week1", reports=False) == scores
    assert [p.stat().st_mtime_ns for p in cached] == stamps      # nothing was graded again
    from booktools.course import grading

    monkeypatch.setattr(grading, "grader_fingerprint", lambda: "the checks changed")
    assert course.grade_assignment(course_dir, "week1", reports=False) == scores
    assert all(a != b for a, b in zip(stamps, [p.stat().st_mtime_ns for p in cached]))   # graded again


def test_without_solutions_every_exercise_takes_the_books_solution_and_it_passes_its_check(tmp_path):
    from codebase.checks import EXERCISES

    from booktools.course.grading import assignment_tasks
    from booktools.course.submissions import code_cells

    stated = {e.label for e in course.book_exercises()}
    labels = [label for label in EXERCISES if label in stated]
    course.export_assignment(labels, "all", tmp_path, generate=False)
    tasks = assignment_tasks(tmp_path, "all")
    source = nbformat.read(tmp_path / "source/all/all.ipynb", as_version=4)
    results = grade_cells(code_cells(source, {t.grade_id for t in tasks}), tasks)
    assert len(results) == len(labels) > 20 and not [(r.label, r.message) for r in results if not r.passed]
    # a checked exercise that no chapter states has no book solution: it needs --solutions
    unstated = [label for label in EXERCISES if label not in stated]
    if unstated:
        with pytest.raises(ValueError, match="no reference solution"):
            course.export_assignment(unstated[:1], "none", tmp_path, generate=False)


def test_a_pack_or_one_of_its_weeks_exports_its_autograded_exercises(tmp_path, capsys):
    from codebase.checks import EXERCISES

    from booktools.course.__main__ import main

    pack_file = Path(course.__file__).parents[2] / "chapters" / "courses" / "optimizers-2-weeks.yml"
    pack = course.load_pack(pack_file)
    weeks = [[label for entry in week["chapters"] for label in pack.chapters[entry["chapter"]] if label in EXERCISES]
             for week in pack.weeks]
    assert course.pack_labels(pack_file) == weeks[0] + weeks[1] and weeks[1]
    assert course.pack_labels(pack_file, week=2) == weeks[1]
    with pytest.raises(ValueError, match="--week must be between 1 and 2"):
        course.pack_labels(pack_file, week=3)
    out = tmp_path / "course"
    assert main(["export-assignment", "adam-ex-implement", "--pack", str(pack_file), "--out", str(out)]) == 2
    assert main(["export-assignment", "--week", "1", "--name", "w", "--out", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2 and not out.exists()
