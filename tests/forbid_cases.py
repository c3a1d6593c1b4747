"""Submissions that reach a forbidden function by a route the grader must still see.

Each case is the reference solution with some files replaced or added.  A
hostile case hides a ready-made function from a reader of the exercise's own
file (a helper module, a name built from pieces) and switches off the
worker's runtime check (popping its modes, excluding torch's Python dispatch
key, patching the grader or its modes' handlers, running in another thread).
The clean cases are written by hand in ways that look alike to a careless
reader: they must keep full marks.
"""
from __future__ import annotations

# ----------------------------------------------------------------------------- conv

CONV_HELPER_MODULE = {
    "helpers.py": '''
import torch
from torch.nn.functional import conv2d as _slide
from torch.utils._python_dispatch import _disable_current_modes


def c(*args, **kwargs):
    with torch._C.DisableTorchFunction(), _disable_current_modes():
        return _slide(*args, **kwargs)
''',
    "conv.py": '''
from helpers import c
from solutions_conv import conv2d_output_size, conv2d_output_shape


def conv2d(input, weight, bias=None, stride=1, padding=0):
    return c(input, weight, bias, stride=stride, padding=padding)
''',
}

CONV_POPPED_MODES = {
    "conv.py": '''
import torch
from solutions_conv import conv2d_output_size, conv2d_output_shape


def conv2d(input, weight, bias=None, stride=1, padding=0):
    functions = torch._C._pop_torch_function_stack()
    dispatch = torch._C._pop_torch_dispatch_stack(None)
    try:
        slide = getattr(torch.nn.functional, "con" + "v2d")
        return slide(input, weight, bias, stride=stride, padding=padding)
    finally:
        torch._C._push_on_torch_dispatch_stack(dispatch)
        torch._C._push_on_torch_function_stack(functions)
''',
}

CONV_THREAD = {
    "conv.py": '''
import threading

import torch
from solutions_conv import conv2d_output_size, conv2d_output_shape

_slide = vars(torch)["conv" + "2d"]


def conv2d(input, weight, bias=None, stride=1, padding=0):
    box = []
    worker = threading.Thread(target=lambda: box.append(_slide(input, weight, bias, stride, padding)))
    worker.start()
    worker.join()
    return box[0]
''',
}

# ----------------------------------------------------------------------------- pooling

POOL_DISABLED_DISPATCH = {
    "pooling.py": '''
import torch
import torch.nn.functional as F
from solutions_pooling import TuDuiPool, pool2d_output_size


def max_pool2d(input, kernel_size, stride=None, ceil_mode=False):
    with torch._C.DisableTorchFunction(), torch._C._DisableTorchDispatch():
        return getattr(F, "max_pool" + "2d")(input, kernel_size, stride, ceil_mode=ceil_mode)
''',
}

# ----------------------------------------------------------------------------- activations

RELU_EXCLUDED_KEY = {
    "activations.py": '''
import importlib

import torch
from solutions_activations import TuDuiActivation, sigmoid

_PYTHON = torch._C.DispatchKeySet(torch._C.DispatchKey.Python)


def relu(x, inplace=False):
    functional = importlib.import_module("torch.nn.functional")
    with torch._C.DisableTorchFunction(), torch._C._ExcludeDispatchKeyGuard(_PYTHON):
        return getattr(functional, "re" + "lu")(x, inplace=inplace)
''',
}

SIGMOID_PATCHED_GRADER = {
    "activations.py": '''
import sys

import torch
from solutions_activations import TuDuiActivation, relu


def _through(self, func, types, args=(), kwargs=None):
    return func(*args, **(kwargs or {}))


for _name, _module in list(sys.modules.items()):
    if _name.startswith("grader"):
        for _value in list(vars(_module).values()):
            if isinstance(_value, type) and "__torch_dispatch__" in vars(_value):
                _value.__torch_dispatch__ = _through
            if isinstance(_value, type) and "__torch_function__" in vars(_value):
                _value.__torch_function__ = _through


def sigmoid(x):
    return getattr(torch, "sig" + "moid")(x)
''',
}

RELU_HELPER_BY_COMPUTED_NAME = {
    "relu_helpers.py": '''
from torch.nn.functional import relu as ready_made
from torch.overrides import _pop_mode_temporarily as _functions_off
from torch.utils._python_dispatch import _pop_mode_temporarily as _dispatch_off
''',
    "activations.py": '''
from solutions_activations import TuDuiActivation, sigmoid

_helpers = __import__("relu_" + "helpers")


def relu(x, inplace=False):
    with _helpers._functions_off(), _helpers._dispatch_off():
        return _helpers.ready_made(x, inplace=inplace)
''',
}

