"""Tests for codebase.plot: what each helper draws, the limits it honours, and its errors."""
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from codebase import plot  # noqa: E402
from codebase import surfaces as S  # noqa: E402
from codebase.train import History, LRRangeResult  # noqa: E402


@pytest.fixture(autouse=True)
def no_figure_leak():
    plt.close("all")
    yield
    plt.close("all")


def labels(ax):
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_import_does_not_load_matplotlib():
    code = "import sys, codebase.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_loss_curves_from_sequences_and_histories():
    history = History(train_loss=[1.0, 0.5, 0.25], val_loss=[1.1, 0.7, 0.6], epochs_run=3)
    curves = {"sgd": [3.0, 2.0, 1.0, 0.5], "adam": history, "dict": history.as_dict()}
    fig, ax = plot.loss_curves(curves, logy=True, title="t")
    assert labels(ax) == ["sgd", "adam", "dict"]
    assert list(ax.get_lines()[2].get_ydata()) == history.train_loss
    x, y = ax.get_lines()[1].get_data()
    assert list(x) == [1, 2, 3] and list(y) == [1.0, 0.5, 0.25]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch" and ax.get_title() == "t"
    assert ax.get_ylabel() == "train loss" and fig is ax.figure


def test_loss_curves_several_keys_share_a_colour():
    runs = {"a": History(train_loss=[1.0, 0.5], val_loss=[1.2, 0.9]),
            "b": History(train_loss=[2.0, 1.0], val_loss=[2.2, 1.9])}
    _, ax = plot.loss_curves(runs, key=("train_loss", "val_loss"), ylabel="loss")
    lines = ax.get_lines()
    assert labels(ax) == ["a: train_loss", "a: val_loss", "b: train_loss", "b: val_loss"]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert lines[0].get_linestyle() != lines[1].get_linestyle()
    assert ax.get_ylabel() == "loss"


def test_helpers_draw_into_a_given_axes_without_new_figures():
    fig, axes = plot.side_by_side(2)
    before = plt.get_fignums()
    got_fig, got_ax = plot.loss_curves({"a": [1, 2]}, ax=axes[1])
    plot.band([0, 1], [[1, 2], [3, 4]], ax=axes[0])
    assert got_fig is fig and got_ax is axes[1] and plt.get_fignums() == before


def test_band_mean_and_spread():
    runs = np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]])
    _, ax = plot.band([0, 1, 2], runs, label="sgd")
    (line,) = ax.get_lines()
    assert np.allclose(line.get_ydata(), [2.0, 3.0, 4.0]) and len(ax.collections) == 1
    (band,) = ax.collections
    low, high = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
    assert low == pytest.approx(1.0) and high == pytest.approx(5.0)  # mean -+ std = runs here
    _, ax = plot.band([0, 1, 2], np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [5.0, 5.0, 5.0]]), kind="minmax")
    vertices = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert vertices.min() == pytest.approx(0.0) and vertices.max() == pytest.approx(5.0)


def test_contour_uses_suggested_or_given_limits():
    surface = S.rosenbrock()
    _, ax = plot.contour(surface, levels=10)
    assert ax.get_xlim() == pytest.approx(surface.xlim) and ax.get_ylim() == pytest.approx(surface.ylim)
    assert len(ax.collections) >= 1
    _, ax = plot.contour(surface, xlim=(0, 1.5), ylim=(0.5, 1.5), log=True, filled=True)
    assert ax.get_xlim() == pytest.approx((0, 1.5)) and ax.get_ylim() == pytest.approx((0.5, 1.5))


