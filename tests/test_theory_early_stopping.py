"""Tests of the early-stopping half of codebase.theory: gradient descent on least squares
against ridge regression, through their filter factors."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codebase import theory


def problem(n=40, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(0.2, 3.0, d)   # spread-out curvatures
    y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)
    return X, y


def eigen(X, y):
    n = X.shape[0]
    h, Q = np.linalg.eigh(X.T @ X / n)
    w_star = np.linalg.solve(X.T @ X / n, X.T @ y / n)
    return h, Q, w_star


def test_gd_path_matches_torch_sgd():
    # torch as the oracle: SGD on 1/(2n)||Xw - y||^2 from w = 0, in float64.
    X, y = problem()
    path = theory.least_squares_gd_path(X, y, alpha=0.05, steps=30)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.05)
    assert path.shape == (31, X.shape[1])
    assert np.all(path[0] == 0)
    for t in range(1, 31):
        opt.zero_grad()
        (0.5 * ((Xt @ w - yt) ** 2).mean()).backward()
        opt.step()
        np.testing.assert_allclose(path[t], w.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("t", [0, 1, 7, 100])
def test_gd_path_is_filtered_least_squares_solution(t):
    X, y = problem()
    h, Q, w_star = eigen(X, y)
    alpha = 0.9 / h.max()
    w_t = theory.least_squares_gd_path(X, y, alpha=alpha, steps=t)[-1]
    expected = Q @ (theory.gd_filter_factors(alpha, t, h) * (Q.T @ w_star))
    np.testing.assert_allclose(w_t, expected, rtol=1e-9, atol=1e-12)


def test_ridge_solution_is_filtered_least_squares_solution():
    X, y = problem()
    h, Q, w_star = eigen(X, y)
    for lam in (1e-3, 0.1, 10.0):
        expected = Q @ (theory.ridge_filter_factors(lam, h) * (Q.T @ w_star))
        np.testing.assert_allclose(theory.ridge_solution(X, y, lam), expected, rtol=1e-9, atol=1e-12)


def test_ridge_solution_matches_augmented_least_squares():
    # Independent oracle: ridge is least squares on [X; sqrt(n lam) I], [y; 0].
    X, y = problem(n=30, d=4, seed=3)
    n, d = X.shape
    lams = np.array([0.01, 0.3, 2.0])
    rows = theory.ridge_solution(X, y, lams)
    assert rows.shape == (3, d)
    for lam, row in zip(lams, rows):
        A = np.vstack([X, math.sqrt(n * lam) * np.eye(d)])
        b = np.concatenate([y, np.zeros(d)])
        np.testing.assert_allclose(row, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-9, atol=1e-12)


def test_ridge_solution_accepts_column_targets():
    X, y = problem()
    np.testing.assert_array_equal(theory.ridge_solution(X, y[:, None], 0.5), theory.ridge_solution(X, y, 0.5))


def test_early_stopped_gd_is_close_to_ridge_with_lambda_one_over_alpha_t():
    # The equivalence of early stopping and L2: lam = 1/(alpha t).
    X, y = problem(n=200, d=6, seed=1)
    h, _, _ = eigen(X, y)
    alpha = 0.01 / h.max()
    for t in (10, 100, 1000, 10000):
        w_gd = theory.least_squares_gd_path(X, y, alpha, t)[-1]
        w_ridge = theory.ridge_solution(X, y, 1 / (alpha * t))
        gap = np.linalg.norm(w_gd - w_ridge) / np.linalg.norm(theory.ridge_solution(X, y, 1e-12))
        assert gap < 0.21


hs = st.lists(st.floats(0.0, 100.0), min_size=1, max_size=8)


@given(hs, st.floats(1e-4, 1.0), st.integers(0, 500))
def test_gd_filter_factors_lie_in_unit_interval_and_grow_with_t(h, scale, t):
    h = np.array(h)
    alpha = scale / max(h.max(), 1e-12)        # alpha h <= 1: no overshoot
    f = theory.gd_filter_factors(alpha, t, h)
    g = theory.gd_filter_factors(alpha, t + 1, h)
    assert np.all((f >= 0) & (f <= 1))
    assert np.all(g >= f - 1e-15)


@given(hs, st.floats(1e-3, 1e3), st.floats(1.0, 10.0))
def test_ridge_filter_factors_lie_in_unit_interval_and_fall_with_lambda(h, lam, factor):
    f = theory.ridge_filter_factors(lam, h)
    assert np.all((f >= 0) & (f < 1))
    assert np.all(theory.ridge_filter_factors(lam * factor, h) <= f + 1e-15)


@given(st.floats(1e-4, 1e2), st.floats(1e-6, 1e-3), st.integers(1, 10_000))
def test_filters_agree_within_0_21_for_small_steps(h, alpha_h, t):
    # With alpha h small, 1 - (1 - alpha h)^t ~ 1 - exp(-x) and h/(h + lam) = x/(1 + x)
    # for x = alpha h t; these differ by at most max_x (1 - e^-x - x/(1+x)) < 0.21.
    alpha = alpha_h / h
    gd = theory.gd_filter_factors(alpha, t, [h])[0]
    ridge = theory.ridge_filter_factors(1 / (alpha * t), [h])[0]
    assert abs(gd - ridge) < 0.21


def test_largest_filter_gap_is_about_0_2():
    x = np.linspace(1e-3, 20, 20001)
    gap = (1 - np.exp(-x)) - x / (1 + x)
    assert 0.19 < gap.max() < 0.21
    assert np.all(gap >= 0)      # gradient descent always keeps a little more


def test_filter_factor_edge_cases():
    np.testing.assert_array_equal(theory.gd_filter_factors(0.1, 0, [0.0, 1.0, 5.0]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(theory.gd_filter_factors(0.5, 3, [2.0]), [1.0])  # alpha h = 1: one step
    np.testing.assert_array_equal(theory.ridge_filter_factors(1.0, [0.0]), [0.0])


@pytest.mark.parametrize("call, error", [
    (lambda: theory.gd_filter_factors(0.0, 1, [1.0]), ValueError),
    (lambda: theory.gd_filter_factors(0.1, -1, [1.0]), ValueError),
    (lambda: theory.gd_filter_factors(0.1, 1.5, [1.0]), TypeError),
    (lambda: theory.gd_filter_factors(0.1, 1, [-1.0]), ValueError),
    (lambda: theory.gd_filter_factors(0.1, 1, []), ValueError),
    (lambda: theory.ridge_filter_factors(0.0, [1.0]), ValueError),
    (lambda: theory.ridge_filter_factors(math.inf, [1.0]), ValueError),
    (lambda: theory.ridge_filter_factors("1", [1.0]), TypeError),
    (lambda: theory.least_squares_gd_path(np.ones(3), np.ones(3), 0.1, 2), ValueError),
    (lambda: theory.least_squares_gd_path(np.ones((3, 2)), np.ones(4), 0.1, 2), ValueError),
    (lambda: theory.least_squares_gd_path(np.ones((3, 2)), np.ones(3), -0.1, 2), ValueError),
    (lambda: theory.least_squares_gd_path(np.ones((3, 2)), np.ones(3), 0.1, -2), ValueError),
    (lambda: theory.least_squares_gd_path(np.full((3, 2), np.nan), np.ones(3), 0.1, 2), ValueError),
    (lambda: theory.ridge_solution(np.ones((3, 2)), np.ones(3), 0.0), ValueError),
    (lambda: theory.ridge_solution(np.ones((3, 2)), np.ones(3), [[0.1]]), ValueError),
])
def test_bad_arguments_raise(call, error):
    with pytest.raises(error):
        call()
