"""Time one optimizer step: codebase.optim against torch.optim's for-loop, foreach and fused paths.

Usage (from the repository root)::

    python benchmarks/optim_step.py                      # every optimizer of OPTIMIZERS, 10^3 .. 10^7 parameters
    python benchmarks/optim_step.py --optimizers Muon --sizes 1e3 1e5   # Muon, on weight matrices only
    python benchmarks/optim_step.py --sizes 1e3 1e5 --tensors 20 --threads 1

Each size ``n`` is split into ``--tensors`` float32 tensors shaped like a
multilayer perceptron's (one large weight matrix and one small bias vector per
layer), each with a fixed random gradient. Every implementation gets its own
copy of the same parameters. The implementations are timed *interleaved*: each
repeat runs all of them one after the other in a shuffled order, so a change in
the machine's load affects them all alike; the table shows the minimum over
the repeats (``--stat min``, the default: other processes can only add time to a
block) or their median (``--stat median``). With ``--copies k`` each implementation is
built k times, each on its own copy of the parameters, and its time is the mean over the
copies: at 10^6 parameters, where the tensors land in memory moves a step's time by a few
percent, and one copy per implementation would report that as a difference between them.
``ratio`` is the time of a step divided by the time of torch's for-loop step in the same
run (below 1 is faster than torch's for-loop).

``torch for-loop again`` is a second, independent copy of torch's for-loop: the
same code on its own copy of the parameters. Its ratio would be 1.00 on a perfect
clock, so its distance from 1 is the timing noise of the run, and ``codebase`` is
said to tie with the for-loop when its ratio is within that distance of 1.

Only ``optimizer.step()`` is timed (no forward or backward pass), by default in
CPU seconds of this process (``--clock cpu``): with one thread that is the time
the step would take on an idle core, and it does not count the time the process
waits while other processes run; ``--clock wall`` measures elapsed time. torch runs with
``--threads`` threads (default 1, as in the book's ``codebase.setup()``).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import os
import statistics
import sys
import time
from collections.abc import Mapping

import torch

import codebase.optim
from codebase.compare import time_interleaved

AGAIN = "torch for-loop again"


# References outside torch.optim, as (module, class): their single-tensor step fills the for-loop rows.
EXTERNAL_REFERENCES = {"Lion": ("lion_pytorch", "Lion"), "ScheduleFreeSGD": ("schedulefree", "SGDScheduleFree"),
                       "ScheduleFreeAdamW": ("schedulefree", "AdamWScheduleFree"),
                       "LARS": ("pytorch_optimizer", "LARS"), "Lamb": ("pytorch_optimizer", "Lamb")}


def _torch(name, flag, value):
    """torch.optim's class ``name`` with ``flag=value``; ``ValueError`` (the row is skipped) if it has no such flag.

    A class without ``foreach`` (``torch.optim.Muon``) has only the for-loop: its for-loop
    row passes no flag, and its foreach and fused rows are skipped. A reference outside
    torch (``EXTERNAL_REFERENCES``) stands in the "torch" rows in the same way, with the
    flags it has (schedulefree's classes have ``foreach``; lion_pytorch's ``Lion`` has neither).
    """
    module, attr = EXTERNAL_REFERENCES.get(name, ("torch.optim", name))
    cls = getattr(importlib.import_module(module), attr)
    if flag in inspect.signature(cls).parameters:
        return cls, {flag: value}
    if flag == "foreach" and value is False:
        return cls, {}
    raise ValueError(f"{module}.{attr} has no {flag} implementation")


IMPLEMENTATIONS = {
    # name: (class factory, extra keyword arguments)
    "codebase": lambda name: (getattr(codebase.optim, name), {}),
    "torch for-loop": lambda name: _torch(name, "foreach", False),
    AGAIN: lambda name: _torch(name, "foreach", False),  # the A/A control
    "torch foreach": lambda name: _torch(name, "foreach", True),
    "torch fused": lambda name: _torch(name, "fused", True),
}

OPTIMIZERS = {
    "SGD momentum": ("SGD", {"lr": 1e-2, "momentum": 0.9}),
    "Adam": ("Adam", {"lr": 1e-3}),
    "Adamax": ("Adamax", {"lr": 2e-3}),
    "NAdam": ("NAdam", {"lr": 2e-3}),
    "RAdam": ("RAdam", {"lr": 1e-3}),
    "Muon": ("Muon", {"lr": 2e-2}),
    "Adafactor": ("Adafactor", {"lr": 1e-2}),
    "Lion": ("Lion", {"lr": 1e-4, "weight_decay": 0.1}),
    "SF-SGD": ("ScheduleFreeSGD", {"lr": 1e-2, "momentum": 0.9}),
    "SF-AdamW": ("ScheduleFreeAdamW", {"lr": 2.5e-3}),
    "LARS": ("LARS", {"lr": 1.0, "weight_decay": 1e-4}),
    "Lamb": ("Lamb", {"lr": 1e-3, "weight_decay": 1e-2}),
}
# Gaps to the reference that were measured and kept, with where the measurement is.
EXPLAINED = {
    "SF-SGD": " (the same tensor work; ours re-checks the hyperparameters, under 1 us a step: "
              "benchmarks/schedule_free_gap.py)",
    "SF-AdamW": " (leaves p.grad alone, where the reference overwrites it: benchmarks/schedule_free_gap.py)",
}
# Optimizers of weight matrices only: their parameters are all 2-D (``matrix_shapes``).
MATRICES_ONLY = {"Muon"}


def shapes(n: int, tensors: int) -> list[tuple[int, ...]]:
    """Split ``n`` parameters into ``tensors`` shapes like an MLP's: weights (rows, cols) and biases (rows,).

    Layer ``k`` has a weight of ``rows * cols`` and a bias of ``rows`` elements; the
    last tensor absorbs the rounding, so the total is exactly ``n``.
    """
    layers = max(1, tensors // 2)
    per_layer = n // layers
    rows = max(1, int(round(per_layer ** 0.5)))
    out: list[tuple[int, ...]] = []
    for _ in range(layers):
        cols = max(1, (per_layer - rows) // rows)
        out += [(rows, cols), (rows,)]
    out = out[:tensors] if tensors > 1 else [(n,)]
    rest = n - sum(_numel(s) for s in out)
    if rest > 0:
        out[-1] = (_numel(out[-1]) + rest,)
    elif rest < 0:  # tiny n: fall back to an even split
        out = [(n // tensors + (i < n % tensors),) for i in range(tensors)]
    return out


def matrix_shapes(n: int, tensors: int) -> list[tuple[int, int]]:
    """About ``n`` parameters as ``tensors`` equal, nearly square weight matrices (for ``MATRICES_ONLY``)."""
    per_tensor = max(1, n // tensors)
    rows = max(1, int(round(per_tensor ** 0.5)))
    return [(rows, max(1, per_tensor // rows))] * tensors


def _numel(shape):
    size = 1
    for s in shape:
        size *= s
    return size


def make_params(n: int, tensors: int, seed: int = 0, matrices: bool = False) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    params = []
    for shape in (matrix_shapes if matrices else shapes)(n, tensors):
        p = torch.randn(shape, generator=generator).requires_grad_(True)
        p.grad = torch.randn(shape, generator=generator) * 1e-2
        params.append(p)
    return params


def clone_params(params):
    out = []
    for p in params:
        q = p.detach().clone().requires_grad_(True)
        q.grad = p.grad.clone()
        out.append(q)
    return out


def run_steps(optimizer, steps: int) -> None:
    for _ in range(steps):
        optimizer.step()


def time_block(optimizer, steps: int) -> float:
    """Seconds per step of one block, wall clock: only used to size the timed blocks."""
    start = time.perf_counter()
    run_steps(optimizer, steps)
    return (time.perf_counter() - start) / steps


def bench(n: int, tensors: int, opt_name: str, repeats: int, target: float, impls, seed: int = 0,
          stat: str = "median", clock: str = "cpu", copies: int = 1):
    """Return ``{implementation: seconds per step}`` for one size and one optimizer, and the steps per block.

    ``impls`` names implementations of ``IMPLEMENTATIONS``, or maps names to factories
    like theirs. Each implementation is built ``copies`` times, each on its own copy of
    the parameters, the copies of all implementations in turn; its time is the mean over
    its copies of ``stat`` over the repeats. Where the tensors land in memory changes the
    time of a step by a few percent at 10^6 parameters: that is a difference between
    copies, which one copy per implementation would report as one between implementations.
    The blocks are timed in shuffled turns by ``codebase.compare.time_interleaved``.
    """
    factories = impls if isinstance(impls, Mapping) else {impl: IMPLEMENTATIONS[impl] for impl in impls}
    cls_name, kwargs = OPTIMIZERS[opt_name]
    base = make_params(n, tensors, seed, matrices=opt_name in MATRICES_ONLY)
    optimizers, skipped = {}, set()
    for copy in range(copies):
        for impl, factory in factories.items():
            if impl in skipped:
                continue
            try:
                cls, extra = factory(cls_name)
                optimizer = cls(clone_params(base), **kwargs, **extra)
                getattr(optimizer, "train", lambda: None)()  # schedule-free optimizers step in train mode
                optimizer.step()  # creates the state, warms up
                optimizers[impl, copy] = optimizer
            except (RuntimeError, ValueError) as error:  # e.g. no fused kernel for this device/dtype
                print(f"  skipped {impl}: {error}", file=sys.stderr)
                skipped.add(impl)
    optimizers = {key: o for key, o in optimizers.items() if key[0] not in skipped}
    # steps per timed block: enough for about `target` seconds with the slowest implementation
    slowest = max(time_block(o, 1) for o in optimizers.values())
    steps = max(1, min(10_000, int(target / max(slowest, 1e-7))))
    for o in optimizers.values():
        run_steps(o, min(steps, 3))  # warm-up
    blocks = {f"{impl}#{copy}": (lambda o=o: run_steps(o, steps)) for (impl, copy), o in optimizers.items()}
    seconds = time_interleaved(blocks, repeats=repeats, stat=stat, clock=clock, seed=seed)
    return {impl: statistics.mean(seconds[f"{impl}#{copy}"] for copy in range(copies)) / steps
            for impl in factories if impl not in skipped}, steps


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.3f} s "


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6, 1e7],
                        help="total numbers of parameters (default: 1e3 1e4 1e5 1e6 1e7)")
    parser.add_argument("--tensors", type=int, default=10, help="tensors the parameters are split into (default 10)")
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS), choices=list(OPTIMIZERS))
    parser.add_argument("--repeats", type=int, default=9, help="interleaved timed blocks per implementation (default 9)")
    parser.add_argument("--target", type=float, default=0.05,
                        help="seconds per timed block for the slowest implementation (default 0.05)")
    parser.add_argument("--copies", type=int, default=1,
                        help="copies of each implementation, each on its own parameters (default 1; 3 for claims "
                             "near a ratio of 1, where memory placement matters)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as in the book)")
    parser.add_argument("--stat", choices=["min", "median"], default="min",
                        help="statistic over the repeats (default min: on a shared machine, the least disturbed block)")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                        help="cpu: this process's CPU time (default; robust on a shared machine), wall: elapsed time")
    args = parser.parse_args(argv)
    if args.copies < 1:
        parser.error(f"--copies must be at least 1, got {args.copies}")

    torch.set_num_threads(args.threads)
    impls = list(IMPLEMENTATIONS)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs, "
          f"load average {load:.2f} at start, {args.tensors} tensors, {args.stat} of {args.repeats} interleaved blocks, "
          f"{args.clock} clock, {args.copies} cop{'y' if args.copies == 1 else 'ies'} of each")
    header = f"{'optimizer':<13} {'params':>9} {'implementation':<21} {'time/step':>11} {'params/s':>10} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    worst = {}
    for opt_name in args.optimizers:
        for size in args.sizes:
            n = int(size)
            result, _ = bench(n, args.tensors, opt_name, args.repeats, args.target, impls,
                              stat=args.stat, clock=args.clock, copies=args.copies)
            ref = result.get("torch for-loop")
            for impl, seconds in result.items():
                ratio = seconds / ref if ref else float("nan")
                print(f"{opt_name:<13} {n:>9.0e} {impl:<21} {fmt_time(seconds):>11} {n / seconds:>10.3g} {ratio:>6.2f}")
            fused, again = result.get("torch fused"), result.get(AGAIN)
            seconds = result["codebase"]
            nan = float("nan")
            worst[(opt_name, n)] = (seconds / ref if ref else nan, seconds / fused if fused else nan,
                                    again / ref if again and ref else nan)
            print()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} at end")
    print("goals: codebase/for-loop <= 1 and codebase/fused <= 10 at every size "
          "(noise: how far the for-loop's second copy is from 1)")
    for (opt_name, n), (vs_loop, vs_fused, aa) in worst.items():
        print(f"  {opt_name:<13} {n:>9.0e}: x{vs_loop:.2f} of for-loop (noise {noise(aa):.2f}), "
              f"{f'x{vs_fused:.2f} of fused' if vs_fused == vs_fused else 'no fused path'}  "
              f"{(v := verdict(vs_loop, vs_fused, aa))}{EXPLAINED.get(opt_name, '') if v == 'MISSED' else ''}")
    return 0


def noise(aa: float) -> float:
    """How far the A/A ratio is from 1, symmetric in the two copies: 1.03 and 1/1.03 both give 0.03."""
    return max(aa, 1 / aa) - 1


def verdict(vs_loop: float, vs_fused: float, aa: float) -> str:
    """``ok`` (faster than the for-loop), ``tie`` (slower by no more than the noise) or ``MISSED``."""
    if not vs_fused <= 10.0 and vs_fused == vs_fused:  # NaN: torch has no fused path for this optimizer
        return "MISSED"
    if vs_loop <= 1.0:
        return "ok"
    return "tie" if vs_loop - 1 <= noise(aa) else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
