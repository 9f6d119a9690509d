"""codebase.clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_."""
import inspect
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codebase import clipping as C

NORM_TYPES = [1.0, 2.0, 3.0, 0.5, float("inf"), "inf"]


def make_params(shapes, seed, dtype=torch.float64, scale=1.0, none=()):
    """Parameters with random gradients (``None`` for the indices in ``none``)."""
    gen = torch.Generator().manual_seed(seed)
    params = []
    for i, shape in enumerate(shapes):
        p = torch.nn.Parameter(torch.zeros(shape, dtype=dtype))
        if i not in none:
            p.grad = scale * torch.randn(shape, generator=gen, dtype=dtype)
        params.append(p)
    return params


def copies(params):
    out = []
    for p in params:
        q = torch.nn.Parameter(p.detach().clone())
        q.grad = None if p.grad is None else p.grad.clone()
        out.append(q)
    return out


def assert_grads_equal(ours, theirs, rtol=1e-12, atol=1e-15):
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            torch.testing.assert_close(p.grad, q.grad, rtol=rtol, atol=atol, equal_nan=True)


def both_norm(params, *args, **kwargs):
    mine, theirs = copies(params), copies(params)
    a = C.clip_grad_norm_(mine, *args, **kwargs)
    b = torch.nn.utils.clip_grad_norm_(theirs, *args, **kwargs)
    return mine, theirs, a, b


# --- signatures --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["clip_grad_norm_", "clip_grad_value_"])
def test_signature_matches_torch(name):
    ours = inspect.signature(getattr(C, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.utils, name)).parameters
    assert list(ours) == list(theirs)
    for key in ours:
        assert ours[key].default == theirs[key].default, key
        assert ours[key].kind == theirs[key].kind, key


# --- clip_grad_norm_ ---------------------------------------------------------------------

@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.0, 0.1, 1.0, 5.0, 1e6])
def test_clip_grad_norm_equals_torch(norm_type, max_norm):
    params = make_params([(3, 4), (4,), (2, 2, 2), (1,)], seed=1)
    mine, theirs, a, b = both_norm(params, max_norm, norm_type)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
    assert a.dtype == b.dtype and a.shape == b.shape == ()
    assert_grads_equal(mine, theirs)


def test_clip_grad_norm_float32_equals_torch():
    params = make_params([(20, 30), (30,), (30, 10)], seed=2, dtype=torch.float32)
    mine, theirs, a, b = both_norm(params, 1.0)
    torch.testing.assert_close(a, b)
    assert a.dtype == torch.float32
    assert_grads_equal(mine, theirs, rtol=1e-6, atol=1e-7)


@given(shapes=st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple),
                       min_size=1, max_size=4),
       seed=st.integers(0, 2**16),
       log_scale=st.floats(-6, 6),
       max_norm=st.floats(0, 1e3),
       norm_type=st.sampled_from(NORM_TYPES))
def test_clip_grad_norm_equals_torch_hypothesis(shapes, seed, log_scale, max_norm, norm_type):
    params = make_params(shapes, seed=seed, scale=10.0 ** log_scale)
    mine, theirs, a, b = both_norm(params, max_norm, norm_type)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
    assert_grads_equal(mine, theirs)


def test_returns_norm_before_clipping_and_keeps_direction():
    params = make_params([(5, 5), (5,)], seed=3, scale=10.0)
    flat_before = torch.cat([p.grad.flatten() for p in params])
    total = C.clip_grad_norm_(params, 1.0)
    flat_after = torch.cat([p.grad.flatten() for p in params])
    assert math.isclose(float(total), float(flat_before.norm()), rel_tol=1e-12)
    assert math.isclose(float(flat_after.norm()), 1.0, rel_tol=1e-5)
    cosine = torch.dot(flat_before, flat_after) / (flat_before.norm() * flat_after.norm())
    assert math.isclose(float(cosine), 1.0, rel_tol=1e-12)


def test_small_gradients_are_left_alone():
    params = make_params([(3,), (2, 2)], seed=4, scale=1e-3)
    before = [p.grad.clone() for p in params]
    C.clip_grad_norm_(params, 10.0)
    for p, g in zip(params, before):
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0)


def test_none_gradients_are_skipped():
    params = make_params([(3,), (4,), (2,)], seed=5, scale=5.0, none={1})
    mine, theirs, a, b = both_norm(params, 0.5)
    assert mine[1].grad is None
    torch.testing.assert_close(a, b)
    assert_grads_equal(mine, theirs)


def test_all_gradients_none_returns_zero_like_torch():
    params = make_params([(3,), (4,)], seed=6, none={0, 1})
    mine, theirs, a, b = both_norm(params, 1.0)
    assert float(a) == float(b) == 0.0
    assert a.dtype == b.dtype
    assert all(p.grad is None for p in mine)


def test_empty_list_returns_zero():
    assert float(C.clip_grad_norm_([], 1.0)) == 0.0


def test_zero_gradients_stay_zero():
    params = make_params([(3,), (2, 2)], seed=7)
    for p in params:
        p.grad.zero_()
    mine, theirs, a, b = both_norm(params, 1.0)
    assert float(a) == float(b) == 0.0
    for p in mine:
        assert torch.equal(p.grad, torch.zeros_like(p.grad))


def test_single_tensor_and_generator_inputs():
    p = make_params([(6,)], seed=8, scale=3.0)[0]
    q = copies([p])[0]
    a = C.clip_grad_norm_(p, 1.0)
    b = torch.nn.utils.clip_grad_norm_(q, 1.0)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(p.grad, q.grad)
    model = torch.nn.Linear(3, 2)
    model.weight.grad = torch.full((2, 3), 4.0)
    model.bias.grad = torch.full((2,), 4.0)
    total = C.clip_grad_norm_(model.parameters(), 1.0)  # a generator, read once
    assert math.isclose(float(total), 4.0 * math.sqrt(8), rel_tol=1e-6)
    flat = torch.cat([model.weight.grad.flatten(), model.bias.grad])
    assert math.isclose(float(flat.norm()), 1.0, rel_tol=1e-5)


