"""Grading suite for the activations lesson: ReLU (with ``inplace``) and Sigmoid by hand,
and the lesson's TuDuiActivation module.

torch's own ``relu``/``sigmoid`` are the oracles; they run here, in the judge.
Whether ``relu`` changes its input can only be seen where the input lives, so
those tests keep the tensor in the worker (inside a ``collections.deque``)
and read it back after the call.
"""
from __future__ import annotations


import pytest
import torch
from hypothesis import example, given, settings, strategies as st
from torch import nn

from grader import expect, inspection, reference
ref = reference("activations")

pytestmark = pytest.mark.exercise("activations")

# relu and sigmoid must not call or reach torch's own (in any module they import); the
# lesson's TuDuiActivation, outside their scope, rightly uses nn.ReLU and nn.Sigmoid. torch's
# other activations count where they compute the same thing: leaky_relu with slope 0,
# hardtanh from 0 to inf, elu with alpha 0, rrelu and prelu with slope 0 are ReLU; logsigmoid,
# silu(x) / x and glu([1, x]) are sigmoid (torch.special.expit is its other name). Plain
# tensor operations stay open: clamp, maximum, where, exp, logaddexp.
NO_BUILTIN_RELU = pytest.mark.forbid(
    "torch.relu", "torch.relu_", "torch.nn.functional.relu", "torch.nn.functional.relu_",
    "torch.Tensor.relu", "torch.Tensor.relu_", "torch.nn.functional.threshold", "torch.nn.functional.threshold_",
    "torch.nn.ReLU", "aten.relu", "aten.relu_", "aten.threshold", "aten.threshold_",
    *(f"torch.nn.functional.{f}" for f in ("leaky_relu", "leaky_relu_", "hardtanh", "hardtanh_", "elu", "elu_",
                                           "rrelu", "rrelu_", "prelu")),
    "torch.rrelu", "torch.rrelu_", "torch.prelu",
    *(f"torch.nn.{c}" for c in ("LeakyReLU", "Hardtanh", "ELU", "RReLU", "PReLU")),
    *(f"aten.{op}" for op in ("leaky_relu", "leaky_relu_", "hardtanh", "hardtanh_", "elu", "elu_", "rrelu",
                              "rrelu_", "rrelu_with_noise", "rrelu_with_noise_", "prelu", "_prelu_kernel")),
    within="relu")
NO_BUILTIN_SIGMOID = pytest.mark.forbid(
    "torch.sigmoid", "torch.sigmoid_", "torch.nn.functional.sigmoid", "torch.Tensor.sigmoid",
    "torch.Tensor.sigmoid_", "torch.special.expit", "torch.nn.Sigmoid", "aten.sigmoid", "aten.sigmoid_",
    "torch.nn.functional.logsigmoid", "torch.nn.functional.silu", "torch.nn.functional.glu",
    "torch.nn.LogSigmoid", "torch.nn.SiLU", "torch.nn.GLU",
    "aten.log_sigmoid", "aten.log_sigmoid_forward", "aten.silu", "aten.silu_", "aten.glu",
    within="sigmoid")

LESSON_INPUT = torch.tensor([[1, -0.5], [-1, 3]]).reshape(-1, 1, 2, 2)
LESSON_RELU = torch.tensor([[1.0, 0.0], [0.0, 3.0]]).reshape(-1, 1, 2, 2)

RELU_HINT = "ReLU keeps numbers > 0 and turns every negative number into 0, element by element"
SIGMOID_HINT = "sigmoid(x) = 1 / (1 + e^(-x)), element by element; same shape and dtype as x"
OVERFLOW_HINT = ("in float32, torch.exp(89.) is already inf: 1/(1+e^(-x)) overflows for big negative x, "
                 "e^x/(1+e^x) gives inf/inf = nan for big positive x. Use e^(-|x|), which is never "
                 "bigger than 1: 1/(1+z) where x >= 0 and z/(1+z) where x < 0")
