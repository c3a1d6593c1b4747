"""The static half of ``forbid``: reading a submission for its routes to a forbidden function.

The judge reads the student's files (it never runs them).  For a test that
forbids functions within a scope (a function or class of the exercise's
module, or the whole module) it follows everything that scope reaches: names
bound at module level, the submission's own modules it imports however it
imports them (``from helpers import c``, ``__import__("help" + "ers")``), the
module-level code of each, and the strings it can work out (``"con" + "v2d"``,
f-strings, ``"".join(...)``, ``[::-1]``).  It reports

- ``forbidden``: a forbidden function reached by any name (``F.conv2d``,
  ``from torch.nn.functional import conv2d as c``, ``getattr(F, "con" + "v2d")``,
  ``vars(torch)["conv2d"]``, ``x.relu()``, a string naming it);
- ``unreadable``: a name it cannot work out (``getattr(F, name)``, ``eval(text)``,
  ``sys.modules[name]``, ``obj.__dict__``): the test must know what the code
  uses, so such code cannot pass it;
- ``switch``: a way to switch off the worker's runtime check (torch's dispatch
  internals, the grader's own modules, frames, ``gc``, ``ctypes``, threads);

and, anywhere in the modules the worker imports, ``rebinding``: a library
function or another module's function replaced (``torch.Tensor.amax = ...``),
which changes what clean-looking code does, and ``thread``: a thread started
(another exercise's code may start one that waits for work: it has no
runtime check, and nothing ties it to the test).  Those count for every test
that forbids something: their effect outlives the call that made it.  The
other switches count only where a test's scope reaches them: the worker
repairs what they leave behind before each call.

Python can always hide a name from a reader; the point is that the code that
does so is itself visible, and is refused.  What is still beyond it is said
in the README's Security model.
"""

from __future__ import annotations

import ast
import builtins
import collections
import importlib.util
import inspect
import itertools
import re
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 2_000_000
MAX_STRINGS = 32  # possible values of one string expression before it counts as unreadable
MAX_STEPS = 300_000  # nodes read for one test before the code counts as unreadable

# Reaching these (or anything below them) can switch off the worker's runtime check.
SWITCH_PATHS = (
    "grader",
    "ctypes",
    "_ctypes",
    "gc.get_referrers",
    "gc.get_referents",
    "gc.get_objects",
    "sys._getframe",
    "sys._current_frames",
    "sys.settrace",
    "sys.setprofile",
    "threading",
    "_thread",
    "concurrent",
    "multiprocessing",
    "torch._C",
    "torch.utils._python_dispatch",
    "torch.overrides",
    "torch._ops",
    "torch.library",
    "torch._dispatch",
    "torch._subclasses",
    "inspect.currentframe",
    "inspect.stack",
    "inspect.trace",
    "inspect.getouterframes",
    "inspect.getinnerframes",
    "inspect.getclosurevars",
)
# Threads (and processes) run student code where no runtime check is armed.
THREAD_PATHS = ("threading", "_thread", "concurrent", "multiprocessing")
THREAD_NAMES = frozenset({"start_new_thread", "_start_new_thread", "start_joinable_thread"})
# Attribute names that belong to those switches, whatever object they are read from.
SWITCH_NAMES = frozenset(
    {
        "_C",
        "_getframe",
        "f_back",
        "f_globals",
        "f_locals",
        "f_builtins",
        "tb_frame",
        "gi_frame",
        "cr_frame",
        "ag_frame",
        "__globals__",
        "__builtins__",
        "__closure__",
        "__code__",
        "__defaults__",
        "__kwdefaults__",
        "__subclasses__",
        "get_referrers",
        "get_referents",
        "get_objects",
        "settrace",
        "setprofile",
        "start_new_thread",
        "_start_new_thread",
        "__torch_function__",
        "__torch_dispatch__",
        "redispatch",
        "_op_dk",
        "_disable_current_modes",
        "_pop_mode",
        "_pop_mode_temporarily",
        "_push_mode",
    }
)
SWITCH_PATTERN = re.compile(
    r"torch_function|torch_dispatch|TorchFunction|TorchDispatch|DispatchKey|"
    r"dispatch_stack|_python_dispatch"
)
# Reaching these means running a name or code the reader cannot see.
UNREADABLE_PATHS = (
    "pickle",
    "_pickle",
    "marshal",
    "pydoc",
    "runpy",
    "importlib",
    "types.FunctionType",
    "types.CodeType",
    "types.LambdaType",
    "types.ModuleType",
    "types.MethodType",
    "inspect",
    "code",
    "codeop",
    "copyreg",
    "shelve",
    "string.Formatter",
    "operator.attrgetter",
    "operator.methodcaller",
    "builtins.eval",
    "builtins.exec",
    "builtins.compile",
    "builtins.getattr",
    "builtins.setattr",
    "builtins.delattr",
    "builtins.vars",
    "builtins.globals",
    "builtins.locals",
    "builtins.__import__",
    "builtins.breakpoint",
)
READABLE_PATHS = frozenset({"importlib.import_module", "inspect.signature", "inspect.isclass", "inspect.isfunction"})
REFLECTIVE = frozenset(
    {
        "__dict__",
        "__getattribute__",
        "__getattr__",
        "__setattr__",
        "__delattr__",
        "__mro__",
        "__bases__",
        "__base__",
        "__func__",
        "__self__",
        "__wrapped__",
        "__reduce__",
        "__reduce_ex__",
        "__loader__",
        "__spec__",
        "__import__",
    }
)
STR_METHODS = frozenset(
    {
        "lower",
        "upper",
        "strip",
        "lstrip",
        "rstrip",
        "replace",
        "format",
        "capitalize",
        "title",
        "swapcase",
        "removeprefix",
        "removesuffix",
        "casefold",
        "join",
    }
)
IDENTIFIER_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
# The nodes that open a scope of their own.
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda


