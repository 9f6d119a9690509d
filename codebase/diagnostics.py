"""Per-layer statistics of a network on one batch: what the signal looks like inside.

Two questions tell most of what goes wrong at the start of training:

- **Forward:** how large are the activations :math:`h^{(l)}` of each layer, and how
  many units are dead (exactly 0 after a ReLU) or saturated (stuck near a bound of a
  tanh or sigmoid)? :func:`activation_stats` answers it.
- **Backward:** how large is the gradient :math:`\\partial\\mathcal L/\\partial W^{(l)}`
  of each layer's weight? :func:`gradient_stats` answers it.

Both return a list with one ``dict`` per layer, in the order the forward pass reaches
the layers, so that row ``l - 1`` describes layer :math:`l` of the text. :func:`table`
prints such a list with a fixed number of significant digits.

Both functions measure without side effects: the forward hooks they register are
removed before they return (also when the forward pass raises), ``.grad`` fields are
not touched (gradients come from ``torch.autograd.grad``), buffers such as batch-norm
running statistics are restored, and the model stays in the train/eval mode it was in.

Example::

    from codebase import diagnostics, nn
    model = nn.mlp(64, 10, depth=30, width=64, activation="tanh", init="xavier_normal")
    for row in diagnostics.activation_stats(model, X):      # h^(1), ..., h^(30)
        print(row["layer"], row["std"], row["saturated"])
    for row in diagnostics.gradient_stats(model, X, y):     # W^(1), ..., W^(31)
        print(row["layer"], row["grad_norm"])
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from . import nn as cnn
from ._checks import check_callable, check_int, check_real
from .evaluation import default_loss

__all__ = ["ACTIVATION_TYPES", "BOUNDED", "WEIGHT_TYPES",
           "activation_stats", "gradient_stats", "table"]


def _activation_types():
    tnn = torch.nn
    return (cnn.Sigmoid, cnn.Tanh, cnn.ReLU, cnn.LeakyReLU, cnn.PReLU, cnn.Maxout,
            tnn.Sigmoid, tnn.Tanh, tnn.ReLU, tnn.LeakyReLU, tnn.PReLU, tnn.ELU, tnn.SELU,
            tnn.CELU, tnn.GELU, tnn.SiLU, tnn.Mish, tnn.Softplus, tnn.Softsign,
            tnn.Hardtanh, tnn.ReLU6, tnn.Hardsigmoid, tnn.Hardswish, tnn.LogSigmoid)


ACTIVATION_TYPES: tuple[type, ...] = _activation_types()
"""The module types :func:`activation_stats` records by default: the activations of
``codebase.nn`` (including :class:`~codebase.nn.Maxout`) and of ``torch.nn``."""


def _bounded():
    tnn = torch.nn
    return {cnn.Tanh: (-1.0, 1.0), tnn.Tanh: (-1.0, 1.0), tnn.Softsign: (-1.0, 1.0),
            cnn.Sigmoid: (0.0, 1.0), tnn.Sigmoid: (0.0, 1.0)}


BOUNDED: dict[type, tuple[float, float]] = _bounded()
"""The range :math:`(\\text{lo}, \\text{hi})` of each bounded activation type, used to
decide which outputs are saturated (see :func:`activation_stats`)."""

WEIGHT_TYPES: tuple[type, ...] = (
    torch.nn.Linear, torch.nn.Bilinear,
    torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d,
    torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)
"""The layer types :func:`gradient_stats` reports by default (those whose ``weight`` is
initialized by :func:`codebase.init.init_model`)."""


# ----------------------------------------------------------------------------- checks

def _check_model(model):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_batch(name, x):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 0 or x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one example (a first dimension >= 1), "
                         f"got shape {tuple(x.shape)}")
    return x


def _selector(modules, default):
    """A predicate ``select(name, module)`` from the ``modules`` argument."""
    if modules is None:
        modules = default
    if isinstance(modules, type):
        modules = (modules,)
    if isinstance(modules, tuple):
        if not modules or not all(isinstance(t, type) for t in modules):
            raise TypeError("modules must be a module type, a non-empty tuple of module types, "
                            f"or a callable (name, module) -> bool, got {modules!r}")
        return lambda name, module: isinstance(module, modules)
    check_callable("modules", modules, ("name", "module"))
    return modules


# ----------------------------------------------------------------------------- plumbing

class _Recorder:
    """Forward hooks on the selected submodules; ``calls`` lists (name, module, output)
    in the order the forward pass reaches them. The hooks go away in ``__exit__``."""

    def __init__(self, model, select, keep_output):
        self.calls, self._handles = [], []
        for name, module in model.named_modules():
            if module is model and not name:
                name = type(model).__name__
            if select(name, module):
                self._handles.append(module.register_forward_hook(self._hook(name, keep_output)))

    def _hook(self, name, keep_output):
        def hook(module, inputs, output):
            self.calls.append((name, module, output if keep_output else None))
        return hook

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        return False


class _Preserved:
    """Restore the model's buffers (e.g. batch-norm running statistics) and its
    train/eval modes on exit, so a measurement leaves no trace."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.buffers = [(b, b.detach().clone()) for b in self.model.buffers()]
        return self

    def __exit__(self, *exc):
        with torch.no_grad():
            for buffer, saved in self.buffers:
                buffer.copy_(saved)
        for module, training in self.modes:
            module.training = training
        return False


