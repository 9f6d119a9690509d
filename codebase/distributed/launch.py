"""Start N worker processes in one ``torch.distributed`` process group, collect their results, never hang.

``launch(fn, world_size, args=...)`` runs ``fn(rank, world_size, *args)`` in
``world_size`` fresh processes joined by the gloo backend (TCP on the loopback
interface), and returns the list of their return values, by rank. Tensors in
the results come back as NumPy arrays (plain data that pickles without shared
memory). Every way a run can fail ends in an exception in the caller:

- a worker raises: ``WorkerError``, with its rank, exception type, message and
  traceback (when several fail, the first error that is not a consequence of
  another, such as a peer's closed connection, is reported);
- a worker dies without a word (``os._exit``, a signal, the out-of-memory
  killer): ``WorkerDied``, with its rank and exit code or signal;
- the port is taken: ``PortInUseError``, before any process starts;
- the run is too slow: ``WorkerTimeout``, with the ranks still running.

In every path, including ``KeyboardInterrupt`` in the caller, the workers are
stopped: terminated, killed if they are still alive a second later, and joined.
"""
from __future__ import annotations

import os
import pickle
import queue as queue_module
import signal
import socket
import sys
import time
import traceback
from datetime import timedelta

from .._checks import check_callable, check_choice, check_int, check_real

__all__ = ["launch", "free_port", "WorkerError", "WorkerDied", "WorkerTimeout", "PortInUseError"]

# What gloo says when the process at the other end of a connection is gone.
_PEER_FAILED = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "Connection refused")
GRACE = 0.5  # seconds to wait, after a first failure, for the messages that explain it


class WorkerError(RuntimeError):
    """A worker raised an exception; ``rank``, ``exc_type``, ``message`` and ``traceback`` say which and where."""

    def __init__(self, rank, exc_type, message, tb, others=()):
        self.rank, self.exc_type, self.message, self.traceback, self.others = rank, exc_type, message, tb, others
        also = f" (then {len(others)} other worker(s) failed too)" if others else ""
        super().__init__(f"worker {rank} raised {exc_type}: {message}{also}\n\nTraceback in worker {rank}:\n{tb}")


class WorkerDied(RuntimeError):
    """A worker ended without a result or an error message: ``rank`` and ``exitcode`` (negative: a signal)."""

    def __init__(self, rank, exitcode):
        self.rank, self.exitcode = rank, exitcode
        if exitcode is not None and exitcode < 0:
            how = f"was killed by signal {signal.Signals(-exitcode).name}"
        else:
            how = f"exited with code {exitcode}"
        super().__init__(f"worker {rank} {how} before returning a result")


class WorkerTimeout(TimeoutError):
    """The workers did not all finish within ``timeout`` seconds; ``ranks`` were still running."""

    def __init__(self, ranks, timeout):
        self.ranks, self.timeout = ranks, timeout
        super().__init__(f"workers {ranks} were still running after timeout={timeout} s; they were stopped")


class PortInUseError(OSError):
    """The rendezvous port is taken by another process."""


def free_port(host="127.0.0.1"):
    """A TCP port that is free on ``host`` now (the system picks it; another process could take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_is_free(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _plain(value):
    """``value`` with every tensor replaced by a NumPy copy, recursively through dicts, lists and tuples."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone().numpy()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _worker(fn, rank, world_size, args, host, port, backend, timeout, results):
    """The body of each process: join the group, run ``fn``, send back its result or its error."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    try:
        dist.init_process_group(backend, init_method=f"tcp://{host}:{port}", rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=timeout))
        try:
            value = fn(rank, world_size, *args)
        finally:
            dist.destroy_process_group()
        value = _plain(value)
        try:  # here, not in the queue's thread, where the error would be lost
            pickle.dumps(value)
        except Exception as error:  # noqa: BLE001 - pickling raises several types
            raise TypeError(f"the value returned by {getattr(fn, '__qualname__', fn)} cannot be sent back to the "
                            f"caller: {error}; return plain data (numbers, lists, dicts, arrays)") from error
        results.put(("ok", rank, value))
    except BaseException as error:  # noqa: BLE001 - everything goes back to the caller
        consequence = isinstance(error, getattr(dist, "DistError", ())) or any(
            words in str(error) for words in _PEER_FAILED)  # this rank failed because a peer did
        results.put(("error", rank, type(error).__name__, str(error), traceback.format_exc(), consequence))
        results.close()
        results.join_thread()
        sys.exit(1)


def _context(start_method):
    import multiprocessing

    ctx = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        # The server imports these once; each worker is a fork of it and starts in milliseconds.
        # DistributedDataParallel's constructor imports torch._dynamo (about 800 modules, seconds of CPU).
        ctx.set_forkserver_preload(["torch", "torch._dynamo", "torch.distributed", "torch.distributed.optim",
                                    "torch.nn.parallel", "codebase.distributed", "codebase.optim"])
    return ctx


def _stop(processes, results):
    """Terminate, then kill, then join every process; close the queue without waiting for it."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 1.0
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()
    results.cancel_join_thread()
    results.close()


