"""Check of the early-stopping patience rule: the best epoch and the epoch at which training stops.

The reference is ``codebase.regularization.EarlyStopping``; epochs count from 1, an epoch
improves when its value is below ``best - min_delta`` (absolute), and the stop epoch is
``None`` when the rule never fires.
"""
from __future__ import annotations

import math
import numbers

import torch

from ..regularization import EarlyStopping
from .calling import Call
from .engine import Case, Compared, Mistake, run
from .outputs import DTYPE, describe
from .plain import Opaque
from .results import CheckResult, Failure, exercise

_STOP_SIGNATURE = "stopping_epochs(metrics, patience, min_delta) -> (best_epoch, stop_epoch or None)"

_STOP_CURVES = [
    ([1.0, 0.8, 0.7, 0.71, 0.72, 0.69, 0.70, 0.70, 0.75, 0.8, 0.9], 3, 0.0),
    ([1.0, 0.9, 0.895, 0.893, 0.85, 0.849, 0.848, 0.847, 0.846, 0.84], 2, 0.01),
    ([0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4], 3, 0.0),
    ([2.0, 1.5, 1.0, 0.9, 0.95, 0.8, 0.85, 0.84, 0.83, 0.82, 0.81, 0.805], 4, 0.05),
    ([1.0, 1.2, 0.9, 1.1, 1.3, 0.95], 1, 0.0),
    ([1.0, 0.6, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65], 3, 0.0),
    ([1.0, 0.9, 0.8, 0.7, 0.6], 2, 0.0),
    ([5.0, 4.8, 4.7, 4.6, 4.55, 4.5, 4.4], 2, 0.1),   # separates an absolute min_delta from a relative one
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
    Mistake("late", "stop one epoch late (waited > patience): stop as soon as `patience` epochs in a "
             "row have not improved, i.e. when waited >= patience.",
             _stop_variant(_better, lambda w, p: w > p)),
    Mistake("early", "stop one epoch early (waited >= patience - 1, or the best epoch counted as a bad "
             "one): after the best epoch, wait `patience` epochs without improvement.",
             _stop_variant(_better, lambda w, p: w >= p - 1)),
    Mistake("delta-direction", "count a value as an improvement when it is below best + min_delta; an "
             "improvement must beat the best by more than min_delta: value < best - min_delta.",
             _stop_variant(lambda x, b, l, d: x < b + d, _enough)),
    Mistake("ties", "count an equal value as an improvement (<=): only value < best - min_delta improves, "
             "so a tie counts against the patience and the best epoch stays the first one.",
             _stop_variant(lambda x, b, l, d: x <= b - d, _enough)),
    Mistake("previous", "compare with the previous epoch instead of the best one so far: the counter "
             "resets only when the value beats the best value seen.",
             _stop_variant(lambda x, b, l, d: x < l - d, _enough)),
    Mistake("no-delta", "ignore min_delta: an improvement must beat the best by more than min_delta.",
             _stop_variant(lambda x, b, l, d: x < b, _enough)),
    Mistake("from-zero", "count epochs from 0: the first epoch is epoch 1, as in History and EarlyStopping "
             "(enumerate(metrics, start=1)).", _stop_variant(_better, _enough, shift=1)),
    Mistake("end", "return the last epoch when the rule never fires; return None as the stop epoch then.",
             _stop_variant(_better, _enough, end_instead_of_none=True)),
    Mistake("relative", "count an improvement relative to the best, value < best * (1 - min_delta) (the 'rel' "
            "mode of ReduceLROnPlateau); here min_delta is absolute: value < best - min_delta.",
            _stop_variant(lambda x, b, l, d: x < b * (1 - d), _enough)),
]




def _epoch_value(x, name, where):
    if x is None:
        return None
    if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.is_complex():
        x = x.item()
    elif hasattr(x, "shape") and getattr(x, "size", 0) == 1 and hasattr(x, "item"):  # a one-element array
        x = x.item()
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        kind = x.type_name if isinstance(x, Opaque) else type(x).__name__
        raise Failure(f"the {name} you returned {where} is {kind} {describe(x)}; it must be an "
                      "epoch number (an int counted from 1) or None.",
                      "return the pair (best_epoch, stop_epoch), e.g. `return best_epoch, None`.")
    return int(x)


def _short(values, n=12):
    text = ", ".join(f"{v:g}" for v in values[:n])
    return f"[{text}{', ...' if len(values) > n else ''}] ({len(values)} epochs)"


class _Stopping(Compared):
    check, func = "check_stopping_epochs", "stopping_epochs"
    params = ("metrics", "patience", "min_delta")
    signature = _STOP_SIGNATURE
    forbidden = ("codebase.regularization.EarlyStopping", "torch.optim.lr_scheduler.ReduceLROnPlateau")
    mistakes = _STOP_MISTAKES
    outputs = ("pair",)
    there_word = "on this curve your result is"

    def make_cases(self):
        cases = []
        for metrics, patience, min_delta in _stop_cases():
            where = f"for metrics = {_short(metrics)}, patience = {patience}, min_delta = {min_delta:g}"
            args = {"metrics": list(metrics), "patience": patience, "min_delta": min_delta}
            cases.append(Case(Call(args, where), args, (_stop_reference(metrics, patience, min_delta),)))
        return cases

    def convert(self, value, outcome, case):
        where = case.call.where
        if value is None:
            raise Failure(f"your function returned None {where}.",
                          "end it with `return best_epoch, stop_epoch` (stop_epoch None if the rule never fires).")
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise Failure(f"your function returned {type(value).__name__} {describe(value)} {where}; it must "
                          "return a pair (best_epoch, stop_epoch).",
                          "`return best_epoch, stop_epoch`, with stop_epoch None if the rule never fires.")
        return ((_epoch_value(value[0], "best epoch", where), _epoch_value(value[1], "stop epoch", where)),)

    def variant(self, mistake, case):
        a = case.args
        return (tuple(mistake.fn(list(a["metrics"]), a["patience"], a["min_delta"])),)

    def formula(self, name):
        return ("an epoch improves when value < best - min_delta; count the epochs since the last "
                "improvement and stop at the epoch where that count reaches patience.")

    def failure_text(self, case, name, index, got_x, exp_x, low):
        a = case.args
        values = ", ".join(f"{v:g}" for v in a["metrics"])
        return (f"stopping_epochs does not agree with EarlyStopping yet.\n"
                f"For metrics = [{values}], patience = {a['patience']}, min_delta = {a['min_delta']:g}:\n"
                f"  expected (best epoch, stop epoch) = {exp_x}\n"
                f"  got                               = {got_x}")

    def passed_text(self):
        return f"stopping_epochs is correct on {len(self.cases)} validation curves."

    def student(self, mistake):
        return lambda metrics, patience, min_delta: mistake.fn(metrics, patience, min_delta)


_STOPPING = _Stopping()


@exercise(_STOPPING, label="early-ex-patience", chapter="early_stopping", minutes=15, difficulty=2,
          task="Write the patience rule: return the best epoch and the epoch at which training stops.")
def check_stopping_epochs(fn) -> CheckResult:
    """Check ``stopping_epochs(metrics, patience, min_delta) -> (best_epoch, stop_epoch)``.

    ``metrics`` holds one validation loss per epoch. An epoch improves when its value is below
    ``best - min_delta``; training stops at the first epoch at which ``patience`` epochs in a
    row have not improved. Epochs count from 1; ``stop_epoch`` is ``None`` if the rule never
    fires. The reference is ``codebase.regularization.EarlyStopping``.
    """
    return run(_STOPPING, fn)