TAIL_HINT = ("small results must stay accurate too: sigmoid(-30) is 9.4e-14, not 0. Formulas such as "
             "1 - 1/(1+e^x), 0.5*(1+tanh(x/2)) or clamping x to a range lose them; "
             "use z/(1+z) with z = e^x for x < 0")
INPLACE_TRUE_HINT = ("with inplace=True change x itself with an in-place operation (a method ending in _, "
                     "such as x.clamp_(min=0), or x[x < 0] = 0) and return x itself; `x = ...` only "
                     "gives the name x a new tensor and leaves the caller's tensor as it was")
INPLACE_FALSE_HINT = ("with inplace=False (the default) build a new tensor, e.g. x.clamp(min=0) or "
                      "torch.where(x > 0, x, 0.); in-place operations such as x.clamp_(...) or "
                      "x[x < 0] = 0 would change the caller's data")
GRAPH_HINT = ("build the result from tensor operations on x; torch.tensor(...), .tolist(), .item() "
              "or .detach() cut the connection autograd needs")

# Inputs where a careless sigmoid overflows, loses its tiny results, or its gradient breaks.
EXTREMES = [-3e38, -1e4, -1e3, -100.0, -89.0, -88.0, -87.0, -30.0, -20.0, -10.0, -1.0, -1e-8, -1e-30,
            0.0, 1e-30, 1e-8, 1.0, 10.0, 20.0, 30.0, 87.0, 88.0, 89.0, 100.0, 1e3, 1e4, 3e38]


# --------------------------------------------------------------------------- strategies

def _floats(bound: float, width: int) -> st.SearchStrategy[float]:
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=width)


@st.composite
def tensors(draw, bounds=(4.0, 100.0, 1e4), nonzero: bool = False, dtypes=(torch.float32, torch.float64)):
    """A small float tensor (0 to 3 dims) with values of both signs; magnitudes from a few
    units up to ``max(bounds)``.  With ``nonzero`` every |value| >= 2**-10 (ReLU has no
    slope at 0).  Shrinks towards a single small number."""
    dtype = draw(st.sampled_from(dtypes))
    width = 32 if dtype == torch.float32 else 64
    shape = draw(st.lists(st.integers(1, 4), max_size=3))
    n = 1
    for side in shape:
        n *= side
    if nonzero:
        element = st.builds(lambda m, neg: -m if neg else m,
                            st.floats(2.0 ** -10, max(bounds), width=width), st.booleans())
    else:
        element = st.one_of(*[_floats(b, width) for b in bounds])
    values = draw(st.lists(element, min_size=n, max_size=n))
    return torch.tensor(values, dtype=dtype).reshape(shape)


def show(x: torch.Tensor) -> str:
    """A tensor as a beginner would write it: ``tensor([[1.0, -0.5]], dtype=float64)``."""
    dtype = "" if x.dtype == torch.float32 else f", dtype={str(x.dtype).replace('torch.', '')}"
    return f"tensor({x.tolist()}{dtype})"


