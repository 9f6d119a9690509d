"""Checks of gradient clipping by norm and by value, against ``codebase.clipping``."""
from __future__ import annotations

import torch

from .. import clipping
from .calling import Call
from .engine import Case, Compared, Mistake, got_expected, run
from .outputs import DTYPE, as_tensor, fmt, index_text, unpack
from .results import CheckResult, exercise


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


_NORM_MISTAKES = [
    Mistake("always", "rescale every gradient to length c, also those already shorter than c: "
            "clipping only shrinks, g * min(1, c / ||g||).", lambda g, c: g * c / g.norm()),
    Mistake("by-value", "clip each entry to [-c, c] (clipping by value): clipping by norm scales "
            "the whole vector, g * min(1, c / ||g||), and keeps its direction.", lambda g, c: g.clamp(-c, c)),
    Mistake("squared", "divide by the squared norm: the factor is c / ||g|| with ||g|| = sqrt(sum(g**2)).",
            lambda g, c: g * min(1.0, c / float((g ** 2).sum()))),
    Mistake("max-norm", "use the largest entry |g_i| as the norm: use the Euclidean norm sqrt(sum(g**2)).",
            lambda g, c: g * min(1.0, c / float(g.abs().max()))),
    Mistake("inverse", "multiply by ||g|| / c: the factor is c / ||g||.",
            lambda g, c: g * min(1.0, float(g.norm()) / c)),
    Mistake("l1-norm", "use the sum of |g_i| as the norm: use the Euclidean norm sqrt(sum(g**2)).",
            lambda g, c: g * min(1.0, c / float(g.abs().sum()))),
]

_VALUE_MISTAKES = [
    Mistake("by-norm", "scale the whole vector (clipping by norm): clipping by value cuts each entry "
            "to [-c, c] on its own, torch.clamp(g, -c, c).", lambda g, c: g * min(1.0, c / float(g.norm()))),
    Mistake("one-sided", "cut only from above (min(g, c)): entries below -c must become -c too.",
            lambda g, c: g.clamp(max=c)),
    Mistake("abs", "return |g| clipped: keep each entry's sign, torch.clamp(g, -c, c).",
            lambda g, c: g.abs().clamp(max=c)),
    Mistake("zero-out", "set the entries beyond [-c, c] to 0: clipping keeps them at the bound, -c or c.",
            lambda g, c: torch.where(g.abs() > c, torch.zeros_like(g), g)),
]


class _Clip(Compared):
    params = ("g", "c")
    atol = 1e-12
    there_word = "in that case your result is"
    nonfinite_hint = "look for a division by zero."

    def __init__(self, kind, mistakes, formula, rtol, forbidden):
        self.kind, self.func, self.check = kind, f"clip_by_{kind}", f"check_clip_by_{kind}"
        self.signature = f"clip_by_{kind}(g, c) -> Tensor like g"
        self.mistakes, self.rule, self.rtol, self.forbidden = mistakes, formula, rtol, forbidden

    def make_cases(self):
        reference = _clip_ref(self.kind)
        cases = []
        for ci, (g, c) in enumerate(_clip_cases(), start=1):
            where = f"for case {ci} (c = {c:g}, g of shape {tuple(g.shape)}, ||g|| = {fmt(float(g.norm()))})"
            cases.append(Case(Call({"g": g, "c": c}, where), {"g": g, "c": c}, (reference(g.clone(), c),),
                              {"ci": ci}))
        return cases

    def convert(self, value, outcome, case):
        where = case.call.where
        return (as_tensor(unpack(value, ("g",), where, "g")[0], "clipped gradient", tuple(case.args["g"].shape),
                          where),)

    def variant(self, mistake, case):
        return (torch.as_tensor(mistake.fn(case.args["g"].clone(), case.args["c"]), dtype=DTYPE),)

    def nonfinite_text(self, case, name, index, x):
        return f"your function returned {x} at element {index_text(index)} {case.call.where}."

    def formula(self, name):
        return f"the result is {self.rule}"

    def failure_text(self, case, name, index, got_x, exp_x, low):
        g, c = case.args["g"], case.args["c"]
        return (f"{self.func} does not match the reference yet.\nFirst difference: element {index_text(index)} "
                f"in case {case.info['ci']} (c = {c:g}, g = {[round(float(x), 4) for x in g.flatten()]}, "
                f"||g|| = {fmt(float(g.norm()))}):\n{got_expected(got_x, exp_x, low)}")

    def passed_text(self):
        return f"{self.func} is correct on {len(self.cases)} gradients, some shorter and some longer than c."

    def student(self, mistake):
        return lambda g, c: mistake.fn(g, c)


_NORM = _Clip("norm", _NORM_MISTAKES,
              "g * min(1, c / ||g||) with ||g|| = sqrt(sum(g**2)) (torch adds 1e-6 to the norm; both pass).", 1e-5,
              ("codebase.clipping.clip_grad_norm_", "torch.nn.utils.clip_grad_norm_",
               "torch.nn.utils.clip_grads_with_norm_"))
_VALUE = _Clip("value", _VALUE_MISTAKES, "each entry clamped to [-c, c]: torch.clamp(g, -c, c).", 1e-9,
               ("codebase.clipping.clip_grad_value_", "torch.nn.utils.clip_grad_value_"))


@exercise(_NORM, label="lr-ex-clip-by-hand", chapter="learning_rate", minutes=5, difficulty=1,
          task="Write clipping by norm: g * min(1, c / ||g||).")
def check_clip_by_norm(fn) -> CheckResult:
    """Check ``clip_by_norm(g, c) -> Tensor``: ``g * min(1, c / ||g||_2)`` (with or without
    torch's ``1e-6`` added to the norm)."""
    return run(_NORM, fn)


@exercise(_VALUE, label="lr-ex-clip-value", chapter="learning_rate", minutes=5, difficulty=1,
          task="Write clipping by value: every entry of g cut to [-c, c].")
def check_clip_by_value(fn) -> CheckResult:
    """Check ``clip_by_value(g, c) -> Tensor``: each entry clamped to ``[-c, c]``."""
    return run(_VALUE, fn)
