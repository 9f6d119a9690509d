"""The engine: one way to run a check, and one way to compare with the reference.

A check is a ``Spec``: the calls to make (``Spec.calls``, plain data computed
before the student's function runs) and a judge that turns the outcomes of those calls into
a verdict (``Spec.judge``). ``run`` binds the function, refuses the library's
answer, runs the calls in a child process and judges. The verdict depends only on the
outcomes, which is what lets ``codebase.checks.grade_outputs`` grade outputs computed
elsewhere.

Most checks compare each output with the reference: ``Compared`` is that judge,
written once. For every case it converts the output, classifies it against the known
mistakes, keeps the first difference from the reference at the tolerance of the output's
precision and picks the hint (a mistake the output matches everywhere, else one it matches
where it first differs, else the formula).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import torch

from .calling import Binding, Call, Outcome, run_calls
from .library import refuse_library
from .outputs import FLOAT32_HINT, FLOAT32_TOL, fmt, index_text, nonfinite, precision
from .results import CheckResult, Failure, guarded

__all__ = ["Mistake", "Spec", "Case", "Compared", "run", "judge_outcomes", "mistake_hint"]


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``fn`` computes it from a case's arguments; ``hint`` completes
    "your results are exactly what you get if you ..."."""

    key: str
    hint: str
    fn: Callable


class Spec:
    """What a check is: the student's function (``func``, ``params``, ``signature``), the
    calls, the judge, the known ``mistakes`` and the ``forbidden`` library functions
    (dotted names) that solve the exercise."""

    check: str = ""
    func: str = ""
    params: tuple[str, ...] = ()
    signature: str = ""
    forbidden: tuple[str, ...] = ()
    mistakes: list[Mistake] = []

    def calls(self) -> list[Call]:
        raise NotImplementedError

    def judge(self, outcomes: list[Outcome]) -> str:
        """The passing message; raises ``Failure`` with the message and hint otherwise."""
        raise NotImplementedError


def _printed_note(outcomes) -> str:
    total = sum(o.printed_total for o in outcomes)
    if not total:
        return ""
    shown = "".join(o.printed for o in outcomes)[:1000]
    cut = f" (cut short: the first {len(shown):,} of {total:,} characters)" if total > len(shown) else ""
    return f"\nYour function printed{cut}:\n{shown}"


def judge_outcomes(spec: Spec, outcomes: list[Outcome], note: str = "") -> CheckResult:
    """The verdict of ``spec`` on outcomes computed elsewhere (runs no student code)."""
    return guarded(spec.check, lambda: spec.judge(outcomes), lambda: note + _printed_note(outcomes))


def run(spec: Spec, fn) -> CheckResult:
    """Run the check ``spec`` on the student's function ``fn``."""
    state = {"outcomes": [], "note": ""}

    def body():
        binding = Binding(fn, spec.func, spec.params, spec.signature, spec.check)
        refuse_library(fn, spec.forbidden, spec.func)
        state["outcomes"], state["note"] = run_calls(fn, binding, spec.calls())
        return spec.judge(state["outcomes"])
    return guarded(spec.check, body, lambda: state["note"] + _printed_note(state["outcomes"]))


def mistake_hint(mistakes, all_match, first_matches, fallback: str, *,
                 results: str = "your results are", there: str = "at that step your output is"):
    """(hint, mistake key) of a failed check: the known mistake that the student's output
    matches everywhere, else one it matches where it first differs, else ``fallback``."""
    everywhere = [m for m in mistakes if all_match[m.key]]
    if everywhere:
        return f"{results} exactly what you get if you " + everywhere[0].hint, everywhere[0].key
    if first_matches:
        return f"{there} what you get if you " + first_matches[0].hint, first_matches[0].key
    return fallback, ""


@dataclass
class Case:
    """One call compared with the reference: ``args`` (the reference's and the mistakes'
    inputs), ``expected`` (a tuple, one entry per output) and ``info`` for the messages."""

    call: Call
    args: dict
    expected: tuple
    info: dict = field(default_factory=dict)


