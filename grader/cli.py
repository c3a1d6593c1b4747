"""The ``grader`` command.

Exit codes: 0 grading completed (whatever the scores), 2 usage error,
3 the assignment itself is broken (a suite does not load), 4 a submission
scored under ``--fail-under`` (only with it), 5 the grader's
own machinery failed some submissions even after grading them again (their
rows say so, none is kept for resuming: running the same command again
grades them), 130 interrupted (Ctrl-C; what was graded is kept), 1 anything
else.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import NoReturn

from .failunder import Floor
from .safetext import for_terminal

FAILED_UNDER = 4
GRADER_FAILED = 5


def _table(outcome) -> str:
    """The summary; names and reasons come from students, so their control
    characters are shown escaped, never sent to the terminal."""
    exercises = outcome.exercises
    names = [for_terminal(r.name) for r in outcome.results]
    name_w = max([10] + [len(n) for n in names])
    head = f"{'submission':<{name_w}}  {'score':>9}  " + "  ".join(f"{e:>10}" for e in exercises)
    lines = [head, "-" * len(head)]
    for r, name in zip(outcome.results, names, strict=True):
        scores = r.exercise_scores()
        cells = "  ".join(f"{scores.get(e, (0, 0))[0]:>6g}/{scores.get(e, (0, 0))[1]:<3g}" for e in exercises)
        lines.append(f"{name:<{name_w}}  {r.score:>5g}/{r.max_score:<3g}  {cells}")
        if r.error:
            lines.append(f"{'':<{name_w}}  ! {for_terminal(r.error.splitlines()[0][:150])}")
    return "\n".join(lines)


def _print_most_failed(results) -> None:
    """The five tests the class failed most (tests.csv has them all)."""
    from .reporters.tests_csv import most_failed

    worst = most_failed(results, 5)
    if worst:
        print("most failed tests:")
        for row in worst:
            name, nodeid = for_terminal(row.name), for_terminal(row.nodeid)
            print(f"  {row.not_passed:>4} of {row.ran:<4} {row.exercise}: {name}  ({nodeid})")


def _github_usable(args: argparse.Namespace) -> bool:
    from .reporters.github import OUTPUT_ENV, SUMMARY_ENV

    if args.github and not (os.environ.get(OUTPUT_ENV) or os.environ.get(SUMMARY_ENV)):
        print(
            f"grader: --github writes to ${OUTPUT_ENV} and ${SUMMARY_ENV}, which GitHub Actions sets; "
            "neither is set here (set them to files to try it)",
            file=sys.stderr,
        )
        return False
    return True


def _under_floor(args: argparse.Namespace, results) -> list:
    """The submissions under ``--fail-under``, said on stderr."""
    if args.fail_under is None:
        return []
    under = [r for r in results if args.fail_under.below(r)]
    for r in under:
        print(
            f"grader: {for_terminal(r.name)} scored {r.score:g}/{r.max_score:g}, under --fail-under {args.fail_under}",
            file=sys.stderr,
        )
    return under


def _load_roster(args: argparse.Namespace):
    """The roster, or None; raises RosterError for a usage error."""
    from .roster import Roster, RosterError

    if (args.roster is None) != (args.name_pattern is None):
        raise RosterError("--roster and --name-pattern go together: the pattern finds each student in a name")
    return Roster.load(args.roster, args.name_pattern) if args.roster else None


def _print_roster(roster, results) -> None:
    """Submissions matched to no single student, and students without a submission."""
    names = [r.name for r in results]
    matching = roster.match(names)
    if matching.reason:
        print(f"{len(matching.reason)} submission(s) not matched to a single student:")
        for n, why in matching.reason.items():
            print(f"  {for_terminal(names[n])}: {for_terminal(why)}")
    if matching.missing:
        print(f"{len(matching.missing)} student(s) in the roster without a submission (a row each in grades.csv):")
        for i in matching.missing:
            print(f"  {for_terminal(', '.join(v for v in roster.rows[i].values() if v))}")


def _feedback_outputs(args: argparse.Namespace) -> tuple[str, ...]:
    """``--feedback md|html`` (and ``--hidden-feedback hint``) as reporter names."""
    if not args.feedback:
        return ()
    return (f"feedback.{args.feedback}" + (":hints" if args.hidden_feedback == "hint" else ""),)


def _cluster_usable(args: argparse.Namespace) -> bool:
    """--scheduler and --cluster: one at most, well formed, and Dask installed."""
    if not (args.scheduler or args.cluster):
        return True
    why = None
    if args.scheduler and args.cluster:
        why = "--scheduler and --cluster are alternatives: a running cluster's address, or local:N"
    elif args.cluster and not re.fullmatch(r"local:[1-9][0-9]*", args.cluster):
        why = f"--cluster takes local:N (N worker processes on this machine), not {args.cluster!r}"
    else:
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            why = "grading on a cluster needs Dask: pip install 'grader[dask]'"
    if why:
        print(f"grader: {why}", file=sys.stderr)
    return why is None


def cmd_run(args: argparse.Namespace) -> int:
    from .assignment import AssignmentError
    from .batch import BatchOptions, run_batch
    from .roster import RosterError
    from .sandbox import SandboxUnavailable
    from .vocabulary import GITHUB

    if not _github_usable(args):
        return 2
    try:
        roster = _load_roster(args)
    except RosterError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    jobs = args.jobs or os.cpu_count() or 1
    opts = BatchOptions(
        submissions=args.submissions,
        out=Path(args.out),
        jobs=jobs,
        isolation=args.isolation,
        call_timeout=args.timeout,
        submission_timeout=args.submission_timeout,
        resume=not args.no_resume,
        junit=args.junit,
        outputs=((GITHUB,) if args.github else ()) + _feedback_outputs(args),
        roster=roster,
        assignment=args.assignment,
        warm_up={"on": True, "off": False}.get(args.warm_up),
        scheduler=args.scheduler,
        cluster=args.cluster,
    )
    if not _cluster_usable(args):
        return 2
    try:
        outcome = run_batch(opts)
    except (AssignmentError, SandboxUnavailable) as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        # Each finished submission's results and grades.csv row are on disk already.
        print(
            f"\ngrader: interrupted. What was graded is kept in {args.out}; run the same "
            "command again to grade the rest (finished submissions are not graded again).",
            file=sys.stderr,
        )
        return 130
    _summarize(args, outcome, jobs, roster)
    under = _under_floor(args, outcome.results)
    if outcome.failures:
        return GRADER_FAILED
    return FAILED_UNDER if under else 0


def _summarize(args: argparse.Namespace, outcome, jobs: int, roster) -> None:
    """The run's summary: the table, where and how it graded, and what the grader failed."""
    print()
    print(_table(outcome))
    print()
    cluster = args.scheduler or args.cluster
    where = f"on the Dask cluster {cluster}" if cluster else f"with -j {jobs}"
    print(f"graded {len(outcome.results)} submission(s) in {outcome.elapsed:.1f} s {where}")
    print("isolation: " + ("; ".join(outcome.protections) if outcome.protections else "n/a (nothing new to grade)"))
    print(
        "GPU lane: "
        + ("ran" if outcome.gpu_lane else "skipped (no CUDA here): GPU tests count for nothing, scores are CPU-only")
    )
    _print_most_failed(outcome.results)
    if roster is not None:
        _print_roster(roster, outcome.results)
    print(f"wrote {Path(args.out) / 'grades.csv'} and {Path(args.out)}/<submission>/results.json")
    if outcome.failures:
        print(
            f"grader: {len(outcome.failures)} submission(s) NOT graded: the grader itself failed "
            "(not the students' code); run the same command again to grade them:",
            file=sys.stderr,
        )
        for name, why in outcome.failures:
            print(f"  {for_terminal(name)}: {for_terminal(why)}", file=sys.stderr)


