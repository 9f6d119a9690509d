"""SGD, AdaGrad, RMSProp, AdaDelta, Adam and AdamW, written from the equations.

Each algorithm has its own file, holding two things:

- an **update rule**, ``sgd_update``, ``adagrad_update``, ``rmsprop_update``,
  ``adadelta_update``, ``adam_update``, ``adamw_update``: a short function in the
  book's notation (``theta``, ``g``, ``m``, ``v``, ``m_hat``, ``lr`` for alpha...),
  one line per equation, with the equations in its docstring;
- an **optimizer class** of the same name as in ``torch.optim`` (``SGD``,
  ``Adagrad``, ``RMSprop``, ``Adadelta``, ``Adam``, ``AdamW``), a drop-in for it:
  same arguments and defaults, same checks, same ``param_groups`` and
  ``state`` keys, so ``state_dict()`` moves between the two. The tests check
  that its trajectories equal torch's to rounding error.

The update rules work **in place**: they change ``theta`` and the state tensors
they are given (torch's trailing-underscore methods, ``m.lerp_(g, 1 - beta1)``)
and return nothing (``sgd_update`` returns its momentum buffer, which it
creates at the first step). We measured the alternative: a pure rule that
returns new tensors (``m = beta1 * m + (1 - beta1) * g``, as in Optax) made
an Adam step on 4M float32 parameters two to three times slower than
``torch.optim.Adam(foreach=False)``, because every ``*`` and ``+`` reads and
writes a whole new tensor; the in-place rules are as fast as torch's for-loop
(Adam a little faster). They also apply torch's floating-point operations in
torch's order, so the trajectories equal torch's to the last bit. Call a rule
under ``torch.no_grad()`` when ``theta`` requires grad.

What is deliberately not here: torch's ``foreach``, ``fused``, ``capturable``
and ``differentiable`` implementations (asking for one raises ``ValueError``),
tensor-valued hyperparameters (``TypeError``: pass a float), sparse gradients
and complex parameters. Hyperparameters are checked a little more strictly
than in torch: NaN, bools and tensors are rejected everywhere, the boolean
flags must be bools, and every parameter group is checked, not only the
defaults.
"""
from __future__ import annotations

from ._base import SenselessHyperparameterWarning  # noqa: F401 (public, for warnings filters)
from .adadelta import Adadelta, adadelta_update
from .adagrad import Adagrad, adagrad_update
from .adam import Adam, adam_update
from .adamw import AdamW, adamw_update
from .rmsprop import RMSprop, rmsprop_update
from .sgd import SGD, sgd_update

__all__ = [
    "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW",
    "sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update", "adam_update", "adamw_update",
]
