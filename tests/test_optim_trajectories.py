"""codebase.optim against torch.optim: trajectories, parameter groups and state dicts.

torch is the answer key. Every optimizer runs 50 steps in float64 on a tiny MLP
regression and on the Rosenbrock function, next to the torch.optim class of the
same name, over a grid of hyperparameters; the parameters must agree after every
step to rounding error.
"""
import copy
import itertools

import pytest
import torch

import codebase.optim as ours

STEPS = 50
RTOL, ATOL = 1e-12, 1e-14
NAMES = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"]


# -- two small deterministic problems, with their gradients written out ---------------------
# (closed-form gradients keep the 300 trajectories below fast; test_gradients_match_autograd
# checks them against autograd)

def mlp_params():
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(*shape, generator=g, dtype=torch.float64) * 0.5).requires_grad_()
            for shape in [(4, 8), (8, 2)]]


_g = torch.Generator().manual_seed(1)
_X = torch.randn(16, 4, generator=_g, dtype=torch.float64)
_Y = torch.sin(_X @ torch.randn(4, 2, generator=_g, dtype=torch.float64))


def mlp_loss(params):
    """Mean squared error of a 4-8-2 tanh network without biases."""
    w1, w2 = params
    return ((torch.tanh(_X @ w1) @ w2 - _Y) ** 2).mean()


def mlp_grads(params):
    w1, w2 = (p.detach() for p in params)
    h = torch.tanh(_X @ w1)
    d_out = 2 * (h @ w2 - _Y) / _Y.numel()
    return [_X.T @ ((d_out @ w2.T) * (1 - h ** 2)), h.T @ d_out]


def rosenbrock_params():
    return [torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)]


def rosenbrock_loss(params):
    x, y = params[0]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def rosenbrock_grads(params):
    x, y = params[0].detach()
    return [torch.stack([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])]


PROBLEMS = {"mlp": (mlp_params, mlp_grads), "rosenbrock": (rosenbrock_params, rosenbrock_grads)}

# A learning rate per optimizer and problem at which 50 steps stay stable.
LR = {
    "mlp": {"SGD": 0.1, "Adagrad": 0.1, "RMSprop": 0.01, "Adadelta": 1.0, "Adam": 0.01, "AdamW": 0.01},
    "rosenbrock": {"SGD": 2e-4, "Adagrad": 0.1, "RMSprop": 1e-3, "Adadelta": 1.0, "Adam": 1e-2, "AdamW": 1e-2},
}


def run(optimizer_class, kwargs, problem, steps=STEPS):
    """Parameters after each of ``steps`` steps (one row per step), flattened.

    With ``maximize=True`` the optimizer ascends ``-loss``, so it still walks downhill.
    """
    make_params, grads = PROBLEMS[problem]
    params = make_params()
    opt = optimizer_class(params, **kwargs)
    sign = -1.0 if kwargs.get("maximize") else 1.0
    rows = []
    for _ in range(steps):
        for p, g in zip(params, grads(params)):
            p.grad = sign * g
        opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params]))
    return torch.stack(rows)


def test_gradients_match_autograd():
    for make_params, loss, grads in [(mlp_params, mlp_loss, mlp_grads),
                                     (rosenbrock_params, rosenbrock_loss, rosenbrock_grads)]:
        params = make_params()
        loss(params).backward()
        for p, g in zip(params, grads(params)):
            torch.testing.assert_close(g, p.grad, rtol=1e-12, atol=1e-14)


# -- the grid of hyperparameters --------------------------------------------------------------

def grid(**axes):
    """Every combination of the values of ``axes``, as keyword dicts (the other optimizer test modules use it too)."""
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


GRIDS = {
    "SGD": [kw for kw in grid(momentum=[0, 0.9], dampening=[0, 0.5], weight_decay=[0, 0.1],
                               nesterov=[False, True], maximize=[False, True])
            if not kw["nesterov"] or (kw["momentum"] > 0 and kw["dampening"] == 0)],
    "Adagrad": grid(lr_decay=[0, 0.05], weight_decay=[0, 0.1], initial_accumulator_value=[0, 0.5],
                    maximize=[False, True]) + [{"eps": 1e-3, "lr_decay": 0.05, "weight_decay": 0.1}],
    "RMSprop": grid(alpha=[0.99, 0.5], weight_decay=[0, 0.1], momentum=[0, 0.9], centered=[False, True],
                    maximize=[False, True]),
    "Adadelta": grid(rho=[0.9, 0.5], weight_decay=[0, 0.1], eps=[1e-6, 1e-3], maximize=[False, True]),
    "Adam": grid(betas=[(0.9, 0.999), (0.5, 0.8)], weight_decay=[0, 0.1], amsgrad=[False, True],
                 maximize=[False, True], decoupled_weight_decay=[False, True]),
    "AdamW": grid(betas=[(0.9, 0.999), (0.5, 0.8)], weight_decay=[0, 0.1], amsgrad=[False, True],
                  maximize=[False, True]),
}
CASES = [(name, kw) for name in NAMES for kw in GRIDS[name]]


