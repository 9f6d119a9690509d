"""Tests for codebase.search: distributions, random search, and main-effect importance."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codebase import search
from codebase.search import Choice, LogUniform, Uniform


# --- log_uniform and the distributions -----------------------------------------------------------

def test_log_uniform_is_uniform_in_the_logarithm():
    x = search.log_uniform(1e-4, 1.0, 20000, generator=0)
    assert x.min() >= 1e-4 and x.max() <= 1.0
    # each of the four decades gets a quarter of the draws
    counts = np.histogram(np.log10(x), bins=[-4, -3, -2, -1, 0])[0] / len(x)
    assert np.allclose(counts, 0.25, atol=0.02)
    # the mean of log x is the midpoint, the variance that of a uniform of width log(1e4)
    assert abs(np.log(x).mean() - np.log(1e-2)) < 0.05
    assert abs(np.log(x).var() - np.log(1e4) ** 2 / 12) < 0.1


@given(low=st.floats(1e-12, 1e3), ratio=st.floats(1.0001, 1e6), seed=st.integers(0, 2**32))
@settings(max_examples=50, deadline=None)
def test_log_uniform_stays_in_range(low, ratio, seed):
    high = low * ratio
    x = search.log_uniform(low, high, 50, generator=seed)
    assert np.all((x >= low) & (x <= high))
    assert isinstance(search.log_uniform(low, high, generator=seed), float)


def test_log_uniform_is_deterministic_and_uses_the_generator():
    a = search.log_uniform(1e-3, 1.0, 5, generator=7)
    b = search.log_uniform(1e-3, 1.0, 5, generator=np.random.default_rng(7))
    assert np.array_equal(a, b)
    rng = np.random.default_rng(7)
    first, second = search.log_uniform(1e-3, 1.0, generator=rng), search.log_uniform(1e-3, 1.0, generator=rng)
    assert first == a[0] and second == a[1]


@pytest.mark.parametrize("low, high, error", [(0.0, 1.0, ValueError), (-1.0, 1.0, ValueError),
                                              (1.0, 1.0, ValueError), (2.0, 1.0, ValueError),
                                              ("1", 2.0, TypeError), (1.0, math.nan, ValueError)])
def test_log_uniform_rejects_bad_ranges(low, high, error):
    with pytest.raises(error):
        search.log_uniform(low, high)
    with pytest.raises(error):
        LogUniform(low, high)


def test_log_uniform_rejects_bad_size_and_generator():
    with pytest.raises(ValueError, match="size"):
        search.log_uniform(1e-3, 1.0, -1)
    with pytest.raises(TypeError, match="generator"):
        search.log_uniform(1e-3, 1.0, generator="seed")
    with pytest.raises(TypeError, match="generator"):
        search.log_uniform(1e-3, 1.0, generator=True)


def test_distributions_sample_their_support():
    rng = np.random.default_rng(0)
    widths = [LogUniform(16, 256, integer=True).sample(rng) for _ in range(200)]
    assert all(isinstance(w, int) and 16 <= w <= 256 for w in widths)
    rates = [Uniform(0.0, 0.5).sample(rng) for _ in range(200)]
    assert all(0.0 <= r <= 0.5 for r in rates)
    sizes = [Choice((8, 32, 128)).sample(rng) for _ in range(300)]
    assert set(sizes) == {8, 32, 128}
    assert Choice([1, 2]).values == (1, 2)


def test_distributions_validate():
    with pytest.raises(ValueError, match="high"):
        Uniform(1.0, 0.0)
    with pytest.raises(ValueError, match="values"):
        Choice(())
    with pytest.raises(TypeError, match="values"):
        Choice("abc")
    with pytest.raises(TypeError, match="integer"):
        LogUniform(1, 10, integer=1)


# --- sample_config and random_search -------------------------------------------------------------

SPACE = {"lr": LogUniform(1e-4, 1.0), "dropout": Uniform(0.0, 0.5), "batch": Choice((16, 64, 256))}


def test_sample_config_draws_one_value_per_name_in_order():
    config = search.sample_config(SPACE, 3)
    assert list(config) == ["lr", "dropout", "batch"]
    rng = np.random.default_rng(3)
    assert config["lr"] == SPACE["lr"].sample(rng)
    assert config["dropout"] == SPACE["dropout"].sample(rng)
    assert config["batch"] == SPACE["batch"].sample(rng)


@pytest.mark.parametrize("space, error", [([("lr", LogUniform(1, 2))], TypeError), ({}, ValueError),
                                          ({1: LogUniform(1, 2)}, TypeError), ({"lr": (1, 2)}, TypeError)])
def test_sample_config_rejects_bad_spaces(space, error):
    with pytest.raises(error, match="space"):
        search.sample_config(space)


def test_random_search_is_deterministic_and_prefix_stable():
    objective = lambda c: -abs(math.log10(c["lr"]) + 2)  # noqa: E731
    a = search.random_search(objective, SPACE, 12, seed=5)
    b = search.random_search(objective, SPACE, 12, seed=5)
    short = search.random_search(objective, SPACE, 4, seed=5)
    other = search.random_search(objective, SPACE, 12, seed=6)
    assert a.configs == b.configs and np.array_equal(a.scores, b.scores)
    assert a.configs[:4] == short.configs
    assert a.configs != other.configs
    assert len(a) == 12 and a.column("lr").shape == (12,)


def test_random_search_best_and_progress():
    objective = lambda c: -abs(math.log10(c["lr"]) + 2)  # noqa: E731
    res = search.random_search(objective, SPACE, 30, seed=0)
    assert res.best_score == res.scores.max()
    assert res.best_config == res.configs[int(np.argmax(res.scores))]
    progress = res.best_so_far()
    assert progress[-1] == res.best_score and np.all(np.diff(progress) >= 0)
    lines = res.table(top=3).splitlines()
    assert len(lines) == 4 and lines[0].split() == ["trial", "lr", "dropout", "batch", "score"]
    assert lines[1].split()[0] == str(res.best_index + 1)
    low = search.random_search(lambda c: c["lr"], SPACE, 30, seed=0, mode="min")
    assert low.best_score == low.scores.min()
    assert np.all(np.diff(low.best_so_far()) <= 0)


def test_random_search_nan_scores_never_win():
    scores = iter([math.nan, 1.0, math.nan, 3.0, 2.0])
    res = search.random_search(lambda c: next(scores), SPACE, 5)
    assert res.best_index == 3
    assert np.array_equal(res.best_so_far(), [-np.inf, 1.0, 1.0, 3.0, 3.0])
    assert res.table().splitlines()[-1].split()[-1] == "nan"


def test_random_search_validates():
    with pytest.raises(TypeError, match="objective"):
        search.random_search(None, SPACE, 3)
    with pytest.raises(ValueError, match="trials"):
        search.random_search(lambda c: 0.0, SPACE, 0)
    with pytest.raises(ValueError, match="mode"):
        search.random_search(lambda c: 0.0, SPACE, 3, mode="best")
    with pytest.raises(TypeError, match="objective must return"):
        search.random_search(lambda c: "good", SPACE, 3)
    res = search.random_search(lambda c: 0.0, SPACE, 3)
    with pytest.raises(ValueError, match="name"):
        res.column("momentum")


# --- main_effects --------------------------------------------------------------------------------

BIG_SPACE = {"lr": LogUniform(1e-5, 1.0), "momentum": Uniform(0.0, 0.99), "wd": LogUniform(1e-6, 1e-2),
             "batch": Choice((16, 32, 64, 128))}


def synthetic(config, noise_rng=np.random.default_rng(0)):
    # A valley in log10(lr) around 1e-2, a small batch-size effect, momentum and wd irrelevant, plus noise.
    return (-(math.log10(config["lr"]) + 2) ** 2 + 0.3 * math.log2(config["batch"])
            + 0.1 * noise_rng.standard_normal())


def test_main_effects_recovers_the_important_variable():
    res = search.random_search(synthetic, BIG_SPACE, 80, seed=1)
    effects = search.main_effects(res)
    assert list(effects)[0] == "lr" and effects["lr"] > 0.6
    assert list(effects)[1] == "batch"
    assert effects["momentum"] < 0.1 and effects["wd"] < 0.1
    assert list(effects.values()) == sorted(effects.values(), reverse=True)


def test_main_effects_of_pure_noise_are_small_once_adjusted():
    rng = np.random.default_rng(1)
    res = search.random_search(lambda c: float(rng.standard_normal()), BIG_SPACE, 60, seed=2)
    raw = search.main_effects(res, adjusted=False)
    adj = search.main_effects(res)
    # unadjusted eta^2 of noise has mean (k-1)/(n-1) = 3/59; the adjustment removes that on average
    assert all(0.0 <= v < 0.3 for v in raw.values())
    assert sum(adj.values()) < sum(raw.values())
    assert all(adj[n] <= raw[n] for n in raw)


def test_main_effects_matches_a_hand_computed_anova():
    scores = iter([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    space = {"x": Choice(("a", "b"))}
    res = search.random_search(lambda c: next(scores), space, 6, seed=0)
    labels = res.column("x")
    y = res.scores
    between = sum(np.sum(labels == g) * (y[labels == g].mean() - y.mean()) ** 2 for g in set(labels))
    expected = between / np.sum((y - y.mean()) ** 2)
    assert search.main_effects(res, adjusted=False)["x"] == pytest.approx(expected)
    adj = max(0.0, 1 - (1 - expected) * 5 / 4)
    assert search.main_effects(res)["x"] == pytest.approx(adj)


def test_main_effects_uses_quantile_bins_independent_of_scale():
    # a monotone transform of a hyperparameter (log versus linear) gives the same bins
    res = search.random_search(lambda c: math.log(c["lr"]) + c["momentum"], BIG_SPACE, 40, seed=3)
    logged = search.SearchResult({"lr": Uniform(-20.0, 1.0)},
                                 tuple({"lr": math.log(c["lr"])} for c in res.configs), res.scores)
    assert search.main_effects(logged)["lr"] == pytest.approx(search.main_effects(res)["lr"])


def test_main_effects_validates():
    res = search.random_search(lambda c: 1.0, SPACE, 10)
    assert set(search.main_effects(res).values()) == {0.0}  # constant scores: nothing to explain
    with pytest.raises(TypeError, match="result"):
        search.main_effects({"lr": [1, 2]})
    with pytest.raises(ValueError, match="bins"):
        search.main_effects(res, bins=1)
    with pytest.raises(ValueError, match="more trials than bins"):
        search.main_effects(search.random_search(lambda c: 1.0, SPACE, 3), bins=4)
    nan = search.random_search(lambda c: math.nan, SPACE, 10)
    with pytest.raises(ValueError, match="finite"):
        search.main_effects(nan)


# --- successive halving ---------------------------------------------------------------------------

def _recorder(score=lambda config, budget: config["x"]):
    calls = []

    def objective(config, budget):
        calls.append((config["x"], budget))
        return score(config, budget)
    return objective, calls


def test_successive_halving_budget_schedule_and_survivors():
    objective, calls = _recorder()
    res = search.successive_halving(objective, {"x": Uniform(0.0, 1.0)}, 27, 1, eta=3, seed=0)
    # 27 configurations: rungs of 27, 9, 3, 1 at budgets 1, 3, 9, 27
    assert [len(r.trials) for r in res.rungs] == [27, 9, 3, 1]
    assert [r.budget for r in res.rungs] == [1, 3, 9, 27]
    assert all(isinstance(r.budget, int) for r in res.rungs)
    assert len(calls) == 27 + 9 + 3 + 1 and res.total_budget == 27 * 4
    # each rung keeps exactly the top 1/eta of the one before
    for lower, upper in zip(res.rungs[:-1], res.rungs[1:]):
        top = sorted(np.argsort(-lower.scores, kind="stable")[:len(lower.trials) // 3])
        assert upper.trials == tuple(lower.trials[j] for j in top)
    # ... so the winner is the configuration with the largest x of all
    xs = [c["x"] for c in res.configs]
    assert res.best_index == int(np.argmax(xs)) and res.best_score == max(xs)
    assert res.best_config == res.configs[res.best_index]


def test_successive_halving_default_rungs_and_keep_at_least_one():
    for n, eta, expected in [(1, 3, [1]), (2, 3, [2]), (3, 3, [3, 1]), (10, 3, [10, 3, 1]),
                             (16, 2, [16, 8, 4, 2, 1]), (17, 4, [17, 4, 1])]:
        objective, _ = _recorder()
        res = search.successive_halving(objective, {"x": Uniform(0.0, 1.0)}, n, 2, eta=eta)
        assert [len(r.trials) for r in res.rungs] == expected
    # more rungs than needed: the last configuration keeps getting a larger budget
    objective, _ = _recorder()
    res = search.successive_halving(objective, {"x": Uniform(0.0, 1.0)}, 4, 0.5, eta=2, rungs=4)
    assert [len(r.trials) for r in res.rungs] == [4, 2, 1, 1]
    assert [r.budget for r in res.rungs] == [0.5, 1.0, 2.0, 4.0]


def test_successive_halving_returns_the_best_under_the_largest_budget():
    # The score depends on the budget: configurations with small x start fast, large x end best.
    def score(config, budget):
        return config["x"] * budget - 0.5 * config["x"] ** 2 * 3
    objective, _ = _recorder(score)
    res = search.successive_halving(objective, {"x": Uniform(0.0, 10.0)}, 9, 1, eta=3, seed=1)
    last = res.rungs[-1]
    assert res.best_score == last.scores.max()
    assert res.best_index == last.trials[int(np.argmax(last.scores))]


def test_successive_halving_min_mode_nan_and_ties():
    space = {"x": Choice((3, 1, 2, 1))}
    res = search.successive_halving(lambda c, b: float(c["x"]), space, 8, 1, eta=2, mode="min", seed=3)
    assert res.best_score == 1.0
    # nan ranks last, in both modes
    for mode in ("max", "min"):
        res = search.successive_halving(lambda c, b: math.nan if c["x"] == 1 else float(c["x"]),
                                        {"x": Choice((1, 2))}, 6, 1, eta=2, mode=mode, seed=0)
        assert not math.isnan(res.best_score)
    # ties keep the earlier configuration
    res = search.successive_halving(lambda c, b: 0.0, {"x": Uniform(0.0, 1.0)}, 9, 1, eta=3)
    assert res.rungs[1].trials == (0, 1, 2) and res.best_index == 0


def test_successive_halving_is_deterministic_and_draws_like_random_search():
    space = {"lr": LogUniform(1e-4, 1.0), "b": Choice((16, 32))}
    runs = [search.successive_halving(lambda c, r: -abs(math.log10(c["lr"]) + 2) + 0.01 * r, space, 12, 1, seed=5)
            for _ in range(2)]
    assert runs[0].configs == runs[1].configs and runs[0].best_index == runs[1].best_index
    assert all(np.array_equal(a.scores, b.scores) for a, b in zip(runs[0].rungs, runs[1].rungs))
    rs = search.random_search(lambda c: 0.0, space, 12, seed=5)
    assert runs[0].configs == rs.configs
    other = search.successive_halving(lambda c, r: 0.0, space, 12, 1, seed=6)
    assert other.configs != runs[0].configs


def test_successive_halving_validates():
    space, ok = {"x": Uniform(0.0, 1.0)}, (lambda c, b: 0.0)
    for kwargs, error, match in [
            (dict(objective=None), TypeError, "objective"),
            (dict(space={}), ValueError, "space"),
            (dict(n_configs=0), ValueError, "n_configs"),
            (dict(n_configs=2.0), TypeError, "n_configs"),
            (dict(min_budget=0), ValueError, "min_budget"),
            (dict(min_budget=-1.5), ValueError, "min_budget"),
            (dict(min_budget="1"), TypeError, "min_budget"),
            (dict(min_budget=True), TypeError, "min_budget"),
            (dict(eta=1), ValueError, "eta"),
            (dict(eta=2.5), TypeError, "eta"),
            (dict(rungs=0), ValueError, "rungs"),
            (dict(seed=-1), ValueError, "seed"),
            (dict(mode="best"), ValueError, "mode")]:
        args = dict(objective=ok, space=space, n_configs=4, min_budget=1) | kwargs
        with pytest.raises(error, match=match):
            search.successive_halving(args.pop("objective"), args.pop("space"), args.pop("n_configs"),
                                      args.pop("min_budget"), **args)
    with pytest.raises(TypeError, match="objective must return a real number"):
        search.successive_halving(lambda c, b: "good", space, 4, 1)
