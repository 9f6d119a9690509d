"""Activation functions with their derivatives, Maxout, an MLP builder, and dropout.

Each activation is a ``torch.autograd.Function`` whose ``backward`` is its derivative
written out, so the function and its derivative sit side by side. Use them as functions
(:func:`sigmoid`, :func:`relu`, ...) or as modules (:class:`Sigmoid`, :class:`ReLU`, ...).

- ``codebase.nn.activations``: the functions and their autograd ``Function`` classes;
- ``codebase.nn.layers``: the modules, :class:`Maxout`, ``ACTIVATIONS`` and :func:`mlp`;
- ``codebase.nn.dropout``: :func:`dropout` and :class:`Dropout`.
"""
from __future__ import annotations

from .activations import elu, gelu, leaky_relu, prelu, relu, sigmoid, silu, tanh
from .dropout import Dropout, dropout
from .layers import ACTIVATIONS, ELU, GELU, LeakyReLU, Maxout, PReLU, ReLU, Sigmoid, SiLU, Tanh, mlp

__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "gelu", "silu",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "GELU", "SiLU", "Maxout",
    "ACTIVATIONS", "mlp", "dropout", "Dropout",
]
