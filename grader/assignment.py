"""Where an assignment lives, what it grades, and which version it is.

An assignment is a folder holding ``suites/`` (the grading suites) and
``solutions/`` (the reference, imported by the suites), optionally a
``grader.toml`` with the exercises' display order.  The engine learns the
exercises from the suites' ``exercise`` markers, never from a list of its own.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__


class AssignmentError(Exception):
    """The assignment folder is unusable; the message says what to do."""


@dataclass
class Assignment:
    """Where an assignment lives; what its suites hold is a
    :class:`grader.catalogue.Catalogue`, how judges run them is
    :func:`grader.judgeopts.judge_args`."""

    root: Path
    order: list[str] = field(default_factory=list)

    @property
    def suites(self) -> Path:
        return self.root / "suites"

    @classmethod
    def locate(cls, given: str | None = None) -> Assignment:
        """``--assignment``, else $GRADER_ASSIGNMENT, else the nearest folder
        above the current one with ``suites/``, else the checkout holding grader."""
        candidates = []
        if given:
            candidates.append(Path(given))
        elif os.environ.get("GRADER_ASSIGNMENT"):
            candidates.append(Path(os.environ["GRADER_ASSIGNMENT"]))
        else:
            here = Path.cwd().resolve()
            candidates += [here, *here.parents]
            candidates.append(Path(__file__).resolve().parents[1])
        for c in candidates:
            if (c / "suites").is_dir():
                return cls(c.resolve(), order=course_exercises(c))
        where = candidates[0] if given or os.environ.get("GRADER_ASSIGNMENT") else Path.cwd()
        raise AssignmentError(
            f"no assignment found at {where}: an assignment folder holds suites/ and solutions/. "
            "Run grader from it, or pass --assignment DIR."
        )

    def version(self) -> str:
        """A hash of the suites, the reference and the engine: changing any regrades."""
        h = hashlib.sha256(__version__.encode())
        for sub in ("suites", "solutions"):
            for p in sorted((self.root / sub).rglob("*.py")):
                if "__pycache__" in p.parts:
                    continue
                h.update(str(p.relative_to(self.root)).encode())
                h.update(p.read_bytes())
        for p in sorted(Path(__file__).resolve().parent.rglob("*.py")):
            h.update(p.read_bytes())
        return h.hexdigest()[:16]

    def ordered(self, found: list[str]) -> list[str]:
        """``found`` exercises in ``grader.toml``'s order, any others after it by name."""
        ordered = [e for e in self.order if e in found]
        return ordered + sorted(e for e in found if e not in ordered)


def course_exercises(root: Path) -> list[str]:
    """The exercises an assignment's ``grader.toml`` lists, in lesson order:
    the one list of them that tools and tests read."""
    cfg = root / "grader.toml"
    if not cfg.is_file():
        return []
    try:
        data = tomllib.loads(cfg.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{cfg} is not valid TOML: {exc}") from None
    return [str(e) for e in data.get("exercises", [])]
