"""Every form of submission in the contract becomes a folder of modules; bad ones
become a reason, never an exception."""
import json
import os
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.submissions import MANIFEST, discover, prepare, slugify


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
