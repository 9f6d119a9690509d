"""Tests of codebase.checks: every check accepts a correct solution, rejects the typical
wrong answers with the matching hint, and turns bad input into a failed result.

The correct solutions below are written out of place, one expression per equation, a
different style from codebase's in-place update rules; the wrong ones each contain exactly
one typical mistake.
"""
import functools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codebase import checks
from codebase.checks import EXERCISES, CheckFailed, CheckResult


# --------------------------------------------------------------------------------------
# Correct solutions
# --------------------------------------------------------------------------------------

def momentum_step(theta, grad, m, lr, beta):
    m = beta * m + grad
    return theta - lr * m, m


def nesterov_step(theta, grad, m, lr, beta):
    m = beta * m + grad
    return theta - lr * (grad + beta * m), m


def adagrad_step(theta, grad, s, lr, eps):
    s = s + grad ** 2
    return theta - lr * grad / (torch.sqrt(s) + eps), s


def rmsprop_step(theta, grad, v, lr, rho, eps):
    v = rho * v + (1 - rho) * grad ** 2
    return theta - lr * grad / (torch.sqrt(v) + eps), v


def rmsprop_bc_step(theta, grad, v, t, lr, rho, eps):
    v = rho * v + (1 - rho) * grad ** 2
    v_hat = v / (1 - rho ** t)
    return theta - lr * grad / (torch.sqrt(v_hat) + eps), v


def adadelta_step(theta, grad, v, u, lr, rho, eps):
    v = rho * v + (1 - rho) * grad ** 2
    delta = torch.sqrt(u + eps) / torch.sqrt(v + eps) * grad
    u = rho * u + (1 - rho) * delta ** 2
    return theta - lr * delta, v, u


def adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


