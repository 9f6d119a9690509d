"""Smith's learning-rate range test: one short run whose rate grows every step.

:func:`lr_range_test` trains from a small rate to a large one and returns an
:class:`LRRangeResult` with the loss against the rate and a suggested rate.
``codebase.train`` exports the same names.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ._checks import check_callable, check_int, check_real
from .data import batches
from .evaluation import default_loss, switch_mode, unpack_pair

__all__ = ["LRRangeResult", "lr_range_test"]


def _endless_batches(X, y, batch_size, generator):
    """Yield mini-batches forever, reshuffling at the start of each pass over the data."""
    while True:
        yield from batches(X, y, batch_size, generator=generator)


@dataclass(frozen=True, eq=False)
class LRRangeResult:
    """The outcome of :func:`lr_range_test`.

    - ``lrs``, ``losses``, ``smoothed``: arrays with the learning rate of each step,
      the mini-batch loss at that step (before the update) and its bias-corrected
      exponential moving average.
    - ``best_lr``: the learning rate where the smoothed loss was lowest.
    - ``suggestion``: ``best_lr / 10``, a safe starting learning rate: below the
      point where the loss stops falling, where training is still stable.
    - ``stopped_early``: ``True`` if the loss blew up before ``steps`` steps.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    best_lr: float
    suggestion: float
    stopped_early: bool


def lr_range_test(model: nn.Module, make_optimizer: Callable, train, *, min_lr: float = 1e-5,
                  max_lr: float = 10.0, steps: int = 100, batch_size: int = 32, loss_fn: Callable | None = None,
                  smoothing: float = 0.05, stop_factor: float = 4.0, seed: int = 0) -> LRRangeResult:
    """Run the learning-rate range test (Smith, 2017) and return the loss against the learning rate.

    Training starts at ``min_lr`` and multiplies the learning rate by the same factor
    every mini-batch step, reaching ``max_lr`` at the last step:
    ``lr_t = min_lr * (max_lr / min_lr) ** (t / (steps - 1))``. The loss is smoothed
    with an exponential moving average, ``s_t = (1 - smoothing) s_{t-1} + smoothing * loss_t``,
    divided by ``1 - (1 - smoothing) ** t`` to remove its bias towards 0. The test stops
    early when the smoothed loss exceeds ``stop_factor`` times its lowest value or
    the loss is no longer finite.

    ``make_optimizer(params)`` builds the optimizer; every parameter group's learning
    rate is overwritten at each step. The model's weights and train/eval mode are
    restored afterwards, so the same model can then be trained from scratch. Run the
    test on freshly initialized weights: the losses of a trained model are small and
    noisy, and the stop rule may then end the test after a few steps.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_callable("make_optimizer", make_optimizer, ("params",))
    X, y = unpack_pair("train", train)
    min_lr = check_real("min_lr", min_lr, low=0.0, low_open=True)
    max_lr = check_real("max_lr", max_lr, low=min_lr, low_open=True)
    steps = check_int("steps", steps, low=2)
    batch_size = check_int("batch_size", batch_size, low=1)
    loss_fn = default_loss if loss_fn is None else check_callable("loss_fn", loss_fn, ("output", "target"))
    smoothing = check_real("smoothing", smoothing, low=0.0, high=1.0, low_open=True)
    stop_factor = check_real("stop_factor", stop_factor, low=1.0, low_open=True)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)

    initial_state = copy.deepcopy(model.state_dict())
    was_training = model.training
    optimizer = make_optimizer(model.parameters())
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"make_optimizer must return a torch.optim.Optimizer, got {type(optimizer).__name__}")
    generator = torch.Generator().manual_seed(seed)
    lrs, losses, smoothed = [], [], []
    average, best, stopped_early = 0.0, math.inf, False
    stream = _endless_batches(X, y, batch_size, generator)
    model.train()
    switch_mode(optimizer, "train")
    try:
        for t in range(steps):
            Xb, yb = next(stream)
            lr = min_lr * (max_lr / min_lr) ** (t / (steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            loss = loss_fn(model(Xb), yb)
            if not torch.isfinite(loss):
                stopped_early = True
                break
            loss.backward()
            optimizer.step()
            average = (1 - smoothing) * average + smoothing * loss.item()
            current = average / (1 - (1 - smoothing) ** (t + 1))
            lrs.append(lr)
            losses.append(loss.item())
            smoothed.append(current)
            best = min(best, current)
            if current > stop_factor * best:
                stopped_early = True
                break
    finally:
        model.load_state_dict(initial_state)
        model.train(was_training)

    if not lrs:
        raise FloatingPointError(f"the loss was not finite at the first step (lr={min_lr:g}); "
                                 "check the data and the initialization")
    best_lr = lrs[int(np.argmin(smoothed))]
    return LRRangeResult(np.array(lrs), np.array(losses), np.array(smoothed), best_lr, best_lr / 10,
                         stopped_early)
