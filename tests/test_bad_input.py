"""Bad input to codebase gets a clear error that names the parameter (the "nothing silently wrong" suite).

Each row is a call with one bad argument, the exception it must raise, and a pattern that the
message must match (the parameter's name, and what is wrong). No row may pass by returning.
"""
import math

import numpy as np
import pytest
import torch

from codebase import data, init, nn, optim, regularization, schedules, search, surfaces
from codebase import train as T

INF = math.inf
OPTIMIZERS = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"]


def _w():
    return torch.zeros(3, requires_grad=True)


def _stepped(name, **group_changes):
    """An optimizer whose group was written to after construction, then stepped."""
    w = _w()
    opt = getattr(optim, name)([w], lr=0.1)
    opt.param_groups[0].update(group_changes)
    w.grad = torch.ones(3)
    opt.step()


CASES = [
    # infinity is not a finite real number, whatever the module
    *[(f"{name}(lr=inf)", lambda name=name: getattr(optim, name)([_w()], lr=INF), ValueError, r"lr.*finite")
      for name in OPTIMIZERS],
    *[(f"{name}(weight_decay=inf)", lambda name=name: getattr(optim, name)([_w()], weight_decay=INF),
       ValueError, r"weight_decay.*finite") for name in OPTIMIZERS],
    ("Adam(betas=(0.9, inf))", lambda: optim.Adam([_w()], betas=(0.9, INF)), ValueError, r"betas"),
    ("Constant(inf)", lambda: schedules.Constant(INF), ValueError, r"lr must be finite"),
    ("xavier_normal_(gain=inf)", lambda: init.xavier_normal_(torch.empty(3, 3), gain=INF), ValueError,
     r"gain must be finite"),
    ("normal_(std=inf)", lambda: init.normal_(torch.empty(3, 3), std=INF), ValueError, r"std must be finite"),
    ("leaky_relu(negative_slope=inf)", lambda: nn.leaky_relu(torch.ones(3), negative_slope=INF), ValueError,
     r"negative_slope must be finite"),
    ("EarlyStopping(min_delta=inf)", lambda: regularization.EarlyStopping(min_delta=INF), ValueError,
     r"min_delta must be finite"),
    ("make_regression(noise=inf)", lambda: data.make_regression(noise=INF), ValueError, r"noise must be finite"),
    ("rosenbrock(a=inf)", lambda: surfaces.rosenbrock(a=INF), ValueError, r"a must be finite"),
    ("log_uniform(1e-5, inf)", lambda: search.log_uniform(1e-5, INF), ValueError, r"high must be finite"),
    ("Uniform(0, inf).sample", lambda: search.Uniform(0, INF).sample(np.random.default_rng(0)), ValueError,
     r"high must be finite"),
    # values written into a group after construction are checked at the next step
    *[(f"{name}: param_groups[0]['lr'] = -5, step()", lambda name=name: _stepped(name, lr=-5.0), ValueError,
       r"param_groups\[0\] was changed after construction: .*lr") for name in OPTIMIZERS],
    ("SGD: param_groups[0]['lr'] = inf, step()", lambda: _stepped("SGD", lr=INF), ValueError, r"lr.*finite"),
    ("SGD: param_groups[0]['momentum'] = 'x', step()", lambda: _stepped("SGD", momentum="x"), TypeError,
     r"momentum"),
    ("Adam: param_groups[0]['betas'] = (1.0, 0.9), step()", lambda: _stepped("Adam", betas=(1.0, 0.9)),
     ValueError, r"betas\[0\]"),
    # a misspelled group key would be ignored, and the default used
    ("SGD([{'params': w, 'lrr': 1}])", lambda: optim.SGD([{"params": [_w()], "lrr": 1.0}], lr=0.1), ValueError,
     r"no hyperparameter 'lrr'; did you mean 'lr'"),
    ("Adam([{'params': w, 'beta': ...}])", lambda: optim.Adam([{"params": [_w()], "beta": (0.9, 0.9)}]),
     ValueError, r"'beta'; did you mean 'betas'"),
    ("RMSprop([{'params': w, 'weight_dacay': 1}])",
     lambda: optim.RMSprop([{"params": [_w()], "weight_dacay": 1.0}]), ValueError, r"did you mean 'weight_decay'"),
    # the same tensor twice would be updated twice per step
    *[(f"{name}([w, w])", lambda name=name: (lambda w: getattr(optim, name)([w, w], lr=0.1))(_w()), ValueError,
       r"params holds the same tensor twice") for name in OPTIMIZERS],
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_message_that_names_it(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_the_table_is_large_and_its_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_a_group_may_carry_a_name_and_schedulers_may_add_their_keys():
    w = _w()
    opt = optim.SGD([{"params": [w], "name": "decoder"}], lr=0.1)
    torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)  # writes initial_lr, max_lr, ...
    w.grad = torch.ones(3)
    opt.step()
    assert opt.param_groups[0]["name"] == "decoder"


def test_a_clipping_threshold_of_inf_still_means_no_clipping():
    from codebase.clipping import clip_grad_norm_

    w = _w()
    w.grad = torch.full((3,), 2.0)
    assert clip_grad_norm_([w], max_norm=INF, norm_type=INF).item() == 2.0
    assert torch.equal(w.grad, torch.full((3,), 2.0))


# ---- fit guards the run ------------------------------------------------------------------

def _net(outputs=3, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, outputs))


