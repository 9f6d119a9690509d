"""Tests for codebase.compare: state counts, step timing, learning-rate tuning, seeds."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from codebase import compare, data, optim

SHAPES = [(5, 3), (3,), (4, 5, 2)]


def stepped(make_optimizer):
    """An optimizer over three tensors of different shapes after one step."""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen).requires_grad_(True) for s in SHAPES]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    optimizer = make_optimizer(params)
    optimizer.step()
    return optimizer, params


CASES = [
    ("SGD", dict(lr=0.1), 0),
    ("SGD", dict(lr=0.1, momentum=0.9), 1),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), 1),
    ("Adagrad", dict(lr=0.1), 1),
    ("RMSprop", dict(lr=0.01), 1),
    ("RMSprop", dict(lr=0.01, centered=True), 2),
    ("RMSprop", dict(lr=0.01, momentum=0.9), 2),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9), 3),
    ("Adadelta", dict(), 2),
    ("Adam", dict(), 2),
    ("Adam", dict(amsgrad=True), 3),
    ("AdamW", dict(), 2),
    ("AdamW", dict(amsgrad=True), 3),
]


@pytest.mark.parametrize("library", [optim, torch.optim], ids=["codebase", "torch"])
@pytest.mark.parametrize("name, kwargs, expected", CASES)
def test_state_size_counts_state_tensors(library, name, kwargs, expected):
    if library is torch.optim:
        kwargs = dict(kwargs, foreach=False)
    optimizer, params = stepped(lambda p: getattr(library, name)(p, **kwargs))
    size = compare.state_size(optimizer)
    assert size["tensors_per_parameter"] == expected
    assert size["floats_per_parameter"] == expected
    numel = sum(p.numel() for p in params)
    counters = sum(1 for p in params if "step" in optimizer.state[p])
    # float32 tensors of 4 bytes each, plus the 0-d step counters
    assert size["bytes"] == 4 * (expected * numel + counters)


def test_state_size_is_the_same_for_codebase_and_torch():
    for name, kwargs, _ in CASES:
        ours, _ = stepped(lambda p: getattr(optim, name)(p, **kwargs))
        theirs, _ = stepped(lambda p: getattr(torch.optim, name)(p, **kwargs))
        assert compare.state_size(ours) == compare.state_size(theirs), name


def test_state_size_before_the_first_step_is_zero_for_lazy_state():
    params = [torch.zeros(3, requires_grad=True)]
    size = compare.state_size(optim.Adam(params))
    assert size == {"tensors_per_parameter": 0.0, "floats_per_parameter": 0.0, "bytes": 0}


def test_state_size_checks_its_argument():
    with pytest.raises(TypeError, match="optimizer"):
        compare.state_size([torch.zeros(2)])


def test_time_steps_returns_a_positive_time_and_leaves_parameters_alone():
    model = nn.Linear(4, 3)
    before = [p.detach().clone() for p in model.parameters()]
    seconds = compare.time_steps(lambda p: optim.Adam(p, lr=0.1), model, steps=5, warmup=1, repeats=2)
    assert 0 < seconds < 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())


def test_time_steps_accepts_a_list_of_tensors():
    assert compare.time_steps(lambda p: optim.SGD(p, lr=0.1), [torch.zeros(3)], steps=2) > 0


@pytest.mark.parametrize("kwargs, error", [
    (dict(steps=0), ValueError), (dict(steps=1.5), TypeError), (dict(warmup=-1), ValueError),
    (dict(repeats=0), ValueError), (dict(seed=-1), ValueError), (dict(stat="mean"), ValueError),
    (dict(clock="gpu"), ValueError),
])
def test_time_steps_checks_its_arguments(kwargs, error):
    with pytest.raises(error):
        compare.time_steps(lambda p: optim.SGD(p, lr=0.1), [torch.zeros(2)], **kwargs)


class FakeClock:
    """A clock that only moves when a timed function says how long it took."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def costing(clock, log, name, costs):
    """A function that logs its name and advances ``clock`` by the next of ``costs``."""
    costs = iter(costs)

    def run():
        log.append(name)
        clock.now += next(costs)
    return run


