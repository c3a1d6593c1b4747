"""Every form of submission in the contract becomes a folder of modules; bad ones
become a reason, never an exception."""
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from conftest import MINI, read_grades, read_results, run_grader, write_submission
from grader import notebooks, submissions
from grader.submissions import content_key, discover, prepare, slugify
from grader.vocabulary import MANIFEST

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
import corpus  # noqa: E402


def notebook(path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, metadata={"tags": tags}) for src, tags in cells]
    nbformat.write(nb, str(path))
    return path


def test_a_folder_of_modules_is_copied(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "conv.py").write_text("X = 1\n")
    (tmp_path / "s" / "notes.txt").write_text("ignored")
    problems = prepare(tmp_path / "s", tmp_path / "out")
    assert problems == {}
    assert (tmp_path / "out" / "conv.py").read_text() == "X = 1\n"
    assert not (tmp_path / "out" / "notes.txt").exists()
    assert json.loads((tmp_path / "out" / MANIFEST).read_text()) == {"problems": {}}


def test_a_per_module_notebook_becomes_that_module_with_magics_disabled(tmp_path):
    (tmp_path / "s").mkdir()
    notebook(tmp_path / "s" / "tudui.ipynb", [("%matplotlib inline\nimport torch", []), ("Y = 2", [])])
    prepare(tmp_path / "s", tmp_path / "out")
    src = (tmp_path / "out" / "tudui.py").read_text()
    assert "import torch" in src and "Y = 2" in src
    compile(src, "tudui.py", "exec")  # the magic no longer breaks the module


def test_one_notebook_splits_by_marker_line_and_by_tag(tmp_path):
    nb = notebook(tmp_path / "alice.ipynb", [
        ("import torch", []),                                  # imports-only: shared preamble
        ("# exercise: conv\nA = torch.ones(1)", []),
        ("B = 2", ["exercise:pooling"]),
        ("print('scratch work')", []),                          # unmarked: ignored
        ("# exercise: conv\nC = 3", []),
    ])
    assert prepare(nb, tmp_path / "out") == {}
    conv = (tmp_path / "out" / "conv.py").read_text()
    assert "import torch" in conv and "A = torch.ones(1)" in conv and "C = 3" in conv
    assert "scratch work" not in conv
    pooling = (tmp_path / "out" / "pooling.py").read_text()
    assert "B = 2" in pooling and "import torch" in pooling


def test_a_notebook_without_markers_says_how_to_mark_cells(tmp_path):
    nb = notebook(tmp_path / "bob.ipynb", [("x = 1", [])])
    problems = prepare(nb, tmp_path / "out")
    assert "# exercise: <module>" in problems["*"]


def test_an_unreadable_notebook_gets_a_reason(tmp_path):
    bad = tmp_path / "carol.ipynb"
    bad.write_text("{ not json")
    problems = prepare(bad, tmp_path / "out")
    assert "could not be read as a notebook" in problems["*"]


def test_a_broken_per_module_notebook_only_affects_its_module(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "conv.ipynb").write_bytes(b"\xff\xfe garbage")
    (tmp_path / "s" / "tudui.py").write_text("OK = 1\n")
    problems = prepare(tmp_path / "s", tmp_path / "out")
    assert set(problems) == {"conv"}
    assert (tmp_path / "out" / "tudui.py").exists()


def test_a_zip_of_a_folder_is_unpacked_through_a_single_top_folder(tmp_path):
    z = tmp_path / "dave.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("dave/conv.py", "Z = 1\n")
        zf.writestr("__MACOSX/dave/._conv.py", "junk")
    assert prepare(z, tmp_path / "out") == {}
    assert (tmp_path / "out" / "conv.py").read_text() == "Z = 1\n"


def test_a_zip_holding_one_notebook_is_split(tmp_path):
    nb = notebook(tmp_path / "nb.ipynb", [("# exercise: tudui\nT = 1", [])])
    z = tmp_path / "erin.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(nb, "erin.ipynb")
    assert prepare(z, tmp_path / "out") == {}
    assert "T = 1" in (tmp_path / "out" / "tudui.py").read_text()


@pytest.mark.parametrize("member", ["../evil.py", "/abs/evil.py", "a/../../evil.py"])
def test_zip_slip_is_refused_and_nothing_is_written_outside(tmp_path, member):
    z = tmp_path / "x.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(member, "pwned = 1")
    problems = prepare(z, tmp_path / "deep" / "out")
    assert "outside the archive" in problems["*"]
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "deep" / "evil.py").exists()


