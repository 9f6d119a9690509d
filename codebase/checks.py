"""Checks for the coding exercises: call ``check_<name>(your_function)`` in a notebook.

Each check runs the student's function on several seeded random inputs and for several
steps, compares every output with the reference implementation in ``codebase``
(``optim``, ``schedules``, ``init``, ``regularization``, ``clipping``, ``nn``) and returns a
:class:`CheckResult`. Update rules are run step by step, each step starting from the
reference's state, so that a mistake in the state (a missing bias correction, a wrong
buffer) is found at the first step where it shows; random initializers and samplers are
checked statistically on tens of thousands of seeded draws. A failed result says which step and which element first differ,
the expected and the obtained value, and a hint: when the wrong output is exactly what a
known mistake gives (``eps`` inside the square root, no bias correction, a sign error, a
step counted from 1 instead of 0...), the hint names that mistake. ::

    from codebase.checks import check_adam_step

    def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
        ...
        return theta, m, v

    check_adam_step(adam_step)                      # a green or red box in Jupyter
    check_adam_step(adam_step).raise_for_failure()  # for autograders (or: assert check_...)

A check never raises because of the function it is given: a non-callable, a function
that raises, returns ``None``, the wrong number of values, the wrong shape or dtype, NaN
or infinity, all give a failed result whose message says what to fix.

Conventions for the functions students write (the book's notation, see the notation page):

- the arguments are passed by name when the function uses the signature's names, else by
  position;
- tensors in, tensors out; the functions may work in place or out of place, but must
  *return* the new values (``theta`` and the new optimizer state, in the order of the
  signature); inputs are float64 tensors and outputs must keep their shape and dtype
  (the exception is ``foreach_adam``, which updates its lists in place and returns nothing);
- optimizer states (``m``, ``v``, ``s``, ``u``) start at zero; the step ``t`` starts at 1;
- the learning rate is ``lr`` (alpha), the momentum coefficient ``beta``, RMSProp's decay
  rate ``rho``, Adam's ``beta1``, ``beta2``, the weight decay ``weight_decay`` (lambda);
- schedules take ``k``, the number of steps already taken (0, 1, 2, ...), as in
  ``codebase.schedules``;
- initializers take ``(n_in, n_out, generator)`` and return a weight of shape
  ``(n_out, n_in)``, as ``torch.nn.Linear`` stores it.

:data:`EXERCISES` maps each exercise label to its check, the signature to write, a
one-line task, the chapter, an estimated time in minutes and a difficulty from 1 to 3.
"""
from __future__ import annotations

import html
import inspect
import linecache
import math
import numbers
import traceback
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import clipping, optim, schedules
from .nn import dropout
from .regularization import EarlyStopping, l1_penalty, l2_penalty

__all__ = [
    "CheckResult", "CheckFailed", "ExerciseCheck", "EXERCISES", "run_check",
    "check_momentum_step", "check_nesterov_step", "check_adagrad_step", "check_rmsprop_step",
    "check_rmsprop_bias_corrected_step", "check_adadelta_step", "check_adam_step",
    "check_adamw_step", "check_step_decay", "check_cosine_schedule", "check_cosine_restarts",
    "check_xavier_uniform", "check_he_normal",
    "check_l1_penalty", "check_l1_subgradient", "check_l2_penalty", "check_weight_decay_step",
    "check_stopping_epochs", "check_sgd_decoupled_step", "check_dropout", "check_log_uniform",
    "check_foreach_adam", "check_top_eigenvalue", "check_clip_by_norm", "check_clip_by_value",
]

DTYPE = torch.float64


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------

class CheckFailed(AssertionError):
    """Raised by :meth:`CheckResult.raise_for_failure`; its message is the check's message."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a check.

    ``passed`` tells whether the function is right, ``name`` is the check's name and
    ``message`` is written for the student: what was tested, or what first went wrong and
    how to fix it. ``hint`` repeats the hint part of the message (empty if there is none).
    ``bool(result)`` is ``passed``; ``str(result)`` is the message; in Jupyter the result
    shows as a green (passed) or red (failed) box.
    """

    passed: bool
    name: str
    message: str
    hint: str = ""

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
        """Raise :class:`CheckFailed` (an ``AssertionError``) with the message if the check
        failed; return the result itself otherwise."""
        if not self.passed:
            raise CheckFailed(self.message)
        return self


@dataclass(frozen=True)
class ExerciseCheck:
    """One entry of :data:`EXERCISES`: what a coding exercise asks and how it is checked.

    ``check(fn)`` returns a :class:`CheckResult`; ``signature`` is the function the
    student writes; ``task`` a one-line statement; ``chapter`` the notebook's file name
    without extension; ``minutes`` an estimated time and ``difficulty`` 1 (routine) to 3
    (needs care).
    """

    label: str
    check: Callable[..., CheckResult]
    signature: str
    task: str
    chapter: str
    minutes: int
    difficulty: int

    @property
    def name(self) -> str:
        """The check's function name, e.g. ``'check_adam_step'``."""
        return self.check.__name__


EXERCISES: dict[str, ExerciseCheck] = {}
"""Exercise label -> :class:`ExerciseCheck`, for the instructors' page and assignment export."""


def _exercise(label, chapter, signature, task, minutes, difficulty):
    def register(check):
        EXERCISES[label] = ExerciseCheck(label, check, signature, task, chapter, minutes, difficulty)
        return check
    return register


def run_check(label: str, fn) -> CheckResult:
    """Run the check registered for the exercise ``label`` on ``fn``."""
    if label not in EXERCISES:
        raise KeyError(f"no check for exercise {label!r}; known labels: {sorted(EXERCISES)}")
    return EXERCISES[label].check(fn)


class _Failure(Exception):
    """Internal: stops a check with a student-facing message and hint."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint


def _result(name, passed, message, hint=""):
    full = message if not hint else f"{message}\nHint: {hint}"
    return CheckResult(passed=passed, name=name, message=full, hint=hint)


def _guarded(name: str, run: Callable[[], str]) -> CheckResult:
    """Run a check body; a ``_Failure`` becomes a failed result, any other exception too."""
    try:
        return _result(name, True, run())
    except _Failure as failure:
        return _result(name, False, failure.message, failure.hint)
    except Exception as exc:  # a bug in the check itself must not look like the student's
        return _result(name, False, f"{name} could not finish: {type(exc).__name__}: {exc}. "
                       "This is probably a problem of the check, not of your function; "
                       "please report it.")


# --------------------------------------------------------------------------------------
# Calling the student's function
# --------------------------------------------------------------------------------------

def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Caller:
    """Calls ``fn`` with the exercise's arguments, by name if the names match, else by position."""

    def __init__(self, fn, func_name: str, params: tuple[str, ...], signature: str, check: str):
        if not callable(fn):
            extra = ""
            if isinstance(fn, (tuple, torch.Tensor, numbers.Number, bool)) or fn is None:
                extra = (f" It looks like you passed the result of calling your function: pass the "
                         f"function itself, {check}({func_name}), not {check}({func_name}(...)).")
            raise _Failure(f"{check} needs a function, got {type(fn).__name__} {_describe(fn)}."
                           + extra, f"write the function {signature} and pass it: {check}({func_name}).")
        self.fn, self.params, self.signature = fn, params, signature
        self.by_name = False
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return  # builtins and some callables: call positionally
        names = sig.parameters
        kinds = [p.kind for p in names.values()]
        named = [n for n, p in names.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        takes_keywords = inspect.Parameter.VAR_KEYWORD in kinds
        if all(p in names for p in params) or (takes_keywords and all(n in params for n in named)):
            self.by_name = True
            required = [n for n, p in names.items() if p.default is p.empty
                        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in params]
            if required:
                raise _Failure(f"your function has extra required parameters {required}; the exercise "
                               f"calls it as {signature}.", "remove them or give them default values.")
            return
        if inspect.Parameter.VAR_POSITIONAL in kinds:
            return
        positional = [p for p in names.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in positional if p.default is p.empty]
        if len(required) > len(params) or len(positional) < len(params):
            raise _Failure(f"your function takes the parameters ({', '.join(names)}), but the "
                           f"exercise calls it with {len(params)} arguments: {signature}.",
                           "use exactly the parameters of the signature, in that order.")

    def __call__(self, args: dict, where: str):
        try:
            if self.by_name:
                return self.fn(**{p: args[p] for p in self.params})
            return self.fn(*(args[p] for p in self.params))
        except Exception as exc:
            raise _Failure(f"your function raised {type(exc).__name__} {where}: {exc}"
                           + _student_line(exc), _exception_hint(exc)) from None


def _student_line(exc) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    if not frames:
        return ""
    frame = frames[-1]
    line = frame.line or linecache.getline(frame.filename, frame.lineno).strip()
    return f"\n  (line {frame.lineno}: {line})" if line else f"\n  (line {frame.lineno})"


def _exception_hint(exc) -> str:
    text = str(exc)
    if isinstance(exc, ZeroDivisionError):
        return ("a division by zero: if it comes from 1 - beta**t, remember that t starts at 1, "
                "so 1 - beta**t is never 0 (1 - beta**(t - 1) is, at t = 1).")
    if (isinstance(exc, TypeError) and ("must be Tensor" in text or "not Tensor" in text
                                        or "only length-1" in text or "ndarray" in text)) or (
            isinstance(exc, (ValueError, RuntimeError)) and "only one element tensors" in text):
        return ("your function mixes tensors with math/numpy functions: use torch.sqrt, "
                "torch.sign, ... on tensors (math.sqrt only works on plain numbers).")
    if isinstance(exc, RuntimeError) and "size" in text and "match" in text:
        return "two tensors of different shapes were combined: all inputs have theta's shape."
    if isinstance(exc, NameError):
        return "a name is not defined: use only your function's parameters and imported modules."
    return "read the error message and the line above; run your function by hand on small inputs."


# --------------------------------------------------------------------------------------
# Outputs: types, shapes, comparison
# --------------------------------------------------------------------------------------

def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _unpack(result, outputs: tuple[str, ...], where: str, returns: str):
    """The returned value(s) as a tuple of the expected length."""
    if result is None:
        raise _Failure(f"your function returned None {where}.",
                       f"end it with `return {returns}` (also when you update the tensors in place).")
    if len(outputs) == 1:
        if isinstance(result, (tuple, list)) and len(result) == 1:
            result = result[0]
        return (result,)
    if not isinstance(result, (tuple, list)):
        raise _Failure(f"your function returned one {type(result).__name__} {where}, but it must "
                       f"return {len(outputs)} values: {returns}.",
                       f"return the new optimizer state too: `return {returns}`.")
    if len(result) != len(outputs):
        raise _Failure(f"your function returned {len(result)} values {where}, but it must return "
                       f"{len(outputs)}: {returns}.", f"`return {returns}`, in this order.")
    return tuple(result)


def _as_tensor(value, name: str, shape, dtype, where: str, shape_hint: str = "") -> torch.Tensor:
    """Check type, shape, dtype and finiteness of one returned tensor."""
    if value is None:
        raise _Failure(f"the returned {name} is None {where}.",
                       f"return the updated tensor {name}, not the result of an in-place method "
                       "that returns None.")
    if not isinstance(value, torch.Tensor):
        try:
            import numpy as np
            is_array = isinstance(value, np.ndarray)
        except ImportError:  # pragma: no cover
            is_array = False
        if is_array:
            value = torch.from_numpy(value)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool) and tuple(shape) == ():
            value = torch.tensor(float(value), dtype=DTYPE)
        else:
            raise _Failure(f"the returned {name} is a {type(value).__name__} {where}; it must be a "
                           f"tensor of shape {tuple(shape)}.",
                           "compute with torch operations on the input tensors so the result is a tensor.")
    value = value.detach()
    if tuple(value.shape) != tuple(shape):
        hint = shape_hint or f"{name} must have the shape of the inputs, {tuple(shape)}."
        if value.dim() == 2 and tuple(value.shape) == tuple(shape)[::-1]:
            hint = f"you returned the transpose: the expected shape is {tuple(shape)}. {shape_hint}".strip()
        elif tuple(shape) == () and value.numel() > 1:
            hint = f"{name} is one number: sum over all entries (.sum()) to get a 0-d tensor."
        elif value.numel() == 1 and value.dim() == 0:
            hint = f"you reduced {name} to one number (a sum or mean?); keep one entry per parameter."
        raise _Failure(f"the returned {name} has shape {tuple(value.shape)} {where}, expected "
                       f"{tuple(shape)}.", hint)
    if dtype is not None and value.dtype != dtype:
        if not value.is_floating_point():
            raise _Failure(f"the returned {name} has the integer dtype {value.dtype} {where}.",
                           "compute with floating-point tensors (e.g. torch.zeros_like(theta)).")
        raise _Failure(f"the returned {name} has dtype {value.dtype} {where}, but the inputs are "
                       f"{dtype}.", "keep the inputs' dtype: build new tensors with torch.zeros_like(theta) "
                       "or torch.as_tensor(x, dtype=theta.dtype), not torch.tensor(...) with the default dtype.")
    return value


def _nonfinite(value: torch.Tensor):
    """``None`` if all entries are finite, else (index, 'NaN' or 'inf' or '-inf') of the first bad one."""
    bad = ~torch.isfinite(value)
    if not bool(bad.any()):
        return None
    index = tuple(int(i) for i in bad.nonzero()[0]) if value.dim() else ()
    x = float(value[index]) if value.dim() else float(value)
    return index, "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _first_difference(got: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float):
    close = torch.isclose(got.to(DTYPE), expected.to(DTYPE), rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    index = tuple(int(i) for i in (~close).nonzero()[0]) if got.dim() else ()
    return index, float(got[index]), float(expected[index])


def _same(got: tuple, expected: tuple, rtol: float, atol: float) -> bool:
    try:
        return all(_first_difference(g, e, rtol, atol) is None for g, e in zip(got, expected))
    except Exception:
        return False


def _index_text(index) -> str:
    return "" if index == () else f"[{', '.join(map(str, index))}]"


# --------------------------------------------------------------------------------------
# Update rules: theta and an optimizer state, several steps, teacher forcing
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Mistake:
    key: str
    hint: str
    fn: Callable


@dataclass
class _Rule:
    check: str                       # name of the check function
    func: str                        # name of the student's function
    params: tuple[str, ...]          # its parameters, in order
    outputs: tuple[str, ...]         # what it returns, in order
    reference: Callable[[dict], tuple]
    mistakes: list[_Mistake]
    cases: list[dict]                # {"hyper": {...}, "shape": ..., "steps": ..., "seed": ..., "scale": ...}
    formulas: dict[str, str]         # output name -> the equation it must follow
    rtol: float = 1e-6
    atol: float = 1e-10
    theta_scale: float = 1.0
    extra: dict = field(default_factory=dict)  # additional fixed inputs
    theta_name: str = "theta"        # the parameter that starts random (the others start at 0)
    grad_name: str = "grad"          # the input that receives a fresh random gradient each step

    @property
    def signature(self) -> str:
        returns = self.outputs[0] if len(self.outputs) == 1 else f"({', '.join(self.outputs)})"
        return f"{self.func}({', '.join(self.params)}) -> {returns}"

    @property
    def returns(self) -> str:
        return ", ".join(self.outputs)


def _hyper_text(hyper: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hyper.items())


def _clone(args: dict) -> dict:
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in args.items()}