class Compared(Spec):
    """A check that compares every output with the reference (see the module's docstring).

    Subclasses define ``make_cases``, ``convert`` (an outcome as a tuple of tensors,
    or of other values compared with ``==``), ``failure_text`` and ``passed_text``.
    """

    outputs: tuple[str, ...] = ("value",)
    rtol: float = 1e-6
    atol: float = 1e-10
    results_word = "your results are"
    there_word = "at that step your output is"

    @cached_property
    def cases(self) -> list[Case]:
        return self.make_cases()

    def calls(self) -> list[Call]:
        return [case.call for case in self.cases]

    def make_cases(self) -> list[Case]:
        raise NotImplementedError

    def convert(self, value, outcome: Outcome, case: Case) -> tuple:
        raise NotImplementedError

    def extra_check(self, case: Case, outcome: Outcome) -> None:
        """More conditions on a case, checked while no output has differed yet."""

    def variant(self, mistake: Mistake, case: Case):
        return tuple(mistake.fn(_clone(case.args)))

    def formula(self, name: str) -> str:
        raise NotImplementedError

    def failure_text(self, case: Case, name: str, index, got_x, exp_x, low: bool) -> str:
        raise NotImplementedError

    def passed_text(self) -> str:
        raise NotImplementedError

    def nonfinite_text(self, case: Case, name: str, index, x: str) -> str:
        return f"the returned {name} contains {x} at element {index_text(index) or '()'} {case.call.where}."

    nonfinite_hint = ("NaN or inf comes from 0/0, x/0 or the square root of a negative number. "
                      "Check each division: the optimizer state starts at zero, and t starts at 1.")

    def differ(self, got: tuple, expected: tuple, low: bool):
        """``None`` or (output name, index, got, expected) of the first difference."""
        for name, g, e in zip(self.outputs, got, expected):
            if isinstance(g, torch.Tensor):
                e = e if isinstance(e, torch.Tensor) else torch.as_tensor(e, dtype=torch.float64)
                g64, e64 = g.to(torch.float64), e.to(torch.float64)
                if low:   # float32 precision: relative to the tensor's largest entry
                    scale = float(e64.abs().max()) if e64.numel() else 0.0
                    close = ((g64 - e64).abs() <= FLOAT32_TOL * scale + self.atol) | (g64.isnan() & e64.isnan())
                else:
                    close = torch.isclose(g64, e64, rtol=self.rtol, atol=self.atol, equal_nan=True)
                if not bool(close.all()):
                    index = tuple(int(i) for i in (~close).nonzero()[0]) if g.dim() else ()
                    return name, index, float(g[index]), float(e[index])
            elif g != e:
                return name, (), g, e
        return None

    def judge(self, outcomes: list[Outcome]) -> str:
        first, first_matches, low_anywhere = None, [], False
        all_match = {m.key: True for m in self.mistakes}
        for case, outcome in zip(self.cases, outcomes):
            got = self.convert(outcome.value_or_fail(case.call.where), outcome, case)
            low = any(precision(g) == "float32" for g in got)
            low_anywhere = low_anywhere or low
            matches = []
            for m in self.mistakes:
                try:
                    same = self.differ(got, self.variant(m, case), low) is None
                except Exception:
                    same = False
                all_match[m.key] = all_match[m.key] and same
                if same:
                    matches.append(m)
            for name, value in zip(self.outputs, got):
                bad = nonfinite(value) if isinstance(value, torch.Tensor) else None
                if bad is not None:
                    hint = ("your output is what you get if you " + matches[0].hint) if matches else self.nonfinite_hint
                    raise Failure(self.nonfinite_text(case, name, *bad), hint, matches[0].key if matches else "")
            diff = self.differ(got, case.expected, low)
            if diff is not None and not low and not matches and self.differ(got, case.expected, True) is None:
                diff, low_anywhere = None, True   # float64 results computed with float32 numbers
            if diff is not None and first is None:
                first, first_matches, first_low = (case, diff), matches, low
            if first is None:
                self.extra_check(case, outcome)
        if len(outcomes) < len(self.cases):
            raise Failure(f"the check got the results of only {len(outcomes)} of its {len(self.cases)} calls.",
                          "make sure your function returns for every input.")
        if first is None:
            note = ("\nNote: your results are float32 (or were computed with float32 numbers), so they were "
                    f"compared at float32 precision ({FLOAT32_TOL:g} of each tensor's largest entry); {FLOAT32_HINT}"
                    if low_anywhere else "")
            return self.passed_text() + note
        case, (name, index, got_x, exp_x) = first
        hint, key = mistake_hint(self.mistakes, all_match, first_matches, self.formula(name),
                                 results=self.results_word, there=self.there_word)
        if first_low:
            hint += " Also: " + FLOAT32_HINT
        raise Failure(self.failure_text(case, name, index, got_x, exp_x, first_low), hint, key)


def _clone(args: dict) -> dict:
    return {k: v.clone() if isinstance(v, torch.Tensor) else
            [x.clone() for x in v] if isinstance(v, list) and v and isinstance(v[0], torch.Tensor) else v
            for k, v in args.items()}


def got_expected(got_x, exp_x, low: bool) -> str:
    """The two lines ``expected ...`` / ``got ...`` of a failure message."""
    if low and isinstance(got_x, float):
        return f"  expected {exp_x:.9g}\n  got      {got_x:.9g} (your result is float32)"
    if isinstance(got_x, float):
        return f"  expected {fmt(exp_x)}\n  got      {fmt(got_x)}"
    return f"  expected {exp_x}\n  got      {got_x}"


def values(calls: list[Call], outcomes: list[Outcome]) -> list:
    """The returned values of all calls, in order; the first call that raised or never returned
    stops the check with its message."""
    found = [outcome.value_or_fail(call.where) for call, outcome in zip(calls, outcomes)]
    if len(found) < len(calls):
        raise Failure(f"the check got the results of only {len(found)} of its {len(calls)} calls.",
                      "make sure your function returns for every input.")
    return found
