"""Argument checks of codebase.optim, with torch.optim as the oracle.

For every hyperparameter that torch checks, a generated value is rejected by our
class if and only if it is rejected by torch's, with a ValueError whose message
starts with torch's. Where we are deliberately stricter (NaN, infinity, bools, tensors,
non-bool flags, checks on every parameter group) the tests say so.
"""
import inspect
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import codebase.optim as ours

NAMES = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"]

# The hyperparameters that torch checks against a range, per class.
RANGED = {
    "SGD": ["lr", "momentum", "weight_decay"],
    "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"],
    "RMSprop": ["lr", "alpha", "eps", "weight_decay", "momentum"],
    "Adadelta": ["lr", "rho", "eps", "weight_decay"],
    "Adam": ["lr", "eps", "weight_decay"],
    "AdamW": ["lr", "eps", "weight_decay"],
}
RANGED_PAIRS = [(name, arg) for name in NAMES for arg in RANGED[name]]
NUMERIC_PAIRS = RANGED_PAIRS + [("SGD", "dampening")]
FLAGS = {
    "SGD": ["nesterov", "maximize"],
    "Adagrad": ["maximize"],
    "RMSprop": ["centered", "maximize"],
    "Adadelta": ["maximize"],
    "Adam": ["amsgrad", "maximize", "decoupled_weight_decay"],
    "AdamW": ["amsgrad", "maximize"],
}
FLAG_PAIRS = [(name, flag) for name in NAMES for flag in FLAGS[name]]

# Values near the edges of every range torch uses ([0, inf), [0, 1], [0, 1)), plus any float.
reals = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 1 - 1e-16, 1 + 1e-15, 0.5, 2.0,
                     math.inf, -math.inf]),
    st.floats(allow_nan=False),
)


def params():
    return [torch.zeros(2, requires_grad=True)]


def outcome(make):
    """``None`` if ``make()`` succeeds, else the exception it raised."""
    try:
        make()
    except Exception as exc:  # noqa: BLE001 - we compare whatever torch raises
        return exc
    return None


def _numbers(kwargs):
    for value in kwargs.values():
        yield from (value if isinstance(value, tuple) else (value,))


def assert_same_verdict(name, kwargs):
    mine = outcome(lambda: getattr(ours, name)(params(), **kwargs))
    theirs = outcome(lambda: getattr(torch.optim, name)(params(), **kwargs))
    if theirs is None and any(isinstance(v, float) and math.isinf(v) for v in _numbers(kwargs)):
        # deliberately stricter: lr=inf turns every weight into inf or nan at the first step
        assert isinstance(mine, ValueError) and "must be finite" in str(mine), (kwargs, mine)
    elif theirs is None:
        assert mine is None, f"torch accepts {kwargs} but we raise {mine!r}"
    else:
        assert isinstance(theirs, ValueError), theirs
        assert isinstance(mine, ValueError), f"torch rejects {kwargs} ({theirs}) but we give {mine!r}"
        assert str(mine).startswith(str(theirs)), (str(mine), str(theirs))
    return mine


@pytest.mark.parametrize("name, arg", RANGED_PAIRS, ids=[f"{n}-{a}" for n, a in RANGED_PAIRS])
@given(value=reals)
def test_ranged_hyperparameter_rejected_iff_torch_rejects(name, arg, value):
    error = assert_same_verdict(name, {arg: value})
    if error is not None:
        assert arg in str(error)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@given(beta1=reals, beta2=reals)
def test_betas_rejected_iff_torch_rejects(name, beta1, beta2):
    error = assert_same_verdict(name, {"betas": (beta1, beta2)})
    if error is not None:
        assert "betas[" in str(error)


@given(momentum=reals, dampening=reals, nesterov=st.booleans())
def test_nesterov_rejected_iff_torch_rejects(momentum, dampening, nesterov):
    assert_same_verdict("SGD", {"momentum": momentum, "dampening": dampening, "nesterov": nesterov})


def test_typical_messages_name_the_parameter():
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -1.0 \(lr must be >= 0\)$"):
        ours.Adam(params(), lr=-1.0)
    with pytest.raises(ValueError, match=r"Invalid beta parameter at index 1: 1.0 .*betas\[1\]"):
        ours.Adam(params(), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"Invalid rho value: 1.5 \(rho must be in \[0, 1\]\)"):
        ours.Adadelta(params(), rho=1.5)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        ours.SGD(params(), lr=0.1, nesterov=True)


# -- where we are stricter than torch ------------------------------------------------------------

@pytest.mark.parametrize("name, arg", NUMERIC_PAIRS, ids=[f"{n}-{a}" for n, a in NUMERIC_PAIRS])
def test_nan_is_rejected(name, arg):
    # torch lets NaN through in some places (SGD's lr, momentum and dampening); we never do.
    with pytest.raises(ValueError, match=arg):
        getattr(ours, name)(params(), **{arg: math.nan})


wrong_types = st.one_of(
    st.text(max_size=5), st.none(), st.booleans(), st.complex_numbers(allow_nan=False, allow_infinity=False),
    st.lists(st.floats(0, 1), max_size=2), st.floats(0, 1).map(torch.tensor),
)


