"""The assertions suites use (`grader.expect`): what passes, what fails, and
the sentence a beginner reads when it fails."""
from __future__ import annotations

import math

import pytest
import torch

from grader import expect
from grader.expect import GradingFailure, StudentError


def failure(check, *args, **kwargs) -> str:
    """The message ``check(*args, **kwargs)`` fails with."""
    with pytest.raises(GradingFailure) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_a_failed_check_is_an_assertion_error_pytest_reports_as_a_failure():
    assert issubclass(GradingFailure, AssertionError)
    assert failure(expect.fail, "conv2d must not call F.conv2d.") == "conv2d must not call F.conv2d."


# ---------------------------------------------------------------- equal


@pytest.mark.parametrize(("actual", "expected"), [
    (3, 3),
    (2.5, 2.5),
    ("relu", "relu"),
    (None, None),
    ([1, (2, 3)], [1, (2, 3)]),
    ({"a": [1.0], "b": 2}, {"a": [1.0], "b": 2}),
    (float("nan"), float("nan")),
    (torch.tensor([1, 2]), torch.tensor([1, 2])),
    ([torch.tensor(1.0), 2], [torch.tensor(1.0), 2]),
])
def test_equal_accepts_the_same_value(actual, expected):
    expect.equal(actual, expected)


@pytest.mark.parametrize(("actual", "expected"), [
    (3.0, 3),  # a float where the exercise wants an int (e.g. an output size)
    (True, 1),
    (1, True),
    ((1, 2), [1, 2]),
    ([1, 2], [1, 2, 3]),
    ({"a": 1}, {"a": 1, "b": 2}),
    (torch.tensor([1, 2]), torch.tensor([1.0, 2.0])),  # same values, other dtype
    (torch.tensor([[1, 2]]), torch.tensor([1, 2])),  # same values, other shape
    ([1, 2], torch.tensor([1, 2])),
    (float("nan"), 1.0),
])
def test_equal_refuses_another_value_or_type(actual, expected):
    failure(expect.equal, actual, expected)


def test_equal_says_what_was_called_what_came_back_and_what_was_expected():
    message = failure(expect.equal, 31.0, 32, what="conv2d_output_size(64, 3, stride=2)",
                      hint="H_out = (H + 2·padding − (kernel − 1) − 1) // stride + 1")
    assert message == ("conv2d_output_size(64, 3, stride=2) returned 31.0, expected 32.\n"
                       "Hint: H_out = (H + 2·padding − (kernel − 1) − 1) // stride + 1")


def test_without_a_student_call_the_message_says_your_code():
    assert failure(expect.equal, [1, 2], [1, 3]) == "your code returned [1, 2], expected [1, 3]."


# ---------------------------------------------------------------- true, close


def test_true_passes_only_for_true():
    expect.true(True, "never shown")
    assert failure(expect.true, False, "TuDui is not an nn.Module.", hint="subclass nn.Module") == (
        "TuDui is not an nn.Module.\nHint: subclass nn.Module")


@pytest.mark.parametrize("truthy", [1, "yes", [0], torch.tensor(True)])
def test_true_does_not_take_a_truthy_value_for_true(truthy):
    assert failure(expect.true, truthy, "not a bool") == "not a bool"


@pytest.mark.parametrize("actual", [1.0, 1.000001, 1, 0.9999995])
def test_close_accepts_a_python_number_within_tolerance(actual):
    expect.close(actual, 1.0)


def test_close_names_what_came_back_and_what_was_expected():
    assert failure(expect.close, 1.5, 1.0, what="l1_loss(x, y)") == "l1_loss(x, y) returned 1.5, expected 1.0."
    expect.close(1.5, 1.0, rtol=0.5)


@pytest.mark.parametrize(("actual", "shown"), [
    (torch.tensor(1.0), "tensor(1.) (Tensor)"),
    (True, "True (bool)"),
    ("1.0", "'1.0' (str)"),
])
def test_close_wants_a_python_number_not_a_tensor_or_a_bool(actual, shown):
    assert failure(expect.close, actual, 1.0, what="accuracy()") == (
        f"accuracy() returned {shown}, expected a Python number close to 1.0.")


# ---------------------------------------------------------------- tensor


