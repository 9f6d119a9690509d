"""Check of one Lion step, against ``codebase.optim.lion.lion_update``."""
from __future__ import annotations

from ..optim.lion import lion_update
from .engine import Mistake, run
from .results import CheckResult, exercise
from .rules import Rule

_LIBRARY = ("codebase.optim.lion_update", "codebase.optim.Lion", "codebase.optim.lion.lion_update",
            "codebase.optim.lion.Lion", "lion_pytorch.Lion", "pytorch_optimizer.Lion")


def _reference(x):
    theta, m = x["theta"], x["m"]
    lion_update(theta, x["grad"], m, lr=x["lr"], beta1=x["beta1"], beta2=x["beta2"], weight_decay=x["weight_decay"])
    return theta, m


def _step(x, m_beta=None, sign_of_new_m=False, no_sign=False, decay_after=False, decay_lr=True,
          direction=-1.0):
    """One Lion step, with one of the typical mistakes switched on."""
    lr, wd, theta, grad = x["lr"], x["weight_decay"], x["theta"], x["grad"]
    b_m = x["beta2"] if m_beta is None else m_beta
    c = x["beta1"] * x["m"] + (1 - x["beta1"]) * grad                # c_t
    m = b_m * x["m"] + (1 - b_m) * grad                              # m_t
    step = m.sign() if sign_of_new_m else (c if no_sign else c.sign())
    decay = lr * wd if decay_lr else wd
    if decay_after:
        return (theta + direction * lr * step) * (1 - decay), m
    return theta + direction * lr * step - decay * theta, m


_MISTAKES = [
    # (interpolating with beta2 gives the same numbers: beta2 * m + (1 - beta2) * grad is m_t)
    Mistake("signed-momentum", "take the sign of the new buffer m_t (that is signed momentum, not Lion), or "
            "interpolate with beta2, which gives the same: the step uses c_t = beta1 * m + (1 - beta1) * grad, "
            "with beta1 and the old m, before m is updated.", lambda x: _step(x, sign_of_new_m=True)),
    Mistake("beta1-in-m", "update the buffer with beta1: m_t = beta2 * m + (1 - beta2) * grad.",
            lambda x: _step(x, m_beta=x["beta1"])),
    Mistake("no-sign", "step by c_t itself: Lion steps by its sign, lr * sign(c_t), so every coordinate "
            "moves by exactly lr.", lambda x: _step(x, no_sign=True)),
    Mistake("decay-after", "decay the already updated theta; the decay uses theta_{t-1}: "
            "theta - lr * (sign(c_t) + weight_decay * theta).", lambda x: _step(x, decay_after=True)),
    Mistake("decay-no-lr", "subtract weight_decay * theta without the learning rate: the decay is "
            "lr * weight_decay * theta, as in AdamW.", lambda x: _step(x, decay_lr=False)),
    Mistake("sign", "add the step instead of subtracting it (a sign error).", lambda x: _step(x, direction=1.0)),
]

_LION = Rule(
    "check_lion_step", "lion_step", ("theta", "grad", "m", "lr", "beta1", "beta2", "weight_decay"), ("theta", "m"),
    _reference, _MISTAKES,
    [{"hyper": {"lr": 0.1, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.5}, "shape": (5,), "steps": 6, "seed": 71},
     {"hyper": {"lr": 0.01, "beta1": 0.5, "beta2": 0.8, "weight_decay": 0.0}, "shape": (3, 2), "steps": 5,
      "seed": 72},
     {"hyper": {"lr": 0.3, "beta1": 0.95, "beta2": 0.98, "weight_decay": 0.1}, "shape": (4,), "steps": 4,
      "seed": 73, "scale": 0.1}],
    {"m": "beta2 * m + (1 - beta2) * grad (the buffer, updated after the step)",
     "theta": "theta - lr * (sign(c_t) + weight_decay * theta), with c_t = beta1 * m + (1 - beta1) * grad "
              "and the old m"},
    forbidden=_LIBRARY)


@exercise(_LION, label="mem-ex-lion", chapter="memory_optimizers", minutes=15, difficulty=1,
          task="Write one Lion step: the sign of an interpolation of momentum and gradient, decoupled decay.")
def check_lion_step(fn) -> CheckResult:
    """Check ``lion_step(theta, grad, m, lr, beta1, beta2, weight_decay) -> (theta, m)``:
    ``c_t = beta1 m + (1 - beta1) g``, ``theta_t = theta - lr (sign(c_t) + lambda theta)``,
    ``m_t = beta2 m + (1 - beta2) g``, with ``m`` starting at zero."""
    return run(_LION, fn)
