"""Adamax, NAdam and RAdam against torch.optim's classes of the same name (the oracles).

Each runs 50 steps in float64 on the two problems of ``test_optim_trajectories`` (a tiny
tanh network and the Rosenbrock function) next to torch's class, over a grid of
hyperparameters. The rules apply torch's floating-point operations in torch's order, so the
trajectories are compared **bit for bit** (``torch.equal``), not to a tolerance. State dicts
move between ours and torch's in both directions and the runs continue identically. The
argument checks reject every value torch rejects (with a message that starts with torch's),
and also NaN, infinity, bools, strings and tensors, naming the parameter. The quirks of
torch's versions that the chapter explains (eps inside Adamax's maximum, NAdam's float32
product of momenta, RAdam's un-adapted first steps and its threshold 5) are tested by name.
"""
import copy
import inspect
import itertools
import math
import warnings

import pytest
import torch
from test_optim_trajectories import PROBLEMS, case_id, grid, mlp_loss, mlp_params, resume, run

from codebase.optim import _base
from codebase.optim.adamax import Adamax, adamax_update
from codebase.optim.nadam import NAdam, nadam_momentum, nadam_update
from codebase.optim.radam import RADAM_THRESHOLD, RAdam, radam_rectification, radam_rho, radam_update

OURS = {"Adamax": Adamax, "NAdam": NAdam, "RAdam": RAdam}
NAMES = list(OURS)
LR = {"mlp": 0.01, "rosenbrock": 1e-3}


GRIDS = {
    "Adamax": grid(betas=[(0.9, 0.999), (0.5, 0.8), (0.0, 0.0)], weight_decay=[0, 0.1], eps=[1e-8, 1e-2],
                   maximize=[False, True]),
    "NAdam": [kw for kw in grid(betas=[(0.9, 0.999), (0.5, 0.8)], weight_decay=[0, 0.1],
                                decoupled_weight_decay=[False, True], momentum_decay=[4e-3, 0, 0.5],
                                maximize=[False, True])
              if kw["weight_decay"] or not kw["decoupled_weight_decay"]] + [{"eps": 1e-2, "betas": (0.0, 0.0)}],
    # beta2 = 0.999 adapts from step 6, 0.8 from step 7, 0.5 never (rho_inf = 3): both branches
    "RAdam": [kw for kw in grid(betas=[(0.9, 0.999), (0.5, 0.8), (0.9, 0.5)], weight_decay=[0, 0.1],
                                decoupled_weight_decay=[False, True], maximize=[False, True])
              if kw["weight_decay"] or not kw["decoupled_weight_decay"]] + [{"eps": 1e-2}],
}
CASES = [(name, kw) for name in NAMES for kw in GRIDS[name]]


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_equals_torch_bit_for_bit(case):
    name, kw = case
    for problem in PROBLEMS:
        settings = {"lr": LR[problem], **kw}
        mine = run(OURS[name], settings, problem)
        theirs = run(getattr(torch.optim, name), settings, problem)
        assert torch.isfinite(theirs).all()
        assert not torch.equal(theirs[-1], theirs[0]), "the test problem should make the parameters move"
        assert torch.equal(mine, theirs), f"{problem}: max difference {(mine - theirs).abs().max().item():.3g}"


@pytest.mark.parametrize("name", NAMES)
def test_defaults_give_torchs_trajectory(name):
    assert torch.equal(run(OURS[name], {}, "mlp"), run(getattr(torch.optim, name), {}, "mlp"))


@pytest.mark.parametrize("name", NAMES)
def test_float64_default_dtype_and_float32_parameters(name):
    # With float64 as the default dtype, torch keeps step (and NAdam's mu_product) in float64.
    old = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        assert torch.equal(run(OURS[name], {}, "rosenbrock"), run(getattr(torch.optim, name), {}, "rosenbrock"))
    finally:
        torch.set_default_dtype(old)
    rows = []
    for cls in (OURS[name], getattr(torch.optim, name)):
        params = [p.detach().float().requires_grad_() for p in mlp_params()]
        opt = cls(params, lr=0.01)
        for _ in range(20):
            opt.zero_grad()
            mlp_loss([p.double() for p in params]).backward()
            opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params]))
    assert rows[0].dtype == torch.float32 and torch.equal(rows[0], rows[1])


# -- parameter groups, missing gradients ---------------------------------------------------------

GROUPS = {
    "Adamax": ({"lr": 0.01}, {"lr": 0.03, "betas": (0.5, 0.9), "weight_decay": 0.1}),
    "NAdam": ({"lr": 0.01}, {"lr": 0.02, "momentum_decay": 0.1, "weight_decay": 0.1,
                             "decoupled_weight_decay": True}),
    "RAdam": ({"lr": 0.01}, {"lr": 0.02, "betas": (0.5, 0.8), "weight_decay": 0.1}),
}


