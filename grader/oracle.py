"""The reference as a grading suite reaches it: ``ref = reference("conv")``.

Why one access point: a student kit (``grader release``) must run the visible
tests without the reference's code.  Where the suite runs decides what
``reference`` gives:

- in the course's assignment: the reference module itself (``solutions.conv``);
- while ``grader release`` records (``$GRADER_ORACLE_RECORD`` names a
  folder): the reference wrapped in a :class:`Oracle` that answers with the
  real module and writes down every answer;
- in a kit (``suites/reference.oracle`` beside the suite): a :class:`Oracle`
  that replays those answers and holds no code.

An answer is keyed by everything it can depend on: the chain of operations
that made the object asked (``ref.CIFAR10Net()`` then ``.state_dict()``), the
values of the arguments (tensors byte for byte, a local model's weights,
gradients and modes, an optimizer's state, a loader's data and batching),
the current state of every local object an earlier operation was handed, and
torch's random state where the answer consumed it.  Its effects are
replayed too: arguments changed in place (a model trained by
``ref.fit(model, ...)``, an optimizer's momentum) and the random state
advanced.  A question never recorded is never guessed: the test is skipped
as "checked only when graded" (or, while hypothesis shrinks an example that
already failed, that smaller example is set aside, so the failure reported
is one that was really checked).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import struct
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from . import protocol

ORACLE_FILE = "reference.oracle"
RECORD_ENV = "GRADER_ORACLE_RECORD"
CHECKED_WHEN_GRADED = "checked only when graded"
_RAISABLE = {e.__name__: e for e in (AttributeError, TypeError, ValueError, RuntimeError, IndexError, KeyError)}
_LEN = struct.Struct("!Q")


class Unfaithful(Exception):
    """An argument whose value the oracle cannot key faithfully (a student's
    object, an object without inspectable state): such answers are not recorded."""


def reference(module: str) -> Any:
    """The reference module ``module`` for the calling suite (see the module docstring)."""
    caller = sys._getframe(1).f_globals.get("__file__")
    suites = Path(caller).resolve().parent if caller else Path.cwd()
    if os.environ.get(RECORD_ENV):
        real = importlib.import_module(f"solutions.{module}")
        return Oracle(_digest("module", module), None, [], real, _recorder())
    tape = suites / ORACLE_FILE
    if tape.is_file():
        return Oracle(_digest("module", module), None, [], None, _tape(tape))
    return importlib.import_module(f"solutions.{module}")


# --------------------------------------------------------------------------- keys


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = torch.Tensor.as_subclass(t, torch.Tensor).detach().cpu().contiguous()
    if not t.numel():
        return b""
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else t.numpy().tobytes()


def _feed(h: Any, v: Any, depth: int = 0) -> None:
    """Everything ``v``'s value consists of, into the hash ``h``."""
    from .remote import Remote

    if depth > 24:
        raise Unfaithful("nested too deeply")
    t = type(v)
    if isinstance(v, Remote):
        raise Unfaithful("a student's object")
    if v is None or t in (bool, int, float, complex, str, bytes):
        h.update(f"{t.__name__}:{v!r};".encode())
    elif isinstance(v, Oracle):
        h.update(f"oracle:{object.__getattribute__(v, '_key')};".encode())
    elif isinstance(v, torch.Tensor):
        h.update(f"tensor:{v.dtype}:{tuple(v.shape)}:{v.device.type}:{v.requires_grad};".encode())
        h.update(_tensor_bytes(v))
        if v.is_leaf and v.grad is not None:
            h.update(b"grad;")
            _feed(h, v.grad, depth + 1)
    elif isinstance(v, (list, tuple)):
        h.update(f"{t.__name__}[{len(v)}];".encode())
        for item in v:
            _feed(h, item, depth + 1)
    elif isinstance(v, dict):
        h.update(f"{t.__name__}[{len(v)}];".encode())
        for k, item in v.items():
            _feed(h, k, depth + 1)
            _feed(h, item, depth + 1)
    elif isinstance(v, (torch.dtype, torch.device, torch.layout)):
        h.update(f"{t.__name__}:{v};".encode())
    elif isinstance(v, nn.Module):
        h.update(f"module:{t.__module__}.{t.__qualname__}:{v!r};".encode())
        h.update(bytes(m.training for m in v.modules()))
        for name, p in v.named_parameters():
            h.update(name.encode())
            _feed(h, p, depth + 1)
        for name, b in v.named_buffers():
            h.update(name.encode())
            _feed(h, b, depth + 1)
    elif isinstance(v, torch.optim.Optimizer):
        h.update(f"optimizer:{t.__qualname__};".encode())
        for group in v.param_groups:
            _feed(h, {k: x for k, x in group.items() if k != "params"}, depth + 1)
            _feed(h, list(group["params"]), depth + 1)
        _feed(h, v.state_dict()["state"], depth + 1)
    elif isinstance(v, torch.utils.data.DataLoader):
        h.update(f"loader:{v.batch_size}:{v.drop_last}:{type(v.sampler).__qualname__};".encode())
        _feed(h, v.dataset, depth + 1)
    elif isinstance(v, torch.utils.data.TensorDataset):
        _feed(h, list(v.tensors), depth + 1)
    elif isinstance(v, (types.FunctionType, types.BuiltinFunctionType, type)):
        h.update(f"callable:{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', '')};".encode())
    elif hasattr(v, "__dict__") and not isinstance(v, types.ModuleType):
        h.update(f"object:{t.__module__}.{t.__qualname__};".encode())
        _feed(h, dict(vars(v)), depth + 1)
    else:
        raise Unfaithful(f"a {t.__qualname__}")


