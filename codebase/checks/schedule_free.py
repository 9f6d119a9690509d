"""Check of one schedule-free SGD step (uniform averaging, c_t = 1/t), against
``codebase.optim.schedule_free_sgd_update``."""
from __future__ import annotations

from .. import optim
from .engine import Mistake, run
from .results import CheckResult, exercise
from .rules import Rule


def _ref_sf_sgd(x):
    y, z = x["y"], x["z"]
    optim.schedule_free_sgd_update(y, x["grad"], z, lr=x["lr"], beta=x["beta"], c=1 / x["t"])
    return y, z


def _sf_sgd(x, c=None, swap=False, old_z=False, from_y=False, sign=-1.0, give_x=False):
    """One schedule-free SGD step through the average x, with one of the typical mistakes switched on."""
    beta, lr, t = x["beta"], x["lr"], x["t"]
    c = 1 / t if c is None else c
    w = 1 - beta if swap else beta                       # the weight of x in y
    x_prev = (x["y"] - (1 - w) * x["z"]) / w             # x_{t-1}, recovered from y and z
    z = (x["y"] if from_y else x["z"]) + sign * lr * x["grad"]
    avg = (1 - c) * x_prev + c * (x["z"] if old_z else z)
    return (avg if give_x else (1 - w) * z + w * avg), z


_SF_SGD_MISTAKES = [
    Mistake("c-t-plus-1", "use c_t = 1/(t + 1): t starts at 1, and the average of one iterate is "
            "that iterate (c_1 = 1, x_1 = z_1).", lambda x: _sf_sgd(x, c=1 / (x["t"] + 1))),
    Mistake("swapped-beta", "swap beta and 1 - beta: y = (1 - beta) * z + beta * x, so beta is the "
            "weight of the average.", lambda x: _sf_sgd(x, swap=True)),
    Mistake("old-z", "average the old iterate z_{t-1} into x; take the SGD step first, then "
            "x_t = (1 - c_t) * x_{t-1} + c_t * z_t.", lambda x: _sf_sgd(x, old_z=True)),
    Mistake("from-y", "take the SGD step from y (z = y - lr * grad): the gradient is taken at y, "
            "but the step moves z, z_t = z_{t-1} - lr * grad.", lambda x: _sf_sgd(x, from_y=True)),
    Mistake("sign", "add the gradient step instead of subtracting it (a sign error).",
            lambda x: _sf_sgd(x, sign=1.0)),
    Mistake("returns-x", "return the average x_t in place of y_t: the parameters hold y during "
            "training, y_t = (1 - beta) * z_t + beta * x_t.", lambda x: _sf_sgd(x, give_x=True)),
]

_SF_SGD = Rule(
    "check_sf_sgd_step", "sf_sgd_step", ("y", "z", "grad", "t", "lr", "beta"), ("y", "z"),
    _ref_sf_sgd, _SF_SGD_MISTAKES,
    [{"hyper": {"lr": 0.1, "beta": 0.9}, "shape": (5,), "steps": 6, "seed": 61},
     {"hyper": {"lr": 0.5, "beta": 0.5}, "shape": (3, 2), "steps": 5, "seed": 62},
     {"hyper": {"lr": 0.02, "beta": 0.98}, "shape": (4,), "steps": 4, "seed": 63, "scale": 3.0}],
    {"z": "z - lr * grad (the SGD step moves z)",
     "y": "(1 - beta) * z_t + beta * x_t, with x_t = (1 - 1/t) * x_{t-1} + (1/t) * z_t and "
          "x_{t-1} = (y - (1 - beta) * z) / beta"},
    theta_name="y",
    forbidden=("codebase.optim.schedule_free_sgd_update", "codebase.optim.ScheduleFreeSGD",
               "schedulefree.SGDScheduleFree"))


@exercise(_SF_SGD, label="sf-ex-step", chapter="schedule_free", minutes=20, difficulty=2,
          task="Write one schedule-free SGD step with uniform averaging, c_t = 1/t.")
def check_sf_sgd_step(fn) -> CheckResult:
    """Check ``sf_sgd_step(y, z, grad, t, lr, beta) -> (y, z)``: one schedule-free SGD step with
    ``c_t = 1/t``: ``z_t = z - lr g``, ``x_t = (1 - c_t) x_{t-1} + c_t z_t`` with
    ``x_{t-1} = (y - (1 - beta) z) / beta``, and ``y_t = (1 - beta) z_t + beta x_t``."""
    return run(_SF_SGD, fn)
