"""Tests of codebase.theory: rates are spectral radii, and runs contract at those rates."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codebase import surfaces, theory
from codebase.optim import SGD


def radius(matrix):
    return np.abs(np.linalg.eigvals(matrix)).max()


def torch_form_matrix(alpha, beta, lam):
    # torch's SGD with momentum in the state (theta, m), written independently:
    # m_t = beta m_{t-1} + lam theta_{t-1};  theta_t = theta_{t-1} - alpha m_t.
    return np.array([[1 - alpha * lam, -alpha * beta], [lam, beta]])


def torch_nesterov_matrix(alpha, beta, lam):
    # torch's nesterov=True in the state (theta, m): m_t = beta m_{t-1} + g_t,
    # theta_t = theta_{t-1} - alpha (g_t + beta m_t), with g_t = lam theta_{t-1}.
    return np.array([[1 - alpha * lam * (1 + beta), -alpha * beta**2], [lam, beta]])


alphas = st.floats(1e-3, 3.0)
betas = st.floats(0.0, 0.999)
spectra = st.lists(st.floats(0.0, 10.0), min_size=1, max_size=5)


@given(alphas, spectra)
def test_gd_rate_is_the_largest_factor(alpha, lam):
    expected = max(abs(1 - alpha * x) for x in lam)
    assert theory.gd_rate(alpha, lam) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@given(alphas, betas, spectra)
def test_heavy_ball_rate_is_a_spectral_radius(alpha, beta, lam):
    rate = theory.heavy_ball_rate(alpha, beta, lam)
    assert rate == pytest.approx(max(radius(theory.heavy_ball_matrix(alpha, beta, x)) for x in lam),
                                 rel=1e-6, abs=1e-6)
    assert rate == pytest.approx(max(radius(torch_form_matrix(alpha, beta, x)) for x in lam),
                                 rel=1e-6, abs=1e-6)


@given(alphas, betas, spectra)
def test_nesterov_rate_is_a_spectral_radius(alpha, beta, lam):
    rate = theory.nesterov_rate(alpha, beta, lam)
    assert rate == pytest.approx(max(radius(theory.nesterov_matrix(alpha, beta, x)) for x in lam),
                                 rel=1e-6, abs=1e-6)
    assert rate == pytest.approx(max(radius(torch_nesterov_matrix(alpha, beta, x)) for x in lam),
                                 rel=1e-6, abs=1e-6)


@given(alphas, spectra)
def test_zero_momentum_is_gradient_descent(alpha, lam):
    gd = theory.gd_rate(alpha, lam)
    assert theory.heavy_ball_rate(alpha, 0.0, lam) == pytest.approx(gd, abs=1e-12)
    assert theory.nesterov_rate(alpha, 0.0, lam) == pytest.approx(gd, abs=1e-12)


def test_rates_broadcast_over_grids():
    alpha = np.linspace(0.1, 3.0, 7)[:, None]
    beta = np.linspace(0.0, 0.95, 5)[None, :]
    for rate_fn in (theory.heavy_ball_rate, theory.nesterov_rate):
        grid = rate_fn(alpha, beta, [0.1, 1.0])
        assert grid.shape == (7, 5)
        for i, j in [(0, 0), (3, 2), (6, 4)]:
            assert grid[i, j] == pytest.approx(rate_fn(float(alpha[i, 0]), float(beta[0, j]), [0.1, 1.0]))
    assert theory.gd_rate(np.array([0.5, 1.0]), [1.0, 2.0]).shape == (2,)
    assert isinstance(theory.heavy_ball_rate(0.5, 0.5, [1.0]), float)


def test_complex_roots_have_modulus_sqrt_beta():
    # Under-damped: (1 + beta - alpha lam)^2 < 4 beta.
    assert theory.heavy_ball_rate(1.0, 0.81, [1.0]) == pytest.approx(0.9)


@pytest.mark.parametrize("kappa", [1.0, 4.0, 10.0, 100.0, 1e4])
def test_optimal_pairs_give_the_stated_rates(kappa):
    L, mu = 2.0, 2.0 / kappa
    gd = theory.optimal_gd(L, mu)
    assert gd.alpha == pytest.approx(2 / (L + mu))
    assert gd.rate == pytest.approx((kappa - 1) / (kappa + 1))
    assert theory.gd_rate(gd.alpha, [mu, L]) == pytest.approx(gd.rate, abs=1e-12)
    hb = theory.optimal_heavy_ball(L, mu)
    s = math.sqrt(kappa)
    assert hb.alpha == pytest.approx(4 / (math.sqrt(L) + math.sqrt(mu)) ** 2)
    assert hb.beta == pytest.approx(((s - 1) / (s + 1)) ** 2)
    assert hb.rate == pytest.approx((s - 1) / (s + 1))
    assert theory.heavy_ball_rate(hb.alpha, hb.beta, np.linspace(mu, L, 50)) == pytest.approx(hb.rate, abs=1e-6)


def test_optimal_pairs_are_optimal():
    L, mu = 1.0, 0.01
    hb = theory.optimal_heavy_ball(L, mu)
    alpha = np.linspace(0.5, 5.0, 91)[:, None]
    beta = np.linspace(0.0, 0.99, 100)[None, :]
    assert theory.heavy_ball_rate(alpha, beta, [mu, L]).min() >= hb.rate - 1e-9
    gd = theory.optimal_gd(L, mu)
    assert theory.gd_rate(np.linspace(0.01, 2.0, 500), [mu, L]).min() >= gd.rate - 1e-12


def distances(trajectory):
    return np.linalg.norm(trajectory.points, axis=1)


@pytest.mark.parametrize("kappa, alpha, beta, nesterov", [
    (10.0, 0.5, 0.0, False), (10.0, 0.3, 0.5, False), (30.0, 1.2, 0.7, False),
    (10.0, 0.5, 0.3, True), (30.0, 0.4, 0.6, True),
])
def test_sgd_runs_contract_at_the_predicted_rate(kappa, alpha, beta, nesterov):
    quad = surfaces.quadratic(kappa=kappa, rotation=0.4)
    run = surfaces.run_optimizer(quad, lambda p: SGD(p, lr=alpha, momentum=beta, nesterov=nesterov),
                                 steps=400)
    lam = np.linalg.eigvalsh(quad.hessian)
    rate_fn = theory.nesterov_rate if nesterov else theory.heavy_ball_rate
    expected = rate_fn(alpha, beta, lam)
    # Skip the transient; over a long window the measured rate tends to the spectral radius.
    assert theory.measured_rate(distances(run), start=200) == pytest.approx(expected, rel=2e-2)


def test_optimal_runs_reach_the_optimal_rates():
    quad = surfaces.quadratic(kappa=100.0)
    L, mu = quad.params["L"], quad.params["mu"]
    hb = theory.optimal_heavy_ball(L, mu)
    run = surfaces.run_optimizer(quad, lambda p: SGD(p, lr=hb.alpha, momentum=hb.beta), steps=600)
    # Critical damping adds a factor t: allow for it.
    assert theory.measured_rate(distances(run), start=300) == pytest.approx(hb.rate, rel=1e-2)
    gd = theory.optimal_gd(L, mu)
    run = surfaces.run_optimizer(quad, lambda p: torch.optim.SGD(p, lr=gd.alpha), steps=600)
    assert theory.measured_rate(distances(run), start=100) == pytest.approx(gd.rate, rel=1e-6)


def test_measured_rate():
    assert theory.measured_rate([8.0, 4.0, 2.0, 1.0]) == pytest.approx(0.5)
    assert theory.measured_rate([1.0, 9.0, 3.0, 1.0], start=1) == pytest.approx(1 / 3)
    assert theory.measured_rate(0.9 ** np.arange(50), start=10, stop=40) == pytest.approx(0.9)


@pytest.mark.parametrize("call, error", [
    (lambda: theory.gd_rate(0.0, [1.0]), ValueError),
    (lambda: theory.gd_rate(-1.0, [1.0]), ValueError),
    (lambda: theory.gd_rate("0.1", [1.0]), TypeError),
    (lambda: theory.gd_rate(True, [1.0]), TypeError),
    (lambda: theory.gd_rate(0.1, []), ValueError),
    (lambda: theory.gd_rate(0.1, [-1.0]), ValueError),
    (lambda: theory.gd_rate(0.1, [[1.0, 2.0]]), ValueError),
    (lambda: theory.gd_rate(0.1, [float("nan")]), ValueError),
    (lambda: theory.heavy_ball_rate(0.1, -0.1, [1.0]), ValueError),
    (lambda: theory.heavy_ball_rate(np.array([0.1, -1.0]), 0.5, [1.0]), ValueError),
    (lambda: theory.heavy_ball_rate(0.1, float("inf"), [1.0]), ValueError),
    (lambda: theory.nesterov_rate(0.1, -0.5, [1.0]), ValueError),
    (lambda: theory.heavy_ball_matrix(0.1, 0.5, -1.0), ValueError),
    (lambda: theory.nesterov_matrix(0.0, 0.5, 1.0), ValueError),
    (lambda: theory.optimal_gd(1.0, 2.0), ValueError),
    (lambda: theory.optimal_gd(1.0, 0.0), ValueError),
    (lambda: theory.optimal_heavy_ball(None, 1.0), TypeError),
    (lambda: theory.measured_rate([1.0]), ValueError),
    (lambda: theory.measured_rate([1.0, 0.0]), ValueError),
    (lambda: theory.measured_rate([1.0, -2.0]), ValueError),
    (lambda: theory.measured_rate([[1.0, 2.0]]), ValueError),
    (lambda: theory.measured_rate([1.0, 2.0], start=-1), ValueError),
    (lambda: theory.measured_rate([1.0, 2.0], start=1.5), TypeError),
])
def test_argument_validation(call, error):
    with pytest.raises(error):
        call()


def test_messages_name_the_argument():
    with pytest.raises(ValueError, match="alpha"):
        theory.heavy_ball_rate(0.0, 0.5, [1.0])
    with pytest.raises(ValueError, match="beta"):
        theory.heavy_ball_rate(0.1, -0.5, [1.0])
    with pytest.raises(ValueError, match="eigenvalues"):
        theory.nesterov_rate(0.1, 0.5, [])
