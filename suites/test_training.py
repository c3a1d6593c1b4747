"""Grading suite for the training-loop lesson: make_optimizer, train_one_epoch, evaluate, fit.

Everything handed to the student's functions (models, DataLoaders, loss,
optimizer) is built in the student's process from its own torch, with the
same weights and data as the reference's twin built here; the two runs are
then compared parameter by parameter, so a mistake that changes a single
update shows.  When a run differs, the suite replays the typical beginner
mistakes locally (no ``zero_grad``, the model left in eval mode, ``lr``
ignored, a new optimizer every epoch, ...) and names the one that matches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from hypothesis import example, given, settings, strategies as st
from torch import nn

from grader import expect, feedback, inspection, reference
ref = reference("training")

# Building the first optimizer in a fresh process imports torch._dynamo (seconds on a busy machine).
pytestmark = [pytest.mark.exercise("training"), pytest.mark.call_timeout(30)]

# Model recipes, built from either side's torch.nn so that both twins match.
MLP = (("Linear", 3, 5), ("ReLU",), ("Linear", 5, 3))
BN_MLP = (("Linear", 3, 6), ("BatchNorm1d", 6), ("ReLU",), ("Linear", 6, 3))
BN_DROPOUT_MLP = (("Linear", 3, 6), ("BatchNorm1d", 6), ("ReLU",), ("Dropout", 0.5), ("Linear", 6, 3))
N_IN, N_CLASSES = 3, 3

ZERO_GRAD_HINT = "gradients accumulated across batches — is optimizer.zero_grad() called before backward()?"
STEP_ORDER_HINT = ("each batch needs, in this order: optimizer.zero_grad(), outputs = model(inputs), "
                   "loss = loss_fn(outputs, targets), loss.backward(), optimizer.step(). "
                   "zero_grad() between backward() and step() wipes the gradients before step() can use them.")
TRAIN_MODE_HINT = ("call model.train() at the start of train_one_epoch: a model left in eval mode "
                   "(after evaluate, for example) trains with BatchNorm and Dropout switched to their test behaviour.")
EVAL_MODE_HINT = ("call model.eval() before the loop: in train mode BatchNorm uses (and updates) the "
                  "statistics of each batch and Dropout zeroes random activations.")
FLOAT_HINT = "loss.item() (or accuracy.item()) turns a one-element tensor into a Python number."


# --------------------------------------------------------------------------- building twins


def build(tnn, recipe):
    """A Sequential from a recipe, made with ``tnn`` (torch.nn here, student.torch.nn there)."""
    return tnn.Sequential(*[getattr(tnn, kind)(*args) for kind, *args in recipe])


def describe_recipe(recipe) -> str:
    return "Sequential(" + ", ".join(f"{k}({', '.join(map(str, a))})" for k, *a in recipe) + ")"


def twins(student, recipe, seed: int, random_stats: bool = False):
    """The reference model and the student's copy of it, with equal weights and buffers."""
    # The CPU generator only: torch.manual_seed also queues a seed, with a
    # recorded stack, for each accelerator not yet initialised (ms per call).
    torch.default_generator.manual_seed(seed)
    model = build(nn, recipe)
    if random_stats:  # BatchNorm statistics as if it had been trained a while
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    theirs = build(student.torch.nn, recipe)
    theirs.load_state_dict(model.state_dict())
    return model, theirs


def make_data(seed: int, n: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, N_IN, generator=g) * 2
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    return x, y


