"""The checks hold against submissions that try to switch them off, and do not fail correct work.

Each student's function here tries something inside its own call: patching the result
class, the checks' functions, ``sys.modules`` or the torch functions the reference uses,
calling the library's solution, looping forever, printing megabytes, exiting. The function
runs in a child process and its outputs come back as data, so the verdict (given in this
process) must stay that of its wrong answer. Correct answers in three styles pass. Also
issue 21's item 8 (four odd outputs) and the grading API that judges outputs computed
elsewhere.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import pytest
import torch

from codebase import checks
from codebase.checks import calling

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the isolation tests need fork")


def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return theta - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


def wrong_adam(theta, grad, m, v, t, lr, beta1, beta2, eps):
    return theta * 0, m, v


# --------------------------------------------------------------------------------------
# Patching inside the call changes nothing
# --------------------------------------------------------------------------------------

def patches_result_class(theta, grad, m, v, t, lr, beta1, beta2, eps):
    import codebase.checks as c
    c.CheckResult.raise_for_failure = lambda self: self
    c.CheckResult.__bool__ = lambda self: True
    return wrong_adam(theta, grad, m, v, t, lr, beta1, beta2, eps)


def patches_check_functions(theta, grad, m, v, t, lr, beta1, beta2, eps):
    import codebase.checks as c
    from codebase.checks import engine
    c.check_adam_step = lambda fn: c.CheckResult(True, "check_adam_step", "correct")
    engine.Compared.judge = lambda self, outcomes: "correct"
    return wrong_adam(theta, grad, m, v, t, lr, beta1, beta2, eps)


def patches_sys_modules(theta, grad, m, v, t, lr, beta1, beta2, eps):
    import types
    fake = types.ModuleType("codebase.checks.engine")
    sys.modules["codebase.checks.engine"] = fake
    sys.modules["codebase.checks"] = fake
    return wrong_adam(theta, grad, m, v, t, lr, beta1, beta2, eps)


def patches_torch(theta, grad, m, v, t, lr, beta1, beta2, eps):
    torch.isclose = lambda *args, **kwargs: torch.ones((), dtype=torch.bool).expand_as(args[0])
    torch.Tensor.all = lambda self, *args: torch.tensor(True)
    torch.sqrt = lambda x: x
    return wrong_adam(theta, grad, m, v, t, lr, beta1, beta2, eps)


@pytest.mark.parametrize("student", [patches_result_class, patches_check_functions, patches_sys_modules,
                                     patches_torch])
def test_patching_inside_the_call_does_not_change_the_verdict(student):
    result = checks.check_adam_step(student)
    assert not result.passed and "First difference: theta" in result.message
    with pytest.raises(checks.CheckFailed):
        result.raise_for_failure()
    # and nothing leaked into this process: the correct answer still passes, the wrong one fails
    assert checks.check_adam_step(adam_step).passed
    assert not checks.check_adam_step(wrong_adam).passed


# --------------------------------------------------------------------------------------
# Calling the library's solution gets no points
# --------------------------------------------------------------------------------------

def adamw_by_library(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    import codebase.optim.adamw as a
    a.adamw_update(theta, grad, m, v, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return theta, m, v


def _helper(g, c):
    return torch.nn.utils.clip_grad_norm_([_param(g)], c)


def _param(g):
    p = torch.zeros_like(g, requires_grad=True)
    p.grad = g.clone()
    return p


def clip_by_library_helper(g, c):
    _helper(g, c)            # the forbidden call is in a helper of the same module
    return g * min(1.0, c / float(g.norm()))


def test_calling_the_librarys_solution_gets_no_points():
    result = checks.check_adamw_step(adamw_by_library)
    assert not result and "codebase.optim.adamw_update" in result.message and result.mistake == "library"
    result = checks.check_clip_by_norm(clip_by_library_helper)
    assert not result and "clip_grad_norm_" in result.message

    from codebase.search import log_uniform as sampler

    def by_alias(low, high, size, rng):
        return sampler(low, high, size, generator=rng)
    assert "codebase.search.log_uniform" in checks.check_log_uniform(by_alias).message


def test_the_allowed_library_calls_pass():
    # the AdamW exercise is about the decay: Adam's step may come from adam_update
    from codebase.optim import adam_update

    def adamw(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
        theta.mul_(1 - lr * weight_decay)
        adam_update(theta, grad, m, v, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
        return theta, m, v
    assert checks.check_adamw_step(adamw).passed
    assert checks.check_clip_by_value(lambda g, c: torch.clamp(g, -c, c)).passed


def test_library_calls_found_in_source_text():
    source = ("import codebase.optim.adamw as a\nfrom torch.optim import AdamW\n"
              "def adamw_step(*args):\n    a.adamw_update(*args)\n    return AdamW\n")
    assert checks.forbidden_in_source("adam-ex-adamw", source) == ["codebase.optim.adamw.adamw_update",
                                                                  "torch.optim.AdamW"]
    assert checks.forbidden_in_source("adam-ex-adamw", "def f(theta):\n    return theta * 2\n") == []


# The same submissions, read twice: as live functions (bytecode, in the kernel) and as text
# (ast, in the autograder). Both readers must refuse the same ones.
SOURCES = {
    "direct": "import codebase.optim.adamw as a\ndef f(*x):\n    return a.adamw_update(*x)\n",
    "from-import alias": "from codebase.optim import adamw_update as u\ndef f(*x):\n    return u(*x)\n",
    "helper": "import torch\ndef _h(*x):\n    return torch.optim.AdamW\ndef f(*x):\n    return _h(*x)\n",
    "assigned": "import codebase.optim\nsolver = codebase.optim.adamw_update\ndef f(*x):\n    return solver(*x)\n",
    "allowed Adam step": "from codebase.optim import adam_update\ndef f(theta, *x):\n"
                         "    theta.mul_(0.9)\n    return adam_update(theta, *x)\n",
    "own name": "def adamw_update(t):\n    return t * 2\ndef f(t):\n    return adamw_update(t)\n",
    "nothing": "import torch\ndef f(t):\n    return torch.clamp(t, -1, 1)\n",
    "unused import": "import codebase.optim.adamw as a\ndef f(t):\n    return t * 2\n",
}
REFUSED = {"direct", "from-import alias", "helper", "assigned"}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_bytecode_and_source_readers_refuse_the_same_submissions(name):
    from codebase.checks.library import library_calls
    from codebase.checks.library_source import library_calls_in_source

    forbidden = checks.EXERCISES["adam-ex-adamw"].forbidden
    namespace: dict = {}
    exec(compile(SOURCES[name], f"<{name}>", "exec"), namespace)
    live = library_calls(namespace["f"], forbidden)
    text = library_calls_in_source(SOURCES[name], forbidden, "f")
    assert bool(live) == bool(text) == (name in REFUSED), (live, text)


# --------------------------------------------------------------------------------------
# Loops, prints, exits
# --------------------------------------------------------------------------------------

def test_a_function_that_loops_forever_gets_the_time_limit_message(monkeypatch):
    monkeypatch.setattr(calling, "TIME_LIMIT", 1.0)

    def forever(k, lr0, gamma, K):
        while True:
            pass
    start = time.monotonic()
    result = checks.check_step_decay(forever)
    assert time.monotonic() - start < 10
    assert not result and "did not return within 1 s" in result.message


def test_a_function_that_prints_megabytes_is_cut_short():
    def chatty(theta, grad, m, lr, beta):
        print("x" * 3_000_000)
        m = beta * m + grad
        return theta - lr * m, m
    result = checks.check_momentum_step(chatty)
    assert result.passed and "cut short" in result.message
    assert len(result.message) < 5_000


@pytest.mark.parametrize("ending, words", [("sys.exit(3)", "called sys.exit(3)"),
                                           ("os._exit(0)", "ended the process"),
                                           ("raise KeyboardInterrupt", "KeyboardInterrupt")])
def test_a_function_that_exits_gets_a_failed_result(ending, words):
    namespace = {"sys": sys, "os": os}
    exec(f"def leaves(g, c):\n    {ending}\n", namespace)
    result = checks.check_clip_by_value(namespace["leaves"])
    assert isinstance(result, checks.CheckResult) and not result.passed and words in result.message


def test_parallel_torch_work_in_the_child_does_not_hang():
    # the parent's intra-op thread pool does not survive a fork; the child runs on one thread
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = torch.randn(600, 600)
        _ = (x @ x).exp().sum()                 # the parent's pool is in use

        def clip_after_work(g, c):
            z = torch.randn(600, 600)
            _ = (z @ z).exp().sum()              # parallel work inside the child
            return torch.clamp(g, -c, c)
        assert checks.check_clip_by_value(clip_after_work).passed
    finally:
        torch.set_num_threads(threads)


def test_without_fork_the_check_says_so(monkeypatch):
    monkeypatch.setattr(calling, "ISOLATE", False)
    result = checks.check_clip_by_value(lambda g, c: torch.clamp(g, -c, c))
    assert result.passed and "ran inside this Python process" in result.message


# --------------------------------------------------------------------------------------
# Correct answers in three styles
# --------------------------------------------------------------------------------------

def adam_in_place(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m.mul_(beta1).add_(grad, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    theta.addcdiv_(m, (v / (1 - beta2 ** t)).sqrt_().add_(eps), value=-lr / (1 - beta1 ** t))
    return theta, m, v


def adam_float32_inputs(theta, grad, m, v, t, lr, beta1, beta2, eps):
    return adam_step(theta.float(), grad.float(), m.float(), v.float(), t, lr, beta1, beta2, eps)


def adam_float32_betas(theta, grad, m, v, t, lr, beta1, beta2, eps):
    # issue 18: torch.tensor(0.9) is float32; the result is float64 but computed with float32 betas
    return adam_step(theta, grad, m, v, t, lr, torch.tensor(beta1), torch.tensor(beta2), eps)


@pytest.mark.parametrize("student", [adam_step, adam_in_place, adam_float32_inputs, adam_float32_betas])
def test_correct_answers_in_several_styles_pass(student):
    result = checks.check_adam_step(student)
    assert result.passed, result.message
    if student in (adam_float32_inputs, adam_float32_betas):
        assert "torch.tensor(0.9) is float32" in result.message


# --------------------------------------------------------------------------------------
# Issue 21, item 8
# --------------------------------------------------------------------------------------

def test_a_two_element_epoch_is_the_students_problem():
    result = checks.check_stopping_epochs(lambda metrics, patience, min_delta: (torch.tensor([1, 2]), None))
    assert not result and "problem of the check" not in result.message
    assert "best epoch" in result.message and "Tensor" in result.message


def test_a_complex_result_is_called_complex():
    result = checks.check_clip_by_value(lambda g, c: torch.clamp(g, -c, c).to(torch.complex128))
    assert not result and "complex dtype torch.complex128" in result.message and "integer" not in result.message


def test_a_wrong_float32_result_shows_digits_and_dtype():
    result = checks.check_clip_by_value(lambda g, c: torch.clamp(g, -c / 2, c).float())
    assert not result and "(your result is float32)" in result.message
    got = [line for line in result.message.splitlines() if line.strip().startswith(("expected", "got"))]
    assert len(got) == 2 and got[0].split()[1] != got[1].split()[1]


# --------------------------------------------------------------------------------------
# Grading from outputs computed elsewhere
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("label, student, passes", [("adam-ex-implement", adam_step, True),
                                                    ("adam-ex-implement", wrong_adam, False),
                                                    ("hp-ex-sampler", lambda low, high, size, rng:
                                                     np.exp(rng.uniform(np.log(low), np.log(high), size)), True)])
def test_grade_outputs_gives_the_verdict_of_the_check(label, student, passes):
    cases = json.loads(json.dumps(checks.cases_for(label)))
    outputs = json.loads(json.dumps(checks.compute_outputs(cases, student)))
    result = checks.grade_outputs(label, outputs)
    assert result.passed is passes
    assert result.passed is checks.run_check(label, student).passed


def test_grade_outputs_refuses_forged_or_truncated_outputs():
    cases = checks.cases_for("adam-ex-implement")
    outputs = checks.compute_outputs(cases, adam_step)
    assert not checks.grade_outputs("adam-ex-implement", outputs[:3])
    forged = [{"value": {"__object__": "CheckResult", "repr": "passed"}}] * len(outputs)
    assert not checks.grade_outputs("adam-ex-implement", forged)
    assert not checks.grade_outputs("adam-ex-implement", [{"value": {"__tensor__": {"__array__": "AAAA",
                                                                                   "dtype": "object",
                                                                                   "shape": [1]}}}])
    assert not checks.grade_outputs("adam-ex-implement", "all correct")
