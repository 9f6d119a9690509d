"""The grader's package: one place for each fact, modules small, every module registered.

- minutes and difficulty of an autograded exercise live in its ``@exercise`` decorator, and
  ``chapters/courses/estimates.yml`` only holds the exercises that have no check;
- every module of ``codebase/checks`` is imported by the package (a check in a forgotten
  module would silently not exist) and stays under 300 lines;
- every library function a check forbids exists (a misspelt name would forbid nothing).
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import yaml

from codebase import checks
from codebase.checks.results import SPECS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "codebase" / "checks"


def test_estimates_hold_only_exercises_without_a_check():
    estimates = yaml.safe_load((ROOT / "chapters" / "courses" / "estimates.yml").read_text()) or {}
    assert not set(estimates) & set(checks.EXERCISES)


def test_every_module_is_imported_by_the_package_and_small():
    imported = {node.module for node in ast.parse((PACKAGE / "__init__.py").read_text()).body
                if isinstance(node, ast.ImportFrom) and node.level == 1}
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 300, path.name
        if path.stem != "__init__":
            assert path.stem in imported or any(
                f"from .{path.stem} import" in p.read_text() for p in PACKAGE.glob("*.py")), path.name


def test_every_public_check_is_registered_and_exported():
    for label, entry in checks.EXERCISES.items():
        assert entry.name in checks.__all__ and getattr(checks, entry.name) is entry.check, label
        assert SPECS[label].check == entry.name


@pytest.mark.parametrize("label", sorted(SPECS))
def test_forbidden_names_exist(label):
    for name in SPECS[label].forbidden:
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for part in parts[cut:]:
                obj = getattr(obj, part, None)
            break
        assert obj is not None, f"{label}: {name} does not exist"
