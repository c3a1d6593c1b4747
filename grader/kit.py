"""``grader release``: the student kit, built from the marked reference.

What a kit holds, and nothing else: ``exercises/`` (the stubs, made from
``solutions/`` by :mod:`grader.stubs`), ``course.ipynb`` (one
``# exercise: <module>`` cell per module), ``suites/`` (the visible tests,
hidden ones and the helpers only they used removed; ``reference.oracle``, the
reference's answers recorded for them; a ``conftest.py`` registering
:class:`grader.oracle.KitPlugin`), ``grader.toml``, ``requirements.txt`` and
a ``README.md`` for students.  No solution code, compiled or not, no hidden
test, no input or expected value of a hidden test.

How: (1) the reference and the stubs are graded on every test (hidden ones
included): the release is refused when the reference loses a point or a
stub earns one; (2) the kit's suites are written; (3) ``grader run`` grades
the reference, the stubs, the assignment's mutants (``tests/mutants/``) and
any ``--record-from`` submissions on the kit's suites, with the real
reference recording its answers; (4) the kit grades the reference and the
stubs from the record alone: every visible point, and none.  Each ``grader
run`` is a separate process (each imports its own ``suites`` package).
The kit is built in a scratch folder and moved to ``--out`` only when all
of that holds.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .assignment import Assignment, AssignmentError, course_exercises
from .oracle import CHECKED_WHEN_GRADED, ORACLE_FILE, RECORD_ENV
from .stubs import MarkerError, make_stub
from .vocabulary import PASSED, SKIPPED, STATE_FOLDER

KIT_MARK = "kit.json"  # in a kit's suites/: what built it, and its exercises
CONFTEST = '''"""Written by `grader release`: the kit's recorded reference (grader.oracle)."""
from grader.oracle import KitPlugin


def pytest_configure(config):
    config.pluginmanager.register(KitPlugin(), "grader-oracle")
