"""Course tooling: student and instructor editions, course packs and nbgrader assignments.

Everything is built from the one source in the repository: the chapters with their
stored outputs. Run the commands from the repository root::

    python -m codebase.course student-edition                 # site + notebooks, no solutions
    python -m codebase.course instructor-edition              # everything, solutions included
    python -m codebase.course student-edition --pack chapters/courses/optimizers-2-weeks.yml
    python -m codebase.course export-assignment adam-ex-implement lr-ex-cosine --name week1
    python -m codebase.course grade _build/assignments/week1 --name week1
    python -m codebase.course audit _build/student             # prove a student build has no solution
    python -m codebase.course exercise-table --write          # refresh chapters/instructors.md

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
"""
from __future__ import annotations

import argparse
import ast
import copy
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ROOT", "Piece", "Exercise", "Page", "Pack", "Fingerprints", "AuditReport",
    "load_page", "toc_names", "book_pages", "book_exercises", "render_page", "stub_source", "student_notebook",
    "build_edition", "load_pack", "course_packs", "pack_schedule",
    "solution_fingerprints", "audit",
    "estimates", "exercise_table", "generated_blocks", "page_with_blocks",
    "assignment_notebook", "export_assignment", "run_nbgrader", "grade_assignment", "main",
]

#: The repository root (the folder holding ``_config.yml``).
ROOT = Path(__file__).resolve().parents[1]
#: Pages that are for instructors only: the student edition leaves them out.
INSTRUCTOR_PAGES = ("chapters/instructors",)
#: Pages every course pack keeps (the notation contract and the bibliography).
REFERENCE_PAGES = ("chapters/notation", "chapters/bibliography")
#: Where the estimates live for exercises that have no check in ``codebase.checks``.
ESTIMATES_FILE = "chapters/courses/estimates.yml"

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
_GATED = {"solution-start", "solution-end", "exercise-start", "exercise-end"}
_EXERCISE_DIRECTIVES = {"exercise", "solution"} | _GATED
_ROLE = re.compile(r"\{(?P<role>doc|ref|numref|eq)\}`(?P<body>[^`]+)`")
_SECTION_LABEL = re.compile(r"^\((?P<label>[\w.:-]+)\)=\s*\n+#+\s+(?P<title>.+)$", re.M)
_EQ_LABEL = re.compile(r"\$\$\s*\((?P<label>[\w.:-]+)\)")
_HEADING = re.compile(r"^#\s+(.+)$", re.M)


# --------------------------------------------------------------------------------------
# Reading pages: which parts are public, which belong to an exercise or a solution
# --------------------------------------------------------------------------------------

@dataclass
class Piece:
    """A part of a page: ``kind`` is the cell type, ``role`` one of ``"public"``,
    ``"exercise"``, ``"solution"``; ``label`` the exercise's label for the last two."""

    cell: int
    kind: str
    text: str
    role: str = "public"
    label: str | None = None


@dataclass(frozen=True)
class Exercise:
    """One exercise of the book as written in its chapter."""

    label: str
    title: str
    page: str
    text: str
    solution_text: str
    solution_code: tuple[str, ...]

    @property
    def chapter(self) -> str:
        return self.page.rsplit("/", 1)[-1]


@dataclass
class Page:
    """A page of the book (``chapters/x`` without suffix), split into :class:`Piece` s."""

    name: str
    path: Path
    notebook: object | None
    pieces: list[Piece]

    @property
    def title(self) -> str:
        for piece in self.pieces:
            if piece.kind == "markdown":
                found = _HEADING.search(piece.text)
                if found:
                    return found.group(1).strip()
        return self.name.rsplit("/", 1)[-1]

    def exercises(self) -> list[Exercise]:
        order, titles, texts = [], {}, {}
        sol_text: dict[str, list[str]] = {}
        sol_code: dict[str, list[str]] = {}
        for piece in self.pieces:
            if piece.role == "exercise":
                if piece.label not in titles:
                    order.append(piece.label)
                    titles[piece.label] = _directive_title(piece.text)
                    texts[piece.label] = _directive_body(piece.text)
            elif piece.role == "solution":
                target = sol_code if piece.kind == "code" else sol_text
                target.setdefault(piece.label, []).append(piece.text)
        return [Exercise(label, titles[label], self.name, texts[label],
                         "\n".join(sol_text.get(label, [])), tuple(sol_code.get(label, [])))
                for label in order]