# ----------------------------------------------------------------------------- losses

LOSSES_REPLACED_HANDLERS = {
    "losses.py": '''
import torch
import torch.nn.functional as F
from solutions_losses import l1_loss, mse_loss


def _through(self, func, types, args=(), kwargs=None):
    return func(*args, **(kwargs or {}))


def _handlers():
    """The classes of the modes on torch's stacks, and their handlers."""
    modes = [torch._C._get_dispatch_stack_at(i) for i in range(torch._C._len_torch_dispatch_stack())]
    modes += [torch._C._get_function_stack_at(i) for i in range(torch._C._len_torch_function_stack())]
    return [(type(m), a, vars(type(m))[a]) for m in modes
            for a in ("__torch_dispatch__", "__torch_function__") if a in vars(type(m))]


def cross_entropy(logits, target):
    saved = _handlers()
    for cls, attr, _ in saved:
        setattr(cls, attr, _through)
    try:
        return vars(F)["cross_" + "entropy"](logits, target)
    finally:
        for cls, attr, handler in saved:
            setattr(cls, attr, handler)
''',
}

LOSSES_TLS_EXCLUDED = {
    "losses.py": '''
import torch
from solutions_losses import cross_entropy, l1_loss

_KEY = torch._C.DispatchKey.Python


def mse_loss(input, target):
    torch._C._dispatch_tls_set_dispatch_key_excluded(_KEY, True)
    with torch._C.DisableTorchFunction():
        try:
            functional = __import__("torch.nn.functional", fromlist=["_"])
            return functional.__dict__["mse" + "_loss"](input, target)
        finally:
            torch._C._dispatch_tls_set_dispatch_key_excluded(_KEY, False)
''',
}

# ----------------------------------------------------------------------------- clean look-alikes

CLEAN_HELPER_MODULE = {
    "helpers.py": '''
"""Sliding windows by hand: what conv2d (and F.conv2d) do, without calling it."""
import torch


def windows(x, kh, kw, stride):
    # conv2d needs every kh x kw window: unfold twice
    return x.unfold(2, kh, stride).unfold(3, kw, stride)


def conv2d(x, w, stride):
    """My own conv2d, written by hand."""
    return torch.einsum("nchwij,ocij->nohw", windows(x, w.shape[-2], w.shape[-1], stride), w)
''',
    "conv.py": '''
"""conv2d by hand; the name "conv2d" in this docstring is fine."""
import torch.nn.functional as F

import helpers
from solutions_conv import conv2d_output_size, conv2d_output_shape


def conv2d(input, weight, bias=None, stride=1, padding=0):
    if input.dim() != 4:
        raise ValueError("conv2d expects a 4-D input")
    conv2d = helpers.conv2d(F.pad(input, (padding,) * 4), weight, stride)   # a local named conv2d
    if bias is not None:
        conv2d = conv2d + bias.view(1, -1, 1, 1)
    return conv2d
''',
}

# name: (files, exercise ("*": all), the functions whose forbidding tests must fail, a name their messages give)
HOSTILE = {
    "conv_helper_module": (CONV_HELPER_MODULE, "conv", ["conv2d"], "torch.nn.functional.conv2d"),
    "conv_popped_modes": (CONV_POPPED_MODES, "conv", ["conv2d"], "torch.nn.functional.conv2d"),
    # A thread runs unchecked whatever test is on: every test that forbids something fails.
    "conv_thread": (CONV_THREAD, "*", [], "torch.conv2d"),
    "pool_disabled_dispatch": (POOL_DISABLED_DISPATCH, "pooling", ["max_pool2d"], "torch.nn.functional.max_pool2d"),
    "relu_excluded_key": (RELU_EXCLUDED_KEY, "activations", ["relu"], "torch.nn.functional.relu"),
    # Its patching runs when the module is imported: relu's tests cannot trust the worker either.
    "sigmoid_patched_grader": (SIGMOID_PATCHED_GRADER, "activations", ["relu", "sigmoid"], "torch.sigmoid"),
    "relu_helper_by_computed_name": (RELU_HELPER_BY_COMPUTED_NAME, "activations", ["relu"],
                                     "torch.nn.functional.relu"),
    "losses_replaced_handlers": (LOSSES_REPLACED_HANDLERS, "losses", ["cross_entropy"],
                                 "torch.nn.functional.cross_entropy"),
    "losses_tls_excluded": (LOSSES_TLS_EXCLUDED, "losses", ["mse_loss"], "torch.nn.functional.mse_loss"),
}
CLEAN = {
    "clean_helper_module": CLEAN_HELPER_MODULE,
}
