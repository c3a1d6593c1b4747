"""Grading suite for the max-pooling lesson: nn.MaxPool2d, its output size and ceil_mode."""
from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from grader import expect, inspection, reference
ref = reference("pooling")

pytestmark = pytest.mark.exercise("pooling")

# Everything in torch that pools with a max: max_pool2d must not lean on any of it.
TORCH_POOLS = frozenset({
    "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices", "fractional_max_pool2d", "fractional_max_pool3d",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d",
})

# max_pool2d must not call or reach any of them (in any module it imports), nor the aten
# operations behind them; TuDuiPool, outside that scope, rightly uses nn.MaxPool2d.
forbid_pools = pytest.mark.forbid(
    *(f"torch.nn.functional.{name}" for name in sorted(TORCH_POOLS) if name[0].islower()),
    *(f"torch.nn.{name}" for name in sorted(TORCH_POOLS) if name[0].isupper()),
    "torch.max_pool1d", "torch.max_pool2d", "torch.max_pool3d",
    *(f"aten.{op}" for op in ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
                              "max_pool2d_with_indices", "max_pool3d_with_indices", "adaptive_max_pool1d",
                              "adaptive_max_pool2d", "adaptive_max_pool3d", "fractional_max_pool2d",
                              "mkldnn_max_pool2d", "quantized_max_pool2d")),
    within="max_pool2d",
)

LESSON_INPUT = torch.tensor([[1, 2, 0, 3, 1],
                             [0, 1, 2, 3, 1],
                             [1, 2, 1, 0, 0],
                             [5, 2, 3, 1, 1],
                             [2, 1, 0, 1, 1]], dtype=torch.float32).reshape(-1, 1, 5, 5)

SIZE_HINT = ("out = (size + 2*padding - dilation*(kernel_size - 1) - 1) / stride + 1, rounded down "
             "(floor) with ceil_mode=False and up (ceil) with ceil_mode=True; stride=None means "
             "stride = kernel_size; return a Python int.")
POOL_HINT = ("each output cell is the max of one kernel_size x kernel_size window; windows start every "
             "`stride` cells (stride=None means stride = kernel_size); the output has "
             "pool2d_output_size(H, kernel_size, stride, ceil_mode=ceil_mode) rows (and the same for W); "
             "with ceil_mode=True the windows that hang off the right/bottom edge are kept and take the "
             "max of the cells that exist.")
DTYPE_HINT = ("pooling only picks values, so the dtype must not change: an integer image stays integer "
              "(float('-inf') does not exist for integers: use torch.iinfo(dtype).min, or just leave the "
              "missing cells out).")
UNBATCHED_HINT = ("an unbatched image is (C, H, W): pool the last two dimensions, whatever comes before "
                  "them, and keep the result 3-D (C, H_out, W_out).")


# ---------------------------------------------------------------------------- pool2d_output_size

def oracle_size(size: int, kernel_size: int, stride: int | None, padding: int, dilation: int,
                ceil_mode: bool) -> int | None:
    """What nn.MaxPool2d itself produces on a size x size image (None: torch refuses the setting)."""
    pool = nn.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)
    try:
        return pool(torch.zeros(1, size, size)).shape[-1]
    except RuntimeError:
        return None


