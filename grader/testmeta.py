"""What a grading test declares through its markers, read and checked once.

Why one type: the plugin (records, the student fixture), the collection in
the warm parent (the catalogue of tests and points) and the judges all need
the same facts about a test; reading markers in each place let them drift,
and a typo (``points("2")``, ``visibility("hiden")``) surfaced late or never.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")

MARKERS = (
    "exercise(name): the exercise (student module) this test grades",
    "points(n): points for passing this test (default 1)",
    "visibility(v): Gradescope visibility: visible, hidden, after_due_date, after_published",
    "forbid(*names, within=None): functions student code must not call or reach (within: the "
    "functions of the exercise's module the test is about; default: all of it)",
    "call_timeout(seconds): time limit for each call into student code",
    "gpu: needs CUDA; skipped, and worth nothing, without it",
)


@dataclass(frozen=True)
class Forbid:
    """One ``forbid`` marker: names student code must not call or reach,
    from the functions ``within`` (empty: the whole exercise module)."""

    names: tuple[str, ...]
    within: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestMeta:
    __test__ = False  # not a pytest test class, whatever its name

    nodeid: str
    title: str
    exercise: str
    points: float
    visibility: str
    gpu: bool
    forbids: tuple[Forbid, ...]
    call_timeout: float | None

    @classmethod
    def of(cls, item: pytest.Item) -> TestMeta:
        """Read and check a test's markers; a bad one is a usage error naming the test."""
        return cls(
            nodeid=item.nodeid,
            title=title_of(item),
            exercise=exercise_of(item),
            points=_points(item),
            visibility=_visibility(item),
            gpu=item.get_closest_marker("gpu") is not None,
            forbids=tuple(_forbid(item, m) for m in item.iter_markers("forbid")),
            call_timeout=_call_timeout(item),
        )

    @property
    def forbidden(self) -> list[str]:
        return [n for f in self.forbids for n in f.names]

    def record(self) -> dict:
        """A passed test's record in the judge's report (a failure overwrites status and output)."""
        return {
            "nodeid": self.nodeid,
            "name": self.title,
            "exercise": self.exercise,
            "points": self.points,
            "visibility": self.visibility,
            "status": "passed",
            "output": "",
            "gpu": self.gpu,
        }


def exercise_of(item: pytest.Item) -> str:
    mark = item.get_closest_marker("exercise")
    if mark and mark.args:
        return str(mark.args[0])
    stem = Path(str(item.fspath)).stem
    return stem[5:] if stem.startswith("test_") else stem


def title_of(item: pytest.Item) -> str:
    fn = getattr(item, "function", None)
    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    title = doc[0].strip() if doc else item.name
    callspec = getattr(item, "callspec", None)
    if callspec is not None and doc:
        title += f" [{callspec.id}]"
    return title


def _bad(item: pytest.Item, what: str) -> pytest.UsageError:
    return pytest.UsageError(f"{item.nodeid}: {what}")


def _points(item: pytest.Item) -> float:
    mark = item.get_closest_marker("points")
    raw = mark.args[0] if mark and mark.args else 1.0
    if type(raw) not in (int, float) or not math.isfinite(raw) or raw < 0:
        raise _bad(item, f"points must be a number >= 0, not {raw!r}")
    return float(raw)


def _visibility(item: pytest.Item) -> str:
    mark = item.get_closest_marker("visibility")
    v = str(mark.args[0]) if mark and mark.args else "visible"
    if v not in VISIBILITIES:
        raise _bad(item, f"visibility must be one of {VISIBILITIES}, not {v!r}")
    return v


def _forbid(item: pytest.Item, mark: pytest.Mark) -> Forbid:
    within = mark.kwargs.get("within") or ()
    within = (within,) if isinstance(within, str) else tuple(within)
    if not all(isinstance(n, str) for n in (*mark.args, *within)):
        raise _bad(item, "forbid takes names as strings (and within= a name or a list of names)")
    return Forbid(tuple(mark.args), within)


def _call_timeout(item: pytest.Item) -> float | None:
    mark = item.get_closest_marker("call_timeout")
    if not (mark and mark.args):
        return None
    raw = mark.args[0]
    if type(raw) not in (int, float) or not raw > 0:
        raise _bad(item, f"call_timeout must be a number of seconds > 0, not {raw!r}")
    return float(raw)
