"""codebase.optim.Muon against torch.optim.Muon (torch 2.13): bit for bit.

torch's Muon runs its Newton-Schulz iteration in bfloat16 whatever the parameters'
dtype, and ``newton_schulz`` does the same with the same operations in the same order,
so everything is compared with ``torch.equal``, not a tolerance: the iteration alone,
50-step float64 trajectories on two small problems over a grid of every
hyperparameter, parameter groups, and state dicts moved between the two classes.
The float64 iteration, which torch does not have, is checked against the SVD: it is
``U p_k(S / ||G||_F) V^T``. Then the argument checks (what torch rejects, we reject,
plus NaN, infinity, bools and strings) and torch's quirks.
"""
import copy
import math
import warnings

import pytest
import torch
from test_optim_trajectories import grid
from hypothesis import given
from hypothesis import strategies as st
from torch.optim._muon import _zeropower_via_newtonschulz as torch_newton_schulz

from codebase.optim import SenselessHyperparameterWarning
from codebase.optim.muon import NS_COEFFICIENTS, Muon, adjusted_lr, newton_schulz

STEPS = 50


# -- the iteration -------------------------------------------------------------------------------

SHAPES = [(4, 8), (8, 2), (5, 5), (1, 6), (6, 1), (48, 20)]
ITERATIONS = [(5, NS_COEFFICIENTS, 1e-7), (0, NS_COEFFICIENTS, 1e-7), (1, NS_COEFFICIENTS, 1e-7),
              (12, (1.5, -0.5, 0.0), 1e-7), (3, (2.0, -1.5, 0.5), 1e-3)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_newton_schulz_returns_torchs_bits(shape, dtype):
    G = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=torch.float64).to(dtype)
    before = G.clone()
    for steps, coefficients, eps in ITERATIONS:
        mine = newton_schulz(G, steps, coefficients, eps)
        theirs = torch_newton_schulz(G.clone(), coefficients, steps, eps)
        assert mine.dtype == theirs.dtype == torch.bfloat16
        assert torch.equal(mine, theirs), (steps, coefficients)
    assert torch.equal(G, before)  # torch divides a bfloat16 input in place; ours never does


def polynomial_of_singular_values(G, steps, coefficients):
    """``U p_k(S / ||G||_F) V^T`` from the SVD, the polynomial applied to each singular value."""
    a, b, c = coefficients
    U, S, Vh = torch.linalg.svd(G, full_matrices=False)
    s = S / torch.linalg.matrix_norm(G)
    for _ in range(steps):
        s = a * s + b * s ** 3 + c * s ** 5
    return U @ torch.diag(s) @ Vh


@pytest.mark.parametrize("shape", SHAPES)
def test_float64_iteration_is_the_polynomial_of_the_singular_values(shape):
    G = torch.randn(*shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for steps, coefficients, _ in ITERATIONS:
        mine = newton_schulz(G, steps, coefficients, dtype=torch.float64)
        expected = polynomial_of_singular_values(G, steps, coefficients)
        assert (mine - expected).abs().max() <= 1e-12 * max(expected.abs().max(), 1.0)


def test_iteration_brings_every_singular_value_near_one():
    # Keller Jordan's coefficients trade exactness for speed: after 5 steps the singular
    # values lie in about [0.7, 1.2], not at 1 (the cubic (1.5, -0.5, 0) converges slowly but exactly).
    G = torch.randn(64, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    s = torch.linalg.svdvals(newton_schulz(G, dtype=torch.float64))
    assert 0.6 < s.min() and s.max() < 1.25
    s = torch.linalg.svdvals(newton_schulz(G, 40, (1.5, -0.5, 0.0), dtype=torch.float64))
    torch.testing.assert_close(s, torch.ones_like(s), rtol=0, atol=1e-6)


def test_zero_matrix_gives_zero():
    assert torch.equal(newton_schulz(torch.zeros(3, 4)), torch.zeros(3, 4, dtype=torch.bfloat16))


@pytest.mark.parametrize("shape", [(2, 3), (1, 1), (9, 4), (4, 9)])
@pytest.mark.parametrize("fn", [None, "original", "match_rms_adamw"])
def test_adjusted_lr_is_torchs(shape, fn):
    from torch.optim._muon import _adjust_lr

    assert adjusted_lr(0.02, fn, torch.Size(shape)) == _adjust_lr(0.02, fn, torch.Size(shape))


# -- two small problems of matrices ---------------------------------------------------------------

_g = torch.Generator().manual_seed(3)
_X = torch.randn(16, 4, generator=_g, dtype=torch.float64)
_Y = torch.sin(_X @ torch.randn(4, 2, generator=_g, dtype=torch.float64))
_M = torch.randn(6, 6, generator=_g, dtype=torch.float64)


def mlp():
    """A 4-8-2 tanh network without biases, fitted by least squares (a wide and a tall matrix)."""
    g = torch.Generator().manual_seed(4)
    params = [(torch.randn(*shape, generator=g, dtype=torch.float64) * 0.5).requires_grad_()
              for shape in [(4, 8), (8, 2)]]
    return params, lambda: ((torch.tanh(_X @ params[0]) @ params[1] - _Y) ** 2).mean()


def factorization():
    """A rank-3 approximation ``W1 W2`` of a 6 x 6 matrix (a tall and a wide matrix)."""
    g = torch.Generator().manual_seed(5)
    params = [torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_() for shape in [(6, 3), (3, 6)]]
    return params, lambda: ((params[0] @ params[1] - _M) ** 2).sum()


PROBLEMS = {"mlp": mlp, "factorization": factorization}


def run(optimizer_class, kwargs, problem, steps=STEPS, groups=None):
    """Parameters after each step (one row per step), flattened, and the optimizer."""
    params, loss = PROBLEMS[problem]()
    opt = optimizer_class([{"params": [p], **group} for p, group in zip(params, groups)] if groups else params,
                          **kwargs)
    rows = []
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params]))
    return torch.stack(rows), opt