def cmd_audit(args: argparse.Namespace) -> int:
    from .assignment import AssignmentError
    from .audit import render_csv, run_audit
    from .reportio import write_text_atomic

    out = Path(args.out)
    try:
        rows = run_audit(args.assignment, out, args.jobs or os.cpu_count() or 1)
    except AssignmentError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 3
    write_text_atomic(out / "audit.csv", render_csv(rows))
    width = max([7] + [len(r.variant) for r in rows])
    print(f"\n{'variant':<{width}}  {'module':<12}  {'expected':<28}  {'got':>9}  verdict")
    for r in rows:
        print(f"{r.variant:<{width}}  {r.module:<12}  {r.expected:<28}  {r.got:>9}  {'ok' if r.holds else 'WRONG'}")
    wrong = sum(not r.holds for r in rows)
    print(f"\n{len(rows) - wrong} of {len(rows)} rows hold; wrote {out / 'audit.csv'}")
    if wrong:
        print(
            f"grader: {wrong} row(s) do not hold: a suite gives junk points, misses a bug, or fails a "
            "correct variant (see the WRONG rows)",
            file=sys.stderr,
        )
    return 1 if wrong else 0


def cmd_package(args: argparse.Namespace) -> int:
    from .assignment import Assignment, AssignmentError
    from .package import build_gradescope

    try:
        assignment = Assignment.locate(args.assignment)
    except AssignmentError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 3
    path = build_gradescope(Path(args.out), assignment.root)
    print(f"wrote {path}: upload it as the autograder of a Gradescope programming assignment")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .gradebook import ExportError, export_canvas
    from .reportio import write_text_atomic
    from .vocabulary import CANVAS_CSV

    try:
        export = export_canvas(Path(args.dir), args.title)
    except ExportError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    path = Path(args.output) if args.output else Path(args.dir) / CANVAS_CSV
    write_text_atomic(path, export.text)
    print(f"wrote {path}: {export.students} student(s); import it in Canvas's gradebook (Import)")
    if export.left_out:
        print(f"left out {len(export.left_out)} submission(s) matched to no student (see grades.csv's reason):")
        for name in export.left_out:
            print(f"  {for_terminal(name)}")
    for who in export.several:
        print(f"  {for_terminal(who)} handed in several submissions: the highest score is exported")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from . import sandbox

    ok_all = True
    for name, ok, detail in sandbox.doctor():
        print(f"{'ok ' if ok else 'NO '} {name:<12} {detail}")
        ok_all &= ok or name == "torchvision"
    print("mode: GRADER_SANDBOX=" + sandbox.mode())
    return 0 if ok_all else 1


