"""Comparing optimizers fairly: their memory, their speed, a tuned learning rate, several seeds.

- :func:`state_size` counts the state an optimizer keeps per parameter (after a step);
- :func:`time_steps` measures the seconds of one ``optimizer.step()`` (CPU time by default);
  the number depends on the machine and its load, so use it to rank optimizers
  measured together, never as a constant;
- :func:`time_interleaved` times whole pieces of code (a training loop, say)
  against each other, taking turns so that the machine's load hits them alike;
- :func:`tune_lr` trains one model per learning rate and picks the best on validation data;
- :func:`multi_seed` repeats training over several seeds, and :func:`curves` stacks
  the per-epoch results of those runs into an array for :func:`codebase.plot.band`.

The training functions call :func:`codebase.train.fit`; a run that diverges is
recorded (its history stops early) instead of stopping the comparison.
"""
from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from ._checks import check_callable, check_choice, check_int, check_real
from .train import TrainingDiverged, fit

__all__ = ["state_size", "time_steps", "time_interleaved", "TuneResult", "tune_lr", "multi_seed", "curves"]


def _param_list(params_or_model) -> list[torch.Tensor]:
    if isinstance(params_or_model, torch.nn.Module):
        params = list(params_or_model.parameters())
    elif isinstance(params_or_model, torch.Tensor):
        raise TypeError("params_or_model must be a module or an iterable of tensors, got a single tensor; "
                        "wrap it in a list")
    else:
        try:
            params = list(params_or_model)
        except TypeError:
            raise TypeError("params_or_model must be a torch.nn.Module or an iterable of tensors, "
                            f"got {type(params_or_model).__name__}") from None
    if not params or not all(isinstance(p, torch.Tensor) for p in params):
        raise ValueError("params_or_model must hold at least one tensor, and only tensors")
    return params


def state_size(optimizer: torch.optim.Optimizer) -> dict:
    """Return how much state ``optimizer`` keeps: ``{"tensors_per_parameter", "floats_per_parameter", "bytes"}``.

    - ``tensors_per_parameter``: the number of state tensors with the shape of their
      parameter (``momentum_buffer``, ``exp_avg``, ...), averaged over all parameters
      of all ``param_groups``. The scalar ``"step"`` counter is not counted.
    - ``floats_per_parameter``: the elements of those tensors divided by the number
      of parameter elements; equal to ``tensors_per_parameter`` when every parameter
      has the same kind of state.
    - ``bytes``: the memory of every tensor in ``optimizer.state``, step counters included.

    Optimizers create their state lazily, at the first ``step()``: call this after
    one. SGD without momentum keeps nothing (0); momentum, AdaGrad and RMSProp one
    tensor (RMSProp one more with ``centered=True`` and one more with momentum);
    AdaDelta and Adam two (Adam one more with ``amsgrad=True``).
    """
    if not isinstance(getattr(optimizer, "param_groups", None), list) or not hasattr(optimizer, "state"):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not params:
        raise ValueError("optimizer has no parameters")
    tensors, floats, nbytes = 0, 0, 0
    for p in params:
        for key, value in optimizer.state.get(p, {}).items():
            if not isinstance(value, torch.Tensor):
                continue
            nbytes += value.numel() * value.element_size()
            if key != "step" and value.shape == p.shape:
                tensors += 1
                floats += value.numel()
    return {"tensors_per_parameter": tensors / len(params),
            "floats_per_parameter": floats / sum(p.numel() for p in params),
            "bytes": int(nbytes)}


_CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
_STATS = {"min": min, "median": statistics.median}


