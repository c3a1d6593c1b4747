"""Grading suite for the nn.Sequential lesson: a small MLP and the CIFAR-10 network.

The reference networks are the oracles.  Layers are compared one by one
(type and hyperparameters, via ``inspection.structure``) so a message can name
the first wrong layer; values are compared after copying the reference's
weights into the student's network by position, so a Sequential whose layers
have names (an OrderedDict) is graded like one whose layers are numbered.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from grader import expect, inspection, reference
ref = reference("sequential")

pytestmark = pytest.mark.exercise("sequential")

CIFAR_PARAMS = 145_578
CIFAR_LAYERS_TEXT = ("Conv2d(3, 32, 5, padding=2), MaxPool2d(2), Conv2d(32, 32, 5, padding=2), MaxPool2d(2), "
                     "Conv2d(32, 64, 5, padding=2), MaxPool2d(2), Flatten(), Linear(1024, 64), Linear(64, 10)")
MLP_LAYERS_TEXT = "Linear(10, 5), ReLU(), Linear(5, 2)"
SIZE_STORY = ("A 5x5 Conv2d with padding=2 keeps the size (32 + 2*2 - 4 = 32), each MaxPool2d(2) halves it "
              "(32 -> 16 -> 8 -> 4), so after MaxPool2d(2) three times the output is 64 x 4 x 4 and "
              "Flatten() gives 64*4*4 = 1024 numbers per image: the first Linear needs 1024 inputs")

# Why a layer of the lesson's network is what it is, by its type.
CIFAR_WHY = {
    "Conv2d": "a 5x5 kernel needs padding=2 to keep the picture's size (32 + 2*2 - (5-1) = 32); "
              "the channels go 3 -> 32 -> 32 -> 64",
    "MaxPool2d": "MaxPool2d(2) halves height and width: 32 -> 16 -> 8 -> 4",
    "Flatten": "Flatten() belongs inside model1, after the last MaxPool2d: it turns (N, 64, 4, 4) into (N, 1024) "
               "so the Linear layers can take it",
    "Linear": "the output after MaxPool2d(2) three times is 4x4 with 64 channels, so the first Linear needs "
              "64*4*4 = 1024 inputs; the last one gives 10 scores, one per CIFAR-10 class",
}
MLP_WHY = {
    "Linear": "Linear(in_features, out_features): 10 numbers in, 5 hidden, 2 out; "
              "the second Linear takes the 5 outputs of the first",
    "ReLU": "the ReLU sits between the two Linear layers",
}
CRASH_HINT = ("'mat1 and mat2 shapes cannot be multiplied' means a Linear got the wrong number of inputs. "
              + SIZE_STORY)


# --------------------------------------------------------------------------- layers, described

def _norm(value):
    """``(5, 5)`` and ``5`` configure a layer the same way; compare them as equal."""
    if isinstance(value, (tuple, list)):
        value = tuple(value)
        if value and all(v == value[0] for v in value):
            return value[0]
    return value


# Settings that change how a layer computes, not what: ReLU(inplace=True) gives the same outputs
# and gradients inside a Sequential, whose layers each get a tensor of their own.
NOT_WHAT = {"inplace"}


def layer_key(layer: dict) -> tuple:
    """What makes two layers equal: their type and hyperparameters (``padding='same'`` counts as
    the padding it stands for)."""
    config = {k: _norm(v) for k, v in layer["config"].items() if k not in NOT_WHAT}
    if config.get("padding") == "same" and isinstance(config.get("kernel_size"), int):
        config["padding"] = config.get("dilation", 1) * (config["kernel_size"] - 1) // 2
    return layer["type"], tuple(sorted(config.items()))


def render(layer: dict) -> str:
    """A layer as the lesson writes it: ``Conv2d(3, 32, kernel_size=5, padding=2)``."""
    name = layer["type"].rsplit(".", 1)[-1]
    c = {k: _norm(v) for k, v in layer["config"].items()}
    if name == "Conv2d":
        parts = [str(c.get("in_channels")), str(c.get("out_channels")), f"kernel_size={c.get('kernel_size')}"]
        defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"}
    elif name == "Linear":
        parts = [str(c.get("in_features")), str(c.get("out_features"))]
        defaults = {"bias": True}
    elif name == "MaxPool2d":
        parts = [str(c.get("kernel_size"))]
        defaults = {"stride": c.get("kernel_size"), "padding": 0, "dilation": 1, "ceil_mode": False,
                    "return_indices": False}
    else:
        parts = []
        defaults = {"start_dim": 1, "end_dim": -1, "inplace": False}
    parts += [f"{k}={v!r}" for k, v in c.items() if k in defaults and defaults[k] != v]
    parts += [f"{k}={v!r}" for k, v in c.items() if k not in defaults and name not in ("Conv2d", "Linear",
                                                                                         "MaxPool2d")]
    return f"{name}({', '.join(parts)})"


def check_layers(student_seq, reference_seq: nn.Module, label: str, expected_text: str,
                 why: dict[str, str]) -> None:
    """``student_seq`` must be an nn.Sequential with the reference's layers, in order.
    Fails on the first difference, saying which layer it is and what it should be."""
    expect.true(inspection.is_instance(student_seq, nn.Sequential),
                f"{label} is a {inspection.type_name(student_seq)}, expected an nn.Sequential.",
                hint=f"{label} = nn.Sequential({expected_text})")
    got = inspection.structure(student_seq)["children"]
    want = inspection.structure(reference_seq)["children"]
    hint_all = f"{label} holds exactly these layers, in this order: {expected_text}"
    for i, w in enumerate(want):
        where = f"layer {i + 1} of {label} ({label}[{i}])"
        if i >= len(got):
            expect.fail(f"{label} has only {len(got)} layers: {where} should be {render(w)}.\n"
                        f"Hint: {why.get(render(w).split('(')[0], '')}. {hint_all}")
        if layer_key(got[i]) != layer_key(w):
            because = why.get(render(w).split("(")[0], "")
            expect.fail(f"{where} is {render(got[i])}, expected {render(w)}.\nHint: {because}. {hint_all}")
    if len(got) > len(want):
        extra = ", ".join(render(g) for g in got[len(want):])
        expect.fail(f"{label} has {len(got)} layers, expected {len(want)}: after {render(want[-1])} "
                    f"it also has {extra}.\nHint: {hint_all}")


# --------------------------------------------------------------------------- weights

def copy_reference_weights(student_net, reference_net: nn.Module, label: str) -> None:
    """Load the reference's weights into the student's network, matching them by position
    (so layer names do not matter), after checking that the shapes agree."""
    theirs = student_net.state_dict()
    ours = list(reference_net.state_dict().values())
    names = list(theirs)
    shapes = [tuple(t.shape) for t in theirs.values()]
    want = [tuple(t.shape) for t in ours]
    if shapes != want:
        detail = next((f"{names[i]} has shape {shapes[i]}, expected {want[i]}"
                       for i in range(min(len(shapes), len(want))) if shapes[i] != want[i]),
                      f"it has {len(shapes)} weight and bias tensors, expected {len(want)}")
        expect.fail(f"{label}'s weights do not have the lesson's shapes, so the reference's trained "
                    f"weights cannot be loaded into it: {detail}.")
    student_net.load_state_dict(dict(zip(names, ours)))


def run_cifar(net, x: torch.Tensor):
    """``net(x)``, failing if it changes x, with the lesson's size story added when the forward pass crashes."""
    try:
        return expect.call_keeping_inputs(net, x)
    except expect.StudentError as exc:
        expect.fail(f"{exc}\nHint: {CRASH_HINT}")


