"""codebase.regularization: penalties by hand, L2 == weight decay, early stopping sequences."""
import copy

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codebase import regularization as R


def small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.PReLU(), torch.nn.Linear(4, 2))


def test_weights_yields_matrices_not_biases():
    model = small_model()
    ws = list(R.weights(model))
    assert len(ws) == 2
    assert ws[0] is model[0].weight and ws[1] is model[2].weight
    conv = torch.nn.Conv2d(1, 2, 3)
    assert [w.shape for w in R.weights(conv)] == [(2, 1, 3, 3)]


def test_penalties_by_hand():
    a = torch.tensor([[1.0, -2.0], [0.0, 3.0]], requires_grad=True)
    b = torch.tensor([[-0.5]], requires_grad=True)
    l1 = R.l1_penalty([a, b], 0.1)
    l2 = R.l2_penalty([a, b], 0.1)
    assert l1.item() == pytest.approx(0.1 * (1 + 2 + 0 + 3 + 0.5))
    assert l2.item() == pytest.approx(0.05 * (1 + 4 + 0 + 9 + 0.25))
    (ga, gb) = torch.autograd.grad(l2, (a, b))
    torch.testing.assert_close(ga, 0.1 * a.detach())  # d/dw (λ/2) w² = λ w
    torch.testing.assert_close(gb, 0.1 * b.detach())
    assert R.l1_penalty(a, 2.0).item() == pytest.approx(12.0)  # a single tensor works too
    assert R.l2_penalty([], 1.0).item() == 0.0


def test_l1_subgradient_is_strength_times_sign():
    w = torch.tensor([-3.0, -0.1, 0.0, 0.2, 5.0], requires_grad=True)
    (g,) = torch.autograd.grad(R.l1_penalty([w], 0.3), w)
    torch.testing.assert_close(g, torch.tensor([-0.3, -0.3, 0.0, 0.3, 0.3]))


@pytest.mark.parametrize("strength", [0.0, 0.01, 0.5])
def test_l2_penalty_step_equals_sgd_weight_decay(strength):
    torch.manual_seed(1)
    x, y = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 1, dtype=torch.float64)
    w0 = torch.randn(1, 3, dtype=torch.float64)
    w_pen = torch.nn.Parameter(w0.clone())
    w_wd = torch.nn.Parameter(w0.clone())
    opt_pen = torch.optim.SGD([w_pen], lr=0.1)
    opt_wd = torch.optim.SGD([w_wd], lr=0.1, weight_decay=strength)
    for _ in range(20):
        opt_pen.zero_grad()
        (((x @ w_pen.T - y) ** 2).mean() + R.l2_penalty([w_pen], strength)).backward()
        opt_pen.step()
        opt_wd.zero_grad()
        ((x @ w_wd.T - y) ** 2).mean().backward()
        opt_wd.step()
        torch.testing.assert_close(w_pen, w_wd, rtol=1e-12, atol=1e-14)


def test_regularizer_objects_on_models():
    model = small_model()
    w1, w2 = model[0].weight, model[2].weight
    l1 = 0.01 * (w1.abs().sum() + w2.abs().sum())
    l2 = 0.02 / 2 * (w1.pow(2).sum() + w2.pow(2).sum())
    torch.testing.assert_close(R.L1(0.01)(model), l1)
    torch.testing.assert_close(R.L2(0.02)(model), l2)
    torch.testing.assert_close(R.ElasticNet(0.01, 0.02)(model), l1 + l2)
    loss = R.L2(0.02)(model)
    loss.backward()
    assert model[0].bias.grad is None and model[1].weight.grad is None  # biases, slopes untouched
    assert "strength=0.01" in repr(R.L1(0.01))


