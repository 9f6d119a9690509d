"""Checks of the SGD family: heavy-ball momentum, Nesterov, weight decay, decoupled decay (SGDW).

The references are ``codebase.optim.sgd_update``; each check refuses ``torch.optim.SGD``
and the library's update rules.
"""
from __future__ import annotations

import torch

from .. import optim
from .engine import Mistake, run
from .results import CheckResult, exercise
from .rules import Rule

_SGD_LIBRARY = ("codebase.optim.sgd_update", "codebase.optim.SGD", "torch.optim.SGD",
                "torch.optim._functional.sgd")

def _ref_momentum(x, nesterov=False):
    theta, m = x["theta"], x["m"]
    optim.sgd_update(theta, x["grad"], m, lr=x["lr"], beta=x["beta"], nesterov=nesterov)
    return theta, m



def _ref_weight_decay(x):
    theta = x["theta"]
    optim.sgd_update(theta, x["grad"], None, lr=x["lr"], weight_decay=x["weight_decay"])
    return (theta,)



# ---- SGD with momentum ----------------------------------------------------------------

def _mom(x, buffer, direction, sign=-1.0):
    m = buffer(x)
    return x["theta"] + sign * x["lr"] * direction(x, m), m


_MOMENTUM_MISTAKES = [
    Mistake("ema", "use the moving-average form m = beta * m + (1 - beta) * grad; PyTorch's "
             "convention (the book's) adds the whole gradient: m = beta * m + grad.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + (1 - x["beta"]) * x["grad"], lambda x, m: m)),
    Mistake("lr-inside", "put the learning rate inside the buffer (m = beta * m + lr * grad; "
             "theta -= m, Sutskever's form): here lr multiplies the whole buffer, "
             "m = beta * m + grad; theta = theta - lr * m.",
             lambda x: (x["theta"] - (x["beta"] * x["m"] + x["lr"] * x["grad"]),
                        x["beta"] * x["m"] + x["lr"] * x["grad"])),
    Mistake("old-buffer", "step with the old buffer m_{t-1} and update it afterwards; update m "
             "first, then take the step with the new m_t.",
             lambda x: (x["theta"] - x["lr"] * x["m"], x["beta"] * x["m"] + x["grad"])),
    Mistake("sign", "add the step instead of subtracting it (a sign error): theta = theta - lr * m.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"], lambda x, m: m, sign=1.0)),
    Mistake("no-beta", "forget beta in the buffer (m = m + grad): the buffer must decay, "
             "m = beta * m + grad.",
             lambda x: _mom(x, lambda x: x["m"] + x["grad"], lambda x, m: m)),
    Mistake("nesterov", "take Nesterov's step grad + beta * m; plain momentum steps along m itself.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"], lambda x, m: x["grad"] + x["beta"] * m)),
]

_MOMENTUM_CASES = [
    {"hyper": {"lr": 0.1, "beta": 0.9}, "shape": (5,), "steps": 6, "seed": 1},
    {"hyper": {"lr": 0.03, "beta": 0.5}, "shape": (2, 3), "steps": 5, "seed": 2},
    {"hyper": {"lr": 0.5, "beta": 0.99}, "shape": (4,), "steps": 4, "seed": 3, "scale": 3.0},
]

_MOMENTUM = Rule(
    "check_momentum_step", "momentum_step", ("theta", "grad", "m", "lr", "beta"), ("theta", "m"),
    _ref_momentum, _MOMENTUM_MISTAKES, _MOMENTUM_CASES,
    {"m": "beta * m + grad (the new buffer m_t)", "theta": "theta - lr * m_t, with the new buffer m_t"},
    forbidden=_SGD_LIBRARY)


@exercise(_MOMENTUM, label="mom-ex-implement", chapter="momentum", minutes=10, difficulty=1,
          task="Write one step of SGD with heavy-ball momentum in PyTorch's form.")
def check_momentum_step(fn) -> CheckResult:
    """Check ``momentum_step(theta, grad, m, lr, beta) -> (theta, m)``.

    PyTorch's convention (the momentum chapter): ``m_t = beta * m_{t-1} + g_t`` and
    ``theta_t = theta_{t-1} - lr * m_t``, with ``m_0 = 0`` (so ``m_1 = g_1``).
    """
    return run(_MOMENTUM, fn)


# ---- Nesterov -------------------------------------------------------------------------

