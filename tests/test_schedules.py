"""codebase.schedules against torch.optim.lr_scheduler, plus drivers and properties."""
import dataclasses
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.optim import lr_scheduler as L

from codebase import schedules as S

N = 100


def torch_lrs(make_scheduler, n=N, lr=0.1):
    """The lr a torch.optim.SGD uses at steps 0..n-1 under a torch scheduler."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def assert_lrs_close(ours, theirs, rel=1e-12, abs=1e-15):
    assert len(ours) == len(theirs)
    for t, (a, b) in enumerate(zip(ours, theirs)):
        assert math.isclose(a, b, rel_tol=rel, abs_tol=abs), (t, a, b)


@pytest.mark.parametrize("step_size, gamma", [(1, 0.9), (7, 0.5), (30, 0.1)])
def test_step_decay_equals_steplr(step_size, gamma):
    assert_lrs_close(S.values(S.StepDecay(0.1, step_size, gamma), N),
                     torch_lrs(lambda o: L.StepLR(o, step_size, gamma)))


@pytest.mark.parametrize("milestones", [[10, 30, 60], [5, 5, 50], [1]])
def test_multistep_equals_multisteplr(milestones):
    assert_lrs_close(S.values(S.MultiStep(0.1, milestones, 0.3), N),
                     torch_lrs(lambda o: L.MultiStepLR(o, milestones, 0.3)))


@pytest.mark.parametrize("gamma", [0.5, 0.95, 0.999, 1.0])
def test_exponential_equals_exponentiallr(gamma):
    assert_lrs_close(S.values(S.Exponential(0.1, gamma), N),
                     torch_lrs(lambda o: L.ExponentialLR(o, gamma)))


@pytest.mark.parametrize("decay_rate, decay_steps", [(1.0, 1), (0.5, 10), (0.0, 3)])
def test_inverse_time_equals_lambdalr(decay_rate, decay_steps):
    factor = lambda t: 1 / (1 + decay_rate * t / decay_steps)  # noqa: E731
    assert_lrs_close(S.values(S.InverseTime(0.1, decay_rate, decay_steps), N),
                     torch_lrs(lambda o: L.LambdaLR(o, factor)))


@pytest.mark.parametrize("total_steps, min_lr", [(100, 0.0), (100, 1e-3), (37, 0.01), (1, 0.0)])
def test_cosine_equals_cosineannealinglr_up_to_total_steps(total_steps, min_lr):
    n = total_steps + 1  # t = 0..T inclusive
    assert_lrs_close(S.values(S.Cosine(0.1, total_steps, min_lr), n),
                     torch_lrs(lambda o: L.CosineAnnealingLR(o, total_steps, min_lr), n=n))


def test_cosine_holds_min_lr_after_total_steps():
    sched = S.Cosine(0.1, 10, min_lr=0.002)
    assert sched(0) == 0.1
    assert all(sched(t) == 0.002 for t in range(10, 40))


@pytest.mark.parametrize("after", [
    (lambda o: L.CosineAnnealingLR(o, 80, 1e-3), S.Cosine(0.1, 80, 1e-3)),
    (lambda o: L.StepLR(o, 7, 0.5), S.StepDecay(0.1, 7, 0.5)),
    (lambda o: L.ExponentialLR(o, 0.97), S.Exponential(0.1, 0.97)),
    (lambda o: L.ConstantLR(o, factor=1.0, total_iters=0), S.Constant(0.1)),
])
@pytest.mark.parametrize("warmup_steps, start_factor", [(20, 0.1), (5, 0.5), (1, 0.01), (20, 1.0)])
def test_linear_warmup_equals_sequentiallr(after, warmup_steps, start_factor):
    make_torch, ours = after

    def make(opt):
        warm = L.LinearLR(opt, start_factor, total_iters=warmup_steps)
        return L.SequentialLR(opt, [warm, make_torch(opt)], milestones=[warmup_steps])

    # torch's cosine climbs back up after T_max = 80; compare up to there
    n = warmup_steps + 81 if isinstance(ours, S.Cosine) else N
    assert_lrs_close(S.values(S.LinearWarmup(ours, warmup_steps, start_factor), n), torch_lrs(make, n=n))


def test_linear_warmup_from_zero_and_zero_warmup():
    warm = S.LinearWarmup(S.Constant(1.0), 4)
    assert S.values(warm, 6) == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    inner = S.Exponential(0.1, 0.9)
    assert S.values(S.LinearWarmup(inner, 0), 20) == S.values(inner, 20)


def test_join_restarts_each_schedule_at_its_boundary():
    a, b, c = S.Constant(0.5), S.Exponential(0.2, 0.5), S.Cosine(0.1, 4)
    sched = S.join([a, b, c], [3, 5])
    assert isinstance(sched, S.Chain)
    expected = [a(0), a(1), a(2), b(0), b(1), c(0), c(1), c(2), c(3), c(4), c(5)]
    assert S.values(sched, 11) == expected


def test_join_cosine_restarts_equal_torch_warm_restarts():
    # SGDR with a fixed period T: torch's CosineAnnealingWarmRestarts(T_0=T)
    sched = S.join([S.Cosine(0.1, 20, 1e-3)] * 5, [20, 40, 60, 80])
    assert_lrs_close(S.values(sched, N),
                     torch_lrs(lambda o: L.CosineAnnealingWarmRestarts(o, T_0=20, eta_min=1e-3)))


def test_schedules_are_inspectable_frozen_dataclasses():
    sched = S.StepDecay(lr=0.1, step_size=10)
    assert (sched.lr, sched.step_size, sched.gamma) == (0.1, 10, 0.1)
    assert "step_size=10" in repr(sched)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sched.lr = 1.0
    assert S.MultiStep(0.1, [3, 5]).milestones == (3, 5)


# ReduceLROnPlateau ----------------------------------------------------------------

PLATEAU_METRICS = [10, 9, 8, 8, 8, 8, 7.9995, 8, 8, 8, 8, 8, 8, 7, 7, 7, 7, 7, 7, 7,
                   6.99, 7, 7, 7, 5, 5, 5, 5, 5, 5, 5, float("nan"), 5, 5, 5, 5, 5, 5, 5, 5]


@pytest.mark.parametrize("kwargs", [
    dict(patience=2),
    dict(patience=0, factor=0.5),
    dict(patience=2, cooldown=3, factor=0.5),
    dict(patience=1, threshold=0.01, threshold_mode="abs"),
    dict(patience=1, threshold=0.01, threshold_mode="rel", cooldown=1),
    dict(patience=1, factor=0.5, min_lr=0.02),
    dict(patience=1, factor=0.5, eps=0.03),  # 0.1 -> 0.05, then 0.05 -> 0.025 skipped
])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_reduce_on_plateau_equals_torch(kwargs, mode):
    metrics = PLATEAU_METRICS if mode == "min" else [20 - m for m in PLATEAU_METRICS]
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    theirs = L.ReduceLROnPlateau(opt, mode=mode, **kwargs)
    ours = S.ReduceOnPlateau(0.1, mode=mode, **kwargs)
    lrs = []
    for m in metrics:
        theirs.step(m)
        lrs.append(ours.update(m))
        assert lrs[-1] == opt.param_groups[0]["lr"]
        assert ours.num_bad_epochs == theirs.num_bad_epochs
        assert ours.cooldown_counter == theirs.cooldown_counter
    assert len(set(lrs)) > 1  # the script does trigger reductions


def test_reduce_on_plateau_accepts_tensor_metric_and_counts_nan_as_bad():
    ctl = S.ReduceOnPlateau(1.0, patience=1)
    ctl.update(torch.tensor(3.0))
    assert ctl.best == 3.0
    ctl.update(float("nan"))
    assert ctl.num_bad_epochs == 1
    assert ctl.update(float("nan")) == pytest.approx(0.1)
    with pytest.raises(TypeError, match="metric"):
        ctl.update("1.0")


# Drivers -----------------------------------------------------------------------------

def lrs_seen_by_sgd(make_driver, steps, per_step_metric=None):
    """Run SGD on loss = p (gradient 1): each step moves p by exactly the lr used."""
    p = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=123.0)
    driver = make_driver(opt)
    seen = []
    for t in range(steps):
        before = p.item()
        opt.zero_grad()
        p.backward()
        opt.step()
        seen.append(before - p.item())
        driver.step() if per_step_metric is None else driver.step(per_step_metric[t])
    return seen


def test_scheduler_sets_the_lr_the_optimizer_uses():
    sched = S.LinearWarmup(S.Cosine(0.1, 40), 10, 0.1)
    seen = lrs_seen_by_sgd(lambda opt: S.Scheduler(opt, sched), 60)
    assert_lrs_close(seen, S.values(sched, 60), rel=1e-9, abs=1e-12)


def test_scheduler_drives_codebase_optimizer():
    from codebase import optim

    p = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    opt = optim.SGD([p], lr=1.0)
    sched = S.Exponential(0.1, 0.5)
    driver = S.Scheduler(opt, sched)
    for t in range(8):
        before = p.item()
        opt.zero_grad()
        p.backward()
        opt.step()
        assert before - p.item() == pytest.approx(sched(t), rel=1e-9)
        driver.step()


def test_scheduler_matches_torch_scheduler_step_by_step():
    p, q = (torch.nn.Parameter(torch.zeros(1)) for _ in range(2))
    ours_opt, torch_opt = torch.optim.SGD([p], lr=0.1), torch.optim.SGD([q], lr=0.1)
    ours = S.Scheduler(ours_opt, S.StepDecay(0.1, 5, 0.5))
    theirs = L.StepLR(torch_opt, 5, 0.5)
    for _ in range(30):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        assert ours_opt.param_groups[0]["lr"] == pytest.approx(torch_opt.param_groups[0]["lr"], rel=1e-12)
        ours_opt.step(), torch_opt.step()
        ours.step(), theirs.step()


def test_scheduler_per_group_schedules_and_interval():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 5.0}], lr=1.0)
    s1, s2 = S.Constant(0.3), S.Exponential(1.0, 0.5)
    driver = S.Scheduler(opt, [s1, s2], interval="epoch")
    assert driver.interval == "epoch"
    assert [g["lr"] for g in opt.param_groups] == [0.3, 1.0]
    driver.step()
    assert driver.k == 1 and not driver.needs_metric
    assert [g["lr"] for g in opt.param_groups] == driver.get_last_lr() == [0.3, 0.5]
    with pytest.raises(ValueError, match="param groups"):
        S.Scheduler(opt, [s1])
    with pytest.raises(ValueError, match="interval"):
        S.Scheduler(opt, s1, interval="batch")
    with pytest.raises(TypeError, match="schedule"):
        S.Scheduler(opt, 0.1)


def test_scheduler_state_dict_round_trip():
    sched = S.Cosine(0.1, 50, 1e-3)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    driver = S.Scheduler(opt, sched)
    for _ in range(17):
        driver.step()
    state = driver.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    driver2 = S.Scheduler(opt2, sched)
    driver2.load_state_dict(state)
    assert driver2.k == 17 and opt2.param_groups[0]["lr"] == sched(17)
    driver.step(), driver2.step()
    assert driver2.get_last_lr() == driver.get_last_lr() == [sched(18)]


def test_plateau_scheduler_equals_torch_reducelronplateau():
    metrics = PLATEAU_METRICS
    seen = lrs_seen_by_sgd(
        lambda opt: S.PlateauScheduler(opt, S.ReduceOnPlateau(0.1, patience=2, cooldown=1)),
        len(metrics), per_step_metric=metrics)
    q = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([q], lr=0.1)
    theirs = L.ReduceLROnPlateau(opt, patience=2, cooldown=1)
    expected = []
    for m in metrics:
        expected.append(opt.param_groups[0]["lr"])
        theirs.step(m)
    assert_lrs_close(seen, expected, rel=1e-9)


def test_plateau_scheduler_protocol_and_state():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=7.0)
    driver = S.PlateauScheduler(opt, S.ReduceOnPlateau(0.5, patience=0))
    assert driver.interval == "epoch" and driver.needs_metric
    assert opt.param_groups[0]["lr"] == 0.5
    with pytest.raises(TypeError, match="metric"):
        driver.step()
    with pytest.raises(TypeError, match="metric"):
        driver.step(None)
    driver.step(1.0), driver.step(2.0)
    assert driver.k == 2 and driver.get_last_lr() == [pytest.approx(0.05)]
    state = driver.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=7.0)
    driver2 = S.PlateauScheduler(opt2, S.ReduceOnPlateau(0.5, patience=0))
    driver2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.05)
    assert driver2.controller.best == 1.0
    with pytest.raises(TypeError, match="controller"):
        S.PlateauScheduler(opt, S.Constant(0.1))


# Properties and validation -----------------------------------------------------------

lrs = st.floats(1e-6, 10.0)
gammas = st.floats(1e-3, 1.0)


@st.composite
def decaying_schedules(draw):
    lr = draw(lrs)
    kind = draw(st.sampled_from(["step", "multi", "exp", "inv", "cos"]))
    if kind == "step":
        return S.StepDecay(lr, draw(st.integers(1, 20)), draw(gammas))
    if kind == "multi":
        return S.MultiStep(lr, sorted(draw(st.lists(st.integers(0, 60), max_size=5))), draw(gammas))
    if kind == "exp":
        return S.Exponential(lr, draw(gammas))
    if kind == "inv":
        return S.InverseTime(lr, draw(st.floats(0.0, 5.0)), draw(st.integers(1, 10)))
    return S.Cosine(lr, draw(st.integers(1, 80)), lr * draw(st.floats(0.0, 1.0)))


@given(decaying_schedules())
def test_decaying_schedules_never_increase_and_stay_above_min(sched):
    vals = S.values(sched, 120)
    assert all(b <= a for a, b in zip(vals, vals[1:]))
    floor = getattr(sched, "min_lr", 0.0)
    assert all(v >= floor for v in vals)
    assert vals[0] == pytest.approx(sched.lr)


@given(decaying_schedules(), st.integers(0, 30), st.floats(0.0, 1.0))
def test_warmup_is_non_decreasing_then_follows_schedule(inner, warmup, start_factor):
    sched = S.LinearWarmup(inner, warmup, start_factor)
    vals = S.values(sched, warmup + 40)
    ramp = vals[: warmup + 1]
    assert all(b >= a * (1 - 1e-12) for a, b in zip(ramp, ramp[1:]))
    assert vals[0] == pytest.approx(start_factor * inner(0) if warmup else inner(0))
    assert vals[warmup:] == S.values(inner, 40)


@given(st.floats(-100, -1e-9))
def test_negative_lr_rejected(lr):
    for make in (lambda: S.Constant(lr), lambda: S.StepDecay(lr, 1), lambda: S.MultiStep(lr, [1]),
                 lambda: S.Exponential(lr, 0.9), lambda: S.InverseTime(lr, 1.0),
                 lambda: S.Cosine(lr, 10), lambda: S.ReduceOnPlateau(lr)):
        with pytest.raises(ValueError, match="lr"):
            make()


@given(st.floats(-10, 0))
def test_non_positive_gamma_rejected(gamma):
    for make in (lambda: S.StepDecay(0.1, 1, gamma), lambda: S.MultiStep(0.1, [1], gamma),
                 lambda: S.Exponential(0.1, gamma)):
        with pytest.raises(ValueError, match="gamma"):
            make()


@given(st.integers(-100, 0))
def test_non_positive_counts_rejected(n):
    with pytest.raises(ValueError, match="step_size"):
        S.StepDecay(0.1, n)
    with pytest.raises(ValueError, match="total_steps"):
        S.Cosine(0.1, n)
    with pytest.raises(ValueError, match="decay_steps"):
        S.InverseTime(0.1, 1.0, n)
    if n < 0:
        with pytest.raises(ValueError, match="warmup_steps"):
            S.LinearWarmup(S.Constant(0.1), n)


@given(st.one_of(st.floats(-10, -1e-9), st.floats(1 + 1e-9, 10)))
def test_start_factor_outside_unit_interval_rejected(f):
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearWarmup(S.Constant(0.1), 5, f)


@given(st.lists(st.integers(0, 100), min_size=2, max_size=6).filter(lambda m: m != sorted(m)))
def test_unsorted_milestones_rejected(milestones):
    with pytest.raises(ValueError, match="milestones"):
        S.MultiStep(0.1, milestones)


@pytest.mark.parametrize("make, name", [
    (lambda: S.Constant("0.1"), "lr"),
    (lambda: S.Constant(True), "lr"),
    (lambda: S.StepDecay(0.1, 2.5), "step_size"),
    (lambda: S.MultiStep(0.1, 10), "milestones"),
    (lambda: S.MultiStep(0.1, [1.5]), "milestones"),
    (lambda: S.Cosine(0.1, None), "total_steps"),
    (lambda: S.LinearWarmup(0.1, 5), "schedule"),
    (lambda: S.join([S.Constant(0.1), "x"], [3]), "schedules"),
    (lambda: S.ReduceOnPlateau(0.1, patience=1.0), "patience"),
    (lambda: S.Constant(0.1)(1.0), "k"),
    (lambda: S.values(S.Constant(0.1), "3"), "n"),
])
def test_wrong_types_rejected(make, name):
    with pytest.raises(TypeError, match=name):
        make()


@pytest.mark.parametrize("make, name", [
    (lambda: S.Cosine(0.1, 10, min_lr=0.2), "min_lr"),
    (lambda: S.join([S.Constant(0.1), S.Constant(0.2)], []), "boundaries"),
    (lambda: S.join([S.Constant(0.1)] * 3, [5, 5]), "boundaries"),
    (lambda: S.join([], []), "schedules"),
    (lambda: S.ReduceOnPlateau(0.1, mode="lowest"), "mode"),
    (lambda: S.ReduceOnPlateau(0.1, factor=1.0), "factor"),
    (lambda: S.ReduceOnPlateau(0.1, threshold_mode="pct"), "threshold_mode"),
    (lambda: S.ReduceOnPlateau(0.1, cooldown=-1), "cooldown"),
    (lambda: S.ReduceOnPlateau(0.1, min_lr=-1.0), "min_lr"),
    (lambda: S.Constant(0.1)(-1), "k"),
])
def test_bad_values_rejected(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize("schedule, k", [
    (lambda k: -0.1, 0), (lambda k: math.nan, 0), (S.LinearWarmup(lambda k: -1.0, 5), 1),
    (lambda k: 0.1 if k < 3 else math.inf, 3)])
def test_a_driver_refuses_a_rate_that_would_train_uphill_or_blow_up(schedule, k):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match=rf"rate .* at k = {k}; a learning rate must be finite and >= 0"):
        driver = S.Scheduler(opt, schedule)
        for _ in range(k):
            driver.step()


@pytest.mark.parametrize("schedule", [S.StepDecay(0.1, 1, gamma=10.0), S.Exponential(1e-5, 1.5),
                                      S.MultiStep(0.1, tuple(range(1, 500)), gamma=10.0)])
def test_a_growing_schedule_that_overflows_says_so(schedule):
    with pytest.raises(ValueError, match="overflows a float"):
        schedule(2000)


def test_state_dicts_of_the_wrong_kind_are_refused_by_name():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="'k'"):
        S.Scheduler(opt, S.Constant(0.1)).load_state_dict({"t": 3})
    with pytest.raises(ValueError, match="lacks"):
        S.ReduceOnPlateau(0.1).load_state_dict({})
