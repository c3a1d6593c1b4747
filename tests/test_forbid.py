"""``forbid`` holds on the student's whole submission: `grader run` on hostile submissions.

Each hostile submission (tests/forbid_cases.py) reaches a ready-made function
by a route that hides it from a reader of the exercise's file and switches off
the worker's runtime check.  Every test that forbids that function must score
0 with a message naming it; every other test is judged as for the reference;
clean look-alikes keep full marks.  One `grader run` on the four exercises
that forbid something grades them all.
"""
from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest
import torch  # noqa: F401 - the static half looks up what a rebound name was in torch as imported

from conftest import ROOT, read_grades, read_results, run_grader, write_submission
from forbid_cases import CLEAN, HOSTILE
from grader import sourcecheck

EXERCISES = ["conv", "pooling", "activations", "losses"]


def reference_files() -> dict[str, str]:
    """The reference, plus each module again as ``solutions_<module>.py`` for cases to import from."""
    files = {}
    for module in EXERCISES:
        text = (ROOT / "solutions" / f"{module}.py").read_text()
        files[f"{module}.py"] = files[f"solutions_{module}.py"] = text
    return files


def suite_tests(exercise: str) -> dict[str, list]:
    """The suite's tests by title, with their ``forbid`` markers (read from the suite itself)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location(f"_suite_{exercise}", ROOT / "suites" / f"test_{exercise}.py")
    suite = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    spec.loader.exec_module(suite)
    for name in set(sys.modules) - before:  # the course's `solutions`: later tests collect other assignments
        if name == "solutions" or name.startswith("solutions."):
            del sys.modules[name]
    module_marks = getattr(suite, "pytestmark", [])
    module_marks = module_marks if isinstance(module_marks, list) else [module_marks]
    return {f"{exercise}: " + test.__doc__.strip().splitlines()[0].strip():
            [m for m in [*module_marks, *getattr(test, "pytestmark", [])] if m.name == "forbid"]
            for name, test in vars(suite).items() if name.startswith("test_") and callable(test)}


def forbidding_tests(exercise: str, functions: list[str]) -> dict[str, list[str]]:
    """The suite's tests that forbid something within one of ``functions`` (or within the
    whole module; within anything when ``functions`` is empty): their titles and the Python
    names they forbid."""
    tests = {}
    for title, marks in suite_tests(exercise).items():
        marks = [m for m in marks if not functions or m.kwargs.get("within") in (None, *functions)]
        if marks:
            tests[title] = [n for m in marks for n in m.args if not n.startswith("aten.")]
    return tests


def scopes(exercise: str) -> set[tuple[str | None, tuple[str, ...]]]:
    """Each (within, forbidden names) the suite asks the static half about."""
    return {(m.kwargs.get("within"), tuple(m.args)) for marks in suite_tests(exercise).values() for m in marks}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("forbid")
    assignment = base / "assignment"
    (assignment / "suites").mkdir(parents=True)
    for module in EXERCISES:
        shutil.copy(ROOT / "suites" / f"test_{module}.py", assignment / "suites")
    shutil.copytree(ROOT / "solutions", assignment / "solutions",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (assignment / "grader.toml").write_text(f"exercises = {EXERCISES!r}\n")
    cases = {"reference": {}, **CLEAN, **{name: case[0] for name, case in HOSTILE.items()}}
    subs = [write_submission(base / name, {**reference_files(), **files}) for name, files in cases.items()]
    out = base / "out"
    proc = run_grader(["run", *subs, "--out", out, "--assignment", assignment, "-j", "2"], timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, read_grades(out)


def by_test(out, slug: str) -> dict[str, dict]:
    return {t["name"]: t for t in read_results(out, slug)["tests"]}


def lost(out, slug: str) -> list[tuple[str, str]]:
    return [(t["name"], t["output"][:400]) for t in read_results(out, slug)["tests"] if t["score"] != t["max_score"]]


@pytest.mark.slow
def test_the_reference_keeps_full_marks(graded):
    out, grades = graded
    row = grades["reference"]
    assert row["score"] == row["max_score"], lost(out, "reference")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLEAN))
def test_a_clean_look_alike_keeps_full_marks(graded, name):
    out, grades = graded
    assert grades[name]["score"] == grades["reference"]["score"], lost(out, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hidden_forbidden_route_scores_zero_on_the_tests_that_forbid_it(graded, name):
    """Exactly the tests that forbid the function fail, each naming what it forbids, one of them
    the function this route reaches; the rest pass."""
    out, grades = graded
    _, exercise, functions, forbidden = HOSTILE[name]
    exercises = EXERCISES if exercise == "*" else [exercise]
    must_fail = {title: names for e in exercises for title, names in forbidding_tests(e, functions).items()}
    assert must_fail, f"the {exercise} suite forbids nothing within {functions}"
    messages = []
    for title, t in by_test(out, name).items():
        names = must_fail.get(title) or must_fail.get(title.rsplit(" [", 1)[0])
        if names:
            assert t["score"] == 0, (title, "passed")
            assert any(n in t["output"] for n in names), (title, t["output"][:600])
            messages.append(t["output"])
        else:
            assert t["score"] == t["max_score"], (title, t["output"][:600])
    assert any(forbidden in m for m in messages), (forbidden, messages[0][:600])
    for other in set(EXERCISES) - set(exercises):
        assert grades[name][other] == grades["reference"][other], f"{name} lost points in {other}"


# ----------------------------------------------------------------------------- the static half alone

def read(files: dict[str, str], tmp_path, exercise: str, names, within=None) -> list:
    """What the static half finds in a submission of ``files`` (the reference for the rest)."""
    folder = write_submission(tmp_path / "sub", {**reference_files(), **files})
    submission = sourcecheck.Submission(folder, EXERCISES)
    return submission.findings(sourcecheck.Rules(names), exercise, (within,) if within else ())


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_reference_stubs_and_every_correct_variant_read_clean(exercise, tmp_path):
    """No false positive: nothing the course's correct code does is taken for a forbidden route."""
    folders = [ROOT / "solutions", ROOT / "exercises"]
    for variant in sorted((ROOT / "tests" / "mutants" / exercise).glob("right_*.py")):
        folder = tmp_path / variant.stem   # the reference with this one module replaced
        shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__*"))
        shutil.copy(variant, folder / f"{exercise}.py")
        folders.append(folder)
    for folder in folders:
        submission = sourcecheck.Submission(folder, EXERCISES)
        for within, names in scopes(exercise):
            found = submission.findings(sourcecheck.Rules(names), exercise, (within,) if within else ())
            assert found == [], (folder.name, within, found)