def _gradient(gen, shape, scale):
    # entries of very different sizes, so that eps, sqrt and squares all matter somewhere
    g = torch.randn(shape, generator=gen, dtype=DTYPE)
    return scale * g * torch.exp(torch.randn(shape, generator=gen, dtype=DTYPE))


def _run_rule(rule: _Rule, fn) -> str:
    call = _Caller(fn, rule.func, rule.params, rule.signature, rule.check)
    total = 0
    first = None            # the first mismatch: (case, t, output, index, got, expected, args)
    first_step_matches = []  # mistakes that equal the student's output at that step
    all_match = {m.key: True for m in rule.mistakes}
    for ci, case in enumerate(rule.cases, start=1):
        gen = torch.Generator().manual_seed(case["seed"])
        shape = case["shape"]
        state = {name: torch.zeros(shape, dtype=DTYPE) for name in rule.outputs}
        state[rule.theta_name] = rule.theta_scale * torch.randn(shape, generator=gen, dtype=DTYPE)
        for t in range(1, case["steps"] + 1):
            args = {**state, rule.grad_name: _gradient(gen, shape, case.get("scale", 1.0)), "t": t,
                    **rule.extra, **case["hyper"]}
            args = {p: args[p] for p in rule.params}
            where = (f"at step t = {t} of case {ci} ({_hyper_text(case['hyper'])}, "
                     f"tensors of shape {tuple(shape)})")
            expected = tuple(rule.reference(_clone(args)))
            got = _unpack(call(_clone(args), where), rule.outputs, where, rule.returns)
            got = tuple(_as_tensor(v, name, shape, DTYPE, where) for v, name in zip(got, rule.outputs))
            variants = {}
            for mistake in rule.mistakes:
                try:
                    variants[mistake.key] = tuple(mistake.fn(_clone(args)))
                except Exception:
                    variants[mistake.key] = None
            matches = [m for m in rule.mistakes if variants[m.key] is not None
                       and _same(got, variants[m.key], rule.rtol, rule.atol)]
            for m in rule.mistakes:
                all_match[m.key] = all_match[m.key] and m in matches
            for name, value in zip(rule.outputs, got):
                bad = _nonfinite(value)
                if bad is not None:
                    index, x = bad
                    hint = ("your output is what you get if you " + matches[0].hint) if matches else (
                        "NaN or inf comes from 0/0, x/0 or the square root of a negative number. "
                        "Check each division: the optimizer state starts at zero, and t starts at 1.")
                    raise _Failure(f"the returned {name} contains {x} at element {_index_text(index) or '()'} "
                                   f"{where}.\n  inputs at that element: "
                                   + _inputs_text(args, index), hint)
            total += 1
            if first is None:
                for name, g_value, e_value in zip(rule.outputs, got, expected):
                    diff = _first_difference(g_value, e_value, rule.rtol, rule.atol)
                    if diff is not None:
                        first = (ci, t, name, diff, args, case)
                        first_step_matches = matches
                        break
            state = dict(zip(rule.outputs, expected))  # teacher forcing: continue from the reference
    if first is None:
        return (f"{rule.func} is correct: it matches the reference on {total} steps in "
                f"{len(rule.cases)} cases (every returned tensor within a relative tolerance of "
                f"{rule.rtol:g}).")
    ci, t, name, (index, got_x, exp_x), args, case = first
    message = (f"{rule.func} does not match the reference yet.\n"
               f"First difference: {name}{_index_text(index)} at step t = {t} of case {ci} "
               f"({_hyper_text(case['hyper'])}, tensors of shape {tuple(case['shape'])}).\n"
               f"  expected {_fmt(exp_x)}\n"
               f"  got      {_fmt(got_x)}\n"
               f"  inputs at that element: {_inputs_text(args, index)}")
    if t > 1:
        message += f"\n(Steps 1 to {t - 1} of this case were right; each step starts from the reference's state.)"
    hint = _mistake_hint(rule.mistakes, all_match, first_step_matches,
                         f"{name} must be {rule.formulas[name]}.")
    raise _Failure(message, hint)


def _mistake_hint(mistakes, all_match, first_matches, fallback: str, *,
                  results: str = "your results are", there: str = "at that step your output is") -> str:
    """The hint of a failed check: the known mistake that the student's output matches
    everywhere, else one it matches where it first differs, else ``fallback`` (the formula)."""
    everywhere = [m for m in mistakes if all_match[m.key]]
    if everywhere:
        return f"{results} exactly what you get if you " + everywhere[0].hint
    if first_matches:
        return f"{there} what you get if you " + first_matches[0].hint
    return fallback


def _inputs_text(args: dict, index) -> str:
    parts = []
    for k, v in args.items():
        if isinstance(v, torch.Tensor):
            parts.append(f"{k} = {_fmt(float(v[index]))}")
        else:
            parts.append(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}")
    return ", ".join(parts)


def _rule_check(rule: _Rule, fn) -> CheckResult:
    return _guarded(rule.check, lambda: _run_rule(rule, fn))


# ---- the reference update rules, from codebase.optim ---------------------------------

def _ref_momentum(x, nesterov=False):
    theta, m = x["theta"], x["m"]
    optim.sgd_update(theta, x["grad"], m, lr=x["lr"], beta=x["beta"], nesterov=nesterov)
    return theta, m


def _ref_adagrad(x):
    theta, s = x["theta"], x["s"]
    optim.adagrad_update(theta, x["grad"], s, 1, lr=x["lr"], eps=x["eps"])
    return theta, s


def _ref_rmsprop(x):
    theta, v = x["theta"], x["v"]
    optim.rmsprop_update(theta, x["grad"], v, lr=x["lr"], rho=x["rho"], eps=x["eps"])
    return theta, v


def _ref_rmsprop_bc(x):
    # bias-corrected RMSProp is Adam without momentum: beta1 = 0 makes m_hat_t = g_t
    theta, v = x["theta"], x["v"]
    optim.adam_update(theta, x["grad"], torch.zeros_like(theta), v, x["t"], lr=x["lr"],
                         beta1=0.0, beta2=x["rho"], eps=x["eps"])
    return theta, v


def _ref_adadelta(x):
    theta, v, u = x["theta"], x["v"], x["u"]
    optim.adadelta_update(theta, x["grad"], v, u, lr=x["lr"], rho=x["rho"], eps=x["eps"])
    return theta, v, u


def _ref_adam(x):
    theta, m, v = x["theta"], x["m"], x["v"]
    optim.adam_update(theta, x["grad"], m, v, x["t"], lr=x["lr"], beta1=x["beta1"],
                         beta2=x["beta2"], eps=x["eps"])
    return theta, m, v


def _ref_adamw(x):
    theta, m, v = x["theta"], x["m"], x["v"]
    optim.adamw_update(theta, x["grad"], m, v, x["t"], lr=x["lr"], beta1=x["beta1"],
                          beta2=x["beta2"], eps=x["eps"], weight_decay=x["weight_decay"])
    return theta, m, v


def _ref_weight_decay(x):
    theta = x["theta"]
    optim.sgd_update(theta, x["grad"], None, lr=x["lr"], weight_decay=x["weight_decay"])
    return (theta,)


# ---- SGD with momentum ----------------------------------------------------------------

def _mom(x, buffer, direction, sign=-1.0):
    m = buffer(x)
    return x["theta"] + sign * x["lr"] * direction(x, m), m


_MOMENTUM_MISTAKES = [
    _Mistake("ema", "use the moving-average form m = beta * m + (1 - beta) * grad; PyTorch's "
             "convention (the book's) adds the whole gradient: m = beta * m + grad.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + (1 - x["beta"]) * x["grad"], lambda x, m: m)),
    _Mistake("lr-inside", "put the learning rate inside the buffer (m = beta * m + lr * grad; "
             "theta -= m, Sutskever's form): here lr multiplies the whole buffer, "
             "m = beta * m + grad; theta = theta - lr * m.",
             lambda x: (x["theta"] - (x["beta"] * x["m"] + x["lr"] * x["grad"]),
                        x["beta"] * x["m"] + x["lr"] * x["grad"])),
    _Mistake("old-buffer", "step with the old buffer m_{t-1} and update it afterwards; update m "
             "first, then take the step with the new m_t.",
             lambda x: (x["theta"] - x["lr"] * x["m"], x["beta"] * x["m"] + x["grad"])),
    _Mistake("sign", "add the step instead of subtracting it (a sign error): theta = theta - lr * m.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"], lambda x, m: m, sign=1.0)),
    _Mistake("no-beta", "forget beta in the buffer (m = m + grad): the buffer must decay, "
             "m = beta * m + grad.",
             lambda x: _mom(x, lambda x: x["m"] + x["grad"], lambda x, m: m)),
    _Mistake("nesterov", "take Nesterov's step grad + beta * m; plain momentum steps along m itself.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"], lambda x, m: x["grad"] + x["beta"] * m)),
]

_MOMENTUM_CASES = [
    {"hyper": {"lr": 0.1, "beta": 0.9}, "shape": (5,), "steps": 6, "seed": 1},
    {"hyper": {"lr": 0.03, "beta": 0.5}, "shape": (2, 3), "steps": 5, "seed": 2},
    {"hyper": {"lr": 0.5, "beta": 0.99}, "shape": (4,), "steps": 4, "seed": 3, "scale": 3.0},
]

_MOMENTUM = _Rule(
    "check_momentum_step", "momentum_step", ("theta", "grad", "m", "lr", "beta"), ("theta", "m"),
    _ref_momentum, _MOMENTUM_MISTAKES, _MOMENTUM_CASES,
    {"m": "beta * m + grad (the new buffer m_t)", "theta": "theta - lr * m_t, with the new buffer m_t"})


@_exercise("mom-ex-implement", "momentum", _MOMENTUM.signature,
           "Write one step of SGD with heavy-ball momentum in PyTorch's form.", 10, 1)
def check_momentum_step(fn) -> CheckResult:
    """Check ``momentum_step(theta, grad, m, lr, beta) -> (theta, m)``.

    PyTorch's convention (the momentum chapter): ``m_t = beta * m_{t-1} + g_t`` and
    ``theta_t = theta_{t-1} - lr * m_t``, with ``m_0 = 0`` (so ``m_1 = g_1``).
    """
    return _rule_check(_MOMENTUM, fn)


# ---- Nesterov -------------------------------------------------------------------------

_NESTEROV_MISTAKES = [
    _Mistake("heavy-ball", "take the heavy-ball step along m_t = grad + beta * m_{t-1} (the same as "
             "using the old buffer in grad + beta * m); Nesterov's step is along grad + beta * m_t, "
             "with the new buffer m_t.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"], lambda x, m: m)),
    _Mistake("no-beta", "forget beta in the step (grad + m_t); the direction is grad + beta * m_t.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"], lambda x, m: x["grad"] + m)),
    _Mistake("ema", "use the moving-average buffer m = beta * m + (1 - beta) * grad; PyTorch's "
             "convention adds the whole gradient: m = beta * m + grad.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + (1 - x["beta"]) * x["grad"],
                            lambda x, m: x["grad"] + x["beta"] * m)),
    _Mistake("sign", "add the step instead of subtracting it (a sign error).",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"],
                            lambda x, m: x["grad"] + x["beta"] * m, sign=1.0)),
]

_NESTEROV = _Rule(
    "check_nesterov_step", "nesterov_step", ("theta", "grad", "m", "lr", "beta"), ("theta", "m"),
    lambda x: _ref_momentum(x, nesterov=True), _NESTEROV_MISTAKES, _MOMENTUM_CASES,
    {"m": "beta * m + grad (the new buffer m_t)",
     "theta": "theta - lr * (grad + beta * m_t), with the new buffer m_t"})


@_exercise("nag-ex-implement", "nesterov", _NESTEROV.signature,
           "Write one step of Nesterov momentum in PyTorch's look-ahead form.", 10, 2)
def check_nesterov_step(fn) -> CheckResult:
    """Check ``nesterov_step(theta, grad, m, lr, beta) -> (theta, m)``.

    PyTorch's form (the Nesterov chapter): ``m_t = beta * m_{t-1} + g_t`` and
    ``theta_t = theta_{t-1} - lr * (g_t + beta * m_t)``, with ``m_0 = 0``.
    """
    return _rule_check(_NESTEROV, fn)


# ---- AdaGrad --------------------------------------------------------------------------

def _ada(x, s, denom, sign=-1.0):
    return x["theta"] + sign * x["lr"] * x["grad"] / denom(x, s), s


_ADAGRAD_MISTAKES = [
    _Mistake("eps-inside", "put eps inside the square root, sqrt(s + eps); the book adds it after "
             "the root: grad / (sqrt(s_t) + eps).",
             lambda x: _ada(x, x["s"] + x["grad"] ** 2, lambda x, s: torch.sqrt(s + x["eps"]))),
    _Mistake("old-s", "divide by the old sum s_{t-1}; add grad**2 to s first, then divide by "
             "sqrt(s_t) + eps.",
             lambda x: _ada(x, x["s"] + x["grad"] ** 2, lambda x, s: torch.sqrt(x["s"]) + x["eps"])),
    _Mistake("no-square", "accumulate grad instead of grad**2; s is a sum of squared gradients.",
             lambda x: _ada(x, x["s"] + x["grad"], lambda x, s: torch.sqrt(s) + x["eps"])),
    _Mistake("no-sqrt", "divide by s instead of its square root: grad / (sqrt(s_t) + eps).",
             lambda x: _ada(x, x["s"] + x["grad"] ** 2, lambda x, s: s + x["eps"])),
    _Mistake("sign", "add the step instead of subtracting it (a sign error).",
             lambda x: _ada(x, x["s"] + x["grad"] ** 2, lambda x, s: torch.sqrt(s) + x["eps"], sign=1.0)),
]

_ADAGRAD = _Rule(
    "check_adagrad_step", "adagrad_step", ("theta", "grad", "s", "lr", "eps"), ("theta", "s"),
    _ref_adagrad, _ADAGRAD_MISTAKES,
    [{"hyper": {"lr": 0.1, "eps": 1e-2}, "shape": (5,), "steps": 6, "seed": 11, "scale": 0.3},
     {"hyper": {"lr": 1.0, "eps": 1e-10}, "shape": (3, 2), "steps": 5, "seed": 12},
     {"hyper": {"lr": 0.5, "eps": 0.1}, "shape": (4,), "steps": 4, "seed": 13, "scale": 2.0}],
    {"s": "s + grad**2 (the new sum s_t)", "theta": "theta - lr * grad / (sqrt(s_t) + eps)"})


@_exercise("adagrad-ex-implement", "adagrad", _ADAGRAD.signature,
           "Write one AdaGrad step: accumulate squared gradients, divide the step by their root.", 10, 1)
def check_adagrad_step(fn) -> CheckResult:
    """Check ``adagrad_step(theta, grad, s, lr, eps) -> (theta, s)``:
    ``s_t = s_{t-1} + g_t^2``, ``theta_t = theta_{t-1} - lr * g_t / (sqrt(s_t) + eps)``, ``s_0 = 0``."""
    return _rule_check(_ADAGRAD, fn)


# ---- RMSProp --------------------------------------------------------------------------

def _rms_v(x):
    return x["rho"] * x["v"] + (1 - x["rho"]) * x["grad"] ** 2


