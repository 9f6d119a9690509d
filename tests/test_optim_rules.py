"""The update rules on their own, edge cases, convergence, and the promises made to readers."""
import inspect
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import codebase.optim as ours
from codebase.optim import (adadelta_update, adagrad_update, adam_update, adamw_update, rmsprop_update,
                            sgd_update)

NAMES = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"]
RULES = [sgd_update, adagrad_update, rmsprop_update, adadelta_update, adam_update, adamw_update]


def gradients(n=20, shape=(5,), seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(n)]


def torch_trajectory(name, theta0, grads, **kwargs):
    """theta after each step of torch.optim.<name> fed the gradients ``grads``."""
    theta = theta0.clone().requires_grad_()
    opt = getattr(torch.optim, name)([theta], **kwargs)
    rows = []
    for g in grads:
        theta.grad = g.clone()
        opt.step()
        rows.append(theta.detach().clone())
    return torch.stack(rows)


# -- each rule, called the way a chapter calls it: plain tensors, no Optimizer -------------------

def sgd_rule_trajectory(theta, grads):
    m, rows = None, []
    for g in grads:
        m = sgd_update(theta, g, m, lr=0.1, beta=0.9, tau=0.1, weight_decay=0.01)
        rows.append(theta.clone())
    return rows


def adagrad_rule_trajectory(theta, grads):
    s, rows = torch.full_like(theta, 0.1), []
    for t, g in enumerate(grads, start=1):
        adagrad_update(theta, g, s, t, lr=0.1, eps=1e-10, lr_decay=0.01, weight_decay=0.01)
        rows.append(theta.clone())
    return rows


def rmsprop_rule_trajectory(theta, grads):
    v, m, g_bar, rows = torch.zeros_like(theta), torch.zeros_like(theta), torch.zeros_like(theta), []
    for g in grads:
        rmsprop_update(theta, g, v, lr=0.01, rho=0.9, eps=1e-8, weight_decay=0.01, beta=0.5, m=m, g_bar=g_bar)
        rows.append(theta.clone())
    return rows


def adadelta_rule_trajectory(theta, grads):
    v, u, rows = torch.zeros_like(theta), torch.zeros_like(theta), []
    for g in grads:
        adadelta_update(theta, g, v, u, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.01)
        rows.append(theta.clone())
    return rows


def adam_rule_trajectory(theta, grads):
    m, v, v_max, rows = torch.zeros_like(theta), torch.zeros_like(theta), torch.zeros_like(theta), []
    for t, g in enumerate(grads, start=1):
        adam_update(theta, g, m, v, t, lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.01, v_max=v_max)
        rows.append(theta.clone())
    return rows


def adamw_rule_trajectory(theta, grads):
    m, v, rows = torch.zeros_like(theta), torch.zeros_like(theta), []
    for t, g in enumerate(grads, start=1):
        adamw_update(theta, g, m, v, t, lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1)
        rows.append(theta.clone())
    return rows


# The same settings in torch.optim's names.
RULE_CASES = {
    "SGD": (sgd_rule_trajectory, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "Adagrad": (adagrad_rule_trajectory, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                              initial_accumulator_value=0.1)),
    "RMSprop": (rmsprop_rule_trajectory, dict(lr=0.01, alpha=0.9, weight_decay=0.01, momentum=0.5,
                                              centered=True)),
    "Adadelta": (adadelta_rule_trajectory, dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.01)),
    "Adam": (adam_rule_trajectory, dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.01, amsgrad=True)),
    "AdamW": (adamw_rule_trajectory, dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)),
}


@pytest.mark.parametrize("name", NAMES)
def test_rule_on_plain_tensors_equals_torch(name):
    rule_trajectory, torch_kwargs = RULE_CASES[name]
    theta0, grads = torch.linspace(-1, 1, 5, dtype=torch.float64), gradients()
    copies = [g.clone() for g in grads]
    mine = torch.stack(rule_trajectory(theta0.clone(), grads))
    torch.testing.assert_close(mine, torch_trajectory(name, theta0, grads, **torch_kwargs), rtol=1e-12, atol=1e-14)
    assert all(torch.equal(g, c) for g, c in zip(grads, copies)), "a rule must not modify the gradient"


