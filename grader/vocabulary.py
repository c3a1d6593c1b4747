"""The words the grader's processes and files share, defined once.

Why one module: the same string crosses a boundary (judge and worker, grader
and fork server, a judge's report and the parent, a run and the next one's
resume records), so each is spelled here and imported on both sides; and a
failure is told apart by its kind, never by matching its message text.
Torch-free and import-free, so the fork server and workers can use it.
"""

from __future__ import annotations

# ---------------------------------------------------------------- file names
MANIFEST = "grader-manifest.json"  # problems found preparing a submission, beside its modules
STATE_FOLDER = ".grader-state"  # resume records, in the output folder
RESULTS_JSON = "results.json"  # per submission, Gradescope's format
GRADES_CSV = "grades.csv"
TESTS_CSV = "tests.csv"
JUNIT_XML = "junit.xml"
GITHUB = "github"  # not a file of the output folder: $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY
CANVAS_CSV = "canvas.csv"  # grader export DIR --format canvas
REPORT_HTML = "report.html"
# What the grader writes at the top of an output folder: no submission's
# results folder may take one of these names.
OUTPUT_NAMES = frozenset({GRADES_CSV, TESTS_CSV, JUNIT_XML, CANVAS_CSV, REPORT_HTML, STATE_FOLDER})

# ---------------------------------------------------------------- test statuses
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
STATUSES = (PASSED, FAILED, ERROR, SKIPPED)


class Kind:
    """What went wrong in a worker's answer to one request."""

    ERROR = "error"  # student code raised an ordinary exception
    NOT_IMPLEMENTED = "not_implemented"  # it raised NotImplementedError: not written yet
    FORBIDDEN = "forbidden"  # it called what the exercise says to write by hand
    MISSING = "missing"  # the module could not be prepared (its problem is the message)
    ABSENT = "absent"  # the submission has no such module at all
    EXIT = "exit"  # it called sys.exit
    BASE_EXCEPTION = "base_exception"  # it raised a BaseException that is not an Exception


# Failures no other input would change: not retried, not shrunk.
SETTLED_KINDS = frozenset({Kind.NOT_IMPLEMENTED, Kind.FORBIDDEN, Kind.MISSING, Kind.ABSENT})


class Lost:
    """Why a judge lost its channel to a worker."""

    TIMED_OUT = "timed_out"
    DIED = "died"
    NOT_PLAIN_DATA = "not_plain_data"  # it sent something the protocol refuses


class ZygoteOp:
    """Requests the grader sends its fork server."""

    SPAWN, PING, KILL, KILL_TAG, STOP = "spawn", "ping", "kill", "kill_tag", "stop"


class Op:
    """Requests a judge sends a worker (each is the worker core's ``op_<name>``)."""

    HELLO, PRINTED, RESET, IMPORT = "hello", "printed", "reset", "import"
    GETATTR, SETATTR, CALL, GETITEM, LEN, ITER = "getattr", "setattr", "call", "getitem", "len", "iter"
    TYPE, STRUCTURE, VJP, RELEASE, BYE = "type", "structure", "vjp", "release", "bye"
