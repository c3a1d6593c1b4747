"""Assertions that explain themselves to a beginner.

Each failure says what was called (by default the last call into student
code), what came back and what was expected; for tensors: shape, dtype, the
largest error and the first place it differs.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .failures import StudentError
from .messages import CallText, Described, ResultLabel, describe
from .remote import Remote, current_session


class GradingFailure(AssertionError):
    """A test's verdict, phrased for the student."""


def _what(what: str | None) -> Described:
    if what:
        return what
    session = current_session()
    return session.last_call if session and session.last_call else "your code"  # rendered only in a message


def _fail(text: str, hint: str | None) -> None:
    raise GradingFailure(text + (f"\nHint: {hint}" if hint else ""))


def fail(message: str) -> None:
    """Fail the test with ``message``."""
    raise GradingFailure(message)


def true(condition: Any, message: str, hint: str | None = None) -> None:
    if not (type(condition) is bool and condition):
        _fail(message, hint)


def equal(actual: Any, expected: Any, what: str | None = None, hint: str | None = None) -> None:
    """Exact equality of plain values, types included (``3`` is not ``3.0`` or ``True``)."""
    if not _same(actual, expected):
        _fail(f"{_what(what)} returned {describe(actual)}, expected {describe(expected)}.", hint)


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b)
    if isinstance(b, float) and math.isnan(b):
        return math.isnan(a)
    return a == b


def close(
    actual: Any,
    expected: float,
    what: str | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str | None = None,
) -> None:
    """A Python number close to ``expected``."""
    if type(actual) not in (int, float):
        _fail(
            f"{_what(what)} returned {describe(actual)} ({type(actual).__name__}), "
            f"expected a Python number close to {expected!r}.",
            hint,
        )
    if not math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol):
        _fail(f"{_what(what)} returned {actual!r}, expected {expected!r}.", hint)


def tensor(
    actual: Any,
    expected: torch.Tensor,
    what: str | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    check_dtype: bool = True,
    hint: str | None = None,
) -> None:
    """Same shape, dtype and values (within tolerance) as ``expected``."""
    w = _what(what)
    if not isinstance(actual, torch.Tensor):
        _fail(
            f"{w} returned {describe(actual)} ({type(actual).__name__}), expected a tensor "
            f"of shape {tuple(expected.shape)}.",
            hint,
        )
    if actual.shape != expected.shape:
        _fail(f"{w} returned a tensor of shape {tuple(actual.shape)}, expected shape {tuple(expected.shape)}.", hint)
    if check_dtype and actual.dtype != expected.dtype:
        _fail(
            f"{w} returned dtype {str(actual.dtype).replace('torch.', '')}, expected "
            f"{str(expected.dtype).replace('torch.', '')}.",
            hint,
        )
    if actual.numel() == 0:
        return
    a = actual.detach().to(torch.float64) if not actual.is_complex() else actual.detach()
    e = expected.detach().to(a.dtype)
    both_nan = torch.isnan(a) & torch.isnan(e)
    ok = torch.isclose(a, e, rtol=rtol, atol=atol) | both_nan
    if bool(ok.all()):
        return
    diff = (a - e).abs()
    diff = torch.where(torch.isnan(diff), torch.full_like(diff, math.inf), diff)
    diff = torch.where(both_nan, torch.zeros_like(diff), diff)
    if actual.dim() == 0:  # one number (a loss): no count of differences, no index
        error = float(diff)
        _fail(
            f"{w} returned {describe(actual)}, expected {describe(expected)}"
            + (f"; the error is {error:.6g}." if math.isfinite(error) else "."),
            hint,
        )
    bad = (~ok).nonzero()
    first = tuple(int(i) for i in bad[0])
    n_bad = int(bad.shape[0])
    _fail(
        f"{w} returned wrong values: {n_bad} of {actual.numel()} differ; the largest error is "
        f"{float(diff.max()):.6g}. First difference at index {list(first)}: got "
        f"{a[first].item()!r}, expected {e[first].item()!r}."
        + (f"\nGot:\n{describe(actual)}\nExpected:\n{describe(expected)}" if actual.numel() <= 64 else ""),
        hint,
    )