class _TooMuch(Exception):
    """More code than a submission for a course exercise can need."""


@dataclass(frozen=True)
class Finding:
    """One place in the student's code, and what the reader found there."""

    kind: str  # "forbidden", "unreadable", "switch", "thread" or "rebinding"
    file: str
    line: int
    code: str
    what: str  # the forbidden name, or what the code reaches

    def where(self) -> str:
        return f"{self.file}, line {self.line}: {self.code}"


class Rules:
    """What a test forbids, as the reader matches it.

    A dotted path is forbidden when it starts at the root of a forbidden name
    (``torch``; ``aten.<op>`` is ``torch.ops.aten.<op>``) and any later part is
    a forbidden name's last part: ``torch.nn.functional.conv2d`` and
    ``torch._C._VariableFunctions.conv2d`` alike.  An attribute of something
    the reader cannot identify is forbidden by the last part of a Python name
    (``x.relu()`` when ``torch.Tensor.relu`` is forbidden).
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(dict.fromkeys(str(n) for n in names))
        self.functions = tuple(n for n in self.names if not n.startswith("aten.")) or self.names
        self.by_root: dict[str, dict[str, str]] = {}
        self.attributes: dict[str, str] = {}
        for name in self.names:
            path = "torch.ops." + name if name.startswith("aten.") else name
            root, _, rest = path.partition(".")
            last = rest.rsplit(".", 1)[-1]
            if last:
                self.by_root.setdefault(root, {}).setdefault(last, name)
                if ".Tensor." in name or (not name.startswith("aten.") and last not in self.attributes):
                    self.attributes[last] = name  # x.relu() is most likely torch.Tensor.relu
        for parts in self.by_root.values():  # a Python name is the better name for the message
            parts.update({k: v for k, v in self.attributes.items() if k in parts and parts[k].startswith("aten.")})

    def path(self, dotted: str) -> str | None:
        if dotted in self.names:
            return dotted
        root, *rest = dotted.split(".")
        parts = self.by_root.get(root, {})
        return next((parts[p] for p in rest if p in parts), None)

    def text(self, value: str) -> str | None:
        """The forbidden name a string spells (``"conv2d"``, ``"torch.nn.functional.conv2d"``)."""
        if not IDENTIFIER_PATH.fullmatch(value):
            return None
        parts = value.split(".")
        for part in parts:
            for names in self.by_root.values():
                if part in names:
                    return names[part]
        return None


def switch_path(dotted: str) -> bool:
    return any(dotted == p or dotted.startswith(p + ".") for p in SWITCH_PATHS) or any(
        part in SWITCH_NAMES or SWITCH_PATTERN.search(part) for part in dotted.split(".")[1:]
    )


def unreadable_path(dotted: str) -> bool:
    if dotted in READABLE_PATHS:
        return False
    return any(dotted == p or dotted.startswith(p + ".") for p in UNREADABLE_PATHS)


# --------------------------------------------------------------------------- the submission's modules


@dataclass
class Module:
    name: str
    file: str
    source: str
    tree: ast.Module
    bindings: dict
    stars: list
    always: list  # statements that run when the module is imported, whatever is used


def _installed(name: str) -> bool:
    """Whether ``import name`` finds an installed module before the submission's file (the
    worker puts the submission's folder last on ``sys.path``).  Only the Python installation
    counts: the judge's own path (the assignment's ``solutions``) is not the worker's."""
    if name in sys.builtin_module_names or name in sys.stdlib_module_names or name == "grader":
        return True
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    origin = str(getattr(spec, "origin", None) or "")
    return spec is not None and any(origin.startswith(p) for p in {sys.prefix, sys.base_prefix})


class Submission:
    """The student's modules, parsed once (the judge never runs them)."""

    def __init__(self, folder: str | Path, exercises: Iterable[str] = ()) -> None:
        self.folder = Path(folder)
        self.modules: dict[str, Module] = {}
        for path in sorted(self.folder.glob("*.py")):
            if path.stem.isidentifier() and not (_installed(path.stem) and path.stem not in set(exercises)):
                self._add(path)
        self.exercises = [e for e in exercises if e in self.modules]
        self._lasting: list[Finding] | None = None

    def _add(self, path: Path) -> None:
        try:
            source = path.read_bytes()[:MAX_FILE_BYTES].decode("utf-8", "replace")
            tree = ast.parse(source)
        except (OSError, SyntaxError, ValueError):
            return
        bindings, stars = _bindings(tree.body)
        self.modules[path.stem] = Module(path.stem, path.name, source, tree, bindings, stars, _always(tree.body))

    def findings(self, rules: Rules, module: str, within: Sequence[str] = ()) -> list[Finding]:
        """What the code reached from ``within`` (names in ``module``; all of it when empty)
        does with the forbidden functions, plus what anywhere changes every test."""
        if module not in self.modules:
            return []
        reader = _Reader(self, rules)
        reader.read_scope(module, within)
        return _unique(reader.found + [f for f in self.lasting() if f not in reader.found])

    def lasting(self) -> list[Finding]:
        """Rebindings and threads anywhere in the imported modules: what they do outlives
        the call that did it, so it concerns every test that forbids something."""
        if self._lasting is None:
            reader = _Reader(self, Rules(()), lasting_only=True)
            for name in self.imported():
                reader.read_everything(name)
            self._lasting = _unique(reader.found)
        return self._lasting

    def imported(self) -> list[str]:
        """The modules the worker may import: the exercises and what they import, or every
        module when one imports a name the reader cannot work out."""
        todo, seen = list(self.exercises), set()
        while todo:
            name = todo.pop()
            if name in seen or name not in self.modules:
                continue
            seen.add(name)
            imports = _imports_of(self.modules[name])
            if imports is None:
                return sorted(self.modules)
            todo += [i for i in imports if i in self.modules]
        return sorted(seen)


