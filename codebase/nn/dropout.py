"""Dropout in its inverted form, as a function and as a module."""
from __future__ import annotations

import torch

from .._checks import check_flag, check_generator, check_real
from .activations import _check_tensor

__all__ = ["dropout", "Dropout"]


def _check_drop_probability(p, name="p"):
    return check_real(name, p, low=0.0, high=1.0, high_open=True)


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Dropout (Hinton et al., 2012) in its *inverted* form: during training, zero each
    entry of ``x`` with probability :math:`p` and divide the survivors by :math:`1 - p`,

    .. math::
        r_j \\sim \\operatorname{Bernoulli}(1 - p), \\qquad
        \\tilde h_j = \\frac{r_j\\, h_j}{1 - p},

    so that :math:`\\mathbb{E}[\\tilde h_j] = h_j` and nothing needs rescaling at test time.
    With ``training=False`` or :math:`p = 0` it returns ``x`` itself, like
    ``torch.nn.functional.dropout``, and with the same random state it draws the same mask
    and returns the same numbers bit for bit. The mask :math:`r` comes from ``generator``
    (default: torch's global random numbers). :math:`p` must lie in :math:`[0, 1)`: at
    :math:`p = 1` every unit is dropped and the division is undefined.
    """
    x = _check_tensor("x", x)
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    p = _check_drop_probability(p)
    check_flag("training", training)
    check_generator("generator", generator)
    if not training or p == 0.0:
        return x
    r = torch.empty_like(x).bernoulli_(1 - p, generator=generator)  # r_j ~ Bernoulli(1 - p)
    return x * (r / (1 - p))  # h~ = r h / (1 - p)


class Dropout(torch.nn.Module):
    """Module form of :func:`dropout`: drops with probability ``p`` in training mode
    (``model.train()``) and is the identity in evaluation mode (``model.eval()``). Masks come
    from ``generator`` when one is given, from torch's global random numbers otherwise."""

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None):
        super().__init__()
        self.p = _check_drop_probability(p)
        self.generator = check_generator("generator", generator)

    def forward(self, x):
        return dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"