def _as_float(t):
    return float(t.item())


# ----------------------------------------------------------------------------- activations

def activation_stats(model: torch.nn.Module, X: torch.Tensor, *, modules=None,
                     saturation: float = 0.99) -> list[dict]:
    """Statistics of the outputs of ``model``'s activation layers on the batch ``X``.

    Runs ``model(X)`` once under ``torch.no_grad()`` with a forward hook on every
    selected submodule and returns one ``dict`` per call of a selected module, in the
    order of the forward pass (a module applied twice gives two rows). For an MLP built
    by :func:`codebase.nn.mlp`, row ``l - 1`` describes :math:`h^{(l)}`. Each row has

    ==============  =====================================================================
    ``layer``       1, 2, ... (the position of the row)
    ``name``        the module's name in ``model.named_modules()`` (e.g. ``'3'``)
    ``kind``        the module's class name (e.g. ``'Tanh'``)
    ``mean``        mean of all entries of the output (every example and unit)
    ``std``         standard deviation of all entries (population: divides by their count)
    ``zeros``       fraction of entries that are exactly 0 (dead ReLU units)
    ``saturated``   fraction of entries near a bound of a bounded activation (``nan`` for
                    unbounded ones such as ReLU); see below
    ==============  =====================================================================

    The statistics are computed in float64 and returned as Python floats.

    **Saturation.** For an activation with range :math:`(\\text{lo}, \\text{hi})` (see
    :data:`BOUNDED`: tanh, sigmoid, softsign) an output :math:`h` is saturated when its
    rescaled value :math:`u = (2h - \\text{lo} - \\text{hi})/(\\text{hi} - \\text{lo})
    \\in (-1, 1)` has :math:`|u| \\ge` ``saturation``. For tanh, :math:`u = h` and
    :math:`\\tanh' = 1 - u^2`; for the sigmoid, :math:`u = 2h - 1` and
    :math:`\\sigma' = (1 - u^2)/4`. So with the default 0.99 a unit counts as saturated
    when its derivative is below 2% of its largest value.

    ``modules`` chooses what to record: ``None`` for the activation modules
    (:data:`ACTIVATION_TYPES`), a module type or tuple of types (e.g.
    ``torch.nn.Linear`` to record the pre-activations :math:`z^{(l)}`), or a callable
    ``modules(name, module) -> bool``. Outputs that are not tensors are skipped.

    The model is left as it was: hooks are removed, buffers restored, and its
    train/eval mode is neither changed nor used to pick one (a model in train mode runs
    dropout as in training; call ``model.eval()`` first to measure without it).
    """
    _check_model(model)
    _check_batch("X", X)
    saturation = check_real("saturation", saturation, low=0.0, high=1.0, low_open=True, high_open=True)
    select = _selector(modules, ACTIVATION_TYPES)

    with _Preserved(model), _Recorder(model, select, keep_output=True) as rec, torch.no_grad():
        model(X)
        calls = rec.calls

    rows = []
    for name, module, out in calls:
        if not isinstance(out, torch.Tensor) or out.numel() == 0:
            continue
        h = out.detach().to(torch.float64)
        bounds = next((b for t, b in BOUNDED.items() if isinstance(module, t)), None)
        if bounds is None:
            saturated = math.nan
        else:
            lo, hi = bounds
            u = (2 * h - lo - hi) / (hi - lo)
            saturated = _as_float((u.abs() >= saturation).double().mean())
        rows.append({
            "layer": len(rows) + 1,
            "name": name,
            "kind": type(module).__name__,
            "mean": _as_float(h.mean()),
            "std": _as_float(h.std(correction=0)) if h.numel() > 1 else 0.0,
            "zeros": _as_float((h == 0).double().mean()),
            "saturated": saturated,
        })
    return rows


# ----------------------------------------------------------------------------- gradients