def test_tensor_accepts_values_within_tolerance_and_nan_where_nan_is_expected():
    want = torch.tensor([1.0, float("nan"), -3.0])
    expect.tensor(torch.tensor([1.0 + 1e-7, float("nan"), -3.0]), want)
    expect.tensor(torch.tensor([1.1, float("nan"), -3.0]), want, rtol=0.2)
    expect.tensor(torch.ones(2, 3, requires_grad=True) * 1, torch.ones(2, 3))  # part of a graph
    expect.tensor(torch.empty(0, 3), torch.empty(0, 3))


def test_tensor_wants_a_tensor():
    assert failure(expect.tensor, [1.0, 2.0], torch.tensor([1.0, 2.0]), what="relu(x)") == (
        "relu(x) returned [1.0, 2.0] (list), expected a tensor of shape (2,).")


def test_tensor_names_a_wrong_shape_before_anything_else():
    assert failure(expect.tensor, torch.zeros(2, 3), torch.zeros(3, 2, dtype=torch.float64), what="f(x)") == (
        "f(x) returned a tensor of shape (2, 3), expected shape (3, 2).")


def test_tensor_names_a_wrong_dtype_unless_told_not_to_check_it():
    assert failure(expect.tensor, torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 2.0]),
                   what="f(x)") == "f(x) returned dtype float64, expected float32."
    expect.tensor(torch.tensor([1, 2]), torch.tensor([1.0, 2.0]), check_dtype=False)


def test_tensor_names_how_many_values_differ_the_largest_error_and_the_first_place():
    got = torch.tensor([[1.0, 2.5, 3.0], [4.0, 5.0, 7.0]])
    want = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    message = failure(expect.tensor, got, want, what="conv2d(x, w)", hint="slide the kernel one step at a time")
    first, rest = message.split("\n", 1)
    # the first difference in reading order, and the largest error, which is elsewhere
    assert first == ("conv2d(x, w) returned wrong values: 2 of 6 differ; the largest error is 1. "
                     "First difference at index [0, 1]: got 2.5, expected 2.0.")
    assert rest == "Got:\n{}\nExpected:\n{}\nHint: slide the kernel one step at a time".format(
        "tensor([[1.0000, 2.5000, 3.0000],\n            [4.0000, 5.0000, 7.0000]])",
        "tensor([[1., 2., 3.],\n            [4., 5., 6.]])")


def test_a_large_tensors_values_are_not_printed_whole():
    got = torch.zeros(100)
    got[37] = 0.25
    assert failure(expect.tensor, got, torch.zeros(100), what="f(x)") == (
        "f(x) returned wrong values: 1 of 100 differ; the largest error is 0.25. "
        "First difference at index [37]: got 0.25, expected 0.0.")


def test_a_nan_where_a_number_is_expected_is_an_infinite_error():
    message = failure(expect.tensor, torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]), what="f(x)")
    assert message.startswith("f(x) returned wrong values: 1 of 2 differ; the largest error is inf. "
                              "First difference at index [1]: got nan, expected 2.0.")


def test_a_wrong_single_number_such_as_a_loss_is_shown_without_a_count_or_an_index():
    message = failure(expect.tensor, torch.tensor(1.5, requires_grad=True) * 1, torch.tensor(1.0),
                      what="l1_loss(x, y)", hint="the mean, not the sum")
    assert message == "l1_loss(x, y) returned tensor(1.5000), expected tensor(1.); the error is 0.5.\n" \
                      "Hint: the mean, not the sum"
    assert failure(expect.tensor, torch.tensor(math.nan), torch.tensor(1.0), what="l1_loss(x, y)") == (
        "l1_loss(x, y) returned tensor(nan), expected tensor(1.).")


# ---------------------------------------------------------------- finite


def test_finite_accepts_finite_floats_and_any_integer_tensor():
    expect.finite(torch.tensor([0.0, -1e30, 1e30]))
    expect.finite(torch.tensor([1, 2, 3]))


@pytest.mark.parametrize(("bad", "shown"), [(math.inf, "inf"), (-math.inf, "-inf"), (math.nan, "nan")])
def test_finite_names_the_first_value_that_is_not_finite_and_where(bad, shown):
    x = torch.zeros(2, 3)
    x[1, 2] = bad
    x[1, 0] = bad
    assert failure(expect.finite, x, what="sigmoid(x)", hint="use exp(-|x|)") == (
        f"sigmoid(x) returned {shown} at index [1, 0]: the result must be finite.\nHint: use exp(-|x|)")


