"""The runtime half of ``forbid``: watching what student code calls during a test.

Two handlers sit on torch's mode stacks while student code runs in a test
that forbids something: one on the dispatch stack, which sees every aten
operation (``aten.convolution``) however it was reached from Python, and
decides; one on the ``__torch_function__`` stack, which sees the Python
function (``torch.nn.functional.conv2d``) and only gives the message a
better name.

Student code runs in this process, so it can reach torch's switches that
take those handlers out of play.  The guard answers in three ways:

- while it is armed, the switches Python code can reach (popping the mode
  stacks, ``_disable_current_modes``, excluding the Python dispatch key,
  starting a thread, which starts with no modes) raise :class:`Forbidden`;
- after every guarded call it checks that its handlers are where it put
  them, unchanged, and that the Python dispatch key is not excluded, and
  treats a call that left them otherwise as forbidden (and repairs them);
- its handlers are objects without a ``__dict__``, of classes that ignore
  attribute writes, and read what they forbid from their own default
  arguments (a tuple), not from anything student code could rebind.

What it cannot stop is code that rewrites this process's own Python (the
grader's modules, or its memory through ``ctypes``) or that switches a
handler off and on again by a route not listed here: the static half of
``forbid`` (``grader.sourcecheck``, in the judge) reads the submission for
exactly those routes.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from types import FunctionType, MappingProxyType
from typing import Any

import torch


class Forbidden(Exception):
    """Student code called something the exercise says to write by hand."""


# Python-reachable ways to take the dispatch handler out of play (or to run
# code where it is not: another thread starts with empty mode stacks).
SWITCHES = (
    ("torch._C", "_pop_torch_dispatch_stack"),
    ("torch._C", "_DisableTorchDispatch"),
    ("torch._C", "_ExcludeDispatchKeyGuard"),
    ("torch._C", "ExcludeDispatchKeyGuard"),
    ("torch._C", "_SetExcludeDispatchKeyGuard"),
    ("torch._C", "_ForceDispatchKeyGuard"),
    ("torch._C", "_dispatch_tls_set_dispatch_key_excluded"),
    ("torch._C", "_unset_dispatch_mode"),
    ("_thread", "start_new_thread"),
)
# Modules whose namespaces may hold their own references to the switches.
_ALIAS_HOLDERS = ("torch", "threading", "_thread")


class _Sealed(type):
    """Classes of the guard's handlers: writing or deleting their attributes does nothing."""

    def __setattr__(cls, name: str, value: Any) -> None:
        return None

    def __delattr__(cls, name: str) -> None:
        return None


def _trip(name: str, tripped: list, forbidden: type = Forbidden) -> None:
    """Remember the forbidden call (a student ``except`` may swallow the exception) and refuse it."""
    tripped.append(name)
    raise forbidden(name)


def _dispatch_handler(
    self, func, types, args=(), kwargs=None, _banned=(frozenset(), {}), _tripped=None, _id=id, _trip=_trip
):
    """Refuse a forbidden aten operation, known by the identity of its overload."""
    ids, names = _banned
    if _id(func) in ids:
        _trip(names[_id(func)], _tripped)
    return func(*args, **(kwargs or {}))


def _function_handler(
    self,
    func,
    types,
    args=(),
    kwargs=None,
    _banned=(frozenset(), {}),
    _tripped=None,
    _id=id,
    _trip=_trip,
    _qualify=None,
):
    """Refuse a forbidden Python function, by identity or by its dotted name."""
    ids, names = _banned
    if _id(func) in ids:
        _trip(names[_id(func)], _tripped)
    name = _qualify(func)
    if name in names:
        _trip(names[name], _tripped)
    return func(*args, **(kwargs or {}))


def _qualify(func: Any) -> str:
    return f"{getattr(func, '__module__', '') or ''}.{getattr(func, '__name__', '')}"


def _with_defaults(handler: Callable, banned: tuple, **extra: Any) -> Callable:
    """A copy of ``handler`` whose forbidden set is baked into its (immutable) defaults."""
    assert handler.__defaults__ is not None, "the handlers defined above have defaults"
    defaults = list(handler.__defaults__)
    names = handler.__code__.co_varnames[handler.__code__.co_argcount - len(defaults) : handler.__code__.co_argcount]
    for i, arg in enumerate(names):
        if arg == "_banned":
            defaults[i] = banned
        elif arg in extra:
            defaults[i] = extra[arg]
    return FunctionType(handler.__code__, handler.__globals__, handler.__name__, tuple(defaults))


