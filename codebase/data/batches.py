"""Mini-batches: how many, and the batches themselves."""
from __future__ import annotations

from typing import Iterator

import torch

from .._checks import check_flag, check_generator, check_int
from .splits import _check_pair


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Return how many batches :func:`batches` yields for ``n`` samples.

    A ``batch_size`` larger than ``n`` counts as ``n`` (one full batch).
    """
    n = check_int("n", n, low=0)
    batch_size = check_int("batch_size", batch_size, low=1)
    check_flag("drop_last", drop_last)
    if n == 0:
        return 0
    batch_size = min(batch_size, n)
    return n // batch_size if drop_last else -(-n // batch_size)


def batches(X: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = True,
            generator: torch.Generator | None = None,
            drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Iterate over one epoch of mini-batches ``(Xb, yb)``.

    With ``shuffle=True`` the order is a random permutation drawn from ``generator``
    (pass a seeded ``torch.Generator`` for reproducible epochs; ``None`` uses torch's
    global generator). Every sample appears exactly once per epoch, except that
    ``drop_last=True`` drops a last batch smaller than ``batch_size``. A
    ``batch_size`` larger than ``len(X)`` gives a single full batch, even with
    ``drop_last=True``. The arguments are checked and the permutation is drawn when
    ``batches`` is called, not when iteration starts.
    """
    _check_pair(X, y)
    batch_size = check_int("batch_size", batch_size, low=1)
    check_flag("shuffle", shuffle)
    check_flag("drop_last", drop_last)
    check_generator("generator", generator)
    n = X.shape[0]
    count = num_batches(n, batch_size, drop_last)
    size = min(batch_size, n)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)

    def epoch():
        for i in range(count):
            rows = order[i * size:(i + 1) * size]
            yield X[rows], y[rows]

    return epoch()
