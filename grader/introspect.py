"""Questions a suite asks of a live object, answered the same way on both sides.

The judge asks them of the reference (a local object) and the worker asks
them of the student's object; both run this module, so the answers are
comparable field by field.  Everything returned is plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

# Hyperparameters worth reporting for common layers; names are torch's own.
_CONFIG_ATTRS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "padding_mode",
    "in_features",
    "out_features",
    "ceil_mode",
    "return_indices",
    "inplace",
    "start_dim",
    "end_dim",
    "p",
    "num_features",
    "eps",
    "momentum",
    "affine",
    "negative_slope",
    "dim",
)


def type_info(obj: Any) -> dict:
    """The object's real type and its ancestry, as dotted names."""
    cls = type(obj)
    return {
        "name": _dotted(cls),
        "mro": [_dotted(c) for c in cls.__mro__],
    }


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def canonical_name(cls: type) -> str:
    return _dotted(cls)


def _plain(v: Any) -> Any:
    if v is None or type(v) in (bool, int, float, str):
        return v
    if isinstance(v, (tuple, list)) and all(type(x) in (bool, int, float, str) for x in v):
        return tuple(v)
    if isinstance(v, torch.Tensor):
        return None
    return repr(v)[:200]


def describe_module(module: nn.Module) -> dict:
    """A module tree: type, hyperparameters, parameter shapes and children."""
    children = [dict(describe_module(child), name=name) for name, child in module.named_children()]
    config = {}
    for attr in _CONFIG_ATTRS:
        if attr in getattr(module, "__dict__", {}):
            config[attr] = _plain(module.__dict__[attr])
    if "bias" in module._parameters:
        config["bias"] = module._parameters["bias"] is not None
    return {
        "type": _dotted(type(module)),
        "config": config,
        "params": {name: tuple(p.shape) for name, p in module.named_parameters(recurse=False)},
        "num_params": sum(p.numel() for p in module.parameters()),
        "training": bool(module.training),
        "children": children,
    }


def vjp(
    fn: Callable,
    args: Sequence[Any],
    kwargs: dict,
    grad_output: torch.Tensor | None = None,
    wrt: Sequence[int] | None = None,
) -> dict:
    """Call ``fn`` and back-propagate ``grad_output`` through it.

    ``wrt`` picks the positional tensor arguments that should receive
    gradients (default: every floating-point tensor argument).  Returns the
    output, the gradients of those arguments (``None`` where no gradient
    arrived) and, when ``fn`` is a module, the gradients of its parameters.
    """
    args = list(args)
    chosen = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()]
    if wrt is not None:
        chosen = [i for i in wrt]
    for i in chosen:
        args[i] = args[i].detach().clone().requires_grad_(True)
    kwargs = dict(kwargs)
    for k, v in list(kwargs.items()):
        if isinstance(v, torch.Tensor) and v.is_floating_point() and wrt is None:
            kwargs[k] = v.detach().clone().requires_grad_(True)
    if isinstance(fn, nn.Module):
        fn.zero_grad(set_to_none=True)
    out = fn(*args, **kwargs)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"expected a tensor back, got {type(out).__name__}")
    connected = out.requires_grad
    if connected:
        g = torch.ones_like(out) if grad_output is None else grad_output.to(out.dtype)
        out.backward(g)
    result = {
        "output": out.detach(),
        "connected": connected,
        "grads": [args[i].grad if connected else None for i in chosen],
        "kwarg_grads": {k: v.grad for k, v in kwargs.items() if isinstance(v, torch.Tensor) and v.requires_grad},
        "param_grads": {},
    }
    if isinstance(fn, nn.Module):
        result["param_grads"] = {n: p.grad for n, p in fn.named_parameters()}
    return result
