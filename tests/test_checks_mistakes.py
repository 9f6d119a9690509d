"""Every known mistake in the grader's lists is caught by the check's own cases.

A mistake that the cases cannot tell from the reference would be a dead hint: a student who
makes it would pass. Each mistake of every check is turned into a student's function
(``spec.student(mistake)``) and graded; it must fail. Every check lists at least three.
"""
import numpy as np
import pytest
import torch

from codebase import checks
from codebase.checks.results import SPECS

MISTAKES = [(label, mistake) for label, spec in sorted(SPECS.items()) for mistake in spec.mistakes]


def test_every_check_has_at_least_three_mistakes():
    assert set(SPECS) == set(checks.EXERCISES)
    few = {label: len(spec.mistakes) for label, spec in SPECS.items() if len(spec.mistakes) < 3}
    assert not few, few


def test_mistake_keys_are_unique_within_a_check():
    for label, spec in SPECS.items():
        keys = [m.key for m in spec.mistakes]
        assert len(keys) == len(set(keys)), label


@pytest.mark.parametrize("label, mistake", MISTAKES, ids=[f"{label}-{m.key}" for label, m in MISTAKES])
def test_each_mistake_fails_its_check(label, mistake):
    result = checks.EXERCISES[label].check(SPECS[label].student(mistake))
    assert not result.passed, f"the cases of {label} cannot tell the mistake {mistake.key!r} from the reference"


def test_relative_min_delta_fails_the_stopping_check():
    # issue 18: `value < best * (1 - min_delta)` (ReduceLROnPlateau's rel mode) got full marks
    def relative(metrics, patience, min_delta):
        best, best_epoch, waited = float("inf"), None, 0
        for epoch, value in enumerate(metrics, start=1):
            if value < best * (1 - min_delta):
                best, best_epoch, waited = value, epoch, 0
            else:
                waited += 1
            if waited >= patience:
                return best_epoch, epoch
        return best_epoch, None
    result = checks.check_stopping_epochs(relative)
    assert not result and "relative to the best" in result.hint and result.mistake == "relative"


def test_permuted_geomspace_grid_fails_the_sampler_check():
    # issue 18: a shuffled grid has the right marginal law but its draws are not independent
    def grid(low, high, size, rng):
        return rng.permutation(np.geomspace(low, high, size))
    result = checks.check_log_uniform(grid)
    assert not result and "fixed grid" in result.message

    def jittered_grid(low, high, size, rng):   # a grid with a little noise is still a grid in law
        x = rng.permutation(np.geomspace(low, high, size))
        return np.clip(x * (1 + 1e-12 * rng.standard_normal(size)), low, high)
    assert not checks.check_log_uniform(jittered_grid)


def test_failed_results_name_their_mistake():
    def adam_sign(theta, grad, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad ** 2
        return theta + lr * (m / (1 - beta1 ** t)) / (torch.sqrt(v / (1 - beta2 ** t)) + eps), m, v
    assert checks.check_adam_step(adam_sign).mistake == "sign"
