"""Update rules: ``theta`` and an optimizer state over several steps, with teacher forcing.

A ``Rule`` runs the student's step function for several steps on seeded random
gradients; each step starts from the reference's state, so that a mistake in the state (a
missing bias correction, a wrong buffer) is found at the first step where it shows. The
inputs of every step are computed before the student's function runs (they depend on the
reference only), which is what lets all steps run in one child process.
"""
from __future__ import annotations

from typing import Callable

import torch

from .calling import Call
from .engine import Case, Compared, Mistake, got_expected
from .outputs import DTYPE, as_tensor, fmt, hyper_text, index_text, unpack

__all__ = ["Rule", "gradient", "clone"]


def clone(args: dict) -> dict:
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in args.items()}


def gradient(gen, shape, scale):
    # entries of very different sizes, so that eps, sqrt and squares all matter somewhere
    g = torch.randn(shape, generator=gen, dtype=DTYPE)
    return scale * g * torch.exp(torch.randn(shape, generator=gen, dtype=DTYPE))


def inputs_text(args: dict, index) -> str:
    parts = []
    for k, v in args.items():
        if isinstance(v, torch.Tensor):
            parts.append(f"{k} = {fmt(float(v[index]))}")
        else:
            parts.append(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}")
    return ", ".join(parts)


class Rule(Compared):
    """An update rule ``func(*params) -> outputs``; ``cases`` are dicts with ``hyper``,
    ``shape``, ``steps``, ``seed`` and optionally ``scale`` (of the gradients)."""

    def __init__(self, check: str, func: str, params, outputs, reference: Callable[[dict], tuple],
                 mistakes: list[Mistake], cases: list[dict], formulas: dict[str, str], *,
                 rtol: float = 1e-6, atol: float = 1e-10, theta_scale: float = 1.0, theta_name: str = "theta",
                 grad_name: str = "grad", forbidden: tuple[str, ...] = ()):
        self.check, self.func, self.params, self.outputs = check, func, tuple(params), tuple(outputs)
        self.reference, self.mistakes, self.configs, self.formulas = reference, mistakes, cases, formulas
        self.rtol, self.atol, self.theta_scale = rtol, atol, theta_scale
        self.theta_name, self.grad_name, self.forbidden = theta_name, grad_name, tuple(forbidden)

    @property
    def signature(self) -> str:
        returns = self.outputs[0] if len(self.outputs) == 1 else f"({', '.join(self.outputs)})"
        return f"{self.func}({', '.join(self.params)}) -> {returns}"

    @property
    def returns(self) -> str:
        return ", ".join(self.outputs)

    def make_cases(self) -> list[Case]:
        cases = []
        for ci, config in enumerate(self.configs, start=1):
            gen = torch.Generator().manual_seed(config["seed"])
            shape = config["shape"]
            state = {name: torch.zeros(shape, dtype=DTYPE) for name in self.outputs}
            state[self.theta_name] = self.theta_scale * torch.randn(shape, generator=gen, dtype=DTYPE)
            for t in range(1, config["steps"] + 1):
                args = {**state, self.grad_name: gradient(gen, shape, config.get("scale", 1.0)), "t": t,
                        **config["hyper"]}
                args = {p: args[p] for p in self.params}
                where = (f"at step t = {t} of case {ci} ({hyper_text(config['hyper'])}, "
                         f"tensors of shape {tuple(shape)})")
                expected = tuple(self.reference(clone(args)))
                cases.append(Case(Call(clone(args), where), args, expected,
                                  {"ci": ci, "t": t, "config": config}))
                state = dict(zip(self.outputs, expected))  # teacher forcing: continue from the reference
        return cases

    def convert(self, value, outcome, case) -> tuple:
        where = case.call.where
        got = unpack(value, self.outputs, where, self.returns)
        return tuple(as_tensor(v, name, case.info["config"]["shape"], where) for v, name in zip(got, self.outputs))

    def nonfinite_text(self, case, name, index, x) -> str:
        return (f"the returned {name} contains {x} at element {index_text(index) or '()'} "
                f"{case.call.where}.\n  inputs at that element: " + inputs_text(case.args, index))

    def formula(self, name: str) -> str:
        return f"{name} must be {self.formulas[name]}."

    def failure_text(self, case, name, index, got_x, exp_x, low) -> str:
        config, t = case.info["config"], case.info["t"]
        text = (f"{self.func} does not match the reference yet.\n"
                f"First difference: {name}{index_text(index)} at step t = {t} of case {case.info['ci']} "
                f"({hyper_text(config['hyper'])}, tensors of shape {tuple(config['shape'])}).\n"
                f"{got_expected(got_x, exp_x, low)}\n"
                f"  inputs at that element: {inputs_text(case.args, index)}")
        if t > 1:
            text += f"\n(Steps 1 to {t - 1} of this case were right; each step starts from the reference's state.)"
        return text

    def passed_text(self) -> str:
        return (f"{self.func} is correct: it matches the reference on {len(self.cases)} steps in "
                f"{len(self.configs)} cases (every returned tensor within a relative tolerance of "
                f"{self.rtol:g}).")

    def student(self, mistake: Mistake):
        """The mistake written as a student's function (for the tests of the mistakes)."""
        def wrong(*args):
            return mistake.fn(dict(zip(self.params, args)))
        return wrong
