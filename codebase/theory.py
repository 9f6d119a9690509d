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
  ridge regression (L2), eigen-direction by eigen-direction; they live in
  ``codebase.filters`` and are exported here too.

Rates are spectral radii: the error behaves like ``rate**t`` for large ``t`` (times a
factor that grows like ``t`` when the two roots of a 2x2 recurrence coincide).
``alpha`` and ``beta`` may be arrays (they broadcast against each other), which
makes heat maps of the rate over a grid of hyperparameters one call.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._checks import check_eigenvalues, check_int, check_real, check_real_array
from .filters import gd_filter_factors, least_squares_gd_path, ridge_filter_factors, ridge_solution

__all__ = ["gd_rate", "heavy_ball_rate", "heavy_ball_matrix", "nesterov_rate", "nesterov_matrix",
           "optimal_gd", "optimal_heavy_ball", "GDTuning", "HeavyBallTuning", "measured_rate",
           "gd_filter_factors", "ridge_filter_factors", "least_squares_gd_path", "ridge_solution"]


# ---------------------------------------------------------------------------------------
# Results and the 2x2 recurrences.


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
    alpha = check_real_array("alpha", alpha, low=0.0, low_open=True)
    lam = check_eigenvalues(eigenvalues)
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
    alpha = check_real_array("alpha", alpha, low=0.0, low_open=True)
    beta = check_real_array("beta", beta, low=0.0)
    lam = check_eigenvalues(eigenvalues)
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
    alpha = check_real_array("alpha", alpha, low=0.0, low_open=True)
    beta = check_real_array("beta", beta, low=0.0)
    lam = check_eigenvalues(eigenvalues)
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