def _split_markdown(text: str):
    """Yield ``(name, arg, block)`` for exercise/solution directives and ``(None, None, text)``
    for everything else; any other fenced block (code, figures, notes) stays text."""
    lines = text.splitlines(keepends=True)
    i, plain = 0, []
    while i < len(lines):
        opener = _FENCE.match(lines[i].rstrip("\n"))
        if not opener:
            plain.append(lines[i])
            i += 1
            continue
        fence = opener.group("fence")
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                break
            j += 1
        block = "".join(lines[i:j + 1])
        directive = _DIRECTIVE.match(opener.group("info").strip())
        if directive and directive.group("name") in _EXERCISE_DIRECTIVES:
            if plain:
                yield None, None, "".join(plain)
                plain = []
            yield directive.group("name"), directive.group("arg").strip(), block
        else:
            plain.append(block)
        i = j + 1
    if plain:
        yield None, None, "".join(plain)


def _option(block: str, name: str) -> str | None:
    found = re.search(rf"^:{name}:\s*(.+)$", block, re.M)
    return found.group(1).strip() if found else None


def _directive_title(block: str) -> str:
    first = block.splitlines()[0]
    return _DIRECTIVE.match(_FENCE.match(first).group("info").strip()).group("arg").strip()


def _directive_body(block: str) -> str:
    lines = block.splitlines()[1:-1]
    while lines and lines[0].startswith(":"):
        lines.pop(0)
    return "\n".join(lines).strip()


def _read_notebook(path: Path):
    """Read a notebook without nbformat's (slow) validation; the chapters are valid v4."""
    import nbformat
    from nbformat.v4.rwbase import rejoin_lines

    return rejoin_lines(nbformat.from_dict(json.loads(path.read_text(encoding="utf-8"))))


def _sources(path: Path):
    if path.suffix == ".ipynb":
        import nbformat

        notebook = _read_notebook(path)
        if notebook.get("nbformat") != 4:
            notebook = nbformat.read(path, as_version=4)
        return notebook, [(c.cell_type, c.source) for c in notebook.cells]
    return None, [("markdown", path.read_text(encoding="utf-8"))]


def load_page(path: Path | str, root: Path | str = ROOT) -> Page:
    """Read a chapter (``.ipynb`` or ``.md``) and label each part public, exercise or solution.

    Raises ``ValueError`` on a ``solution-start`` without its ``solution-end`` (or the reverse),
    or on an exercise without a ``:label:``.
    """
    path, root = Path(path).resolve(), Path(root).resolve()
    notebook, cells = _sources(path)
    name = path.relative_to(root).with_suffix("").as_posix()
    pieces: list[Piece] = []
    gate: tuple[str, str] | None = None            # (role, label) inside a gated block
    for index, (kind, source) in enumerate(cells):
        if kind != "markdown":
            role, label = gate or ("public", None)
            pieces.append(Piece(index, kind, source, role, label))
            continue
        for directive, arg, block in _split_markdown(source):
            if directive is None:
                role, label = gate or ("public", None)
            elif directive == "exercise":
                label = _option(block, "label")
                if not label:
                    raise ValueError(f"{name}: exercise {arg!r} has no :label:")
                role = "exercise"
            elif directive == "solution":
                role, label = "solution", arg
            elif directive in ("solution-start", "exercise-start"):
                if gate:
                    raise ValueError(f"{name}: {directive} {arg!r} inside another gated block")
                role = directive.split("-")[0]
                label = arg if role == "solution" else _option(block, "label")
                gate = (role, label)
            else:                                   # solution-end / exercise-end
                if not gate:
                    raise ValueError(f"{name}: {directive} without a matching start")
                role, label = gate
                gate = None
            pieces.append(Piece(index, "markdown", block, role, label))
    if gate:
        raise ValueError(f"{name}: {gate[0]}-start {gate[1]!r} has no {gate[0]}-end")
    return Page(name, path, notebook, pieces)


def _toc_files(entries):
    for entry in entries:
        if "file" in entry:
            yield entry["file"]
        yield from _toc_files(entry.get("chapters", []) + entry.get("sections", []))


def toc_names(root: Path | str = ROOT) -> list[str]:
    """The pages listed in ``_toc.yml``, in reading order, as paths without suffix (``chapters/adam``)."""
    import yaml

    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"], *_toc_files(toc.get("parts", []) + toc.get("chapters", []))]


def book_pages(root: Path | str = ROOT) -> list[Page]:
    """Every page of the book, in the order of ``_toc.yml``."""
    root = Path(root)
    pages = []
    for name in toc_names(root):
        for suffix in (".ipynb", ".md"):
            if (root / (name + suffix)).exists():
                pages.append(load_page(root / (name + suffix), root))
                break
    return pages


def book_exercises(root: Path | str = ROOT) -> list[Exercise]:
    """Every exercise of the book, in reading order."""
    return [exercise for page in book_pages(root) for exercise in page.exercises()]


# --------------------------------------------------------------------------------------
# Writing pages: student notebooks and pack pages
# --------------------------------------------------------------------------------------

