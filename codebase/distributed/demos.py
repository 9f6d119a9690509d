"""Small worker functions for ``launch``: one collective, and the three ways a worker can fail.

They live in the package so that the worker processes can import them (a
function defined in a notebook cannot be sent to a new process).
"""
from __future__ import annotations

import os
import time

from .._checks import check_int, check_real

__all__ = ["all_reduce_mean", "ring_all_reduce_bytes", "all_reduce_bytes_sent", "fail_on_rank", "exit_on_rank",
           "sleep_on_rank"]


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


def ring_all_reduce_bytes(nbytes, world_size):
    """Bytes each rank sends in a ring all-reduce of ``nbytes``: ``2 (N - 1) / N * nbytes``.

    The ring cuts the tensor into N chunks. In N - 1 steps of reduce-scatter each rank
    sends one chunk to its neighbour and adds the chunk it receives, until each rank holds
    one chunk summed over all ranks; in N - 1 steps of all-gather the summed chunks go
    round. Each rank sends 2 (N - 1) chunks of ``nbytes / N``: nearly twice the tensor,
    whatever N (Patarasuk & Yuan, 2009).
    """
    world_size = check_int("world_size", world_size, low=1)
    return 2 * (world_size - 1) / world_size * check_real("nbytes", nbytes, low=0)


def all_reduce_bytes_sent(rank, world_size, numel):
    """All-reduce ``numel`` float32 values; return the bytes this rank wrote to its sockets meanwhile.

    The count is Linux's ``wchar`` of ``/proc/self/io`` (bytes passed to write and send
    calls), read before and after one all-reduce; ``None`` where that file does not exist.
    A first all-reduce opens the connections, so that only the data of the second is counted.
    """
    import torch
    import torch.distributed as dist

    def written():
        try:
            with open("/proc/self/io") as f:
                return int(next(line for line in f if line.startswith("wchar:")).split()[1])
        except OSError:
            return None

    x = torch.ones(numel, dtype=torch.float32)
    dist.all_reduce(x)
    before = written()
    dist.all_reduce(x)
    after = written()
    return {"tensor_bytes": x.numel() * x.element_size(), "sent": None if before is None else after - before}


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
