"""Muon's ``ns_dtype``, ``Combined`` and ``muon_with_adamw``: several optimizers used as one."""
import copy
import pickle

import pytest
import torch

from codebase import data, nn, train
from codebase.optim import (AdamW, Combined, Muon, ScheduleFreeAdamW, SGD, muon_split, muon_update,
                            muon_with_adamw)


def net(seed=0, dtype=torch.float64):
    # two hidden layers: Muon gets two matrices, AdamW the biases and the output layer
    return nn.mlp(8, 3, depth=2, width=6, generator=torch.Generator().manual_seed(seed)).to(dtype)


def batches(steps=6, seed=1, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 8, generator=gen, dtype=dtype), torch.randint(0, 3, (16,), generator=gen))
            for _ in range(steps)]


def train_steps(model, step_fn, zero_fn, steps=6):
    for X, y in batches(steps):
        zero_fn()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        step_fn()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


# -- Muon's precision of the iteration -------------------------------------------------------------

def test_ns_dtype_float64_runs_muon_update_in_float64():
    W = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_()
    W.grad = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    theta, m = W.detach().clone(), torch.zeros(6, 4, dtype=torch.float64)
    opt = Muon([W], lr=0.02, ns_dtype=torch.float64)
    for _ in range(3):
        opt.step()
        muon_update(theta, W.grad, m, lr=0.02, beta=0.95, weight_decay=0.1, dtype=torch.float64)
    assert torch.equal(W.detach(), theta)
    # and bfloat16, the default, gives other numbers: the option is not a no-op
    V = W.detach().clone().requires_grad_()
    V.grad = W.grad
    Muon([V], lr=0.02).step()
    muon_update(theta, W.grad, m, lr=0.02, beta=0.95, weight_decay=0.1, dtype=torch.float64)
    assert not torch.equal(V.detach(), theta)


@pytest.mark.parametrize("bad, error", [(torch.int64, TypeError), ("float64", TypeError), (None, TypeError)])
def test_ns_dtype_must_be_a_floating_dtype(bad, error):
    with pytest.raises(error, match="ns_dtype"):
        Muon([torch.zeros(2, 2, requires_grad=True)], ns_dtype=bad)


def test_ns_dtype_survives_a_copy_and_stays_out_of_the_state_dict():
    opt = Muon([torch.zeros(2, 2, requires_grad=True)], ns_dtype=torch.float64)
    assert copy.deepcopy(opt).ns_dtype == torch.float64
    assert pickle.loads(pickle.dumps(opt)).ns_dtype == torch.float64
    saved = opt.state_dict()
    assert all("ns_dtype" not in group for group in saved["param_groups"])   # torch's layout
    opt.load_state_dict(saved)
    assert opt.ns_dtype == torch.float64
    # a pickle from before the option: bfloat16, torch's precision
    state = opt.__getstate__()
    del state["ns_dtype"]
    fresh = Muon.__new__(Muon)
    fresh.__setstate__(state)
    assert fresh.ns_dtype == torch.bfloat16


# -- Combined ----------------------------------------------------------------------------------------

def test_muon_with_adamw_takes_the_steps_of_the_two_optimizers_side_by_side():
    model = net()
    matrices, rest = muon_split(model)
    parts = [Muon(matrices, lr=0.02, weight_decay=0.01, ns_dtype=torch.float64),
             AdamW(rest, lr=3e-3, weight_decay=0.01)]
    expected = train_steps(model, lambda: [o.step() for o in parts], lambda: [o.zero_grad() for o in parts])
    model = net()
    opt = muon_with_adamw(model.parameters(), ns_dtype=torch.float64)
    assert [type(o) for o in opt.optimizers] == [Muon, AdamW] and repr(opt) == "Combined(Muon, AdamW)"
    assert torch.equal(train_steps(model, opt.step, opt.zero_grad), expected)
    assert len(opt.state) == len(list(model.parameters()))
    assert [g["lr"] for g in opt.param_groups] == [0.02, 3e-3]


