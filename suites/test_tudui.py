"""Grading suite for lesson 1: the TuDui module."""
import pytest
import torch
from hypothesis import given, strategies as st
from torch import nn

from grader import expect, inspection, reference
ref = reference("tudui")

pytestmark = pytest.mark.exercise("tudui")


@pytest.mark.points(1)
def test_lesson_example(student):
    """TuDui is an nn.Module and TuDui()(tensor(1.0)) is tensor(2.)"""
    model = student.tudui.TuDui()
    expect.true(inspection.is_instance(model, nn.Module),
                f"TuDui() is a {inspection.type_name(model)}, not an nn.Module.",
                hint="the lesson's model inherits from nn.Module: class TuDui(nn.Module), with "
                     "super().__init__() first in __init__ and the computation in forward(self, x)")
    expect.tensor(model(torch.tensor(1.0)), torch.tensor(2.0))


@pytest.mark.points(2)
@given(shape=st.lists(st.integers(0, 4), max_size=4),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.int64, torch.int32]))
def test_adds_one(student, shape, dtype):
    """forward(x) adds one, keeping shape and dtype, and leaves x itself unchanged"""
    x = (torch.randn(shape) * 10).to(dtype)
    model = student.tudui.TuDui()
    expect.tensor(expect.call_keeping_inputs(model, x), ref.TuDui()(x))