def _locals(value: Any, out: list) -> list:
    """The local objects in ``value`` a call may change in place."""
    if isinstance(value, (torch.Tensor, nn.Module, torch.optim.Optimizer)):
        if not any(x is value for x in out):
            out.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _locals(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _locals(v, out)
    return out


def _state_of(obj: Any) -> Any:
    """What replaying a change to ``obj`` needs."""
    if isinstance(obj, torch.Tensor):
        return {"value": obj.detach().clone(), "grad": None if obj.grad is None else obj.grad.clone()}
    if isinstance(obj, nn.Module):
        return {
            "state": {k: v.detach().clone() for k, v in obj.state_dict().items()},
            "grads": {k: None if p.grad is None else p.grad.clone() for k, p in obj.named_parameters()},
            "training": [m.training for m in obj.modules()],
        }
    return {"optimizer": obj.state_dict()}


def _set_state(obj: Any, state: dict) -> None:
    if isinstance(obj, torch.Tensor):
        with torch.no_grad():
            obj.copy_(state["value"])
        obj.grad = state["grad"]
    elif isinstance(obj, nn.Module):
        obj.load_state_dict(state["state"])
        for name, p in obj.named_parameters():
            p.grad = state["grads"].get(name)
        for m, flag in zip(obj.modules(), state["training"], strict=True):
            m.training = flag
    else:
        obj.load_state_dict(state["optimizer"])


def _fingerprint(obj: Any) -> str:
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()


# --------------------------------------------------------------------------- storage


class _Recorder:
    """Appends every answer to ``$GRADER_ORACLE_RECORD/<pid>.rec`` at once:
    a judge forked from ``grader run`` may end with ``os._exit``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.pid = -1
        self.file: Any = None

    def put(self, key: str, entry: dict) -> None:
        blobs: list[bytes] = []
        try:
            data = protocol.pack({"key": key, "entry": protocol.encode(entry, blobs)}, blobs)
        except protocol.Unencodable:
            return
        if self.pid != os.getpid():  # a forked judge writes its own file
            self.pid = os.getpid()
            self.folder.mkdir(parents=True, exist_ok=True)
            self.file = open(self.folder / f"{self.pid}.rec", "ab")  # noqa: SIM115 - open for the process's life
        self.file.write(_LEN.pack(len(data)) + data)
        self.file.flush()

    def get(self, key: str) -> dict | None:
        return None


class _Tape:
    """A kit's recorded answers, read once per process."""

    def __init__(self, path: Path):
        self.entries = load(path)

    def put(self, key: str, entry: dict) -> None:
        pass

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)


_STORES: dict[str, Any] = {}


def _recorder() -> _Recorder:
    folder = os.environ[RECORD_ENV]
    if folder not in _STORES:
        _STORES[folder] = _Recorder(Path(folder))
    return _STORES[folder]


def _tape(path: Path) -> _Tape:
    if str(path) not in _STORES:
        _STORES[str(path)] = _Tape(path)
    return _STORES[str(path)]


def _read_records(data: bytes) -> list[tuple[str, bytes]]:
    out, at = [], 0
    while at + _LEN.size <= len(data):
        (n,) = _LEN.unpack_from(data, at)
        at += _LEN.size
        if at + n > len(data):
            break  # a record cut short by a killed judge
        out.append(data[at : at + n])
        at += n
    return [(protocol.unpack(d)[0]["key"], d) for d in out]


