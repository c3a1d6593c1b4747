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
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from . import notebooks, untrusted
from .safetext import display_name
from .vocabulary import MANIFEST, OUTPUT_NAMES

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILES = 200
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_TOTAL = 100 * 1024 * 1024
MAX_ZIP_BYTES = MAX_ZIP_TOTAL  # an archive larger than all it may unpack to holds junk
# A central directory entry is 46 bytes plus its name, extra field and
# comment: a kilobyte on average is far above any real archive's.
_DIRECTORY_BYTES_PER_ENTRY = 1024
# The zip format's end records (APPNOTE.TXT 4.3.16, 4.3.15, 4.3.14).
_END_RECORD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")
_SIZE_LIMITS = {".py": MAX_FILE_BYTES, ".ipynb": notebooks.MAX_NOTEBOOK_BYTES, ".zip": MAX_ZIP_BYTES}
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
    kept = slug == name and len(slug) <= 80 and slug.lower() not in OUTPUT_NAMES
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
    """A hash of what grading a submission reads, for resuming a batch.

    It reads what :func:`prepare` would and no more: a folder's top-level
    module files, or the notebook or archive, each within its size limit.
    A file refused (a link, a FIFO, one too large) counts by the reason,
    unopened or unread, as its grade depends on nothing else.
    """
    h = hashlib.sha256()
    try:
        if stat.S_ISDIR(path.lstat().st_mode):
            for entry in _module_files(path):
                h.update(entry.name.encode("utf-8", "surrogateescape") + b"\0")
                untrusted.hash_regular(h, entry, _size_limit(entry.name))
        else:
            untrusted.hash_regular(h, path, _size_limit(path.name))
    except FileNotFoundError:
        h.update(b"<missing>")
    except OSError as exc:
        h.update(repr(exc).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _size_limit(name: str) -> int:
    """The most bytes grading reads of a file so named (0: it reads none)."""
    return _SIZE_LIMITS.get(Path(name).suffix.lower(), 0)


def _module_files(folder: Path) -> list[Path]:
    """The files of a folder that can be modules, ``<module>.py`` or
    ``<module>.ipynb`` at its top level, sorted, at most ``MAX_FILES``:
    all that grading a folder reads (other files are never looked at)."""
    with os.scandir(folder) as entries:
        names = [
            e.name
            for e in entries
            if Path(e.name).suffix.lower() in (".py", ".ipynb") and _MODULE_NAME.match(Path(e.name).stem)
        ]
    return [folder / name for name in sorted(names)[:MAX_FILES]]


# --------------------------------------------------------------------------- preparing


def prepare(source: Path, dest: Path) -> dict[str, str]:
    """Fill ``dest`` with the submission's modules; return ``{module or "*": problem}``."""
    dest.mkdir(parents=True, exist_ok=True)
    problems: dict[str, str] = {}
    try:
        mode = _mode(source)
        if mode is None:
            problems["*"] = f"the submission {str(source)!r} does not exist"
        elif stat.S_ISLNK(mode):
            problems["*"] = f"{source.name} is a symbolic link; submit the real files"
        elif stat.S_ISDIR(mode):
            _from_folder(source, dest, problems)
        elif not stat.S_ISREG(mode):
            problems["*"] = (
                f"{source.name} is {untrusted.kind(mode)}, not a folder, a .ipynb notebook "
                "or a .zip archive; hand in one of those"
            )
        elif source.suffix.lower() == ".ipynb":
            _from_notebook(source, dest, problems)
        elif source.suffix.lower() == ".zip":
            _from_zip(source, dest, problems)
        elif source.suffix.lower() == ".py":
            _copy_file(source, dest / source.name, problems)
        else:
            problems["*"] = f"{source.name} is not a folder, a .ipynb notebook or a .zip archive; hand in one of those"
    except Exception as exc:  # noqa: BLE001 - never lose the row
        problems["*"] = f"the submission could not be read ({type(exc).__name__}: {str(exc)[:200]})"
    # Reasons quote file names, which need not be UTF-8.
    problems = {module: display_name(why) for module, why in problems.items()}
    (dest / MANIFEST).write_text(json.dumps({"problems": problems}, indent=1))
    return problems


def _mode(path: Path) -> int | None:
    """The file type and mode of ``path`` itself (a link is not followed); None if absent."""
    try:
        return path.lstat().st_mode
    except FileNotFoundError:
        return None


def _copy_file(src: Path, dst: Path, problems: dict) -> None:
    try:
        dst.write_bytes(untrusted.read_regular(src, MAX_FILE_BYTES))
    except untrusted.Refused as exc:
        problems[src.stem] = str(exc)


def _from_folder(folder: Path, dest: Path, problems: dict) -> None:
    for entry in _module_files(folder):
        stem, suffix = entry.stem, entry.suffix.lower()
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
        problems["*"] = (
            f"{path.name} has no cell marked for an exercise: start each cell with "
            "`# exercise: <module>` or tag it `exercise:<module>`"
        )
    for name, src in modules.items():
        (dest / f"{name}.py").write_text(src, encoding="utf-8")


def _from_zip(path: Path, dest: Path, problems: dict) -> None:
    try:
        archive = untrusted.open_regular(path, MAX_ZIP_BYTES)
    except untrusted.Refused as exc:
        problems["*"] = str(exc)
        return
    with archive, tempfile.TemporaryDirectory(prefix="grader-unzip-") as tmp:
        root = Path(tmp) / "x"
        root.mkdir()
        why = _directory_too_large(archive) or _safe_extract(archive, root)
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


def _directory_too_large(archive: BinaryIO) -> str | None:
    """Why the archive's central directory is too large to parse, judged by
    its end record alone; None when it is not.

    zipfile builds an object for every entry of the central directory (as
    long as the record says it is, whatever count it gives) before anyone
    can count them: millions of entries would cost the grader seconds and
    gigabytes.
    """
    entries, size = _directory_extent(archive)
    if entries > MAX_ZIP_MEMBERS:
        return f"the archive has {entries} entries; at most {MAX_ZIP_MEMBERS} are accepted"
    if size > MAX_ZIP_MEMBERS * _DIRECTORY_BYTES_PER_ENTRY:
        return f"the archive's table of contents takes {size} bytes; refused"
    return None


def _directory_extent(archive: BinaryIO) -> tuple[int, int]:
    """(entries, bytes) of the central directory, from the end record (the
    Zip64 one where the classic fields overflow); (0, 0) without one, which
    zipfile then reports as not a zip archive."""
    archive.seek(0, os.SEEK_END)
    tail_start = max(0, archive.tell() - _END_RECORD.size - 0xFFFF)  # the record, then a comment
    archive.seek(tail_start)
    tail = archive.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END_RECORD.size:
        return 0, 0
    entries, size = _END_RECORD.unpack_from(tail, at)[4:6]
    if entries != 0xFFFF and size != 0xFFFFFFFF:
        return entries, size
    locator = tail[max(0, at - _ZIP64_LOCATOR.size) : at]
    if len(locator) < _ZIP64_LOCATOR.size or not locator.startswith(b"PK\x06\x07"):
        return entries, size
    archive.seek(_ZIP64_LOCATOR.unpack(locator)[2])
    record = archive.read(_ZIP64_END_RECORD.size)
    if len(record) < _ZIP64_END_RECORD.size or not record.startswith(b"PK\x06\x06"):
        return entries, size
    return _ZIP64_END_RECORD.unpack(record)[7:9]


def _safe_extract(archive: BinaryIO, root: Path) -> str | None:
    """Extract with limits; return a reason to refuse, or None."""
    try:
        zf = zipfile.ZipFile(archive)
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
