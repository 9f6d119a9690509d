"""The cost of ``codebase.train.fit`` over a minimal hand-written loop, on the book's digits network.

Usage (from the repository root)::

    python benchmarks/fit_overhead.py                 # 5 epochs, 7 interleaved repeats
    python benchmarks/fit_overhead.py --epochs 10 --repeats 11 --batch-size 64

The network is the one the chapters train on the digits (``codebase.nn.mlp(64, 10,
depth=1, width=32)``, ReLU) with ``codebase.optim.SGD(lr=0.1, momentum=0.9)``, mini-batches
of 32 shuffled by a seeded ``torch.Generator``. Five loops are timed, interleaved by
``codebase.compare.time_interleaved`` (each repeat runs all five in a shuffled order,
so a change in the machine's load affects them alike; the table shows the minimum
over the repeats, since other processes can only add time to a run, or the median
with ``--stat median``):

- ``bare``: for each mini-batch, zero the gradients, forward, cross-entropy,
  backward, step; nothing else;
- ``bare + epoch eval``: the same, plus the training and validation loss and
  accuracy after each epoch, which is what ``fit`` records per epoch;
- ``+ step records``: the same again, plus what ``fit`` records at every step: the
  loss (``loss.item()``) and the gradient norm (``codebase.train.grad_norm``);
- ``fit``: ``codebase.train.fit(model, optimizer, train, val=val, epochs=...)``, which
  records all of that and checks the loss and the norm for NaN;
- ``fit, no grad norm``: the same with ``record_grad_norm=False``, which skips the
  gradient norm (the one per-step measurement that costs torch operations).

Each ``fit`` is compared with the hand-written loop that does the same work: ``fit``
with ``+ step records``, ``fit, no grad norm`` with ``bare + epoch eval``. That
difference is the cost of ``fit`` itself (its checks, its bookkeeping). Over ``bare``
it also includes what ``fit`` measures for the reader: the evaluation after each
epoch, and the gradient norm at every step unless it is turned off.

Times are CPU seconds of this process by default (``--clock cpu``; with one
thread, the time on an idle core), or elapsed time with ``--clock wall``.
The overhead is the time of ``fit`` over a hand-written loop, minus one. The goal is
at most 10 %. torch runs with one thread, as in the book.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

import codebase
from codebase.compare import time_interleaved
from codebase.data import batches, load_digits, num_batches
from codebase.nn import mlp
from codebase.optim import SGD
from codebase.train import evaluate, fit, grad_norm


def make(seed: int = 0):
    model = mlp(64, 10, depth=1, width=32, activation="relu", generator=torch.Generator().manual_seed(seed))
    return model, SGD(model.parameters(), lr=0.1, momentum=0.9)


def bare(split, epochs, batch_size, *, with_eval, with_records=False):
    model, optimizer = make()
    X, y = split.train
    generator = torch.Generator().manual_seed(0)
    loss_fn = torch.nn.functional.cross_entropy
    losses, norms = [], []
    for _ in range(epochs):
        model.train()
        for Xb, yb in batches(X, y, batch_size, generator=generator):
            optimizer.zero_grad()
            loss = loss_fn(model(Xb), yb)
            loss.backward()
            if with_records:  # what fit records at every step
                losses.append(loss.item())
                norms.append(grad_norm(model))
            optimizer.step()
        if with_eval:
            evaluate(model, X, y)
            evaluate(model, *split.val)
    return model


def with_fit(split, epochs, batch_size, *, record_grad_norm=True):
    model, optimizer = make()
    fit(model, optimizer, split.train, val=split.val, epochs=epochs, batch_size=batch_size, seed=0,
        record_grad_norm=record_grad_norm)
    return model


# (fit variant, the hand-written loop that does the same work)
SAME_WORK = [("fit", "+ step records"), ("fit, no grad norm", "bare + epoch eval")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                        help="cpu: this process's CPU time (default; robust on a shared machine), wall: elapsed time")
    parser.add_argument("--stat", choices=["min", "median"], default="min",
                        help="statistic over the repeats (default min: on a shared machine, the least disturbed run)")
    args = parser.parse_args(argv)
    codebase.setup(plots=False)
    split = load_digits()
    runs = {
        "bare": lambda: bare(split, args.epochs, args.batch_size, with_eval=False),
        "bare + epoch eval": lambda: bare(split, args.epochs, args.batch_size, with_eval=True),
        "+ step records": lambda: bare(split, args.epochs, args.batch_size, with_eval=True,
                                       with_records=True),
        "fit": lambda: with_fit(split, args.epochs, args.batch_size),
        "fit, no grad norm": lambda: with_fit(split, args.epochs, args.batch_size, record_grad_norm=False),
    }
    # the loops train the same weights: fit adds bookkeeping, not different arithmetic
    finals = {name: torch.cat([p.detach().flatten() for p in run().parameters()]) for name, run in runs.items()}
    same = all(torch.equal(finals["bare"], w) for w in finals.values())
    load_start = os.getloadavg()[0]
    times = time_interleaved(runs, repeats=args.repeats, stat=args.stat, clock=args.clock)
    load_end = os.getloadavg()[0]
    steps = args.epochs * num_batches(len(split.train), args.batch_size)
    print(f"torch {torch.__version__}, 1 thread, {args.epochs} epochs x {steps // args.epochs} steps "
          f"(batch {args.batch_size}), {args.stat} of {args.repeats} interleaved runs, {args.clock} clock, "
          f"load average {load_start:.2f} -> {load_end:.2f}; same final weights: {same}")
    print(f"{'loop':<18} {'time':>9} {'per step':>10}")
    for name, value in times.items():
        print(f"{name:<18} {value:>8.3f}s {value / steps * 1e6:>8.1f}us")
    print("overhead (goal: at most +10 % over the hand-written loop that does the same work):")
    for fitted, loop in SAME_WORK + [(fitted, "bare") for fitted, _ in SAME_WORK]:
        print(f"  {fitted:<18} over {loop:<18} {overhead(times[fitted], times[loop]):>+7.1f} %")
    return 0


def overhead(time: float, baseline: float) -> float:
    """How much longer ``time`` is than ``baseline``, in percent."""
    return (time / baseline - 1) * 100


if __name__ == "__main__":
    sys.exit(main())
