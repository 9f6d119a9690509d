"""Check of a log-uniform sampler: the range, the generator, the law, and independent draws.

The law is checked by the share of draws below five quantiles (40,000 draws); independence
by four properties a grid of values does not have: two seeds give different values (not
the same values in another order), the gaps between the sorted logarithms are as uneven as
those of independent draws, successive draws are not sorted, and the logarithms of
neighbouring draws are uncorrelated.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .calling import Call
from .engine import Mistake, Spec, run, values
from .plain import Opaque, Seeded
from .results import CheckResult, Failure, exercise

_SIZE = 40_000
_RANGES = ((1e-6, 1e-2), (2.0, 50.0), (1e-3, 10.0))


def _as_draws(out, where):
    if out is None:
        raise Failure(f"your function returned None {where}.", "return the array of draws.")
    if isinstance(out, torch.Tensor):
        out = out.detach().numpy()
    if isinstance(out, Opaque) or (isinstance(out, list) and any(isinstance(v, Opaque) for v in out)):
        raise Failure(f"your function returned a {getattr(out, 'type_name', 'list')} {where}; it must return an "
                      "array of numbers.", "return a NumPy array, e.g. np.exp(rng.uniform(...)).")
    try:
        x = np.asarray(out, dtype=float)
    except (TypeError, ValueError):
        raise Failure(f"your function returned a {type(out).__name__} {where}; it must return an "
                      "array of numbers.", "return a NumPy array, e.g. np.exp(rng.uniform(...)).") from None
    if x.shape != (_SIZE,):
        raise Failure(f"your function returned shape {x.shape} {where}, expected ({_SIZE},).",
                      "pass size on: rng.uniform(a, b, size).")
    if not np.isfinite(x).all():
        raise Failure(f"your draws contain NaN or inf {where}.", "take logarithms of the positive bounds only.")
    return x


def _range_hint(x, low, high):
    if x.max() <= math.log(high) + 1e-9 and x.min() >= math.log(low) - 1e-9:
        return "you returned the logarithms u; return exp(u).", "logs"
    if x.min() >= 10 ** math.log(low) * (1 - 1e-9) and x.max() <= 10 ** math.log(high) * (1 + 1e-9):
        return "you mixed bases: 10 ** u with u uniform on [ln low, ln high]; use np.exp with np.log.", "bases"
    if x.min() >= math.exp(math.log10(low)) * (1 - 1e-9):
        return "you mixed bases: np.exp(u) with u uniform on [log10 low, log10 high]; use np.exp with np.log.", "bases"
    return "draw u uniformly on [log low, log high] and return exp(u).", ""


def _independent(x, z, where):
    if np.array_equal(np.sort(x), np.sort(z)):
        raise Failure(f"two different seeds gave the same values in another order {where}: your draws are a fixed "
                      "grid (e.g. a shuffled np.geomspace), not independent random draws.",
                      "draw every value from the generator: np.exp(rng.uniform(np.log(low), np.log(high), size)).",
                      "grid")
    gaps = np.diff(np.sort(np.log(x)))
    spread = float(gaps.std() / gaps.mean()) if gaps.mean() > 0 else 0.0
    if spread < 0.5:   # independent uniform logarithms leave gaps as uneven as exponential ones (spread 1)
        raise Failure(f"your draws are spread too evenly {where} (the gaps between their sorted logarithms vary by "
                      f"{spread:.2f} of their mean; independent draws give about 1): they look like a grid "
                      "(e.g. a shuffled np.geomspace), not independent random draws.",
                      "draw every value from the generator: np.exp(rng.uniform(np.log(low), np.log(high), size)).",
                      "grid")
    steps = np.diff(x)
    if (steps >= 0).all() or (steps <= 0).all():
        raise Failure(f"your draws are sorted {where}: successive draws of a sampler are independent.",
                      "do not sort the draws (np.sort) nor build them as a grid.", "sorted")
    u = np.log(x)
    r = float(np.corrcoef(u[:-1], u[1:])[0, 1])
    if abs(r) > 6 / math.sqrt(len(x)):
        raise Failure(f"the logarithms of successive draws have the correlation {r:.3f} {where}; independent "
                      "draws have a correlation near 0.", "draw every value independently from the generator.",
                      "correlated")


class _LogUniform(Spec):
    check, func = "check_log_uniform", "my_log_uniform"
    params = ("low", "high", "size", "rng")
    signature = "my_log_uniform(low, high, size, rng) -> numpy array of size draws"
    forbidden = ("codebase.search.log_uniform", "codebase.search.LogUniform", "scipy.stats.loguniform",
                 "scipy.stats.reciprocal")
    mistakes = [
        Mistake("uniform", "draw uniformly on [low, high].", lambda low, high, size, rng: rng.uniform(low, high, size)),
        Mistake("logs", "return the logarithms.",
                lambda low, high, size, rng: rng.uniform(np.log(low), np.log(high), size)),
        Mistake("bases", "mix the bases.", lambda low, high, size, rng: 10 ** rng.uniform(np.log(low), np.log(high), size)),
        Mistake("global-rng", "ignore rng.",
                lambda low, high, size, rng: np.exp(np.random.uniform(np.log(low), np.log(high), size))),
        Mistake("grid", "shuffle a geometric grid.", lambda low, high, size, rng: rng.permutation(np.geomspace(low, high, size))),
        Mistake("sorted", "sort the draws.",
                lambda low, high, size, rng: np.sort(np.exp(rng.uniform(np.log(low), np.log(high), size)))),
        Mistake("correlated", "make each draw depend on the previous one.",
                lambda low, high, size, rng: np.exp(np.log(low) + np.mod(np.cumsum(
                    rng.uniform(0, 0.05, size)) * np.log(high / low), np.log(high / low)))),
    ]

    def calls(self):
        return [Call({"low": low, "high": high, "size": _SIZE, "rng": Seeded("numpy", seed)},
                     f"for low = {low:g}, high = {high:g}, size = {_SIZE}")
                for low, high in _RANGES for seed in (1, 1, 2)]

    def judge(self, outcomes):
        calls = self.calls()
        draws = [_as_draws(value, call.where) for call, value in zip(calls, values(calls, outcomes))]
        lines = []
        for i, (low, high) in enumerate(_RANGES):
            x, y, z = draws[3 * i:3 * i + 3]
            where = calls[3 * i].where
            if not np.array_equal(x, y):
                raise Failure(f"two calls with generators of the same seed gave different draws {where}: your "
                              "function does not use `rng`.", "draw with rng.uniform(...), not np.random.uniform(...).",
                              "global-rng")
            if np.array_equal(x, z):
                raise Failure(f"two different seeds gave the same draws {where}: the draws must be random.")
            if x.min() < low * (1 - 1e-9) or x.max() > high * (1 + 1e-9):
                hint, key = _range_hint(x, low, high)
                raise Failure(f"your draws range from {x.min():.4g} to {x.max():.4g} {where}; they must lie in "
                              f"[{low:g}, {high:g}].", hint, key)
            for frac in (0.1, 0.25, 0.5, 0.75, 0.9):   # the share below q must be log(q / low) / log(high / low)
                q = low * (high / low) ** frac
                share = float((x <= q).mean())
                if abs(share - frac) > 0.015:
                    hint, key = "draw u uniformly on [log low, log high] and return exp(u).", ""
                    if abs(share - (q - low) / (high - low)) < 0.015:
                        hint, key = ("your draws are uniform on [low, high]: that puts almost all of them in the top "
                                     "factor of ten. Draw the logarithm uniformly: np.exp(rng.uniform(np.log(low), "
                                     "np.log(high), size))."), "uniform"
                    raise Failure(f"{100 * share:.1f}% of your draws are below {q:.4g} {where}; a log-uniform "
                                  f"law puts {100 * frac:g}% there (the same share in every factor of ten).", hint, key)
            _independent(x, z, where)
            lines.append(f"low = {low:g}, high = {high:g}: median {np.median(x):.4g} "
                         f"(geometric midpoint {math.sqrt(low * high):.4g})")
        return ("my_log_uniform is correct: the draws lie in [low, high], use rng, and every factor of the range "
                "gets its share:\n  " + "\n  ".join(lines))

    def student(self, mistake):
        return mistake.fn


_LOG_UNIFORM = _LogUniform()


@exercise(_LOG_UNIFORM, label="hp-ex-sampler", chapter="hyperparameters", minutes=10, difficulty=1,
          task="Write a log-uniform sampler from rng.uniform and NumPy.")
def check_log_uniform(fn) -> CheckResult:
    """Check ``my_log_uniform(low, high, size, rng) -> array``: ``size`` draws whose logarithm is
    uniform on ``[log low, log high]``, drawn from the NumPy generator ``rng``; the share of
    draws below five quantiles is compared with the log-uniform law on 40,000 draws, and the
    draws must be independent (not a shuffled grid, not sorted, not correlated)."""
    return run(_LOG_UNIFORM, fn)
