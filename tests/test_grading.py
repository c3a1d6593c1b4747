"""`grader run` end to end on the engine's mini assignment: real processes, real files."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import MINI, ROOT, read_grades, read_results, run_grader, write_submission

REF = (MINI / "solutions" / "mini.py").read_text()
OTHER = "def answer():\n    return 42\n"
BROKEN = {
    "crash": REF.replace("return x * 2", "import os; os._exit(3)"),
    "hang": REF.replace("return x * 2", "while True: pass"),
    "sleeper": REF.replace("return x * 2", "import time; time.sleep(10**6)"),
    "exits": REF.replace("return x * 2", "import sys; sys.exit(0)"),
    "interrupt": REF.replace("return x * 2", "raise KeyboardInterrupt"),
    "raises": REF.replace("return x * 2", "return x.nope()"),
    "stub": REF.replace("return x * 2", "raise NotImplementedError").replace("return a + b", "raise NotImplementedError")
            .replace("return x * self.k", "raise NotImplementedError"),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    subs = [write_submission(base / "reference", {"mini.py": REF, "other.py": OTHER})]
    for name, src in BROKEN.items():
        subs.append(write_submission(base / name, {"mini.py": src, "other.py": OTHER}))
    subs.append(write_submission(base / "no_mini", {"other.py": OTHER}))
    subs.append(write_submission(base / "import_error", {"mini.py": "import not_a_module\n", "other.py": OTHER}))
    subs.append(base / "does_not_exist")
    out = base / "out"
    proc = run_grader(["run", *subs, "--out", out, "--assignment", MINI, "--timeout", "2", "-j", "2"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc


def results_by_name(out, slug):
    return {t["name"].split(": ", 1)[1]: t for t in read_results(out, slug)["tests"]}


@pytest.mark.slow
def test_the_reference_gets_full_marks(batch):
    out, _ = batch
    row = read_grades(out)["reference"]
    assert (row["score"], row["max_score"], row["mini"], row["other"]) == ("7", "7", "6", "1")


@pytest.mark.slow
def test_grades_csv_has_the_contract_columns_in_the_assignment_order(batch):
    out, _ = batch
    header = (out / "grades.csv").read_text().splitlines()[0]
    assert header == "submission,score,max_score,mini,other"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["crash", "hang", "sleeper", "exits", "interrupt", "raises"])
def test_a_broken_function_fails_only_the_tests_that_call_it(batch, name):
    out, _ = batch
    tests = results_by_name(out, name)
    assert tests["double(x) is 2x"]["score"] == 0
    assert tests["add(2, 3) is 5"]["score"] == 1
    assert tests["Scale is an nn.Module that multiplies by k"]["score"] == 3
    assert read_grades(out)[name]["other"] == "1"


@pytest.mark.slow
@pytest.mark.parametrize("name, words", [
    ("crash", "stopped during mini.double"),
    ("hang", "did not finish within 2 seconds"),
    ("sleeper", "did not finish within 2 seconds"),
    ("exits", "called sys.exit(0)"),
    ("interrupt", "KeyboardInterrupt"),
    ("raises", "raised AttributeError"),
    ("stub", "is not implemented yet"),
])
def test_each_failure_says_what_happened_in_plain_words(batch, name, words):
    out, _ = batch
    output = results_by_name(out, name)["double(x) is 2x"]["output"]
    assert words in output
    assert "mini.double(tensor(" in output          # what was called, with which input
    assert "grader/" not in output and "Traceback" not in output


@pytest.mark.slow
def test_the_stub_scores_zero_everywhere_it_is_a_stub(batch):
    out, _ = batch
    assert read_grades(out)["stub"]["mini"] == "0"


@pytest.mark.slow
def test_a_missing_module_scores_zero_with_a_message_naming_it(batch):
    out, _ = batch
    row = read_grades(out)["no_mini"]
    assert (row["mini"], row["other"]) == ("0", "1")
    assert "no module `mini`" in results_by_name(out, "no_mini")["add(2, 3) is 5"]["output"]


@pytest.mark.slow
def test_a_module_that_fails_to_import_says_so(batch):
    out, _ = batch
    output = results_by_name(out, "import_error")["add(2, 3) is 5"]["output"]
    assert "importing mini.py raised ModuleNotFoundError" in output


@pytest.mark.slow
def test_a_path_that_does_not_exist_still_gets_a_row_and_a_reason(batch):
    out, _ = batch
    assert read_grades(out)["does_not_exist"]["score"] == "0"
    assert "does not exist" in results_by_name(out, "does_not_exist")["answer() is 42"]["output"]


@pytest.mark.slow
def test_results_json_is_gradescope_format(batch):
    out, _ = batch
    res = read_results(out, "reference")
    assert set(res) >= {"score", "tests", "execution_time", "output"}
    for t in res["tests"]:
        assert set(t) >= {"name", "score", "max_score", "output", "visibility"}
    assert res["score"] == 7


@pytest.mark.slow
def test_hidden_tests_say_only_that_they_failed(batch):
    out, _ = batch
    hidden = results_by_name(out, "stub")["Scale is an nn.Module that multiplies by k"]
    assert hidden["visibility"] == "hidden" and hidden["output"] == "This hidden test failed."


@pytest.mark.slow
def test_without_cuda_the_gpu_lane_counts_for_nothing_and_the_summary_says_so(batch):
    out, proc = batch
    gpu = results_by_name(out, "reference")["double works on CUDA tensors"]
    assert (gpu["score"], gpu["max_score"]) == (0, 0)
    assert "GPU lane: skipped" in proc.stdout


@pytest.mark.slow
def test_the_summary_names_the_active_protections(batch):
    _, proc = batch
    assert "isolation:" in proc.stdout and "rlimits" in proc.stdout


@pytest.mark.slow
def test_no_worker_outlives_the_run(batch):
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "grader.worker.zygote" not in ps


@pytest.mark.slow
def test_usage_errors_exit_non_zero_and_say_what_to_do(tmp_path):
    proc = run_grader(["run", str(tmp_path)])
    assert proc.returncode == 2 and "--out" in proc.stderr
    proc = run_grader(["run", str(tmp_path), "--out", str(tmp_path / "o"), "--assignment", str(tmp_path)])
    assert proc.returncode == 3 and "suites/" in proc.stderr


@pytest.mark.slow
def test_grading_is_deterministic_resumable_and_the_same_at_any_j(tmp_path):
    subs = [write_submission(tmp_path / n, {"mini.py": src, "other.py": OTHER})
            for n, src in [("a", REF), ("b", BROKEN["raises"]), ("c", BROKEN["stub"])]]
    o1, o2 = tmp_path / "o1", tmp_path / "o2"
    p1 = run_grader(["run", *subs, "--out", o1, "--assignment", MINI, "-j", "1"])
    p2 = run_grader(["run", *subs, "--out", o2, "--assignment", MINI, "-j", "2"])
    assert p1.returncode == p2.returncode == 0
    assert (o1 / "grades.csv").read_bytes() == (o2 / "grades.csv").read_bytes()
    for slug in "abc":
        r1, r2 = read_results(o1, slug), read_results(o2, slug)
        r1.pop("execution_time"), r2.pop("execution_time")
        assert r1 == r2
    again = run_grader(["run", *subs, "--out", o1, "--assignment", MINI])
    assert again.stdout.count("unchanged, kept") == 3
    assert (o1 / "grades.csv").read_bytes() == (o2 / "grades.csv").read_bytes()


def test_suites_are_shared_out_among_judges_as_whole_files():
    from grader.assignment import Assignment
    from grader.batch import _shards
    from grader.catalogue import collect

    assignment = Assignment.locate(str(MINI))
    counts = collect(assignment).suite_files(assignment.root)
    files = sorted(str(p) for p in (MINI / "suites").glob("test_*.py"))
    assert _shards(counts, 1) == [None]
    halves = _shards(counts, 2)
    assert len(halves) == 2 and sorted(f for half in halves for f in half) == files
    assert _shards(counts, 5) == halves  # never more judges than files


@pytest.mark.slow
@pytest.mark.parametrize("name", ["reference", "raises", "crash"])
def test_one_submission_split_among_judges_gets_the_same_results(tmp_path, name):
    """With fewer submissions than -j slots, each submission's suite files are
    shared out among judges; the merged result is the one a single judge gives."""
    src = REF if name == "reference" else BROKEN[name]
    sub = write_submission(tmp_path / name, {"mini.py": src, "other.py": OTHER})
    o1, o2 = tmp_path / "o1", tmp_path / "o2"
    p1 = run_grader(["run", sub, "--out", o1, "--assignment", MINI, "-j", "1", "--timeout", "3"])
    p2 = run_grader(["run", sub, "--out", o2, "--assignment", MINI, "-j", "2", "--timeout", "3"])
    assert p1.returncode == p2.returncode == 0, p2.stdout + p2.stderr
    assert (o1 / "grades.csv").read_bytes() == (o2 / "grades.csv").read_bytes()
    r1, r2 = read_results(o1, name), read_results(o2, name)
    r1.pop("execution_time"), r2.pop("execution_time")
    assert r1 == r2
    assert {t["name"].split(": ")[0] for t in r2["tests"]} == {"mini", "other"}


def _grade_in_background(subs, out, **popen) -> subprocess.Popen:
    """`grader run` at -j 1 in a process group of its own, with a sleeper last to keep it busy."""
    return subprocess.Popen([sys.executable, "-m", "grader.cli", "run", *map(str, subs), "--out", str(out),
                             "--assignment", str(MINI), "-j", "1", "--timeout", "30"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True, **popen)


def _wait_for_rows(out, rows: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if (out / "grades.csv").exists() and len(read_grades(out)) >= rows:
            return
        time.sleep(0.2)


def _assert_no_fork_server_left() -> None:
    time.sleep(1)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "grader.worker.zygote" not in ps


@pytest.mark.slow
def test_a_run_killed_halfway_resumes_without_losing_or_regrading(tmp_path):
    subs = [write_submission(tmp_path / f"s{i}", {"mini.py": REF, "other.py": OTHER}) for i in range(4)]
    subs.append(write_submission(tmp_path / "slow", {"mini.py": BROKEN["sleeper"], "other.py": OTHER}))
    out = tmp_path / "out"
    proc = _grade_in_background(subs, out, stderr=subprocess.STDOUT)
    _wait_for_rows(out, 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = set(read_grades(out))
    assert done_before, "nothing was written before the kill"
    again = run_grader(["run", *subs, "--out", out, "--assignment", MINI, "--timeout", "1"])
    assert again.returncode == 0
    assert set(read_grades(out)) == {f"s{i}" for i in range(4)} | {"slow"}
    assert again.stdout.count("unchanged, kept") >= len(done_before)
    _assert_no_fork_server_left()


@pytest.mark.slow
def test_ctrl_c_stops_the_run_keeps_what_was_graded_and_says_how_to_go_on(tmp_path):
    subs = [write_submission(tmp_path / f"s{i}", {"mini.py": REF, "other.py": OTHER}) for i in range(3)]
    subs.append(write_submission(tmp_path / "slow", {"mini.py": BROKEN["sleeper"], "other.py": OTHER}))
    out = tmp_path / "out"
    # As from a terminal: a background job (CI's, a shell's `&`) starts with
    # SIGINT ignored, and Python would keep it so.
    proc = _grade_in_background(subs, out, stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for_rows(out, 3)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run the same command again" in err and "Traceback" not in err, err
    assert set(read_grades(out)) == {"s0", "s1", "s2"}
    _assert_no_fork_server_left()


@pytest.mark.slow
def test_a_failing_property_test_shows_what_its_failing_input_printed(mini_grade, tmp_path):
    """Hypothesis tries many inputs before it reports the smallest failing one:
    the student sees the prints of that one input, not a tail mixing them all."""
    src = REF.replace("return x * 2", "print('debug: got', x.tolist())\n    return x * 3")
    src = src.replace("return a + b", "print('adding', a, b)\n    return a + b")
    sub = write_submission(tmp_path / "printer", {"mini.py": src, "other.py": OTHER})
    out, _ = mini_grade(sub)
    tests = results_by_name(out, "printer")
    double = next(t for name, t in tests.items() if "double" in name)
    assert double["score"] == 0
    printed = double["output"].split("Your code printed for the input above (the last lines):\n")[1]
    assert printed.strip() == "debug: got [1.0]"  # the falsifying input's print, and only its
    add = next(t for name, t in tests.items() if "add" in name)
    assert add["score"] == add["max_score"] and "printed" not in add["output"]


@pytest.mark.slow
def test_a_reference_that_hangs_is_given_up_by_the_warm_up_at_its_budget(tmp_path):
    """An instructor's endless loop in the reference must not stall `grader run`
    before anyone is graded: the warm-up gives up and grading goes on."""
    assignment = tmp_path / "assignment"
    shutil.copytree(MINI, assignment)
    ref = assignment / "solutions" / "mini.py"
    ref.write_text(ref.read_text().replace("return x * 2", "while True: pass"))
    code = ("import sys; from grader.assignment import Assignment; from grader.catalogue import collect; "
            "from grader.warmup import warm_up; a = Assignment.locate(sys.argv[1]); "
            "collect(a); print('warm-up:', warm_up(a, budget=2))")
    for folder, said in [(MINI, "None"), (assignment, "ran past 2 s")]:
        proc = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True,
                              timeout=300, cwd=ROOT)
        assert proc.returncode == 0 and said in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_reference_that_fails_its_own_suites_is_reported_and_grading_goes_on(tmp_path):
    assignment = tmp_path / "assignment"
    shutil.copytree(MINI, assignment)
    ref = assignment / "solutions" / "mini.py"
    ref.write_text(ref.read_text().replace("return x * self.k", "return x * self.k + 1"))
    sub = write_submission(tmp_path / "alice", {"mini.py": REF, "other.py": OTHER})
    proc = run_grader(["run", sub, "--out", tmp_path / "out", "--assignment", assignment, "--warm-up", "on"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the reference solution does not pass every test of its own suites" in proc.stderr
    assert f"--grader-submission {assignment / 'solutions'}" in proc.stderr
    assert "alice" in read_grades(tmp_path / "out")


@pytest.mark.slow
def test_a_students_module_imports_its_own_sibling_even_after_an_inline_warm_up(mini_grade, tmp_path):
    """The warm-up runs the reference inline in the parent; a submission's own
    `import other` must still find the submission's other.py, not the
    reference's module left in the parent's sys.modules."""
    src = REF.replace("return x * 2", "import other\n    return x * 2 if other.answer() == 42 else x * 0")
    sub = write_submission(tmp_path / "sibling", {"mini.py": src, "other.py": "def answer():\n    return 41\n"})
    out, _ = mini_grade(sub, extra=["--isolation", "inline", "--warm-up", "on"])
    double = next(t for name, t in results_by_name(out, "sibling").items() if "double" in name)
    assert double["score"] == 0, double


def test_the_cli_reaches_the_fork_server_launch_without_importing_torch():
    """`grader run` launches its sandboxed fork server before its own `import torch`,
    so the two imports overlap on a cold start: nothing on that path may import torch."""
    code = ("import sys, grader, grader.cli, grader.batch, grader.sandbox, grader.forkserver, "
            "grader.assignment, grader.submissions, grader.results, grader.progress; "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_the_parent_warms_up_only_when_enough_judges_follow_to_repay_it():
    from grader.batch import warm_up_wanted

    assert not warm_up_wanted(None, 1, 2)  # a cold start grades at once
    assert not warm_up_wanted(None, 6, 2)
    assert warm_up_wanted(None, 200, 2)
    assert warm_up_wanted(True, 1, 1) and not warm_up_wanted(False, 200, 2)
    assert not warm_up_wanted(True, 0, 1)  # everything was kept from an earlier run


def test_judge_slots_get_a_cpu_each_while_there_are_enough():
    from grader.batch import cpu_slots

    assert cpu_slots(1, [0, 1, 2, 3]) == [0]
    assert cpu_slots(2, [3, 5]) == [3, 5]
    assert cpu_slots(3, [0, 1]) == [None, None, None]  # more judges than CPUs: the scheduler places them
    assert cpu_slots(0, [0]) == [0]


@pytest.mark.slow
def test_a_worker_runs_on_its_judges_cpu(mini_grade, tmp_path):
    """Judge and worker take turns; on one CPU each hands over to the other
    without waking a second CPU (which is slow in a virtual machine)."""
    src = REF.replace("return x * 2", "import os\n    print('cpus', sorted(os.sched_getaffinity(0)))\n"
                                      "    return x * 3")
    sub = write_submission(tmp_path / "pinned", {"mini.py": src, "other.py": OTHER})
    out, _ = mini_grade(sub, extra=["-j", "1"])
    double = next(t for name, t in results_by_name(out, "pinned").items() if "double" in name)
    first_cpu = sorted(os.sched_getaffinity(0))[0]
    assert double["output"].rstrip().endswith(f"cpus [{first_cpu}]")


@pytest.mark.slow
def test_a_submission_past_its_time_budget_is_stopped_and_still_gets_a_row(mini_grade, tmp_path):
    """The per-call timeout (30 s here) never fires first: the judge's own budget
    stops it, the row says why, and the rest of the class is graded as usual."""
    slow = write_submission(tmp_path / "slow", {"mini.py": BROKEN["sleeper"], "other.py": OTHER})
    ref = write_submission(tmp_path / "ref", {"mini.py": REF, "other.py": OTHER})
    out, _ = mini_grade(slow, ref, extra=["--timeout", "30", "--submission-timeout", "3", "-j", "2"])
    grades = read_grades(out)
    assert float(grades["slow"]["score"]) == 0
    assert "longer than 3 s and was stopped" in read_results(out, "slow")["output"]
    assert float(grades["ref"]["score"]) > 0


@pytest.mark.slow
def test_pytest_plugins_installed_on_the_machine_do_not_reach_the_judges(tmp_path):
    """A pytest plugin that some package installed (here: one failing every test)
    is loaded by a plain `pytest`, never by a judge: scores depend on the suites only."""
    site = tmp_path / "site"
    (site / "sabotage-1.0.dist-info").mkdir(parents=True)
    (site / "sabotage-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: sabotage\nVersion: 1.0\n")
    (site / "sabotage-1.0.dist-info" / "entry_points.txt").write_text("[pytest11]\nsabotage = sabotage_plugin\n")
    (site / "sabotage_plugin.py").write_text(
        "def pytest_runtest_call(item):\n    raise AssertionError('sabotaged')\n")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    loaded = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; "
                             "print(sorted(e.name for e in m.entry_points(group='pytest11')))"],
                            capture_output=True, text=True, env={**os.environ, **env})
    assert "sabotage" in loaded.stdout  # pytest would load it
    sub = write_submission(tmp_path / "ref", {"mini.py": REF, "other.py": OTHER})
    out = tmp_path / "out"
    proc = run_grader(["run", sub, "--out", out, "--assignment", MINI], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = read_grades(out)["ref"]
    assert row["score"] == row["max_score"], read_results(out, "ref")


GATED_JUDGE = r"""
import json, os, socket, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from grader.assignment import Assignment
from grader.catalogue import collect
from grader.judges import JudgeTemplate
assignment = Assignment.locate(sys.argv[1])
collect(assignment)
sub, scratch, told = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
report, log = scratch / "report.json", scratch / "judge.log"
template = JudgeTemplate(assignment, "inline", 10.0, placeholder=scratch / "template")
ran = {}

