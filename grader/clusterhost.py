"""A warm grading host behind a pipe: what one cluster worker grades with.

Why a process of its own: a Dask worker runs threads (its event loop, its
comms), and judges are forked; a fork must never catch another thread
holding a lock.  So the Dask worker (``grader.cluster``) starts this
process once, as ``python -m grader.clusterhost CONFIG``, and talks to it
over its standard input and output.  Here the local machinery runs as in
``grader run``: the same :class:`~grader.host.GradingHost` (scratch folder,
sandboxed fork server, torch, the collected suites, the warm-up), the same
template pytest session, judges and :class:`~grader.pool.JudgePool`, the
same :class:`~grader.batch.ClassGrading` turning reports into results and
grading again what the grader failed.  So a result is the one a local run
gives, byte for byte, but for its timing.

The pipe carries one JSON object per line, nothing else (no pickle):

- host → worker, once: ``{"ready": {...}}`` (version, sandbox layers, the
  catalogue, the software stack) or ``{"error": why}``, after which it exits;
- worker → host: ``{"id": N, "zip": base64}``, a prepared submission
  (:func:`pack`: its ``<module>.py`` files and manifest, nothing else);
- host → worker: ``{"id": N, "result": SubmissionResult as JSON, "keep":
  bool, "why": str | null}`` as each submission settles (``keep`` false:
  the grader failed it, ``why`` says how).

End of input (the worker closed the pipe, or died) stops the host: judges
and workers are killed and the scratch folder removed.
"""

from __future__ import annotations

import base64
import binascii
import gc
import io
import json
import os
import platform
import re
import select
import shutil
import sys
import zipfile
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from .assignment import Assignment, course_exercises
from .batch import BatchOptions, ClassGrading
from .catalogue import Catalogue, TestInfo
from .host import GradingHost
from .ledger import Ledger
from .pool import JudgePool
from .progress import Progress
from .results import SubmissionResult
from .submissions import MAX_FILE_BYTES, MAX_FILES, Submission
from .vocabulary import MANIFEST

# How often the host looks at its pipe while judges grade (it sleeps in
# poll on their gates in between): a new submission waits at most this long.
TICK = 0.05
# A packed submission: its modules, each within the limit preparing keeps.
MAX_MEMBERS = MAX_FILES + 1
MAX_UNPACKED = 64 * 1024 * 1024
MAX_LINE = 4 * MAX_UNPACKED  # base64 of a packed submission, with room
_MEMBER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$")
# What a result depends on beyond the assignment's version: hosts whose
# stack differs from the client's are refused (hypothesis draws, torch
# numerics and pytest's collection could differ).
STACK = ("torch", "torchvision", "hypothesis", "pytest", "numpy")


class PackError(ValueError):
    """A packed submission that is not what :func:`pack` makes."""


def stack_versions() -> dict[str, str]:
    """Python's version and each of :data:`STACK`'s installed version (read
    from the installation's metadata: nothing is imported)."""
    out = {"python": platform.python_version()}
    for name in STACK:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def pack(folder: Path) -> bytes:
    """A prepared submission folder as zip bytes: its ``<module>.py`` files and
    its manifest, sorted, with fixed timestamps (the same folder, the same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.is_symlink() and (path.name == MANIFEST or _MEMBER.match(path.name)):
                info = zipfile.ZipInfo(path.name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


def unpack(data: bytes, dest: Path) -> None:
    """Undo :func:`pack` into ``dest`` (created), refusing anything else:
    other names, folders, too many members, too many bytes."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise PackError(f"not a packed submission ({exc})") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise PackError(f"{len(members)} members; at most {MAX_MEMBERS}")
        dest.mkdir(parents=True)
        total = 0
        for info in members:
            if info.filename != MANIFEST and not _MEMBER.match(info.filename):
                raise PackError(f"unexpected member {info.filename!r}")
            with zf.open(info) as src:
                body = src.read(MAX_FILE_BYTES + 1)
            total += len(body)
            if len(body) > MAX_FILE_BYTES or total > MAX_UNPACKED:
                raise PackError("too large")
            (dest / info.filename).write_bytes(body)