def loader_on(data, x, y, batch_size: int):
    return data.DataLoader(data.TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def sgd_on(optim, model, lr: float, momentum: float):
    return optim.SGD(model.parameters(), lr=lr, momentum=momentum)


# The loss functions and optimizers handed to train_one_epoch, as (class name, keyword arguments):
# varied so that a loop which builds its own instead of using what it is given shows.
CE = ("CrossEntropyLoss", {})
LOSSES = (CE, ("CrossEntropyLoss", {"label_smoothing": 0.2}), ("MultiMarginLoss", {}))
OPTIMIZERS = ("SGD", "Adam")


def loss_on(tnn, spec):
    """The loss ``spec`` made with ``tnn`` (torch.nn here, student.torch.nn there)."""
    name, kwargs = spec
    return getattr(tnn, name)(**kwargs)


def optimizer_on(optim, model, name: str, lr: float, momentum: float):
    """SGD(lr, momentum) or Adam(lr) over ``model``'s parameters, made with ``optim``."""
    if name == "SGD":
        return sgd_on(optim, model, lr, momentum)
    return optim.Adam(model.parameters(), lr=lr)


def describe_loss(spec) -> str:
    name, kwargs = spec
    return f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"


def as_number(value):
    """A returned one-element tensor counts for the value checks (its type is checked apart)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        return float(value)
    return value


def states_equal(a: dict, b: dict, rtol=1e-5, atol=1e-6) -> bool:
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and torch.allclose(a[k].double(), b[k].double(), rtol=rtol, atol=atol)
        for k in a)


def clone_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def expect_state(got: dict, want: dict, call: str, hint: str | None = None, rtol=1e-5, atol=1e-6) -> None:
    expect.true(isinstance(got, dict) and got.keys() == want.keys(),
                f"after {call}, model.state_dict() has keys {list(got)}, expected {list(want)}.")
    for name in want:
        expect.tensor(got[name], want[name], what=f"after {call}, model.state_dict()['{name}']",
                      rtol=rtol, atol=atol, hint=hint)


# --------------------------------------------------------------------------- local replays of mistakes


def replay_epoch(model, x, y, batch_size, optimizer, zero="before", train_mode=True, loss=CE) -> list[float]:
    """One epoch the way a beginner might write it; returns the batch losses."""
    if train_mode:
        model.train()
    losses = []
    loss_fn = loss_on(nn, loss)
    for inputs, targets in zip(x.split(batch_size), y.split(batch_size)):
        if zero == "before":
            optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        if zero == "between":
            optimizer.zero_grad()
        optimizer.step()
        losses.append(loss.item())
    return losses


def replay(start, recipe, x, y, batch_size, lr, momentum=0.9, epochs=1, zero="before", train_mode=True,
           fresh_optimizer=False, eval_first=False, loss=CE, optimizer="SGD") -> tuple[list[float], dict]:
    """Train a reference twin from ``start`` with one mistake switched on; (epoch losses, final state)."""
    model = build(nn, recipe)
    model.load_state_dict(start)
    if eval_first:
        model.eval()
    opt = optimizer_on(torch.optim, model, optimizer, lr, momentum)
    losses = []
    for _ in range(epochs):
        if fresh_optimizer:
            opt = optimizer_on(torch.optim, model, optimizer, lr, momentum)
        batch = replay_epoch(model, x, y, batch_size, opt, zero=zero, train_mode=train_mode, loss=loss)
        losses.append(sum(batch) / len(batch))
    return losses, clone_state(model)


# (what to switch on in replay, what the student then did, the hint)
NO_ZERO_GRAD = ({"zero": "never"}, "optimizer.zero_grad() is never called", ZERO_GRAD_HINT)
ZERO_GRAD_BETWEEN = ({"zero": "between"}, "zero_grad() comes between backward() and step()", STEP_ORDER_HINT)
NO_TRAIN_MODE = ({"train_mode": False}, "the model stays in eval mode", TRAIN_MODE_HINT)
FIT_LR_IGNORED = ({"lr": 0.01}, "fit ignored its lr argument and trained with lr=0.01",
                  "pass lr on: optimizer = make_optimizer(model, lr).")
LOSS_FN_IGNORED = ({"loss": CE}, "train_one_epoch used nn.CrossEntropyLoss() instead of the loss_fn it was given",
                   "compute each batch's loss with the loss_fn argument: loss = loss_fn(outputs, targets).")
FIT_FRESH_OPTIMIZER = ({"fresh_optimizer": True},
                       "fit makes a new optimizer every epoch, so SGD's momentum restarts from zero",
                       "create the optimizer once, before the loop over epochs.")


def diagnose(state: dict, start: dict, call: str, mistakes, recipe=MLP, **run) -> None:
    """Fail naming the first beginner's mistake whose replay ends with the student's weights."""
    if states_equal(state, start, rtol=0, atol=0):
        expect.fail(f"after {call}, the weights did not change at all: optimizer.step() never "
                    f"updated them.\nHint: {STEP_ORDER_HINT}")
    for switch, what, hint in mistakes:
        _, replayed = replay(start, recipe, **dict(run, **switch))
        if states_equal(state, replayed):
            expect.fail(f"after {call}, the weights are not the reference's: they are what you get "
                        f"when {what}.\nHint: {hint}")


# --------------------------------------------------------------------------- strategies


@st.composite
def batches(draw, max_batch=4, max_batches=4, min_batch=1):
    """(seed, n, batch_size): n samples, the last batch possibly smaller (never below min_batch)."""
    batch_size = draw(st.integers(min_batch, max_batch))
    full = draw(st.integers(0, max_batches - 1))
    last = draw(st.integers(min_batch, batch_size))
    return {"seed": draw(st.integers(0, 1000)), "n": full * batch_size + last, "batch_size": batch_size}


def case_text(case: dict, recipe=MLP, **extra) -> str:
    parts = [f"model {describe_recipe(recipe)}",
             f"{case['n']} sample{'s' * (case['n'] != 1)} in batches of {case['batch_size']} (shuffle=False)"]
    parts += [f"{k}={v}" for k, v in extra.items()]
    return ", ".join(parts)


# =========================================================================== make_optimizer


def their_optimizer(student, model, **kwargs):
    """The student's make_optimizer(model, **kwargs), which must be a torch.optim.SGD."""
    opt = student.training.make_optimizer(model, **kwargs)
    call = "make_optimizer(model" + "".join(f", {k}={v!r}" for k, v in kwargs.items()) + ")"
    expect.true(inspection.is_instance(opt, torch.optim.SGD),
                f"{call} returned {inspection.type_name(opt) if opt is not None else 'None'}, "
                "expected a torch.optim.SGD.",
                hint="the lesson's optimizer is torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9); "
                     "return it.")
    return opt


@pytest.mark.points(2)
@settings(report_multiple_bugs=False, max_examples=2)
@given(lr=st.floats(1e-4, 1.0))
def test_make_optimizer_is_sgd_with_momentum(student, lr):
    """make_optimizer(model, lr) is torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)"""
    model, theirs = twins(student, MLP, 0)
    opt = their_optimizer(student, theirs, lr=lr)
    call = f"make_optimizer(model, lr={lr!r})"
    expect_state(theirs.state_dict(), model.state_dict(), call,
                 hint="making an optimizer does not change the model: hand it model.parameters(), nothing more.")
    groups = opt.param_groups
    expect.true(isinstance(groups, list) and len(groups) == 1,
                f"{call}: the optimizer has {len(groups)} parameter groups, expected 1 "
                "(pass model.parameters() once).")
    g = groups[0]
    want = ref.make_optimizer(model, lr=lr).param_groups[0]
    for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov"):
        expect.true(key in g and g[key] == want[key],
                    f"{call}: the optimizer's {key} is {g.get(key)!r}, expected {want[key]!r}.",
                    hint="pass lr=lr and momentum=0.9 to torch.optim.SGD, and no other options.")
    params = [p for p in theirs.parameters()]
    expect.true(len(g["params"]) == len(params)
                and all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(g["params"], params)),
                f"{call}: the optimizer holds {len(g['params'])} tensors, but the model has "
                f"{len(params)} parameters.",
                hint="give the optimizer every parameter of the model: model.parameters().")


