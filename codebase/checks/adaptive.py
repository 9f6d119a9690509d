"""Checks of the adaptive methods before Adam: AdaGrad, RMSProp (plain and bias-corrected), AdaDelta.

The references are ``codebase.optim``'s update rules; each check refuses them and the
matching ``torch.optim`` class.
"""
from __future__ import annotations

import torch

from .. import optim
from .engine import Mistake, run
from .outputs import DTYPE
from .results import CheckResult, exercise
from .rules import Rule

_RMSPROP_LIBRARY = ("codebase.optim.rmsprop_update", "codebase.optim.RMSprop", "torch.optim.RMSprop")
_ADAM_LIBRARY = ("codebase.optim.adam_update", "codebase.optim.Adam", "torch.optim.Adam")

def _ref_adagrad(x):
    theta, s = x["theta"], x["s"]
    optim.adagrad_update(theta, x["grad"], s, 1, lr=x["lr"], eps=x["eps"])
    return theta, s


def _ref_rmsprop(x):
    theta, v = x["theta"], x["v"]
    optim.rmsprop_update(theta, x["grad"], v, lr=x["lr"], rho=x["rho"], eps=x["eps"])
    return theta, v


def _ref_rmsprop_bc(x):
    # bias-corrected RMSProp is Adam without momentum: beta1 = 0 makes m_hat_t = g_t
    theta, v = x["theta"], x["v"]
    optim.adam_update(theta, x["grad"], torch.zeros_like(theta), v, x["t"], lr=x["lr"],
                         beta1=0.0, beta2=x["rho"], eps=x["eps"])
    return theta, v


def _ref_adadelta(x):
    theta, v, u = x["theta"], x["v"], x["u"]
    optim.adadelta_update(theta, x["grad"], v, u, lr=x["lr"], rho=x["rho"], eps=x["eps"])
    return theta, v, u



# ---- AdaGrad --------------------------------------------------------------------------

def _ada(x, s, denom, sign=-1.0):
    return x["theta"] + sign * x["lr"] * x["grad"] / denom(x, s), s


_ADAGRAD_MISTAKES = [
    Mistake("eps-inside", "put eps inside the square root, sqrt(s + eps); the book adds it after "
             "the root: grad / (sqrt(s_t) + eps).",
             lambda x: _ada(x, x["s"] + x["grad"] ** 2, lambda x, s: torch.sqrt(s + x["eps"]))),
    Mistake("old-s", "divide by the old sum s_{t-1}; add grad**2 to s first, then divide by "
             "sqrt(s_t) + eps.",
             lambda x: _ada(x, x["s"] + x["grad"] ** 2, lambda x, s: torch.sqrt(x["s"]) + x["eps"])),
    Mistake("no-square", "accumulate grad instead of grad**2; s is a sum of squared gradients.",
             lambda x: _ada(x, x["s"] + x["grad"], lambda x, s: torch.sqrt(s) + x["eps"])),
    Mistake("no-sqrt", "divide by s instead of its square root: grad / (sqrt(s_t) + eps).",
             lambda x: _ada(x, x["s"] + x["grad"] ** 2, lambda x, s: s + x["eps"])),
    Mistake("sign", "add the step instead of subtracting it (a sign error).",
             lambda x: _ada(x, x["s"] + x["grad"] ** 2, lambda x, s: torch.sqrt(s) + x["eps"], sign=1.0)),
]

_ADAGRAD = Rule(
    "check_adagrad_step", "adagrad_step", ("theta", "grad", "s", "lr", "eps"), ("theta", "s"),
    _ref_adagrad, _ADAGRAD_MISTAKES,
    [{"hyper": {"lr": 0.1, "eps": 1e-2}, "shape": (5,), "steps": 6, "seed": 11, "scale": 0.3},
     {"hyper": {"lr": 1.0, "eps": 1e-10}, "shape": (3, 2), "steps": 5, "seed": 12},
     {"hyper": {"lr": 0.5, "eps": 0.1}, "shape": (4,), "steps": 4, "seed": 13, "scale": 2.0}],
    {"s": "s + grad**2 (the new sum s_t)", "theta": "theta - lr * grad / (sqrt(s_t) + eps)"},
    forbidden=("codebase.optim.adagrad_update", "codebase.optim.Adagrad", "torch.optim.Adagrad"))


@exercise(_ADAGRAD, label="adagrad-ex-implement", chapter="adagrad", minutes=10, difficulty=1,
          task="Write one AdaGrad step: accumulate squared gradients, divide the step by their root.")
def check_adagrad_step(fn) -> CheckResult:
    """Check ``adagrad_step(theta, grad, s, lr, eps) -> (theta, s)``:
    ``s_t = s_{t-1} + g_t^2``, ``theta_t = theta_{t-1} - lr * g_t / (sqrt(s_t) + eps)``, ``s_0 = 0``."""
    return run(_ADAGRAD, fn)


# ---- RMSProp --------------------------------------------------------------------------

