"""Weight penalties (L1, L2, elastic net), the L1 proximal step, and early stopping.

A penalty is added to the data loss in the training loop::

    loss = data_loss + regularizer(model)

The L1 penalty can instead be applied exactly, after each optimizer step, by
soft-thresholding the weights (:func:`soft_threshold`, :class:`ProximalL1`); unlike its
subgradient, this sets small weights exactly to zero. :func:`sparsity` measures the result.

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

from ._checks import check_choice, check_flag, check_int, check_real

__all__ = ["weights", "l1_penalty", "l2_penalty", "L1", "L2", "ElasticNet", "soft_threshold", "ProximalL1",
           "sparsity", "EarlyStopping"]


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
    pull of constant size towards 0. A gradient step with it moves a small weight past 0
    rather than onto it, so weights end up hovering near 0, not at 0; the exact minimizer
    of the penalized loss is sparse, and :class:`ProximalL1` reaches it.
    ``params`` is a tensor or an iterable of tensors, e.g. ``weights(model)``.
    """
    params = _tensors(params)
    strength = check_real("strength", strength, low=0)
    return strength * _sum(p.abs().sum() for p in params)


def l2_penalty(params, strength: float) -> torch.Tensor:
    """L2 penalty :math:`\\frac{\\lambda}{2} \\sum_i w_i^2` (:math:`\\lambda` = ``strength``).

    The factor 1/2 makes the gradient :math:`\\lambda w`, so one SGD step on
    ``loss + l2_penalty(params, λ)`` is the same as ``torch.optim.SGD(..., weight_decay=λ)``
    on ``loss``: :math:`w \\leftarrow w - \\alpha(g + \\lambda w) = (1 - \\alpha\\lambda) w - \\alpha g`.
    (For Adam the two differ; that difference is what AdamW is about.)
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


def soft_threshold(w: torch.Tensor, threshold: float) -> torch.Tensor:
    """The soft-thresholding operator :math:`S_\\tau(w) = \\operatorname{sign}(w)\\max(|w| - \\tau, 0)`.

    It is the proximal operator of :math:`\\tau|w|`: the minimizer over :math:`u` of
    :math:`\\frac{1}{2}(u - w)^2 + \\tau|u|`, element by element. Entries with
    :math:`|w| \\le \\tau` become exactly 0; the others move :math:`\\tau` towards 0.
    Equal to ``torch.nn.functional.softshrink(w, threshold)``.
    """
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"w must be a tensor, got {type(w).__name__}")
    threshold = check_real("threshold", threshold, low=0)
    return w.sign() * (w.abs() - threshold).clamp(min=0)


class ProximalL1:
    """Wrap ``optimizer`` so that every step ends with the L1 proximal step on ``params``.

    After ``optimizer.step()``, each tensor :math:`w` in ``params`` is replaced by
    :math:`S_{\\alpha\\lambda}(w)` (:func:`soft_threshold`), with :math:`\\alpha` the current
    learning rate of the parameter group that holds :math:`w` and :math:`\\lambda` = ``strength``.
    With plain SGD this is the proximal gradient method for the loss plus
    :math:`\\lambda\\sum|w|` (do not also add :func:`l1_penalty` to the loss): the data
    gradient moves the weights, then the penalty is minimized exactly, which puts small
    weights at exactly 0. With momentum or Adam it is a common heuristic, not an exact
    proximal method.

    The wrapper has the optimizer's ``param_groups``, ``state``, ``zero_grad`` and
    ``step``, so it can be passed to :func:`codebase.train.fit`::

        opt = ProximalL1(SGD(model.parameters(), lr=0.1), weights(model), strength=1e-3)
    """

    def __init__(self, optimizer, params, strength: float):
        if not hasattr(optimizer, "param_groups") or not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.params = _tensors(params)
        self.strength = check_real("strength", strength, low=0)
        group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
        if any(id(p) not in group_of for p in self.params):
            raise ValueError("params must be parameters that the optimizer updates")
        self._groups = [group_of[id(p)] for p in self.params]

    @property
    def param_groups(self):
        """The wrapped optimizer's parameter groups (the learning rates live here)."""
        return self.optimizer.param_groups

    @property
    def state(self):
        """The wrapped optimizer's per-parameter state."""
        return self.optimizer.state

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients, as the wrapped optimizer does."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        """Take the optimizer's step, then soft-threshold ``params`` by :math:`\\alpha\\lambda`."""
        loss = self.optimizer.step() if closure is None else self.optimizer.step(closure)
        with torch.no_grad():
            for p, group in zip(self.params, self._groups):
                p.copy_(soft_threshold(p, group["lr"] * self.strength))  # w <- S_{alpha lambda}(w)
        return loss

    def __repr__(self):
        return f"ProximalL1({type(self.optimizer).__name__}, strength={self.strength!r})"


def sparsity(params, tol: float = 0.0) -> float:
    """The fraction of entries of ``params`` with :math:`|w| \\le` ``tol`` (exact zeros for ``tol = 0``).

    ``params`` is a tensor or an iterable of tensors, e.g. ``weights(model)``.
    """
    params = _tensors(params)
    tol = check_real("tol", tol, low=0)
    total = sum(p.numel() for p in params)
    if total == 0:
        raise ValueError("params must hold at least one entry")
    small = sum(int((p.detach().abs() <= tol).sum()) for p in params)
    return small / total


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
        check_flag("restore_best", restore_best)
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