@pytest.mark.points(1)
def test_make_optimizer_default_lr(student):
    """make_optimizer(model) uses lr=0.01 when lr is not given"""
    _, theirs = twins(student, MLP, 0)
    g = their_optimizer(student, theirs).param_groups[0]
    expect.true(g.get("lr") == 0.01 and g.get("momentum") == 0.9,
                f"make_optimizer(model) made an optimizer with lr={g.get('lr')!r}, "
                f"momentum={g.get('momentum')!r}; expected lr=0.01, momentum=0.9.",
                hint="the default is in the signature: def make_optimizer(model, lr=0.01).")


@pytest.mark.points(1)
@settings(report_multiple_bugs=False, max_examples=2)
@given(seed=st.integers(0, 1000), lr=st.sampled_from([0.01, 0.1, 0.5]))
def test_make_optimizer_updates_the_model(student, seed, lr):
    """optimizer.step() after backward() updates the model's own parameters (twice, with momentum)"""
    model, theirs = twins(student, MLP, seed)
    x, _ = make_data(seed, 4)
    opt = their_optimizer(student, theirs, lr=lr)
    mine = ref.make_optimizer(model, lr=lr)
    for _ in range(2):
        inspection.vjp(theirs, x)   # fills every parameter's .grad in their process
        opt.step()
        inspection.vjp(model, x)
        mine.step()
    expect_state(theirs.state_dict(), model.state_dict(),
                 f"make_optimizer(model, lr={lr}) and two rounds of backward() + step()",
                 hint="build the optimizer from this model's parameters: "
                      "torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9).")


# =========================================================================== train_one_epoch


@dataclass
class Epoch:
    """One call of train_one_epoch on each twin."""
    got: object        # what the student's train_one_epoch returned
    state: dict        # the student's weights afterwards
    want: float        # what the reference returned
    model: nn.Module   # the reference twin, trained
    start: dict        # the weights both twins started from
    x: torch.Tensor
    y: torch.Tensor
    loader: object     # the student's DataLoader, in the worker


def run_epoch(student, case, lr, momentum, recipe=MLP, eval_first=False, loss=CE, optimizer="SGD") -> Epoch:
    """Run train_one_epoch on both twins, each handed its own loss_fn and optimizer."""
    model, theirs = twins(student, recipe, case["seed"])
    x, y = make_data(case["seed"], case["n"])
    if eval_first:
        model.eval()
        theirs.eval()
    start = clone_state(model)
    t = student.torch
    loader = loader_on(t.utils.data, x, y, case["batch_size"])
    got = student.training.train_one_epoch(theirs, loader, loss_on(t.nn, loss),
                                           optimizer_on(t.optim, theirs, optimizer, lr, momentum))
    want = ref.train_one_epoch(model, loader_on(torch.utils.data, x, y, case["batch_size"]), loss_on(nn, loss),
                               optimizer_on(torch.optim, model, optimizer, lr, momentum))
    return Epoch(got, theirs.state_dict(), want, model, start, x, y, loader)


