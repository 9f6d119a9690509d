"""Adafactor and Lion against their references: torch.optim.Adafactor and lion_pytorch.Lion.

Both rules apply their reference's floating-point operations in the reference's order,
so every trajectory here is compared **bit for bit** (``torch.equal``), in float64, on the
two problems of ``test_optim_trajectories`` (a 4-8-2 tanh network, whose weights are
matrices, and Rosenbrock, whose parameter is a vector), 50 steps, over a grid of every
hyperparameter's range. Then: state dicts (both ways for both references), the
references' documented quirks, and the arguments each reference rejects (table).
"""
import copy
import math
import warnings

import lion_pytorch
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_optim_trajectories import PROBLEMS, grid, mlp_loss, mlp_params, run
from test_optim_validation import outcome, reals

from codebase.optim._base import SenselessHyperparameterWarning
from codebase.optim.adafactor import Adafactor, factored_v
from codebase.optim.lion import Lion

F64 = torch.float64


def assert_moves_and_equals(mine, theirs):
    assert torch.isfinite(theirs).all()
    assert not torch.equal(theirs[-1], theirs[0]), "the test problem should make the parameters move"
    assert torch.equal(mine, theirs), f"max difference {(mine - theirs).abs().max().item():.3g}"


# -- Adafactor: trajectories ------------------------------------------------------------------

# lr 1e-2 caps rho_t = min(lr, 1/sqrt(t)) at every step, 0.5 from the fourth; d = 1 clips, 1e30 never;
# beta2_decay 0 keeps only the last squared gradient; eps1 None is float64's machine epsilon, and
# (0.3, 1.5) makes both floors bind (eps1^2 above some v_hat entries, eps2 above RMS(theta)).
ADAFACTOR_GRID = grid(lr=[1e-2, 0.5], beta2_decay=[-0.8, 0.0], eps=[(None, 1e-3), (0.3, 1.5)],
                      d=[1.0, 1e30], weight_decay=[0.0, 0.1], maximize=[False, True])


@pytest.mark.parametrize("kwargs", ADAFACTOR_GRID, ids=[str(kw) for kw in ADAFACTOR_GRID])
def test_adafactor_trajectory_equals_torch_bitwise(kwargs):
    for problem in PROBLEMS:
        assert_moves_and_equals(run(Adafactor, kwargs, problem), run(torch.optim.Adafactor, kwargs, problem))


def test_adafactor_defaults_and_signature_are_torchs():
    for problem in PROBLEMS:
        assert_moves_and_equals(run(Adafactor, {}, problem), run(torch.optim.Adafactor, {}, problem))
    p = mlp_params()
    assert Adafactor(p).defaults == torch.optim.Adafactor(p).defaults