def _codebase_names(cells) -> set[str]:
    """Names that a notebook binds to ``codebase`` or to something imported from it."""
    names = set()
    for kind, source in cells:
        if kind != "code":
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update((a.asname or a.name).split(".")[0] for a in node.names
                             if a.name.split(".")[0] == "codebase")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "codebase":
                names.update(a.asname or a.name for a in node.names)
    return names


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _tools(code: list[str], bound: set[str]) -> list[str]:
    """The ``codebase`` names (functions, classes) that a solution uses, sorted."""
    found: set[str] = set()
    for source in code:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Attribute, ast.Name)):
                name = _dotted(node)
                if name and name.split(".")[0] in bound:
                    found.add(name)
    longest = {n for n in found if not any(m.startswith(n + ".") for m in found)}
    return sorted(longest, key=lambda n: (-n.count("."), n))


def stub_source(exercise_title: str, label: str, tools: list[str]) -> str:
    """The code a student gets instead of a solution's code cells."""
    hint = f"Exercise '{exercise_title}' ({label}): replace this line with your code."
    if tools:
        hint += " Useful: " + ", ".join(tools) + "."
    return (f"# Your solution to the exercise above ({label}) goes here.\n"
            f"raise NotImplementedError({hint!r})")


def _clean_markdown(parts: list[str]) -> str:
    text = "".join(parts)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def _cell_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:64]


def render_page(page: Page, *, solutions: bool, keep: set[str] | None = None, rewrite=None):
    """Return the page's new content: a notebook (``.ipynb``) or a string (``.md``).

    ``solutions=False`` drops every solution (text and code) and puts one stub cell where a
    solution's code was. ``keep`` (exercise labels) drops the other exercises with their
    solutions. ``rewrite`` maps a markdown string to a string (reference rewriting).
    """
    import nbformat

    cells = [(p.kind, p.text) for p in page.pieces if p.kind == "code"]
    bound = _codebase_names(cells)
    exercises = {e.label: e for e in page.exercises()}
    out: list = []
    buffer: list[str] = []
    buffer_cell: int | None = None
    stubbed: set[str] = set()
    dropped: list[int] = []

    def flush():
        nonlocal buffer, buffer_cell
        if buffer_cell is not None:
            text = _clean_markdown(buffer)
            if rewrite:
                text = rewrite(text)
            if text.strip():
                if page.notebook is None:
                    out.append(text)
                else:
                    cell = copy.deepcopy(page.notebook.cells[buffer_cell])
                    cell.source = text
                    out.append(cell)
        buffer, buffer_cell = [], None

    for piece in page.pieces:
        dropped_exercise = keep is not None and piece.role != "public" and piece.label not in keep
        drop = dropped_exercise or (piece.role == "solution" and not solutions)
        if piece.kind == "markdown":
            if buffer_cell is not None and buffer_cell != piece.cell:
                flush()
            buffer_cell = piece.cell
            if not drop:
                buffer.append(piece.text)
            continue
        flush()
        if not drop:
            out.append(copy.deepcopy(page.notebook.cells[piece.cell]))
            continue
        dropped.append(piece.cell)
        if not dropped_exercise and piece.label not in stubbed:
            stubbed.add(piece.label)
            exercise = exercises.get(piece.label)
            title = exercise.title if exercise else piece.label
            code = exercise.solution_code if exercise else [piece.text]
            stub = nbformat.v4.new_code_cell(stub_source(title, piece.label, _tools(list(code), bound)))
            stub.id = _cell_id(f"stub-{piece.label}")
            stub.metadata["tags"] = ["raises-exception", "student-stub"]
            out.append(stub)
    flush()
    if page.notebook is None:
        return "\n\n".join(out) + "\n"
    carrier = _glue_carrier(out, [page.notebook.cells[i] for i in dropped])
    if carrier is not None:
        out.append(carrier)
    notebook = copy.deepcopy(page.notebook)
    notebook.cells = out
    nbformat.validate(notebook)
    return notebook


_GLUE_USE = re.compile(r"\{glue(?::\w+)?\}`(?P<a>[^`:<]+)|\{glue(?::\w+)?\}\s+(?P<b>[\w.-]+)")


def _glue_name(output) -> str | None:
    return output.get("metadata", {}).get("scrapbook", {}).get("name")


def _glue_carrier(cells, dropped):
    """A hidden cell with the glued values that kept text quotes but only dropped cells made.

    Text outside a solution sometimes quotes a number that a solution computes; the number
    is public (the page shows it), the code is not. The cell's source is a comment.
    """
    import nbformat

    used = {m.group("a") or m.group("b") for c in cells if c.cell_type == "markdown"
            for m in _GLUE_USE.finditer(c.source)}
    have = {_glue_name(o) for c in cells if c.cell_type == "code" for o in c.get("outputs", [])}
    carried = [copy.deepcopy(o) for c in dropped for o in c.get("outputs", [])
               if _glue_name(o) in used - have]
    if not carried:
        return None
    cell = nbformat.v4.new_code_cell(
        "# The numbers quoted in the text above that an exercise's solution computes;\n"
        "# this hidden cell only carries their values (the code is in the instructor edition).")
    cell.outputs = carried
    cell.id = "glued-values"
    cell.metadata["tags"] = ["remove-cell"]
    return cell