def expect_data_kept(loader, x: torch.Tensor, y: torch.Tensor, call: str) -> None:
    """The tensors behind the loader are the caller's data: training and evaluating only read them."""
    kept = loader.dataset.tensors
    hint = "read the batches, never change them in place (inputs /= 255 or inputs.sub_(...) change the data set)"
    for got, want, name in zip(kept, (x, y), ("inputs", "targets")):
        expect.tensor(got, want, rtol=0, atol=0, what=f"after {call}, the loader's {name}", hint=hint)


@pytest.mark.points(1)
def test_train_one_epoch_returns_a_float(student):
    """train_one_epoch returns the mean loss as a Python float"""
    case = {"seed": 1, "n": 6, "batch_size": 3}
    r = run_epoch(student, case, 0.1, 0.9)
    expect.close(as_number(r.got), r.want, what=f"train_one_epoch on {case_text(case, lr=0.1, momentum=0.9)}",
                 hint="return the mean of the batch losses: add up loss.item() for each batch, divide by "
                      "the number of batches.")
    expect.true(type(r.got) is float,
                f"train_one_epoch(...) returned {r.got!r} ({type(r.got).__name__}), expected a Python float.",
                hint=FLOAT_HINT + " Add up loss.item() for each batch.")


@pytest.mark.points(3)
@settings(report_multiple_bugs=False, max_examples=2)
@given(case=batches(), lr=st.sampled_from([0.05, 0.1, 0.5]), momentum=st.sampled_from([0.0, 0.9]),
       loss=st.sampled_from(LOSSES), optimizer=st.sampled_from(OPTIMIZERS))
@example(case={"seed": 4, "n": 5, "batch_size": 2}, lr=0.1, momentum=0.9, loss=LOSSES[2], optimizer="Adam")
def test_train_one_epoch_updates_like_the_reference(student, case, lr, momentum, loss, optimizer):
    """one epoch of zero_grad / forward / loss_fn / backward / step with the given loss_fn and optimizer"""
    r = run_epoch(student, case, lr, momentum, loss=loss, optimizer=optimizer)
    settings_text = {"lr": lr, "momentum": momentum} if optimizer == "SGD" else {"lr": lr}
    call = (f"train_one_epoch on {case_text(case)}, loss_fn={describe_loss(loss)}, "
            f"optimizer={optimizer}({', '.join(f'{k}={v}' for k, v in settings_text.items())})")
    want = r.model.state_dict()
    if not states_equal(r.state, want):
        mistakes = [NO_ZERO_GRAD, ZERO_GRAD_BETWEEN] + ([LOSS_FN_IGNORED] if loss != CE else [])
        diagnose(r.state, r.start, call, mistakes, x=r.x, y=r.y, batch_size=case["batch_size"], lr=lr,
                 momentum=momentum, loss=loss, optimizer=optimizer)
        expect_state(r.state, want, call, hint=STEP_ORDER_HINT)
    expect_data_kept(r.loader, r.x, r.y, call)


@pytest.mark.points(2)
@settings(report_multiple_bugs=False, max_examples=2)
@given(case=batches(max_batch=5), loss=st.sampled_from(LOSSES))
@example(case={"seed": 3, "n": 7, "batch_size": 3}, loss=LOSSES[1])
def test_train_one_epoch_returns_mean_batch_loss(student, case, loss):
    """train_one_epoch returns the mean of the batch losses of the loss_fn it is given (checked with lr=0)"""
    r = run_epoch(student, case, 0.0, 0.0, loss=loss)
    got, want, x, y = as_number(r.got), r.want, r.x, r.y
    call = f"train_one_epoch on {case_text(case, lr=0.0)}, loss_fn={describe_loss(loss)}"
    losses = batch_losses(_fixed(r.start), x, y, case["batch_size"], loss)
    if type(got) in (int, float) and not math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-6):
        k = len(losses)
        for wrong, what in ((losses[-1], "the loss of the last batch only"),
                            (sum(losses), "the sum of the batch losses"),
                            (sum(losses) / case["n"], "the sum of the batch losses divided by the number of samples"),
                            (losses[0], "the loss of the first batch only")):
            if k > 1 and math.isclose(got, wrong, rel_tol=1e-5, abs_tol=1e-6):
                expect.fail(f"{call} returned {got!r}, which is {what}; expected the mean of the "
                            f"{k} batch losses {[round(v, 4) for v in losses]}, {want!r}.\n"
                            "Hint: add up loss.item() for every batch, then divide by the number of batches.")
    expect.close(got, want, what=call, rtol=1e-5,
                 hint=f"the batch losses were {[round(v, 4) for v in losses]}: return their mean "
                      "(sum of loss.item() over batches / number of batches).")


def _fixed(state):
    """A reference MLP with the weights ``state``."""
    model = build(nn, MLP)
    model.load_state_dict(state)
    return model


def batch_losses(model, x, y, batch_size, loss=CE) -> list[float]:
    """Each batch's loss for a model that does not change (lr=0)."""
    with torch.no_grad():
        return [loss_on(nn, loss)(model(a), b).item() for a, b in zip(x.split(batch_size), y.split(batch_size))]


