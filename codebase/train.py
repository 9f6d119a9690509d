"""The training loop used across the book, and Smith's learning-rate range test.

:func:`fit` runs mini-batch training with the usual extras (a schedule, a
regularizer, early stopping, gradient clipping) and records a :class:`History`.
The extras are duck-typed, so ``codebase.schedules`` and
``codebase.regularization`` objects, torch's own schedulers and a student's own
classes all fit, as long as they follow the protocols described in :func:`fit`.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from ._checks import check_callable, check_flag, check_int, check_real
from .clipping import clip_grad_norm_, clip_grad_value_
from .data import batches, num_batches

__all__ = ["History", "TrainingDiverged", "LRRangeResult", "fit", "evaluate", "lr_range_test",
           "grad_norm", "layer_grad_norms"]


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch unless the name starts with ``step_``.

    - ``train_loss``, ``train_acc``: loss and accuracy on the whole training set,
      measured in eval mode after each epoch (the loss of the weights the epoch ended
      with, not the average over the epoch's changing weights).
    - ``val_loss``, ``val_acc``: the same on the validation set (empty without one).
      Accuracies are ``nan`` when they do not apply: the targets are not class
      indices (regression) or the outputs are not ``(n, classes)`` scores.
    - ``lr``: the learning rate of the first parameter group used by the epoch's last step.
    - ``grad_norm``: the mean over the epoch's steps of the global gradient norm,
      measured before clipping (``nan`` with ``fit(..., record_grad_norm=False)``).
    - ``penalty``: the mean regularization penalty over the epoch's steps (0 without a regularizer).
    - ``step_loss``, ``step_lr``, ``step_grad_norm``: the mini-batch data loss (without
      the penalty), learning rate and gradient norm (or ``nan`` when not recorded) of
      every step, for noise plots.
    - ``epochs_run``, ``steps_per_epoch``, ``stopped_early``, ``best_epoch``: the
      number of epochs completed; steps in each; whether early stopping ended
      training; the epoch (counted from 1) with the lowest validation loss, or
      training loss without validation data.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    penalty: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_lr: list[float] = field(default_factory=list)
    step_grad_norm: list[float] = field(default_factory=list)
    epochs_run: int = 0
    steps_per_epoch: int = 0
    stopped_early: bool = False
    best_epoch: int | None = None

    @property
    def epochs(self) -> list[int]:
        """The epoch numbers ``1, ..., epochs_run``, the x axis of per-epoch plots."""
        return list(range(1, self.epochs_run + 1))

    def as_dict(self) -> dict:
        """Return the history as a plain dict (lists copied), e.g. for ``pandas.DataFrame``."""
        return asdict(self)


DIVERGE_FACTOR = 1e8
""":func:`fit` stops a run whose mini-batch loss grows past this many times its first value."""


class TrainingDiverged(FloatingPointError):
    """Raised by :func:`fit` when the loss or the gradient norm becomes NaN or infinite, or the loss grows
    past ``diverge_factor`` times its first value.

    The attributes say where: ``epoch`` (from 1), ``step`` (within the epoch, from 1,
    or ``None`` when the full-pass evaluation after the epoch found it), ``global_step``,
    ``lr`` (the learning rate of each parameter group) and ``history`` (everything
    recorded until then).
    """

    def __init__(self, what, *, epoch, step, global_step, lr, history):
        self.epoch, self.step, self.global_step, self.lr, self.history = epoch, step, global_step, lr, history
        where = (f"at epoch {epoch}, step {step} (global step {global_step})" if step is not None
                 else f"after epoch {epoch} (global step {global_step})")
        rates = ", ".join(f"{v:.3g}" for v in lr)
        super().__init__(
            f"Training diverged: {what} {where}, with learning rate {rates}. "
            "Try a smaller learning rate, gradient clipping (clip_grad_norm=1.0), "
            "or check the data and the initialization for NaN, infinite or huge values."
        )


def grad_norm(model_or_params) -> float:
    """Return the global L2 norm of the gradients, ``sqrt(sum of squares over all parameters)``.

    Takes a module or an iterable of parameters; parameters without a gradient are skipped
    (the norm of no gradients is 0). Sparse gradients (``nn.Embedding(sparse=True)``, with
    a torch optimizer that accepts them) count like their dense form.
    """
    if isinstance(model_or_params, torch.Tensor):
        raise TypeError("grad_norm takes a module or an iterable of parameters, got one tensor: "
                        "pass [tensor] (iterating a tensor would give its rows, which have no gradient)")
    params = model_or_params.parameters() if isinstance(model_or_params, nn.Module) else model_or_params
    # torch.linalg.vector_norm is what Tensor.norm() calls, without its Python argument handling;
    # dtype=float64 casts inside the kernel, with the same result as .double() and no copy.
    vector_norm, double = torch.linalg.vector_norm, torch.float64
    norms = [vector_norm(_dense_values(p.grad.detach()), dtype=double) for p in params if p.grad is not None]
    return vector_norm(torch.stack(norms)).item() if norms else 0.0


def _dense_values(grad: torch.Tensor) -> torch.Tensor:
    # vector_norm has no sparse kernel. A sparse gradient may list an index more than once
    # (one entry per lookup); coalescing sums those entries, leaving the nonzero values.
    return grad.coalesce().values() if grad.is_sparse else grad


def layer_grad_norms(model: nn.Module) -> dict[str, float]:
    """Return the gradient norm of each layer: ``{module name: norm}``.

    A layer is a module that owns parameters directly (e.g. an ``nn.Linear``, its weight
    and bias together); layers come in the order they were registered, input to output
    for a sequential model. Layers without gradients are left out.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    norms = {}
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        if any(p.grad is not None for p in own):
            norms[name or type(module).__name__] = grad_norm(own)
    return norms


