"""Helpers for the project's own tests: real files, real processes, real torch."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "fixtures" / "mini"


def write_submission(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


def run_grader(args: list[str], cwd: Path | None = None, timeout: float = 900,
               env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def read_grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


def read_results(out: Path, slug: str) -> dict:
    return json.loads((out / slug / "results.json").read_text())


@pytest.fixture
def mini_grade(tmp_path):
    """Grade submissions against the engine's mini assignment; returns (out, process)."""

    def grade(*subs: Path, extra: list[str] = ()) -> tuple[Path, subprocess.CompletedProcess]:
        out = tmp_path / "out"
        proc = run_grader(["run", *subs, "--out", out, "--assignment", MINI, "--timeout", "3", *extra])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return out, proc

    return grade


@pytest.fixture
def inline_student(tmp_path):
    """``make(source)``: the ``student`` fixture's object for a submission whose
    only module, ``mod.py``, is ``source``, reached over the trusted in-process
    channel (the same requests and bytes as a worker, no fork) and made the
    current session, as the plugin's fixture does, so that ``expect`` and
    ``inspection`` name its calls."""
    from grader.channels import InlineChannel
    from grader.remote import Student, WorkerSession, _current

    sessions = []

    def make(source: str) -> Student:
        folder = str(write_submission(tmp_path / f"sub{len(sessions)}", {"mod.py": source}))
        session = WorkerSession({"mod"}, lambda: InlineChannel(folder), 10.0, {}, folder)
        session.begin_test(1, [], None)
        sessions.append(session)
        _current.append(session)
        return Student(session)

    yield make
    for session in sessions:
        _current.remove(session)
        session.close()
