"""Any name is safe: whatever a submission is called, it gets a row and a
results folder, and its name cannot break or reach into what the grader
writes (grades.csv, junit.xml, the terminal).

One `grader run --junit` grades every awkward name beside an honest
submission, and runs again to resume.
"""
from __future__ import annotations

import csv
import io
import os
import re
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from conftest import MINI, read_results, run_grader, write_submission
from grader.reporters import csv_report
from grader.results import SubmissionResult

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
import corpus  # noqa: E402

HONEST_FILES = {"mini.py": corpus.REF, "other.py": corpus.OTHER}
# What a student prints reaches results.json and junit.xml: a lone surrogate
# (no UTF-8 writer takes it) and control characters (XML forbids them).
PRINTS_CONTROLS = corpus.in_double("print('bad \\udce9 \\x1b[31m \\x00 end')\nreturn x * 3")
ESC_NAME = "a\x1b[31mred\x07"
MARKUP_NAME = "[bold red]x"  # rich would print a bold red x
# Folder name (as bytes, since one is not UTF-8) -> the name grades.csv shows.
NAMES: dict[bytes, str] = {
    b"grades.csv": "grades.csv",
    b"junit.xml": "junit.xml",
    b".grader-state": ".grader-state",
    b"caf\xe9": "caf\ufffd",
    b'=HYPERLINK("x","y")': '\'=HYPERLINK("x","y")',
    b"@SUM(A1)": "'@SUM(A1)",
    ESC_NAME.encode(): ESC_NAME,
    MARKUP_NAME.encode(): MARKUP_NAME,
}
RAW_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def rows(out: Path) -> list[dict[str, str]]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def result_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and p.name != ".grader-state")


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    base = tmp_path_factory.mktemp("names")
    os.mkdir(os.fsencode(base) + b"/class")
    subs = []
    for raw in NAMES:
        folder = os.fsencode(base / "class") + b"/" + raw
        os.mkdir(folder)
        subs.append(Path(os.fsdecode(folder)))
    write_submission(subs[0], HONEST_FILES)  # a reserved name grades like any other
    for twin in ("p", "q"):  # the same name twice, from two folders
        subs.append(write_submission(base / twin / "twin", {}))
    subs.append(write_submission(base / "class" / "prints_controls", PRINTS_CONTROLS))
    subs.append(write_submission(base / "class" / "zz_honest", HONEST_FILES))
    out = base / "out"
    args = ["run", *subs, "--out", out, "--assignment", MINI, "--timeout", "3", "-j", "2", "--junit"]
    first = run_grader(args, timeout=600)
    grades_first = (out / "grades.csv").read_bytes() if (out / "grades.csv").is_file() else b""
    again = run_grader(args, timeout=600, env={"PYTHONIOENCODING": "ascii"})  # a terminal without UTF-8
    return {"first": first, "again": again, "out": out, "subs": subs, "grades_first": grades_first}


@pytest.mark.slow
def test_every_name_completes_the_batch_and_a_rerun(named):
    for proc in (named["first"], named["again"]):
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in named["first"].stderr + named["again"].stderr
    assert named["again"].stdout.count("unchanged, kept") == len(named["subs"])
    assert (named["out"] / "grades.csv").read_bytes() == named["grades_first"]


@pytest.mark.slow
def test_every_submission_has_a_row_and_its_own_results_folder(named):
    out = named["out"]
    got = [r["submission"] for r in rows(out)]
    assert sorted(got) == sorted([*NAMES.values(), "twin", "twin", "prints_controls", "zz_honest"])
    folders = result_folders(out)
    assert len(folders) == len(named["subs"])
    for folder in folders:
        assert (folder / "results.json").is_file()
    assert (out / "grades.csv").is_file() and (out / "junit.xml").is_file()


@pytest.mark.slow
def test_names_do_not_change_scores(named):
    by_name = {r["submission"]: r for r in rows(named["out"])}
    for name in ("zz_honest", "grades.csv"):
        assert (by_name[name]["score"], by_name[name]["max_score"]) == ("7", "7")
    assert read_results(named["out"], "zz_honest")["score"] == 7


@pytest.mark.slow
def test_what_a_student_printed_is_kept_readable(named):
    by_name = {r["submission"]: r for r in rows(named["out"])}
    assert (by_name["prints_controls"]["score"], by_name["prints_controls"]["mini"]) == ("5", "4")
    outputs = [t["output"] for t in read_results(named["out"], "prints_controls")["tests"]]
    assert any("bad \ufffd \x1b[31m \x00 end" in o for o in outputs), outputs


@pytest.mark.slow
def test_no_cell_starts_a_spreadsheet_formula(named):
    for row in rows(named["out"]):
        assert not row["submission"].startswith(("=", "+", "-", "@", "\t", "\r")), row


@pytest.mark.slow
def test_junit_is_well_formed_xml_without_control_characters(named):
    text = (named["out"] / "junit.xml").read_text(encoding="utf-8")
    assert not XML_FORBIDDEN.search(text)
    suites = ET.fromstring(text).findall("testsuite")
    assert len(suites) == len(named["subs"])
    assert MARKUP_NAME in {s.get("name") for s in suites}


@pytest.mark.slow
def test_the_terminal_sees_no_raw_control_characters_and_no_markup(named):
    for proc in (named["first"], named["again"]):
        assert not RAW_TERMINAL_CONTROLS.search(proc.stdout + proc.stderr)
    assert MARKUP_NAME in named["first"].stdout
    assert "caf\ufffd" in named["first"].stdout


def test_a_carriage_return_in_a_name_does_not_split_its_row():
    names = ["a\rb", "c\nd", "e"]
    text = csv_report.render([SubmissionResult(name=n, slug="s", exercises=[]) for n in names], [])
    assert [row["submission"] for row in csv.DictReader(io.StringIO(text, newline=""))] == names


@pytest.mark.parametrize("name", ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_cells_are_quoted_as_owasp_recommends(name):
    text = csv_report.render([SubmissionResult(name=name, slug="s", exercises=[])], [])
    cell = next(csv.DictReader(io.StringIO(text, newline="")))["submission"]
    assert cell == "'" + name


class _FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_prints_names_literally(monkeypatch):
    from grader.progress import Progress

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    stream = _FakeTerminal()
    progress = Progress(2, 0, stream)
    for name in (MARKUP_NAME, ESC_NAME):
        progress.advance(SubmissionResult(name=name, slug="s", exercises=[]))
    progress.close()
    shown = stream.getvalue()
    assert MARKUP_NAME in shown
    assert "\x07" not in shown and "a\\x1b[31mred\\x07" in shown