def student_notebook(path: Path | str):
    """The student version of one chapter notebook: no solution, stubs for solution code."""
    return render_page(load_page(path, Path(path).resolve().parents[1]), solutions=False)


def _write_page(content, target: Path) -> None:
    import nbformat

    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    else:
        nbformat.write(content, target)


# --------------------------------------------------------------------------------------
# Course packs
# --------------------------------------------------------------------------------------

@dataclass
class Pack:
    """A course: a title, a description and, per chapter, the exercises it assigns."""

    name: str
    title: str
    description: str
    weeks: list[dict]
    chapters: dict[str, list[str] | None] = field(default_factory=dict)

    @property
    def pages(self) -> list[str]:
        return [f"chapters/{c}" for c in self.chapters]


def load_pack(path: Path | str, root: Path | str = ROOT) -> Pack:
    """Read and check a course pack: every chapter and exercise it names must exist.

    The file has ``title``, ``description`` and ``weeks``, a list of
    ``{week: title, chapters: [{chapter: name, exercises: [labels] or "all"}]}``.
    """
    import yaml

    path, root = Path(path), Path(root)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "weeks" not in data or "title" not in data:
        raise ValueError(f"{path}: a course pack needs 'title' and 'weeks'")
    known = {p.name: p for p in book_pages(root)}
    chapters: dict[str, list[str] | None] = {}
    for week in data["weeks"]:
        for entry in week.get("chapters", []):
            name = entry["chapter"]
            page = known.get(f"chapters/{name}")
            if page is None:
                raise ValueError(f"{path}: chapter {name!r} is not in _toc.yml")
            labels = entry.get("exercises", "all")
            available = [e.label for e in page.exercises()]
            if labels == "all":
                labels = available
            missing = sorted(set(labels) - set(available))
            if missing:
                raise ValueError(f"{path}: {name} has no exercises {missing}; it has {available}")
            if name in chapters:
                raise ValueError(f"{path}: chapter {name!r} appears twice")
            chapters[name] = list(labels)
    return Pack(path.stem, data["title"], data.get("description", "").strip(), data["weeks"], chapters)


def _targets(pages: list[Page]) -> dict[str, tuple[str, str]]:
    """label -> (page, readable title) for section, equation and exercise labels."""
    targets = {}
    for page in pages:
        for piece in page.pieces:
            if piece.kind != "markdown":
                continue
            for m in _SECTION_LABEL.finditer(piece.text):
                targets[m.group("label")] = (page.name, m.group("title").strip())
            for m in _EQ_LABEL.finditer(piece.text):
                targets[m.group("label")] = (page.name, f"an equation of {page.title}")
        for exercise in page.exercises():
            targets[exercise.label] = (page.name, f"the exercise \u201c{exercise.title}\u201d")
    return targets


def _make_rewriter(page: Page, kept_pages: set[str], kept_labels: set[str], titles, targets):
    """Turn references to what a build leaves out into plain (italic) text."""
    folder = page.name.rsplit("/", 1)[0]
    exercise_labels = set(_exercise_labels(targets))

    def replace(match):
        role, body = match.group("role"), match.group("body")
        explicit = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", body, re.S)
        text, target = (explicit.group("text"), explicit.group("target")) if explicit else (None, body)
        if role == "doc":
            doc = target if target.startswith("/") else f"{folder}/{target}"
            doc = doc.lstrip("/")
            if doc in kept_pages:
                return match.group(0)
            return f"*{text or titles.get(doc, target)}*"
        owner = targets.get(target)
        if owner is None:
            return match.group(0)
        page_name, readable = owner
        if page_name in kept_pages and (target not in exercise_labels or target in kept_labels):
            return match.group(0)
        return f"*{text or readable}*" if role != "eq" else f"*{readable}*"

    return lambda markdown: _ROLE.sub(replace, markdown)


def _exercise_labels(targets: dict[str, tuple[str, str]]) -> list[str]:
    return [label for label, (_, readable) in targets.items() if readable.startswith("the exercise")]


# --------------------------------------------------------------------------------------
# Building an edition
# --------------------------------------------------------------------------------------