def cmd_release(args: argparse.Namespace) -> int:
    from .kit import ReleaseError, release

    try:
        summary = release(
            args.assignment,
            Path(args.out),
            record_from=[Path(p) for p in args.record_from],
            mutants=not args.no_mutants,
            jobs=args.jobs or os.cpu_count() or 1,
            log=lambda line: print(line, file=sys.stderr),
        )
    except ReleaseError as exc:
        print(f"grader: release refused, nothing written: {exc}", file=sys.stderr)
        return 3
    print(
        f"wrote the kit {summary.out}: {len(summary.exercises)} exercise(s), {summary.visible} visible test(s) "
        f"({summary.hidden} hidden test(s) left out), {summary.answers} recorded reference answer(s) from "
        f"{summary.recorded_from} submission(s)"
        + (f", {summary.dropped} dropped as not reproducible" if summary.dropped else "")
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .check import run_check

    return run_check(args.submission, args.kit, args.format, args.timeout)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description="Grade PyTorch exercise submissions.")
    sub = p.add_subparsers(dest="command", required=True)
    _add_run(sub.add_parser("run", help="grade submissions and write grades.csv and results.json"))
    _add_tools(sub)
    return p


def _add_run(r: argparse.ArgumentParser) -> None:
    """`grader run`: what to grade, how, and where."""
    r.add_argument(
        "submissions",
        nargs="+",
        metavar="SUBMISSION",
        help="a folder, a .ipynb notebook or a .zip archive, per student",
    )
    r.add_argument("--out", required=True, metavar="DIR", help="where grades.csv and results go")
    r.add_argument("-j", "--jobs", type=int, default=0, help="submissions graded at once (default: CPUs)")
    r.add_argument("--assignment", metavar="DIR", help="folder holding suites/ and solutions/")
    r.add_argument(
        "--isolation",
        choices=("process", "inline"),
        default="process",
        help="inline runs student code inside the judge: only for trusted code",
    )
    r.add_argument("--timeout", type=float, default=10.0, help="seconds per call into student code")
    r.add_argument("--submission-timeout", type=float, default=600.0, help="seconds per submission")
    r.add_argument("--no-resume", action="store_true", help="grade everything again")
    _add_run_outputs(r)


