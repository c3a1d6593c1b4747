"""Grading suite for the losses lesson: L1, MSE and cross-entropy written by hand."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings, strategies as st

from grader import expect, inspection

# Torch's ready-made losses, every one torch.nn.functional, torch and torch.nn offer (F.kl_div
# against one-hot targets is cross-entropy, 2 * F.gaussian_nll_loss with variance 1 is MSE):
# calling any of them (however reached) fails the test, and so does code that reaches one,
# read through every module it imports.
LESSON_LOSSES = ["l1_loss", "mse_loss", "cross_entropy", "nll_loss"]  # first: messages name the first few


def is_loss(name: str) -> bool:
    return not name.startswith("_") and (
        name.endswith("_loss") or name in ("kl_div", "binary_cross_entropy", "binary_cross_entropy_with_logits"))


LOSS_FUNCTIONS = LESSON_LOSSES + sorted(n for n in dir(F) if is_loss(n) and n not in LESSON_LOSSES)
TORCH_LOSSES = sorted(n for n in dir(torch) if is_loss(n))
LOSS_CLASSES = sorted(n for n in dir(torch.nn) if n.endswith("Loss"))
FORBIDDEN_CALLS = (
    *(f"torch.nn.functional.{n}" for n in LOSS_FUNCTIONS),
    *(f"torch.{n}" for n in TORCH_LOSSES),
    # the aten operations behind them (a name torch has no operation for is ignored)
    *(f"aten.{n}" for n in sorted({*LOSS_FUNCTIONS, *TORCH_LOSSES})),
    "aten.cross_entropy_loss", "aten.nll_loss_forward", "aten.nll_loss_nd", "aten.nll_loss2d",
    "aten.nll_loss2d_forward", "aten.multilabel_margin_loss_forward", "aten._ctc_loss",
)
READY_MADE = FORBIDDEN_CALLS + tuple(f"torch.nn.{c}" for c in LOSS_CLASSES)


def no_ready_made(function: str | None = None):
    """Forbid torch's losses in ``function`` and what it reaches (in all of losses.py without one)."""
    return pytest.mark.forbid(*READY_MADE, within=function)


pytestmark = pytest.mark.exercise("losses")

EXAMPLES = 5  # per property: enough to find each classic mistake, small enough to stay fast
DTYPES = st.sampled_from([torch.float32, torch.float64])
MEAN_HINT = ("reduction='mean' averages over ALL elements: add up and divide by input.numel() "
             "(or use .mean()), do not just add up")


def tol(dtype: torch.dtype, scale: float = 1.0) -> dict:
    """Tolerances for comparing with torch, growing with the values' magnitude."""
    if dtype == torch.float64:
        return {"rtol": 1e-10, "atol": 1e-10 + 1e-14 * scale}
    return {"rtol": 1e-5, "atol": 1e-5 + 1e-6 * scale}


@st.composite
def pairs(draw, bound: float = 1e3):
    """Two float tensors of one shape (1 to 3 dims), values negative and large included."""
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    dtype = draw(DTYPES)
    n = 1
    for s in shape:
        n *= s
    values = st.lists(st.floats(-bound, bound, allow_nan=False, width=32), min_size=n, max_size=n)
    x = torch.tensor(draw(values), dtype=dtype).reshape(shape)
    y = torch.tensor(draw(values), dtype=dtype).reshape(shape)
    return x, y


@st.composite
def classification(draw, bound: float = 20.0):
    """Logits (N, C) and int64 class indices (N,), N >= 1, C >= 2."""
    n = draw(st.integers(1, 4))
    c = draw(st.integers(2, 4))
    dtype = draw(DTYPES)
    values = draw(st.lists(st.floats(-bound, bound, allow_nan=False, width=32),
                           min_size=n * c, max_size=n * c))
    target = draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n))
    return (torch.tensor(values, dtype=dtype).reshape(n, c),
            torch.tensor(target, dtype=torch.int64))