_RMSPROP_MISTAKES = [
    _Mistake("eps-inside", "put eps inside the square root, sqrt(v + eps); the book (and torch) add "
             "it after the root: grad / (sqrt(v_t) + eps).",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(v + x["eps"]))),
    _Mistake("swapped-rho", "swap rho and 1 - rho: the old average keeps the weight rho, "
             "v = rho * v + (1 - rho) * grad**2.",
             lambda x: _ada(x, (1 - x["rho"]) * x["v"] + x["rho"] * x["grad"] ** 2,
                            lambda x, v: torch.sqrt(v) + x["eps"])),
    _Mistake("old-v", "divide by the old average v_{t-1}; update v first, then divide by sqrt(v_t) + eps.",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(x["v"]) + x["eps"])),
    _Mistake("no-sqrt", "divide by v instead of its square root: grad / (sqrt(v_t) + eps).",
             lambda x: _ada(x, _rms_v(x), lambda x, v: v + x["eps"])),
    _Mistake("sign", "add the step instead of subtracting it (a sign error).",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(v) + x["eps"], sign=1.0)),
]

_RMSPROP_CASES = [
    {"hyper": {"lr": 0.01, "rho": 0.9, "eps": 1e-2}, "shape": (5,), "steps": 6, "seed": 21, "scale": 0.3},
    {"hyper": {"lr": 0.1, "rho": 0.99, "eps": 1e-8}, "shape": (3, 2), "steps": 5, "seed": 22},
    {"hyper": {"lr": 0.05, "rho": 0.5, "eps": 0.1}, "shape": (4,), "steps": 4, "seed": 23, "scale": 2.0},
]

_RMSPROP = _Rule(
    "check_rmsprop_step", "rmsprop_step", ("theta", "grad", "v", "lr", "rho", "eps"), ("theta", "v"),
    _ref_rmsprop, _RMSPROP_MISTAKES, _RMSPROP_CASES,
    {"v": "rho * v + (1 - rho) * grad**2 (the new average v_t)",
     "theta": "theta - lr * grad / (sqrt(v_t) + eps)"})


@_exercise("rmsprop-ex-implement", "rmsprop", _RMSPROP.signature,
           "Write one RMSProp step: a moving average of squared gradients divides the step.", 10, 1)
def check_rmsprop_step(fn) -> CheckResult:
    """Check ``rmsprop_step(theta, grad, v, lr, rho, eps) -> (theta, v)``:
    ``v_t = rho v_{t-1} + (1 - rho) g_t^2``, ``theta_t = theta_{t-1} - lr g_t / (sqrt(v_t) + eps)``."""
    return _rule_check(_RMSPROP, fn)


def _bc(x, v, power_t):
    return torch.sqrt(v / (1 - torch.tensor(x["rho"], dtype=DTYPE) ** power_t)) + x["eps"]


_RMSPROP_BC_MISTAKES = [
    _Mistake("no-bias-correction", "leave out the bias correction: divide by "
             "sqrt(v_t / (1 - rho**t)) + eps, not by sqrt(v_t) + eps.",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(v) + x["eps"])),
    _Mistake("t-minus-1", "use t - 1 in the correction (an off-by-one in the step count): t starts at 1, "
             "and the correction is 1 - rho**t.",
             lambda x: _ada(x, _rms_v(x), lambda x, v: _bc(x, v, x["t"] - 1))),
    _Mistake("t-plus-1", "use t + 1 in the correction (an off-by-one in the step count): the "
             "correction at step t is 1 - rho**t.",
             lambda x: _ada(x, _rms_v(x), lambda x, v: _bc(x, v, x["t"] + 1))),
    _Mistake("eps-inside", "put eps inside the square root; add it after the root: "
             "grad / (sqrt(v_t / (1 - rho**t)) + eps).",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(v / (1 - x["rho"] ** x["t"]) + x["eps"]))),
    _Mistake("corrected-state", "return the corrected average as the new state; the state is the "
             "uncorrected v_t, the correction is only used in the step.",
             lambda x: (_ada(x, _rms_v(x), lambda x, v: _bc(x, v, x["t"]))[0],
                        _rms_v(x) / (1 - x["rho"] ** x["t"]))),
]

_RMSPROP_BC = _Rule(
    "check_rmsprop_bias_corrected_step", "rmsprop_bc_step", ("theta", "grad", "v", "t", "lr", "rho", "eps"),
    ("theta", "v"), _ref_rmsprop_bc, _RMSPROP_BC_MISTAKES, _RMSPROP_CASES,
    {"v": "rho * v + (1 - rho) * grad**2 (uncorrected: the correction is only used in the step)",
     "theta": "theta - lr * grad / (sqrt(v_t / (1 - rho**t)) + eps)"})


@_exercise("rmsprop-ex-bias", "rmsprop", _RMSPROP_BC.signature,
           "Write one step of RMSProp that divides by the bias-corrected average sqrt(v_t / (1 - rho^t)).",
           10, 2)
def check_rmsprop_bias_corrected_step(fn) -> CheckResult:
    """Check ``rmsprop_bc_step(theta, grad, v, t, lr, rho, eps) -> (theta, v)``:
    ``v_t = rho v_{t-1} + (1 - rho) g_t^2`` and
    ``theta_t = theta_{t-1} - lr g_t / (sqrt(v_t / (1 - rho^t)) + eps)``, ``t`` from 1."""
    return _rule_check(_RMSPROP_BC, fn)


# ---- AdaDelta -------------------------------------------------------------------------

def _adadelta(x, numerator, denominator, u_from="delta", sign=-1.0):
    v = _rms_v(x)
    delta = numerator(x) / denominator(x, v) * x["grad"]
    u_source = delta if u_from == "delta" else x["grad"]
    u = x["rho"] * x["u"] + (1 - x["rho"]) * u_source ** 2
    return x["theta"] + sign * x["lr"] * delta, v, u


def _adadelta_u_first(x):
    v = _rms_v(x)
    # the common slip: u updated with the previous step before the new step is formed
    delta0 = torch.sqrt(x["u"] + x["eps"]) / torch.sqrt(v + x["eps"]) * x["grad"]
    u = x["rho"] * x["u"] + (1 - x["rho"]) * delta0 ** 2
    delta = torch.sqrt(u + x["eps"]) / torch.sqrt(v + x["eps"]) * x["grad"]
    return x["theta"] - x["lr"] * delta, v, u


_ADADELTA_MISTAKES = [
    _Mistake("eps-outside", "add eps outside the square roots; AdaDelta puts eps inside both: "
             "sqrt(u_{t-1} + eps) / sqrt(v_t + eps).",
             lambda x: _adadelta(x, lambda x: torch.sqrt(x["u"]) + x["eps"],
                                 lambda x, v: torch.sqrt(v) + x["eps"])),
    _Mistake("u-grad", "average squared gradients into u; u averages the squared updates delta_t**2.",
             lambda x: _adadelta(x, lambda x: torch.sqrt(x["u"] + x["eps"]),
                                 lambda x, v: torch.sqrt(v + x["eps"]), u_from="grad")),
    _Mistake("u-first", "update u before forming the step; the numerator uses the old u_{t-1}.",
             _adadelta_u_first),
    _Mistake("old-v", "divide by the old average v_{t-1}; update v first, then divide by sqrt(v_t + eps).",
             lambda x: _adadelta(x, lambda x: torch.sqrt(x["u"] + x["eps"]),
                                 lambda x, v: torch.sqrt(x["v"] + x["eps"]))),
    _Mistake("sign", "add the step instead of subtracting it (a sign error).",
             lambda x: _adadelta(x, lambda x: torch.sqrt(x["u"] + x["eps"]),
                                 lambda x, v: torch.sqrt(v + x["eps"]), sign=1.0)),
]

_ADADELTA = _Rule(
    "check_adadelta_step", "adadelta_step", ("theta", "grad", "v", "u", "lr", "rho", "eps"),
    ("theta", "v", "u"), _ref_adadelta, _ADADELTA_MISTAKES,
    [{"hyper": {"lr": 1.0, "rho": 0.9, "eps": 1e-2}, "shape": (5,), "steps": 6, "seed": 31, "scale": 0.3},
     {"hyper": {"lr": 0.5, "rho": 0.95, "eps": 1e-6}, "shape": (3, 2), "steps": 5, "seed": 32},
     {"hyper": {"lr": 2.0, "rho": 0.5, "eps": 0.1}, "shape": (4,), "steps": 4, "seed": 33, "scale": 2.0}],
    {"v": "rho * v + (1 - rho) * grad**2",
     "u": "rho * u + (1 - rho) * delta**2, with delta = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * grad",
     "theta": "theta - lr * delta, with delta = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * grad"})


@_exercise("adadelta-ex-implement", "adadelta", _ADADELTA.signature,
           "Write one AdaDelta step with its two moving averages.", 15, 2)
def check_adadelta_step(fn) -> CheckResult:
    """Check ``adadelta_step(theta, grad, v, u, lr, rho, eps) -> (theta, v, u)`` (torch's form,
    ``lr = 1`` is Zeiler's method): ``v_t = rho v + (1 - rho) g^2``,
    ``delta_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) g_t``, ``u_t = rho u + (1 - rho) delta_t^2``,
    ``theta_t = theta_{t-1} - lr delta_t``."""
    return _rule_check(_ADADELTA, fn)


# ---- Adam -----------------------------------------------------------------------------

def _adam(x, *, b1_power=None, b2_power=None, correct_m=True, correct_v=True, eps_inside=False,
          sign=-1.0, swap=False, wrong_weights=False, old=False, eps_hat=False, decay_grad=0.0):
    t = x["t"]
    b1, b2 = (x["beta2"], x["beta1"]) if swap else (x["beta1"], x["beta2"])
    g = x["grad"] + decay_grad * x["theta"]
    if wrong_weights:
        m = (1 - b1) * x["m"] + b1 * g
        v = (1 - b2) * x["v"] + b2 * g ** 2
    else:
        m = b1 * x["m"] + (1 - b1) * g
        v = b2 * x["v"] + (1 - b2) * g ** 2
    m_use, v_use = (x["m"], x["v"]) if old else (m, v)
    p1 = t if b1_power is None else b1_power
    p2 = t if b2_power is None else b2_power
    c1 = 1 - torch.tensor(b1, dtype=DTYPE) ** p1 if correct_m else 1.0
    c2 = 1 - torch.tensor(b2, dtype=DTYPE) ** p2 if correct_v else 1.0
    if eps_hat:  # Kingma & Ba's "efficient" ordering: alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t)
        step = x["lr"] * torch.sqrt(torch.as_tensor(c2, dtype=DTYPE)) / c1 * m_use / (torch.sqrt(v_use) + x["eps"])
    elif eps_inside:
        step = x["lr"] * (m_use / c1) / torch.sqrt(v_use / c2 + x["eps"])
    else:
        step = x["lr"] * (m_use / c1) / (torch.sqrt(v_use / c2) + x["eps"])
    return x["theta"] + sign * step, m, v


_ADAM_MISTAKES = [
    _Mistake("eps-inside", "put eps inside the square root, sqrt(v_hat + eps); the book adds eps "
             "after the root: m_hat / (sqrt(v_hat) + eps).", lambda x: _adam(x, eps_inside=True)),
    _Mistake("no-bias-correction", "leave out the bias correction: use m_hat = m_t / (1 - beta1**t) "
             "and v_hat = v_t / (1 - beta2**t) in the step.",
             lambda x: _adam(x, correct_m=False, correct_v=False)),
    _Mistake("no-bias-correction-m", "leave out the bias correction of m: m_hat = m_t / (1 - beta1**t).",
             lambda x: _adam(x, correct_m=False)),
    _Mistake("no-bias-correction-v", "leave out the bias correction of v: v_hat = v_t / (1 - beta2**t).",
             lambda x: _adam(x, correct_v=False)),
    _Mistake("t-minus-1", "use t - 1 in the bias correction (an off-by-one in the step count): t starts "
             "at 1 and the correction is 1 - beta**t.",
             lambda x: _adam(x, b1_power=x["t"] - 1, b2_power=x["t"] - 1)),
    _Mistake("t-plus-1", "use t + 1 in the bias correction (an off-by-one in the step count): at step t "
             "the correction is 1 - beta**t, and t is already counted from 1.",
             lambda x: _adam(x, b1_power=x["t"] + 1, b2_power=x["t"] + 1)),
    _Mistake("eps-hat", "use Kingma & Ba's reordered form lr * sqrt(1 - beta2**t) / (1 - beta1**t) * "
             "m / (sqrt(v) + eps), whose eps is a different constant; the book adds eps to sqrt(v_hat).",
             lambda x: _adam(x, eps_hat=True)),
    _Mistake("swapped-betas", "swap beta1 and beta2: beta1 goes with m (the gradients), beta2 with v "
             "(the squared gradients).", lambda x: _adam(x, swap=True)),
    _Mistake("swapped-weights", "swap beta and 1 - beta in the averages: m = beta1 * m + (1 - beta1) * grad.",
             lambda x: _adam(x, wrong_weights=True)),
    _Mistake("old-moments", "take the step with the old moments m_{t-1}, v_{t-1}; update m and v first.",
             lambda x: _adam(x, old=True)),
    _Mistake("sign", "add the step instead of subtracting it (a sign error).", lambda x: _adam(x, sign=1.0)),
]

_ADAM_CASES = [
    {"hyper": {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-3}, "shape": (5,), "steps": 6,
     "seed": 41, "scale": 0.05},
    {"hyper": {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-8}, "shape": (3, 2), "steps": 5, "seed": 42},
    {"hyper": {"lr": 0.3, "beta1": 0.5, "beta2": 0.9, "eps": 0.1}, "shape": (4,), "steps": 4, "seed": 43,
     "scale": 0.5},
]

_ADAM = _Rule(
    "check_adam_step", "adam_step", ("theta", "grad", "m", "v", "t", "lr", "beta1", "beta2", "eps"),
    ("theta", "m", "v"), _ref_adam, _ADAM_MISTAKES, _ADAM_CASES,
    {"m": "beta1 * m + (1 - beta1) * grad (the new, uncorrected m_t)",
     "v": "beta2 * v + (1 - beta2) * grad**2 (the new, uncorrected v_t)",
     "theta": "theta - lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m_t / (1 - beta1**t) and "
              "v_hat = v_t / (1 - beta2**t)"})


@_exercise("adam-ex-implement", "adam", _ADAM.signature,
           "Write one Adam step with bias correction.", 15, 2)
def check_adam_step(fn) -> CheckResult:
    """Check ``adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps) -> (theta, m, v)``.

    ``m_t = beta1 m + (1 - beta1) g``, ``v_t = beta2 v + (1 - beta2) g^2``,
    ``theta_t = theta - lr m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m_t / (1 - beta1^t)``,
    ``v_hat = v_t / (1 - beta2^t)``; ``t`` starts at 1 and ``m``, ``v`` at zero. The
    returned ``m``, ``v`` are the uncorrected moments.
    """
    return _rule_check(_ADAM, fn)


def _adamw(x, factor=None, after=False, sign=1.0):
    theta, m, v = _adam({**x, "theta": x["theta"]})
    step = theta - x["theta"]
    shrink = 1 - sign * x["lr"] * x["weight_decay"] if factor is None else factor(x)
    if after:
        return (x["theta"] + step) * shrink, m, v
    return x["theta"] * shrink + step, m, v