def _aten_overloads(name: str) -> list:
    """Every overload of ``aten.<op>``: the objects torch hands a dispatch handler."""
    packet = getattr(torch.ops.aten, name.split(".", 1)[1], None)
    if packet is None:
        return []
    return [getattr(packet, overload) for overload in packet.overloads()]


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(dotted)


class _Tripwires:
    """The switches, replaced (in torch._C and wherever torch keeps its own
    reference) by wrappers that refuse them while a guard is armed."""

    def __init__(self) -> None:
        self.armed: list = [0, None]  # how many guards are armed; the innermost one's record
        self.originals: dict[tuple[str, str], Any] = {}
        wires: dict[int, Callable] = {}
        for module_name, attribute in SWITCHES:
            module = sys.modules.get(module_name) or importlib.import_module(module_name)
            original = getattr(module, attribute, None)
            if original is None:
                continue
            self.originals[(module_name, attribute)] = original
            wires.setdefault(id(original), self._wire(original, f"{module_name}.{attribute}"))
        for name, module in list(sys.modules.items()):
            namespace = getattr(module, "__dict__", None)
            if name.split(".", 1)[0] not in _ALIAS_HOLDERS or not isinstance(namespace, dict):
                continue
            for key, value in list(namespace.items()):
                wire = wires.get(id(value))
                if wire is not None:
                    namespace[key] = wire

    def _wire(self, original: Callable, name: str) -> Callable:
        armed = self.armed

        def tripwire(*args, **kwargs):
            if armed[0]:
                _trip(name, armed[1])
            return original(*args, **kwargs)

        tripwire.__name__ = getattr(original, "__name__", name)
        return tripwire


_TRIPWIRES: list[_Tripwires] = []


def _tripwires() -> _Tripwires:
    """Installed once per process, the first time a test forbids something."""
    if not _TRIPWIRES:
        _TRIPWIRES.append(_Tripwires())
    return _TRIPWIRES[0]


def _torch_own(module_name: str, attribute: str) -> Any:
    """torch's function itself, even once a tripwire stands in for it."""
    if _TRIPWIRES and (module_name, attribute) in _TRIPWIRES[0].originals:
        return _TRIPWIRES[0].originals[(module_name, attribute)]
    return getattr(sys.modules[module_name], attribute)


class _Stack:
    """One of torch's two mode stacks, through torch's own functions."""

    def __init__(self, kind: str) -> None:
        c = torch._C
        if kind == "dispatch":
            pop = _torch_own("torch._C", "_pop_torch_dispatch_stack")
            self.push, self.pop = c._push_on_torch_dispatch_stack, (lambda: pop(None))
            self.length, self.at = c._len_torch_dispatch_stack, c._get_dispatch_stack_at
        else:
            self.push, self.pop = c._push_on_torch_function_stack, _torch_own("torch._C", "_pop_torch_function_stack")
            self.length, self.at = c._len_torch_function_stack, c._get_function_stack_at


class _Handler:
    """A handler object on one stack, and what it must still be after a call."""

    def __init__(self, attribute: str, function: Callable, stack: _Stack) -> None:
        self.cls = _Sealed("ForbidHandler", (), {"__slots__": (), attribute: function, "__module__": __name__})
        self.mode = self.cls()
        self.attribute, self.function, self.stack = attribute, function, stack
        self.code, self.defaults = function.__code__, function.__defaults__

    def repair(self) -> bool:
        """Whether student code changed the handler (it is put back)."""
        changed = False
        if self.cls.__dict__.get(self.attribute) is not self.function:
            type.__setattr__(self.cls, self.attribute, self.function)
            changed = True
        if self.function.__code__ is not self.code or self.function.__defaults__ is not self.defaults:
            self.function.__code__, self.function.__defaults__ = self.code, self.defaults
            changed = True
        return changed


