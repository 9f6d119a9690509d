"""Course packs: a YAML file naming the chapters and exercises of one module."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .pages import Page, ROOT, _EQ_LABEL, _ROLE, _SECTION_LABEL, book_pages


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
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such course pack")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "weeks" not in data or "title" not in data:
        raise ValueError(f"{path}: a course pack needs 'title' and 'weeks'")
    if not isinstance(data["weeks"], list) or not data["weeks"]:
        raise ValueError(f"{path}: 'weeks' must be a non-empty list of weeks")
    known = {p.name: p for p in book_pages(root)}
    chapters: dict[str, list[str] | None] = {}
    for number, week in enumerate(data["weeks"], start=1):
        if not isinstance(week, dict) or not isinstance(week.get("chapters"), list):
            raise ValueError(f"{path}: week {number} must be a mapping with 'week' (its title) and "
                             f"'chapters' (a list), got {week!r}")
        for entry in week["chapters"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("chapter"), str):
                raise ValueError(f"{path}: week {number}: each chapter must be a mapping with 'chapter' "
                                 f"(a chapter's file name) and 'exercises', got {entry!r}")
            name = entry["chapter"]
            page = known.get(f"chapters/{name}")
            if page is None:
                raise ValueError(f"{path}: chapter {name!r} is not in _toc.yml")
            labels = entry.get("exercises", "all")
            if labels != "all" and (not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)):
                raise ValueError(f"{path}: {name}: 'exercises' must be a list of labels or 'all', got {labels!r}")
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
