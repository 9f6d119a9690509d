"""Check of one RAdam step, against ``codebase.optim.radam.radam_update`` (torch's RAdam).

The cases run past step 6, where RAdam switches from momentum-SGD steps to rectified
adaptive ones for ``beta2`` = 0.999 and 0.99 (step 7 for 0.8), so that both branches and
the switch itself are compared.
"""
from __future__ import annotations

import math

from ..optim.radam import radam_update
from .adam import moments
from .engine import Mistake, run
from .results import CheckResult, exercise
from .rules import Rule

_RADAM_LIBRARY = ("codebase.optim.radam_update", "codebase.optim.RAdam", "codebase.optim.radam.radam_update",
                  "codebase.optim.radam.RAdam", "torch.optim.RAdam", "torch.optim._functional.radam")


def _ref_radam(x):
    theta, m, v = x["theta"], x["m"], x["v"]
    radam_update(theta, x["grad"], m, v, x["t"], lr=x["lr"], beta1=x["beta1"], beta2=x["beta2"], eps=x["eps"])
    return theta, m, v


def _radam(x, *, threshold=5.0, eps_adam=False, rectify=True, correct_sgd=True, adapt=True, always=False,
           sign=-1.0):
    """One RAdam step written out, with one of the typical mistakes switched on."""
    t, b1, b2, eps = x["t"], x["beta1"], x["beta2"], x["eps"]
    m, v = moments(x["m"], x["v"], x["grad"], b1, b2)
    m_hat = m / (1 - b1 ** t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    if always or (adapt and rho_t > threshold):
        r_t = 1.0
        if rectify and rho_t > 4:
            r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        if eps_adam:
            denom = (v / (1 - b2 ** t)).sqrt() + eps
        else:
            denom = (v.sqrt() + eps) / math.sqrt(1 - b2 ** t)
        step = x["lr"] * r_t * m_hat / denom
    else:
        step = x["lr"] * (m_hat if correct_sgd else m)
    return x["theta"] + sign * step, m, v


_RADAM_MISTAKES = [
    Mistake("adam", "take Adam's step at every t: RAdam takes momentum-SGD steps, theta - lr * m_hat, "
            "while rho_t <= 5, and multiplies the adaptive step by r_t after that.",
            lambda x: _radam(x, always=True, rectify=False, eps_adam=True)),
    Mistake("threshold-4", "switch to the adaptive step when rho_t > 4 (the paper's Algorithm 2); "
            "torch.optim.RAdam switches when rho_t > 5.", lambda x: _radam(x, threshold=4.0)),
    Mistake("eps-adam", "add eps to sqrt(v_hat), as Adam does; torch's RAdam adds eps to sqrt(v_t) "
            "and then multiplies by sqrt(1 - beta2**t): l_t = sqrt(1 - beta2**t) / (sqrt(v_t) + eps).",
            lambda x: _radam(x, eps_adam=True)),
    Mistake("no-rectification", "leave out the rectification r_t in the adaptive step.",
            lambda x: _radam(x, rectify=False)),
    Mistake("sgd-uncorrected", "use the uncorrected m_t in the momentum-SGD steps; they use "
            "m_hat = m_t / (1 - beta1**t) too.", lambda x: _radam(x, correct_sgd=False)),
    Mistake("never-adapts", "never take the adaptive step: check rho_t, which should exceed 5 after a "
            "few steps when beta2 is close to 1.", lambda x: _radam(x, adapt=False)),
    Mistake("sign", "add the step instead of subtracting it (a sign error).", lambda x: _radam(x, sign=1.0)),
]

_RADAM_CASES = [
    {"hyper": {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-3}, "shape": (5,), "steps": 8,
     "seed": 61, "scale": 0.05},
    {"hyper": {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-8}, "shape": (3, 2), "steps": 7, "seed": 62},
    {"hyper": {"lr": 0.3, "beta1": 0.5, "beta2": 0.8, "eps": 0.1}, "shape": (4,), "steps": 9, "seed": 63,
     "scale": 0.5},
]

_RADAM = Rule(
    "check_radam_step", "radam_step", ("theta", "grad", "m", "v", "t", "lr", "beta1", "beta2", "eps"),
    ("theta", "m", "v"), _ref_radam, _RADAM_MISTAKES, _RADAM_CASES,
    {"m": "beta1 * m + (1 - beta1) * grad (the new, uncorrected m_t)",
     "v": "beta2 * v + (1 - beta2) * grad**2 (the new, uncorrected v_t)",
     "theta": "theta - lr * r_t * m_hat * sqrt(1 - beta2**t) / (sqrt(v_t) + eps) when rho_t > 5, "
              "else theta - lr * m_hat, with m_hat = m_t / (1 - beta1**t)"},
    forbidden=_RADAM_LIBRARY)


@exercise(_RADAM, label="av-ex-radam", chapter="adam_variants", minutes=20, difficulty=2,
          task="Write one RAdam step, with the rectification and torch's threshold rho_t > 5.")
def check_radam_step(fn) -> CheckResult:
    """Check ``radam_step(theta, grad, m, v, t, lr, beta1, beta2, eps) -> (theta, m, v)``.

    Adam's moments ``m_t``, ``v_t`` and ``m_hat = m_t / (1 - beta1^t)``; with ``rho_t``,
    ``rho_inf`` and ``r_t`` as the chapter defines them (``codebase.optim.radam.radam_rho``),
    the step is ``theta - lr r_t m_hat sqrt(1 - beta2^t) / (sqrt(v_t) + eps)`` when
    ``rho_t > 5`` and ``theta - lr m_hat`` otherwise, as in ``torch.optim.RAdam``. The
    returned ``m``, ``v`` are the uncorrected moments.
    """
    return run(_RADAM, fn)