ONE_NUMBER_HINT = ("a loss is ONE number: a 0-dim tensor (shape ()) with the input's dtype. .mean() "
                   "of the whole tensor gives that; a Python float, .item() or .float() do not")


def check_loss(got: torch.Tensor, want: torch.Tensor, scale: float, hint: str,
               what: str | None = None) -> None:
    if isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype:
        expect.tensor(got, want, what=what, **tol(want.dtype, scale), hint=hint)
    else:
        expect.tensor(got, want, what=what, hint=ONE_NUMBER_HINT)


def check_grad(res: dict, call: str, x: torch.Tensor, want: torch.Tensor, scale: float,
               hint: str) -> None:
    out = res["output"]
    expect.true(out.shape == () and out.dtype == x.dtype,
                f"{call} came back with shape {tuple(out.shape)} and dtype "
                f"{str(out.dtype).replace('torch.', '')}; expected shape () and dtype "
                f"{str(x.dtype).replace('torch.', '')}, like the input.", hint=ONE_NUMBER_HINT)
    expect.true(res["connected"],
                f"The loss {call} returned is not connected to its input, so loss.backward() "
                "cannot compute any gradient.",
                hint="build the loss from torch operations on the input; .item(), float() or "
                     "torch.tensor(number) cut the graph")
    expect.tensor(res["grads"][0], want, what=f"the input's .grad after {call}.backward()",
                  **tol(want.dtype, scale), hint=hint)


def call_text(name: str, *args: torch.Tensor) -> str:
    """``losses.<name>(<args>)`` as the student would write it, for messages about vjp results."""
    return f"losses.{name}(" + ", ".join(repr(a) for a in args) + ")"


def torch_grad(loss, x: torch.Tensor, *rest) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    loss(x, *rest).backward()
    return x.grad


def kink_accepted(got, want: torch.Tensor, kink: torch.Tensor, bound: float) -> torch.Tensor:
    """``want``, except where ``kink``: there |x| has no slope, and any value in
    [-bound, bound] (its subgradient) is as right as torch's 0, so the student's own counts."""
    if not (isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype):
        return want
    inside = got.abs() <= bound * (1 + 1e-6)
    return torch.where(kink & inside, got, want)


# --------------------------------------------------------------- lesson examples

LESSON_INPUTS = torch.tensor([1, 2, 3], dtype=torch.float32).reshape(1, 1, 1, 3)
LESSON_TARGETS = torch.tensor([1, 2, 5], dtype=torch.float32).reshape(1, 1, 1, 3)


@no_ready_made("l1_loss")
@pytest.mark.points(1)
def test_lesson_l1(student):
    """l1_loss(inputs, targets) is 0.6667 for the lesson's [1, 2, 3] vs [1, 2, 5]"""
    got = student.losses.l1_loss(LESSON_INPUTS, LESSON_TARGETS)
    expect.tensor(got, torch.tensor(2 / 3), rtol=1e-4,
                  hint="the errors are |0|, |0|, |-2|: their sum is 2, their mean 2/3 = 0.6667")


@no_ready_made("mse_loss")
@pytest.mark.points(1)
def test_lesson_mse(student):
    """mse_loss(inputs, targets) is 1.3333 for the lesson's [1, 2, 3] vs [1, 2, 5]"""
    got = student.losses.mse_loss(LESSON_INPUTS, LESSON_TARGETS)
    expect.tensor(got, torch.tensor(4 / 3), rtol=1e-4,
                  hint="the squared errors are 0, 0, 4: their mean is 4/3 = 1.3333")


@no_ready_made("cross_entropy")
@pytest.mark.points(1)
def test_lesson_cross_entropy(student):
    """cross_entropy([[0.1, 0.2, 0.3]], [1]) is 1.1019"""
    got = student.losses.cross_entropy(torch.tensor([[0.1, 0.2, 0.3]]), torch.tensor([1]))
    expect.tensor(got, torch.tensor(1.1019), rtol=1e-4,
                  hint="-x[1] + log(exp(0.1) + exp(0.2) + exp(0.3)) = -0.2 + 1.3019 = 1.1019")


