"""The book's own solutions pass the graders of ``codebase.checks``.

For every label of :data:`codebase.checks.EXERCISES`, the exercise is looked up in its
chapter (with ``booktools.course.load_page``, the parser the editions use), the function
that the registry's signature names is taken from the exercise's solution and run through
the check, which must pass. The function comes from the ```` ```python ```` blocks of the
solution's text if one of them defines it (these are self-contained), otherwise from the
solution's code cells: only the ``def`` of that function is executed there, after the
import statements of the whole notebook, so that the test does not depend on the state
the rest of the notebook builds. Every exercise must also name its check, so that a
student knows how to grade their answer.
"""
from __future__ import annotations

import ast
import functools
import re
import textwrap
from pathlib import Path

import pytest

from booktools import course
from codebase.checks import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
LABELS = sorted(EXERCISES)
# a ```python block, possibly indented (inside a list item); group 3 is its code
_PYTHON_BLOCK = re.compile(r"^([ \t]*)(`{3,})python[ \t]*\n(.*?)^\1\2[ \t]*$", re.S | re.M)


@functools.lru_cache(maxsize=None)
def _page(chapter: str):
    return course.load_page(ROOT / "chapters" / f"{chapter}.ipynb", ROOT)


def _exercise(label: str):
    entry = EXERCISES[label]
    for exercise in _page(entry.chapter).exercises():
        if exercise.label == label:
            return exercise
    pytest.fail(f"exercise {label!r} not found in chapters/{entry.chapter}.ipynb")


def _function_name(label: str) -> str:
    return EXERCISES[label].signature.split("(", 1)[0].strip()


def _defines(source: str, name: str) -> bool:
    tree = ast.parse(source)
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


def _fresh_namespace() -> dict:
    namespace: dict = {"__name__": "exercise_solution"}
    exec("import math\nimport numpy as np\nimport torch", namespace)
    return namespace


def _solution_function(label: str):
    """The function of the registry's signature, as the book's solution writes it."""
    exercise = _exercise(label)
    name = _function_name(label)
    blocks = [textwrap.dedent(m.group(3)) for m in _PYTHON_BLOCK.finditer(exercise.solution_text)]
    namespace = _fresh_namespace()
    if any(_defines(block, name) for block in blocks):
        for block in blocks:                      # the text's blocks, in order, self-contained
            exec(compile(block, f"<{label} solution text>", "exec"), namespace)
        return namespace[name]
    cells = [source for source in exercise.solution_code if _defines(source, name)]
    assert cells, (f"the solution of {label} defines no function {name}() in a ```python block "
                   "of its text or in its code cells")
    page = _page(EXERCISES[label].chapter)
    imports = []
    for cell in page.notebook.cells:
        if cell.cell_type == "code":
            tree = ast.parse(cell.source)
            imports += [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    definition = [node for node in ast.parse(cells[-1]).body
                  if isinstance(node, ast.FunctionDef) and node.name == name]
    module = ast.Module(body=imports + definition, type_ignores=[])
    exec(compile(module, f"<{label} solution cell>", "exec"), namespace)
    return namespace[name]


def test_every_label_of_the_registry_has_its_exercise_in_its_chapter():
    missing = []
    for label, entry in EXERCISES.items():
        labels = {e.label for e in _page(entry.chapter).exercises()}
        if label not in labels:
            missing.append(f"{label} (chapters/{entry.chapter}.ipynb)")
    assert not missing, missing


@pytest.mark.parametrize("label", LABELS)
def test_exercise_names_its_check(label):
    exercise = _exercise(label)
    check = EXERCISES[label].name
    assert check in exercise.text, f"the exercise {label} does not mention {check}"
    assert f"{_function_name(label)}(" in exercise.text, \
        f"the exercise {label} does not state the signature {EXERCISES[label].signature}"


@pytest.mark.parametrize("label", LABELS)
def test_book_solution_passes_its_check(label):
    fn = _solution_function(label)
    result = EXERCISES[label].check(fn)
    assert result.passed, f"{label}: the book's solution fails {result.name}:\n{result.message}"
