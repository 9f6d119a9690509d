"""Weight penalties (L1, L2, elastic net) and early stopping.

A penalty is added to the data loss in the training loop::

    loss = data_loss + regularizer(model)

and :class:`EarlyStopping` watches the validation metric once per epoch::

    if stopper.step(val_loss, model):
        stopper.restore(model)
        break
"""
from __future__ import annotations

import copy
import math
import numbers
import warnings
from collections.abc import Iterable, Iterator

import torch

from ._checks import check_choice, check_int, check_real

__all__ = ["weights", "l1_penalty", "l2_penalty", "L1", "L2", "ElasticNet", "EarlyStopping"]


def weights(model: torch.nn.Module) -> Iterator[torch.nn.Parameter]:
    """The weight matrices and kernels of ``model``: its parameters with 2 or more dimensions.

    Biases (and other 1-D parameters such as PReLU slopes or normalization scales) are left
    out, as is usual: penalizing a bias does not make the function smoother, and shrinking
    it towards 0 only adds bias to the model.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return (p for p in model.parameters() if p.dim() >= 2)


def _tensors(params):
    if isinstance(params, torch.nn.Module):
        raise TypeError("params must be tensors, not a module: pass weights(model) or model.parameters()")
    if isinstance(params, torch.Tensor):
        return [params]
    if not isinstance(params, Iterable):
        raise TypeError(f"params must be a tensor or an iterable of tensors, got {type(params).__name__}")
    params = list(params)
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"params must contain tensors, got {type(p).__name__}")
    return params


def _sum(terms):
    total = None
    for term in terms:
        total = term if total is None else total + term
    return torch.zeros(()) if total is None else total


def l1_penalty(params, strength: float) -> torch.Tensor:
    """L1 penalty :math:`\\lambda \\sum_i |w_i|` (:math:`\\lambda` = ``strength``).

    Its (sub)gradient is :math:`\\lambda\\,\\operatorname{sign}(w)` (0 at :math:`w = 0`): a
    constant pull towards 0 that sets small weights exactly to zero (sparsity).
    ``params`` is a tensor or an iterable of tensors, e.g. ``weights(model)``.
    """
    params = _tensors(params)
    strength = check_real("strength", strength, low=0)
    return strength * _sum(p.abs().sum() for p in params)


def l2_penalty(params, strength: float) -> torch.Tensor:
    """L2 penalty :math:`\\frac{\\lambda}{2} \\sum_i w_i^2` (:math:`\\lambda` = ``strength``).

    The factor 1/2 makes the gradient :math:`\\lambda w`, so one SGD step on
    ``loss + l2_penalty(params, λ)`` is the same as ``torch.optim.SGD(..., weight_decay=λ)``
    on ``loss``: :math:`w \\leftarrow w - \\eta(\\nabla L + \\lambda w)`. (For Adam the two
    differ; that difference is what AdamW is about.)
    """
    params = _tensors(params)
    strength = check_real("strength", strength, low=0)
    return strength / 2 * _sum(p.pow(2).sum() for p in params)


class L1:
    """``L1(strength)(model)`` = :func:`l1_penalty` of :func:`weights` (``model``)."""

    def __init__(self, strength: float):
        self.strength = check_real("strength", strength, low=0)

    def __call__(self, model: torch.nn.Module) -> torch.Tensor:
        return l1_penalty(weights(model), self.strength)

    def __repr__(self):
        return f"L1(strength={self.strength!r})"


class L2:
    """``L2(strength)(model)`` = :func:`l2_penalty` of :func:`weights` (``model``)."""

    def __init__(self, strength: float):
        self.strength = check_real("strength", strength, low=0)

    def __call__(self, model: torch.nn.Module) -> torch.Tensor:
        return l2_penalty(weights(model), self.strength)

    def __repr__(self):
        return f"L2(strength={self.strength!r})"


class ElasticNet:
    """Elastic net (Zou & Hastie, 2005): :math:`\\lambda_1 \\sum|w| + \\frac{\\lambda_2}{2}\\sum w^2`
    on :func:`weights` (``model``)."""

    def __init__(self, l1: float, l2: float):
        self.l1 = check_real("l1", l1, low=0)
        self.l2 = check_real("l2", l2, low=0)

    def __call__(self, model: torch.nn.Module) -> torch.Tensor:
        params = list(weights(model))
        return l1_penalty(params, self.l1) + l2_penalty(params, self.l2)

    def __repr__(self):
        return f"ElasticNet(l1={self.l1!r}, l2={self.l2!r})"


class EarlyStopping:
    """Stop training when the validation metric has not improved for ``patience`` epochs.

    An epoch *improves* when its metric :math:`m` beats the best so far :math:`m^*` by more
    than ``min_delta``: :math:`m < m^* - \\delta` (``mode='min'``) or :math:`m > m^* + \\delta`
    (``mode='max'``). A NaN metric never improves. :meth:`step` returns ``True`` once
    ``patience`` epochs in a row have not improved.

    At each improvement a deep copy of the model's ``state_dict`` is kept;
    :meth:`restore` loads it back. ``restore_best`` tells the training loop whether to do so.

    Attributes: ``best`` (the metric of the last improvement), ``best_epoch`` (its epoch,
    counted from 1 as in :class:`codebase.train.History`), ``epochs_without_improvement``, ``stopped_epoch`` (``None`` until a stop),
    ``epoch`` (epochs seen), ``best_state``.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min",
                 restore_best: bool = True):
        self.patience = check_int("patience", patience, low=1)
        self.min_delta = check_real("min_delta", min_delta, low=0)
        self.mode = check_choice("mode", mode, ("min", "max"))
        if not isinstance(restore_best, bool):
            raise TypeError(f"restore_best must be a bool, got {type(restore_best).__name__}")
        self.restore_best = restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = None
        self.best_state = None
        self.epochs_without_improvement = 0
        self.stopped_epoch = None
        self.epoch = 0

    def improves(self, metric: float) -> bool:
        """Whether ``metric`` beats ``best`` by more than ``min_delta``."""
        if self.mode == "min":
            return metric < self.best - self.min_delta
        return metric > self.best + self.min_delta

    def step(self, metric, model: torch.nn.Module | None = None) -> bool:
        """Record one epoch's ``metric`` (and snapshot ``model`` if it improved); return
        ``True`` when training should stop."""
        if isinstance(metric, torch.Tensor):
            metric = float(metric)
        elif isinstance(metric, bool) or not isinstance(metric, numbers.Real):
            raise TypeError(f"metric must be a real number, got {type(metric).__name__}")
        if model is not None and not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.epoch += 1
        epoch = self.epoch  # epochs count from 1, as in History and in error messages
        if self.improves(float(metric)):
            self.best, self.best_epoch = float(metric), epoch
            self.epochs_without_improvement = 0
            if model is not None:
                self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.epochs_without_improvement += 1
        if self.epochs_without_improvement >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def restore(self, model: torch.nn.Module) -> torch.nn.Module:
        """Load the state saved at the best epoch into ``model`` and return it.

        If no state was saved (no epoch improved, e.g. every metric was NaN, or ``step`` was
        never given the model), ``model`` is left as it is, with a warning.
        """
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if self.best_state is None:
            warnings.warn("EarlyStopping.restore: no state saved, model left unchanged", stacklevel=2)
            return model
        model.load_state_dict(self.best_state)
        return model
