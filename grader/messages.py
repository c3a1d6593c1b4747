"""What the judge tells a student: renderings of values and calls, and the
sentences for each way a request into student code can fail.

Why apart from the transport: these are the words a beginner reads, and
they change for reasons of their own (clearer wording, another language);
rendering a tensor also costs time, so calls are rendered only when read.
"""

from __future__ import annotations

from typing import Any

import torch

from .vocabulary import Kind, Lost


def describe(value: Any, limit: int = 64) -> str:
    """A short, beginner-readable rendering of an argument or a result."""
    if isinstance(value, torch.Tensor):
        shape = tuple(value.shape)
        dtype = str(value.dtype).replace("torch.", "")
        if value.numel() <= limit:
            body = repr(value.detach()).replace("\n", "\n" + " " * 4)
            return body
        return f"<tensor of shape {shape}, dtype {dtype}>"
    from .remote import Remote  # a proxy: any other attribute would be a request to the worker

    if isinstance(value, Remote):
        return str(object.__getattribute__(value, "_label"))
    if isinstance(value, (list, tuple)) and len(value) > 8:
        inner = ", ".join(describe(v, limit) for v in value[:8])
        return f"[{inner}, ... ({len(value)} items)]"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(describe(v, limit) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v, limit)}" for k, v in list(value.items())[:8]) + "}"
    return repr(value)


def describe_call(label: str, args: tuple, kwargs: dict) -> str:
    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"{label}({', '.join(parts)})"


class CallText:
    """``describe_call``, rendered only when a message needs it.

    Rendering tensors costs about a millisecond; a passing test makes
    hundreds of calls whose description nobody reads.
    """

    __slots__ = ("_parts", "_text")

    def __init__(self, label: Any, args: tuple, kwargs: dict, prefix: str = ""):
        self._parts: tuple | None = (prefix, label, args, kwargs)
        self._text = ""

    def __str__(self) -> str:
        if self._parts is not None:
            prefix, label, args, kwargs = self._parts
            self._text, self._parts = prefix + describe_call(str(label), args, kwargs), None
        return self._text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __bool__(self) -> bool:  # truthy without rendering
        return True


# What a message says was being done: plain text, or a call rendered only when read.
Described = str | CallText


class ResultLabel:
    """The label of an object a call returned: the call itself, or ``f(...)`` when long."""

    __slots__ = ("_label", "_call")

    def __init__(self, label: Any, call: CallText):
        self._label, self._call = label, call

    def __str__(self) -> str:
        text = str(self._call)
        return f"{self._label}(...)" if len(text) > 80 else text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def error_message(err: Any, what: Described) -> str:
    """What a worker's error reply means for the student, in their words."""
    if type(err) is not dict:
        return f"{what} failed"
    kind = str(err.get("kind", ""))
    etype = str(err.get("type", "Exception"))[:100]
    message = str(err.get("message", ""))[:2000]
    where = err.get("where")
    if type(where) is not list:
        where = []
    trail = "".join(f"\n  at {str(w)[:300]}" for w in where[-5:] if type(w) is str)
    if kind == Kind.NOT_IMPLEMENTED:
        return f"{what} is not implemented yet: it raises NotImplementedError.{trail}"
    if kind == Kind.FORBIDDEN:
        return (
            f"{what} used {message}, which this exercise asks you not to use: "
            f"write it yourself with basic tensor operations.{trail}"
        )
    if kind == Kind.EXIT:
        return f"{what} called sys.exit({message}): your code must return, not end the program.{trail}"
    if kind == Kind.BASE_EXCEPTION:
        return f"{what} raised {etype}{': ' + message if message else ''}, which is not an ordinary error.{trail}"
    if kind in (Kind.MISSING, Kind.ABSENT):
        return message
    return f"{what} raised {etype}: {message}{trail}"


def lost_message(kind: str, what: Described, timeout: float, detail: str) -> str:
    """Why the worker is gone (a :class:`grader.vocabulary.Lost`), for the student."""
    if kind == Lost.TIMED_OUT:
        return f"{what} did not finish within {timeout:g} seconds (an endless loop, waiting forever, or far too slow?)"
    if kind == Lost.NOT_PLAIN_DATA:
        return f"{what}: the process running your code {detail}"
    return f"the process running your code stopped during {what} (os._exit, a crash, or using too much memory?)"


def absent_module(name: str) -> str:
    return (
        f"the submission has no module `{name}`: add {name}.py (or {name}.ipynb, "
        f"or notebook cells whose first line is `# exercise: {name}`)"
    )
