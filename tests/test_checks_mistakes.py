"""Every known mistake in the grader's lists is caught by the check's own cases.

A mistake that the cases cannot tell from the reference would be a dead hint: a student who
makes it would pass. Each mistake is turned into a student's function and graded; it must fail.
"""
import pytest

from codebase import checks as C

RULES = [value for value in vars(C).values() if isinstance(value, C._Rule)]
RULE_MISTAKES = [(rule, mistake) for rule in RULES for mistake in rule.mistakes]

SCHEDULES = [  # (check, the student's parameters, the mistakes)
    (C.check_step_decay, ("k", "lr0", "gamma", "K"), C._STEP_MISTAKES),
    (C.check_cosine_schedule, ("k", "lr0", "T", "lr_min"), C._COSINE_MISTAKES),
    (C.check_cosine_restarts, ("k", "lr0", "T0", "T_mult"), C._RESTARTS_MISTAKES),
]
SCHEDULE_MISTAKES = [(check, params, mistake) for check, params, mistakes in SCHEDULES for mistake in mistakes]


def test_every_update_rule_check_has_mistakes():
    assert len(RULES) >= 9
    for rule in RULES:
        assert len(rule.mistakes) >= 3, f"{rule.check} lists only {len(rule.mistakes)} mistakes"


@pytest.mark.parametrize("rule, mistake", RULE_MISTAKES,
                         ids=[f"{r.check}-{m.key}" for r, m in RULE_MISTAKES])
def test_each_update_rule_mistake_fails_its_check(rule, mistake):
    def student(*args):
        return mistake.fn(dict(zip(rule.params, args)))

    result = getattr(C, rule.check)(student)
    assert not result.passed, f"the cases of {rule.check} cannot tell the mistake {mistake.key!r} from the reference"


@pytest.mark.parametrize("check, params, mistake", SCHEDULE_MISTAKES,
                         ids=[f"{c.__name__}-{m.key}" for c, _, m in SCHEDULE_MISTAKES])
def test_each_schedule_mistake_fails_its_check(check, params, mistake):
    def student(k, *rest):
        return mistake.fn(k, dict(zip(params[1:], rest)))

    result = check(student)
    assert not result.passed, f"the cases of {check.__name__} cannot tell the mistake {mistake.key!r} apart"