@pytest.mark.parametrize("name", NAMES)
def test_step_leaves_the_gradient_alone(name):
    # weight decay and maximize build a new gradient; p.grad itself must not change.
    p = torch.linspace(-1, 1, 4, dtype=torch.float64).requires_grad_()
    opt = getattr(ours, name)([p], weight_decay=0.1, maximize=True)
    p.grad = torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float64)
    before = p.grad.clone()
    for _ in range(3):
        opt.step()
    assert torch.equal(p.grad, before)


# The optimizers after Adam, with the settings that build a new gradient (weight decay, maximize):
# their references may write into p.grad (schedulefree's AdamW leaves its scaled step there); ours
# do not, as torch.optim does not, and as the schedule-free chapter says in its pitfalls.
LEAVE_GRAD_ALONE = {
    "Adamax": dict(weight_decay=0.1, maximize=True),
    "NAdam": dict(weight_decay=0.1, maximize=True),
    "RAdam": dict(weight_decay=0.1, maximize=True),
    "Adafactor": dict(weight_decay=0.1, maximize=True),
    "Muon": dict(weight_decay=0.1),
    "Lion": dict(weight_decay=0.1, maximize=True),
    "ScheduleFreeSGD": dict(weight_decay=0.1),
    "ScheduleFreeAdamW": dict(weight_decay=0.1),
    "LARS": dict(weight_decay=0.1, momentum=0.9, maximize=True),
    "Lamb": dict(weight_decay=0.1, maximize=True),
}


@pytest.mark.parametrize("name", LEAVE_GRAD_ALONE)
def test_newer_optimizers_leave_the_gradient_alone(name):
    p = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(2, 3).requires_grad_()
    opt = getattr(ours, name)([p], **LEAVE_GRAD_ALONE[name])
    getattr(opt, "train", lambda: None)()  # schedule-free optimizers step in train mode
    p.grad = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.25, -3.0]], dtype=torch.float64)
    before = p.grad.clone()
    for _ in range(3):
        opt.step()
    assert torch.equal(p.grad, before)


# -- edge cases: zero, tiny and huge gradients; 0-d and one-element tensors -----------------------

EDGE_SETTINGS = {
    "SGD": [dict(lr=0.1), dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)],
    "Adagrad": [dict(), dict(weight_decay=0.1, lr_decay=0.1)],
    "RMSprop": [dict(), dict(momentum=0.9, centered=True, weight_decay=0.1)],
    "Adadelta": [dict(), dict(weight_decay=0.1)],
    "Adam": [dict(), dict(amsgrad=True, weight_decay=0.1)],
    "AdamW": [dict(), dict(amsgrad=True)],
}


@pytest.mark.parametrize("name", NAMES)
@given(scale=st.sampled_from([0.0, 1e-30, 1e-20, 1e-8, 1.0, 1e8, 1e20, 1e30]),
       shape=st.sampled_from([(), (1,), (3,)]),
       dtype=st.sampled_from([torch.float32, torch.float64]),
       setting=st.integers(0, 1), sign=st.sampled_from([1.0, -1.0]))
