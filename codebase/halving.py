"""Successive halving: many configurations at a small budget, fewer and fewer at larger ones.

:func:`successive_halving` spends a budget (epochs, steps) on many configurations at a
small fidelity and on fewer and fewer of them at larger ones, keeping the best ``1/eta``
of each rung, and returns a :class:`HalvingResult`. ``codebase.search`` exports the
same names.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ._checks import check_callable, check_choice, check_int, check_real
from .spaces import _check_space, sample_config

__all__ = ["Rung", "HalvingResult", "successive_halving"]


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
