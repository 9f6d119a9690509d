"""Tests for codebase.train: the training loop, its protocols, and the learning-rate range test."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from codebase import data, train


def blobs(n=64, seed=0):
    """Two well-separated Gaussian blobs in 2-D: a problem every optimizer should solve."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = torch.randn(n, 2, generator=gen) * 0.5 + (2.0 * y[:, None] - 1.0) * torch.tensor([2.0, 0.0])
    return data.Split(X, y)


def model(seed=0, hidden=8):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))


def run(epochs=5, lr=0.1, seed=0, **kwargs):
    net = model()
    history = train.fit(net, torch.optim.SGD(net.parameters(), lr=lr), blobs(), epochs=epochs,
                        batch_size=16, seed=seed, **kwargs)
    return net, history


def test_fit_decreases_the_loss_and_learns():
    net, history = run(epochs=10, val=blobs(seed=1))
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.train_acc[-1] == 1.0 and history.val_acc[-1] == 1.0
    loss, acc = train.evaluate(net, *blobs())
    assert loss == pytest.approx(history.train_loss[-1]) and acc == history.train_acc[-1]


def test_history_lengths_and_fields():
    _, history = run(epochs=4, val=blobs(seed=1))
    per_epoch = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "grad_norm", "penalty")
    for name in per_epoch:
        assert len(getattr(history, name)) == 4, name
    assert history.steps_per_epoch == 4 and history.epochs_run == 4 and history.epochs == [1, 2, 3, 4]
    for name in ("step_loss", "step_lr", "step_grad_norm"):
        assert len(getattr(history, name)) == 16, name
    assert history.lr == [0.1] * 4 and history.penalty == [0.0] * 4
    assert history.grad_norm[0] == pytest.approx(np.mean(history.step_grad_norm[:4]))
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1 and not history.stopped_early
    as_dict = history.as_dict()
    assert as_dict["train_loss"] == history.train_loss and as_dict["epochs_run"] == 4


def test_fit_is_deterministic_given_the_seed():
    _, first = run(seed=3)
    _, second = run(seed=3)
    _, other = run(seed=4)
    assert first.as_dict() == second.as_dict()
    assert first.step_loss != other.step_loss


def test_fit_works_with_adam_and_regression_losses():
    X, y, w, b = data.make_regression(n=64, d=3, noise=0.0, seed=0)
    net = nn.Linear(3, 1)
    history = train.fit(net, torch.optim.Adam(net.parameters(), lr=0.1), (X, y), epochs=30,
                        batch_size=16, loss_fn=nn.functional.mse_loss)
    assert history.train_loss[-1] < 1e-3
    assert all(math.isnan(a) for a in history.train_acc)
    assert torch.allclose(net.weight.detach().squeeze(0), w, atol=0.05)


def test_default_loss_is_mse_for_real_valued_targets():
    X, y, _, _ = data.make_regression(n=32, d=2, seed=1)
    histories = []
    for loss_fn in (None, nn.functional.mse_loss):
        torch.manual_seed(0)
        net = nn.Linear(2, 1)
        histories.append(train.fit(net, torch.optim.SGD(net.parameters(), lr=0.1), (X, y), epochs=2,
                                   batch_size=8, loss_fn=loss_fn).step_loss)
    assert histories[0] == histories[1] and histories[0][-1] < histories[0][0]


def test_train_loss_is_a_full_pass_after_the_epoch():
    net, history = run(epochs=1)
    loss, _ = train.evaluate(net, *blobs())
    assert history.train_loss == [loss]
    assert history.train_loss[0] != pytest.approx(np.mean(history.step_loss))


@pytest.mark.parametrize("batch_size", [1, 7, 64, 1000])
def test_evaluate_in_chunks_matches_one_pass_and_restores_the_mode(batch_size):
    net, _ = run(epochs=1)
    X, y = blobs()
    X_before = X.clone()
    whole = train.evaluate(net, X, y)
    net.train()
    loss, acc = train.evaluate(net, X, y, batch_size=batch_size)
    assert loss == pytest.approx(whole[0], rel=1e-6) and acc == whole[1]
    assert net.training and torch.equal(X, X_before)
    net.eval()
    train.evaluate(net, X, y, batch_size=batch_size)
    assert not net.training


