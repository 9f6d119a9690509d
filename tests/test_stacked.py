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


def net(seed):
    return mlp(64, 10, depth=1, width=16, activation="relu",
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