def case_id(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_equals_torch(case):
    name, kw = case
    for problem in PROBLEMS:
        settings = {"lr": LR[problem][name], **kw}
        mine = run(getattr(ours, name), settings, problem)
        theirs = run(getattr(torch.optim, name), settings, problem)
        assert torch.isfinite(theirs).all()
        assert not torch.equal(theirs[-1], theirs[0]), "the test problem should make the parameters move"
        torch.testing.assert_close(mine, theirs, rtol=RTOL, atol=ATOL, msg=lambda m: f"{problem}: {m}")


@pytest.mark.parametrize("name", NAMES)
def test_defaults_give_torchs_trajectory(name):
    mine = run(getattr(ours, name), {}, "mlp")
    theirs = run(getattr(torch.optim, name), {}, "mlp")
    torch.testing.assert_close(mine, theirs, rtol=RTOL, atol=ATOL)
    assert not torch.equal(theirs[-1], theirs[0])


@pytest.mark.parametrize("name", NAMES)
def test_trajectories_are_bitwise_equal_to_torch(name):
    # The rules apply torch's floating-point operations in torch's order, so with the same
    # kernels (torch is pinned) nothing is left to rounding: the tolerance above is a margin.
    settings = {"lr": LR["rosenbrock"][name], "weight_decay": 0.1, "maximize": True}
    assert torch.equal(run(getattr(ours, name), settings, "rosenbrock"),
                       run(getattr(torch.optim, name), settings, "rosenbrock"))


def test_sgd_momentum_buffer_starts_as_the_first_gradient():
    # torch's convention, reproduced: m_1 = g_1 (no dampening), then m_t = beta m + (1 - tau) g.
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = ours.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    g1, g2 = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64), torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)
    p.grad = g1.clone()
    opt.step()
    assert torch.equal(opt.state[p]["momentum_buffer"], g1)
    p.grad = g2.clone()
    opt.step()
    torch.testing.assert_close(opt.state[p]["momentum_buffer"], 0.9 * g1 + 0.5 * g2, rtol=1e-15, atol=0)


# -- parameter groups, missing gradients, closures ---------------------------------------------

GROUP_SETTINGS = {
    "SGD": ({"lr": 0.1}, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "Adagrad": ({"lr": 0.1}, {"lr": 0.3, "lr_decay": 0.1, "weight_decay": 0.01}),
    "RMSprop": ({"lr": 0.01}, {"lr": 0.003, "momentum": 0.5, "centered": True}),
    "Adadelta": ({"lr": 1.0}, {"lr": 0.5, "rho": 0.5, "weight_decay": 0.01}),
    "Adam": ({"lr": 0.01}, {"lr": 0.02, "betas": (0.5, 0.9), "amsgrad": True, "weight_decay": 0.1}),
    "AdamW": ({"lr": 0.01}, {"lr": 0.02, "betas": (0.5, 0.9), "amsgrad": True, "weight_decay": 0.5}),
}


def run_groups(optimizer_class, name, steps=30):
    params = mlp_params()
    first, second = GROUP_SETTINGS[name]
    opt = optimizer_class([{"params": params[:1], **first}, {"params": params[1:], **second}])
    rows = []
    for _ in range(steps):
        opt.zero_grad()
        mlp_loss(params).backward()
        opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params]))
    return torch.stack(rows), opt


@pytest.mark.parametrize("name", NAMES)
def test_param_groups_with_different_hyperparameters(name):
    mine, opt = run_groups(getattr(ours, name), name)
    theirs, torch_opt = run_groups(getattr(torch.optim, name), name)
    torch.testing.assert_close(mine, theirs, rtol=RTOL, atol=ATOL)
    assert opt.param_groups[1]["lr"] == GROUP_SETTINGS[name][1]["lr"]
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == \
           [{k: v for k, v in g.items() if k != "params"} for g in torch_opt.param_groups]


def run_with_missing_grads(optimizer_class, steps=20):
    """``frozen`` never gets a gradient; ``w2`` only gets one on even steps."""
    params = mlp_params()
    frozen = torch.ones(3, dtype=torch.float64, requires_grad=True)
    opt = optimizer_class(params + [frozen], lr=0.01)
    rows = []
    for t in range(steps):
        opt.zero_grad()
        mlp_loss(params).backward()
        if t % 2:
            params[1].grad = None
        opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params + [frozen]]))
    return torch.stack(rows), opt, frozen


@pytest.mark.parametrize("name", NAMES)
def test_parameters_without_grad_are_skipped(name):
    mine, opt, frozen = run_with_missing_grads(getattr(ours, name))
    theirs, torch_opt, torch_frozen = run_with_missing_grads(getattr(torch.optim, name))
    torch.testing.assert_close(mine, theirs, rtol=RTOL, atol=ATOL)
    assert torch.equal(frozen, torch.ones(3, dtype=torch.float64))
    # No state for a parameter that never had a gradient (Adagrad builds it up front, with step 0).
    assert set(opt.state[frozen]) == set(torch_opt.state[torch_frozen])
    if "step" in opt.state[frozen]:
        assert opt.state[frozen]["step"].item() == 0


