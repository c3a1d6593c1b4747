"""Ask the same question of a reference object and a student object.

Each function takes either a local object (the reference's) or a
:class:`~grader.remote.Remote` (the student's) and answers with plain data,
computed by :mod:`grader.introspect` on whichever side the object lives.  A
reference object reached through :func:`grader.reference` in a kit or while
a kit is recorded (an :class:`~grader.oracle.Oracle`) answers from the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from . import introspect
from .messages import Described
from .oracle import Oracle
from .remote import Remote
from .vocabulary import Op


def _remote_req(obj: Remote, op: str, args: dict, what: Described) -> Any:
    return Remote._req(obj, op, args, what)


def _label(obj: Remote) -> str:
    return object.__getattribute__(obj, "_label")


def type_info(obj: Any) -> dict:
    """``{"name": "torch.nn.modules.conv.Conv2d", "mro": [...]}``."""
    if isinstance(obj, Remote):
        return _remote_req(obj, Op.TYPE, {}, f"type({_label(obj)})")
    if isinstance(obj, Oracle):
        return obj._apply("type_info", introspect.type_info)
    return introspect.type_info(obj)


def type_name(obj: Any) -> str:
    """The short class name (``"Conv2d"``)."""
    return type_info(obj)["name"].rsplit(".", 1)[-1]


def is_instance(obj: Any, cls: type) -> bool:
    """``isinstance`` that also works across the process boundary."""
    if isinstance(obj, (Remote, Oracle)):
        return introspect.canonical_name(cls) in type_info(obj)["mro"]
    return isinstance(obj, cls)


def structure(module: Any) -> dict:
    """The module tree: each layer's type, hyperparameters, parameter shapes."""
    if isinstance(module, Remote):
        return _remote_req(module, Op.STRUCTURE, {}, f"looking inside {_label(module)}")
    if isinstance(module, Oracle):
        return module._apply("structure", introspect.describe_module)
    return introspect.describe_module(module)


def vjp(
    fn: Any, *args: Any, grad_output: torch.Tensor | None = None, wrt: Sequence[int] | None = None, **kwargs: Any
) -> dict:
    """Call ``fn(*args, **kwargs)`` and back-propagate ``grad_output``.

    Returns ``{"output", "connected", "grads", "kwarg_grads", "param_grads"}``;
    see :func:`grader.introspect.vjp`.
    """
    if isinstance(fn, Remote):
        from .messages import CallText

        what = CallText(_label(fn), args, kwargs, prefix="gradients of ")
        return _remote_req(
            fn,
            Op.VJP,
            {
                "args": list(args),
                "kwargs": kwargs,
                "grad_output": grad_output,
                "wrt": list(wrt) if wrt is not None else None,
            },
            what,
        )
    if isinstance(fn, Oracle):
        return fn._apply("vjp", introspect.vjp, args, kwargs, grad_output, wrt)
    return introspect.vjp(fn, args, kwargs, grad_output, wrt)


def source(module: str) -> str:
    """The text of the student's ``<module>.py`` (read, never run, by the judge)."""
    from .remote import current_session

    session = current_session()
    if session is None or session.submission_dir is None:
        raise RuntimeError("source() needs the student fixture")
    from pathlib import Path

    path = Path(session.submission_dir) / f"{module}.py"
    try:
        return path.read_bytes()[:2_000_000].decode("utf-8", "replace")
    except OSError:
        return ""


def names_used(src: str, names: Sequence[str]) -> list[str]:
    """Which of ``names`` the source mentions as a name or an attribute
    (``conv2d`` finds ``F.conv2d``, ``torch.conv2d`` and ``from ... import conv2d``).
    Also catches the names written inside strings (``getattr(F, "conv2d")``)."""
    import ast

    wanted = set(names)
    found: set[str] = set()
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in wanted:
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in wanted:
            found.add(node.attr)
        elif isinstance(node, ast.alias) and node.name.rsplit(".", 1)[-1] in wanted:
            found.add(node.name.rsplit(".", 1)[-1])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in wanted:
            found.add(node.value)
    return sorted(found)


def forbidden_uses(module: str, names: Sequence[str], within: Sequence[str] | str = ()) -> list[str]:
    """Where the student's code, from ``within`` (names in ``module``; default all of it) and
    through every module of the submission it reaches, uses one of ``names`` or hides what it
    uses (``getattr(F, name)``, ``eval``, torch's dispatch internals): ``["helpers.py, line 3:
    from torch.nn.functional import conv2d as c (torch.nn.functional.conv2d)"]``.  ``names`` as
    for the ``forbid`` marker."""
    from . import sourcecheck
    from .remote import current_session

    session = current_session()
    if session is None or session.submission_dir is None:
        raise RuntimeError("forbidden_uses() needs the student fixture")
    submission = sourcecheck.Submission(session.submission_dir, sorted(session.exercises))
    within = (within,) if isinstance(within, str) else tuple(within)
    return [f"{f.where()} ({f.what})" for f in submission.findings(sourcecheck.Rules(names), module, within)]