def test_muon_split_gives_the_hidden_matrices_to_muon():
    model = net()
    weights = [layer.weight for layer in model if isinstance(layer, torch.nn.Linear)]
    matrices, rest = muon_split(model.parameters())
    assert [id(w) for w in matrices] == [id(w) for w in weights[:2]]
    assert [id(p) for p in rest] == [id(p) for p in model.parameters() if all(p is not w for w in weights[:2])]
    assert any(p is weights[-1] for p in rest)
    with pytest.raises(TypeError, match="params"):
        muon_split(torch.zeros(3, 3))
    with pytest.raises(TypeError, match="params"):
        muon_split([{"params": [torch.zeros(3, 3)]}])
    with pytest.raises(TypeError, match="params must be an iterable"):
        muon_split(5)
    with pytest.raises(ValueError, match="no hidden weight matrix"):
        muon_with_adamw(torch.nn.Linear(3, 2).parameters())


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"lr": -1.0}, ValueError, r"Muon \(lr=-1.0.*learning rate"),
    ({"weight_decay": "x"}, TypeError, r"Muon \(lr=0.02, weight_decay='x'\): weight_decay"),
    ({"adamw_lr": -1.0}, ValueError, r"AdamW \(adamw_lr=-1.0.*learning rate"),
    ({"adamw_weight_decay": float("nan")}, ValueError, r"AdamW \(adamw_lr=0.003, adamw_weight_decay=nan\)"),
    ({"ns_dtype": torch.int32}, TypeError, "ns_dtype"),
])
def test_muon_with_adamw_says_which_optimizer_refused_an_argument(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        muon_with_adamw(net().parameters(), **kwargs)


def test_fit_trains_with_a_combined_optimizer():
    X, y = data.load_digits(seed=0, dtype=torch.float64).train
    runs = []
    for _ in range(2):
        model = nn.mlp(64, 10, depth=1, width=16, generator=torch.Generator().manual_seed(0)).to(torch.float64)
        history = train.fit(model, muon_with_adamw(model.parameters(), ns_dtype=torch.float64), (X[:256], y[:256]),
                            epochs=2, batch_size=64, seed=0)
        runs.append(history.train_loss)
    assert runs[0] == runs[1] and runs[0][-1] < runs[0][0]


def test_the_state_dict_resumes_the_same_run():
    model = net()
    opt = muon_with_adamw(model.parameters(), ns_dtype=torch.float64)
    train_steps(model, opt.step, opt.zero_grad, steps=3)
    saved = copy.deepcopy(opt.state_dict())
    copy_of_model = copy.deepcopy(model)
    expected = train_steps(model, opt.step, opt.zero_grad)
    resumed = muon_with_adamw(copy_of_model.parameters(), ns_dtype=torch.float64)
    resumed.load_state_dict(saved)
    assert torch.equal(train_steps(copy_of_model, resumed.step, resumed.zero_grad), expected)
    with pytest.raises(ValueError, match="2 optimizers"):
        Combined(SGD(list(net().parameters()))).load_state_dict(saved)
    with pytest.raises(TypeError, match="state_dict"):
        resumed.load_state_dict(saved["optimizers"])


def test_train_eval_and_closure_reach_the_optimizers_that_have_them():
    a, b = (torch.ones(3, dtype=torch.float64, requires_grad=True) for _ in range(2))
    opt = Combined(ScheduleFreeAdamW([a], lr=0.1), SGD([b], lr=0.1))
    opt.train()
    calls = []

    def closure():
        calls.append(torch.is_grad_enabled())
        loss = (a ** 2).sum() + (b ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 6.0 and calls == [True]   # the closure runs once
    assert a.grad is not None and not torch.equal(a.detach(), torch.ones(3, dtype=torch.float64))
    assert b.detach().tolist() == [0.8] * 3
    opt.zero_grad()
    opt.step(closure)                          # after one step x = z = y: a second one separates them
    y = a.detach().clone()
    opt.eval()
    assert not torch.equal(a.detach(), y)      # the parameters now hold the average x
    opt.train()
    assert torch.allclose(a.detach(), y, rtol=0, atol=1e-7)
    opt.zero_grad()
    assert calls == [True, True] and a.grad is None and b.grad is None


def test_bad_combinations_are_refused():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="at least one"):
        Combined()
    with pytest.raises(TypeError, match=r"optimizers\[1\]"):
        Combined(SGD([w]), "AdamW")
    with pytest.raises(ValueError, match="exactly one optimizer"):
        Combined(SGD([w]), AdamW([w]))