def merge(folder: Path, out: Path) -> tuple[int, int]:
    """One oracle file from the records of every process; an answer recorded
    twice with different values (something the key missed) is dropped.
    Returns (answers kept, answers dropped)."""
    seen: dict[str, bytes | None] = {}
    for path in sorted(folder.glob("*.rec")):
        for key, data in _read_records(path.read_bytes()):
            if key in seen and seen[key] != data:
                seen[key] = None
            else:
                seen.setdefault(key, data)
    kept = [d for d in seen.values() if d is not None]
    out.write_bytes(b"".join(_LEN.pack(len(d)) + d for d in kept))
    return len(kept), len(seen) - len(kept)


def load(path: Path) -> dict[str, dict]:
    entries = {}
    for _, data in _read_records(path.read_bytes()):
        message, blobs = protocol.unpack(data)
        entries[message["key"]] = protocol.decode(message["entry"], blobs)
    return entries


# --------------------------------------------------------------------------- misses


class _Failures:
    """Whether the current test already failed an example (set by the kit's conftest)."""

    seen = False


def _miss(what: str) -> Any:
    if _Failures.seen:
        from hypothesis import reject

        reject()  # a shrinking candidate the kit cannot check: never reported

    raise pytest.skip.Exception(
        f"{CHECKED_WHEN_GRADED}: the kit has no recorded answer of the reference for {what} "
        "(your code led the test to a case the kit did not record)",
        allow_module_level=True,
    )