@pytest.mark.parametrize("stat, expected", [("min", {"a": 1.0, "b": 10.0}), ("median", {"a": 2.0, "b": 20.0})])
def test_time_interleaved_takes_turns_and_reduces_each_functions_times(monkeypatch, stat, expected):
    clock, log = FakeClock(), []
    monkeypatch.setitem(compare._CLOCKS, "cpu", clock)
    runs = {"a": costing(clock, log, "a", [3.0, 1.0, 2.0]), "b": costing(clock, log, "b", [20.0, 10.0, 30.0])}
    assert compare.time_interleaved(runs, repeats=3, stat=stat) == expected
    rounds = [log[i:i + 2] for i in range(0, 6, 2)]
    assert all(sorted(r) == ["a", "b"] for r in rounds)  # every round runs each function once


def test_time_interleaved_shuffles_the_order_of_each_round_with_the_seed(monkeypatch):
    def orders(seed):
        clock, log = FakeClock(), []
        monkeypatch.setitem(compare._CLOCKS, "wall", clock)
        runs = {name: costing(clock, log, name, [1.0] * 20) for name in "abcd"}
        compare.time_interleaved(runs, repeats=20, clock="wall", seed=seed)
        return [tuple(log[i:i + 4]) for i in range(0, 80, 4)]
    first = orders(0)
    assert first == orders(0) and first != orders(1)
    assert len(set(first)) > 1  # not the same order in every round


def test_time_interleaved_measures_real_time():
    times = compare.time_interleaved({"short": lambda: sum(range(10)), "long": lambda: sum(range(200_000))},
                                     repeats=3)
    assert set(times) == {"short", "long"} and 0 <= times["short"] < times["long"]


@pytest.mark.parametrize("runs, kwargs, error, match", [
    ([lambda: None], {}, TypeError, "runs"),
    ({}, {}, ValueError, "runs"),
    ({"a": "not a function"}, {}, TypeError, r"runs\['a'\]"),
    ({"a": lambda: None}, {"repeats": 0}, ValueError, "repeats"),
    ({"a": lambda: None}, {"stat": "mean"}, ValueError, "stat"),
    ({"a": lambda: None}, {"clock": "gpu"}, ValueError, "clock"),
    ({"a": lambda: None}, {"seed": -1}, ValueError, "seed"),
])
def test_time_interleaved_checks_its_arguments(runs, kwargs, error, match):
    with pytest.raises(error, match=match):
        compare.time_interleaved(runs, **kwargs)


@pytest.mark.parametrize("clock", ["cpu", "wall"])
@pytest.mark.parametrize("stat, expected", [("min", 1.0), ("median", 2.0)])
def test_time_steps_reads_the_chosen_clock_and_reduces_with_the_chosen_stat(monkeypatch, clock, stat, expected):
    fake, other = FakeClock(), FakeClock()
    monkeypatch.setitem(compare._CLOCKS, clock, fake)
    monkeypatch.setitem(compare._CLOCKS, "wall" if clock == "cpu" else "cpu", other)  # must not be read
    costs = iter([5.0, 1.0, 1.0, 3.0, 3.0, 2.0, 2.0])  # one warm-up step, then 3 repeats of 2 steps

    class Stepper:
        def __init__(self, params):
            self.params = params

        def step(self):
            fake.now += next(costs)
            other.now += 100.0
    assert compare.time_steps(Stepper, [torch.zeros(2)], steps=2, warmup=1, repeats=3, stat=stat,
                              clock=clock) == expected


def test_time_steps_checks_the_parameters_and_the_factory():
    with pytest.raises(TypeError, match="make_optimizer"):
        compare.time_steps("adam", [torch.zeros(2)])
    with pytest.raises(TypeError, match="single tensor"):
        compare.time_steps(lambda p: optim.SGD(p, lr=0.1), torch.zeros(2))
    with pytest.raises(ValueError, match="at least one"):
        compare.time_steps(lambda p: optim.SGD(p, lr=0.1), [])
    with pytest.raises(TypeError, match="optimizer"):
        compare.time_steps(lambda p: None, [torch.zeros(2)])


# A tiny classification problem on which a learning-rate grid has a clear winner.


def blobs(n=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = torch.randn(n, 2, generator=gen) * 0.7 + (2.0 * y[:, None] - 1.0) * torch.tensor([1.0, 0.0])
    return data.Split(X, y)


def make_model(seed):
    gen = torch.Generator().manual_seed(seed)
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.randn(2, 2, generator=gen) * 0.1)
        model.bias.zero_()
    return model


def make_sgd(params, lr):
    return optim.SGD(params, lr=lr)


