"""Checks of Adam: one Adam step and one AdamW step.

The references are ``codebase.optim.adam_update`` and ``adamw_update``; the checks refuse
them (``adam_update`` is allowed in the AdamW exercise, which is about the decay) and
``torch.optim.Adam``/``AdamW``.
"""
from __future__ import annotations

import torch

from .. import optim
from .engine import Mistake, run
from .outputs import DTYPE
from .results import CheckResult, exercise
from .rules import Rule

_ADAM_LIBRARY = ("codebase.optim.adam_update", "codebase.optim.adamw_update", "codebase.optim.Adam",
                 "codebase.optim.AdamW", "torch.optim.Adam", "torch.optim.AdamW", "torch.optim._functional.adam")

def _ref_adam(x):
    theta, m, v = x["theta"], x["m"], x["v"]
    optim.adam_update(theta, x["grad"], m, v, x["t"], lr=x["lr"], beta1=x["beta1"],
                         beta2=x["beta2"], eps=x["eps"])
    return theta, m, v


def _ref_adamw(x):
    theta, m, v = x["theta"], x["m"], x["v"]
    optim.adamw_update(theta, x["grad"], m, v, x["t"], lr=x["lr"], beta1=x["beta1"],
                          beta2=x["beta2"], eps=x["eps"], weight_decay=x["weight_decay"])
    return theta, m, v



# ---- Adam -----------------------------------------------------------------------------

def moments(m, v, g, beta1, beta2):
    """Adam's moving averages ``m_t = beta1 m + (1 - beta1) g`` and ``v_t = beta2 v + (1 - beta2) g^2``,
    written out for the checks' wrong answers (RAdam's reuses them)."""
    return beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g ** 2


def _adam(x, *, b1_power=None, b2_power=None, correct_m=True, correct_v=True, eps_inside=False,
          sign=-1.0, swap=False, wrong_weights=False, old=False, eps_hat=False, decay_grad=0.0):
    t = x["t"]
    b1, b2 = (x["beta2"], x["beta1"]) if swap else (x["beta1"], x["beta2"])
    g = x["grad"] + decay_grad * x["theta"]
    if wrong_weights:
        m = (1 - b1) * x["m"] + b1 * g
        v = (1 - b2) * x["v"] + b2 * g ** 2
    else:
        m, v = moments(x["m"], x["v"], g, b1, b2)
    m_use, v_use = (x["m"], x["v"]) if old else (m, v)
    p1 = t if b1_power is None else b1_power
    p2 = t if b2_power is None else b2_power
    c1 = 1 - torch.tensor(b1, dtype=DTYPE) ** p1 if correct_m else 1.0
    c2 = 1 - torch.tensor(b2, dtype=DTYPE) ** p2 if correct_v else 1.0
    if eps_hat:  # Kingma & Ba's "efficient" ordering: alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t)
        step = x["lr"] * torch.sqrt(torch.as_tensor(c2, dtype=DTYPE)) / c1 * m_use / (torch.sqrt(v_use) + x["eps"])
    elif eps_inside:
        step = x["lr"] * (m_use / c1) / torch.sqrt(v_use / c2 + x["eps"])
    else:
        step = x["lr"] * (m_use / c1) / (torch.sqrt(v_use / c2) + x["eps"])
    return x["theta"] + sign * step, m, v


