"""Random search over hyperparameters, and an estimate of which of them mattered.

- :class:`LogUniform`, :class:`Uniform` and :class:`Choice` describe where a
  hyperparameter is drawn from; a *search space* is a dict ``{name: distribution}``;
- :func:`log_uniform` draws numbers whose logarithm is uniform, the right scale for
  a learning rate or a weight decay;
- :func:`sample_config` draws one configuration from a space;
- :func:`random_search` evaluates an objective on ``trials`` independent configurations
  and returns a :class:`SearchResult`;
- :func:`main_effects` estimates, for each hyperparameter, the fraction of the variance
  of the scores that its value alone explains (a one-way analysis of variance);
- :func:`successive_halving` spends a budget (epochs, steps) on many configurations at a
  small fidelity and on fewer and fewer of them at larger ones, keeping the best
  ``1/eta`` of each rung, and returns a :class:`HalvingResult`.

Everything random takes a seed or a ``numpy.random.Generator``, so the same call
draws the same configurations on every machine. The spaces live in ``codebase.spaces``
and successive halving in ``codebase.halving``; this module exports their names too.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ._checks import check_callable, check_choice, check_flag, check_int
from .halving import HalvingResult, Rung, successive_halving
from .spaces import Choice, LogUniform, Uniform, _check_space, log_uniform, sample_config

__all__ = ["LogUniform", "Uniform", "Choice", "log_uniform", "sample_config", "SearchResult",
           "random_search", "main_effects", "Rung", "HalvingResult", "successive_halving"]


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The outcome of :func:`random_search`.

    - ``space``: the search space; ``configs``: the configuration of each trial, in order;
    - ``scores``: the objective of each trial (``nan`` allowed, e.g. for a failed run);
    - ``mode``: ``"max"`` if higher scores are better, ``"min"`` if lower are.
    """

    space: dict
    configs: tuple
    scores: np.ndarray
    mode: str = "max"

    def __len__(self) -> int:
        return len(self.configs)

    def column(self, name: str) -> np.ndarray:
        """The values of hyperparameter ``name`` over the trials, as an array."""
        if name not in self.space:
            raise ValueError(f"name must be one of {list(self.space)}, got {name!r}")
        return np.array([config[name] for config in self.configs])

    @property
    def best_index(self) -> int:
        """The trial with the best score (the first one on ties; ``nan`` scores never win
        unless every score is ``nan``)."""
        badness = -self.scores if self.mode == "max" else self.scores
        badness = np.where(np.isnan(badness), np.inf, badness)
        return int(np.argmin(badness))

    @property
    def best_config(self) -> dict:
        """The configuration of the best trial."""
        return dict(self.configs[self.best_index])

    @property
    def best_score(self) -> float:
        """The score of the best trial."""
        return float(self.scores[self.best_index])

    def best_so_far(self) -> np.ndarray:
        """The best score among the first ``k`` trials, for ``k = 1, ..., trials``
        (the curve of a search's progress; ``nan`` scores are skipped)."""
        sign = 1.0 if self.mode == "max" else -1.0
        filled = np.where(np.isnan(self.scores), -np.inf, sign * self.scores)
        return sign * np.maximum.accumulate(filled)

    def table(self, top: int | None = None, digits: int = 3) -> str:
        """A plain-text table of the trials, best first (``top`` rows, default all)."""
        order = np.argsort(-self.scores if self.mode == "max" else self.scores, kind="stable")
        order = [int(i) for i in order if not np.isnan(self.scores[i])] + \
                [int(i) for i in order if np.isnan(self.scores[i])]
        if top is not None:
            order = order[:check_int("top", top, low=1)]

        def fmt(value):
            if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
                return f"{value:.{digits}g}"
            return str(value)

        header = ["trial", *self.space, "score"]
        rows = [[str(i + 1), *(fmt(self.configs[i][n]) for n in self.space), fmt(float(self.scores[i]))]
                for i in order]
        widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
        return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in [header, *rows])