def body():
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        ours.close()
        template.judge(sub, report, log, theirs.detach())
    theirs.close()
    if told:
        ours.sendall(told.encode() + b"\n")
    else:
        ours.shutdown(socket.SHUT_WR)
    said = ours.recv(64).decode()
    _, status = os.waitpid(pid, 0)
    ran.update({"exit": os.waitstatus_to_exitcode(status), "said": said,
                "tests": json.loads(report.read_text())["tests"] if report.exists() else None,
                "log": log.read_text() if log.exists() else ""})

template.run(body)
print(json.dumps(ran))
"""


@pytest.mark.slow
@pytest.mark.parametrize("told", ["", "go -"])
def test_a_judge_forked_ahead_of_its_turn_grades_only_once_started(tmp_path, told):
    """`grader run` sets pytest up and collects the suites once, in a template
    session, and forks each judge from it (the next one while the others
    grade); a judge waits at its gate.  Started ("go"), it grades its own
    submission, with pytest's output in its log, and says "done" once its
    report is written (its slot goes to the next judge while this process is
    torn down); if the run ends first (the gate closes), it exits without
    grading anyone."""
    from grader.judges import JUDGE_NEVER_STARTED

    sub = write_submission(tmp_path / "ref", {"mini.py": REF, "other.py": OTHER})
    proc = subprocess.run([sys.executable, "-c", GATED_JUDGE, str(MINI), str(sub), str(tmp_path), told],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = json.loads(proc.stdout.splitlines()[-1])
    if told:
        statuses = {t["name"]: t["status"] for t in ran["tests"]}
        assert ran["exit"] == 0 and ran["said"] == "done\n" and statuses["add(2, 3) is 5"] == "passed", ran
        assert set(statuses.values()) == {"passed", "skipped"}, statuses  # skipped: the GPU lane
        assert "passed" in ran["log"] and "mini" in ran["log"], ran["log"]  # the grader's summary
    else:
        assert ran == {"exit": JUDGE_NEVER_STARTED, "said": "", "tests": None, "log": ""}


def test_a_sandbox_this_machine_cannot_give_stops_the_run_saying_what_to_do(tmp_path):
    """GRADER_SANDBOX=bwrap where bubblewrap does not work: nobody is graded
    with less than was asked, and the instructor reads why and what to do, not a traceback."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    sub = write_submission(tmp_path / "ada", {"mini.py": "def double(x):\n    return x * 2\n"})
    proc = run_grader(["run", sub, "--out", tmp_path / "out", "--assignment", MINI],
                      env={"GRADER_SANDBOX": "bwrap", "PATH": f"{fake}:{os.environ['PATH']}"})
    assert proc.returncode == 3, proc.stderr
    assert "bubblewrap" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()