def test_symlinks_inside_a_zip_are_refused(tmp_path):
    z = tmp_path / "x.zip"
    with zipfile.ZipFile(z, "w") as zf:
        info = zipfile.ZipInfo("conv.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    assert "symbolic link" in prepare(z, tmp_path / "out")["*"]


def test_a_zip_bomb_is_refused(tmp_path):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(60):
            zf.writestr(f"f{i}.py", b"\0" * (2 * 1024 * 1024))
    assert "too much data" in prepare(z, tmp_path / "out")["*"]


def test_symlinked_modules_are_not_followed(tmp_path):
    (tmp_path / "s").mkdir()
    os.symlink("/etc/passwd", tmp_path / "s" / "conv.py")
    problems = prepare(tmp_path / "s", tmp_path / "out")
    assert "not a regular file" in problems["conv"]
    assert not (tmp_path / "out" / "conv.py").exists()


def test_a_missing_path_gets_a_reason(tmp_path):
    assert "does not exist" in prepare(tmp_path / "nope", tmp_path / "out")["*"]


@pytest.mark.parametrize("name", ["..", "a b", "ünï", "../../etc", "con:x", ""])
def test_slugs_are_safe_folder_names(name):
    slug = slugify(name)
    assert slug and slug not in (".", "..") and "/" not in slug and slug.isascii()


def test_discover_names_submissions_by_file_name_and_keeps_slugs_unique(tmp_path):
    subs = discover([str(tmp_path / "alice.ipynb"), str(tmp_path / "x" / "alice.zip"), str(tmp_path / "bob")])
    assert [s.name for s in subs] == ["alice", "alice", "bob"]
    assert len({s.slug for s in subs}) == 3


def test_future_imports_in_a_later_cell_move_to_the_top(tmp_path):
    nb = notebook(tmp_path / "f.ipynb", [
        ("import torch", []),
        ("# exercise: conv\nfrom __future__ import annotations\ndef f(x: int) -> int:\n    return x", []),
    ])
    assert prepare(nb, tmp_path / "out") == {}
    src = (tmp_path / "out" / "conv.py").read_text()
    assert src.startswith("from __future__ import annotations")
    compile(src, "conv.py", "exec")


# --------------------------------------------------------------------------- bounded parsing


class Hung(BaseException):
    """Raised by :func:`deadline`; a BaseException, so no `except Exception` hides it."""


@contextmanager
def deadline(seconds: float):
    """Fail (instead of hanging the suite) when the body blocks, e.g. opening a FIFO."""
    def fire(*_):
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def special_file(path: Path, kind: str) -> Path:
    """A FIFO, a Unix socket or a character device (``/dev/null``'s numbers) at ``path``."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(path))
    else:
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device needs root")
    return path


WORDS = {"fifo": "FIFO", "socket": "socket", "device": "device"}


@pytest.mark.parametrize("kind", sorted(WORDS))
@pytest.mark.parametrize("name", ["mini.py", "mini.ipynb"])
def test_a_special_file_in_a_folder_is_refused_unopened(tmp_path, kind, name):
    folder = tmp_path / "s"
    folder.mkdir()
    special_file(folder / name, kind)
    (folder / "other.py").write_text("X = 1\n")
    with deadline(10):
        key = content_key(folder)
        problems = prepare(folder, tmp_path / "out")
    assert WORDS[kind] in problems["mini"], problems
    assert (tmp_path / "out" / "other.py").exists()
    assert key == content_key(folder)


@pytest.mark.parametrize("kind", sorted(WORDS))
@pytest.mark.parametrize("name", ["sub.ipynb", "sub.zip", "sub.py", "sub"])
def test_a_special_file_given_as_the_submission_is_refused_unopened(tmp_path, kind, name):
    path = special_file(tmp_path / name, kind)
    with deadline(10):
        content_key(path)
        problems = prepare(path, tmp_path / "out")
    assert WORDS[kind] in problems["*"], problems


def test_content_key_reads_only_what_grading_uses(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "mini.py").write_text("X = 1\n")
    (folder / "notes.txt").write_text("draft")
    (folder / "data").mkdir()
    (folder / "data" / "big.py").write_text("unused")
    key = content_key(folder)
    (folder / "notes.txt").write_text("another draft")
    (folder / "data" / "big.py").write_text("still unused")
    assert content_key(folder) == key
    (folder / "mini.py").write_text("X = 2\n")
    assert content_key(folder) != key


def test_huge_files_are_never_read_whole(tmp_path):
    """Sparse files of 1 GiB, hashed and prepared in a process allowed 512 MiB."""
    folder = tmp_path / "s"
    folder.mkdir()
    for path in (folder / "mini.py", folder / "other.ipynb", tmp_path / "big.zip", tmp_path / "big.ipynb"):
        with open(path, "wb") as f:
            f.truncate(2**30)
    code = ("import sys; from pathlib import Path; from grader.submissions import content_key, prepare\n"
            "for p in sys.argv[1:]:\n"
            "    content_key(Path(p)); print(prepare(Path(p), Path(p + '.out')))\n")
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2**29, 2**29))\n"
    paths = [str(folder), str(tmp_path / "big.zip"), str(tmp_path / "big.ipynb")]
    proc = subprocess.run([sys.executable, "-c", limit + code, *paths], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert "larger than 2 MiB" in lines[0] and "larger than 20 MiB" in lines[0]
    assert "larger than 100 MiB" in lines[1] and "larger than 20 MiB" in lines[2]


def raw_notebook(path: Path, cells: int) -> Path:
    cell = {"cell_type": "code", "source": "# exercise: mini\nX = 1", "metadata": {}, "outputs": [],
            "execution_count": None}
    path.write_text(json.dumps({"cells": [cell] * cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.fixture
def no_nbformat(monkeypatch):
    """nbformat's reading and validation made to fail loudly if called."""
    def called(*args, **kwargs):
        raise AssertionError("nbformat parsed the notebook")

    for name in ("read", "reads", "validate"):
        monkeypatch.setattr(nbformat, name, called)


def test_a_notebook_with_too_many_cells_is_refused_before_nbformat_reads_it(tmp_path, no_nbformat):
    nb = raw_notebook(tmp_path / "many.ipynb", notebooks.MAX_CELLS + 1)
    problems = prepare(nb, tmp_path / "out")
    assert f"at most {notebooks.MAX_CELLS}" in problems["*"], problems


def test_a_notebook_too_large_is_refused_before_nbformat_reads_it(tmp_path, no_nbformat):
    nb = tmp_path / "big.ipynb"
    with open(nb, "wb") as f:
        f.truncate(notebooks.MAX_NOTEBOOK_BYTES + 1)
    assert "larger than" in prepare(nb, tmp_path / "out")["*"]


def many_entries(path: Path, n: int, name_len: int = 8) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            zf.writestr(f"{i:0{name_len}d}", b"")
    return path


def forbid_zip_parsing(monkeypatch) -> None:
    def parse(*args, **kwargs):
        raise AssertionError("zipfile parsed the central directory")

    monkeypatch.setattr(submissions.zipfile, "ZipFile", parse)


def test_a_zip_with_too_many_entries_is_refused_before_its_directory_is_parsed(tmp_path, monkeypatch):
    z = many_entries(tmp_path / "many.zip", submissions.MAX_ZIP_MEMBERS + 1)
    forbid_zip_parsing(monkeypatch)
    assert f"at most {submissions.MAX_ZIP_MEMBERS}" in prepare(z, tmp_path / "out")["*"]


def test_a_zip_that_understates_its_entries_is_refused_by_its_directory_size(tmp_path, monkeypatch):
    z = many_entries(tmp_path / "lies.zip", submissions.MAX_ZIP_MEMBERS + 100, name_len=1000)
    data = bytearray(z.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 12] = struct.pack("<HH", 1, 1)  # entries on this disk, in total
    z.write_bytes(bytes(data))
    forbid_zip_parsing(monkeypatch)
    assert "refused" in prepare(z, tmp_path / "out")["*"]


@pytest.mark.slow
def test_grader_run_refuses_fifos_with_a_reason_and_grades_the_rest(tmp_path):
    os.mkfifo(tmp_path / "piped.ipynb")
    os.mkfifo(tmp_path / "piped.zip")
    half = write_submission(tmp_path / "half", {"other.py": corpus.OTHER})
    os.mkfifo(half / "mini.py")
    honest = write_submission(tmp_path / "honest", {"mini.py": corpus.REF, "other.py": corpus.OTHER})
    out = tmp_path / "out"
    proc = run_grader(["run", tmp_path / "piped.ipynb", tmp_path / "piped.zip", half, honest, "--out", out,
                       "--assignment", MINI, "--timeout", "3", "-j", "2"], timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    grades = read_grades(out)
    assert (grades["honest"]["score"], grades["half"]["other"], grades["half"]["mini"]) == ("7", "1", "0")
    for slug in ("piped", "piped-2"):
        outputs = " ".join(t["output"] for t in read_results(out, slug)["tests"])
        assert "FIFO" in outputs, outputs
    assert "FIFO" in " ".join(t["output"] for t in read_results(out, "half")["tests"])
