"""What a check returns, and the registry of exercises.

A check returns a ``CheckResult``; ``EXERCISES`` maps each exercise label to an
``ExerciseCheck`` (the check, the signature the student writes, a one-line task, the
chapter, the estimated minutes and the difficulty). The ``@exercise(...)`` decorator is the
one place where an autograded exercise's facts are written; ``chapters/courses/estimates.yml``
holds minutes and difficulty only for the exercises that have no check.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Callable

__all__ = ["CheckFailed", "CheckResult", "ExerciseCheck", "EXERCISES", "exercise", "run_check", "Failure"]


class CheckFailed(AssertionError):
    """Raised by ``CheckResult.raise_for_failure``; its message is the check's message."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a check.

    ``passed`` tells whether the function is right, ``name`` is the check's name and
    ``message`` is written for the student: what was tested, or what first went wrong and
    how to fix it. ``hint`` repeats the hint part of the message (empty if there is none);
    ``mistake`` is the key of the known mistake the answer was classified as (empty if none),
    for the instructors' summary of common mistakes.
    ``bool(result)`` is ``passed``; ``str(result)`` is the message; in Jupyter the result
    shows as a green (passed) or red (failed) box.
    """

    passed: bool
    name: str
    message: str
    hint: str = ""
    mistake: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        color, background, mark = (("#1a7f37", "#dafbe1", "&#10004;") if self.passed
                                   else ("#cf222e", "#ffebe9", "&#10008;"))
        body, _, hint = self.message.partition("\nHint: ")
        parts = [
            f'<div style="border-left: 5px solid {color}; background: {background}; '
            f'padding: 0.5em 0.9em; margin: 0.4em 0; border-radius: 4px; color: #1f2328;">',
            f'<div style="color: {color}; font-weight: bold;">{mark} {html.escape(self.name)}: '
            f'{"passed" if self.passed else "not yet"}</div>',
            '<pre style="white-space: pre-wrap; background: transparent; margin: 0.3em 0 0 0; '
            f'padding: 0; border: none;">{html.escape(body)}</pre>',
        ]
        if hint:
            parts.append('<div style="margin-top: 0.4em;"><b>Hint:</b> '
                         f'{html.escape(hint)}</div>')
        parts.append("</div>")
        return "".join(parts)

    def raise_for_failure(self) -> "CheckResult":
        """Raise ``CheckFailed`` (an ``AssertionError``) with the message if the check
        failed; return the result itself otherwise."""
        if not self.passed:
            raise CheckFailed(self.message)
        return self


@dataclass(frozen=True)
class ExerciseCheck:
    """One entry of ``EXERCISES``: what a coding exercise asks and how it is checked.

    ``check(fn)`` returns a ``CheckResult``; ``signature`` is the function the
    student writes; ``task`` a one-line statement; ``chapter`` the notebook's file name
    without extension; ``minutes`` an estimated time and ``difficulty`` 1 (routine) to 3
    (needs care); ``forbidden`` the library functions that solve the exercise, which a
    submission may not call.
    """

    label: str
    check: Callable[..., CheckResult]
    signature: str
    task: str
    chapter: str
    minutes: int
    difficulty: int
    forbidden: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The check's function name, e.g. ``'check_adam_step'``."""
        return self.check.__name__


EXERCISES: dict[str, ExerciseCheck] = {}
"""Exercise label -> ``ExerciseCheck``, for the instructors' page and assignment export."""

SPECS: dict[str, object] = {}
"""Exercise label -> the check's specification (its calls and its judge), for the grader."""


def exercise(spec, *, label: str, chapter: str, task: str, minutes: int, difficulty: int):
    """Register the decorated ``check_<name>(fn)`` for the exercise ``label``.

    ``spec`` is the check's specification (an ``Spec``); its
    ``signature`` and ``forbidden`` names go into the registry entry.
    """
    def register(check):
        EXERCISES[label] = ExerciseCheck(label, check, spec.signature, task, chapter, minutes, difficulty,
                                         tuple(spec.forbidden))
        SPECS[label] = spec
        return check
    return register


def run_check(label: str, fn) -> CheckResult:
    """Run the check registered for the exercise ``label`` on ``fn``."""
    if label not in EXERCISES:
        raise KeyError(f"no check for exercise {label!r}; known labels: {sorted(EXERCISES)}")
    return EXERCISES[label].check(fn)


class Failure(Exception):
    """Internal: stops a check with a student-facing message, a hint and the mistake's key."""

    def __init__(self, message: str, hint: str = "", mistake: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.mistake = mistake


def result(name: str, passed: bool, message: str, hint: str = "", mistake: str = "") -> CheckResult:
    """A ``CheckResult`` whose message ends with the hint."""
    full = message if not hint else f"{message}\nHint: {hint}"
    return CheckResult(passed=passed, name=name, message=full, hint=hint, mistake=mistake)


def guarded(name: str, run: Callable[[], str], note: Callable[[], str] = lambda: "") -> CheckResult:
    """Run a check body; a ``Failure`` becomes a failed result, any other exception too.

    ``note()`` is appended to the message (what the student's function printed, whether it
    ran in a separate process).
    """
    try:
        text = run()
        return result(name, True, text + note())
    except Failure as failure:
        return result(name, False, failure.message + note(), failure.hint, failure.mistake)
    except Exception as exc:  # a bug in the check itself must not look like the student's
        return result(name, False, f"{name} could not finish: {type(exc).__name__}: {exc}. "
                      "This is probably a problem of the check, not of your function; "
                      "please report it.")