@pytest.mark.points(2)
@settings(report_multiple_bugs=False, max_examples=2)
@given(case=batches(max_batch=4, max_batches=3, min_batch=2), lr=st.sampled_from([0.1, 0.5]))
def test_train_one_epoch_sets_train_mode(student, case, lr):
    """train_one_epoch puts the model in train mode (BatchNorm then uses and updates batch statistics)"""
    r = run_epoch(student, case, lr, 0.9, recipe=BN_MLP, eval_first=True)
    state, model, start, x, y = r.state, r.model, r.start, r.x, r.y
    if states_equal(state, model.state_dict()):
        return
    call = f"train_one_epoch on a model in eval mode, {case_text(case, BN_MLP, lr=lr)}"
    stats = [k for k in start if "running" in k]
    if all(torch.equal(state[k], start[k]) for k in stats):
        expect.fail(f"after {call}, the BatchNorm running statistics did not change: the model "
                    f"was still in eval mode while training.\nHint: {TRAIN_MODE_HINT}")
    diagnose(state, start, call, [NO_ZERO_GRAD, ZERO_GRAD_BETWEEN, NO_TRAIN_MODE], recipe=BN_MLP,
             x=x, y=y, batch_size=case["batch_size"], lr=lr, eval_first=True)
    expect_state(state, model.state_dict(), call, hint=TRAIN_MODE_HINT)


@pytest.mark.points(1)
def test_train_one_epoch_lesson_example(student):
    """lesson example: Linear(2, 2), two batches, SGD(lr=0.1, momentum=0.9)"""
    t = student.torch
    x = torch.tensor([[1.0, 2.0], [0.5, -1.0], [-1.0, 0.0], [2.0, 1.0]])
    y = torch.tensor([0, 1, 1, 0])
    recipe = (("Linear", 2, 2),)
    model = build(nn, recipe)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.1, -0.2], [0.3, 0.4]]))
        model[0].bias.copy_(torch.tensor([0.0, 0.1]))
    start = clone_state(model)
    theirs = build(t.nn, recipe)
    theirs.load_state_dict(start)
    got = student.training.train_one_epoch(theirs, loader_on(t.utils.data, x, y, 2), t.nn.CrossEntropyLoss(),
                                           sgd_on(t.optim, theirs, 0.1, 0.9))
    want = ref.train_one_epoch(model, loader_on(torch.utils.data, x, y, 2), nn.CrossEntropyLoss(),
                               sgd_on(torch.optim, model, 0.1, 0.9))
    call = "train_one_epoch(Linear(2, 2), 4 samples in batches of 2, CrossEntropyLoss(), SGD(lr=0.1, momentum=0.9))"
    state = theirs.state_dict()
    if not states_equal(state, model.state_dict()):
        diagnose(state, start, call, [NO_ZERO_GRAD, ZERO_GRAD_BETWEEN], recipe=recipe,
                 x=x, y=y, batch_size=2, lr=0.1, momentum=0.9)
    expect_state(state, model.state_dict(), call, hint=STEP_ORDER_HINT)
    expect.close(as_number(got), want, what=call, hint="return the mean of the two batch losses.")


# =========================================================================== evaluate


def graph_probe(student):
    """Count the tensors autograd saves for backward while it is armed.

    Autograd saves tensors (and so calls saved-tensor hooks) only while it is
    recording a graph; under ``torch.no_grad()`` or ``torch.inference_mode()``
    nothing is saved.  The hooks are a deque's ``append`` in the student's
    process, so the count is read with ``len``.
    """
    box = student.collections.deque()
    append = student.builtins.getattr(box, "append")
    hooks = student.torch.autograd.graph.saved_tensors_hooks(append, append)
    return box, student.builtins.getattr(hooks, "__enter__"), student.builtins.getattr(hooks, "__exit__")


def run_evaluate(student, case, recipe=MLP, random_stats=False):
    model, theirs = twins(student, recipe, case["seed"], random_stats=random_stats)
    x, y = make_data(case["seed"] + 1, case["n"])
    start = clone_state(model)
    loader = loader_on(student.torch.utils.data, x, y, case["batch_size"])
    got = student.training.evaluate(theirs, loader)
    want = ref.evaluate(model, loader_on(torch.utils.data, x, y, case["batch_size"]))
    return got, want, theirs, start, (x, y), loader


def batch_accuracies(model, x, y, batch_size):
    with torch.no_grad():
        model.eval()
        return [(model(a).argmax(1) == b).float().mean().item() for a, b in zip(x.split(batch_size), y.split(batch_size))]


@pytest.mark.points(1)
def test_evaluate_returns_a_float(student):
    """evaluate returns the accuracy as a Python float"""
    case = {"seed": 3, "n": 7, "batch_size": 3}
    got, want, *_ = run_evaluate(student, case)
    expect.close(as_number(got), want, what=f"evaluate on {case_text(case)}", rtol=1e-6, atol=1e-9,
                 hint="accuracy = number of correct predictions / number of samples.")
    expect.true(type(got) is float,
                f"evaluate(...) returned {got!r} ({type(got).__name__}), expected a Python float in [0, 1].",
                hint=FLOAT_HINT)


