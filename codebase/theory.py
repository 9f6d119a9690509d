"""Convergence theory on the quadratic model ``f(theta) = 1/2 theta^T H theta``.

On a quadratic every first-order method with constant hyperparameters is a linear
recurrence, and it splits into one small recurrence per eigenvalue ``lam`` of the
Hessian ``H``. The error in the direction of an eigenvector shrinks each step by a
factor that depends only on ``alpha * lam`` (and ``beta``): the *rate*. The rate of
the whole method is the worst of these factors over the spectrum, which lies in
``[mu, L]``.

- :func:`gd_rate`: gradient descent, ``max |1 - alpha lam|``.
- :func:`heavy_ball_rate`, :func:`heavy_ball_matrix`: Polyak's heavy ball (SGD with momentum).
- :func:`nesterov_rate`, :func:`nesterov_matrix`: Nesterov's look-ahead momentum.
- :func:`optimal_gd`, :func:`optimal_heavy_ball`: the best constant hyperparameters
  for a spectrum in ``[mu, L]`` and the rates they reach.
- :func:`measured_rate`: the contraction per step actually seen in a run.
- :func:`gd_filter_factors`, :func:`ridge_filter_factors`, :func:`least_squares_gd_path`,
  :func:`ridge_solution`: early stopping of gradient descent on least squares against
  ridge regression (L2), eigen-direction by eigen-direction.

Rates are spectral radii: the error behaves like ``rate**t`` for large ``t`` (times a
factor that grows like ``t`` when the two roots of a 2x2 recurrence coincide).
``alpha`` and ``beta`` may be arrays (they broadcast against each other), which
makes heat maps of the rate over a grid of hyperparameters one call.
"""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from ._checks import check_int, check_real

__all__ = ["gd_rate", "heavy_ball_rate", "heavy_ball_matrix", "nesterov_rate", "nesterov_matrix",
           "optimal_gd", "optimal_heavy_ball", "GDTuning", "HeavyBallTuning", "measured_rate",
           "gd_filter_factors", "ridge_filter_factors", "least_squares_gd_path", "ridge_solution"]


# ---------------------------------------------------------------------------------------
# Argument checks for numbers that may also be arrays.


