"""LARS and LAMB against pytorch-optimizer's LARS and Lamb (the oracles), and their argument checks.

Both run 30 steps in float64 on a small network with biases (so that LARS's two kinds of
tensor, adapted matrices and plain vectors, are both exercised) and one layer that starts at
zero (the zero-norm convention), over a grid of hyperparameters; the parameters must agree
with the oracle's after every step to 1e-12 relative.
"""
import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import codebase.optim as ours

pytorch_optimizer = pytest.importorskip("pytorch_optimizer")

STEPS = 30
RTOL, ATOL = 1e-12, 1e-14

_g = torch.Generator().manual_seed(3)
_X = torch.randn(24, 5, generator=_g, dtype=torch.float64)
_Y = torch.randint(0, 3, (24,), generator=_g)


def make_params():
    """A 5-7-3 tanh network with biases; the last bias starts at zero."""
    g = torch.Generator().manual_seed(0)
    shapes = [(7, 5), (7,), (3, 7), (3,)]
    params = [torch.randn(*s, generator=g, dtype=torch.float64) * 0.6 for s in shapes]
    params[-1].zero_()
    return [p.requires_grad_() for p in params]


def loss(params):
    w1, b1, w2, b2 = params
    logits = torch.tanh(_X @ w1.T + b1) @ w2.T + b2
    return torch.nn.functional.cross_entropy(logits, _Y)


def trajectory(optimizer_class, kwargs, params=None, steps=STEPS):
    params = make_params() if params is None else params
    opt = optimizer_class(params, **kwargs)
    rows = []
    for _ in range(steps):
        opt.zero_grad()
        loss(params).backward()
        opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params]).clone())
    return torch.stack(rows), opt


def assert_same(ours_rows, theirs_rows):
    diff = ((ours_rows - theirs_rows).abs() / (theirs_rows.abs() + ATOL / RTOL)).max().item()
    assert torch.allclose(ours_rows, theirs_rows, rtol=RTOL, atol=ATOL), f"max relative difference {diff:.3g}"


LARS_GRID = [
    dict(lr=lr, momentum=mu, dampening=tau, weight_decay=wd, trust_coefficient=eta, nesterov=nest)
    for lr, mu, tau, wd, eta, nest in itertools.product(
        [0.5, 5.0], [0.0, 0.9], [0.0, 0.3], [0.0, 1e-2], [1e-3, 0.1], [False, True])
]

LAMB_GRID = [
    dict(lr=lr, betas=betas, weight_decay=wd, weight_decouple=dec, grad_averaging=avg, adam=adam, eps=eps)
    for lr, betas, wd, dec, avg, adam, eps in itertools.product(
        [1e-3, 0.05], [(0.9, 0.999), (0.5, 0.9)], [0.0, 0.1], [True, False], [True, False], [False, True],
        [1e-6, 1e-3])
]


@pytest.mark.parametrize("kwargs", LARS_GRID, ids=str)
@pytest.mark.parametrize("foreach", [False, None])
def test_lars_follows_pytorch_optimizer(kwargs, foreach):
    ours_rows, _ = trajectory(ours.LARS, kwargs)
    theirs_rows, _ = trajectory(pytorch_optimizer.LARS, {**kwargs, "foreach": foreach})
    assert_same(ours_rows, theirs_rows)


@pytest.mark.parametrize("kwargs", LAMB_GRID, ids=str)
def test_lamb_follows_pytorch_optimizer(kwargs):
    ours_rows, opt = trajectory(ours.Lamb, kwargs)
    theirs_rows, ref = trajectory(pytorch_optimizer.Lamb, {**kwargs, "foreach": False})
    assert_same(ours_rows, theirs_rows)
    for p, q in zip(opt.param_groups[0]["params"], ref.param_groups[0]["params"]):  # the last ratio is kept
        assert float(opt.state[p]["trust_ratio"]) == pytest.approx(float(ref.state[q]["trust_ratio"]), rel=RTOL)


@pytest.mark.parametrize("kwargs", LAMB_GRID[::8], ids=str)
def test_lamb_follows_the_batched_path_of_pytorch_optimizer(kwargs):
    """The reference's foreach path divides as 1 / (sqrt(v) + eps) * m: equal to rounding, not to the bit."""
    ours_rows, _ = trajectory(ours.Lamb, kwargs)
    theirs_rows, _ = trajectory(pytorch_optimizer.Lamb, {**kwargs, "foreach": True})
    assert_same(ours_rows, theirs_rows)


