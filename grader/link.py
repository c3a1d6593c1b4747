"""The judge's pipe to one submission's worker: requests out, plain data back.

Why apart from the proxies: starting a worker, carrying a test's reset on
its first request, telling a dead worker from a dead fork server and a
student's error from the grader's are transport decisions; what a request
means (an import, an attribute, a call) is the session's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from . import protocol
from .channels import Channel, ChannelLost
from .failures import GraderFailure, SettledFailure, StudentError, WorkerLost
from .forkserver import ZygoteLost
from .messages import Described, error_message, lost_message
from .protocol import Ref
from .vocabulary import SETTLED_KINDS, Kind, Op


class WorkerLink:
    """One worker at a time, started on first use and again after it is lost."""

    def __init__(self, channel_factory: Callable[[], Channel], call_timeout: float, ref_of: Callable[[Any], Ref]):
        self.channel_factory = channel_factory
        self.ref_of = ref_of
        self.default_timeout = call_timeout
        self.timeout = call_timeout
        self.channel: Channel | None = None
        self.on_new_worker: Callable[[], None] = lambda: None
        self.test_state: dict = {"seed": 0, "forbid": []}
        # The worker's reset for a new test rides on the test's first request
        # (a round trip of its own for each of a course's ~100 tests before).
        self.reset_pending = True
        # Set when a property test starts another example: the worker then
        # forgets what the previous examples printed, so a failing test shows
        # only what its failing (shrunk) input printed.
        self.new_example = False
        # Why this test's worker is gone, once it is: nothing more of the test runs.
        self.lost: str | None = None

    @property
    def started(self) -> bool:
        return self.channel is not None

    def begin_test(self, seed: int, forbid: list[str], timeout: float | None) -> None:
        self.test_state = {"seed": seed, "forbid": list(forbid)}
        self.timeout = timeout or self.default_timeout
        self.lost = None
        self.reset_pending = True

    def begin_example(self) -> None:
        self.new_example = True

    def ensure_started(self) -> None:
        if self.channel is not None:
            return
        try:
            self.channel = self.channel_factory()
        except ChannelLost as exc:
            raise WorkerLost(f"could not start a process for your code ({exc})") from None
        except ZygoteLost as exc:
            raise GraderFailure(str(exc)) from None
        self.on_new_worker()
        self.reset_pending = True

    def send(self, op: str, args: dict, what: Described, wrap: Callable[[Ref], Any]) -> Any:
        """Ask the (started) worker; plain values come back as values, objects through ``wrap``."""
        blobs: list[bytes] = []
        message = {"op": op, "args": protocol.encode(args, blobs, self.ref_of)}
        if self.reset_pending:
            message["reset"], self.reset_pending = self.test_state, False
        if self.new_example:
            message["clear_printed"], self.new_example = True, False
        assert self.channel is not None, "callers start the worker first"
        try:
            reply, rblobs = self.channel.request(message, blobs, self.timeout)
        except ChannelLost as exc:
            self._lose(exc, what)
        if type(reply) is not dict or ("ok" not in reply and "error" not in reply):
            raise WorkerLost(f"{what}: the worker sent a malformed reply")
        if "error" in reply:
            err = reply["error"]
            kind = str(err.get("kind")) if type(err) is dict else Kind.ERROR
            raise (SettledFailure if kind in SETTLED_KINDS else StudentError)(error_message(err, what), kind)
        try:
            return protocol.decode(reply["ok"], rblobs, wrap)
        except protocol.ProtocolError as exc:
            raise StudentError(f"{what} gave back something the grader cannot read ({exc})") from None

    def _lose(self, exc: ChannelLost, what: Described) -> NoReturn:
        assert self.channel is not None
        host_alive = exc.timed_out or self.channel.host_alive()
        self.channel = None
        self.on_new_worker()
        if not host_alive:
            raise GraderFailure(f"the worker fork server stopped during {what}") from None
        self.lost = lost_message(exc.kind, what, self.timeout, str(exc))
        raise WorkerLost(self.lost) from None

    def printed(self) -> str:
        """What student code printed during this test, if its worker is still there."""
        if self.channel is None or self.lost:
            return ""
        try:
            text = self.send(Op.PRINTED, {}, "reading what your code printed", lambda r: None)
        except (StudentError, SettledFailure):
            return ""
        return text if type(text) is str else ""

    def close(self) -> None:
        if self.channel is not None:
            try:
                self.channel.close()
            finally:
                self.channel = None
