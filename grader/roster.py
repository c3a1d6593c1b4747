"""``--roster FILE --name-pattern REGEX``: which student each submission is.

The roster is a CSV file with a header row, one row per student (Canvas's
gradebook export works as it is: its ``Points Possible`` row is skipped).
``REGEX`` is searched in each submission's name; the identifier it finds
is looked up in one column of the roster:

- a named group says which column: ``(?P<login>[a-z0-9]+)`` reads column
  ``login``, and ``(?P<sis_login_id>...)`` reads ``SIS Login ID`` (case,
  spaces and punctuation are ignored in the comparison);
- without a named group, the first group (or the whole match) is looked up
  in the roster's first column.

Identifiers are compared without case.  A submission whose name does not
match, or whose identifier is not in the roster, is *unmatched*; a student
no submission names gets a row of their own saying ``no submission``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

# Rows of a gradebook export that are not students.
_NOT_STUDENTS = {"points possible"}
NO_SUBMISSION = "no submission"
NO_MATCH = "the name does not match --name-pattern"
NOT_LISTED = "not in the roster"
SEVERAL = "several submissions for this student"


class RosterError(Exception):
    """The roster or the pattern is unusable; the message says what to do."""


def _norm(column: str) -> str:
    return re.sub(r"[^0-9a-z]", "", column.casefold())


@dataclass
class Matching:
    """Who each submission is, by its index among the names matched."""

    student: dict[int, int] = field(default_factory=dict)  # name index -> roster row index
    reason: dict[int, str] = field(default_factory=dict)  # name index -> why it has no (single) student
    missing: list[int] = field(default_factory=list)  # roster rows no name matched


@dataclass
class Roster:
    columns: list[str]
    rows: list[dict[str, str]]
    key_column: str
    pattern: re.Pattern
    group: str | int

    @classmethod
    def load(cls, path: Path | str, pattern: str) -> Roster:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise RosterError(f"--name-pattern {pattern!r} is not a regular expression: {exc}") from None
        try:
            with open(path, encoding="utf-8-sig", newline="") as f:
                table = list(csv.reader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise RosterError(f"cannot read the roster {path}: {exc}") from None
        if not table or not any(cell.strip() for cell in table[0]):
            raise RosterError(f"the roster {path} is empty: it needs a header row, then one row per student")
        columns = [c.strip() for c in table[0]]
        if len(set(columns)) != len(columns):
            raise RosterError(f"the roster {path} names a column twice: {', '.join(columns)}")
        key_column, group = cls._key(columns, regex, path)
        rows, seen = [], set()
        for number, cells in enumerate(table[1:], start=2):
            if not any(c.strip() for c in cells) or cells[0].strip().casefold() in _NOT_STUDENTS:
                continue
            row = {c: (cells[i].strip() if i < len(cells) else "") for i, c in enumerate(columns)}
            key = row[key_column].casefold()
            if not key:
                raise RosterError(f"row {number} of the roster {path} has no {key_column}")
            if key in seen:
                raise RosterError(f"the roster {path} lists {row[key_column]!r} ({key_column}) twice")
            seen.add(key)
            rows.append(row)
        return cls(columns, rows, key_column, regex, group)

    @staticmethod
    def _key(columns: list[str], regex: re.Pattern, path) -> tuple[str, str | int]:
        names = list(regex.groupindex)
        if len(names) > 1:
            raise RosterError(
                f"--name-pattern names {len(names)} groups ({', '.join(names)}): name one, the roster column to use"
            )
        if names:
            for column in columns:
                if _norm(column) == _norm(names[0]):
                    return column, names[0]
            raise RosterError(
                f"--name-pattern's group {names[0]!r} names no column of the roster {path} "
                f"(its columns: {', '.join(columns)})"
            )
        return columns[0], 1 if regex.groups else 0

    def identifier(self, name: str) -> str | None:
        """The identifier the pattern finds in a submission's name, if any."""
        m = self.pattern.search(name)
        if m is None or m.group(self.group) is None:
            return None
        return m.group(self.group).strip() or None

    def match(self, names: list[str]) -> Matching:
        index = {row[self.key_column].casefold(): i for i, row in enumerate(self.rows)}
        out = Matching()
        claimed: dict[int, list[int]] = {}
        for n, name in enumerate(names):
            ident = self.identifier(name)
            if ident is None:
                out.reason[n] = NO_MATCH
            elif ident.casefold() not in index:
                out.reason[n] = f"{NOT_LISTED} ({self.key_column} {ident!r})"
            else:
                out.student[n] = index[ident.casefold()]
                claimed.setdefault(out.student[n], []).append(n)
        for ns in claimed.values():
            if len(ns) > 1:
                for n in ns:
                    out.reason[n] = f"{SEVERAL}: " + ", ".join(names[m] for m in ns)
        out.missing = [i for i in range(len(self.rows)) if i not in claimed]
        return out