_NESTEROV_MISTAKES = [
    Mistake("heavy-ball", "take the heavy-ball step along m_t = grad + beta * m_{t-1} (the same as "
             "using the old buffer in grad + beta * m); Nesterov's step is along grad + beta * m_t, "
             "with the new buffer m_t.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"], lambda x, m: m)),
    Mistake("no-beta", "forget beta in the step (grad + m_t); the direction is grad + beta * m_t.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"], lambda x, m: x["grad"] + m)),
    Mistake("ema", "use the moving-average buffer m = beta * m + (1 - beta) * grad; PyTorch's "
             "convention adds the whole gradient: m = beta * m + grad.",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + (1 - x["beta"]) * x["grad"],
                            lambda x, m: x["grad"] + x["beta"] * m)),
    Mistake("sign", "add the step instead of subtracting it (a sign error).",
             lambda x: _mom(x, lambda x: x["beta"] * x["m"] + x["grad"],
                            lambda x, m: x["grad"] + x["beta"] * m, sign=1.0)),
]

_NESTEROV = Rule(
    "check_nesterov_step", "nesterov_step", ("theta", "grad", "m", "lr", "beta"), ("theta", "m"),
    lambda x: _ref_momentum(x, nesterov=True), _NESTEROV_MISTAKES, _MOMENTUM_CASES,
    {"m": "beta * m + grad (the new buffer m_t)",
     "theta": "theta - lr * (grad + beta * m_t), with the new buffer m_t"},
    forbidden=_SGD_LIBRARY)


@exercise(_NESTEROV, label="nag-ex-implement", chapter="nesterov", minutes=10, difficulty=2,
          task="Write one step of Nesterov momentum in PyTorch's look-ahead form.")
def check_nesterov_step(fn) -> CheckResult:
    """Check ``nesterov_step(theta, grad, m, lr, beta) -> (theta, m)``.

    PyTorch's form (the Nesterov chapter): ``m_t = beta * m_{t-1} + g_t`` and
    ``theta_t = theta_{t-1} - lr * (g_t + beta * m_t)``, with ``m_0 = 0``.
    """
    return run(_NESTEROV, fn)



# ---- SGD with weight decay (L2 on the gradient) --------------------------------------

_WEIGHT_DECAY_MISTAKES = [
    Mistake("no-lr", "subtract weight_decay * theta without the learning rate; the whole "
             "gradient, decay included, is multiplied by lr: theta - lr * (grad + weight_decay * theta).",
             lambda x: (x["theta"] - x["lr"] * x["grad"] - x["weight_decay"] * x["theta"],)),
    Mistake("decay-on-grad", "apply the decay to the gradient (weight_decay * grad); weight decay "
             "acts on the weights: grad + weight_decay * theta.",
             lambda x: (x["theta"] - x["lr"] * (x["grad"] + x["weight_decay"] * x["grad"]),)),
    Mistake("decay-sign", "add +lr * weight_decay * theta: the decay pulls theta towards 0, "
             "theta - lr * (grad + weight_decay * theta).",
             lambda x: (x["theta"] - x["lr"] * (x["grad"] - x["weight_decay"] * x["theta"]),)),
    Mistake("decay-after", "decay the already updated theta, (theta - lr * grad) * (1 - lr * weight_decay); "
             "both terms use theta_{t-1}: theta - lr * (grad + weight_decay * theta).",
             lambda x: ((x["theta"] - x["lr"] * x["grad"]) * (1 - x["lr"] * x["weight_decay"]),)),
    Mistake("half", "use the gradient weight_decay * theta / 2: the penalty is (lambda / 2) * sum(theta**2), "
             "whose gradient is lambda * theta.",
             lambda x: (x["theta"] - x["lr"] * (x["grad"] + 0.5 * x["weight_decay"] * x["theta"]),)),
    Mistake("no-decay", "leave out the weight decay term.",
             lambda x: (x["theta"] - x["lr"] * x["grad"],)),
    Mistake("sign", "add the gradient step instead of subtracting it (a sign error).",
             lambda x: (x["theta"] + x["lr"] * (x["grad"] + x["weight_decay"] * x["theta"]),)),
]

_WEIGHT_DECAY = Rule(
    "check_weight_decay_step", "sgd_weight_decay_step", ("theta", "grad", "lr", "weight_decay"), ("theta",),
    _ref_weight_decay, _WEIGHT_DECAY_MISTAKES,
    [{"hyper": {"lr": 0.1, "weight_decay": 0.5}, "shape": (5,), "steps": 4, "seed": 51},
     {"hyper": {"lr": 0.5, "weight_decay": 0.2}, "shape": (3, 2), "steps": 3, "seed": 52},
     {"hyper": {"lr": 0.01, "weight_decay": 3.0}, "shape": (4,), "steps": 3, "seed": 53}],
    {"theta": "theta - lr * (grad + weight_decay * theta)"}, theta_scale=2.0,
    forbidden=_SGD_LIBRARY)