def adamw_step(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    return adam_step(theta * (1 - lr * weight_decay), grad, m, v, t, lr, beta1, beta2, eps)


def sgd_weight_decay_step(theta, grad, lr, weight_decay):
    return theta - lr * (grad + weight_decay * theta)


def step_decay(k, lr0, gamma, K):
    return lr0 * gamma ** (k // K)


def cosine_schedule(k, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * min(k, T) / T)) / 2


def cosine_restarts(k, lr0, T0, T_mult):
    start, length = 0, T0
    while k >= start + length:
        start, length = start + length, length * T_mult
    return lr0 * (1 + math.cos(math.pi * (k - start) / length)) / 2


def _uniform(n_in, n_out, bound, generator):
    return (2 * torch.rand(n_out, n_in, generator=generator) - 1) * bound


def xavier_uniform(n_in, n_out, generator):
    return _uniform(n_in, n_out, math.sqrt(6 / (n_in + n_out)), generator)


def xavier_normal(n_in, n_out, generator):
    return torch.randn(n_out, n_in, generator=generator) * math.sqrt(2 / (n_in + n_out))


def he_normal(n_in, n_out, generator):
    return torch.randn(n_out, n_in, generator=generator) * math.sqrt(2 / n_in)


def l1_penalty(w, lam):
    return lam * w.abs().sum()


def l1_grad(w, lam):
    return lam * torch.sign(w)


def l2_penalty(w, lam):
    return lam / 2 * (w * w).sum()


def stopping_epochs(metrics, patience, min_delta):
    best, best_epoch, waited = math.inf, None, 0
    for epoch, value in enumerate(metrics, start=1):
        if value < best - min_delta:
            best, best_epoch, waited = value, epoch, 0
        else:
            waited += 1
            if waited == patience:
                return best_epoch, epoch
    return best_epoch, None


def sgd_decoupled_step(w, g, m, *, lr, beta, lam):
    m = g.clone() if m is None else beta * m + g
    return (1 - lr * lam) * w - lr * m, m


def my_dropout(h, p, generator=None):
    mask = torch.empty_like(h).bernoulli_(1 - p, generator=generator)
    return h * mask / (1 - p)


def my_log_uniform(low, high, size, rng):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def foreach_adam(params, grads, ms, vs, t, *, lr, beta1, beta2, eps):
    # per tensor, out of place, then copied into the list's tensors (the lists must change in place)
    for p, g, m, v in zip(params, grads, ms, vs):
        new_p, new_m, new_v = adam_step(p, g, m, v, t, lr, beta1, beta2, eps)
        p.copy_(new_p), m.copy_(new_m), v.copy_(new_v)


def top_eigenvalue(loss_fn, theta, iters):
    H = torch.autograd.functional.hessian(loss_fn, theta)
    v = torch.ones_like(theta) / theta.numel() ** 0.5
    for _ in range(iters):
        v = H @ v
        v = v / torch.linalg.vector_norm(v)
    return float(v @ H @ v)


def clip_by_norm(g, c):
    return g * min(1.0, c / float(torch.linalg.vector_norm(g)))


def clip_by_value(g, c):
    return torch.clamp(g, -c, c)


def trust_ratio(theta, g, eta, weight_decay):
    theta_norm, g_norm = theta.norm(), g.norm()
    denom = g_norm + weight_decay * theta_norm
    return 1.0 if theta_norm == 0 or denom == 0 else float(eta * theta_norm / denom)


def radam_step(theta, grad, m, v, t, lr, beta1, beta2, eps, threshold=5.0, eps_adam=False):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat = m / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
    if rho_t <= threshold:
        return theta - lr * m_hat, m, v
    r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    if eps_adam:
        return theta - lr * r_t * m_hat / ((v / (1 - beta2 ** t)).sqrt() + eps), m, v
    return theta - lr * r_t * m_hat * math.sqrt(1 - beta2 ** t) / (v.sqrt() + eps), m, v


def sf_sgd_step(y, z, grad, t, lr, beta):
    x = (y - (1 - beta) * z) / beta          # x_{t-1}, from y and z
    z = z - lr * grad
    x = (1 - 1 / t) * x + z / t              # uniform average, c_t = 1/t
    return (1 - beta) * z + beta * x, z


def orthogonalize(G, steps, a, b, c):
    X = G / torch.linalg.matrix_norm(G)              # X_0 = G / ||G||_F
    for _ in range(steps):
        A = X @ X.T                                  # A = X X^T
        X = a * X + (b * A + c * A @ A) @ X          # X = a X + (b A + c A^2) X
    return X


def orthogonalize_swapped(G, steps, a, b, c):
    return orthogonalize(G, steps, a, c, b)


def orthogonalize_one_less(G, steps, a, b, c):
    return orthogonalize(G, steps - 1, a, b, c)


def lion_step(theta, grad, m, lr, beta1, beta2, weight_decay):
    c = beta1 * m + (1 - beta1) * grad               # c_t, from the old m
    theta = theta - lr * (c.sign() + weight_decay * theta)
    return theta, beta2 * m + (1 - beta2) * grad


def lion_no_sign(theta, grad, m, lr, beta1, beta2, weight_decay):
    c = beta1 * m + (1 - beta1) * grad
    return theta - lr * (c + weight_decay * theta), beta2 * m + (1 - beta2) * grad


def signed_momentum_step(theta, grad, m, lr, beta1, beta2, weight_decay):
    m = beta2 * m + (1 - beta2) * grad               # the buffer first: signed momentum, not Lion
    return theta - lr * (m.sign() + weight_decay * theta), m


SOLUTIONS = {
    "mom-ex-implement": momentum_step,
    "nag-ex-implement": nesterov_step,
    "adagrad-ex-implement": adagrad_step,
    "rmsprop-ex-implement": rmsprop_step,
    "rmsprop-ex-bias": rmsprop_bc_step,
    "adadelta-ex-implement": adadelta_step,
    "adam-ex-implement": adam_step,
    "adam-ex-adamw": adamw_step,
    "reg-ex-weight-decay": sgd_weight_decay_step,
    "lr-ex-step-decay": step_decay,
    "lr-ex-cosine": cosine_schedule,
    "lr-ex-restarts": cosine_restarts,
    "init-ex-xavier-uniform": xavier_uniform,
    "init-ex-he-normal": he_normal,
    "reg-ex-l1-penalty": l1_penalty,
    "reg-ex-l1grad": l1_grad,
    "reg-ex-l2-penalty": l2_penalty,
    "early-ex-patience": stopping_epochs,
    "reg-ex-momentum": sgd_decoupled_step,
    "dropout-ex-implement": my_dropout,
    "hp-ex-sampler": my_log_uniform,
    "cost-ex-foreach-adam": foreach_adam,
    "newton-ex-power": top_eigenvalue,
    "lr-ex-clip-by-hand": clip_by_norm,
    "lr-ex-clip-value": clip_by_value,
    "lb-ex-trust-ratio": trust_ratio,
    "sf-ex-step": sf_sgd_step,
    "muon-ex-newton-schulz": orthogonalize,
    "mem-ex-lion": lion_step,
    "av-ex-radam": radam_step,
}


# --------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------

def test_every_exercise_has_a_solution_here():
    assert set(SOLUTIONS) == set(EXERCISES)


@pytest.mark.parametrize("label", sorted(EXERCISES))
def test_registry_entry(label):
    entry = EXERCISES[label]
    assert entry.label == label
    assert entry.name.startswith("check_") and entry.name in checks.__all__
    assert getattr(checks, entry.name) is entry.check
    assert entry.signature.startswith(SOLUTIONS[label].__name__ + "(")
    assert 1 <= entry.difficulty <= 3 and 1 <= entry.minutes <= 60
    assert entry.task and entry.task.endswith(".")
    assert label.split("-ex-")[0] in {"mom", "nag", "adagrad", "rmsprop", "adadelta", "adam", "reg",
                                      "lr", "init", "early",
                                      "dropout", "hp", "cost", "newton", "sf", "lb", "av", "mem", "muon"}
    assert entry.check.__doc__
    assert (Path(__file__).parents[1] / "chapters" / f"{entry.chapter}.ipynb").exists()


def test_run_check_by_label():
    assert checks.run_check("adam-ex-implement", adam_step).passed
    with pytest.raises(KeyError, match="no check"):
        checks.run_check("no-such-exercise", adam_step)


# --------------------------------------------------------------------------------------
# Correct solutions pass
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("label", sorted(SOLUTIONS))
def test_accepts_the_correct_solution(label):
    result = EXERCISES[label].check(SOLUTIONS[label])
    assert isinstance(result, CheckResult)
    assert result.passed, result.message
    assert result and "correct" in result.message
    assert result.name == EXERCISES[label].name
    assert result.raise_for_failure() is result


def _in_place_adam(theta, grad, m, v, t, lr, beta1, beta2, eps):
    # an in-place solution (like codebase.optim's) is fine too, as long as it returns the tensors
    m.mul_(beta1).add_(grad, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = (v / (1 - beta2 ** t)).sqrt_().add_(eps)
    theta.addcdiv_(m, denom, value=-lr / (1 - beta1 ** t))
    return theta, m, v


def test_in_place_solutions_pass():
    assert checks.check_adam_step(_in_place_adam).passed


def test_adamw_from_codebase_adam_update_passes():
    # the adam-ex-adamw exercise asks for AdamW built from adam_update and one tensor operation
    from codebase.optim import adam_update

    def adamw_by_hand(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
        theta.mul_(1 - lr * weight_decay)
        adam_update(theta, grad, m, v, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
        return theta, m, v
    assert checks.check_adamw_step(adamw_by_hand).passed


def test_penalty_without_the_sum_is_explained():
    result = checks.check_l2_penalty(lambda w, lam: lam / 2 * w ** 2)
    assert not result and "shape" in result.message and ".sum()" in result.hint


def test_parameters_matched_by_name_or_position():
    # other names, same order: called positionally
    def renamed(params, g, buf, alpha, momentum):
        buf = momentum * buf + g
        return params - alpha * buf, buf
    assert checks.check_momentum_step(renamed).passed

    # the book's names in another order: called by name
    def reordered(beta, lr, m, grad, theta):
        return momentum_step(theta, grad, m, lr, beta)
    assert checks.check_momentum_step(reordered).passed

    # extra optional parameters are fine, extra required ones are reported
    def optional(theta, grad, m, lr, beta, dampening=0.0):
        return momentum_step(theta, grad, m, lr, beta)
    assert checks.check_momentum_step(optional).passed

    def too_few(theta, grad, lr):
        return theta - lr * grad
    result = checks.check_momentum_step(too_few)
    assert not result and "momentum_step(theta, grad, m, lr, beta)" in result.message


def test_numpy_outputs_accepted():
    def numpy_l1_grad(w, lam):
        return lam * torch.sign(w).numpy()
    assert checks.check_l1_subgradient(numpy_l1_grad).passed


def test_tensor_and_numpy_numbers_accepted_from_schedules():
    import numpy as np
    assert checks.check_step_decay(lambda k, lr0, gamma, K: torch.tensor(step_decay(k, lr0, gamma, K))).passed
    assert checks.check_step_decay(lambda k, lr0, gamma, K: np.float64(step_decay(k, lr0, gamma, K))).passed


def test_dropout_with_another_random_stream_passes():
    result = checks.check_dropout(dropout_by_rand)
    assert result.passed and "in distribution" in result.message
    assert "same mask as torch.nn.functional.dropout" in checks.check_dropout(my_dropout).message


def test_clip_by_norm_accepts_torchs_small_constant():
    def torch_style(g, c):
        return g * min(1.0, c / (float(g.norm()) + 1e-6))
    assert checks.check_clip_by_norm(torch_style).passed


# --------------------------------------------------------------------------------------
# Typical wrong answers fail with the specific hint
# --------------------------------------------------------------------------------------

def _adam_parts(grad, m, v, beta1, beta2):
    return beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad ** 2


def adam_eps_inside(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m, v = _adam_parts(grad, m, v, beta1, beta2)
    return theta - lr * (m / (1 - beta1 ** t)) / torch.sqrt(v / (1 - beta2 ** t) + eps), m, v


def adam_no_bias_correction(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m, v = _adam_parts(grad, m, v, beta1, beta2)
    return theta - lr * m / (torch.sqrt(v) + eps), m, v


def adam_no_bias_correction_v(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m, v = _adam_parts(grad, m, v, beta1, beta2)
    return theta - lr * (m / (1 - beta1 ** t)) / (torch.sqrt(v) + eps), m, v


def adam_t_plus_one(theta, grad, m, v, t, lr, beta1, beta2, eps):
    return adam_step(theta, grad, m, v, t + 1, lr, beta1, beta2, eps)[0], *_adam_parts(grad, m, v, beta1, beta2)


def adam_t_minus_one(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m, v = _adam_parts(grad, m, v, beta1, beta2)
    return theta - lr * (m / (1 - beta1 ** (t - 1))) / (torch.sqrt(v / (1 - beta2 ** (t - 1))) + eps), m, v


def adam_sign(theta, grad, m, v, t, lr, beta1, beta2, eps):
    new, m, v = adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)
    return 2 * theta - new, m, v


def adam_paper_eps(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m, v = _adam_parts(grad, m, v, beta1, beta2)
    lr_t = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return theta - lr_t * m / (torch.sqrt(v) + eps), m, v


def adam_swapped_betas(theta, grad, m, v, t, lr, beta1, beta2, eps):
    return adam_step(theta, grad, m, v, t, lr, beta2, beta1, eps)


def adamw_l2(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    return adam_step(theta, grad + weight_decay * theta, m, v, t, lr, beta1, beta2, eps)


def adamw_no_lr(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    return adam_step(theta * (1 - weight_decay), grad, m, v, t, lr, beta1, beta2, eps)


def adamw_decay_after(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    theta, m, v = adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)
    return theta * (1 - lr * weight_decay), m, v


def adamw_no_decay(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    return adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)


def momentum_ema(theta, grad, m, lr, beta):
    m = beta * m + (1 - beta) * grad
    return theta - lr * m, m


def momentum_lr_inside(theta, grad, m, lr, beta):
    m = beta * m + lr * grad
    return theta - m, m


def momentum_sign(theta, grad, m, lr, beta):
    m = beta * m + grad
    return theta + lr * m, m


def momentum_old_buffer(theta, grad, m, lr, beta):
    return theta - lr * m, beta * m + grad


def nesterov_as_heavy_ball(theta, grad, m, lr, beta):
    return momentum_step(theta, grad, m, lr, beta)


def nesterov_old_buffer(theta, grad, m, lr, beta):
    return theta - lr * (grad + beta * m), beta * m + grad


def nesterov_no_beta(theta, grad, m, lr, beta):
    m = beta * m + grad
    return theta - lr * (grad + m), m


def adagrad_eps_inside(theta, grad, s, lr, eps):
    s = s + grad ** 2
    return theta - lr * grad / torch.sqrt(s + eps), s


def adagrad_old_sum(theta, grad, s, lr, eps):
    return theta - lr * grad / (torch.sqrt(s) + eps), s + grad ** 2


def adagrad_no_square(theta, grad, s, lr, eps):
    s = s + grad
    return theta - lr * grad / (torch.sqrt(s) + eps), s


def rmsprop_eps_inside(theta, grad, v, lr, rho, eps):
    v = rho * v + (1 - rho) * grad ** 2
    return theta - lr * grad / torch.sqrt(v + eps), v


def rmsprop_swapped_rho(theta, grad, v, lr, rho, eps):
    v = (1 - rho) * v + rho * grad ** 2
    return theta - lr * grad / (torch.sqrt(v) + eps), v


def rmsprop_no_sqrt(theta, grad, v, lr, rho, eps):
    v = rho * v + (1 - rho) * grad ** 2
    return theta - lr * grad / (v + eps), v


def rmsprop_bc_missing(theta, grad, v, t, lr, rho, eps):
    return rmsprop_step(theta, grad, v, lr, rho, eps)


def rmsprop_bc_t_plus_one(theta, grad, v, t, lr, rho, eps):
    return rmsprop_bc_step(theta, grad, v, t + 1, lr, rho, eps)


def rmsprop_bc_t_minus_one(theta, grad, v, t, lr, rho, eps):
    v = rho * v + (1 - rho) * grad ** 2
    return theta - lr * grad / (torch.sqrt(v / (1 - rho ** (t - 1))) + eps), v


def adadelta_eps_outside(theta, grad, v, u, lr, rho, eps):
    v = rho * v + (1 - rho) * grad ** 2
    delta = (torch.sqrt(u) + eps) / (torch.sqrt(v) + eps) * grad
    return theta - lr * delta, v, rho * u + (1 - rho) * delta ** 2


def adadelta_u_from_grad(theta, grad, v, u, lr, rho, eps):
    v = rho * v + (1 - rho) * grad ** 2
    delta = torch.sqrt(u + eps) / torch.sqrt(v + eps) * grad
    return theta - lr * delta, v, rho * u + (1 - rho) * grad ** 2


def weight_decay_on_grad(theta, grad, lr, weight_decay):
    return theta - lr * (grad + weight_decay * grad)


def weight_decay_without_lr(theta, grad, lr, weight_decay):
    return theta - lr * grad - weight_decay * theta


def weight_decay_wrong_sign(theta, grad, lr, weight_decay):
    return theta - lr * (grad - weight_decay * theta)


def step_decay_from_one(k, lr0, gamma, K):
    return lr0 * gamma ** ((k + 1) // K)


def step_decay_late(k, lr0, gamma, K):
    return lr0 * gamma ** (max(k - 1, 0) // K)


def step_decay_smooth(k, lr0, gamma, K):
    return lr0 * gamma ** (k / K)


def cosine_from_one(k, lr0, T, lr_min):
    return cosine_schedule(k + 1, lr0, T, lr_min)


def cosine_period_minus_one(k, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * min(k, T - 1) / (T - 1))) / 2


def cosine_unclamped(k, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * k / T)) / 2


def cosine_no_min(k, lr0, T, lr_min):
    return lr0 * (1 + math.cos(math.pi * min(k, T) / T)) / 2


def restarts_late(k, lr0, T0, T_mult):
    start, length = 0, T0
    while k > start + length:
        start, length = start + length + 1, length * T_mult
    return lr0 * (1 + math.cos(math.pi * (k - start) / length)) / 2


def restarts_fixed_length(k, lr0, T0, T_mult):
    return lr0 * (1 + math.cos(math.pi * (k % T0) / T0)) / 2


def restarts_wrong_starts(k, lr0, T0, T_mult):
    # restarts at T0 * T_mult**i instead of after the sum of the previous cycles
    if T_mult == 1:
        return cosine_restarts(k, lr0, T0, T_mult)
    i = 0
    while k >= T0 * T_mult ** i:
        i += 1
    start = 0 if i == 0 else T0 * T_mult ** (i - 1)
    return lr0 * (1 + math.cos(math.pi * (k - start) / (T0 * T_mult ** i))) / 2


def xavier_std_as_bound(n_in, n_out, generator):
    return _uniform(n_in, n_out, math.sqrt(2 / (n_in + n_out)), generator)


def xavier_uniform_but_normal(n_in, n_out, generator):
    return xavier_normal(n_in, n_out, generator)


def xavier_rand_not_centred(n_in, n_out, generator):
    return torch.rand(n_out, n_in, generator=generator) * math.sqrt(6 / (n_in + n_out))


def xavier_ignores_generator(n_in, n_out, generator):
    return _uniform(n_in, n_out, math.sqrt(6 / (n_in + n_out)), None)


def xavier_transposed(n_in, n_out, generator):
    return xavier_uniform(n_in, n_out, generator).T


def xavier_lecun(n_in, n_out, generator):
    return _uniform(n_in, n_out, math.sqrt(3 / n_in), generator)


def he_fan_out(n_in, n_out, generator):
    return torch.randn(n_out, n_in, generator=generator) * math.sqrt(2 / n_out)


def he_no_two(n_in, n_out, generator):
    return torch.randn(n_out, n_in, generator=generator) * math.sqrt(1 / n_in)


def l1_no_abs(w, lam):
    return lam * w.sum()


def l1_mean(w, lam):
    return lam * w.abs().mean()


def l1_squares(w, lam):
    return lam * (w ** 2).sum()


def l1_not_differentiable(w, lam):
    return torch.tensor(lam * float(w.detach().abs().sum()), dtype=w.dtype)


def l1_grad_nan_at_zero(w, lam):
    return lam * w / w.abs()


def l1_grad_one_at_zero(w, lam):
    return torch.where(w >= 0, torch.full_like(w, lam), torch.full_like(w, -lam))


def l1_grad_l2(w, lam):
    return lam * w


def l1_grad_sign(w, lam):
    return -lam * torch.sign(w)


def l2_no_half(w, lam):
    return lam * (w ** 2).sum()


def l2_norm(w, lam):
    return lam / 2 * w.norm()


def _patience_rule(improves, fires, start=1, end=None):
    def rule(metrics, patience, min_delta):
        best, previous, best_epoch, waited = math.inf, math.inf, None, 0
        for epoch, value in enumerate(metrics, start=start):
            if improves(value, best, previous, min_delta):
                best, best_epoch, waited = value, epoch, 0
            else:
                waited += 1
            previous = value
            if fires(waited, patience):
                return best_epoch, epoch
        return best_epoch, end
    return rule


stop_late = _patience_rule(lambda v, b, p, d: v < b - d, lambda w, pat: w > pat)
stop_early = _patience_rule(lambda v, b, p, d: v < b - d, lambda w, pat: w + 1 >= pat)
stop_delta_wrong_way = _patience_rule(lambda v, b, p, d: v < b + d, lambda w, pat: w >= pat)
stop_vs_previous = _patience_rule(lambda v, b, p, d: v < p - d, lambda w, pat: w >= pat)
stop_ties_improve = _patience_rule(lambda v, b, p, d: v <= b - d, lambda w, pat: w >= pat)
stop_from_zero = _patience_rule(lambda v, b, p, d: v < b - d, lambda w, pat: w >= pat, start=0)


def stop_last_epoch_not_none(metrics, patience, min_delta):
    best, stop = stopping_epochs(metrics, patience, min_delta)
    return best, len(metrics) if stop is None else stop


def sgdw_coupled(w, g, m, *, lr, beta, lam):
    m = beta * m + g + lam * w
    return w - lr * m, m


def sgdw_no_lr(w, g, m, *, lr, beta, lam):
    m = beta * m + g
    return (1 - lam) * w - lr * m, m


def sgdw_decay_after(w, g, m, *, lr, beta, lam):
    m = beta * m + g
    return (w - lr * m) * (1 - lr * lam), m


def dropout_not_scaled(h, p, generator=None):
    return h * torch.empty_like(h).bernoulli_(1 - p, generator=generator)


def dropout_keep_p(h, p, generator=None):
    return h * torch.empty_like(h).bernoulli_(p, generator=generator) / (1 - p)


def dropout_times_keep(h, p, generator=None):
    return h * torch.empty_like(h).bernoulli_(1 - p, generator=generator) * (1 - p)


def dropout_global_rng(h, p, generator=None):
    return h * torch.empty_like(h).bernoulli_(1 - p) / (1 - p)


def dropout_one_mask_per_column(h, p, generator=None):
    mask = torch.empty(h.shape[-1], dtype=h.dtype).bernoulli_(1 - p, generator=generator)
    return h * mask / (1 - p)


def dropout_by_rand(h, p, generator=None):
    # a correct dropout that uses the random stream differently from bernoulli_
    return h * (torch.rand(h.shape, generator=generator, dtype=h.dtype) >= p) / (1 - p)


def log_uniform_plain_uniform(low, high, size, rng):
    return rng.uniform(low, high, size)


def log_uniform_returns_logs(low, high, size, rng):
    return rng.uniform(np.log(low), np.log(high), size)


def log_uniform_mixed_bases(low, high, size, rng):
    return 10 ** rng.uniform(np.log(low), np.log(high), size)


def log_uniform_global_rng(low, high, size, rng):
    return np.exp(np.random.uniform(np.log(low), np.log(high), size))


def foreach_adam_eps_inside(params, grads, ms, vs, t, *, lr, beta1, beta2, eps):
    for p, g, m, v in zip(params, grads, ms, vs):
        new_p, new_m, new_v = adam_eps_inside(p, g, m, v, t, lr, beta1, beta2, eps)
        p.copy_(new_p), m.copy_(new_m), v.copy_(new_v)


def foreach_adam_no_bias_correction(params, grads, ms, vs, t, *, lr, beta1, beta2, eps):
    for p, g, m, v in zip(params, grads, ms, vs):
        new_p, new_m, new_v = adam_no_bias_correction(p, g, m, v, t, lr, beta1, beta2, eps)
        p.copy_(new_p), m.copy_(new_m), v.copy_(new_v)


def foreach_adam_replaces(params, grads, ms, vs, t, *, lr, beta1, beta2, eps):
    for i in range(len(params)):
        params[i], ms[i], vs[i] = adam_step(params[i], grads[i], ms[i], vs[i], t, lr, beta1, beta2, eps)


def top_eigenvalue_norm(loss_fn, theta, iters):
    H = torch.autograd.functional.hessian(loss_fn, theta)
    v = torch.ones_like(theta)
    for _ in range(iters):
        v = H @ v / torch.linalg.vector_norm(H @ v)
    return float(torch.linalg.vector_norm(H @ v))


def top_eigenvalue_unnormalized(loss_fn, theta, iters):
    H = torch.autograd.functional.hessian(loss_fn, theta)
    v = torch.ones_like(theta)
    for _ in range(iters):
        v = H @ v
    return float(v @ H @ v)


def clip_always(g, c):
    return g * c / g.norm()


def clip_norm_by_value(g, c):
    return g.clamp(-c, c)


def clip_norm_max_entry(g, c):
    return g * min(1.0, c / float(g.abs().max()))


def clip_value_by_norm(g, c):
    return clip_by_norm(g, c)


def clip_value_one_sided(g, c):
    return torch.clamp(g, max=c)


WRONG = [
    ("mom-ex-implement", momentum_ema, "moving-average form"),
    ("mom-ex-implement", momentum_lr_inside, "learning rate inside the buffer"),
    ("mom-ex-implement", momentum_sign, "sign error"),
    ("mom-ex-implement", momentum_old_buffer, "old buffer"),
    ("nag-ex-implement", nesterov_as_heavy_ball, "heavy-ball step"),
    ("nag-ex-implement", nesterov_old_buffer, "heavy-ball step"),
    ("nag-ex-implement", nesterov_no_beta, "forget beta in the step"),
    ("adagrad-ex-implement", adagrad_eps_inside, "eps inside the square root"),
    ("adagrad-ex-implement", adagrad_old_sum, "old sum s_{t-1}"),
    ("adagrad-ex-implement", adagrad_no_square, "grad instead of grad**2"),
    ("rmsprop-ex-implement", rmsprop_eps_inside, "eps inside the square root"),
    ("rmsprop-ex-implement", rmsprop_swapped_rho, "swap rho and 1 - rho"),
    ("rmsprop-ex-implement", rmsprop_no_sqrt, "instead of its square root"),
    ("rmsprop-ex-bias", rmsprop_bc_missing, "leave out the bias correction"),
    ("rmsprop-ex-bias", rmsprop_bc_t_plus_one, "t + 1"),
    ("rmsprop-ex-bias", rmsprop_bc_t_minus_one, "t - 1"),
    ("adadelta-ex-implement", adadelta_eps_outside, "eps outside the square roots"),
    ("adadelta-ex-implement", adadelta_u_from_grad, "squared gradients into u"),
    ("adam-ex-implement", adam_eps_inside, "eps inside the square root"),
    ("adam-ex-implement", adam_no_bias_correction, "leave out the bias correction:"),
    ("adam-ex-implement", adam_no_bias_correction_v, "bias correction of v"),
    ("adam-ex-implement", adam_t_plus_one, "t + 1 in the bias correction"),
    ("adam-ex-implement", adam_t_minus_one, "t - 1 in the bias correction"),
    ("adam-ex-implement", adam_sign, "sign error"),
    ("adam-ex-implement", adam_paper_eps, "reordered form"),
    ("adam-ex-implement", adam_swapped_betas, "swap beta1 and beta2"),
    ("adam-ex-adamw", adamw_l2, "L2 penalty inside Adam"),
    ("adam-ex-adamw", adamw_no_lr, "(1 - weight_decay) instead of (1 - lr * weight_decay)"),
    ("adam-ex-adamw", adamw_decay_after, "after Adam's step"),
    ("adam-ex-adamw", adamw_no_decay, "leave out the weight decay"),
    ("reg-ex-weight-decay", weight_decay_on_grad, "weight_decay * grad"),
    ("reg-ex-weight-decay", weight_decay_without_lr, "without the learning rate"),
    ("reg-ex-weight-decay", weight_decay_wrong_sign, "pulls theta towards 0"),
    ("lr-ex-step-decay", step_decay_from_one, "one step too early"),
    ("lr-ex-step-decay", step_decay_late, "one step too late"),
    ("lr-ex-step-decay", step_decay_smooth, "integer division"),
    ("lr-ex-cosine", cosine_from_one, "k + 1"),
    ("lr-ex-cosine", cosine_period_minus_one, "T - 1"),
    ("lr-ex-cosine", cosine_unclamped, "climb back up"),
    ("lr-ex-cosine", cosine_no_min, "leave out lr_min"),
    ("lr-ex-restarts", restarts_late, "restart one step late"),
    ("lr-ex-restarts", restarts_fixed_length, "T_mult times longer"),
    ("lr-ex-restarts", restarts_wrong_starts, "sum of the previous lengths"),
    ("init-ex-xavier-uniform", xavier_std_as_bound, "as the uniform bound"),
    ("init-ex-xavier-uniform", xavier_uniform_but_normal, "not uniform"),
    ("init-ex-xavier-uniform", xavier_rand_not_centred, "torch.rand draws from [0, 1)"),
    ("init-ex-xavier-uniform", xavier_ignores_generator, "does not draw its numbers from `generator`"),
    ("init-ex-xavier-uniform", xavier_transposed, "(n_out, n_in)"),
    ("init-ex-xavier-uniform", xavier_lecun, "use only n_in"),
    ("init-ex-he-normal", he_fan_out, "swap fan_in and fan_out"),
    ("init-ex-he-normal", he_no_two, "factor 2"),
    ("reg-ex-l1-penalty", l1_no_abs, "without the absolute value"),
    ("reg-ex-l1-penalty", l1_mean, "mean of |w|"),
    ("reg-ex-l1-penalty", l1_squares, "that is the L2 penalty"),
    ("reg-ex-l1-penalty", l1_not_differentiable, "not connected to w for autograd"),
    ("reg-ex-l1grad", l1_grad_nan_at_zero, "0/0 = NaN at w = 0"),
    ("reg-ex-l1grad", l1_grad_one_at_zero, "+lam at w = 0"),
    ("reg-ex-l1grad", l1_grad_l2, "gradient of the L2 penalty"),
    ("reg-ex-l1grad", l1_grad_sign, "flip the sign"),
    ("reg-ex-l2-penalty", l2_no_half, "leave out the 1/2"),
    ("reg-ex-l2-penalty", l2_norm, "instead of the squared norm"),
    ("early-ex-patience", stop_late, "one epoch late"),
    ("early-ex-patience", stop_early, "one epoch early"),
    ("early-ex-patience", stop_delta_wrong_way, "below best + min_delta"),
    ("early-ex-patience", stop_vs_previous, "previous epoch"),
    ("early-ex-patience", stop_ties_improve, "equal value as an improvement"),
    ("early-ex-patience", stop_from_zero, "count epochs from 0"),
    ("early-ex-patience", stop_last_epoch_not_none, "return None as the stop epoch"),
    ("reg-ex-momentum", sgdw_coupled, "SGD(weight_decay=lam)"),
    ("reg-ex-momentum", sgdw_no_lr, "(1 - lam) instead of (1 - lr * lam)"),
    ("reg-ex-momentum", sgdw_decay_after, "after the momentum step"),
    ("dropout-ex-implement", dropout_not_scaled, "kept the survivors unchanged"),
    ("dropout-ex-implement", dropout_keep_p, "probability of *dropping*"),
    ("dropout-ex-implement", dropout_times_keep, "multiplied by 1 - p"),
    ("dropout-ex-implement", dropout_global_rng, "does not draw its mask from `generator`"),
    ("dropout-ex-implement", dropout_one_mask_per_column, "same zero pattern"),
    ("hp-ex-sampler", log_uniform_plain_uniform, "uniform on [low, high]"),
    ("hp-ex-sampler", log_uniform_returns_logs, "returned the logarithms"),
    ("hp-ex-sampler", log_uniform_mixed_bases, "mixed bases"),
    ("hp-ex-sampler", log_uniform_global_rng, "does not use `rng`"),
    ("cost-ex-foreach-adam", foreach_adam_eps_inside, "eps inside the square root"),
    ("cost-ex-foreach-adam", foreach_adam_no_bias_correction, "leave out the bias correction:"),
    ("cost-ex-foreach-adam", foreach_adam_replaces, "replaced the tensors of the list"),
    ("newton-ex-power", top_eigenvalue_norm, "loses the sign"),
    ("newton-ex-power", top_eigenvalue_unnormalized, "normalize v"),
    ("lr-ex-clip-by-hand", clip_always, "already shorter than c"),
    ("lr-ex-clip-by-hand", clip_norm_by_value, "clipping by value"),
    ("lr-ex-clip-by-hand", clip_norm_max_entry, "largest entry"),
    ("lr-ex-clip-value", clip_value_by_norm, "clipping by norm"),
    ("lr-ex-clip-value", clip_value_one_sided, "only from above"),
    ("sf-ex-step", lambda y, z, grad, t, lr, beta: sf_sgd_step(y, z, grad, t + 1, lr, beta), "c_t = 1/(t + 1)"),
    ("sf-ex-step", lambda y, z, grad, t, lr, beta: sf_sgd_step(y, z, grad, t, lr, 1 - beta), "swap beta"),
    ("muon-ex-newton-schulz", orthogonalize_swapped, "swap b and c"),
    ("muon-ex-newton-schulz", orthogonalize_one_less, "one iteration too few"),
    ("mem-ex-lion", signed_momentum_step, "signed momentum"),
    ("mem-ex-lion", lion_no_sign, "step by c_t itself"),
    ("av-ex-radam", lambda theta, grad, m, v, t, lr, beta1, beta2, eps:
        radam_step(theta, grad, m, v, t, lr, beta1, beta2, eps, threshold=4.0), "rho_t > 4"),
    ("av-ex-radam", lambda theta, grad, m, v, t, lr, beta1, beta2, eps:
        radam_step(theta, grad, m, v, t, lr, beta1, beta2, eps, eps_adam=True), "as Adam does"),
    ("lb-ex-trust-ratio", lambda theta, g, eta, weight_decay: trust_ratio(theta, g, eta, 0.0)
        if weight_decay else trust_ratio(theta, g, eta, weight_decay), "denominator"),
    ("lb-ex-trust-ratio", lambda theta, g, eta, weight_decay:
        float(eta * g.norm() / (theta.norm() + weight_decay * g.norm())) if theta.norm() > 0 else 1.0, "r = eta"),
]


@pytest.mark.parametrize("label, wrong, hint", WRONG, ids=[getattr(w[1], "__name__", "rule") + f"-{i}"
                                                            for i, w in enumerate(WRONG)])
def test_rejects_typical_mistake_with_its_hint(label, wrong, hint):
    result = EXERCISES[label].check(wrong)
    assert not result.passed
    assert hint in result.message, result.message
    assert result.hint and result.hint in result.message
    with pytest.raises(CheckFailed):
        result.raise_for_failure()


def test_every_check_has_at_least_two_wrong_answers_tested():
    counts = {label: 0 for label in EXERCISES}
    for label, _, _ in WRONG:
        counts[label] += 1
    assert min(counts.values()) >= 2, counts


def test_failure_message_locates_the_first_difference():
    message = checks.check_adam_step(adam_no_bias_correction).message
    assert "First difference: theta[0] at step t = 1 of case 1" in message
    assert "expected 0.702331" in message and "got      0.729942" in message
    assert "inputs at that element: theta = " in message


def test_state_mistake_found_at_a_later_step():
    # right at step 1 (m_0 = 0), wrong from step 2 on: the check must go on stepping
    def forgets_beta(theta, grad, m, lr, beta):
        m = m + grad
        return theta - lr * m, m
    result = checks.check_momentum_step(forgets_beta)
    assert not result and "at step t = 2" in result.message
    assert "Steps 1 to 1 of this case were right" in result.message
    assert "forget beta in the buffer" in result.message


def test_unknown_mistake_gets_the_formula():
    def odd(theta, grad, m, v, t, lr, beta1, beta2, eps):
        theta, m, v = adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)
        return theta + 0.001, m, v
    result = checks.check_adam_step(odd)
    assert not result and "theta must be theta - lr * m_hat / (sqrt(v_hat) + eps)" in result.message


def test_float32_result_is_compared_at_float32_precision():
    def float32_momentum(theta, grad, m, lr, beta):
        theta, m = momentum_step(theta, grad, m, lr, beta)
        return theta.float(), m
    result = checks.check_momentum_step(float32_momentum)
    assert result and "compared at float32 precision" in result.message
    assert "torch.tensor(0.9) is float32" in result.message

    def float32_and_wrong(theta, grad, m, lr, beta):
        theta, m = momentum_ema(theta, grad, m, lr, beta)
        return theta.float(), m.float()
    result = checks.check_momentum_step(float32_and_wrong)
    assert not result and "(your result is float32)" in result.message
    assert "torch.tensor(0.9) is float32" in result.hint and "moving-average form" in result.hint


def test_zero_division_gets_a_step_count_hint():
    def python_scalars(theta, grad, m, v, t, lr, beta1, beta2, eps):
        c = lr / (1 - beta1 ** (t - 1))   # ZeroDivisionError at t = 1
        return adam_step(theta, grad, m, v, t, c, beta1, beta2, eps)
    result = checks.check_adam_step(python_scalars)
    assert not result and "ZeroDivisionError" in result.message and "t starts at 1" in result.message


def test_math_on_tensors_gets_a_hint():
    def uses_math(theta, grad, s, lr, eps):
        s = s + grad ** 2
        return theta - lr * grad / (math.sqrt(s) + eps), s
    result = checks.check_adagrad_step(uses_math)
    assert not result and "your function raised" in result.message and "torch.sqrt" in result.hint


# --------------------------------------------------------------------------------------
# Bad input: a failed result, never an exception
# --------------------------------------------------------------------------------------

LABELS = sorted(SOLUTIONS)
RETURNING = [lb for lb in LABELS if lb != "cost-ex-foreach-adam"]   # foreach_adam works in place


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("thing", [3, None, "adam_step", torch.zeros(3), (1, 2)])
def test_not_a_function(label, thing):
    result = EXERCISES[label].check(thing)
    assert not result.passed
    assert "needs a function" in result.message


def test_passing_the_result_of_a_call_is_explained():
    result = checks.check_step_decay(step_decay(0, 0.1, 0.5, 10))
    assert "pass the function itself, check_step_decay(step_decay)" in result.message


@pytest.mark.parametrize("label", LABELS)
def test_function_that_raises(label):
    def broken(*args, **kwargs):
        raise ValueError("something odd 42")
    result = EXERCISES[label].check(broken)
    assert not result.passed
    assert "raised ValueError" in result.message and "something odd 42" in result.message
    assert "line " in result.message  # where in the student's code


@pytest.mark.parametrize("label", RETURNING)
def test_function_that_returns_none(label):
    result = EXERCISES[label].check(lambda *args, **kwargs: None)
    assert not result.passed
    assert "None" in result.message or "return" in result.message


def _corrupt(solution, how):
    """The solution with its output's shape/type broken (``'shape'``) or NaN (``'nan'``)."""
    @functools.wraps(solution)  # keeps the signature, so that the check calls it by name
    def corrupted(*args, **kwargs):
        out = solution(*args, **kwargs)
        first = out[0] if isinstance(out, tuple) else out
        if isinstance(first, bool):
            bad = "yes" if how == "shape" else None
        elif isinstance(first, np.ndarray):
            bad = first[:-1] if how == "shape" else np.full_like(first, np.nan)
        elif isinstance(first, torch.Tensor):
            if how == "shape":
                bad = first.reshape(-1)[:-1] if first.numel() > 1 else torch.zeros(3, dtype=first.dtype)
            else:
                bad = torch.full_like(first, float("nan"))
        else:
            bad = [first, first] if how == "shape" else float("nan")
        return (bad, *out[1:]) if isinstance(out, tuple) else bad
    return corrupted


@pytest.mark.parametrize("label", RETURNING)
def test_wrong_shape_or_type(label):
    result = EXERCISES[label].check(_corrupt(SOLUTIONS[label], "shape"))
    assert not result.passed
    assert any(word in result.message for word in ("shape", "must return", "one number", "must be")), result.message


@pytest.mark.parametrize("label", [lb for lb in RETURNING if lb != "early-ex-patience"])
def test_nan_output(label):
    result = EXERCISES[label].check(_corrupt(SOLUTIONS[label], "nan"))
    assert not result.passed
    assert "NaN" in result.message, result.message


@pytest.mark.parametrize("label", ["mom-ex-implement", "adam-ex-implement", "lr-ex-cosine"])
def test_wrong_number_of_outputs(label):
    def one_too_many(*args):
        out = SOLUTIONS[label](*args)
        return (*out, 0) if isinstance(out, tuple) else (out, 0)
    result = EXERCISES[label].check(one_too_many)
    assert not result.passed


def test_foreach_adam_that_does_nothing_or_writes_nan():
    result = checks.check_foreach_adam(lambda params, grads, ms, vs, t, **hyper: None)
    assert not result and "First difference: params[0]" in result.message

    def writes_nan(params, grads, ms, vs, t, *, lr, beta1, beta2, eps):
        foreach_adam(params, grads, ms, vs, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
        params[1].fill_(float("nan"))
    result = checks.check_foreach_adam(writes_nan)
    assert not result and "params[1] contains NaN" in result.message


def test_top_eigenvalue_returning_the_vector():
    def returns_vector(loss_fn, theta, iters):
        return torch.ones_like(theta)
    result = checks.check_top_eigenvalue(returns_vector)
    assert not result and "one number" in result.message


def test_returns_only_theta():
    result = checks.check_adam_step(lambda *args: adam_step(*args)[0])
    assert not result and "must return 3 values: theta, m, v" in result.message


def test_a_bug_in_the_check_does_not_escape(monkeypatch):
    from codebase.checks import adam
    monkeypatch.setattr(adam._ADAM, "convert", lambda *args: 1 / 0)
    result = checks.check_adam_step(adam_step)
    assert not result and "could not finish" in result.message


@given(thing=st.one_of(st.integers(), st.floats(allow_nan=True), st.text(), st.none(), st.booleans(),
                       st.lists(st.integers(), max_size=3), st.dictionaries(st.text(), st.integers(), max_size=2)))
@settings(max_examples=25)
def test_any_non_callable_gives_a_failed_result(thing):
    for label in ("adam-ex-implement", "lr-ex-step-decay", "early-ex-patience"):
        result = EXERCISES[label].check(thing)
        assert isinstance(result, CheckResult) and not result.passed


@given(text=st.text(min_size=1, max_size=40).filter(lambda s: s.strip()))
@settings(max_examples=20)
def test_any_exception_message_is_reported(text):
    def broken(theta, grad, m, lr, beta):
        raise RuntimeError(text)
    result = checks.check_momentum_step(broken)
    assert not result.passed and "RuntimeError" in result.message and text in result.message


@given(rel=st.floats(min_value=1e-4, max_value=10.0), sign=st.sampled_from([-1.0, 1.0]))
@settings(max_examples=20)
def test_perturbed_solution_is_rejected(rel, sign):
    def perturbed(theta, grad, m, lr, beta):
        theta, m = momentum_step(theta, grad, m, lr, beta)
        return theta * (1 + sign * rel), m
    assert not checks.check_momentum_step(perturbed).passed


@given(rel=st.floats(min_value=0.0, max_value=1e-9))
@settings(max_examples=10)
def test_rounding_differences_are_accepted(rel):
    def rounded(theta, grad, m, lr, beta):
        theta, m = momentum_step(theta, grad, m, lr, beta)
        return theta * (1 + rel), m
    assert checks.check_momentum_step(rounded).passed


# --------------------------------------------------------------------------------------
# CheckResult
# --------------------------------------------------------------------------------------

def test_check_result_api():
    good = checks.check_l2_penalty(l2_penalty)
    bad = checks.check_l2_penalty(l2_no_half)
    assert bool(good) is True and bool(bad) is False
    assert str(bad) == bad.message == repr(bad)
    assert bad.name == "check_l2_penalty"
    assert issubclass(CheckFailed, AssertionError)
    with pytest.raises(AssertionError) as info:
        bad.raise_for_failure()
    assert str(info.value) == bad.message
    with pytest.raises(AssertionError):
        assert checks.check_l2_penalty(l2_no_half)
    assert good.raise_for_failure() is good


def test_check_result_html():
    good = checks.check_l2_penalty(l2_penalty)._repr_html_()
    bad = checks.check_l2_penalty(l2_no_half)._repr_html_()
    assert "#1a7f37" in good and "passed" in good and "Hint" not in good
    assert "#cf222e" in bad and "<b>Hint:</b>" in bad and "leave out the 1/2" in bad
    # the message is escaped: no raw tags from the student's values or code
    result = checks.check_momentum_step(lambda *a: (_ for _ in ()).throw(ValueError("<script>")))
    assert "<script>" not in result._repr_html_() and "&lt;script&gt;" in result._repr_html_()


def test_the_students_side_effects_stay_in_the_child_process():
    seen = []

    def records(theta, grad, m, lr, beta):
        seen.append(theta)
        theta.add_(1.0)    # in place, and wrong
        return theta, m
    assert not checks.check_momentum_step(records)
    assert seen == []      # the function ran in another process
    # the check's inputs are unchanged: the reference still passes
    assert checks.check_momentum_step(momentum_step).passed