def _course_page(pack: Pack, edition: str, pages: dict[str, Page], root: Path) -> str:
    info = _exercise_info(root)
    lines = [f"# {pack.title}", "", pack.description, "",
             f"This is the **{edition} edition** of a course built from *How Deep Networks Are "
             "Trained*: it has only the chapters and exercises listed below."
             + (" Solutions are not included." if edition == "student" else
                " Solutions are included (folded under each exercise)."), ""]
    for week in pack.weeks:
        lines += [f"## {week['week']}", ""]
        for entry in week.get("chapters", []):
            name = entry["chapter"]
            lines.append(f"- {{doc}}`{name}`")
            for label in pack.chapters[name]:
                ex = next(e for e in pages[f'chapters/{name}'].exercises() if e.label == label)
                minutes, difficulty = info.get(label, (None, None))
                extra = f" ({minutes} min, difficulty {difficulty})" if minutes else ""
                lines.append(f"  - exercise \u201c{ex.title}\u201d{extra}")
        lines.append("")
    return "\n".join(lines)


def _jupyter_book() -> list[str]:
    script = Path(sys.executable).with_name("jupyter-book")
    if script.exists():
        return [str(script)]
    found = shutil.which("jupyter-book")
    if not found:
        raise RuntimeError("jupyter-book is not installed: pip install -r requirements.txt")
    return [found]


def build_edition(edition: str = "student", *, pack: Path | str | None = None,
                  out: Path | str | None = None, root: Path | str = ROOT,
                  build: bool = True) -> Path:
    """Write the sources of an edition to ``out`` and build its site (``out/_build/html``).

    ``edition`` is ``"student"`` (no solutions, stubs in the notebooks) or ``"instructor"``
    (everything). With ``pack`` only the pack's chapters and exercises are kept, plus the
    notation and bibliography pages and a generated course page as the root. Nothing is
    executed: the pages show the outputs stored in the chapters. Returns ``out``.
    """
    import yaml

    if edition not in ("student", "instructor"):
        raise ValueError(f"edition must be 'student' or 'instructor', got {edition!r}")
    root = Path(root)
    the_pack = load_pack(pack, root) if pack is not None else None
    if out is None:
        out = root / "_build" / ("courses/" + the_pack.name if the_pack else "editions") / edition
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    pages = {p.name: p for p in book_pages(root)}
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    if the_pack:
        keep_pages = [*the_pack.pages, *REFERENCE_PAGES]
        toc = {"format": "jb-book", "root": "chapters/course", "parts": [
            {"caption": the_pack.title, "chapters": [{"file": p} for p in the_pack.pages]},
            {"caption": "Reference", "chapters": [{"file": p} for p in REFERENCE_PAGES]}]}
        kept_labels = {label for labels in the_pack.chapters.values() for label in labels}
    else:
        drop = set(INSTRUCTOR_PAGES) if edition == "student" else set()
        keep_pages = [p for p in pages if p not in drop]
        toc["parts"] = [dict(part, chapters=[c for c in part.get("chapters", []) if c.get("file") not in drop])
                        for part in toc.get("parts", [])]
        toc["parts"] = [part for part in toc["parts"] if part["chapters"]]
        kept_labels = {e.label for p in keep_pages for e in pages[p].exercises()}
    titles = {name: page.title for name, page in pages.items()}
    targets = _targets(list(pages.values()))
    kept_set = set(keep_pages) | ({"chapters/course"} if the_pack else set())
    for name in keep_pages:
        page = pages[name]
        keep = set(the_pack.chapters.get(name.rsplit("/", 1)[-1], [])) if the_pack else None
        rewrite = _make_rewriter(page, kept_set, kept_labels, titles, targets)
        content = render_page(page, solutions=edition == "instructor", keep=keep, rewrite=rewrite)
        if name == toc["root"] and edition == "student" and isinstance(content, str):
            content = _student_note(content)
        _write_page(content, out / page.path.relative_to(root))
    if the_pack:
        (out / "chapters/course.md").write_text(_course_page(the_pack, edition, pages, root), encoding="utf-8")
    # everything else the pages may use (images, data, static files), but no other page
    shutil.copytree(root / "chapters", out / "chapters", dirs_exist_ok=True,
                    ignore=lambda folder, names: [n for n in names if n.endswith((".ipynb", ".md"))
                                                  or n in ("courses", ".ipynb_checkpoints", "_build")])
    if (root / "_static").is_dir():
        shutil.copytree(root / "_static", out / "_static")
    shutil.copy2(root / "references.bib", out / "references.bib")
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    config.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = edition == "student"
    suffix = f" \u2014 {the_pack.title}" if the_pack else ""
    config["title"] = f"{config.get('title', '')}{suffix} ({edition} edition)"
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                                     encoding="utf-8")
    (out / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    if build:
        log = out / "build.log"
        with log.open("w") as handle:
            done = subprocess.run([*_jupyter_book(), "build", str(out), "-W", "-n", "--keep-going"],
                                  stdout=handle, stderr=subprocess.STDOUT, cwd=out)
        if done.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-30:])
            raise RuntimeError(f"the {edition} edition did not build cleanly (see {log}):\n{tail}")
    return out