def finite(actual: Any, what: str | None = None, hint: str | None = None) -> None:
    """No NaN or infinity anywhere in a tensor."""
    w = _what(what)
    if not isinstance(actual, torch.Tensor):
        _fail(f"{w} returned {describe(actual)}, expected a tensor.", hint)
    if actual.is_floating_point() and not bool(torch.isfinite(actual).all()):
        bad = (~torch.isfinite(actual)).nonzero()[0]
        idx = [int(i) for i in bad]
        _fail(f"{w} returned {actual[tuple(idx)].item()!r} at index {idx}: the result must be finite.", hint)


INPUTS_HINT = (
    "only a function documented as in-place may change the tensors it is given: compute a new "
    "tensor (x + 1, x.clamp(min=0), x - x.max()) instead of changing x itself (x += 1, x.add_(1), "
    "x[...] = ...), which changes the caller's data too"
)


def call_keeping_inputs(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, failing if the call changed a tensor it was handed.

    A function that is not documented as in-place must leave its caller's data
    as it was: ``x += 1`` in a ``forward`` returns the right value and corrupts
    the caller's tensor.  Tensors reach student code as copies, so the check
    keeps the call's arguments in the worker (a ``functools.partial`` holds
    them), runs the call there and reads the arguments back.  Returns what
    ``fn`` returned; later messages name this call.
    """
    if not isinstance(fn, Remote):
        before = _copy(args), _copy(kwargs)
        result = fn(*args, **kwargs)
        _check_unchanged(str(CallText(getattr(fn, "__name__", "fn"), *before)), before, (args, kwargs))
        return result
    session = current_session()
    assert session is not None, "a Remote exists only while its test's session is current"
    label = object.__getattribute__(fn, "_label")
    call = CallText(label, args, kwargs)
    bound = session.module("functools").partial(fn, *args, **kwargs)
    result = Remote._req(bound, "call", {"args": [], "kwargs": {}}, call)  # errors name the student's call
    if isinstance(result, Remote):
        object.__setattr__(result, "_label", ResultLabel(label, call))
    after = bound.args, (bound.keywords if kwargs else {})
    _check_unchanged(call, (args, kwargs), after)
    session.last_call = call
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _check_unchanged(call: Any, before: tuple, after: tuple) -> None:
    """Fail naming the first argument of ``call`` whose value differs after it."""
    (args, kwargs), (args_after, kwargs_after) = before, after
    ordinals = ("first", "second", "third", "fourth", "fifth")
    named = [
        (f"{ordinals[i]} argument" if i < len(ordinals) else f"argument {i + 1}", a, b)
        for i, (a, b) in enumerate(zip(args, args_after, strict=False))
    ]
    named += [(f"argument {k}=", v, kwargs_after.get(k)) for k, v in kwargs.items()]
    for name, was, now in named:
        if not _unchanged(was, now):
            _fail(
                f"{call} changed its {name}: before the call it was {describe(was)}, "
                f"afterwards it is {describe(now)}. It must leave its inputs as they were.",
                INPUTS_HINT,
            )


def _unchanged(was: Any, now: Any) -> bool:
    if isinstance(was, torch.Tensor):
        return (
            isinstance(now, torch.Tensor)
            and now.shape == was.shape
            and now.dtype == was.dtype
            and (
                bool(torch.equal(now, was))
                or (was.is_floating_point() and bool(torch.allclose(now, was, rtol=0, atol=0, equal_nan=True)))
            )
        )
    if isinstance(was, (list, tuple)):
        return (
            isinstance(now, (list, tuple))
            and len(now) == len(was)
            and all(_unchanged(a, b) for a, b in zip(was, now, strict=True))
        )
    if isinstance(was, dict):
        return isinstance(now, dict) and now.keys() == was.keys() and all(_unchanged(was[k], now[k]) for k in was)
    return True  # numbers and strings cannot change; objects in the worker are compared by the suite


__all__ = [
    "GradingFailure",
    "StudentError",
    "fail",
    "true",
    "equal",
    "close",
    "tensor",
    "finite",
    "call_keeping_inputs",
]
