"""Grading without running the student's code: cases out, outputs in, verdict from the outputs.

An autograder that must not execute a submission in its own process works in three steps:

1. the grading process asks for the calls of an exercise as plain JSON-compatible data,
   ``cases = cases_for(label)``;
2. a separate student process (started by the grader from the submission's code, never the
   grader itself) computes the outputs, ``outputs = compute_outputs(cases, fn)``, and sends
   them back as JSON (``json.dumps(outputs)``);
3. the grading process gives the verdict from those outputs alone,
   ``result = grade_outputs(label, json.loads(text))``, a ``CheckResult``.

``grade_outputs`` never executes student code: it decodes JSON and array bytes (no pickle,
no import of the submission, no call of anything the submission defined), and compares with
the reference computed in the grading process. Whatever the student's process sends can at
worst fail the check: a forged or malformed answer is judged as outputs like any other. The
student process cannot read the check's source of truth either, because the verdict and the
reference never leave the grading process. What the student's code may not call (the
library's solution) is checked on its source text with ``library_calls_in_source``,
which reads the text with ``ast`` and runs nothing.

In a notebook, ``check_<name>(fn)`` does the same in one call: the student's function runs
in a forked child process (``codebase.checks.calling``), the verdict in the kernel.
"""
from __future__ import annotations

from .calling import TIME_LIMIT, Binding, Call, outcome, serve
from .engine import judge_outcomes
from .library_source import library_calls_in_source
from .plain import decode, encode
from .results import EXERCISES, SPECS, CheckResult, Failure, result

__all__ = ["cases_for", "compute_outputs", "grade_outputs", "forbidden_in_source"]


def _spec(label: str):
    if label not in SPECS:
        raise KeyError(f"no check for exercise {label!r}; known labels: {sorted(SPECS)}")
    return SPECS[label]


def cases_for(label: str) -> dict:
    """The calls of the exercise ``label`` as plain data: ``{"label", "function", "params",
    "signature", "time_limit", "calls": [{"args", "where", "backward"}, ...]}``."""
    spec = _spec(label)
    return {"label": label, "function": spec.func, "params": list(spec.params), "signature": spec.signature,
            "check": spec.check, "time_limit": TIME_LIMIT,
            "calls": [{"args": {k: encode(v) for k, v in call.args.items()}, "where": call.where,
                       "backward": call.backward} for call in spec.calls()]}


def compute_outputs(cases: dict, fn) -> list[dict]:
    """Run in the student's process: call ``fn`` on every call of ``cases`` (from
    ``cases_for``, possibly after a JSON round trip) and return the outputs as plain data.

    A list with one record per call (shorter if a call raised); a record ``{"binding": ...}``
    instead if ``fn`` cannot be called with the exercise's parameters.
    """
    calls = [Call({k: decode(v) for k, v in c["args"].items()}, c["where"], c.get("backward", ""))
             for c in cases["calls"]]
    try:
        binding = Binding(fn, cases["function"], tuple(cases["params"]), cases["signature"], cases["check"])
    except Failure as failure:
        return [{"binding": [failure.message, failure.hint]}]
    records: list[dict] = []
    serve(fn, binding.by_name, binding.params, calls, records.append)
    return records


def grade_outputs(label: str, outputs: list) -> CheckResult:
    """The verdict of the exercise ``label`` from the ``outputs`` that ``compute_outputs``
    returned in a student's process. Runs no student code (see the module's docstring)."""
    spec = _spec(label)
    if not isinstance(outputs, list):
        return result(spec.check, False, "the student's process sent no list of outputs.")
    if outputs and isinstance(outputs[0], dict) and "binding" in outputs[0]:
        message, hint = (list(outputs[0]["binding"]) + ["", ""])[:2]
        return result(spec.check, False, str(message), str(hint))
    try:
        outcomes = [outcome(record) for record in outputs]
    except Exception as exc:  # malformed data from the student's process: a failure, not a crash
        return result(spec.check, False, f"the outputs of the student's process could not be read: {exc}.")
    return judge_outcomes(spec, outcomes)


def forbidden_in_source(label: str, source, function: str | None = None) -> list[str]:
    """The library functions that solve the exercise ``label`` and that ``source`` (a string or
    a list of cells) refers to; with ``function``, only in that function and the helpers it
    calls (``codebase.checks.library_source``)."""
    return library_calls_in_source(source, EXERCISES[label].forbidden, function)
