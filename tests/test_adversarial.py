"""Hostile submissions earn nothing, hurt nobody, and still get a row.

One `grader run` grades the whole corpus (tests/adversarial/corpus.py) next
to an honest submission, with a live TCP listener, a canary folder and a
snapshot of the repository and /tmp to prove nothing outside the out folder
changed and nothing connected anywhere.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import MINI, ROOT, read_grades, read_results, run_grader

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
import corpus  # noqa: E402

pytestmark = pytest.mark.slow  # every test reads the one `grader run` of the whole corpus

HONEST_FILES = {"mini.py": corpus.REF, "other.py": corpus.OTHER}
# Stands for the instructor's tokens: in the grader's environment, never in
# a worker's (the `dumps_the_environment` attack raises it into feedback).
SECRET = "sk-instructor-token-7f3a9c"


class Listener:
    """A real TCP server on 127.0.0.1 that records every connection and datagram."""

    def __init__(self):
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self.contacts: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            for sock in (self.tcp, self.udp):
                try:
                    if sock is self.tcp:
                        conn, addr = sock.accept()
                        self.contacts.append(f"tcp {addr}")
                        conn.close()
                    else:
                        data, addr = sock.recvfrom(100)
                        self.contacts.append(f"udp {addr} {data!r}")
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join()
        self.tcp.close()
        self.udp.close()


def snapshot(folder: Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts:
            st = p.stat()
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mode, st.st_mtime_ns)
    return out


def fill(text: str, values: dict) -> str:
    for k, v in values.items():
        text = text.replace("{" + k + "}", str(v))
    return text


def write_files(folder: Path, files: dict, values: dict) -> None:
    folder.mkdir(parents=True)
    for name, content in files.items():
        if name.startswith("@"):
            os.symlink(fill(content, values), folder / name[1:])
            continue
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(fill(content, values))


def notebook(path: Path, sources: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


def build_specials(base: Path) -> list[Path]:
    subs = []
    z = base / "zip_slip.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("mini.py", corpus.REF)
        zf.writestr("../../evil.py", "pwned = True")
    subs.append(z)
    z = base / "zip_bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(80):
            zf.writestr(f"pad{i}.py", b"\0" * (2 * 1024 * 1024))
    subs.append(z)
    bad = base / "malformed_notebook.ipynb"
    bad.write_text('{"cells": [ {"cell_type": "code", "source": ')
    subs.append(bad)
    cells = ["# exercise: mini\n" + corpus.REF, "# exercise: other\n" + corpus.OTHER]
    cells += ["pass"] * 9998
    subs.append(notebook(base / "ten_thousand_cells.ipynb", cells))
    subs.append(notebook(base / "notebook_magics.ipynb", [
        "%matplotlib inline\nimport torch", "!pip install evil", "%%bash\nrm -rf /",
        "# exercise: mini\n%time x = 1\n" + corpus.REF, "# exercise: other\n" + corpus.OTHER]))
    folder = base / "name with spaces ünï"
    write_files(folder, HONEST_FILES, {})
    subs.append(folder)
    return subs


try:
    import distributed  # noqa: F401
    CLUSTER = ["--cluster", "local:2"]
except ImportError:  # the dask extra is not installed: the corpus runs here only
    CLUSTER = None
# The corpus is graded here (-j 2) and once through a Dask cluster's grading hosts.
BACKENDS = [pytest.param(["-j", "2"], id="local")] + [
    pytest.param(CLUSTER, id="cluster") for _ in [CLUSTER] if CLUSTER is not None
]


@pytest.fixture(scope="module", params=BACKENDS)
def attacked(tmp_path_factory, request):
    base = tmp_path_factory.mktemp("hostile")
    canary = base / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("precious")
    listener = Listener()
    out = base / "out"
    values = {"OUT": out, "REPO": ROOT, "CANARY": canary, "PORT": listener.port}
    subs = []
    for name, (files, _) in corpus.ATTACKS.items():
        write_files(base / "class" / name, files, values)
        subs.append(base / "class" / name)
    subs += build_specials(base)
    write_files(base / "class" / "zz_honest", HONEST_FILES, {})
    subs.append(base / "class" / "zz_honest")

    repo_before = snapshot(MINI)
    canary_before = snapshot(canary)
    tmp_before = set(os.listdir("/tmp"))
    private_tmp = base / "tmp"  # the grader's own temp space, to check it is cleaned up
    private_tmp.mkdir()
    proc = run_grader(["run", *subs, "--out", out, "--assignment", MINI, "--timeout", "2", *request.param],
                      env={"TMPDIR": str(private_tmp), "GRADER_TEST_SECRET": SECRET})
    listener.close()
    return {
        "proc": proc, "out": out, "listener": listener, "base": base,
        "repo_changed": repo_before != snapshot(MINI),
        "canary_changed": canary_before != snapshot(canary) or not (canary / "keep.txt").exists(),
        "tmp_new": set(os.listdir("/tmp")) - tmp_before,
        "grader_tmp_left": sorted(os.listdir(private_tmp)),
    }


def by_name(out: Path, slug: str) -> dict[str, dict]:
    return {t["name"].split(": ", 1)[1]: t for t in read_results(out, slug)["tests"]}


DOUBLE, ADD, SCALE = "double(x) is 2x", "add(2, 3) is 5", "Scale is an nn.Module that multiplies by k"


def test_the_batch_completes(attacked):
    assert attacked["proc"].returncode == 0, attacked["proc"].stdout[-3000:] + attacked["proc"].stderr[-3000:]


def test_every_submission_has_a_row(attacked):
    grades = read_grades(attacked["out"])
    names = set(corpus.ATTACKS) | set(corpus.SPECIAL) | {"zz_honest"}
    assert set(grades) == names


def test_the_honest_submission_is_unaffected(attacked):
    row = read_grades(attacked["out"])["zz_honest"]
    assert (row["score"], row["max_score"]) == ("7", "7")


@pytest.mark.parametrize("name", sorted(corpus.ATTACKS))
def test_an_attack_earns_nothing_and_costs_only_what_it_attacks(attacked, name):
    out = attacked["out"]
    expectation = corpus.ATTACKS[name][1]
    row = read_grades(out)[name]
    tests = by_name(out, name)
    assert row["other"] == "1", "an honest exercise in the same submission lost points"
    if expectation == "double":
        assert tests[DOUBLE]["score"] == 0
        assert tests[ADD]["score"] == 1 and tests[SCALE]["score"] == 3
    elif expectation == "self_harm":
        assert tests[DOUBLE]["score"] == 0
    elif expectation == "add":
        assert tests[ADD]["score"] == 0 and tests[DOUBLE]["score"] == 2
    elif expectation == "module":
        assert row["mini"] == "0"
    elif expectation == "honest":
        assert (row["score"], row["max_score"]) == ("7", "7")


@pytest.mark.parametrize("name", sorted(corpus.SPECIAL))
def test_broken_archives_and_notebooks_get_a_row_and_a_reason(attacked, name):
    out = attacked["out"]
    row = read_grades(out)[name]
    if corpus.SPECIAL[name] == "whole":
        assert row["score"] == "0"
        slug = [p.name for p in out.iterdir() if p.name.startswith(name.split()[0])][0]
        outputs = " ".join(t["output"] for t in read_results(out, slug)["tests"])
        assert any(w in outputs for w in ("refused", "could not be read", "zip bomb"))
    else:
        assert (row["score"], row["max_score"]) == ("7", "7")


def test_nothing_reached_the_network(attacked):
    assert attacked["listener"].contacts == []


def test_no_file_outside_the_out_folder_was_created_or_changed(attacked):
    assert not attacked["repo_changed"]
    assert not attacked["canary_changed"]
    assert not any(n.startswith(("pwned", "evil")) for n in attacked["tmp_new"]), attacked["tmp_new"]
    assert attacked["grader_tmp_left"] == [], "the grader left temporary files behind"
    assert not (attacked["base"] / "evil.py").exists()


def test_the_out_folder_holds_only_what_the_grader_wrote(attacked):
    out = attacked["out"]
    grades = (out / "grades.csv").read_text()
    assert "1000" not in grades and "pwned" not in grades
    for folder in out.iterdir():
        if folder.is_dir() and folder.name != ".grader-state":
            assert sorted(p.name for p in folder.iterdir()) == ["results.json"]
            json.loads((folder / "results.json").read_text())


def test_no_secret_of_the_grader_reaches_feedback(attacked):
    out = attacked["out"]
    assert "my environment" in json.dumps(read_results(out, "dumps_the_environment"))
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path


def test_grades_agree_with_results_json(attacked):
    out = attacked["out"]
    for folder in out.iterdir():
        if folder.is_dir() and folder.name != ".grader-state":
            res = read_results(out, folder.name)
            assert res["score"] == sum(t["score"] for t in res["tests"])


def test_no_process_outlives_the_run(attacked):
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert "grader.worker.zygote" not in ps
    assert "sleep 1000" not in ps
