"""How long the autograder takes: one assignment, N students, graded with ``grade``.

The assignment is the autograded exercises of a course pack's week (by default the first
week of ``after-adam-2-weeks``, four exercises). Half the students hand in the reference
solutions (the instructor's notebook), the other half the released notebook with its
stubs untouched, so that both the passing path and the failing path are timed. The grade
runs twice: cold, and again with nothing changed (every submission comes from the cache).

    .venv/bin/python benchmarks/grading_time.py                  # 10 students
    .venv/bin/python benchmarks/grading_time.py --students 20 --pack chapters/courses/optimizers-2-weeks.yml --week 2

The issue's goal: 4 exercises for 10 students in at most 2 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default=str(ROOT / "chapters" / "courses" / "after-adam-2-weeks.yml"))
    parser.add_argument("--week", type=int, default=1)
    parser.add_argument("--students", type=int, default=10)
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error("--students must be at least 1")

    from booktools import course
    from booktools.course.nbgrader import pack_labels

    labels = pack_labels(args.pack, args.week)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {len(labels)} exercises: {', '.join(labels)}")
    folder = Path(tempfile.mkdtemp(prefix="grading-time-"))
    try:
        start = time.perf_counter()
        course.export_assignment(labels, "hw", folder)
        print(f"export-assignment (with nbgrader validate): {time.perf_counter() - start:.1f} s")
        for k in range(args.students):
            kind = "source" if k % 2 == 0 else "release"
            target = folder / "submitted" / f"student{k:02d}" / "hw"
            target.mkdir(parents=True)
            shutil.copy(folder / kind / "hw" / "hw.ipynb", target / "hw.ipynb")
        for run in ("cold", "unchanged"):
            start = time.perf_counter()
            cpu = time.process_time()
            children = os.times()
            scores = course.grade_assignment(folder, "hw")
            after = os.times()
            child_cpu = (after.children_user + after.children_system) - (children.children_user + children.children_system)
            print(f"grade, {run}: {time.perf_counter() - start:.1f} s wall, "
                  f"{time.process_time() - cpu + child_cpu:.1f} s CPU (grader and students' processes)")
        passed = sum(score == top for score, top in scores.values())
        print(f"{passed} of {len(scores)} students with full marks (expected {(args.students + 1) // 2})")
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
        return 0 if passed == (args.students + 1) // 2 else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