def time_steps(make_optimizer: Callable, params_or_model, steps: int = 200, *, warmup: int = 10,
               repeats: int = 3, seed: int = 0, stat: str = "min", clock: str = "cpu") -> float:
    """Return the seconds of one ``optimizer.step()``: ``stat`` over ``repeats`` timings of ``steps`` steps.

    The parameters (of a module, or a list of tensors) are copied, so the caller's
    are not changed; each copy gets a fixed random gradient drawn with ``seed``.
    ``make_optimizer(params)`` builds the optimizer; after ``warmup`` untimed steps
    (which also create its state), ``steps`` steps are timed, ``repeats`` times.
    Only the update is timed, not the forward and backward passes, which cost the
    same whatever the optimizer.

    ``clock`` and ``stat`` are those of :func:`time_interleaved`: by default the CPU
    time of this process (``"cpu"``; time spent waiting while other processes run is
    not counted, so a busy machine, such as one building the book with a notebook on
    each core, changes the result little) and the fastest of the repeats (``"min"``:
    other processes can only add time); ``clock="wall"`` and ``stat="median"`` give
    the elapsed time and the typical one.

    The result depends on the machine, its load, the thread count and the torch
    version: compare optimizers timed together in one run, and never store the
    number as if it were exact.
    """
    check_callable("make_optimizer", make_optimizer, ("params",))
    originals = _param_list(params_or_model)
    steps = check_int("steps", steps, low=1)
    warmup = check_int("warmup", warmup, low=0)
    repeats = check_int("repeats", repeats, low=1)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    reduce = _STATS[check_choice("stat", stat, tuple(_STATS))]
    now = _CLOCKS[check_choice("clock", clock, tuple(_CLOCKS))]
    generator = torch.Generator().manual_seed(seed)
    params = []
    for p in originals:
        q = p.detach().clone().requires_grad_(True)
        q.grad = torch.randn(q.shape, generator=generator, dtype=q.dtype) * 1e-2
        params.append(q)
    optimizer = make_optimizer(params)
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"make_optimizer must return an optimizer, got {type(optimizer).__name__}")
    for _ in range(warmup):
        optimizer.step()
    timings = []
    for _ in range(repeats):
        start = now()
        for _ in range(steps):
            optimizer.step()
        timings.append((now() - start) / steps)
    return reduce(timings)


def time_interleaved(runs: Mapping[str, Callable[[], object]], *, repeats: int = 5, stat: str = "min",
                     clock: str = "cpu", seed: int = 0) -> dict[str, float]:
    """Time every function of ``runs = {name: function}`` ``repeats`` times, taking turns; return ``{name: seconds}``.

    Each round calls every function once, in an order shuffled with ``seed``, so a
    change in the machine's load during the measurement hits all of them alike,
    where timing one function after the other would blame it on whichever ran
    then. ``stat`` reduces the ``repeats`` timings of each function: ``"min"``
    (other processes can only add time to a run, so the least disturbed run is
    the best estimate of the cost) or ``"median"``. ``clock`` is ``"cpu"``, this
    process's CPU time (time spent waiting for other processes is not counted;
    with one torch thread it is the time on an idle core), or ``"wall"``.

    The functions are called with no arguments and their results are discarded.
    Compare only numbers measured in one call: they depend on the machine.
    """
    if not isinstance(runs, Mapping):
        raise TypeError(f"runs must be a dict {{name: function}}, got {type(runs).__name__}")
    if not runs:
        raise ValueError("runs must hold at least one function")
    for name, function in runs.items():
        check_callable(f"runs[{name!r}]", function, ())
    repeats = check_int("repeats", repeats, low=1)
    reduce = _STATS[check_choice("stat", stat, tuple(_STATS))]
    now = _CLOCKS[check_choice("clock", clock, tuple(_CLOCKS))]
    order = random.Random(check_int("seed", seed, low=0)).sample
    names = list(runs)
    timings = {name: [] for name in names}
    for _ in range(repeats):
        for name in order(names, len(names)):
            start = now()
            runs[name]()
            timings[name].append(now() - start)
    return {name: reduce(values) for name, values in timings.items()}


@dataclass(frozen=True, eq=False)
class TuneResult:
    """The outcome of :func:`tune_lr`.

    - ``lrs``: the learning rates tried, in the order given.
    - ``histories``: the :class:`codebase.train.History` of each run; a diverged run's
      history stops at the last epoch it completed.
    - ``diverged``: whether each run diverged.
    - ``scores``: the final value of ``metric`` of each run (``inf`` loss or ``nan``
      accuracy when the run diverged).
    - ``metric``: ``"val_loss"`` (lower is better) or ``"val_acc"`` (higher is better).
    - ``best_index``, ``best_lr``: the winner; ties go to the earlier learning rate.
    - ``at_edge``: ``True`` if the winner is the first or last rate of the grid, a hint
      that the grid should be extended (with more than one rate).
    """

    lrs: tuple[float, ...]
    histories: tuple
    diverged: tuple[bool, ...]
    scores: np.ndarray
    metric: str
    best_index: int
    best_lr: float

    @property
    def at_edge(self) -> bool:
        """Whether the best rate is the smallest or largest of the grid."""
        return len(self.lrs) > 1 and self.best_index in (0, len(self.lrs) - 1)


def _train_once(make_model, make_optimizer, lr, train, val, epochs, batch_size, seed):
    """Train a fresh model; return (history, diverged)."""
    model = make_model(seed)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"make_model must return a torch.nn.Module, got {type(model).__name__}")
    optimizer = make_optimizer(model.parameters(), lr)
    try:
        return fit(model, optimizer, train, val=val, epochs=epochs, batch_size=batch_size, seed=seed), False
    except TrainingDiverged as error:
        return error.history, True


