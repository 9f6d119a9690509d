"""Course tooling: student and instructor editions, course packs and nbgrader assignments.

Everything is built from the one source in the repository: the chapters with their
stored outputs. Run the commands from the repository root::

    python -m booktools.course student-edition                 # site + notebooks, no solutions
    python -m booktools.course instructor-edition              # everything, solutions included
    python -m booktools.course student-edition --pack chapters/courses/optimizers-2-weeks.yml
    python -m booktools.course export-assignment adam-ex-implement lr-ex-cosine --name week1
    python -m booktools.course export-assignment --pack chapters/courses/optimizers-2-weeks.yml --week 2
    python -m booktools.course grade _build/assignments --name week1   # scores, CSVs, feedback, mistakes
    python -m booktools.course audit _build/student             # prove a student build has no solution
    python -m booktools.course exercise-table --write          # refresh chapters/instructors.md

How solutions are found: an exercise is a sphinx-exercise ``exercise`` directive with a
``:label:``; its solution is a ``solution`` directive naming that label, or everything
between ``solution-start`` and ``solution-end`` (markdown and code cells). The student
edition drops the solution text, and replaces the solution's code cells by one stub cell
that raises ``NotImplementedError`` with a hint. Student notebooks are not executed (a stub
raises by design): the site is built from the outputs stored in the chapters, with
``execute_notebooks: off``. Sphinx-exercise's own ``hide_solutions`` option is not enough:
it drops ``solution`` directives but not the cells between ``solution-start`` and
``solution-end`` (with sphinx-exercise 1.2.1 the HTML build even fails on the orphaned
``solution_end_node``), and the ``_sources`` copies of the notebooks would keep everything.
The student edition still sets it, as a second guard, once the solutions are gone.

A course pack is a small YAML file (see ``chapters/courses/``) naming the chapters and,
per chapter, the exercises to keep; the same two edition commands build it with ``--pack``.
References from a kept page to a page or an exercise that the pack leaves out become
plain text, so the pack builds with warnings treated as errors.

The package is split by what each part does: ``pages`` reads the book (and its table of
contents), ``render`` writes student notebooks, ``packs`` reads course packs,
``editions`` builds a site, ``audit`` proves a student site holds no solution,
``instructors`` keeps the exercise table and the schedules, ``nbgrader`` and ``tasks``
export assignments (checked against their own references), ``grading`` grades them with
the students' code in its own process (``sandbox``, ``student_process``, ``plaindata``,
``submissions``), ``reports`` writes what the instructor reads after grading, and
``__main__`` is the command line.
"""
from .audit import AuditReport, Fingerprints, audit, solution_fingerprints
from .editions import build_edition
from .instructors import (course_packs, estimates, exercise_table, generated_blocks, pack_schedule,
                          page_with_blocks)
from .grading import grade_assignment
from .nbgrader import assignment_notebook, export_assignment, pack_labels, run_nbgrader
from .packs import Pack, load_pack
from .pages import INSTRUCTOR_PAGES, REFERENCE_PAGES, ROOT, Exercise, Page, Piece, book_exercises, book_pages, load_page, toc_names
from .render import render_page, student_notebook, stub_source

__all__ = [
    "ROOT", "INSTRUCTOR_PAGES", "REFERENCE_PAGES", "Piece", "Exercise", "Page", "Pack", "Fingerprints", "AuditReport",
    "load_page", "toc_names", "book_pages", "book_exercises", "render_page", "stub_source", "student_notebook",
    "build_edition", "load_pack", "course_packs", "pack_schedule",
    "solution_fingerprints", "audit",
    "estimates", "exercise_table", "generated_blocks", "page_with_blocks",
    "assignment_notebook", "export_assignment", "pack_labels", "run_nbgrader", "grade_assignment",
]
