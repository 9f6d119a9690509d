"""ScheduleFreeSGD and ScheduleFreeAdamW against the authors' package ``schedulefree`` (the answer key).

Trajectories run 50 steps in float64 on the two problems of ``test_optim_trajectories``
(a tiny MLP and the Rosenbrock function) over a grid of hyperparameters. Our rules
apply the reference's floating-point operations in its order, so the parameters in
train mode (``y``), the state ``z`` (and ``v``), the averaged weights after ``eval()``
(``x``) and the weights after switching back with ``train()`` are compared with
``torch.equal``: bit for bit, against both the reference's for-loop and its foreach
path. ``pytorch_optimizer``'s classes are a second opinion: its SGD is bitwise equal
too; its AdamW adds 1e-15 to ``v_hat`` under the square root, so it is compared with
a tolerance, and the test shows that this constant is the whole difference.
"""
import copy
import math

import pytest
import pytorch_optimizer
import schedulefree
import torch
from test_optim_trajectories import PROBLEMS, case_id, grid

from codebase.optim.schedule_free import averaging_weight, warmup_lr
from codebase.optim.schedule_free_adamw import ScheduleFreeAdamW, schedule_free_adamw_update
from codebase.optim.schedule_free_sgd import ScheduleFreeSGD, schedule_free_sgd_update

STEPS = 50
OURS = {"SGD": ScheduleFreeSGD, "AdamW": ScheduleFreeAdamW}
REFERENCE = {"SGD": schedulefree.SGDScheduleFree, "AdamW": schedulefree.AdamWScheduleFree}
SECOND = {"SGD": pytorch_optimizer.ScheduleFreeSGD, "AdamW": pytorch_optimizer.ScheduleFreeAdamW}
LR = {"mlp": {"SGD": 0.2, "AdamW": 0.02}, "rosenbrock": {"SGD": 2e-4, "AdamW": 0.02}}


# Each hyperparameter over its range: the interpolation weight near both ends, decay on and
# off, warm-up shorter and longer than the run, and the exponents of the averaging weights.
SHARED = grid(weight_decay=[0, 0.1], warmup_steps=[0, 10, 80], r=[0.0, 2.0], weight_lr_power=[0.0, 2.0])
GRIDS = {
    "SGD": [{"momentum": 0.9, **kw} for kw in SHARED]
    + [{"momentum": m, "r": 1.0, "warmup_steps": 5} for m in (0.05, 0.5, 0.99)],
    "AdamW": [{"betas": (0.9, 0.999), **kw} for kw in SHARED]
    + [{"betas": b, "eps": e, "r": 1.0, "warmup_steps": 5} for b, e in
       [((0.05, 0.999), 1e-8), ((0.5, 0.5), 1e-3), ((0.99, 0.0), 1e-8), ((0.9, 0.9), 0.0)]],
}
CASES = [(name, kw) for name in OURS for kw in GRIDS[name]]


def run(cls, kwargs, problem, steps=STEPS, switch_every=0):
    """Concatenate, after each step, y, the state and, every ``switch_every`` steps, x = eval() and y = train()
    again; at the end x."""
    make_params, grads = PROBLEMS[problem]
    params = make_params()
    opt = cls(params, **kwargs)
    opt.train()
    rows = []

    def flat(tensors):
        return torch.cat([t.detach().flatten() for t in tensors])

    for t in range(1, steps + 1):
        for p, g in zip(params, grads(params)):
            p.grad = g
        opt.step()
        rows.append(flat(params))
        rows.append(flat(v for p in params for v in opt.state[p].values() if torch.is_tensor(v) and v.ndim))
        if switch_every and t % switch_every == 0:
            opt.eval()
            rows.append(flat(params))
            opt.train()
            rows.append(flat(params))
    opt.eval()
    rows.append(flat(params))
    return torch.cat(rows)