@exercise(_WEIGHT_DECAY, label="reg-ex-weight-decay", chapter="regularization", minutes=5, difficulty=1,
          task="Write one SGD step with weight decay (the gradient of the L2 penalty added to grad).")
def check_weight_decay_step(fn) -> CheckResult:
    """Check ``sgd_weight_decay_step(theta, grad, lr, weight_decay) -> theta``:
    ``theta_t = theta_{t-1} - lr (g_t + lambda theta_{t-1})``, i.e. ``torch.optim.SGD(weight_decay=lambda)``."""
    return run(_WEIGHT_DECAY, fn)



# --------------------------------------------------------------------------------------
# SGD with momentum and decoupled weight decay (SGDW)
# --------------------------------------------------------------------------------------

def _ref_sgdw(x):
    w, m = x["w"], x["m"]
    w.mul_(1 - x["lr"] * x["lam"])
    optim.sgd_update(w, x["g"], m, lr=x["lr"], beta=x["beta"])
    if x["beta"] == 0:  # torch keeps no buffer then; by the formula m_t = g_t
        m = x["g"].clone()
    return w, m


def _sgdw(x, shrink, buffer_grad=None, after=False):
    g = x["g"] if buffer_grad is None else buffer_grad(x)
    m = x["beta"] * x["m"] + g
    if after:
        return (x["w"] - x["lr"] * m) * shrink(x), m
    return shrink(x) * x["w"] - x["lr"] * m, m


def _one(x):
    return 1.0


_SGDW_MISTAKES = [
    Mistake("coupled", "add lam * w to the gradient that enters the buffer (that is "
             "SGD(weight_decay=lam)); here the buffer holds the data gradient alone and the weights "
             "shrink directly: w = (1 - lr * lam) * w - lr * m.",
             lambda x: _sgdw(x, _one, buffer_grad=lambda x: x["g"] + x["lam"] * x["w"])),
    Mistake("no-lr", "shrink by (1 - lam) instead of (1 - lr * lam).",
             lambda x: _sgdw(x, lambda x: 1 - x["lam"])),
    Mistake("decay-after", "shrink the weights after the momentum step; the decay multiplies the old "
             "weights: w = (1 - lr * lam) * w - lr * m.",
             lambda x: _sgdw(x, lambda x: 1 - x["lr"] * x["lam"], after=True)),
    Mistake("no-decay", "leave out the decay: (1 - lr * lam) * w.", lambda x: _sgdw(x, _one)),
    Mistake("ema", "use the moving-average buffer m = beta * m + (1 - beta) * g; torch's convention "
             "is m = beta * m + g.",
             lambda x: _sgdw(x, lambda x: 1 - x["lr"] * x["lam"],
                             buffer_grad=lambda x: (1 - x["beta"]) * x["g"])),
]

_SGDW = Rule(
    "check_sgd_decoupled_step", "sgd_decoupled_step", ("w", "g", "m", "lr", "beta", "lam"), ("w", "m"),
    _ref_sgdw, _SGDW_MISTAKES,
    [{"hyper": {"lr": 0.1, "beta": 0.9, "lam": 0.2}, "shape": (5,), "steps": 6, "seed": 91},
     {"hyper": {"lr": 0.05, "beta": 0.5, "lam": 1.0}, "shape": (3, 2), "steps": 5, "seed": 92},
     {"hyper": {"lr": 0.3, "beta": 0.0, "lam": 0.5}, "shape": (4,), "steps": 3, "seed": 93}],
    {"m": "beta * m + g, from the data gradient alone",
     "w": "(1 - lr * lam) * w - lr * m_t, with the new buffer m_t"},
    theta_scale=2.0, theta_name="w", grad_name="g",
    forbidden=_SGD_LIBRARY + ("codebase.optim.AdamW", "torch.optim.AdamW"))


@exercise(_SGDW, label="reg-ex-momentum", chapter="regularization", minutes=10, difficulty=2,
          task="Write one step of SGD with momentum whose weight decay shrinks the weights, not the gradient.")
def check_sgd_decoupled_step(fn) -> CheckResult:
    """Check ``sgd_decoupled_step(w, g, m, lr, beta, lam) -> (w, m)`` (the parameters may be
    keyword-only): ``m_t = beta m_{t-1} + g_t`` from the data gradient alone and
    ``w_t = (1 - lr lam) w_{t-1} - lr m_t``. The buffer is given as zeros at the first step, so
    ``m_1 = g_1`` as in torch."""
    return run(_SGDW, fn)