def _unique(found: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(found))


def _imports_of(module: Module) -> list[str] | None:
    """Top-level names ``module`` imports anywhere; None if one is built at run time."""
    names = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            names += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Name, ast.Attribute))
            and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
            in ("__import__", "import_module", "reload", "spec_from_file_location", "run_path")
        ):
            text = _constant_strings(node.args[0]) if node.args else None
            if text is None:
                return None
            names += [t.split(".")[0] for t in text]
    return names


def _constant_strings(node: ast.AST) -> list[str] | None:
    """The strings a scope-free expression can be (enough to follow an import)."""
    return _Folder(None, None).fold(node)


# --------------------------------------------------------------------------- bindings and scopes

# A binding is ("import", dotted, statement), ("from", module, name, statement), ("def", node),
# ("assign", expression, statement) or ("unknown", statement); the statement says where it is.


def _bindings(body: Sequence[ast.AST]) -> tuple[dict, list]:
    """The names a block of statements binds (not looking into nested functions or classes)."""
    bindings: dict[str, list] = {}
    stars: list[str] = []

    def bind(name: str, entry: tuple) -> None:
        bindings.setdefault(name, []).append(entry)

    def targets(target: ast.AST, value: ast.AST | None, where: ast.AST) -> None:
        if isinstance(target, ast.Name):
            bind(target.id, ("assign", value, where) if value is not None else ("unknown", where))
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = (
                value.elts
                if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts)
                else [None] * len(target.elts)
            )
            for t, v in zip(target.elts, values, strict=True):
                targets(t.value if isinstance(t, ast.Starred) else t, v, where)

    for node in _statements(body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(node.name, ("def", node))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    bind(a.asname, ("import", a.name, node))
                else:
                    bind(a.name.split(".")[0], ("import", a.name.split(".")[0], node))
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name == "*":
                    stars.append(node.module or "")
                elif node.level:
                    bind(a.asname or a.name, ("unknown", node))
                else:
                    bind(a.asname or a.name, ("from", node.module or "", a.name, node))
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                targets(t, node.value, node)
        elif isinstance(node, ast.AnnAssign):
            targets(node.target, node.value, node)
        elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor, ast.comprehension)):
            targets(node.target, None, node)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    targets(item.optional_vars, None, node)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bind(node.name, ("unknown", node))
        elif isinstance(node, ast.NamedExpr):
            targets(node.target, node.value, node)
    return bindings, stars


def _statements(body: Sequence[ast.AST]) -> Iterable[ast.AST]:
    """Every node of a block that binds in its scope: nested functions' and
    classes' insides belong to their own scopes."""
    todo = collections.deque(body)
    while todo:
        node = todo.popleft()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        todo += list(ast.iter_child_nodes(node))


def _always(body: list[ast.stmt]) -> list[ast.stmt]:
    """Module-level statements that run at import and are not merely bindings
    (a definition, an import, or ``name = value``, read only where it is used)."""
    always = []
    for i, node in enumerate(body):
        lazy = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)) or (
            isinstance(node, (ast.Assign, ast.AnnAssign))
            and all(isinstance(t, ast.Name) for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))
        )
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not lazy and not docstring:
            always.append(node)
    return always


@dataclass
class Scope:
    module: Module
    bindings: dict
    parent: Scope | None = None
    globals_: frozenset = frozenset()

    def child(self, node: Definition) -> Scope:
        """The scope of a function, lambda or class nested in this one."""
        body: Sequence[ast.AST]
        if isinstance(node, ast.Lambda):
            body = [node.body]
        else:
            body = node.body
        bindings, _ = _bindings(body)
        if not isinstance(node, ast.ClassDef):
            for arg in _arguments(node.args):
                bindings.setdefault(arg, []).append(("unknown",))
        declared = frozenset(n for s in _statements(body) if isinstance(s, ast.Global) for n in s.names)
        for name in declared:
            bindings.pop(name, None)
        # A method does not see its class's names: its parent is the class's parent.
        parent = self.parent if self._is_class else self
        scope = Scope(self.module, bindings, parent, declared)
        scope._is_class = isinstance(node, ast.ClassDef)
        return scope

    _is_class = False


def _arguments(args: ast.arguments) -> list[str]:
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


# --------------------------------------------------------------------------- strings


