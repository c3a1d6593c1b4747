"""From what a student handed in to a folder of plain modules.

Every form of the contract (a folder, per-module notebooks, one notebook with
marked cells, a zip of either) is turned into a private folder holding
``<module>.py`` files and a manifest of problems found on the way (an
unreadable notebook, a dangerous archive).  Nothing here runs student code:
it only reads and copies bytes, with limits, so a hostile submission can
spoil its own grade and nothing else.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import notebooks
from .safetext import display_name

MANIFEST = "grader-manifest.json"
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILES = 200
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_TOTAL = 100 * 1024 * 1024
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# What `grader run` writes in its out folder beside one folder per submission.
RESERVED_NAMES = frozenset({"grades.csv", "tests.csv", "junit.xml", ".grader-state"})


@dataclass(frozen=True)
class Submission:
    """One thing handed in: its display name (valid Unicode, whatever the
    file system held), where it is, a safe folder name."""

    name: str
    source: Path
    slug: str


def submission_name(path: Path) -> str:
    name = path.name
    for ext in (".ipynb", ".zip"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def slugify(name: str) -> str:
    """A folder name that is safe on every file system and never ``..``, nor
    a name the grader writes beside the results folders (``grades.csv``).

    A name kept as is must be plain ASCII; any other gets a digest of its
    bytes, so names that differ only in what was dropped stay apart.
    """
    norm = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", norm).strip("._-") or "submission"
    digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    kept = slug == name and len(slug) <= 80 and slug.lower() not in RESERVED_NAMES
    return slug if kept else f"{slug[:80]}-{digest}"


def discover(paths: list[str]) -> list[Submission]:
    """One :class:`Submission` per argument, with unique slugs, in order.

    Slugs are compared without case, so that results folders stay apart
    on case-insensitive file systems too.
    """
    subs, seen = [], set()
    for raw in paths:
        path = Path(raw)
        name = submission_name(path.resolve() if raw in (".", "..") else path) or raw
        slug = slugify(name)
        base, n = slug, 2
        while slug.lower() in seen:
            slug, n = f"{base}-{n}", n + 1
        seen.add(slug.lower())
        subs.append(Submission(display_name(name), path, slug))
    return subs


def content_key(path: Path) -> str:
    """A hash of everything a submission holds, for resuming a batch."""
    h = hashlib.sha256()
    try:
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    h.update(str(p.relative_to(path)).encode("utf-8", "surrogateescape"))
                    h.update(p.read_bytes()[:MAX_FILE_BYTES])
        elif path.is_file():
            h.update(path.read_bytes())
        else:
            h.update(b"<missing>")
    except OSError as exc:
        h.update(repr(exc).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- preparing


def prepare(source: Path, dest: Path) -> dict[str, str]:
    """Fill ``dest`` with the submission's modules; return ``{module or "*": problem}``."""
    dest.mkdir(parents=True, exist_ok=True)
    problems: dict[str, str] = {}
    try:
        if source.is_symlink():
            problems["*"] = f"{source.name} is a symbolic link; submit the real files"
        elif not source.exists():
            problems["*"] = f"the submission {str(source)!r} does not exist"
        elif source.is_dir():
            _from_folder(source, dest, problems)
        elif source.suffix.lower() == ".ipynb":
            _from_notebook(source, dest, problems)
        elif source.suffix.lower() == ".zip":
            _from_zip(source, dest, problems)
        elif source.suffix.lower() == ".py":
            _copy_file(source, dest / source.name, problems)
        else:
            problems["*"] = (f"{source.name} is not a folder, a .ipynb notebook or a .zip archive; "
                             "hand in one of those")
    except Exception as exc:  # noqa: BLE001 - never lose the row
        problems["*"] = f"the submission could not be read ({type(exc).__name__}: {str(exc)[:200]})"
    # Reasons quote file names, which need not be UTF-8.
    problems = {module: display_name(why) for module, why in problems.items()}
    (dest / MANIFEST).write_text(json.dumps({"problems": problems}, indent=1))
    return problems


def _copy_file(src: Path, dst: Path, problems: dict) -> None:
    st = src.lstat()
    if not stat.S_ISREG(st.st_mode):
        problems[src.stem] = f"{src.name} is not a regular file (a link?); submit the file itself"
        return
    if st.st_size > MAX_FILE_BYTES:
        problems[src.stem] = f"{src.name} is larger than {MAX_FILE_BYTES // 2**20} MiB"
        return
    with open(src, "rb") as f:
        dst.write_bytes(f.read(MAX_FILE_BYTES))


