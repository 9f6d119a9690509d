"""Course tooling (codebase/course.py): editions, course packs, nbgrader assignments, the instructors' page.

The build tests build real sites with Jupyter Book from the stored outputs (nothing is
executed), one per module, and scan every file of the result.
"""
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from booktools import course

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "chapters" / "courses" / "one-week-intro.yml"


# --------------------------------------------------------------------------------------
# Reading and rewriting pages (fast)
# --------------------------------------------------------------------------------------

def _md(text):
    return nbformat.v4.new_markdown_cell(text)


def _code(text, outputs=()):
    cell = nbformat.v4.new_code_cell(text)
    cell.outputs = list(outputs)
    return cell


def _glue(name, value):
    return nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": value},
        metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}})


@pytest.fixture
def toy(tmp_path):
    """A chapter with every layout the book uses: a solution directive, solution-start in the
    exercise's cell, two code cells in one solution, text after solution-end, a number glued
    by a solution and quoted outside it."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        _md("# Toy\n\nThe rate is {glue:text}`toy_rate:.2f`."),
        _code("from codebase import optim, surfaces\nimport codebase\ncodebase.setup()"),
        _md("```{exercise} Think\n:label: toy-ex-think\n\nWhy?\n```\n\n"
            "```{solution} toy-ex-think\n:class: dropdown\n\nBECAUSE OF THE SECRET REASON.\n```\n\n"
            "```{exercise} Compute\n:label: toy-ex-compute\n\nCompute it.\n```\n\n"
            "```{solution-start} toy-ex-compute\n:class: dropdown\n```"),
        _code("secret_value = surfaces.quadratic(kappa=3.0)", [_glue("toy_rate", "0.123")]),
        _code("print(optim.SGD)"),
        _md("The SECRET EXPLANATION of the result.\n\n```{solution-end}\n```\n\n## References\n\nNone."),
    ]
    for index, cell in enumerate(notebook.cells):
        cell.id = f"c{index}"
    (tmp_path / "chapters").mkdir()
    path = tmp_path / "chapters" / "toy.ipynb"
    nbformat.write(notebook, path)
    return course.load_page(path, tmp_path)


def test_pages_are_split_into_public_exercise_and_solution_parts(toy):
    exercises = {e.label: e for e in toy.exercises()}
    assert list(exercises) == ["toy-ex-think", "toy-ex-compute"]
    assert "SECRET REASON" in exercises["toy-ex-think"].solution_text
    assert exercises["toy-ex-think"].solution_code == ()
    assert exercises["toy-ex-compute"].solution_code == (
        "secret_value = surfaces.quadratic(kappa=3.0)", "print(optim.SGD)")
    assert "SECRET EXPLANATION" in exercises["toy-ex-compute"].solution_text
    assert exercises["toy-ex-compute"].text == "Compute it."
    public = "".join(p.text for p in toy.pieces if p.role == "public")
    assert "SECRET" not in public and "## References" in public


def test_student_notebook_has_one_stub_per_code_solution_and_keeps_everything_else(toy):
    notebook = course.render_page(toy, solutions=False)
    nbformat.validate(notebook)
    text = json.dumps(notebook)
    assert "SECRET" not in text and "secret_value" not in text and "{solution" not in text
    stubs = [c for c in notebook.cells if "student-stub" in c.metadata.get("tags", [])]
    assert len(stubs) == 1
    with pytest.raises(NotImplementedError, match=r"toy-ex-compute.*Useful: optim\.SGD, surfaces\.quadratic"):
        exec(stubs[0].source, {})
    sources = [c.source for c in notebook.cells]
    assert sources[0] == toy.notebook.cells[0].source and sources[1] == toy.notebook.cells[1].source
    assert "```{exercise} Think" in sources[2] and "```{exercise} Compute" in sources[2]
    assert sources[-2] == "## References\n\nNone."
    # the glued number quoted outside the solution is carried, without the code, in a hidden cell
    carrier = notebook.cells[-1]
    assert carrier.metadata["tags"] == ["remove-cell"] and "secret" not in carrier.source
    assert [o.metadata["scrapbook"]["name"] for o in carrier.outputs] == ["toy_rate"]


def test_instructor_rendering_keeps_every_cell(toy):
    notebook = course.render_page(toy, solutions=True)
    assert [c.source for c in notebook.cells] == [c.source for c in toy.notebook.cells]


def test_a_pack_drops_the_exercises_it_does_not_name(toy):
    notebook = course.render_page(toy, solutions=True, keep={"toy-ex-think"})
    text = json.dumps(notebook)
    assert "SECRET REASON" in text and "Compute it" not in text and "secret_value" not in text


def test_unbalanced_solution_markers_are_an_error(tmp_path):
    (tmp_path / "chapters").mkdir()
    path = tmp_path / "chapters" / "bad.md"
    path.write_text("# Bad\n\n```{solution-start} x\n```\n\ntext\n")
    with pytest.raises(ValueError, match="no solution-end"):
        course.load_page(path, tmp_path)


def test_every_exercise_of_the_book_has_a_solution_and_student_notebooks_are_valid():
    exercises = course.book_exercises()
    labels = [e.label for e in exercises]
    assert len(labels) == len(set(labels)) > 0
    assert all(e.solution_text.strip() or e.solution_code for e in exercises), \
        [e.label for e in exercises if not (e.solution_text.strip() or e.solution_code)]
    from codebase.checks import EXERCISES

    graded = 0
    for page in course.book_pages():
        if page.notebook is None:
            continue
        notebook = course.render_page(page, solutions=False)
        nbformat.validate(notebook)
        stubs = [c for c in notebook.cells if "student-stub" in c.metadata.get("tags", [])]
        assert len(stubs) == sum(bool(e.solution_code) or e.label in EXERCISES for e in page.exercises()), page.name
        for stub in stubs:
            compile(stub.source, page.name, "exec")
            assert not re.search(r"Useful:.*\b(glue|checks)\b", stub.source), stub.source
        # an autograded exercise's stub is the function to write and its check, even when
        # the book's solution is a code block in the text
        for exercise in page.exercises():
            if exercise.label in EXERCISES:
                entry = EXERCISES[exercise.label]
                stub = next(c.source for c in stubs if exercise.label in c.source)
                assert stub.startswith(f"def {entry.signature.split('(')[0]}(") and f"{entry.name}(" in stub
                assert "Useful" not in stub
                graded += 1
        assert not any(re.search(r"\{solution", c.source) for c in notebook.cells), page.name
    assert graded == sum(e.label in EXERCISES for e in exercises) > 20


# --------------------------------------------------------------------------------------
# The student edition of the whole book, built for real
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def student_site(tmp_path_factory):
    return course.build_edition("student", out=tmp_path_factory.mktemp("editions") / "student")


@pytest.fixture(scope="module")
def fingerprints():
    return course.solution_fingerprints()


def test_student_edition_contains_no_solution_text_or_code_anywhere(student_site, fingerprints):
    """Every file of the build (HTML, searchindex.js, _sources, the notebooks, doctrees) is
    scanned for the word 8-grams and the search-index stems that only solutions contain."""
    assert len(fingerprints.ngrams) > 1000 and len(fingerprints.stems) > 20
    report = course.audit(student_site, fingerprints=fingerprints)
    assert report.files_scanned > 50
    assert report.clean, (report.leaks[:10], report.search_terms[:20])
    html_dir = student_site / "_build" / "html"
    pages = list(html_dir.glob("chapters/*.html"))
    assert any("adagrad-ex-rotation" in p.read_text() for p in pages)   # exercises are there
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert 'class="solution' not in text and "Solution to" not in text, page.name
    assert not (html_dir / "chapters" / "instructors.html").exists()


def test_student_edition_notebooks_are_downloadable_with_stubs(student_site):
    sources = student_site / "_build" / "html" / "_sources" / "chapters"
    notebooks = sorted(sources.glob("*.ipynb"))
    assert len(notebooks) >= 10
    stubs = 0
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        stubs += sum("raise NotImplementedError(" in c.source for c in notebook.cells if c.cell_type == "code")
    from codebase.checks import EXERCISES

    expected = sum(bool(e.solution_code) or e.label in EXERCISES for e in course.book_exercises())
    assert stubs == expected > 0


# --------------------------------------------------------------------------------------
# A course pack, instructor edition: the detector's positive control
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pack_site(tmp_path_factory):
    return course.build_edition("instructor", pack=PACK, out=tmp_path_factory.mktemp("pack") / "site")


def test_pack_site_has_exactly_the_packs_pages(pack_site):
    pack = course.load_pack(PACK)
    html_dir = pack_site / "_build" / "html"
    built = {p.relative_to(html_dir).with_suffix("").as_posix() for p in html_dir.glob("chapters/*.html")}
    assert built == {*pack.pages, *course.REFERENCE_PAGES, "chapters/course"}
    sources = {p.relative_to(html_dir / "_sources").as_posix().split(".")[0]
               for p in (html_dir / "_sources").rglob("*") if p.is_file()}
    assert sources == built


def test_pack_keeps_its_exercises_with_solutions_and_nothing_else(pack_site, fingerprints):
    pack = course.load_pack(PACK)
    kept = {label for labels in pack.chapters.values() for label in labels}
    in_pack_chapters = {e.label for e in course.book_exercises() if e.chapter in pack.chapters}
    dropped = in_pack_chapters - kept
    assert kept and dropped
    report = course.audit(pack_site, fingerprints=fingerprints)
    # positive control: the detector finds the solutions an instructor build contains ...
    expected = {label for label in kept if fingerprints.by_label.get(label)}
    assert report.found_labels >= expected and expected
    # ... and none of the exercises the pack leaves out
    assert not report.found_labels & dropped
    html = "\n".join(p.read_text(encoding="utf-8") for p in (pack_site / "_build/html/chapters").glob("*.html"))
    exercises = {e.label: e for e in course.book_exercises()}
    for label in dropped:
        assert f'id="{label}"' not in html, label
    for label in kept:
        assert f'id="{label}"' in html, label


# nbgrader assignments (export, validation, secure grading, reports): tests/test_course_grading.py


# --------------------------------------------------------------------------------------
# Packs, estimates and the instructors' page
# --------------------------------------------------------------------------------------

def test_every_course_pack_loads_and_names_existing_chapters_and_exercises():
    packs = course.course_packs()
    assert {p.stem for p in packs} >= {"optimizers-2-weeks", "one-week-intro"}
    for path in packs:
        pack = course.load_pack(path)
        assert pack.chapters and all(pack.chapters.values()), path


def test_a_pack_naming_an_unknown_exercise_is_rejected(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("title: t\nweeks:\n  - week: w\n    chapters:\n      - chapter: adam\n"
                   "        exercises: [adam-ex-nope]\n")
    with pytest.raises(ValueError, match="adam-ex-nope"):
        course.load_pack(bad)


def test_instructors_page_tables_are_generated_from_the_registry_and_the_estimates():
    page = (ROOT / "chapters" / "instructors.md").read_text(encoding="utf-8")
    assert course.page_with_blocks(page, course.generated_blocks()) == page, \
        "chapters/instructors.md is out of date: run python -m booktools.course exercise-table --write"
    table = course.exercise_table()
    for exercise in course.book_exercises():
        assert f"`{exercise.label}`" in table
    from codebase.checks import EXERCISES

    for label, check in EXERCISES.items():
        assert re.search(rf"`{re.escape(label)}` \| code, autograded[^|]* \| {check.minutes} \| "
                         rf"{check.difficulty} ", table), label


def test_a_stub_hint_names_no_internal_tool_and_nothing_the_exercise_forbids():
    from booktools.course.render import allowed_tools

    tools = ["EarlyStopping", "glue", "checks.check_stopping_epochs", "train.fit", "optim._base.step", "search.log_uniform"]
    assert allowed_tools(tools, "Write the rule without using `EarlyStopping`, without search.log_uniform.") == ["train.fit"]
