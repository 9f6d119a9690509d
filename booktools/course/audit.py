"""Proving that a student build holds no solution."""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .editions import _student_note
from .pages import ROOT, _read_notebook, book_pages
from .instructors import _registry
from .render import _codebase_names, _stub_cell


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
    registry = _registry()
    # what a site shows besides the pages: the package's docstrings (API page), the bibliography
    for path in [*sorted((root / "codebase").rglob("*.py")), root / "references.bib", root / "_config.yml"]:
        if path.is_file():
            generated.append(path.read_text(encoding="utf-8", errors="ignore"))
    for page in book_pages(root):
        cells = [(p.kind, p.text) for p in page.pieces if p.kind == "code"]
        bound = _codebase_names(cells)
        for exercise in page.exercises():      # the stub the student edition puts in its place
            generated.append(_stub_cell(exercise, exercise.label, bound, registry).source)
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
    and binary files are skipped. A missing folder, or one without any HTML page, is refused:
    an audit of nothing must not pass."""
    site = Path(site)
    if not site.is_dir():
        raise FileNotFoundError(f"{site}: no such folder; give the folder of a built edition")
    if not any(site.rglob("*.html")):
        raise ValueError(f"{site} holds no HTML page: it is not a built site, so there is nothing to audit")
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