def _from_folder(folder: Path, dest: Path, problems: dict) -> None:
    entries = sorted(folder.iterdir(), key=lambda p: p.name)[: MAX_FILES * 5]
    count = 0
    for entry in entries:
        stem, suffix = entry.stem, entry.suffix.lower()
        if suffix not in (".py", ".ipynb") or not _MODULE_NAME.match(stem):
            continue
        count += 1
        if count > MAX_FILES:
            break
        if entry.is_symlink() or not entry.is_file():
            problems.setdefault(stem, f"{entry.name} is not a regular file (a link?); submit the file itself")
            continue
        if suffix == ".py":
            _copy_file(entry, dest / entry.name, problems)
        elif not (folder / f"{stem}.py").exists():
            try:
                (dest / f"{stem}.py").write_text(notebooks.notebook_as_module(entry), encoding="utf-8")
            except notebooks.NotebookError as exc:
                problems[stem] = str(exc)


def _from_notebook(path: Path, dest: Path, problems: dict) -> None:
    try:
        modules = notebooks.split_notebook(path)
    except notebooks.NotebookError as exc:
        problems["*"] = str(exc)
        return
    if not modules:
        problems["*"] = (f"{path.name} has no cell marked for an exercise: start each cell with "
                         "`# exercise: <module>` or tag it `exercise:<module>`")
    for name, src in modules.items():
        (dest / f"{name}.py").write_text(src, encoding="utf-8")


def _from_zip(path: Path, dest: Path, problems: dict) -> None:
    with tempfile.TemporaryDirectory(prefix="grader-unzip-") as tmp:
        root = Path(tmp) / "x"
        root.mkdir()
        why = _safe_extract(path, root)
        if why:
            problems["*"] = f"{path.name}: {why}"
            return
        inner = root
        while True:
            kids = [k for k in inner.iterdir() if not k.name.startswith(("__MACOSX", "."))]
            if len(kids) == 1 and kids[0].is_dir():
                inner = kids[0]
                continue
            break
        kids = [k for k in inner.iterdir() if not k.name.startswith(".")]
        nbs = [k for k in kids if k.suffix.lower() == ".ipynb"]
        if len(kids) == 1 and len(nbs) == 1:
            _from_notebook(nbs[0], dest, problems)
        else:
            _from_folder(inner, dest, problems)


def _safe_extract(path: Path, root: Path) -> str | None:
    """Extract with limits; return a reason to refuse, or None."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"not a readable zip archive ({exc})"
    with zf:
        members = zf.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            return f"the archive has {len(members)} entries; at most {MAX_ZIP_MEMBERS} are accepted"
        total = 0
        for info in members:
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                return f"the archive entry {info.filename!r} points outside the archive; refused"
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                return f"the archive entry {info.filename!r} is a symbolic link; refused"
            if info.is_dir() or not parts:
                continue
            target = root.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            budget = min(MAX_FILE_BYTES, MAX_ZIP_TOTAL - total) + 1
            try:
                with zf.open(info) as src:
                    data = src.read(budget)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
                return f"the archive entry {info.filename!r} could not be read ({exc})"
            if len(data) >= budget:
                return "the archive unpacks to too much data (a zip bomb?); refused"
            total += len(data)
            if target.exists() and target.is_dir():
                continue
            target.write_bytes(data)
    return None


def prepare_for_plugin(path: str, into: Path | None = None) -> tuple[str, dict[str, str]]:
    """The plugin's entry: use a prepared folder as is, or prepare a raw one.

    With ``into``, the result always lands in a new folder below it (the
    sandbox can only see its own scratch space).
    """
    p = Path(path)
    manifest = p / MANIFEST
    prepared = p.is_dir() and manifest.is_file()
    if prepared and into is None:
        return str(p.resolve()), json.loads(manifest.read_text()).get("problems", {})
    if into is None:
        dest = Path(tempfile.mkdtemp(prefix="grader-sub-"))
    else:
        dest = into / slugify(submission_name(p.resolve()))
    if prepared:
        shutil.copytree(p, dest, symlinks=True)
        return str(dest.resolve()), json.loads(manifest.read_text()).get("problems", {})
    problems = prepare(p, dest)
    return str(dest.resolve()), problems