def _student_note(markdown: str) -> str:
    note = ("```{note}\nThis is the student edition of the book: the exercises are here, their "
            "solutions are not. In the notebooks, each solution's code is replaced by a cell that "
            "raises `NotImplementedError`: write your code there.\n```\n")
    lines = markdown.split("\n", 1)
    return lines[0] + "\n\n" + note + (lines[1] if len(lines) > 1 else "")


# --------------------------------------------------------------------------------------
# Proving that a student build holds no solution
# --------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
NGRAM = 8


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _ngrams(words: list[str], n: int = NGRAM):
    return zip(*(words[i:] for i in range(n)))


def _output_texts(cell) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            texts.append("".join(output["text"]) if isinstance(output["text"], list) else output["text"])
        for mime, value in output.get("data", {}).items():
            if mime.startswith("image/"):
                continue
            texts.append(value if isinstance(value, str) else json.dumps(value))
        if output.get("output_type") == "error":
            texts.append("\n".join(output.get("traceback", [])))
    return texts


@dataclass
class Fingerprints:
    """What only solutions contain: word 8-grams (for text and code) and word stems (for the
    search index). ``by_label`` gives each exercise's own n-grams."""

    ngrams: set
    stems: set
    by_label: dict


def solution_fingerprints(root: Path | str = ROOT, labels: set[str] | None = None) -> Fingerprints:
    """Fingerprints of the solutions (of ``labels``, or all) that appear nowhere else in the book.

    Public text is everything outside solutions (exercise text included), the stored outputs
    of public cells, page titles, the text the student edition adds itself (stubs and the
    edition note), and what the site draws from elsewhere: the package ``codebase`` (its
    docstrings make the API page), ``references.bib`` and ``_config.yml``.
    """
    from sphinx.search.en import SearchEnglish

    stem = SearchEnglish({}).stem
    public_ngrams, public_stems, solution_texts = set(), set(), {}
    root = Path(root)
    generated = [_student_note("")]
    # what a site shows besides the pages: the package's docstrings (API page), the bibliography
    for path in [*sorted((root / "codebase").rglob("*.py")), root / "references.bib", root / "_config.yml"]:
        if path.is_file():
            generated.append(path.read_text(encoding="utf-8", errors="ignore"))
    for page in book_pages(root):
        cells = [(p.kind, p.text) for p in page.pieces if p.kind == "code"]
        bound = _codebase_names(cells)
        for exercise in page.exercises():
            generated.append(stub_source(exercise.title, exercise.label,
                                         _tools(list(exercise.solution_code), bound)))
        for piece in page.pieces:
            texts = [piece.text]
            if piece.kind == "code" and page.notebook is not None:
                texts += _output_texts(page.notebook.cells[piece.cell])
            if piece.role == "solution":
                solution_texts.setdefault(piece.label, []).extend(texts)
            else:
                generated.extend(texts)
        generated.append(page.title)
    for text in generated:
        words = _words(text)
        public_ngrams.update(_ngrams(words))
        public_stems.update(stem(w) for w in words)
    by_label, stems = {}, set()
    for label, texts in solution_texts.items():
        if labels is not None and label not in labels:
            continue
        grams = set()
        for text in texts:
            words = _words(text)
            grams.update(_ngrams(words))
            stems.update(stem(w) for w in words if not any(ch.isdigit() for ch in w))
        by_label[label] = grams - public_ngrams
    ngrams = set().union(*by_label.values()) if by_label else set()
    return Fingerprints(ngrams, stems - public_stems, by_label)


def _file_text(path: Path) -> str | None:
    if path.suffix == ".ipynb":
        import nbformat

        try:
            notebook = _read_notebook(path)
            notebook.cells
        except Exception:
            return path.read_text(encoding="utf-8", errors="ignore")
        parts = []
        for cell in notebook.cells:
            parts.append(cell.source)
            parts += _output_texts(cell)
        return "\n".join(parts)
    if path.suffix.lower() in {".png", ".jpg", ".jpeg", ".gif", ".svg", ".woff", ".woff2", ".ttf",
                               ".eot", ".ico", ".pdf", ".zip"}:
        return None
    text = path.read_bytes().decode("utf-8", errors="ignore")
    if path.suffix in {".html", ".htm"}:
        text = re.sub(r"<[^>]+>", " ", text)
        text = html.unescape(text)
    return text


@dataclass
class AuditReport:
    """Where solution fingerprints were found in a build (empty lists: nothing leaked)."""

    files_scanned: int
    leaks: list[tuple[str, str]]
    search_terms: list[str]
    found_labels: set

    @property
    def clean(self) -> bool:
        return not self.leaks and not self.search_terms