def _rms_v(x):
    return x["rho"] * x["v"] + (1 - x["rho"]) * x["grad"] ** 2


_RMSPROP_MISTAKES = [
    Mistake("eps-inside", "put eps inside the square root, sqrt(v + eps); the book (and torch) add "
             "it after the root: grad / (sqrt(v_t) + eps).",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(v + x["eps"]))),
    Mistake("swapped-rho", "swap rho and 1 - rho: the old average keeps the weight rho, "
             "v = rho * v + (1 - rho) * grad**2.",
             lambda x: _ada(x, (1 - x["rho"]) * x["v"] + x["rho"] * x["grad"] ** 2,
                            lambda x, v: torch.sqrt(v) + x["eps"])),
    Mistake("old-v", "divide by the old average v_{t-1}; update v first, then divide by sqrt(v_t) + eps.",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(x["v"]) + x["eps"])),
    Mistake("no-sqrt", "divide by v instead of its square root: grad / (sqrt(v_t) + eps).",
             lambda x: _ada(x, _rms_v(x), lambda x, v: v + x["eps"])),
    Mistake("sign", "add the step instead of subtracting it (a sign error).",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(v) + x["eps"], sign=1.0)),
]

_RMSPROP_CASES = [
    {"hyper": {"lr": 0.01, "rho": 0.9, "eps": 1e-2}, "shape": (5,), "steps": 6, "seed": 21, "scale": 0.3},
    {"hyper": {"lr": 0.1, "rho": 0.99, "eps": 1e-8}, "shape": (3, 2), "steps": 5, "seed": 22},
    {"hyper": {"lr": 0.05, "rho": 0.5, "eps": 0.1}, "shape": (4,), "steps": 4, "seed": 23, "scale": 2.0},
]

_RMSPROP = Rule(
    "check_rmsprop_step", "rmsprop_step", ("theta", "grad", "v", "lr", "rho", "eps"), ("theta", "v"),
    _ref_rmsprop, _RMSPROP_MISTAKES, _RMSPROP_CASES,
    {"v": "rho * v + (1 - rho) * grad**2 (the new average v_t)",
     "theta": "theta - lr * grad / (sqrt(v_t) + eps)"},
    forbidden=_RMSPROP_LIBRARY)


@exercise(_RMSPROP, label="rmsprop-ex-implement", chapter="rmsprop", minutes=10, difficulty=1,
          task="Write one RMSProp step: a moving average of squared gradients divides the step.")
def check_rmsprop_step(fn) -> CheckResult:
    """Check ``rmsprop_step(theta, grad, v, lr, rho, eps) -> (theta, v)``:
    ``v_t = rho v_{t-1} + (1 - rho) g_t^2``, ``theta_t = theta_{t-1} - lr g_t / (sqrt(v_t) + eps)``."""
    return run(_RMSPROP, fn)


def _bc(x, v, power_t):
    return torch.sqrt(v / (1 - torch.tensor(x["rho"], dtype=DTYPE) ** power_t)) + x["eps"]


_RMSPROP_BC_MISTAKES = [
    Mistake("no-bias-correction", "leave out the bias correction: divide by "
             "sqrt(v_t / (1 - rho**t)) + eps, not by sqrt(v_t) + eps.",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(v) + x["eps"])),
    Mistake("t-minus-1", "use t - 1 in the correction (an off-by-one in the step count): t starts at 1, "
             "and the correction is 1 - rho**t.",
             lambda x: _ada(x, _rms_v(x), lambda x, v: _bc(x, v, x["t"] - 1))),
    Mistake("t-plus-1", "use t + 1 in the correction (an off-by-one in the step count): the "
             "correction at step t is 1 - rho**t.",
             lambda x: _ada(x, _rms_v(x), lambda x, v: _bc(x, v, x["t"] + 1))),
    Mistake("eps-inside", "put eps inside the square root; add it after the root: "
             "grad / (sqrt(v_t / (1 - rho**t)) + eps).",
             lambda x: _ada(x, _rms_v(x), lambda x, v: torch.sqrt(v / (1 - x["rho"] ** x["t"]) + x["eps"]))),
    Mistake("corrected-state", "return the corrected average as the new state; the state is the "
             "uncorrected v_t, the correction is only used in the step.",
             lambda x: (_ada(x, _rms_v(x), lambda x, v: _bc(x, v, x["t"]))[0],
                        _rms_v(x) / (1 - x["rho"] ** x["t"]))),
]

_RMSPROP_BC = Rule(
    "check_rmsprop_bias_corrected_step", "rmsprop_bc_step", ("theta", "grad", "v", "t", "lr", "rho", "eps"),
    ("theta", "v"), _ref_rmsprop_bc, _RMSPROP_BC_MISTAKES, _RMSPROP_CASES,
    {"v": "rho * v + (1 - rho) * grad**2 (uncorrected: the correction is only used in the step)",
     "theta": "theta - lr * grad / (sqrt(v_t / (1 - rho**t)) + eps)"},
    forbidden=_RMSPROP_LIBRARY + _ADAM_LIBRARY)