class StreamGrading(ClassGrading):
    """:class:`ClassGrading` fed one submission at a time from a pipe, its
    results written back as they settle, for as long as the pipe is open."""

    def __init__(self, host: GradingHost, opts: BatchOptions, slots: list[int | None], send):
        # The ledger and progress bar are the client's: here results go to
        # the pipe (see _settle), so neither is ever used.
        super().__init__(host, cast(Ledger, None), cast(Progress, None), opts)
        self.pool = JudgePool(slots, opts.submission_timeout, self._fork)
        self.send = send
        self.ids: dict[str, int] = {}

    def serve(self, inbox: int) -> None:
        """Runs inside the template session (judges fork from here), until
        the pipe closes."""
        gc.collect()
        gc.freeze()
        self.host.wait_ready()
        lines = _Lines(inbox)
        try:
            while True:
                busy = self.pool.busy()
                for message in lines.read(block=not busy):
                    self._accept(message)
                if lines.closed:
                    return
                if self.pool.busy():
                    judge = self.pool.next_done(TICK)
                    if judge is not None:
                        self._judged(judge)
        finally:
            self.pool.shutdown()

    def _accept(self, line: bytes) -> None:
        message = json.loads(line)
        ident = int(message["id"])
        key = f"s{ident}"  # the client's names stay with the client
        folder = self.host.scratch.subs / key
        try:
            unpack(base64.b64decode(message["zip"], validate=True), folder)
        except (PackError, binascii.Error, OSError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            self.send({"id": ident, "refused": f"the submission's bytes were refused: {exc}"})
            return
        self.ids[key] = ident
        self.pool.submit(self._tasks(Submission(key, folder, key)))

    def _settle(self, sub: Submission, result: SubmissionResult, keep: bool = True) -> None:
        why = None if keep or not self.failures else self.failures[-1][1]
        self.send({"id": self.ids.pop(sub.slug), "result": result.to_json(), "keep": keep, "why": why})
        scratch = self.host.scratch
        shutil.rmtree(scratch.subs / sub.slug, ignore_errors=True)
        for leftover in scratch.judges.glob(f"{sub.slug}.*"):
            leftover.unlink(missing_ok=True)


class _Lines:
    """Lines from a pipe, read without blocking unless asked to."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = b""
        self.closed = False

    def read(self, block: bool) -> list[bytes]:
        ready, _, _ = select.select([self.fd], [], [], None if block else 0)
        while ready:
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                self.closed = True
                break
            self.buffer += chunk
            if len(self.buffer) > MAX_LINE and b"\n" not in self.buffer:
                raise PackError("a request longer than any packed submission")
            ready, _, _ = select.select([self.fd], [], [], 0)
        *lines, self.buffer = self.buffer.split(b"\n")
        return [line for line in lines if line.strip()]


def catalogue_json(catalogue: Catalogue) -> dict[str, Any]:
    return {"tests": [asdict(t) for t in catalogue.tests], "exercises": list(catalogue.exercises)}


def catalogue_from_json(data: dict[str, Any]) -> Catalogue:
    return Catalogue([TestInfo(**t) for t in data["tests"]], [str(e) for e in data["exercises"]])


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    # The pipe is this process's protocol and nothing else's: whatever
    # pytest, torch or hypothesis print goes to stderr (the worker's log).
    inbox, outbox = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    out = open(outbox, "w", encoding="utf-8")

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    root = Path(config["assignment"])
    slots: list[int | None] = list(config["slots"])
    opts = BatchOptions(
        submissions=[],
        out=root,
        jobs=len(slots),
        isolation=config["isolation"],
        call_timeout=float(config["call_timeout"]),
        submission_timeout=float(config["submission_timeout"]),
    )
    try:
        assignment = Assignment(root, order=course_exercises(root))
        with GradingHost(assignment, opts.isolation, bool(config["warm_up"]), opts.submission_timeout, True) as host:
            grading = StreamGrading(host, opts, slots, send)
            ready = {
                "version": assignment.version(),
                "protections": host.protections,
                "catalogue": catalogue_json(host.catalogue),
                "stack": stack_versions(),
            }
            send({"ready": ready})
            grading.template.run(lambda: grading.serve(inbox))
    except BaseException as exc:  # noqa: BLE001 - the worker reports it, and this host is done
        try:
            send({"error": f"{type(exc).__name__}: {exc}"[:4000]})
        except OSError:
            pass
        return 1
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # as `grader run` does: skip unwinding torch's modules
