"""Every numeric, flag and choice argument of the public API, fed the values that are wrong for it.

The table below lists, for each public function or class of ``codebase``, a way to call it with
good values, and the kind of each argument. Each kind comes with its own list of bad values
(``BAD``); every (argument, bad value) pair is one test case. A case passes only if the call
raises ``TypeError`` or ``ValueError`` and the message names the argument. No case passes by
returning: a wrong value that is silently accepted fails, and so does an unrelated exception.

The kinds say what a value must be:

=============  ==============================================================
``real``       a finite real number (not NaN, not inf, not a bool or string)
``positive``   a finite real number > 0
``nonneg``     a finite real number >= 0
``unit``       a real number in [0, 1] (a probability, a fraction, a decay)
``count``      an integer >= 1 (not a float, not a bool)
``index``      an integer >= 0
``flag``       True or False (not 0, 1, None or a string)
``choice``     one of a few strings
=============  ==============================================================

Variants: ``fraction`` is in [0, 1), ``probability`` in (0, 1]; ``..._or_inf`` allows infinity and
``..._or_none`` allows ``None`` where the docstring gives them a meaning (no clipping, no bound,
one value instead of an array).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from codebase import (clipping, compare, data, diagnostics, env, init, nn, optim, plot, regularization, schedules,
                      search, second_order, stacked, surfaces, theory)
from codebase import train as T

NAN, INF = math.nan, math.inf

BAD = {
    "real": [NAN, INF, -INF, "1", True, None, 1j],
    "positive": [0.0, -1.0, NAN, INF, "1", True, None],
    "nonneg": [-1e-3, -INF, NAN, INF, "0", False],
    "unit": [-0.1, 1.5, NAN, INF, "0.5", True],
    "count": [0, -1, 2.5, "3", True, NAN, None],
    "index": [-1, 2.5, "3", True, NAN],
    "flag": ["no", 1, 0, None, "True"],
    "choice": ["no-such-choice", 3, None],
}


def _t(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0), dtype=dtype)


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def _blobs(n=32):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


def _sgd(params):
    return optim.SGD(params, lr=0.1)


def _opt():
    return _sgd(_net().parameters())


def _search_result():
    return search.random_search(lambda c: c["x"], {"x": search.Uniform(0, 1)}, trials=12)


# (id, call, {argument: kind}); call(**{argument: value}) makes the call with that one argument changed
SPEC = [
    # -- schedules: s(k) -----------------------------------------------------------------------
    ("Constant", lambda lr=0.1: schedules.Constant(lr), {"lr": "nonneg"}),
    ("StepDecay", lambda lr=0.1, step_size=10, gamma=0.5: schedules.StepDecay(lr, step_size, gamma),
     {"lr": "nonneg", "step_size": "count", "gamma": "nonneg"}),
    ("MultiStep", lambda lr=0.1, gamma=0.5: schedules.MultiStep(lr, (5, 10), gamma),
     {"lr": "nonneg", "gamma": "nonneg"}),
    ("Exponential", lambda lr=0.1, gamma=0.9: schedules.Exponential(lr, gamma), {"lr": "nonneg", "gamma": "nonneg"}),
    ("InverseTime", lambda lr=0.1, decay_rate=0.5, decay_steps=10: schedules.InverseTime(lr, decay_rate, decay_steps),
     {"lr": "nonneg", "decay_rate": "nonneg", "decay_steps": "count"}),
    ("Cosine", lambda lr=0.1, total_steps=100, min_lr=0.0: schedules.Cosine(lr, total_steps, min_lr),
     {"lr": "nonneg", "total_steps": "count", "min_lr": "nonneg"}),
    ("LinearWarmup", lambda warmup_steps=5, start_factor=0.0:
        schedules.LinearWarmup(schedules.Constant(0.1), warmup_steps, start_factor),
     {"warmup_steps": "index", "start_factor": "unit"}),
    ("values", lambda n=5: schedules.values(schedules.Constant(0.1), n), {"n": "index"}),
    ("schedule(k)", lambda k=3: schedules.Cosine(0.1, 10)(k), {"k": "index"}),
    ("ReduceOnPlateau", lambda lr=0.1, factor=0.1, patience=10, threshold=1e-4, cooldown=0, mode="min",
        threshold_mode="rel": schedules.ReduceOnPlateau(lr, mode=mode, factor=factor, patience=patience,
                                                         threshold=threshold, threshold_mode=threshold_mode,
                                                         cooldown=cooldown),
     {"lr": "nonneg", "factor": "unit", "patience": "index", "threshold": "nonneg", "cooldown": "index",
      "mode": "choice", "threshold_mode": "choice"}),
    ("Scheduler", lambda interval="step": schedules.Scheduler(_opt(), schedules.Constant(0.1), interval),
     {"interval": "choice"}),
    # -- optimizers (the kinds torch.optim documents; torch's own message comes first where it has one) --
    ("SGD", lambda lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False:
        optim.SGD([torch.zeros(2, requires_grad=True)], lr=lr, momentum=momentum,
                                               dampening=dampening, weight_decay=weight_decay,
                                               nesterov=nesterov, maximize=maximize),
     {"lr": "nonneg", "momentum": "nonneg", "dampening": "real", "weight_decay": "nonneg", "nesterov": "flag",
      "maximize": "flag"}),
    ("Adagrad", lambda lr=0.1, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10:
        optim.Adagrad([torch.zeros(2, requires_grad=True)], lr=lr, lr_decay=lr_decay,
                                                   weight_decay=weight_decay, eps=eps,
                                                   initial_accumulator_value=initial_accumulator_value),
     {"lr": "nonneg", "lr_decay": "nonneg", "weight_decay": "nonneg", "initial_accumulator_value": "nonneg",
      "eps": "nonneg"}),
    ("RMSprop", lambda lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False:
        optim.RMSprop([torch.zeros(2, requires_grad=True)], lr=lr, alpha=alpha,
                                                   eps=eps, weight_decay=weight_decay, momentum=momentum,
                                                   centered=centered),
     {"lr": "nonneg", "alpha": "nonneg", "eps": "nonneg", "weight_decay": "nonneg", "momentum": "nonneg",
      "centered": "flag"}),
    ("Adadelta", lambda lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0:
        optim.Adadelta([torch.zeros(2, requires_grad=True)], lr=lr, rho=rho, eps=eps,
                                                    weight_decay=weight_decay),
     {"lr": "nonneg", "rho": "unit", "eps": "nonneg", "weight_decay": "nonneg"}),
    *[(name, lambda lr=1e-3, eps=1e-8, weight_decay=0.01, amsgrad=False, maximize=False, name=name:
        getattr(optim, name)([torch.zeros(2, requires_grad=True)], lr=lr, eps=eps,
                                                          weight_decay=weight_decay, amsgrad=amsgrad,
                                                          maximize=maximize),
       {"lr": "nonneg", "eps": "nonneg", "weight_decay": "nonneg", "amsgrad": "flag", "maximize": "flag"})
      for name in ("Adam", "AdamW")],
    # -- init ----------------------------------------------------------------------------------
    ("constant_", lambda val=0.5: init.constant_(torch.empty(3, 3), val), {"val": "real"}),
    ("normal_", lambda mean=0.0, std=1.0: init.normal_(torch.empty(3, 3), mean, std),
     {"mean": "real", "std": "nonneg"}),
    ("uniform_", lambda a=0.0, b=1.0: init.uniform_(torch.empty(3, 3), a, b), {"a": "real", "b": "real"}),
    ("xavier_uniform_", lambda gain=1.0: init.xavier_uniform_(torch.empty(3, 3), gain), {"gain": "nonneg"}),
    ("xavier_normal_", lambda gain=1.0: init.xavier_normal_(torch.empty(3, 3), gain), {"gain": "nonneg"}),
    ("kaiming_uniform_", lambda a=0.0, mode="fan_in", nonlinearity="relu":
        init.kaiming_uniform_(torch.empty(3, 3), a, mode, nonlinearity),
     {"a": "real", "mode": "choice", "nonlinearity": "choice"}),
    ("kaiming_normal_", lambda a=0.0, mode="fan_in", nonlinearity="relu":
        init.kaiming_normal_(torch.empty(3, 3), a, mode, nonlinearity),
     {"a": "real", "mode": "choice", "nonlinearity": "choice"}),
    ("calculate_gain", lambda nonlinearity="leaky_relu", param=0.1: init.calculate_gain(nonlinearity, param),
     {"nonlinearity": "choice", "param": "real_or_none"}),
    ("init_model", lambda bias=0.0, scheme="he_normal": init.init_model(_net(), scheme, bias=bias),
     {"bias": "real_or_none", "scheme": "choice"}),
    # -- nn ------------------------------------------------------------------------------------
    ("leaky_relu", lambda negative_slope=0.01: nn.leaky_relu(_t(3), negative_slope), {"negative_slope": "real"}),
    ("elu", lambda alpha=1.0: nn.elu(_t(3), alpha), {"alpha": "real"}),
    ("LeakyReLU", lambda negative_slope=0.01: nn.LeakyReLU(negative_slope), {"negative_slope": "real"}),
    ("ELU", lambda alpha=1.0: nn.ELU(alpha), {"alpha": "real"}),
    ("PReLU", lambda num_parameters=1, init=0.25: nn.PReLU(num_parameters, init),
     {"num_parameters": "count", "init": "real"}),
    ("Maxout", lambda in_features=4, out_features=3, pieces=2, bias=True: nn.Maxout(in_features, out_features,
                                                                                   pieces, bias),
     {"in_features": "count", "out_features": "count", "pieces": "count", "bias": "flag"}),
    ("mlp", lambda in_features=4, out_features=3, depth=2, width=8, bias=True, activation="relu":
        nn.mlp(in_features, out_features, depth=depth, width=width, bias=bias, activation=activation),
     {"in_features": "count", "out_features": "count", "depth": "index", "width": "count", "bias": "flag",
      "activation": "choice"}),
    ("dropout", lambda p=0.5, training=True: nn.dropout(_t(4), p, training), {"p": "unit", "training": "flag"}),
    ("Dropout", lambda p=0.5: nn.Dropout(p), {"p": "unit"}),
    # -- regularization ------------------------------------------------------------------------
    ("l1_penalty", lambda strength=0.1: regularization.l1_penalty([_t(3)], strength), {"strength": "nonneg"}),
    ("l2_penalty", lambda strength=0.1: regularization.l2_penalty([_t(3)], strength), {"strength": "nonneg"}),
    ("L1", lambda strength=0.1: regularization.L1(strength), {"strength": "nonneg"}),
    ("L2", lambda strength=0.1: regularization.L2(strength), {"strength": "nonneg"}),
    ("ElasticNet", lambda l1=0.1, l2=0.1: regularization.ElasticNet(l1, l2), {"l1": "nonneg", "l2": "nonneg"}),
    ("soft_threshold", lambda threshold=0.1: regularization.soft_threshold(_t(3), threshold),
     {"threshold": "nonneg"}),
    ("ProximalL1", lambda strength=0.1: (lambda m: regularization.ProximalL1(_sgd(m.parameters()),
                                                                             m.parameters(), strength))(_net()),
     {"strength": "nonneg"}),
    ("sparsity", lambda tol=0.0: regularization.sparsity([_t(3)], tol), {"tol": "nonneg"}),
    ("EarlyStopping", lambda patience=5, min_delta=0.0, mode="min", restore_best=True:
        regularization.EarlyStopping(patience, min_delta, mode, restore_best),
     {"patience": "count", "min_delta": "nonneg", "mode": "choice", "restore_best": "flag"}),
    # -- clipping ------------------------------------------------------------------------------
    ("clip_grad_norm_", lambda max_norm=1.0, error_if_nonfinite=False:
        clipping.clip_grad_norm_([torch.zeros(3, requires_grad=True)], max_norm,
                                 error_if_nonfinite=error_if_nonfinite),
     {"max_norm": "nonneg_or_inf", "error_if_nonfinite": "flag"}),
    ("clip_grad_value_", lambda clip_value=1.0: clipping.clip_grad_value_([torch.zeros(3, requires_grad=True)],
                                                                           clip_value),
     {"clip_value": "nonneg_or_inf"}),
    # -- search --------------------------------------------------------------------------------
    ("LogUniform", lambda low=1e-4, high=1e-1, integer=False: search.LogUniform(low, high, integer),
     {"low": "positive", "high": "positive", "integer": "flag"}),
    ("Uniform", lambda low=0.0, high=1.0: search.Uniform(low, high), {"low": "real", "high": "real"}),
    ("log_uniform", lambda low=1e-4, high=1e-1, size=3: search.log_uniform(low, high, size),
     {"low": "positive", "high": "positive", "size": "index_or_none"}),
    ("random_search", lambda trials=3, seed=0, mode="max":
        search.random_search(lambda c: c["x"], {"x": search.Uniform(0, 1)}, trials, seed=seed, mode=mode),
     {"trials": "count", "seed": "index", "mode": "choice"}),
    ("main_effects", lambda bins=4, adjusted=True: search.main_effects(_search_result(), bins=bins,
                                                                       adjusted=adjusted),
     {"bins": "count", "adjusted": "flag"}),
    ("successive_halving", lambda n_configs=4, min_budget=1.0, eta=2, seed=0:
        search.successive_halving(lambda c, b: c["x"] * b, {"x": search.Uniform(0, 1)}, n_configs, min_budget,
                                  eta=eta, seed=seed),
     {"n_configs": "count", "min_budget": "positive", "eta": "count_ge2", "seed": "index"}),
    # -- surfaces and second order -------------------------------------------------------------
    ("quadratic", lambda kappa=10.0, scale=1.0, rotation=0.0: surfaces.quadratic(kappa, scale=scale,
                                                                                  rotation=rotation),
     {"kappa": "positive", "scale": "positive", "rotation": "real"}),
    ("rosenbrock", lambda a=1.0, b=100.0: surfaces.rosenbrock(a, b), {"a": "real", "b": "real"}),
    ("local_minimum", lambda tilt=0.5: surfaces.local_minimum(tilt), {"tilt": "real"}),
    ("run_optimizer", lambda steps=5, grad="analytic", diverge_above=1e6:
        surfaces.run_optimizer(surfaces.quadratic(), lambda p: _sgd(p), steps=steps, grad=grad,
                               diverge_above=diverge_above),
     {"steps": "index", "grad": "choice", "diverge_above": "positive_or_inf"}),
    ("newton_direction", lambda damping=0.0, saddle_free=False:
        second_order.newton_direction(torch.eye(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64),
                                      damping, saddle_free=saddle_free),
     {"damping": "nonneg", "saddle_free": "flag"}),
    ("newton_step", lambda damping=0.0, lr=1.0, saddle_free=False:
        second_order.newton_step(lambda th: (th ** 2).sum(), torch.ones(2, dtype=torch.float64), damping,
                                 saddle_free=saddle_free, lr=lr),
     {"damping": "nonneg", "lr": "nonneg", "saddle_free": "flag"}),
    ("run_newton", lambda steps=3, damping=0.0, lr=1.0, saddle_free=False, adaptive=False:
        second_order.run_newton(surfaces.quadratic(), steps=steps, damping=damping, lr=lr,
                                saddle_free=saddle_free, adaptive=adaptive),
     {"steps": "index", "damping": "nonneg", "lr": "nonneg", "saddle_free": "flag", "adaptive": "flag"}),
    # -- theory --------------------------------------------------------------------------------
    ("gd_rate", lambda alpha=0.1: theory.gd_rate(alpha, [1.0, 2.0]), {"alpha": "real"}),
    ("heavy_ball_rate", lambda alpha=0.1, beta=0.5: theory.heavy_ball_rate(alpha, beta, [1.0, 2.0]),
     {"alpha": "real", "beta": "real"}),
    ("nesterov_rate", lambda alpha=0.1, beta=0.5: theory.nesterov_rate(alpha, beta, [1.0, 2.0]),
     {"alpha": "real", "beta": "real"}),
    ("heavy_ball_matrix", lambda alpha=0.1, beta=0.5, lam=1.0: theory.heavy_ball_matrix(alpha, beta, lam),
     {"alpha": "real", "beta": "real", "lam": "real"}),
    ("nesterov_matrix", lambda alpha=0.1, beta=0.5, lam=1.0: theory.nesterov_matrix(alpha, beta, lam),
     {"alpha": "real", "beta": "real", "lam": "real"}),
    ("optimal_gd", lambda L=10.0, mu=1.0: theory.optimal_gd(L, mu), {"L": "positive", "mu": "positive"}),
    ("optimal_heavy_ball", lambda L=10.0, mu=1.0: theory.optimal_heavy_ball(L, mu),
     {"L": "positive", "mu": "positive"}),
    ("measured_rate", lambda start=0: theory.measured_rate([1.0, 0.5, 0.25, 0.125], start=start),
     {"start": "index"}),
    ("gd_filter_factors", lambda alpha=0.1, t=5: theory.gd_filter_factors(alpha, t, [1.0, 2.0]),
     {"alpha": "real", "t": "index"}),
    ("ridge_filter_factors", lambda lam=0.1: theory.ridge_filter_factors(lam, [1.0, 2.0]), {"lam": "nonneg"}),
    ("least_squares_gd_path", lambda alpha=0.1, steps=3:
        theory.least_squares_gd_path(np.eye(3), np.ones(3), alpha, steps), {"alpha": "real", "steps": "index"}),
    ("ridge_solution", lambda lam=0.1: theory.ridge_solution(np.eye(3), np.ones(3), lam), {"lam": "nonneg"}),
    # -- training ------------------------------------------------------------------------------
    ("fit", lambda epochs=1, batch_size=16, record_grad_norm=True:
        (lambda m: T.fit(m, _sgd(m.parameters()), _blobs(), epochs=epochs, batch_size=batch_size,
                         record_grad_norm=record_grad_norm))(_net()),
     {"epochs": "index", "batch_size": "count", "record_grad_norm": "flag"}),
    ("evaluate", lambda batch_size=8: T.evaluate(_net(), *_blobs(), batch_size=batch_size),
     {"batch_size": "count_or_none"}),
    ("lr_range_test", lambda min_lr=1e-5, max_lr=1.0, steps=5, batch_size=8:
        T.lr_range_test(_net(), _sgd, _blobs(), min_lr=min_lr, max_lr=max_lr, steps=steps, batch_size=batch_size),
     {"min_lr": "positive", "max_lr": "positive", "steps": "count_ge2", "batch_size": "count"}),
    ("activation_stats", lambda saturation=0.99: diagnostics.activation_stats(_net(), _blobs()[0],
                                                                              saturation=saturation),
     {"saturation": "unit"}),
    ("table", lambda digits=4: diagnostics.table([{"a": 1.0}], digits=digits), {"digits": "count"}),
    ("time_steps", lambda steps=2, warmup=0, repeats=1, seed=0, stat="min", clock="cpu":
        compare.time_steps(_sgd, [torch.zeros(3, requires_grad=True)], steps, warmup=warmup, repeats=repeats,
                           seed=seed, stat=stat, clock=clock),
     {"steps": "count", "warmup": "index", "repeats": "count", "seed": "index", "stat": "choice",
      "clock": "choice"}),
    ("time_interleaved", lambda repeats=1, stat="min", clock="cpu", seed=0:
        compare.time_interleaved({"a": lambda: None}, repeats=repeats, stat=stat, clock=clock, seed=seed),
     {"repeats": "count", "stat": "choice", "clock": "choice", "seed": "index"}),
    ("tune_lr", lambda epochs=1, batch_size=16, metric="val_loss":
        compare.tune_lr(_net, lambda p, lr: _sgd(p), [0.1], _blobs(), _blobs(8), epochs=epochs, batch_size=batch_size,
                        metric=metric),
     {"epochs": "count", "batch_size": "count", "metric": "choice"}),
    ("multi_seed", lambda lr=0.1, epochs=1, batch_size=16:
        compare.multi_seed(_net, lambda p, lr: _sgd(p), lr, _blobs(), seeds=(0,), epochs=epochs,
                           batch_size=batch_size),
     {"lr": "nonneg", "epochs": "count", "batch_size": "count"}),
    ("train_stacked", lambda steps=2, batch_size=8, every=None:
        stacked.train_stacked(_net, {"sgd": lambda p, lr: _sgd(p)}, [("sgd", 0.1, 0)], _blobs(), steps=steps,
                              batch_size=batch_size, every=every),
     {"steps": "count", "batch_size": "count"}),
    # -- data ----------------------------------------------------------------------------------
    ("load_digits", lambda val_fraction=0.2, test_fraction=0.2, seed=0, standardize=True:
        data.load_digits(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, standardize=standardize),
     {"val_fraction": "fraction", "test_fraction": "fraction", "seed": "index", "standardize": "flag"}),
    ("make_regression", lambda n=20, d=1, noise=0.1, seed=0: data.make_regression(n, d, noise, seed),
     {"n": "count", "d": "count", "noise": "nonneg", "seed": "index"}),
    ("make_moons", lambda n=20, noise=0.1, seed=0: data.make_moons(n, noise, seed),
     {"n": "count", "noise": "nonneg", "seed": "index"}),
    ("make_spirals", lambda n=30, classes=3, noise=0.1, seed=0: data.make_spirals(n, classes, noise, seed),
     {"n": "count", "classes": "count", "noise": "nonneg", "seed": "index"}),
    ("batches", lambda batch_size=2, shuffle=True, drop_last=False:
        list(data.batches(torch.zeros(4, 2), torch.zeros(4), batch_size, shuffle=shuffle, drop_last=drop_last)),
     {"batch_size": "count", "shuffle": "flag", "drop_last": "flag"}),
    ("num_batches", lambda n=10, batch_size=3, drop_last=False: data.num_batches(n, batch_size, drop_last),
     {"n": "index", "batch_size": "count", "drop_last": "flag"}),
    ("zipf_frequencies", lambda d=10, max_frequency=0.5, exponent=1.0:
        data.zipf_frequencies(d, max_frequency=max_frequency, exponent=exponent),
     {"d": "count", "max_frequency": "probability", "exponent": "nonneg"}),
    ("make_sparse_classification", lambda n=50, d=10, max_frequency=0.5, exponent=1.0, weight_scale=2.0,
        noise=1.0, seed=0: data.make_sparse_classification(n, d, max_frequency=max_frequency, exponent=exponent,
                                                             weight_scale=weight_scale, noise=noise, seed=seed),
     {"n": "count", "d": "count", "max_frequency": "probability", "exponent": "nonneg", "weight_scale": "nonneg",
      "noise": "nonneg", "seed": "index"}),
    # -- plots and the environment -------------------------------------------------------------
    ("side_by_side", lambda n=2, width=4.0, height=3.0, sharex=False:
        plot.side_by_side(n, width=width, height=height, sharex=sharex),
     {"n": "count", "width": "positive", "height": "positive", "sharex": "flag"}),
    ("schedule_plot", lambda steps=5, logy=False: plot.schedule_plot({"c": schedules.Constant(0.1)}, steps,
                                                                      logy=logy),
     {"steps": "count", "logy": "flag"}),
    ("band", lambda kind="std", alpha=0.25, logy=False: plot.band([0, 1], [[1, 2], [2, 3]], kind=kind, alpha=alpha,
                                                                  logy=logy),
     {"kind": "choice", "alpha": "unit", "logy": "flag"}),
    ("contour", lambda levels=5, n=20, log=False: plot.contour(surfaces.quadratic(), levels=levels, n=n, log=log),
     {"levels": "count", "n": "count_ge2", "log": "flag"}),
    ("setup", lambda seed=0, threads=1, plots=False: env.setup(seed, threads, plots=plots),
     {"seed": "index", "threads": "count", "plots": "flag"}),
    ("round_significant", lambda digits=3: env.round_significant(1.2345, digits), {"digits": "count"}),
]

# kinds that are variants of the ones above
BAD["nonneg_or_inf"] = [v for v in BAD["nonneg"] if v != INF]
BAD["positive_or_inf"] = [v for v in BAD["positive"] if v != INF]
BAD["count_ge2"] = BAD["count"] + [1]
BAD["fraction"] = [-0.1, 1.0, 1.5, NAN, "0.2", True]        # in [0, 1)
BAD["probability"] = [0.0, -0.1, 1.5, NAN, "0.2", True]      # in (0, 1]
BAD["real_or_none"] = [v for v in BAD["real"] if v is not None]  # None has a documented meaning
BAD["index_or_none"] = [v for v in BAD["index"] if v is not None]
BAD["count_or_none"] = [v for v in BAD["count"] if v is not None]


def _cases():
    for name, call, kinds in SPEC:
        for argument, kind in kinds.items():
            for value in BAD[kind]:
                yield pytest.param(call, argument, value, id=f"{name}({argument}={value!r})")


CASES = list(_cases())


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
    torch.set_num_threads(1)


@pytest.mark.parametrize("call, argument, value", CASES)
def test_a_bad_value_is_refused_with_a_message_that_names_the_argument(call, argument, value):
    with pytest.raises((TypeError, ValueError)) as caught:
        call(**{argument: value})
    message = str(caught.value)
    assert _names(message, argument), f"the message does not name {argument!r}: {message}"


def _names(message: str, argument: str) -> bool:
    """Whether ``message`` names ``argument`` as a word that stands for it.

    Short names such as ``a`` or ``n`` occur as words in any sentence, so they must
    appear as the subject of the message, in ``a=...``, or in parentheses.
    """
    name = re.escape(argument)
    if len(argument) <= 2:
        return re.search(rf"(^{name} |\b{name}=|\({name} |\b{name} must\b)", message) is not None
    return re.search(rf"(?<![\w.]){name}(?!\w)", message) is not None


def test_every_call_in_the_table_works_with_good_values():
    for name, call, _ in SPEC:
        call()


def test_the_sweep_has_at_least_500_cases_with_unique_ids():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 500, len(ids)
