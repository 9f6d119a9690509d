"""The scripts in benchmarks/ still run (their numbers are reported in notes and benchmarks/README.md).

They are benchmarks, not timed tests: here each runs on a tiny problem, and only what
it prints and parses is checked, never how fast anything was.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("stat", ["min", "median"])
def test_fit_overhead_prints_one_row_per_loop_and_the_same_weights(capsys, stat):
    script = _script("fit_overhead")
    assert script.main(["--epochs", "1", "--repeats", "2", "--stat", stat]) == 0
    out = capsys.readouterr().out
    assert f"{stat} of 2 interleaved runs" in out and "same final weights: True" in out
    rows = re.findall(r"^(\S.*?) +[\d.]+s +[\d.]+us$", out, re.M)
    assert rows == ["bare", "bare + epoch eval", "+ step records", "fit", "fit, no grad norm"]
    compared = re.findall(r"^  (fit.*?) +over (.*?) +[-+]\d+\.\d %$", out, re.M)
    assert compared == script.SAME_WORK + [("fit", "bare"), ("fit, no grad norm", "bare")]


def test_fit_overhead_is_relative_to_the_baseline():
    script = _script("fit_overhead")
    assert script.overhead(1.1, 1.0) == pytest.approx(10.0) and script.overhead(0.9, 1.0) == pytest.approx(-10.0)


def test_optim_step_prints_every_implementation_with_its_ratio(capsys):
    script = _script("optim_step")
    assert script.main(["--sizes", "1e3", "--optimizers", "SGD momentum", "--repeats", "1",
                        "--target", "0.001"]) == 0
    out = capsys.readouterr().out
    for impl in script.IMPLEMENTATIONS:
        assert re.search(rf"\b{re.escape(impl)}\b", out), f"no row for {impl}:\n{out}"
    assert re.search(r"\d+\.\d+\s*$", out.splitlines()[3]), "a row ends with its ratio"
    assert re.search(r"^  SGD momentum +1e\+03: x\d\.\d\d of for-loop \(noise \d\.\d\d\), "
                     r"x\d+\.\d\d of fused  (ok|tie|MISSED)$", out, re.M), out


def test_optim_step_averages_over_copies(capsys):
    script = _script("optim_step")
    assert script.main(["--sizes", "1e3", "--optimizers", "SF-AdamW", "--repeats", "1", "--target", "0.001",
                        "--copies", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 copies of each" in out
    assert re.search(r"^  SF-AdamW +1e\+03: x\d\.\d\d of for-loop \(noise \d\.\d\d\), no fused path  "
                     r"(ok|tie|MISSED)", out, re.M), out


@pytest.mark.parametrize("name", ["optim_step", "schedule_free_gap"])
def test_copies_must_be_at_least_one(capsys, name):
    with pytest.raises(SystemExit):
        _script(name).main(["--copies", "0"])
    assert "--copies must be at least 1" in capsys.readouterr().err


def test_schedule_free_gap_times_the_variant_that_overwrites_the_gradient(capsys):
    script = _script("schedule_free_gap")
    assert script.main(["--sizes", "1e3", "--copies", "1", "--repeats", "1", "--target", "0.001"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ +1e\+03 +[\d.]+ us +\d\.\d{3} +\d\.\d{3} +\d\.\d{3}$", out, re.M), out
    assert re.search(r"^  SF-AdamW +[\d.]+ us +[\d.]+ us  \([+-][\d.]+ us\)$", out, re.M), out
    # the variant leaves in p.grad what the reference leaves there; ours leaves the gradient
    base = script.make_params(50, 2)
    grads = {}
    for name, factory in script.IMPLS.items():
        cls, extra = factory("ScheduleFreeAdamW")
        params = script.clone_params(base)
        optimizer = cls(params, lr=1e-2, **extra)
        optimizer.train()
        optimizer.step()
        grads[name] = [p.grad for p in params]
    assert all(map(torch.equal, grads["codebase, p.grad overwritten"], grads["reference"]))
    assert all(map(torch.equal, grads["codebase"], [p.grad for p in base]))
    assert not any(map(torch.equal, grads["reference"], [p.grad for p in base]))


@pytest.mark.parametrize("vs_loop, vs_fused, again, verdict", [
    (0.95, 2.0, 1.00, "ok"),
    (1.02, 2.0, 1.03, "tie"),      # slower by less than the two copies of torch's loop differ
    (1.02, 2.0, 1 / 1.03, "tie"),  # whichever copy was faster
    (1.05, 2.0, 1.03, "MISSED"),
    (0.95, 12.0, 1.00, "MISSED"),  # more than 10x the fused kernel
    (0.95, float("nan"), 1.00, "ok"),  # torch has no fused path (Muon)
])
def test_optim_step_verdict(vs_loop, vs_fused, again, verdict):
    assert _script("optim_step").verdict(vs_loop, vs_fused, again) == verdict


def test_book_times_reads_the_readme_commands_and_the_logs(tmp_path):
    script = _script("book_times")
    build, tests = script.readme_commands()
    assert build[0].endswith("jupyter-book") and "build" in build
    assert "pytest" in tests and "--nbval" in tests
    nbval = script.nbval_command(tests)  # strict nbval alone: the same command without tests/
    assert "tests" not in nbval and nbval == [arg for arg in tests if arg != "tests"] and "chapters" in nbval
    with pytest.raises(SystemExit, match="tests/ and chapters/"):
        script.nbval_command(["pytest", "chapters"])
    log = tmp_path / "build.log"
    log.write_text("reading sources... [ 50%] chapters/adam\n"
                   "chapters/adam.ipynb: Executed notebook in 12.5 seconds\n"
                   "/x/chapters/momentum.ipynb: Executed notebook in 3.25 seconds\n")
    assert script.build_times(log) == {"chapters/adam": 12.5, "chapters/momentum": 3.25}
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite>'
                     '<testcase classname="chapters.adam.ipynb" file="chapters/adam.ipynb" time="2.0"/>'
                     '<testcase classname="chapters.adam.ipynb" file="chapters/adam.ipynb" time="1.5"/>'
                     '<testcase classname="tests.test_train" file="tests/test_train.py" time="0.25"/>'
                     '</testsuite></testsuites>')
    assert script.test_times(junit) == ({"chapters/adam": 3.5}, 0.25)
