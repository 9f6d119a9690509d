"""The training loop used across the book, and Smith's learning-rate range test.

:func:`fit` runs mini-batch training with the usual extras (a schedule, a
regularizer, early stopping, gradient clipping) and records a :class:`History`.
The extras are duck-typed, so ``codebase.schedules`` and
``codebase.regularization`` objects, torch's own schedulers and a student's own
classes all fit, as long as they follow the protocols described in :func:`fit`.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from ._checks import check_callable, check_flag, check_int, check_real
from .clipping import clip_grad_norm_, clip_grad_value_
from .data import batches, num_batches
from .evaluation import check_loss, check_targets, current_lrs, default_loss, switch_mode, unpack_pair, evaluate
from .lr_range import LRRangeResult, lr_range_test
from .records import DIVERGE_FACTOR, History, TrainingDiverged, grad_norm, layer_grad_norms

__all__ = ["History", "TrainingDiverged", "LRRangeResult", "fit", "evaluate", "lr_range_test",
           "grad_norm", "layer_grad_norms"]


def _check_scheduler(scheduler):
    """The scheduler's ``interval`` and whether its ``step`` takes the validation metric.

    A scheduler says so with ``needs_metric = True`` (``codebase.schedules.PlateauScheduler``);
    torch's ``ReduceLROnPlateau``, which has no such attribute, is recognized by its class.
    """
    if not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"scheduler must have a step() method, got {type(scheduler).__name__}")
    interval = getattr(scheduler, "interval", "epoch")
    if interval not in ("step", "epoch"):
        raise ValueError(f"scheduler.interval must be 'step' or 'epoch', got {interval!r}")
    needs_metric = getattr(scheduler, "needs_metric",
                           isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau))
    if not isinstance(needs_metric, bool):
        raise TypeError(f"scheduler.needs_metric must be True or False, got {needs_metric!r}")
    if needs_metric and interval != "epoch":
        raise ValueError("a scheduler that needs the validation metric must have interval 'epoch'")
    return interval, needs_metric


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, train, *, epochs: int, batch_size: int = 32,
        val=None, loss_fn: Callable | None = None, scheduler=None, regularizer: Callable | None = None,
        early_stopping=None, clip_grad_norm: float | None = None, clip_grad_value: float | None = None,
        seed: int = 0, callbacks: Iterable[Callable] | None = None, record_grad_norm: bool = True,
        diverge_factor: float | None = DIVERGE_FACTOR, verbose: bool = False) -> History:
    """Train ``model`` with ``optimizer`` on ``train = (X, y)`` for ``epochs`` epochs and return its :class:`History`.

    Each step: forward a shuffled mini-batch, compute ``loss_fn(output, y)`` (default:
    cross-entropy for integer class labels, mean squared error for real-valued targets)
    plus ``regularizer(model)``, backpropagate, measure the gradient
    norm, clip (first by value with ``clip_grad_value``, then the global norm with
    ``clip_grad_norm``), and call ``optimizer.step()``. Batches are shuffled by a
    ``torch.Generator`` seeded with ``seed``; seed torch too (``codebase.setup``)
    for dropout or initialization to repeat.

    After each epoch the loss and accuracy are measured on all of ``train`` and
    ``val`` (see :func:`evaluate`). Protocols of the optional extras:

    - ``scheduler``: ``.step()``, and an ``interval`` attribute, ``"step"`` (called
      after every optimizer step) or ``"epoch"`` (the default, called once after each
      epoch's evaluation). A scheduler with ``needs_metric = True`` (and torch's
      ``ReduceLROnPlateau``) is called as ``.step(metric)`` with the validation loss, or
      the training loss without ``val``.
    - ``regularizer``: ``regularizer(model)`` returns a scalar tensor added to the loss.
    - ``early_stopping`` (needs ``val``): ``.step(val_loss, model)`` is called after each
      epoch and returns ``True`` to stop; if it has ``restore_best = True``,
      ``.restore(model)`` is called when training ends.
    - ``callbacks``: each is called as ``callback(model, history)`` after each epoch.
    - an optimizer with ``train()`` and ``eval()`` methods (``codebase.optim.ScheduleFreeSGD``,
      ``ScheduleFreeAdamW``) is switched with the model: ``train()`` before each epoch's steps,
      ``eval()`` before its evaluation. The evaluations, the callbacks, early stopping and
      the returned model then see the averaged weights ``x``.

    ``record_grad_norm=False`` skips measuring the gradient norm at every step
    (``history.grad_norm`` and ``history.step_grad_norm`` then hold ``nan``). The
    norm makes two torch calls more than there are parameter tensors. A small
    network's step is mostly the fixed cost of such calls, so there the norm is a
    visible share of it (about a tenth for the book's digits network; see
    ``benchmarks/fit_overhead.py`` and the chapter on what a step costs); the share
    falls as the network's arithmetic grows. ``verbose=True`` prints one line per epoch.

    Raises :class:`TrainingDiverged` as soon as a loss or gradient norm is NaN or
    infinite, or a mini-batch loss grows past ``diverge_factor`` (default
    ``DIVERGE_FACTOR = 1e8``) times the first mini-batch loss. That catches runs whose
    loss grows without ever overflowing (a ReLU network at a huge rate), which would
    otherwise go on silently. Some runs do come back from such a spike: the chapters on
    the recipe, activations and initialization watch a few on purpose and pass
    ``diverge_factor=None``, which turns the test off (gradient descent's too, which
    counts the steps until the loss overflows). Without the recorded norm, a non-finite
    gradient is caught one step later, by the loss it produces, or by the evaluation
    after the epoch.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(getattr(optimizer, "step", None)) or not hasattr(optimizer, "param_groups"):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    X, y = unpack_pair("train", train)
    val = None if val is None else unpack_pair("val", val)
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    loss_fn = default_loss if loss_fn is None else check_callable("loss_fn", loss_fn, ("output", "target"))
    if regularizer is not None:
        check_callable("regularizer", regularizer, ("model",))
    if clip_grad_norm is not None:
        clip_grad_norm = check_real("clip_grad_norm", clip_grad_norm, low=0.0, low_open=True)
    if clip_grad_value is not None:
        clip_grad_value = check_real("clip_grad_value", clip_grad_value, low=0.0, low_open=True)
    interval, needs_metric = _check_scheduler(scheduler) if scheduler is not None else (None, False)
    if early_stopping is not None:
        if val is None:
            raise ValueError("early_stopping needs validation data: pass val=(X_val, y_val)")
        if not callable(getattr(early_stopping, "step", None)):
            raise TypeError("early_stopping must have a step(metric, model) method, "
                            f"got {type(early_stopping).__name__}")
    if callable(callbacks) or isinstance(callbacks, (str, bytes)):
        raise TypeError("callbacks must be a list of callables, got a single "
                        f"{type(callbacks).__name__}; wrap it in a list")
    callbacks = [check_callable(f"callbacks[{i}]", cb, ("model", "history"))
                 for i, cb in enumerate(callbacks or ())]
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    record_grad_norm = check_flag("record_grad_norm", record_grad_norm)
    if diverge_factor is not None:
        diverge_factor = check_real("diverge_factor", diverge_factor, low=1.0, low_open=True)
    verbose = check_flag("verbose", verbose)

    generator = torch.Generator().manual_seed(seed)
    history = History(steps_per_epoch=num_batches(len(y), batch_size))
    params = [p for p in model.parameters() if p.requires_grad]
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if params and not any(id(p) in held for p in params):
        raise ValueError("the optimizer holds none of the model's parameters, so training would change "
                         "nothing: build it from this model's parameters (optimizer(model.parameters()))")
    loss_fn_given = loss_fn is not default_loss
    global_step = 0

    def diverged(what, epoch, step):
        return TrainingDiverged(what, epoch=epoch, step=step, global_step=global_step,
                                lr=current_lrs(optimizer), history=history)

    for epoch in range(1, epochs + 1):
        model.train()
        switch_mode(optimizer, "train")
        norms, penalties = [], []
        for step, (Xb, yb) in enumerate(batches(X, y, batch_size, generator=generator), start=1):
            global_step += 1
            optimizer.zero_grad()
            output = model(Xb)
            if global_step == 1:
                check_targets(output, yb, [y] if val is None else [y, val[1]], loss_fn_given)
            data_loss = loss_fn(output, yb)
            if global_step == 1:
                check_loss(data_loss)
            loss = data_loss
            if regularizer is not None:
                penalty = regularizer(model)
                loss = data_loss + penalty
                penalties.append(torch.as_tensor(penalty).item())
            loss_value = loss.item()  # one read of the scalar serves the check and the record
            if not math.isfinite(loss_value):
                raise diverged(f"the loss became {loss_value}", epoch, step)
            if global_step == 1:
                first_loss = loss_value
            if diverge_factor is not None and loss_value > diverge_factor * first_loss > 0:
                raise diverged(f"the loss grew to {loss_value:.3g}, more than diverge_factor = "
                               f"{diverge_factor:g} times its first value {first_loss:.3g} (diverge_factor=None "
                               "turns this test off),", epoch, step)
            loss.backward()
            if record_grad_norm:
                norm = grad_norm(params)
                if not math.isfinite(norm):
                    raise diverged(f"the gradient norm became {norm}", epoch, step)
            else:
                norm = math.nan
            if clip_grad_value is not None:
                clip_grad_value_(params, clip_grad_value)
            if clip_grad_norm is not None:
                clip_grad_norm_(params, clip_grad_norm)
            history.step_lr.append(float(optimizer.param_groups[0]["lr"]))
            optimizer.step()
            if interval == "step":
                scheduler.step()
            history.step_loss.append(loss_value if regularizer is None else data_loss.item())
            history.step_grad_norm.append(norm)
            norms.append(norm)

        switch_mode(optimizer, "eval")
        train_loss, train_acc = evaluate(model, X, y, loss_fn)
        if not math.isfinite(train_loss):
            raise diverged(f"the training loss became {train_loss}", epoch, None)
        history.train_loss.append(train_loss)
        history.train_acc.append(train_acc)
        history.lr.append(history.step_lr[-1])
        history.grad_norm.append(float(np.mean(norms)))  # nan when the norms were not recorded
        history.penalty.append(float(np.mean(penalties)) if penalties else 0.0)
        metric = train_loss
        if val is not None:
            metric, val_acc = evaluate(model, *val, loss_fn)
            if not math.isfinite(metric):
                raise diverged(f"the validation loss became {metric} while the training loss is "
                               f"{train_loss:.4g}", epoch, None)
            history.val_loss.append(metric)
            history.val_acc.append(val_acc)
        history.epochs_run = epoch
        watched = history.val_loss if val is not None else history.train_loss
        history.best_epoch = int(np.nanargmin(watched)) + 1 if not np.isnan(watched).all() else None
        if verbose:
            print(_epoch_line(history))
        if interval == "epoch" and needs_metric:
            scheduler.step(metric)
        elif interval == "epoch":
            scheduler.step()
        for callback in callbacks:
            callback(model, history)
        if early_stopping is not None and early_stopping.step(metric, model):
            history.stopped_early = True
            break

    if early_stopping is not None and getattr(early_stopping, "restore_best", False):
        early_stopping.restore(model)
    return history


def _epoch_line(history):
    i = history.epochs_run - 1
    line = f"epoch {history.epochs_run:3d}  train loss {history.train_loss[i]:.4g}"
    if not math.isnan(history.train_acc[i]):
        line += f"  acc {history.train_acc[i]:.4f}"
    if history.val_loss:
        line += f"  val loss {history.val_loss[i]:.4g}"
        if not math.isnan(history.val_acc[i]):
            line += f"  acc {history.val_acc[i]:.4f}"
    return line + f"  lr {history.lr[i]:.3g}"
