"""Grading suite for lesson 1: the TuDui module."""
import pytest
import torch
from hypothesis import given, strategies as st

from grader import expect
from solutions import tudui as ref

pytestmark = pytest.mark.exercise("tudui")


@pytest.mark.points(1)
def test_lesson_example(student):
    """TuDui()(tensor(1.0)) is tensor(2.)"""
    model = student.tudui.TuDui()
    expect.tensor(model(torch.tensor(1.0)), torch.tensor(2.0))


@pytest.mark.points(2)
@given(shape=st.lists(st.integers(0, 4), max_size=4),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.int64, torch.int32]))
def test_adds_one(student, shape, dtype):
    """forward(x) adds one, keeping shape and dtype"""
    x = (torch.randn(shape) * 10).to(dtype)
    model = student.tudui.TuDui()
    expect.tensor(model(x), ref.TuDui()(x))