def _failure(errors, died):
    """The exception that explains a failed run: a root error, else a death, else the first error."""
    roots = [e for e in errors if not e[-1]]
    if roots:
        rank, exc_type, message, tb, _ = roots[0]
        return WorkerError(rank, exc_type, message, tb, others=[e for e in errors if e is not roots[0]])
    if died:
        return WorkerDied(*died[0])
    rank, exc_type, message, tb, _ = errors[0]
    return WorkerError(rank, exc_type, message, tb, others=errors[1:])


def launch(fn, world_size=2, *, args=(), port=None, host="127.0.0.1", backend="gloo", timeout=60.0,
           start_method=None):
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` processes of one process group; return the results.

    Parameters
    ----------
    fn : callable
        A function defined in an importable module (not in a notebook: the workers
        are new processes that import it), e.g. ``codebase.distributed.train_data_parallel``.
    world_size : int, default 2
        The number of processes N (1 to 64).
    args : tuple
        Further arguments of ``fn``; they must pickle.
    port : int, optional
        The rendezvous port on ``host``; by default a free one is chosen for this run.
    host : str, default "127.0.0.1"
    backend : str, default "gloo"
        ``"gloo"`` (CPU) or ``"nccl"`` (GPUs; not tested here).
    timeout : float, default 60
        Seconds for the whole run, and for each collective operation in the workers.
    start_method : str, optional
        ``"forkserver"`` (the default where it exists: torch is imported once, by the
        server) or ``"spawn"``.

    Returns
    -------
    list
        ``fn``'s return value in each rank, tensors turned into NumPy arrays.
    """
    check_callable("fn", fn)
    world_size = check_int("world_size", world_size, low=1, high=64)
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple of further arguments, got {type(args).__name__} {args!r}")
    timeout = check_real("timeout", timeout, low=0.0, low_open=True)
    check_choice("backend", backend, ["gloo", "nccl", "mpi"])
    if start_method is None:
        start_method = "forkserver" if sys.platform != "win32" else "spawn"
    check_choice("start_method", start_method, ["forkserver", "spawn"])
    name = getattr(fn, "__qualname__", "")
    if getattr(fn, "__module__", None) == "__main__" or "<locals>" in name or "<lambda>" in name:
        raise TypeError(f"fn must be a function defined at the top of an importable module, so that the workers "
                        f"can import it; {getattr(fn, '__qualname__', fn)!r} is defined in __main__ or inside "
                        f"another function (write it in a .py file)")
    if port is None:
        port = free_port(host)
    else:
        port = check_int("port", port, low=1, high=65535)
        if not _port_is_free(host, port):
            raise PortInUseError(f"port {port} on {host} is in use by another process; pass port=None to pick a "
                                 f"free one")
    ctx = _context(start_method)
    results = ctx.Queue()
    processes = []
    try:
        for rank in range(world_size):
            p = ctx.Process(target=_worker, args=(fn, rank, world_size, args, host, port, backend, timeout, results),
                            name=f"codebase-worker-{rank}", daemon=True)
            p.start()
            processes.append(p)
        return _collect(processes, results, world_size, timeout, port)
    finally:
        _stop(processes, results)


def _collect(processes, results, world_size, timeout, port):
    """Wait for every rank's message; raise once a failure is explained (or its grace period ends)."""
    values, errors, died, ended_at = {}, [], [], {}
    deadline, failed_at = time.monotonic() + timeout, None
    while len(values) < world_size:
        try:
            message = results.get(timeout=0.05)
        except queue_module.Empty:
            message = None
        if message is not None and message[0] == "ok":
            values[message[1]] = message[2]
        elif message is not None:
            if "EADDRINUSE" in message[3] or "address already in use" in message[3].lower():
                raise PortInUseError(f"port {port} was taken by another process before the workers could use it "
                                     f"(worker {message[1]}: {message[3]}); pass port=None to pick a free one")
            errors.append(message[1:])
        now = time.monotonic()
        heard = set(values) | {e[0] for e in errors} | {d[0] for d in died}
        for rank, p in enumerate(processes):
            if rank in heard or p.exitcode is None:
                continue
            # it has ended: give its last message 0.2 s to come through the pipe, then call it dead
            if now - ended_at.setdefault(rank, now) > 0.2:
                died.append((rank, p.exitcode))
        if (errors or died) and failed_at is None:
            failed_at = now
        if failed_at is not None and (now - failed_at > GRACE or len(errors) + len(died) + len(values) == world_size):
            raise _failure(errors, died)
        if now > deadline:
            raise WorkerTimeout(sorted(set(range(world_size)) - set(values)), timeout)
    return [values[rank] for rank in range(world_size)]