@pytest.mark.parametrize("name", NAMES)
def test_step_returns_the_closures_loss(name):
    params = mlp_params()
    opt = getattr(ours, name)(params, lr=0.01)
    calls = []

    def closure():
        opt.zero_grad()
        loss = mlp_loss(params)
        loss.backward()
        calls.append(loss.item())
        return loss

    before = [p.detach().clone() for p in params]
    loss = opt.step(closure)
    assert calls == [loss.item()] and loss.item() == pytest.approx(mlp_loss(before).item())
    assert any(not torch.equal(a, b) for a, b in zip(before, params))
    assert opt.step() is None


def test_works_with_torch_lr_schedulers():
    def trajectory(optimizer_class):
        params = rosenbrock_params()
        opt = optimizer_class(params, lr=1e-3, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
        rows = []
        for _ in range(40):
            opt.zero_grad()
            rosenbrock_loss(params).backward()
            opt.step()
            sched.step()
            rows.append(params[0].detach().clone())
        return torch.stack(rows), opt.param_groups[0]["lr"]

    (mine, lr), (theirs, torch_lr) = trajectory(ours.SGD), trajectory(torch.optim.SGD)
    assert lr == torch_lr == pytest.approx(1e-3 / 16)
    torch.testing.assert_close(mine, theirs, rtol=RTOL, atol=ATOL)


# -- state dicts --------------------------------------------------------------------------------

# Settings that create every kind of state tensor.
STATEFUL = {
    "SGD": {"lr": 0.05, "momentum": 0.9, "dampening": 0.1},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1},
    "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
    "Adadelta": {"lr": 1.0, "weight_decay": 0.01},
    "Adam": {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
    "AdamW": {"lr": 0.01, "amsgrad": True},
}


def resume(first_class, second_class, kwargs, before=15, after=15):
    """Run ``before`` steps with ``first_class(params, **kwargs)``, move params and ``state_dict`` into a
    fresh ``second_class`` optimizer, run ``after`` more steps; return the trajectory of the second part
    and the state dict. The other optimizer test modules use it too."""
    params = mlp_params()
    opt = first_class(params, **kwargs)
    for _ in range(before):
        opt.zero_grad()
        mlp_loss(params).backward()
        opt.step()
    saved = copy.deepcopy(opt.state_dict())
    params = [p.detach().clone().requires_grad_() for p in params]
    opt = second_class(params, **kwargs)
    opt.load_state_dict(copy.deepcopy(saved))
    rows = []
    for _ in range(after):
        opt.zero_grad()
        mlp_loss(params).backward()
        opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params]))
    return (torch.stack(rows) if rows else None), saved


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_the_same_trajectory(name):
    cls = getattr(ours, name)
    resumed, _ = resume(cls, cls, STATEFUL[name])
    params = mlp_params()
    opt = cls(params, **STATEFUL[name])
    rows = []
    for _ in range(30):
        opt.zero_grad()
        mlp_loss(params).backward()
        opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params]))
    assert torch.equal(resumed, torch.stack(rows)[15:])


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_has_torchs_layout(name):
    _, mine = resume(getattr(ours, name), getattr(ours, name), STATEFUL[name], after=0)
    _, theirs = resume(getattr(torch.optim, name), getattr(torch.optim, name), STATEFUL[name], after=0)
    assert mine["param_groups"] == theirs["param_groups"]
    assert mine["state"].keys() == theirs["state"].keys()
    for i, state in theirs["state"].items():
        assert mine["state"][i].keys() == state.keys()
        for key, value in state.items():
            assert mine["state"][i][key].dtype == value.dtype and mine["state"][i][key].shape == value.shape
            torch.testing.assert_close(mine["state"][i][key], value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("direction", ["torch->ours", "ours->torch"])
def test_state_dict_moves_between_torch_and_ours(name, direction):
    mine, theirs = getattr(ours, name), getattr(torch.optim, name)
    first, second = (theirs, mine) if direction == "torch->ours" else (mine, theirs)
    crossed, _ = resume(first, second, STATEFUL[name])
    reference, _ = resume(theirs, theirs, STATEFUL[name])
    torch.testing.assert_close(crossed, reference, rtol=RTOL, atol=ATOL)


def test_adagrad_builds_its_state_up_front_like_torch():
    p = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    mine = ours.Adagrad([p], initial_accumulator_value=0.25).state_dict()
    theirs = torch.optim.Adagrad([p], initial_accumulator_value=0.25).state_dict()
    assert mine["state"][0]["step"].item() == 0
    assert torch.equal(mine["state"][0]["sum"], torch.full((2, 3), 0.25, dtype=torch.float64))
    assert mine["state"][0].keys() == theirs["state"][0].keys()


def test_deepcopy_gives_an_independent_optimizer():
    params = mlp_params()
    opt = ours.Adam(params, lr=0.01)
    mlp_loss(params).backward()
    opt.step()
    clone = copy.deepcopy(opt)
    assert clone.defaults == opt.defaults
    clone.state[clone.param_groups[0]["params"][0]]["step"] += 1
    assert opt.state[params[0]]["step"].item() == 1