# --------------------------------------------------------------- L1 and MSE

@no_ready_made("l1_loss")
@pytest.mark.points(2)
@settings(max_examples=EXAMPLES, report_multiple_bugs=False)
@given(data=pairs())
def test_l1_values(student, data):
    """l1_loss equals nn.L1Loss() (the mean of |input - target|) for any shape, leaving its inputs unchanged"""
    x, y = data
    check_loss(expect.call_keeping_inputs(student.losses.l1_loss, x, y), F.l1_loss(x, y), float((x - y).abs().max()),
               hint="L1 is the mean of the ABSOLUTE differences |input - target|; " + MEAN_HINT)


@no_ready_made("l1_loss")
@pytest.mark.points(1)
@settings(max_examples=EXAMPLES, report_multiple_bugs=False)
@given(data=pairs())
@example(data=(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 5.0])))   # input == target once
def test_l1_gradient(student, data):
    """l1_loss(input, target).backward() gives input nn.L1Loss()'s gradient (any subgradient where input == target)"""
    x, y = data
    res = inspection.vjp(student.losses.l1_loss, x, y, wrt=[0])
    want = kink_accepted(res["grads"][0], torch_grad(F.l1_loss, x, y), x == y, 1 / x.numel())
    check_grad(res, call_text("l1_loss", x, y), x, want, 1.0,
               hint="the gradient of mean(|input - target|) is sign(input - target) / numel "
                    "(where input == target, any value from -1/numel to 1/numel)")


@no_ready_made("mse_loss")
@pytest.mark.points(2)
@settings(max_examples=EXAMPLES, report_multiple_bugs=False)
@given(data=pairs())
def test_mse_values(student, data):
    """mse_loss equals nn.MSELoss() (the mean of (input - target) ** 2) for any shape, leaving its inputs unchanged"""
    x, y = data
    check_loss(expect.call_keeping_inputs(student.losses.mse_loss, x, y), F.mse_loss(x, y), float((x - y).pow(2).max()),
               hint="MSE squares each difference (no abs, no square root at the end); " + MEAN_HINT)


@no_ready_made("mse_loss")
@pytest.mark.points(1)
@settings(max_examples=EXAMPLES, report_multiple_bugs=False)
@given(data=pairs())
def test_mse_gradient(student, data):
    """mse_loss(input, target).backward() gives input the same gradient as nn.MSELoss()"""
    x, y = data
    res = inspection.vjp(student.losses.mse_loss, x, y, wrt=[0])
    check_grad(res, call_text("mse_loss", x, y), x, torch_grad(F.mse_loss, x, y),
               float((x - y).abs().max()),
               hint="the gradient of mean((input - target) ** 2) is 2 * (input - target) / numel")


# --------------------------------------------------------------- cross-entropy

CE_HINT = ("for each row i take -log(softmax over the classes, dim=1) at column target[i], "
           "then average over the N rows (not over the classes). Pick with "
           "x[torch.arange(N), target]; with one_hot, pass num_classes=C")
GRAD_CE_HINT = "the gradient is (softmax(logits, dim=1) - one_hot(target, C)) / N"


@no_ready_made("cross_entropy")
@pytest.mark.points(4)
@settings(max_examples=EXAMPLES, report_multiple_bugs=False)
@given(data=classification())
def test_cross_entropy_values(student, data):
    """cross_entropy equals nn.CrossEntropyLoss() for (N, C) logits and class indices, leaving them unchanged"""
    x, t = data
    check_loss(expect.call_keeping_inputs(student.losses.cross_entropy, x, t), F.cross_entropy(x, t),
               float(x.abs().max()), hint=CE_HINT)


