"""Where schedule-free AdamW's step loses time against the reference's: the gradient it leaves alone.

Usage (from the repository root)::

    python benchmarks/schedule_free_gap.py                       # 10^3 .. 10^6 parameters, about 1 minute
    python benchmarks/schedule_free_gap.py --sizes 1e3 --copies 5 --repeats 21

``schedulefree.AdamWScheduleFree`` divides the gradient by ``sqrt(v_hat) + eps`` in
place, in ``p.grad``; ``codebase.optim.ScheduleFreeAdamW`` leaves ``p.grad`` as it was
(the schedule-free chapter promises it) and writes the quotient into the temporary that
holds the denominator, ``torch.div(g, denom, out=denom)``. This script times, with the
parameters, gradients and timing of ``optim_step.py`` (``SF-AdamW``):

- ``reference`` and ``reference again``: the reference's single-tensor path
  (``foreach=False``), twice, the A/A control of ``optim_step.py``;
- ``codebase``: ours;
- ``codebase, p.grad overwritten``: ours with that one line of the rule replaced by the
  reference's ``g.div_(denom)``. The variant is compiled from the source of
  :func:`codebase.optim.schedule_free_adamw.schedule_free_adamw_update`, so it differs
  from ours in that line only, and it is checked to take the same step bit for bit.

Each is built ``--copies`` times (``optim_step.bench``); the ratios are over the
reference's time.

A second table times a step of schedule-free SGD and AdamW, ours and the reference's,
on 10 parameters none of which has a gradient: what a step costs before any tensor
work (``torch.optim.Optimizer``'s hooks, which both pay, and, in ours, the re-check of
the hyperparameters that every ``codebase`` optimizer makes at each step).
"""
from __future__ import annotations

import argparse
import inspect
import os
import sys

from pathlib import Path

import torch

from codebase.compare import time_interleaved
from codebase.optim import schedule_free_adamw

sys.path.insert(0, str(Path(__file__).resolve().parent))  # optim_step.py, beside this script, also when imported
from optim_step import (AGAIN, IMPLEMENTATIONS, OPTIMIZERS, bench, clone_params, make_params,  # noqa: E402
                        run_steps)

KEPT, OVERWRITTEN = "torch.div(g, denom, out=denom)", "g.div_(denom)"


def _overwriting_rule():
    """Our rule with the quotient written into ``g``, as the reference does; the one line replaced is checked."""
    source = inspect.getsource(schedule_free_adamw.schedule_free_adamw_update)
    if source.count(KEPT) != 1:
        raise RuntimeError(f"schedule_free_adamw_update no longer holds {KEPT!r} once: update this script")
    namespace = dict(vars(schedule_free_adamw))
    exec(compile(source.replace(KEPT, OVERWRITTEN), schedule_free_adamw.__file__, "exec"), namespace)
    return namespace["schedule_free_adamw_update"]


class OverwritingScheduleFreeAdamW(schedule_free_adamw.ScheduleFreeAdamW):
    """``ScheduleFreeAdamW`` whose step leaves the scaled gradient in ``p.grad``, like the reference's."""

    _rule = staticmethod(_overwriting_rule())

    def _update(self, p, g, state, group, t, lr, c):
        beta1, beta2 = group["betas"]
        self._rule(p, g, state["z"], state["exp_avg_sq"], t, lr=lr, beta1=beta1, beta2=beta2,
                   eps=group["eps"], c=c, weight_decay=group["weight_decay"])


IMPLS = {"reference": IMPLEMENTATIONS["torch for-loop"], "reference again": IMPLEMENTATIONS[AGAIN],
         "codebase": IMPLEMENTATIONS["codebase"],
         "codebase, p.grad overwritten": lambda name: (OverwritingScheduleFreeAdamW, {})}


def check_same_step(n, tensors):
    """The variant and ours take the same first step, bit for bit: parameters, ``z`` and ``v`` (``p.grad`` differs)."""
    base = make_params(n, tensors)
    after = []
    for cls in (schedule_free_adamw.ScheduleFreeAdamW, OverwritingScheduleFreeAdamW):
        params = clone_params(base)
        optimizer = cls(params, lr=2.5e-3)
        optimizer.train()
        optimizer.step()
        after.append(params + [t for p in params for t in optimizer.state[p].values()])
    if not all(torch.equal(a, b) for a, b in zip(*after)):
        raise RuntimeError("the overwriting variant took another step than ours: the comparison would be unfair")


def fixed_cost(repeats, steps=2000):
    """``{optimizer: (reference, codebase)}``: seconds of a step in which no parameter has a gradient."""
    blocks = {}
    for opt_name in ("SF-SGD", "SF-AdamW"):
        cls_name, kwargs = OPTIMIZERS[opt_name]
        for impl in ("torch for-loop", "codebase"):
            cls, extra = IMPLEMENTATIONS[impl](cls_name)
            optimizer = cls([torch.zeros(3, requires_grad=True) for _ in range(10)], **kwargs, **extra)
            optimizer.train()
            blocks[opt_name, impl] = lambda o=optimizer: run_steps(o, steps)
    seconds = time_interleaved({f"{a}#{b}": f for (a, b), f in blocks.items()}, repeats=repeats, clock="cpu")
    return {opt_name: tuple(seconds[f"{opt_name}#{impl}"] / steps for impl in ("torch for-loop", "codebase"))
            for opt_name in ("SF-SGD", "SF-AdamW")}


def _load():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")  # no load average on Windows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6])
    parser.add_argument("--tensors", type=int, default=10, help="tensors the parameters are split into (default 10)")
    parser.add_argument("--copies", type=int, default=3, help="copies of each optimizer (default 3)")
    parser.add_argument("--repeats", type=int, default=11, help="interleaved blocks per copy (default 11)")
    parser.add_argument("--target", type=float, default=0.02, help="seconds per block (default 0.02)")
    args = parser.parse_args(argv)
    if args.copies < 1:
        parser.error(f"--copies must be at least 1, got {args.copies}")
    torch.set_num_threads(1)
    check_same_step(1000, args.tensors)
    print(f"torch {torch.__version__}, 1 thread, load average {_load():.2f} at start, "
          f"{args.copies} cop{'y' if args.copies == 1 else 'ies'} of each, "
          f"min of {args.repeats} interleaved blocks, CPU clock")
    names = list(IMPLS)[1:]
    header = f"{'params':>7}  {'reference':>11}" + "".join(f"  {name:>{max(8, len(name))}}" for name in names)
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        times, _ = bench(int(size), args.tensors, "SF-AdamW", args.repeats, args.target, IMPLS,
                         stat="min", clock="cpu", copies=args.copies)
        ref = times["reference"]
        print(f"{size:>7.0e}  {ref * 1e6:>8.1f} us" +
              "".join(f"  {times[name] / ref:>{max(8, len(name))}.3f}" for name in names))
    print("\na step with no gradient (10 parameters): reference, codebase")
    for opt_name, (ref, ours) in fixed_cost(args.repeats).items():
        print(f"  {opt_name:<9} {ref * 1e6:6.2f} us  {ours * 1e6:6.2f} us  ({(ours - ref) * 1e6:+.2f} us)")
    print(f"load average {_load():.2f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
