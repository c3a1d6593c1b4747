"""Answers the judge's requests inside a worker.

One :class:`WorkerCore` serves one submission.  Objects the judge cannot
receive as plain data (modules, models, loaders, optimizers) stay in
``self.objects`` and travel as numbered references.  The same core also
serves the in-process mode (``--grader-isolation=inline``), where it sits
behind the same encode/decode round trip, so both modes judge alike.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import torch

from .. import introspect, protocol
from ..protocol import Ref
from ..seeding import seed_all
from ..vocabulary import MANIFEST, Kind
from .guard import Forbidden, ForbidGuard
from .printed import PRINTED

MAX_ITER_ITEMS = 100_000
_UNGUARDED = contextlib.nullcontext()


class MissingModule(Exception):
    """The submission has no such module (``kind`` ABSENT), or it could not be
    prepared (MISSING, the reason as message)."""

    def __init__(self, message: str, kind: str = Kind.MISSING):
        super().__init__(message)
        self.kind = kind


class WorkerCore:
    def __init__(self, submission_dir: str | os.PathLike):
        self.dir = Path(submission_dir).resolve()
        self.objects: dict[int, Any] = {}
        self.pinned: set[int] = set()
        self.next_id = 1
        self.guard = ForbidGuard()  # before any student code runs: it keeps torch's own functions
        manifest = self.dir / MANIFEST
        self.manifest = json.loads(manifest.read_text()) if manifest.exists() else {}
        # The submission's own folder goes last, so no file of the student's
        # can stand in for torch or the standard library.
        if str(self.dir) not in sys.path:
            sys.path.append(str(self.dir))

    def unload(self) -> None:
        """Forget the submission's modules and its folder on ``sys.path``.

        A worker process ends with its submission, but an inline core lives
        in a process that goes on (the warm parent's warm-up on the
        reference, the benchmark's floor): without this, the next
        submission's ``import sequential`` inside its own ``training.py``
        would find the previous one's module in ``sys.modules``.
        """
        folder = str(self.dir) + os.sep
        for name, module in list(sys.modules.items()):
            try:
                path = module.__dict__.get("__file__")
            except Exception:  # noqa: BLE001 - not a plain module
                continue
            if isinstance(path, str) and path.startswith(folder):
                del sys.modules[name]
        with contextlib.suppress(ValueError):
            sys.path.remove(str(self.dir))

    # ------------------------------------------------------------------ plumbing

    def handle(self, message: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        out_blobs: list[bytes] = []
        if message.get("clear_printed"):
            PRINTED.clear()  # a new hypothesis example: keep only what it prints
        try:
            reset = message.get("reset")
            if reset is not None:  # a new test's first request: start it first
                self.op_reset(**reset)
            op = message.get("op")
            method = getattr(self, f"op_{op}", None)
            if method is None:
                raise protocol.ProtocolError(f"unknown op {op!r}")
            args = protocol.decode(message.get("args", {}), blobs, self._lookup)
            value = method(**args)
            return {"ok": protocol.encode(value, out_blobs, self._ref)}, out_blobs
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything
            return {"error": self._describe_error(exc)}, []

    def _ref(self, obj: Any) -> Ref:
        rid = self.next_id
        self.next_id += 1
        self.objects[rid] = obj
        try:
            tname = introspect.canonical_name(type(obj))
        except Exception:  # noqa: BLE001
            tname = "object"
        return Ref(rid, tname)

    def _lookup(self, ref: Ref) -> Any:
        try:
            obj = self.objects[ref.id]
        except KeyError:
            raise protocol.ProtocolError(f"unknown object #{ref.id} (it was released)") from None
        if ref.path:
            with self._guarded():  # a module's __getattr__ is student code too
                for name in ref.path:
                    obj = getattr(obj, name)
        return obj

    def _describe_error(self, exc: BaseException) -> dict:
        def safe(f, default=""):
            try:
                return f()
            except BaseException:  # noqa: BLE001
                return default

        where = []
        tb = exc.__traceback__
        for frame in safe(lambda: traceback.extract_tb(tb), []):
            if frame.filename.startswith(str(self.dir)):
                where.append(
                    f"{Path(frame.filename).name}, line {frame.lineno}, in {frame.name}"
                    + (f"\n    {frame.line}" if frame.line else "")
                )
        kind = Kind.ERROR
        if isinstance(exc, Forbidden):
            kind = Kind.FORBIDDEN
        elif isinstance(exc, MissingModule):
            kind = exc.kind
        elif isinstance(exc, NotImplementedError):
            kind = Kind.NOT_IMPLEMENTED
        elif isinstance(exc, SystemExit):
            kind = Kind.EXIT
        elif not isinstance(exc, Exception):
            kind = Kind.BASE_EXCEPTION
        return {
            "kind": kind,
            "type": safe(lambda: type(exc).__name__, "Exception")[:100],
            "message": safe(lambda: str(exc), "")[:2000],
            "where": where[-8:],
        }

    def _guarded(self) -> contextlib.AbstractContextManager:
        """Run student code with the test's forbidden functions armed (most
        tests forbid nothing: then a shared no-op, as this wraps every request)."""
        if not self.guard.handlers:
            return _UNGUARDED
        return self.guard.armed()

    # ------------------------------------------------------------------ operations

    def op_hello(self) -> dict:
        return {"pid": os.getpid(), "dir": str(self.dir)}

    def op_printed(self) -> str:
        """The last lines student code printed during this test (empty inline)."""
        return str(PRINTED.tail())

    def op_reset(self, seed: int, forbid: list, threads: int = 1) -> None:
        """Start a test: fresh seeds, no objects from the last test, nothing printed yet."""
        PRINTED.clear()
        for rid in [r for r in self.objects if r not in self.pinned]:
            del self.objects[rid]
        seed_all(seed)
        torch.set_num_threads(threads)
        self.guard.forbid([str(name) for name in forbid])
        return None

    def op_import(self, name: str, student: bool) -> Ref:
        if not student:
            ref = self._ref(importlib.import_module(name))
        else:
            ref = self._ref(self._import_student(name))
        self.pinned.add(ref.id)
        return ref

    def _import_student(self, name: str) -> Any:
        if name in sys.modules and getattr(sys.modules[name], "__file__", "").startswith(str(self.dir)):
            return sys.modules[name]
        problem = self.manifest.get("problems", {}).get(name)
        path = self.dir / f"{name}.py"
        if problem:
            raise MissingModule(problem)
        if not path.is_file():
            raise MissingModule(f"the submission has no module {name!r}", Kind.ABSENT)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, "a .py file has a spec with a loader"
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            with self._guarded():
                spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module

    def op_getattr(self, target: Any, name: str) -> Any:
        with self._guarded():
            return getattr(target, name)

    def op_setattr(self, target: Any, name: str, value: Any) -> None:
        setattr(target, name, value)

    def op_call(self, target: Any, args: list, kwargs: dict) -> Any:
        with self._guarded():
            return target(*args, **kwargs)

    def op_getitem(self, target: Any, key: Any) -> Any:
        with self._guarded():
            return target[key]

    def op_len(self, target: Any) -> int:
        with self._guarded():
            return int(len(target))

    def op_iter(self, target: Any) -> list:
        items = []
        with self._guarded():
            for item in target:
                items.append(item)
                if len(items) > MAX_ITER_ITEMS:
                    raise ValueError("iteration produced too many items")
        return items

    def op_type(self, target: Any) -> dict:
        return introspect.type_info(target)

    def op_structure(self, target: Any) -> dict:
        return introspect.describe_module(target)

    def op_vjp(self, target: Any, args: list, kwargs: dict, grad_output: Any, wrt: Any) -> dict:
        with self._guarded():
            return introspect.vjp(target, args, kwargs, grad_output, wrt)

    def op_release(self, ids: list) -> None:
        for rid in ids:
            if rid not in self.pinned:
                self.objects.pop(rid, None)
