"""Text a student controls (a submission's name, what their code printed),
made safe for where the grader shows it.

A file name on Linux is any bytes: Python keeps the ones that are not
UTF-8 as lone surrogates, which no UTF-8 writer accepts, and a name may
hold control characters that would recolour or rewrite a terminal, or make
an XML file unreadable (XML 1.0 forbids most of them).  Each sink escapes
what it cannot carry, so the same name stays readable everywhere.
"""

from __future__ import annotations

import re

_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 and C1 controls and DEL: escape sequences, bells, carriage returns.
_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f]")
# What XML 1.0 forbids (all C0 but tab, newline, return; U+FFFE, U+FFFF),
# and C1, which a CI page showing the file would hand to a terminal.
_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def display_name(text: str) -> str:
    """``text`` with bytes that were not UTF-8 shown as U+FFFD, so that any
    UTF-8 file or terminal can carry it."""
    return _SURROGATES.sub("\ufffd", text)


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str) -> str:
    """One line a terminal prints as it is: every control character (newlines
    included) becomes a visible escape such as ``\\x1b``."""
    return _TERMINAL.sub(_escaped, display_name(text))


def for_xml(text: str) -> str:
    """Text any XML 1.0 parser accepts; tabs and line breaks are kept."""
    return _XML.sub(_escaped, display_name(text))