@pytest.mark.parametrize("name, kwargs", [("LARS", dict(lr=1.0, weight_decay=1e-2)), ("Lamb", dict(lr=0.01))])
def test_maximize_ascends_the_negated_loss_as_the_oracle_does(name, kwargs):
    ours_rows, _ = trajectory(getattr(ours, name), {**kwargs, "maximize": True}, steps=5)
    theirs_rows, _ = trajectory(getattr(pytorch_optimizer, name), {**kwargs, "maximize": True, "foreach": False},
                                steps=5)
    assert_same(ours_rows, theirs_rows)


def test_lars_does_not_adapt_or_decay_vectors():
    """A bias (1-d) takes the plain momentum-SGD step; a matrix gets the trust ratio, which the state keeps."""
    w = torch.tensor([[3.0, 4.0]], dtype=torch.float64, requires_grad=True)   # ||w|| = 5
    b = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    opt = ours.LARS([w, b], lr=0.1, momentum=0.0, weight_decay=0.5, trust_coefficient=0.01)
    w.grad = torch.tensor([[0.0, 2.0]], dtype=torch.float64)                  # ||g|| = 2
    b.grad = torch.tensor([0.0, 2.0], dtype=torch.float64)
    opt.step()
    ratio = 0.01 * 5 / (2 + 0.5 * 5)
    assert opt.state[w]["trust_ratio"].item() == pytest.approx(ratio, rel=1e-15)
    assert torch.allclose(w, torch.tensor([[3.0 - 0.1 * ratio * 1.5, 4.0 - 0.1 * ratio * 4.0]],
                                          dtype=torch.float64), rtol=1e-15)
    assert b.tolist() == [3.0, 4.0 - 0.1 * 2.0] and opt.state[b]["trust_ratio"].item() == 1.0


@pytest.mark.parametrize("rule", ["lars", "lamb"])
def test_a_zero_tensor_or_a_zero_gradient_gives_a_ratio_of_one_and_no_nan(rule):
    theta = torch.zeros(2, 2, dtype=torch.float64)
    for g in (torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)):
        if rule == "lars":
            r = ours.lars_update(theta, g, torch.zeros_like(theta), lr=0.1, weight_decay=0.0)
        else:
            r = ours.lamb_update(theta, g, torch.zeros_like(theta), torch.zeros_like(theta), 1, lr=0.1)
        assert r.item() == 1.0 and torch.isfinite(theta).all()


def test_lamb_clips_the_parameter_norm_at_clamp():
    theta = torch.full((10, 10), 5.0, dtype=torch.float64)   # ||theta|| = 50 > 10
    g = torch.ones(10, 10, dtype=torch.float64)
    r = ours.lamb_update(theta, g, torch.zeros_like(g), torch.zeros_like(g), 1, lr=0.0, beta1=0.0, beta2=0.0,
                         eps=0.0)
    assert r.item() == pytest.approx(10 / 10, rel=1e-14)   # m = g, v = g^2: u_t = 1, ||u_t|| = 10


def test_the_update_rules_leave_the_gradient_alone():
    """pytorch_optimizer.LARS overwrites p.grad with its direction; the rule here does not."""
    theta = torch.ones(3, 3, dtype=torch.float64)
    g = torch.full((3, 3), 0.5, dtype=torch.float64)
    ours.lars_update(theta, g, torch.zeros_like(g), lr=0.1, weight_decay=0.1)
    ours.lamb_update(theta, g, torch.zeros_like(g), torch.zeros_like(g), 1, lr=0.1, weight_decay=0.1)
    assert (g == 0.5).all()


# -- argument checks -------------------------------------------------------------------------

def _w():
    return [torch.zeros(2, 2, requires_grad=True)]