def initial(problem):
    return torch.cat([p.detach().flatten() for p in PROBLEMS[problem][0]()])


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_and_eval_weights_equal_the_reference_bit_for_bit(case):
    name, kw = case
    for problem in PROBLEMS:
        settings = {"lr": LR[problem][name], **kw}
        mine = run(OURS[name], settings, problem, switch_every=7)
        theirs = run(REFERENCE[name], {**settings, "foreach": False}, problem, switch_every=7)
        start = initial(problem)
        assert torch.isfinite(theirs).all() and not torch.equal(theirs[-len(start):], start), "x should move"
        assert torch.equal(mine, theirs), f"{problem}: max difference {(mine - theirs).abs().max().item():.3g}"
    # the reference's default (foreach) path does the same arithmetic
    assert torch.equal(mine, run(REFERENCE[name], settings, problem, switch_every=7))


@pytest.mark.parametrize("name", list(OURS))
def test_defaults_equal_the_reference(name):
    mine, theirs = run(OURS[name], {}, "mlp", steps=20), run(REFERENCE[name], {}, "mlp", steps=20)
    assert torch.isfinite(theirs).all() and torch.equal(mine, theirs)


@pytest.mark.parametrize("name", list(OURS))
def test_second_opinion_pytorch_optimizer(name):
    """pytorch_optimizer agrees; its AdamW's only difference is sqrt(v_hat + 1e-15) in the denominator."""
    for kw in GRIDS[name][::5]:
        settings = {"lr": LR["mlp"][name], **kw}
        mine, second = run(OURS[name], settings, "mlp"), run(SECOND[name], settings, "mlp")
        if name == "SGD":
            assert torch.equal(mine, second)
        else:
            assert not torch.equal(mine, second)   # up to 5e-8 relative where v_hat is tiny
            # with 1e-15 under the square root, our rule gives pytorch_optimizer's numbers
            shifted = run(_AdamWShifted, settings, "mlp")
            torch.testing.assert_close(second, shifted, rtol=1e-13, atol=0)


class _AdamWShifted(ScheduleFreeAdamW):
    """Our AdamW with pytorch_optimizer's denominator sqrt(v_t / (1 - beta2^t) + 1e-15) + eps."""

    def _update(self, p, g, state, group, t, lr, c):
        beta1, beta2 = group["betas"]
        v = state["exp_avg_sq"]
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        u = g / (v.div(1 - beta2 ** t).add(1e-15).sqrt_().add_(group["eps"]))
        if group["weight_decay"] != 0:
            u.add_(p, alpha=group["weight_decay"])
        p.lerp_(state["z"], c)
        p.add_(u, alpha=lr * (beta1 * (1 - c) - 1))
        state["z"].sub_(u, alpha=lr)


# -- the three sequences, written out as in the paper ---------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"warmup_steps": 10, "r": 1.0, "weight_decay": 0.05}])
def test_sgd_follows_the_papers_three_sequences(kw):
    """z is SGD, x the weighted average of the z's, y between them: y in train mode, x after eval()."""
    make_params, grads = PROBLEMS["mlp"]
    params = make_params()
    base, beta, warmup, r, decay = 0.2, 0.8, kw.get("warmup_steps", 0), kw.get("r", 0.0), kw.get("weight_decay", 0)
    opt = ScheduleFreeSGD(params, lr=base, momentum=beta, **kw)
    opt.train()
    z = [p.detach().clone() for p in params]
    x = [p.detach().clone() for p in params]
    lr_max, weight_sum = 0.0, 0.0
    for t in range(1, 31):
        lr = base * min(1.0, t / warmup) if warmup else base
        lr_max = max(lr_max, lr)
        weight = t ** r * lr_max ** 2
        weight_sum += weight
        c = weight / weight_sum
        y = [p.detach().clone() for p in params]
        for p, g in zip(params, grads(params)):
            p.grad = g
        opt.step()
        for p, g, yi, zi, xi in zip(params, [p.grad for p in params], y, z, x):
            zi.sub_(lr * (g + decay * yi))                 # z_t = z_{t-1} - lr g_t
            xi.mul_(1 - c).add_(c * zi)                    # x_t = (1 - c_t) x_{t-1} + c_t z_t
            torch.testing.assert_close(opt.state[p]["z"], zi, rtol=1e-12, atol=1e-14)
            torch.testing.assert_close(p.detach(), (1 - beta) * zi + beta * xi, rtol=1e-12, atol=1e-14)
    opt.eval()
    for p, xi in zip(params, x):
        torch.testing.assert_close(p.detach(), xi, rtol=1e-12, atol=1e-14)


