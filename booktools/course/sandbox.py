"""The grader's side of a student's process: start it, call the student's functions, stop it.

:class:`StudentProcess` runs a submission's code cells in a fresh ``python`` (the script
:mod:`booktools.course.student_process`) and :meth:`StudentProcess.function` returns a
stand-in for one of the student's functions. A check of :mod:`codebase.checks` calls the
stand-in as it would call the student's function; the call is sent to the student's
process as plain data and the result comes back as plain data (:mod:`.plaindata`), so the
grading process never executes the submission's code, and nothing the submission does
(patching ``CheckResult``, ``sys.modules`` or torch) reaches the checks.

Each call has a time limit (:data:`CALL_SECONDS`); a call that does not return in time
stops the process and raises :class:`TimeoutError` with a plain message, and every later
call of that process raises at once. Running the cells has its own limit
(:data:`CELLS_SECONDS`).
"""
from __future__ import annotations

import builtins
import inspect
import json
import linecache
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from . import plaindata
from .pages import ROOT

#: Seconds a call of a student's function may take.
CALL_SECONDS = 5.0
#: Seconds the submission's code cells may take, all together.
CELLS_SECONDS = 60.0
#: The largest reply accepted from the student's process, in bytes.
MAX_REPLY = 256 * 2**20
_BUILTIN_ERRORS = {name: value for name, value in vars(builtins).items()
                   if isinstance(value, type) and issubclass(value, Exception)}


class ProcessEnded(RuntimeError):
    """The student's process is gone (it was stopped after a time-out, or the code ended it)."""


