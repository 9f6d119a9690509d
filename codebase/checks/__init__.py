"""Checks for the coding exercises: call ``check_<name>(your_function)`` in a notebook.

Each check runs the student's function on several seeded random inputs and for several
steps, compares every output with the reference implementation in ``codebase``
(``optim``, ``schedules``, ``init``, ``regularization``, ``clipping``, ``nn``) and returns a
``CheckResult``. Update rules are run step by step, each step starting from the
reference's state, so that a mistake in the state (a missing bias correction, a wrong
buffer) is found at the first step where it shows; random initializers and samplers are
checked statistically on tens of thousands of seeded draws. A failed result says which step
and which element first differ, the expected and the obtained value, and a hint: when the
wrong output is exactly what a known mistake gives (``eps`` inside the square root, no bias
correction, a sign error, a step counted from 1 instead of 0...), the hint names that
mistake. ::

    from codebase.checks import check_adam_step

    def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
        ...
        return theta, m, v

    check_adam_step(adam_step)                      # a green or red box in Jupyter
    check_adam_step(adam_step).raise_for_failure()  # for autograders (or: assert check_...)

The student's function runs in a separate process (forked), with a time limit of
``TIME_LIMIT`` seconds per call and its prints captured; its outputs come back as plain
data and the verdict is given here, so the function cannot change the check's own code or
result. A check never raises because of the function it is given: a non-callable, a
function that raises, calls ``sys.exit``, loops forever, returns ``None``, the wrong number
of values, the wrong shape or dtype, NaN or infinity, all give a failed result whose
message says what to fix. A function that calls the library's solution of a "write it
yourself" exercise (``adamw_update`` for AdamW...) gets no points.

Conventions for the functions students write (the book's notation, see the notation page):

- the arguments are passed by name when the function uses the signature's names, else by
  position;
- tensors in, tensors out; the functions may work in place or out of place, but must
  *return* the new values (``theta`` and the new optimizer state, in the order of the
  signature); inputs are float64 tensors and outputs must keep their shape (float32 results
  are compared at float32 precision, with a note); the exception is ``foreach_adam``, which
  updates its lists in place and returns nothing;
- optimizer states (``m``, ``v``, ``s``, ``u``) start at zero; the step ``t`` starts at 1;
- the learning rate is ``lr`` (alpha), the momentum coefficient ``beta``, RMSProp's decay
  rate ``rho``, Adam's ``beta1``, ``beta2``, the weight decay ``weight_decay`` (lambda);
- schedules take ``k``, the number of steps already taken (0, 1, 2, ...), as in
  ``codebase.schedules``;
- initializers take ``(n_in, n_out, generator)`` and return a weight of shape
  ``(n_out, n_in)``, as ``torch.nn.Linear`` stores it.

``EXERCISES`` maps each exercise label to its check, the signature to write, a
one-line task, the chapter, an estimated time in minutes and a difficulty from 1 to 3.
For graders that must not run student code: ``cases_for``, ``compute_outputs``
and ``grade_outputs`` (see ``codebase.checks.grading``).

Adding checks: write a module in this package that defines a spec (a
``Rule`` for an update rule, a
``Compared`` subclass for other comparisons with a reference,
or a ``Spec`` with ``calls`` and ``judge`` for statistical
checks) and a ``check_<name>(fn)`` decorated with ``@exercise(spec, label=..., chapter=...,
task=..., minutes=..., difficulty=...)`` that returns ``run(spec, fn)``; import it below and
add the check's name to ``__all__``. ``tests/test_checks_mistakes.py`` then requires at least
three known mistakes, each failing the check.
"""
from __future__ import annotations

from .adam import check_adam_step, check_adamw_step
from .adaptive import (check_adadelta_step, check_adagrad_step, check_rmsprop_bias_corrected_step,
                       check_rmsprop_step)
from .calling import TIME_LIMIT
from .clipping import check_clip_by_norm, check_clip_by_value
from .dropout import check_dropout
from .foreach import check_foreach_adam
from .grading import cases_for, compute_outputs, forbidden_in_source, grade_outputs
from .init import check_he_normal, check_xavier_uniform
from .lion import check_lion_step
from .muon import check_orthogonalize
from .penalties import check_l1_penalty, check_l1_subgradient, check_l2_penalty
from .radam import check_radam_step
from .results import EXERCISES, CheckFailed, CheckResult, ExerciseCheck, run_check
from .schedules import check_cosine_restarts, check_cosine_schedule, check_step_decay
from .search import check_log_uniform
from .schedule_free import check_sf_sgd_step
from .second_order import check_top_eigenvalue
from .sgd import check_momentum_step, check_nesterov_step, check_sgd_decoupled_step, check_weight_decay_step
from .stopping import check_stopping_epochs
from .trust_ratio import check_lars_trust_ratio

__all__ = [
    "CheckResult", "CheckFailed", "ExerciseCheck", "EXERCISES", "run_check", "TIME_LIMIT",
    "cases_for", "compute_outputs", "grade_outputs", "forbidden_in_source",
    "check_momentum_step", "check_nesterov_step", "check_adagrad_step", "check_rmsprop_step",
    "check_rmsprop_bias_corrected_step", "check_adadelta_step", "check_adam_step",
    "check_adamw_step", "check_step_decay", "check_cosine_schedule", "check_cosine_restarts",
    "check_xavier_uniform", "check_he_normal",
    "check_l1_penalty", "check_l1_subgradient", "check_l2_penalty", "check_weight_decay_step",
    "check_stopping_epochs", "check_sgd_decoupled_step", "check_dropout", "check_log_uniform",
    "check_foreach_adam", "check_top_eigenvalue", "check_clip_by_norm", "check_clip_by_value",
    "check_radam_step",
    "check_lars_trust_ratio",
    "check_sf_sgd_step",
    "check_orthogonalize",
    "check_lion_step",
]
