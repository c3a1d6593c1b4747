"""JUnit XML, for CI systems that show test results from it."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from ..reportio import write_text_atomic
from ..results import SubmissionResult


def render(results: list[SubmissionResult]) -> str:
    suites = ET.Element("testsuites")
    for r in results:
        failures = sum(1 for t in r.tests if t.status == "failed")
        errors = sum(1 for t in r.tests if t.status == "error") + (1 if r.error else 0)
        skipped = sum(1 for t in r.tests if t.status == "skipped")
        suite = ET.SubElement(suites, "testsuite", name=r.name, tests=str(len(r.tests) + (1 if r.error else 0)),
                              failures=str(failures), errors=str(errors), skipped=str(skipped),
                              time=f"{r.execution_time:.3f}")
        if r.error:
            case = ET.SubElement(suite, "testcase", classname=r.name, name="grading")
            ET.SubElement(case, "error", message=r.error[:500]).text = r.error
        for t in r.tests:
            case = ET.SubElement(suite, "testcase", classname=f"{r.name}.{t.exercise}", name=t.name)
            if t.status in ("failed", "error"):
                text = "This hidden test failed." if t.visibility == "hidden" else t.output
                ET.SubElement(case, "failure" if t.status == "failed" else "error",
                              message=text.split("\n", 1)[0][:500]).text = text
            elif t.status == "skipped":
                ET.SubElement(case, "skipped", message=t.output[:500])
    return ET.tostring(suites, encoding="unicode") + "\n"


def write(path: Path, results: list[SubmissionResult]) -> None:
    write_text_atomic(path, render(results))