def test_trajectories_draw_each_path_start_and_minimum():
    surface = S.quadratic(10.0)
    good = S.run_optimizer(surface, lambda p: torch.optim.SGD(p, lr=0.5), steps=20)
    bad = S.run_optimizer(surface, lambda p: torch.optim.SGD(p, lr=2.5), steps=200)
    raw = np.array([[1.0, 1.0], [0.5, 0.5]])
    _, ax = plot.trajectories(surface, {"lr 0.5": good, "lr 2.5": bad, "by hand": raw}, xlim=(-3, 3))
    assert labels(ax) == ["lr 0.5", "lr 2.5 (diverged)", "by hand", "minimum"]
    assert len(ax.get_lines()) == 3 * 2 + 1  # each path, its start marker, the minimum
    x, y = ax.get_lines()[0].get_data()
    assert np.allclose(np.column_stack([x, y]), good.points)
    assert ax.get_xlim() == pytest.approx((-3, 3)) and ax.get_ylim() == pytest.approx(surface.ylim)
    _, ax = plot.trajectories(S.saddle(), {"gd": raw}, markers=False)
    assert "minimum" not in labels(ax) and ax.get_lines()[0].get_marker() in ("None", None, "")


def test_side_by_side_shapes():
    fig, axes = plot.side_by_side(5, ncols=2, width=3.0, height=2.0)
    assert len(axes) == 5 and len(fig.axes) == 5
    assert tuple(fig.get_size_inches()) == pytest.approx((6.0, 6.0))
    _, axes = plot.side_by_side(1)
    assert len(axes) == 1


def test_lr_range_plot():
    lrs = np.geomspace(1e-4, 1.0, 20)
    losses = np.linspace(2.0, 0.5, 20)
    result = LRRangeResult(lrs, losses, losses, best_lr=1.0, suggestion=0.1, stopped_early=False)
    _, ax = plot.lr_range_plot(result)
    assert ax.get_xscale() == "log"
    assert labels(ax) == ["loss", "smoothed loss", "suggestion 0.1"]
    _, ax = plot.lr_range_plot(result, show_raw=False, mark_suggestion=False)
    assert labels(ax) == ["smoothed loss"]


def test_schedule_plot_evaluates_each_schedule():
    schedules = {"constant": lambda t: 0.1, "step": lambda t: 0.1 * 0.5 ** (t // 10),
                 "listed": [0.1 / (t + 1) for t in range(40)]}
    _, ax = plot.schedule_plot(schedules, 30, logy=True)
    assert labels(ax) == ["constant", "step", "listed"]
    x, y = ax.get_lines()[1].get_data()
    assert list(x) == list(range(30)) and y[9] == 0.1 and y[10] == 0.05
    assert ax.get_yscale() == "log"


@pytest.mark.parametrize("call, error", [
    (lambda: plot.loss_curves([1, 2, 3]), TypeError),
    (lambda: plot.loss_curves({}), TypeError),
    (lambda: plot.loss_curves({"a": History()}, key="nope"), KeyError),
    (lambda: plot.loss_curves({"a": [[1, 2], [3, 4]]}), ValueError),
    (lambda: plot.band([0, 1], [1, 2]), ValueError),
    (lambda: plot.band([0, 1, 2], [[1, 2]]), ValueError),
    (lambda: plot.band([0, 1], [[1, 2]], kind="iqr"), ValueError),
    (lambda: plot.contour("rosenbrock"), TypeError),
    (lambda: plot.contour(S.beale(), levels=1), ValueError),
    (lambda: plot.contour(S.beale(), xlim=(1, 0)), ValueError),
    (lambda: plot.trajectories(S.beale(), {"a": np.zeros((3, 3))}), ValueError),
    (lambda: plot.side_by_side(0), ValueError),
    (lambda: plot.side_by_side(2.0), TypeError),
    (lambda: plot.side_by_side(2, width=-1), ValueError),
    (lambda: plot.lr_range_plot([1, 2]), TypeError),
    (lambda: plot.schedule_plot({"a": lambda t: 1.0}, 0), ValueError),
    (lambda: plot.schedule_plot({"a": [0.1, 0.2]}, 5), ValueError),
])
def test_bad_arguments(call, error):
    with pytest.raises(error):
        call()
    assert plt.get_fignums() == []  # arguments are checked before a figure is made
