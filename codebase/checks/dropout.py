"""Check of inverted dropout: the share of zeros, the scale of the survivors, the generator."""
from __future__ import annotations

import math

import torch

from ..nn import dropout
from .calling import Call
from .engine import Mistake, Spec, run, values
from .outputs import DTYPE, as_tensor, index_text, nonfinite, unpack
from .plain import Seeded
from .results import CheckResult, Failure, exercise

_H = torch.randn(200, 60, generator=torch.Generator().manual_seed(101), dtype=DTYPE) + 0.5
_PS = (0.5, 0.2, 0.8)
_SEEDS = (5, 5, 6)


def _bernoulli(h, p, generator):
    return torch.empty_like(h).bernoulli_(1 - p, generator=generator)


class _Dropout(Spec):
    check, func = "check_dropout", "my_dropout"
    params = ("h", "p", "generator")
    signature = "my_dropout(h, p, generator=None) -> Tensor like h"
    forbidden = ("codebase.nn.dropout", "codebase.nn.Dropout", "torch.nn.functional.dropout", "torch.dropout",
                 "torch.nn.Dropout", "torch.nn.functional.alpha_dropout")
    mistakes = [
        Mistake("not-scaled", "keep the survivors unchanged.", lambda h, p, generator=None: h * _bernoulli(h, p, generator)),
        Mistake("keep-p", "drop with probability 1 - p.",
                lambda h, p, generator=None: h * _bernoulli(h, 1 - p, generator) / max(p, 1e-12) if p else h),
        Mistake("times-keep", "multiply by 1 - p.", lambda h, p, generator=None: h * _bernoulli(h, p, generator) * (1 - p)),
        Mistake("global-rng", "ignore the generator.", lambda h, p, generator=None: h * _bernoulli(h, p, None) / (1 - p)),
        Mistake("one-mask-per-column", "draw one mask entry per column.",
                lambda h, p, generator=None: h * torch.empty(h.shape[-1], dtype=h.dtype).bernoulli_(
                    1 - p, generator=generator) / (1 - p)),
    ]

    def calls(self):
        calls = [Call({"h": _H, "p": p, "generator": Seeded("torch", seed)}, f"for p = {p:g}, h of shape {tuple(_H.shape)}")
                 for p in _PS for seed in _SEEDS]
        return calls + [Call({"h": _H, "p": 0.0, "generator": Seeded("torch", 5)}, "for p = 0")]

    def judge(self, outcomes):
        calls = self.calls()
        outs = []
        for call, value in zip(calls, values(calls, outcomes)):
            out = as_tensor(unpack(value, ("h",), call.where, "h_tilde")[0], "output", tuple(_H.shape), call.where)
            bad = nonfinite(out)
            if bad is not None:
                raise Failure(f"your output contains {bad[1]} at {index_text(bad[0])} {call.where}.",
                              "divide by the keep probability 1 - p, which is not 0 for p < 1.")
            outs.append(out)
        same_mask = True
        for i, p in enumerate(_PS):
            a, b, c = outs[3 * i:3 * i + 3]
            same_mask = self._judge_p(p, a, b, c, calls[3 * i].where) and same_mask
        if not torch.allclose(outs[-1].to(DTYPE), _H):
            raise Failure("with p = 0 your output differs from h: nothing should be dropped or scaled.")
        same = ("It even draws the same mask as torch.nn.functional.dropout from the same seed." if same_mask
                else "Its mask is drawn differently from torch's bernoulli_, so it agrees with F.dropout in "
                     "distribution, not mask for mask: that is fine.")
        return (f"my_dropout is correct: it drops a fraction p of the entries, scales the others by "
                f"1 / (1 - p) and draws its mask from the generator. {same}")

    def _judge_p(self, p, a, b, c, where) -> bool:
        if not torch.equal(a, b):
            raise Failure(f"two calls with generators of the same seed gave different outputs {where}: your "
                          "function does not draw its mask from `generator`.",
                          "torch.empty_like(h).bernoulli_(1 - p, generator=generator), or "
                          "torch.rand(h.shape, generator=generator).", "global-rng")
        if torch.equal(a, c):
            raise Failure(f"two different seeds gave the same output {where}: the mask must be random.")
        dropped = float((a == 0).to(DTYPE).mean())
        se = math.sqrt(p * (1 - p) / a.numel())
        if bool(((a == 0) == (a[:1] == 0)).all()):
            raise Failure(f"every row of your output has the same zero pattern {where}.",
                          "draw one Bernoulli number per entry of h: the mask has h's shape.", "one-mask-per-column")
        if abs(dropped - p) > 6 * se:
            hint, key = "each entry is zeroed independently with probability p.", ""
            if abs(dropped - (1 - p)) < 6 * se:
                hint, key = ("you dropped with probability 1 - p: p is the probability of *dropping*, the "
                             "mask is Bernoulli(1 - p)."), "keep-p"
            elif dropped < 1e-12:
                hint = "nothing was dropped: multiply h by a random 0/1 mask."
            raise Failure(f"your output has {100 * dropped:.1f}% zeros {where}, expected about {100 * p:g}%.", hint, key)
        kept = a != 0
        ratio = a[kept].to(DTYPE) / _H[kept]
        scale = 1 / (1 - p)
        if not torch.allclose(ratio, torch.full_like(ratio, scale), rtol=1e-6 if a.dtype == DTYPE else 1e-5):
            r = float(ratio.median())
            hint, key = f"the survivors must be h / (1 - p) = {scale:.4g} * h.", ""
            for value, text, k in ((1.0, "you kept the survivors unchanged: inverted dropout divides them by "
                                         "1 - p at training time, so that nothing changes at test time.", "not-scaled"),
                                   (1 - p, "you multiplied by 1 - p: divide by it instead.", "times-keep"),
                                   (1 / p, "you divided by p: divide by the keep probability 1 - p.", "keep-p")):
                if abs(r - value) < 1e-6 * value:
                    hint, key = text, k
                    break
            raise Failure(f"your surviving entries are {r:.4g} times h {where}, expected 1 / (1 - p) = "
                          f"{scale:.4g}.", hint, key)
        reference = dropout(_H.clone(), p, generator=torch.Generator().manual_seed(5))
        return torch.equal(a == 0, reference == 0)

    def student(self, mistake):
        return mistake.fn


_DROPOUT = _Dropout()


@exercise(_DROPOUT, label="dropout-ex-implement", chapter="dropout", minutes=10, difficulty=1,
          task="Write the training-time forward pass of inverted dropout with an explicit generator.")
def check_dropout(fn) -> CheckResult:
    """Check ``my_dropout(h, p, generator=None) -> Tensor``: each entry of ``h`` is zeroed with
    probability ``p`` (one independent draw per entry, from ``generator``) and the survivors are
    divided by ``1 - p``; ``p = 0`` returns ``h``. Checked statistically on 12,000 entries per
    ``p``; whether the mask equals ``codebase.nn.dropout``'s for the same seed is reported,
    not required."""
    return run(_DROPOUT, fn)