class FakeScheduler:
    """Halves the learning rate at every call and records the metrics it received."""

    def __init__(self, optimizer, interval, needs_metric=None):
        self.optimizer, self.interval, self.metrics = optimizer, interval, []
        self.needs_metric = interval == "epoch" if needs_metric is None else needs_metric

    def step(self, metric=None):
        self.metrics.append(metric)
        for group in self.optimizer.param_groups:
            group["lr"] *= 0.5


@pytest.mark.parametrize("interval, calls", [("step", 12), ("epoch", 3)])
def test_scheduler_protocol(interval, calls):
    net = model()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scheduler = FakeScheduler(optimizer, interval)
    history = train.fit(net, optimizer, blobs(), val=blobs(seed=1), epochs=3, batch_size=16, scheduler=scheduler)
    assert len(scheduler.metrics) == calls
    assert history.step_lr == pytest.approx([0.1 * 0.5 ** (i if interval == "step" else i // 4) for i in range(12)])
    assert history.lr == pytest.approx([history.step_lr[3], history.step_lr[7], history.step_lr[11]])
    if interval == "epoch":
        assert scheduler.metrics == history.val_loss  # epoch schedulers receive the validation loss
    else:
        assert scheduler.metrics == [None] * 12


def test_only_needs_metric_decides_whether_step_gets_the_metric():
    # a step(metric=None) signature alone no longer makes fit pass the metric
    net = model()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scheduler = FakeScheduler(optimizer, "epoch", needs_metric=False)
    train.fit(net, optimizer, blobs(), val=blobs(seed=1), epochs=2, batch_size=16, scheduler=scheduler)
    assert scheduler.metrics == [None, None]
    for bad, error in (("yes", TypeError), (True, ValueError)):
        scheduler = FakeScheduler(optimizer, "step", needs_metric=bad)
        with pytest.raises(error, match="needs"):
            train.fit(net, optimizer, blobs(), epochs=1, batch_size=16, scheduler=scheduler)


def test_torch_schedulers_work_too():
    net = model()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    step_lr = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.1)
    history = train.fit(net, optimizer, blobs(), epochs=3, batch_size=16, scheduler=step_lr)
    assert history.lr == pytest.approx([0.1, 0.01, 0.001])
    net = model()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    history = train.fit(net, optimizer, blobs(), epochs=3, batch_size=16, scheduler=plateau)
    assert history.lr[0] == 0.1 and plateau.best == pytest.approx(min(history.train_loss))


class FakeEarlyStopping:
    """Asks to stop at epoch ``stop_at``, and keeps the weights of epoch ``best_at`` as the best."""

    def __init__(self, stop_at, best_at, restore_best=True):
        self.stop_at, self.best_at, self.restore_best = stop_at, best_at, restore_best
        self.calls, self.best_state, self.restored = [], None, 0

    def step(self, metric, model):
        self.calls.append(metric)
        if len(self.calls) == self.best_at:
            self.best_state = {k: v.clone() for k, v in model.state_dict().items()}
        return len(self.calls) == self.stop_at

    def restore(self, model):
        self.restored += 1
        model.load_state_dict(self.best_state)


def test_early_stopping_protocol_and_restore():
    stopper = FakeEarlyStopping(stop_at=4, best_at=2)
    net, history = run(epochs=10, val=blobs(seed=1), early_stopping=stopper)
    assert history.stopped_early and history.epochs_run == 4 and len(history.val_loss) == 4
    assert stopper.calls == history.val_loss and stopper.restored == 1
    loss, _ = train.evaluate(net, *blobs(seed=1))
    assert loss == pytest.approx(history.val_loss[1])  # the weights of epoch 2 are back


def test_early_stopping_without_restore_keeps_the_last_weights():
    stopper = FakeEarlyStopping(stop_at=100, best_at=1, restore_best=False)
    net, history = run(epochs=3, val=blobs(seed=1), early_stopping=stopper)
    assert not history.stopped_early and stopper.restored == 0 and len(stopper.calls) == 3
    assert train.evaluate(net, *blobs(seed=1))[0] == pytest.approx(history.val_loss[-1])


def test_restore_is_also_called_when_training_runs_to_the_end():
    stopper = FakeEarlyStopping(stop_at=100, best_at=1)
    net, history = run(epochs=3, val=blobs(seed=1), early_stopping=stopper)
    assert not history.stopped_early and stopper.restored == 1
    assert train.evaluate(net, *blobs(seed=1))[0] == pytest.approx(history.val_loss[0])


def test_regularizer_is_added_to_the_loss():
    calls = []

    def huge_l2(net):
        calls.append(1)
        return sum((p**2).sum() for p in net.parameters())

    plain_net, plain = run(epochs=3)
    reg_net, regularized = run(epochs=3, regularizer=huge_l2)
    assert len(calls) == 3 * 4
    weight_norm = lambda net: sum(p.detach().norm() ** 2 for p in net.parameters())  # noqa: E731
    assert weight_norm(reg_net) < 0.5 * weight_norm(plain_net)
    assert regularized.penalty[0] > 0 and regularized.penalty[-1] < regularized.penalty[0]
    # step_loss records the data loss only, without the penalty.
    assert regularized.step_loss[0] == pytest.approx(plain.step_loss[0])


def test_clip_grad_norm_bounds_the_update():
    net = model()
    before = [p.detach().clone() for p in net.parameters()]
    history = train.fit(net, torch.optim.SGD(net.parameters(), lr=1.0), blobs(), epochs=1, batch_size=64,
                        clip_grad_norm=1e-3)
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(net.parameters(), before)])
    assert history.step_grad_norm[0] > 1e-3  # measured before clipping
    assert step.norm().item() == pytest.approx(1e-3, rel=1e-4)