_ADAMW_MISTAKES = [
    _Mistake("l2", "add weight_decay * theta to the gradient: that is an L2 penalty inside Adam "
             "(torch.optim.Adam's weight_decay), which m and v then carry and sqrt(v_hat) divides. "
             "AdamW decays the weights directly: theta = theta * (1 - lr * weight_decay), then "
             "Adam's step on the bare gradient.",
             lambda x: _adam(x, decay_grad=x["weight_decay"])),
    _Mistake("no-lr", "shrink by (1 - weight_decay) instead of (1 - lr * weight_decay): in PyTorch's "
             "AdamW the decay is multiplied by the learning rate.",
             lambda x: _adamw(x, factor=lambda x: 1 - x["weight_decay"])),
    _Mistake("decay-after", "apply the decay to the updated theta, after Adam's step; decay "
             "theta_{t-1}: theta * (1 - lr * weight_decay) - lr * m_hat / (sqrt(v_hat) + eps).",
             lambda x: _adamw(x, after=True)),
    _Mistake("decay-sign", "grow theta by (1 + lr * weight_decay): the decay shrinks, (1 - lr * weight_decay).",
             lambda x: _adamw(x, sign=-1.0)),
    _Mistake("no-decay", "leave out the weight decay: plain Adam is not AdamW.", lambda x: _adam(x)),
    _Mistake("eps-inside", "put eps inside the square root; AdamW's Adam part adds eps after the root.",
             lambda x: _adamw_eps_inside(x)),
    _Mistake("no-bias-correction", "leave out Adam's bias correction (m_hat = m_t / (1 - beta1**t), "
             "v_hat = v_t / (1 - beta2**t)).", lambda x: _adamw_nobc(x)),
]


def _adamw_eps_inside(x):
    theta, m, v = _adam(x, eps_inside=True)
    return theta - x["lr"] * x["weight_decay"] * x["theta"], m, v


def _adamw_nobc(x):
    theta, m, v = _adam(x, correct_m=False, correct_v=False)
    return theta - x["lr"] * x["weight_decay"] * x["theta"], m, v


_ADAMW = _Rule(
    "check_adamw_step", "adamw_step",
    ("theta", "grad", "m", "v", "t", "lr", "beta1", "beta2", "eps", "weight_decay"),
    ("theta", "m", "v"), _ref_adamw, _ADAMW_MISTAKES,
    [{"hyper": {**c["hyper"], "weight_decay": wd}, **{k: c[k] for k in c if k != "hyper"}}
     for c, wd in zip(_ADAM_CASES, (0.5, 0.1, 0.05))],
    {"m": "beta1 * m + (1 - beta1) * grad, with the bare gradient (no decay term)",
     "v": "beta2 * v + (1 - beta2) * grad**2, with the bare gradient (no decay term)",
     "theta": "theta * (1 - lr * weight_decay) - lr * m_hat / (sqrt(v_hat) + eps)"},
    theta_scale=3.0)


@_exercise("adam-ex-adamw", "adam", _ADAMW.signature,
           "Write one AdamW step: decoupled weight decay, then Adam's step on the bare gradient.", 15, 2)
def check_adamw_step(fn) -> CheckResult:
    """Check ``adamw_step(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay) -> (theta, m, v)``:
    ``theta' = theta (1 - lr lambda)``, then Adam's step (bias-corrected) on ``theta'`` with the
    bare gradient, as ``torch.optim.AdamW``."""
    return _rule_check(_ADAMW, fn)


# ---- SGD with weight decay (L2 on the gradient) --------------------------------------

_WEIGHT_DECAY_MISTAKES = [
    _Mistake("no-lr", "subtract weight_decay * theta without the learning rate; the whole "
             "gradient, decay included, is multiplied by lr: theta - lr * (grad + weight_decay * theta).",
             lambda x: (x["theta"] - x["lr"] * x["grad"] - x["weight_decay"] * x["theta"],)),
    _Mistake("decay-on-grad", "apply the decay to the gradient (weight_decay * grad); weight decay "
             "acts on the weights: grad + weight_decay * theta.",
             lambda x: (x["theta"] - x["lr"] * (x["grad"] + x["weight_decay"] * x["grad"]),)),
    _Mistake("decay-sign", "add +lr * weight_decay * theta: the decay pulls theta towards 0, "
             "theta - lr * (grad + weight_decay * theta).",
             lambda x: (x["theta"] - x["lr"] * (x["grad"] - x["weight_decay"] * x["theta"]),)),
    _Mistake("decay-after", "decay the already updated theta, (theta - lr * grad) * (1 - lr * weight_decay); "
             "both terms use theta_{t-1}: theta - lr * (grad + weight_decay * theta).",
             lambda x: ((x["theta"] - x["lr"] * x["grad"]) * (1 - x["lr"] * x["weight_decay"]),)),
    _Mistake("half", "use the gradient weight_decay * theta / 2: the penalty is (lambda / 2) * sum(theta**2), "
             "whose gradient is lambda * theta.",
             lambda x: (x["theta"] - x["lr"] * (x["grad"] + 0.5 * x["weight_decay"] * x["theta"]),)),
    _Mistake("no-decay", "leave out the weight decay term.",
             lambda x: (x["theta"] - x["lr"] * x["grad"],)),
    _Mistake("sign", "add the gradient step instead of subtracting it (a sign error).",
             lambda x: (x["theta"] + x["lr"] * (x["grad"] + x["weight_decay"] * x["theta"]),)),
]

_WEIGHT_DECAY = _Rule(
    "check_weight_decay_step", "sgd_weight_decay_step", ("theta", "grad", "lr", "weight_decay"), ("theta",),
    _ref_weight_decay, _WEIGHT_DECAY_MISTAKES,
    [{"hyper": {"lr": 0.1, "weight_decay": 0.5}, "shape": (5,), "steps": 4, "seed": 51},
     {"hyper": {"lr": 0.5, "weight_decay": 0.2}, "shape": (3, 2), "steps": 3, "seed": 52},
     {"hyper": {"lr": 0.01, "weight_decay": 3.0}, "shape": (4,), "steps": 3, "seed": 53}],
    {"theta": "theta - lr * (grad + weight_decay * theta)"}, theta_scale=2.0)


@_exercise("reg-ex-weight-decay", "regularization", _WEIGHT_DECAY.signature,
           "Write one SGD step with weight decay (the gradient of the L2 penalty added to grad).", 5, 1)
def check_weight_decay_step(fn) -> CheckResult:
    """Check ``sgd_weight_decay_step(theta, grad, lr, weight_decay) -> theta``:
    ``theta_t = theta_{t-1} - lr (g_t + lambda theta_{t-1})``, i.e. ``torch.optim.SGD(weight_decay=lambda)``."""
    return _rule_check(_WEIGHT_DECAY, fn)


# --------------------------------------------------------------------------------------
# Functions of the step: learning-rate schedules
# --------------------------------------------------------------------------------------

def _as_number(value, where: str) -> float:
    if value is None:
        raise _Failure(f"your function returned None {where}.", "end it with `return lr` (a number).")
    if isinstance(value, bool):
        raise _Failure(f"your function returned the bool {value} {where}; it must return a number.")
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise _Failure(f"your function returned a tensor of shape {tuple(value.shape)} {where}; "
                           "it must return one number.", "compute the rate for the single step k.")
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    try:
        import numpy as np
        if isinstance(value, np.ndarray) and value.size == 1:
            return float(value)
    except ImportError:  # pragma: no cover
        pass
    raise _Failure(f"your function returned a {type(value).__name__} {where}; it must return one number.",
                   "return the learning rate at step k as a float.")


def _run_schedule(fn, check, func, params, signature, reference, mistakes, cases, formula, rtol=1e-6):
    call = _Caller(fn, func, params, signature, check)
    first, first_matches = None, []
    all_match = {m.key: True for m in mistakes}
    total = 0
    for ci, case in enumerate(cases, start=1):
        hyper, ks = case["hyper"], case["ks"]
        sched = reference(hyper)
        for k in ks:
            where = f"at k = {k} ({_hyper_text(hyper)})"
            got = _as_number(call({"k": k, **hyper}, where), where)
            expected = float(sched(k))
            if not math.isfinite(got):
                raise _Failure(f"your function returned {'NaN' if math.isnan(got) else got} {where}; "
                               f"expected {_fmt(expected)}.",
                               "look for a division by zero or a power of a negative number.")
            ok = math.isclose(got, expected, rel_tol=rtol, abs_tol=1e-9)
            matches = []
            for m in mistakes:
                try:
                    value = float(m.fn(k, hyper))
                    same = math.isclose(got, value, rel_tol=rtol, abs_tol=1e-9)
                except Exception:
                    same = False
                all_match[m.key] = all_match[m.key] and same
                if same:
                    matches.append(m)
            total += 1
            if not ok and first is None:
                first, first_matches = (ci, k, got, expected, hyper), matches
    if first is None:
        return f"{func} is correct: it matches the reference at {total} steps in {len(cases)} settings."
    ci, k, got, expected, hyper = first
    message = (f"{func} does not match the reference yet.\n"
               f"First difference at k = {k} (steps already taken) with {_hyper_text(hyper)}:\n"
               f"  expected {_fmt(expected)}\n"
               f"  got      {_fmt(got)}")
    hint = _mistake_hint(mistakes, all_match, first_matches,
                         formula, results="your rates are", there="at that k your rate is")
    raise _Failure(message, hint)


def _schedule_check(check, func, params, signature, reference, mistakes, cases, formula, fn):
    return _guarded(check, lambda: _run_schedule(fn, check, func, params, signature, reference,
                                                 mistakes, cases, formula))


