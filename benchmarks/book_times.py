"""Time the book: each chapter's execution, the clean build and the strict nbval run, in one table.

Usage (from the repository root, with the book's environment active or by its path)::

    .venv/bin/python benchmarks/book_times.py                # build, strict nbval, all tests
    .venv/bin/python benchmarks/book_times.py --skip-tests   # build and strict nbval
    .venv/bin/python benchmarks/book_times.py --skip-build --skip-tests   # only strict nbval

The two commands are read from ``README.md`` (its two ``bash`` blocks, the part
after the last ``&&``), so the script times exactly what a reader runs, with the
interpreter that runs the script (``.venv/bin/`` is replaced by its directory):

- the build runs into a fresh temporary directory (``--path-output``), so it is a
  clean build: no doctrees, no execution cache; the time of each notebook's
  execution is read from the "Executed notebook in ... seconds" lines of the log
  (written by ``booktools.execution``, which runs the notebooks in parallel, or by
  myst-nb for a notebook it executes itself). With two workers on two cores, a
  notebook's time in the build is close to its time alone;
- strict nbval is the test command restricted to the notebooks (its ``tests``
  argument dropped: ``pytest chapters --nbval -n 2 --dist loadfile``); it runs with
  ``--junitxml``, which gives the time of every test, and the time of a notebook
  under nbval is the sum over its cells (kernel start included);
- the whole test command (unit tests, browser tests and nbval) runs last; its limit
  is the one for CI, 30 minutes.

Besides wall-clock seconds the table shows the load average before and after each
phase and the CPU seconds its processes used (user + system, all children): on a
busy machine wall time grows with the load while CPU time stays about the same.
Limits from the performance issue: each chapter 30 s, the build 180 s, strict nbval
180 s (on 2 cores); and CI's 30 minutes for the whole test command.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMITS = {"chapter": 30.0, "build": 180.0, "nbval": 180.0, "tests": 1800.0}


def readme_commands() -> tuple[list[str], list[str]]:
    """The build and test commands of README.md, as argument lists for this interpreter's environment."""
    blocks = re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"))
    if len(blocks) != 2:
        raise SystemExit(f"README.md should have two bash blocks, found {len(blocks)}")
    bindir = str(Path(sys.executable).parent) + "/"
    return [shlex.split(block.split("&&")[-1].strip().replace(".venv/bin/", bindir)) for block in blocks]


def nbval_command(test_cmd: list[str]) -> list[str]:
    """The test command restricted to the notebooks: strict nbval alone."""
    if "tests" not in test_cmd or "chapters" not in test_cmd:
        raise SystemExit(f"the README test command should name tests/ and chapters/: {shlex.join(test_cmd)}")
    return [arg for arg in test_cmd if arg != "tests"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: list[str], log: Path) -> dict:
    """Run ``command`` in the repository root, its output to ``log``; return wall and CPU seconds, loads, exit code."""
    load0, cpu0, start = os.getloadavg()[0], children_cpu(), time.perf_counter()
    with log.open("w") as out:
        code = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode
    return {"wall": time.perf_counter() - start, "cpu": children_cpu() - cpu0,
            "load": (load0, os.getloadavg()[0]), "code": code, "log": log}


EXECUTED = re.compile(r"Executed notebook in ([\d.]+) seconds")
READING = re.compile(r"reading sources\.\.\. \[\s*\d+%\] (\S+)")
DOCNAME = re.compile(r"(\S+?\.ipynb)(?::\d+)?: ")


def build_times(log: Path) -> dict[str, float]:
    """Per notebook (``chapters/x``), the execution seconds reported in the build log."""
    times, current = {}, None
    for line in log.read_text(errors="replace").splitlines():
        reading = READING.search(line)
        if reading:
            current = reading.group(1)
        executed = EXECUTED.search(line)
        if executed:
            named = DOCNAME.search(line)
            name = named.group(1) if named else current
            if name:
                name = re.sub(r"\.ipynb$", "", name)
                name = name[name.rfind("chapters/"):] if "chapters/" in name else name
                times[name] = float(executed.group(1))
    return times