def test_extreme_gradients_match_torch(name, scale, shape, dtype, setting, sign):
    kwargs = EDGE_SETTINGS[name][setting]
    pattern = torch.tensor([1.0, -0.5, 0.25], dtype=dtype)[: max(1, math.prod(shape))].reshape(shape)
    theta0 = torch.full(shape, 0.5, dtype=dtype)
    grads = [sign * scale * pattern * (1 + 0.1 * t) for t in range(5)]

    def trajectory(cls):
        theta = theta0.clone().requires_grad_()
        opt = cls([theta], **kwargs)
        rows = []
        for g in grads:
            theta.grad = g.clone()
            opt.step()
            rows.append(theta.detach().clone())
        return torch.stack(rows)

    mine, theirs = trajectory(getattr(ours, name)), trajectory(getattr(torch.optim, name))
    assert mine.shape == theirs.shape == (5, *shape) and mine.dtype == dtype
    assert torch.equal(torch.isnan(mine), torch.isnan(theirs))
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == torch.float64 else dict(rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(mine, theirs, equal_nan=True, **tol)
    if scale == 0.0 and getattr(ours, name)([theta0.clone()], **kwargs).defaults["weight_decay"] == 0:
        assert torch.equal(mine[-1], theta0), "a zero gradient must not move the parameters"


def test_no_nan_from_huge_gradients_where_torch_has_none():
    # float32 squares of 1e30 overflow to inf; the steps stay finite for all but centered RMSprop,
    # where v - g_bar^2 = inf - inf is NaN in torch too (checked in the test above).
    for name in NAMES:
        theta = torch.zeros(3, requires_grad=True)
        opt = getattr(ours, name)([theta])
        for _ in range(3):
            theta.grad = torch.full((3,), 1e30)
            opt.step()
        assert torch.isfinite(theta).all(), name


# -- convergence: an ill-conditioned quadratic and Rosenbrock's valley ----------------------------

# The gradients are computed in Python floats: thousands of steps stay fast.
_c, _s = math.cos(math.pi / 6), math.sin(math.pi / 6)
QUADRATIC_MIN = torch.tensor([1.0, -2.0], dtype=torch.float64)
ROSENBROCK_MIN = torch.tensor([1.0, 1.0], dtype=torch.float64)


def quadratic_grad(x):
    """Gradient of f(x) = (x - x*)^T A (x - x*) / 2 with A = R diag(1, 100) R^T, R a 30-degree
    rotation: condition number 100, and axes that are not the coordinates."""
    d1, d2 = (x - QUADRATIC_MIN).tolist()
    u1, u2 = _c * d1 + _s * d2, -_s * d1 + _c * d2          # R^T (x - x*)
    u1, u2 = 1.0 * u1, 100.0 * u2                            # diag(1, 100) R^T (x - x*)
    return torch.tensor([_c * u1 - _s * u2, _s * u1 + _c * u2], dtype=torch.float64)


def rosenbrock_grad(x):
    """Gradient of f(a, b) = (1 - a)^2 + 100 (b - a^2)^2, minimum f(1, 1) = 0."""
    a, b = x.tolist()
    return torch.tensor([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], dtype=torch.float64)


def test_convergence_gradients_are_right():
    x = torch.tensor([0.3, -0.7], dtype=torch.float64, requires_grad=True)
    rotation = torch.tensor([[_c, -_s], [_s, _c]], dtype=torch.float64)
    a = rotation @ torch.diag(torch.tensor([1.0, 100.0], dtype=torch.float64)) @ rotation.T
    quadratic = 0.5 * (x - QUADRATIC_MIN) @ a @ (x - QUADRATIC_MIN)
    rosenbrock = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    for f, grad in [(quadratic, quadratic_grad), (rosenbrock, rosenbrock_grad)]:
        (expected,) = torch.autograd.grad(f, x)
        torch.testing.assert_close(grad(x.detach()), expected, rtol=1e-12, atol=1e-12)
    assert torch.linalg.cond(a).item() == pytest.approx(100)


def distance_after(name, kwargs, grad, start, minimum, steps, final_lr_fraction):
    """Distance to ``minimum`` after ``steps`` steps; the learning rate decays exponentially
    from ``lr`` to ``final_lr_fraction * lr`` (1.0: constant)."""
    x = start.clone().requires_grad_()
    opt = getattr(ours, name)([x], **kwargs)
    decay = final_lr_fraction ** (1 / steps)
    for _ in range(steps):
        x.grad = grad(x.detach())
        opt.step()
        opt.param_groups[0]["lr"] *= decay
    return (x.detach() - minimum).norm().item()


# (settings, steps, final lr / initial lr). SGD and AdaGrad settle with a constant learning
# rate; the others circle the minimum at a distance that scales with lr unless it decays.
QUADRATIC_TOL = 1e-4
QUADRATIC_RUNS = {
    "SGD": (dict(lr=0.01, momentum=0.9, nesterov=True), 300, 1.0),
    "Adagrad": (dict(lr=5.0), 1500, 1.0),
    "RMSprop": (dict(lr=3e-3, alpha=0.9, momentum=0.9), 1000, 1e-2),
    "Adadelta": (dict(lr=1.0, eps=1e-4), 2000, 1e-2),
    "Adam": (dict(lr=0.1, betas=(0.9, 0.99)), 2000, 1e-2),
    "AdamW": (dict(lr=0.03, betas=(0.9, 0.99)), 3000, 1e-3),
}
ROSENBROCK_TOL = 1e-3
ROSENBROCK_RUNS = {
    "SGD": (dict(lr=1.5e-3, momentum=0.95), 2000, 1.0),
    "Adagrad": (dict(lr=0.5), 10000, 1.0),
    "RMSprop": (dict(lr=3e-3, alpha=0.9, momentum=0.9), 1000, 1e-2),
    "Adadelta": (dict(), 8000, 1e-2),
    "Adam": (dict(lr=0.1, betas=(0.9, 0.99)), 2000, 1e-2),
    "AdamW": (dict(lr=0.03, betas=(0.9, 0.99)), 3000, 1e-3),
}


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_ill_conditioned_quadratic(name):
    kwargs, steps, final_lr_fraction = QUADRATIC_RUNS[name]
    start = torch.tensor([-3.0, 3.0], dtype=torch.float64)
    distance = distance_after(name, kwargs, quadratic_grad, start, QUADRATIC_MIN, steps, final_lr_fraction)
    assert distance < QUADRATIC_TOL


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_rosenbrock(name):
    kwargs, steps, final_lr_fraction = ROSENBROCK_RUNS[name]
    start = torch.tensor([-1.2, 1.0], dtype=torch.float64)
    distance = distance_after(name, kwargs, rosenbrock_grad, start, ROSENBROCK_MIN, steps, final_lr_fraction)
    assert distance < ROSENBROCK_TOL


# -- what the chapters rely on ----------------------------------------------------------------------

@pytest.mark.parametrize("rule", RULES, ids=[r.__name__ for r in RULES])
def test_rule_source_is_short_and_states_its_equations(rule):
    source = inspect.getsource(rule)
    body = source.split('"""')[2].strip().splitlines()
    assert len(body) <= 14, f"{rule.__name__} has {len(body)} lines of code; chapters print it"
    assert "theta_t" in rule.__doc__ and "theta_{t-1}" in rule.__doc__
    assert all(len(line) <= 120 for line in source.splitlines())


CITATIONS = {"SGD": ["Polyak", "1964", "Sutskever", "2013"], "Adagrad": ["Duchi", "2011"],
             "RMSprop": ["Tieleman", "Hinton", "2012"], "Adadelta": ["Zeiler", "2012"],
             "Adam": ["Kingma", "Ba", "2015"], "AdamW": ["Loshchilov", "Hutter", "2019"]}


@pytest.mark.parametrize("name", NAMES)
def test_class_docstring_cites_the_paper_and_maps_arguments(name):
    doc = getattr(ours, name).__doc__
    assert all(word in doc for word in CITATIONS[name])
    assert "lr : float" in doc and "alpha" in doc
    for arg in inspect.signature(getattr(ours, name)).parameters:
        assert arg in doc, f"{name}'s docstring does not mention {arg}"


def test_public_api():
    # the classic six and their rules, and the optimizers after Adam with theirs and their helpers
    assert set(NAMES + [r.__name__ for r in RULES]) <= set(ours.__all__)
    for name in ours.__all__:
        obj = getattr(ours, name)
        if not callable(obj):  # a constant (RADAM_THRESHOLD), documented in its module
            continue
        assert obj.__doc__ and len(obj.__doc__.strip()) > 40, name
        module = obj.__module__.removeprefix("codebase.optim.")
        if isinstance(obj, type) or name.endswith("_update"):
            # a reader finds each algorithm by guessing the file (ScheduleFreeSGD: schedule_free_sgd);
            # AdamW's rule sits beside Adam's
            expected = "adam" if name == "adamw_update" else name.lower().replace("_update", "").replace("_", "")
            assert module.replace("_", "") == expected, name
        else:  # a helper (newton_schulz, radam_rho) sits beside the rule that uses it
            assert f"{module}_update" in ours.__all__, name
