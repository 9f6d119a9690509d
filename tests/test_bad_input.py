"""Bad input to codebase gets a clear error that names the parameter (the "nothing silently wrong" suite).

Each row is a call with one bad argument, the exception it must raise, and a pattern that the
message must match (the parameter's name, and what is wrong). No row may pass by returning.
"""
import math

import numpy as np
import pytest
import torch

from codebase import data, init, nn, optim, regularization, schedules, search, surfaces

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