def shaped_run(cls, steps=20, **kwargs):
    """A 3-D tensor (factored over its last two dimensions), a scalar and a vector, fitted to targets."""
    g = torch.Generator().manual_seed(3)
    params = [torch.randn(shape, generator=g, dtype=F64).requires_grad_() for shape in [(2, 3, 4), (), (5,)]]
    targets = [torch.randn(p.shape, generator=g, dtype=F64) for p in params]
    opt = cls(params, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        sum(((p - y) ** 4).sum() for p, y in zip(params, targets)).backward()
        opt.step()
    return [p.detach() for p in params], opt


def test_adafactor_factors_the_last_two_dimensions_and_keeps_torchs_state():
    mine, opt = shaped_run(Adafactor, lr=0.1, weight_decay=0.1)
    theirs, torch_opt = shaped_run(torch.optim.Adafactor, lr=0.1, weight_decay=0.1)
    for a, b in zip(mine, theirs):
        assert torch.equal(a, b)
    for p, q in zip(opt.param_groups[0]["params"], torch_opt.param_groups[0]["params"]):
        assert opt.state[p].keys() == torch_opt.state[q].keys()
        for key in opt.state[p]:
            assert torch.equal(opt.state[p][key], torch_opt.state[q][key]), key
    assert opt.state[opt.param_groups[0]["params"][0]]["row_var"].shape == (2, 3, 1)
    assert opt.state[opt.param_groups[0]["params"][0]]["col_var"].shape == (2, 1, 4)


def adafactor_steps(cls, state_dict=None, steps=10):
    """``steps`` steps on the MLP from a fixed start, after loading ``state_dict`` if given."""
    params = mlp_params()
    opt = cls(params, lr=0.05, weight_decay=0.1)
    if state_dict is not None:
        opt.load_state_dict(copy.deepcopy(state_dict))
        with torch.no_grad():
            for p, value in zip(params, state_dict["_params"]):
                p.copy_(value)
    for _ in range(steps):
        opt.zero_grad()
        mlp_loss(params).backward()
        opt.step()
    saved = copy.deepcopy(opt.state_dict())
    saved["_params"] = [p.detach().clone() for p in params]
    return saved


@pytest.mark.parametrize("first, second", [(Adafactor, torch.optim.Adafactor),
                                           (torch.optim.Adafactor, Adafactor)])
def test_adafactor_state_dict_moves_between_torch_and_ours(first, second):
    halfway = adafactor_steps(first)
    continued = adafactor_steps(second, halfway)
    uninterrupted = adafactor_steps(first, halfway)
    for a, b in zip(continued["_params"], uninterrupted["_params"]):
        assert torch.equal(a, b)
    assert continued["state"][0]["step"].item() == 20.0


# -- Adafactor: its conventions ---------------------------------------------------------------

def test_adafactor_first_step_takes_the_last_squared_gradient_and_a_sign_step_for_vectors():
    # beta2_1 = 1 - 1^beta2_decay = 0: the statistics hold g_1^2 alone. A vector's u_1 = g / |g| is
    # +-1 (RMS 1, never clipped), so it moves every coordinate by alpha_1 = max(eps2, RMS(theta)) rho_1.
    theta = torch.tensor([3.0, -4.0, 0.5, 2.0], dtype=F64, requires_grad=True)
    w = torch.randn(3, 5, generator=torch.Generator().manual_seed(0), dtype=F64, requires_grad=True)
    opt = Adafactor([theta, w], lr=0.01)
    theta.grad = torch.tensor([0.1, -2.0, 1e-3, 5.0], dtype=F64)
    w.grad = torch.randn(3, 5, generator=torch.Generator().manual_seed(1), dtype=F64)
    before = theta.detach().clone()
    opt.step()
    assert torch.equal(opt.state[theta]["variance"], theta.grad ** 2)
    torch.testing.assert_close(opt.state[w]["row_var"], (w.grad ** 2).mean(1, keepdim=True), rtol=1e-14, atol=0)
    torch.testing.assert_close(opt.state[w]["col_var"], (w.grad ** 2).mean(0, keepdim=True), rtol=1e-14, atol=0)
    alpha = before.pow(2).mean().sqrt() * 0.01
    torch.testing.assert_close(before - theta.detach(), alpha * theta.grad.sign(), rtol=1e-12, atol=0)


@given(seed=st.integers(0, 2 ** 31 - 1))
def test_factored_v_keeps_the_row_and_column_means(seed):
    # v_hat's row means are v_row and its column means v_col whenever they share their mean,
    # which the two moving averages of mean(g^2) always do; a rank-one g^2 is rebuilt exactly.
    g = torch.Generator().manual_seed(seed)
    sq = torch.rand(4, 6, generator=g, dtype=F64) + 0.1
    v_row, v_col = sq.mean(1, keepdim=True), sq.mean(0, keepdim=True)
    v_hat = factored_v(v_row, v_col, 1e-30)
    torch.testing.assert_close(v_hat.mean(1, keepdim=True), v_row, rtol=1e-13, atol=0)
    torch.testing.assert_close(v_hat.mean(0, keepdim=True), v_col, rtol=1e-13, atol=0)
    rank_one = torch.rand(4, 1, generator=g, dtype=F64) @ torch.rand(1, 6, generator=g, dtype=F64)
    torch.testing.assert_close(factored_v(rank_one.mean(1, keepdim=True), rank_one.mean(0, keepdim=True), 1e-30),
                               rank_one, rtol=1e-13, atol=0)


def test_adafactor_eps1_none_is_each_parameters_machine_epsilon_where_torch_takes_the_first():
    # torch's loop sets eps1 once, from the first parameter of the group; a float64 weight after a
    # float32 one then gets float32's epsilon. In groups of one dtype the two agree (tests above).
    def two_dtypes(cls, eps1):
        a = torch.ones(3, 2, dtype=torch.float32, requires_grad=True)
        b = torch.full((3, 2), 1e-6, dtype=F64, requires_grad=True)
        opt = cls([a, b], eps=(eps1, 1e-3))
        a.grad, b.grad = torch.ones_like(a), torch.full_like(b, 1e-9)
        opt.step()
        return b.detach()
    float32_eps = torch.finfo(torch.float32).eps
    assert torch.equal(two_dtypes(torch.optim.Adafactor, None), two_dtypes(Adafactor, float32_eps))
    assert not torch.equal(two_dtypes(torch.optim.Adafactor, None), two_dtypes(Adafactor, None))


# -- Lion: trajectories -----------------------------------------------------------------------

# betas reach both ends of [0, 1]: beta1 = 0 steps by sign(g), beta1 = 1 by sign(m_{t-1}) (no move at
# t = 1), beta2 = 1 keeps m at zero. lr 1e-2 moves the MLP, 1e-3 keeps Rosenbrock away from its valley.
LION_GRID = grid(lr=[1e-3, 1e-2], betas=[(0.9, 0.99), (0.5, 0.8), (0.0, 1.0), (1.0, 0.0)],
                 weight_decay=[0.0, 0.5], decoupled_weight_decay=[False, True])


@pytest.mark.parametrize("kwargs", LION_GRID, ids=[str(kw) for kw in LION_GRID])
def test_lion_trajectory_equals_lion_pytorch_bitwise(kwargs):
    for problem in PROBLEMS:
        assert_moves_and_equals(run(Lion, kwargs, problem), run(lion_pytorch.Lion, kwargs, problem))


def test_lion_defaults_and_maximize():
    for problem in PROBLEMS:
        assert_moves_and_equals(run(Lion, {}, problem), run(lion_pytorch.Lion, {}, problem))
        # maximize=True on -loss (what run does) is the reference descending on loss
        assert_moves_and_equals(run(Lion, {"maximize": True, "lr": 1e-3}, problem),
                                run(lion_pytorch.Lion, {"lr": 1e-3}, problem))
    p = mlp_params()
    assert Lion(p).defaults == {**lion_pytorch.Lion(p).defaults, "decoupled_weight_decay": False,
                                     "maximize": False}


def lion_groups(cls, decoupled, steps=10):
    params = mlp_params()
    opt = cls([{"params": params[:1]}, {"params": params[1:], "lr": 3e-3, "betas": (0.5, 0.9)}],
              lr=1e-2, weight_decay=0.3, decoupled_weight_decay=decoupled)
    for _ in range(steps):
        opt.zero_grad()
        mlp_loss(params).backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in params])


