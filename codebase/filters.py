"""Early stopping as regularization: gradient descent against ridge on least squares.

For ``L(w) = 1/(2n) ||X w - y||^2`` with Hessian ``H = X^T X / n = sum_i h_i q_i q_i^T``, both
gradient descent from ``w_0 = 0`` and ridge regression keep the eigen-directions ``q_i`` of
the least-squares solution ``w*`` and only scale each component by a *filter factor*:
``1 - (1 - alpha h_i)^t`` after ``t`` steps of gradient descent, ``h_i / (h_i + lam)`` for ridge.
``codebase.theory`` exports the same names.
"""
from __future__ import annotations

import numpy as np

import math

from ._checks import check_eigenvalues, check_int, check_real, check_real_array

__all__ = ["gd_filter_factors", "ridge_filter_factors", "least_squares_gd_path", "ridge_solution"]


#
# For L(w) = 1/(2n) ||X w - y||^2 with Hessian H = X^T X / n = sum_i h_i q_i q_i^T, both
# gradient descent from w_0 = 0 and ridge regression keep the eigen-directions q_i of
# the least-squares solution w* and only scale each component by a *filter factor*:
# 1 - (1 - alpha h_i)^t after t steps of gradient descent, h_i / (h_i + lam) for ridge.


def gd_filter_factors(alpha, t, eigenvalues) -> np.ndarray:
    """Return ``1 - (1 - alpha h)**t``, the share of the least-squares solution that
    gradient descent from 0 has reached along each eigenvalue ``h`` after ``t`` steps.

    On ``L(w) = 1/(2n) ||X w - y||^2`` with ``H = X^T X / n``, gradient descent from
    ``w_0 = 0`` with learning rate ``alpha`` gives ``w_t = w* - (I - alpha H)^t w*``, so
    the component of ``w_t`` along the eigenvector of ``h`` is this factor times that of
    ``w*``. Directions of large curvature are learned first; for ``alpha h << 1`` the
    factor is about ``1 - exp(-alpha h t)``.

    Parameters
    ----------
    alpha : float
        The learning rate (``> 0``); the factors lie in ``[0, 1]`` when ``alpha h <= 1``.
    t : int
        The number of steps (``>= 0``); ``t = 0`` gives zeros.
    eigenvalues : sequence of float
        The eigenvalues ``h`` of ``H`` (``>= 0``).
    """
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    t = check_int("t", t, low=0)
    h = check_eigenvalues(eigenvalues)
    return 1.0 - (1.0 - alpha * h) ** t


def ridge_filter_factors(lam, eigenvalues) -> np.ndarray:
    """Return ``h / (h + lam)``, the share of the least-squares solution that ridge
    regression keeps along each eigenvalue ``h``.

    The minimizer of ``L(w) + lam/2 ||w||^2`` is ``(H + lam I)^{-1} H w*``: each
    eigen-component of ``w*`` multiplied by this factor. Directions with ``h >> lam``
    are kept, those with ``h << lam`` shrunk towards 0. With ``lam = 1 / (alpha t)``
    these factors are close to :func:`gd_filter_factors` (the two agree for ``h`` far
    below or far above ``lam``, and differ by at most about 0.2 in between).

    Parameters
    ----------
    lam : float
        The penalty strength ``lambda`` (``> 0``).
    eigenvalues : sequence of float
        The eigenvalues ``h`` of ``H`` (``>= 0``).
    """
    lam = check_real("lam", lam, low=0.0, low_open=True)
    if not math.isfinite(lam):
        raise ValueError(f"lam must be finite, got {lam!r}")
    h = check_eigenvalues(eigenvalues)
    return h / (h + lam)


def _check_least_squares(X, y):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n, d), got shape {X.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("X and y must be finite (no NaN or inf)")
    return X, y


def least_squares_gd_path(X, y, alpha, steps: int) -> np.ndarray:
    """Return the iterates ``w_0 = 0, w_1, ..., w_steps`` of gradient descent on least squares.

    The loss is ``L(w) = 1/(2n) ||X w - y||^2`` (no bias: center the data or add a
    column of ones), its gradient ``X^T (X w - y) / n``, and each step is
    ``w_t = w_{t-1} - alpha X^T (X w_{t-1} - y) / n``. The result has shape
    ``(steps + 1, d)``, in float64.
    """
    X, y = _check_least_squares(X, y)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    steps = check_int("steps", steps, low=0)
    n, d = X.shape
    path = np.zeros((steps + 1, d))
    w = np.zeros(d)
    for t in range(1, steps + 1):
        w = w - alpha * (X.T @ (X @ w - y)) / n
        path[t] = w
    return path


def ridge_solution(X, y, lam) -> np.ndarray:
    """Return the minimizer of ``1/(2n) ||X w - y||^2 + lam/2 ||w||^2``.

    It solves ``(X^T X / n + lam I) w = X^T y / n``. ``lam`` is a number (result of
    shape ``(d,)``) or a 1-D array of numbers (result ``(len(lam), d)``, one row per
    value, e.g. to draw the ridge path); every value must be ``> 0``.
    """
    X, y = _check_least_squares(X, y)
    lams = check_real_array("lam", lam, low=0.0, low_open=True)
    if np.ndim(lams) > 1:
        raise ValueError(f"lam must be a number or a 1-D array, got shape {np.shape(lams)}")
    n, d = X.shape
    H, b = X.T @ X / n, X.T @ y / n
    rows = [np.linalg.solve(H + value * np.eye(d), b) for value in np.atleast_1d(lams)]
    return rows[0] if np.ndim(lams) == 0 else np.array(rows)