CONV = ("torch.nn.functional.conv2d", "torch.conv2d", "torch.nn.Conv2d", "aten.convolution")
F_IMPORTS = "import torch\nimport torch.nn.functional as F\n"
# A route to F.conv2d (or a hiding of what is reached) in conv.py or a module it uses: (files, kind)
ROUTES = {
    "helper imported as a module": ({"helpers.py": "from torch.nn.functional import conv2d as c\n",
                                     "conv.py": "import helpers\ndef conv2d(x, w):\n    return helpers.c(x, w)\n"},
                                    "forbidden"),
    "star import in a helper": ({"helpers.py": "from torch.nn.functional import *\n",
                                 "conv.py": "import helpers\ndef conv2d(x, w):\n    return helpers.conv2d(x, w)\n"},
                                "forbidden"),
    "join": ({"conv.py": F_IMPORTS + "def conv2d(x, w):\n    return getattr(F, ''.join(['con', 'v2d']))(x, w)\n"},
             "forbidden"),
    "reversed": ({"conv.py": F_IMPORTS + "def conv2d(x, w):\n    return getattr(F, 'd2vnoc'[::-1])(x, w)\n"},
                 "forbidden"),
    "f-string": ({"conv.py": F_IMPORTS + "K = 2\ndef conv2d(x, w):\n    return getattr(F, f'conv{K}d')(x, w)\n"},
                 "forbidden"),
    "__dict__": ({"conv.py": F_IMPORTS + "def conv2d(x, w):\n    return F.__dict__['conv' + '2d'](x, w)\n"},
                 "forbidden"),
    "vars().get": ({"conv.py": F_IMPORTS + "def conv2d(x, w):\n    return vars(F).get('conv2d')(x, w)\n"},
                   "forbidden"),
    "import_module": ({"conv.py": "import importlib\ndef conv2d(x, w):\n"
                                  "    return importlib.import_module('torch.nn.' + 'functional').conv2d(x, w)\n"},
                      "forbidden"),
    "__import__": ({"conv.py": "def conv2d(x, w):\n"
                               "    return __import__('torch.nn.functional', fromlist=['_']).conv2d(x, w)\n"},
                   "forbidden"),
    "sys.modules": ({"conv.py": "import sys\ndef conv2d(x, w):\n    return sys.modules['torch'].conv2d(x, w)\n"},
                    "forbidden"),
    "attrgetter": ({"conv.py": "import operator, torch\ndef conv2d(x, w):\n"
                               "    return operator.attrgetter('nn.functional.conv2d')(torch)(x, w)\n"}, "forbidden"),
    "eval of a constant": ({"conv.py": F_IMPORTS + "def conv2d(x, w):\n    return eval('F.conv2d(x, w)')\n"},
                           "forbidden"),
    "local alias": ({"conv.py": F_IMPORTS + "def conv2d(x, w):\n    f = F\n    return f.conv2d(x, w)\n"},
                    "forbidden"),
    "default argument": ({"conv.py": F_IMPORTS + "def conv2d(x, w, _f=F.conv2d):\n    return _f(x, w)\n"},
                         "forbidden"),
    "a class it uses": ({"conv.py": F_IMPORTS + "class _Slide:\n    def run(self, x, w):\n"
                                                "        return torch.conv2d(x, w)\n"
                                                "def conv2d(x, w):\n    return _Slide().run(x, w)\n"}, "forbidden"),
    "conv2d is torch's": ({"conv.py": "from torch.nn.functional import conv2d\n"}, "forbidden"),
    "nn.Conv2d": ({"conv.py": F_IMPORTS + "def conv2d(x, w):\n    return torch.nn.Conv2d(1, 1, 3)(x)\n"},
                  "forbidden"),
    "eval of built text": ({"conv.py": F_IMPORTS + "def conv2d(x, w, m='F'):\n    return eval(m + '.conv2d(x, w)')\n"},
                           "unreadable"),
    "getattr of a variable": ({"conv.py": F_IMPORTS + "def conv2d(x, w, n='c'):\n    return getattr(F, n)(x, w)\n"},
                              "unreadable"),
    "getattr passed around": ({"conv.py": F_IMPORTS + "import functools\ndef conv2d(x, w):\n"
                                                      "    return functools.reduce(getattr, ['nn'], torch)\n"},
                              "unreadable"),
    "the grader's modules": ({"conv.py": "import grader.worker.guard as g\ndef conv2d(x, w):\n"
                                         "    return g.ForbidGuard\n"}, "switch"),
    "torch's dispatch stack": ({"conv.py": "import torch\ndef conv2d(x, w):\n"
                                           "    torch._C._pop_torch_dispatch_stack(None)\n    return x\n"}, "switch"),
    "a thread another exercise starts": ({"losses.py": (ROOT / "solutions" / "losses.py").read_text()
                                          + "\nimport threading\ndef serve(queue):\n"
                                            "    threading.Thread(target=queue.get).start()\n"}, "thread"),
    "torch.Tensor patched elsewhere": ({"pooling.py": (ROOT / "solutions" / "pooling.py").read_text()
                                        + "\ntorch.Tensor.unfold = lambda *a: None\n"}, "rebinding"),
    "conv2d replaced from another module": ({"losses.py": (ROOT / "solutions" / "losses.py").read_text()
                                             + "\nimport conv\nconv.conv2d = torch.conv2d\n"}, "rebinding"),
}
# Code that looks like a route to a careless reader, and is not.
LOOK_ALIKES = {
    "names in strings, comments and a local": {"conv.py": F_IMPORTS + (
        "def conv2d(x, w):\n    '''conv2d by hand, not F.conv2d'''\n    conv2d = x * 2  # like conv2d\n"
        "    if x.dim() != 4:\n        raise ValueError('conv2d needs a 4-D input')\n    return conv2d\n")},
    "F.conv2d in a module conv.py does not use": {"check_mine.py": F_IMPORTS + "print(F.conv2d)\n"},
    "getattr of a variable elsewhere": {"losses.py": (ROOT / "solutions" / "losses.py").read_text()
                                        + "\ndef pick(obj, name):\n    return getattr(obj, name)\n"},
    "a torch setting changed": {"pooling.py": (ROOT / "solutions" / "pooling.py").read_text()
                                + "\ntorch.backends.cudnn.deterministic = True\n"},
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_the_static_half_finds_a_route(route, tmp_path):
    files, kind = ROUTES[route]
    found = read(files, tmp_path, "conv", CONV, "conv2d")
    assert kind in {f.kind for f in found}, found


@pytest.mark.parametrize("look_alike", sorted(LOOK_ALIKES))
def test_the_static_half_leaves_a_look_alike_alone(look_alike, tmp_path):
    assert read(LOOK_ALIKES[look_alike], tmp_path, "conv", CONV, "conv2d") == []


def test_a_tensor_method_is_forbidden_on_any_object_but_not_outside_the_scope(tmp_path):
    relu = ("torch.relu", "torch.Tensor.relu", "torch.nn.ReLU", "aten.relu")
    source = ("from torch import nn\ndef relu(x, inplace=False):\n    return x.relu()\n"
              "class TuDuiActivation(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.relu = nn.ReLU()\n    def forward(self, x):\n        return self.relu(x)\n")
    found = read({"activations.py": source}, tmp_path, "activations", relu, "relu")
    assert [(f.kind, f.what, f.line) for f in found] == [("forbidden", "torch.Tensor.relu", 3)]


# ----------------------------------------------------------------------------- the runtime half alone

# Runs in a fresh interpreter (the guard's tripwires stay installed in a process): for each case,
# a worker core on the case's submission, a test that forbids CONV (or nothing), one call.
RUNTIME_DRIVER = r"""
import json, sys, tempfile, pathlib
import torch
from grader import protocol
from grader.worker.core import WorkerCore

def request(core, op, **args):
    blobs = []
    reply, out = core.handle({"op": op, "args": protocol.encode(args, blobs)}, blobs)
    return reply.get("error") or protocol.decode(reply["ok"], out)

results = {}
for name, case in json.load(sys.stdin).items():
    folder = pathlib.Path(tempfile.mkdtemp())
    (folder / "conv.py").write_text(case["source"])
    core = WorkerCore(folder)
    outcome = None
    for forbid, function in case["calls"]:
        request(core, "reset", seed=1, forbid=forbid)
        module = request(core, "import", name="conv", student=True)
        if isinstance(module, dict):
            outcome = module
            break
        target = protocol.Ref(module.id, module.type, (function,))
        outcome = request(core, "call", target=target, args=[torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2)],
                          kwargs={})
    results[name] = outcome if isinstance(outcome, dict) else "ok"
    core.unload()
    sys.modules.pop("conv", None)
print(json.dumps(results))
"""
# conv2d switches the Python-level check off first: the dispatch-level one must decide.
CONV_SOURCE = F_IMPORTS + (
    "def by_hand(x, w):\n    return x.unfold(2, 2, 1).unfold(3, 2, 1).mul(w[0, 0]).sum((-2, -1))\n"
    "def conv2d(x, w):\n    with torch._C.DisableTorchFunction():\n        return {body}\n")
RUNTIME_CASES = {
    # what conv2d's body does in a test that forbids F.conv2d: the call must be forbidden
    "nothing more": "F.conv2d(x, w)",
    "popping the dispatch stack": "(torch._C._pop_torch_dispatch_stack(None), F.conv2d(x, w))[1]",
    "_disable_current_modes": "(lambda m: (m.__enter__(), F.conv2d(x, w))[1])("
                              "torch.utils._python_dispatch._disable_current_modes())",
    "_DisableTorchDispatch": "(lambda m: (m.__enter__(), F.conv2d(x, w))[1])(torch._C._DisableTorchDispatch())",
    "excluding the Python key": "(torch._C._dispatch_tls_set_dispatch_key_excluded("
                                "torch._C.DispatchKey.Python, True), F.conv2d(x, w))[1]",
    "a thread": "__import__('concurrent.futures').futures.ThreadPoolExecutor(1).submit(F.conv2d, x, w).result()",
    "replacing the handler's class attribute": (
        "[type.__setattr__(type(torch._C._get_dispatch_stack_at(0)), '__torch_dispatch__', "
        "lambda s, f, t, a=(), k=None: f(*a, **(k or {}))), F.conv2d(x, w)][1]"),
    "replacing the handler's code": (
        "[setattr(type(torch._C._get_dispatch_stack_at(0)).__dict__['__torch_dispatch__'], '__code__', "
        "(lambda s, f, t, a=(), k=None: f(*a, **(k or {}))).__code__), F.conv2d(x, w)][1]"),
    "catching the refusal": "_caught(x, w)",
}
CAUGHT = "def _caught(x, w):\n    try:\n        return F.conv2d(x, w)\n    except Exception:\n        return by_hand(x, w)\n"


def run_driver(cases: dict) -> dict:
    import json
    import subprocess

    proc = subprocess.run([sys.executable, "-c", RUNTIME_DRIVER], input=json.dumps(cases), text=True,
                          capture_output=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_runtime_half_cannot_be_switched_off_by_the_calls_it_knows():
    forbid = list(CONV)
    cases = {name: {"source": CONV_SOURCE.format(body=body) + CAUGHT, "calls": [[forbid, "conv2d"]]}
             for name, body in RUNTIME_CASES.items()}
    cases["by hand"] = {"source": CONV_SOURCE.format(body="by_hand(x, w)"), "calls": [[forbid, "conv2d"]]}
    # switched off during a test that forbids nothing, then used in one that does
    cases["left switched off by an earlier test"] = {
        "source": CONV_SOURCE.format(body="F.conv2d(x, w)")
        + "def setup(x, w):\n    torch._C._dispatch_tls_set_dispatch_key_excluded(torch._C.DispatchKey.Python, True)\n",
        "calls": [[[], "setup"], [forbid, "conv2d"]]}
    results = run_driver(cases)
    assert results.pop("by hand") == "ok"
    for name, outcome in results.items():
        assert isinstance(outcome, dict) and outcome["kind"] == "forbidden", (name, outcome)
        assert "torch.nn.functional.conv2d" in outcome["message"] or "aten.convolution" in outcome["message"], (
            name, outcome)