def extremes(dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(EXTREMES, dtype=dtype)


# --------------------------------------------------------------------------- helpers

def relu_in_worker(student, x: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Call the student's relu on a tensor that stays in the worker.

    Returns (x as it is after the call, what relu returned, whether relu returned x itself).
    Tensors only travel by copy, so the input is kept in a deque and relu is run on it there.
    """
    c, b = student.collections, student.builtins
    box = c.deque([x])
    call = student.functools.partial(student.activations.relu, **kwargs)
    outs = c.deque(b.map(call, box))
    same = b.list(b.map(b.id, box)) == b.list(b.map(b.id, outs))
    return box[0], outs[0], same


def sigmoid_grad_truth(x: torch.Tensor) -> torch.Tensor:
    """d sigmoid/dx = sigmoid(x) * sigmoid(-x), in float64 (torch's own float32 backward,
    sigmoid * (1 - sigmoid), is not accurate for big positive x)."""
    x64 = x.to(torch.float64)
    return (torch.sigmoid(x64) * torch.sigmoid(-x64)).to(x.dtype)


def check_sigmoid(got: torch.Tensor, x: torch.Tensor) -> None:
    expect.finite(got, hint=OVERFLOW_HINT)
    expect.tensor(got, torch.sigmoid(x), rtol=1e-5, atol=1e-37, hint=TAIL_HINT)


# --------------------------------------------------------------------------- relu

@pytest.mark.points(1)
@NO_BUILTIN_RELU
def test_relu_lesson_example(student):
    """relu: the lesson's input [[1, -0.5], [-1, 3]] becomes [[1, 0], [0, 3]]"""
    expect.tensor(student.activations.relu(LESSON_INPUT), LESSON_RELU, hint=RELU_HINT)
    expect.tensor(student.activations.relu(LESSON_INPUT, inplace=False), LESSON_RELU, hint=RELU_HINT)


@pytest.mark.points(2)
@NO_BUILTIN_RELU
@settings(max_examples=4, report_multiple_bugs=False)
@given(x=tensors(), inplace=st.sampled_from([None, False, True]))
def test_relu_values(student, x, inplace):
    """relu returns ReLU(x) with x's shape and dtype, for inplace=False, True and the default"""
    want = torch.relu(x)
    kwargs = {} if inplace is None else {"inplace": inplace}
    expect.tensor(student.activations.relu(x, **kwargs), want, rtol=0, atol=0, hint=RELU_HINT)


@pytest.mark.points(2)
@NO_BUILTIN_RELU
@settings(max_examples=4, report_multiple_bugs=False)
@given(x=tensors(), default=st.booleans())
@example(x=LESSON_INPUT, default=False)
def test_relu_leaves_input_unchanged(student, x, default):
    """relu(x, inplace=False) and relu(x) leave x itself unchanged"""
    kwargs = {} if default else {"inplace": False}
    call = "relu(x)" if default else "relu(x, inplace=False)"
    student.activations.relu(x.clone(), **kwargs)        # a plain call first: clear errors
    x_after, out, _ = relu_in_worker(student, x.clone(), **kwargs)
    expect.tensor(out, torch.relu(x), rtol=0, atol=0, what=f"{call} with x = {show(x)}", hint=RELU_HINT)
    expect.true(x_after.shape == x.shape and bool(torch.equal(x_after, x)),
                f"{call} changed its input: x was {show(x)}, afterwards x is {show(x_after)}.",
                hint=INPLACE_FALSE_HINT)


@pytest.mark.points(2)
@NO_BUILTIN_RELU
@settings(max_examples=4, report_multiple_bugs=False)
@given(x=tensors())
@example(x=LESSON_INPUT)
def test_relu_inplace_changes_and_returns_input(student, x):
    """relu(x, inplace=True) changes x itself and returns that same tensor"""
    student.activations.relu(x.clone(), inplace=True)    # a plain call first: clear errors
    x_after, out, same = relu_in_worker(student, x.clone(), inplace=True)
    want = torch.relu(x)
    expect.tensor(out, want, rtol=0, atol=0, what=f"relu(x, inplace=True) with x = {show(x)}", hint=RELU_HINT)
    expect.true(x_after.shape == x.shape and bool(torch.equal(x_after, want)),
                f"relu(x, inplace=True) did not turn x itself into the result: x was {show(x)}, "
                f"afterwards x is {show(x_after)}, expected {show(want)}.",
                hint=INPLACE_TRUE_HINT)
    expect.true(same, f"relu(x, inplace=True) with x = {show(x)} changed x, but returned a different tensor "
                      "object: in-place means the result IS the input, so return x itself.",
                hint=INPLACE_TRUE_HINT)


@pytest.mark.points(1)
@NO_BUILTIN_RELU
@settings(max_examples=3, report_multiple_bugs=False)
@given(x=tensors(nonzero=True))
def test_relu_gradient(student, x):
    """gradients flow back through relu(x): 1 where x > 0, 0 where x < 0"""
    g = torch.linspace(1, 2, x.numel(), dtype=x.dtype).reshape(x.shape)
    got = inspection.vjp(student.activations.relu, x, grad_output=g, inplace=False)
    want = inspection.vjp(torch.relu, x, grad_output=g)
    expect.true(got["connected"], f"relu(x) with x = {show(x)} returned a tensor that is not connected to x, "
                                  "so backward() cannot compute a gradient.", hint=GRAPH_HINT)
    expect.tensor(got["grads"][0], want["grads"][0], rtol=0, atol=0,
                  what=f"the gradient of relu(x) with x = {show(x)} (weighted by grad_output {show(g)})",
                  hint="the slope of ReLU is 1 where x > 0 and 0 where x < 0")


@pytest.mark.points(1)
@NO_BUILTIN_RELU
def test_relu_by_hand(student):
    """relu is written by hand, without torch.relu, F.relu or nn.ReLU"""
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0])
    expect.tensor(student.activations.relu(x), torch.relu(x), hint=RELU_HINT)
    # NO_BUILTIN_RELU has read relu, and every module it reaches, before this test ran.