def check_cifar_outputs(student, x: torch.Tensor, hint: str) -> None:
    """The student's CIFAR10Net, given the reference's weights, gives the reference's scores for x:
    (N, 10), float32, value by value.  The shape alone is no behaviour: one Linear(3072, 10) has it."""
    n = x.shape[0]
    net, mine = student.sequential.CIFAR10Net(), ref.CIFAR10Net()
    copy_reference_weights(net, mine, "CIFAR10Net()")
    with torch.no_grad():
        want = mine(x)
    out = run_cifar(net, x)
    what = f"CIFAR10Net()(x) for x of shape {tuple(x.shape)} (with the reference's weights)"
    expect.true(isinstance(out, torch.Tensor) and tuple(out.shape) == (n, 10),
                f"{what} returned "
                f"{'shape ' + str(tuple(out.shape)) if isinstance(out, torch.Tensor) else type(out).__name__}, "
                f"expected shape ({n}, 10): one row of 10 class scores per image.", hint=SIZE_STORY)
    expect.tensor(out, want, rtol=1e-4, atol=1e-5, what=what, hint=hint)


def param_grads_in_order(result: dict) -> list:
    return list(result["param_grads"].items())


def check_gradients(net, mine: nn.Module, x: torch.Tensor, label: str, crash_hint: str) -> None:
    shape = mine(x).shape
    g = torch.linspace(-1, 1, shape.numel()).reshape(shape)
    try:
        got = inspection.vjp(net, x, grad_output=g)
    except expect.StudentError as exc:
        expect.fail(f"{exc}\nHint: {crash_hint}")
    want = inspection.vjp(mine, x, grad_output=g)
    expect.true(got["connected"], f"the output of {label} is not connected to its input.",
                hint="build forward from the layers only; .detach(), torch.tensor(...) or .item() cut the graph")
    theirs, ours = param_grads_in_order(got), param_grads_in_order(want)
    for (name, grad), (_, ref_grad) in zip(theirs, ours):
        expect.true(grad is not None, f"after backward(), {label}.{name} has no gradient (its .grad is None).",
                    hint="every layer must be used in forward, and nothing may be detached")
        expect.tensor(grad, ref_grad, rtol=1e-4, atol=1e-5, what=f"the gradient of {label}.{name}",
                      hint="same weights, same input, so the same gradients: check the layers' order")