_ADAM_MISTAKES = [
    Mistake("eps-inside", "put eps inside the square root, sqrt(v_hat + eps); the book adds eps "
             "after the root: m_hat / (sqrt(v_hat) + eps).", lambda x: _adam(x, eps_inside=True)),
    Mistake("no-bias-correction", "leave out the bias correction: use m_hat = m_t / (1 - beta1**t) "
             "and v_hat = v_t / (1 - beta2**t) in the step.",
             lambda x: _adam(x, correct_m=False, correct_v=False)),
    Mistake("no-bias-correction-m", "leave out the bias correction of m: m_hat = m_t / (1 - beta1**t).",
             lambda x: _adam(x, correct_m=False)),
    Mistake("no-bias-correction-v", "leave out the bias correction of v: v_hat = v_t / (1 - beta2**t).",
             lambda x: _adam(x, correct_v=False)),
    Mistake("t-minus-1", "use t - 1 in the bias correction (an off-by-one in the step count): t starts "
             "at 1 and the correction is 1 - beta**t.",
             lambda x: _adam(x, b1_power=x["t"] - 1, b2_power=x["t"] - 1)),
    Mistake("t-plus-1", "use t + 1 in the bias correction (an off-by-one in the step count): at step t "
             "the correction is 1 - beta**t, and t is already counted from 1.",
             lambda x: _adam(x, b1_power=x["t"] + 1, b2_power=x["t"] + 1)),
    Mistake("eps-hat", "use Kingma & Ba's reordered form lr * sqrt(1 - beta2**t) / (1 - beta1**t) * "
             "m / (sqrt(v) + eps), whose eps is a different constant; the book adds eps to sqrt(v_hat).",
             lambda x: _adam(x, eps_hat=True)),
    Mistake("swapped-betas", "swap beta1 and beta2: beta1 goes with m (the gradients), beta2 with v "
             "(the squared gradients).", lambda x: _adam(x, swap=True)),
    Mistake("swapped-weights", "swap beta and 1 - beta in the averages: m = beta1 * m + (1 - beta1) * grad.",
             lambda x: _adam(x, wrong_weights=True)),
    Mistake("old-moments", "take the step with the old moments m_{t-1}, v_{t-1}; update m and v first.",
             lambda x: _adam(x, old=True)),
    Mistake("sign", "add the step instead of subtracting it (a sign error).", lambda x: _adam(x, sign=1.0)),
]

_ADAM_CASES = [
    {"hyper": {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-3}, "shape": (5,), "steps": 6,
     "seed": 41, "scale": 0.05},
    {"hyper": {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-8}, "shape": (3, 2), "steps": 5, "seed": 42},
    {"hyper": {"lr": 0.3, "beta1": 0.5, "beta2": 0.9, "eps": 0.1}, "shape": (4,), "steps": 4, "seed": 43,
     "scale": 0.5},
]

_ADAM = Rule(
    "check_adam_step", "adam_step", ("theta", "grad", "m", "v", "t", "lr", "beta1", "beta2", "eps"),
    ("theta", "m", "v"), _ref_adam, _ADAM_MISTAKES, _ADAM_CASES,
    {"m": "beta1 * m + (1 - beta1) * grad (the new, uncorrected m_t)",
     "v": "beta2 * v + (1 - beta2) * grad**2 (the new, uncorrected v_t)",
     "theta": "theta - lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m_t / (1 - beta1**t) and "
              "v_hat = v_t / (1 - beta2**t)"},
    forbidden=_ADAM_LIBRARY)


@exercise(_ADAM, label="adam-ex-implement", chapter="adam", minutes=15, difficulty=2,
          task="Write one Adam step with bias correction.")
def check_adam_step(fn) -> CheckResult:
    """Check ``adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps) -> (theta, m, v)``.

    ``m_t = beta1 m + (1 - beta1) g``, ``v_t = beta2 v + (1 - beta2) g^2``,
    ``theta_t = theta - lr m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m_t / (1 - beta1^t)``,
    ``v_hat = v_t / (1 - beta2^t)``; ``t`` starts at 1 and ``m``, ``v`` at zero. The
    returned ``m``, ``v`` are the uncorrected moments.
    """
    return run(_ADAM, fn)


def _adamw(x, factor=None, after=False, sign=1.0):
    theta, m, v = _adam({**x, "theta": x["theta"]})
    step = theta - x["theta"]
    shrink = 1 - sign * x["lr"] * x["weight_decay"] if factor is None else factor(x)
    if after:
        return (x["theta"] + step) * shrink, m, v
    return x["theta"] * shrink + step, m, v


