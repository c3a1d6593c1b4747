"""Reading report.html's numbers back: from its markup with the standard
library, or from the DOM headless Chromium built from it."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "wbr"}


class ReportPage(HTMLParser):
    """``ids``: text of each element with an id (leaf ones); ``rows``: each
    ``<tr>`` with ``data-*`` attributes, as those attributes plus the text
    of each element inside it that has a class; ``tags``: every tag, ``urls``
    every src/href."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.ids: dict[str, str] = {}
        self.rows: list[dict[str, str]] = []
        self.tags: list[str] = []
        self.urls: list[str] = []
        self._open: list[tuple[str, str | None, str | None]] = []  # (tag, id, class)
        self._text: dict[int, list[str]] = {}
        self._row: dict[str, str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "tr" and any(k.startswith("data-") for k in a):
            self._row = {k[5:]: v for k, v in a.items() if k.startswith("data-")}
        if tag in VOID:
            if tag == "br" and self._open:
                self._text[len(self._open)].append(" ")
            return
        self._open.append((tag, a.get("id"), a.get("class")))
        self._text[len(self._open)] = []

    def handle_endtag(self, tag):
        if tag in VOID or not self._open:
            return
        depth = len(self._open)
        _, ident, cls = self._open.pop()
        text = " ".join("".join(self._text.pop(depth, [])).split())
        if depth - 1 in self._text:
            self._text[depth - 1].append(text)
        if ident:
            self.ids[ident] = text
        if self._row is not None and cls:
            for c in cls.split():
                self._row.setdefault(c, text)
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._open:
            self._text[len(self._open)].append(data)

    def table(self, key: str) -> dict[str, dict[str, str]]:
        """The rows with ``data-<key>``, by that value."""
        return {r[key]: r for r in self.rows if key in r}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def rendered_dom(page: Path, screenshot: Path | None = None) -> str:
    """The page's DOM after headless Chromium loaded it, offline."""
    exe = chromium()
    assert exe is not None
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={profile}"]
        if screenshot is not None:
            subprocess.run([*flags, f"--screenshot={screenshot}", "--window-size=1200,1600", page.as_uri()],
                           capture_output=True, timeout=120, check=True)
        done = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