@pytest.mark.points(2)
@settings(report_multiple_bugs=False, max_examples=2)
@given(case=batches(max_batch=5))
def test_evaluate_accuracy(student, case):
    """evaluate returns (correct predictions) / (number of samples), over every batch"""
    got, want, _, start, (x, y), loader = run_evaluate(student, case)
    got = as_number(got)
    call = f"evaluate on {case_text(case)}"
    expect_data_kept(loader, x, y, call)
    if type(got) in (int, float) and not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
        correct = round(want * case["n"])
        accs = batch_accuracies(_fixed(start), x, y, case["batch_size"])
        nb = len(accs)
        for wrong, what, hint in (
            (correct, "the number of correct predictions",
             "divide the number of correct predictions by the number of samples."),
            (sum(accs) / nb, "the mean of the per-batch accuracies",
             "the last batch can be smaller: add up the correct predictions of all batches and divide by "
             "the total number of samples, not by the number of batches."),
            (correct / (nb * case["batch_size"]), f"correct / (number of batches × batch_size) = {correct}/{nb * case['batch_size']}",
             "the last batch can be smaller: divide by the number of samples, len(loader.dataset)."),
            (correct / nb, "correct predictions / number of batches",
             "divide by the number of samples, len(loader.dataset), not by the number of batches."),
        ):
            if math.isclose(got, wrong, rel_tol=1e-6, abs_tol=1e-9):
                expect.fail(f"{call} returned {got!r}, which is {what}; expected {correct}/{case['n']} = {want!r}."
                            f"\nHint: {hint}")
    expect.close(got, want, what=call, rtol=1e-6, atol=1e-9,
                 hint="accuracy = (outputs.argmax(1) == targets).sum() over all batches / number of samples.")


@pytest.mark.points(2)
@settings(report_multiple_bugs=False, max_examples=2)
@given(case=batches(max_batch=5, max_batches=3, min_batch=2))  # BatchNorm in train mode needs 2 per batch
def test_evaluate_uses_eval_mode(student, case):
    """evaluate puts the model in eval mode: BatchNorm uses its running statistics, Dropout is off"""
    got, want, theirs, start, *_ = run_evaluate(student, case, BN_DROPOUT_MLP, random_stats=True)
    call = f"evaluate on a model in train mode, {case_text(case, BN_DROPOUT_MLP)}"
    state = theirs.state_dict()
    changed = [k for k in start if not torch.equal(state[k], start[k])]
    expect.true(not changed,
                f"after {call}, model.state_dict() changed ({', '.join(changed)}): evaluating must not "
                "change the model, but a BatchNorm in train mode updates its running statistics.",
                hint=EVAL_MODE_HINT)
    expect.close(as_number(got), want, what=call, rtol=1e-6, atol=1e-9, hint=EVAL_MODE_HINT)


@pytest.mark.points(2)
@settings(report_multiple_bugs=False, max_examples=2)
@given(case=batches(max_batch=4, max_batches=3))
def test_evaluate_builds_no_graph(student, case):
    """evaluate runs the model, and gets its accuracy, without building an autograd graph (torch.no_grad())"""
    model, theirs = twins(student, MLP, case["seed"])
    x, y = make_data(case["seed"], case["n"])
    loader = loader_on(student.torch.utils.data, x, y, case["batch_size"])
    saved, arm, disarm = graph_probe(student)
    arm()
    try:
        got = student.training.evaluate(theirs, loader)
    finally:
        disarm(None, None, None)
    want = ref.evaluate(model, loader_on(torch.utils.data, x, y, case["batch_size"]))
    expect.close(as_number(got), want, what=f"evaluate on {case_text(case)}", rtol=1e-6, atol=1e-9,
                 hint="run the model on every batch and count its correct predictions.")
    count = len(saved)
    expect.true(count == 0,
                f"evaluate on {case_text(case)} built an autograd graph: autograd kept {count} tensors "
                "for a backward() that evaluation never calls.",
                hint="wrap the evaluation loop in `with torch.no_grad():` — it saves memory and time.")
    grads = [n for n, p in theirs.named_parameters() if p.grad is not None]
    expect.true(not grads, f"after evaluate, the parameters {grads} have gradients: evaluation must not "
                           "call backward().", hint="evaluate only runs the model and counts correct predictions.")


@pytest.mark.points(1)
def test_evaluate_lesson_example(student):
    """lesson example: outputs [[0.1, 0.2], [0.05, 0.4]], targets [0, 1] -> accuracy 0.5 (and [1, 1] -> 1.0)"""
    t = student.torch
    x = torch.tensor([[0.1, 0.2], [0.05, 0.4]])
    for targets, want, why in (([0, 1], 0.5, "[False, True]: 1 correct out of 2 samples"),
                               ([1, 1], 1.0, "[True, True]: 2 correct out of 2 samples")):
        got = student.training.evaluate(t.nn.Identity(), loader_on(t.utils.data, x, torch.tensor(targets), 2))
        expect.close(as_number(got), want,
                     what=f"evaluate(nn.Identity(), loader of outputs [[0.1, 0.2], [0.05, 0.4]], targets {targets})",
                     hint=f"outputs.argmax(1) is [1, 1]; compared with targets {targets} that is {why}.")


