"""Tests for codebase.surfaces: gradients against autograd, minima, and optimizer runs."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codebase import surfaces as S

ALL = {
    "quadratic": S.quadratic,
    "rotated quadratic": lambda: S.quadratic(25.0, scale=3.0, rotation=0.7),
    "rosenbrock": S.rosenbrock,
    "rosenbrock a=2": lambda: S.rosenbrock(a=2.0, b=10.0),
    "beale": S.beale,
    "saddle": S.saddle,
    "local_minimum": S.local_minimum,
    "local_minimum tilt=1": lambda: S.local_minimum(tilt=1.0),
}

coordinate = st.floats(-3.0, 3.0, allow_nan=False)


@pytest.mark.parametrize("make", ALL.values(), ids=ALL.keys())
@given(x=coordinate, y=coordinate)
def test_analytic_gradient_equals_autograd(make, x, y):
    surface = make()
    point = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad(surface.f(point), point)
    assert torch.allclose(surface.grad(point.detach()), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("make", ALL.values(), ids=ALL.keys())
def test_batched_tensor_and_numpy_inputs_agree(make):
    surface = make()
    xy = torch.randn(4, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    values, grads = surface.f(xy), surface.grad(xy)
    assert values.shape == (4, 3) and grads.shape == (4, 3, 2)
    assert np.allclose(surface.f(xy.numpy()), values.numpy())
    assert np.allclose(surface.grad(xy.numpy().tolist()), grads.numpy())
    for i in range(4):
        assert torch.allclose(surface.f(xy[i, 0]), values[i, 0])
    integers = torch.tensor([[1, 2], [-1, 0]])
    assert torch.allclose(surface.f(integers), surface.f(integers.double()))


@pytest.mark.parametrize("make", ALL.values(), ids=ALL.keys())
def test_critical_points_have_zero_gradient(make):
    surface = make()
    points = list(surface.local_minima) + list(surface.saddle_points)
    if surface.minimum is not None:
        points.append(surface.minimum)
        assert surface.f(np.array(surface.minimum)) == pytest.approx(surface.min_value, abs=1e-12)
    assert points
    for point in points:
        assert np.abs(surface.grad(np.array(point))).max() < 1e-9


@pytest.mark.parametrize("make", [S.rosenbrock, S.beale, S.local_minimum, S.quadratic])
def test_minimum_is_the_lowest_point_in_view(make):
    surface = make()
    _, _, Z = surface.grid(301)
    assert Z.min() >= surface.min_value - 1e-12
    inside = [lo <= v <= hi for v, (lo, hi) in zip(surface.minimum, (surface.xlim, surface.ylim))]
    assert all(inside)


def test_local_minimum_locations():
    surface = S.local_minimum()
    assert surface.minimum == pytest.approx((-1.0575, 0.0), abs=1e-4)
    assert surface.min_value == pytest.approx(-0.5148, abs=1e-4)
    (local,) = surface.local_minima
    assert local == pytest.approx((0.9304, 0.0), abs=1e-4)
    assert surface.f(np.array(local)) == pytest.approx(0.4833, abs=1e-4)
    assert surface.saddle_points[0] == pytest.approx((0.1271, 0.0), abs=1e-4)


@given(kappa=st.floats(1.0, 1e4), scale=st.floats(1e-2, 1e2), rotation=st.floats(-4.0, 4.0))
def test_quadratic_hessian_has_the_stated_eigenvalues(kappa, scale, rotation):
    surface = S.quadratic(kappa, scale=scale, rotation=rotation)
    eigenvalues = np.linalg.eigvalsh(surface.hessian)
    assert np.allclose(eigenvalues, [scale / kappa, scale], rtol=1e-9)
    assert eigenvalues[1] / eigenvalues[0] == pytest.approx(kappa, rel=1e-8)
    assert surface.params["L"] == scale and surface.params["mu"] == pytest.approx(scale / kappa)
    # f is exactly 1/2 p^T H p, and the gradient H p.
    p = np.array([0.3, -1.7])
    assert surface.f(p) == pytest.approx(0.5 * p @ surface.hessian @ p, rel=1e-12)
    assert np.allclose(surface.grad(p), surface.hessian @ p)


def test_quadratic_rotation_turns_the_steep_direction():
    surface = S.quadratic(10.0, rotation=math.pi / 4)
    steep = np.array([1.0, 1.0]) / math.sqrt(2)
    assert surface.f(steep) == pytest.approx(0.5 * 1.0)
    assert surface.f(np.array([-1.0, 1.0]) / math.sqrt(2)) == pytest.approx(0.5 * 0.1)


def sgd(lr, **kwargs):
    return lambda params: torch.optim.SGD(params, lr=lr, **kwargs)


def test_gradient_descent_converges_below_2_over_L_and_diverges_above():
    surface = S.quadratic(10.0, scale=4.0, rotation=0.3)
    L = surface.params["L"]
    good = S.run_optimizer(surface, sgd(1.0 / L), steps=300)
    assert not good.diverged and good.steps == 300 and good.points.shape == (301, 2)
    assert np.linalg.norm(good.final) < 1e-6 and good.losses[-1] < 1e-12
    assert np.all(np.diff(good.losses) <= 0)

    bad = S.run_optimizer(surface, sgd(2.1 / L), steps=10_000)
    assert bad.diverged and bad.steps < 10_000
    assert np.isfinite(bad.points).all() and np.isfinite(bad.losses).all()
    assert len(bad.points) == len(bad.losses) and np.linalg.norm(bad.final) > 1e6


def test_divergence_to_infinity_keeps_the_finite_prefix():
    surface = S.quadratic(2.0)
    run = S.run_optimizer(surface, sgd(10.0), steps=1000, diverge_above=math.inf)
    # The iterate grows by a factor 9 per step until its loss overflows float64 (about 1e308).
    assert run.diverged and 100 < run.steps < 200
    assert run.losses[-1] > 1e290
    assert np.isfinite(run.points).all() and np.isfinite(run.losses).all()


def test_heavy_ball_with_optimal_parameters_beats_gradient_descent():
    surface = S.quadratic(100.0)
    L, mu = surface.params["L"], surface.params["mu"]
    lr = 4 / (math.sqrt(L) + math.sqrt(mu)) ** 2
    momentum = ((math.sqrt(100.0) - 1) / (math.sqrt(100.0) + 1)) ** 2
    fast = S.run_optimizer(surface, sgd(lr, momentum=momentum), steps=100)
    slow = S.run_optimizer(surface, sgd(2 / (L + mu)), steps=100)
    assert fast.losses[-1] < 1e-6 * slow.losses[-1]


def test_momentum_escapes_the_local_minimum():
    surface = S.local_minimum()
    stuck = S.run_optimizer(surface, sgd(0.01), steps=300)
    escaped = S.run_optimizer(surface, sgd(0.01, momentum=0.9), steps=300)
    assert np.allclose(stuck.final, surface.local_minima[0], atol=1e-2)
    assert np.allclose(escaped.final, surface.minimum, atol=1e-3)


@pytest.mark.parametrize("make_optimizer", [
    sgd(1e-3, momentum=0.9, nesterov=True),
    lambda p: torch.optim.Adam(p, lr=0.02),
], ids=["SGD", "Adam"])
def test_run_optimizer_matches_a_plain_torch_loop(make_optimizer):
    surface = S.rosenbrock()
    run = S.run_optimizer(surface, make_optimizer, steps=100)
    point = torch.nn.Parameter(torch.tensor(surface.start, dtype=torch.float64))
    optimizer = make_optimizer([point])
    expected = [point.detach().clone()]
    for _ in range(100):
        optimizer.zero_grad()
        surface.f(point).backward()
        optimizer.step()
        expected.append(point.detach().clone())
    assert np.allclose(run.points, torch.stack(expected).numpy(), rtol=1e-12, atol=1e-12)
    assert run.points[0].tolist() == list(surface.start)
    assert run.losses[-1] < run.losses[0]


def test_adam_reaches_the_quadratic_minimum():
    run = S.run_optimizer(S.quadratic(10.0), lambda p: torch.optim.Adam(p, lr=0.1), steps=300)
    assert not run.diverged and run.losses[-1] < 1e-10


@pytest.mark.parametrize("make", [S.beale, S.rosenbrock, S.local_minimum])
def test_autograd_and_analytic_runs_agree(make):
    surface = make()
    adam = lambda p: torch.optim.Adam(p, lr=0.01)  # noqa: E731
    analytic = S.run_optimizer(surface, adam, steps=50)
    autograd = S.run_optimizer(surface, adam, steps=50, grad="autograd")
    assert np.allclose(analytic.points, autograd.points, rtol=1e-10, atol=1e-12)
    assert np.allclose(analytic.losses, surface.f(analytic.points))


def test_trajectory_behaves_like_its_points():
    run = S.run_optimizer(S.saddle(), sgd(0.1), start=(1.0, 0.0), steps=5)
    assert np.asarray(run).shape == (6, 2) and len(run) == 6
    assert np.allclose(np.asarray(run)[:, 0], 0.8 ** np.arange(6))
    assert "steps=5" in repr(run)
    still = S.run_optimizer(S.quadratic(), sgd(0.1), steps=0)
    assert still.steps == 0 and still.points.tolist() == [list(S.quadratic().start)]


def test_saddle_plateau_then_escape():
    surface = S.saddle()
    run = S.run_optimizer(surface, sgd(0.1), steps=40)
    # The x coordinate shrinks by 0.8 per step, y grows by 1.2: near the origin first, then away.
    assert abs(run.points[15, 0]) < 0.1 and abs(run.points[15, 1]) < 0.1
    assert abs(run.points[40, 1]) > 1.0 and run.losses[-1] < 0


@pytest.mark.parametrize("call, error", [
    (lambda: S.quadratic(0.5), ValueError),
    (lambda: S.quadratic("10"), TypeError),
    (lambda: S.quadratic(10.0, scale=0.0), ValueError),
    (lambda: S.rosenbrock(b=-1.0), ValueError),
    (lambda: S.local_minimum(tilt=2.0), ValueError),
    (lambda: S.run_optimizer(S.quadratic(), sgd(0.1), steps=-1), ValueError),
    (lambda: S.run_optimizer(S.quadratic(), sgd(0.1), steps=1.5), TypeError),
    (lambda: S.run_optimizer(S.quadratic(), sgd(0.1), start=(1.0, 2.0, 3.0)), ValueError),
    (lambda: S.run_optimizer(S.quadratic(), sgd(0.1), start=(1.0, math.nan)), ValueError),
    (lambda: S.run_optimizer(S.quadratic(), sgd(0.1), grad="numeric"), ValueError),
    (lambda: S.run_optimizer("quadratic", sgd(0.1)), TypeError),
    (lambda: S.run_optimizer(S.quadratic(), 0.1), TypeError),
    (lambda: S.run_optimizer(S.quadratic(), lambda p: None), TypeError),
    (lambda: S.quadratic().f(np.zeros(3)), ValueError),
    (lambda: S.quadratic().grid(10, xlim=(1.0, -1.0)), ValueError),
])
def test_validation(call, error):
    with pytest.raises(error):
        call()