def gradient_stats(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor,
                   loss_fn: Callable | None = None, *, modules=None) -> list[dict]:
    """Statistics of the gradient of the loss on ``(X, y)`` with respect to each layer's weight.

    Computes :math:`\\mathcal L_{\\mathcal B} =` ``loss_fn(model(X), y)`` and its gradient
    :math:`\\partial\\mathcal L_{\\mathcal B}/\\partial W^{(l)}` for the ``weight`` of every
    selected layer (by default :data:`WEIGHT_TYPES`: linear and convolutional layers),
    and returns one ``dict`` per layer, in the order the forward pass first reaches the
    layers (layers the forward pass does not use, or whose weight does not require a
    gradient, are left out). For an MLP built by :func:`codebase.nn.mlp`, row ``l - 1``
    describes :math:`W^{(l)}`. Each row has

    ===============  =================================================================
    ``layer``        1, 2, ... (the position of the row)
    ``name``         the module's name in ``model.named_modules()`` (e.g. ``'0'``)
    ``kind``         the module's class name (e.g. ``'Linear'``)
    ``grad_norm``    Frobenius norm :math:`\\lVert\\partial\\mathcal L/\\partial W^{(l)}\\rVert`
    ``grad_std``     standard deviation of the gradient's entries (population)
    ``weight_norm``  Frobenius norm :math:`\\lVert W^{(l)}\\rVert`
    ``weight_std``   standard deviation of the weight's entries (population)
    ``ratio``        ``grad_norm / weight_norm`` (``inf`` for an all-zero weight with
                     a nonzero gradient, ``nan`` when both are 0): the relative size
                     of an SGD step with learning rate 1
    ===============  =================================================================

    Statistics are computed in float64 and returned as Python floats.

    ``loss_fn(output, y)`` must return a scalar; ``None`` means cross-entropy for
    integer labels ``y`` and mean squared error for floating-point targets. ``modules``
    selects the layers as in :func:`activation_stats` (a type, a tuple of types or a
    callable ``(name, module) -> bool``); a selected module must have a ``weight``
    parameter.

    The gradients come from ``torch.autograd.grad``, so the parameters' ``.grad``
    fields are not touched; hooks are removed, buffers restored and the train/eval mode
    left as it was (and used as it is: call ``model.eval()`` first to measure without
    dropout).
    """
    _check_model(model)
    _check_batch("X", X)
    _check_batch("y", y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of examples, got {X.shape[0]} and {y.shape[0]}")
    loss_fn = default_loss if loss_fn is None else check_callable("loss_fn", loss_fn, ("output", "target"))
    select = _selector(modules, WEIGHT_TYPES)

    def select_weighted(name, module):
        if not select(name, module):
            return False
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.nn.Parameter):
            raise ValueError(f"module {name!r} ({type(module).__name__}) was selected but has "
                             "no weight parameter")
        return True

    with _Preserved(model), _Recorder(model, select_weighted, keep_output=False) as rec, \
            torch.enable_grad():
        loss = loss_fn(model(X), y)
        calls = rec.calls
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError("loss_fn must return a tensor with one element (a scalar loss)")
        seen, layers = set(), []
        for name, module, _ in calls:
            if id(module) not in seen and module.weight.requires_grad:
                seen.add(id(module))
                layers.append((name, module))
        if not layers:
            return []
        grads = torch.autograd.grad(loss.reshape(()), [m.weight for _, m in layers],
                                    allow_unused=True)

    rows = []
    for (name, module), grad in zip(layers, grads):
        w = module.weight.detach().to(torch.float64)
        g = torch.zeros_like(w) if grad is None else grad.detach().to(torch.float64)
        grad_norm, weight_norm = _as_float(g.norm()), _as_float(w.norm())
        if weight_norm > 0:
            ratio = grad_norm / weight_norm
        else:
            ratio = math.inf if grad_norm > 0 else math.nan
        rows.append({
            "layer": len(rows) + 1,
            "name": name,
            "kind": type(module).__name__,
            "grad_norm": grad_norm,
            "grad_std": _as_float(g.std(correction=0)) if g.numel() > 1 else 0.0,
            "weight_norm": weight_norm,
            "weight_std": _as_float(w.std(correction=0)) if w.numel() > 1 else 0.0,
            "ratio": ratio,
        })
    return rows


# ----------------------------------------------------------------------------- printing

def _format(value, digits):
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "-"
    return f"{value:.{digits}g}"


def table(rows: list[dict], columns: list[str] | None = None, *, digits: int = 4) -> str:
    """The rows of :func:`activation_stats` or :func:`gradient_stats` (or any list of
    dicts) as an aligned text table, floats with ``digits`` significant digits and
    ``nan`` shown as ``-``.

    ``columns`` picks and orders the keys (default: the keys of the first row).
    Print the result: ``print(table(activation_stats(model, X), ["layer", "std"]))``.
    """
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        raise TypeError("rows must be a list of dicts")
    digits = check_int("digits", digits, low=1, high=17)
    if columns is None:
        columns = list(rows[0]) if rows else []
    columns = [str(c) for c in columns]
    cells = [[_format(row.get(c, math.nan), digits) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)
