"""Calling the student's function: in a separate process, with a time limit, prints captured.

Every call of a student's function goes through ``run_calls``. It forks one child
process per check; the child calls the function on every input of the check, in order, and
sends back, for each call, plain data (see ``codebase.checks.plain``): the returned
value, the input tensors and lists as the call left them (several exercises update their
state in place), what the function printed (cut short), or the exception it raised (type,
message and the student's line), or that it called ``sys.exit`` or ended the process. The
reference, the comparison and the verdict stay in the calling process, so a function that
patches ``codebase.checks``, ``sys.modules`` or torch inside its own call changes nothing
there. A call that does not return within ``TIME_LIMIT`` seconds stops the child.

Where a process cannot be forked (Windows), the function is called in this process and
the check's message says so.
"""
from __future__ import annotations

import json
import os
import select
import signal
import struct
import sys
import traceback
from dataclasses import dataclass, field

from .binding import Binding, describe, exception_hint
from .plain import decode, encode, materialize
from .results import Failure

__all__ = ["TIME_LIMIT", "PRINT_LIMIT", "Call", "Outcome", "Binding", "run_calls", "serve"]

TIME_LIMIT = 5.0
"""Seconds one call of the student's function may take."""
PRINT_LIMIT = 1000
"""Characters of the function's printed output kept per call."""
ISOLATE = True
"""Whether to call the student's function in a child process (where the platform can fork)."""
_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Call:
    """One call of the student's function: its arguments (by the exercise's parameter names)
    and where it happens, for messages. ``backward`` names an input: after the call, the
    output's ``backward()`` is run and that input's gradient is sent back too."""

    args: dict
    where: str
    backward: str = ""


@dataclass
class Outcome:
    """What one call gave, as plain data (decoded)."""

    value: object = None
    after: dict = field(default_factory=dict)    # tensor and list inputs after the call
    same: dict = field(default_factory=dict)     # list inputs: is each entry the same object?
    grad: object = None                          # the gradient of the ``backward`` input, or a str
    error: tuple | None = None                   # (type name, message, the student's line)
    stopped: str = ""                            # the call never returned: why
    printed: str = ""
    printed_total: int = 0

    def value_or_fail(self, where: str):
        """The returned value; a ``Failure`` if the call raised or never returned."""
        if self.stopped:
            raise Failure(f"your function {self.stopped} {where}.", _STOP_HINTS.get(self.stopped.split()[0], ""))
        if self.error is not None:
            name, text, line = self.error
            raise Failure(f"your function raised {name} {where}: {text}" + (f"\n  ({line})" if line else ""),
                          exception_hint(name, text))
        return self.value


_STOP_HINTS = {
    "did": "look for a loop that never ends (a while loop whose condition never changes?).",
    "called": "return the result instead of ending the program.",
    "ended": "return the result instead of ending the process (os._exit, a crash of a library?).",
    "raised": "return the result; do not raise KeyboardInterrupt.",
}


class _Bounded:
    """A text stream that keeps the first ``PRINT_LIMIT`` characters and counts the rest."""

    def __init__(self):
        self.parts, self.kept, self.total = [], 0, 0

    def write(self, text) -> int:
        text = str(text)
        self.total += len(text)
        if self.kept < PRINT_LIMIT:
            piece = text[:PRINT_LIMIT - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(text)

    def flush(self):
        pass

    def isatty(self) -> bool:
        return False


def _student_line(exc) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_HERE)]
    if not frames:
        return ""
    frame = frames[-1]
    return f"line {frame.lineno}: {frame.line}" if frame.line else f"line {frame.lineno}"


def _text(exc) -> str:
    try:
        return str(exc)[:2000]
    except Exception:
        return "(the exception's message could not be shown)"


def _backward(out, tensor):
    import torch
    if isinstance(out, (tuple, list)) and len(out) == 1:
        out = out[0]
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return "not connected"
    out.backward()
    return encode(tensor.grad)