# --------------------------------------------------------------------------- sigmoid

@pytest.mark.points(1)
@NO_BUILTIN_SIGMOID
def test_sigmoid_lesson_example(student):
    """sigmoid of the lesson's input [[1, -0.5], [-1, 3]], and sigmoid(0) = 0.5"""
    check_sigmoid(student.activations.sigmoid(LESSON_INPUT), LESSON_INPUT)
    zero = torch.zeros(3)
    expect.tensor(student.activations.sigmoid(zero), torch.full((3,), 0.5), hint=SIGMOID_HINT)


@pytest.mark.points(2)
@NO_BUILTIN_SIGMOID
@settings(max_examples=6, report_multiple_bugs=False)
@given(x=tensors())
def test_sigmoid_values(student, x):
    """sigmoid matches torch.sigmoid (shape, dtype, values) for small and large inputs, leaving x unchanged"""
    check_sigmoid(expect.call_keeping_inputs(student.activations.sigmoid, x), x)


@pytest.mark.points(2)   # for each dtype: 4 points in all
@NO_BUILTIN_SIGMOID
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_sigmoid_extreme_inputs(student, dtype):
    """sigmoid stays finite and accurate for inputs from -3e38 to 3e38"""
    x = extremes(dtype)
    check_sigmoid(student.activations.sigmoid(x), x)
    for v in EXTREMES:                                    # one at a time: the message names the input
        one = torch.tensor([v], dtype=dtype)
        check_sigmoid(student.activations.sigmoid(one), one)


@pytest.mark.points(2)
@NO_BUILTIN_SIGMOID
@settings(max_examples=4, report_multiple_bugs=False)
@given(x=st.one_of(tensors(), st.sampled_from([extremes(torch.float32), extremes(torch.float64)])))
@example(x=torch.zeros(1))
def test_sigmoid_gradient(student, x):
    """gradients through sigmoid(x) are sigmoid(x) * (1 - sigmoid(x)): finite and accurate, also at 0"""
    g = torch.linspace(1, 2, x.numel(), dtype=x.dtype).reshape(x.shape)
    got = inspection.vjp(student.activations.sigmoid, x, grad_output=g)
    expect.true(got["connected"], f"sigmoid(x) with x = {show(x)} returned a tensor that is not connected to x, "
                                  "so backward() cannot compute a gradient.", hint=GRAPH_HINT)
    what = f"the gradient of sigmoid(x) with x = {show(x)} (weighted by grad_output {show(g)})"
    expect.finite(got["grads"][0], what=what,
                  hint="a nan gradient comes from an inf inside the formula, even in a torch.where branch "
                       "that is not chosen (0 * inf = nan): keep every exponent <= 0, e.g. e^(-|x|)")
    expect.tensor(got["grads"][0], sigmoid_grad_truth(x) * g, rtol=1e-4, atol=1e-37, what=what,
                  hint="at x = 0 the slope is 0.25; autograd gives x.abs() slope 0 at exactly 0, so write "
                       "-|x| as torch.where(x < 0, x, -x). Tiny slopes such as 9.4e-14 at x = -30 "
                       "must not become 0")


