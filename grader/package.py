"""``grader package gradescope --out BUILD``: the autograder zip Gradescope asks for.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh``
from there once when it builds the image, and for each submission copies
``run_autograder`` to ``/autograder/run_autograder`` and runs it, with the
student's files in ``/autograder/submission``; it reads the grade from
``/autograder/results/results.json``.  The zip holds, at its root:
``setup.sh`` and ``run_autograder``, ``requirements.txt`` (the grader's
dependencies), the ``grader`` package, and the assignment (``suites/``,
``solutions/``, ``grader.toml``).  ``run_autograder`` runs
:mod:`grader.autograder`.

The zip is the same bytes for the same inputs (sorted entries, fixed
dates), so a rebuilt package can be told unchanged.
"""

from __future__ import annotations

import importlib.metadata
import io
import tomllib
import zipfile
from pathlib import Path

from .reportio import write_bytes_atomic

ZIP_NAME = "autograder.zip"
_DATE = (1980, 1, 1, 0, 0, 0)
_ASSIGNMENT_PARTS = ("suites", "solutions")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, from the unpacked autograder (source/),
# when it builds the image: Python >= 3.11, bubblewrap, and the grader's
# dependencies in a virtual environment (torch's CPU build).
set -euo pipefail
ROOT="${GRADER_AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq bubblewrap python3 python3-venv python3-pip >/dev/null
PY=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY="$candidate"
    break
  fi
done
if [ -z "$PY" ]; then
  apt-get install -y -qq python3.11 python3.11-venv >/dev/null
  PY=python3.11
fi
"$PY" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install -q --upgrade pip
"$ROOT/venv/bin/python" -m pip install -q --extra-index-url https://download.pytorch.org/whl/cpu \\
  -r "$ROOT/source/requirements.txt"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission: grade what is in submission/
# (module files, one notebook, or one zip) and write results/results.json.
# Its output (the sandbox layers that were active) is for staff only.
set -uo pipefail
ROOT="${GRADER_AUTOGRADER_ROOT:-/autograder}"
export GRADER_AUTOGRADER_ROOT="$ROOT"
PY="${GRADER_PYTHON:-$ROOT/venv/bin/python}"
[ -x "$PY" ] || PY=python3
cd "$ROOT/source"
exec "$PY" -m grader.autograder
"""


def requirements() -> list[str]:
    """The grader's dependencies: from the checkout's pyproject.toml, else
    from the installed distribution's metadata."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if project.get("name") == "grader":
            return [str(d) for d in project.get("dependencies", [])]
    return [r for r in importlib.metadata.requires("grader") or [] if "extra ==" not in r]


def _files(folder: Path, prefix: str) -> list[tuple[str, Path]]:
    """Every regular file under ``folder`` as (name in the zip, path), caches and hidden files left out."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(p.startswith(".") or p == "__pycache__" for p in rel.parts) or path.suffix == ".pyc":
            continue
        if path.is_file() and not path.is_symlink():
            out.append((f"{prefix}/{rel.as_posix()}", path))
    return out


def contents(assignment_root: Path) -> list[tuple[str, bytes, int]]:
    """(name, bytes, mode) of every entry of the autograder zip, sorted by name."""
    package = Path(__file__).resolve().parent
    entries: dict[str, tuple[bytes, int]] = {
        "setup.sh": (SETUP_SH.encode(), 0o755),
        "run_autograder": (RUN_AUTOGRADER.encode(), 0o755),
        "requirements.txt": ("\n".join(requirements()).encode() + b"\n", 0o644),
    }
    files = _files(package, "grader")
    for part in _ASSIGNMENT_PARTS:
        files += _files(assignment_root / part, part)
    if (assignment_root / "grader.toml").is_file():
        files.append(("grader.toml", assignment_root / "grader.toml"))
    for name, path in files:
        entries[name] = (path.read_bytes(), 0o644)
    return [(name, data, mode) for name, (data, mode) in sorted(entries.items())]


def build_gradescope(out: Path, assignment_root: Path) -> Path:
    """Write ``out/autograder.zip`` (atomically) and return its path."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in contents(assignment_root):
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.external_attr = (0o100000 | mode) << 16  # a regular file, with its permission bits
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    path = Path(out) / ZIP_NAME
    write_bytes_atomic(path, buf.getvalue())
    return path
