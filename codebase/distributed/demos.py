"""Small worker functions for ``launch``: one collective, and the three ways a worker can fail.

They live in the package so that the worker processes can import them (a
function defined in a notebook cannot be sent to a new process).
"""
from __future__ import annotations

import os
import time

__all__ = ["all_reduce_mean", "fail_on_rank", "exit_on_rank", "sleep_on_rank"]


def all_reduce_mean(rank, world_size, values):
    """Each rank contributes ``values[rank]`` (a list of floats); every rank returns the mean over ranks.

    This is the average that DDP applies to the gradients: an all-reduce that sums,
    then a division by N (DDP divides each gradient by N before the sum).
    """
    import torch
    import torch.distributed as dist

    x = torch.tensor(values[rank], dtype=torch.float64)
    dist.all_reduce(x, op=dist.ReduceOp.SUM)   # x = sum_r x_r, on every rank
    return x / world_size


def fail_on_rank(rank, world_size, bad_rank=1, message="this worker was told to fail"):
    """Rank ``bad_rank`` raises ``ValueError(message)``; the others wait for it at a barrier."""
    import torch.distributed as dist

    if rank == bad_rank:
        raise ValueError(message)
    dist.barrier()
    return rank


def exit_on_rank(rank, world_size, bad_rank=1, code=3):
    """Rank ``bad_rank`` ends its process at once with exit code ``code`` (no exception, no message).

    A negative ``code`` kills the process with the signal ``-code`` instead (``-9``: SIGKILL,
    what the out-of-memory killer sends).
    """
    import torch.distributed as dist

    if rank == bad_rank:
        if code < 0:
            os.kill(os.getpid(), -code)
        os._exit(code)
    dist.barrier()
    return rank


def sleep_on_rank(rank, world_size, bad_rank=1, seconds=3600.0):
    """Rank ``bad_rank`` sleeps for ``seconds``; the others return at once."""
    if rank == bad_rank:
        time.sleep(seconds)
    return rank