def _blobs(n=64, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g), torch.randint(0, classes, (n,), generator=g)


def _fit(model=None, optimizer=None, train=None, **kwargs):
    model = model or _net()
    optimizer = optimizer or optim.SGD(model.parameters(), lr=0.1)
    return T.fit(model, optimizer, train or _blobs(), epochs=kwargs.pop("epochs", 1), batch_size=16, **kwargs)


def _with_nan(pair, row=5):
    X, y = pair
    X = X.clone()
    X[row, 0] = math.nan
    return X, y


FIT_CASES = [
    ("fit: NaN in the validation inputs", lambda: _fit(val=_with_nan(_blobs(seed=1))), ValueError,
     r"val's inputs hold NaN or infinite values \(first in row 5\)"),
    ("fit: NaN in the training inputs", lambda: _fit(train=_with_nan(_blobs())), ValueError,
     r"train's inputs hold NaN"),
    ("fit: an optimizer built on another model", lambda: _fit(optimizer=optim.SGD(_net().parameters(), lr=0.1)),
     ValueError, r"holds none of the model's parameters"),
    ("fit: outputs (n, 1) against targets (n,)",
     lambda: _fit(model=_net(outputs=1), train=(torch.randn(64, 4), torch.randn(64))), ValueError,
     r"outputs have shape \(16, 1\) and the targets \(16,\): the loss would broadcast"),
    ("fit: label 3 for a 3-class model", lambda: _fit(train=(torch.randn(64, 4), torch.arange(64) % 4)),
     ValueError, r"class labels must lie in 0\.\.2 .* from 0 to 3"),
    ("fit: label -1", lambda: _fit(train=(torch.randn(64, 4), torch.arange(64) % 3 - 1)), ValueError,
     r"class labels must lie in 0\.\.2"),
    ("fit: label -100 (torch would ignore it silently)",
     lambda: _fit(train=(torch.randn(64, 4), torch.where(torch.arange(64) == 3, -100, 0))), ValueError,
     r"class labels"),
    ("fit: validation labels out of range",
     lambda: _fit(val=(torch.randn(8, 4), torch.full((8,), 7))), ValueError, r"from 7 to 7"),
    ("fit: loss_fn returns a float", lambda: _fit(loss_fn=lambda out, y: 0.5), TypeError,
     r"loss_fn must return a scalar tensor, got float"),
    ("fit: loss_fn with reduction='none'",
     lambda: _fit(loss_fn=torch.nn.CrossEntropyLoss(reduction="none")), ValueError,
     r"loss_fn returned a tensor of shape \(16,\), not one number"),
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES])
def test_fit_refuses_a_run_that_would_be_silently_wrong(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_a_nan_validation_loss_from_the_model_stops_the_run():
    class Explodes(torch.nn.Module):  # finite in training mode, NaN in eval mode on the validation data
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)

        def forward(self, x):
            out = self.linear(x)
            return out if self.training or len(x) == 64 else out * math.nan

    model = Explodes()
    with pytest.raises(T.TrainingDiverged, match="the validation loss became nan while the training loss is"):
        T.fit(model, optim.SGD(model.parameters(), lr=0.1), _blobs(), val=_blobs(n=8, seed=2), epochs=1,
              batch_size=16)


def test_lr_range_test_refuses_nan_data_instead_of_suggesting_a_rate():
    model = _net()
    with pytest.raises(ValueError, match=r"train's inputs hold NaN"):
        T.lr_range_test(model, lambda p: optim.SGD(p, lr=0.1), _with_nan(_blobs(), row=40), steps=30)