def test_nonfinite_norm():
    params = make_params([(3,), (2,)], seed=9)
    params[0].grad[1] = float("inf")
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        C.clip_grad_norm_(copies(params), 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(copies(params), 1.0, error_if_nonfinite=True)
    mine, theirs, a, b = both_norm(params, 1.0)  # without the flag: whatever torch does
    assert math.isinf(float(a)) and math.isinf(float(b))
    assert_grads_equal(mine, theirs)


def test_clipping_inside_a_training_loop_matches_torch():
    def run(clip):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        gen = torch.Generator().manual_seed(1)
        X = torch.randn(32, 4, generator=gen, dtype=torch.float64)
        y = 10 * torch.randn(32, 1, generator=gen, dtype=torch.float64)
        norms = []
        for _ in range(20):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(X), y).backward()
            norms.append(float(clip(model.parameters(), 1.0)))
            opt.step()
        return norms, [p.detach().clone() for p in model.parameters()]

    ours, theirs = run(C.clip_grad_norm_), run(torch.nn.utils.clip_grad_norm_)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12)
    for a, b in zip(ours[1], theirs[1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


# --- clip_grad_value_ --------------------------------------------------------------------

@pytest.mark.parametrize("clip_value", [0.0, 0.1, 0.5, 1.0, 100.0])
def test_clip_grad_value_equals_torch(clip_value):
    params = make_params([(3, 4), (4,), (2, 2, 2)], seed=10, none=set())
    mine, theirs = copies(params), copies(params)
    assert C.clip_grad_value_(mine, clip_value) is None
    assert torch.nn.utils.clip_grad_value_(theirs, clip_value) is None
    assert_grads_equal(mine, theirs, rtol=0, atol=0)
    for p in mine:
        assert float(p.grad.abs().max()) <= clip_value


@given(shapes=st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple),
                       min_size=1, max_size=4),
       seed=st.integers(0, 2**16), clip_value=st.floats(0, 10), log_scale=st.floats(-3, 3))
def test_clip_grad_value_equals_torch_hypothesis(shapes, seed, clip_value, log_scale):
    params = make_params(shapes, seed=seed, scale=10.0 ** log_scale, none={0} if len(shapes) > 1 else set())
    mine, theirs = copies(params), copies(params)
    C.clip_grad_value_(mine, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_grads_equal(mine, theirs, rtol=0, atol=0)


def test_clip_grad_value_changes_direction():
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    p.grad = torch.tensor([10.0, 1.0], dtype=torch.float64)
    C.clip_grad_value_(p, 1.0)
    assert torch.equal(p.grad, torch.tensor([1.0, 1.0], dtype=torch.float64))


# --- argument checks ---------------------------------------------------------------------

@pytest.mark.parametrize("bad, error", [(-1.0, ValueError), (float("nan"), ValueError),
                                        ("1", TypeError), (True, TypeError), (None, TypeError)])
def test_max_norm_is_checked(bad, error):
    params = make_params([(3,)], seed=11)
    with pytest.raises(error, match="max_norm"):
        C.clip_grad_norm_(params, bad)


@pytest.mark.parametrize("bad, error", [(-0.5, ValueError), (float("nan"), ValueError),
                                        ("0.5", TypeError), (False, TypeError)])
def test_clip_value_is_checked(bad, error):
    params = make_params([(3,)], seed=12)
    with pytest.raises(error, match="clip_value"):
        C.clip_grad_value_(params, bad)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2.0, ValueError), ("l2", ValueError),
                                        (None, TypeError), (True, TypeError)])
def test_norm_type_is_checked(bad, error):
    with pytest.raises(error, match="norm_type"):
        C.clip_grad_norm_(make_params([(3,)], seed=13), 1.0, bad)


def test_other_arguments_are_checked():
    params = make_params([(3,)], seed=14)
    with pytest.raises(TypeError, match="error_if_nonfinite"):
        C.clip_grad_norm_(params, 1.0, error_if_nonfinite=1)
    with pytest.raises(TypeError, match="foreach"):
        C.clip_grad_norm_(params, 1.0, foreach="yes")
    with pytest.raises(TypeError, match="foreach"):
        C.clip_grad_value_(params, 1.0, foreach=0)
    with pytest.raises(TypeError, match="parameters"):
        C.clip_grad_norm_(torch.nn.Linear(2, 2), 1.0)
    with pytest.raises(TypeError, match="parameters"):
        C.clip_grad_value_(3.0, 1.0)
    with pytest.raises(TypeError, match="parameters"):
        C.clip_grad_norm_([params[0], "w"], 1.0)
    for foreach in (None, True, False):  # accepted and ignored
        C.clip_grad_norm_(params, 1.0, foreach=foreach)
        C.clip_grad_value_(params, 1.0, foreach=foreach)


def test_torch_does_not_check_max_norm_but_we_do():
    """Why the checks matter: torch accepts a negative max_norm and flips the gradient."""
    params = make_params([(3,)], seed=15, scale=5.0)
    theirs = copies(params)
    before = theirs[0].grad.clone()
    torch.nn.utils.clip_grad_norm_(theirs, -1.0)
    assert torch.dot(before, theirs[0].grad) < 0
    with pytest.raises(ValueError, match="max_norm"):
        C.clip_grad_norm_(copies(params), -1.0)