_ADAMW_MISTAKES = [
    Mistake("l2", "add weight_decay * theta to the gradient: that is an L2 penalty inside Adam "
             "(torch.optim.Adam's weight_decay), which m and v then carry and sqrt(v_hat) divides. "
             "AdamW decays the weights directly: theta = theta * (1 - lr * weight_decay), then "
             "Adam's step on the bare gradient.",
             lambda x: _adam(x, decay_grad=x["weight_decay"])),
    Mistake("no-lr", "shrink by (1 - weight_decay) instead of (1 - lr * weight_decay): in PyTorch's "
             "AdamW the decay is multiplied by the learning rate.",
             lambda x: _adamw(x, factor=lambda x: 1 - x["weight_decay"])),
    Mistake("decay-after", "apply the decay to the updated theta, after Adam's step; decay "
             "theta_{t-1}: theta * (1 - lr * weight_decay) - lr * m_hat / (sqrt(v_hat) + eps).",
             lambda x: _adamw(x, after=True)),
    Mistake("decay-sign", "grow theta by (1 + lr * weight_decay): the decay shrinks, (1 - lr * weight_decay).",
             lambda x: _adamw(x, sign=-1.0)),
    Mistake("no-decay", "leave out the weight decay: plain Adam is not AdamW.", lambda x: _adam(x)),
    Mistake("eps-inside", "put eps inside the square root; AdamW's Adam part adds eps after the root.",
             lambda x: _adamw_eps_inside(x)),
    Mistake("no-bias-correction", "leave out Adam's bias correction (m_hat = m_t / (1 - beta1**t), "
             "v_hat = v_t / (1 - beta2**t)).", lambda x: _adamw_nobc(x)),
]


def _adamw_eps_inside(x):
    theta, m, v = _adam(x, eps_inside=True)
    return theta - x["lr"] * x["weight_decay"] * x["theta"], m, v


def _adamw_nobc(x):
    theta, m, v = _adam(x, correct_m=False, correct_v=False)
    return theta - x["lr"] * x["weight_decay"] * x["theta"], m, v


_ADAMW = Rule(
    "check_adamw_step", "adamw_step",
    ("theta", "grad", "m", "v", "t", "lr", "beta1", "beta2", "eps", "weight_decay"),
    ("theta", "m", "v"), _ref_adamw, _ADAMW_MISTAKES,
    [{"hyper": {**c["hyper"], "weight_decay": wd}, **{k: c[k] for k in c if k != "hyper"}}
     for c, wd in zip(_ADAM_CASES, (0.5, 0.1, 0.05))],
    {"m": "beta1 * m + (1 - beta1) * grad, with the bare gradient (no decay term)",
     "v": "beta2 * v + (1 - beta2) * grad**2, with the bare gradient (no decay term)",
     "theta": "theta * (1 - lr * weight_decay) - lr * m_hat / (sqrt(v_hat) + eps)"},
    theta_scale=3.0,
    forbidden=("codebase.optim.adamw_update", "codebase.optim.AdamW", "torch.optim.AdamW", "torch.optim.Adam"))


@exercise(_ADAMW, label="adam-ex-adamw", chapter="adam", minutes=15, difficulty=2,
          task="Write one AdamW step: decoupled weight decay, then Adam's step on the bare gradient.")
def check_adamw_step(fn) -> CheckResult:
    """Check ``adamw_step(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay) -> (theta, m, v)``:
    ``theta' = theta (1 - lr lambda)``, then Adam's step (bias-corrected) on ``theta'`` with the
    bare gradient, as ``torch.optim.AdamW``."""
    return run(_ADAMW, fn)



# --------------------------------------------------------------------------------------
# Adam on lists of tensors (foreach)
# --------------------------------------------------------------------------------------
