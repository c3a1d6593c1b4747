"""Stubs made from a marked reference solution.

A reference module marks what students write::

    def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
        \"\"\"The docstring students read.\"\"\"
        # BEGIN SOLUTION: conv2d_output_size: apply the nn.Conv2d output-size formula
        span = dilation * (kernel_size - 1) + 1
        return (size + 2 * padding - span) // stride + 1
        # END SOLUTION

The region between the markers becomes ``raise NotImplementedError("<what
follows the colon>")`` at the region's indentation; a region without a
message (``# BEGIN SOLUTION``: an import or a helper only the solution
needs) is dropped.  Everything else (signatures, docstrings, the lesson's
comments) is kept as written, so the stub students get never drifts from the
reference.  Torch-free: it reads text and checks that the stub parses.
"""

from __future__ import annotations

import ast
import re

BEGIN = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION(?:\s*:\s*(?P<message>.*?))?\s*$")
END = re.compile(r"^[ \t]*#\s*END SOLUTION\s*$")
WIDTH = 120  # a raise line longer than this is split into two string literals (the project's line length)


class MarkerError(ValueError):
    """The solution's markers are malformed; the message names the line."""


def has_markers(source: str) -> bool:
    return any(BEGIN.match(line) for line in source.splitlines())


def raise_line(indent: str, message: str) -> str:
    """``raise NotImplementedError("message")``, split into adjacent string
    literals (one per line, cut after a space) when it would be long."""
    head = f"{indent}raise NotImplementedError("
    whole = head + _literal(message) + ")"
    if len(whole) <= WIDTH:
        return whole
    room = max(20, WIDTH - len(head) - 3)
    pieces, rest = [], message
    while len(rest) > room:
        cut = rest.rfind(" ", 0, room)
        if cut <= 0:
            break
        pieces.append(rest[: cut + 1])
        rest = rest[cut + 1 :]
    pieces.append(rest)
    pad = "\n" + " " * len(head)
    return head + pad.join(_literal(p) for p in pieces) + ")"


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_stub(source: str, name: str = "<solution>") -> str:
    """The student's stub for a marked solution ``source``."""
    out: list[str] = []
    region: tuple[int, str, str | None] | None = None  # (line number, indent, message)
    for number, line in enumerate(source.splitlines(), 1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if region is not None:
                raise MarkerError(f"{name}, line {number}: BEGIN SOLUTION inside the region opened on line {region[0]}")
            region = (number, begin["indent"], begin["message"] or None)
        elif end:
            if region is None:
                raise MarkerError(f"{name}, line {number}: END SOLUTION without a BEGIN SOLUTION")
            _, indent, message = region
            if message is not None:
                out.append(raise_line(indent, message))
            region = None
        elif region is None:
            out.append(line)
    if region is not None:
        raise MarkerError(f"{name}, line {region[0]}: BEGIN SOLUTION is never ended")
    stub = "\n".join(_squeeze_blank_lines(out)) + "\n"
    try:
        ast.parse(stub)
    except SyntaxError as exc:
        raise MarkerError(f"{name}: the stub made from it is not valid Python ({exc.msg}, line {exc.lineno})") from None
    return stub


def _squeeze_blank_lines(lines: list[str]) -> list[str]:
    """A dropped region leaves no more than two blank lines in a row."""
    out: list[str] = []
    blank = 0
    for line in lines:
        blank = blank + 1 if not line.strip() else 0
        if blank <= 2:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return out