@pytest.mark.parametrize("decoupled", [False, True])
def test_lion_groups_and_the_decoupled_decay_divided_by_the_constructors_lr(decoupled):
    # the reference divides every group's weight_decay by the lr given to the constructor
    assert torch.equal(lion_groups(Lion, decoupled), lion_groups(lion_pytorch.Lion, decoupled))


def lion_steps(cls, state_dict=None, steps=10):
    params = mlp_params()
    opt = cls(params, lr=1e-2, betas=(0.5, 0.9), weight_decay=0.1)
    if state_dict is not None:
        opt.load_state_dict(copy.deepcopy(state_dict))
        with torch.no_grad():
            for p, value in zip(params, state_dict["_params"]):
                p.copy_(value)
    for _ in range(steps):
        opt.zero_grad()
        mlp_loss(params).backward()
        opt.step()
    saved = copy.deepcopy(opt.state_dict())
    saved["_params"] = [p.detach().clone() for p in params]
    return saved


@pytest.mark.parametrize("first, second", [(Lion, Lion), (Lion, lion_pytorch.Lion),
                                           (lion_pytorch.Lion, Lion)])
def test_lion_state_dict_round_trips_and_moves_between_the_reference_and_ours(first, second):
    halfway = lion_steps(first)
    assert set(halfway["state"][0]) == {"exp_avg"}
    continued = lion_steps(second, halfway)
    uninterrupted = lion_steps(first, halfway)
    for a, b in zip(continued["_params"], uninterrupted["_params"]):
        assert torch.equal(a, b)
    if second is Lion:
        assert continued["param_groups"][0]["maximize"] is False