@exercise(_RMSPROP_BC, label="rmsprop-ex-bias", chapter="rmsprop", minutes=10, difficulty=2,
          task="Write one step of RMSProp that divides by the bias-corrected average sqrt(v_t / (1 - rho^t)).")
def check_rmsprop_bias_corrected_step(fn) -> CheckResult:
    """Check ``rmsprop_bc_step(theta, grad, v, t, lr, rho, eps) -> (theta, v)``:
    ``v_t = rho v_{t-1} + (1 - rho) g_t^2`` and
    ``theta_t = theta_{t-1} - lr g_t / (sqrt(v_t / (1 - rho^t)) + eps)``, ``t`` from 1."""
    return run(_RMSPROP_BC, fn)


# ---- AdaDelta -------------------------------------------------------------------------

def _adadelta(x, numerator, denominator, u_from="delta", sign=-1.0):
    v = _rms_v(x)
    delta = numerator(x) / denominator(x, v) * x["grad"]
    u_source = delta if u_from == "delta" else x["grad"]
    u = x["rho"] * x["u"] + (1 - x["rho"]) * u_source ** 2
    return x["theta"] + sign * x["lr"] * delta, v, u


def _adadelta_u_first(x):
    v = _rms_v(x)
    # the common slip: u updated with the previous step before the new step is formed
    delta0 = torch.sqrt(x["u"] + x["eps"]) / torch.sqrt(v + x["eps"]) * x["grad"]
    u = x["rho"] * x["u"] + (1 - x["rho"]) * delta0 ** 2
    delta = torch.sqrt(u + x["eps"]) / torch.sqrt(v + x["eps"]) * x["grad"]
    return x["theta"] - x["lr"] * delta, v, u


_ADADELTA_MISTAKES = [
    Mistake("eps-outside", "add eps outside the square roots; AdaDelta puts eps inside both: "
             "sqrt(u_{t-1} + eps) / sqrt(v_t + eps).",
             lambda x: _adadelta(x, lambda x: torch.sqrt(x["u"]) + x["eps"],
                                 lambda x, v: torch.sqrt(v) + x["eps"])),
    Mistake("u-grad", "average squared gradients into u; u averages the squared updates delta_t**2.",
             lambda x: _adadelta(x, lambda x: torch.sqrt(x["u"] + x["eps"]),
                                 lambda x, v: torch.sqrt(v + x["eps"]), u_from="grad")),
    Mistake("u-first", "update u before forming the step; the numerator uses the old u_{t-1}.",
             _adadelta_u_first),
    Mistake("old-v", "divide by the old average v_{t-1}; update v first, then divide by sqrt(v_t + eps).",
             lambda x: _adadelta(x, lambda x: torch.sqrt(x["u"] + x["eps"]),
                                 lambda x, v: torch.sqrt(x["v"] + x["eps"]))),
    Mistake("sign", "add the step instead of subtracting it (a sign error).",
             lambda x: _adadelta(x, lambda x: torch.sqrt(x["u"] + x["eps"]),
                                 lambda x, v: torch.sqrt(v + x["eps"]), sign=1.0)),
]

_ADADELTA = Rule(
    "check_adadelta_step", "adadelta_step", ("theta", "grad", "v", "u", "lr", "rho", "eps"),
    ("theta", "v", "u"), _ref_adadelta, _ADADELTA_MISTAKES,
    [{"hyper": {"lr": 1.0, "rho": 0.9, "eps": 1e-2}, "shape": (5,), "steps": 6, "seed": 31, "scale": 0.3},
     {"hyper": {"lr": 0.5, "rho": 0.95, "eps": 1e-6}, "shape": (3, 2), "steps": 5, "seed": 32},
     {"hyper": {"lr": 2.0, "rho": 0.5, "eps": 0.1}, "shape": (4,), "steps": 4, "seed": 33, "scale": 2.0}],
    {"v": "rho * v + (1 - rho) * grad**2",
     "u": "rho * u + (1 - rho) * delta**2, with delta = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * grad",
     "theta": "theta - lr * delta, with delta = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * grad"},
    forbidden=("codebase.optim.adadelta_update", "codebase.optim.Adadelta", "torch.optim.Adadelta"))


@exercise(_ADADELTA, label="adadelta-ex-implement", chapter="adadelta", minutes=15, difficulty=2,
          task="Write one AdaDelta step with its two moving averages.")
def check_adadelta_step(fn) -> CheckResult:
    """Check ``adadelta_step(theta, grad, v, u, lr, rho, eps) -> (theta, v, u)`` (torch's form,
    ``lr = 1`` is Zeiler's method): ``v_t = rho v + (1 - rho) g^2``,
    ``delta_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) g_t``, ``u_t = rho u + (1 - rho) delta_t^2``,
    ``theta_t = theta_{t-1} - lr delta_t``."""
    return run(_ADADELTA, fn)