'''


class ReleaseError(AssignmentError):
    """The kit cannot be built as asked; nothing was written."""


@dataclass
class ReleaseSummary:
    out: Path
    exercises: list[str]
    visible: int
    hidden: int
    answers: int
    dropped: int
    recorded_from: int


# --------------------------------------------------------------------------- stubs


def exercise_modules(root: Path) -> list[str]:
    """The exercises in lesson order: grader.toml's, else every marked solution module."""
    listed = course_exercises(root)
    if listed:
        return listed
    return sorted(p.stem for p in (root / "solutions").glob("*.py") if not p.stem.startswith("_"))


def stubs(root: Path) -> dict[str, str]:
    """Each exercise's stub, made from its marked solution."""
    out = {}
    for module in exercise_modules(root):
        path = root / "solutions" / f"{module}.py"
        if not path.is_file():
            raise ReleaseError(f"there is no reference {path} for the exercise {module}")
        try:
            out[module] = make_stub(path.read_text(), str(path))
        except MarkerError as exc:
            raise ReleaseError(str(exc)) from None
    return out


def notebook(modules: dict[str, str], title: str) -> str:
    """The course notebook: an introduction, then one ``# exercise: <module>`` cell per module."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            f"# {title}\n\nWrite your code in the cells below: each cell is one exercise, named by its "
            "first line (`# exercise: <module>`; keep that line). Check your work with "
            "`grader check course.ipynb` in the kit's folder."
        )
    )
    for module, source in modules.items():
        nb.cells.append(nbformat.v4.new_code_cell(f"# exercise: {module}\n{source.rstrip()}\n"))
    return nbformat.writes(nb)


# --------------------------------------------------------------------------- visible suites


def _test_name(nodeid: str) -> tuple[str, str]:
    """``suites/test_conv.py::test_x[a-b]`` -> (``test_conv.py``, ``test_x``); a class test's
    name is ``Class.test``."""
    path, _, rest = nodeid.partition("::")
    return Path(path).name, rest.split("[", 1)[0].replace("::", ".")


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _used(nodes: list[ast.stmt]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def visible_suite(source: str, hidden: set[str], name: str) -> str | None:
    """``source`` without the tests named in ``hidden`` and the module-level
    helpers and values only they used; None when no test is left."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    drop: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in hidden:
            drop.append(node)
        elif isinstance(node, ast.ClassDef):
            if any(f"{node.name}.{m.name}" in hidden for m in node.body if isinstance(m, ast.FunctionDef)):
                raise ReleaseError(
                    f"{name}: hidden tests inside a test class are not supported; write them as functions"
                )
    if not drop:
        return source
    # Helpers only the hidden tests used go too (their values may be hidden inputs).
    suspects = _used(drop)
    while True:
        keep = [n for n in tree.body if n not in drop]
        more = [
            n
            for n in keep
            if _defined(n) and _defined(n) <= suspects and not _defined(n) & _used([k for k in keep if k is not n])
        ]
        if not more:
            break
        drop += more
        suspects |= _used(more)
    if not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test") for n in keep):
        return None
    remove: set[int] = set()
    for node in drop:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        remove.update(range(first, (node.end_lineno or node.lineno) + 1))
    kept = [line for number, line in enumerate(lines, 1) if number not in remove]
    text = "".join(kept)
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text.rstrip("\n") + "\n"


def kit_suites(root: Path, visibility: dict[str, str]) -> tuple[dict[str, str], int, int]:
    """The kit's suite files (name -> text): visible tests only.  ``visibility``:
    node id -> visibility, for every test."""
    hidden_by_file: dict[str, set[str]] = {}
    visible_by_file: dict[str, set[str]] = {}
    for nodeid, vis in visibility.items():
        file, test = _test_name(nodeid)
        (visible_by_file if vis == "visible" else hidden_by_file).setdefault(file, set()).add(test)
    files: dict[str, str] = {}
    for path in sorted((root / "suites").glob("*.py")):
        source = path.read_text()
        hidden = hidden_by_file.get(path.name, set())
        mixed = hidden & visible_by_file.get(path.name, set())
        if mixed:
            raise ReleaseError(
                f"suites/{path.name}: {', '.join(sorted(mixed))} has both visible and hidden cases; "
                "put the hidden cases in a test of their own"
            )
        if path.name.startswith("test_") and path.name not in visible_by_file:
            continue  # nothing visible in it
        text = visible_suite(source, hidden, f"suites/{path.name}") if hidden else source
        if text is not None:
            files[path.name] = text
    for name, text in files.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            if any(m == "solutions" or m.startswith("solutions.") for m in modules):
                raise ReleaseError(
                    f"suites/{name} imports the reference directly (line {node.lineno}): reach it through "
                    'grader.reference (ref = reference("<module>")) so the kit can replay it'
                )
    conftest = files.get("conftest.py", "")
    files["conftest.py"] = (conftest + "\n\n" if conftest else "") + CONFTEST
    visible = sum(1 for v in visibility.values() if v == "visible")
    return files, visible, len(visibility) - visible


# --------------------------------------------------------------------------- grading runs


def _grade(submissions: list[Path], assignment: Path, out: Path, jobs: int, env: dict | None = None) -> dict:
    """``grader run`` in its own process; each submission's result (the resume record's form)."""
    command = [sys.executable, "-m", "grader.cli", "run", *map(str, submissions), "--out", str(out)]
    command += ["--assignment", str(assignment), "--no-resume", "--warm-up", "off", "-j", str(jobs)]
    proc = subprocess.run(
        command, capture_output=True, text=True, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}
    )
    if proc.returncode not in (0,):
        raise ReleaseError(f"grading for the release failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    results = {}
    for path in (out / STATE_FOLDER).glob("*.json"):
        data = json.loads(path.read_text())["result"]
        results[data["name"]] = data
    return results


def _lost(result: dict) -> list[str]:
    return [f"{t['exercise']}: {t['name']}" for t in result["tests"] if t["status"] not in (PASSED, SKIPPED)]


def _earned(result: dict) -> list[str]:
    return [f"{t['exercise']}: {t['name']}" for t in result["tests"] if t["status"] == PASSED and t["points"] > 0]


def _mutant_submissions(root: Path, folder: Path, exercises: list[str]) -> list[Path]:
    """Each mutant of ``tests/mutants/<module>/`` as a submission holding just that module."""
    subs = []
    for module in exercises:
        for path in sorted((root / "tests" / "mutants" / module).glob("*.py")):
            sub = folder / f"{module}.{path.stem}"
            sub.mkdir(parents=True)
            shutil.copyfile(path, sub / f"{module}.py")
            subs.append(sub)
    return subs


# --------------------------------------------------------------------------- the release


def _graded_as_promised(reference: Path, stub_dir: Path, root: Path, scratch: Path, jobs: int, log) -> dict:
    """The reference's result, once it gets every point and the stubs none; else why not."""
    log("grading the reference and the stubs on every test ...")
    graded = _grade([reference, stub_dir], root, scratch / "graded", jobs)
    ref_result, stub_result = graded.get("solutions"), graded.get("stubs")
    if ref_result is None or stub_result is None or ref_result.get("error") or stub_result.get("error"):
        problem = (ref_result or {}).get("error") or (stub_result or {}).get("error") or "no result"
        raise ReleaseError(f"the reference or the stubs could not be graded: {problem}")
    if _lost(ref_result):
        raise ReleaseError(
            "the reference loses points, so the kit would mislead students:\n  " + "\n  ".join(_lost(ref_result))
        )
    if _earned(stub_result):
        raise ReleaseError("the stubs earn points:\n  " + "\n  ".join(_earned(stub_result)))
    return ref_result


def _check_kit(kit: Path, reference: Path, stub_dir: Path, scratch: Path, jobs: int, log) -> None:
    """The kit on its own gives the reference every visible point and the stubs none."""
    log("checking the kit on its own: the reference gets every visible point, the stubs none ...")
    checked = _grade([reference, stub_dir], kit, scratch / "kit-check", jobs)
    unchecked = [
        f"{t['exercise']}: {t['name']} ({t['output'][:300]})"
        for t in checked["solutions"]["tests"]
        if t["status"] not in (PASSED, SKIPPED) or CHECKED_WHEN_GRADED in t["output"]
    ]
    if unchecked:
        raise ReleaseError("the kit cannot check the reference on these tests:\n  " + "\n  ".join(unchecked))
    if _earned(checked["stubs"]):
        raise ReleaseError("the stubs earn points in the kit:\n  " + "\n  ".join(_earned(checked["stubs"])))


def _write_kit_files(
    kit: Path, staging: Path, made: dict, root: Path, exercises: list, visible: int, hidden: int, ref_result: dict
) -> None:
    """Everything in the kit beside its suites: stubs, notebook, requirements, README, and its mark."""
    if (staging / "grader.toml").is_file():
        shutil.copyfile(staging / "grader.toml", kit / "grader.toml")
    (kit / "exercises").mkdir()
    for module, text in made.items():
        (kit / "exercises" / f"{module}.py").write_text(text)
    (kit / "course.ipynb").write_text(notebook(made, f"{root.name}: the exercises"))
    (kit / "requirements.txt").write_text(requirements())
    (kit / "README.md").write_text(student_readme(exercises, visible, hidden, ref_result))
    (kit / "suites" / KIT_MARK).write_text(
        json.dumps({"exercises": exercises, "visible_tests": visible, "hidden_tests": hidden}, indent=1) + "\n"
    )


def release(
    assignment_dir: str | None,
    out: Path,
    record_from: list[Path] = (),  # type: ignore[assignment]
    mutants: bool = True,
    jobs: int = 1,
    log=print,
) -> ReleaseSummary:
    root = Assignment.locate(assignment_dir).root
    out = out.absolute()
    if out.exists() and any(out.iterdir()) and not (out / "suites" / KIT_MARK).is_file():
        raise ReleaseError(f"{out} exists and is not a kit: give --out a new folder")
    exercises = exercise_modules(root)
    made = stubs(root)
    with tempfile.TemporaryDirectory(prefix="grader-release-") as tmp:
        scratch = Path(tmp)
        stub_dir = scratch / "stubs"
        stub_dir.mkdir()
        for module, text in made.items():
            (stub_dir / f"{module}.py").write_text(text)
        reference = root / "solutions"

        ref_result = _graded_as_promised(reference, stub_dir, root, scratch, jobs, log)
        visibility = {t["nodeid"]: t["visibility"] for t in ref_result["tests"]}

        files, visible, hidden = kit_suites(root, visibility)
        staging = scratch / "record"
        (staging / "suites").mkdir(parents=True)
        for name, text in files.items():
            (staging / "suites" / name).write_text(text)
        for extra in ("grader.toml",):
            if (root / extra).is_file():
                shutil.copyfile(root / extra, staging / extra)
        (staging / "solutions").symlink_to(reference, target_is_directory=True)
        subs = [reference, stub_dir]
        if mutants:
            subs += _mutant_submissions(root, scratch / "mutants", exercises)
        subs += [Path(p).absolute() for p in record_from]
        log(f"recording the reference's answers for the visible tests ({len(subs)} submissions) ...")
        _grade(subs, staging, scratch / "recorded", jobs, {RECORD_ENV: str(scratch / "records")})

        kit = scratch / "kit"
        shutil.copytree(staging / "suites", kit / "suites")
        (scratch / "records").mkdir(exist_ok=True)
        from .oracle import merge

        answers, dropped = merge(scratch / "records", kit / "suites" / ORACLE_FILE)
        _write_kit_files(kit, staging, made, root, exercises, visible, hidden, ref_result)
        _check_kit(kit, reference, stub_dir, scratch, jobs, log)

        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(kit), str(out))
    return ReleaseSummary(out, exercises, visible, hidden, answers, dropped, len(subs))


def requirements() -> str:
    """What a student installs: the grader and the libraries it pins."""
    from importlib import metadata

    from . import __version__

    try:
        pins = [r for r in metadata.requires("grader") or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        pins = []
    return "\n".join([f"grader=={__version__}", *pins]) + "\n"


def student_readme(exercises: list[str], visible: int, hidden: int, ref_result: dict) -> str:
    points: dict[str, float] = {}
    hidden_points = 0.0
    for t in ref_result["tests"]:
        if t["status"] == SKIPPED:
            continue
        points[t["exercise"]] = points.get(t["exercise"], 0.0) + t["points"]
        if t["visibility"] != "visible":
            hidden_points += t["points"]
    rows = "\n".join(f"| `{m}` | `exercises/{m}.py` | {points.get(m, 0):g} |" for m in exercises)
    hidden_text = (
        f"When your work is graded, {hidden} more hidden test(s), worth {hidden_points:g} point(s) in all, "
        "run too: they are not in this kit, and `grader check` cannot run them."
        if hidden
        else "Grading runs the same tests as `grader check`."
    )
    return f"""# Your exercises

Each exercise is a Python module to complete: replace every
`raise NotImplementedError(...)` with your code. Read the docstrings: they
hold the lesson and its worked examples.

| exercise | file | points |
| --- | --- | ---: |
{rows}

You can write your code in `exercises/*.py` or in the notebook
`course.ipynb` (one cell per exercise; keep each cell's first line,
`# exercise: <module>`).

## Setting up

```bash
pip install -r requirements.txt
```

## Checking your work

From this folder:

```bash
grader check                      # checks exercises/*.py
grader check course.ipynb         # or the notebook
grader check --format json        # the same, for tools
```

`grader check` runs the {visible} visible tests in the same sandbox and with
the same messages as the grader, prints a table per exercise and what to fix
first, and exits 0 when every visible test passes. It needs no network.
Expected values come from answers recorded when this kit was made: a test
whose input your code led somewhere the kit has no answer for says
"{CHECKED_WHEN_GRADED}"; it is run in full when your work is graded.

{hidden_text}

## Handing in

Hand in the `exercises` folder (zipped) or `course.ipynb`, as your course asks.
"""


def write_exercises(root: Path) -> list[str]:
    """Regenerate ``root/exercises/`` from the marked solutions; the modules written."""
    made = stubs(root)
    (root / "exercises").mkdir(exist_ok=True)
    for module, text in made.items():
        (root / "exercises" / f"{module}.py").write_text(text)
    return list(made)


if __name__ == "__main__":  # python -m grader.kit exercises [ASSIGNMENT]
    if sys.argv[1:2] != ["exercises"]:
        sys.exit("usage: python -m grader.kit exercises [ASSIGNMENT]")
    where = Assignment.locate(sys.argv[2] if len(sys.argv) > 2 else None).root
    print("wrote exercises/ for: " + ", ".join(write_exercises(where)))
