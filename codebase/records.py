"""What a training run records, and how it reports a run that diverged.

:class:`History` holds what :func:`codebase.train.fit` measured; :class:`TrainingDiverged`
is raised when a loss or a gradient norm is no longer finite, or the loss grows past
:data:`DIVERGE_FACTOR` times its first value; :func:`grad_norm` and
:func:`layer_grad_norms` measure gradients. ``codebase.train`` exports the same names.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

__all__ = ["History", "DIVERGE_FACTOR", "TrainingDiverged", "grad_norm", "layer_grad_norms"]


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
