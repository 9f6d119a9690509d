"""Checks of learning-rate schedules: step decay, cosine annealing, cosine with warm restarts.

A schedule is a function of ``k``, the number of steps already taken (0, 1, 2, ...), as in
``codebase.schedules``; each rate is compared with the reference's at many ``k``.
"""
from __future__ import annotations

import math

import torch

from .. import schedules
from .calling import Call
from .engine import Case, Compared, Mistake, got_expected, run
from .outputs import DTYPE, as_number, fmt, hyper_text, precision
from .results import CheckResult, Failure, exercise

_SCHEDULE_LIBRARY = ("codebase.schedules.StepDecay", "codebase.schedules.Cosine", "codebase.schedules.join",
                     "torch.optim.lr_scheduler.StepLR",
                     "torch.optim.lr_scheduler.CosineAnnealingLR",
                     "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts")


class Schedule(Compared):
    """A schedule ``func(k, **hyper) -> float`` compared with ``reference(hyper)(k)``;
    ``cases`` are dicts with ``hyper`` and the ``ks`` to test."""

    rtol, atol = 1e-6, 1e-9
    results_word, there_word = "your rates are", "at that k your rate is"
    nonfinite_hint = "look for a division by zero or a power of a negative number."

    def __init__(self, check, func, params, reference, mistakes, cases, formula):
        self.check, self.func, self.params = check, func, tuple(params)
        self.signature = f"{func}({', '.join(params)}) -> float"
        self.reference, self.mistakes, self.configs, self.rule = reference, mistakes, cases, formula
        self.forbidden = _SCHEDULE_LIBRARY

    def make_cases(self):
        cases = []
        for ci, config in enumerate(self.configs, start=1):
            hyper = config["hyper"]
            sched = self.reference(hyper)
            for k in config["ks"]:
                where = f"at k = {k} ({hyper_text(hyper)})"
                cases.append(Case(Call({"k": k, **hyper}, where), {"k": k, "hyper": hyper},
                                  (torch.tensor(float(sched(k)), dtype=DTYPE),), {"ci": ci}))
        return cases

    def convert(self, value, outcome, case):
        where = case.call.where
        got = as_number(value, where)
        if not math.isfinite(got):
            raise Failure(f"your function returned {'NaN' if math.isnan(got) else got} {where}; "
                          f"expected {fmt(float(case.expected[0]))}.", self.nonfinite_hint)
        return (torch.tensor(got, dtype=torch.float32 if precision(value) == "float32" else DTYPE),)

    def variant(self, mistake, case):
        return (torch.tensor(float(mistake.fn(case.args["k"], case.args["hyper"])), dtype=DTYPE),)

    def formula(self, name):
        return self.rule

    def failure_text(self, case, name, index, got_x, exp_x, low):
        return (f"{self.func} does not match the reference yet.\n"
                f"First difference at k = {case.args['k']} (steps already taken) with "
                f"{hyper_text(case.args['hyper'])}:\n{got_expected(got_x, exp_x, low)}")

    def passed_text(self):
        return (f"{self.func} is correct: it matches the reference at {len(self.cases)} steps in "
                f"{len(self.configs)} settings.")

    def student(self, mistake):
        def wrong(k, *rest):
            return mistake.fn(k, dict(zip(self.params[1:], rest)))
        return wrong


