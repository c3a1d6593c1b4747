"""The same question asked of the reference's object (here) and the student's
(in its worker) gets the same plain-data answer (`grader.inspection`)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from grader import inspection
from grader.expect import StudentError

STUDENT = """
import torch
from torch import nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 8, 5, padding=2), nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(8 * 16 * 16, 10)
        )

    def forward(self, x):
        return self.model(x)


class Module:  # only the name of torch's
    pass


def square_sum(x):
    return (x * x).sum()


def weighted(x, w):
    return (x * w).sum()


def affine(x, *, b):
    return 2 * x + b


def copied(x):
    return torch.tensor(x.tolist()) * 2


def total(x):
    return x.sum().item()


def conv(x, w):
    return F.conv2d(x, w)


def other(x):
    return x
"""


def reference_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 5, padding=2), nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(8 * 16 * 16, 10)
    )


def same(a: dict, b: dict) -> bool:
    """Two vjp answers agree: the same keys, tensors equal, None where None."""
    def eq(x, y):
        if isinstance(x, torch.Tensor):
            return isinstance(y, torch.Tensor) and torch.allclose(x, y)
        if isinstance(x, (list, tuple)):
            return len(x) == len(y) and all(eq(p, q) for p, q in zip(x, y))
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(eq(x[k], y[k]) for k in x)
        return x == y
    return eq(a, b)


# ---------------------------------------------------------------- types


def test_a_types_name_and_ancestry_are_the_same_on_both_sides(inline_student):
    student = inline_student(STUDENT)
    theirs = inspection.type_info(student.torch.nn.Conv2d(1, 1, 1))
    assert theirs == inspection.type_info(nn.Conv2d(1, 1, 1))
    assert theirs["name"] == "torch.nn.modules.conv.Conv2d"
    assert theirs["mro"][-2:] == ["torch.nn.modules.module.Module", "builtins.object"]


def test_the_short_type_name_is_the_class_name(inline_student):
    student = inline_student(STUDENT)
    assert inspection.type_name(student.mod.Net()) == "Net"
    assert inspection.type_name(nn.MaxPool2d(2)) == "MaxPool2d"
    assert inspection.type_name(3) == "int"


def test_is_instance_works_across_the_process_boundary(inline_student):
    student = inline_student(STUDENT)
    net = student.mod.Net()
    assert inspection.is_instance(net, nn.Module)
    assert not inspection.is_instance(net, nn.Linear)
    assert inspection.is_instance(student.torch.nn.Linear(2, 3), nn.Linear)
    assert inspection.is_instance(reference_net(), nn.Module) and not inspection.is_instance(3, nn.Module)


def test_a_class_that_only_borrows_a_torch_name_is_not_that_class(inline_student):
    student = inline_student(STUDENT)
    assert not inspection.is_instance(student.mod.Module(), nn.Module)


# ---------------------------------------------------------------- structure


def test_a_models_structure_is_the_same_whichever_side_built_it(inline_student):
    student = inline_student(STUDENT)
    assert inspection.structure(student.mod.Net().model) == inspection.structure(reference_net())


def test_the_structure_names_each_layers_type_hyperparameters_and_parameter_shapes():
    tree = inspection.structure(reference_net())
    assert (tree["type"], tree["num_params"], tree["training"]) == ("torch.nn.modules.container.Sequential",
                                                                     8 * 3 * 5 * 5 + 8 + 2048 * 10 + 10, True)
    conv, pool, flatten, linear = tree["children"]
    assert [c["name"] for c in tree["children"]] == ["0", "1", "2", "3"]
    assert conv["config"]["kernel_size"] == (5, 5) and conv["config"]["padding"] == (2, 2)
    assert conv["config"]["bias"] is True
    assert conv["params"] == {"weight": (8, 3, 5, 5), "bias": (8,)}
    assert pool["config"]["ceil_mode"] is True and pool["params"] == {}
    assert linear["config"]["in_features"] == 2048 and linear["config"]["out_features"] == 10


def test_the_structure_shows_whether_a_model_is_in_training_mode(inline_student):
    student = inline_student(STUDENT)
    net = student.mod.Net()
    net.eval()
    tree = inspection.structure(net)
    assert tree["training"] is False and tree["children"][0]["training"] is False


# ---------------------------------------------------------------- gradients


def test_gradients_are_the_same_whichever_side_computes_them(inline_student):
    student = inline_student(STUDENT)
    x = torch.tensor([1.0, -2.0, 3.0])
    theirs = inspection.vjp(student.mod.square_sum, x)
    assert same(theirs, inspection.vjp(lambda t: (t * t).sum(), x))
    assert theirs["connected"] and torch.equal(theirs["grads"][0], 2 * x)
    assert torch.equal(theirs["output"], torch.tensor(14.0))
    assert x.grad is None and not x.requires_grad  # the caller's tensor is left alone


def test_wrt_picks_the_arguments_that_receive_gradients(inline_student):
    student = inline_student(STUDENT)
    x, w = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    got = inspection.vjp(student.mod.weighted, x, w, wrt=[1])
    assert len(got["grads"]) == 1 and torch.equal(got["grads"][0], x)
    both = inspection.vjp(student.mod.weighted, x, w)
    assert torch.equal(both["grads"][0], w) and torch.equal(both["grads"][1], x)


def test_grad_output_is_what_flows_back_and_keyword_tensors_get_gradients(inline_student):
    student = inline_student(STUDENT)
    g = torch.tensor([0.5, -1.0])
    got = inspection.vjp(student.mod.affine, torch.zeros(2), grad_output=g, b=torch.ones(2))
    assert torch.equal(got["grads"][0], 2 * g)
    assert list(got["kwarg_grads"]) == ["b"] and torch.equal(got["kwarg_grads"]["b"], g)


def test_an_output_rebuilt_from_plain_numbers_is_not_connected(inline_student):
    student = inline_student(STUDENT)
    got = inspection.vjp(student.mod.copied, torch.tensor([1.0, 2.0]))
    assert got["connected"] is False and got["grads"] == [None]
    assert torch.equal(got["output"], torch.tensor([2.0, 4.0]))


def test_a_modules_parameter_gradients_come_back_by_name(inline_student):
    student = inline_student(STUDENT)
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    got = inspection.vjp(student.torch.nn.Linear(2, 1), x)
    assert list(got["param_grads"]) == ["weight", "bias"]
    assert torch.equal(got["param_grads"]["weight"], torch.tensor([[9.0, 12.0]]))
    assert torch.equal(got["param_grads"]["bias"], torch.tensor([3.0]))


def test_an_answer_that_is_not_a_tensor_cannot_be_differentiated(inline_student):
    student = inline_student(STUDENT)
    with pytest.raises(StudentError) as info:
        inspection.vjp(student.mod.total, torch.tensor([1.0, 2.0]))
    assert str(info.value).startswith(
        "gradients of mod.total(tensor([1., 2.])) raised TypeError: expected a tensor back, got float")
    with pytest.raises(TypeError, match="expected a tensor back, got float"):
        inspection.vjp(lambda t: t.sum().item(), torch.tensor([1.0]))


# ---------------------------------------------------------------- reading the source


def test_source_is_the_text_of_the_students_module(inline_student):
    inline_student(STUDENT)
    assert inspection.source("mod") == STUDENT
    assert inspection.source("missing") == ""


def test_reading_the_source_needs_the_student_fixture():
    with pytest.raises(RuntimeError, match="needs the student fixture"):
        inspection.source("mod")
    with pytest.raises(RuntimeError, match="needs the student fixture"):
        inspection.forbidden_uses("mod", ["torch.nn.functional.conv2d"])


@pytest.mark.parametrize(("src", "found"), [
    ("import torch.nn.functional as F\ny = F.conv2d(x, w)", ["conv2d"]),
    ("from torch.nn.functional import conv2d as c\n", ["conv2d"]),
    ("y = torch.conv2d(x, w)", ["conv2d"]),
    ("f = getattr(F, 'conv2d')", ["conv2d"]),
    ("y = conv2d(x) + max_pool2d(y)", ["conv2d", "max_pool2d"]),
    ("y = x.unfold(2, 3, 1)  # conv2d by hand", []),
    ("def f(:\n    conv2d", []),
])
def test_names_used_finds_a_name_however_it_is_written(src, found):
    assert inspection.names_used(src, ["max_pool2d", "conv2d"]) == found


def test_forbidden_uses_say_where_within_the_function_named(inline_student):
    inline_student(STUDENT)
    names = ["torch.nn.functional.conv2d"]
    assert inspection.forbidden_uses("mod", names, within="other") == []
    (found,) = inspection.forbidden_uses("mod", names, within="conv")
    assert found.startswith("mod.py, line 43:") and found.endswith("(torch.nn.functional.conv2d)")
    assert inspection.forbidden_uses("mod", names) == [found]
