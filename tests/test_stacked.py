"""codebase.stacked.train_stacked: many runs at once, each equal to fit() with its own rate and seed."""
import pytest
import torch

from codebase import data, optim, train
from codebase.nn import mlp
from codebase.stacked import train_stacked

MAKERS = {
    "SGD": lambda p, lr: optim.SGD(p, lr=lr),
    "Momentum": lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9, weight_decay=1e-3),
    "Adam": lambda p, lr: optim.Adam(p, lr=lr),
    "AdamW": lambda p, lr: optim.AdamW(p, lr=lr, weight_decay=0.1),
    "AdaGrad": lambda p, lr: optim.Adagrad(p, lr=lr),
    "RMSProp": lambda p, lr: optim.RMSprop(p, lr=lr),
    "AdaDelta": lambda p, lr: optim.Adadelta(p, lr=lr),
}


PER_RUN_MAKERS = {   # rules that look at a whole tensor, or whose step is not linear in the rate
    "Adafactor": lambda p, lr: optim.Adafactor(p, lr=lr, weight_decay=0.01),
    "Muon": lambda p, lr: optim.muon_with_adamw(p, lr=lr),   # Muon on the hidden matrices, AdamW on the rest
    "ScheduleFreeAdamW": lambda p, lr: optim.ScheduleFreeAdamW(p, lr=lr, weight_decay=1e-3, warmup_steps=5),
    "Lion": lambda p, lr: optim.Lion(p, lr=lr),   # entry-wise: stacked with the others
}


def net(seed, depth=1):
    return mlp(64, 10, depth=depth, width=16, activation="relu",
               generator=torch.Generator().manual_seed(seed)).double()


@pytest.fixture(scope="module")
def digits():
    splits = data.load_digits(seed=0, dtype=torch.float64)
    small = data.Split(splits.train.X[:200], splits.train.y[:200])
    return small, splits.val


