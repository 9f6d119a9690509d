"""Run strict nbval on the chapters under several arithmetic environments.

A reader's machine adds floats in another order than ours: torch picks vectorized
kernels by the CPU (``ATEN_CPU_CAPABILITY``), MKL picks a code path
(``MKL_CBWR``), oneDNN an instruction set (``ONEDNN_MAX_CPU_ISA``). Each of those
choices can be forced on one machine, so one machine can stand in for many readers.
A chapter is portable when strict nbval passes against its stored outputs in every
environment here::

    python -m booktools.matrix                       # every chapter, every environment
    python -m booktools.matrix chapters/adam.ipynb   # one chapter
    python -m booktools.matrix --env avx2-auto --env default-compatible chapters/adam.ipynb

It prints, per chapter, the cells that differ in each environment (numbered as nbval
numbers them: code cells only, from 0), and exits 1 if any does. The environments are
not set inside the chapters: a reader's own machine picks its arithmetic, and the
chapters must print the same text whatever it picks.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Every environment runs one thread (as codebase.setup() does in the chapters).
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def best_capability() -> str:
    """The widest vector instruction set torch can use on this CPU: ``avx512``, ``avx2`` or ``default``."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: let torch choose
        return "default"
    if " avx512f" in flags and " avx512bw" in flags and " avx512vl" in flags and " avx512dq" in flags:
        return "avx512"
    return "avx2" if " avx2" in flags else "default"


def environments(best: str | None = None) -> dict[str, dict[str, str]]:
    """The arithmetic environments of the matrix, by name: the variables each one sets.

    ``native`` is this machine as it is (the environment the outputs are recorded in,
    and the one CI runs); the others force torch's kernels and MKL's code path.
    ``default-compatible`` is what an old or non-x86 CPU computes: no vectorized
    kernels, MKL's compatible path and oneDNN limited to SSE4.1.
    """
    best = best or best_capability()
    table = {
        "native": {},
        "avx2-auto": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AUTO"},
        "avx2-compatible": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE"},
        "default-compatible": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
                               "ONEDNN_MAX_CPU_ISA": "SSE41"},
    }
    if best != "avx2" and best != "default":
        table[f"{best}-compatible"] = {"ATEN_CPU_CAPABILITY": best, "MKL_CBWR": "COMPATIBLE"}
    return {name: {**_ONE_THREAD, **extra} for name, extra in table.items()}


def failed_cells(junit_xml: Path) -> dict[str, list[str]]:
    """From a pytest JUnit report: notebook name -> the cells that failed or errored."""
    failures: dict[str, list[str]] = {}
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        notebook = Path(case.get("file") or case.get("classname", "?").replace(".", "/")).stem
        cell = case.get("name", "?").split("::")[-1].replace("Cell ", "")
        failures.setdefault(notebook, []).append(cell)
    return failures


def run_environment(notebooks: list[str], variables: dict[str, str], jobs: int) -> dict[str, list[str]]:
    """Strict nbval on ``notebooks`` with ``variables`` set: the failing cells of each."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA"}}
    env.update(variables)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        command = [sys.executable, "-m", "pytest", "--nbval", "-q", "-p", "no:cacheprovider",
                   f"--junitxml={report}", "-o", "junit_family=xunit1", *notebooks]
        if jobs > 1:
            command[3:3] = ["-n", str(jobs), "--dist", "loadfile"]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if not report.exists():
            raise RuntimeError(f"pytest wrote no report (exit {done.returncode}):\n{done.stdout[-2000:]}"
                               f"{done.stderr[-2000:]}")
        return failed_cells(report)


def table(notebooks: list[str], results: dict[str, dict[str, list[str]]]) -> str:
    """A plain-text table: one row per notebook, one column per environment (``ok`` or the failing code cells)."""
    names = list(results)
    rows = [["chapter", *names]]
    for notebook in notebooks:
        stem = Path(notebook).stem
        rows.append([stem, *(("code cells " + " ".join(results[env][stem])) if stem in results[env] else "ok"
                             for env in names)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools.matrix", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to check (default: every chapter)")
    known = environments()
    parser.add_argument("--env", action="append", choices=sorted(known),
                        help="an environment to run (repeatable; default: all of them)")
    parser.add_argument("-n", "--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="notebooks run at once in each environment (default: 2)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "chapters").glob("*.ipynb"))
    missing = [nb for nb in notebooks if not (ROOT / nb).is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    results = {}
    for name in args.env or list(known):
        print(f"{name}: {' '.join(f'{k}={v}' for k, v in known[name].items())}", flush=True)
        results[name] = run_environment(notebooks, known[name], args.jobs)
    print()
    print(table(notebooks, results))
    return 1 if any(results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
