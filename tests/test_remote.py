"""The judge's view of student code (`grader.remote`): what each access costs in requests."""
from collections import Counter

import pytest
import torch
from conftest import write_submission

from grader.channels import InlineChannel
from grader.remote import Student, StudentError, WorkerSession

SOURCE = """\
def twice(x):
    return 2 * x

class Box:
    def __init__(self):
        self.size = 3
"""


def counted_session(folder):
    """A session over the trusted inline channel that counts requests by operation."""
    ops = Counter()

    class Counting(InlineChannel):
        def request(self, message, blobs, timeout):
            ops[message["op"]] += 1
            return super().request(message, blobs, timeout)

    session = WorkerSession({"mod"}, lambda: Counting(str(folder)), 10.0, {}, str(folder))
    return session, Student(session), ops


def test_a_modules_functions_are_looked_up_once_per_worker(tmp_path):
    session, student, ops = counted_session(write_submission(tmp_path / "sub", {"mod.py": SOURCE}))
    session.begin_test(1, [], None)
    assert [student.mod.twice(n) for n in range(5)] == [0, 2, 4, 6, 8]
    assert ops["getattr"] == 1 and ops["call"] == 5

    session.begin_test(2, [], None)  # a later test reaches it by path: no lookup of its own
    assert student.mod.twice(4) == 8
    assert student.mod.Box().size == 3
    assert ops["getattr"] == 3  # Box's first lookup, and size


def test_a_function_that_student_code_rebinds_is_found_anew_when_used(tmp_path):
    source = SOURCE + """
def thrice(x):
    return 3 * x

def swap():
    global twice
    twice = thrice

def vanish():
    global twice
    del twice
"""
    session, student, ops = counted_session(write_submission(tmp_path / "sub", {"mod.py": source}))
    session.begin_test(1, [], None)
    assert student.mod.twice(2) == 4
    student.mod.swap()
    session.begin_test(2, [], None)
    assert student.mod.twice(2) == 6  # the path is resolved in the worker at the call
    student.mod.vanish()
    session.begin_test(3, [], None)
    with pytest.raises(StudentError, match=r"^mod\.twice\(2\) raised AttributeError: .*'twice'"):
        student.mod.twice(2)


def test_a_new_tests_reset_rides_on_its_first_request(tmp_path):
    source = """
import torch

def draw():
    return torch.rand(3)

def threads(n=None):
    if n is not None:
        torch.set_num_threads(n)
    return torch.get_num_threads()
"""
    session, student, ops = counted_session(write_submission(tmp_path / "sub", {"mod.py": source}))
    draws = []
    try:
        for test in range(3):
            session.begin_test(7, [], None)  # the same seed each time
            draws.append(student.mod.draw())
            assert student.mod.threads() == 1  # whatever the last test left
            student.mod.threads(2)
    finally:
        # Inline, the worker is this process: a failure here must not leave
        # it with two threads, which would hang the later tests' forks.
        torch.set_num_threads(1)
    assert all(torch.equal(d, draws[0]) for d in draws)
    assert "reset" not in ops


def test_plain_values_and_attributes_of_objects_are_always_fetched(tmp_path):
    session, student, ops = counted_session(write_submission(tmp_path / "sub", {"mod.py": SOURCE}))
    session.begin_test(1, [], None)
    box = student.mod.Box()
    assert box.size == 3
    box.size = 5  # a suite's setattr is seen by the next lookup
    assert box.size == 5
    assert ops["getattr"] == 3  # Box once; size twice (an object's attribute, not a module's)


def test_a_setattr_forgets_the_lookups_of_this_test(tmp_path):
    session, student, ops = counted_session(write_submission(tmp_path / "sub", {"mod.py": SOURCE}))
    session.begin_test(1, [], None)
    mod = student.mod
    first = mod.twice
    mod.twice = mod.Box  # a suite replacing a module attribute
    assert first(2) == 4
    assert mod.twice().size == 3  # looked up again: now the Box class
    assert ops["getattr"] == 4  # twice, Box, twice again, size

    mod.twice = 5  # a plain value now: later tests must not reach it by path
    session.begin_test(2, [], None)
    assert student.mod.twice == 5
