"""grader: a sandboxed pytest + hypothesis autograder for PyTorch exercises.

The public API for grading suites (assignment content) is small:

- the ``student`` fixture (``student.conv.conv2d(x, w)``), and ``worker_path``;
- markers ``exercise``, ``points``, ``visibility``, ``forbid``, ``call_timeout``, ``gpu``;
- :mod:`grader.expect` — assertions that explain themselves;
- :mod:`grader.inspection` — ``vjp``, ``structure``, ``type_name``, ``is_instance``,
  ``source``, ``names_used``, asked alike of reference and student objects;
- ``reference("conv")`` — the reference module (recorded answers in a student kit).

Everything else is the engine's business.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["expect", "inspection", "reference", "Remote", "SettledFailure", "StudentError", "WorkerLost", "__version__"]

# Loaded on first use (PEP 562): `grader run` starts its sandboxed fork server
# before this process pays for `import torch`, so the two imports overlap.
_FROM_REMOTE = ("Remote", "SettledFailure", "StudentError", "WorkerLost")


def __getattr__(name: str) -> Any:
    if name in ("expect", "inspection"):
        return importlib.import_module(f"{__name__}.{name}")
    if name == "reference":
        return importlib.import_module(f"{__name__}.oracle").reference
    if name in _FROM_REMOTE:
        return getattr(importlib.import_module(f"{__name__}.remote"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
