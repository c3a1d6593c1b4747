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

from . import protocol
from .channels import Channel, ChannelLost
from .forkserver import ZygoteLost
from .messages import CallText, Described, ResultLabel, absent_module, error_message, lost_message
from .protocol import Ref
from .vocabulary import SETTLED_KINDS, Kind, Op


class StudentError(AssertionError):
    """Student code raised, or answered with something unusable: the test fails.
    ``kind`` (a :class:`grader.vocabulary.Kind`) says what the worker saw."""

    def __init__(self, message: str = "", kind: str = Kind.ERROR):
        super().__init__(message)
        self.kind = kind


class SettledFailure(BaseException):
    """A failure no other input would change: the function is not written yet,
    it calls something forbidden, its module is missing or does not import.

    A ``BaseException`` on purpose: hypothesis neither replays nor shrinks it
    (shrinking would run the test a hundred more times to reach the same
    sentence); pytest still reports it as that test's failure.
    """

    def __init__(self, message: str = "", kind: str = ""):
        super().__init__(message)
        self.kind = kind


class WorkerLost(SettledFailure):
    """The worker hung or died: every retry would wait out another time limit."""


class GraderFailure(SettledFailure):
    """The grader's own machinery failed (its fork server is gone, a worker
    could not be started): nothing the student's code did.  The judge stops
    and says so in its report, so that `grader run` grades the submission
    again instead of storing the failure as a score."""


class WorkerSession:
    """One submission's worker, as seen from one pytest session."""

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
        self.channel_factory = channel_factory
        self.default_timeout = call_timeout
        self.timeout = call_timeout
        self.problems = dict(problems or {})
        self.channel: Channel | None = None
        self.modules: dict[str, Ref] = {}
        # Attributes of modules looked up during this test (``student.conv.conv2d``
        # in every example of a property test): one request each per test.
        self.module_attrs: dict[tuple[int, tuple[str, ...]], Remote] = {}
        # Attributes of modules that were objects (functions, classes, modules)
        # when first looked up in this worker, by the type they had.  Later
        # tests reach them by path, resolved by the worker when used: no
        # request of their own (~200 of a course's ~1300 per submission).
        self.attr_types: dict[tuple[int, tuple[str, ...]], str] = {}
        self.import_failures: dict[str, str] = {}
        self.test_state: dict = {"seed": 0, "forbid": []}
        # The worker's reset for a new test rides on the test's first request
        # (a round trip of its own for each of a course's ~100 tests before).
        self.reset_pending = True
        self.lost: str | None = None
        self.last_call: Described = ""
        # Set when a property test starts another example: the worker then
        # forgets what the previous examples printed, so a failing test shows
        # only what its failing (shrunk) input printed.
        self.new_example = False

    # ------------------------------------------------------------------ lifecycle

    def begin_test(self, seed: int, forbid: list[str], timeout: float | None) -> None:
        self.test_state = {"seed": seed, "forbid": list(forbid)}
        self.timeout = timeout or self.default_timeout
        self.lost = None
        self.last_call = ""
        self.module_attrs = {}
        self.reset_pending = True

    def begin_example(self) -> None:
        """The next request belongs to a new hypothesis example (rides on it: no round trip)."""
        self.new_example = True

    def printed(self) -> str:
        """What student code printed during this test, if its worker is still there."""
        if self.channel is None or self.lost:
            return ""
        try:
            text = self._send(Op.PRINTED, {}, "reading what your code printed")
        except (StudentError, SettledFailure):
            return ""
        return text if type(text) is str else ""

    def close(self) -> None:
        if self.channel is not None:
            try:
                self.channel.close()
            finally:
                self.channel = None

    def _ensure_channel(self) -> None:
        if self.channel is None:
            try:
                self.channel = self.channel_factory()
            except ChannelLost as exc:
                raise WorkerLost(f"could not start a process for your code ({exc})") from None
            except ZygoteLost as exc:
                raise GraderFailure(str(exc)) from None
            self.modules, self.module_attrs, self.attr_types = {}, {}, {}
            self.reset_pending = True

    # ------------------------------------------------------------------ requests

    def _send(self, op: str, args: dict, what: Described) -> Any:
        blobs: list[bytes] = []
        payload = protocol.encode(args, blobs, self._ref_of)
        message = {"op": op, "args": payload}
        if self.reset_pending:
            message["reset"], self.reset_pending = self.test_state, False
        if self.new_example:
            message["clear_printed"], self.new_example = True, False
        assert self.channel is not None, "callers start the channel first"
        try:
            reply, rblobs = self.channel.request(message, blobs, self.timeout)
        except ChannelLost as exc:
            host_alive = exc.timed_out or self.channel.host_alive()
            self.channel = None
            self.modules, self.module_attrs, self.attr_types = {}, {}, {}
            if not host_alive:
                raise GraderFailure(f"the worker fork server stopped during {what}") from None
            msg = lost_message(exc.kind, what, self.timeout, str(exc))
            self.lost = msg
            raise WorkerLost(msg) from None
        if type(reply) is not dict or ("ok" not in reply and "error" not in reply):
            raise WorkerLost(f"{what}: the worker sent a malformed reply")
        if "error" in reply:
            err = reply["error"]
            kind = str(err.get("kind")) if type(err) is dict else Kind.ERROR
            raise (SettledFailure if kind in SETTLED_KINDS else StudentError)(error_message(err, what), kind)
        try:
            return protocol.decode(reply["ok"], rblobs, lambda r: Remote(self, r, what))
        except protocol.ProtocolError as exc:
            raise StudentError(f"{what} gave back something the grader cannot read ({exc})") from None

    def request(self, op: str, args: dict, what: Described) -> Any:
        if self.lost:
            raise WorkerLost(f"{self.lost} — nothing more of this test could run")
        self._ensure_channel()
        self.last_call = what
        return self._send(op, args, what)

    @staticmethod
    def _ref_of(obj: Any) -> Ref:
        if isinstance(obj, Remote):
            return object.__getattribute__(obj, "_ref")
        raise protocol.Unencodable(
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
        if not self.lost:
            self._ensure_channel()
        if name in self.modules and self.channel is not None:
            return Remote(self, self.modules[name], name)
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
        self.modules[name] = object.__getattribute__(ref, "_ref")
        return Remote(self, self.modules[name], name)


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
        if key is not None and session.channel is not None:
            if key in session.module_attrs:
                return session.module_attrs[key]
            if key in session.attr_types:
                value = Remote(session, Ref(ref.id, session.attr_types[key], key[1]), f"{label}.{name}")
                session.module_attrs[key] = value
                return value
        value = self._req(Op.GETATTR, {"name": name}, f"{label}.{name}")
        if isinstance(value, Remote):
            object.__setattr__(value, "_label", f"{label}.{name}")
            if key is not None:
                session.module_attrs[key] = value
                session.attr_types[key] = object.__getattribute__(value, "_ref").type
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        label = object.__getattribute__(self, "_label")
        session = object.__getattribute__(self, "_session")
        session.module_attrs.clear()
        if object.__getattribute__(self, "_ref").type == MODULE_TYPE:
            session.attr_types.clear()  # a module's attribute may now be a plain value
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