def test_every_run_equals_fit_with_its_rate_and_seed(digits):
    small, val = digits
    runs = [("SGD", 0.1, 3), ("Adam", 3e-3, 4), ("AdamW", 1e-2, 5), ("Momentum", 0.05, 6),
            ("AdaGrad", 0.05, 7), ("RMSProp", 1e-3, 8), ("AdaDelta", 1.0, 9), ("Adam", 1e-2, 3)]
    steps = 2 * data.num_batches(len(small), 32)  # two epochs, with a short last batch in each
    stacked = train_stacked(net, MAKERS, runs, small, steps=steps, batch_size=32,
                            evaluate={"val": val, "train": small}, every=7)
    for row, (name, lr, seed) in enumerate(runs):
        model = net(seed)
        history = train.fit(model, MAKERS[name](model.parameters(), lr), small, val=val, epochs=2,
                            batch_size=32, seed=seed)
        assert abs(history.val_loss[-1] - stacked["val_loss"][row].item()) < 1e-9, (name, lr)
        assert abs(history.train_loss[-1] - stacked["train_loss"][row].item()) < 1e-9, (name, lr)
        assert abs(100 * history.val_acc[-1] - stacked["val_acc"][row].item()) < 1e-9
        norm = torch.sqrt(sum((p.detach() ** 2).sum() for p in model.parameters()))
        assert abs(norm.item() - stacked["norm"][row].item()) < 1e-9
    assert stacked["val_curve"].shape == (len(runs), steps // 7)


def test_per_run_optimizers_equal_fit_and_are_evaluated_in_eval_mode(digits):
    # Two hidden layers, so that Muon has two matrices and AdamW the output layer and the biases.
    small, val = digits
    runs = [("Adafactor", 1e-2, 3), ("Muon", 3e-3, 4), ("ScheduleFreeAdamW", 3e-3, 5), ("Lion", 3e-4, 6),
            ("Adafactor", 3e-2, 7), ("ScheduleFreeAdamW", 1e-2, 3), ("Muon", 1e-2, 5), ("Lion", 1e-4, 7)]
    per_epoch = data.num_batches(len(small), 32)
    stacked = train_stacked(lambda seed: net(seed, depth=2), PER_RUN_MAKERS, runs, small, steps=2 * per_epoch,
                            batch_size=32, evaluate={"val": val, "train": small}, every=per_epoch,
                            per_run=["Adafactor", "Muon", "ScheduleFreeAdamW"])
    for row, (name, lr, seed) in enumerate(runs):
        model = net(seed, depth=2)
        history = train.fit(model, PER_RUN_MAKERS[name](model.parameters(), lr), small, val=val, epochs=2,
                            batch_size=32, seed=seed)
        # fit evaluates after each epoch in eval mode (the average x of schedule-free) and goes on
        # training in train mode: the curve, measured at the same steps, must agree.
        for epoch in range(2):
            assert abs(history.val_loss[epoch] - stacked["val_curve"][row, epoch].item()) < 1e-9, (name, lr, epoch)
        assert abs(history.train_loss[-1] - stacked["train_loss"][row].item()) < 1e-9, (name, lr)
        assert abs(100 * history.val_acc[-1] - stacked["val_acc"][row].item()) < 1e-9
        norm = torch.sqrt(sum((p.detach() ** 2).sum() for p in model.parameters()))   # fit ends in eval mode
        assert abs(norm.item() - stacked["norm"][row].item()) < 1e-9


def test_schedule_free_without_eval_would_differ(digits):
    # The check above has teeth: the training-mode weights y of schedule-free AdamW are not its average x.
    small, val = digits
    model = net(5)
    optimizer = PER_RUN_MAKERS["ScheduleFreeAdamW"](model.parameters(), 1e-2)
    history = train.fit(model, optimizer, small, val=val, epochs=1, batch_size=32, seed=5)
    optimizer.train()
    y_loss = train.evaluate(model, *val)[0]
    assert abs(y_loss - history.val_loss[-1]) > 1e-6
    stacked = train_stacked(net, PER_RUN_MAKERS, [("ScheduleFreeAdamW", 1e-2, 5)], small,
                            steps=data.num_batches(len(small), 32), batch_size=32, evaluate={"val": val},
                            per_run=["ScheduleFreeAdamW"])
    assert abs(stacked["val_loss"][0].item() - history.val_loss[-1]) < 1e-9


@pytest.mark.parametrize("per_run, error, pattern", [
    ("Adafactor", TypeError, "per_run must be a collection"),
    (None, TypeError, "per_run must be a collection"),
    (3, TypeError, "per_run must be a collection"),
    (["Adafactor", "Shampoo"], ValueError, r"per_run names optimizers that are not in makers: \['Shampoo'\]"),
])
def test_bad_per_run_is_refused_by_name(digits, per_run, error, pattern):
    small, val = digits
    with pytest.raises(error, match=pattern):
        train_stacked(net, PER_RUN_MAKERS, [("Adafactor", 0.01, 0)], small, steps=2, batch_size=32,
                      evaluate={"val": val}, per_run=per_run)


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(runs=[]), TypeError, "non-empty list"),
    (dict(runs=[("Lion", 0.1, 0)]), ValueError, "not in makers"),
    (dict(runs=[("SGD", -0.1, 0)]), ValueError, r"runs\[0\] learning rate"),
    (dict(runs=[("SGD", 0.1)]), TypeError, "triple"),
    (dict(steps=0), ValueError, "steps"),
    (dict(every=5, evaluate=None), ValueError, "every needs a set"),
    (dict(makers={}), TypeError, "makers"),
])
def test_bad_arguments_are_refused_by_name(digits, kwargs, error, pattern):
    small, val = digits
    arguments = dict(make_model=net, makers=MAKERS, runs=[("SGD", 0.1, 0)], train=small, steps=3,
                     batch_size=32, evaluate={"val": val})
    arguments.update(kwargs)
    with pytest.raises(error, match=pattern):
        train_stacked(**arguments)


def test_a_network_with_dropout_or_parameters_outside_linear_layers_is_refused(digits):
    small, _ = digits
    for make, pattern in ((lambda s: mlp(64, 10, depth=1, width=8, dropout=0.5).double(), "Dropout"),
                          (lambda s: mlp(64, 10, depth=1, width=8, activation="prelu").double(), "PReLU"),
                          (lambda s: torch.nn.Linear(64, 10).double(), "Sequential")):
        with pytest.raises((ValueError, TypeError), match=pattern):
            train_stacked(make, MAKERS, [("SGD", 0.1, 0)], small, steps=1, batch_size=32)