def audit(site: Path | str, root: Path | str = ROOT, labels: set[str] | None = None,
          fingerprints: Fingerprints | None = None) -> AuditReport:
    """Scan every file under ``site`` (sources, notebooks, HTML, search index, doctrees) for
    text or code that only the solutions contain. MathJax, copied verbatim from its package,
    and binary files are skipped."""
    site = Path(site)
    prints = fingerprints or solution_fingerprints(root, labels)
    owner = {gram: label for label, grams in prints.by_label.items() for gram in grams}
    leaks, found, scanned = [], set(), 0
    for path in sorted(site.rglob("*")):
        if not path.is_file() or "mathjax" in path.parts:
            continue
        text = _file_text(path)
        if text is None:
            continue
        scanned += 1
        first = None
        for gram in _ngrams(_words(text)):
            if gram in prints.ngrams:
                found.add(owner[gram])
                first = first or gram
        if first:
            leaks.append((str(path.relative_to(site)), " ".join(first)))
    terms = []
    for index in site.rglob("searchindex.js"):
        text = index.read_text(encoding="utf-8")
        data = json.loads(text[text.index("(") + 1:text.rindex(")")])
        terms += sorted(set(data.get("terms", {})) & prints.stems)
    return AuditReport(scanned, leaks, terms, found)


# --------------------------------------------------------------------------------------
# Time estimates and difficulty of every exercise; the instructors' table
# --------------------------------------------------------------------------------------

def estimates(root: Path | str = ROOT) -> dict[str, dict]:
    """The hand-written estimates of ``chapters/courses/estimates.yml`` (label -> dict)."""
    import yaml

    path = Path(root) / ESTIMATES_FILE
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _registry() -> dict:
    try:
        from . import checks
    except ImportError:
        return {}
    return dict(getattr(checks, "EXERCISES", {}))


def _exercise_info(root) -> dict[str, tuple[int, int]]:
    info = {label: (e.get("minutes"), e.get("difficulty")) for label, e in estimates(root).items()}
    for label, check in _registry().items():
        info[label] = (check.minutes, check.difficulty)
    return info


_DIFFICULTY = {1: "routine", 2: "needs care", 3: "research"}


def exercise_table(root: Path | str = ROOT) -> str:
    """The instructors' table: every exercise with its kind, time and difficulty.

    The book's exercises in reading order, then the autograded exercises of
    ``codebase.checks.EXERCISES`` that no chapter states yet (they can still be assigned with
    ``export-assignment``). Minutes and difficulty come from ``codebase.checks.EXERCISES`` for
    graded exercises and from ``chapters/courses/estimates.yml`` for the others. Raises
    ``ValueError`` if an exercise has neither.
    """
    info = _exercise_info(root)
    registry = _registry()
    pages = {p.name for p in book_pages(root)}
    rows = ["| chapter | exercise | label | kind | minutes | difficulty |",
            "| --- | --- | --- | --- | ---: | --- |"]
    missing = []

    def row(chapter, title, label, kind):
        if label not in info or None in info[label]:
            missing.append(label)
            return
        minutes, difficulty = info[label]
        where = f"{{doc}}`{chapter}`" if f"chapters/{chapter}" in pages else chapter.replace("_", " ")
        title = title.replace("|", "\\|")
        rows.append(f"| {where} | {title} | `{label}` | {kind} | {minutes} "
                    f"| {difficulty} ({_DIFFICULTY[difficulty]}) |")

    seen = set()
    for exercise in book_exercises(root):
        seen.add(exercise.label)
        kind = ("code, autograded" if exercise.label in registry
                else "code" if exercise.solution_code else "pen and paper")
        row(exercise.chapter, exercise.title, exercise.label, kind)
    for label, check in registry.items():
        if label not in seen:
            row(check.chapter, check.task.rstrip("."), label, "code, autograded (assignment)")
    if missing:
        raise ValueError(f"no time estimate for {missing}: add them to {ESTIMATES_FILE}")
    return "\n".join(rows)


def pack_schedule(pack: Pack, root: Path | str = ROOT) -> str:
    """A course pack's schedule as a markdown table, with the exercise time per week."""
    info = _exercise_info(root)
    titles = {e.label: e.title for e in book_exercises(root)}
    rows = ["| week | chapter | exercises (minutes) | exercise time |", "| --- | --- | --- | ---: |"]
    for week in pack.weeks:
        total = 0
        for number, entry in enumerate(week.get("chapters", [])):
            name = entry["chapter"]
            items = []
            for label in pack.chapters[name]:
                minutes = info.get(label, (0, 0))[0] or 0
                total += minutes
                items.append(f"{titles[label].replace('|', '/')} ({minutes})")
            label = week["week"] if number == 0 else ""
            rows.append(f"| {label} | {{doc}}`{name}` | {'; '.join(items)} | |")
        rows.append(f"| | | **total for the week** | **{total} min** |")
    return "\n".join(rows)