class KitPlugin:
    """Registered by a kit's ``suites/conftest.py``: tells :func:`_miss` whether
    the running test already failed an example (hypothesis is then shrinking)."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: Any):
        _Failures.seen = False
        handle: Any = getattr(getattr(item, "obj", None), "hypothesis", None)
        inner = getattr(handle, "inner_test", None)
        if inner is not None:
            handle.inner_test = _tracking(inner)
        try:
            yield
        finally:
            _Failures.seen = False
            if inner is not None:
                handle.inner_test = inner


def _tracking(inner: Callable) -> Callable:
    import functools

    from hypothesis.errors import StopTest, UnsatisfiedAssumption

    @functools.wraps(inner)
    def one_example(*args, **kwargs):
        try:
            return inner(*args, **kwargs)
        except (UnsatisfiedAssumption, StopTest, pytest.skip.Exception):
            raise
        except BaseException:
            _Failures.seen = True
            raise

    return one_example


# --------------------------------------------------------------------------- the oracle


def _real(value: Any) -> Any:
    """``value`` with every recording Oracle replaced by the object it wraps."""
    if isinstance(value, Oracle):
        return object.__getattribute__(value, "_real")
    if type(value) in (list, tuple):
        return type(value)(_real(v) for v in value)
    if type(value) is dict:
        return {k: _real(v) for k, v in value.items()}
    return value


class Oracle:
    """A reference object: recorded while ``grader release`` runs, replayed in a kit."""

    __slots__ = ("_key", "_parent", "_deps", "_real", "_store", "_label")

    def __init__(
        self, key: str, parent: Oracle | None, deps: list, real: Any, store: Any, label: str = "the reference"
    ):
        for name, value in (("_key", key), ("_parent", parent), ("_deps", deps), ("_real", real), ("_store", store)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_label", label)

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_label')}>"

    # Operations on the object: each one a recorded answer.
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and name != "__signature__":
            raise AttributeError(name)  # private names and Python's probes are not the reference's answers
        return self._ask(
            "getattr",
            (name,),
            {},
            lambda real: _signature(real) if name == "__signature__" else getattr(real, name),
            name,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ask("call", args, kwargs, lambda real: real(*_real(args), **_real(kwargs)), "(...)", mutates=True)

    def __getitem__(self, index: Any) -> Any:
        return self._ask("getitem", (index,), {}, lambda real: real[_real(index)], f"[{index!r}]")

    def __len__(self) -> int:
        return self._ask("len", (), {}, len, "len()")

    def __iter__(self):
        items = self._ask("iter", (), {}, list, "iter()")
        if isinstance(items, Oracle):
            raise TypeError("the oracle can only iterate over plain values (tensors, numbers, lists)")
        return iter(items)

    def _apply(self, op: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """``fn(real object, *args, **kwargs)`` for an engine function
        (``inspection.vjp``, ``structure``, ``type_info``): recorded and replayed."""
        return self._ask(
            f"apply:{op}", args, kwargs, lambda real: fn(real, *_real(args), **_real(kwargs)), f"{op}()", mutates=True
        )

    def _ask(self, op: str, args: tuple, kwargs: dict, compute: Callable, what: str, mutates: bool = False) -> Any:
        get = object.__getattribute__
        key, deps, store, label = get(self, "_key"), get(self, "_deps"), get(self, "_store"), get(self, "_label")
        label = f"{label}.{what}" if op == "getattr" else f"{label}{what}"
        local = list(deps)
        _locals((args, kwargs), local)
        try:
            h = hashlib.sha256(f"{key}:{op}:".encode())
            _feed(h, (args, kwargs))
            for obj in local:
                _feed(h, obj)
        except Unfaithful:
            if get(self, "_real") is None:
                return _miss(label)
            return compute(get(self, "_real"))  # answered, not recorded: a kit cannot ask it faithfully
        base = h.hexdigest()
        if get(self, "_real") is None:
            return self._replay(base, local, store, label, mutates)
        return self._record(base, local, store, label, compute, mutates)

    def _record(self, base: str, local: list, store: Any, label: str, compute: Callable, mutates: bool) -> Any:
        before_rng = torch.random.get_rng_state()
        before = [_fingerprint(obj) for obj in local]
        try:
            value = compute(object.__getattribute__(self, "_real"))
        except Exception as exc:
            key = base
            store.put(key, {"raises": type(exc).__name__, "message": str(exc)[:2000]})
            raise
        after_rng = torch.random.get_rng_state()
        key = base
        if not torch.equal(before_rng, after_rng):
            store.put(base, {"rng": True})
            key = _digest(base, hashlib.sha256(_tensor_bytes(before_rng)).hexdigest())
        effects = [[i, _state_of(obj)] for i, obj in enumerate(local) if _fingerprint(obj) != before[i]]
        entry: dict[str, Any] = {"effects": effects, "rng": None if key == base else after_rng}
        try:
            blobs: list[bytes] = []
            # What a kit will replay: plain values, detached tensors.
            result = _answer(protocol.decode(protocol.encode(value, blobs), blobs))
            entry["value"] = value
        except protocol.Unencodable:
            entry["object"] = True
            result = Oracle(_digest(key, "result"), self, local, value, store, label)
        store.put(key, entry)
        if mutates:
            self._changed(key)
        return result

    def _replay(self, base: str, local: list, store: Any, label: str, mutates: bool) -> Any:
        entry = store.get(base)
        key = base
        if entry is not None and entry.get("rng"):
            key = _digest(base, hashlib.sha256(_tensor_bytes(torch.random.get_rng_state())).hexdigest())
            entry = store.get(key)
        if entry is None:
            return _miss(label)
        if "raises" in entry:
            raise _RAISABLE.get(entry["raises"], RuntimeError)(entry["message"])
        for index, state in entry["effects"]:
            _set_state(local[index], state)
        if entry["rng"] is not None:
            torch.random.set_rng_state(entry["rng"])
        if mutates:
            self._changed(key)
        if entry.get("object"):
            return Oracle(_digest(key, "result"), self, local, None, store, label)
        return _answer(entry.get("value"))

    def _changed(self, key: str) -> None:
        """A call may have changed this object and the ones it came from; never
        the reference module itself, whose key would then depend on every
        earlier test (and so on what each student's code did)."""
        node: Oracle | None = self
        while node is not None and object.__getattribute__(node, "_parent") is not None:
            object.__setattr__(node, "_key", _digest(object.__getattribute__(node, "_key"), "after", key))
            node = object.__getattribute__(node, "_parent")


def _signature(fn: Any) -> dict:
    """A function's signature as plain data (defaults must be plain values)."""
    params = [
        [
            p.name,
            int(p.kind),
            p.default is inspect.Parameter.empty,
            None if p.default is inspect.Parameter.empty else p.default,
        ]
        for p in inspect.signature(fn).parameters.values()
    ]
    return {"$signature": True, "params": params}


def _answer(value: Any) -> Any:
    """A recorded value as the suite gets it (a signature rebuilt)."""
    if isinstance(value, dict) and value.get("$signature") is True:
        return _unsignature(value)
    return value


def _unsignature(data: dict) -> inspect.Signature:
    return inspect.Signature(
        [
            inspect.Parameter(name, inspect._ParameterKind(kind), default=inspect.Parameter.empty if empty else default)
            for name, kind, empty, default in data["params"]
        ]
    )
