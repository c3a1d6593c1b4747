"""`grader package gradescope`: the autograder zip, run the way Gradescope
runs it (its folder layout simulated under GRADER_AUTOGRADER_ROOT)."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import MINI, read_grades, run_grader, write_submission
from grader.autograder import target
from grader.package import build_gradescope

REF = (MINI / "solutions" / "mini.py").read_text()
OTHER = "def answer():\n    return 42\n"
WRONG_DOUBLE = REF.replace("return x * 2", "return x + x + 1")


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    return build_gradescope(tmp_path_factory.mktemp("build"), MINI)


def test_the_zip_has_setup_and_run_autograder_at_its_root_with_the_grader_and_the_assignment(autograder_zip):
    assert autograder_zip.name == "autograder.zip"
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        requirements = zf.read("requirements.txt").decode()
    assert {"setup.sh", "run_autograder", "requirements.txt", "grader.toml", "grader/cli.py", "grader/autograder.py",
            "grader/worker/zygote.py", "suites/test_mini.py", "solutions/mini.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_ISREG(modes[script]) and modes[script] & 0o111
    assert "torch==" in requirements and "pytest" in requirements


def test_the_same_inputs_give_the_same_zip(autograder_zip, tmp_path):
    assert build_gradescope(tmp_path, MINI).read_bytes() == autograder_zip.read_bytes()


def test_the_package_command_writes_the_zip_and_says_where(tmp_path):
    proc = run_grader(["package", "gradescope", "--out", tmp_path / "build", "--assignment", MINI])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "build" / "autograder.zip").is_file() and "autograder.zip" in proc.stdout
    proc = run_grader(["package", "gradescope", "--out", tmp_path / "b2", "--assignment", tmp_path])
    assert proc.returncode == 3 and "suites/" in proc.stderr


def test_what_is_graded_in_the_submission_folder(tmp_path):
    sub = write_submission(tmp_path / "a", {"mini.py": REF, "other.py": OTHER})
    assert target(sub) == sub
    write_submission(tmp_path / "b", {"hw.ipynb": "{}", ".DS_Store": "x"})
    assert target(tmp_path / "b") == tmp_path / "b" / "hw.ipynb"
    write_submission(tmp_path / "c", {"hw.zip": b"PK"})
    assert target(tmp_path / "c") == tmp_path / "c" / "hw.zip"
    write_submission(tmp_path / "d", {"inner/mini.py": REF, "__MACOSX/x": "x"})
    assert target(tmp_path / "d") == tmp_path / "d" / "inner"
    write_submission(tmp_path / "e", {"notes.txt": "hello"})
    assert target(tmp_path / "e") == tmp_path / "e"
    (tmp_path / "f").mkdir()
    assert target(tmp_path / "f") == tmp_path / "f"


def gradescope_root(tmp_path: Path, autograder_zip: Path, name: str) -> Path:
    """Gradescope's layout: source/ (the unpacked zip), submission/, results/, run_autograder copied up."""
    root = tmp_path / name
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def run_autograder(root: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(root / "run_autograder")], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, cwd=root,
                          env={**os.environ, "GRADER_AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable,
                               **(env or {})})


def notebook(path: Path, sources: dict[str, str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"# exercise: {module}\n{src}") for module, src in sources.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def zipped(path: Path, sources: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for module, src in sources.items():
            zf.writestr(f"{module}.py", src)
    return path


@pytest.mark.slow
def test_run_autograder_grades_a_folder_a_notebook_and_a_zip_as_grader_run_does(tmp_path, autograder_zip):
    forms = {
        "folder": lambda d: write_submission(d / "folder", {"mini.py": REF, "other.py": OTHER}),
        "hw": lambda d: notebook(d / "hw.ipynb", {"mini": WRONG_DOUBLE, "other": OTHER}),
        "packed": lambda d: zipped(d / "packed.zip", {"mini": REF}),
    }
    expected = run_grader(["run", *(make(tmp_path / "class") for make in forms.values()), "--out", tmp_path / "out",
                           "--assignment", MINI, "--timeout", "3"])
    assert expected.returncode == 0, expected.stdout + expected.stderr
    grades = read_grades(tmp_path / "out")
    assert [grades[n]["score"] for n in forms] == ["7", "5", "6"]
    for name, make in forms.items():
        root = gradescope_root(tmp_path, autograder_zip, name)
        made = make(root / "submission")
        if made.is_dir():  # a folder upload: Gradescope puts its files in submission/ itself
            for f in made.iterdir():
                f.rename(root / "submission" / f.name)
            made.rmdir()
        proc = run_autograder(root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        results = json.loads((root / "results" / "results.json").read_text())
        assert results["score"] == float(grades[name]["score"]), name
        assert results["max_score"] == float(grades[name]["max_score"]) == 7
        assert "isolation: " in proc.stdout and results["stdout_visibility"] == "hidden"


def test_a_required_sandbox_that_is_missing_refuses_to_grade_and_says_so(tmp_path, autograder_zip):
    root = gradescope_root(tmp_path, autograder_zip, "refused")
    write_submission(root / "submission", {"mini.py": REF})
    fake = write_submission(tmp_path / "bin", {"bwrap": "#!/bin/sh\nexit 1\n"})
    (fake / "bwrap").chmod(0o755)
    proc = run_autograder(root, {"GRADER_SANDBOX": "bwrap", "PATH": f"{fake}:{os.environ['PATH']}"})
    assert proc.returncode != 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "refused" in results["output"] and "not your fault" in results["output"]
    assert "bubblewrap" in proc.stdout
