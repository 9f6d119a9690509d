"""Data-parallel training with ``DistributedDataParallel``, and the single process that takes the same steps.

``train_data_parallel`` is the worker: each of N ranks trains the same small
network (float64) on its shard of the data (``DistributedSampler``), averages
its gradients with the others' in ``backward()`` (DDP's all-reduce), and
steps a ``codebase.optim`` optimizer, optionally sharded across the ranks by
``ZeroRedundancyOptimizer``. ``train_single`` takes the same steps in one
process, on batches that are the union of the N workers' batches (N * B
samples): the equivalence the tests check. Run the worker with
``codebase.distributed.launch(train_data_parallel, N, args=(run,))``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_flag, check_int

__all__ = ["DataParallelRun", "make_model", "train_data_parallel", "train_single", "optimizer_state_bytes",
           "accumulated_gradients"]


@dataclass(frozen=True)
class DataParallelRun:
    """What to train: data, network, batch, optimizer. It pickles, so it can be sent to the workers.

    ``X`` (float64, one row per sample) and ``y`` (integer class labels) are the
    whole training set; every rank receives it and uses only its shard.
    ``batch_size`` B is per worker: a step of N workers sees N * B samples.
    ``accumulate`` k splits each worker's batch into k micro-batches whose
    gradients are summed before the step (DDP's ``no_sync`` for all but the last).
    ``zero`` shards the optimizer state with ``ZeroRedundancyOptimizer``.
    """

    X: np.ndarray
    y: np.ndarray
    hidden: tuple = (16,)
    batch_size: int = 8
    epochs: int = 1
    optimizer: str = "SGD"
    optimizer_kwargs: dict = field(default_factory=lambda: {"lr": 0.1})
    seed: int = 0
    accumulate: int = 1
    zero: bool = False
    batch_norm: bool = False

    def __post_init__(self):
        import codebase.optim

        X, y = np.asarray(self.X), np.asarray(self.y)
        if X.ndim != 2 or not np.issubdtype(X.dtype, np.floating):
            raise ValueError(f"X must be a 2-d array of floats (samples x features), got shape {X.shape} {X.dtype}")
        if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must hold one integer label per row of X ({len(X)}), got shape {y.shape} {y.dtype}")
        object.__setattr__(self, "X", X.astype(np.float64))
        object.__setattr__(self, "y", y.astype(np.int64))
        object.__setattr__(self, "hidden", tuple(check_int("hidden", h, low=1) for h in self.hidden))
        check_int("batch_size", self.batch_size, low=1)
        check_int("epochs", self.epochs, low=1)
        check_int("seed", self.seed, low=0)
        check_int("accumulate", self.accumulate, low=1)
        if self.batch_size % self.accumulate:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of accumulate ({self.accumulate})")
        check_flag("zero", self.zero)
        check_flag("batch_norm", self.batch_norm)
        if self.optimizer not in codebase.optim.__all__ or not self.optimizer[0].isupper():
            raise ValueError(f"optimizer must name a class of codebase.optim, got {self.optimizer!r}")
        if not isinstance(self.optimizer_kwargs, dict):
            raise TypeError(f"optimizer_kwargs must be a dict, got {type(self.optimizer_kwargs).__name__}")


def make_model(n_in, hidden, n_out, seed, batch_norm=False):
    """A float64 multilayer perceptron with tanh units, the same for a given ``seed`` in every process."""
    import torch

    sizes = [n_in, *hidden]
    layers = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b)] + ([torch.nn.BatchNorm1d(b)] if batch_norm else []) + [torch.nn.Tanh()]
        layers.append(torch.nn.Linear(sizes[-1], n_out))
    return torch.nn.Sequential(*layers).double()


def _model(run):
    return make_model(run.X.shape[1], run.hidden, int(run.y.max()) + 1, run.seed, run.batch_norm)


def _optimizer_class(run):
    import codebase.optim

    return getattr(codebase.optim, run.optimizer)


def optimizer_state_bytes(optimizer):
    """Bytes of the tensors in an optimizer's state on this process (the local shard, for ZeRO)."""
    import torch

    local = getattr(optimizer, "optim", optimizer)  # ZeroRedundancyOptimizer keeps its shard's optimizer in .optim
    return sum(v.numel() * v.element_size() for state in local.state.values() for v in state.values()
               if torch.is_tensor(v))


def _samplers(run, world_size):
    from torch.utils.data.distributed import DistributedSampler

    return [DistributedSampler(range(len(run.X)), num_replicas=world_size, rank=rank, shuffle=True, seed=run.seed,
                               drop_last=True) for rank in range(world_size)]


def train_data_parallel(rank, world_size, run):
    """The worker: train ``run`` on this rank's shard with DDP; return the history and what it holds.

    Returns a dict: ``loss`` (the mean over all workers' batches, after each step,
    before the update), ``params`` (the final parameters, flattened), ``indices``
    (the samples this rank used, in order), ``state_bytes`` (its optimizer state)
    and ``grad_bytes`` (the gradient that the all-reduce averages at each step).
    """
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.distributed.optim import ZeroRedundancyOptimizer
    from torch.nn.parallel import DistributedDataParallel

    X, y = torch.from_numpy(run.X), torch.from_numpy(run.y)
    model = DistributedDataParallel(_model(run))
    cls = _optimizer_class(run)
    if run.zero:
        opt = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=cls, **run.optimizer_kwargs)
    else:
        opt = cls(model.parameters(), **run.optimizer_kwargs)
    sampler = _samplers(run, world_size)[rank]
    B, k = run.batch_size, run.accumulate
    losses, seen = [], []
    for epoch in range(run.epochs):
        sampler.set_epoch(epoch)
        shard = list(sampler)
        for start in range(0, len(shard) - B + 1, B):
            batch = shard[start:start + B]
            seen += batch
            opt.zero_grad()
            local = 0.0
            for j in range(k):
                micro = batch[j * B // k:(j + 1) * B // k]
                sync = contextlib.nullcontext() if j == k - 1 else model.no_sync()   # all-reduce once, at the end
                with sync:
                    loss = F.cross_entropy(model(X[micro]), y[micro]) / k
                    loss.backward()
                local += loss.item()
            opt.step()
            mean = torch.tensor([local], dtype=torch.float64)
            dist.all_reduce(mean)
            losses.append(mean.item() / world_size)
    params = torch.cat([p.detach().flatten() for p in model.parameters()])
    return {"rank": rank, "loss": losses, "params": params, "indices": seen,
            "state_bytes": optimizer_state_bytes(opt), "grad_bytes": params.numel() * params.element_size()}


def train_single(run, world_size):
    """One process taking the steps of ``world_size`` data-parallel workers: batches of ``world_size * B``.

    The batch of step s is the union of the N workers' batches at step s (drawn
    by the same ``DistributedSampler`` shards), its loss the mean over those
    N * B samples. Returns ``loss`` and ``params`` as ``train_data_parallel`` does.
    """
    import torch
    import torch.nn.functional as F

    X, y = torch.from_numpy(run.X), torch.from_numpy(run.y)
    model = _model(run)
    opt = _optimizer_class(run)(model.parameters(), **run.optimizer_kwargs)
    samplers, B = _samplers(run, world_size), run.batch_size
    losses = []
    for epoch in range(run.epochs):
        shards = []
        for sampler in samplers:
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
        for start in range(0, len(shards[0]) - B + 1, B):
            batch = [i for shard in shards for i in shard[start:start + B]]
            opt.zero_grad()
            loss = F.cross_entropy(model(X[batch]), y[batch])
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return {"loss": losses, "params": torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()}


def accumulated_gradients(model, X, y, micro_batches):
    """The gradient of the mean cross-entropy on ``(X, y)``, summed over ``micro_batches`` equal slices.

    Each slice's loss is divided by the number of slices, so that with layers that
    treat samples independently the sum equals the gradient on the whole batch.
    Returns the list of gradients (one per parameter); ``model``'s ``.grad`` are reset.
    """
    import torch.nn.functional as F

    k = check_int("micro_batches", micro_batches, low=1)
    if len(X) % k:
        raise ValueError(f"micro_batches ({k}) must divide the batch size ({len(X)})")
    model.zero_grad()
    size = len(X) // k
    for j in range(k):
        part = slice(j * size, (j + 1) * size)
        (F.cross_entropy(model(X[part]), y[part]) / k).backward()   # g = sum_j g_j / k
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    return grads