GRID = grid(momentum=[0.0, 0.5, 0.95], nesterov=[True, False], weight_decay=[0.0, 0.1],
            adjust_lr_fn=[None, "original", "match_rms_adamw"]) + [
    {"ns_steps": 0}, {"ns_steps": 1}, {"ns_steps": 10}, {"ns_coefficients": (1.5, -0.5, 0.0), "ns_steps": 8},
    {"eps": 0.5}, {"lr": 0.0}, {"lr": 0.3, "momentum": 0.99, "weight_decay": 1.0}]


@pytest.mark.parametrize("kwargs", GRID, ids=[",".join(f"{k}={v}" for k, v in kw.items()) for kw in GRID])
def test_trajectory_equals_torch_bit_for_bit(kwargs):
    for problem in PROBLEMS:
        settings = {"lr": 0.02, **kwargs}
        mine, _ = run(Muon, settings, problem)
        theirs, _ = run(torch.optim.Muon, settings, problem)
        assert torch.isfinite(theirs).all()
        if settings["lr"] > 0:
            assert not torch.equal(theirs[-1], theirs[0]), "the problem should make the parameters move"
        assert torch.equal(mine, theirs), problem


def test_defaults_and_parameter_groups_equal_torch():
    for kwargs, groups in [({}, None), ({"lr": 0.02}, [{"momentum": 0.5}, {"lr": 0.05, "nesterov": False,
                                                                        "adjust_lr_fn": "match_rms_adamw"}])]:
        mine, opt = run(Muon, kwargs, "mlp", groups=groups)
        theirs, torch_opt = run(torch.optim.Muon, kwargs, "mlp", groups=groups)
        assert torch.equal(mine, theirs)
        assert opt.state_dict().keys() == torch_opt.state_dict().keys()
        assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == \
               [{k: v for k, v in g.items() if k != "params"} for g in torch_opt.param_groups]


@pytest.mark.parametrize("source, target", [(Muon, torch.optim.Muon), (torch.optim.Muon, Muon)])
def test_state_dict_moves_between_the_classes_and_the_run_continues_identically(source, target):
    settings = {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.1}
    straight, _ = run(source, settings, "factorization", steps=20)
    params, loss = PROBLEMS["factorization"]()
    first = source(params, **settings)
    rows = []
    for step in range(20):
        if step == 10:
            second = target(params, lr=0.5, momentum=0.1)  # the state dict overrides these
            second.load_state_dict(copy.deepcopy(first.state_dict()))
            assert set(second.state[params[0]]) == {"momentum_buffer"}
            first = second
        first.zero_grad()
        loss().backward()
        first.step()
        rows.append(torch.cat([p.detach().flatten() for p in params]))
    assert torch.equal(torch.stack(rows), straight)


# -- argument checks -------------------------------------------------------------------------------

def _matrix():
    return torch.zeros(2, 3, requires_grad=True)


def _stepped(cls, **kwargs):
    w = _matrix()
    opt = cls([w], **kwargs)
    w.grad = torch.ones(2, 3)
    opt.step()


