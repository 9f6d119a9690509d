"""What the six optimizers share: argument checks, lazy state and the ``step`` loop.

Each optimizer in this package is a subclass of ``BaseOptimizer`` that
defines three small methods:

- ``_check_group(group)`` checks the hyperparameters of one parameter group
  (called on the defaults in ``__init__`` and on every group that is added);
- ``_init_state(p, state, group)`` fills ``self.state[p]`` the first time ``p``
  has a gradient, with the same keys and shapes as ``torch.optim``;
- ``_update(p, g, state, group)`` applies the update rule to one parameter.

``BaseOptimizer.step`` runs the closure, skips parameters whose ``.grad`` is
``None``, negates the gradient when ``maximize=True`` (a group without the key
descends) and calls ``_update`` under ``torch.no_grad()``. A parameter's state
is stored once a rule has put something in it, so that ``state_dict()`` holds
the same entries as torch's.
Each subclass lists in ``_TORCH_FLAG_DEFAULTS`` the flags that torch fills in
when loading an old state dict.
"""
from __future__ import annotations

import math
import operator
import warnings

import torch

from .._checks import check_flag

__all__ = ["BaseOptimizer", "SenselessHyperparameterWarning", "new_step", "eps_vanishes_in_half_precision",
           "EPS_VANISHES"]


class SenselessHyperparameterWarning(UserWarning):
    """A hyperparameter that torch accepts, and so does this package, but that makes no
    mathematical sense (``SGD(momentum=1.5)``, ``Adam(eps=0)``): the message says what it does."""


def eps_vanishes_in_half_precision(group, name="eps") -> bool:
    """Whether ``group[name]`` (a positive epsilon) rounds to 0 in the dtype of one of the group's parameters.

    float16's smallest positive number is about 6e-8, so Adam's default ``eps = 1e-8`` becomes 0
    in a float16 parameter, and the update divides 0 by 0 wherever a gradient entry and its
    average are 0. A ``_SENSELESS`` rule of the optimizers that divide by ``sqrt(v) + eps``.
    """
    eps = group[name]
    return eps > 0 and any(torch.tensor(eps, dtype=p.dtype).item() == 0
                           for p in group["params"] if isinstance(p, torch.Tensor) and p.is_floating_point())


#: What a vanishing epsilon does, for the ``_SENSELESS`` tables.
EPS_VANISHES = ("rounds to 0 in a half-precision (float16) parameter, so it divides 0 by 0 (NaN) wherever a "
                "gradient entry and its average are 0: use eps >= 6e-8, or float32 master weights")


def new_step():
    """A fresh step counter: a 0-d tensor holding 0, as ``torch.optim`` stores it.

    Like torch, the counter is float64 when the default dtype is float64 and
    float32 otherwise (float32 counts exactly up to 2**24 = 16,777,216 steps).
    """
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return torch.tensor(0.0, dtype=dtype)


# The keyword arguments that select one of torch.optim's faster implementations,
# and the values that mean "the plain for-loop", which is all this package has.
_FOR_LOOP_VALUES = {
    "foreach": (None, False),
    "fused": (None, False),
    "differentiable": (False,),
    "capturable": (False,),
}


def _undecorated(method):
    """The function under ``torch._disable_dynamo``, which imports ``torch._dynamo`` on first call.

    Outside ``torch.compile`` the decorator changes nothing but that import, which
    costs about 2 s of CPU, as much as ``import torch``: paid in every notebook.
    """
    return getattr(method, "__wrapped__", method)


_TORCH_ADD_PARAM_GROUP = _undecorated(torch.optim.Optimizer.add_param_group)
# Group keys that torch or its schedulers write besides the hyperparameters.
_TORCH_GROUP_KEYS = {"params", "param_names", "initial_lr", "max_lr", "min_lr", "base_momentum", "max_momentum",
                     "name"}
_TORCH_ZERO_GRAD = _undecorated(torch.optim.Optimizer.zero_grad)


def _snapshot(group, ignore) -> tuple:
    """What a later step compares to see a change in ``group``: ``(size, read, values)``.

    ``read`` is an ``operator.itemgetter`` of every key but ``params`` and ``ignore`` (it reads
    them at C speed, once per step), ``values`` what it reads now, ``size`` the number of keys.
    """
    keys = [key for key in group if key != "params" and key not in ignore]
    read = operator.itemgetter(*keys) if keys else (lambda group: ())
    return len(group), read, read(group)


def _unchanged(group, snapshot) -> bool:
    """Whether ``group`` still has the keys and values of ``snapshot`` (from ``_snapshot``)."""
    if snapshot is None or len(group) != snapshot[0]:
        return False
    try:
        return snapshot[1](group) == snapshot[2]
    except KeyError:  # a key was replaced by another
        return False