class _Folder:
    """Works out the strings an expression can be, when it is built from constants."""

    def __init__(self, reader: _Reader | None, scope: Scope | None) -> None:
        self.reader, self.scope = reader, scope

    def fold(self, node: ast.AST) -> list[str] | None:
        values = self.constants(node)
        return values if values is not None and all(isinstance(v, str) for v in values) else None

    def constants(self, node: ast.AST) -> list | None:
        """The strings or integers ``node`` can be."""
        try:
            values = self._fold(node)
        except (TypeError, ValueError, IndexError, KeyError, OverflowError, RecursionError, AttributeError):
            return None
        if values is None or len(values) > MAX_STRINGS or not all(type(v) in (str, int) for v in values):
            return None
        return values

    def _fold(self, node: ast.AST) -> list | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
            return [node.value]
        if isinstance(node, ast.JoinedStr):
            return self._joined(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod, ast.Mult)):
            return self._binop(node)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Name) and self.reader is not None and self.scope is not None:
            return self.reader.name_constants(node.id, self.scope)
        return None

    def _joined(self, node: ast.JoinedStr) -> list | None:
        parts: list[list] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.format_spec is not None:
                    return None
                inner = self._fold(value.value)
                if inner is None:
                    return None
                parts.append([str(v) for v in inner])
            elif isinstance(value, ast.Constant):  # the only other kind a JoinedStr holds
                parts.append([value.value])
            else:
                return None
        return self._product(parts, "".join)

    def _binop(self, node: ast.BinOp) -> list | None:
        left, right = self._fold(node.left), self._fold(node.right)
        if isinstance(node.op, ast.Mod) and isinstance(node.right, ast.Tuple):
            items: list[Any] = [self._fold(e) for e in node.right.elts]  # lists, once none is None
            if left is None or any(i is None for i in items):
                return None
            return self._product([left, *items], lambda p: p[0] % tuple(p[1:]))
        if left is None or right is None:
            return None
        op = {ast.Add: lambda p: p[0] + p[1], ast.Mod: lambda p: p[0] % p[1], ast.Mult: lambda p: p[0] * p[1]}[
            type(node.op)
        ]
        return self._product([left, right], op)

    def _subscript(self, node: ast.Subscript) -> list | None:
        values = self._fold(node.value)
        if values is None:
            return None
        index = node.slice
        if isinstance(index, ast.Slice):
            bounds = [self._int(b) for b in (index.lower, index.upper, index.step)]
            if any(b is False for b in bounds):
                return None
            return [v[slice(*bounds)] for v in values]
        i = self._int(index)
        return None if i is False or i is None else [v[i] for v in values]

    def _int(self, node: ast.AST | None):
        if node is None:
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self._int(node.operand)
            return False if inner is False or inner is None else -inner
        return node.value if isinstance(node, ast.Constant) and type(node.value) is int else False

    def _call(self, node: ast.Call) -> list | None:
        func = node.func
        if node.keywords:
            return None
        if isinstance(func, ast.Attribute) and func.attr == "join" and len(node.args) == 1:
            owner, items = self._fold(func.value), self._sequence(node.args[0])
            if owner is None or items is None:
                return None
            return self._product([owner, items], lambda p: p[0].join(p[1]))
        args: list[Any] = [self._fold(a) for a in node.args]  # lists, once none is None
        if any(a is None for a in args):
            return None
        if isinstance(func, ast.Attribute) and func.attr in STR_METHODS:
            owner = self._fold(func.value)
            if owner is None:
                return None
            return self._product([owner, *args], lambda p: getattr(str, func.attr)(*p))
        if isinstance(func, ast.Name) and func.id in ("str", "chr") and len(args) == 1:
            return [str(v) if func.id == "str" else chr(v) for v in args[0]]
        return None

    def _sequence(self, node: ast.AST) -> list | None:
        """The possible contents of a sequence of strings (to be joined)."""
        if isinstance(node, (ast.List, ast.Tuple)):
            items: list[Any] = [self._fold(e) for e in node.elts]  # lists, once none is None
            return None if any(i is None for i in items) else self._product(items, tuple)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "reversed":
            inner = self._fold(node.args[0]) if len(node.args) == 1 else None
            return None if inner is None else [tuple(reversed(v)) for v in inner]
        inner = self._fold(node)  # a string is a sequence of its characters
        return None if inner is None else [tuple(v) for v in inner]

    @staticmethod
    def _product(parts: list[list], combine) -> list | None:
        total = 1
        for p in parts:
            total *= len(p)
        if total > MAX_STRINGS:
            return None
        return [combine(list(p)) for p in itertools.product(*parts)]


# --------------------------------------------------------------------------- the reader

# Values an expression can have, as far as the reader can tell:
# ("lib", "torch.nn.functional"), ("mod", "helpers"), ("def", module, node, scope), ("const", "conv2d"),
# ("vars", value) for vars(x) / x.__dict__, ("get", value) for vars(x).get, ("getter", "a.b")
# for operator.attrgetter("a.b"), and ("?",) for anything else.
UNKNOWN = ("?",)