def random_search(objective: Callable[[dict], float], space: Mapping[str, Any], trials: int, *,
                  seed: int = 0, mode: str = "max") -> SearchResult:
    """Evaluate ``objective(config)`` on ``trials`` configurations drawn independently from ``space``.

    The configurations come from ``numpy.random.default_rng(seed)``, drawn one trial
    after the other, so the first ``k`` configurations are the same whatever the number
    of trials; the objective is responsible for seeding its own randomness (initial
    weights, batch order), e.g. with the same seed in every trial so that only the
    hyperparameters differ. ``mode`` says whether higher (``"max"``) or lower
    (``"min"``) scores are better. The objective must return a real number (``nan`` marks
    a failed trial).
    """
    check_callable("objective", objective, ("config",))
    space = _check_space(space)
    trials = check_int("trials", trials, low=1)
    seed = check_int("seed", seed, low=0)
    check_choice("mode", mode, ("max", "min"))
    rng = np.random.default_rng(seed)
    configs, scores = [], []
    for _ in range(trials):
        config = sample_config(space, rng)
        score = objective(dict(config))
        if isinstance(score, bool) or not isinstance(score, numbers.Real):
            raise TypeError(f"objective must return a real number, got {type(score).__name__} {score!r}")
        configs.append(config)
        scores.append(float(score))
    return SearchResult(space, tuple(configs), np.array(scores, dtype=float), mode)


def _groups(values: np.ndarray, dist, bins: int) -> np.ndarray:
    """Group labels for one hyperparameter: one group per value of a Choice (or of any
    hyperparameter with at most ``bins`` distinct values), else ``bins`` equal-count bins
    of the sorted values (quantile bins, the same on a log or a linear scale)."""
    distinct = list(dict.fromkeys(values.tolist()))
    if isinstance(dist, Choice) or len(distinct) <= bins:
        return np.array([distinct.index(v) for v in values.tolist()])
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    return ranks * bins // len(values)


def main_effects(result: SearchResult, *, bins: int = 4, adjusted: bool = True) -> dict[str, float]:
    """Estimate how much of the variance of the scores each hyperparameter explains on its own.

    For hyperparameter :math:`j`, the trials are split into groups :math:`G_1, \\dots, G_k`
    by its value (quantile bins, see ``bins``; one group per value of a :class:`Choice`),
    and the share of the total sum of squares that lies *between* the group means is

    .. math:: \\eta_j^2 = \\frac{\\sum_{g} |G_g| (\\bar y_g - \\bar y)^2}{\\sum_i (y_i - \\bar y)^2}.

    A hyperparameter that does not matter still gets :math:`\\eta^2 \\approx (k-1)/(n-1)` by
    chance; ``adjusted=True`` removes that bias as an adjusted :math:`R^2` does,
    :math:`1 - (1-\\eta^2)(n-1)/(n-k)`, clipped at 0. This is a main effect only:
    what a hyperparameter does *together* with another (an interaction) is not counted,
    and the answer depends on the ranges the search drew from.

    Trials with a ``nan`` score must be removed or scored first (a ``ValueError`` says so).
    Returns ``{name: fraction}``, from the most to the least important.
    """
    if not isinstance(result, SearchResult):
        raise TypeError(f"result must be a SearchResult, got {type(result).__name__}")
    bins = check_int("bins", bins, low=2)
    check_flag("adjusted", adjusted)
    y = result.scores
    if not np.all(np.isfinite(y)):
        raise ValueError("result.scores must all be finite; score failed trials (e.g. as chance) first")
    n = len(y)
    if n <= bins:
        raise ValueError(f"main_effects needs more trials than bins, got {n} trials and bins={bins}")
    total = float(np.sum((y - y.mean()) ** 2))
    effects = {}
    for name, dist in result.space.items():
        labels = _groups(result.column(name), dist, bins)
        k = len(np.unique(labels))
        if total == 0.0 or k < 2:
            effects[name] = 0.0
            continue
        between = sum(np.sum(labels == g) * (y[labels == g].mean() - y.mean()) ** 2 for g in np.unique(labels))
        eta2 = float(between) / total
        if adjusted:
            eta2 = max(0.0, 1.0 - (1.0 - eta2) * (n - 1) / (n - k)) if n > k else 0.0
        effects[name] = eta2
    return dict(sorted(effects.items(), key=lambda item: -item[1]))