def _user_level() -> int:
    """The ``stacklevel`` that points a warning at the user's line, past this package's and torch's frames."""
    import sys

    frame, level = sys._getframe(1), 1
    while frame is not None and any(part in frame.f_code.co_filename.replace("\\", "/")
                                    for part in ("codebase/optim/", "torch/optim/", "torch/utils/", "torch/_")):
        frame, level = frame.f_back, level + 1
    return level


class BaseOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` that applies a per-parameter update rule.

    Subclasses are drop-in replacements for the ``torch.optim`` class of the
    same name: the same constructor, defaults, checks, ``param_groups`` and
    ``state`` keys, so ``state_dict()`` and ``load_state_dict()`` work across
    the two. Only the single-tensor (for-loop) path exists here; asking for
    ``foreach=True``, ``fused=True``, ``differentiable=True`` or
    ``capturable=True`` raises ``ValueError``.

    Hyperparameters are checked in every parameter group, not only in the
    defaults: ``SGD([{"params": w, "lr": -1}])`` raises, where torch accepts it.
    """

    def __init__(self, params, defaults):
        self._check_group(defaults)
        super().__init__(params, defaults)

    # -- checks ---------------------------------------------------------------

    @classmethod
    def _check_group(cls, group):
        """Check the hyperparameters of one group; subclasses extend this."""
        for name, allowed in _FOR_LOOP_VALUES.items():
            if name not in group:
                continue
            value = group[name]
            if value is not None and not isinstance(value, bool):
                raise TypeError(f"{name} must be True, False or None, got {type(value).__name__} {value!r}")
            if value not in allowed:
                raise ValueError(
                    f"{cls.__name__}({name}={value!r}) is not available: this from-scratch "
                    f"version implements only the single-tensor (for-loop) path; "
                    f"use torch.optim.{cls.__name__} for the {name} implementation"
                )
        check_flag("maximize", group.get("maximize", False))  # some references (Muon) have no maximize
        for key, value in group.items():  # after the subclass's checks, which give torch's messages
            if key == "params":
                continue
            numbers = value if isinstance(value, (tuple, list)) else (value,)
            if any(isinstance(v, float) and math.isinf(v) for v in numbers):
                raise ValueError(f"Invalid {key}: {value} ({key} must be finite; torch accepts it, "
                                 f"and the first step turns the parameters into inf or nan)")

    def _warn_senseless(self, group):
        """Warn once per optimizer and value about a hyperparameter of ``group`` listed in ``_SENSELESS``."""
        warned = self.__dict__.setdefault("_warned", set())
        for name, senseless, consequence in self._SENSELESS:
            if senseless(group) and (name, group[name]) not in warned:
                warned.add((name, group[name]))
                warnings.warn(f"{type(self).__name__}({name}={group[name]!r}) {consequence}; torch accepts it, "
                              f"and so does this class", SenselessHyperparameterWarning, stacklevel=_user_level())

    def _check_keys(self, param_group):
        """Refuse a group key that looks like a misspelled hyperparameter (``lrr`` for ``lr``).

        Other extra keys (a ``name`` for the group, say) are kept, as torch keeps them.
        """
        import difflib

        for key in param_group:
            if key in self.defaults or key in _TORCH_GROUP_KEYS or not isinstance(key, str):
                continue
            close = difflib.get_close_matches(key, list(self.defaults), n=1, cutoff=0.6)
            if close:
                raise ValueError(f"{type(self).__name__} has no hyperparameter {key!r}; did you mean "
                                 f"{close[0]!r}? (a misspelled key would be ignored and the default used)")

    def add_param_group(self, param_group):
        """Add a parameter group after checking its hyperparameters (see ``torch.optim.Optimizer``)."""
        if isinstance(param_group, dict):
            self._check_keys(param_group)
            self._check_group({**self.defaults, **param_group})
            params = param_group["params"]
            if isinstance(params, torch.Tensor):
                params = [params]
            elif not isinstance(params, set):  # torch rejects sets (their order is arbitrary)
                params = list(params)
            seen = set()
            for index, p in enumerate(params):
                if isinstance(p, tuple) and len(p) == 2:  # (name, tensor) from named_parameters()
                    p = p[1]
                if isinstance(p, torch.Tensor) and p.is_complex():
                    raise TypeError(
                        f"{type(self).__name__} does not support complex parameters; "
                        f"use torch.optim.{type(self).__name__}"
                    )
                if isinstance(p, torch.Tensor):
                    if id(p) in seen:  # torch only warns, then updates the tensor twice per step
                        raise ValueError(f"params holds the same tensor twice (again at index {index}): "
                                         f"it would be updated twice at every step")
                    seen.add(id(p))
            param_group = {**param_group, "params": params}
        _TORCH_ADD_PARAM_GROUP(self, param_group)
        group = self.param_groups[-1]
        self._warn_senseless(group)
        # checked just now: the first step need not check this group again
        self.__dict__.setdefault("_checked", {})[len(self.param_groups) - 1] = _snapshot(group, self._STEP_KEYS)

    #: Group keys that the step itself writes (the schedule-free optimizers' step counter, say):
    #: ``_recheck`` does not count a change in them, or every step would check every group again.
    _STEP_KEYS = frozenset()

    def _recheck(self):
        """Check again the hyperparameters of every group that changed since it was last checked.

        A scheduler, or a user, may write ``param_groups[i]["lr"]`` between steps; a negative
        or infinite value written there would otherwise be used as it is. Unchanged groups cost
        one read of their values (an ``itemgetter``) and one tuple comparison each.
        """
        checked = self.__dict__.setdefault("_checked", {})
        for index, group in enumerate(self.param_groups):
            if not _unchanged(group, checked.get(index)):
                try:
                    self._check_group(group)
                except (TypeError, ValueError) as error:
                    raise type(error)(f"param_groups[{index}] was changed after construction: {error}") from None
                self._warn_senseless(group)
                checked[index] = _snapshot(group, self._STEP_KEYS)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (see ``torch.optim.Optimizer.zero_grad``)."""
        _TORCH_ZERO_GRAD(self, set_to_none)

    # -- state ----------------------------------------------------------------

    def _init_state(self, p, state, group):
        """Create the state of ``p`` (nothing by default)."""

    #: Values that torch accepts but that make no sense, as (parameter, test on a group, what the
    #: value does): each gives a :class:`SenselessHyperparameterWarning`, once per optimizer and value.
    _SENSELESS = ()

    #: The flags that torch's ``__setstate__`` fills in when a state dict saved by an older
    #: version lacks them, with torch's fixed values (not this optimizer's constructor arguments:
    #: an old checkpoint loaded into ``SGD(..., maximize=True)`` still descends, as in torch).
    _TORCH_FLAG_DEFAULTS = {"maximize": False, "foreach": None, "differentiable": False}

    def load_state_dict(self, state_dict):
        """Load a state dict (see ``torch.optim.Optimizer.load_state_dict``), after checking its shape.

        torch answers an empty or foreign dict with ``KeyError: 'param_groups'`` (or ``'step'``
        later); here it is a ``TypeError``/``ValueError`` that says what a state dict holds.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict from optimizer.state_dict(), got {type(state_dict).__name__}")
        missing = [key for key in ("state", "param_groups") if key not in state_dict]
        if missing:
            raise ValueError(f"state_dict lacks {missing}: pass what optimizer.state_dict() returned (it has "
                             f"the keys 'state' and 'param_groups'), got the keys {sorted(map(str, state_dict))}")
        super().load_state_dict(state_dict)

    def __setstate__(self, state):
        """Restore from a pickle or ``load_state_dict``; fill in the flags that older state dicts lack."""
        super().__setstate__(state)
        for index, group in enumerate(self.param_groups):
            for key, value in self._TORCH_FLAG_DEFAULTS.items():
                group.setdefault(key, value)
            # torch's __setstate__ adds differentiable to the defaults even where the groups lack it (Muon)
            missing = sorted(set(self.defaults) - set(group) - {"differentiable"})
            if missing:
                raise ValueError(f"parameter group {index} of the state dict lacks {missing}: was it saved by "
                                 f"another optimizer than {type(self).__name__}?")
        for param_state in self.state.values():
            step = param_state.get("step")
            if step is not None and not torch.is_tensor(step):
                param_state["step"] = new_step() + float(step)

    # -- the step -------------------------------------------------------------

    def _update(self, p, g, state, group):
        """Apply the update rule to ``p`` with gradient ``g``; subclasses define it."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        """Update every parameter that has a gradient; return ``closure()``'s loss.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss; it is called with
            gradients enabled, before the update.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # The loop runs once per parameter tensor at every step: for a network of many small
        # tensors its Python overhead is a visible part of the step, so it avoids method calls
        # and repeated lookups.
        self._recheck()
        all_state, init_state, update = self.state, self._init_state, self._update
        for group in self.param_groups:
            maximize = group.get("maximize", False)
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.is_sparse:
                    name = type(self).__name__
                    raise RuntimeError(f"{name} does not support sparse gradients; "
                                       f"use torch.optim.{name} (or torch.optim.SparseAdam)")
                state = all_state.get(p)
                new = not state
                if new:
                    state = {}
                    init_state(p, state, group)
                update(p, -g if maximize else g, state, group)
                if new and state:  # like torch, a rule that keeps nothing (SGD without momentum) stores no entry
                    all_state[p] = state
        return loss
