"""Training on several processes with ``torch.distributed``: a launcher, data-parallel training, demos.

- ``launch(fn, world_size, args=...)`` starts N worker processes in one gloo
  process group, returns their results and turns every failure (an exception,
  a dead worker, a port in use, a timeout) into an exception in the caller.
- ``train_data_parallel`` trains with ``DistributedDataParallel`` on
  ``DistributedSampler`` shards, with any ``codebase.optim`` optimizer, sharded
  by ``ZeroRedundancyOptimizer`` if asked; ``train_single`` takes the same steps
  in one process with N times the batch.
- ``all_reduce_mean`` and the failing workers of ``demos`` show the machinery.

Everything here was tested with the gloo backend and 2 processes on one CPU
machine. On GPUs the same calls take ``backend="nccl"``; across machines,
start the workers with ``torchrun`` instead of ``launch``.
"""
from __future__ import annotations

from .data_parallel import (DataParallelRun, accumulated_gradients, make_model, optimizer_state_bytes,
                            train_data_parallel, train_single)
from .demos import (all_reduce_bytes_sent, all_reduce_mean, exit_on_rank, fail_on_rank, ring_all_reduce_bytes,
                    sleep_on_rank)
from .launch import PortInUseError, WorkerDied, WorkerError, WorkerTimeout, free_port, launch

__all__ = ["launch", "free_port", "WorkerError", "WorkerDied", "WorkerTimeout", "PortInUseError",
           "DataParallelRun", "make_model", "train_data_parallel", "train_single", "optimizer_state_bytes",
           "accumulated_gradients", "all_reduce_mean", "ring_all_reduce_bytes", "all_reduce_bytes_sent", "fail_on_rank", "exit_on_rank", "sleep_on_rank"]
