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

After Adam come its repairs, each a drop-in for the ``torch.optim`` class of
the same name: ``Adamax`` (the infinity norm in place of ``v``), ``NAdam``
(Nesterov's look-ahead on Adam's momentum) and ``RAdam`` (no adaptive step
until the variance estimate is reliable), with ``adamax_update``,
``nadam_update`` and ``radam_update``. ``Muon`` (``torch.optim.Muon``) leaves the
element-wise family: it orthogonalizes the momentum of each weight matrix with a
Newton-Schulz iteration (``newton_schulz``, ``muon_update``), for 2-D weights only;
``muon_with_adamw`` pairs it with AdamW for the other parameters, as one optimizer
(``Combined``).

Two others save memory: ``Adafactor`` keeps, for each matrix, only
the row and column averages of the squared gradient (``adafactor_update``; a drop-in
for ``torch.optim.Adafactor``), and ``Lion`` keeps one momentum and steps by its sign
(``lion_update``; a drop-in for ``lion_pytorch.Lion``, whose state dicts it shares).

And two remove the learning-rate schedule: ``ScheduleFreeSGD`` and
``ScheduleFreeAdamW`` (``schedule_free_sgd_update``, ``schedule_free_adamw_update``;
drop-ins for the ``schedulefree`` package's classes) take their steps on one
sequence and evaluate its running average; ``optimizer.train()`` and
``optimizer.eval()`` switch the parameters between the two.

For large batches, ``LARS`` and ``Lamb`` (``lars_update``, ``lars_trust_ratio``,
``lamb_update``; drop-ins for ``pytorch_optimizer``'s ``LARS`` and ``Lamb``) scale the
step of each layer by a trust ratio, the norm of its weights over the norm of its
gradient (LARS) or of Adam's update (LAMB).

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
from .adafactor import Adafactor, adafactor_update
from .adagrad import Adagrad, adagrad_update
from .adam import Adam, adam_update
from .adamax import Adamax, adamax_update
from .adamw import AdamW, adamw_update
from .combined import Combined
from .lamb import Lamb, lamb_update
from .lars import LARS, lars_trust_ratio, lars_update
from .lion import Lion, lion_update
from .muon import Muon, muon_split, muon_update, muon_with_adamw, newton_schulz
from .nadam import NAdam, nadam_momentum, nadam_update
from .radam import RADAM_THRESHOLD, RAdam, radam_rectification, radam_rho, radam_update
from .rmsprop import RMSprop, rmsprop_update
from .schedule_free_adamw import ScheduleFreeAdamW, schedule_free_adamw_update
from .schedule_free_sgd import ScheduleFreeSGD, schedule_free_sgd_update
from .sgd import SGD, sgd_update

__all__ = [
    "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW",
    "sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update", "adam_update", "adamw_update",
    "Adamax", "adamax_update", "NAdam", "nadam_update", "nadam_momentum",
    "RAdam", "radam_update", "radam_rho", "radam_rectification", "RADAM_THRESHOLD",
    "LARS", "lars_update", "lars_trust_ratio", "Lamb", "lamb_update",
    "Muon", "muon_update", "newton_schulz", "Combined", "muon_split", "muon_with_adamw",
    "Adafactor", "adafactor_update", "Lion", "lion_update",
    "ScheduleFreeSGD", "schedule_free_sgd_update", "ScheduleFreeAdamW", "schedule_free_adamw_update",
]