def test_lion_moves_every_coordinate_by_lr_except_where_the_interpolation_is_zero():
    theta = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=F64, requires_grad=True)
    opt = Lion([theta], lr=0.125)
    for g in ([0.3, -1e-9, 0.0, 7.0], [-0.5, 2.0, 0.0, 1e-12]):
        before = theta.detach().clone()
        theta.grad = torch.tensor(g, dtype=F64)
        opt.step()
        assert torch.equal((theta.detach() - before).abs(), torch.tensor([0.125, 0.125, 0.0, 0.125], dtype=F64))


# -- what each reference rejects, we reject ---------------------------------------------------

def adafactor_verdict(kwargs):
    """Ours raises where torch raises, with a message that starts with torch's; infinity we refuse too."""
    mine = outcome(lambda: Adafactor(mlp_params(), **kwargs))
    theirs = outcome(lambda: torch.optim.Adafactor(mlp_params(), **kwargs))
    numbers = [v for value in kwargs.values() for v in (value if isinstance(value, tuple) else (value,))]
    if theirs is None and any(isinstance(v, float) and math.isinf(v) for v in numbers):
        assert isinstance(mine, ValueError) and "must be finite" in str(mine), (kwargs, mine)
    elif theirs is None:
        assert mine is None, f"torch accepts {kwargs} but we raise {mine!r}"
    else:
        assert isinstance(theirs, ValueError) and isinstance(mine, ValueError), (kwargs, theirs, mine)
        assert str(mine).startswith(str(theirs)), (str(mine), str(theirs))
    return mine


@pytest.mark.filterwarnings("ignore::codebase.optim.SenselessHyperparameterWarning")
@pytest.mark.parametrize("arg", ["lr", "beta2_decay", "d", "weight_decay"])
@given(value=reals)
def test_adafactor_rejects_what_torch_rejects_with_torchs_message(arg, value):
    error = adafactor_verdict({arg: value})
    if error is not None:
        assert arg in str(error)


@given(eps1=reals, eps2=reals)
def test_adafactor_eps_rejected_iff_torch_rejects(eps1, eps2):
    error = adafactor_verdict({"eps": (eps1, eps2)})
    if error is not None:
        assert "eps[" in str(error)


def lion_verdict(kwargs):
    """Ours raises ValueError where the reference's asserts fail; both accept the rest (infinity aside)."""
    mine = outcome(lambda: Lion(mlp_params(), **kwargs))
    theirs = outcome(lambda: lion_pytorch.Lion(mlp_params(), **kwargs))
    if theirs is not None:
        assert isinstance(theirs, AssertionError) and isinstance(mine, ValueError), (kwargs, theirs, mine)
    elif any(math.isinf(v) for v in [kwargs.get("lr", 0.0), *kwargs.get("betas", ())]):
        assert isinstance(mine, ValueError) and "finite" in str(mine)
    else:
        assert mine is None, (kwargs, mine)
    return mine


@given(lr=reals, beta1=reals, beta2=reals)
def test_lion_rejects_what_lion_pytorch_asserts_against(lr, beta1, beta2):
    error = lion_verdict({"lr": lr, "betas": (beta1, beta2)})
    if error is not None:
        assert "lr" in str(error) or "betas[" in str(error)