def test_tune_lr_picks_the_best_rate_deterministically():
    lrs = [1e-4, 1e-2, 1.0]
    first = compare.tune_lr(make_model, make_sgd, lrs, blobs(), blobs(seed=1), epochs=3, batch_size=16)
    second = compare.tune_lr(make_model, make_sgd, lrs, blobs(), blobs(seed=1), epochs=3, batch_size=16)
    assert first.best_lr == 1.0 and first.best_index == 2 and first.at_edge
    assert np.array_equal(first.scores, second.scores)
    assert first.best_lr == second.best_lr
    assert first.scores[0] > first.scores[1] > first.scores[2]
    assert first.lrs == tuple(lrs) and len(first.histories) == 3 and first.diverged == (False,) * 3
    by_acc = compare.tune_lr(make_model, make_sgd, lrs, blobs(), blobs(seed=1), epochs=3, batch_size=16,
                             metric="val_acc")
    assert by_acc.best_index == int(np.nanargmax(by_acc.scores))


def make_fragile_sgd(params, lr):
    """SGD that "diverges" at once when lr > 1: it poisons a weight with NaN, so the first loss is NaN."""
    params = list(params)
    if lr > 1:
        with torch.no_grad():
            params[0].fill_(math.nan)
    return optim.SGD(params, lr=lr)


def test_tune_lr_never_picks_a_diverged_run():
    result = compare.tune_lr(make_model, make_fragile_sgd, [1e-2, 1e38], blobs(), blobs(seed=1), epochs=2,
                             batch_size=16)
    assert result.diverged == (False, True)
    assert math.isinf(result.scores[1]) and result.best_lr == 1e-2


@pytest.mark.parametrize("kwargs, error", [
    (dict(lrs=[]), ValueError), (dict(lrs=[-0.1]), ValueError), (dict(lrs=0.1), TypeError),
    (dict(lrs="0.1"), TypeError), (dict(epochs=0), ValueError), (dict(batch_size=0), ValueError),
    (dict(metric="accuracy"), ValueError), (dict(val=None), ValueError), (dict(seed=-1), ValueError),
    (dict(make_model=None), TypeError),
])
def test_tune_lr_checks_its_arguments(kwargs, error):
    args = dict(make_model=make_model, make_optimizer=make_sgd, lrs=[0.1], train=blobs(), val=blobs(seed=1),
                epochs=1, batch_size=16)
    args.update(kwargs)
    with pytest.raises(error):
        compare.tune_lr(**args)


def test_multi_seed_varies_the_seed_and_curves_stack_them():
    runs = compare.multi_seed(make_model, make_sgd, 0.1, blobs(), blobs(seed=1), seeds=[0, 1], epochs=2,
                              batch_size=16)
    assert len(runs) == 2 and runs[0].val_loss != runs[1].val_loss
    again = compare.multi_seed(make_model, make_sgd, 0.1, blobs(), blobs(seed=1), seeds=[0], epochs=2,
                               batch_size=16)
    assert again[0].val_loss == runs[0].val_loss
    stacked = compare.curves(runs, "val_loss")
    assert stacked.shape == (2, 2) and np.isfinite(stacked).all()


def test_curves_pads_diverged_runs_with_nan():
    runs = compare.multi_seed(make_model, make_fragile_sgd, 1e38, blobs(), blobs(seed=1), seeds=[0], epochs=2,
                              batch_size=16)
    good = compare.multi_seed(make_model, make_sgd, 0.1, blobs(), blobs(seed=1), seeds=[0], epochs=2,
                              batch_size=16)
    stacked = compare.curves(runs + good, "val_loss")
    assert stacked.shape == (2, 2) and np.isnan(stacked[0]).all()


def test_multi_seed_and_curves_check_their_arguments():
    with pytest.raises(ValueError):
        compare.multi_seed(make_model, make_sgd, 0.1, blobs(), seeds=[], epochs=1)
    with pytest.raises(TypeError):
        compare.multi_seed(make_model, make_sgd, 0.1, blobs(), seeds=3, epochs=1)
    with pytest.raises(ValueError):
        compare.multi_seed(make_model, make_sgd, 0.0, blobs(), epochs=1)
    with pytest.raises(ValueError):
        compare.curves([])
    with pytest.raises(ValueError, match="key"):
        compare.curves(compare.multi_seed(make_model, make_sgd, 0.1, blobs(), seeds=[0], epochs=1), "nope")
