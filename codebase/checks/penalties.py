"""Checks of the penalties and their gradients: L1, the L1 subgradient, L2.

Each function gets a weight tensor ``w`` (with an exact zero, the subgradient's special
point) and ``lam``; the penalties must also be differentiable by autograd, which is checked
with a second call on ``w.requires_grad_(True)`` whose gradient comes back from the child.
"""
from __future__ import annotations

import torch

from ..regularization import l1_penalty, l2_penalty
from .calling import Call
from .engine import Case, Compared, Mistake, got_expected, run
from .outputs import DTYPE, as_tensor, first_difference, fmt, index_text, unpack
from .results import CheckResult, Failure, exercise

_PENALTY_LIBRARY = ("codebase.regularization.l1_penalty", "codebase.regularization.l2_penalty",
                    "codebase.regularization.L1", "codebase.regularization.L2", "torch.nn.functional.l1_loss",
                    "torch.nn.functional.mse_loss")


def _weights():
    gen = torch.Generator().manual_seed(61)
    cases = []
    for shape, lam in (((6,), 0.1), ((3, 4), 0.01), ((5,), 2.0)):
        w = torch.randn(shape, generator=gen, dtype=DTYPE)
        w.view(-1)[1] = 0.0     # an exact zero: the subgradient's special point
        cases.append((w, lam))
    return cases


class Elementwise(Compared):
    """A penalty (``scalar=True``, a 0-d tensor) or an element-wise map of ``w`` with ``lam``;
    ``grad_of(w, lam)`` is the penalty's gradient, checked through autograd."""

    params = ("w", "lam")
    rtol, atol = 1e-9, 1e-12
    there_word = "in that case your result is"
    nonfinite_hint = "look for 0/0, e.g. w / |w| at w = 0."

    def __init__(self, check, func, signature, reference, mistakes, formula, *, scalar, grad_of=None):
        self.check, self.func, self.signature = check, func, signature
        self.reference, self.mistakes, self.rule = reference, mistakes, formula
        self.scalar, self.grad_of, self.forbidden = scalar, grad_of, _PENALTY_LIBRARY

    def make_cases(self):
        cases = []
        for ci, (w, lam) in enumerate(_weights(), start=1):
            where = f"for case {ci} (lam = {lam:g}, w of shape {tuple(w.shape)})"
            expected = (self.reference(w.clone(), lam).to(DTYPE),)
            cases.append(Case(Call({"w": w, "lam": lam}, where), {"w": w, "lam": lam}, expected, {"ci": ci}))
        if self.grad_of is not None:   # the same cases with w.requires_grad = True, after the plain ones
            for case in list(cases):
                w = case.args["w"].clone().requires_grad_(True)
                where = case.call.where + " (with w.requires_grad = True)"
                cases.append(Case(Call({"w": w, "lam": case.args["lam"]}, where, backward="w"), case.args,
                                  case.expected, {**case.info, "autograd": True}))
        return cases

    def convert(self, value, outcome, case):
        where = case.call.where
        shape = () if self.scalar else tuple(case.args["w"].shape)
        return (as_tensor(unpack(value, ("value",), where, "value")[0], "value", shape, where),)

    def extra_check(self, case, outcome):
        if not case.info.get("autograd"):
            return
        where = case.call.where.replace(" (with w.requires_grad = True)", "")
        if not isinstance(outcome.grad, torch.Tensor):
            raise Failure(f"your penalty is not connected to w for autograd {where}: "
                          "loss.backward() would give w no gradient from it.",
                          "compute it with torch operations on w (no .item(), float(), numpy or "
                          "torch.tensor(...) of the result).", "not-differentiable")
        diff = first_difference(outcome.grad, self.grad_of(case.args["w"], case.args["lam"]), 1e-9, 1e-12)
        if diff is not None:
            index, got_x, exp_x = diff
            raise Failure(f"the gradient of your penalty (by autograd) differs at w{index_text(index)} {where}: "
                          f"expected {fmt(exp_x)}, got {fmt(got_x)}.", "the penalty must be differentiable "
                          "with the gradient of the formula.")

    def variant(self, mistake, case):
        return (torch.as_tensor(mistake.fn(case.args["w"].clone(), case.args["lam"]), dtype=DTYPE),)

    def nonfinite_text(self, case, name, index, x):
        w = case.args["w"]
        return (f"your function returned {x} at element {index_text(index) or '()'} {case.call.where}"
                + (f" (w = {fmt(float(w[index]))})" if index else "") + ".")

    def formula(self, name):
        return self.rule

    def failure_text(self, case, name, index, got_x, exp_x, low):
        w, lam = case.args["w"], case.args["lam"]
        at = f"element {index_text(index)} (w = {fmt(float(w[index]))})" if index else "the value"
        return (f"{self.func} does not match the reference yet.\nFirst difference: {at} in case {case.info['ci']} "
                f"(lam = {lam:g}, w of shape {tuple(w.shape)}):\n{got_expected(got_x, exp_x, low)}")

    def passed_text(self):
        return f"{self.func} is correct on {len(_weights())} weight tensors (with an exact zero among them)."

    def student(self, mistake):
        return lambda w, lam: mistake.fn(w, lam)


def _l1(w, lam):
    return l1_penalty(w, lam)


def _l2(w, lam):
    return l2_penalty(w, lam)


