"""Notebooks to modules: what a student's cells mean as Python files.

Rules (also in the README): a per-module notebook (``conv.ipynb``) is the
module ``conv``, all of its code cells in order.  In a single notebook for
the whole assignment, a code cell belongs to the module named by its first
line ``# exercise: <module>`` or by its tag ``exercise:<module>``; unmarked
cells are ignored, except cells made only of imports, which are kept at the
top of every module (students usually import torch once, at the top).
IPython magics (``%time``, ``!pip``) are commented out.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from . import untrusted
from .safetext import display_name

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_CELLS = 20_000
_MARK = re.compile(r"^\s*#\s*exercise\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_TAG = re.compile(r"^exercise:([A-Za-z_][A-Za-z0-9_]*)$")


class NotebookError(Exception):
    """The notebook cannot be read; the message says why, for the student."""


def _read(path: Path):
    """The code cells, once the notebook is known to be a regular file
    within the size and cell limits: nbformat's parsing and validation of
    every cell are what a huge notebook would make expensive."""
    import nbformat

    name = display_name(path.name)
    try:
        data = untrusted.read_regular(path, MAX_NOTEBOOK_BYTES)
        cells = _cell_count(json.loads(data))
        if cells > MAX_CELLS:
            raise NotebookError(f"{name} has {cells} cells; at most {MAX_CELLS} are accepted")
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except untrusted.Refused as exc:
        raise NotebookError(str(exc)) from None
    except NotebookError:
        raise
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise NotebookError(
            f"{name} could not be read as a notebook ({type(exc).__name__}: "
            f"{str(exc)[:200]}); save it again from Jupyter and resubmit"
        ) from None
    return [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]


def _cell_count(raw) -> int:
    """The cells the file lists: ``cells`` (format 4) or those of its
    ``worksheets`` (format 3); malformed parts count for nothing here and
    are nbformat's to reject."""
    if not isinstance(raw, dict):
        return 0
    sheets = raw.get("worksheets")
    holders = sheets if isinstance(sheets, list) else [raw]
    return sum(len(h["cells"]) for h in holders if isinstance(h, dict) and isinstance(h.get("cells"), list))


def _source(cell) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(src)
    return str(src)


def strip_magics(src: str) -> str:
    lines = src.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        return "\n".join("# " + line for line in lines)
    out = []
    for line in lines:
        s = line.lstrip()
        if s.startswith(("%", "!")):
            out.append(line[: len(line) - len(s)] + "pass  # " + s)
        else:
            out.append(line)
    return "\n".join(out)


def _only_imports(src: str) -> bool:
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return False
    return bool(tree.body) and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)


_FUTURE = re.compile(r"^from __future__ import [^\n]*$", re.M)


def join_cells(parts: list[str]) -> str:
    """Cells in order, with ``from __future__`` imports moved to the top,
    where Python requires them (a cell's own first line is not the module's)."""
    src = "\n\n".join(parts)
    futures = _FUTURE.findall(src)
    if futures:
        src = "\n".join(dict.fromkeys(futures)) + "\n" + _FUTURE.sub("", src)
    return src + "\n"


def notebook_as_module(path: Path) -> str:
    """All code cells of a per-module notebook, as one module's source."""
    return join_cells([strip_magics(_source(c)) for c in _read(path)])


def split_notebook(path: Path) -> dict[str, str]:
    """The modules a whole-assignment notebook defines, by marker line or tag."""
    modules: dict[str, list[str]] = {}
    preamble: list[str] = []
    for cell in _read(path):
        src = _source(cell)
        name = None
        first = next((line for line in src.split("\n") if line.strip()), "")
        m = _MARK.match(first)
        if m:
            name = m.group(1)
        else:
            tags = cell.get("metadata", {}).get("tags", []) or []
            for tag in tags if isinstance(tags, list) else []:
                t = _TAG.match(str(tag))
                if t:
                    name = t.group(1)
                    break
        code = strip_magics(src)
        if name:
            modules.setdefault(name, []).append(code)
        elif _only_imports(code):
            preamble.append(code)
    return {name: join_cells(preamble + parts) for name, parts in modules.items()}