def _add_run_outputs(r: argparse.ArgumentParser) -> None:
    """`grader run`'s outputs beyond the default ones, and where it grades."""
    r.add_argument("--junit", action="store_true", help="also write DIR/junit.xml")
    r.add_argument(
        "--github",
        action="store_true",
        help="GitHub Actions: a Classroom runner result (result=...) in $GITHUB_OUTPUT "
        "and a Markdown table in $GITHUB_STEP_SUMMARY",
    )
    r.add_argument(
        "--fail-under",
        type=Floor.parse,
        metavar="SCORE|PCT",
        help="exit 4 when a submission scores under this (points, or a percentage such as 60%%)",
    )
    r.add_argument(
        "--warm-up",
        choices=("auto", "on", "off"),
        default="auto",
        help="run the suites once against the reference before grading, so every "
        "judge starts warm (auto: from 24 submissions per job; grades are the same)",
    )
    r.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on a running Dask cluster (tcp://host:8786): same outputs, written here; "
        "every node needs this grader installed (README: Grading on a cluster)",
    )
    r.add_argument(
        "--cluster",
        metavar="local:N",
        help="grade on a Dask cluster of N worker processes started on this machine",
    )
    r.add_argument(
        "--roster",
        metavar="FILE",
        help="CSV of the students (a gradebook export works): grades.csv gets their columns, "
        "and a row for each student without a submission",
    )
    r.add_argument(
        "--name-pattern",
        metavar="REGEX",
        help="finds the student in a submission's name: its named group names the roster column "
        "(e.g. '(?P<login>[a-z0-9]+)'); without one, the first group is looked up in the first column",
    )
    r.add_argument(
        "--feedback", choices=("md", "html"), help="also write DIR/<submission>/feedback.md (or .html) for students"
    )
    r.add_argument(
        "--hidden-feedback",
        choices=("none", "hint"),
        default="none",
        help="what feedback files say of a failed hidden test beyond that it failed: nothing, or its hint",
    )
    r.set_defaults(func=cmd_run)


def _add_tools(sub: argparse._SubParsersAction) -> None:
    """The other commands: audit, package, export, doctor, release, check."""
    a = sub.add_parser(
        "audit",
        help="check that the suites give the reference every point, stubs and junk none, and catch every mutant",
    )
    a.add_argument("--assignment", metavar="DIR", help="folder holding suites/, solutions/, exercises/")
    a.add_argument("--out", default="audit-out", metavar="DIR", help="where audit.csv and the grading go")
    a.add_argument("-j", "--jobs", type=int, default=0, help="submissions graded at once (default: CPUs)")
    a.set_defaults(func=cmd_audit)
    k = sub.add_parser("package", help="build a platform's autograder bundle from the assignment")
    k.add_argument("platform", choices=("gradescope",), help="gradescope: BUILD/autograder.zip")
    k.add_argument("--out", required=True, metavar="BUILD", help="folder for the bundle")
    k.add_argument("--assignment", metavar="DIR", help="folder holding suites/ and solutions/")
    k.set_defaults(func=cmd_package)
    e = sub.add_parser("export", help="write a gradebook import file from a graded folder (run with --roster)")
    e.add_argument("dir", metavar="DIR", help="the folder `grader run --out` wrote")
    e.add_argument("--format", choices=("canvas",), required=True, help="canvas: Canvas's gradebook import CSV")
    e.add_argument("--title", required=True, help="the assignment's column title in the gradebook")
    e.add_argument("-o", "--output", metavar="FILE", help="where to write it (default DIR/<format>.csv)")
    e.set_defaults(func=cmd_export)
    d = sub.add_parser("doctor", help="show which sandbox protections this machine supports")
    d.set_defaults(func=cmd_doctor)
    rel = sub.add_parser("release", help="build the student kit: stubs, notebook, visible tests, recorded reference")
    rel.add_argument("--out", required=True, metavar="KIT", help="the kit's folder (created; a kit there is replaced)")
    rel.add_argument("--assignment", metavar="DIR", help="folder holding suites/ and the marked solutions/")
    rel.add_argument(
        "--record-from",
        nargs="*",
        default=[],
        metavar="SUBMISSION",
        help="more submissions whose runs the reference's answers are recorded for (beyond the reference, "
        "the stubs and tests/mutants/)",
    )
    rel.add_argument("--no-mutants", action="store_true", help="do not record answers for tests/mutants/")
    rel.add_argument("-j", "--jobs", type=int, default=0, help="submissions graded at once (default: CPUs)")
    rel.set_defaults(func=cmd_release)
    c = sub.add_parser("check", help="a student's check of their work against a kit's visible tests")
    c.add_argument("submission", nargs="?", metavar="SUBMISSION", help="default: the kit's exercises/ folder")
    c.add_argument("--kit", metavar="KIT", help="the kit's folder (default: the current folder)")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds per call into your code")
    c.set_defaults(func=cmd_check)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "jobs", 0) and args.jobs < 0:
        print("grader: -j must be positive", file=sys.stderr)
        return 2
    return args.func(args)


def exit_now(code: int) -> NoReturn:
    """Exit with every output file written and closed: skip the interpreter's
    teardown, which spends a second or two unwinding torch's modules."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def entry() -> None:
    # A name this terminal's encoding cannot show is printed escaped, not a traceback.
    sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]  # an entry point: a TextIOWrapper
    exit_now(main())


if __name__ == "__main__":
    entry()