def test_helpers_give_uniform_averaging_and_the_warmup():
    assert [warmup_lr(0.5, t, 4) for t in (1, 2, 4, 5, 100)] == [0.125, 0.25, 0.5, 0.5, 0.5]
    assert warmup_lr(0.5, 1, 0) == 0.5
    weight_sum, cs = 0.0, []
    for t in range(1, 6):
        c, weight_sum = averaging_weight(t, 0.1, weight_sum, r=0.0, weight_lr_power=2.0)
        cs.append(c)
    assert cs == pytest.approx([1 / t for t in range(1, 6)], rel=1e-15)
    assert averaging_weight(1, 0.0, 0.0, r=0.0, weight_lr_power=2.0) == (0.0, 0.0)   # lr = 0 so far: c = 0


def test_rules_leave_the_gradient_alone():
    """The reference overwrites p.grad (adds the decay, divides by the denominator); ours does not."""
    y, z, v, g = torch.ones(3), torch.zeros(3), torch.zeros(3), torch.tensor([1.0, -2.0, 3.0])
    schedule_free_sgd_update(y, g, z, lr=0.1, beta=0.9, c=0.5, weight_decay=0.1)
    schedule_free_adamw_update(y, g, z, v, 1, lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, c=0.5, weight_decay=0.1)
    assert g.tolist() == [1.0, -2.0, 3.0]
    w = torch.ones(3, requires_grad=True)
    w.grad = g.clone()
    reference = schedulefree.AdamWScheduleFree([w], weight_decay=0.1, foreach=False)
    reference.train()
    reference.step()
    assert not torch.equal(w.grad, g)


# -- the train/eval switch -----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(OURS))
def test_step_in_eval_mode_raises_as_in_the_reference(name):
    for cls, error in [(OURS[name], RuntimeError), (REFERENCE[name], Exception)]:
        w = torch.zeros(3, requires_grad=True)
        w.grad = torch.ones(3)
        opt = cls([w])
        with pytest.raises(error, match="train"):   # a new optimizer is in eval mode
            opt.step()
        opt.train()
        opt.step()
        opt.eval()
        with pytest.raises(error, match="train"):
            opt.step()


@pytest.mark.parametrize("name", list(OURS))
def test_switching_twice_changes_nothing_and_params_without_state_stay(name):
    w, idle = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = OURS[name]([w, idle], lr=0.1)
    opt.train()
    w.grad = torch.tensor([1.0, -1.0, 2.0])
    opt.step()
    opt.step()
    opt.eval()
    x = w.detach().clone()
    opt.eval()
    assert torch.equal(w, x) and torch.equal(idle, torch.ones(2)) and idle not in opt.state
    opt.train()
    y = w.detach().clone()
    opt.train()
    assert torch.equal(w, y) and not torch.equal(x, y)


def test_a_group_added_in_eval_mode_must_be_switched_before_a_step():
    """The reference checks only the first group's mode; we check every group."""
    w, v = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = ScheduleFreeSGD([w], lr=0.1)
    opt.train()
    opt.add_param_group({"params": [v]})
    w.grad, v.grad = torch.ones(2), torch.ones(2)
    with pytest.raises(RuntimeError, match=r"param_groups\[1\]"):
        opt.step()
    opt.train()
    opt.step()