def test_l1_subgradient_steps_move_weights_towards_zero_by_lr_times_strength():
    # with only the penalty, each SGD step moves every weight by lr*λ towards 0; a weight
    # that reaches 0 then hovers within lr*λ of it (plain subgradient descent is not sparse)
    w = torch.nn.Parameter(torch.tensor([0.05, -0.3, 1.0], dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.01)
    for _ in range(10):
        opt.zero_grad()
        R.l1_penalty([w], 1.0).backward()
        opt.step()
    assert abs(w[0].item()) <= 0.01 + 1e-12
    assert w[1].item() == pytest.approx(-0.2) and w[2].item() == pytest.approx(0.9)


# soft-thresholding, the proximal L1 step, sparsity --------------------------------------

@given(st.lists(st.floats(-10, 10), min_size=1, max_size=20), st.floats(0, 5))
def test_soft_threshold_equals_torch_softshrink(values, tau):
    w = torch.tensor(values, dtype=torch.float64)
    torch.testing.assert_close(R.soft_threshold(w, tau), torch.nn.functional.softshrink(w, tau),
                               rtol=0, atol=0)


@given(st.floats(-5, 5), st.floats(0, 3))
def test_soft_threshold_is_the_proximal_operator_of_the_l1_penalty(v, tau):
    # S_tau(v) minimizes 1/2 (u - v)^2 + tau |u|: no point of a fine grid does better
    u = torch.linspace(-8, 8, 16001, dtype=torch.float64)
    objective = lambda x: 0.5 * (x - v) ** 2 + tau * x.abs()
    s = R.soft_threshold(torch.tensor([v], dtype=torch.float64), tau)
    assert objective(s).item() <= objective(u).min().item() + 1e-12
    if abs(v) <= tau:
        assert s.item() == 0.0


def test_soft_threshold_by_hand():
    w = torch.tensor([-3.0, -0.5, 0.0, 0.2, 0.5, 2.0])
    torch.testing.assert_close(R.soft_threshold(w, 0.5), torch.tensor([-2.5, 0.0, 0.0, 0.0, 0.0, 1.5]))
    torch.testing.assert_close(R.soft_threshold(w, 0.0), w)


def test_proximal_l1_sgd_solves_the_lasso():
    # proximal gradient descent on 1/(2n)|y - Xw|^2 + alpha |w|_1 reaches scikit-learn's Lasso
    from sklearn.linear_model import Lasso

    gen = torch.Generator().manual_seed(0)
    X = torch.randn(50, 8, generator=gen, dtype=torch.float64)
    w_true = torch.tensor([3.0, -2.0, 0, 0, 1.5, 0, 0, 0], dtype=torch.float64)
    y = X @ w_true + 0.5 * torch.randn(50, generator=gen, dtype=torch.float64)
    alpha = 0.3
    w = torch.nn.Parameter(torch.zeros(8, dtype=torch.float64))
    opt = R.ProximalL1(torch.optim.SGD([w], lr=0.4), [w], strength=alpha)
    for _ in range(500):
        opt.zero_grad()
        (0.5 * ((y - X @ w) ** 2).mean()).backward()
        opt.step()
    lasso = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100000).fit(X.numpy(), y.numpy())
    np_w = w.detach().numpy()
    assert abs(np_w - lasso.coef_).max() < 1e-8
    assert (np_w == 0).sum() == (lasso.coef_ == 0).sum() >= 3  # exact zeros, the same ones
    assert ((np_w == 0) == (lasso.coef_ == 0)).all()


def test_proximal_l1_thresholds_only_its_params_with_their_group_lr():
    a = torch.nn.Parameter(torch.tensor([0.05, -0.3, 1.0]))
    b = torch.nn.Parameter(torch.tensor([0.05, -0.3, 1.0]))
    c = torch.nn.Parameter(torch.tensor([0.05, -0.3, 1.0]))
    inner = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}, {"params": [c]}], lr=0.1)
    opt = R.ProximalL1(inner, [a, b], strength=1.0)
    for p in (a, b, c):
        p.grad = torch.zeros(3)
    opt.step()
    torch.testing.assert_close(a.detach(), torch.tensor([0.0, -0.2, 0.9]))  # threshold 0.1 * 1
    torch.testing.assert_close(b.detach(), torch.tensor([0.0, 0.0, 0.5]))   # threshold 0.5 * 1
    torch.testing.assert_close(c.detach(), torch.tensor([0.05, -0.3, 1.0]))  # not thresholded
    assert opt.param_groups is inner.param_groups and opt.state is inner.state
    opt.zero_grad()
    assert a.grad is None
    assert "strength=1.0" in repr(opt)