def _unpack(name, data):
    try:
        X, y = data
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an (X, y) pair such as a codebase.data.Split, "
                        f"got {type(data).__name__}") from None
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must hold torch tensors, got {type(X).__name__} and {type(y).__name__}")
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"{name} must have the same positive number of inputs and targets, "
                         f"got {X.shape[0]} and {y.shape[0]}")
    for what, tensor in (("inputs", X), ("targets", y)):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            row = int(torch.nonzero(~torch.isfinite(tensor.reshape(len(tensor), -1)).all(dim=1))[0])
            raise ValueError(f"{name}'s {what} hold NaN or infinite values (first in row {row}); "
                             f"a loss computed from them would be meaningless")
    return X, y


def _check_loss(loss):
    """The loss function's result at the first step must be one number, as a tensor."""
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"loss_fn must return a scalar tensor, got {type(loss).__name__} {loss!r}: "
                        "compute the loss with torch operations so that it has a gradient")
    if loss.numel() != 1:
        raise ValueError(f"loss_fn returned a tensor of shape {tuple(loss.shape)}, not one number: "
                         "average it (reduction='mean')")


def _check_targets(output, yb, labels, loss_fn_given: bool):
    """Before the first loss: outputs and targets whose shapes would broadcast, class labels
    outside the model's outputs (``labels`` is every target tensor, training and validation)."""
    if not isinstance(output, torch.Tensor):
        return
    if yb.is_floating_point() and output.shape != yb.shape:
        try:
            torch.broadcast_shapes(output.shape, yb.shape)
        except RuntimeError:
            return  # the loss function takes other shapes on purpose
        raise ValueError(f"the model's outputs have shape {tuple(output.shape)} and the targets "
                         f"{tuple(yb.shape)}: the loss would broadcast them against each other "
                         f"(every output compared with every target); give y the outputs' shape")
    if not yb.is_floating_point() and output.ndim == 2 and yb.ndim == 1 and not loss_fn_given:
        classes = output.shape[1]
        for y in labels:
            if int(y.min()) < 0 or int(y.max()) >= classes:
                raise ValueError(f"class labels must lie in 0..{classes - 1} for a model with {classes} "
                                 f"outputs, got labels from {int(y.min())} to {int(y.max())}")