def serve(fn, by_name: bool, params: tuple[str, ...], calls, send) -> None:
    """Call ``fn`` on every call's inputs, in order, and ``send`` one plain record per call;
    stop after the first call that raises. This is what runs in the child process (or, for the
    grader, in the student's process)."""
    objects: dict = {}
    for call in calls:
        args = {k: materialize(v, objects) for k, v in call.args.items()}
        lists = {k: list(v) for k, v in args.items() if isinstance(v, list)}
        buffer, saved = _Bounded(), (sys.stdout, sys.stderr)
        record: dict = {}
        try:
            sys.stdout = sys.stderr = buffer
            try:
                out = fn(**{p: args[p] for p in params}) if by_name else fn(*(args[p] for p in params))
                record["value"] = encode(out)
                if call.backward:
                    record["grad"] = _backward(out, args[call.backward])
            finally:
                sys.stdout, sys.stderr = saved
        except SystemExit as exc:
            record["stopped"] = f"called sys.exit({describe(exc.code)})"
        except KeyboardInterrupt:
            record["stopped"] = "raised KeyboardInterrupt"
        except BaseException as exc:  # noqa: B036 - the student's code may raise anything
            record["error"] = [type(exc).__name__, _text(exc), _student_line(exc)]
        import torch
        record["after"] = {k: encode(v) for k, v in args.items()
                           if isinstance(v, torch.Tensor) or k in lists}
        record["same"] = {k: [a is b for a, b in zip(args[k], v)] + [False] * abs(len(args[k]) - len(v))
                          for k, v in lists.items()}
        record["printed"], record["printed_total"] = "".join(buffer.parts), buffer.total
        send(record)
        if "error" in record or "stopped" in record:
            return


def outcome(record: dict) -> Outcome:
    """An ``Outcome`` from a plain record sent by ``serve`` (decoding runs no code)."""
    grad = record.get("grad")
    return Outcome(value=decode(record.get("value")),
                   after={str(k): decode(v) for k, v in (record.get("after") or {}).items()},
                   same={str(k): [bool(b) for b in v] for k, v in (record.get("same") or {}).items()},
                   grad=grad if isinstance(grad, str) or grad is None else decode(grad),
                   error=tuple(str(x) for x in record["error"]) if record.get("error") else None,
                   stopped=str(record.get("stopped", "")),
                   printed=str(record.get("printed", "")), printed_total=int(record.get("printed_total", 0)))


def _write_frame(fd: int, payload: bytes) -> None:
    data = struct.pack("<Q", len(payload)) + payload
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int, deadline: float):
    import time
    chunks, got = [], 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return b""
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _forked(fn, binding: Binding, calls) -> list[Outcome]:
    import time
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: call, send, and leave without running the parent's exit handlers
        try:
            os.close(read_fd)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            import torch
            torch.set_num_threads(1)   # the parent's thread pool did not survive the fork: a parallel op would hang
            serve(fn, binding.by_name, binding.params, calls,
                  lambda record: _write_frame(write_fd, json.dumps(record).encode()))
        finally:
            os._exit(0)
    os.close(write_fd)
    outcomes: list[Outcome] = []
    try:
        for _ in calls:
            deadline = time.monotonic() + TIME_LIMIT
            head = _read_exact(read_fd, 8, deadline)
            body = _read_exact(read_fd, struct.unpack("<Q", head)[0], deadline + 60) if head else head
            if body is None:
                outcomes.append(Outcome(stopped=f"did not return within {TIME_LIMIT:g} s"))
                break
            if not body:
                outcomes.append(Outcome(stopped="ended the process (os._exit or a crash) without returning"))
                break
            outcomes.append(outcome(json.loads(body)))
            if outcomes[-1].error or outcomes[-1].stopped:
                break
    finally:
        os.close(read_fd)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _ENDED.append(pid)
        _reap()
    return outcomes


_ENDED: list[int] = []


def _reap() -> None:
    """Collect the children that have ended (without waiting for the others to be torn down)."""
    for pid in list(_ENDED):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _ENDED.remove(pid)


def run_calls(fn, binding: Binding, calls) -> tuple[list[Outcome], str]:
    """Call ``fn`` on every call of ``calls`` (in a child process if possible).

    Returns the outcomes, in order (the list stops after the first call that raised or never
    returned), and a note for the check's message: empty if the function ran in a separate
    process, else why it did not.
    """
    if ISOLATE and hasattr(os, "fork"):
        return _forked(fn, binding, calls), ""
    records: list[dict] = []
    serve(fn, binding.by_name, binding.params, calls, records.append)
    reason = "this platform cannot fork a process" if ISOLATE else "isolation is switched off"
    note = (f"\nNote: your function ran inside this Python process ({reason}), so the check could "
            f"neither stop it after {TIME_LIMIT:g} s nor keep its own code out of your function's reach.")
    return [outcome(json.loads(json.dumps(r))) for r in records], note
