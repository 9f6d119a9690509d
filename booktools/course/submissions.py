"""Reading a submission without running it: its code cells and a hash of them.

Nothing here executes the student's code. The library calls a function makes are found by
``codebase.checks.forbidden_in_source``, the grader's one reader of source text.
"""
from __future__ import annotations

import hashlib
import json
import re

_MAGIC = re.compile(r"^(\s*)([%!].*)$", re.M)


def code_cells(notebook, skip_ids: set[str] = frozenset()) -> list[str]:
    """The code cells of a notebook, in order, without the cells whose nbgrader ``grade_id``
    is in ``skip_ids`` (the locked test cells); IPython magics (``%``, ``!``) become comments."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in skip_ids:
            continue
        cells.append(_MAGIC.sub(r"\1# (magic removed) \2", cell.source))
    return cells


def content_hash(*parts) -> str:
    """A SHA-256 of JSON-serializable parts (the code cells, the tasks, the grader's settings)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()
