"""The student's side of grading: run ``python student_process.py ROOT`` with pipes.

This script is the only place where a submission's code runs. It reads the submission's
code cells from the grader, runs them, then answers calls of the student's functions, one
message at a time, and sends back plain data (:mod:`booktools.course.plaindata`): the
returned value, the arguments after the call (an update in place is seen by the grader),
and, when an input requires a gradient, the gradient of a scalar result. The grader never
unpickles what comes from here, and gives the verdict itself.

The private pipes are duplicated before any student code runs, and the standard streams
point to ``/dev/null`` or to a buffer that keeps the first :data:`KEEP` characters, so that
prints cannot flood the grader; the process may use at most :data:`MEMORY` bytes. Messages
are an 8-byte length and a JSON body.
"""
from __future__ import annotations

import io
import json
import linecache
import os
import struct
import sys
import traceback

KEEP = 2000


class _Bounded(io.TextIOBase):
    """A text stream that keeps the first ``KEEP`` characters and counts the rest."""

    def __init__(self):
        self.kept, self.dropped = [], 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        room = KEEP - sum(map(len, self.kept))
        self.kept.append(text[:max(room, 0)])
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def take(self) -> str:
        text = "".join(self.kept) + (f"\n... ({self.dropped} more characters not shown)" if self.dropped else "")
        self.kept, self.dropped = [], 0
        return text


def _send(channel, body: bytes) -> None:
    channel.write(struct.pack("<Q", len(body)) + body)
    channel.flush()


def _receive(channel) -> bytes | None:
    head = channel.read(8)
    if len(head) < 8:
        return None
    return channel.read(struct.unpack("<Q", head)[0])


def _error(exc: BaseException) -> dict:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    where = {"lineno": frames[-1].lineno, "line": frames[-1].line or ""} if frames else {}
    return {"error": type(exc).__name__, "message": str(exc)[:500], **where}


def _gradients(result, args, kwargs):
    """The gradient of a scalar result with respect to each input that requires one."""
    import torch

    from booktools.course.plaindata import tensors

    inputs = [t for t in tensors((args, kwargs)) if t.requires_grad]
    out = result[0] if isinstance(result, (tuple, list)) and len(result) == 1 else result
    if not inputs or not isinstance(out, torch.Tensor) or not out.requires_grad or out.numel() != 1:
        return None
    grads = torch.autograd.grad(out.sum(), inputs, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads)]


def _protocol() -> dict:
    """The checks' functions this process needs, taken before any student code runs, so that
    a submission that replaces them (or ``sys.modules``) does not break the grading of its
    other answers. Empty if the checks have no such protocol."""
    try:
        from codebase.checks.calling import Binding, Call, serve
        from codebase.checks.plain import decode
        from codebase.checks.results import Failure
    except ImportError:
        return {}
    return {"Binding": Binding, "Call": Call, "serve": serve, "decode": decode, "Failure": Failure}


def _serve_cases(fn, cases: dict, send, protocol: dict) -> None:
    """Call ``fn`` on the calls of ``codebase.checks.cases_for(label)`` and send one plain
    record per call as it is made (so that the grader can time each call), then ``{"done": true}``.
    This is ``codebase.checks.compute_outputs`` with its records sent one by one."""
    Binding, Call, serve, decode, Failure = (protocol[k] for k in ("Binding", "Call", "serve", "decode", "Failure"))
    try:
        if not callable(fn):
            raise NameError(f"name {cases['function']!r} is not defined in your notebook")
        calls = [Call({k: decode(v) for k, v in c["args"].items()}, c["where"], c.get("backward", ""))
                 for c in cases["calls"]]
        binding = Binding(fn, cases["function"], tuple(cases["params"]), cases["signature"], cases["check"])
        serve(fn, binding.by_name, binding.params, calls, send)
    except Failure as failure:
        send({"binding": [failure.message, failure.hint]})
    except BaseException as exc:
        send({"binding": [f"your function could not be called: {type(exc).__name__}: {exc}", ""]})
    send({"done": True})


def _signature(fn):
    import inspect

    try:
        return [[p.name, p.kind.name, p.default is not p.empty]
                for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        return None


#: Bytes of memory (address space) the student's process may use; soft and hard limit alike.
MEMORY = 4 << 30


def main() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))   # a huge tensor fails here, not the machine
    except (ImportError, ValueError, OSError):
        pass
    sys.path.insert(0, sys.argv[1])
    from booktools.course import plaindata

    inbox, outbox = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    quiet = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(quiet, fd)
    printed = _Bounded()
    sys.stdout = sys.stderr = printed
    protocol = _protocol()
    cells = plaindata.loads(_receive(inbox))
    namespace = {"__name__": "__main__"}
    errors = []
    for index, source in enumerate(cells):
        filename = f"<cell {index}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            exec(compile(source, filename, "exec"), namespace)
        except BaseException as exc:      # SystemExit and KeyboardInterrupt too: the cell just failed
            errors.append({"cell": index, **_error(exc)})
    functions = {name: _signature(value) for name, value in list(namespace.items())
                 if callable(value) and not name.startswith("__")}
    _send(outbox, plaindata.dumps({"errors": errors, "functions": functions, "printed": printed.take()}))
    while (raw := _receive(inbox)) is not None:
        request = plaindata.loads(raw, allow_code=True)
        fn = namespace.get(request["name"])
        if "cases" in request:
            _serve_cases(fn, request["cases"], lambda record: _send(outbox, json.dumps(record).encode("utf-8")),
                         protocol)
            continue
        try:
            if not callable(fn):
                raise NameError(f"name {request['name']!r} is not defined in your notebook")
            args, kwargs = request["args"], request["kwargs"]
            result = fn(*args, **kwargs)
            reply = {"value": result, "args": args, "kwargs": kwargs, "grads": _gradients(result, args, kwargs)}
        except BaseException as exc:
            reply = _error(exc)
        reply["printed"] = printed.take()
        try:
            body = plaindata.dumps(reply)
        except BaseException as exc:
            body = plaindata.dumps({**_error(exc), "printed": reply["printed"]})
        _send(outbox, body)


if __name__ == "__main__":
    main()