def size_hint(size, kernel_size, stride, padding, dilation, ceil_mode, got) -> str:
    """Name the likely mistakes, in the lesson's words (all that explain ``got``)."""
    if type(got) is not int:
        return "return a Python int (use // for floor division, or int(...) / math.floor / math.ceil)."
    s = kernel_size if stride is None else stride
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    causes = []
    if got == ref.pool2d_output_size(size, kernel_size, s, padding, dilation, not ceil_mode):
        causes.append("ceil_mode=False rounds the division down (floor), ceil_mode=True rounds it up "
                      "(ceil): is the rounding the wrong way round?")
    if stride is None and got == ref.pool2d_output_size(size, kernel_size, 1, padding, dilation, ceil_mode):
        causes.append("stride=None means stride = kernel_size: pooling windows do not overlap by default.")
    if ceil_mode and got == -(-span // s) + 1:
        causes.append("with ceil_mode=True the last window must start inside the input or the left "
                      "padding (at a position < size + padding); if rounding up creates a window that "
                      "starts later, subtract one.")
    return " Or: ".join(causes) or SIZE_HINT


@st.composite
def size_settings(draw):
    kernel_size = draw(st.integers(1, 7))
    stride = draw(st.none() | st.integers(1, 8))
    padding = draw(st.integers(0, kernel_size // 2))     # torch requires padding <= kernel_size / 2
    dilation = draw(st.integers(1, 3))
    ceil_mode = draw(st.booleans())
    smallest = dilation * (kernel_size - 1) + 1 - 2 * padding - (stride or kernel_size)
    size = draw(st.integers(max(1, smallest), 40))
    return size, kernel_size, stride, padding, dilation, ceil_mode


@pytest.mark.points(1)
def test_output_size_lesson(student):
    """pool2d_output_size on the lesson's 5x5 image and CIFAR-10's MaxPool2d(2)"""
    f = student.pooling.pool2d_output_size
    for args, kwargs in [((5, 3), {}), ((5, 3), {"ceil_mode": True}), ((5, 3), {"stride": None}),
                         ((32, 2), {}), ((16, 2), {}), ((8, 2), {})]:
        got = f(*args, **kwargs)
        want = ref.pool2d_output_size(*args, **kwargs)
        expect.equal(got, want, hint=size_hint(*args, kwargs.get("stride"), 0, 1,
                                               kwargs.get("ceil_mode", False), got))


def last_window_rule_bites(size, kernel_size, stride, padding, dilation, ceil_mode) -> bool:
    """Whether PyTorch's rule "the last window starts inside the input or the left padding" changes
    the answer here (an edge case with a test of its own, so it is left out of the general one)."""
    s = kernel_size if stride is None else stride
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    return ceil_mode and -(-span // s) + 1 != ref.pool2d_output_size(size, kernel_size, s, padding, dilation, True)


@pytest.mark.points(4)
@settings(max_examples=16, report_multiple_bugs=False)
@given(case=size_settings())
def test_output_size_matches_maxpool(student, case):
    """pool2d_output_size agrees with nn.MaxPool2d for any kernel, stride, padding, dilation, ceil_mode"""
    size, kernel_size, stride, padding, dilation, ceil_mode = case
    want = oracle_size(size, kernel_size, stride, padding, dilation, ceil_mode)
    assume(want is not None and not last_window_rule_bites(*case))
    kwargs = {"padding": padding, "dilation": dilation, "ceil_mode": ceil_mode}
    if stride is not None:
        kwargs["stride"] = stride
    got = student.pooling.pool2d_output_size(size, kernel_size, **kwargs)
    expect.equal(got, want, hint=size_hint(size, kernel_size, stride, padding, dilation, ceil_mode, got))


LAST_WINDOW_CASES = [  # (size, kernel_size, stride, padding)
    (3, 2, 3, 0),     # rounding up gives 2, but the 2nd window would start at 3, past the input
    (5, 2, 2, 1),     # rounding up gives 4, but the 4th window would start in the right padding
    (3, 2, 2, 1),
    (2, 1, 2, 0),
]


@forbid_pools
@pytest.mark.points(1)
def test_output_size_last_window_starts_inside(student):
    """with ceil_mode=True the last window must start inside the input or the left padding"""
    for size, kernel_size, stride, padding in LAST_WINDOW_CASES:
        want = oracle_size(size, kernel_size, stride, padding, 1, True)
        got = student.pooling.pool2d_output_size(size, kernel_size, stride=stride, padding=padding,
                                                 ceil_mode=True)
        expect.equal(got, want, hint=size_hint(size, kernel_size, stride, padding, 1, True, got))
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    expect_pooled(student.pooling.max_pool2d(x, 2, stride=3, ceil_mode=True),
                  F.max_pool2d(x, 2, stride=3, ceil_mode=True),
                  hint="a 3x3 image, kernel 2, stride 3: rounding up gives 2 windows per side, but the second "
                       "would start at 3, past the image, so there is only one (see pool2d_output_size).")


# ---------------------------------------------------------------------------- max_pool2d

@st.composite
def pool_cases(draw, values=st.integers(-20, 20), batched=True, ceil_mode=st.booleans(), kernels=(1, 4)):
    """A small image and pooling setting that F.max_pool2d accepts; values shrink towards 0.
    Never a size where the last-window rule changes the output (test_output_size_last_window_starts_inside
    is about that edge case)."""
    kernel_size = draw(st.integers(*kernels))
    stride = draw(st.none() | st.integers(1, 5))
    ceil = draw(ceil_mode)
    s = stride or kernel_size
    smallest = max(1, kernel_size - s + 1) if ceil else kernel_size
    h, w = draw(st.integers(smallest, 7)), draw(st.integers(smallest, 7))
    assume(not any(last_window_rule_bites(n, kernel_size, stride, 0, 1, ceil) for n in (h, w)))
    lead = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if batched else (draw(st.integers(1, 2)),)
    image = draw(hnp.arrays("int64", lead + (h, w), elements=values))
    return torch.from_numpy(image), kernel_size, stride, ceil


def expect_pooled(got, want: torch.Tensor, hint: str) -> None:
    """expect.tensor, with a word for the beginner's (values, indices) pair; a wrong shape always
    gets the general hint, since it comes from the window count, whatever the test is about."""
    if not isinstance(got, torch.Tensor):
        kind = inspection.type_info(got)["name"].removeprefix("builtins.")
        expect.fail(f"max_pool2d returned a {kind}, not a tensor: return only the pooled values. "
                    "(Tensor.max(dim) gives a (values, indices) pair: take .values, or use amax.)")
    expect.tensor(got, want, hint=hint if got.shape == want.shape else POOL_HINT)


def call_max_pool(student, x, kernel_size, stride, ceil_mode, keeping_input=False):
    """Call the student's max_pool2d the way a student would, leaving out the defaults
    (``keeping_input``: and fail if the call changes x)."""
    kwargs = {}
    if stride is not None:
        kwargs["stride"] = stride
    if ceil_mode:
        kwargs["ceil_mode"] = True
    if keeping_input:
        return expect.call_keeping_inputs(student.pooling.max_pool2d, x, kernel_size, **kwargs)
    return student.pooling.max_pool2d(x, kernel_size, **kwargs)


@forbid_pools
@pytest.mark.points(1)   # for each ceil_mode: 2 points in all
@pytest.mark.parametrize("ceil_mode, want", [(True, [[2.0, 3.0], [5.0, 1.0]]), (False, [[2.0]])])
def test_max_pool_lesson(student, ceil_mode, want):
    """the lesson's 5x5 image with kernel_size=3: [[2, 3], [5, 1]] with ceil_mode, [[2]] without"""
    got = student.pooling.max_pool2d(LESSON_INPUT, 3, ceil_mode=ceil_mode)
    expect_pooled(got, torch.tensor(want).reshape(1, 1, len(want), len(want)), hint=POOL_HINT)


@forbid_pools
@pytest.mark.points(4)
@settings(max_examples=8, report_multiple_bugs=False)
@given(case=pool_cases())
def test_max_pool_matches_reference(student, case):
    """max_pool2d equals F.max_pool2d on (N, C, H, W) images, any stride, ceil_mode on and off, image unchanged"""
    x, kernel_size, stride, ceil_mode = case
    x = x.float()
    got = call_max_pool(student, x, kernel_size, stride, ceil_mode, keeping_input=True)
    expect_pooled(got, F.max_pool2d(x, kernel_size, stride, ceil_mode=ceil_mode), hint=POOL_HINT)


@forbid_pools
@pytest.mark.points(1)
@settings(max_examples=5, report_multiple_bugs=False)
@given(case=pool_cases(batched=False))
def test_max_pool_unbatched(student, case):
    """max_pool2d accepts an unbatched (C, H, W) image and returns (C, H_out, W_out)"""
    x, kernel_size, stride, ceil_mode = case
    x = x.double()
    want = F.max_pool2d(x, kernel_size, stride, ceil_mode=ceil_mode)
    got = call_max_pool(student, x, kernel_size, stride, ceil_mode)
    if same(got, want):
        return
    hint = UNBATCHED_HINT if batched_right(student, x[None], kernel_size, stride, ceil_mode) else POOL_HINT
    got = call_max_pool(student, x, kernel_size, stride, ceil_mode)   # so the message names this call
    expect_pooled(got, want, hint=hint)


def same(got, want: torch.Tensor) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype
            and bool(torch.equal(got, want)))


def batched_right(student, x, kernel_size, stride, ceil_mode) -> bool:
    """Whether the student's max_pool2d gets this (N, C, H, W) image right."""
    try:
        got = call_max_pool(student, x, kernel_size, stride, ceil_mode)
    except AssertionError:      # the student's code raised
        return False
    return same(got, F.max_pool2d(x, kernel_size, stride, ceil_mode=ceil_mode))


def has_partial_window(x: torch.Tensor, kernel_size: int, stride: int | None) -> bool:
    h, w = x.shape[-2:]
    return any(ref.pool2d_output_size(n, kernel_size, stride, ceil_mode=True)
               != max(0, ref.pool2d_output_size(n, kernel_size, stride)) for n in (h, w))


@forbid_pools
@pytest.mark.points(2)
@settings(max_examples=6, report_multiple_bugs=False)
@given(case=pool_cases(values=st.integers(-20, -1), ceil_mode=st.just(True), kernels=(2, 4)))
def test_max_pool_ceil_mode_negative_image(student, case):
    """with ceil_mode=True, windows hanging off the edge ignore the missing cells (all-negative image)"""
    x, kernel_size, stride, ceil_mode = case
    assume(has_partial_window(x, kernel_size, stride))
    x = x.float()
    got = call_max_pool(student, x, kernel_size, stride, ceil_mode)
    expect_pooled(got, F.max_pool2d(x, kernel_size, stride, ceil_mode=True),
                  hint="in a window that hangs off the edge, the missing cells are ignored, not zeros: "
                       "if you pad, pad with -inf (or the dtype's smallest value), never with 0; and "
                       "the last window must start inside the image.")


@forbid_pools
@pytest.mark.points(1)
@settings(max_examples=6, report_multiple_bugs=False)
@given(case=pool_cases(), dtype=st.sampled_from([torch.int64, torch.int32, torch.int16, torch.int8,
                                                 torch.uint8, torch.float64]))
def test_max_pool_keeps_dtype(student, case, dtype):
    """max_pool2d keeps the input's dtype, integers included"""
    x, kernel_size, stride, ceil_mode = case
    x = (x + 20).to(dtype) if dtype == torch.uint8 else x.to(dtype)
    got = call_max_pool(student, x, kernel_size, stride, ceil_mode)
    want = F.max_pool2d(x, kernel_size, stride, ceil_mode=ceil_mode)
    dtype_wrong = isinstance(got, torch.Tensor) and got.dtype != want.dtype
    expect_pooled(got, want, hint=DTYPE_HINT if dtype_wrong else POOL_HINT)


@forbid_pools
@pytest.mark.points(3)
@settings(max_examples=3, report_multiple_bugs=False)
@given(case=pool_cases(values=st.just(0)), data=st.data())
def test_max_pool_gradient(student, case, data):
    """the gradient of max_pool2d flows back to the max of each window, like F.max_pool2d's"""
    x, kernel_size, stride, ceil_mode = case
    # Distinct values, so each window has exactly one max and the gradient has one right answer.
    order = data.draw(st.permutations(range(x.numel())), label="order")
    x = (torch.tensor(order, dtype=torch.float64) - x.numel() / 2).reshape(x.shape)
    want = F.max_pool2d(x, kernel_size, stride, ceil_mode=ceil_mode)
    expect_pooled(call_max_pool(student, x, kernel_size, stride, ceil_mode), want, hint=POOL_HINT)
    g = torch.arange(1, want.numel() + 1, dtype=torch.float64).reshape(want.shape)
    kwargs = {"stride": stride, "ceil_mode": ceil_mode}
    want = inspection.vjp(F.max_pool2d, x, kernel_size, grad_output=g, wrt=[0], **kwargs)
    got = inspection.vjp(student.pooling.max_pool2d, x, kernel_size, grad_output=g, wrt=[0], **kwargs)
    expect.true(got["connected"],
                "the result of max_pool2d is not connected to the input, so no gradient can flow back.",
                hint="build the result from tensor operations on `input` (indexing, max, amax, unfold, "
                     "stack); torch.tensor(...) of Python numbers, .item() and .detach() cut the graph.")
    expect.tensor(got["grads"][0], want["grads"][0],
                  hint="each window sends its output gradient to the one cell holding its max; a cell that "
                       "is the max of several overlapping windows collects all their gradients.")


@forbid_pools
@pytest.mark.points(1)
def test_max_pool_written_by_hand(student):
    """max_pool2d is written by hand: no F.max_pool2d, torch.max_pool2d or nn.MaxPool2d inside it"""
    got = student.pooling.max_pool2d(LESSON_INPUT, 3, ceil_mode=True)
    expect_pooled(got, F.max_pool2d(LESSON_INPUT, 3, ceil_mode=True), hint=POOL_HINT)
    # forbid_pools has read max_pool2d, and every module it reaches, before this test ran.


# ---------------------------------------------------------------------------- TuDuiPool


def square(value):
    """``(3, 3)`` configures a pooling layer like ``3``: compare them as equal."""
    if isinstance(value, (tuple, list)) and value and all(v == value[0] for v in value):
        return value[0]
    return value

@pytest.mark.points(1)
def test_tudui_pool_layer(student):
    """TuDuiPool has maxpool1 = nn.MaxPool2d(kernel_size=3, ceil_mode=True)"""
    model = student.pooling.TuDuiPool()
    children = {c["name"]: c for c in inspection.structure(model)["children"]}
    expect.true("maxpool1" in children,
                f"TuDuiPool() has no layer named maxpool1 (its layers: {sorted(children) or 'none'}).",
                hint="in __init__, after super().__init__(), write "
                     "self.maxpool1 = nn.MaxPool2d(kernel_size=3, ceil_mode=True).")
    expect.true(inspection.is_instance(model.maxpool1, nn.MaxPool2d),
                f"TuDuiPool().maxpool1 is a {inspection.type_name(model.maxpool1)}, expected nn.MaxPool2d.")
    want = inspection.structure(ref.TuDuiPool())["children"][0]["config"]
    got = children["maxpool1"]["config"]
    for key in ("kernel_size", "stride", "padding", "dilation", "ceil_mode"):
        expect.true(square(got.get(key)) == square(want[key]),
                    f"TuDuiPool().maxpool1 has {key}={got.get(key)!r}, expected {key}={want[key]!r}.",
                    hint="the lesson's layer is nn.MaxPool2d(kernel_size=3, ceil_mode=True); leave stride "
                         "out, it defaults to kernel_size.")


@pytest.mark.points(1)
def test_tudui_pool_lesson(student):
    """TuDuiPool()(lesson image) is [[2, 3], [5, 1]]"""
    got = student.pooling.TuDuiPool()(LESSON_INPUT)
    expect.tensor(got, torch.tensor([[2.0, 3.0], [5.0, 1.0]]).reshape(1, 1, 2, 2),
                  hint="forward returns self.maxpool1(x), with maxpool1 = nn.MaxPool2d(kernel_size=3, "
                       "ceil_mode=True): ceil_mode=True keeps the windows that hang off the edge.")


@pytest.mark.points(1)
@settings(max_examples=4, report_multiple_bugs=False)
@given(n=st.integers(1, 2), h=st.integers(1, 8), w=st.integers(1, 8), data=st.data())
def test_tudui_pool_forward(student, n, h, w, data):
    """TuDuiPool()(x) equals the reference on (N, 1, H, W) images, leaving x unchanged"""
    image = data.draw(hnp.arrays("int64", (n, 1, h, w), elements=st.integers(-20, 20)), label="image")
    x = torch.from_numpy(image).float()
    hint = ("forward returns self.maxpool1(x), with maxpool1 = nn.MaxPool2d(kernel_size=3, "
            "ceil_mode=True): ceil_mode=True keeps the windows that hang off the edge, so even a 1x1 "
            "image gives a 1x1 result.")
    try:
        got = expect.call_keeping_inputs(student.pooling.TuDuiPool(), x)
    except expect.StudentError as exc:  # the student's code raised: say what usually causes it
        expect.fail(f"{exc}\nHint: {hint}")
    expect.tensor(got, ref.TuDuiPool()(x), hint=hint)


@pytest.mark.points(1)
def test_tudui_pool_forward_uses_maxpool1(student):
    """forward calls the maxpool1 made in __init__, so swapping the layer changes the result"""
    model = student.pooling.TuDuiPool()
    # The point needs the model __init__ built to work first: with no maxpool1 of its own, the
    # swapped-in layer alone would make forward pass.
    expect.tensor(model(LESSON_INPUT), torch.tensor([[2.0, 3.0], [5.0, 1.0]]).reshape(1, 1, 2, 2),
                  hint="TuDuiPool() must give the lesson's result first: __init__ creates self.maxpool1 = "
                       "nn.MaxPool2d(kernel_size=3, ceil_mode=True) and forward returns self.maxpool1(x).")
    model.maxpool1 = student.torch.nn.MaxPool2d(kernel_size=2)
    x = torch.arange(36, dtype=torch.float32).reshape(1, 1, 6, 6)
    got = model(x)
    expect.tensor(got, F.max_pool2d(x, 2),
                  hint="forward should return self.maxpool1(x): use the layer made in __init__ rather "
                       "than pooling some other way.")
