"""grader release (stubs from the marked reference, the kit, the recorded oracle) and grader check."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, read_results, run_grader
from grader.stubs import MarkerError, make_stub

KITMINI = ROOT / "tests" / "fixtures" / "kitmini"
CANARY = "31337"


# --------------------------------------------------------------------------- visible suites


def test_a_hidden_test_and_the_values_only_it_used_are_left_out_of_the_kit():
    from grader.kit import visible_suite

    source = (KITMINI / "suites" / "test_basics.py").read_text()
    text = visible_suite(source, {"test_double_hidden_case"}, "test_basics.py")
    assert "test_double_hidden_case" not in text and "HIDDEN" not in text and CANARY not in text
    assert "def test_double_example" in text and "ref = reference" in text
    compile(text, "test_basics.py", "exec")


# --------------------------------------------------------------------------- the oracle


def _recorded(tmp_path, real, questions):
    """Ask ``questions(ref)`` of the real module while recording, then of the record alone."""
    from grader import oracle

    folder, tape = tmp_path / "records", tmp_path / oracle.ORACLE_FILE
    first = questions(oracle.Oracle("module", None, [], real, oracle._Recorder(folder)))
    kept, dropped = oracle.merge(folder, tape)
    assert kept and not dropped
    second = questions(oracle.Oracle("module", None, [], None, oracle._Tape(tape)))
    return first, second


def test_the_oracle_replays_calls_objects_and_their_effects_without_the_reference(tmp_path):
    import types

    import torch

    real = types.SimpleNamespace(
        double=lambda x: x * 2,
        make=lambda: torch.nn.Linear(2, 1),  # consumes torch's random numbers
        train=lambda model, lr=0.1: [p.data.sub_(lr) for p in model.parameters()] and 1.5,
    )

    def questions(ref):
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        out = ref.double(torch.arange(3.0))
        net = ref.make()
        weights = net.state_dict()
        y = net(torch.ones(1, 2))
        loss = ref.train(model, lr=0.5)
        after = torch.randn(1)  # the random state moved on as the reference's call moved it
        return out, weights, y, loss, model.state_dict(), after

    first, second = _recorded(tmp_path, real, questions)
    for a, b in zip(first, second, strict=True):
        if isinstance(a, dict):
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        elif isinstance(a, torch.Tensor):
            assert torch.equal(a.detach(), b)
        else:
            assert a == b


def test_a_question_never_recorded_is_checked_only_when_graded(tmp_path):
    import types

    import torch

    from grader import oracle

    real = types.SimpleNamespace(double=lambda x: x * 2)
    _recorded(tmp_path, real, lambda ref: ref.double(torch.ones(2)))
    replay = oracle.Oracle("module", None, [], None, oracle._Tape(tmp_path / oracle.ORACLE_FILE))
    with pytest.raises(pytest.skip.Exception, match=oracle.CHECKED_WHEN_GRADED):
        replay.double(torch.ones(3))


def test_signatures_are_recorded_as_plain_data(tmp_path):
    import inspect
    import types

    def loader(root: str, train: bool = False, batch_size: int = 64):
        return None

    first, second = _recorded(tmp_path, types.SimpleNamespace(loader=loader),
                              lambda ref: inspect.signature(ref.loader))
    assert str(first) == str(second) and second.parameters["batch_size"].default == 64


# --------------------------------------------------------------------------- the kit, end to end


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "kit"
    proc = run_grader(["release", "--out", out, "--assignment", KITMINI, "-j", "2"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A student's copy, away from the repository.
    student = tmp_path_factory.mktemp("student") / "kit"
    shutil.copytree(out, student)
    return student


@pytest.fixture(scope="module")
def laptop(tmp_path_factory):
    """Run grader as a student would: the engine installed alone (a copy of the package), the
    repository, its solutions/ and suites/ nowhere on the path."""
    engine = tmp_path_factory.mktemp("site-packages")
    shutil.copytree(ROOT / "grader", engine / "grader", ignore=shutil.ignore_patterns("__pycache__"))

    def student(args, cwd):
        return run_grader(args, cwd=cwd, env={"PYTHONPATH": str(engine)})

    return student


@pytest.mark.slow
def test_the_kit_holds_stubs_notebook_visible_tests_and_no_solution_or_hidden_test(kit):
    import nbformat

    assert sorted(p.name for p in kit.iterdir()) == [
        "README.md", "course.ipynb", "exercises", "grader.toml", "requirements.txt", "suites"]
    assert (kit / "exercises" / "basics.py").read_text() == make_stub((KITMINI / "solutions" / "basics.py").read_text())
    cells = nbformat.read(kit / "course.ipynb", as_version=4).cells
    assert [c.source.splitlines()[0] for c in cells if c.cell_type == "code"] == ["# exercise: basics"]
    for path in kit.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (b"solutions", b"test_double_hidden_case", b"HIDDEN", CANARY.encode(),
                           b"math.sqrt", b"_squares"):
                assert secret not in data, (path, secret)


@pytest.mark.slow
def test_check_passes_the_reference_fails_the_stubs_and_agrees_with_grader_run(kit, laptop, tmp_path):
    reference = shutil.copytree(KITMINI / "solutions", tmp_path / "mine")
    done = laptop(["check", reference, "--kit", kit], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "visible tests: 4/4 passed; hidden tests: 1" in done.stdout
    stubs = laptop(["check"], cwd=kit)
    assert stubs.returncode == 1 and "What to fix first: basics: double(tensor([1., 2.]))" in stubs.stdout
    mutant = KITMINI / "tests" / "mutants" / "basics"
    sub = tmp_path / "triple"
    sub.mkdir()
    shutil.copyfile(mutant / "wrong_triple.py", sub / "basics.py")
    checked = laptop(["check", sub, "--kit", kit, "--format", "json"], cwd=tmp_path)
    assert checked.returncode == 1, checked.stderr
    got = json.loads(checked.stdout)["tests"]
    graded = run_grader(["run", sub, "--out", tmp_path / "out", "--assignment", KITMINI])
    assert graded.returncode == 0, graded.stderr
    want = [t for t in read_results(tmp_path / "out", "triple")["tests"] if t["visibility"] == "visible"]
    assert [(t["name"], t["status"], t["score"]) for t in got] == [(t["name"], t["status"], t["score"]) for t in want]
    assert [t["output"] for t in got] == [t["output"] for t in want]
    notebook = laptop(["check", "course.ipynb"], cwd=kit)
    assert notebook.returncode == 1 and "0/4 passed" in notebook.stdout, notebook.stdout + notebook.stderr


@pytest.mark.slow
def test_release_refuses_a_reference_that_loses_a_point_and_writes_nothing(tmp_path):
    broken = tmp_path / "assignment"
    shutil.copytree(KITMINI, broken)
    path = broken / "solutions" / "basics.py"
    path.write_text(path.read_text().replace("return x * 2", "return x * 2 + 1"))
    out = tmp_path / "kit"
    proc = run_grader(["release", "--out", out, "--assignment", broken, "--no-mutants"])
    assert proc.returncode == 3 and "the reference loses points" in proc.stderr, proc.stderr
    assert not out.exists()