_STEP_CASES = [
    {"hyper": {"lr0": 0.5, "gamma": 0.3, "K": 30}, "ks": list(range(0, 100))},
    {"hyper": {"lr0": 0.1, "gamma": 0.5, "K": 1}, "ks": list(range(0, 6))},
    {"hyper": {"lr0": 1.0, "gamma": 0.1, "K": 7}, "ks": list(range(0, 22))},
]
_STEP_MISTAKES = [
    Mistake("early", "drop the rate one step too early (k + 1 in place of k, e.g. a count that starts "
             "at 1): k is the number of steps already taken, starting at 0, so the first drop is at k = K.",
             lambda k, h: h["lr0"] * h["gamma"] ** ((k + 1) // h["K"])),
    Mistake("late", "drop the rate one step too late ((k - 1) // K): with k counted from 0, the rate "
             "is multiplied by gamma for the first time at k = K.",
             lambda k, h: h["lr0"] * h["gamma"] ** ((k - 1) // h["K"]) if k > 0 else h["lr0"]),
    Mistake("smooth", "use the exponent k / K (a smooth exponential decay); the step decay uses the "
             "integer division k // K (a staircase).",
             lambda k, h: h["lr0"] * h["gamma"] ** (k / h["K"])),
    Mistake("ceil", "round k / K up; the staircase rounds down: floor(k / K) = k // K.",
             lambda k, h: h["lr0"] * h["gamma"] ** math.ceil(k / h["K"])),
    Mistake("times", "multiply by gamma * (k // K); the rate is multiplied by gamma once per K steps: "
             "lr0 * gamma ** (k // K).",
             lambda k, h: h["lr0"] * h["gamma"] * (k // h["K"])),
]



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
    Mistake("shift", "evaluate the cosine at k + 1 (a step count that starts at 1): the first rate, at "
             "k = 0, must be lr0.", lambda k, h: _cos(k, h, shift=1)),
    Mistake("period", "divide by T - 1 instead of T: the rate must reach lr_min at k = T, not one step "
             "earlier.", lambda k, h: _cos(k, h, T=h["T"] - 1)),
    Mistake("no-clamp", "let the cosine climb back up after k = T (that is torch's CosineAnnealingLR): the "
             "book's cosine stays at lr_min for k > T, use min(k, T).", lambda k, h: _cos(k, h, clamp=False)),
    Mistake("no-min", "ignore lr_min in the factor: the rate is lr_min + (lr0 - lr_min) * (1 + cos(pi k / T)) / 2.",
             lambda k, h: h["lr_min"] + h["lr0"] * 0.5 * (1 + math.cos(math.pi * min(k, h["T"]) / h["T"]))),
    Mistake("no-min-at-all", "leave out lr_min: the rate goes from lr0 down to lr_min, "
             "lr_min + (lr0 - lr_min) * (1 + cos(pi k / T)) / 2.",
             lambda k, h: _cos(k, h, lr_min=0.0)),
    Mistake("no-half", "leave out the factor 1/2: (1 + cos) goes from 2 to 0, so it must be halved.",
             lambda k, h: _cos(k, h, half=1.0)),
    Mistake("no-one", "leave out the 1 in (1 + cos(pi k / T)): without it the rate becomes negative.",
             lambda k, h: _cos(k, h, one=0.0)),
]



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
    Mistake("late", "restart one step late: a cycle of length T covers k - start = 0, ..., T - 1 and the "
             "next cycle starts at k = start + T with lr0 (the value 0 at the end of a cycle is never used).",
             _restart_late),
    Mistake("no-growth", "keep every cycle T0 long; each cycle is T_mult times longer than the previous one.",
             lambda k, h: h["lr0"] * 0.5 * (1 + math.cos(math.pi * (k % h["T0"]) / h["T0"]))),
    Mistake("starts", "restart at k = T0 * T_mult**i; the cycles follow each other, so the i-th cycle "
             "starts at the sum of the previous lengths: T0, T0 + T0 * T_mult, ...",
             lambda k, h: _restarts_wrong_starts(k, h)),
    Mistake("global-k", "use the global k inside the cosine; each cycle restarts its own count: "
             "cos(pi * (k - start) / length).",
             lambda k, h: h["lr0"] * 0.5 * (1 + math.cos(math.pi * k / _cycles(h["T0"], h["T_mult"], k)[1]))),
]


def _restarts_wrong_starts(k, h):
    # cycle i + 1 starts at T0 * T_mult**i (0, 50, 100, 200, ...) instead of after the previous cycles
    T0, r = h["T0"], h["T_mult"]
    if r == 1:
        return _restarts_fixed(k, h)
    i = 0
    while k >= T0 * r ** i:
        i += 1
    start = 0 if i == 0 else T0 * r ** (i - 1)
    return h["lr0"] * 0.5 * (1 + math.cos(math.pi * (k - start) / (T0 * r ** i)))


def _restarts_fixed(k, h):
    start, length = _cycles(h["T0"], h["T_mult"], k)
    return h["lr0"] * 0.5 * (1 + math.cos(math.pi * (k - start) / length))




_STEP = Schedule("check_step_decay", "step_decay", ("k", "lr0", "gamma", "K"),
                 lambda h: schedules.StepDecay(h["lr0"], h["K"], h["gamma"]), _STEP_MISTAKES, _STEP_CASES,
                 "the rate is lr0 * gamma ** (k // K): k = 0, ..., K - 1 use lr0, the next K steps lr0 * gamma, ...")
_COSINE = Schedule("check_cosine_schedule", "cosine_schedule", ("k", "lr0", "T", "lr_min"),
                   lambda h: schedules.Cosine(h["lr0"], h["T"], h["lr_min"]), _COSINE_MISTAKES, _COSINE_CASES,
                   "the rate is lr_min + (lr0 - lr_min) * (1 + cos(pi * min(k, T) / T)) / 2.")
_RESTARTS = Schedule(
    "check_cosine_restarts", "cosine_restarts", ("k", "lr0", "T0", "T_mult"), _restarts_reference,
    _RESTARTS_MISTAKES,
    [{"hyper": {"lr0": 0.5, "T0": 50, "T_mult": 2}, "ks": list(range(0, 360))},
     {"hyper": {"lr0": 0.1, "T0": 3, "T_mult": 1}, "ks": list(range(0, 12))},
     {"hyper": {"lr0": 1.0, "T0": 4, "T_mult": 3}, "ks": list(range(0, 60))}],
    "find the cycle containing k (start s, length n) and return lr0 * (1 + cos(pi * (k - s) / n)) / 2.")


@exercise(_STEP, label="lr-ex-step-decay", chapter="learning_rate", minutes=5, difficulty=1,
          task="Write the step-decay schedule s(k) = lr0 * gamma^floor(k / K) of the schedules section.")
def check_step_decay(fn) -> CheckResult:
    """Check ``step_decay(k, lr0, gamma, K) -> float``: ``lr0 * gamma ** (k // K)``, with ``k`` the
    number of steps already taken (0, 1, 2, ...), like ``codebase.schedules.StepDecay`` and
    ``torch.optim.lr_scheduler.StepLR``."""
    return run(_STEP, fn)


@exercise(_COSINE, label="lr-ex-cosine", chapter="learning_rate", minutes=10, difficulty=1,
          task="Write cosine annealing from lr0 down to lr_min over T steps, constant after T.")
def check_cosine_schedule(fn) -> CheckResult:
    """Check ``cosine_schedule(k, lr0, T, lr_min) -> float``:
    ``lr_min + (lr0 - lr_min) (1 + cos(pi min(k, T) / T)) / 2`` with ``k = 0, 1, 2, ...``, like
    ``codebase.schedules.Cosine`` (which stays at ``lr_min`` after ``T`` steps)."""
    return run(_COSINE, fn)


@exercise(_RESTARTS, label="lr-ex-restarts", chapter="learning_rate", minutes=15, difficulty=2,
          task="Write cosine annealing with warm restarts (SGDR), cycles T0, T0*T_mult, ...")
def check_cosine_restarts(fn) -> CheckResult:
    """Check ``cosine_restarts(k, lr0, T0, T_mult) -> float`` (SGDR with ``lr_min = 0``): the cycles
    have lengths ``T0, T0 T_mult, T0 T_mult^2, ...``; in the cycle that started at step ``s`` with
    length ``n`` the rate is ``lr0 (1 + cos(pi (k - s) / n)) / 2``, as
    ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0=T0, T_mult=T_mult)``."""
    return run(_RESTARTS, fn)
