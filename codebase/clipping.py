"""Gradient clipping by norm and by value, written from the formulas.

Clipping acts on the gradients that ``loss.backward()`` left in ``p.grad``,
before the optimizer reads them::

    loss.backward()
    clip_grad_norm_(model.parameters(), max_norm=1.0)  # or clip_grad_value_
    optimizer.step()

Both functions are drop-ins for ``torch.nn.utils.clip_grad_norm_`` and
``torch.nn.utils.clip_grad_value_``: same signatures, same results, same
return values (the tests check this with torch as the oracle). They differ in
one way: the arguments are checked, so ``max_norm=-1`` raises instead of
silently flipping every gradient.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

from ._checks import check_flag, check_real

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _gradients(parameters) -> list[torch.Tensor]:
    """The ``.grad`` of each tensor in ``parameters``, skipping ``None``.

    ``parameters`` is a tensor or an iterable of tensors.
    """
    if isinstance(parameters, torch.nn.Module):
        raise TypeError("parameters must be tensors, not a module: "
                        "pass model.parameters()")
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    elif isinstance(parameters, Iterable):
        parameters = list(parameters)  # a generator can be read only once
    else:
        raise TypeError("parameters must be a tensor or an iterable of "
                        f"tensors, got {type(parameters).__name__}")
    for p in parameters:
        if not isinstance(p, torch.Tensor):
            raise TypeError("parameters must contain tensors, "
                            f"got {type(p).__name__}")
    return [p.grad for p in parameters if p.grad is not None]


def _norm_type(norm_type) -> float:
    """``norm_type`` as a float p > 0; ``inf`` and ``'inf'`` are allowed."""
    if isinstance(norm_type, str):
        if norm_type.strip().lower() not in ("inf", "+inf"):
            raise ValueError("norm_type must be a number > 0 or 'inf', "
                             f"got {norm_type!r}")
        return float("inf")
    return check_real("norm_type", norm_type, low=0, low_open=True, finite=False)


def _check_foreach(foreach):
    if foreach is not None and not isinstance(foreach, bool):
        raise TypeError("foreach must be None, True or False, "
                        f"got {type(foreach).__name__} {foreach!r}")


@torch.no_grad()
def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> torch.Tensor:
    r"""Scale all gradients together so that their norm is at most c.

    With :math:`g` the gradients of all parameters concatenated into one
    vector, :math:`p` = ``norm_type`` and :math:`c` = ``max_norm``:

    .. math::
        \lVert g \rVert_p = \Bigl(\sum_i \lvert g_i \rvert^p\Bigr)^{1/p}
        \ \ (\max_i \lvert g_i \rvert \text{ for } p = \infty),
        \qquad
        g \leftarrow g \cdot
        \min\Bigl(1, \frac{c}{\lVert g \rVert_p + 10^{-6}}\Bigr).

    One factor multiplies every entry, so the direction of :math:`g` is
    kept; only its length shrinks, and only when it exceeds :math:`c`. The
    :math:`10^{-6}` (torch's constant) keeps a zero gradient at zero.
    Gradients are changed in place; parameters whose ``.grad`` is ``None``
    are skipped.

    Args:
        parameters: a tensor or an iterable of tensors, such as
            ``model.parameters()``.
        max_norm: the largest norm :math:`c \ge 0` the gradients may have.
        norm_type: :math:`p > 0`, or ``inf`` (or ``'inf'``) for the
            largest entry.
        error_if_nonfinite: raise ``RuntimeError`` if the norm is NaN or
            infinite, instead of scaling the gradients by it.
        foreach: accepted for compatibility with torch and ignored.

    Returns:
        The total norm :math:`\lVert g \rVert_p` *before* clipping, as a
        0-d tensor, like torch (``tensor(0.)`` when no parameter has a
        gradient).
    """
    grads = _gradients(parameters)
    max_norm = check_real("max_norm", max_norm, low=0, finite=False)
    p = _norm_type(norm_type)
    check_flag("error_if_nonfinite", error_if_nonfinite)
    _check_foreach(foreach)
    if not grads:
        return torch.tensor(0.0)
    # the p-norm of all entries = the p-norm of the per-tensor p-norms
    norms = torch.stack([torch.linalg.vector_norm(g, p) for g in grads])
    total_norm = torch.linalg.vector_norm(norms, p)
    if error_if_nonfinite and not torch.isfinite(total_norm):
        raise RuntimeError(
            f"the total {p}-norm of the gradients is {total_norm.item()}, "
            "so it cannot be clipped; pass error_if_nonfinite=False to "
            "scale by it anyway")
    # min(1, c / (||g|| + 1e-6)): at most 1, so g never gets longer
    scale = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
    return total_norm


@torch.no_grad()
def clip_grad_value_(parameters, clip_value: float,
                     foreach: bool | None = None) -> None:
    r"""Clip every gradient entry to :math:`[-c, c]`, c = ``clip_value``:

    .. math::
        g_i \leftarrow \min\bigl(\max(g_i, -c),\, c\bigr).

    Each entry is clipped on its own, so when some entries are cut and
    others are not, the *direction* of the gradient changes (unlike
    :func:`clip_grad_norm_`). Gradients are changed in place; parameters
    whose ``.grad`` is ``None`` are skipped. ``foreach`` is accepted for
    compatibility with torch and ignored. Returns ``None``, like torch.
    """
    grads = _gradients(parameters)
    c = check_real("clip_value", clip_value, low=0, finite=False)
    _check_foreach(foreach)
    for g in grads:
        g.clamp_(min=-c, max=c)
    return None
