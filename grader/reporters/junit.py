"""JUnit XML, for CI systems that show test results from it.

Every text in it (a submission's name, a student's printed output) passes
through :func:`grader.safetext.for_xml`: a control character in a folder
name would otherwise make the whole file unreadable to an XML parser.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from ..reportio import write_text_atomic
from ..results import SubmissionResult
from ..safetext import for_xml
from ..vocabulary import JUNIT_XML


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: for_xml(v) for k, v in attrs.items()})
    if text is not None:
        node.text = for_xml(text)
    return node


def render(results: list[SubmissionResult]) -> str:
    suites = ET.Element("testsuites")
    for r in results:
        failures = sum(1 for t in r.tests if t.status == "failed")
        errors = sum(1 for t in r.tests if t.status == "error") + (1 if r.error else 0)
        skipped = sum(1 for t in r.tests if t.status == "skipped")
        suite = _element(
            suites,
            "testsuite",
            name=r.name,
            tests=str(len(r.tests) + (1 if r.error else 0)),
            failures=str(failures),
            errors=str(errors),
            skipped=str(skipped),
            time=f"{r.execution_time:.3f}",
        )
        if r.error:
            case = _element(suite, "testcase", classname=r.name, name="grading")
            _element(case, "error", r.error, message=r.error[:500])
        for t in r.tests:
            case = _element(suite, "testcase", classname=f"{r.name}.{t.exercise}", name=t.name)
            if t.status in ("failed", "error"):
                text = "This hidden test failed." if t.visibility == "hidden" else t.output
                _element(
                    case, "failure" if t.status == "failed" else "error", text, message=text.split("\n", 1)[0][:500]
                )
            elif t.status == "skipped":
                _element(case, "skipped", message=t.output[:500])
    return ET.tostring(suites, encoding="unicode") + "\n"


def write(path: Path, results: list[SubmissionResult]) -> None:
    write_text_atomic(path, render(results))


class JUnitReporter:
    """``<out>/junit.xml`` for the whole class, once at the end."""

    def result(self, ledger, result: SubmissionResult) -> None:
        pass

    def close(self, ledger) -> None:
        write(ledger.out / JUNIT_XML, ledger.ordered())