@no_ready_made("cross_entropy")
@pytest.mark.points(3)
@settings(max_examples=EXAMPLES, report_multiple_bugs=False)
@given(data=classification())
def test_cross_entropy_gradient(student, data):
    """cross_entropy(logits, target).backward() gives the logits the same gradient as torch"""
    x, t = data
    res = inspection.vjp(student.losses.cross_entropy, x, t, wrt=[0])
    check_grad(res, call_text("cross_entropy", x, t), x, torch_grad(F.cross_entropy, x, t), 1.0,
               hint=GRAD_CE_HINT + "; " + CE_HINT)


@st.composite
def huge_logits(draw):
    """Logits near +-1e4 (each row shifted on its own), where exp() overflows."""
    x, t = draw(classification(bound=10.0))
    shifts = draw(st.lists(st.sampled_from([1e4, -1e4, 3e4]), min_size=len(t), max_size=len(t)))
    return x + torch.tensor(shifts, dtype=x.dtype).unsqueeze(1), t


STABLE_HINT = ("exp(10000) is inf, even in float64, so log(softmax(x)) written with exp gives "
               "nan or inf. Subtract each row's own maximum before exp (or use torch.logsumexp / "
               "torch.log_softmax along dim=1)")


HUGE_CASES = [([[1e4, 0.0]], [0]),                                # the answer is 0
              ([[1e4, 0.0]], [1]),                                # the answer is 10000
              ([[-1e4, 1e4, 0.0], [5.0, 1e4, 1e4]], [2, 1])]


@no_ready_made("cross_entropy")
@pytest.mark.points(1)
def test_cross_entropy_huge_logits_lesson(student):
    """cross_entropy stays finite and exact for logits like [[10000., 0.]] (target 0 and 1, and a batch)"""
    for logits, target in HUGE_CASES:
        x, t = torch.tensor(logits), torch.tensor(target)
        got = student.losses.cross_entropy(x, t)
        expect.finite(got, hint=STABLE_HINT)
        check_loss(got, F.cross_entropy(x, t), 3e4, hint=CE_HINT)


@no_ready_made("cross_entropy")
@pytest.mark.points(2)
@settings(max_examples=EXAMPLES, report_multiple_bugs=False)
@given(data=huge_logits())
def test_cross_entropy_huge_logits(student, data):
    """cross_entropy and its gradient stay finite and correct for logits of magnitude 1e4"""
    x, t = data
    res = inspection.vjp(student.losses.cross_entropy, x, t, wrt=[0])
    call = call_text("cross_entropy", x, t)
    expect.finite(res["output"], what=call, hint=STABLE_HINT)
    check_loss(res["output"], F.cross_entropy(x, t), 3e4, hint=CE_HINT, what=call)
    if res["connected"] and res["grads"][0] is not None:
        expect.finite(res["grads"][0], what=f"the logits' .grad after {call}.backward()",
                      hint=STABLE_HINT)
    # Even a stable float32 formula is off by about one rounding step of 1e4 here.
    check_grad(res, call, x, torch_grad(F.cross_entropy, x, t), 3e4, hint=GRAD_CE_HINT)


# --------------------------------------------------------------- by hand

@no_ready_made()
@pytest.mark.points(1)
def test_written_by_hand(student):
    """the losses give the lesson's values without torch's ready-made losses (F.cross_entropy, nn.MSELoss, ...)"""
    # Written by hand counts only for functions that work: each must give its lesson value.
    lesson_calls = [("l1_loss", (LESSON_INPUTS, LESSON_TARGETS), 2 / 3),
                    ("mse_loss", (LESSON_INPUTS, LESSON_TARGETS), 4 / 3),
                    ("cross_entropy", (torch.tensor([[0.1, 0.2, 0.3]]), torch.tensor([1])), 1.1019)]
    for name, args, want in lesson_calls:
        expect.tensor(getattr(student.losses, name)(*args), torch.tensor(want), rtol=1e-4,
                      hint=f"{name} must give the lesson's value first: see the lesson tests")
    # The forbid marker reads all of losses.py, and what it imports, before this test runs.
