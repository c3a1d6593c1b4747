"""The student side of the boundary: everything here runs next to student code.

Nothing in this package is trusted by the judge.  It imports the
submission, keeps the objects it makes in a table, and answers the judge's
requests with plain data (see :mod:`grader.protocol`).
"""