# (class, keyword arguments, error, words the message must contain): where we are stricter than the
# reference (NaN, infinity, bools, strings, tensors, a decay that grows the weights) or it has no check.
BAD = [
    (Adafactor, {"lr": math.nan}, ValueError, "lr must not be NaN"),
    (Adafactor, {"lr": math.inf}, ValueError, "lr=1.0 removes the cap"),
    (Adafactor, {"d": math.inf}, ValueError, "1e30 clips nothing"),
    (Adafactor, {"beta2_decay": -math.inf}, ValueError, "beta2_decay must be finite"),
    (Adafactor, {"weight_decay": math.inf}, ValueError, "weight_decay must be finite"),
    (Adafactor, {"eps": (math.nan, 1e-3)}, ValueError, "eps[0] must not be NaN"),
    (Adafactor, {"eps": (None, math.inf)}, ValueError, "eps[1] must be finite"),
    (Adafactor, {"eps": (math.inf, 1e-3)}, ValueError, "no parameter ever moves"),
    (Adafactor, {"lr": True}, TypeError, "lr must be a real number"),
    (Adafactor, {"d": "1"}, TypeError, "d must be a real number"),
    (Adafactor, {"lr": torch.tensor(0.01)}, TypeError, "float(lr)"),
    (Adafactor, {"eps": 1e-3}, TypeError, "eps must be a pair"),
    (Adafactor, {"eps": (None, 1e-3, 1.0)}, ValueError, "eps must be a pair"),
    (Adafactor, {"eps": (None, None)}, TypeError, "eps[1] must be a real number"),
    (Adafactor, {"maximize": 1}, TypeError, "maximize must be True or False"),
    (Adafactor, {"foreach": True}, ValueError, "single-tensor"),
    (Lion, {"lr": math.nan}, ValueError, "lr must not be NaN"),
    (Lion, {"lr": 0.0}, ValueError, "lr must be > 0"),
    (Lion, {"lr": math.inf}, ValueError, "lr must be finite"),
    (Lion, {"lr": "1e-4"}, TypeError, "lr must be a real number"),
    (Lion, {"betas": (0.9, math.nan)}, ValueError, "betas[1] must not be NaN"),
    (Lion, {"betas": (True, 0.99)}, TypeError, "betas[0] must be a real number"),
    (Lion, {"betas": (0.9, 0.99, 0.5)}, ValueError, "betas must be a pair"),
    (Lion, {"betas": 0.9}, TypeError, "betas must be a pair"),
    (Lion, {"weight_decay": -0.1}, ValueError, "weight_decay must be >= 0"),
    (Lion, {"weight_decay": math.nan}, ValueError, "weight_decay must not be NaN"),
    (Lion, {"weight_decay": math.inf}, ValueError, "weight_decay must be finite"),
    (Lion, {"weight_decay": torch.tensor(0.1)}, TypeError, "float(weight_decay)"),
    (Lion, {"decoupled_weight_decay": 1}, TypeError, "decoupled_weight_decay must be True or False"),
    (Lion, {"use_triton": True}, ValueError, "use_triton=True"),
    (Lion, {"use_triton": "no"}, TypeError, "use_triton must be True or False"),
]


@pytest.mark.parametrize("cls, kwargs, error, words", BAD, ids=[f"{c.__name__}-{kw}" for c, kw, _, _ in BAD])
def test_bad_arguments_are_refused_naming_the_parameter(cls, kwargs, error, words):
    with pytest.raises(error) as info:
        cls(mlp_params(), **kwargs)
    assert words in str(info.value)
    if "use_triton" not in kwargs:  # a constructor argument; the others are checked in every group too
        with pytest.raises(error):
            cls([{"params": mlp_params(), **kwargs}])


@pytest.mark.parametrize("cls", [Adafactor, Lion])
def test_a_group_changed_after_construction_is_checked_at_the_next_step(cls):
    params = mlp_params()
    opt = cls(params)
    opt.param_groups[0]["weight_decay"] = -1.0
    for p in params:
        p.grad = torch.ones_like(p)
    with pytest.raises(ValueError, match=r"param_groups\[0\] was changed.*weight_decay"):
        opt.step()


@pytest.mark.parametrize("cls, kwargs", [(Adafactor, {"lr": 0.5, "weight_decay": 2.0}),
                                         (Lion, {"lr": 0.5, "weight_decay": 2.0}),
                                         (Lion, {"lr": 1e-4, "weight_decay": 1.0, "decoupled_weight_decay": True})])
def test_a_decay_that_flips_the_weights_warns(cls, kwargs):
    with pytest.warns(SenselessHyperparameterWarning, match="weight_decay"):
        cls(mlp_params(), **kwargs)


@pytest.mark.parametrize("cls, kwargs", [(Adafactor, {"lr": 0.5, "weight_decay": 1.9}),
                                         (Lion, {"lr": 0.5, "weight_decay": 1.9}),
                                         (Lion, {"lr": 1e-4, "weight_decay": 0.5, "decoupled_weight_decay": True})])
def test_a_decay_that_shrinks_the_weights_does_not_warn(cls, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls(mlp_params(), **kwargs)