class _Reader:
    """Follows one scope through the submission and collects what it finds."""

    def __init__(self, submission: Submission, rules: Rules, lasting_only: bool = False) -> None:
        self.submission, self.rules, self.lasting_only = submission, rules, lasting_only
        self.found: list[Finding] = []
        self.origins: dict[str, tuple] = {}  # library path -> (module, import statement) naming it
        self.place: ast.AST | None = None  # the eval() whose text is being read
        self.done: set = set()
        self.todo: list = []
        self.resolving: set = set()
        self.memo: dict = {}
        self.steps = 0
        self.keep: list = []  # every scope and parsed text: the caches above are keyed by id()

    # ---------------------------------------------------------------- what to read

    def read_scope(self, module: str, within: Sequence[str]) -> None:
        mod = self.submission.modules[module]
        if within:
            scope = Scope(mod, mod.bindings)
            for name in within:
                for entry in mod.bindings.get(name, []):
                    if entry[0] in ("import", "from"):  # the student's function is a library's
                        self._check_values(entry[-1], self._entry_values(entry, scope), scope, None)
                    elif entry[0] == "def":
                        self._reach_value(self._entry_values(entry, scope)[0])
                    elif entry[0] == "assign" and entry[1] is not None:
                        self.todo.append(("node", module, entry[1], scope))
            self._reach_module(module)
        else:
            self.todo.append(("all", module))
        self._drain()

    def read_everything(self, module: str) -> None:
        self.todo.append(("all", module))
        self._drain()

    def _drain(self) -> None:
        while self.todo:
            item = self.todo.pop()
            self.keep.append(item)
            key = (
                item[0],
                item[1],
                id(item[2]) if len(item) > 2 else None,
                id(item[3].bindings) if len(item) > 3 else None,
            )
            if key in self.done:
                continue
            self.done.add(key)
            if item[0] == "all":
                mod = self.submission.modules[item[1]]
                self._walk(mod.tree.body, Scope(mod, mod.bindings))
            elif item[0] == "always":
                mod = self.submission.modules[item[1]]
                self._walk(mod.always, Scope(mod, mod.bindings))
            else:
                _, _, node, scope = item
                self._walk([node], scope)

    def _reach_module(self, name: str) -> None:
        if name in self.submission.modules:
            self.todo.append(("always", name))

    # ---------------------------------------------------------------- walking code

    def _walk(self, nodes: Sequence[ast.AST], scope: Scope) -> None:
        for node in nodes:
            self._visit(node, scope, None)

    def _visit(self, node: ast.AST, scope: Scope, parent: ast.AST | None) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _TooMuch
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            self._visit_definition(node, scope)
            return
        self._check(node, scope, parent)
        for child in ast.iter_child_nodes(node):
            self._visit(child, scope, node)

    def _visit_definition(self, node: Definition, scope: Scope) -> None:
        """Decorators, defaults and bases run in the enclosing scope; the body in its own."""
        outer = list(getattr(node, "decorator_list", []))
        if isinstance(node, ast.ClassDef):
            outer += node.bases + [k.value for k in node.keywords]
        else:
            outer += [d for d in node.args.defaults + node.args.kw_defaults if d is not None]
        for child in outer:
            self._visit(child, scope, node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in (
            "__torch_function__",
            "__torch_dispatch__",
        ):
            self._add("switch", scope, node, f"a {node.name} of its own, which takes torch's calls first")
        inner = scope.child(node)
        self.keep.append(inner)
        body: Sequence[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else node.body
        for child in body:
            self._visit(child, inner, node)

    def _check(self, node: ast.AST, scope: Scope, parent: ast.AST | None) -> None:
        if self.lasting_only:
            self._check_rebinding(node, scope)
            self._check_thread(node, scope, parent)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            values = self.values(node, scope)
            if self._assigned(node.id, scope):  # the assigned expression is read, and judged, itself
                for value in values:
                    self._reach_value(value)
            else:
                self._check_values(node, values, scope, parent)
        elif isinstance(node, ast.Attribute):
            self._check_attribute(node, scope, parent)
        elif isinstance(node, ast.Call):
            self._check_call(node, scope, parent)
        elif isinstance(node, ast.Subscript):
            self._check_subscript(node, scope, parent)
        if (
            isinstance(node, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Call, ast.Subscript))
            and not self._docstring(node, parent)
            and not self._part_of_string(parent)
        ):
            self._check_strings(node, scope)
        self._check_rebinding(node, scope)

    # ---------------------------------------------------------------- checks

    def _check_thread(self, node: ast.AST, scope: Scope, parent: ast.AST | None) -> None:
        """Threads, wherever they start: a thread has no runtime check, whichever test is on."""
        if isinstance(node, ast.Attribute) and node.attr in THREAD_NAMES:
            self._add("thread", scope, node, node.attr)
        elif (
            isinstance(node, (ast.Name, ast.Attribute))
            and isinstance(node.ctx, ast.Load)
            and not self._inner(node, parent)
        ):
            for value in self.values(node, scope):
                if value[0] == "lib" and any(value[1] == p or value[1].startswith(p + ".") for p in THREAD_PATHS):
                    at_scope, at = self.origins.get(value[1], (scope, node))
                    self._add("thread", at_scope, at, value[1])

    def _check_values(self, node: ast.AST, values: list, scope: Scope, parent: ast.AST | None) -> None:
        """Judge what an expression is, where it is used as a whole."""
        if self._inner(node, parent):
            for value in values:
                self._reach_value(value)
            return
        called = isinstance(parent, ast.Call) and parent.func is node
        for value in values:
            self._reach_value(value)
            if value[0] != "lib":
                continue
            path = value[1]
            at_scope, at = self.origins.get(path, (scope, node))
            forbidden = self.rules.path(path)
            if forbidden:
                self._add("forbidden", at_scope, at, forbidden)
            elif switch_path(path):
                self._add("switch", at_scope, at, path)
            elif unreadable_path(path) and not (called and path in _CALL_ONLY):
                self._add("unreadable", scope, node, path)

    def _assigned(self, name: str, scope: Scope) -> bool:
        """Whether ``name`` is bound only by assignments (``f = F.conv2d``), in this scope or above."""
        current: Scope | None = scope
        while current is not None:
            if name in current.globals_:
                current = Scope(scope.module, scope.module.bindings)
            if name in current.bindings:
                return all(e[0] == "assign" for e in current.bindings[name])
            current = current.parent if current.bindings is not scope.module.bindings else None
        return False

    @staticmethod
    def _inner(node: ast.AST, parent: ast.AST | None) -> bool:
        """Whether ``node`` is only the start of a longer expression (``F`` in ``F.conv2d``)."""
        return (isinstance(parent, ast.Attribute) and parent.value is node) or (
            isinstance(parent, ast.Subscript) and parent.value is node
        )

    def _check_attribute(self, node: ast.Attribute, scope: Scope, parent: ast.AST | None) -> None:
        name = node.attr
        bases = self.values(node.value, scope)
        if name in SWITCH_NAMES or SWITCH_PATTERN.search(name):
            self._add("switch", scope, node, name)
        elif name in REFLECTIVE and not (name == "__dict__" and self._read_by_constant(parent, scope)):
            self._add("unreadable", scope, node, name)
        elif all(b == UNKNOWN for b in bases) and name in self.rules.attributes:
            self._add("forbidden", scope, node, self.rules.attributes[name])
        if isinstance(node.ctx, ast.Load):
            self._check_values(node, self.values(node, scope), scope, parent)

    def _read_by_constant(self, parent: ast.AST | None, scope: Scope) -> bool:
        """``x.__dict__["name"]`` or ``vars(x).get("name")``: a name the reader can work out."""
        if isinstance(parent, ast.Subscript):
            return _Folder(self, scope).fold(parent.slice) is not None
        return False

    def _check_call(self, node: ast.Call, scope: Scope, parent: ast.AST | None) -> None:
        for func in self.values(node.func, scope):
            path = func[1] if func[0] == "lib" else None
            if path in _NAME_TAKERS and len(node.args) >= 2:
                if _Folder(self, scope).fold(node.args[1]) is None:
                    self._add("unreadable", scope, node, "a name built at run time")
                else:
                    names = _Folder(self, scope).fold(node.args[1])  # the same as just above
                    assert names is not None
                    for name in names:
                        self._check_name(name, node, scope, self.values(node.args[0], scope))
            elif path in _CODE_RUNNERS:
                self._check_code(node, scope)
            elif func[0] == "get" and node.args:
                names = _Folder(self, scope).fold(node.args[0])
                if names is None:
                    self._add("unreadable", scope, node, "a name built at run time")
                for name in names or []:
                    self._check_name(name, node, scope, [func[1]])
            elif path in _IMPORTERS or path in (
                "builtins.vars",
                "builtins.globals",
                "builtins.locals",
                "operator.attrgetter",
                "operator.methodcaller",
            ):
                strings = _Folder(self, scope).fold(node.args[0]) if node.args else ["?"]
                if path in ("builtins.vars", "builtins.globals", "builtins.locals"):
                    if not self._read_by_constant(parent, scope) and not self._get_by_constant(parent, scope):
                        self._add(
                            "unreadable", scope, node, f"{path.split('.')[-1]}() read by a name built at run time"
                        )
                elif strings is None:
                    self._add("unreadable", scope, node, "a name built at run time")
                elif path.startswith("operator."):
                    for name in strings:
                        for part in name.split("."):
                            self._check_name(part, node, scope, [UNKNOWN])
        self._check_values(node, self.values(node, scope), scope, parent)

    @staticmethod
    def _get_by_constant(parent: ast.AST | None, scope: Scope) -> bool:
        """``vars(x).get(...)``: the call that follows is judged by its argument."""
        return isinstance(parent, ast.Attribute) and parent.attr == "get"

    def _check_name(self, name: str, node: ast.AST, scope: Scope, bases: list) -> None:
        """An attribute named by a string (``getattr(F, "conv2d")``)."""
        if name in SWITCH_NAMES or SWITCH_PATTERN.search(name):
            self._add("switch", scope, node, name)
        elif name in REFLECTIVE:
            self._add("unreadable", scope, node, name)
        elif all(b == UNKNOWN for b in bases) and name in self.rules.attributes:
            self._add("forbidden", scope, node, self.rules.attributes[name])

    def _check_code(self, node: ast.Call, scope: Scope) -> None:
        """``eval``/``exec``/``compile`` of text the reader can work out is read as code."""
        texts = _Folder(self, scope).fold(node.args[0]) if node.args else None
        if texts is None:
            self._add("unreadable", scope, node, "code built at run time")
            return
        for text in texts:
            try:
                tree = ast.parse(text)
                self.keep.append(tree)
            except SyntaxError:
                self._add("unreadable", scope, node, "code the grader cannot parse")
                continue
            outer, self.place = self.place, self.place or node
            try:
                self._walk(tree.body, scope)
            finally:
                self.place = outer

    def _check_subscript(self, node: ast.Subscript, scope: Scope, parent: ast.AST | None) -> None:
        bases = self.values(node.value, scope)
        if any(b[0] == "vars" or b == ("lib", "sys.modules") for b in bases):
            names = _Folder(self, scope).fold(node.slice)
            if names is None:
                self._add("unreadable", scope, node, "a name built at run time")
            else:
                for name in names:
                    self._check_name(name, node, scope, [b[1] if b[0] == "vars" else b for b in bases])
        if isinstance(node.ctx, ast.Load):
            self._check_values(node, self.values(node, scope), scope, parent)

    def _check_strings(self, node: ast.AST, scope: Scope) -> None:
        for text in _Folder(self, scope).fold(node) or []:
            forbidden = self.rules.text(text)
            if forbidden:
                self._add("forbidden", scope, node, forbidden)
            elif IDENTIFIER_PATH.fullmatch(text) and (
                switch_path(text) or any(p in SWITCH_NAMES for p in text.split("."))
            ):
                self._add("switch", scope, node, text)

    @staticmethod
    def _part_of_string(parent: ast.AST | None) -> bool:
        """``"relu_"`` in ``"relu_" + "helpers"``: only the whole string counts."""
        return isinstance(
            parent, (ast.BinOp, ast.JoinedStr, ast.FormattedValue, ast.Attribute, ast.List, ast.Tuple, ast.Subscript)
        ) or (
            isinstance(parent, ast.Call)
            and isinstance(parent.func, (ast.Attribute, ast.Name))
            and getattr(parent.func, "attr", getattr(parent.func, "id", None))
            in STR_METHODS | {"str", "chr", "reversed"}
        )

    @staticmethod
    def _docstring(node: ast.AST, parent: ast.AST | None) -> bool:
        return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant) and isinstance(node.value, str)

    def _check_rebinding(self, node: ast.AST, scope: Scope) -> None:
        """A store into a library object or another module (``torch.Tensor.amax = f``,
        ``setattr(F, "relu", f)``, ``vars(F)["relu"] = f``, ``helpers.c = f``)."""
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for t in target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                if isinstance(t, ast.Attribute):
                    self._rebinds(t, self.values(t.value, scope), [t.attr], scope)
                elif isinstance(t, ast.Subscript):
                    bases = [b[1] for b in self.values(t.value, scope) if b[0] == "vars"]
                    self._rebinds(t, bases, _Folder(self, scope).fold(t.slice), scope)
        if isinstance(node, ast.Call):
            for func in self.values(node.func, scope):
                if func[0] == "lib" and func[1] in ("builtins.setattr", "builtins.delattr") and node.args:
                    names = _Folder(self, scope).fold(node.args[1]) if len(node.args) > 1 else None
                    self._rebinds(node, self.values(node.args[0], scope), names, scope)

    def _rebinds(self, node: ast.AST, bases: list, names: list[str] | None, scope: Scope) -> None:
        for base in bases:
            if base[0] == "lib" and (names is None or any(_library_callable(f"{base[1]}.{n}") for n in names)):
                self._add("rebinding", scope, node, f"{base[1]}.{names[0] if names else '...'}")
            elif base[0] == "mod" and base[1] != scope.module.name:
                self._add("rebinding", scope, node, f"{base[1]}.{names[0] if names else '...'}")

    # ---------------------------------------------------------------- values

    def values(self, node: ast.AST, scope: Scope) -> list:
        key = (id(node), id(scope.bindings))
        if key in self.memo:
            return self.memo[key]
        if key in self.resolving or len(self.resolving) > 200:
            return [UNKNOWN]
        self.resolving.add(key)
        try:
            self.memo[key] = self._values(node, scope) or [UNKNOWN]
        finally:
            self.resolving.discard(key)
        return self.memo[key]

    def _values(self, node: ast.AST, scope: Scope) -> list:
        if isinstance(node, ast.Name):
            return self.lookup(node.id, scope)
        if isinstance(node, ast.Attribute):
            return [v for base in self.values(node.value, scope) for v in self.attribute(base, node.attr)]
        if isinstance(node, ast.Call):
            return self._call_values(node, scope)
        if isinstance(node, ast.Subscript):
            return self._subscript_values(node, scope)
        if isinstance(node, (ast.IfExp,)):
            return self.values(node.body, scope) + self.values(node.orelse, scope)
        if isinstance(node, ast.BoolOp):
            return [v for value in node.values for v in self.values(value, scope)]
        if isinstance(node, ast.NamedExpr):
            return self.values(node.value, scope)
        if isinstance(node, ast.Lambda):
            return [("def", scope.module.name, node, scope)]
        constants = _Folder(self, scope).constants(node)
        return [("const", c) for c in constants] if constants else [UNKNOWN]

    def lookup(self, name: str, scope: Scope) -> list:
        """What a name can be, by Python's scoping: local, enclosing, module, star import, builtin."""
        current: Scope | None = scope
        while current is not None and current.bindings is not scope.module.bindings:
            if name in current.globals_:
                break
            if name in current.bindings:
                return [v for entry in current.bindings[name] for v in self._entry_values(entry, current)]
            current = current.parent
        module = scope.module
        if name in module.bindings:
            return [
                v for entry in module.bindings[name] for v in self._entry_values(entry, Scope(module, module.bindings))
            ]
        for star in module.stars:
            if star in self.submission.modules:
                found = self.attribute(("mod", star), name)
                if found != [UNKNOWN]:
                    return found
            elif star:
                return [("lib", f"{star}.{name}")]
        if hasattr(builtins, name):
            return [("lib", f"builtins.{name}")]
        return [UNKNOWN]

    def _entry_values(self, entry: tuple, scope: Scope) -> list:
        kind = entry[0]
        if kind == "import":
            value = self._module_value(entry[1])
            self._reach_value(value)
            return self._from_import([value], entry, scope)
        if kind == "from":
            return self._from_import(self.attribute(self._module_value(entry[1]), entry[2]), entry, scope)
        if kind == "def":
            return [("def", scope.module.name, entry[1], scope)]
        if kind == "assign" and entry[1] is not None:
            if scope.bindings is scope.module.bindings:  # read where it is used
                self.todo.append(("node", scope.module.name, entry[1], scope))
            return self.values(entry[1], scope)
        return [UNKNOWN]

    def _from_import(self, values: list, entry: tuple, scope: Scope) -> list:
        """Remember the import that names a library path: a finding is shown there."""
        for value in values:
            if value[0] == "lib":
                self.origins.setdefault(value[1], (scope, entry[-1]))
        return values

    def _module_value(self, dotted: str) -> tuple:
        root = dotted.split(".")[0]
        if root in self.submission.modules:
            return ("mod", root) if dotted == root else UNKNOWN
        return ("lib", dotted)

    def attribute(self, base: tuple, name: str) -> list:
        if name == "__dict__":
            return [("vars", base)]
        if base[0] == "lib":
            return [("lib", f"{base[1]}.{name}")]
        if base[0] == "mod":
            self._reach_module(base[1])
            module = self.submission.modules[base[1]]
            entries = module.bindings.get(name)
            if entries:
                return [v for e in entries for v in self._entry_values(e, Scope(module, module.bindings))]
            if name in self.submission.modules:
                return [("mod", name)]
            for star in module.stars:  # from torch.nn.functional import *
                found = self.attribute(self._module_value(star), name) if star else [UNKNOWN]
                if found != [UNKNOWN]:
                    return found
            return [UNKNOWN]
        if base[0] == "vars" and name == "get":
            return [("get", base[1])]
        return [UNKNOWN]

    def _call_values(self, node: ast.Call, scope: Scope) -> list:
        out = []
        for func in self.values(node.func, scope):
            out += self._call_one(func, node, scope)
        return out

    def _call_one(self, func: tuple, node: ast.Call, scope: Scope) -> list:
        args = node.args
        path = func[1] if func[0] == "lib" else None
        if path in _NAME_TAKERS and len(args) >= 2 and path == "builtins.getattr":
            names = _Folder(self, scope).fold(args[1]) or []
            return [v for base in self.values(args[0], scope) for n in names for v in self.attribute(base, n)]
        if path == "builtins.vars" and args:
            return [("vars", b) for b in self.values(args[0], scope)]
        if path in ("builtins.globals", "builtins.vars", "builtins.locals"):
            return [("vars", ("mod", scope.module.name))]
        if path in _IMPORTERS and args:
            names = _Folder(self, scope).fold(args[0]) or []
            whole = (
                path == "importlib.import_module" or any(k.arg == "fromlist" for k in node.keywords) or len(args) > 3
            )
            return [self._imported(n if whole else n.split(".")[0]) for n in names]
        if path == "operator.attrgetter" and args:
            return [("getter", n) for n in (_Folder(self, scope).fold(args[0]) or [])]
        if func[0] == "getter" and args:
            values = self.values(args[0], scope)
            for part in func[1].split("."):
                values = [v for b in values for v in self.attribute(b, part)]
            return values
        if func[0] == "get" and args:
            names = _Folder(self, scope).fold(args[0]) or []
            return [v for n in names for v in self._subscript_one(("vars", func[1]), n)]
        if func[0] == "lib" and func[1] == "sys.modules.get" and args:
            return [self._imported(n) for n in (_Folder(self, scope).fold(args[0]) or [])]
        return [UNKNOWN]

    def _imported(self, dotted: str) -> tuple:
        value = self._module_value(dotted)
        if value[0] == "mod":
            self._reach_module(value[1])
        return value

    def _subscript_values(self, node: ast.Subscript, scope: Scope) -> list:
        names = _Folder(self, scope).fold(node.slice)
        if names is None:
            return [UNKNOWN]
        return [v for base in self.values(node.value, scope) for n in names for v in self._subscript_one(base, n)]

    def _subscript_one(self, base: tuple, name: str) -> list:
        if base[0] == "vars":
            return self.attribute(base[1], name)
        if base == ("lib", "sys.modules"):
            return [self._imported(name)]
        return [UNKNOWN]

    def name_constants(self, name: str, scope: Scope) -> list | None:
        """The strings or integers a name can hold (``n = "conv" + "2d"``), or None."""
        values = self.lookup(name, scope)
        if values and all(v[0] == "const" for v in values):
            return [v[1] for v in values]
        return None

    # ---------------------------------------------------------------- reaching and reporting

    def _reach_value(self, value: tuple) -> None:
        if value[0] == "def":
            _, module, node, scope = value
            self.todo.append(("node", module, node, scope))
        elif value[0] == "mod":
            self._reach_module(value[1])

    def _add(self, kind: str, scope: Scope, node: ast.AST, what: str) -> None:
        node = self.place or node  # code read from a string is shown where it runs
        code = ast.get_source_segment(scope.module.source, node) or ""
        code = " ".join(code.split())
        if len(code) > 100:
            code = code[:97] + "..."
        self.found.append(Finding(kind, scope.module.file, getattr(node, "lineno", 0), code, what))