# =========================================================================== fit


def run_fit(student, case, epochs, lr):
    model, theirs = twins(student, MLP, case["seed"])
    x, y = make_data(case["seed"], case["n"])
    start = clone_state(model)
    loader = loader_on(student.torch.utils.data, x, y, case["batch_size"])
    got = student.training.fit(theirs, loader, epochs, lr=lr)
    want = ref.fit(model, loader_on(torch.utils.data, x, y, case["batch_size"]), epochs, lr=lr)
    return got, want, theirs.state_dict(), model.state_dict(), start, (x, y), loader


@pytest.mark.points(1)
def test_fit_returns_list_of_floats(student):
    """fit returns a list with one Python float per epoch: the epoch's mean loss"""
    case = {"seed": 2, "n": 6, "batch_size": 2}
    got, want, *_ = run_fit(student, case, 3, 0.1)
    call = f"fit on {case_text(case, epochs=3, lr=0.1)}"
    expect.true(isinstance(got, list) and len(got) == 3, f"{call} returned {got!r}, expected a list of 3 losses.",
                hint="return a list with what train_one_epoch returned for each epoch.")
    for i, (a, b) in enumerate(zip(got, want)):
        expect.close(as_number(a), b, what=f"{call}, epoch {i + 1}'s loss",
                     hint="fit returns what train_one_epoch returns for each epoch.")
    expect.true(all(type(v) is float for v in got),
                f"fit(model, loader, 3, lr=0.1) returned {got!r}, expected a list of 3 Python floats "
                "(the mean loss of each epoch).",
                hint="collect what train_one_epoch returns for each epoch in a list; "
                     "train_one_epoch returns a float (add up loss.item(), not the loss tensors).")


@pytest.mark.points(3)
@settings(report_multiple_bugs=False, max_examples=2)
@given(case=batches(max_batch=3, max_batches=3), epochs=st.integers(1, 3),
       lr=st.sampled_from([0.05, 0.2, 0.5]))
def test_fit_matches_reference(student, case, epochs, lr):
    """fit = make_optimizer once + `epochs` × train_one_epoch with CrossEntropyLoss"""
    got, want, state, want_state, start, (x, y), loader = run_fit(student, case, epochs, lr)
    call = f"fit on {case_text(case, epochs=epochs, lr=lr)}"
    expect_data_kept(loader, x, y, call)
    expect.true(isinstance(got, list) and len(got) == epochs,
                f"{call} returned {got!r}, expected a list of {epochs} losses, one per epoch.")
    got = [as_number(v) for v in got]
    good = all(type(a) in (int, float) and math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
               for a, b in zip(got, want))
    if good and states_equal(state, want_state):
        return
    diagnose(state, start, call, [FIT_LR_IGNORED, FIT_FRESH_OPTIMIZER, NO_ZERO_GRAD, ZERO_GRAD_BETWEEN],
             x=x, y=y, batch_size=case["batch_size"], lr=lr, epochs=epochs)
    hint = ("fit = optimizer = make_optimizer(model, lr), then train_one_epoch(model, loader, "
            "nn.CrossEntropyLoss(), optimizer) once per epoch; fit returns what train_one_epoch returns.")
    expect_state(state, want_state, call, hint=hint)
    for i, (a, b) in enumerate(zip(got, want)):
        expect.close(a, b, what=f"{call}, epoch {i + 1}'s loss", hint=hint)


def data_loss(state: dict, x: torch.Tensor, y: torch.Tensor) -> float:
    """The cross-entropy of a reference MLP with the weights ``state`` on the whole data set."""
    with torch.no_grad():
        return nn.CrossEntropyLoss()(_fixed(state)(x), y).item()