def course_packs(root: Path | str = ROOT) -> list[Path]:
    """The course packs in ``chapters/courses`` (every ``.yml`` but the estimates)."""
    folder = Path(root) / "chapters" / "courses"
    return [p for p in sorted(folder.glob("*.yml")) if p.name != Path(ESTIMATES_FILE).name]


def generated_blocks(root: Path | str = ROOT) -> dict[str, str]:
    """The parts of ``chapters/instructors.md`` that are generated: name -> markdown."""
    blocks = {"exercise-table": exercise_table(root)}
    for path in course_packs(root):
        blocks[f"schedule {path.stem}"] = pack_schedule(load_pack(path, root), root)
    return blocks


def page_with_blocks(page_text: str, blocks: dict[str, str]) -> str:
    """``page_text`` with each generated block put between its two marker comments,
    ``% begin generated: NAME`` and ``% end generated: NAME`` (MyST comments)."""
    for name, content in blocks.items():
        begin, end = f"% begin generated: {name}\n", f"% end generated: {name}"
        if begin not in page_text or end not in page_text:
            raise ValueError(f"the page has no markers for the generated block {name!r}")
        head, rest = page_text.split(begin, 1)
        _, tail = rest.split(end, 1)
        page_text = f"{head}{begin}\n{content}\n\n{end}{tail}"
    return page_text


# --------------------------------------------------------------------------------------
# Assignments for nbgrader
# --------------------------------------------------------------------------------------

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
    tree = ast.parse(source)
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
    (out / "source" / name).mkdir(parents=True, exist_ok=True)
    import nbformat

    nbformat.write(assignment_notebook(labels, name, solutions), out / "source" / name / f"{name}.ipynb")
    (out / "nbgrader_config.py").write_text(
        "# Written by python -m codebase.course export-assignment\n"
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


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codebase.course", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for edition in ("student", "instructor"):
        cmd = sub.add_parser(f"{edition}-edition", help=f"build the {edition} edition")
        cmd.add_argument("--pack", help="a course pack (chapters/courses/*.yml)")
        cmd.add_argument("--out", help="output folder (default: _build/editions/EDITION or _build/courses/PACK/EDITION)")
        cmd.add_argument("--no-build", action="store_true", help="write the sources only")
    cmd = sub.add_parser("build", help="build an edition (default: student) of the book or of a pack")
    cmd.add_argument("--edition", choices=("student", "instructor"), default="student")
    cmd.add_argument("--pack")
    cmd.add_argument("--out")
    cmd.add_argument("--no-build", action="store_true")
    cmd = sub.add_parser("export-assignment", help="write an nbgrader assignment for exercises")
    cmd.add_argument("labels", nargs="+", help="exercise labels (see codebase.checks.EXERCISES)")
    cmd.add_argument("--name", required=True)
    cmd.add_argument("--out")
    cmd.add_argument("--solutions", help="Python file with reference functions (named as in the signatures)")
    cmd = sub.add_parser("grade", help="autograde the submissions of an exported assignment")
    cmd.add_argument("course")
    cmd.add_argument("--name", required=True)
    cmd = sub.add_parser("audit", help="check that a student build holds no solution")
    cmd.add_argument("site")
    cmd = sub.add_parser("exercise-table", help="print (or --write into chapters/instructors.md) the "
                         "exercise table and the course schedules")
    cmd.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.command.endswith("-edition") or args.command == "build":
        edition = getattr(args, "edition", None) or args.command.split("-")[0]
        out = build_edition(edition, pack=args.pack, out=args.out, build=not args.no_build)
        where = out if args.no_build else out / "_build" / "html" / "index.html"
        print(f"{edition} edition: {where} ({time.perf_counter() - start:.1f} s)")
    elif args.command == "export-assignment":
        out = export_assignment(args.labels, args.name, args.out, solutions=args.solutions)
        print(f"instructor notebook: {out / 'source' / args.name}\n"
              f"student notebook: {out / 'release' / args.name} ({time.perf_counter() - start:.1f} s)")
    elif args.command == "grade":
        for student, (score, top) in sorted(grade_assignment(args.course, args.name).items()):
            print(f"{student}: {score:g} / {top:g}")
    elif args.command == "audit":
        report = audit(args.site)
        for path, text in report.leaks:
            print(f"LEAK {path}: ... {text} ...")
        for term in report.search_terms:
            print(f"LEAK searchindex term: {term}")
        print(f"{report.files_scanned} files scanned: "
              + ("no solution found" if report.clean else "solutions found"))
        return 0 if report.clean else 1
    elif args.command == "exercise-table":
        blocks = generated_blocks()
        if args.write:
            page = ROOT / "chapters" / "instructors.md"
            page.write_text(page_with_blocks(page.read_text(encoding="utf-8"), blocks), encoding="utf-8")
            print(f"wrote {', '.join(blocks)} to {page}")
        else:
            print("\n\n".join(blocks.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