_NAME_TAKERS = frozenset({"builtins.getattr", "builtins.setattr", "builtins.delattr"})
_CODE_RUNNERS = frozenset({"builtins.eval", "builtins.exec", "builtins.compile"})
_IMPORTERS = frozenset({"builtins.__import__", "importlib.import_module"})
# Dynamic builtins that are fine where they are called with names the reader works out.
_CALL_ONLY = (
    _NAME_TAKERS
    | _CODE_RUNNERS
    | _IMPORTERS
    | frozenset(
        {"builtins.vars", "builtins.globals", "builtins.locals", "operator.attrgetter", "operator.methodcaller"}
    )
)


def _library_callable(dotted: str) -> bool:
    """Whether ``dotted`` names a function, class or module of an installed library
    (replacing it changes what other code does), or something the judge cannot look up."""
    root, *rest = dotted.split(".")
    obj = sys.modules.get(root)
    if obj is None:
        return True
    prefix = root
    for part in rest:
        prefix = f"{prefix}.{part}"
        if prefix in sys.modules:
            obj = sys.modules[prefix]
            continue
        try:
            obj = inspect.getattr_static(obj, part)
        except AttributeError:
            return True
    return callable(obj) or isinstance(obj, (types.ModuleType, type, staticmethod, classmethod))


