"""Reading the book's pages: which parts are public, which belong to an exercise or a solution."""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path


#: The repository root (the folder holding ``_config.yml``).
ROOT = Path(__file__).resolve().parents[2]
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


#: The file that marks a folder written by these tools, which they may therefore replace.
MARKER = ".written-by-booktools"


def prepare_output(out: Path, *, force: bool = False) -> None:
    """Make ``out`` an empty folder for a tool's output, without ever deleting what the tool did not make.

    An existing folder is emptied only when it holds :data:`MARKER` (a previous run made it),
    is empty, or ``force=True``; an existing file, or a folder of something else, raises
    ``FileExistsError`` naming it.
    """
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"{out} exists and is not a folder; choose another --out")
        if any(out.iterdir()) and not (out / MARKER).exists() and not force:
            raise FileExistsError(f"{out} exists and was not made by this tool; choose another --out, "
                                  f"or pass --force to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by python -m booktools.course; it may replace this folder\n")