def _check_training_args(make_model, make_optimizer, epochs, batch_size):
    check_callable("make_model", make_model, ("seed",))
    check_callable("make_optimizer", make_optimizer, ("params", "lr"))
    return check_int("epochs", epochs, low=1), check_int("batch_size", batch_size, low=1)


def tune_lr(make_model: Callable, make_optimizer: Callable, lrs: Sequence[float], train, val, *, epochs: int,
            batch_size: int = 32, seed: int = 0, metric: str = "val_loss") -> TuneResult:
    """Train one model per learning rate in ``lrs`` and return the rates ranked on ``val``.

    ``make_model(seed)`` returns a freshly initialized model (use the seed, e.g. as a
    ``torch.Generator`` for :func:`codebase.nn.mlp`); ``make_optimizer(params, lr)``
    returns an optimizer. Every run starts from the same weights and sees the same
    mini-batches (both fixed by ``seed``), so only the rate differs. Training uses
    :func:`codebase.train.fit`; the winner has the best final ``metric``:
    the lowest ``"val_loss"`` or the highest ``"val_acc"``. A diverged run scores
    worst and is never chosen unless every run diverged.
    """
    epochs, batch_size = _check_training_args(make_model, make_optimizer, epochs, batch_size)
    if isinstance(lrs, (str, bytes)) or not hasattr(lrs, "__iter__"):
        raise TypeError(f"lrs must be a sequence of learning rates, got {type(lrs).__name__}")
    lrs = tuple(check_real(f"lrs[{i}]", lr, low=0.0, low_open=True) for i, lr in enumerate(lrs))
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate")
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    check_choice("metric", metric, ("val_loss", "val_acc"))
    if val is None:
        raise ValueError("tune_lr needs validation data: pass val=(X_val, y_val)")

    histories, diverged, scores = [], [], []
    for lr in lrs:
        history, failed = _train_once(make_model, make_optimizer, lr, train, val, epochs, batch_size, seed)
        histories.append(history)
        diverged.append(failed)
        if failed or not getattr(history, metric):
            scores.append(math.inf if metric == "val_loss" else math.nan)
        else:
            scores.append(float(getattr(history, metric)[-1]))
    scores = np.array(scores, dtype=float)
    # Rank by "badness": the loss itself, or minus the accuracy; nan and diverged runs last.
    badness = scores if metric == "val_loss" else -scores
    badness = np.where(np.isnan(badness) | np.array(diverged), np.inf, badness)
    best = int(np.argmin(badness))
    return TuneResult(lrs, tuple(histories), tuple(diverged), scores, metric, best, lrs[best])


def multi_seed(make_model: Callable, make_optimizer: Callable, lr: float, train, val=None, *,
               seeds: Sequence[int] = (0, 1, 2), epochs: int, batch_size: int = 32) -> list:
    """Train a fresh model once per seed at learning rate ``lr``; return the list of histories.

    The seed is passed to ``make_model(seed)`` (the initial weights) and to
    :func:`codebase.train.fit` (the order of the mini-batches), so the spread of the
    results measures how much the outcome depends on luck. ``make_optimizer(params, lr)``
    builds the optimizer. A run that diverges keeps its shortened history; :func:`curves`
    pads it with ``nan``.
    """
    epochs, batch_size = _check_training_args(make_model, make_optimizer, epochs, batch_size)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a sequence of integers, got {type(seeds).__name__}")
    seeds = [check_int(f"seeds[{i}]", s, low=0, high=2**63 - 1) for i, s in enumerate(seeds)]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    return [_train_once(make_model, make_optimizer, lr, train, val, epochs, batch_size, s)[0] for s in seeds]


def curves(histories: Sequence, key: str = "val_loss") -> np.ndarray:
    """Stack ``history.<key>`` of several runs into an array of shape (runs, epochs).

    Runs that stopped early (diverged) are padded with ``nan`` to the longest run, so the
    result can go straight to :func:`codebase.plot.band` or ``np.nanmean``.
    """
    if isinstance(histories, (str, bytes)) or not hasattr(histories, "__iter__"):
        raise TypeError(f"histories must be a sequence of History objects, got {type(histories).__name__}")
    histories = list(histories)
    if not histories:
        raise ValueError("histories must hold at least one History")
    if not isinstance(key, str) or not all(hasattr(h, key) for h in histories):
        raise ValueError(f"key must name a per-epoch list of History, such as 'val_loss', got {key!r}")
    rows = [list(map(float, getattr(h, key))) for h in histories]
    length = max(len(r) for r in rows)
    return np.array([r + [math.nan] * (length - len(r)) for r in rows], dtype=float)

