"""JUnit XML for CI systems: one test case per check of a verification, or per row of a grading run.

`name` is the candidate's path as given (relative to the working directory), used as every case's
classname, so that two ``prog.py`` in two folders never collide. Not judged (a language quinebox
does not judge yet) is ``<skipped>``: neither a failure nor an error.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from quinebox.report.model import Report, Verdict


def verify_junit(report: Report, name: str) -> str:
    """A suite named after the program, one case per check; infrastructure errors are <error>, not <failure>."""
    suite = ET.Element("testsuite", name=f"quinebox: {name}")
    cases = 0
    failures = errors = skipped = 0
    if report.verdict is Verdict.NOT_JUDGED:
        case = ET.SubElement(suite, "testcase", classname=name, name="verify")
        ET.SubElement(case, "skipped", message=f"not judged: {report.not_judged}")
        cases, skipped = 1, 1
    elif report.error is not None:
        case = ET.SubElement(suite, "testcase", classname=name, name="verify")
        ET.SubElement(case, "error", message=report.error)
        cases, errors = 1, 1
    elif not report.checks and report.failure is not None:
        case = ET.SubElement(suite, "testcase", classname=name, name=report.failure.check)
        ET.SubElement(case, "failure", message=report.failure.reason)
        cases, failures = 1, 1
    for check in report.checks:
        cases += 1
        case = ET.SubElement(suite, "testcase", classname=name, name=check.name)
        if not check.passed:
            failures += 1
            where = f"generation {check.generation}: " if check.generation is not None else ""
            failure = ET.SubElement(case, "failure", message=f"{where}{check.reason}")
            failure.text = json.dumps(check.evidence, indent=2, ensure_ascii=False)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    suite.set("time", f"{report.duration_ms / 1000:.3f}")
    return _serialise(suite)


def grade_junit(grades: Iterable[dict[str, Any]], name: str) -> str:
    """One case per graded row: fail is <failure>, an infrastructure error is <error>."""
    suite = ET.Element("testsuite", name=f"quinebox grade: {name}")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for grade in grades:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=name, name=str(grade.get("id")))
        if grade.get("seconds") is not None:
            case.set("time", str(grade["seconds"]))
        if grade.get("verdict") == "fail":
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=f"{grade.get('failed_check')}: {grade.get('reason')}")
        elif grade.get("verdict") == "not_judged":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"not judged: {grade.get('reason')}")
        elif grade.get("verdict") == "error":
            counts["errors"] += 1
            ET.SubElement(case, "error", message=str(grade.get("reason")))
    for key, value in counts.items():
        suite.set(key, str(value))
    return _serialise(suite)


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(text: str) -> str:
    """Candidate output may hold NULs and other characters XML 1.0 cannot carry: show them escaped."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _serialise(suite: ET.Element) -> str:
    for element in suite.iter():
        if element.text:
            element.text = _xml_safe(element.text)
        for key, value in element.attrib.items():
            element.set(key, _xml_safe(value))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