# --------------------------------------------------------------------------- the verdict

_WORDS = {
    "unreadable": "the grader cannot tell what this reaches",
    "switch": "this switches off the grader's check",
    "thread": "code in another thread is not checked",
    "rebinding": "this replaces a function other code calls",
}


def explain(findings: Sequence[Finding], rules: Rules, scope: str) -> str:
    """The student's message: what ``scope`` uses, and where (the forbidden function named)."""
    forbidden = [f for f in findings if f.kind == "forbidden"]
    places = _one_per_line(forbidden or list(findings))[:3]
    where = "; ".join(f.where() + (f" ({_WORDS[f.kind]})" if f.kind in _WORDS else "") for f in places)
    if forbidden:
        used = ", ".join(dict.fromkeys(f.what for f in places))
        return (
            f"{scope} uses {used}, which this exercise asks you not to use ({where}). "
            "Write it yourself with basic tensor operations."
        )
    functions = ", ".join(rules.functions[:4]) + (", ..." if len(rules.functions) > 4 else "")
    return (
        f"{scope} runs code the grader cannot check for {functions}, which this "
        f"exercise asks you not to use ({where}). Write function names out (no getattr or vars with a "
        "name built at run time, no eval or exec) and leave torch's internals and the grader alone."
    )


def _one_per_line(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        if (f.file, f.line) not in seen:
            seen.add((f.file, f.line))
            out.append(f)
    return out


def verdict(submission: Submission, module: str, names: Sequence[str], within: Sequence[str] = ()) -> str:
    """The message for a test that forbids ``names`` within ``within`` of ``module``, or "" if its
    code is clean."""
    rules = Rules(names)
    try:
        findings = submission.findings(rules, module, within)
    except (_TooMuch, RecursionError, MemoryError) as exc:  # fail closed: the code was not read
        why = "it is too large or too deeply nested" if not isinstance(exc, MemoryError) else "it is too large"
        findings = [Finding("unreadable", f"{module}.py", 0, "", f"the grader could not read it: {why}")]
    if not findings:
        return ""
    return explain(findings, rules, ", ".join(within) if within else f"{module}.py")