def test_proximal_l1_with_zero_strength_is_the_plain_optimizer_and_works_in_fit():
    from codebase import train

    torch.manual_seed(0)
    X, y = torch.randn(40, 5), torch.randint(0, 3, (40,))
    models = [torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    plain = torch.optim.SGD(models[0].parameters(), lr=0.1)
    wrapped = R.ProximalL1(torch.optim.SGD(models[1].parameters(), lr=0.1), R.weights(models[1]), 0.0)
    train.fit(models[0], plain, (X, y), epochs=2, batch_size=8)
    train.fit(models[1], wrapped, (X, y), epochs=2, batch_size=8)
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(p, q)
    strong = R.ProximalL1(torch.optim.SGD(models[1].parameters(), lr=0.1), R.weights(models[1]), 10.0)
    train.fit(models[1], strong, (X, y), epochs=1, batch_size=8)
    assert R.sparsity(R.weights(models[1])) == 1.0  # threshold 1 per step wipes out every weight
    assert R.sparsity([models[1][0].bias]) < 1.0     # biases are left alone


def test_l1_subgradient_is_not_sparse_but_the_proximal_step_is():
    # the same problem, a weight whose data gradient is small: subgradient steps hover
    # around 0 without reaching it, proximal steps land on 0 and stay
    target = torch.tensor([0.004, -0.003, 2.0], dtype=torch.float64)
    w_sub = torch.nn.Parameter(torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64))
    w_prox = torch.nn.Parameter(w_sub.detach().clone())
    sub = torch.optim.SGD([w_sub], lr=0.013)
    prox = R.ProximalL1(torch.optim.SGD([w_prox], lr=0.013), [w_prox], strength=0.05)
    for _ in range(800):
        for w, opt, pen in ((w_sub, sub, 0.05), (w_prox, prox, 0.0)):
            opt.zero_grad()
            (0.5 * ((w - target) ** 2).sum() + R.l1_penalty([w], pen)).backward()
            opt.step()
    assert R.sparsity(w_prox) == pytest.approx(2 / 3)
    assert R.sparsity(w_sub) == 0.0
    assert w_sub[:2].abs().max().item() <= 0.013 * 0.05 + 0.013 * 0.01
    assert w_prox[2].item() == pytest.approx(1.95, abs=1e-3) and w_sub[2].item() == pytest.approx(1.95, abs=1e-3)


def test_sparsity():
    a = torch.tensor([[0.0, 1e-4], [-0.5, 0.0]])
    b = torch.tensor([2.0, -1e-3])
    assert R.sparsity([a, b]) == pytest.approx(2 / 6)
    assert R.sparsity([a, b], tol=1e-3) == pytest.approx(4 / 6)
    assert R.sparsity(a, tol=1.0) == 1.0


def test_proximal_and_sparsity_bad_arguments():
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(TypeError, match="optimizer"):
        R.ProximalL1([w], [w], 0.1)
    with pytest.raises(ValueError, match="params"):
        R.ProximalL1(opt, [torch.nn.Parameter(torch.ones(2))], 0.1)
    with pytest.raises(ValueError, match="strength"):
        R.ProximalL1(opt, [w], -0.1)
    with pytest.raises(ValueError, match="threshold"):
        R.soft_threshold(torch.ones(2), -1.0)
    with pytest.raises(TypeError, match="w must"):
        R.soft_threshold([1.0], 0.1)
    with pytest.raises(ValueError, match="tol"):
        R.sparsity([w], tol=-1.0)
    with pytest.raises(ValueError, match="params"):
        R.sparsity([])


# EarlyStopping ------------------------------------------------------------------------

def run(stopper, metrics):
    """Step through ``metrics``; return the epoch (from 1) that said stop, or None."""
    for epoch, m in enumerate(metrics, start=1):
        if stopper.step(m):
            return epoch
    return None


METRICS = [5, 4, 3, 3.5, 3.2, 3.1, 3.05]


def test_early_stopping_patience_three():
    stopper = R.EarlyStopping(patience=3)
    assert run(stopper, METRICS) == 6
    assert stopper.best == 3 and stopper.best_epoch == 3
    assert stopper.stopped_epoch == 6 and stopper.epochs_without_improvement == 3


def test_early_stopping_min_delta():
    # 3.5, 3.2, 3.1 all fail to beat 3: both settings stop at epoch 6
    assert run(R.EarlyStopping(patience=3, min_delta=0.1), METRICS) == 6
    # small steps count with min_delta=0 but not with min_delta=0.1
    slow = [5, 4, 3, 2.95, 2.9, 2.85, 2.8, 2.79, 2.78]
    assert run(R.EarlyStopping(patience=2, min_delta=0.0), slow) is None
    stopper = R.EarlyStopping(patience=2, min_delta=0.1)
    assert run(stopper, slow) == 5  # 2.95 and 2.9 are not below 3 - 0.1
    assert stopper.best == 3 and stopper.best_epoch == 3
    stopper = R.EarlyStopping(patience=3, min_delta=0.1)
    assert run(stopper, slow) == 9  # 2.85 < 2.9 improves; then 2.8, 2.79, 2.78 do not
    assert stopper.best == 2.85 and stopper.best_epoch == 6


