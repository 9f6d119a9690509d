"""Several optimizers used as one, for a training loop written for one optimizer.

Muon orthogonalizes the update of a matrix, so it takes 2-D weights only; a network's
biases, and usually its output layer, need another optimizer (AdamW, in Jordan et al.'s
setup). A training loop written for one optimizer (``codebase.train.fit``,
``codebase.stacked.train_stacked``) takes the pair as one through :class:`Combined`;
``codebase.optim.muon.muon_with_adamw`` builds that pair from a model's parameters.
"""
from __future__ import annotations

import torch

from ..evaluation import switch_mode

__all__ = ["Combined"]


class Combined:
    """Optimizers over disjoint sets of parameters, used as one optimizer.

    ``step()``, ``zero_grad()``, ``train()`` and ``eval()`` call each optimizer in turn (the
    last two only on those that have them: the schedule-free ones). ``param_groups`` is
    the list of every optimizer's groups, the same dicts, so that writing a group's
    ``"lr"`` changes that optimizer's rate; ``state`` maps every parameter to its state.
    ``state_dict()`` holds one state dict per optimizer, in order.

    A learning-rate scheduler of ``torch.optim.lr_scheduler`` needs a
    ``torch.optim.Optimizer``: give each optimizer of ``optimizers`` its own.

    Parameters
    ----------
    *optimizers : torch.optim.Optimizer
        At least one; no parameter may belong to two of them.
    """

    def __init__(self, *optimizers):
        if not optimizers:
            raise ValueError("Combined needs at least one optimizer, got none")
        seen = {}
        for index, opt in enumerate(optimizers):
            if not isinstance(opt, torch.optim.Optimizer):
                raise TypeError(f"optimizers[{index}] must be a torch.optim.Optimizer (codebase.optim's are), "
                                f"got {type(opt).__name__}")
            for group in opt.param_groups:
                for p in group["params"]:
                    if id(p) in seen and seen[id(p)] != index:
                        raise ValueError(f"a parameter of shape {tuple(p.shape)} is in optimizers[{seen[id(p)]}] "
                                         f"and optimizers[{index}]: each parameter needs exactly one optimizer")
                    seen[id(p)] = index
        self.optimizers = list(optimizers)

    def __repr__(self):
        return "Combined(" + ", ".join(type(opt).__name__ for opt in self.optimizers) + ")"

    @property
    def param_groups(self):
        return [group for opt in self.optimizers for group in opt.param_groups]

    @property
    def state(self):
        return {p: s for opt in self.optimizers for p, s in opt.state.items()}

    def step(self, closure=None):
        """Call ``closure()`` once (with gradients enabled), then step every optimizer; return its loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for opt in self.optimizers:
            opt.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def train(self):
        """Put the schedule-free optimizers among ``optimizers`` in train mode (the others have no mode)."""
        for opt in self.optimizers:
            switch_mode(opt, "train")

    def eval(self):
        """Put the schedule-free optimizers among ``optimizers`` in eval mode (the others have no mode)."""
        for opt in self.optimizers:
            switch_mode(opt, "eval")

    def state_dict(self):
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state_dict):
        """Load what ``state_dict()`` returned, into optimizers of the same kinds over the same parameters."""
        if not isinstance(state_dict, dict) or not isinstance(state_dict.get("optimizers"), list):
            raise TypeError("state_dict must be what Combined.state_dict() returned, a dict with the key "
                            "'optimizers' (a list of state dicts)")
        if len(state_dict["optimizers"]) != len(self.optimizers):
            raise ValueError(f"state_dict holds {len(state_dict['optimizers'])} optimizers' state dicts, "
                             f"this Combined has {len(self.optimizers)}")
        for opt, saved in zip(self.optimizers, state_dict["optimizers"]):
            opt.load_state_dict(saved)
