"""Check of Adam on lists of tensors with ``torch._foreach_*`` operations, updated in place."""
from __future__ import annotations

import torch

from .adam import _ADAM, _ADAM_CASES, _ADAM_LIBRARY, _ADAM_MISTAKES, _ref_adam
from .calling import Call
from .engine import Case, Compared, got_expected, run
from .outputs import DTYPE, as_tensor, hyper_text, index_text
from .results import CheckResult, Failure, exercise
from .rules import clone, gradient, inputs_text

_FOREACH_SIGNATURE = ("foreach_adam(params, grads, ms, vs, t, lr, beta1, beta2, eps) -> None "
                      "(updates params, ms, vs in place)")
_FOREACH_SHAPES = ((3,), (2, 4), (5,))




class _Foreach(Compared):
    """Adam on lists of tensors, updated in place: every tensor of every list compared with Adam."""

    check, func = "check_foreach_adam", "foreach_adam"
    params = ("params", "grads", "ms", "vs", "t", "lr", "beta1", "beta2", "eps")
    signature = _FOREACH_SIGNATURE
    forbidden = _ADAM_LIBRARY + ("torch.optim.adam._multi_tensor_adam", "torch.optim.adam.adam")
    mistakes = _ADAM_MISTAKES
    outputs = tuple(f"{k}[{i}]" for i in range(len(_FOREACH_SHAPES)) for k in ("params", "ms", "vs"))
    nonfinite_hint = "look for a division by zero: t starts at 1, so 1 - beta**t is never 0."

    def make_cases(self):
        cases = []
        for ci, config in enumerate(_ADAM_CASES, start=1):
            gen = torch.Generator().manual_seed(config["seed"])
            hyper = config["hyper"]
            thetas = [torch.randn(s, generator=gen, dtype=DTYPE) for s in _FOREACH_SHAPES]
            ms = [torch.zeros(s, dtype=DTYPE) for s in _FOREACH_SHAPES]
            vs = [torch.zeros(s, dtype=DTYPE) for s in _FOREACH_SHAPES]
            for t in range(1, config["steps"] + 1):
                grads = [gradient(gen, s, config.get("scale", 1.0)) for s in _FOREACH_SHAPES]
                per_tensor = [{"theta": thetas[i], "grad": grads[i], "m": ms[i], "v": vs[i], "t": t, **hyper}
                              for i in range(len(_FOREACH_SHAPES))]
                expected = [_ref_adam(clone(x)) for x in per_tensor]
                lists = {"params": thetas, "grads": grads, "ms": ms, "vs": vs}
                where = f"at step t = {t} of case {ci} ({hyper_text(hyper)})"
                call = Call({**{k: [x.clone() for x in v] for k, v in lists.items()}, "t": t, **hyper}, where)
                cases.append(Case(call, {"tensors": per_tensor}, tuple(e for triple in expected for e in triple),
                                  {"ci": ci, "t": t, "hyper": hyper}))
                thetas, ms, vs = ([e[j] for e in expected] for j in range(3))
        return cases

    def variant(self, mistake, case):
        return tuple(e for x in case.args["tensors"] for e in mistake.fn(clone(x)))

    def convert(self, value, outcome, case):
        where = case.call.where
        for name in ("params", "ms", "vs"):
            if not all(outcome.same.get(name, [False])) or len(outcome.same.get(name, [])) != len(_FOREACH_SHAPES):
                raise Failure(f"your function replaced the tensors of the list {name} {where} instead of "
                              "updating them: an optimizer's parameters and state must change in place.",
                              "use the in-place operations torch._foreach_mul_, _foreach_add_, ... "
                              "(trailing underscore), or p.copy_(new_value).", "replaced")
        return tuple(as_tensor(outcome.after[k][i], f"{k}[{i}]", shape, where)
                     for i, shape in enumerate(_FOREACH_SHAPES) for k in ("params", "ms", "vs"))

    def nonfinite_text(self, case, name, index, x):
        return f"{name} contains {x} after your step {case.call.where}."

    def formula(self, name):
        return "follow adam_update operation by operation: " + _ADAM.formulas["theta"] + "."

    def failure_text(self, case, name, index, got_x, exp_x, low):
        i = int(name.split("[")[1].rstrip("]"))
        x = case.args["tensors"][i]
        return (f"foreach_adam does not match Adam yet.\n"
                f"First difference: {name}{index_text(index)} at step t = {case.info['t']} of case "
                f"{case.info['ci']} ({hyper_text(case.info['hyper'])}).\n{got_expected(got_x, exp_x, low)}\n"
                f"  inputs at that element: {inputs_text(x, index)}")

    def passed_text(self):
        return (f"foreach_adam is correct: it matches Adam on {len(self.cases) * len(_FOREACH_SHAPES)} tensor-steps "
                f"({len(_FOREACH_SHAPES)} tensors of different shapes, {len(_ADAM_CASES)} settings), updating the "
                "lists in place.")

    def student(self, mistake):
        def wrong(params, grads, ms, vs, t, lr, beta1, beta2, eps):
            for p, g, m, v in zip(params, grads, ms, vs):
                x = {"theta": p, "grad": g, "m": m, "v": v, "t": t, "lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps}
                for target, new in zip((p, m, v), mistake.fn(clone(x))):
                    target.copy_(new)
        return wrong


_FOREACH = _Foreach()


@exercise(_FOREACH, label="cost-ex-foreach-adam", chapter="step_cost", minutes=20, difficulty=2,
          task="Write one Adam step for lists of tensors with torch._foreach_* operations, in place.")
def check_foreach_adam(fn) -> CheckResult:
    """Check ``foreach_adam(params, grads, ms, vs, t, lr, beta1, beta2, eps)`` (the hyperparameters may
    be keyword-only): one Adam step on every tensor of the lists, in place (the list entries must
    stay the same tensor objects); compared with ``codebase.optim.adam_update`` per tensor."""
    return run(_FOREACH, fn)
