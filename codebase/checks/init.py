"""Checks of random initializers: the statistics of tens of thousands of seeded draws.

The student's ``init(n_in, n_out, generator)`` must use the generator (same seed, same
weights; another seed, other weights), return the shape ``(n_out, n_in)`` and give weights
that are centred, of the right law (uniform on ``[-a, a]`` or normal) and of the variance of
the rule; a wrong variance is compared with the variances known mistakes give.
"""
from __future__ import annotations

import math

import torch

from .calling import Call
from .engine import Mistake, Spec, run, values
from .outputs import DTYPE, as_tensor, fmt, index_text, nonfinite
from .plain import Seeded
from .results import CheckResult, Failure, exercise

_SHAPES = ((256, 64), (64, 256), (100, 100))   # (n_in, n_out)
_SAMPLES = 60_000
_CLASSIFY = ((256, 64), (64, 256))             # shapes whose variance identifies a mistake
_INIT_LIBRARY = ("codebase.init.xavier_uniform_", "codebase.init.xavier_normal_", "codebase.init.kaiming_uniform_",
                 "codebase.init.kaiming_normal_", "torch.nn.init.xavier_uniform_", "torch.nn.init.xavier_normal_",
                 "torch.nn.init.kaiming_uniform_", "torch.nn.init.kaiming_normal_", "torch.nn.Linear")


def _draws(n_in, n_out):
    return math.ceil(_SAMPLES / (n_in * n_out))


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



class _Init(Spec):
    params = ("n_in", "n_out", "generator")

    def __init__(self, func, law, variance, formula, variance_mistakes, mistakes):
        self.func, self.check, self.law = func, f"check_{func}", law
        self.signature = f"{func}(n_in, n_out, generator) -> Tensor of shape (n_out, n_in)"
        self.variance, self.rule, self.variance_mistakes = variance, formula, variance_mistakes
        self.mistakes, self.forbidden = mistakes, _INIT_LIBRARY

    def calls(self):
        calls = [Call({"n_in": 256, "n_out": 64, "generator": Seeded("torch", seed, key)}, "for n_in = 256, n_out = 64")
                 for seed, key in ((123, "a"), (123, "b"), (321, "c"))]
        for (n_in, n_out), seed in [(s, s[0] * 1000 + s[1]) for s in _SHAPES] + [(s, 7 + sum(s)) for s in _CLASSIFY]:
            key = f"{n_in}x{n_out}-{seed}"
            calls += [Call({"n_in": n_in, "n_out": n_out, "generator": Seeded("torch", seed, key)},
                           f"for n_in = {n_in}, n_out = {n_out}")] * _draws(n_in, n_out)
        return calls

    def judge(self, outcomes):
        calls = self.calls()
        weights = []
        for call, value in zip(calls, values(calls, outcomes)):
            n_in, n_out = call.args["n_in"], call.args["n_out"]
            weights.append(as_tensor(value, "weight", (n_out, n_in), call.where,
                                     f"a layer's weight has shape (n_out, n_in) = {(n_out, n_in)}, as torch.nn.Linear "
                                     "stores it: torch.rand(n_out, n_in, generator=generator)."))
        a, b, c = weights[:3]
        bad = nonfinite(a.to(DTYPE))
        if bad is not None:
            raise Failure(f"your weights contain {bad[1]} at element {index_text(bad[0])} for n_in = 256, n_out = 64.",
                          "check the formula of the scale (a division by zero? a square root of a negative number?).")
        if not torch.equal(a, b):
            raise Failure("two calls with generators of the same seed gave different weights: your function "
                          "does not draw its numbers from `generator`.",
                          "pass it on: torch.rand(n_out, n_in, generator=generator) or "
                          "torch.randn(..., generator=generator).", "no-generator")
        if torch.equal(a, c):
            raise Failure("two calls with generators of different seeds gave the same weights: the "
                          f"weights must be random.", f"draw them from a {self.law} distribution with the generator.")
        pos, samples = 3, {}
        for n_in, n_out in list(_SHAPES) + [(-i, -o) for i, o in _CLASSIFY]:
            n = _draws(abs(n_in), abs(n_out))
            samples[(n_in, n_out)] = torch.cat([w.to(DTYPE).flatten() for w in weights[pos:pos + n]])
            pos += n
        lines = [self._judge_shape(n_in, n_out, samples) for n_in, n_out in _SHAPES]
        return (f"{self.func} is correct: the seed fixes the weights, the shape is (n_out, n_in), the "
                f"weights are centred and {self.law}, and their variance is {self.rule}:\n  " + "\n  ".join(lines))

    def _judge_shape(self, n_in, n_out, samples):
        where = f"for n_in = {n_in}, n_out = {n_out}"
        w = samples[(n_in, n_out)]
        bad = nonfinite(w)
        if bad is not None:
            raise Failure(f"your weights contain {bad[1]} {where}.", "check the formula of the scale.")
        target = self.variance(n_in, n_out)
        sd, n = math.sqrt(target), w.numel()
        mean, var = float(w.mean()), float(w.var())
        if abs(mean) > 6 * math.sqrt(var / n) + 1e-12:
            hint = ("torch.rand draws from [0, 1): shift and scale it to [-a, a], "
                    "e.g. (2 * torch.rand(...) - 1) * a." if mean > 0 and float(w.min()) >= 0 else
                    "the weights must be centred at 0.")
            raise Failure(f"the mean of your weights is {fmt(mean)} {where}, but it must be 0 "
                          f"(standard deviation of the mean: {fmt(math.sqrt(var / n))}).", hint, "not-centred")
        ratio = var / target
        if abs(ratio - 1) > 0.04:
            hint, key = f"the variance must be {self.rule}.", ""
            for i, (text, wrong) in enumerate(self.variance_mistakes):
                if all(abs(float(samples[(-ni, -no)].var()) / wrong(ni, no) - 1) < 0.04 for ni, no in _CLASSIFY):
                    hint, key = f"your variance is what you get if you {text}", f"variance-{i}"
                    break
            raise Failure(f"the variance of your weights is {fmt(var)} {where}, expected {self.rule} = "
                          f"{fmt(target)} (your variance is {ratio:.3g} times that).", hint, key)
        biggest = float(w.abs().max())
        if self.law == "uniform":
            bound = math.sqrt(3) * sd
            if biggest > bound * (1 + 1e-6):
                raise Failure(f"a weight of size {fmt(biggest)} lies outside the bound a = sqrt(3) * std = "
                              f"{fmt(bound)} {where}: the weights are not uniform on [-a, a].",
                              "draw from a uniform distribution: (2 * torch.rand(...) - 1) * a, "
                              "not from a normal one.", "normal")
            if biggest < 0.99 * bound:
                raise Failure(f"the largest weight is {fmt(biggest)} {where}, but uniform weights on "
                              f"[-a, a] with a = {fmt(bound)} come close to a.",
                              "the distribution must be uniform on [-a, a].")
        else:
            tail = float((w.abs() > math.sqrt(3) * sd).to(DTYPE).mean())
            if not 0.07 < tail < 0.097:
                raise Failure(f"{100 * tail:.2f}% of your weights are larger than sqrt(3) std {where}; for a "
                              "normal distribution it is 8.3%.",
                              "draw from a normal distribution: torch.randn(...) * std, not from a uniform one.",
                              "uniform")
        return f"n_in = {n_in}, n_out = {n_out}: variance {fmt(var)} (expected {fmt(target)})"

    def student(self, mistake):
        return mistake.fn