# -- state dicts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(OURS))
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("direction", ["reference to ours", "ours to reference"])
def test_state_dict_moves_between_ours_and_the_reference(name, mode, direction):
    """Ten steps with one class, save (in train or eval mode), load into the other, ten more steps."""
    make_params, grads = PROBLEMS["mlp"]
    first, second = (REFERENCE[name], OURS[name]) if direction == "reference to ours" else (OURS[name], REFERENCE[name])
    kw = {"lr": LR["mlp"][name], "warmup_steps": 15, "r": 1.0, "weight_decay": 0.01}

    def steps(opt, params, n):
        for _ in range(n):
            for p, g in zip(params, grads(params)):
                p.grad = g
            opt.step()

    params = make_params()
    opt = first(params, **kw)
    opt.train()
    steps(opt, params, 10)
    getattr(opt, mode)()
    saved = copy.deepcopy(opt.state_dict())   # load_state_dict would share the tensors of z
    moved = [p.detach().clone().requires_grad_() for p in params]
    other = second(moved, **kw)
    other.load_state_dict(saved)
    assert other.param_groups[0]["k"] == 10 and other.param_groups[0]["train_mode"] == (mode == "train")
    assert sorted(other.state_dict()["state"][0]) == sorted(saved["state"][0])
    for o, p in [(opt, params), (other, moved)]:
        o.train()
        steps(o, p, 10)
        o.eval()
    assert all(torch.equal(a, b) for a, b in zip(params, moved))


def test_the_references_foreach_true_loads_as_none():
    w = torch.ones(2, requires_grad=True)
    reference = schedulefree.SGDScheduleFree([w])
    assert reference.param_groups[0]["foreach"] is True
    ours = ScheduleFreeSGD([w.detach().clone().requires_grad_()])
    ours.load_state_dict(reference.state_dict())
    assert ours.param_groups[0]["foreach"] is None


def test_group_keys_and_defaults_are_the_references():
    import inspect

    for name in OURS:
        w = torch.ones(2, requires_grad=True)
        assert list(OURS[name]([w]).param_groups[0]) == list(REFERENCE[name]([w]).param_groups[0])
        ours, theirs = inspect.signature(OURS[name]).parameters, inspect.signature(REFERENCE[name]).parameters
        assert list(ours) == list(theirs)
        assert all(ours[k].default == theirs[k].default for k in ours if k not in ("params", "foreach"))


# -- validation: every value the reference rejects, and the house's checks -----------------------

INF, NAN = math.inf, math.nan
BAD = [
    # (class, keyword arguments, error, pattern); the first rows are what the reference rejects too
    ("SGD", {"lr": -0.1}, ValueError, r"Invalid learning rate: -0.1"),
    ("SGD", {"weight_decay": -1e-3}, ValueError, r"Invalid weight_decay value"),
    ("SGD", {"momentum": 0.0}, ValueError, r"Momentum must be between 0 and 1 exclusive"),
    ("SGD", {"momentum": 1.0}, ValueError, r"momentum must be in \(0, 1\)"),
    ("SGD", {"momentum": -0.5}, ValueError, r"momentum"),
    # what the reference accepts but cannot use
    ("SGD", {"warmup_steps": -1}, ValueError, r"warmup_steps must be >= 0"),
    ("SGD", {"warmup_steps": 2.5}, TypeError, r"warmup_steps must be an integer"),
    ("SGD", {"r": -1.0}, ValueError, r"r must be >= 0"),
    ("SGD", {"weight_lr_power": -2.0}, ValueError, r"weight_lr_power must be >= 0"),
    ("SGD", {"foreach": True}, ValueError, r"foreach=True.*for-loop"),
    ("AdamW", {"lr": -1.0}, ValueError, r"Invalid learning rate"),
    ("AdamW", {"betas": (0.0, 0.999)}, ValueError, r"beta1 must be between 0 and 1 exclusive"),
    ("AdamW", {"betas": (1.0, 0.999)}, ValueError, r"betas\[0\]"),
    ("AdamW", {"betas": (0.9, 1.0)}, ValueError, r"betas\[1\]"),
    ("AdamW", {"betas": (0.9,)}, ValueError, r"betas must be a pair"),
    ("AdamW", {"eps": -1e-8}, ValueError, r"Invalid epsilon value"),
    ("AdamW", {"weight_decay": -0.1}, ValueError, r"Invalid weight_decay value"),
    ("AdamW", {"warmup_steps": True}, TypeError, r"warmup_steps must be an integer"),
    ("AdamW", {"foreach": True}, ValueError, r"foreach=True"),
]
NUMERIC = {"SGD": ["lr", "momentum", "weight_decay", "r", "weight_lr_power"],
           "AdamW": ["lr", "eps", "weight_decay", "r", "weight_lr_power"]}