# (what, how torch fails (None: it accepts), how we fail, a pattern our message matches)
REJECTED_BY_BOTH = [
    ("lr=-1", {"lr": -1.0}, ValueError, r"Invalid learning rate: -1.0 \(lr must be >= 0\)"),
    ("momentum=-0.5", {"momentum": -0.5}, ValueError, r"Invalid momentum: -0.5 \(momentum must be >= 0\)"),
    ("weight_decay=-0.1", {"weight_decay": -0.1}, ValueError,
     r"Invalid weight decay: -0.1 \(weight_decay must be >= 0\)"),
    ("adjust_lr_fn='sqrt'", {"adjust_lr_fn": "sqrt"}, ValueError, r"'sqrt'.*adjust_lr_fn"),
    ("ns_steps=100", {"ns_steps": 100}, ValueError, r"ns_steps.*<= 99.*100"),
    ("ns_coefficients=(1, 2)", {"ns_coefficients": (1.0, 2.0)}, ValueError, r"ns_coefficients.*2 values"),
    ("lr=tensor([1, 2])", {"lr": torch.tensor([1.0, 2.0])}, TypeError, r"lr must be a Python number"),
]


@pytest.mark.parametrize("what, kwargs, error, pattern", REJECTED_BY_BOTH, ids=[r[0] for r in REJECTED_BY_BOTH])
def test_what_torch_rejects_we_reject_at_construction(what, kwargs, error, pattern):
    with pytest.raises(Exception):  # torch at construction or at the first step
        _stepped(torch.optim.Muon, **kwargs)
    with pytest.raises(error, match=pattern):
        Muon([_matrix()], **kwargs)


@pytest.mark.parametrize("shape", [(3,), (), (2, 3, 4), (1, 1, 1, 1)])
def test_only_matrices_like_torch(shape):
    with pytest.raises(ValueError, match="2D parameters"):
        torch.optim.Muon([torch.zeros(shape, requires_grad=True)])
    with pytest.raises(ValueError, match=r"2-D parameters.*AdamW"):
        Muon([torch.zeros(shape, requires_grad=True)])
    opt = Muon([_matrix()])
    with pytest.raises(ValueError, match=r"2-D parameters"):  # torch accepts it here, and fails at the step
        opt.add_param_group({"params": [torch.zeros(shape, requires_grad=True)]})
    assert len(opt.param_groups) == 1 and len(opt._checked) == 1  # the refused group is not kept


NUMBERS = ["lr", "momentum", "weight_decay", "eps"]
BAD_NUMBERS = [(name, value, error, pattern) for name in NUMBERS for value, error, pattern in [
    (math.nan, ValueError, "NaN"), (math.inf, ValueError, "finite"), (True, TypeError, "real number"),
    ("0.1", TypeError, "real number"), (None, TypeError, "real number")]]


@pytest.mark.parametrize("name, value, error, pattern", BAD_NUMBERS)
def test_nan_inf_bool_and_str_are_rejected_naming_the_parameter(name, value, error, pattern):
    with pytest.raises(error, match=f"{name}.*{pattern}|{pattern}.*{name}"):
        Muon([_matrix()], **{name: value})
    with pytest.raises(error, match=f"{name}.*{pattern}|{pattern}.*{name}"):  # in a parameter group too
        Muon([{"params": [_matrix()], name: value}])


OTHER_BAD = [
    ({"ns_steps": -1}, ValueError, r"ns_steps must be >= 0 and <= 99, got -1"),
    ({"ns_steps": 5.0}, TypeError, r"ns_steps must be an integer"),
    ({"ns_steps": True}, TypeError, r"ns_steps must be an integer"),
    ({"eps": -1e-7}, ValueError, r"eps.*must be >= 0"),
    ({"nesterov": 1}, TypeError, r"nesterov must be True or False"),
    ({"ns_coefficients": "abc"}, TypeError, r"ns_coefficients must be a triple"),
    ({"ns_coefficients": (3.4, math.nan, 2.0)}, ValueError, r"ns_coefficients \(b\) must not be NaN"),
    ({"ns_coefficients": (3.4, -4.7, math.inf)}, ValueError, r"Invalid ns_coefficients.*finite"),
    ({"adjust_lr_fn": 1}, ValueError, r"adjust_lr_fn"),
]