def _uniform(n_in, n_out, bound, generator):
    return (2 * torch.rand(n_out, n_in, generator=generator, dtype=DTYPE) - 1) * bound


def _normal(n_in, n_out, std, generator):
    return torch.randn(n_out, n_in, generator=generator, dtype=DTYPE) * std


_XAVIER_STUDENTS = [
    Mistake("std-as-bound", "use the standard deviation as the bound of the uniform.",
            lambda n_in, n_out, generator: _uniform(n_in, n_out, math.sqrt(2 / (n_in + n_out)), generator)),
    Mistake("normal", "draw from a normal distribution.",
            lambda n_in, n_out, generator: _normal(n_in, n_out, math.sqrt(2 / (n_in + n_out)), generator)),
    Mistake("not-centred", "scale torch.rand without shifting it.",
            lambda n_in, n_out, generator: torch.rand(n_out, n_in, generator=generator, dtype=DTYPE)
            * math.sqrt(6 / (n_in + n_out))),
    Mistake("no-generator", "ignore the generator.",
            lambda n_in, n_out, generator: _uniform(n_in, n_out, math.sqrt(6 / (n_in + n_out)), None)),
    Mistake("transposed", "return the shape (n_in, n_out).",
            lambda n_in, n_out, generator: _uniform(n_out, n_in, math.sqrt(6 / (n_in + n_out)), generator)),
    Mistake("lecun", "use only n_in.",
            lambda n_in, n_out, generator: _uniform(n_in, n_out, math.sqrt(3 / n_in), generator)),
]

_HE_STUDENTS = [
    Mistake("fan-out", "divide by n_out.", lambda n_in, n_out, generator: _normal(n_in, n_out, math.sqrt(2 / n_out),
                                                                                  generator)),
    Mistake("no-two", "leave out the 2.", lambda n_in, n_out, generator: _normal(n_in, n_out, math.sqrt(1 / n_in),
                                                                                 generator)),
    Mistake("uniform", "draw from a uniform distribution of the right variance.",
            lambda n_in, n_out, generator: _uniform(n_in, n_out, math.sqrt(6 / n_in), generator)),
    Mistake("variance-as-std", "use 2 / n_in as the standard deviation.",
            lambda n_in, n_out, generator: _normal(n_in, n_out, 2 / n_in, generator)),
]

_XAVIER = _Init("xavier_uniform", "uniform", _xavier_var, "2 / (n_in + n_out)", _XAVIER_MISTAKES, _XAVIER_STUDENTS)
_HE = _Init("he_normal", "normal", _he_var, "2 / n_in", _HE_MISTAKES, _HE_STUDENTS)


@exercise(_XAVIER, label="init-ex-xavier-uniform", chapter="initialization", minutes=10, difficulty=1,
          task="Draw a Xavier/Glorot uniform weight: U(-a, a) with a = sqrt(6 / (n_in + n_out)).")
def check_xavier_uniform(fn) -> CheckResult:
    """Check ``xavier_uniform(n_in, n_out, generator) -> Tensor (n_out, n_in)``:
    ``U(-a, a)`` with ``a = sqrt(6 / (n_in + n_out))``, drawn with ``generator``. The variance,
    the mean, the bound and the use of the generator are checked on 60,000 draws per shape."""
    return run(_XAVIER, fn)


@exercise(_HE, label="init-ex-he-normal", chapter="initialization", minutes=10, difficulty=1,
          task="Draw a He/Kaiming normal weight for a ReLU layer (fan-in mode): N(0, 2 / n_in).")
def check_he_normal(fn) -> CheckResult:
    """Check ``he_normal(n_in, n_out, generator) -> Tensor (n_out, n_in)``: ``N(0, 2 / n_in)``
    (ReLU gain, fan-in mode, as ``kaiming_normal_(w, nonlinearity='relu')``)."""
    return run(_HE, fn)