for _name, _args in NUMERIC.items():
    for _arg in _args:
        BAD += [(_name, {_arg: NAN}, ValueError, rf"{_arg}.*NaN"),
                (_name, {_arg: INF}, ValueError, rf"{_arg}"),
                (_name, {_arg: True}, TypeError, rf"{_arg} must be a real number"),
                (_name, {_arg: "0.1"}, TypeError, rf"{_arg} must be a real number"),
                (_name, {_arg: torch.tensor(0.1)}, TypeError, rf"{_arg} must be a Python number")]


@pytest.mark.parametrize("name, kwargs, error, pattern", BAD, ids=[f"{n}-{kw}" for n, kw, _, _ in BAD])
def test_bad_hyperparameters_are_rejected_naming_them(name, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        OURS[name]([torch.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name, kwargs", [(n, kw) for n, kw, _, _ in BAD[:5]])
def test_the_reference_rejects_the_first_rows_too(name, kwargs):
    with pytest.raises(ValueError):
        REFERENCE[name]([torch.zeros(2, requires_grad=True)], **kwargs)


def test_beta1_zero_breaks_the_references_eval():
    """Why beta1 = 0 is refused: the reference accepts it, then eval() divides by it."""
    w = torch.zeros(2, requires_grad=True)
    opt = schedulefree.AdamWScheduleFree([w], betas=(0.0, 0.999))
    opt.train()
    w.grad = torch.ones(2)
    opt.step()
    with pytest.raises(ZeroDivisionError):
        opt.eval()


def test_a_group_changed_after_construction_is_checked_at_the_next_step():
    w = torch.zeros(2, requires_grad=True)
    opt = ScheduleFreeSGD([w])
    opt.train()
    w.grad = torch.ones(2)
    opt.step()
    opt.param_groups[0]["momentum"] = 1.0
    with pytest.raises(ValueError, match=r"param_groups\[0\] was changed after construction: .*momentum"):
        opt.step()


@pytest.mark.parametrize("name", OURS)
def test_the_counters_a_step_writes_do_not_make_it_check_the_group_again(name, monkeypatch):
    # k, weight_sum, lr_max and scheduled_lr change at every step and train_mode at every switch
    # (_STEP_KEYS): they are not hyperparameters, and checking them would check every group at every step.
    from test_optim_validation import _counting_checks

    w = torch.zeros(2, requires_grad=True)
    opt = OURS[name]([w], lr=0.1, warmup_steps=2)
    checked = _counting_checks(monkeypatch, OURS[name])
    opt.train()
    w.grad = torch.ones(2)
    for _ in range(3):
        opt.step()
    opt.eval()
    opt.train()
    opt.step()
    assert checked == [] and opt.param_groups[0]["k"] == 4
    opt.param_groups[0]["lr"] = 0.2
    opt.step()
    assert [group["lr"] for group in checked] == [0.2]


def test_sparse_gradients_are_rejected():
    w = torch.zeros(3, requires_grad=True)
    opt = ScheduleFreeSGD([w])
    opt.train()
    w.grad = torch.zeros(3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()
