"""Measuring a model on a data set, and the checks every training loop makes on its inputs.

:func:`evaluate` returns the loss and accuracy of a model on ``(X, y)``; the private
helpers check a data pair, a loss value, targets against outputs, and switch an
optimizer that has ``train()``/``eval()`` modes. :func:`codebase.train.fit` and
:func:`codebase.lr_range.lr_range_test` share them. ``codebase.train`` exports
:func:`evaluate` too.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from ._checks import check_callable, check_int

__all__ = ["evaluate"]
# The other functions here are helpers of the training loops (fit, lr_range_test) and of
# codebase.diagnostics; they are not part of the book's API.


def unpack_pair(name, data):
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


def check_loss(loss):
    """The loss function's result at the first step must be one number, as a tensor."""
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"loss_fn must return a scalar tensor, got {type(loss).__name__} {loss!r}: "
                        "compute the loss with torch operations so that it has a gradient")
    if loss.numel() != 1:
        raise ValueError(f"loss_fn returned a tensor of shape {tuple(loss.shape)}, not one number: "
                         "average it (reduction='mean')")


def check_targets(output, yb, labels, loss_fn_given: bool):
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


def default_loss(output, y):
    """Cross-entropy for class labels (integer ``y``), mean squared error for real-valued targets."""
    if y.dtype.is_floating_point:
        return nn.functional.mse_loss(output, y)
    return nn.functional.cross_entropy(output, y)


def accuracy(output, y):
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
    X, y = unpack_pair("(X, y)", (X, y))
    loss_fn = default_loss if loss_fn is None else check_callable("loss_fn", loss_fn, ("output", "target"))
    size = X.shape[0] if batch_size is None else check_int("batch_size", batch_size, low=1)
    was_training = model.training
    model.eval()
    try:
        total_loss, correct = 0.0, 0.0
        for start in range(0, len(y), size):  # slices are views: no copy of the data
            Xb, yb = X[start:start + size], y[start:start + size]
            output = model(Xb)
            total_loss += loss_fn(output, yb).item() * len(yb)
            correct += accuracy(output, yb)
    finally:
        model.train(was_training)
    return total_loss / len(y), correct / len(y)


def current_lrs(optimizer):
    return [float(group["lr"]) for group in optimizer.param_groups]


def switch_mode(optimizer, mode: str) -> None:
    """Call ``optimizer.train()`` or ``optimizer.eval()`` if it has them, as the schedule-free optimizers do."""
    method = getattr(optimizer, mode, None)
    if callable(method):
        method()