@pytest.mark.parametrize("kwargs, error, pattern", OTHER_BAD, ids=[str(r[0]) for r in OTHER_BAD])
def test_stricter_than_torch(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        Muon([_matrix()], **kwargs)


def test_a_group_changed_after_construction_is_checked_again():
    w = _matrix()
    opt = Muon([w])
    opt.param_groups[0]["ns_steps"] = 100
    w.grad = torch.ones(2, 3)
    with pytest.raises(ValueError, match=r"param_groups\[0\] was changed.*ns_steps"):
        opt.step()


def test_complex_and_sparse_are_refused():
    with pytest.raises(TypeError, match="complex"):
        Muon([torch.zeros(2, 2, dtype=torch.complex64, requires_grad=True)])
    w = _matrix()
    opt = Muon([w])
    w.grad = torch.zeros(2, 3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()


@pytest.mark.parametrize("kwargs, pattern", [
    ({"momentum": 1.0}, r"Muon\(momentum=1.0\) never lets the gradient"),
    ({"eps": 0.0}, r"Muon\(eps=0.0\) divides 0 by 0"),
    ({"lr": 0.5, "weight_decay": 2.0}, r"Muon\(weight_decay=2.0\).*flip sign"),
])
def test_senseless_values_warn(kwargs, pattern):
    with pytest.warns(SenselessHyperparameterWarning, match=pattern):
        Muon([_matrix()], **kwargs)


def test_defaults_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Muon([_matrix()], lr=0.02)


# -- torch's quirks -----------------------------------------------------------------------------

def test_buffer_is_a_moving_average_not_the_docstrings_sum():
    # torch's docstring writes B_t = mu B_{t-1} + g_t; its code (and ours) keeps (1 - mu) times that.
    g1, g2 = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    for cls in (Muon, torch.optim.Muon):
        w = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
        opt = cls([w], lr=0.01, momentum=0.9)
        for g in (g1, g2):
            w.grad = g.clone()
            opt.step()
        torch.testing.assert_close(opt.state[w]["momentum_buffer"], 0.1 * (0.9 * g1 + g2), rtol=1e-15, atol=0)


def test_weight_decay_uses_the_unadjusted_rate():
    w = torch.ones(8, 2, dtype=torch.float64, requires_grad=True)
    opt = Muon([w], lr=0.1, weight_decay=0.5, ns_steps=0)
    w.grad = torch.zeros(8, 2, dtype=torch.float64)  # a zero update: only the decay acts
    opt.step()
    assert torch.equal(w.detach(), torch.full((8, 2), 1 - 0.1 * 0.5, dtype=torch.float64))


def test_an_unknown_adjust_lr_fn_in_a_group_torch_uses_the_bare_rate_we_refuse():
    w = _matrix()
    torch.optim.Muon([{"params": [w], "adjust_lr_fn": "sqrt"}])  # accepted: only the default is checked
    with pytest.raises(ValueError, match="'sqrt'"):
        Muon([{"params": [w], "adjust_lr_fn": "sqrt"}])


def test_bfloat16_buffer_stays_the_average_where_torch_normalizes_it_in_place():
    g = torch.randn(4, 3, generator=torch.Generator().manual_seed(7)).bfloat16()
    buffers = {}
    for cls in (Muon, torch.optim.Muon):
        w = torch.zeros(4, 3, dtype=torch.bfloat16, requires_grad=True)
        opt = cls([w], lr=0.1, nesterov=False)
        w.grad = g.clone()
        opt.step()
        buffers[cls] = opt.state[w]["momentum_buffer"]
    assert torch.equal(buffers[Muon], torch.zeros_like(g).lerp_(g, 0.05))
    # torch 2.13 divides the buffer itself by its norm
    assert buffers[torch.optim.Muon].float().norm().item() == pytest.approx(1.0, abs=0.01)


# -- generated values: whatever torch rejects, we reject ------------------------------------------

def _outcome(make):
    try:
        make()
    except Exception as exc:  # noqa: BLE001 - torch raises what it raises
        return exc
    return None


@pytest.mark.parametrize("name", ["lr", "momentum", "weight_decay"])
@given(value=st.one_of(st.sampled_from([0.0, -0.0, -1e-300, 1e-300, 1.0, -1.0, math.inf, -math.inf]),
                       st.floats(allow_nan=False)))
def test_generated_values_torch_rejects_we_reject(name, value):
    theirs = _outcome(lambda: torch.optim.Muon([_matrix()], **{name: value}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SenselessHyperparameterWarning)
        mine = _outcome(lambda: Muon([_matrix()], **{name: value}))
    if theirs is not None:
        assert isinstance(mine, ValueError) and name in str(mine)
    if mine is not None and theirs is None:  # stricter only about infinity
        assert math.isinf(value) and "finite" in str(mine)
