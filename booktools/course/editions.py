"""Building an edition (student or instructor) of the book or of a course pack."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .instructors import _exercise_info
from .packs import Pack, _make_rewriter, _targets, load_pack
from .pages import INSTRUCTOR_PAGES, REFERENCE_PAGES, ROOT, Page, book_pages, prepare_output
from .render import _write_page, render_page


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
                  build: bool = True, force: bool = False) -> Path:
    """Write the sources of an edition to ``out`` and build its site (``out/_build/html``).

    ``edition`` is ``"student"`` (no solutions, stubs in the notebooks) or ``"instructor"``
    (everything). With ``pack`` only the pack's chapters and exercises are kept, plus the
    notation and bibliography pages and a generated course page as the root. Nothing is
    executed: the pages show the outputs stored in the chapters. Returns ``out``.

    An existing ``out`` is replaced only if this tool made it (it holds the marker file
    ``MARKER``) or ``force=True``; anything else there is refused before anything is written.
    """
    import yaml

    if edition not in ("student", "instructor"):
        raise ValueError(f"edition must be 'student' or 'instructor', got {edition!r}")
    root = Path(root)
    the_pack = load_pack(pack, root) if pack is not None else None
    if out is None:
        out = root / "_build" / ("courses/" + the_pack.name if the_pack else "editions") / edition
    out = Path(out)
    prepare_output(out, force=force)
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