_STEP_SIGNATURE = "step_decay(k, lr0, gamma, K) -> float"
_STEP_CASES = [
    {"hyper": {"lr0": 0.5, "gamma": 0.3, "K": 30}, "ks": list(range(0, 100))},
    {"hyper": {"lr0": 0.1, "gamma": 0.5, "K": 1}, "ks": list(range(0, 6))},
    {"hyper": {"lr0": 1.0, "gamma": 0.1, "K": 7}, "ks": list(range(0, 22))},
]
_STEP_MISTAKES = [
    _Mistake("early", "drop the rate one step too early (k + 1 in place of k, e.g. a count that starts "
             "at 1): k is the number of steps already taken, starting at 0, so the first drop is at k = K.",
             lambda k, h: h["lr0"] * h["gamma"] ** ((k + 1) // h["K"])),
    _Mistake("late", "drop the rate one step too late ((k - 1) // K): with k counted from 0, the rate "
             "is multiplied by gamma for the first time at k = K.",
             lambda k, h: h["lr0"] * h["gamma"] ** ((k - 1) // h["K"]) if k > 0 else h["lr0"]),
    _Mistake("smooth", "use the exponent k / K (a smooth exponential decay); the step decay uses the "
             "integer division k // K (a staircase).",
             lambda k, h: h["lr0"] * h["gamma"] ** (k / h["K"])),
    _Mistake("ceil", "round k / K up; the staircase rounds down: floor(k / K) = k // K.",
             lambda k, h: h["lr0"] * h["gamma"] ** math.ceil(k / h["K"])),
    _Mistake("times", "multiply by gamma * (k // K); the rate is multiplied by gamma once per K steps: "
             "lr0 * gamma ** (k // K).",
             lambda k, h: h["lr0"] * h["gamma"] * (k // h["K"])),
]


@_exercise("lr-ex-step-decay", "learning_rate", _STEP_SIGNATURE,
           "Write the step-decay schedule s(k) = lr0 * gamma^floor(k / K) of the schedules section.", 5, 1)
def check_step_decay(fn) -> CheckResult:
    """Check ``step_decay(k, lr0, gamma, K) -> float``: ``lr0 * gamma ** (k // K)``, with ``k`` the
    number of steps already taken (0, 1, 2, ...), like ``codebase.schedules.StepDecay`` and
    ``torch.optim.lr_scheduler.StepLR``."""
    return _schedule_check(
        "check_step_decay", "step_decay", ("k", "lr0", "gamma", "K"), _STEP_SIGNATURE,
        lambda h: schedules.StepDecay(h["lr0"], h["K"], h["gamma"]), _STEP_MISTAKES, _STEP_CASES,
        "the rate is lr0 * gamma ** (k // K): k = 0, ..., K - 1 use lr0, the next K steps lr0 * gamma, ...",
        fn)


_COSINE_SIGNATURE = "cosine_schedule(k, lr0, T, lr_min) -> float"
_COSINE_CASES = [
    {"hyper": {"lr0": 0.5, "T": 20, "lr_min": 0.0}, "ks": list(range(0, 31))},
    {"hyper": {"lr0": 0.1, "T": 7, "lr_min": 0.01}, "ks": list(range(0, 12))},
    {"hyper": {"lr0": 1.0, "T": 100, "lr_min": 0.05}, "ks": [0, 1, 2, 25, 50, 75, 98, 99, 100, 101, 150]},
]


def _cos(k, h, T=None, shift=0, clamp=True, lr_min=None, half=0.5, one=1.0):
    T = h["T"] if T is None else T
    lo = h["lr_min"] if lr_min is None else lr_min
    kk = k + shift
    if clamp:
        kk = min(kk, T)
    return lo + (h["lr0"] - lo) * half * (one + math.cos(math.pi * kk / T))


_COSINE_MISTAKES = [
    _Mistake("shift", "evaluate the cosine at k + 1 (a step count that starts at 1): the first rate, at "
             "k = 0, must be lr0.", lambda k, h: _cos(k, h, shift=1)),
    _Mistake("period", "divide by T - 1 instead of T: the rate must reach lr_min at k = T, not one step "
             "earlier.", lambda k, h: _cos(k, h, T=h["T"] - 1)),
    _Mistake("no-clamp", "let the cosine climb back up after k = T (that is torch's CosineAnnealingLR): the "
             "book's cosine stays at lr_min for k > T, use min(k, T).", lambda k, h: _cos(k, h, clamp=False)),
    _Mistake("no-min", "ignore lr_min in the factor: the rate is lr_min + (lr0 - lr_min) * (1 + cos(pi k / T)) / 2.",
             lambda k, h: h["lr_min"] + h["lr0"] * 0.5 * (1 + math.cos(math.pi * min(k, h["T"]) / h["T"]))),
    _Mistake("no-min-at-all", "leave out lr_min: the rate goes from lr0 down to lr_min, "
             "lr_min + (lr0 - lr_min) * (1 + cos(pi k / T)) / 2.",
             lambda k, h: _cos(k, h, lr_min=0.0)),
    _Mistake("no-half", "leave out the factor 1/2: (1 + cos) goes from 2 to 0, so it must be halved.",
             lambda k, h: _cos(k, h, half=1.0)),
    _Mistake("no-one", "leave out the 1 in (1 + cos(pi k / T)): without it the rate becomes negative.",
             lambda k, h: _cos(k, h, one=0.0)),
]


@_exercise("lr-ex-cosine", "learning_rate", _COSINE_SIGNATURE,
           "Write cosine annealing from lr0 down to lr_min over T steps, constant after T.", 10, 1)
def check_cosine_schedule(fn) -> CheckResult:
    """Check ``cosine_schedule(k, lr0, T, lr_min) -> float``:
    ``lr_min + (lr0 - lr_min) (1 + cos(pi min(k, T) / T)) / 2`` with ``k = 0, 1, 2, ...``, like
    ``codebase.schedules.Cosine`` (which stays at ``lr_min`` after ``T`` steps)."""
    return _schedule_check(
        "check_cosine_schedule", "cosine_schedule", ("k", "lr0", "T", "lr_min"), _COSINE_SIGNATURE,
        lambda h: schedules.Cosine(h["lr0"], h["T"], h["lr_min"]), _COSINE_MISTAKES, _COSINE_CASES,
        "the rate is lr_min + (lr0 - lr_min) * (1 + cos(pi * min(k, T) / T)) / 2.", fn)


_RESTARTS_SIGNATURE = "cosine_restarts(k, lr0, T0, T_mult) -> float"


def _cycles(T0, T_mult, k):
    # (start, length) of the cycle that contains step k, with the given cycle boundaries
    start, length = 0, T0
    while k >= start + length:
        start, length = start + length, length * T_mult
    return start, length


def _restarts_reference(h):
    lengths, total = [], 0
    length = h["T0"]
    while total < 10_000:
        lengths.append(length)
        total += length
        length *= h["T_mult"]
    s = schedules
    bounds = [sum(lengths[:i + 1]) for i in range(len(lengths) - 1)]
    return s.join([s.Cosine(h["lr0"], n) for n in lengths], bounds)


def _restart_late(k, h):
    # each cycle also contains its end point (rate 0) before the restart
    start, length = 0, h["T0"]
    while k > start + length:
        start, length = start + length + 1, length * h["T_mult"]
    return h["lr0"] * 0.5 * (1 + math.cos(math.pi * (k - start) / length))


_RESTARTS_MISTAKES = [
    _Mistake("late", "restart one step late: a cycle of length T covers k - start = 0, ..., T - 1 and the "
             "next cycle starts at k = start + T with lr0 (the value 0 at the end of a cycle is never used).",
             _restart_late),
    _Mistake("no-growth", "keep every cycle T0 long; each cycle is T_mult times longer than the previous one.",
             lambda k, h: h["lr0"] * 0.5 * (1 + math.cos(math.pi * (k % h["T0"]) / h["T0"]))),
    _Mistake("starts", "restart at k = T0 * T_mult**i; the cycles follow each other, so the i-th cycle "
             "starts at the sum of the previous lengths: T0, T0 + T0 * T_mult, ...",
             lambda k, h: _restarts_wrong_starts(k, h)),
    _Mistake("global-k", "use the global k inside the cosine; each cycle restarts its own count: "
             "cos(pi * (k - start) / length).",
             lambda k, h: h["lr0"] * 0.5 * (1 + math.cos(math.pi * k / _cycles(h["T0"], h["T_mult"], k)[1]))),
]


def _restarts_wrong_starts(k, h):
    # cycle i + 1 starts at T0 * T_mult**i (0, 50, 100, 200, ...) instead of after the previous cycles
    T0, r = h["T0"], h["T_mult"]
    if r == 1:
        return cosine_restarts_value(k, h)
    i = 0
    while k >= T0 * r ** i:
        i += 1
    start = 0 if i == 0 else T0 * r ** (i - 1)
    return h["lr0"] * 0.5 * (1 + math.cos(math.pi * (k - start) / (T0 * r ** i)))


def cosine_restarts_value(k, h):
    start, length = _cycles(h["T0"], h["T_mult"], k)
    return h["lr0"] * 0.5 * (1 + math.cos(math.pi * (k - start) / length))


@_exercise("lr-ex-restarts", "learning_rate", _RESTARTS_SIGNATURE,
           "Write cosine annealing with warm restarts (SGDR), cycles T0, T0*T_mult, ...", 15, 2)
def check_cosine_restarts(fn) -> CheckResult:
    """Check ``cosine_restarts(k, lr0, T0, T_mult) -> float`` (SGDR with ``lr_min = 0``): the cycles
    have lengths ``T0, T0 T_mult, T0 T_mult^2, ...``; in the cycle that started at step ``s`` with
    length ``n`` the rate is ``lr0 (1 + cos(pi (k - s) / n)) / 2``, as
    ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0=T0, T_mult=T_mult)``."""
    return _schedule_check(
        "check_cosine_restarts", "cosine_restarts", ("k", "lr0", "T0", "T_mult"), _RESTARTS_SIGNATURE,
        _restarts_reference, _RESTARTS_MISTAKES,
        [{"hyper": {"lr0": 0.5, "T0": 50, "T_mult": 2}, "ks": list(range(0, 360))},
         {"hyper": {"lr0": 0.1, "T0": 3, "T_mult": 1}, "ks": list(range(0, 12))},
         {"hyper": {"lr0": 1.0, "T0": 4, "T_mult": 3}, "ks": list(range(0, 60))}],
        "find the cycle containing k (start s, length n) and return lr0 * (1 + cos(pi * (k - s) / n)) / 2.",
        fn)


# --------------------------------------------------------------------------------------
# Initializers: statistics of the weights
# --------------------------------------------------------------------------------------

_INIT_SHAPES = ((256, 64), (64, 256), (100, 100))   # (n_in, n_out)
_INIT_SAMPLES = 60_000


@dataclass(frozen=True)
class _Init:
    check: str
    func: str
    label: str
    law: str                       # "uniform" or "normal"
    variance: Callable             # (n_in, n_out) -> target variance
    formula: str
    mistakes: tuple                # (hint, variance function)


def _draw(call, n_in, n_out, generator, where):
    out = call({"n_in": n_in, "n_out": n_out, "generator": generator}, where)
    return _as_tensor(out, "weight", (n_out, n_in), None, where,
                      f"a layer's weight has shape (n_out, n_in) = {(n_out, n_in)}, as torch.nn.Linear "
                      "stores it: torch.rand(n_out, n_in, generator=generator).")


def _run_init(spec: _Init, fn) -> str:
    signature = f"{spec.func}(n_in, n_out, generator) -> Tensor of shape (n_out, n_in)"
    call = _Caller(fn, spec.func, ("n_in", "n_out", "generator"), signature, spec.check)
    # the generator must be used: the same seed gives the same weights, another seed other weights
    where = "for n_in = 256, n_out = 64"
    a = _draw(call, 256, 64, torch.Generator().manual_seed(123), where)
    if not a.is_floating_point():
        raise _Failure(f"your weights have the integer dtype {a.dtype}.", "draw with torch.rand or torch.randn.")
    bad = _nonfinite(a.to(DTYPE))
    if bad is not None:
        raise _Failure(f"your weights contain {bad[1]} at element {_index_text(bad[0])} {where}.",
                       "check the formula of the scale (a division by zero? a square root of a negative number?).")
    b = _draw(call, 256, 64, torch.Generator().manual_seed(123), where)
    c = _draw(call, 256, 64, torch.Generator().manual_seed(321), where)
    if not torch.equal(a, b):
        raise _Failure("two calls with generators of the same seed gave different weights: your function "
                       "does not draw its numbers from `generator`.",
                       "pass it on: torch.rand(n_out, n_in, generator=generator) or "
                       "torch.randn(..., generator=generator).")
    if torch.equal(a, c):
        raise _Failure("two calls with generators of different seeds gave the same weights: the "
                       "weights must be random.", f"draw them from a {spec.law} distribution with the generator.")
    lines = []
    for n_in, n_out in _INIT_SHAPES:
        where = f"for n_in = {n_in}, n_out = {n_out}"
        gen = torch.Generator().manual_seed(n_in * 1000 + n_out)
        draws = []
        while sum(d.numel() for d in draws) < _INIT_SAMPLES:
            draws.append(_draw(call, n_in, n_out, gen, where).to(DTYPE).flatten())
        w = torch.cat(draws)
        bad = _nonfinite(w)
        if bad is not None:
            raise _Failure(f"your weights contain {bad[1]} {where}.", "check the formula of the scale.")
        target = spec.variance(n_in, n_out)
        sd = math.sqrt(target)
        n = w.numel()
        mean, var = float(w.mean()), float(w.var())
        if abs(mean) > 6 * math.sqrt(var / n) + 1e-12:
            hint = ("torch.rand draws from [0, 1): shift and scale it to [-a, a], "
                    "e.g. (2 * torch.rand(...) - 1) * a." if mean > 0 and float(w.min()) >= 0 else
                    "the weights must be centred at 0.")
            raise _Failure(f"the mean of your weights is {_fmt(mean)} {where}, but it must be 0 "
                           f"(standard deviation of the mean: {_fmt(math.sqrt(var / n))}).", hint)
        ratio = var / target
        if abs(ratio - 1) > 0.04:
            hint = f"the variance must be {spec.formula}."
            for text, wrong in spec.mistakes:
                if all(abs(_sample_var(call, spec, ni, no) / wrong(ni, no) - 1) < 0.04
                       for ni, no in ((256, 64), (64, 256))):
                    hint = f"your variance is what you get if you {text}"
                    break
            raise _Failure(f"the variance of your weights is {_fmt(var)} {where}, expected {spec.formula} = "
                           f"{_fmt(target)} (your variance is {ratio:.3g} times that).", hint)
        biggest = float(w.abs().max())
        if spec.law == "uniform":
            bound = math.sqrt(3) * sd
            if biggest > bound * (1 + 1e-6):
                raise _Failure(f"a weight of size {_fmt(biggest)} lies outside the bound a = sqrt(3) * std = "
                               f"{_fmt(bound)} {where}: the weights are not uniform on [-a, a].",
                               "draw from a uniform distribution: (2 * torch.rand(...) - 1) * a, "
                               "not from a normal one.")
            if biggest < 0.99 * bound:
                raise _Failure(f"the largest weight is {_fmt(biggest)} {where}, but uniform weights on "
                               f"[-a, a] with a = {_fmt(bound)} come close to a.",
                               "the distribution must be uniform on [-a, a].")
        else:
            tail = float((w.abs() > math.sqrt(3) * sd).to(DTYPE).mean())
            if not 0.07 < tail < 0.097:
                raise _Failure(f"{100 * tail:.2f}% of your weights are larger than sqrt(3) std {where}; for a "
                               "normal distribution it is 8.3%.",
                               "draw from a normal distribution: torch.randn(...) * std, not from a uniform one.")
        lines.append(f"n_in = {n_in}, n_out = {n_out}: variance {_fmt(var)} (expected {_fmt(target)})")
    return (f"{spec.func} is correct: the seed fixes the weights, the shape is (n_out, n_in), the "
            f"weights are centred and {spec.law}, and their variance is {spec.formula}:\n  "
            + "\n  ".join(lines))


def _sample_var(call, spec, n_in, n_out):
    gen = torch.Generator().manual_seed(7 + n_in + n_out)
    draws = []
    while sum(d.numel() for d in draws) < _INIT_SAMPLES:
        draws.append(_draw(call, n_in, n_out, gen, f"for n_in = {n_in}, n_out = {n_out}").to(DTYPE).flatten())
    return float(torch.cat(draws).var())


def _xavier_var(n_in, n_out):
    return 2.0 / (n_in + n_out)


def _he_var(n_in, n_out):
    return 2.0 / n_in


_XAVIER_MISTAKES = (
    ("use std = sqrt(2 / (n_in + n_out)) as the uniform bound: a uniform on [-a, a] has variance a**2 / 3, "
     "so the bound is a = sqrt(6 / (n_in + n_out)).", lambda i, o: _xavier_var(i, o) / 3),
    ("use the uniform bound sqrt(6 / (n_in + n_out)) as the standard deviation: the normal version has "
     "std = sqrt(2 / (n_in + n_out)).", lambda i, o: 3 * _xavier_var(i, o)),
    ("use only n_in (LeCun's or He's rule): Xavier averages both fans, 2 / (n_in + n_out).",
     lambda i, o: 1.0 / i),
    ("use only n_in (LeCun's or He's rule): Xavier averages both fans, 2 / (n_in + n_out).",
     lambda i, o: 2.0 / i),
    ("use only n_out: Xavier averages both fans, 2 / (n_in + n_out).", lambda i, o: 2.0 / o),
    ("leave out the factor 2: Var(w) = 2 / (n_in + n_out).", lambda i, o: 1.0 / (i + o)),
    ("use 2 / (n_in + n_out) as the standard deviation: it is the variance, take its square root.",
     lambda i, o: _xavier_var(i, o) ** 2),
)

_HE_MISTAKES = (
    ("swap fan_in and fan_out (used n_out): He's fan-in rule divides by n_in, the number of inputs of "
     "each unit.", lambda i, o: 2.0 / o),
    ("leave out the factor 2 for the ReLU: Var(w) = 2 / n_in.", lambda i, o: 1.0 / i),
    ("use Xavier's 2 / (n_in + n_out): He's rule for ReLU is 2 / n_in.", lambda i, o: 2.0 / (i + o)),
    ("use std = sqrt(2 / n_in) as the uniform bound: a uniform on [-a, a] has variance a**2 / 3, so the "
     "bound is a = sqrt(6 / n_in).", lambda i, o: _he_var(i, o) / 3),
    ("use the uniform bound sqrt(6 / n_in) as the standard deviation: the normal version has "
     "std = sqrt(2 / n_in).", lambda i, o: 3 * _he_var(i, o)),
    ("use 2 / n_in as the standard deviation: it is the variance, take its square root.",
     lambda i, o: _he_var(i, o) ** 2),
)

_INITS = {
    "xavier_uniform": _Init("check_xavier_uniform", "xavier_uniform", "init-ex-xavier-uniform", "uniform",
                            _xavier_var, "2 / (n_in + n_out)", _XAVIER_MISTAKES),
    "he_normal": _Init("check_he_normal", "he_normal", "init-ex-he-normal", "normal",
                       _he_var, "2 / n_in", _HE_MISTAKES),
}


def _init_check(key, fn):
    spec = _INITS[key]
    return _guarded(spec.check, lambda: _run_init(spec, fn))


_INIT_SIG = "{}(n_in, n_out, generator) -> Tensor of shape (n_out, n_in)"


@_exercise("init-ex-xavier-uniform", "initialization", _INIT_SIG.format("xavier_uniform"),
           "Draw a Xavier/Glorot uniform weight: U(-a, a) with a = sqrt(6 / (n_in + n_out)).", 10, 1)
def check_xavier_uniform(fn) -> CheckResult:
    """Check ``xavier_uniform(n_in, n_out, generator) -> Tensor (n_out, n_in)``:
    ``U(-a, a)`` with ``a = sqrt(6 / (n_in + n_out))``, drawn with ``generator``. The variance,
    the mean, the bound and the use of the generator are checked on 60,000 draws per shape."""
    return _init_check("xavier_uniform", fn)


@_exercise("init-ex-he-normal", "initialization", _INIT_SIG.format("he_normal"),
           "Draw a He/Kaiming normal weight for a ReLU layer (fan-in mode): N(0, 2 / n_in).", 10, 1)
def check_he_normal(fn) -> CheckResult:
    """Check ``he_normal(n_in, n_out, generator) -> Tensor (n_out, n_in)``: ``N(0, 2 / n_in)``
    (ReLU gain, fan-in mode, as ``kaiming_normal_(w, nonlinearity='relu')``)."""
    return _init_check("he_normal", fn)


# --------------------------------------------------------------------------------------
# Penalties and their gradients
# --------------------------------------------------------------------------------------

def _weights_cases():
    gen = torch.Generator().manual_seed(61)
    cases = []
    for shape, lam in (((6,), 0.1), ((3, 4), 0.01), ((5,), 2.0)):
        w = torch.randn(shape, generator=gen, dtype=DTYPE)
        w.view(-1)[1] = 0.0     # an exact zero: the subgradient's special point
        cases.append((w, lam))
    return cases


def _run_elementwise(check, func, signature, reference, mistakes, formula, fn, *, scalar, grad_of=None,
                     rtol=1e-9):
    """Penalties (``scalar=True``) and element-wise maps of a weight tensor ``w`` with ``lam``."""
    call = _Caller(fn, func, ("w", "lam"), signature, check)
    first, first_matches = None, []
    all_match = {m.key: True for m in mistakes}
    for ci, (w, lam) in enumerate(_weights_cases(), start=1):
        where = f"for case {ci} (lam = {lam:g}, w of shape {tuple(w.shape)})"
        shape = () if scalar else tuple(w.shape)
        out = call({"w": w.clone(), "lam": lam}, where)
        got = _as_tensor(_unpack(out, ("value",), where, "value")[0], "value", shape, None, where).to(DTYPE)
        expected = reference(w.clone(), lam).to(DTYPE)
        matches = []
        for m in mistakes:
            try:
                same = _first_difference(got, torch.as_tensor(m.fn(w.clone(), lam), dtype=DTYPE), rtol, 1e-12) is None
            except Exception:
                same = False
            all_match[m.key] = all_match[m.key] and same
            if same:
                matches.append(m)
        bad = _nonfinite(got)
        if bad is not None:
            index, x = bad
            raise _Failure(f"your function returned {x} at element {_index_text(index) or '()'} {where}"
                           + (f" (w = {_fmt(float(w[index]))})" if index else "") + ".",
                           ("your output is what you get if you " + matches[0].hint) if matches
                           else "look for 0/0, e.g. w / |w| at w = 0.")
        diff = _first_difference(got, expected, rtol, 1e-12)
        if diff is not None and first is None:
            first, first_matches = (ci, diff, w, lam), matches
        if first is None and grad_of is not None:
            _check_autograd(call, w, lam, where, grad_of)
    if first is None:
        return f"{func} is correct on {len(_weights_cases())} weight tensors (with an exact zero among them)."
    ci, (index, got_x, exp_x), w, lam = first
    at = f"element {_index_text(index)} (w = {_fmt(float(w[index]))})" if index else "the value"
    message = (f"{func} does not match the reference yet.\nFirst difference: {at} in case {ci} "
               f"(lam = {lam:g}, w of shape {tuple(w.shape)}):\n  expected {_fmt(exp_x)}\n  got      {_fmt(got_x)}")
    hint = _mistake_hint(mistakes, all_match, first_matches,
                         formula, there="in that case your result is")
    raise _Failure(message, hint)


def _check_autograd(call, w, lam, where, grad_of):
    w = w.clone().requires_grad_(True)
    try:
        out = call({"w": w, "lam": lam}, where + " (with w.requires_grad = True)")
        if isinstance(out, (tuple, list)) and len(out) == 1:
            out = out[0]
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise _Failure(f"your penalty is not connected to w for autograd {where}: "
                           "loss.backward() would give w no gradient from it.",
                           "compute it with torch operations on w (no .item(), float(), numpy or "
                           "torch.tensor(...) of the result).")
        out.backward()
    except _Failure:
        raise
    except Exception as exc:
        raise _Failure(f"backward() through your penalty failed {where}: {type(exc).__name__}: {exc}",
                       "use differentiable torch operations on w.") from None
    expected = grad_of(w.detach(), lam)
    diff = _first_difference(w.grad, expected, 1e-9, 1e-12)
    if diff is not None:
        index, got_x, exp_x = diff
        raise _Failure(f"the gradient of your penalty (by autograd) differs at w{_index_text(index)} {where}: "
                       f"expected {_fmt(exp_x)}, got {_fmt(got_x)}.", "the penalty must be differentiable "
                       "with the gradient of the formula.")


def _l1(w, lam):
    return l1_penalty(w, lam)


def _l2(w, lam):
    return l2_penalty(w, lam)


_L1_MISTAKES = [
    _Mistake("no-abs", "sum w without the absolute value: the L1 penalty is lam * sum(|w|).",
             lambda w, lam: lam * w.sum()),
    _Mistake("square", "sum the squares (that is the L2 penalty): L1 is lam * sum(|w|).",
             lambda w, lam: lam * (w ** 2).sum()),
    _Mistake("half-square", "use (lam / 2) * sum(w**2) (the L2 penalty): L1 is lam * sum(|w|).",
             lambda w, lam: lam / 2 * (w ** 2).sum()),
    _Mistake("mean", "take the mean of |w| instead of the sum: lam * sum(|w|).",
             lambda w, lam: lam * w.abs().mean()),
    _Mistake("norm", "use the Euclidean norm sqrt(sum(w**2)): L1 is lam * sum(|w|).",
             lambda w, lam: lam * w.norm()),
    _Mistake("half", "include a factor 1/2: the book's L1 penalty is lam * sum(|w|) (the 1/2 belongs to L2).",
             lambda w, lam: lam / 2 * w.abs().sum()),
    _Mistake("no-lam", "forget lam: lam * sum(|w|).", lambda w, lam: w.abs().sum()),
]


@_exercise("reg-ex-l1-penalty", "regularization", "l1_penalty(w, lam) -> 0-d tensor",
           "Write the L1 penalty lam * sum|w| so that autograd can differentiate it.", 5, 1)
def check_l1_penalty(fn) -> CheckResult:
    """Check ``l1_penalty(w, lam) -> 0-d tensor``: ``lam * sum(|w|)``, differentiable by
    autograd (its gradient is ``lam * sign(w)``), as ``codebase.regularization.l1_penalty``."""
    return _guarded("check_l1_penalty", lambda: _run_elementwise(
        "check_l1_penalty", "l1_penalty", "l1_penalty(w, lam) -> 0-d tensor", _l1, _L1_MISTAKES,
        "the penalty is lam * sum(|w|), a 0-d tensor: lam * w.abs().sum().", fn, scalar=True,
        grad_of=lambda w, lam: lam * torch.sign(w)))


_L1_GRAD_MISTAKES = [
    _Mistake("nan-at-zero", "compute w / |w|, which is 0/0 = NaN at w = 0: use torch.sign(w), which is 0 at 0.",
             lambda w, lam: lam * w / w.abs()),
    _Mistake("one-at-zero", "return +lam at w = 0 (e.g. torch.where(w >= 0, lam, -lam)); at 0 take the "
             "subgradient 0, torch.sign(0) = 0, so that zero weights stay at zero.",
             lambda w, lam: torch.where(w >= 0, torch.full_like(w, lam), torch.full_like(w, -lam))),
    _Mistake("minus-one-at-zero", "return -lam at w = 0 (e.g. torch.where(w > 0, lam, -lam)); at 0 take "
             "the subgradient 0, torch.sign(0) = 0.",
             lambda w, lam: torch.where(w > 0, torch.full_like(w, lam), torch.full_like(w, -lam))),
    _Mistake("l2-gradient", "return lam * w, the gradient of the L2 penalty (lam/2) sum w**2; "
             "the L1 penalty's gradient is lam * sign(w).", lambda w, lam: lam * w),
    _Mistake("sign", "flip the sign: the gradient of lam * |w| is +lam * sign(w) (the optimizer subtracts it).",
             lambda w, lam: -lam * torch.sign(w)),
    _Mistake("no-lam", "forget lam: the gradient is lam * sign(w).", lambda w, lam: torch.sign(w)),
]


@_exercise("reg-ex-l1grad", "regularization", "l1_grad(w, lam) -> Tensor like w",
           "Write the (sub)gradient of the L1 penalty, lam * sign(w), with 0 at w = 0.", 5, 1)
def check_l1_subgradient(fn) -> CheckResult:
    """Check ``l1_grad(w, lam) -> Tensor``: ``lam * sign(w)`` element-wise, with the
    subgradient 0 at ``w = 0`` (the value torch's autograd gives for ``abs``)."""
    return _guarded("check_l1_subgradient", lambda: _run_elementwise(
        "check_l1_subgradient", "l1_grad", "l1_grad(w, lam) -> Tensor like w",
        lambda w, lam: lam * torch.sign(w), _L1_GRAD_MISTAKES,
        "the subgradient is lam * torch.sign(w): +lam for w > 0, -lam for w < 0, 0 at w = 0.",
        fn, scalar=False))


_L2_MISTAKES = [
    _Mistake("no-half", "leave out the 1/2: the book's L2 penalty is (lam / 2) * sum(w**2), so that its "
             "gradient is lam * w, the same as SGD's weight_decay = lam.", lambda w, lam: lam * (w ** 2).sum()),
    _Mistake("norm", "use the norm sqrt(sum(w**2)) instead of the squared norm: (lam / 2) * sum(w**2).",
             lambda w, lam: lam / 2 * w.norm()),
    _Mistake("mean", "take the mean of w**2 instead of the sum: (lam / 2) * sum(w**2).",
             lambda w, lam: lam / 2 * (w ** 2).mean()),
    _Mistake("l1", "sum |w| (that is the L1 penalty): L2 is (lam / 2) * sum(w**2).",
             lambda w, lam: lam * w.abs().sum()),
    _Mistake("no-lam", "forget lam: (lam / 2) * sum(w**2).", lambda w, lam: 0.5 * (w ** 2).sum()),
]


@_exercise("reg-ex-l2-penalty", "regularization", "l2_penalty(w, lam) -> 0-d tensor",
           "Write the L2 penalty (lam / 2) * sum w^2 so that autograd can differentiate it.", 5, 1)
def check_l2_penalty(fn) -> CheckResult:
    """Check ``l2_penalty(w, lam) -> 0-d tensor``: ``(lam / 2) * sum(w^2)`` (gradient ``lam * w``),
    differentiable by autograd, as ``codebase.regularization.l2_penalty``."""
    return _guarded("check_l2_penalty", lambda: _run_elementwise(
        "check_l2_penalty", "l2_penalty", "l2_penalty(w, lam) -> 0-d tensor", _l2, _L2_MISTAKES,
        "the penalty is (lam / 2) * sum(w**2), a 0-d tensor.", fn, scalar=True,
        grad_of=lambda w, lam: lam * w))


# --------------------------------------------------------------------------------------
# Early stopping
# --------------------------------------------------------------------------------------

_STOP_SIGNATURE = "stopping_epochs(metrics, patience, min_delta) -> (best_epoch, stop_epoch or None)"

_STOP_CURVES = [
    ([1.0, 0.8, 0.7, 0.71, 0.72, 0.69, 0.70, 0.70, 0.75, 0.8, 0.9], 3, 0.0),
    ([1.0, 0.9, 0.895, 0.893, 0.85, 0.849, 0.848, 0.847, 0.846, 0.84], 2, 0.01),
    ([0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4], 3, 0.0),
    ([2.0, 1.5, 1.0, 0.9, 0.95, 0.8, 0.85, 0.84, 0.83, 0.82, 0.81, 0.805], 4, 0.05),
    ([1.0, 1.2, 0.9, 1.1, 1.3, 0.95], 1, 0.0),
    ([1.0, 0.6, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65], 3, 0.0),
    ([1.0, 0.9, 0.8, 0.7, 0.6], 2, 0.0),
]


def _stop_cases():
    cases = list(_STOP_CURVES)
    gen = torch.Generator().manual_seed(81)
    for patience, min_delta in ((1, 0.0), (3, 0.0), (5, 0.05), (10, 0.5), (2, 0.01)):
        walk = torch.cumsum(torch.randn(40, generator=gen, dtype=DTYPE), 0)
        cases.append(([round(float(x), 3) for x in walk], patience, min_delta))
    return cases


def _stop_reference(metrics, patience, min_delta):
    """(best epoch, stop epoch or None) of ``codebase.regularization.EarlyStopping``."""
    rule = EarlyStopping(patience=patience, min_delta=min_delta)
    for value in metrics:
        if rule.step(value):
            return rule.best_epoch, rule.stopped_epoch
    return rule.best_epoch, None


def _stop_variant(improves, fires, shift=0, end_instead_of_none=False):
    """A mistaken rule: ``improves(value, best, last, min_delta)``, stop when ``fires(waited, patience)``."""
    def rule(metrics, patience, min_delta):
        best, last, best_epoch, waited = math.inf, math.inf, None, 0
        for epoch, value in enumerate(metrics, start=1):
            if improves(value, best, last, min_delta):
                best, best_epoch, waited = value, epoch, 0
            else:
                waited += 1
            last = value
            if fires(waited, patience):
                return best_epoch - shift if best_epoch else best_epoch, epoch - shift
        return (best_epoch - shift if best_epoch else best_epoch,
                len(metrics) if end_instead_of_none else None)
    return rule


def _better(value, best, last, min_delta):
    return value < best - min_delta


def _enough(waited, patience):
    return waited >= patience


_STOP_MISTAKES = [
    _Mistake("late", "stop one epoch late (waited > patience): stop as soon as `patience` epochs in a "
             "row have not improved, i.e. when waited >= patience.",
             _stop_variant(_better, lambda w, p: w > p)),
    _Mistake("early", "stop one epoch early (waited >= patience - 1, or the best epoch counted as a bad "
             "one): after the best epoch, wait `patience` epochs without improvement.",
             _stop_variant(_better, lambda w, p: w >= p - 1)),
    _Mistake("delta-direction", "count a value as an improvement when it is below best + min_delta; an "
             "improvement must beat the best by more than min_delta: value < best - min_delta.",
             _stop_variant(lambda x, b, l, d: x < b + d, _enough)),
    _Mistake("ties", "count an equal value as an improvement (<=): only value < best - min_delta improves, "
             "so a tie counts against the patience and the best epoch stays the first one.",
             _stop_variant(lambda x, b, l, d: x <= b - d, _enough)),
    _Mistake("previous", "compare with the previous epoch instead of the best one so far: the counter "
             "resets only when the value beats the best value seen.",
             _stop_variant(lambda x, b, l, d: x < l - d, _enough)),
    _Mistake("no-delta", "ignore min_delta: an improvement must beat the best by more than min_delta.",
             _stop_variant(lambda x, b, l, d: x < b, _enough)),
    _Mistake("from-zero", "count epochs from 0: the first epoch is epoch 1, as in History and EarlyStopping "
             "(enumerate(metrics, start=1)).", _stop_variant(_better, _enough, shift=1)),
    _Mistake("end", "return the last epoch when the rule never fires; return None as the stop epoch then.",
             _stop_variant(_better, _enough, end_instead_of_none=True)),
]


def _epoch_value(x, name, where):
    if x is None:
        return None
    if isinstance(x, torch.Tensor) and x.numel() == 1:
        x = x.item()
    if hasattr(x, "item") and not isinstance(x, (int, float)):
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        if isinstance(x, float) and x.is_integer():
            return int(x)
        raise _Failure(f"the {name} you returned {where} is {type(x).__name__} {_describe(x)}; it must be an "
                       "epoch number (an int counted from 1) or None.",
                       "return the pair (best_epoch, stop_epoch), e.g. `return best_epoch, None`.")
    return int(x)


def _short(values, n=12):
    text = ", ".join(f"{v:g}" for v in values[:n])
    return f"[{text}{', ...' if len(values) > n else ''}] ({len(values)} epochs)"


def _run_stopping_epochs(fn) -> str:
    call = _Caller(fn, "stopping_epochs", ("metrics", "patience", "min_delta"), _STOP_SIGNATURE,
                   "check_stopping_epochs")
    first, first_matches = None, []
    all_match = {m.key: True for m in _STOP_MISTAKES}
    cases = _stop_cases()
    for ci, (metrics, patience, min_delta) in enumerate(cases, start=1):
        where = f"for metrics = {_short(metrics)}, patience = {patience}, min_delta = {min_delta:g}"
        out = call({"metrics": list(metrics), "patience": patience, "min_delta": min_delta}, where)
        if out is None:
            raise _Failure(f"your function returned None {where}.",
                           "end it with `return best_epoch, stop_epoch` (stop_epoch None if the rule never fires).")
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise _Failure(f"your function returned {type(out).__name__} {_describe(out)} {where}; it must "
                           "return a pair (best_epoch, stop_epoch).",
                           "`return best_epoch, stop_epoch`, with stop_epoch None if the rule never fires.")
        got = (_epoch_value(out[0], "best epoch", where), _epoch_value(out[1], "stop epoch", where))
        expected = _stop_reference(metrics, patience, min_delta)
        matches = []
        for m in _STOP_MISTAKES:
            same = tuple(m.fn(list(metrics), patience, min_delta)) == got
            all_match[m.key] = all_match[m.key] and same
            if same:
                matches.append(m)
        if got != expected and first is None:
            first, first_matches = (metrics, patience, min_delta, got, expected), matches
    if first is None:
        return f"stopping_epochs is correct on {len(cases)} validation curves."
    metrics, patience, min_delta, got, expected = first
    values = ", ".join(f"{v:g}" for v in metrics)
    message = (f"stopping_epochs does not agree with EarlyStopping yet.\n"
               f"For metrics = [{values}], patience = {patience}, min_delta = {min_delta:g}:\n"
               f"  expected (best epoch, stop epoch) = {expected}\n"
               f"  got                               = {got}")
    hint = _mistake_hint(_STOP_MISTAKES, all_match, first_matches,
                         "an epoch improves when value < best - min_delta; count the epochs since the last "
                         "improvement and stop at the epoch where that count reaches patience.",
                         there="on this curve your result is")
    raise _Failure(message, hint)


@_exercise("early-ex-patience", "early_stopping", _STOP_SIGNATURE,
           "Write the patience rule: return the best epoch and the epoch at which training stops.", 15, 2)
def check_stopping_epochs(fn) -> CheckResult:
    """Check ``stopping_epochs(metrics, patience, min_delta) -> (best_epoch, stop_epoch)``.

    ``metrics`` holds one validation loss per epoch. An epoch improves when its value is below
    ``best - min_delta``; training stops at the first epoch at which ``patience`` epochs in a
    row have not improved. Epochs count from 1; ``stop_epoch`` is ``None`` if the rule never
    fires. The reference is ``codebase.regularization.EarlyStopping``.
    """
    return _guarded("check_stopping_epochs", lambda: _run_stopping_epochs(fn))


# --------------------------------------------------------------------------------------
# SGD with momentum and decoupled weight decay (SGDW)
# --------------------------------------------------------------------------------------

def _ref_sgdw(x):
    w, m = x["w"], x["m"]
    w.mul_(1 - x["lr"] * x["lam"])
    optim.sgd_update(w, x["g"], m, lr=x["lr"], beta=x["beta"])
    if x["beta"] == 0:  # torch keeps no buffer then; by the formula m_t = g_t
        m = x["g"].clone()
    return w, m


def _sgdw(x, shrink, buffer_grad=None, after=False):
    g = x["g"] if buffer_grad is None else buffer_grad(x)
    m = x["beta"] * x["m"] + g
    if after:
        return (x["w"] - x["lr"] * m) * shrink(x), m
    return shrink(x) * x["w"] - x["lr"] * m, m


def _one(x):
    return 1.0


_SGDW_MISTAKES = [
    _Mistake("coupled", "add lam * w to the gradient that enters the buffer (that is "
             "SGD(weight_decay=lam)); here the buffer holds the data gradient alone and the weights "
             "shrink directly: w = (1 - lr * lam) * w - lr * m.",
             lambda x: _sgdw(x, _one, buffer_grad=lambda x: x["g"] + x["lam"] * x["w"])),
    _Mistake("no-lr", "shrink by (1 - lam) instead of (1 - lr * lam).",
             lambda x: _sgdw(x, lambda x: 1 - x["lam"])),
    _Mistake("decay-after", "shrink the weights after the momentum step; the decay multiplies the old "
             "weights: w = (1 - lr * lam) * w - lr * m.",
             lambda x: _sgdw(x, lambda x: 1 - x["lr"] * x["lam"], after=True)),
    _Mistake("no-decay", "leave out the decay: (1 - lr * lam) * w.", lambda x: _sgdw(x, _one)),
    _Mistake("ema", "use the moving-average buffer m = beta * m + (1 - beta) * g; torch's convention "
             "is m = beta * m + g.",
             lambda x: _sgdw(x, lambda x: 1 - x["lr"] * x["lam"],
                             buffer_grad=lambda x: (1 - x["beta"]) * x["g"])),
]

_SGDW = _Rule(
    "check_sgd_decoupled_step", "sgd_decoupled_step", ("w", "g", "m", "lr", "beta", "lam"), ("w", "m"),
    _ref_sgdw, _SGDW_MISTAKES,
    [{"hyper": {"lr": 0.1, "beta": 0.9, "lam": 0.2}, "shape": (5,), "steps": 6, "seed": 91},
     {"hyper": {"lr": 0.05, "beta": 0.5, "lam": 1.0}, "shape": (3, 2), "steps": 5, "seed": 92},
     {"hyper": {"lr": 0.3, "beta": 0.0, "lam": 0.5}, "shape": (4,), "steps": 3, "seed": 93}],
    {"m": "beta * m + g, from the data gradient alone",
     "w": "(1 - lr * lam) * w - lr * m_t, with the new buffer m_t"},
    theta_scale=2.0, theta_name="w", grad_name="g")


@_exercise("reg-ex-momentum", "regularization", _SGDW.signature,
           "Write one step of SGD with momentum whose weight decay shrinks the weights, not the gradient.",
           10, 2)
def check_sgd_decoupled_step(fn) -> CheckResult:
    """Check ``sgd_decoupled_step(w, g, m, lr, beta, lam) -> (w, m)`` (the parameters may be
    keyword-only): ``m_t = beta m_{t-1} + g_t`` from the data gradient alone and
    ``w_t = (1 - lr lam) w_{t-1} - lr m_t``. The buffer is given as zeros at the first step, so
    ``m_1 = g_1`` as in torch."""
    return _rule_check(_SGDW, fn)


# --------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------

_DROPOUT_SIGNATURE = "my_dropout(h, p, generator=None) -> Tensor like h"


def _run_dropout(fn) -> str:
    call = _Caller(fn, "my_dropout", ("h", "p", "generator"), _DROPOUT_SIGNATURE, "check_dropout")
    h = torch.randn(200, 60, generator=torch.Generator().manual_seed(101), dtype=DTYPE) + 0.5
    same_mask = True
    for p in (0.5, 0.2, 0.8):
        where = f"for p = {p:g}, h of shape {tuple(h.shape)}"

        def draw(seed):
            out = call({"h": h.clone(), "p": p, "generator": torch.Generator().manual_seed(seed)}, where)
            out = _as_tensor(_unpack(out, ("h",), where, "h_tilde")[0], "output", tuple(h.shape), DTYPE, where)
            bad = _nonfinite(out)
            if bad is not None:
                raise _Failure(f"your output contains {bad[1]} at {_index_text(bad[0])} {where}.",
                               "divide by the keep probability 1 - p, which is not 0 for p < 1.")
            return out
        a, b, c = draw(5), draw(5), draw(6)
        if not torch.equal(a, b):
            raise _Failure(f"two calls with generators of the same seed gave different outputs {where}: your "
                           "function does not draw its mask from `generator`.",
                           "torch.empty_like(h).bernoulli_(1 - p, generator=generator), or "
                           "torch.rand(h.shape, generator=generator).")
        if torch.equal(a, c):
            raise _Failure(f"two different seeds gave the same output {where}: the mask must be random.")
        dropped = float((a == 0).to(DTYPE).mean())
        n = a.numel()
        se = math.sqrt(p * (1 - p) / n)
        rows_same = bool(((a == 0) == (a[:1] == 0)).all())
        if rows_same:
            raise _Failure(f"every row of your output has the same zero pattern {where}.",
                           "draw one Bernoulli number per entry of h: the mask has h's shape.")
        if abs(dropped - p) > 6 * se:
            hint = "each entry is zeroed independently with probability p."
            if abs(dropped - (1 - p)) < 6 * se:
                hint = ("you dropped with probability 1 - p: p is the probability of *dropping*, the "
                        "mask is Bernoulli(1 - p).")
            elif dropped < 1e-12:
                hint = "nothing was dropped: multiply h by a random 0/1 mask."
            raise _Failure(f"your output has {100 * dropped:.1f}% zeros {where}, expected about {100 * p:g}%.",
                           hint)
        kept = a != 0
        ratio = a[kept] / h[kept]
        scale = 1 / (1 - p)
        if not torch.allclose(ratio, torch.full_like(ratio, scale), rtol=1e-6):
            r = float(ratio.median())
            hint = f"the survivors must be h / (1 - p) = {scale:.4g} * h."
            for value, text in ((1.0, "you kept the survivors unchanged: inverted dropout divides them by "
                                      "1 - p at training time, so that nothing changes at test time."),
                                (1 - p, "you multiplied by 1 - p: divide by it instead."),
                                (1 / p, "you divided by p: divide by the keep probability 1 - p.")):
                if abs(r - value) < 1e-6 * value:
                    hint = text
                    break
            raise _Failure(f"your surviving entries are {r:.4g} times h {where}, expected 1 / (1 - p) = "
                           f"{scale:.4g}.", hint)
        reference = dropout(h.clone(), p, generator=torch.Generator().manual_seed(5))
        same_mask = same_mask and torch.equal(a == 0, reference == 0)
    out = call({"h": h.clone(), "p": 0.0, "generator": torch.Generator().manual_seed(5)}, "for p = 0")
    out = _as_tensor(_unpack(out, ("h",), "for p = 0", "h_tilde")[0], "output", tuple(h.shape), DTYPE, "for p = 0")
    if not torch.allclose(out, h):
        raise _Failure("with p = 0 your output differs from h: nothing should be dropped or scaled.")
    same = ("It even draws the same mask as torch.nn.functional.dropout from the same seed." if same_mask
            else "Its mask is drawn differently from torch's bernoulli_, so it agrees with F.dropout in "
                 "distribution, not mask for mask: that is fine.")
    return (f"my_dropout is correct: it drops a fraction p of the entries, scales the others by "
            f"1 / (1 - p) and draws its mask from the generator. {same}")


@_exercise("dropout-ex-implement", "dropout", _DROPOUT_SIGNATURE,
           "Write the training-time forward pass of inverted dropout with an explicit generator.", 10, 1)
def check_dropout(fn) -> CheckResult:
    """Check ``my_dropout(h, p, generator=None) -> Tensor``: each entry of ``h`` is zeroed with
    probability ``p`` (one independent draw per entry, from ``generator``) and the survivors are
    divided by ``1 - p``; ``p = 0`` returns ``h``. Checked statistically on 12,000 entries per
    ``p``; whether the mask equals ``codebase.nn.dropout``'s for the same seed is reported,
    not required."""
    return _guarded("check_dropout", lambda: _run_dropout(fn))


# --------------------------------------------------------------------------------------
# A log-uniform sampler
# --------------------------------------------------------------------------------------

_LOG_UNIFORM_SIGNATURE = "my_log_uniform(low, high, size, rng) -> numpy array of size draws"


def _run_log_uniform(fn) -> str:
    import numpy as np
    call = _Caller(fn, "my_log_uniform", ("low", "high", "size", "rng"), _LOG_UNIFORM_SIGNATURE,
                   "check_log_uniform")
    size = 40_000
    lines = []
    for low, high in ((1e-6, 1e-2), (2.0, 50.0), (1e-3, 10.0)):
        where = f"for low = {low:g}, high = {high:g}, size = {size}"

        def draw(seed):
            out = call({"low": low, "high": high, "size": size, "rng": np.random.default_rng(seed)}, where)
            if out is None:
                raise _Failure(f"your function returned None {where}.", "return the array of draws.")
            if isinstance(out, torch.Tensor):
                out = out.detach().numpy()
            try:
                x = np.asarray(out, dtype=float)
            except (TypeError, ValueError):
                raise _Failure(f"your function returned a {type(out).__name__} {where}; it must return an "
                               "array of numbers.", "return a NumPy array, e.g. np.exp(rng.uniform(...)).") from None
            if x.shape != (size,):
                raise _Failure(f"your function returned shape {x.shape} {where}, expected ({size},).",
                               "pass size on: rng.uniform(a, b, size).")
            if not np.isfinite(x).all():
                raise _Failure(f"your draws contain NaN or inf {where}.",
                               "take logarithms of the positive bounds only.")
            return x
        x, y, z = draw(1), draw(1), draw(2)
        if not np.array_equal(x, y):
            raise _Failure(f"two calls with generators of the same seed gave different draws {where}: your "
                           "function does not use `rng`.", "draw with rng.uniform(...), not np.random.uniform(...).")
        if np.array_equal(x, z):
            raise _Failure(f"two different seeds gave the same draws {where}: the draws must be random.")
        if x.min() < low * (1 - 1e-9) or x.max() > high * (1 + 1e-9):
            hint = "draw u uniformly on [log low, log high] and return exp(u)."
            if x.max() <= math.log(high) + 1e-9 and x.min() >= math.log(low) - 1e-9:
                hint = "you returned the logarithms u; return exp(u)."
            elif x.min() >= 10 ** math.log(low) * (1 - 1e-9) and x.max() <= 10 ** math.log(high) * (1 + 1e-9):
                hint = "you mixed bases: 10 ** u with u uniform on [ln low, ln high]; use np.exp with np.log."
            elif x.min() >= math.exp(math.log10(low)) * (1 - 1e-9):
                hint = "you mixed bases: np.exp(u) with u uniform on [log10 low, log10 high]; use np.exp with np.log."
            raise _Failure(f"your draws range from {x.min():.4g} to {x.max():.4g} {where}; they must lie in "
                           f"[{low:g}, {high:g}].", hint)
        # the fraction below q must be log(q / low) / log(high / low)
        worst = 0.0
        for frac in (0.1, 0.25, 0.5, 0.75, 0.9):
            q = low * (high / low) ** frac
            share = float((x <= q).mean())
            worst = max(worst, abs(share - frac))
            if abs(share - frac) > 0.015:
                uniform_share = (q - low) / (high - low)
                hint = "draw u uniformly on [log low, log high] and return exp(u)."
                if abs(share - uniform_share) < 0.015:
                    hint = ("your draws are uniform on [low, high]: that puts almost all of them in the top "
                            "factor of ten. Draw the logarithm uniformly: np.exp(rng.uniform(np.log(low), "
                            "np.log(high), size)).")
                raise _Failure(f"{100 * share:.1f}% of your draws are below {q:.4g} {where}; a log-uniform "
                               f"law puts {100 * frac:g}% there (the same share in every factor of ten).", hint)
        lines.append(f"low = {low:g}, high = {high:g}: median {np.median(x):.4g} "
                     f"(geometric midpoint {math.sqrt(low * high):.4g})")
    return ("my_log_uniform is correct: the draws lie in [low, high], use rng, and every factor of the range "
            "gets its share:\n  " + "\n  ".join(lines))


@_exercise("hp-ex-sampler", "hyperparameters", _LOG_UNIFORM_SIGNATURE,
           "Write a log-uniform sampler from rng.uniform and NumPy.", 10, 1)
def check_log_uniform(fn) -> CheckResult:
    """Check ``my_log_uniform(low, high, size, rng) -> array``: ``size`` draws whose logarithm is
    uniform on ``[log low, log high]``, drawn from the NumPy generator ``rng``; the share of
    draws below five quantiles is compared with the log-uniform law on 40,000 draws."""
    return _guarded("check_log_uniform", lambda: _run_log_uniform(fn))


# --------------------------------------------------------------------------------------
# Adam on lists of tensors (foreach)
# --------------------------------------------------------------------------------------

_FOREACH_SIGNATURE = ("foreach_adam(params, grads, ms, vs, t, lr, beta1, beta2, eps) -> None "
                      "(updates params, ms, vs in place)")
_FOREACH_SHAPES = ((3,), (2, 4), (5,))


def _run_foreach_adam(fn) -> str:
    call = _Caller(fn, "foreach_adam", ("params", "grads", "ms", "vs", "t", "lr", "beta1", "beta2", "eps"),
                   _FOREACH_SIGNATURE, "check_foreach_adam")
    first, first_matches = None, []
    all_match = {m.key: True for m in _ADAM_MISTAKES}
    total = 0
    for ci, case in enumerate(_ADAM_CASES, start=1):
        gen = torch.Generator().manual_seed(case["seed"])
        hyper = case["hyper"]
        thetas = [torch.randn(s, generator=gen, dtype=DTYPE) for s in _FOREACH_SHAPES]
        ms = [torch.zeros(s, dtype=DTYPE) for s in _FOREACH_SHAPES]
        vs = [torch.zeros(s, dtype=DTYPE) for s in _FOREACH_SHAPES]
        for t in range(1, case["steps"] + 1):
            grads = [_gradient(gen, s, case.get("scale", 1.0)) for s in _FOREACH_SHAPES]
            where = f"at step t = {t} of case {ci} ({_hyper_text(hyper)})"
            lists = {"params": [p.clone() for p in thetas], "grads": [g.clone() for g in grads],
                     "ms": [m.clone() for m in ms], "vs": [v.clone() for v in vs]}
            originals = {k: list(v) for k, v in lists.items()}
            call({**lists, "t": t, **hyper}, where)
            for name in ("params", "ms", "vs"):
                if len(lists[name]) != len(_FOREACH_SHAPES) or any(
                        a is not b for a, b in zip(lists[name], originals[name])):
                    raise _Failure(f"your function replaced the tensors of the list {name} {where} instead of "
                                   "updating them: an optimizer's parameters and state must change in place.",
                                   "use the in-place operations torch._foreach_mul_, _foreach_add_, ... "
                                   "(trailing underscore), or p.copy_(new_value).")
            new_thetas, new_ms, new_vs = [], [], []
            for i, shape in enumerate(_FOREACH_SHAPES):
                x = {"theta": thetas[i], "grad": grads[i], "m": ms[i], "v": vs[i], "t": t, **hyper}
                expected = _ref_adam(_clone(x))
                got = tuple(_as_tensor(lists[k][i], f"{k}[{i}]", shape, DTYPE, where)
                            for k in ("params", "ms", "vs"))
                for k, value in zip(("params", "ms", "vs"), got):
                    bad = _nonfinite(value)
                    if bad is not None:
                        raise _Failure(f"{k}[{i}] contains {bad[1]} after your step {where}.",
                                       "look for a division by zero: t starts at 1, so 1 - beta**t is never 0.")
                for m in _ADAM_MISTAKES:
                    all_match[m.key] = all_match[m.key] and _same(got, tuple(m.fn(_clone(x))), 1e-6, 1e-10)
                if first is None:
                    for k, g_value, e_value in zip(("params", "ms", "vs"), got, expected):
                        diff = _first_difference(g_value, e_value, 1e-6, 1e-10)
                        if diff is not None:
                            first = (ci, t, f"{k}[{i}]", diff, x, hyper)
                            first_matches = [m for m in _ADAM_MISTAKES
                                             if _same(got, tuple(m.fn(_clone(x))), 1e-6, 1e-10)]
                            break
                new_thetas.append(expected[0])
                new_ms.append(expected[1])
                new_vs.append(expected[2])
                total += 1
            thetas, ms, vs = new_thetas, new_ms, new_vs
    if first is None:
        return (f"foreach_adam is correct: it matches Adam on {total} tensor-steps ({len(_FOREACH_SHAPES)} tensors "
                f"of different shapes, {len(_ADAM_CASES)} settings), updating the lists in place.")
    ci, t, name, (index, got_x, exp_x), x, hyper = first
    message = (f"foreach_adam does not match Adam yet.\n"
               f"First difference: {name}{_index_text(index)} at step t = {t} of case {ci} ({_hyper_text(hyper)}).\n"
               f"  expected {_fmt(exp_x)}\n  got      {_fmt(got_x)}\n"
               f"  inputs at that element: {_inputs_text(x, index)}")
    hint = _mistake_hint(_ADAM_MISTAKES, all_match, first_matches,
                         "follow adam_update operation by operation: " + _ADAM.formulas["theta"] + ".")
    raise _Failure(message, hint)


@_exercise("cost-ex-foreach-adam", "step_cost", _FOREACH_SIGNATURE,
           "Write one Adam step for lists of tensors with torch._foreach_* operations, in place.", 20, 2)
def check_foreach_adam(fn) -> CheckResult:
    """Check ``foreach_adam(params, grads, ms, vs, t, lr, beta1, beta2, eps)`` (the hyperparameters may
    be keyword-only): one Adam step on every tensor of the lists, in place (the list entries must
    stay the same tensor objects); compared with ``codebase.optim.adam_update`` per tensor."""
    return _guarded("check_foreach_adam", lambda: _run_foreach_adam(fn))


# --------------------------------------------------------------------------------------
# Power iteration for the sharpest direction
# --------------------------------------------------------------------------------------

_POWER_SIGNATURE = "top_eigenvalue(loss_fn, theta, iters) -> float"


def _run_top_eigenvalue(fn) -> str:
    call = _Caller(fn, "top_eigenvalue", ("loss_fn", "theta", "iters"), _POWER_SIGNATURE, "check_top_eigenvalue")
    lines = []
    for ci, eigenvalues in enumerate(([5.0, 2.0, 1.0, -1.0, 0.5], [-6.0, 3.0, 1.0, 0.5, 0.2],
                                      [0.3, 0.1, 0.05, -0.02]), start=1):
        gen = torch.Generator().manual_seed(110 + ci)
        n = len(eigenvalues)
        q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=DTYPE))
        A = q @ torch.diag(torch.tensor(eigenvalues, dtype=DTYPE)) @ q.T
        A = (A + A.T) / 2
        b = torch.randn(n, generator=gen, dtype=DTYPE)
        theta = torch.randn(n, generator=gen, dtype=DTYPE)

        def loss_fn(th, A=A, b=b):
            return 0.5 * th @ (A @ th) + b @ th
        where = f"for a quadratic loss whose Hessian has the eigenvalues {eigenvalues}"
        got = _as_number(call({"loss_fn": loss_fn, "theta": theta.clone(), "iters": 300}, where), where)
        expected = max(eigenvalues, key=abs)
        if not math.isfinite(got):
            raise _Failure(f"your function returned {'NaN' if math.isnan(got) else got} {where}.",
                           "normalize v at every iteration: v = Hv / ||Hv||, or it overflows.")
        if not math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9):
            hint = "return the Rayleigh quotient v @ (H v) of the final unit vector v."
            if math.isclose(got, abs(expected), rel_tol=1e-6):
                hint = ("you returned ||H v|| = |lambda|, which loses the sign: return the Rayleigh quotient "
                        "v @ (H v), which is negative when the dominant eigenvalue is.")
            elif math.isclose(got, max(eigenvalues), rel_tol=1e-6):
                hint = ("you found the largest eigenvalue, but plain power iteration converges to the one "
                        "of largest absolute value.")
            raise _Failure(f"top_eigenvalue returned {_fmt(got)} {where}; power iteration converges to the "
                           f"eigenvalue of largest absolute value, {expected:g}.", hint)
        lines.append(f"eigenvalues {eigenvalues}: {_fmt(got)}")
    return ("top_eigenvalue is correct: it finds the eigenvalue of largest absolute value, with its sign:\n  "
            + "\n  ".join(lines))


@_exercise("newton-ex-power", "second_order", _POWER_SIGNATURE,
           "Write power iteration with Hessian-vector products; return the Rayleigh quotient.", 20, 2)
def check_top_eigenvalue(fn) -> CheckResult:
    """Check ``top_eigenvalue(loss_fn, theta, iters) -> float`` on quadratic losses
    ``loss_fn(theta) = theta A theta / 2 + b theta`` with known eigenvalues of ``A``: after
    ``iters = 300`` iterations it must return the eigenvalue of largest absolute value, with its
    sign (the Rayleigh quotient ``v @ H v``), to a relative tolerance of ``1e-6``."""
    return _guarded("check_top_eigenvalue", lambda: _run_top_eigenvalue(fn))


# --------------------------------------------------------------------------------------
# Gradient clipping
# --------------------------------------------------------------------------------------

def _clip_cases():
    gen = torch.Generator().manual_seed(71)
    cases = [(torch.tensor([3.0, 4.0], dtype=DTYPE), 1.0)]
    for shape, c, scale in (((6,), 1.0, 2.0), ((3, 2), 5.0, 0.5), ((4,), 0.5, 1.0), ((5,), 10.0, 1.0)):
        cases.append((scale * torch.randn(shape, generator=gen, dtype=DTYPE), c))
    return cases


def _clip_ref(kind):
    def reference(g, c):
        p = torch.zeros_like(g, requires_grad=True)
        p.grad = g.clone()
        if kind == "norm":
            clipping.clip_grad_norm_([p], c)
        else:
            clipping.clip_grad_value_([p], c)
        return p.grad
    return reference


def _run_clip(kind, fn) -> str:
    func = f"clip_by_{kind}"
    signature = f"{func}(g, c) -> Tensor like g"
    check = f"check_clip_by_{kind}"
    call = _Caller(fn, func, ("g", "c"), signature, check)
    reference = _clip_ref(kind)
    if kind == "norm":
        mistakes = [
            _Mistake("always", "rescale every gradient to length c, also those already shorter than c: "
                     "clipping only shrinks, g * min(1, c / ||g||).",
                     lambda g, c: g * c / g.norm()),
            _Mistake("by-value", "clip each entry to [-c, c] (clipping by value): clipping by norm scales "
                     "the whole vector, g * min(1, c / ||g||), and keeps its direction.",
                     lambda g, c: g.clamp(-c, c)),
            _Mistake("squared", "divide by the squared norm: the factor is c / ||g|| with ||g|| = sqrt(sum(g**2)).",
                     lambda g, c: g * min(1.0, c / float((g ** 2).sum()))),
            _Mistake("max-norm", "use the largest entry |g_i| as the norm: use the Euclidean norm sqrt(sum(g**2)).",
                     lambda g, c: g * min(1.0, c / float(g.abs().max()))),
            _Mistake("inverse", "multiply by ||g|| / c: the factor is c / ||g||.",
                     lambda g, c: g * min(1.0, float(g.norm()) / c)),
        ]
        formula = "g * min(1, c / ||g||) with ||g|| = sqrt(sum(g**2)) (torch adds 1e-6 to the norm; both pass)."
        rtol = 1e-5
    else:
        mistakes = [
            _Mistake("by-norm", "scale the whole vector (clipping by norm): clipping by value cuts each entry "
                     "to [-c, c] on its own, torch.clamp(g, -c, c).",
                     lambda g, c: g * min(1.0, c / float(g.norm()))),
            _Mistake("one-sided", "cut only from above (min(g, c)): entries below -c must become -c too.",
                     lambda g, c: g.clamp(max=c)),
            _Mistake("abs", "return |g| clipped: keep each entry's sign, torch.clamp(g, -c, c).",
                     lambda g, c: g.abs().clamp(max=c)),
        ]
        formula = "each entry clamped to [-c, c]: torch.clamp(g, -c, c)."
        rtol = 1e-9
    first, first_matches = None, []
    all_match = {m.key: True for m in mistakes}
    cases = _clip_cases()
    for ci, (g, c) in enumerate(cases, start=1):
        where = f"for case {ci} (c = {c:g}, g of shape {tuple(g.shape)}, ||g|| = {_fmt(float(g.norm()))})"
        got = _as_tensor(_unpack(call({"g": g.clone(), "c": c}, where), ("g",), where, "g")[0],
                         "clipped gradient", tuple(g.shape), None, where).to(DTYPE)
        bad = _nonfinite(got)
        if bad is not None:
            raise _Failure(f"your function returned {bad[1]} at element {_index_text(bad[0])} {where}.",
                           "look for a division by zero.")
        expected = reference(g.clone(), c)
        matches = []
        for m in mistakes:
            same = _first_difference(got, torch.as_tensor(m.fn(g.clone(), c), dtype=DTYPE), rtol, 1e-12) is None
            all_match[m.key] = all_match[m.key] and same
            if same:
                matches.append(m)
        diff = _first_difference(got, expected, rtol, 1e-12)
        if diff is not None and first is None:
            first, first_matches = (ci, diff, g, c), matches
    if first is None:
        return f"{func} is correct on {len(cases)} gradients, some shorter and some longer than c."
    ci, (index, got_x, exp_x), g, c = first
    message = (f"{func} does not match the reference yet.\nFirst difference: element {_index_text(index)} "
               f"in case {ci} (c = {c:g}, g = {[round(float(x), 4) for x in g.flatten()]}, "
               f"||g|| = {_fmt(float(g.norm()))}):\n  expected {_fmt(exp_x)}\n  got      {_fmt(got_x)}")
    hint = _mistake_hint(mistakes, all_match, first_matches,
                         f"the result is {formula}", there="in that case your result is")
    raise _Failure(message, hint)


@_exercise("lr-ex-clip-by-hand", "learning_rate", "clip_by_norm(g, c) -> Tensor like g",
           "Write clipping by norm: g * min(1, c / ||g||).", 5, 1)
def check_clip_by_norm(fn) -> CheckResult:
    """Check ``clip_by_norm(g, c) -> Tensor``: ``g * min(1, c / ||g||_2)`` (with or without
    torch's ``1e-6`` added to the norm)."""
    return _guarded("check_clip_by_norm", lambda: _run_clip("norm", fn))


@_exercise("lr-ex-clip-value", "learning_rate", "clip_by_value(g, c) -> Tensor like g",
           "Write clipping by value: every entry of g cut to [-c, c].", 5, 1)
def check_clip_by_value(fn) -> CheckResult:
    """Check ``clip_by_value(g, c) -> Tensor``: each entry clamped to ``[-c, c]``."""
    return _guarded("check_clip_by_value", lambda: _run_clip("value", fn))