def test_finite_wants_a_tensor():
    assert failure(expect.finite, 1.0, what="sigmoid(x)") == "sigmoid(x) returned 1.0, expected a tensor."


# ---------------------------------------------------------------- call_keeping_inputs, here


def test_a_call_that_leaves_its_inputs_alone_gives_back_its_result():
    x = torch.tensor([1.0, float("nan")])
    assert torch.equal(expect.call_keeping_inputs(torch.relu, torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))
    assert expect.call_keeping_inputs(lambda t: t.isnan().sum().item(), x) == 1


def test_a_call_that_changes_a_tensor_it_was_handed_fails_showing_before_and_after():
    def shift(x):
        x += 1
        return x

    message = failure(expect.call_keeping_inputs, shift, torch.tensor([1.0, 2.0]))
    assert message == (
        "shift(tensor([1., 2.])) changed its first argument: before the call it was tensor([1., 2.]), "
        "afterwards it is tensor([2., 3.]). It must leave its inputs as they were.\nHint: " + expect.INPUTS_HINT)


def test_a_change_inside_a_list_or_to_a_keyword_argument_is_caught_too():
    def zero_second(a, xs):
        xs[1].zero_()

    def double_bias(x, *, bias):
        bias.mul_(2)

    assert "changed its second argument" in failure(
        expect.call_keeping_inputs, zero_second, 1, [torch.ones(1), torch.ones(1)])
    assert "changed its argument bias=: before the call it was tensor([1.]), afterwards it is tensor([2.])" in (
        failure(expect.call_keeping_inputs, double_bias, torch.zeros(1), bias=torch.ones(1)))


# ---------------------------------------------------------------- student code, in its worker

STUDENT = """
import torch
from torch import nn


def plus_one(x):
    return x + 1


def shift(x):
    x += 1
    return x


def size(n):
    return n // 2


def boom(x):
    raise ValueError("no negative sizes")


class Clamp(nn.Module):
    def forward(self, x):
        return x.clamp_(min=0)
"""


def test_a_failure_names_the_students_last_call(inline_student):
    student = inline_student(STUDENT)
    assert failure(expect.equal, student.mod.size(9), 5) == "mod.size(9) returned 4, expected 5."
    got = student.mod.plus_one(torch.tensor([1.0, 2.0]))
    assert failure(expect.tensor, got, torch.tensor([2.0, 4.0])).startswith(
        "mod.plus_one(tensor([1., 2.])) returned wrong values: 1 of 2 differ")


def test_student_code_that_leaves_its_inputs_alone_passes_and_names_later_failures(inline_student):
    student = inline_student(STUDENT)
    x = torch.tensor([1.0, 2.0])
    got = expect.call_keeping_inputs(student.mod.plus_one, x)
    assert torch.equal(got, torch.tensor([2.0, 3.0]))
    assert failure(expect.tensor, got, torch.tensor([2.0, 4.0])).startswith("mod.plus_one(tensor([1., 2.]))")


def test_student_code_that_changes_its_input_in_its_worker_is_caught(inline_student):
    student = inline_student(STUDENT)
    x = torch.tensor([1.0, 2.0])
    message = failure(expect.call_keeping_inputs, student.mod.shift, x)
    assert message == (
        "mod.shift(tensor([1., 2.])) changed its first argument: before the call it was tensor([1., 2.]), "
        "afterwards it is tensor([2., 3.]). It must leave its inputs as they were.\nHint: " + expect.INPUTS_HINT)
    assert torch.equal(x, torch.tensor([1.0, 2.0]))  # the judge's own tensor never left


def test_a_students_module_that_changes_its_input_is_named_by_how_it_was_built(inline_student):
    student = inline_student(STUDENT)
    message = failure(expect.call_keeping_inputs, student.mod.Clamp(), torch.tensor([-1.0, 2.0]))
    assert message.startswith("mod.Clamp()(tensor([-1.,  2.])) changed its first argument")


def test_an_error_in_student_code_names_the_students_call(inline_student):
    student = inline_student(STUDENT)
    with pytest.raises(StudentError) as info:
        expect.call_keeping_inputs(student.mod.boom, torch.tensor([1.0]))
    assert str(info.value).startswith("mod.boom(tensor([1.])) raised ValueError: no negative sizes")
