"""codebase.distributed with real processes: 2 workers, the gloo backend, on this CPU.

The equivalences the chapter teaches, each checked on real worker processes:

- N workers with batch B take the same steps as one process with batch N * B;
- accumulating k micro-batches gives the gradient of one batch of k * B (and batch norm is
  where it does not);
- ZeroRedundancyOptimizer around a codebase.optim optimizer takes the same steps, with about
  1/N of the optimizer state on each rank.

And the failures: a worker that raises, one that dies, one that hangs, a port in use; each gives
its exception in the caller and leaves no process behind.

Starting processes is the cost: the launcher's fork server imports torch once (the first test
pays a few seconds), after which each run of 2 workers takes a fraction of a second.
"""
import dataclasses
import math
import multiprocessing
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import codebase.distributed as D

psutil = pytest.importorskip("psutil")

RTOL = 1e-12


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] + X[:, 2] > 0)
    return X, y


X, Y = _data()
BASE = D.DataParallelRun(X, Y, hidden=(12,), batch_size=8, epochs=2)


def _live_descendants():
    return {c.pid for c in psutil.Process().children(recursive=True)
            if c.is_running() and c.status() != psutil.STATUS_ZOMBIE}


@pytest.fixture(scope="module")
def baseline():
    """The processes that stay between runs (the fork server and multiprocessing's resource tracker)."""
    assert D.launch(D.all_reduce_mean, 2, args=([[1.0], [3.0]],))[0].tolist() == [2.0]
    return _live_descendants()


def assert_no_worker_left(baseline):
    assert multiprocessing.active_children() == []
    deadline = time.monotonic() + 2.0
    while _live_descendants() - baseline and time.monotonic() < deadline:  # the fork server reaps its children
        time.sleep(0.05)
    assert _live_descendants() - baseline == set()


def rel_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# -- equivalences ----------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer, kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01}),
                                               ("LARS", {"lr": 2.0, "weight_decay": 1e-3})])
