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
draws the same configurations on every machine.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ._checks import check_callable, check_choice, check_flag, check_int, check_real

__all__ = ["LogUniform", "Uniform", "Choice", "log_uniform", "sample_config", "SearchResult",
           "random_search", "main_effects", "Rung", "HalvingResult", "successive_halving"]


def _rng(generator) -> np.random.Generator:
    """Return ``generator`` if it is a NumPy generator, or a new one seeded with an integer."""
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return np.random.default_rng(check_int("generator", generator, low=0))
    raise TypeError("generator must be a numpy.random.Generator or a non-negative integer seed, "
                    f"got {type(generator).__name__}")


def log_uniform(low: float, high: float, size: int | None = None, *, generator=0):
    """Draw numbers whose logarithm is uniform on ``[log low, log high]``.

    .. math:: \\log x \\sim \\mathcal{U}(\\log a, \\log b), \\qquad p(x) = \\frac{1}{x \\log(b/a)},
              \\quad a \\le x \\le b.

    Every factor of ten between ``low`` and ``high`` gets the same share of the draws.
    ``generator`` is a ``numpy.random.Generator`` or an integer seed. Returns a float
    when ``size`` is ``None``, else an array of ``size`` floats.
    """
    low = check_real("low", low, low=0.0, low_open=True)
    high = check_real("high", high, low=low, low_open=True)
    if size is not None:
        size = check_int("size", size, low=0)
    rng = _rng(generator)
    u = rng.uniform(math.log(low), math.log(high), size)
    # exp(log(high)) can round a hair past high: clip to keep the promise a <= x <= b.
    x = np.clip(np.exp(u), low, high)
    return float(x) if size is None else x


@dataclass(frozen=True)
class LogUniform:
    """A hyperparameter whose logarithm is uniform on ``[log low, log high]`` (see :func:`log_uniform`).

    With ``integer=True`` the draw is rounded to the nearest integer (e.g. a layer width).
    """

    low: float
    high: float
    integer: bool = False

    def __post_init__(self):
        low = check_real("low", self.low, low=0.0, low_open=True)
        check_real("high", self.high, low=low, low_open=True)
        if check_flag("integer", self.integer) and round(low) < 1:
            raise ValueError(f"with integer=True the draws are rounded to integers, so low must round to "
                             f"at least 1 (low >= 0.5); got low={low!r}, whose draws could round to 0")

    def sample(self, generator: np.random.Generator):
        """Draw one value."""
        x = log_uniform(self.low, self.high, generator=generator)
        return int(round(x)) if self.integer else x


@dataclass(frozen=True)
class Uniform:
    """A hyperparameter drawn uniformly from ``[low, high]`` (e.g. a dropout rate)."""

    low: float
    high: float

    def __post_init__(self):
        low = check_real("low", self.low)
        check_real("high", self.high, low=low, low_open=True)

    def sample(self, generator: np.random.Generator) -> float:
        """Draw one value."""
        return float(_rng(generator).uniform(self.low, self.high))


@dataclass(frozen=True)
class Choice:
    """A hyperparameter drawn with equal probabilities from a list of ``values``
    (e.g. batch sizes ``(16, 32, 64, 128)``, or activation names)."""

    values: tuple

    def __post_init__(self):
        if isinstance(self.values, (str, bytes)) or not hasattr(self.values, "__iter__"):
            raise TypeError(f"values must be a sequence, got {type(self.values).__name__}")
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("values must hold at least one value")

    def sample(self, generator: np.random.Generator):
        """Draw one value."""
        return self.values[int(_rng(generator).integers(len(self.values)))]


_DISTRIBUTIONS = (LogUniform, Uniform, Choice)


def _check_space(space) -> dict:
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of {{name: distribution}}, got {type(space).__name__}")
    if not space:
        raise ValueError("space must name at least one hyperparameter")
    for name, dist in space.items():
        if not isinstance(name, str):
            raise TypeError(f"space keys must be strings, got {type(name).__name__} {name!r}")
        if not isinstance(dist, _DISTRIBUTIONS):
            raise TypeError(f"space[{name!r}] must be a LogUniform, Uniform or Choice, "
                            f"got {type(dist).__name__}")
    return dict(space)


def sample_config(space: Mapping[str, Any], generator=0) -> dict:
    """Draw one configuration ``{name: value}`` from ``space``, one value per hyperparameter.

    Values are drawn independently, in the order of the space's keys, from
    ``generator`` (a ``numpy.random.Generator``, advanced by the draws, or an integer seed).
    """
    space = _check_space(space)
    rng = _rng(generator)
    return {name: dist.sample(rng) for name, dist in space.items()}


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


@dataclass(frozen=True)
class Rung:
    """One rung of :func:`successive_halving`: every configuration in ``trials`` (indices
    into ``HalvingResult.configs``) was evaluated with ``budget``, and scored ``scores``."""

    budget: float
    trials: tuple
    scores: np.ndarray