# (class, argument, a value the oracle rejects)
REJECTED_BY_ORACLE = [
    ("LARS", "lr", -1e-3), ("LARS", "weight_decay", -0.1), ("LARS", "momentum", 1.0), ("LARS", "momentum", -0.1),
    ("LARS", "dampening", 1.0), ("LARS", "dampening", -0.5), ("LARS", "trust_coefficient", -1e-3),
    ("Lamb", "lr", -1.0), ("Lamb", "weight_decay", -1e-2), ("Lamb", "eps", -1e-8),
    ("Lamb", "betas", (1.0, 0.999)), ("Lamb", "betas", (0.9, -0.1)),
]


@pytest.mark.parametrize("name, arg, value", REJECTED_BY_ORACLE)
def test_what_the_oracle_rejects_is_rejected_naming_the_argument(name, arg, value):
    with pytest.raises(Exception):
        getattr(pytorch_optimizer, name)(_w(), **{arg: value})
    with pytest.raises(ValueError, match=arg):
        getattr(ours, name)(_w(), **{arg: value})


NUMBERS = {"LARS": ["lr", "weight_decay", "momentum", "dampening", "trust_coefficient"],
           "Lamb": ["lr", "weight_decay", "eps", "clamp"]}
FLAGS = {"LARS": ["nesterov", "maximize"], "Lamb": ["weight_decouple", "grad_averaging", "adam", "maximize"]}


@pytest.mark.parametrize("name, arg", [(n, a) for n, args in NUMBERS.items() for a in args])
@pytest.mark.parametrize("value, error", [(math.nan, ValueError), (math.inf, ValueError), (True, TypeError),
                                          ("0.1", TypeError), (None, TypeError),
                                          (torch.tensor(0.1), TypeError)])
def test_a_number_that_is_not_a_finite_real_is_rejected_naming_it(name, arg, value, error):
    with pytest.raises(error, match=arg):
        getattr(ours, name)(_w(), **{arg: value})


@pytest.mark.parametrize("name, flag", [(n, f) for n, flags in FLAGS.items() for f in flags])
@pytest.mark.parametrize("value", [1, None, "yes"])
def test_a_flag_must_be_a_bool(name, flag, value):
    with pytest.raises(TypeError, match=flag):
        getattr(ours, name)(_w(), **{flag: value})


@pytest.mark.parametrize("name", ["LARS", "Lamb"])
def test_only_the_for_loop_path_exists(name):
    with pytest.raises(ValueError, match="foreach"):
        getattr(ours, name)(_w(), foreach=True)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-2.0, max_value=2.0))
def test_lars_momentum_is_rejected_exactly_where_the_oracle_rejects_it(momentum):
    try:
        pytorch_optimizer.LARS(_w(), momentum=momentum)
        rejected = False
    except ValueError:
        rejected = True
    if rejected:
        with pytest.raises(ValueError, match="momentum"):
            ours.LARS(_w(), momentum=momentum)
    else:
        ours.LARS(_w(), momentum=momentum)


def test_a_changed_group_is_checked_at_the_next_step():
    w = _w()
    opt = ours.Lamb(w)
    opt.param_groups[0]["betas"] = (0.9, 1.5)
    w[0].grad = torch.ones(2, 2)
    with pytest.raises(ValueError, match=r"param_groups\[0\] was changed after construction: .*betas"):
        opt.step()


def test_lamb_counts_steps_per_group_as_the_reference_does():
    # The bias of the output layer gets its first gradient at step 4: its bias correction
    # uses the group's count (t = 4), as pytorch_optimizer.Lamb's does.
    def run(cls):
        params = make_params()
        opt = cls(params, lr=0.01, weight_decay=0.01)
        rows = []
        for t in range(8):
            opt.zero_grad()
            loss(params).backward()
            if t < 3:
                params[-1].grad = None
            opt.step()
            rows.append(torch.cat([p.detach().flatten() for p in params]).clone())
        return torch.stack(rows), opt

    mine, opt = run(ours.Lamb)
    theirs, _ = run(pytorch_optimizer.Lamb)
    assert_same(mine, theirs)
    assert [group["step"] for group in opt.param_groups] == [8]
    assert all("step" not in state for state in opt.state.values())


def test_a_refused_lamb_step_is_not_counted():
    params = make_params()
    opt = ours.Lamb(params, lr=0.01)
    loss(params).backward()
    opt.step()
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr"):
        opt.step()
    assert opt.param_groups[0]["step"] == 1
