"""Tests for codebase.second_order: Hessians and HVPs against torch.autograd, Newton's method."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codebase import second_order as so
from codebase import surfaces


def _loss_of_mlp(seed=0, d_in=3, width=4):
    """A small tanh network's mean squared error as a function of its flat parameter vector."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(7, d_in, generator=gen, dtype=torch.float64)
    y = torch.randn(7, 1, generator=gen, dtype=torch.float64)
    shapes = [(width, d_in), (width,), (1, width), (1,)]
    d = sum(math.prod(s) for s in shapes)
    theta = torch.randn(d, generator=gen, dtype=torch.float64)

    def unflatten(t):
        parts, i = [], 0
        for s in shapes:
            k = math.prod(s)
            parts.append(t[i:i + k].reshape(s))
            i += k
        return parts

    def loss(t):
        W1, b1, W2, b2 = unflatten(t)
        return ((torch.tanh(X @ W1.T + b1) @ W2.T + b2 - y) ** 2).mean()

    return loss, theta, unflatten


FUNCTIONS = {
    "rosenbrock": (surfaces.rosenbrock().value_fn, torch.tensor([-1.2, 1.0], dtype=torch.float64)),
    "beale": (surfaces.beale().value_fn, torch.tensor([1.0, 1.5], dtype=torch.float64)),
    "mlp": _loss_of_mlp()[:2],
    "cubic": (lambda t: (t**3).sum() + t[0] * t[1] * t[2], torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_hessian_equals_torch_autograd_functional_hessian(name):
    fn, theta = FUNCTIONS[name]
    expected = torch.autograd.functional.hessian(fn, theta)
    H = so.hessian(fn, theta)
    assert H.dtype == theta.dtype and H.shape == expected.shape
    assert torch.allclose(H, expected, rtol=1e-10, atol=1e-10)
    assert torch.allclose(H, H.T, atol=1e-10)


def test_hessian_of_a_linear_function_is_zero_and_theta_is_untouched():
    theta = torch.tensor([1.0, 2.0], dtype=torch.float64)
    H = so.hessian(lambda t: 3 * t[0] - t[1], theta)
    assert torch.equal(H, torch.zeros(2, 2, dtype=torch.float64))
    assert not theta.requires_grad


@given(x=st.floats(-3, 3), y=st.floats(-3, 3))
def test_rosenbrock_hessian_matches_the_formula(x, y):
    H = so.hessian(surfaces.rosenbrock().value_fn, torch.tensor([x, y], dtype=torch.float64))
    expected = torch.tensor([[2 - 400 * (y - x * x) + 800 * x * x, -400 * x], [-400 * x, 200.0]],
                            dtype=torch.float64)
    assert torch.allclose(H, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_hvp_equals_hessian_times_v(name):
    fn, theta = FUNCTIONS[name]
    H = torch.autograd.functional.hessian(fn, theta)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        v = torch.randn(theta.shape, generator=gen, dtype=theta.dtype)
        point = theta.clone().requires_grad_(True)
        Hv = so.hvp(lambda: fn(point), point, v)
        assert torch.allclose(Hv, H @ v, rtol=1e-10, atol=1e-10)


def test_hvp_on_a_list_of_parameter_tensors_matches_torch_autograd_functional_hvp():
    loss, theta, unflatten = _loss_of_mlp(seed=3)
    params = [p.clone().requires_grad_(True) for p in unflatten(theta)]
    v_flat = torch.randn(theta.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    v = unflatten(v_flat)

    def closure():
        W1, b1, W2, b2 = params
        return loss(torch.cat([W1.reshape(-1), b1, W2.reshape(-1), b2]))

    result = so.hvp(closure, params, v)
    assert isinstance(result, list) and [r.shape for r in result] == [p.shape for p in params]
    _, expected = torch.autograd.functional.hvp(loss, theta, v_flat)
    assert torch.allclose(torch.cat([r.reshape(-1) for r in result]), expected, rtol=1e-10, atol=1e-12)


def test_hvp_gives_zeros_for_unused_parameters_and_linear_losses():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0], requires_grad=True)
    Ha, Hb = so.hvp(lambda: (a**2).sum(), [a, b], [torch.ones(2), torch.ones(1)])
    assert torch.equal(Ha, torch.tensor([2.0, 2.0])) and torch.equal(Hb, torch.zeros(1))
    assert torch.equal(so.hvp(lambda: 5 * a.sum(), a, torch.ones(2)), torch.zeros(2))


@pytest.mark.parametrize("kappa,rotation", [(1.0, 0.0), (100.0, 0.3), (1e4, 1.1)])
def test_newton_solves_a_quadratic_in_one_step(kappa, rotation):
    surface = surfaces.quadratic(kappa, scale=2.0, rotation=rotation)
    theta = torch.tensor(surface.start, dtype=torch.float64)
    after = so.newton_step(surface.value_fn, theta)
    assert torch.allclose(after, torch.zeros(2, dtype=torch.float64), atol=1e-9)
    run = so.run_newton(surface, steps=3)
    assert run.steps == 3 and not run.diverged
    assert np.abs(run.points[1:]).max() < 1e-9


def test_newton_step_on_a_general_quadratic_in_many_dimensions():
    gen = torch.Generator().manual_seed(0)
    B = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    A = B @ B.T + torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, generator=gen, dtype=torch.float64)
    after = so.newton_step(lambda t: 0.5 * t @ A @ t - b @ t, torch.zeros(6, dtype=torch.float64))
    assert torch.allclose(after, torch.linalg.solve(A, b), atol=1e-10)


def test_damping_and_lr_shorten_the_step_as_the_formula_says():
    H = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    g = torch.tensor([1.0, -2.0], dtype=torch.float64)
    p = so.newton_direction(H, g, damping=0.5)
    assert torch.allclose(p, torch.linalg.solve(H + 0.5 * torch.eye(2, dtype=torch.float64), g))
    fn = lambda t: 0.5 * t @ H @ t + g @ t  # gradient g at 0
    step = so.newton_step(fn, torch.zeros(2, dtype=torch.float64), damping=0.5, lr=0.25)
    assert torch.allclose(step, -0.25 * p)


def test_saddle_free_direction_uses_absolute_eigenvalues():
    H = torch.diag(torch.tensor([2.0, -4.0], dtype=torch.float64))
    g = torch.tensor([2.0, 4.0], dtype=torch.float64)
    assert torch.allclose(so.newton_direction(H, g), torch.tensor([1.0, -1.0], dtype=torch.float64))
    assert torch.allclose(so.newton_direction(H, g, saddle_free=True), torch.tensor([1.0, 1.0], dtype=torch.float64))


def test_newton_jumps_onto_the_saddle_and_saddle_free_newton_leaves_it():
    surface = surfaces.saddle()
    newton = so.run_newton(surface, steps=5)
    assert np.abs(newton.points[1:]).max() < 1e-12
    free = so.run_newton(surface, steps=5, saddle_free=True)
    assert np.allclose(free.points[1:, 0], 0.0)
    assert np.allclose(free.points[1:, 1], 1e-3 * 2.0 ** np.arange(1, 6))
    assert np.all(np.diff(free.losses) < 0)


def test_newton_converges_quadratically_on_rosenbrock():
    run = so.run_newton(surfaces.rosenbrock(), steps=8)
    errors = np.linalg.norm(run.points - np.array([1.0, 1.0]), axis=1)
    assert errors[-1] < 1e-12
    k = int(np.argmax(errors < 0.1))  # once close, each error is at most a constant times the square of the last
    for before, after in zip(errors[k:], errors[k + 1:]):
        if before > 1e-7:
            assert after <= 10 * before**2


def test_adaptive_damping_never_increases_the_loss_and_reaches_the_minimum():
    run = so.run_newton(surfaces.rosenbrock(), steps=45, damping=10.0, adaptive=True)
    assert np.all(np.diff(run.losses) <= 0)
    assert np.linalg.norm(run.final - np.array([1.0, 1.0])) < 1e-8
    plain = so.run_newton(surfaces.rosenbrock(), steps=5)
    assert np.any(np.diff(plain.losses) > 0)  # pure Newton is not a descent method


def test_singular_matrix_raises_and_stops_a_run():
    with pytest.raises(ValueError, match="damping"):
        so.newton_direction(torch.zeros(2, 2), torch.ones(2))
    with pytest.raises(ValueError, match="damping"):
        so.newton_direction(torch.zeros(2, 2), torch.ones(2), saddle_free=True)
    flat = surfaces.quadratic(4.0)
    run = so.run_newton(flat, start=(0.0, 0.0), steps=2)
    assert run.steps == 2  # the Hessian is constant and regular: no problem at the minimum
    line = surfaces.Surface("line", lambda p: p[..., 0], lambda p: torch.ones_like(p), None, None,
                            (-1.0, 1.0), (-1.0, 1.0), (0.0, 0.0))
    stopped = so.run_newton(line, steps=3)
    assert stopped.diverged and stopped.steps == 0


def test_bad_arguments_raise_and_name_the_parameter():
    fn = surfaces.rosenbrock().value_fn
    theta = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(TypeError, match="fn"):
        so.hessian("rosenbrock", theta)
    with pytest.raises(TypeError, match="theta"):
        so.hessian(fn, [0.0, 0.0])
    with pytest.raises(ValueError, match="theta"):
        so.hessian(fn, torch.zeros(2, 1))
    with pytest.raises(ValueError, match="theta"):
        so.hessian(fn, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="loss_fn"):
        so.hessian(lambda t: t * 2, theta)
    with pytest.raises(ValueError, match="damping"):
        so.newton_step(fn, theta, damping=-1.0)
    with pytest.raises(TypeError, match="damping"):
        so.newton_step(fn, theta, damping="big")
    with pytest.raises(ValueError, match="lr"):
        so.newton_step(fn, theta, lr=0.0)
    with pytest.raises(TypeError, match="saddle_free"):
        so.newton_direction(torch.eye(2), torch.ones(2), saddle_free=1)
    with pytest.raises(ValueError, match="hessian"):
        so.newton_direction(torch.eye(3), torch.ones(2))
    p = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="loss_fn"):
        so.hvp(None, p, torch.ones(2))
    with pytest.raises(TypeError, match="params"):
        so.hvp(lambda: p.sum(), "p", torch.ones(2))
    with pytest.raises(ValueError, match="v must have the shapes"):
        so.hvp(lambda: (p**2).sum(), p, torch.ones(3))
    with pytest.raises(ValueError, match="v must have the structure"):
        so.hvp(lambda: (p**2).sum(), p, [torch.ones(2)])
    with pytest.raises(ValueError, match="params must require grad"):
        so.hvp(lambda: p.sum(), torch.ones(2), torch.ones(2))
    with pytest.raises(TypeError, match="surface"):
        so.run_newton("rosenbrock")
    with pytest.raises(ValueError, match="start"):
        so.run_newton(surfaces.rosenbrock(), start=(0.0, float("nan")))
    with pytest.raises(ValueError, match="steps"):
        so.run_newton(surfaces.rosenbrock(), steps=-1)
    with pytest.raises(ValueError, match="damping"):
        so.run_newton(surfaces.rosenbrock(), adaptive=True)
    with pytest.raises(TypeError, match="adaptive"):
        so.run_newton(surfaces.rosenbrock(), adaptive="yes")