def test_early_stopping_mode_max_and_nan():
    accuracy = [0.5, 0.7, 0.8, 0.79, 0.8, 0.81, 0.6, 0.7, 0.75]
    stopper = R.EarlyStopping(patience=2, mode="max")
    assert run(stopper, accuracy) == 5  # equalling the best (0.8) is no improvement
    assert stopper.best == 0.8 and stopper.best_epoch == 3
    stopper = R.EarlyStopping(patience=3, mode="max")
    assert run(stopper, accuracy) == 9
    assert stopper.best == 0.81 and stopper.best_epoch == 6
    stopper = R.EarlyStopping(patience=2)
    assert run(stopper, [1.0, float("nan"), float("nan")]) == 3
    assert stopper.best == 1.0
    stopper = R.EarlyStopping(patience=1)
    assert stopper.step(torch.tensor(2.0)) is False and stopper.best == 2.0


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.integers(1, 5))
def test_early_stopping_properties(metrics, patience):
    stopper = R.EarlyStopping(patience=patience)
    stop = run(stopper, metrics)
    seen = metrics if stop is None else metrics[:stop]
    assert stopper.best == min(seen)  # min_delta = 0: best is the running minimum
    assert stopper.best_epoch == seen.index(min(seen)) + 1  # epochs count from 1
    if stop is not None:
        assert stop - stopper.best_epoch == patience
        assert all(m >= stopper.best for m in seen[stopper.best_epoch:])


def test_early_stopping_restores_best_weights_after_more_training():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    stopper = R.EarlyStopping(patience=2)
    val_losses = [3.0, 2.0, 1.0, 1.5, 1.7]
    snapshot = None
    for epoch, val in enumerate(val_losses):
        opt.zero_grad()
        model(torch.ones(1, 2)).sum().backward()
        opt.step()  # the weights change every epoch
        if epoch == 2:
            snapshot = copy.deepcopy(model.state_dict())
        if stopper.step(val, model):
            break
    assert stopper.stopped_epoch == 5 and stopper.best_epoch == 3
    assert not torch.equal(model.weight, snapshot["weight"])
    assert stopper.restore_best
    assert stopper.restore(model) is model
    for k, v in snapshot.items():
        assert torch.equal(model.state_dict()[k], v)


def test_early_stopping_snapshot_is_a_copy():
    model = torch.nn.Linear(2, 1)
    stopper = R.EarlyStopping()
    stopper.step(1.0, model)
    saved = stopper.best_state["weight"].clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    assert torch.equal(stopper.best_state["weight"], saved)


# validation ---------------------------------------------------------------------------

@given(st.floats(-1e3, -1e-9))
def test_negative_strengths_rejected(s):
    for make, name in [(lambda: R.L1(s), "strength"), (lambda: R.L2(s), "strength"),
                       (lambda: R.l1_penalty([torch.ones(2)], s), "strength"),
                       (lambda: R.l2_penalty([torch.ones(2)], s), "strength"),
                       (lambda: R.ElasticNet(s, 0.1), "l1"), (lambda: R.ElasticNet(0.1, s), "l2"),
                       (lambda: R.EarlyStopping(min_delta=s), "min_delta")]:
        with pytest.raises(ValueError, match=name):
            make()


def test_bad_arguments_rejected():
    with pytest.raises(ValueError, match="patience"):
        R.EarlyStopping(patience=0)
    with pytest.raises(TypeError, match="patience"):
        R.EarlyStopping(patience=2.5)
    with pytest.raises(ValueError, match="mode"):
        R.EarlyStopping(mode="lowest")
    with pytest.raises(TypeError, match="restore_best"):
        R.EarlyStopping(restore_best="yes")
    with pytest.raises(TypeError, match="metric"):
        R.EarlyStopping().step("1.0")
    with pytest.raises(TypeError, match="model"):
        R.EarlyStopping().step(1.0, model={"w": 1})
    model = torch.nn.Linear(1, 1)
    before = copy.deepcopy(model.state_dict())
    stopper = R.EarlyStopping(patience=1)
    assert stopper.step(float("nan"), model) is True  # never improved: nothing saved
    with pytest.warns(UserWarning, match="no state"):
        assert stopper.restore(model) is model
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    with pytest.raises(TypeError, match="strength"):
        R.L2("0.1")
    with pytest.raises(TypeError, match="params"):
        R.l2_penalty(torch.nn.Linear(2, 2), 0.1)
    with pytest.raises(TypeError, match="params"):
        R.l2_penalty([1.0, 2.0], 0.1)
    with pytest.raises(TypeError, match="model"):
        list(R.weights([torch.ones(2, 2)]))
