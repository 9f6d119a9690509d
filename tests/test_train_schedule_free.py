"""fit() with a schedule-free optimizer: train() before the steps, eval() before each evaluation."""
import torch

from codebase import train
from codebase.data import batches
from codebase.optim.schedule_free_adamw import ScheduleFreeAdamW
from codebase.optim.schedule_free_sgd import ScheduleFreeSGD


def _problem():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    y = (X[:, 0] > 0).long()
    return X, y


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()


def test_fit_evaluates_and_returns_the_averaged_weights():
    X, y = _problem()
    for make in (lambda p: ScheduleFreeSGD(p, lr=0.5), lambda p: ScheduleFreeAdamW(p, lr=0.05)):
        model, by_hand = _model(), _model()
        opt, opt_by_hand = make(model.parameters()), make(by_hand.parameters())
        history = train.fit(model, opt, (X, y), val=(X[:10], y[:10]), epochs=3, batch_size=8, seed=3)
        generator = torch.Generator().manual_seed(3)
        losses = []
        for _ in range(3):
            opt_by_hand.train()
            for Xb, yb in batches(X, y, 8, generator=generator):
                opt_by_hand.zero_grad()
                torch.nn.functional.cross_entropy(by_hand(Xb), yb).backward()
                opt_by_hand.step()
            opt_by_hand.eval()
            losses.append(train.evaluate(by_hand, X, y)[0])
        assert all(torch.equal(a, b) for a, b in zip(model.parameters(), by_hand.parameters()))
        assert history.train_loss == losses
        assert not opt.param_groups[0]["train_mode"]            # fit ends in eval mode: the model holds x
        x = [p.detach().clone() for p in model.parameters()]
        opt.train()
        assert not all(torch.equal(a, b) for a, b in zip(x, model.parameters()))
        train.fit(model, opt, (X, y), epochs=1, batch_size=8)   # a second fit switches back by itself


def test_lr_range_test_runs_a_schedule_free_optimizer():
    X, y = _problem()
    result = train.lr_range_test(_model(), lambda p: ScheduleFreeSGD(p), (X, y), steps=5, batch_size=8)
    assert len(result.lrs) == 5
