"""How an exercise calls the student's function: by name or by position, read from its signature.

Only the function's signature is inspected here; the function is not called. Also the hint
given for an exception the function raised.
"""
from __future__ import annotations

import inspect

from .results import Failure

__all__ = ["Binding", "exception_hint", "describe"]


def exception_hint(name: str, text: str) -> str:
    """A hint for an exception of type ``name`` with message ``text``."""
    if name == "ZeroDivisionError":
        return ("a division by zero: if it comes from 1 - beta**t, remember that t starts at 1, "
                "so 1 - beta**t is never 0 (1 - beta**(t - 1) is, at t = 1).")
    if (name == "TypeError" and ("must be Tensor" in text or "not Tensor" in text
                                 or "only length-1" in text or "ndarray" in text)) or (
            name in ("ValueError", "RuntimeError") and "only one element tensors" in text):
        return ("your function mixes tensors with math/numpy functions: use torch.sqrt, "
                "torch.sign, ... on tensors (math.sqrt only works on plain numbers).")
    if name == "RuntimeError" and "size" in text and "match" in text:
        return "two tensors of different shapes were combined: all inputs have theta's shape."
    if name == "NameError":
        return "a name is not defined: use only your function's parameters and imported modules."
    return "read the error message and the line above; run your function by hand on small inputs."


def describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Binding:
    """How the exercise calls ``fn``: by name if the names match, else by position.

    Only ``fn``'s signature is inspected here; ``fn`` itself is not called.
    """

    def __init__(self, fn, func_name: str, params: tuple[str, ...], signature: str, check: str):
        if not callable(fn):
            extra = ""
            import numbers

            import torch
            if isinstance(fn, (tuple, torch.Tensor, numbers.Number, bool)) or fn is None:
                extra = (f" It looks like you passed the result of calling your function: pass the "
                         f"function itself, {check}({func_name}), not {check}({func_name}(...)).")
            raise Failure(f"{check} needs a function, got {type(fn).__name__} {describe(fn)}." + extra,
                          f"write the function {signature} and pass it: {check}({func_name}).")
        self.params, self.by_name = tuple(params), False
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return  # builtins and some callables: call positionally
        names = sig.parameters
        kinds = [p.kind for p in names.values()]
        named = [n for n, p in names.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        takes_keywords = inspect.Parameter.VAR_KEYWORD in kinds
        if all(p in names for p in params) or (takes_keywords and all(n in params for n in named)):
            self.by_name = True
            required = [n for n, p in names.items() if p.default is p.empty
                        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in params]
            if required:
                raise Failure(f"your function has extra required parameters {required}; the exercise "
                              f"calls it as {signature}.", "remove them or give them default values.")
            return
        if inspect.Parameter.VAR_POSITIONAL in kinds:
            return
        positional = [p for p in names.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in positional if p.default is p.empty]
        if len(required) > len(params) or len(positional) < len(params):
            raise Failure(f"your function takes the parameters ({', '.join(names)}), but the "
                          f"exercise calls it with {len(params)} arguments: {signature}.",
                          "use exactly the parameters of the signature, in that order.")