# --------------------------------------------------------------------------- make_mlp

@pytest.mark.points(2)
def test_mlp_layers(student):
    """make_mlp() is nn.Sequential(Linear(10, 5), ReLU(), Linear(5, 2))"""
    check_layers(student.sequential.make_mlp(), ref.make_mlp(), "make_mlp()", MLP_LAYERS_TEXT, MLP_WHY)


@pytest.mark.points(2)
@settings(max_examples=3, report_multiple_bugs=False)
@given(n=st.integers(1, 6), scale=st.sampled_from([1.0, 10.0, 0.1]), seed=st.integers(0, 2**16))
def test_mlp_forward(student, n, scale, seed):
    """make_mlp()(x) maps (N, 10) to (N, 2) like the reference, given the same weights, leaving x unchanged"""
    x = torch.randn(n, 10, generator=torch.Generator().manual_seed(seed)) * scale
    net, mine = student.sequential.make_mlp(), ref.make_mlp()
    copy_reference_weights(net, mine, "make_mlp()")
    with torch.no_grad():
        want = mine(x)
    expect.tensor(expect.call_keeping_inputs(net, x), want, rtol=1e-5, atol=1e-6,
                  what=f"make_mlp()(x) for x of shape {tuple(x.shape)} (with the reference's weights)",
                  hint=f"the layers run in order: {MLP_LAYERS_TEXT}; the ReLU sits between the two Linear layers")


@pytest.mark.points(1)
def test_mlp_gradients(student):
    """gradients reach every weight and bias of make_mlp()"""
    x = torch.randn(4, 10)
    net, mine = student.sequential.make_mlp(), ref.make_mlp()
    copy_reference_weights(net, mine, "make_mlp()")
    check_gradients(net, mine, x, "make_mlp()", f"make_mlp() is {MLP_LAYERS_TEXT}, for inputs of shape (N, 10)")


# --------------------------------------------------------------------------- CIFAR10Net

@pytest.mark.points(1)
@pytest.mark.call_timeout(30)
def test_cifar_lesson_example(student):
    """CIFAR10Net()(torch.ones((64, 3, 32, 32))) gives the reference's (64, 10) scores, as in the lesson"""
    check_cifar_outputs(student, torch.ones(64, 3, 32, 32),
                        hint=f"model1 runs these layers in this order: {CIFAR_LAYERS_TEXT}")


@pytest.mark.points(3)
def test_cifar_layers(student):
    """CIFAR10Net().model1 is the lesson's nn.Sequential, layer by layer"""
    net = student.sequential.CIFAR10Net()
    check_layers(net.model1, ref.CIFAR10Net().model1, "model1", CIFAR_LAYERS_TEXT, CIFAR_WHY)


@pytest.mark.points(1)
def test_cifar_num_params(student):
    """CIFAR10Net has 145,578 parameters"""
    n = inspection.structure(student.sequential.CIFAR10Net())["num_params"]
    expect.true(n == CIFAR_PARAMS,
                f"CIFAR10Net() has {n:,} parameters, expected {CIFAR_PARAMS:,}: "
                "2,432 + 25,632 + 51,264 for the three Conv2d layers (in_channels*out_channels*5*5 weights "
                "+ out_channels biases), 65,600 for Linear(1024, 64) and 650 for Linear(64, 10).",
                hint=SIZE_STORY)


@pytest.mark.points(1)
def test_cifar_single_image(student):
    """CIFAR10Net gives the reference's scores also for a single image, x of shape (1, 3, 32, 32)"""
    check_cifar_outputs(student, torch.rand(1, 3, 32, 32) * 2 - 1,
                        hint="Flatten() keeps the batch dimension N; x.view(-1), x.squeeze() or torch.flatten(x) "
                             "without start_dim=1 lose it (or mix the images together)")


@pytest.mark.points(4)
@settings(max_examples=2, report_multiple_bugs=False)
@given(n=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_cifar_outputs(student, n, seed):
    """CIFAR10Net with the reference's weights maps (N, 3, 32, 32) to its (N, 10) float32 scores, x unchanged"""
    x = torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    check_cifar_outputs(student, x, hint=f"model1 runs these layers in this order, with nothing in between: "
                                         f"{CIFAR_LAYERS_TEXT}")


@pytest.mark.points(2)
def test_cifar_gradients(student):
    """gradients reach every weight and bias of CIFAR10Net"""
    x = torch.rand(2, 3, 32, 32)
    net, mine = student.sequential.CIFAR10Net(), ref.CIFAR10Net()
    copy_reference_weights(net, mine, "CIFAR10Net()")
    check_gradients(net, mine, x, "CIFAR10Net()", CRASH_HINT)