def _check_array(name, value, *, low=None, low_open=False):
    """Return ``value`` as a float64 array (or float) after checking it is finite and in range."""
    if isinstance(value, numbers.Real) and not isinstance(value, np.ndarray):
        value = check_real(name, value, low=low, low_open=low_open)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return value
    raw = np.asarray(value)
    if raw.dtype.kind not in "iuf":  # rejects strings, booleans, complex numbers, objects
        raise TypeError(f"{name} must be a real number or an array of them, got {type(value).__name__} {value!r}")
    array = raw.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if low is not None and (np.any(array <= low) if low_open else np.any(array < low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got min {array.min()!r}")
    return array


def _check_eigenvalues(eigenvalues):
    """Return the eigenvalues as a non-empty 1-D float64 array of finite numbers >= 0."""
    lam = _check_array("eigenvalues", eigenvalues, low=0.0)
    lam = np.atleast_1d(lam)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"eigenvalues must be a non-empty 1-D sequence, got shape {lam.shape}")
    return lam


def _result(rate, *args):
    # A float when every hyperparameter was a plain number, else an array.
    return float(rate) if all(np.ndim(a) == 0 for a in args) else rate


def _spectral_radius(b, c):
    """Largest modulus of the roots of ``z^2 - b z + c`` (element-wise)."""
    root = np.sqrt((b * b - 4 * c).astype(np.complex128))
    return np.maximum(np.abs((b + root) / 2), np.abs((b - root) / 2))


# ---------------------------------------------------------------------------------------
# Gradient descent.


def gd_rate(alpha, eigenvalues):
    """Return the rate ``max_lam |1 - alpha lam|`` of gradient descent on a quadratic.

    With ``theta_t = theta_{t-1} - alpha H theta_{t-1}`` the error along the
    eigenvector of ``lam`` is multiplied by ``1 - alpha lam`` at every step. The
    method converges iff the rate is below 1, i.e. ``0 < alpha < 2 / L``.

    Parameters
    ----------
    alpha : float or array
        The learning rate (``> 0``); an array gives an array of rates.
    eigenvalues : sequence of float
        The eigenvalues of the Hessian (``>= 0``); for a spectrum in ``[mu, L]``
        the extremes ``[mu, L]`` suffice.
    """
    alpha = _check_array("alpha", alpha, low=0.0, low_open=True)
    lam = _check_eigenvalues(eigenvalues)
    rate = np.abs(1 - np.multiply.outer(alpha, lam)).max(axis=-1)
    return _result(rate, alpha)


class GDTuning(NamedTuple):
    """The best constant learning rate of gradient descent and its rate."""

    alpha: float
    rate: float


def optimal_gd(L, mu) -> GDTuning:
    """Return the learning rate ``2 / (L + mu)`` and its rate ``(kappa - 1) / (kappa + 1)``.

    The rate ``max(|1 - alpha mu|, |1 - alpha L|)`` is smallest where the two
    extremes balance, ``1 - alpha mu = alpha L - 1``.
    """
    L, mu = _check_curvature(L, mu)
    return GDTuning(alpha=2 / (L + mu), rate=(L - mu) / (L + mu))


def _check_curvature(L, mu):
    mu = check_real("mu", mu, low=0.0, low_open=True)
    L = check_real("L", L, low=0.0, low_open=True)
    if L < mu:
        raise ValueError(f"L must be >= mu (L is the largest eigenvalue), got L={L}, mu={mu}")
    return L, mu


# ---------------------------------------------------------------------------------------
# Heavy ball.


def heavy_ball_matrix(alpha, beta, lam) -> np.ndarray:
    """Return the 2x2 iteration matrix of heavy-ball momentum for one eigenvalue ``lam``.

    Along an eigenvector the error ``e_t`` obeys
    ``e_t = (1 + beta - alpha lam) e_{t-1} - beta e_{t-2}``, so
    ``(e_t, e_{t-1}) = M (e_{t-1}, e_{t-2})`` with
    ``M = [[1 + beta - alpha lam, -beta], [1, 0]]``.
    Its eigenvalues are the roots of ``z^2 - (1 + beta - alpha lam) z + beta``.
    """
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    beta = check_real("beta", beta, low=0.0)
    lam = check_real("lam", lam, low=0.0)
    return np.array([[1 + beta - alpha * lam, -beta], [1.0, 0.0]])


def heavy_ball_rate(alpha, beta, eigenvalues):
    """Return the rate of heavy-ball momentum (SGD with momentum) on a quadratic.

    The rate is the largest spectral radius of :func:`heavy_ball_matrix` over the
    eigenvalues: the largest modulus of a root of
    ``z^2 - (1 + beta - alpha lam) z + beta``. Complex roots (under-damping) all
    have modulus ``sqrt(beta)``. The torch form ``m_t = beta m_{t-1} + g_t``,
    ``theta_t = theta_{t-1} - alpha m_t`` and Sutskever's form with ``alpha``
    inside the buffer follow this same recurrence while ``alpha`` is constant.

    Parameters
    ----------
    alpha : float or array
        The learning rate (``> 0``).
    beta : float or array
        The momentum coefficient (``>= 0``); ``beta = 0`` gives :func:`gd_rate`.
        ``alpha`` and ``beta`` broadcast against each other.
    eigenvalues : sequence of float
        The eigenvalues of the Hessian (``>= 0``).
    """
    alpha = _check_array("alpha", alpha, low=0.0, low_open=True)
    beta = _check_array("beta", beta, low=0.0)
    lam = _check_eigenvalues(eigenvalues)
    a, b = np.broadcast_arrays(np.asarray(alpha), np.asarray(beta))
    a, b = a[..., None], b[..., None]
    rate = _spectral_radius(1 + b - a * lam, b + 0 * lam).max(axis=-1)
    return _result(rate, alpha, beta)


class HeavyBallTuning(NamedTuple):
    """The best constant learning rate and momentum of the heavy ball, and its rate."""

    alpha: float
    beta: float
    rate: float


def optimal_heavy_ball(L, mu) -> HeavyBallTuning:
    """Return Polyak's optimal heavy-ball hyperparameters for a spectrum in ``[mu, L]``.

    ``alpha = 4 / (sqrt(L) + sqrt(mu))^2``, ``beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2``
    and the rate ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1) = sqrt(beta)``, with
    ``kappa = L / mu``. At this pair both extreme eigenvalues are critically damped.
    """
    L, mu = _check_curvature(L, mu)
    sL, smu = math.sqrt(L), math.sqrt(mu)
    rate = (sL - smu) / (sL + smu)
    return HeavyBallTuning(alpha=4 / (sL + smu) ** 2, beta=rate**2, rate=rate)


# ---------------------------------------------------------------------------------------
# Nesterov.


def nesterov_matrix(alpha, beta, lam) -> np.ndarray:
    """Return the 2x2 iteration matrix of Nesterov momentum for one eigenvalue ``lam``.

    Nesterov's method evaluates the gradient at the look-ahead point
    ``theta_{t-1} + beta (theta_{t-1} - theta_{t-2})``; along an eigenvector
    ``e_t = (1 + beta)(1 - alpha lam) e_{t-1} - beta (1 - alpha lam) e_{t-2}``, so
    ``M = [[(1 + beta)(1 - alpha lam), -beta (1 - alpha lam)], [1, 0]]``.
    ``torch.optim.SGD(nesterov=True)`` follows the same recurrence.
    """
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    beta = check_real("beta", beta, low=0.0)
    lam = check_real("lam", lam, low=0.0)
    q = 1 - alpha * lam
    return np.array([[(1 + beta) * q, -beta * q], [1.0, 0.0]])


def nesterov_rate(alpha, beta, eigenvalues):
    """Return the rate of Nesterov momentum on a quadratic.

    The largest modulus of a root of ``z^2 - (1 + beta)(1 - alpha lam) z + beta (1 - alpha lam)``
    over the eigenvalues: the spectral radius of :func:`nesterov_matrix`. Arguments
    as in :func:`heavy_ball_rate`; ``beta = 0`` gives :func:`gd_rate`.
    """
    alpha = _check_array("alpha", alpha, low=0.0, low_open=True)
    beta = _check_array("beta", beta, low=0.0)
    lam = _check_eigenvalues(eigenvalues)
    a, b = np.broadcast_arrays(np.asarray(alpha), np.asarray(beta))
    a, b = a[..., None], b[..., None]
    q = 1 - a * lam
    rate = _spectral_radius((1 + b) * q, b * q).max(axis=-1)
    return _result(rate, alpha, beta)


# ---------------------------------------------------------------------------------------
# Measurement.


def measured_rate(values, *, start: int = 0, stop: int | None = None) -> float:
    """Return the contraction per step seen in ``values[start:stop]``.

    This is the geometric mean of the ratios ``values[t+1] / values[t]`` over the
    window, ``(values[stop-1] / values[start]) ** (1 / (stop - 1 - start))``. Pass
    distances to the minimum (``||theta_t - theta*||``) to compare with the rates of
    this module. Losses of a quadratic shrink like the *square* of the distance, so
    the square root of their rate is the comparable number.

    Parameters
    ----------
    values : sequence of float
        Positive, finite numbers, one per step (a 1-D array).
    start, stop : int
        The window, as in slicing (``stop=None`` means the end); it must hold at
        least two values. Skip the first steps, where slower modes have not yet
        taken over, by raising ``start``.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    start = check_int("start", start, low=0)
    stop = len(v) if stop is None else check_int("stop", stop, low=0)
    window = v[start:stop]
    if len(window) < 2:
        raise ValueError(f"the window values[{start}:{stop}] must hold at least 2 values, got {len(window)}")
    if not (np.all(np.isfinite(window)) and np.all(window > 0)):
        raise ValueError("values in the window must be positive and finite")
    steps = len(window) - 1
    return float(np.exp((np.log(window[-1]) - np.log(window[0])) / steps))


# ---------------------------------------------------------------------------------------
# Early stopping as regularization: gradient descent against ridge on least squares.
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
    h = _check_eigenvalues(eigenvalues)
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
    h = _check_eigenvalues(eigenvalues)
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
    lams = _check_array("lam", lam, low=0.0, low_open=True)
    if np.ndim(lams) > 1:
        raise ValueError(f"lam must be a number or a 1-D array, got shape {np.shape(lams)}")
    n, d = X.shape
    H, b = X.T @ X / n, X.T @ y / n
    rows = [np.linalg.solve(H + value * np.eye(d), b) for value in np.atleast_1d(lams)]
    return rows[0] if np.ndim(lams) == 0 else np.array(rows)