def test_clip_grad_value_bounds_every_component():
    net = model().double()
    X, y = blobs()
    before = [p.detach().clone() for p in net.parameters()]
    train.fit(net, torch.optim.SGD(net.parameters(), lr=1.0), (X.double(), y), epochs=1, batch_size=64,
              clip_grad_value=1e-4)
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(net.parameters(), before)])
    assert step.abs().max().item() == pytest.approx(1e-4, rel=1e-9)


def exploding_regression():
    """Linear least squares with a learning rate far above 2 / L: the loss grows ~1000x per step."""
    X, y, _, _ = data.make_regression(n=64, d=3, seed=0)
    torch.manual_seed(0)
    net = nn.Linear(3, 1)
    return net, torch.optim.SGD(net.parameters(), lr=1e3), (X, y)


def test_divergence_raises_with_a_helpful_message():
    net, optimizer, regression = exploding_regression()
    with pytest.raises(train.TrainingDiverged) as info:
        # diverge_factor=None: this test is about the loss overflowing (the factor is tested in test_bad_input)
        train.fit(net, optimizer, regression, epochs=5, batch_size=16, loss_fn=nn.functional.mse_loss,
                  diverge_factor=None)
    error = info.value
    assert isinstance(error, FloatingPointError)
    assert error.epoch == 2  # four steps per epoch; float32 overflows after a few more
    message = str(error)
    assert f"epoch {error.epoch}, step {error.step} (global step {error.global_step})" in message
    assert "learning rate 1e+03" in message and error.lr == [1e3]
    assert "smaller learning rate" in message and "clipping" in message
    assert error.global_step == (error.epoch - 1) * 4 + error.step
    assert len(error.history.step_loss) == error.global_step - 1
    assert len(error.history.train_loss) == error.epoch - 1 and error.history.epochs_run == 1


def test_clipping_prevents_that_divergence():
    net, optimizer, regression = exploding_regression()
    for group in optimizer.param_groups:
        group["lr"] = 0.5
    history = train.fit(net, optimizer, regression, epochs=2, batch_size=16, loss_fn=nn.functional.mse_loss,
                        clip_grad_norm=1.0)
    assert all(math.isfinite(v) for v in history.train_loss)


def test_divergence_from_an_infinite_output():
    class Exploding(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2)

        def forward(self, x):
            return self.linear(x) * math.inf

    net = Exploding()
    with pytest.raises(train.TrainingDiverged, match=r"epoch 1, step 1 \(global step 1\)"):
        train.fit(net, torch.optim.SGD(net.parameters(), lr=0.1), blobs(), epochs=1)


