"""Grading suite for the convolution lesson: output sizes and a hand-written F.conv2d.

nn.Conv2d itself is the oracle for the size formulas (it runs here, in the
judge, on a zero tensor), and F.conv2d is the oracle for the values.
"""
from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings, strategies as st
from torch import nn

from grader import expect, inspection, reference
ref = reference("conv")

pytestmark = pytest.mark.exercise("conv")

# torch's convolutions, as Python functions and classes and as the aten operations they (or a
# student reaching past them) run; conv2d must not call or reach any, in any module it imports.
# Every other kernel that computes a convolution counts too: conv1d/conv3d and the transposed
# ones (a 2-D convolution is one of them in disguise), the backends' own kernels (thnn, slow,
# mkldnn, cudnn, ...), and convolution_backward (torch.nn.grad.conv2d_weight is a convolution
# of the input with the output's gradient).
BUILTIN_CONVOLUTIONS = (
    *(f"torch.nn.functional.{f}" for f in ("conv2d", "conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                                           "conv_transpose3d", "conv_tbc")),
    *(f"torch.{f}" for f in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                             "conv_transpose3d", "conv_tbc", "convolution", "_convolution", "mkldnn_convolution")),
    *(f"torch.nn.grad.conv{d}d_{wrt}" for d in (1, 2, 3) for wrt in ("input", "weight")),
    *(f"torch.nn.{c}" for c in ("Conv1d", "Conv2d", "Conv3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
                                "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "LazyConvTranspose1d",
                                "LazyConvTranspose2d", "LazyConvTranspose3d")),
    *(f"aten.{op}" for op in ("convolution", "_convolution", "_convolution_mode", "conv1d", "conv2d", "conv3d",
                              "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc",
                              "convolution_overrideable", "convolution_backward", "convolution_backward_overrideable",
                              "_convolution_double_backward", "mkldnn_convolution", "_slow_conv2d_forward",
                              "thnn_conv2d", "slow_conv3d", "slow_conv3d_forward", "slow_conv_dilated2d",
                              "slow_conv_dilated3d", "slow_conv_transpose2d", "slow_conv_transpose3d",
                              "_nnpack_spatial_convolution", "_conv_depthwise2d", "conv_depthwise3d",
                              "cudnn_convolution", "cudnn_convolution_transpose", "cudnn_convolution_relu",
                              "cudnn_convolution_add_relu", "miopen_convolution", "miopen_convolution_transpose",
                              "miopen_depthwise_convolution", "_mps_convolution", "_mps_convolution_transpose")),
)
NO_BUILTIN_CONV = pytest.mark.forbid(*BUILTIN_CONVOLUTIONS, within="conv2d")

SIZE_HINT = ("the output length is floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1: "
             "padding is added on both sides, a dilated kernel covers dilation*(kernel_size-1)+1 cells, "
             "a jump that does not fit is dropped (round down with //), and the first position counts (+1)")
PAIR_HINT = ("kernel_size, stride, padding and dilation may each be an int or a pair (for_height, for_width): "
             "the first number goes with H, the second with W")


# --------------------------------------------------------------------------- oracles

def torch_output_length(size: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Ask nn.Conv2d itself: run it along one dimension on a zero tensor."""
    layer = nn.Conv2d(1, 1, (k, 1), stride=(s, 1), padding=(p, 0), dilation=(d, 1), bias=False)
    with torch.no_grad():
        return int(layer(torch.zeros(1, 1, size, 1)).shape[2])


def torch_output_shape(input_shape, out_channels, kernel_size, stride, padding, dilation) -> tuple:
    layer = nn.Conv2d(input_shape[1], out_channels, kernel_size, stride=stride, padding=padding,
                      dilation=dilation, bias=False)
    with torch.no_grad():
        return tuple(int(n) for n in layer(torch.zeros(input_shape)).shape)


# --------------------------------------------------------------------------- strategies

@st.composite
def size_cases(draw, max_stride=6, max_padding=4, max_dilation=4, max_kernel=7):
    """(size, kernel_size, stride, padding, dilation) that nn.Conv2d accepts;
    the size shrinks towards "the kernel exactly fills the padded input"."""
    k = draw(st.integers(1, max_kernel))
    s = draw(st.integers(1, max_stride))
    p = draw(st.integers(0, max_padding))
    d = draw(st.integers(1, max_dilation))
    smallest = max(1, d * (k - 1) + 1 - 2 * p)
    size = draw(st.integers(smallest, smallest + 40))
    return size, k, s, p, d


def int_or_pair(values):
    return st.one_of(values, st.tuples(values, values))


def _pair(v):
    return (v, v) if isinstance(v, int) else v


@st.composite
def shape_cases(draw, pairs: bool):
    """Arguments for conv2d_output_shape, always valid for nn.Conv2d."""
    wrap = int_or_pair if pairs else (lambda s: s)
    k = draw(wrap(st.integers(1, 5)))
    s = draw(wrap(st.integers(1, 4)))
    p = draw(wrap(st.integers(0, 3)))
    d = draw(wrap(st.integers(1, 3)))
    sides = []
    for axis in range(2):
        smallest = max(1, _pair(d)[axis] * (_pair(k)[axis] - 1) + 1 - 2 * _pair(p)[axis])
        sides.append(draw(st.integers(smallest, smallest + 24)))
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 3))
    out_channels = draw(st.integers(1, 8))
    return (n, c, sides[0], sides[1]), out_channels, k, s, p, d


@st.composite
def conv_cases(draw, batch=False, channels=False, bias="never", max_stride=1, max_padding=0,
               dtypes=(torch.float32,)):
    """Small random conv2d inputs; values are multiples of 0.5 (exact in floating point, easy to
    check by hand), both signs.  Shapes shrink towards the smallest case that still fails."""
    n = draw(st.integers(1, 3)) if batch else 1
    c_in = draw(st.integers(1, 3)) if channels else 1
    c_out = draw(st.integers(1, 3)) if channels else 1
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.integers(1, max_stride))
    padding = draw(st.integers(0, max_padding))
    h = draw(st.integers(max(1, kh - 2 * padding), 7))
    w = draw(st.integers(max(1, kw - 2 * padding), 7))
    dtype = draw(st.sampled_from(dtypes))
    with_bias = {"never": False, "always": True}.get(bias) if bias != "maybe" else draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)

    def halves(*shape):
        return (torch.randint(-6, 7, shape, generator=gen) / 2).to(dtype)

    return {"input": halves(n, c_in, h, w), "weight": halves(c_out, c_in, kh, kw),
            "bias": halves(c_out) if with_bias else None, "stride": stride, "padding": padding}


SLIDE_HINT = ("out[n, o, i, j] is the sum of input[n, c, i+u, j+v] * weight[o, c, u, v] over ALL input "
              "channels c and kernel cells (u, v); the kernel is not flipped, kH goes with the height and kW "
              "with the width")


def conv2d_hint(case) -> str:
    """The concepts this (shrunk) failing case involves: a case without bias, stride or padding
    points at the plain sliding window, whatever feature the test is about."""
    parts = [SLIDE_HINT]
    if case["weight"].shape[0] > 1 or case["input"].shape[0] > 1:
        parts.append("each output channel o has its own kernel weight[o], and every image n is done alike")
    if case["bias"] is not None:
        parts.append("bias[o] is added once to every number of output channel o")
    if case["stride"] > 1:
        parts.append("output position (i, j) starts at input row i*stride and column j*stride")
    if case["padding"] > 0:
        parts.append("padding=p puts p rows of zeros above AND below and p columns left AND right "
                     "(e.g. torch.nn.functional.pad(input, (p, p, p, p)))")
    if case["input"].dtype != torch.float32:
        parts.append(f"the result keeps the input's dtype ({str(case['input'].dtype).replace('torch.', '')}): "
                     "create new tensors with dtype=input.dtype")
    return "; ".join(parts)


def int_hint(got, hint: str) -> str:
    """A float where an int belongs has one usual cause: / instead of //."""
    values = got if isinstance(got, (tuple, list)) else [got]
    if any(isinstance(v, float) for v in values):
        return "lengths are whole numbers: return Python ints (// divides and rounds down, / gives a float); " + hint
    return hint


def call_conv2d(student, case):
    return student.conv.conv2d(case["input"], case["weight"], case["bias"],
                               stride=case["stride"], padding=case["padding"])


def expected_conv2d(case):
    return F.conv2d(case["input"], case["weight"], case["bias"], stride=case["stride"], padding=case["padding"])


# --------------------------------------------------------------------------- conv2d_output_size

def check_size(student, size, k, s=1, p=0, d=1, hint=SIZE_HINT):
    got = student.conv.conv2d_output_size(size, k, stride=s, padding=p, dilation=d)
    expect.equal(got, torch_output_length(size, k, s, p, d), hint=int_hint(got, hint))


@pytest.mark.points(1)
def test_output_size_lesson_examples(student):
    """conv2d_output_size: the lesson's 5x5 input and 3x3 kernel"""
    check_size(student, 5, 3, hint="a 3x3 kernel fits 3 times across 5 cells")
    check_size(student, 5, 3, s=2, hint="with stride=2 the kernel starts at cells 0 and 2")
    check_size(student, 5, 3, p=1, hint="padding=1 adds a zero on both sides: 7 cells, 5 positions")


@pytest.mark.points(2)
@settings(max_examples=5, report_multiple_bugs=False)
@given(case=size_cases(max_padding=0, max_dilation=1))
@example(case=(6, 3, 2, 0, 1))     # the last jump does not fit: round down
@example(case=(3, 3, 1, 0, 1))     # the kernel exactly fills the input
def test_output_size_stride(student, case):
    """conv2d_output_size follows nn.Conv2d for any stride, including strides that do not divide evenly"""
    check_size(student, *case, hint="count the first position (+1), then one more per whole jump of stride "
                                    "cells; a jump that does not fit is dropped: round down with //")


@pytest.mark.points(1)
@settings(max_examples=4, report_multiple_bugs=False)
@given(case=size_cases(max_stride=3, max_dilation=1))
@example(case=(1, 3, 1, 1, 1))     # the kernel exactly fills the padded input
def test_output_size_padding(student, case):
    """conv2d_output_size follows nn.Conv2d with padding"""
    check_size(student, *case, hint="padding adds zeros on both sides: the input becomes size + 2*padding long")


@pytest.mark.points(1)
@settings(max_examples=4, report_multiple_bugs=False)
@given(case=size_cases(max_stride=1, max_padding=0))
@example(case=(7, 3, 1, 0, 2))
def test_output_size_dilation(student, case):
    """conv2d_output_size follows nn.Conv2d with dilation"""
    check_size(student, *case,
               hint="with dilation, a kernel of kernel_size numbers covers dilation*(kernel_size-1)+1 cells")


@pytest.mark.points(2)
@settings(max_examples=6, report_multiple_bugs=False)
@given(case=size_cases())
@example(case=(4, 3, 5, 1, 2))     # kernel == padded size, large stride
@example(case=(10, 3, 4, 1, 2))    # 10 + 2 - 5 = 7 is not a multiple of 4
def test_output_size_everything(student, case):
    """conv2d_output_size follows nn.Conv2d with stride, padding and dilation together"""
    check_size(student, *case)


# --------------------------------------------------------------------------- conv2d_output_shape

def check_shape(student, input_shape, out_channels, k, s=1, p=0, d=1, hint=SIZE_HINT):
    got = student.conv.conv2d_output_shape(input_shape, out_channels, k, stride=s, padding=p, dilation=d)
    want = torch_output_shape(input_shape, out_channels, k, s, p, d)
    if isinstance(got, list) and all(type(v) is int for v in got) and tuple(got) == want:
        return   # a list (or a torch.Size, which arrives as a tuple) of the right ints is as good as a tuple
    expect.equal(got, want,
                 hint=int_hint(got, "(N, C, H, W) becomes a tuple of ints (N, out_channels, H_out, W_out); " + hint))


@pytest.mark.points(1)
def test_output_shape_lesson_examples(student):
    """conv2d_output_shape: the lesson's examples"""
    check_shape(student, (1, 1, 5, 5), 1, 3)
    check_shape(student, (64, 3, 32, 32), 6, 3)
    check_shape(student, (1, 1, 5, 5), 1, 3, s=2)
    check_shape(student, (1, 1, 5, 5), 1, 3, p=1)


@pytest.mark.points(2)
@settings(max_examples=4, report_multiple_bugs=False)
@given(case=shape_cases(pairs=False))
def test_output_shape_int_arguments(student, case):
    """conv2d_output_shape matches nn.Conv2d's output shape (int arguments)"""
    check_shape(student, *case)


@pytest.mark.points(2)
@settings(max_examples=6, report_multiple_bugs=False)
@given(case=shape_cases(pairs=True))
@example(case=((1, 3, 10, 20), 8, (3, 5), (1, 2), (1, 0), 1))
@example(case=((2, 1, 9, 6), 4, (1, 3), (3, 1), (0, 2), (2, 1)))
def test_output_shape_pair_arguments(student, case):
    """conv2d_output_shape matches nn.Conv2d when arguments are (height, width) pairs"""
    check_shape(student, *case, hint=PAIR_HINT)


# --------------------------------------------------------------------------- conv2d: the lesson

LESSON_INPUT = torch.reshape(torch.tensor([[1, 2, 0, 3, 1],
                                           [0, 1, 2, 3, 1],
                                           [1, 2, 1, 0, 0],
                                           [5, 2, 3, 1, 1],
                                           [2, 1, 0, 1, 1]], dtype=torch.float32), (1, 1, 5, 5))
LESSON_KERNEL = torch.reshape(torch.tensor([[1, 2, 1],
                                            [0, 1, 0],
                                            [2, 1, 0]], dtype=torch.float32), (1, 1, 3, 3))
LESSON_HINT = ("slide the 3x3 kernel over the input; each output number is the sum of the "
               "element-wise products (top-left: 1*1+2*2+0*1+0*0+1*1+2*0+1*2+2*1+1*0 = 10), "
               "in the input's dtype (here float32)")


@pytest.mark.points(1)
@NO_BUILTIN_CONV
def test_conv2d_lesson_stride_1(student):
    """conv2d on the lesson's example, stride=1"""
    got = student.conv.conv2d(LESSON_INPUT, LESSON_KERNEL, stride=1)
    expect.tensor(got, torch.tensor([[[[10., 12., 12.], [18., 16., 16.], [13., 9., 3.]]]]), hint=LESSON_HINT)


@pytest.mark.points(1)
@NO_BUILTIN_CONV
def test_conv2d_lesson_stride_2(student):
    """conv2d on the lesson's example, stride=2"""
    got = student.conv.conv2d(LESSON_INPUT, LESSON_KERNEL, stride=2)
    expect.tensor(got, torch.tensor([[[[10., 12.], [13., 3.]]]]),
                  hint=LESSON_HINT + "; with stride=2 the kernel jumps two cells at a time, to the right and, "
                                     "at the end of a row, down")


@pytest.mark.points(1)
@NO_BUILTIN_CONV
def test_conv2d_lesson_padding_1(student):
    """conv2d on the lesson's example, padding=1"""
    got = student.conv.conv2d(LESSON_INPUT, LESSON_KERNEL, padding=1)
    expect.tensor(got, F.conv2d(LESSON_INPUT, LESSON_KERNEL, padding=1),
                  hint=LESSON_HINT + "; padding=1 first surrounds the input with one ring of zeros on all four "
                                     "sides (7x7)")


# --------------------------------------------------------------------------- conv2d: random inputs

@pytest.mark.points(2)
@NO_BUILTIN_CONV
@settings(max_examples=3, report_multiple_bugs=False)
@given(case=conv_cases())
def test_conv2d_one_channel(student, case):
    """conv2d equals F.conv2d for one image, one channel, any (non-square) kernel"""
    expect.tensor(call_conv2d(student, case), expected_conv2d(case), hint=conv2d_hint(case))


@pytest.mark.points(2)
@NO_BUILTIN_CONV
@settings(max_examples=3, report_multiple_bugs=False)
@given(case=conv_cases(batch=True, channels=True))
def test_conv2d_batch_and_channels(student, case):
    """conv2d equals F.conv2d with several images, input channels and output channels"""
    expect.tensor(call_conv2d(student, case), expected_conv2d(case), hint=conv2d_hint(case))


@pytest.mark.points(1)
@NO_BUILTIN_CONV
@settings(max_examples=3, report_multiple_bugs=False)
@given(case=conv_cases(channels=True, bias="maybe"))
def test_conv2d_bias(student, case):
    """conv2d adds the bias like F.conv2d"""
    expect.tensor(call_conv2d(student, case), expected_conv2d(case), hint=conv2d_hint(case))


@pytest.mark.points(2)
@NO_BUILTIN_CONV
@settings(max_examples=3, report_multiple_bugs=False)
@given(case=conv_cases(channels=True, max_stride=3))
@example(case={"input": torch.arange(25.).reshape(1, 1, 5, 5), "weight": torch.ones(1, 1, 2, 3),
               "bias": None, "stride": 2, "padding": 0})
def test_conv2d_stride(student, case):
    """conv2d equals F.conv2d with a stride"""
    expect.tensor(call_conv2d(student, case), expected_conv2d(case), hint=conv2d_hint(case))


@pytest.mark.points(2)
@NO_BUILTIN_CONV
@settings(max_examples=3, report_multiple_bugs=False)
@given(case=conv_cases(channels=True, max_stride=3, max_padding=2))
def test_conv2d_padding(student, case):
    """conv2d equals F.conv2d with padding"""
    expect.tensor(call_conv2d(student, case), expected_conv2d(case), hint=conv2d_hint(case))


@pytest.mark.points(2)
@NO_BUILTIN_CONV
@settings(max_examples=3, report_multiple_bugs=False)
@given(case=conv_cases(batch=True, channels=True, bias="maybe", max_stride=3, max_padding=2,
                       dtypes=(torch.float32, torch.float64)))
def test_conv2d_everything_and_dtype(student, case):
    """conv2d equals F.conv2d with everything at once, float32 and float64 (dtype kept), inputs unchanged"""
    got = expect.call_keeping_inputs(student.conv.conv2d, case["input"], case["weight"], case["bias"],
                                     stride=case["stride"], padding=case["padding"])
    expect.tensor(got, expected_conv2d(case), hint=conv2d_hint(case))


@pytest.mark.points(2)
@NO_BUILTIN_CONV
@settings(max_examples=2, report_multiple_bugs=False)
@given(case=conv_cases(batch=True, channels=True, bias="always", max_stride=2, max_padding=1,
                       dtypes=(torch.float32, torch.float64)),
       seed=st.integers(0, 2**16))
def test_conv2d_gradients(student, case, seed):
    """gradients flow through conv2d to input, weight and bias, equal to F.conv2d's"""
    args = (case["input"], case["weight"], case["bias"])
    kwargs = {"stride": case["stride"], "padding": case["padding"]}
    gen = torch.Generator().manual_seed(seed)
    g = (torch.randint(-4, 5, expected_conv2d(case).shape, generator=gen) / 2).to(case["input"].dtype)
    expect.tensor(call_conv2d(student, case), expected_conv2d(case),
                  hint="the result itself is wrong: " + conv2d_hint(case))
    want = inspection.vjp(ref.conv2d, *args, grad_output=g, **kwargs)
    got = inspection.vjp(student.conv.conv2d, *args, grad_output=g, **kwargs)
    expect.true(got["connected"],
                "conv2d's result is not connected to its inputs: backward() cannot reach input, weight or bias.",
                hint="build the result with tensor operations; .item(), float(...), torch.tensor(list) or "
                     ".detach() cut the graph")
    for name, g_got, g_want in zip(["input", "weight", "bias"], got["grads"], want["grads"]):
        what = f"the gradient of {name} from conv2d (stride={kwargs['stride']}, padding={kwargs['padding']})"
        if g_got is None:
            expect.fail(f"{what} is None: no gradient reached {name}.")
        expect.tensor(g_got, g_want, what=what,
                      hint="every multiplication with weight (and the addition of bias) must be part of the "
                           "tensor computation that gives the result")


# --------------------------------------------------------------------------- written by hand

@pytest.mark.points(1)
@NO_BUILTIN_CONV
def test_conv2d_written_by_hand(student):
    """conv2d works and uses no ready-made convolution (F.conv2d, torch.conv2d, nn.Conv2d), in any module"""
    got = student.conv.conv2d(LESSON_INPUT, LESSON_KERNEL)
    expect.tensor(got, torch.tensor([[[[10., 12., 12.], [18., 16., 16.], [13., 9., 3.]]]]), hint=LESSON_HINT)
    # NO_BUILTIN_CONV has read conv2d, and every module it reaches, before this test ran.
