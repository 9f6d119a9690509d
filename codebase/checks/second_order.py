"""Check of power iteration with Hessian-vector products: the eigenvalue of largest absolute value."""
from __future__ import annotations

import math

import torch

from .calling import Call
from .engine import Mistake, Spec, run, values
from .outputs import DTYPE, as_number, fmt
from .plain import Quadratic
from .results import CheckResult, Failure, exercise

_EIGENVALUES = ([5.0, 2.0, 1.0, -1.0, 0.5], [-6.0, 3.0, 1.0, 0.5, 0.2], [0.3, 0.1, 0.05, -0.02])


def _quadratic(ci, eigenvalues):
    gen = torch.Generator().manual_seed(110 + ci)
    n = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=DTYPE))
    A = q @ torch.diag(torch.tensor(eigenvalues, dtype=DTYPE)) @ q.T
    A = (A + A.T) / 2
    b = torch.randn(n, generator=gen, dtype=DTYPE)
    theta = torch.randn(n, generator=gen, dtype=DTYPE)
    return Quadratic(A, b), theta


def _hessian(loss_fn, theta):
    return torch.autograd.functional.hessian(loss_fn, theta)


def _power(loss_fn, theta, iters, normalize=True):
    H = _hessian(loss_fn, theta)
    v = torch.ones_like(theta)
    for _ in range(iters):
        v = H @ v / (torch.linalg.vector_norm(H @ v) if normalize else 1.0)
    return v, H


class _Power(Spec):
    check, func = "check_top_eigenvalue", "top_eigenvalue"
    params = ("loss_fn", "theta", "iters")
    signature = "top_eigenvalue(loss_fn, theta, iters) -> float"
    forbidden = ("torch.linalg.eigh", "torch.linalg.eigvalsh", "torch.linalg.eig", "torch.linalg.eigvals",
                 "torch.lobpcg", "torch.linalg.svd", "torch.linalg.svdvals", "numpy.linalg.eigh",
                 "numpy.linalg.eigvalsh", "numpy.linalg.eig", "numpy.linalg.eigvals", "scipy.sparse.linalg.eigsh")
    mistakes = [
        Mistake("norm", "return ||H v||.",
                lambda loss_fn, theta, iters: float(torch.linalg.vector_norm(
                    (lambda v, H: H @ v)(*_power(loss_fn, theta, iters))))),
        Mistake("unnormalized", "never normalize v.",
                lambda loss_fn, theta, iters: (lambda v, H: float(v @ H @ v))(*_power(loss_fn, theta, iters, False))),
        Mistake("few-iterations", "stop after 3 iterations.",
                lambda loss_fn, theta, iters: (lambda v, H: float(v @ H @ v))(*_power(loss_fn, theta, 3))),
        Mistake("first-vector", "return the Rayleigh quotient of the starting vector.",
                lambda loss_fn, theta, iters: (lambda v, H: float(v @ H @ v / (v @ v)))(*_power(loss_fn, theta, 0))),
    ]

    def calls(self):
        calls = []
        for ci, eigenvalues in enumerate(_EIGENVALUES, start=1):
            loss, theta = _quadratic(ci, eigenvalues)
            calls.append(Call({"loss_fn": loss, "theta": theta, "iters": 300},
                              f"for a quadratic loss whose Hessian has the eigenvalues {eigenvalues}"))
        return calls

    def judge(self, outcomes):
        calls = self.calls()
        lines = []
        for call, value, eigenvalues in zip(calls, values(calls, outcomes), _EIGENVALUES):
            got = as_number(value, call.where)
            expected = max(eigenvalues, key=abs)
            if not math.isfinite(got):
                raise Failure(f"your function returned {'NaN' if math.isnan(got) else got} {call.where}.",
                              "normalize v at every iteration: v = Hv / ||Hv||, or it overflows.", "unnormalized")
            if not math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9):
                hint, key = "return the Rayleigh quotient v @ (H v) of the final unit vector v.", ""
                if math.isclose(got, abs(expected), rel_tol=1e-6):
                    hint, key = ("you returned ||H v|| = |lambda|, which loses the sign: return the Rayleigh "
                                 "quotient v @ (H v), which is negative when the dominant eigenvalue is."), "norm"
                elif math.isclose(got, max(eigenvalues), rel_tol=1e-6):
                    hint = ("you found the largest eigenvalue, but plain power iteration converges to the one "
                            "of largest absolute value.")
                raise Failure(f"top_eigenvalue returned {fmt(got)} {call.where}; power iteration converges to the "
                              f"eigenvalue of largest absolute value, {expected:g}.", hint, key)
            lines.append(f"eigenvalues {eigenvalues}: {fmt(got)}")
        return ("top_eigenvalue is correct: it finds the eigenvalue of largest absolute value, with its sign:\n  "
                + "\n  ".join(lines))

    def student(self, mistake):
        return mistake.fn


_POWER = _Power()


@exercise(_POWER, label="newton-ex-power", chapter="second_order", minutes=20, difficulty=2,
          task="Write power iteration with Hessian-vector products; return the Rayleigh quotient.")
def check_top_eigenvalue(fn) -> CheckResult:
    """Check ``top_eigenvalue(loss_fn, theta, iters) -> float`` on quadratic losses
    ``loss_fn(theta) = theta A theta / 2 + b theta`` with known eigenvalues of ``A``: after
    ``iters = 300`` iterations it must return the eigenvalue of largest absolute value, with its
    sign (the Rayleigh quotient ``v @ H v``), to a relative tolerance of ``1e-6``."""
    return run(_POWER, fn)