class NaNGradient(nn.Module):
    """A finite output whose gradient is NaN: sqrt'(0) = inf, times the zero in front of it."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x):
        w = self.linear.weight
        return self.linear(x) + 0.0 * torch.sqrt(w - w).sum()


def test_a_nan_gradient_with_a_finite_loss_stops_training_at_once():
    net = NaNGradient()
    with pytest.raises(train.TrainingDiverged, match=r"gradient norm became nan at epoch 1, step 1 "):
        train.fit(net, torch.optim.SGD(net.parameters(), lr=0.1), blobs(), epochs=1)


def test_without_the_recorded_norm_a_nan_gradient_is_caught_by_the_next_loss():
    net = NaNGradient()
    with pytest.raises(train.TrainingDiverged, match=r"the loss became nan at epoch 1, step 2 ") as info:
        train.fit(net, torch.optim.SGD(net.parameters(), lr=0.1), blobs(), epochs=1, record_grad_norm=False)
    assert len(info.value.history.step_loss) == 1 and math.isfinite(info.value.history.step_loss[0])


def test_record_grad_norm_false_trains_the_same_weights_and_records_nan_norms():
    net, history = run(epochs=3, val=blobs(seed=1))
    lean_net, lean = run(epochs=3, val=blobs(seed=1), record_grad_norm=False)
    for p, q in zip(net.parameters(), lean_net.parameters()):
        assert torch.equal(p, q)
    for name in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "step_loss", "step_lr"):
        assert getattr(lean, name) == getattr(history, name), name
    assert len(lean.grad_norm) == 3 and all(math.isnan(v) for v in lean.grad_norm)
    assert len(lean.step_grad_norm) == 12 and all(math.isnan(v) for v in lean.step_grad_norm)
    assert all(math.isfinite(v) and v > 0 for v in history.step_grad_norm)


def test_callbacks_see_every_epoch():
    seen = []
    run(epochs=3, callbacks=[lambda net, history: seen.append(history.epochs_run)])
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("kwargs, error", [
    ({"epochs": 0}, ValueError),
    ({"epochs": 2.0}, TypeError),
    ({"batch_size": 0}, ValueError),
    ({"clip_grad_norm": -1.0}, ValueError),
    ({"clip_grad_value": 0.0}, ValueError),
    ({"early_stopping": FakeEarlyStopping(1, 1)}, ValueError),  # no validation data
    ({"scheduler": object()}, TypeError),
    ({"loss_fn": "mse"}, TypeError),
    ({"regularizer": 0.1}, TypeError),
    ({"callbacks": print}, TypeError),
    ({"seed": -1}, ValueError),
    ({"record_grad_norm": 1}, TypeError),
    ({"verbose": "yes"}, TypeError),
])
def test_fit_validation(kwargs, error):
    net = model()
    arguments = {"epochs": 1, **kwargs}
    with pytest.raises(error):
        train.fit(net, torch.optim.SGD(net.parameters(), lr=0.1), blobs(), **arguments)


def test_fit_validation_of_data_and_objects():
    net = model()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    X, y = blobs()
    with pytest.raises(ValueError, match="train"):
        train.fit(net, optimizer, (X, y[:10]), epochs=1)
    with pytest.raises(TypeError, match="train"):
        train.fit(net, optimizer, X, epochs=1)
    with pytest.raises(TypeError, match="optimizer"):
        train.fit(net, "sgd", (X, y), epochs=1)
    with pytest.raises(TypeError, match="model"):
        train.fit(lambda x: x, optimizer, (X, y), epochs=1)
    scheduler = FakeScheduler(optimizer, "batch")
    with pytest.raises(ValueError, match="interval"):
        train.fit(net, optimizer, (X, y), epochs=1, scheduler=scheduler)


def test_evaluate_restores_the_mode_and_chunks_exactly():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    net.train()
    X, y = blobs()
    whole = train.evaluate(net, X, y)
    chunked = train.evaluate(net, X, y, batch_size=5)
    assert net.training
    assert chunked[0] == pytest.approx(whole[0]) and chunked[1] == pytest.approx(whole[1])
    assert train.evaluate(net, X, y) == whole  # eval mode: dropout off, deterministic


def test_grad_norm_and_layer_grad_norms():
    net = model()
    assert train.grad_norm(net) == 0.0 and train.layer_grad_norms(net) == {}
    nn.functional.cross_entropy(net(blobs().X), blobs().y).backward()
    layers = train.layer_grad_norms(net)
    assert list(layers) == ["0", "2"]
    first = torch.cat([net[0].weight.grad.flatten(), net[0].bias.grad.flatten()]).norm().item()
    assert layers["0"] == pytest.approx(first)
    assert train.grad_norm(net) == pytest.approx(math.sqrt(sum(v**2 for v in layers.values())))
    assert train.grad_norm(net.parameters()) == pytest.approx(train.grad_norm(net))


def test_fit_records_the_norm_of_sparse_gradients_like_dense_ones():
    # An embedding with sparse=True gets a sparse gradient that repeats the index of a row
    # looked up twice in a batch; torch's SGD accepts it, and fit must measure its norm.
    class Bag(nn.Module):
        def __init__(self, sparse):
            super().__init__()
            torch.manual_seed(0)
            self.embedding = nn.Embedding(6, 3, sparse=sparse)
            self.out = nn.Linear(3, 2)

        def forward(self, tokens):
            return self.out(self.embedding(tokens).sum(dim=1))

    tokens = torch.tensor([[0, 1, 1], [2, 2, 2], [3, 4, 0], [5, 5, 1]])
    labels = torch.tensor([0, 1, 0, 1])
    sparse, dense = Bag(sparse=True), Bag(sparse=False)
    sparse(tokens)[:1].sum().backward()
    assert sparse.embedding.weight.grad.is_sparse
    runs = [train.fit(net, torch.optim.SGD(net.parameters(), lr=0.1), (tokens, labels), epochs=2,
                      batch_size=2) for net in (sparse, dense)]
    assert runs[0].step_grad_norm == pytest.approx(runs[1].step_grad_norm, rel=1e-6)
    assert runs[0].train_loss == pytest.approx(runs[1].train_loss, rel=1e-6)


def test_lr_range_test_increases_lr_and_restores_the_weights():
    X, y, _, _ = data.make_regression(n=256, d=3, seed=0)
    torch.manual_seed(0)
    net = nn.Linear(3, 1)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = train.lr_range_test(net, lambda p: torch.optim.SGD(p, lr=0.1), (X, y), min_lr=1e-4,
                                 max_lr=1e3, steps=60, batch_size=16, loss_fn=nn.functional.mse_loss)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()) and not net.training
    lrs = result.lrs
    assert lrs[0] == pytest.approx(1e-4) and np.all(np.diff(lrs) > 0)
    assert np.allclose(np.diff(np.log(lrs)), math.log(1e7) / 59)  # geometric steps
    assert len(result.losses) == len(result.smoothed) == len(lrs)
    # Least squares on standard normal inputs diverges once lr > 2 / L = 1: the test stops there.
    assert result.stopped_early and len(lrs) < 60 and lrs[-1] > 1.0
    assert result.smoothed[-1] > 4.0 * result.smoothed.min()
    assert 1e-2 < result.best_lr < 2.0
    assert result.best_lr == lrs[np.argmin(result.smoothed)] and result.suggestion == result.best_lr / 10
    assert result.smoothed[0] == pytest.approx(result.losses[0])  # bias correction


def test_lr_range_test_runs_all_steps_when_the_loss_stays_low():
    result = train.lr_range_test(model(), lambda p: torch.optim.SGD(p, lr=0.1), blobs(), min_lr=1e-4,
                                 max_lr=1e-2, steps=10, batch_size=16)
    assert not result.stopped_early and len(result.lrs) == 10
    assert result.lrs[-1] == pytest.approx(1e-2)


@pytest.mark.parametrize("kwargs, error", [
    ({"min_lr": 0.0}, ValueError),
    ({"max_lr": 1e-6}, ValueError),
    ({"steps": 1}, ValueError),
    ({"smoothing": 0.0}, ValueError),
    ({"stop_factor": 1.0}, ValueError),
    ({"batch_size": 0}, ValueError),
])
def test_lr_range_test_validation(kwargs, error):
    with pytest.raises(error):
        train.lr_range_test(model(), lambda p: torch.optim.SGD(p, lr=0.1), blobs(), **kwargs)


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 200), cols=st.integers(1, 70), scale=st.floats(-8, 8), seed=st.integers(0, 2**16))
def test_grad_norm_is_the_float64_norm_of_the_per_tensor_norms_exactly(rows, cols, scale, seed):
    # The recorded gradient norms print in the chapters: the fast path must give the same bits.
    gen = torch.Generator().manual_seed(seed)
    params = [nn.Parameter(torch.zeros(shape)) for shape in [(rows, cols), (cols,), (3, rows)]]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen) * 10.0 ** scale
    reference = torch.stack([p.grad.double().norm() for p in params]).norm().item()
    assert train.grad_norm(params) == reference