def _default_loss(output, y):
    """Cross-entropy for class labels (integer ``y``), mean squared error for real-valued targets."""
    if y.dtype.is_floating_point:
        return nn.functional.mse_loss(output, y)
    return nn.functional.cross_entropy(output, y)


def _accuracy(output, y):
    """Return the number of correct argmax predictions, or ``nan`` when accuracy does not apply."""
    if y.dtype.is_floating_point or y.ndim != 1 or output.ndim != 2 or output.shape[1] < 2:
        return math.nan
    return (output.argmax(dim=1) == y).sum().item()


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: Callable | None = None, *,
             batch_size: int | None = None) -> tuple[float, float]:
    """Return ``(loss, accuracy)`` of ``model`` on ``(X, y)``, in eval mode and without gradients.

    ``loss_fn`` must average over the batch; it defaults to cross-entropy for class
    labels and to mean squared error for real-valued targets. Accuracy
    is the fraction of argmax predictions equal to ``y``, or ``nan`` for regression.
    ``batch_size`` evaluates in chunks to bound memory (default: all at once). The
    model's train/eval mode is restored afterwards.
    """
    X, y = _unpack("(X, y)", (X, y))
    loss_fn = _default_loss if loss_fn is None else check_callable("loss_fn", loss_fn, ("output", "target"))
    size = X.shape[0] if batch_size is None else check_int("batch_size", batch_size, low=1)
    was_training = model.training
    model.eval()
    try:
        total_loss, correct = 0.0, 0.0
        for start in range(0, len(y), size):  # slices are views: no copy of the data
            Xb, yb = X[start:start + size], y[start:start + size]
            output = model(Xb)
            total_loss += loss_fn(output, yb).item() * len(yb)
            correct += _accuracy(output, yb)
    finally:
        model.train(was_training)
    return total_loss / len(y), correct / len(y)


def _current_lrs(optimizer):
    return [float(group["lr"]) for group in optimizer.param_groups]


def _switch(optimizer, mode: str) -> None:
    """Call ``optimizer.train()`` or ``optimizer.eval()`` if it has them, as the schedule-free optimizers do."""
    method = getattr(optimizer, mode, None)
    if callable(method):
        method()


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
    X, y = _unpack("train", train)
    val = None if val is None else _unpack("val", val)
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    loss_fn = _default_loss if loss_fn is None else check_callable("loss_fn", loss_fn, ("output", "target"))
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
    loss_fn_given = loss_fn is not _default_loss
    global_step = 0

    def diverged(what, epoch, step):
        return TrainingDiverged(what, epoch=epoch, step=step, global_step=global_step,
                                lr=_current_lrs(optimizer), history=history)

    for epoch in range(1, epochs + 1):
        model.train()
        _switch(optimizer, "train")
        norms, penalties = [], []
        for step, (Xb, yb) in enumerate(batches(X, y, batch_size, generator=generator), start=1):
            global_step += 1
            optimizer.zero_grad()
            output = model(Xb)
            if global_step == 1:
                _check_targets(output, yb, [y] if val is None else [y, val[1]], loss_fn_given)
            data_loss = loss_fn(output, yb)
            if global_step == 1:
                _check_loss(data_loss)
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

        _switch(optimizer, "eval")
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
    X, y = _unpack("train", train)
    min_lr = check_real("min_lr", min_lr, low=0.0, low_open=True)
    max_lr = check_real("max_lr", max_lr, low=min_lr, low_open=True)
    steps = check_int("steps", steps, low=2)
    batch_size = check_int("batch_size", batch_size, low=1)
    loss_fn = _default_loss if loss_fn is None else check_callable("loss_fn", loss_fn, ("output", "target"))
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
    _switch(optimizer, "train")
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