@pytest.mark.parametrize("name, arg", NUMERIC_PAIRS, ids=[f"{n}-{a}" for n, a in NUMERIC_PAIRS])
@given(value=wrong_types)
def test_wrong_type_raises_type_error_naming_the_parameter(name, arg, value):
    with pytest.raises(TypeError, match=arg):
        getattr(ours, name)(params(), **{arg: value})
    # Where torch rejects the value too, it also raises TypeError (with a less helpful message).
    theirs = outcome(lambda: getattr(torch.optim, name)(params(), **{arg: value}))
    assert theirs is None or isinstance(theirs, TypeError)


def test_tensor_hyperparameters_are_refused_with_advice():
    with pytest.raises(TypeError, match=r"float\(lr\)"):
        ours.Adam(params(), lr=torch.tensor(0.01))
    with pytest.raises(TypeError, match=r"betas\[0\]"):
        ours.AdamW(params(), betas=(torch.tensor(0.9), 0.999))


@pytest.mark.parametrize("betas, error", [(0.9, TypeError), (None, TypeError), ("ab", TypeError),
                                          ((0.9,), ValueError), ((0.9, 0.99, 0.5), ValueError)])
def test_betas_must_be_a_pair(betas, error):
    with pytest.raises(error, match="betas"):
        ours.Adam(params(), betas=betas)


@pytest.mark.parametrize("name, flag", FLAG_PAIRS, ids=[f"{n}-{f}" for n, f in FLAG_PAIRS])
@given(value=st.one_of(st.integers(), st.text(max_size=3), st.none(), st.floats(allow_nan=False)))
def test_flags_must_be_bools(name, flag, value):
    with pytest.raises(TypeError, match=flag):
        getattr(ours, name)(params(), **{flag: value})


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_group_is_checked(name):
    # torch checks only the defaults; a bad value in a group slips through there.
    p, q = params(), params()
    assert getattr(torch.optim, name)([{"params": p, "lr": -1.0}]) is not None
    with pytest.raises(ValueError, match="lr"):
        getattr(ours, name)([{"params": p, "lr": -1.0}])
    opt = getattr(ours, name)(p)
    with pytest.raises(ValueError, match="weight_decay"):
        opt.add_param_group({"params": q, "weight_decay": -0.5})
    assert len(opt.param_groups) == 1
    opt.add_param_group({"params": q, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["params"] == q


def _counting_checks(monkeypatch, cls):
    # Replace cls._check_group by one that records the groups it checks, then checks them as before.
    checked, check = [], cls._check_group
    monkeypatch.setattr(cls, "_check_group", classmethod(lambda _, group: (checked.append(dict(group)),
                                                                           check(group))[1]))
    return checked


def test_a_step_checks_again_only_the_groups_that_changed(monkeypatch):
    p, q = params(), params()
    opt = ours.SGD([{"params": p, "name": "weights"}, {"params": q}], lr=0.1, momentum=0.9)
    checked = _counting_checks(monkeypatch, ours.SGD)
    for w in p + q:
        w.grad = torch.ones_like(w)
    opt.step()
    opt.step()
    assert checked == []                                   # nothing changed since construction
    opt.param_groups[1]["lr"] = 0.05
    opt.step()
    opt.step()
    assert [group["lr"] for group in checked] == [0.05]    # the changed group, once
    del opt.param_groups[0]["name"]                        # a key replaced by another: the same number of keys
    opt.param_groups[0]["label"] = "weights"
    opt.step()
    assert [group.get("label") for group in checked] == [None, "weights"]


# -- the faster torch implementations are not here -------------------------------------------------

IMPLEMENTATION_FLAGS = [(name, flag) for name in NAMES for flag in ("foreach", "fused", "differentiable", "capturable")
                        if flag in inspect.signature(getattr(torch.optim, name)).parameters]


@pytest.mark.parametrize("name, flag", IMPLEMENTATION_FLAGS, ids=[f"{n}-{f}" for n, f in IMPLEMENTATION_FLAGS])
def test_faster_implementations_are_refused_clearly(name, flag):
    with pytest.raises(ValueError, match=rf"single-tensor.*torch\.optim\.{name}"):
        getattr(ours, name)(params(), **{flag: True})
    if flag in ("foreach", "fused"):  # False asks for the for-loop, which is what we have
        assert getattr(ours, name)(params(), **{flag: False}).defaults[flag] is False
    with pytest.raises(TypeError, match=flag):
        getattr(ours, name)(params(), **{flag: "yes"})


@pytest.mark.parametrize("name", NAMES)
def test_signature_and_defaults_equal_torchs(name):
    def describe(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls.__init__).parameters.values()]

    assert describe(getattr(ours, name)) == describe(getattr(torch.optim, name))
    p = params()
    assert getattr(ours, name)(p).defaults == getattr(torch.optim, name)(p).defaults


@pytest.mark.parametrize("name", NAMES)
def test_sparse_gradients_are_rejected(name):
    p = torch.zeros(3, requires_grad=True)
    opt = getattr(ours, name)([p])
    p.grad = torch.zeros(3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()


@pytest.mark.parametrize("name", NAMES)
def test_complex_parameters_are_rejected(name):
    with pytest.raises(TypeError, match="complex"):
        getattr(ours, name)([torch.zeros(2, dtype=torch.complex64, requires_grad=True)])


def test_empty_and_malformed_params_fail_like_torch():
    with pytest.raises(ValueError, match="empty parameter list"):
        ours.SGD([], lr=0.1)
    with pytest.raises(TypeError):
        ours.SGD(torch.zeros(3, requires_grad=True), lr=0.1)
    with pytest.raises(TypeError):
        ours.SGD([{"params": {torch.zeros(3, requires_grad=True)}}], lr=0.1)