def test_times(junit: Path) -> tuple[dict[str, float], float]:
    """From pytest's junit XML: seconds per notebook (``chapters/x``) and the seconds of all unit tests."""
    notebooks: dict[str, float] = defaultdict(float)
    units = 0.0
    for case in ET.parse(junit).iter("testcase"):
        seconds = float(case.get("time", 0))
        where = case.get("file") or case.get("classname", "")
        if ".ipynb" in where:
            name = where.replace("\\", "/")
            name = name[: name.index(".ipynb")]
            name = name.replace(".", "/") if "/" not in name else name
            notebooks[name[name.rfind("chapters"):]] += seconds
        else:
            units += seconds
    return dict(notebooks), units


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--skip-nbval", action="store_true")
    parser.add_argument("--skip-tests", action="store_true", help="skip the whole test command")
    parser.add_argument("--keep", action="store_true", help="keep the temporary build directory and logs")
    args = parser.parse_args(argv)
    build_cmd, test_cmd = readme_commands()
    work = Path(tempfile.mkdtemp(prefix="book_times_"))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; logs in {work}")
    phases, per_build, per_test, units = {}, {}, {}, None
    if not args.skip_build:
        command = build_cmd + ["--path-output", str(work / "site")]
        print("build:", shlex.join(command), flush=True)
        phases["build"] = run(command, work / "build.log")
        per_build = build_times(work / "build.log")
    if not args.skip_nbval:
        command = nbval_command(test_cmd) + ["--junitxml", str(work / "nbval.xml"), "-p", "no:cacheprovider"]
        print("nbval:", shlex.join(command), flush=True)
        phases["nbval"] = run(command, work / "nbval.log")
        if (work / "nbval.xml").exists():
            per_test = test_times(work / "nbval.xml")[0]
    if not args.skip_tests:
        command = test_cmd + ["--junitxml", str(work / "tests.xml"), "-p", "no:cacheprovider"]
        print("tests:", shlex.join(command), flush=True)
        phases["tests"] = run(command, work / "tests.log")
        if (work / "tests.xml").exists():
            in_tests, units = test_times(work / "tests.xml")
            per_test = per_test or in_tests

    names = sorted(set(per_build) | set(per_test))
    print()
    print(f"{'chapter':<34} {'build exec (s)':>14} {'nbval (s)':>10} {'<= 30 s':>8}")
    print("-" * 69)
    for name in names:
        b, t = per_build.get(name), per_test.get(name)
        worst = max(x for x in (b, t) if x is not None)
        cell = lambda x: f"{x:.1f}" if x is not None else "-"
        print(f"{name:<34} {cell(b):>14} {cell(t):>10} {'ok' if worst <= LIMITS['chapter'] else 'OVER':>8}")
    if per_build:
        print(f"{'sum of notebook executions':<34} {sum(per_build.values()):>14.1f} {sum(per_test.values()):>10.1f}")
    if units is not None:
        print(f"{'unit tests (tests/)':<34} {'':>14} {units:>10.1f}")
    print()
    print(f"{'phase':<8} {'wall (s)':>9} {'CPU (s)':>9} {'limit':>6} {'load before/after':>18} {'exit':>5}")
    for phase, r in phases.items():
        mark = "ok" if r["wall"] <= LIMITS[phase] else "OVER"
        print(f"{phase:<8} {r['wall']:>9.1f} {r['cpu']:>9.1f} {LIMITS[phase]:>5.0f}s "
              f"{r['load'][0]:>8.2f} / {r['load'][1]:<7.2f} {r['code']:>5}  {mark}")
    failed = [p for p, r in phases.items() if r["code"] != 0]
    if failed:
        print(f"FAILED: {', '.join(failed)}; see the logs in {work}")
    elif not args.keep:
        import shutil

        shutil.rmtree(work / "site", ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
