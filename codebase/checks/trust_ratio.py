"""The check of LARS's layer-wise trust ratio, against ``codebase.optim.lars_trust_ratio``."""
from __future__ import annotations

import torch

from ..optim.lars import lars_trust_ratio
from .calling import Call
from .engine import Case, Compared, Mistake, got_expected, run
from .outputs import DTYPE, as_tensor, fmt
from .results import CheckResult, exercise


def _cases():
    """(theta, g, eta, weight_decay): random layers of several scales, a zero layer, a zero gradient."""
    gen = torch.Generator().manual_seed(83)
    cases = []
    for shape, scale_theta, scale_g, eta, wd in (((4, 3), 1.0, 0.1, 1e-3, 1e-4), ((6, 2), 0.5, 2.0, 0.02, 0.0),
                                                 ((3, 3, 2), 3.0, 1e-3, 1e-3, 5e-4), ((5, 4), 1.0, 1.0, 0.1, 0.1)):
        cases.append((scale_theta * torch.randn(shape, generator=gen, dtype=DTYPE),
                      scale_g * torch.randn(shape, generator=gen, dtype=DTYPE), eta, wd))
    cases.append((torch.zeros(3, 4, dtype=DTYPE), torch.randn(3, 4, generator=gen, dtype=DTYPE), 1e-3, 1e-4))
    cases.append((torch.randn(2, 5, generator=gen, dtype=DTYPE), torch.zeros(2, 5, dtype=DTYPE), 1e-3, 0.0))
    return cases


def _ratio(fn):
    """A mistake written with the norms as floats; the zero-norm convention kept, so only the formula differs."""
    def ratio(theta, g, eta, weight_decay):
        t, n = float(theta.norm()), float(g.norm())
        if t == 0 or n + weight_decay * t == 0:
            return 1.0
        return fn(t, n, eta, weight_decay)
    return ratio


_MISTAKES = [
    Mistake("no-decay-in-denominator", "leave the weight decay out of the denominator: it is "
            "||g|| + weight_decay * ||theta||.", _ratio(lambda t, n, eta, wd: eta * t / n if n else 1.0)),
    Mistake("inverted", "divide the gradient's norm by the weights' norm: the ratio is "
            "eta * ||theta|| / (||g|| + weight_decay * ||theta||).", _ratio(lambda t, n, eta, wd: eta * (n + wd * t) / t)),
    Mistake("no-eta", "forget the trust coefficient eta in the numerator.", _ratio(lambda t, n, eta, wd: t / (n + wd * t))),
    Mistake("squared-norms", "use squared norms (sum of squares) instead of norms sqrt(sum(x**2)).",
            _ratio(lambda t, n, eta, wd: eta * t * t / (n * n + wd * t * t))),
    Mistake("decay-in-numerator", "add the weight decay to the numerator: the decay goes in the denominator only.",
            _ratio(lambda t, n, eta, wd: eta * (t + wd * t) / (n + wd * t))),
    Mistake("zero-when-zero", "return 0 for a layer whose weights are all zero: LARS uses a ratio of 1 there, so a "
            "layer initialized at zero still moves.",
            lambda theta, g, eta, wd: 0.0 if float(theta.norm()) == 0 else lars_trust_ratio(
                theta, g, eta=eta, weight_decay=wd).item()),
]


class _TrustRatio(Compared):
    func, check = "trust_ratio", "check_lars_trust_ratio"
    params = ("theta", "g", "eta", "weight_decay")
    signature = "trust_ratio(theta, g, eta, weight_decay) -> float"
    outputs = ("r",)
    rtol, atol = 1e-9, 1e-14
    there_word = "in that case your ratio is"
    nonfinite_hint = "a norm of zero: when ||theta|| = 0 or the denominator is 0 the ratio is 1."
    mistakes = _MISTAKES
    forbidden = ("codebase.optim.lars_trust_ratio", "codebase.optim.lars.lars_trust_ratio")

    def make_cases(self):
        cases = []
        for ci, (theta, g, eta, wd) in enumerate(_cases(), start=1):
            where = (f"for case {ci} (theta of shape {tuple(theta.shape)}, ||theta|| = {fmt(float(theta.norm()))}, "
                     f"||g|| = {fmt(float(g.norm()))}, eta = {eta:g}, weight_decay = {wd:g})")
            args = {"theta": theta, "g": g, "eta": eta, "weight_decay": wd}
            expected = lars_trust_ratio(theta, g, eta=eta, weight_decay=wd).reshape(())
            cases.append(Case(Call(args, where), args, (expected,), {"ci": ci, "where": where}))
        return cases

    def convert(self, value, outcome, case):
        if isinstance(value, (tuple, list)) and len(value) == 1:
            value = value[0]
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.reshape(())
        return (as_tensor(value, "ratio r", (), case.call.where,
                          "the trust ratio is one number per layer: return a float or a 0-d tensor."),)

    def variant(self, mistake, case):
        a = case.args
        return (torch.tensor(float(mistake.fn(a["theta"], a["g"], a["eta"], a["weight_decay"])), dtype=DTYPE),)

    def nonfinite_text(self, case, name, index, x):
        return f"your function returned {x} {case.info['where']}."

    def formula(self, name):
        return ("r = eta * ||theta|| / (||g|| + weight_decay * ||theta||), and r = 1 when ||theta|| = 0 or the "
                "denominator is 0")

    def failure_text(self, case, name, index, got_x, exp_x, low):
        return (f"trust_ratio does not match the reference yet.\nFirst difference {case.info['where']}:\n"
                f"{got_expected(got_x, exp_x, low)}")

    def passed_text(self):
        return (f"trust_ratio is correct on {len(self.cases)} layers, including a layer of zeros and a zero "
                f"gradient.")

    def student(self, mistake):
        return lambda theta, g, eta, weight_decay: mistake.fn(theta, g, eta, weight_decay)


_SPEC = _TrustRatio()


@exercise(_SPEC, label="lb-ex-trust-ratio", chapter="large_batches", minutes=15, difficulty=1,
          task="Write the LARS trust ratio eta * ||theta|| / (||g|| + weight_decay * ||theta||).")
def check_lars_trust_ratio(fn) -> CheckResult:
    """Check ``trust_ratio(theta, g, eta, weight_decay) -> float``: the LARS trust ratio
    ``eta * ||theta|| / (||g|| + weight_decay * ||theta||)``, 1 when a norm vanishes."""
    return run(_SPEC, fn)