@pytest.mark.points(2)
def test_fit_loss_goes_down(student):
    """fit trains the model: its loss on learnable data goes down, and so do the (finite, >= 0) losses it reports"""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, N_IN, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.8).long()   # classes a linear model can separate
    model, theirs = twins(student, MLP, 0)
    start = clone_state(model)
    got = student.training.fit(theirs, loader_on(student.torch.utils.data, x, y, 6), 8, lr=0.1)
    got = [as_number(v) for v in got] if isinstance(got, list) else got
    call = "fit(model, loader of 24 learnable samples in batches of 6, epochs=8, lr=0.1)"
    want = ref.fit(model, loader_on(torch.utils.data, x, y, 6), 8, lr=0.1)
    if isinstance(got, list) and got and all(type(v) in (int, float) for v in got):
        # The student's feedback plots both (when their fit ran and returned numbers).
        feedback.curve("fit: the mean loss of each epoch (same data and seed)", yours=got, reference=want)
    # Judged from the model itself: its weights, read back, and their loss on the data.
    before, after = data_loss(start, x, y), data_loss(theirs.state_dict(), x, y)
    expect.true(after < 0.8 * before,
                f"after {call}, the model's loss on the training data went from {before:.4f} to {after:.4f}: "
                f"fit did not train it (the reference's model goes down to {data_loss(model.state_dict(), x, y):.4f}).",
                hint="every batch needs zero_grad(), forward, loss, backward() and step(); "
                     "the optimizer must hold the model's parameters.")
    expect.true(isinstance(got, list) and len(got) == 8
                and all(type(v) in (int, float) and math.isfinite(v) and v >= 0 for v in got),
                f"{call} returned {got!r}, expected a list of 8 losses, each a finite number >= 0.",
                hint="return the mean loss of each epoch, as train_one_epoch computes it.")
    expect.true(got[-1] < 0.8 * got[0],
                f"{call}: the losses fit returned did not go down (first epoch {got[0]:.4f}, last epoch "
                f"{got[-1]:.4f}; the reference's go from {want[0]:.4f} down to {want[-1]:.4f}).",
                hint="return, for each epoch, what train_one_epoch returned.")


# =========================================================================== GPU lane
# Worth no points: the CPU tests hold every point, so the maximum is the same with CUDA and
# without; where CUDA is present these still run and explain what goes wrong on the GPU.


def _cuda_twins(student, recipe, seed):
    model, theirs = twins(student, recipe, seed)
    theirs = theirs.to("cuda")
    return model, theirs


@pytest.mark.gpu
@pytest.mark.points(0)
@pytest.mark.call_timeout(120)
def test_train_one_epoch_on_cuda(student):
    """train_one_epoch(..., device="cuda") moves each batch to the GPU and matches the CPU run"""
    case = {"seed": 5, "n": 10, "batch_size": 4}
    model, theirs = _cuda_twins(student, MLP, case["seed"])
    x, y = make_data(case["seed"], case["n"])
    t = student.torch
    got = student.training.train_one_epoch(
        theirs, loader_on(t.utils.data, x, y, 4), t.nn.CrossEntropyLoss(), sgd_on(t.optim, theirs, 0.1, 0.9),
        device="cuda")
    want = ref.train_one_epoch(model, loader_on(torch.utils.data, x, y, 4), nn.CrossEntropyLoss(),
                               sgd_on(torch.optim, model, 0.1, 0.9))
    call = 'train_one_epoch(model on the GPU, loader of CPU tensors, ..., device="cuda")'
    hint = "move each batch to the device: inputs, targets = inputs.to(device), targets.to(device)."
    expect.close(as_number(got), want, what=call, rtol=1e-4, atol=1e-5, hint=hint)
    expect_state(theirs.state_dict(), model.state_dict(), call, hint=hint, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.points(0)
@pytest.mark.call_timeout(120)
def test_evaluate_on_cuda(student):
    """evaluate(..., device="cuda") matches the CPU accuracy"""
    case = {"seed": 6, "n": 11, "batch_size": 4}
    model, theirs = _cuda_twins(student, MLP, case["seed"])
    x, y = make_data(case["seed"], case["n"])
    got = student.training.evaluate(theirs, loader_on(student.torch.utils.data, x, y, 4), device="cuda")
    want = ref.evaluate(model, loader_on(torch.utils.data, x, y, 4))
    expect.close(as_number(got), want, what='evaluate(model on the GPU, loader of CPU tensors, device="cuda")',
                 rtol=1e-6, atol=1e-9,
                 hint="move each batch to the device: inputs.to(device), targets.to(device).")


@pytest.mark.gpu
@pytest.mark.points(0)
@pytest.mark.call_timeout(120)
def test_fit_on_cuda(student):
    """fit(..., device="cuda") trains on the GPU like on the CPU"""
    case = {"seed": 7, "n": 9, "batch_size": 3}
    model, theirs = _cuda_twins(student, MLP, case["seed"])
    x, y = make_data(case["seed"], case["n"])
    got = student.training.fit(theirs, loader_on(student.torch.utils.data, x, y, 3), 2, lr=0.1, device="cuda")
    want = ref.fit(model, loader_on(torch.utils.data, x, y, 3), 2, lr=0.1)
    call = 'fit(model on the GPU, loader of CPU tensors, 2, lr=0.1, device="cuda")'
    hint = "pass device on to train_one_epoch, which moves each batch there."
    expect.true(isinstance(got, list) and len(got) == 2, f"{call} returned {got!r}, expected 2 losses.", hint=hint)
    for i, (a, b) in enumerate(zip(got, want)):
        expect.close(as_number(a), b, what=f"{call}, epoch {i + 1}'s loss", rtol=1e-4, atol=1e-5, hint=hint)
    expect_state(theirs.state_dict(), model.state_dict(), call, hint=hint, rtol=1e-4, atol=1e-5)
