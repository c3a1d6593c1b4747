"""The judge's view of student code (`grader.remote`): what each access costs in requests."""
from collections import Counter

from conftest import write_submission
from grader.channels import InlineChannel
from grader.remote import Session, Student

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

    session = Session({"mod"}, lambda: Counting(str(folder)), 10.0, {}, str(folder))
    return session, Student(session), ops


def test_a_modules_functions_are_looked_up_once_per_test(tmp_path):
    session, student, ops = counted_session(write_submission(tmp_path / "sub", {"mod.py": SOURCE}))
    session.begin_test(1, [], None)
    assert [student.mod.twice(n) for n in range(5)] == [0, 2, 4, 6, 8]
    assert ops["getattr"] == 1 and ops["call"] == 5

    session.begin_test(2, [], None)  # a new test asks again: its objects were released
    assert student.mod.twice(4) == 8
    assert ops["getattr"] == 2


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