def run_groups(cls, name, steps=25):
    """Two groups with different hyperparameters; the second tensor has a gradient on even steps only."""
    params = mlp_params()
    frozen = torch.ones(3, dtype=torch.float64, requires_grad=True)
    first, second = GROUPS[name]
    opt = cls([{"params": params[:1] + [frozen], **first}, {"params": params[1:], **second}])
    rows = []
    for t in range(steps):
        opt.zero_grad()
        mlp_loss(params).backward()
        if t % 2:
            params[1].grad = None
        opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params]))
    return torch.stack(rows), opt, frozen


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_and_missing_gradients(name):
    mine, opt, frozen = run_groups(OURS[name], name)
    theirs, torch_opt, _ = run_groups(getattr(torch.optim, name), name)
    assert torch.equal(mine, theirs)
    assert torch.equal(frozen, torch.ones(3, dtype=torch.float64)) and frozen not in opt.state
    strip = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    assert strip == [{k: v for k, v in g.items() if k != "params"} for g in torch_opt.param_groups]


# -- state dicts ---------------------------------------------------------------------------------

STATEFUL = {"Adamax": {"lr": 0.01, "weight_decay": 0.01}, "NAdam": {"lr": 0.01, "momentum_decay": 0.05},
            "RAdam": {"lr": 0.01, "weight_decay": 0.01, "decoupled_weight_decay": True}}


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_has_torchs_layout(name):
    _, mine = resume(OURS[name], OURS[name], STATEFUL[name], before=4, after=0)
    _, theirs = resume(getattr(torch.optim, name), getattr(torch.optim, name), STATEFUL[name], before=4, after=0)
    assert mine["param_groups"] == theirs["param_groups"]
    assert mine["state"].keys() == theirs["state"].keys()
    for i, state in theirs["state"].items():
        assert list(mine["state"][i]) == list(state)
        for key, value in state.items():
            assert mine["state"][i][key].dtype == value.dtype and torch.equal(mine["state"][i][key], value), key


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("direction", ["torch->ours", "ours->torch", "ours->ours"])
def test_state_dict_moves_and_the_run_continues_identically(name, direction):
    first, second = {"torch->ours": (getattr(torch.optim, name), OURS[name]),
                     "ours->torch": (OURS[name], getattr(torch.optim, name)),
                     "ours->ours": (OURS[name], OURS[name])}[direction]
    # RAdam adapts from step 6: the split at 4 crosses it
    crossed, _ = resume(first, second, STATEFUL[name], before=4, after=12)
    reference, _ = resume(getattr(torch.optim, name), getattr(torch.optim, name), STATEFUL[name], before=4, after=12)
    assert torch.equal(crossed, reference)


@pytest.mark.parametrize("name", NAMES)
def test_an_old_checkpoint_gets_the_flags_torch_fills(name):
    cls, reference = OURS[name], getattr(torch.optim, name)
    _, saved = resume(reference, reference, STATEFUL[name], before=4, after=0)
    for group in saved["param_groups"]:
        for flag in cls._TORCH_FLAG_DEFAULTS:
            del group[flag]
    if name == "NAdam":  # a checkpoint from before mu_product was a tensor
        for state in saved["state"].values():
            state["mu_product"] = state["mu_product"].item()
    loaded = []
    for make in (cls, reference):
        w = mlp_params()
        opt = make(w, **STATEFUL[name], maximize=True)
        opt.load_state_dict(copy.deepcopy(saved))
        loaded.append(opt)
    assert loaded[0].param_groups[0]["maximize"] is False
    assert [g for g in loaded[0].state_dict()["param_groups"]] == loaded[1].state_dict()["param_groups"]
    for mine, theirs in zip(loaded[0].state.values(), loaded[1].state.values()):
        for key in theirs:
            assert torch.is_tensor(mine[key]) and mine[key].dtype == theirs[key].dtype, key


# -- the quirks that the chapter explains -------------------------------------------------------

def test_adamax_eps_sits_inside_the_maximum_and_u_needs_no_bias_correction():
    theta = torch.tensor([1.0, 2.0], dtype=torch.float64)
    m, u = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    g = torch.tensor([0.0, -3.0], dtype=torch.float64)
    adamax_update(theta, g, m, u, 1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-3)
    assert torch.equal(u, torch.tensor([1e-3, 3.0 + 1e-3], dtype=torch.float64))  # u_1 = |g_1| + eps
    # m_hat_1 = g_1, so the first step is lr * g / (|g| + eps): nearly lr * sign(g), as in Adam
    torch.testing.assert_close(theta, torch.tensor([1.0, 2.0 + 0.1 * 3.0 / (3.0 + 1e-3)], dtype=torch.float64),
                               rtol=1e-15, atol=0)


