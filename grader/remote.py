"""The judge's view of student code: modules and objects that live elsewhere.

A suite writes ``student.conv.conv2d(x, w)`` or ``model = student.tudui.TuDui();
model(x)`` as if the code were local.  Each step is a request to the worker;
plain values (numbers, strings, tensors, lists of them) come back as the
judge's own objects, everything else stays in the worker as a
:class:`Remote`.  The session remembers what was called last, so a failing
assertion can say which call, with which arguments, went wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .channels import Channel
from .failures import GraderFailure, SettledFailure, StudentError, WorkerLost
from .link import WorkerLink
from .lookups import Lookups
from .messages import CallText, Described, ResultLabel, absent_module
from .protocol import Ref, Unencodable
from .vocabulary import Kind, Op

__all__ = ["GraderFailure", "Remote", "SettledFailure", "Student", "StudentError", "WorkerLost", "WorkerSession"]


class WorkerSession:
    """One submission's worker, as seen from one pytest session: which modules
    it may import, what went wrong importing them, and the last call made
    (for the failure message).  Requests travel over a :class:`WorkerLink`;
    what was looked up is kept in :class:`Lookups`."""

    def __init__(
        self,
        exercises: set[str],
        channel_factory: Callable[[], Channel],
        call_timeout: float = 10.0,
        problems: dict[str, str] | None = None,
        submission_dir: str | None = None,
    ):
        self.submission_dir = submission_dir
        self.exercises = set(exercises)
        self.problems = dict(problems or {})
        self.link = WorkerLink(channel_factory, call_timeout, self._ref_of)
        self.lookups = Lookups()
        self.link.on_new_worker = self.lookups.new_worker
        self.import_failures: dict[str, str] = {}
        self.last_call: Described = ""

    # ------------------------------------------------------------------ lifecycle

    def begin_test(self, seed: int, forbid: list[str], timeout: float | None) -> None:
        self.link.begin_test(seed, forbid, timeout)
        self.last_call = ""
        self.lookups.new_test()

    def begin_example(self) -> None:
        """The next request belongs to a new hypothesis example (rides on it: no round trip)."""
        self.link.begin_example()

    def printed(self) -> str:
        """What student code printed during this test, if its worker is still there."""
        return self.link.printed()

    def close(self) -> None:
        self.link.close()

    # ------------------------------------------------------------------ requests

    def request(self, op: str, args: dict, what: Described) -> Any:
        if self.link.lost:
            raise WorkerLost(f"{self.link.lost} — nothing more of this test could run")
        self.link.ensure_started()
        self.last_call = what
        return self.link.send(op, args, what, lambda r: Remote(self, r, what))

    @staticmethod
    def _ref_of(obj: Any) -> Ref:
        if isinstance(obj, Remote):
            return object.__getattribute__(obj, "_ref")
        raise Unencodable(
            f"cannot pass a {type(obj).__name__} to student code; build it in the worker "
            "(e.g. student.torch.nn.Linear(2, 3)) or pass tensors and numbers"
        )

    # ------------------------------------------------------------------ modules

    def module(self, name: str) -> Remote:
        if name in self.import_failures:
            raise SettledFailure(self.import_failures[name])
        problem = self.problems.get(name) or self.problems.get("*")
        if problem and name in self.exercises:
            raise SettledFailure(problem)
        if not self.link.lost:
            self.link.ensure_started()
        if name in self.lookups.modules and self.link.started:
            return Remote(self, self.lookups.modules[name], name)
        student = name in self.exercises
        what = f"importing {name}.py" if student else f"importing {name}"
        try:
            ref = self.request(Op.IMPORT, {"name": name, "student": student}, what)
        except (StudentError, SettledFailure) as exc:
            if isinstance(exc, WorkerLost):
                if student:
                    self.import_failures[name] = str(exc)
                raise
            if student:
                text = str(exc)
                if exc.kind == Kind.ABSENT:
                    text = absent_module(name)
                self.import_failures[name] = text
                raise SettledFailure(text) from None
            raise
        if not isinstance(ref, Remote):
            raise StudentError(f"{what} gave back something unexpected")
        self.lookups.modules[name] = object.__getattribute__(ref, "_ref")
        return Remote(self, self.lookups.modules[name], name)


MODULE_TYPE = "builtins.module"


class Remote:
    """An object in the worker.  Attribute access, calls, indexing, ``len`` and
    iteration are forwarded; plain results come back as values."""

    __slots__ = ("_session", "_ref", "_label")

    def __init__(self, session: WorkerSession, ref: Ref, label: Described):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_label", label)

    def _req(self, op: str, args: dict, what: Described) -> Any:
        s = object.__getattribute__(self, "_session")
        return s.request(op, dict(args, target=object.__getattribute__(self, "_ref")), what)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        label = object.__getattribute__(self, "_label")
        ref = object.__getattribute__(self, "_ref")
        session = object.__getattribute__(self, "_session")
        key = (ref.id, ref.path + (name,)) if ref.type == MODULE_TYPE else None
        if key is not None and session.link.started:
            proxy, type_name = session.lookups.known(key)
            if proxy is not None:
                return proxy
            if type_name is not None:
                proxy = Remote(session, Ref(ref.id, type_name, key[1]), f"{label}.{name}")
                session.lookups.remember(key, proxy, None)
                return proxy
        value = self._req(Op.GETATTR, {"name": name}, f"{label}.{name}")
        if isinstance(value, Remote):
            object.__setattr__(value, "_label", f"{label}.{name}")
            if key is not None:
                session.lookups.remember(key, value, object.__getattribute__(value, "_ref").type)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        label = object.__getattribute__(self, "_label")
        session = object.__getattribute__(self, "_session")
        session.lookups.attribute_set(object.__getattribute__(self, "_ref").type == MODULE_TYPE)
        self._req(Op.SETATTR, {"name": name, "value": value}, f"setting {label}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        label = object.__getattribute__(self, "_label")
        what = CallText(label, args, kwargs)
        value = self._req(Op.CALL, {"args": list(args), "kwargs": kwargs}, what)
        if isinstance(value, Remote):
            object.__setattr__(value, "_label", ResultLabel(label, what))
        return value

    def __getitem__(self, key: Any) -> Any:
        label = object.__getattribute__(self, "_label")
        return self._req(Op.GETITEM, {"key": key}, f"{label}[{key!r}]")

    def __len__(self) -> int:
        label = object.__getattribute__(self, "_label")
        n = self._req(Op.LEN, {}, f"len({label})")
        if type(n) is not int:
            raise StudentError(f"len({label}) is not an integer")
        return n

    def __iter__(self):
        label = object.__getattribute__(self, "_label")
        items = self._req(Op.ITER, {}, f"iterating over {label}")
        if type(items) is not list:
            raise StudentError(f"iterating over {label} gave something unexpected")
        return iter(items)

    def __repr__(self) -> str:
        ref = object.__getattribute__(self, "_ref")
        return f"<{ref.type} in the student's process: {object.__getattribute__(self, '_label')}>"


LIBRARIES = frozenset({"torch", "torchvision", "numpy", "math", "collections", "functools", "builtins"})


class Student:
    """The ``student`` fixture: ``student.<module>`` imports that module in the worker.

    Names that are exercises come from the submission; any other name (e.g.
    ``student.torch``) is imported from the worker's installed packages, for
    building the objects a test hands to student code.
    """

    def __init__(self, session: WorkerSession):
        object.__setattr__(self, "_session", session)

    def __getattr__(self, name: str) -> Remote:
        session = object.__getattribute__(self, "_session")
        if name not in session.exercises and name not in LIBRARIES:
            # Not a module a suite may reach (pytest and hypothesis probe
            # fixtures for optional attributes, e.g. ``execute_example``).
            raise AttributeError(name)
        return session.module(name)

    def __repr__(self) -> str:
        return "student"


_current: list[WorkerSession] = []


def current_session() -> WorkerSession | None:
    """The session of the test now running (set by the ``student`` fixture)."""
    return _current[-1] if _current else None