@dataclass(frozen=True, eq=False)
class HalvingResult:
    """The outcome of :func:`successive_halving`.

    - ``space``: the search space; ``configs``: every configuration drawn, in order;
    - ``rungs``: the :class:`Rung` objects, from the smallest budget to the largest;
    - ``mode``: ``"max"`` if higher scores are better, ``"min"`` if lower are.
    """

    space: dict
    configs: tuple
    rungs: tuple
    mode: str = "max"

    @property
    def best_index(self) -> int:
        """The configuration with the best score on the last rung (the first one on ties;
        ``nan`` never wins unless every score is ``nan``)."""
        last = self.rungs[-1]
        return last.trials[_ranking(last.scores, self.mode)[0]]

    @property
    def best_config(self) -> dict:
        """The configuration of :attr:`best_index`."""
        return dict(self.configs[self.best_index])

    @property
    def best_score(self) -> float:
        """Its score on the last rung, the largest budget."""
        last = self.rungs[-1]
        return float(last.scores[_ranking(last.scores, self.mode)[0]])

    @property
    def total_budget(self) -> float:
        """The sum over the rungs of (number of evaluations x budget), i.e. the budget spent."""
        return sum(len(r.trials) * r.budget for r in self.rungs)


def _ranking(scores: np.ndarray, mode: str) -> np.ndarray:
    """Positions of ``scores`` from best to worst (stable on ties; ``nan`` last)."""
    badness = -scores if mode == "max" else scores.copy()
    badness = np.where(np.isnan(badness), np.inf, badness)
    return np.argsort(badness, kind="stable")


def successive_halving(objective: Callable[[dict, float], float], space: Mapping[str, Any],
                       n_configs: int, min_budget: float, *, eta: int = 3, rungs: int | None = None,
                       seed: int = 0, mode: str = "max") -> HalvingResult:
    """Successive halving: many configurations on a small budget, the best few on a large one.

    The steps, with :math:`n` = ``n_configs``, :math:`r_0` = ``min_budget`` and
    :math:`\\eta` = ``eta`` (Jamieson and Talwalkar, 2016; Li et al., 2018):

    1. draw :math:`n` configurations from ``space`` (as :func:`random_search` does, from
       ``numpy.random.default_rng(seed)``);
    2. on rung :math:`k = 0, 1, \\dots`, evaluate every surviving configuration with budget
       :math:`r_k = r_0 \\eta^k` by calling ``objective(config, r_k)``;
    3. keep the best :math:`\\lfloor n_k / \\eta \\rfloor` of the :math:`n_k` survivors
       (at least one) for the next rung;
    4. stop after ``rungs`` rungs (default: when one configuration is left, i.e.
       :math:`\\lfloor \\log_\\eta n \\rfloor + 1` rungs), and return the best
       configuration of the last rung.

    Every rung costs about the same, :math:`n_k r_k \\approx n r_0`, so the search spends
    roughly :math:`K n r_0` in all with :math:`K` rungs, while a random search that gave all
    :math:`n` configurations the final budget would spend :math:`n r_0 \\eta^{K-1}`.
    ``budget`` is whatever the objective makes of it (epochs, steps, examples); here each
    call trains from scratch, while practical implementations resume the survivors from
    their checkpoints. The price of the speed is that a configuration which starts slowly
    (a small learning rate) can be dropped on a small rung though it would win on a large
    one. Hyperband (Li et al., 2018) runs several such brackets with different
    trade-offs between :math:`n` and :math:`r_0` to hedge against that.

    If ``min_budget`` is an integer, the budgets are integers. ``mode`` says whether higher
    (``"max"``) or lower (``"min"``) scores are better; the objective must return a real
    number (``nan`` marks a failed run and ranks last). Ties keep the earlier configuration.
    """
    check_callable("objective", objective, ("config", "budget"))
    space = _check_space(space)
    n_configs = check_int("n_configs", n_configs, low=1)
    if isinstance(min_budget, numbers.Integral) and not isinstance(min_budget, bool):
        min_budget = check_int("min_budget", min_budget, low=1)
    else:
        min_budget = check_real("min_budget", min_budget, low=0.0, low_open=True)
    eta = check_int("eta", eta, low=2)
    if rungs is None:
        rungs, survivors = 1, n_configs
        while survivors >= eta:          # floor(log_eta n) + 1 rungs, in exact integer arithmetic
            survivors //= eta
            rungs += 1
    else:
        rungs = check_int("rungs", rungs, low=1)
    seed = check_int("seed", seed, low=0)
    check_choice("mode", mode, ("max", "min"))

    rng = np.random.default_rng(seed)
    configs = tuple(sample_config(space, rng) for _ in range(n_configs))
    alive, done = list(range(n_configs)), []
    for k in range(rungs):
        budget = min_budget * eta**k                                  # r_k = r_0 eta^k
        scores = []
        for i in alive:
            score = objective(dict(configs[i]), budget)
            if isinstance(score, bool) or not isinstance(score, numbers.Real):
                raise TypeError(f"objective must return a real number, got {type(score).__name__} {score!r}")
            scores.append(float(score))
        scores = np.array(scores, dtype=float)
        done.append(Rung(budget, tuple(alive), scores))
        keep = max(1, len(alive) // eta)                              # the best 1/eta survive
        alive = [alive[j] for j in sorted(_ranking(scores, mode)[:keep])]
    return HalvingResult(space, configs, tuple(done), mode)
