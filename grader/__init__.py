"""grader: a sandboxed pytest + hypothesis autograder for PyTorch exercises.

The public API for grading suites (assignment content) is small:

- the ``student`` fixture (``student.conv.conv2d(x, w)``), and ``worker_path``;
- markers ``exercise``, ``points``, ``visibility``, ``forbid``, ``call_timeout``, ``gpu``;
- :mod:`grader.expect` — assertions that explain themselves;
- :mod:`grader.inspection` — ``vjp``, ``structure``, ``type_name``, ``is_instance``,
  ``source``, ``names_used``, asked alike of reference and student objects.

Everything else is the engine's business.
"""
from . import expect, inspection
from .remote import Remote, StudentError, WorkerLost

__version__ = "0.1.0"
__all__ = ["expect", "inspection", "Remote", "StudentError", "WorkerLost", "__version__"]
