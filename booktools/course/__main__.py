"""The command line: ``python -m booktools.course ...``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .audit import audit
from .editions import build_edition
from .instructors import generated_blocks, page_with_blocks
from .grading import grade_assignment
from .nbgrader import export_assignment, pack_labels
from .pages import ROOT


# What a user can get wrong (a missing file, a folder in the way, a bad label): one line and exit status 2.
_USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, SyntaxError)


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error prints one line on stderr and returns 2."""
    try:
        return _run(argv)
    except _USER_ERRORS as error:
        where = f"{error.filename}:{error.lineno}: " if isinstance(error, SyntaxError) and error.filename else ""
        message = error.msg if isinstance(error, SyntaxError) else str(error)
        print(f"error: {where}{message}", file=sys.stderr)
        return 2


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools.course",
                                     description="Editions, course packs and nbgrader assignments of the book.")
    sub = parser.add_subparsers(dest="command", required=True)
    for edition in ("student", "instructor"):
        cmd = sub.add_parser(f"{edition}-edition", help=f"build the {edition} edition")
        cmd.add_argument("--pack", help="a course pack (chapters/courses/*.yml)")
        cmd.add_argument("--out", help="output folder (default: _build/editions/EDITION or _build/courses/PACK/EDITION)")
        cmd.add_argument("--no-build", action="store_true", help="write the sources only")
        cmd.add_argument("--force", action="store_true",
                         help="replace --out even if this tool did not make it (it is deleted first)")
    cmd = sub.add_parser("build", help="build an edition (default: student) of the book or of a pack")
    cmd.add_argument("--edition", choices=("student", "instructor"), default="student")
    cmd.add_argument("--pack")
    cmd.add_argument("--out")
    cmd.add_argument("--no-build", action="store_true")
    cmd.add_argument("--force", action="store_true")
    cmd = sub.add_parser("export-assignment", help="write an nbgrader assignment for exercises")
    cmd.add_argument("labels", nargs="*", help="exercise labels (see codebase.checks.EXERCISES)")
    cmd.add_argument("--pack", help="a course pack: export its autograded exercises (instead of labels)")
    cmd.add_argument("--week", type=int, help="with --pack: only this week (1, 2, ...)")
    cmd.add_argument("--name", help="the assignment's name (default: the pack's name, and -weekN)")
    cmd.add_argument("--out", help="the course folder (default: _build/assignments); it holds many assignments")
    cmd.add_argument("--course-id", help="the course id of a new course folder (an existing one keeps its own)")
    cmd.add_argument("--solutions", help="Python file with reference functions (named as in the signatures); "
                     "default: the book's solutions")
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
        out = build_edition(edition, pack=args.pack, out=args.out, build=not args.no_build, force=args.force)
        where = out if args.no_build else out / "_build" / "html" / "index.html"
        print(f"{edition} edition: {where} ({time.perf_counter() - start:.1f} s)")
    elif args.command == "export-assignment":
        if bool(args.pack) == bool(args.labels):
            raise ValueError("give exercise labels or --pack FILE, not both and not neither")
        if args.week is not None and not args.pack:
            raise ValueError("--week needs --pack")
        labels = pack_labels(args.pack, args.week) if args.pack else args.labels
        name = args.name or (Path(args.pack).stem + (f"-week{args.week}" if args.week else "") if args.pack else None)
        if not name:
            raise ValueError("--name is required with exercise labels")
        out = export_assignment(labels, name, args.out, solutions=args.solutions, course_id=args.course_id)
        print(f"{len(labels)} exercises, validated\ninstructor notebook: {out / 'source' / name}\n"
              f"student notebook: {out / 'release' / name} ({time.perf_counter() - start:.1f} s)")
    elif args.command == "grade":
        for student, (score, top) in sorted(grade_assignment(args.course, args.name).items()):
            print(f"{student}: {score:g} / {top:g}")
        reports = Path(args.course) / "reports" / args.name
        print(f"reports: {reports} (scores.csv, canvas.csv, mistakes.md, feedback.md) "
              f"({time.perf_counter() - start:.1f} s)")
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