def test_two_workers_with_batch_b_take_the_steps_of_one_process_with_batch_2b(baseline, optimizer, kwargs):
    """Not bit for bit: DDP divides each worker's gradient by N and sums the two in the all-reduce, where
    the single process averages N * B per-sample gradients in one reduction; the sums are rounded in
    another order, so the parameters differ by a few units in the last place, and the difference grows
    only as fast as the trajectories separate (over 24 steps it stays far below 1e-12 relative)."""
    run = dataclasses.replace(BASE, optimizer=optimizer, optimizer_kwargs=kwargs)
    workers = D.launch(D.train_data_parallel, 2, args=(run,))
    single = D.train_single(run, 2)
    assert len(single["loss"]) == 2 * (len(X) // 2 // run.batch_size)
    assert np.array_equal(workers[0]["params"], workers[1]["params"])   # DDP keeps the replicas identical
    assert rel_diff(workers[0]["params"], single["params"]) <= RTOL
    assert rel_diff(workers[0]["loss"], single["loss"]) <= RTOL
    assert workers[0]["loss"] == workers[1]["loss"]
    assert_no_worker_left(baseline)


def test_the_shards_are_disjoint_and_cover_the_data_each_epoch(baseline):
    run = dataclasses.replace(BASE, epochs=1)
    a, b = (np.asarray(w["indices"]) for w in D.launch(D.train_data_parallel, 2, args=(run,)))
    assert len(a) == len(b) == len(X) // 2 and set(a).isdisjoint(b) and set(a) | set(b) == set(range(len(X)))


def test_accumulating_micro_batches_in_each_worker_takes_the_same_steps(baseline):
    """Each worker splits its batch into 4 micro-batches and all-reduces once (no_sync for the first 3)."""
    run = dataclasses.replace(BASE, accumulate=4, optimizer="Adam", optimizer_kwargs={"lr": 0.01})
    workers = D.launch(D.train_data_parallel, 2, args=(run,))
    assert rel_diff(workers[0]["params"], D.train_single(run, 2)["params"]) <= RTOL


def _batch(n=32):
    return torch.from_numpy(X[:n]), torch.from_numpy(Y[:n])


@pytest.mark.parametrize("k", [2, 4, 8])
def test_accumulated_gradients_equal_the_gradient_of_the_whole_batch(k):
    model = D.make_model(5, (12,), 3, seed=1)
    xb, yb = _batch()
    whole = D.accumulated_gradients(model, xb, yb, 1)
    parts = D.accumulated_gradients(model, xb, yb, k)
    for g, h in zip(parts, whole):
        assert rel_diff(g, h) <= RTOL


def test_batch_norm_breaks_the_equivalence():
    """Batch norm normalises each micro-batch by its own mean and variance: a sample's output, and so
    its gradient, depends on the other samples in its micro-batch, which differ from the whole batch's."""
    model = D.make_model(5, (12,), 3, seed=1, batch_norm=True)
    xb, yb = _batch()
    whole = torch.cat([g.flatten() for g in D.accumulated_gradients(model, xb, yb, 1)])
    parts = torch.cat([g.flatten() for g in D.accumulated_gradients(model, xb, yb, 4)])
    assert (parts - whole).abs().max() / whole.abs().max() > 1e-3


@pytest.mark.parametrize("optimizer, kwargs", [("Adam", {"lr": 0.01}), ("Lamb", {"lr": 0.01})])
def test_zero_takes_the_same_steps_with_half_the_optimizer_state_on_each_rank(baseline, optimizer, kwargs):
    run = dataclasses.replace(BASE, optimizer=optimizer, optimizer_kwargs=kwargs)
    full = D.launch(D.train_data_parallel, 2, args=(run,))
    zero = D.launch(D.train_data_parallel, 2, args=(dataclasses.replace(run, zero=True),))
    # the owner of each parameter applies the same rule to the same all-reduced gradient, then broadcasts it
    assert np.array_equal(zero[0]["params"], full[0]["params"])
    assert np.array_equal(zero[1]["params"], full[0]["params"])
    total = full[0]["state_bytes"]
    assert full[1]["state_bytes"] == total
    shards = [w["state_bytes"] for w in zero]
    assert sum(shards) == total                       # the state is split, nothing kept twice
    assert all(0.3 * total <= s <= 0.7 * total for s in shards), shards   # whole tensors: about 1/2 each


def test_all_reduce_mean_returns_the_mean_on_every_rank(baseline):
    out = D.launch(D.all_reduce_mean, 2, args=([[1.0, -2.0], [4.0, 0.5]],))
    assert [o.tolist() for o in out] == [[2.5, -0.75], [2.5, -0.75]]


def test_a_ring_all_reduce_sends_2_n_minus_1_over_n_of_the_tensor():
    assert D.ring_all_reduce_bytes(1000, 1) == 0 and D.ring_all_reduce_bytes(1000, 2) == 1000
    assert D.ring_all_reduce_bytes(800, 8) == 1400


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="counts bytes with Linux's /proc/self/io")
def test_each_of_two_workers_sends_the_tensor_once_plus_a_small_header(baseline):
    """With N = 2, 2 (N - 1) / N = 1: each rank sends as many bytes as the tensor holds (gloo adds headers)."""
    for out in D.launch(D.all_reduce_bytes_sent, 2, args=(250_000,)):
        assert out["tensor_bytes"] == 1_000_000
        assert 1_000_000 <= out["sent"] <= 1_000_000 + 4096, out


# -- failures --------------------------------------------------------------------------------

def test_a_worker_that_raises_is_reported_with_its_rank_type_message_and_traceback(baseline):
    start = time.monotonic()
    with pytest.raises(D.WorkerError, match=r"worker 1 raised ValueError: disk on fire") as info:
        D.launch(D.fail_on_rank, 2, args=(1, "disk on fire"), timeout=20)
    assert info.value.rank == 1 and info.value.exc_type == "ValueError" and info.value.message == "disk on fire"
    assert "fail_on_rank" in info.value.traceback and 'raise ValueError(message)' in info.value.traceback
    assert time.monotonic() - start < 10   # reported at once, not after the timeout
    assert_no_worker_left(baseline)


def returns_a_lambda(rank, world_size):
    return lambda: rank


def test_a_result_that_cannot_be_sent_back_is_reported_as_the_workers_error(baseline):
    with pytest.raises(D.WorkerError, match=r"worker [01] raised TypeError: the value returned by returns_a_lambda cannot be sent back to the caller: .*lambda"):
        D.launch(returns_a_lambda, 2, timeout=20)
    assert_no_worker_left(baseline)


def test_a_worker_that_dies_is_reported_with_its_exit_code(baseline):
    with pytest.raises(D.WorkerDied, match=r"worker 1 exited with code 3") as info:
        D.launch(D.exit_on_rank, 2, args=(1, 3), timeout=20)
    assert info.value.exitcode == 3
    assert_no_worker_left(baseline)


def test_a_worker_killed_by_a_signal_is_reported_with_the_signal(baseline):
    with pytest.raises(D.WorkerDied, match=r"worker 0 was killed by signal SIGKILL"):
        D.launch(D.exit_on_rank, 2, args=(0, -9), timeout=20)
    assert_no_worker_left(baseline)