FLAG_CASES = [
    ("load_digits(standardize='no')", lambda: data.load_digits(standardize="no"), TypeError,
     r"standardize must be True or False"),
    ("batches(shuffle='no')", lambda: data.batches(torch.zeros(4, 2), torch.zeros(4), 2, shuffle="no"), TypeError,
     r"shuffle must be True or False"),
    ("batches(drop_last=1)", lambda: data.batches(torch.zeros(4, 2), torch.zeros(4), 2, drop_last=1), TypeError,
     r"drop_last must be True or False"),
    ("init_model(a model without Linear or Conv)",
     lambda: init.init_model(torch.nn.Sequential(torch.nn.ReLU()), "he_normal"), ValueError,
     r"no layer that init_model initializes"),
    ("grad_norm(a tensor)", lambda: T.grad_norm(torch.ones(3, requires_grad=True)),
     TypeError, r"got one tensor: pass \[tensor\]"),
    ("LogUniform(0.1, 0.4, integer=True)", lambda: search.LogUniform(0.1, 0.4, integer=True), ValueError,
     r"low must round to at least 1"),
    ("quadratic(rotation=inf)", lambda: surfaces.quadratic(rotation=INF), ValueError, r"rotation must be finite"),
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in FLAG_CASES], ids=[c[0] for c in FLAG_CASES])
def test_flags_and_types_are_checked(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_the_leaky_relu_slope_is_named_a_in_its_error():
    with pytest.raises(TypeError, match=r"^a must be a real number"):
        init.kaiming_uniform_(torch.empty(3, 3), a="x")


@pytest.mark.parametrize("hessian, grad", [
    (torch.tensor([[2, 0], [0, 1]]), torch.tensor([1, 1])),
    (torch.eye(2, dtype=torch.float64), torch.ones(2)),
])
def test_newton_direction_names_the_dtypes_instead_of_calling_them_singular(hessian, grad):
    from codebase import second_order

    with pytest.raises(TypeError, match="floating-point tensors of one dtype"):
        second_order.newton_direction(hessian, grad)


# ---- values torch accepts that make no sense: a warning that names them and says what they do ---------

SENSELESS = [
    ("SGD(momentum=1.5)", lambda w: optim.SGD([w], lr=0.1, momentum=1.5), r"SGD\(momentum=1.5\) makes the momentum"),
    ("SGD(dampening=5)", lambda w: optim.SGD([w], lr=0.1, dampening=5.0), r"SGD\(dampening=5.0\) scales"),
    ("SGD(dampening=-1)", lambda w: optim.SGD([w], lr=0.1, dampening=-1.0), r"negative \(uphill\)"),
    ("RMSprop(alpha=1.5)", lambda w: optim.RMSprop([w], alpha=1.5), r"RMSprop\(alpha=1.5\).*NaN"),
    ("RMSprop(eps=0)", lambda w: optim.RMSprop([w], eps=0.0), r"RMSprop\(eps=0.0\) divides 0 by 0"),
    ("Adam(eps=0)", lambda w: optim.Adam([w], eps=0.0), r"Adam\(eps=0.0\) divides 0 by 0"),
    ("Adagrad(eps=0)", lambda w: optim.Adagrad([w], eps=0.0), r"Adagrad\(eps=0.0\)"),
    ("Adadelta(eps=0)", lambda w: optim.Adadelta([w], eps=0.0), r"nothing moves"),
    ("AdamW(lr=0.01, weight_decay=250)", lambda w: optim.AdamW([w], lr=0.01, weight_decay=250.0),
     r"AdamW\(weight_decay=250.0\).*flip sign"),
]


@pytest.mark.parametrize("make, pattern", [c[1:] for c in SENSELESS], ids=[c[0] for c in SENSELESS])
def test_a_senseless_value_torch_accepts_gets_one_warning_that_says_what_it_does(make, pattern):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt = make(_w())
    ours = [w for w in caught if issubclass(w.category, optim.SenselessHyperparameterWarning)]
    assert len(ours) == 1 and ours[0].filename == __file__, [str(w.message) for w in caught]
    assert __import__("re").search(pattern, str(ours[0].message))
    assert "torch accepts it" in str(ours[0].message)
    assert opt.param_groups  # compatible with torch: it is accepted


def test_the_defaults_and_a_scheduler_that_stays_sensible_give_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", optim.SenselessHyperparameterWarning)
        for name in OPTIMIZERS:
            w = _w()
            opt = getattr(optim, name)([w])
            w.grad = torch.ones(3)
            opt.param_groups[0]["lr"] *= 0.5
            opt.step()


def test_a_value_written_later_is_warned_about_at_the_next_step():
    w = _w()
    opt = optim.AdamW([w], lr=1e-3, weight_decay=0.01)
    opt.param_groups[0]["lr"] = 200.0
    w.grad = torch.ones(3)
    with pytest.warns(optim.SenselessHyperparameterWarning, match="flip sign"):
        opt.step()


# ---- a callable that cannot take the arguments it will be given is refused at the boundary -------

def _params():
    return [torch.zeros(2, requires_grad=True)]


def _space():
    return {"x": search.Uniform(0.0, 1.0)}


ARITY = [
    ("fit(callbacks=[lambda: None])", lambda: _fit(callbacks=[lambda: None]), r"callbacks\[0\] is called as "
     r"callbacks\[0\]\(model, history\) with 2 positional arguments, but <lambda>\(\) cannot take them"),
    ("fit(regularizer=lambda: 0)", lambda: _fit(regularizer=lambda: 0.0), r"regularizer\(model\)"),
    ("fit(loss_fn=lambda out: out)", lambda: _fit(loss_fn=lambda out: out.sum()), r"loss_fn\(output, target\)"),
    ("evaluate(loss_fn=lambda: 0)", lambda: T.evaluate(_net(), *_blobs(), loss_fn=lambda: 0), r"loss_fn"),
    ("lr_range_test(make_optimizer=lambda: opt)",
     lambda: T.lr_range_test(_net(), lambda: None, _blobs(), steps=5), r"make_optimizer\(params\)"),
    ("Scheduler(schedule=lambda: 0.1)",
     lambda: schedules.Scheduler(optim.SGD(_params(), lr=0.1), lambda: 0.1), r"schedule\(k\)"),
    ("Scheduler(schedule=[lambda k, j: 0.1])",
     lambda: schedules.Scheduler(optim.SGD(_params(), lr=0.1), [lambda k, j: 0.1]), r"schedule\(k\)"),
    ("LinearWarmup(lambda: 1.0, 5)", lambda: schedules.LinearWarmup(lambda: 1.0, 5), r"schedule\(k\)"),
    ("Chain((lambda: 1.0, Constant(0.1)), (5,))",
     lambda: schedules.Chain((lambda: 1.0, schedules.Constant(0.1)), (5,)), r"schedules\(k\)"),
    ("values(lambda: 1.0, 3)", lambda: schedules.values(lambda: 1.0, 3), r"schedule\(k\)"),
    ("run_optimizer(make_optimizer=lambda: opt)",
     lambda: surfaces.run_optimizer(surfaces.quadratic(), lambda: None), r"make_optimizer\(params\)"),
    ("init_model(scheme=lambda: None)", lambda: init.init_model(_net(), lambda: None), r"scheme\(tensor\)"),
    ("mlp(init=lambda: None)", lambda: nn.mlp(4, 3, depth=1, width=8, init=lambda: None), r"init\(tensor\)"),
    ("mlp(activation=lambda x: x)", lambda: nn.mlp(4, 3, depth=1, width=8, activation=lambda x: x),
     r"activation\(\) with 0 positional arguments"),
    ("random_search(objective=lambda: 0)",
     lambda: search.random_search(lambda: 0.0, _space(), 3), r"objective\(config\)"),
    ("successive_halving(objective=lambda config: 0)",
     lambda: search.successive_halving(lambda config: 0.0, _space(), 4, 1.0), r"objective\(config, budget\)"),
    ("hessian(fn=lambda: 0)",
     lambda: __import__("codebase.second_order").second_order.hessian(lambda: 0, torch.zeros(2)), r"fn\(theta\)"),
    ("hvp(loss_fn=lambda x: x)",
     lambda: __import__("codebase.second_order").second_order.hvp(lambda x: x, _params(), [torch.ones(2)]),
     r"loss_fn\(\) with 0 positional arguments"),
    ("time_steps(make_optimizer=lambda: opt)",
     lambda: __import__("codebase.compare").compare.time_steps(lambda: None, _params(), 2), r"make_optimizer"),
    ("time_interleaved(runs={'a': lambda x: x})",
     lambda: __import__("codebase.compare").compare.time_interleaved({"a": lambda x: x}), r"runs\['a'\]\(\)"),
    ("tune_lr(make_model=lambda: net)",
     lambda: __import__("codebase.compare").compare.tune_lr(lambda: _net(), lambda p, lr: optim.SGD(p, lr=lr),
                                                            [0.1], _blobs(), _blobs(8), epochs=1),
     r"make_model\(seed\)"),
    ("multi_seed(make_optimizer=lambda p: opt)",
     lambda: __import__("codebase.compare").compare.multi_seed(lambda s: _net(), lambda p: optim.SGD(p, lr=0.1),
                                                               0.1, _blobs(), epochs=1),
     r"make_optimizer\(params, lr\)"),
    ("train_stacked(makers={'sgd': lambda p: opt})",
     lambda: __import__("codebase.stacked").stacked.train_stacked(
         lambda s: _net(), {"sgd": lambda p: optim.SGD(p, lr=0.1)}, [("sgd", 0.1, 0)], _blobs(), steps=2,
         batch_size=8), r"makers\['sgd'\]\(params, lr\)"),
    ("activation_stats(modules=lambda m: True)",
     lambda: __import__("codebase.diagnostics").diagnostics.activation_stats(_net(), _blobs()[0],
                                                                             modules=lambda m: True),
     r"modules\(name, module\)"),
]


@pytest.mark.parametrize("call, pattern", [c[1:] for c in ARITY], ids=[c[0] for c in ARITY])
def test_a_callable_with_the_wrong_arity_is_refused_naming_how_it_is_called(call, pattern):
    with pytest.raises(TypeError, match=pattern):
        call()


def test_callables_whose_signature_cannot_be_read_are_trusted():
    from codebase._checks import check_callable

    assert check_callable("loss_fn", max, ("output", "target")) is max
    assert check_callable("make_optimizer", optim.SGD, ("params",)) is optim.SGD
    assert check_callable("loss_fn", torch.nn.CrossEntropyLoss(), ("output", "target"))


# ---- a loss that grows without bound stops the run before it overflows --------------------------

def test_a_loss_that_grows_past_the_factor_stops_the_run_with_the_step_and_a_suggestion():
    model = _net()
    with pytest.raises(T.TrainingDiverged, match=r"the loss grew to .* more than diverge_factor = 1e\+08 times "
                       r"its first value .* at epoch 1, step \d .* Try a smaller learning rate") as caught:
        _fit(model=model, optimizer=optim.SGD(model.parameters(), lr=1e12), epochs=3)
    assert caught.value.step <= 3 and caught.value.epoch == 1


def test_diverge_factor_none_lets_a_finite_run_go_on():
    model = _net()
    history = _fit(model=model, optimizer=optim.SGD(model.parameters(), lr=30.0), diverge_factor=None, epochs=2)
    assert history.epochs_run == 2


@pytest.mark.parametrize("value, error", [(1.0, ValueError), (0.5, ValueError), (math.nan, ValueError),
                                          (INF, ValueError), ("10", TypeError), (True, TypeError)])
def test_diverge_factor_must_be_a_finite_number_above_one(value, error):
    with pytest.raises(error, match="diverge_factor"):
        _fit(diverge_factor=value)


def test_run_optimizer_refuses_an_optimizer_on_other_tensors():
    other = _params()
    with pytest.raises(ValueError, match=r"make_optimizer must build the optimizer on the parameters it is given"):
        surfaces.run_optimizer(surfaces.quadratic(), lambda p: optim.SGD(other, lr=0.1), steps=5)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax"])
def test_an_eps_that_rounds_to_zero_in_float16_parameters_is_warned_about(name):
    w16 = torch.zeros(3, dtype=torch.float16, requires_grad=True)
    with pytest.warns(optim.SenselessHyperparameterWarning, match=r"rounds to 0 in a half-precision \(float16\)"):
        opt = getattr(optim, name)([w16])
    for _ in range(8):  # RAdam takes momentum steps until rho_t > 5, then divides too
        w16.grad = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float16)
        opt.step()
    assert torch.isnan(w16[0])  # what the warning says happens, as in torch


def test_float32_parameters_or_an_adagrad_accumulator_above_zero_give_no_eps_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", optim.SenselessHyperparameterWarning)
        optim.Adam([_w()])
        optim.Adagrad([torch.zeros(3, dtype=torch.float16, requires_grad=True)], initial_accumulator_value=0.1)


@pytest.mark.parametrize("state_dict, error, pattern", [
    ({}, ValueError, r"state_dict lacks \['state', 'param_groups'\]"),
    ({"state": {}}, ValueError, r"state_dict lacks \['param_groups'\]"),
    ([1, 2], TypeError, r"state_dict must be a dict"),
])
def test_an_empty_or_foreign_state_dict_is_refused_by_name(state_dict, error, pattern):
    with pytest.raises(error, match=pattern):
        optim.Adam([_w()]).load_state_dict(state_dict)