def test_nadam_keeps_the_product_of_momenta_in_float32_as_torch_does():
    mine = run(NAdam, {"lr": 0.01}, "mlp", steps=200)
    params = mlp_params()
    opt = NAdam(params, lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        mlp_loss(params).backward()
        opt.step()
    mu_product = opt.state[params[0]]["mu_product"]
    exact = math.prod(nadam_momentum(t, beta1=0.9, momentum_decay=4e-3) for t in range(1, 201))
    assert mu_product.dtype == torch.float32 and mu_product.item() != exact
    assert mu_product.item() == pytest.approx(exact, rel=1e-5)
    assert torch.equal(mine, run(torch.optim.NAdam, {"lr": 0.01}, "mlp", steps=200))


def test_nadam_momentum_schedule():
    assert nadam_momentum(1, beta1=0.9, momentum_decay=0.0) == 0.45  # psi = 0: beta1 / 2 at every step
    mus = [nadam_momentum(t, beta1=0.9, momentum_decay=4e-3) for t in (1, 4245, 10 ** 6)]
    assert 0.45 < mus[0] < 0.4502 and mus[1] == pytest.approx(0.675, abs=1e-4) and mus[2] == pytest.approx(0.9)


def test_nadam_rule_reduces_to_its_two_parts_at_the_first_step():
    theta = torch.tensor([1.0, -1.0], dtype=torch.float64)
    g = torch.tensor([0.5, 2.0], dtype=torch.float64)
    m, v = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    pi = torch.tensor(1.0, dtype=torch.float64)  # Pi_0, in float64 so that the check below can be exact
    nadam_update(theta, g, m, v, pi, 1, lr=0.1, beta1=0.9, beta2=0.999, eps=0.0, momentum_decay=0.0)
    # mu = 0.45 at every step: the step is lr * ((1 - mu)/(1 - mu) g + mu (1 - beta1) g / (1 - mu^2)) / |g|
    expected = torch.tensor([1.0, -1.0], dtype=torch.float64) - 0.1 * (1 + 0.45 * 0.1 / (1 - 0.45 ** 2)) * g.sign()
    torch.testing.assert_close(theta, expected, rtol=1e-14, atol=0)
    assert pi.item() == pytest.approx(0.45)


def test_radam_rho_and_the_step_from_which_it_adapts():
    assert radam_rho(1, 0.999) == (pytest.approx(1.0), pytest.approx(1999.0))
    first = {beta2: next(t for t in range(1, 100) if radam_rectification(t, beta2) is not None)
             for beta2 in (0.999, 0.99, 0.8)}
    assert first == {0.999: 6, 0.99: 6, 0.8: 7}
    assert radam_rho(first[0.999] - 1, 0.999)[0] <= RADAM_THRESHOLD < radam_rho(first[0.999], 0.999)[0]
    assert all(radam_rectification(t, 2 / 3) is None for t in range(1, 1000))  # rho_inf = 5: never adapts
    r = [radam_rectification(t, 0.999) for t in (6, 100, 10_000, 10 ** 6)]
    assert 0 < r[0] < r[1] < r[2] < r[3] <= 1 and r[3] == pytest.approx(1.0)


def test_radam_first_steps_are_momentum_sgd():
    theta = torch.tensor([1.0, -1.0], dtype=torch.float64)
    m, v = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    g = torch.tensor([0.5, 2.0], dtype=torch.float64)
    for t in range(1, 6):
        before = theta.clone()
        radam_update(theta, g, m, v, t, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
        torch.testing.assert_close(before - theta, 0.1 * g, rtol=1e-14, atol=0)  # constant g: m_hat = g
    before = theta.clone()
    radam_update(theta, g, m, v, 6, lr=0.1, beta1=0.9, beta2=0.999, eps=0.0)  # adapted: l_6 = 1 / |g|
    torch.testing.assert_close(before - theta, 0.1 * radam_rectification(6, 0.999) * g.sign(), rtol=1e-12, atol=0)


# -- argument checks -------------------------------------------------------------------------------

RANGED = {"Adamax": ["lr", "eps", "weight_decay"], "NAdam": ["lr", "eps", "weight_decay", "momentum_decay"],
          "RAdam": ["lr", "eps", "weight_decay"]}
EDGES = [-1.0, -1e-300, -0.0, 0.0, 1e-300, 0.5, 1 - 1e-16, 1.0, 1 + 1e-15, 2.0, 1e300, math.inf, -math.inf]
VALUE_CASES = ([(name, {arg: value}) for name in NAMES for arg in RANGED[name] for value in EDGES]
               + [(name, {"betas": betas}) for name in NAMES
                  for betas in itertools.product([-1e-300, 0.0, 0.9, 1 - 1e-16, 1.0, 2.0, math.inf], repeat=2)])


def params():
    return [torch.zeros(2, requires_grad=True)]


def outcome(make):
    try:
        make()
    except Exception as exc:  # noqa: BLE001 - we compare whatever torch raises
        return exc
    return None


@pytest.mark.parametrize("name, kwargs", VALUE_CASES, ids=[f"{n}-{k}" for n, k in VALUE_CASES])
@pytest.mark.filterwarnings("ignore::codebase.optim._base.SenselessHyperparameterWarning")  # eps=0
def test_rejected_iff_torch_rejects_with_torchs_message(name, kwargs):
    mine = outcome(lambda: OURS[name](params(), **kwargs))
    theirs = outcome(lambda: getattr(torch.optim, name)(params(), **kwargs))
    values = [v for value in kwargs.values() for v in (value if isinstance(value, tuple) else (value,))]
    if theirs is None and any(math.isinf(v) for v in values):  # stricter: inf would give inf or nan
        assert isinstance(mine, ValueError) and "must be finite" in str(mine)
    elif theirs is None:
        assert mine is None, f"torch accepts {kwargs}, we raise {mine!r}"
    else:
        assert isinstance(theirs, ValueError) and isinstance(mine, ValueError), (theirs, mine)
        assert str(mine).startswith(str(theirs)), (str(mine), str(theirs))
    if mine is not None:
        assert next(iter(kwargs)) in str(mine)


WRONG = [("nan", math.nan, ValueError), ("True", True, TypeError), ("str", "0.1", TypeError),
         ("None", None, TypeError), ("tensor", torch.tensor(0.1), TypeError), ("complex", 1j, TypeError)]
WRONG_CASES = [(name, arg, label, value, error) for name in NAMES for arg in RANGED[name]
               for label, value, error in WRONG]


@pytest.mark.parametrize("name, arg, label, value, error", WRONG_CASES,
                         ids=[f"{c[0]}-{c[1]}={c[2]}" for c in WRONG_CASES])
def test_nan_bool_str_none_tensor_are_refused_naming_the_parameter(name, arg, label, value, error):
    with pytest.raises(error, match=arg):
        OURS[name](params(), **{arg: value})


@pytest.mark.parametrize("name", NAMES)
def test_betas_flags_and_groups(name):
    cls = OURS[name]
    for betas, error in [(0.9, TypeError), ("ab", TypeError), ((0.9,), ValueError), ((0.9, math.nan), ValueError),
                         ((True, 0.9), TypeError)]:
        with pytest.raises(error, match="betas"):
            cls(params(), betas=betas)
    flags = [f for f in ("maximize", "decoupled_weight_decay") if f in inspect.signature(cls).parameters]
    for flag, value in itertools.product(flags, [1, "yes", None]):
        with pytest.raises(TypeError, match=flag):
            cls(params(), **{flag: value})
    assert getattr(torch.optim, name)([{"params": params(), "lr": -1.0}]) is not None  # torch checks defaults only
    with pytest.raises(ValueError, match="lr"):
        cls([{"params": params(), "lr": -1.0}])
    w = params()
    opt = cls(w)
    opt.param_groups[0]["eps"] = -1.0
    w[0].grad = torch.ones(2)
    with pytest.raises(ValueError, match=r"param_groups\[0\] was changed.*eps"):
        opt.step()


IMPLEMENTATION_FLAGS = [(name, flag) for name in NAMES for flag in ("foreach", "fused", "differentiable", "capturable")
                        if flag in inspect.signature(getattr(torch.optim, name)).parameters]


@pytest.mark.parametrize("name, flag", IMPLEMENTATION_FLAGS, ids=[f"{n}-{f}" for n, f in IMPLEMENTATION_FLAGS])
def test_faster_implementations_are_refused_clearly(name, flag):
    with pytest.raises(ValueError, match=rf"single-tensor.*torch\.optim\.{name}"):
        OURS[name](params(), **{flag: True})
    with pytest.raises(TypeError, match=flag):
        OURS[name](params(), **{flag: "yes"})
    if flag == "foreach":
        assert OURS[name](params(), foreach=False).defaults["foreach"] is False


@pytest.mark.parametrize("name", NAMES)
def test_signature_and_defaults_equal_torchs(name):
    def describe(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls.__init__).parameters.values()]

    assert describe(OURS[name]) == describe(getattr(torch.optim, name))
    p = params()
    assert OURS[name](p).defaults == getattr(torch.optim, name)(p).defaults


@pytest.mark.parametrize("name", NAMES)
def test_eps_zero_is_accepted_with_one_warning(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        OURS[name](params(), eps=0.0)
        OURS[name](params())
    ours = [w for w in caught if issubclass(w.category, _base.SenselessHyperparameterWarning)]
    assert len(ours) == 1 and "eps=0.0" in str(ours[0].message)