class ForbidGuard:
    """One per worker: arms the handlers around each call into student code.

    Made before any student code runs, so the torch functions it keeps are
    torch's own, whatever student code rebinds later.
    """

    def __init__(self) -> None:
        self._stacks = {"function": _Stack("function"), "dispatch": _Stack("dispatch")}
        self._excluded = torch._C._dispatch_tls_is_dispatch_key_excluded
        self._set_excluded = _torch_own("torch._C", "_dispatch_tls_set_dispatch_key_excluded")
        self._python_key = torch._C.DispatchKey.Python
        self.names: tuple[str, ...] = ()
        self.handlers: list[_Handler] = []
        self.tripped: list[str] = []
        self.wires: _Tripwires | None = None
        self.depth = 0  # a guarded request may run another (a module's __getattr__ inside a call)
        self.built: dict[tuple, list[_Handler]] = {}  # tests of one exercise forbid the same names
        self.resolved: list = []

    def forbid(self, names: list[str]) -> None:
        """What the next test forbids: dotted Python names and ``aten.<op>`` names."""
        self.names = tuple(dict.fromkeys(names))
        self.handlers = self.built.get(self.names, [])
        if not self.names or self.handlers:
            return
        self.wires = self.wires or _tripwires()
        op_ids: set[int] = set()
        fn_ids: set[int] = set()
        op_names: dict[int, str] = {}
        fn_names: dict[int | str, str] = {}
        resolved = []  # kept alive, so that no other object ever takes one of these ids
        for name in self.names:
            if name.startswith("aten."):
                for overload in _aten_overloads(name):
                    resolved.append(overload)
                    op_ids.add(id(overload))
                    op_names.setdefault(id(overload), name)
                continue
            with contextlib.suppress(Exception):
                obj = _resolve(name)
                resolved.append(obj)
                fn_ids.add(id(obj))
                fn_names.setdefault(id(obj), name)  # aliases keep the first name
            fn_names.setdefault(name, name)
        if fn_names:
            handler = _with_defaults(
                _function_handler,
                (frozenset(fn_ids), MappingProxyType(fn_names)),
                _tripped=self.tripped,
                _qualify=_qualify,
            )
            self.handlers.append(_Handler("__torch_function__", handler, self._stacks["function"]))
        if op_ids:
            handler = _with_defaults(
                _dispatch_handler, (frozenset(op_ids), MappingProxyType(op_names)), _tripped=self.tripped
            )
            self.handlers.append(_Handler("__torch_dispatch__", handler, self._stacks["dispatch"]))
        self.built[self.names] = self.handlers
        self.resolved.extend(resolved)

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Run student code watched.  A call that touched a forbidden function
        (even if it caught the exception) or switched the watch off is forbidden."""
        if not self.handlers or self.depth:
            yield
            return
        assert self.wires is not None, "forbid() sets the wires before it builds handlers"
        self.depth += 1
        self.tripped.clear()
        depths = self._arm()
        outer = self.wires.armed[1]
        self.wires.armed[0] += 1
        self.wires.armed[1] = self.tripped
        try:
            yield
        finally:
            self.wires.armed[0] -= 1
            self.wires.armed[1] = outer
            problem = self._disarm(depths)
            self.depth -= 1
            if problem or self.tripped:
                used = self.tripped[0] if self.tripped else problem
                assert used is not None, "nothing tripped, so there is a problem"
                raise Forbidden(self._describe(used)) from None

    def _describe(self, used: str) -> str:
        """What was used, and which forbidden functions it is about (the message names the first
        few, as the static half's does: a suite may forbid dozens)."""
        named = [n for n in self.names if not n.startswith("aten.")] or list(self.names)
        functions = ", ".join(named[:4]) + (", ..." if len(named) > 4 else "")
        if used in self.names and not used.startswith("aten."):
            return used
        if used in self.names:
            return f"{used} (torch's own operation behind {functions})"
        return f"{used} (a switch for the grader's check on {functions})"

    def _arm(self) -> list[int]:
        """Push the handlers, first undoing what earlier code left switched off."""
        if self._excluded(self._python_key):
            self._set_excluded(self._python_key, False)
        depths = []
        for handler in self.handlers:
            handler.repair()
            depths.append(handler.stack.length())
            handler.stack.push(handler.mode)
        return depths

    def _disarm(self, depths: list[int]) -> str | None:
        """Pop the handlers; say what student code changed, and put it back."""
        problem = None
        if self._excluded(self._python_key):
            problem = "excluding torch's Python dispatch key"
            self._set_excluded(self._python_key, False)
        for handler, depth in reversed(list(zip(self.handlers, depths, strict=False))):
            if handler.repair():
                problem = problem or "replacing the grader's handler"
            stack = handler.stack
            if stack.length() != depth + 1 or stack.at(depth) is not handler.mode:
                problem = problem or "changing torch's mode stack"
            while stack.length() > depth:
                stack.pop()
        return problem
