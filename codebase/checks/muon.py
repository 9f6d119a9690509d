"""Check of the Newton-Schulz orthogonalization of Muon, against ``codebase.optim.muon.newton_schulz``."""
from __future__ import annotations

import torch

from ..optim.muon import NS_COEFFICIENTS, newton_schulz
from .calling import Call
from .engine import Case, Compared, Mistake, got_expected, run
from .outputs import DTYPE, as_tensor, fmt, index_text, unpack
from .results import CheckResult, exercise

_CUBIC = (1.5, -0.5, 0.0)


def _cases():
    """(G, steps, (a, b, c)): wide, tall and square matrices, Muon's quintic and the classical cubic."""
    gen = torch.Generator().manual_seed(83)
    settings = [((4, 7), 5, NS_COEFFICIENTS), ((9, 3), 5, NS_COEFFICIENTS), ((5, 5), 2, NS_COEFFICIENTS),
                ((6, 4), 3, _CUBIC), ((3, 8), 1, (2.0, -1.5, 0.5))]
    return [(3.0 * torch.randn(shape, generator=gen, dtype=DTYPE), steps, coefficients)
            for shape, steps, coefficients in settings]


def _iterate(G, steps, a, b, c, *, normalize=lambda G: G / torch.linalg.matrix_norm(G)):
    # The exercise's iteration, written out for the known mistakes below.
    X = normalize(G)
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X


def _no_quintic(G, steps, a, b, c):
    X = G / torch.linalg.matrix_norm(G)
    for _ in range(steps):
        X = a * X + b * (X @ X.T) @ X
    return X


def _exact_polar(G, steps, a, b, c):
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    return U @ Vh


_MISTAKES = [
    Mistake("spectral", "divide G by its spectral norm (largest singular value): X_0 = G / ||G||_F uses the "
            "Frobenius norm sqrt(sum(G**2)), which needs no SVD and still puts every singular value in [0, 1].",
            lambda G, steps, a, b, c: _iterate(G, steps, a, b, c,
                                               normalize=lambda G: G / torch.linalg.matrix_norm(G, ord=2))),
    Mistake("no-normalize", "start from G itself: X_0 = G / ||G||_F, so that the singular values start in [0, 1], "
            "where the polynomial pushes them towards 1.",
            lambda G, steps, a, b, c: _iterate(G, steps, a, b, c, normalize=lambda G: G)),
    Mistake("swapped", "swap b and c: X = a X + (b A + c A A) X with A = X X^T.",
            lambda G, steps, a, b, c: _iterate(G, steps, a, c, b)),
    Mistake("cubic-only", "leave out the c term: X = a X + (b A + c A A) X, with A A = (X X^T)^2.",
            _no_quintic),
    Mistake("one-less", "run one iteration too few: range(steps) iterations after X_0.",
            lambda G, steps, a, b, c: _iterate(G, steps - 1, a, b, c)),
    Mistake("exact", "return the exact polar factor U V^T from the SVD: the exercise asks for the iterate X_k, "
            "whose singular values are the polynomial applied k times, not 1.", _exact_polar),
]


class _Orthogonalize(Compared):
    check = "check_orthogonalize"
    func = "orthogonalize"
    params = ("G", "steps", "a", "b", "c")
    signature = "orthogonalize(G, steps, a, b, c) -> Tensor like G"
    forbidden = ("codebase.optim.muon.newton_schulz", "codebase.optim.newton_schulz",
                 "torch.optim._muon._zeropower_via_newtonschulz")
    mistakes = _MISTAKES
    outputs = ("X",)
    rtol, atol = 1e-9, 1e-12
    there_word = "in that case your result is"
    nonfinite_hint = "look for a division by zero, or a matrix that was not divided by its norm first."

    def make_cases(self):
        cases = []
        for ci, (G, steps, (a, b, c)) in enumerate(_cases(), start=1):
            where = f"for case {ci} (G of shape {tuple(G.shape)}, steps = {steps}, (a, b, c) = ({a:g}, {b:g}, {c:g}))"
            args = {"G": G, "steps": steps, "a": a, "b": b, "c": c}
            expected = newton_schulz(G, steps, (a, b, c), dtype=torch.float64)
            cases.append(Case(Call(dict(args), where), args, (expected,), {"ci": ci}))
        return cases

    def convert(self, value, outcome, case):
        where = case.call.where
        return (as_tensor(unpack(value, ("X",), where, "X")[0], "result X", tuple(case.args["G"].shape), where),)

    def variant(self, mistake, case):
        args = case.args
        return (torch.as_tensor(mistake.fn(args["G"].clone(), args["steps"], args["a"], args["b"], args["c"]),
                                dtype=DTYPE),)

    def nonfinite_text(self, case, name, index, x):
        return f"your function returned {x} at element {index_text(index)} {case.call.where}."

    def formula(self, name):
        return ("X_0 = G / ||G||_F, then steps times A = X X^T, X = a X + (b A + c A A) X; return X "
                "(the shape of G).")

    def failure_text(self, case, name, index, got_x, exp_x, low):
        norm = fmt(float(torch.linalg.matrix_norm(case.args["G"])))
        return (f"orthogonalize does not match the reference yet.\nFirst difference: element "
                f"{index_text(index)} {case.call.where}, ||G||_F = {norm}:\n{got_expected(got_x, exp_x, low)}")

    def passed_text(self):
        return (f"orthogonalize is correct on {len(self.cases)} matrices (wide, tall and square; Muon's "
                f"quintic, the classical cubic and another polynomial).")

    def student(self, mistake):
        return lambda G, steps, a, b, c: mistake.fn(G, steps, a, b, c)


_SPEC = _Orthogonalize()


@exercise(_SPEC, label="muon-ex-newton-schulz", chapter="muon", minutes=20, difficulty=2,
          task="Write the Newton-Schulz iteration of Muon: X_0 = G / ||G||_F, then X = a X + (b A + c A^2) X.")
def check_orthogonalize(fn) -> CheckResult:
    """Check ``orthogonalize(G, steps, a, b, c) -> Tensor``: ``steps`` Newton-Schulz iterations
    ``X = a X + (b A + c A^2) X`` with ``A = X X^T``, from ``X_0 = G / ||G||_F``, in float64."""
    return run(_SPEC, fn)