class StudentProcess:
    """A fresh Python process running ``cells`` (the submission's code, in order)."""

    def __init__(self, cells: list[str], *, call_seconds: float = CALL_SECONDS,
                 cells_seconds: float = CELLS_SECONDS):
        self.call_seconds = call_seconds
        self.ended: str | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="grading-")
        worker = Path(__file__).with_name("student_process.py")
        self._process = subprocess.Popen(
            [sys.executable, "-I", str(worker), str(ROOT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, cwd=self._folder.name, start_new_session=True)
        self.cells = list(cells)
        self._send(plaindata.dumps(self.cells))
        ready = self._reply(cells_seconds, f"your notebook's code did not finish within {cells_seconds:g} s")
        self.cell_errors: list[dict] = ready["errors"]
        self.signatures: dict = ready["functions"]
        self.printed: str = ready["printed"]

    # ------------------------------------------------------------------ messages
    def _send(self, body: bytes) -> None:
        try:
            self._process.stdin.write(struct.pack("<Q", len(body)) + body)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._end("your code ended its Python process (sys.exit in a thread, os._exit or a crash)")

    def _read(self, count: int, deadline: float, timeout_message: str) -> bytes:
        chunks, fd = [], self._process.stdout.fileno()
        while count:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self._end(timeout_message)
            chunk = os.read(fd, min(count, 1 << 20))
            if not chunk:
                self._end("your code ended its Python process (os._exit, a crash or running out of memory)")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def _frame(self, seconds: float, timeout_message: str) -> bytes:
        """The next message's bytes; the student's process is stopped if none comes within ``seconds``."""
        if self.ended:
            raise ProcessEnded(self.ended)
        deadline = time.monotonic() + seconds
        size = struct.unpack("<Q", self._read(8, deadline, timeout_message))[0]
        if size > MAX_REPLY:
            self._end(f"your function returned more than {MAX_REPLY >> 20} MB")
        return self._read(size, deadline + 60, timeout_message)     # a big reply may take a while to read

    def _reply(self, seconds: float, timeout_message: str) -> dict:
        raw = self._frame(seconds, timeout_message)
        try:
            reply = plaindata.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            self._end(f"your process sent something that is not plain data ({error})")
        if not isinstance(reply, dict):
            self._end("your process sent something that is not a reply")
        return reply

    def _end(self, why: str):
        self.close()
        self.ended = why
        raise (TimeoutError if "within" in why else ProcessEnded)(why)

    def close(self) -> None:
        """Stop the process (and anything it started in its session)."""
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._folder.cleanup()
        self.ended = self.ended or "the grader stopped your process"

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ calls
    def call(self, name: str, args: tuple, kwargs: dict) -> dict:
        """Call the student's ``name(*args, **kwargs)``; return the decoded reply."""
        if self.ended:
            raise ProcessEnded(self.ended)
        self._send(plaindata.dumps({"name": name, "args": list(args), "kwargs": kwargs}, allow_code=True))
        return self._reply(self.call_seconds, f"your function did not return within {self.call_seconds:g} s")

    def outputs(self, name: str, cases: dict) -> list[dict]:
        """The records of the student's ``name`` on ``cases`` (``codebase.checks.cases_for``),
        for ``codebase.checks.grade_outputs``: each call must return within the time limit;
        a call that does not, or a process that ends, is the last record, saying so."""
        self._send(plaindata.dumps({"name": name, "cases": cases}))
        records: list[dict] = []
        for _ in range(len(cases["calls"]) + 1):
            try:
                record = json.loads(self._frame(self.call_seconds, f"did not return within {self.call_seconds:g} s"))
            except TimeoutError as error:
                return records + [{"stopped": str(error)}]
            except ProcessEnded:
                return records + [{"stopped": "ended the process (os._exit or a crash) without returning"}]
            except ValueError:
                self.close()
                return records + [{"stopped": "sent something that is not plain data"}]
            if not isinstance(record, dict) or record.get("done"):
                break
            records.append(record)
        return records

    def function(self, name: str):
        """A stand-in for the student's function ``name``, with its signature."""
        found = [(number, line) for cell in self.cells for number, line in enumerate(cell.splitlines(), 1)
                 if re.match(rf"\s*def {re.escape(name)}\(", line)]
        where = dict(zip(("lineno", "line"), found[-1])) if found else {}

        def stand_in(*args, **kwargs):
            try:
                reply = self.call(name, args, kwargs)
            except TimeoutError as error:        # said at the student's def line, not the grader's
                _raise_student_error({"error": "TimeoutError", "message": str(error), **where})
            except ProcessEnded as error:
                _raise_student_error({"error": "SystemExit", "message": str(error), **where})
            if "error" in reply:
                _raise_student_error(reply)
            _copy_back(args, reply["args"])
            _copy_back(kwargs, reply["kwargs"])
            return _with_gradients(reply["value"], (args, kwargs), reply.get("grads"))

        stand_in.__name__ = stand_in.__qualname__ = name
        signature = _signature(self.signatures.get(name))
        if signature is not None:
            stand_in.__signature__ = signature
        return stand_in


def _signature(parameters) -> inspect.Signature | None:
    if not isinstance(parameters, list):
        return None
    try:
        return inspect.Signature([inspect.Parameter(
            str(name), _KINDS[kind], default=None if has_default else inspect.Parameter.empty)
            for name, kind, has_default in parameters])
    except (KeyError, TypeError, ValueError):
        return None


_KINDS = {kind.name: kind for kind in inspect._ParameterKind}


def _raise_student_error(reply: dict):
    """Raise the student's exception in the grader, with its type name, message and line."""
    name = str(reply["error"])
    cls = _BUILTIN_ERRORS.get(name)
    if cls is None:
        cls = type(name if name.isidentifier() else "Error", (Exception,), {})
    try:
        error = cls(str(reply.get("message", "")))
    except Exception:
        error = type(name if name.isidentifier() else "Error", (Exception,), {})(str(reply.get("message", "")))
    lineno = reply.get("lineno")
    if not isinstance(lineno, int) or lineno < 1:
        raise error
    # raised from a frame whose file is the student's cell, so a check quotes the student's line
    filename = "<your code>"
    linecache.cache[filename] = (0, None, ["\n"] * (lineno - 1) + [str(reply.get("line", "")) + "\n"], filename)
    exec(compile("\n" * (lineno - 1) + "raise error", filename, "exec"), {"error": error})


def _copy_back(sent, returned) -> None:
    """Apply the student's in-place updates (tensors, generators' states) to the grader's objects."""
    if isinstance(sent, torch.Tensor) and isinstance(returned, torch.Tensor):
        if returned.shape == sent.shape and returned.dtype == sent.dtype:
            if not torch.equal(sent.detach(), returned) or sent.detach().isnan().any():
                with torch.no_grad():
                    sent.copy_(returned)
    elif isinstance(sent, torch.Generator) and isinstance(returned, torch.Generator):
        sent.set_state(returned.get_state())
    elif type(sent).__name__ == "Generator" and hasattr(sent, "bit_generator") and hasattr(returned, "bit_generator"):
        sent.bit_generator.state = returned.bit_generator.state
    elif isinstance(sent, (list, tuple)) and isinstance(returned, (list, tuple)) and len(sent) == len(returned):
        for a, b in zip(sent, returned):
            _copy_back(a, b)
    elif isinstance(sent, dict) and isinstance(returned, dict):
        for key, value in sent.items():
            if key in returned:
                _copy_back(value, returned[key])


def _with_gradients(value, inputs, grads):
    """A scalar result that autograd differentiates as the student's did: value + sum((x - x) * g)."""
    if not grads:
        return value
    found = plaindata.tensors(inputs)
    needing = [t for t in found if t.requires_grad]
    single = isinstance(value, (tuple, list)) and len(value) == 1
    out = value[0] if single else value
    if not isinstance(out, torch.Tensor) or len(grads) != len(needing):
        return value
    for x, g in zip(needing, grads):
        if isinstance(g, torch.Tensor) and g.shape == x.shape:
            out = out + ((x - x.detach()) * g.to(x.dtype)).sum().to(out.dtype)
    return type(value)([out]) if single else out

