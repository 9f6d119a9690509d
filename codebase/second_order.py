"""Second-order ideas made concrete: the Hessian, Newton's step and Hessian-vector products.

Newton's method replaces the loss near ``theta`` by its second-order Taylor model
``L(theta) + g^T p + 1/2 p^T H p`` and jumps to the model's stationary point,
``theta - H^{-1} g``. This module computes the pieces with ``torch.autograd``:

- :func:`hvp`: the Hessian-vector product ``H v`` by double backpropagation
  (Pearlmutter's trick), at the cost of about two gradients and without forming ``H``.
- :func:`hessian`: the full ``d x d`` Hessian of a function of a flat vector, one row
  per backward pass through the gradient, so ``d`` passes and ``d^2`` numbers.
- :func:`newton_direction`: ``(H + lambda I)^{-1} g``, or the saddle-free
  ``(|H| + lambda I)^{-1} g`` that uses the absolute values of ``H``'s eigenvalues.
- :func:`newton_step`: one (damped, saddle-free) Newton step on a function.
- :func:`run_newton`: Newton's method on a 2-D ``codebase.surfaces.Surface``; it
  returns the same :class:`~codebase.surfaces.Trajectory` as
  :func:`codebase.surfaces.run_optimizer`, so paths of Newton and of first-order
  optimizers can be plotted together.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from ._checks import check_callable, check_flag, check_int, check_real
from .surface import Surface
from .surface_runs import Trajectory, record_step, start_point

__all__ = ["hvp", "hessian", "newton_direction", "newton_step", "run_newton"]


def _as_tensor_list(name, value):
    """Return ``(tensors, single)``: ``value`` as a list of tensors and whether it was one tensor."""
    if isinstance(value, torch.Tensor):
        return [value], True
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
        return list(value), False
    raise TypeError(f"{name} must be a tensor or a non-empty list of tensors, got {type(value).__name__}")


def _scalar_loss(loss_fn, *args):
    loss = loss_fn(*args)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(f"loss_fn must return a scalar tensor, got {type(loss).__name__} "
                         f"{tuple(getattr(loss, 'shape', ()))}")
    return loss.reshape(())


def hvp(loss_fn: Callable[[], torch.Tensor], params, v):
    """Return the Hessian-vector product ``H v`` of ``loss_fn`` with respect to ``params``.

    ``loss_fn()`` takes no arguments and returns the scalar loss computed from
    ``params`` (a tensor or a list of tensors that require grad), like the closure of
    ``torch.optim.LBFGS``. ``v`` has the structure of ``params`` (a tensor, or a list
    of tensors of the same shapes). The product is Pearlmutter's

        H v = d/dr  grad L(theta + r v)  at r = 0  =  grad (grad L(theta) . v),

    computed by two backward passes: the first builds ``g = grad L`` with a graph
    (``create_graph=True``), the second differentiates the scalar ``g . v``. ``H`` is
    never formed. The result has the structure of ``params``; parameters the loss
    does not depend on get zeros.
    """
    check_callable("loss_fn", loss_fn, ())
    theta, single = _as_tensor_list("params", params)
    vectors, v_single = _as_tensor_list("v", v)
    if v_single != single or len(vectors) != len(theta):
        raise ValueError(f"v must have the structure of params ({len(theta)} tensor(s)), got {len(vectors)}")
    for p, u in zip(theta, vectors):
        if not p.requires_grad:
            raise ValueError("params must require grad (call requires_grad_() first)")
        if u.shape != p.shape:
            raise ValueError(f"v must have the shapes of params, got {tuple(u.shape)} for {tuple(p.shape)}")
    loss = _scalar_loss(loss_fn)
    grads = torch.autograd.grad(loss, theta, create_graph=True, allow_unused=True)
    # g . v, summed over every parameter tensor; a parameter without gradient adds nothing.
    dot = sum((g * u.to(g.dtype)).sum() for g, u in zip(grads, vectors) if g is not None)
    if not isinstance(dot, torch.Tensor) or not dot.requires_grad:  # the loss is linear in params
        products = [torch.zeros_like(p) for p in theta]
    else:
        products = torch.autograd.grad(dot, theta, allow_unused=True)
        products = [torch.zeros_like(p) if h is None else h for p, h in zip(theta, products)]
    return products[0] if single else products


def _check_flat(theta):
    if not isinstance(theta, torch.Tensor):
        raise TypeError(f"theta must be a torch.Tensor, got {type(theta).__name__}")
    if theta.ndim != 1 or theta.numel() == 0 or not theta.is_floating_point():
        raise ValueError(f"theta must be a non-empty 1-D floating-point tensor, got shape "
                         f"{tuple(theta.shape)} and dtype {theta.dtype}")
    if not torch.isfinite(theta).all():
        raise ValueError("theta must be finite")
    return theta.detach().clone().requires_grad_(True)


def _gradient_and_hessian(fn, theta):
    point = _check_flat(theta)
    loss = _scalar_loss(fn, point)
    (g,) = torch.autograd.grad(loss, point, create_graph=True)
    d = point.numel()
    H = torch.zeros(d, d, dtype=point.dtype)
    if g.requires_grad:
        for i in range(d):
            # Row i of H is the gradient of g_i: the Hessian-vector product with the i-th unit vector.
            (row,) = torch.autograd.grad(g[i], point, retain_graph=True, allow_unused=True)
            if row is not None:
                H[i] = row
    return loss.detach(), g.detach(), H


def hessian(fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor) -> torch.Tensor:
    """Return the ``d x d`` Hessian ``H = grad^2 fn(theta)`` of a scalar function of a flat vector.

    ``fn`` maps a 1-D tensor of length ``d`` to a scalar tensor. The gradient is built
    once with a graph, and row ``i`` of ``H`` is the gradient of its ``i``-th entry
    (the Hessian-vector product with the unit vector ``e_i``): ``d`` backward passes
    and ``d^2`` stored numbers, which is why nobody forms ``H`` for a network. The
    result has ``theta``'s dtype and is symmetric up to rounding.
    """
    check_callable("fn", fn, ("theta",))
    return _gradient_and_hessian(fn, theta)[2]


def newton_direction(hessian: torch.Tensor, grad: torch.Tensor, damping: float = 0.0, *,
                     saddle_free: bool = False) -> torch.Tensor:
    """Return the Newton direction ``p`` that the step subtracts: ``theta_next = theta - p``.

    - ``saddle_free=False``: ``p = (H + lambda I)^{-1} g``, with ``lambda = damping``
      (``lambda = 0`` is the pure Newton step, ``lambda > 0`` the damped or
      Levenberg-Marquardt step). Solved with ``torch.linalg.solve``, never by inverting.
    - ``saddle_free=True``: ``p = (|H| + lambda I)^{-1} g``, where ``|H| = Q |Lambda| Q^T``
      replaces every eigenvalue of the symmetric ``H`` by its absolute value, so the
      step goes downhill along negative-curvature directions too (Dauphin et al., 2014).

    Raises ``ValueError`` when the matrix to solve with is singular.
    """
    if not isinstance(hessian, torch.Tensor) or not isinstance(grad, torch.Tensor):
        raise TypeError(f"hessian and grad must be tensors, got {type(hessian).__name__} and {type(grad).__name__}")
    if not hessian.is_floating_point() or hessian.dtype != grad.dtype:
        raise TypeError(f"hessian and grad must be floating-point tensors of one dtype, got {hessian.dtype} "
                        f"and {grad.dtype}")
    if grad.ndim != 1 or hessian.shape != (grad.numel(), grad.numel()):
        raise ValueError(f"hessian must have shape (d, d) and grad shape (d,), got {tuple(hessian.shape)} "
                         f"and {tuple(grad.shape)}")
    damping = check_real("damping", damping, low=0.0)
    if not math.isfinite(damping):
        raise ValueError(f"damping must be finite, got {damping!r}")
    check_flag("saddle_free", saddle_free)
    d = grad.numel()
    eye = torch.eye(d, dtype=hessian.dtype)
    if saddle_free:
        eigenvalues, Q = torch.linalg.eigh((hessian + hessian.T) / 2)
        scale = eigenvalues.abs() + damping
        if (scale == 0).any():
            raise ValueError("hessian has a zero eigenvalue: use damping > 0")
        return Q @ ((Q.T @ grad) / scale)
    try:
        return torch.linalg.solve(hessian + damping * eye, grad)
    except RuntimeError:  # torch.linalg.LinAlgError is a RuntimeError
        raise ValueError("hessian + damping * I is singular: use damping > 0") from None


def newton_step(fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, damping: float = 0.0, *,
                saddle_free: bool = False, lr: float = 1.0) -> torch.Tensor:
    """Return ``theta - lr * (H + lambda I)^{-1} g``: one Newton step on ``fn`` from ``theta``.

    ``fn`` maps a 1-D tensor to a scalar tensor; ``g`` and ``H`` are its gradient and
    Hessian at ``theta`` (see :func:`hessian`). ``damping`` is ``lambda`` and
    ``saddle_free`` uses ``|H|`` (see :func:`newton_direction`); ``lr`` (default 1,
    the full step) shortens the step. The result is a new tensor without a graph.
    On a quadratic with positive definite ``H`` one full undamped step lands exactly
    on the minimum (up to rounding).
    """
    check_callable("fn", fn, ("theta",))
    lr = check_real("lr", lr, low=0.0, low_open=True)
    _, g, H = _gradient_and_hessian(fn, theta)
    return theta.detach() - lr * newton_direction(H, g, damping, saddle_free=saddle_free)


def run_newton(surface, start=None, steps: int = 20, *, damping: float = 0.0, saddle_free: bool = False,
               adaptive: bool = False, lr: float = 1.0, diverge_above: float = 1e6):
    """Run Newton's method for ``steps`` steps on a 2-D ``surface`` and return its ``Trajectory``.

    Every step is :func:`newton_step` on ``surface.value_fn`` in float64 from the
    current point, starting at ``start`` (default: ``surface.start``). The result is
    a :class:`codebase.surfaces.Trajectory`, as from
    :func:`codebase.surfaces.run_optimizer`. A run that leaves the region
    ``|theta| <= diverge_above``, or produces a non-finite point, stops there with
    ``diverged=True``; so does a run whose matrix becomes singular.

    With ``adaptive=True`` the damping ``lambda`` (starting at ``damping > 0``) is
    adjusted as in Levenberg-Marquardt: a step that lowers ``f`` is taken and
    ``lambda`` is divided by 3; a step that does not is rejected (the point is
    repeated in the trajectory) and ``lambda`` is multiplied by 2. Every entry of the
    trajectory then costs one Hessian, and the loss never increases.
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface, got {type(surface).__name__}")
    steps = check_int("steps", steps, low=0)
    damping = check_real("damping", damping, low=0.0)
    if not math.isfinite(damping):
        raise ValueError(f"damping must be finite, got {damping!r}")
    check_flag("adaptive", adaptive)
    if adaptive and damping == 0.0:
        raise ValueError("damping must be > 0 with adaptive=True (it is the initial lambda)")
    lr = check_real("lr", lr, low=0.0, low_open=True)
    diverge_above = check_real("diverge_above", diverge_above, low=0.0, low_open=True)
    point = start_point(surface, start)

    points, losses, diverged = [point.clone()], [surface.value_fn(point).item()], False
    for _ in range(steps):
        try:
            trial = newton_step(surface.value_fn, point, damping, saddle_free=saddle_free, lr=lr)
        except ValueError:  # singular matrix: Newton's step is undefined here
            if not adaptive:
                diverged = True
                break
            trial = None
        if adaptive:
            # Levenberg-Marquardt: keep a step only if it lowers f, and trust the model more after it.
            improved = trial is not None and surface.value_fn(trial).item() < losses[-1]
            point, damping = (trial, damping / 3) if improved else (point, damping * 2)
        else:
            point = trial
        if not record_step(surface, point, points, losses, diverge_above):
            diverged = True
            break
    return Trajectory(torch.stack(points).numpy(), np.array(losses), diverged)