_L1_MISTAKES = [
    Mistake("no-abs", "sum w without the absolute value: the L1 penalty is lam * sum(|w|).",
             lambda w, lam: lam * w.sum()),
    Mistake("square", "sum the squares (that is the L2 penalty): L1 is lam * sum(|w|).",
             lambda w, lam: lam * (w ** 2).sum()),
    Mistake("half-square", "use (lam / 2) * sum(w**2) (the L2 penalty): L1 is lam * sum(|w|).",
             lambda w, lam: lam / 2 * (w ** 2).sum()),
    Mistake("mean", "take the mean of |w| instead of the sum: lam * sum(|w|).",
             lambda w, lam: lam * w.abs().mean()),
    Mistake("norm", "use the Euclidean norm sqrt(sum(w**2)): L1 is lam * sum(|w|).",
             lambda w, lam: lam * w.norm()),
    Mistake("half", "include a factor 1/2: the book's L1 penalty is lam * sum(|w|) (the 1/2 belongs to L2).",
             lambda w, lam: lam / 2 * w.abs().sum()),
    Mistake("no-lam", "forget lam: lam * sum(|w|).", lambda w, lam: w.abs().sum()),
]


_L1 = Elementwise("check_l1_penalty", "l1_penalty", "l1_penalty(w, lam) -> 0-d tensor", _l1, _L1_MISTAKES,
                  "the penalty is lam * sum(|w|), a 0-d tensor: lam * w.abs().sum().", scalar=True,
                  grad_of=lambda w, lam: lam * torch.sign(w))


@exercise(_L1, label="reg-ex-l1-penalty", chapter="regularization", minutes=5, difficulty=1,
          task="Write the L1 penalty lam * sum|w| so that autograd can differentiate it.")
def check_l1_penalty(fn) -> CheckResult:
    """Check ``l1_penalty(w, lam) -> 0-d tensor``: ``lam * sum(|w|)``, differentiable by
    autograd (its gradient is ``lam * sign(w)``), as ``codebase.regularization.l1_penalty``."""
    return run(_L1, fn)


_L1_GRAD_MISTAKES = [
    Mistake("nan-at-zero", "compute w / |w|, which is 0/0 = NaN at w = 0: use torch.sign(w), which is 0 at 0.",
             lambda w, lam: lam * w / w.abs()),
    Mistake("one-at-zero", "return +lam at w = 0 (e.g. torch.where(w >= 0, lam, -lam)); at 0 take the "
             "subgradient 0, torch.sign(0) = 0, so that zero weights stay at zero.",
             lambda w, lam: torch.where(w >= 0, torch.full_like(w, lam), torch.full_like(w, -lam))),
    Mistake("minus-one-at-zero", "return -lam at w = 0 (e.g. torch.where(w > 0, lam, -lam)); at 0 take "
             "the subgradient 0, torch.sign(0) = 0.",
             lambda w, lam: torch.where(w > 0, torch.full_like(w, lam), torch.full_like(w, -lam))),
    Mistake("l2-gradient", "return lam * w, the gradient of the L2 penalty (lam/2) sum w**2; "
             "the L1 penalty's gradient is lam * sign(w).", lambda w, lam: lam * w),
    Mistake("sign", "flip the sign: the gradient of lam * |w| is +lam * sign(w) (the optimizer subtracts it).",
             lambda w, lam: -lam * torch.sign(w)),
    Mistake("no-lam", "forget lam: the gradient is lam * sign(w).", lambda w, lam: torch.sign(w)),
]


_L1_GRAD = Elementwise("check_l1_subgradient", "l1_grad", "l1_grad(w, lam) -> Tensor like w",
                       lambda w, lam: lam * torch.sign(w), _L1_GRAD_MISTAKES,
                       "the subgradient is lam * torch.sign(w): +lam for w > 0, -lam for w < 0, 0 at w = 0.",
                       scalar=False)


@exercise(_L1_GRAD, label="reg-ex-l1grad", chapter="regularization", minutes=5, difficulty=1,
          task="Write the (sub)gradient of the L1 penalty, lam * sign(w), with 0 at w = 0.")
def check_l1_subgradient(fn) -> CheckResult:
    """Check ``l1_grad(w, lam) -> Tensor``: ``lam * sign(w)`` element-wise, with the
    subgradient 0 at ``w = 0`` (the value torch's autograd gives for ``abs``)."""
    return run(_L1_GRAD, fn)


_L2_MISTAKES = [
    Mistake("no-half", "leave out the 1/2: the book's L2 penalty is (lam / 2) * sum(w**2), so that its "
             "gradient is lam * w, the same as SGD's weight_decay = lam.", lambda w, lam: lam * (w ** 2).sum()),
    Mistake("norm", "use the norm sqrt(sum(w**2)) instead of the squared norm: (lam / 2) * sum(w**2).",
             lambda w, lam: lam / 2 * w.norm()),
    Mistake("mean", "take the mean of w**2 instead of the sum: (lam / 2) * sum(w**2).",
             lambda w, lam: lam / 2 * (w ** 2).mean()),
    Mistake("l1", "sum |w| (that is the L1 penalty): L2 is (lam / 2) * sum(w**2).",
             lambda w, lam: lam * w.abs().sum()),
    Mistake("no-lam", "forget lam: (lam / 2) * sum(w**2).", lambda w, lam: 0.5 * (w ** 2).sum()),
]


_L2 = Elementwise("check_l2_penalty", "l2_penalty", "l2_penalty(w, lam) -> 0-d tensor", _l2, _L2_MISTAKES,
                  "the penalty is (lam / 2) * sum(w**2), a 0-d tensor.", scalar=True,
                  grad_of=lambda w, lam: lam * w)


@exercise(_L2, label="reg-ex-l2-penalty", chapter="regularization", minutes=5, difficulty=1,
          task="Write the L2 penalty (lam / 2) * sum w^2 so that autograd can differentiate it.")
def check_l2_penalty(fn) -> CheckResult:
    """Check ``l2_penalty(w, lam) -> 0-d tensor``: ``(lam / 2) * sum(w^2)`` (gradient ``lam * w``),
    differentiable by autograd, as ``codebase.regularization.l2_penalty``."""
    return run(_L2, fn)