def test_a_worker_that_hangs_is_stopped_at_the_timeout(baseline):
    start = time.monotonic()
    with pytest.raises(D.WorkerTimeout, match=r"workers \[1\] were still running after timeout=1.5 s"):
        D.launch(D.sleep_on_rank, 2, args=(1, 3600.0), timeout=1.5)
    assert time.monotonic() - start < 6
    assert_no_worker_left(baseline)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM to interrupt the caller")
def test_a_keyboard_interrupt_in_the_caller_stops_the_workers(baseline):
    """Ctrl-C in the notebook arrives as KeyboardInterrupt while launch waits: the workers must not outlive it."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            D.launch(D.sleep_on_rank, 2, args=(1, 3600.0), timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert_no_worker_left(baseline)


def test_a_port_in_use_is_refused_before_any_process_starts(baseline):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(D.PortInUseError, match=rf"port {port} on 127.0.0.1 is in use"):
            D.launch(D.all_reduce_mean, 2, args=([[1.0], [2.0]],), port=port)
    assert_no_worker_left(baseline)


def test_a_free_port_is_free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", D.free_port()))


def _nested():
    def worker(rank, world_size):
        return rank
    return worker


BAD_CALLS = [
    ("world_size=0", lambda: D.launch(D.all_reduce_mean, 0), ValueError, r"world_size must be >= 1"),
    ("ring world_size=0", lambda: D.ring_all_reduce_bytes(8, 0), ValueError, r"world_size must be >= 1"),
    ("ring nbytes=-1", lambda: D.ring_all_reduce_bytes(-1, 2), ValueError, r"nbytes must be >= 0"),
    ("world_size=2.0", lambda: D.launch(D.all_reduce_mean, 2.0), TypeError, r"world_size must be an integer"),
    ("fn not callable", lambda: D.launch("train", 2), TypeError, r"fn must be callable"),
    ("fn a lambda", lambda: D.launch(lambda rank, world_size: rank, 2), TypeError, r"fn must be a function defined"),
    ("fn nested", lambda: D.launch(_nested(), 2), TypeError, r"fn must be a function defined"),
    ("args not a tuple", lambda: D.launch(D.all_reduce_mean, 2, args=[[1.0]]), TypeError, r"args must be a tuple"),
    ("timeout=0", lambda: D.launch(D.all_reduce_mean, 2, timeout=0), ValueError, r"timeout must be > 0"),
    ("timeout=nan", lambda: D.launch(D.all_reduce_mean, 2, timeout=math.nan), ValueError, r"timeout must not be NaN"),
    ("port=0", lambda: D.launch(D.all_reduce_mean, 2, port=0), ValueError, r"port must be >= 1"),
    ("port='29500'", lambda: D.launch(D.all_reduce_mean, 2, port="29500"), TypeError, r"port must be an integer"),
    ("backend='tcp'", lambda: D.launch(D.all_reduce_mean, 2, backend="tcp"), ValueError, r"backend must be one of"),
    ("start_method='fork'", lambda: D.launch(D.all_reduce_mean, 2, start_method="fork"), ValueError,
     r"start_method must be one of"),
    ("batch_size=0", lambda: dataclasses.replace(BASE, batch_size=0), ValueError, r"batch_size must be >= 1"),
    ("accumulate=3 with B=8", lambda: dataclasses.replace(BASE, accumulate=3), ValueError,
     r"batch_size \(8\) must be a multiple of accumulate \(3\)"),
    ("optimizer='adam'", lambda: dataclasses.replace(BASE, optimizer="adam"), ValueError,
     r"optimizer must name a class of codebase.optim"),
    ("optimizer='adam_update'", lambda: dataclasses.replace(BASE, optimizer="adam_update"), ValueError,
     r"optimizer must name a class"),
    ("y float", lambda: D.DataParallelRun(X, Y.astype(float)), ValueError, r"y must hold one integer label"),
    ("X 1-d", lambda: D.DataParallelRun(X[:, 0], Y), ValueError, r"X must be a 2-d array"),
    ("zero=1", lambda: dataclasses.replace(BASE, zero=1), TypeError, r"zero must be True or False"),
    ("micro_batches=5", lambda: D.accumulated_gradients(D.make_model(5, (4,), 3, 0), *_batch(), 5), ValueError,
     r"micro_batches \(5\) must divide the batch size \(32\)"),
]


@pytest.mark.parametrize("case, call, error, pattern", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments_are_refused_naming_the_parameter(case, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
    assert multiprocessing.active_children() == []
