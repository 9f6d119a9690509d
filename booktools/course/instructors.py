"""Time and difficulty of every exercise, the course schedules and the instructors' page."""
from __future__ import annotations

from pathlib import Path

from .packs import Pack, load_pack
from .pages import ESTIMATES_FILE, ROOT, book_exercises, book_pages


def estimates(root: Path | str = ROOT) -> dict[str, dict]:
    """The hand-written estimates of ``chapters/courses/estimates.yml`` (label -> dict)."""
    import yaml

    path = Path(root) / ESTIMATES_FILE
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _registry() -> dict:
    try:
        from codebase import checks
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