@pytest.mark.points(1)
@NO_BUILTIN_SIGMOID
def test_sigmoid_by_hand(student):
    """sigmoid is written by hand, without torch.sigmoid, F.sigmoid or nn.Sigmoid"""
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0])
    check_sigmoid(student.activations.sigmoid(x), x)
    # NO_BUILTIN_SIGMOID has read sigmoid, and every module it reaches, before this test ran.


# --------------------------------------------------------------------------- TuDuiActivation

@pytest.mark.points(2)
def test_module_layers(student):
    """TuDuiActivation has self.relu = nn.ReLU(inplace=False) and self.sigmoid = nn.Sigmoid()"""
    model = student.activations.TuDuiActivation()
    expect.true(inspection.is_instance(model, nn.Module),
                f"TuDuiActivation() is a {inspection.type_name(model)}, not an nn.Module.",
                hint="write class TuDuiActivation(nn.Module) and call super().__init__() first in __init__")
    for name, cls, how in [("relu", nn.ReLU, "nn.ReLU(inplace=False)"), ("sigmoid", nn.Sigmoid, "nn.Sigmoid()")]:
        layer = getattr(model, name)
        expect.true(inspection.is_instance(layer, cls),
                    f"TuDuiActivation().{name} is a {inspection.type_name(layer)}, expected {cls.__name__}.",
                    hint=f"in __init__ write self.{name} = {how} (torch's own layer)")
    expect.equal(model.relu.inplace, False,
                 hint="the lesson keeps inplace=False so the input data is not overwritten: "
                      "self.relu = nn.ReLU(inplace=False) (or nn.ReLU(), False is the default)")


@pytest.mark.points(1)
def test_module_lesson_example(student):
    """TuDuiActivation on the lesson's input: .relu gives [[1, 0], [0, 3]], the model gives its sigmoid"""
    model = student.activations.TuDuiActivation()
    expect.tensor(model.relu(LESSON_INPUT), LESSON_RELU, hint="model.relu is nn.ReLU(inplace=False)")
    expect.tensor(model(LESSON_INPUT), torch.sigmoid(LESSON_INPUT), rtol=1e-6,
                  hint="forward returns self.sigmoid(x); the ReLU layer is created but not used in forward")


@pytest.mark.points(2)
@settings(max_examples=4, report_multiple_bugs=False)
@given(x=tensors(dtypes=(torch.float32,)))
def test_module_forward(student, x):
    """TuDuiActivation()(x) is Sigmoid(x), for any shape, e.g. a batch of CIFAR-10 images; x stays unchanged"""
    model = student.activations.TuDuiActivation()
    expect.tensor(expect.call_keeping_inputs(model, x), ref.TuDuiActivation()(x), rtol=1e-6, atol=1e-37,
                  hint="forward returns self.sigmoid(x) (not self.relu(x), not both)")


@pytest.mark.points(1)
def test_module_gradient(student):
    """gradients flow back through TuDuiActivation()(x)"""
    x = torch.randn(2, 3, 4, 4)
    got = inspection.vjp(student.activations.TuDuiActivation(), x)
    want = inspection.vjp(ref.TuDuiActivation(), x)
    expect.true(got["connected"], "TuDuiActivation()(x) is not connected to x, so backward() cannot "
                                  "compute a gradient.", hint="forward returns self.sigmoid(x)")
    expect.tensor(got["grads"][0], want["grads"][0], rtol=1e-5, atol=1e-7,
                  what="the gradient of TuDuiActivation()(x) for x of shape (2, 3, 4, 4)",
                  hint="forward returns self.sigmoid(x)")
