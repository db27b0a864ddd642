from __future__ import annotations

import xml.etree.ElementTree as ET

import quinebox
from quinebox.backends.fake import FakeBackend, ok
from quinebox.report.build import error_report
from quinebox.report.render_junit import grade_junit, verify_junit


def test_verify_junit_has_a_case_per_check_and_survives_control_characters() -> None:
    report = quinebox.verify(b"print(1)\n", generations=2, backend=FakeBackend(lambda r: ok(b"\x00\x1b nope\n")))
    suite = ET.fromstring(verify_junit(report, "prog.py"))
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.name for c in report.checks]
    failures = [c for c in cases if c.find("failure") is not None]
    assert suite.get("failures") == str(len(failures)) and failures
    assert "\\x00" in ET.tostring(suite, encoding="unicode")


def test_infrastructure_errors_are_errors_not_failures() -> None:
    suite = ET.fromstring(verify_junit(error_report("daemon gone", {}, 0.0), "prog.py"))
    assert (suite.get("failures"), suite.get("errors")) == ("0", "1")
    grades = [
        {"id": "a", "verdict": "pass"},
        {"id": "b", "verdict": "fail", "failed_check": "runs", "reason": "x"},
        {"id": "c", "verdict": "error", "reason": "engine stopped"},
    ]
    suite = ET.fromstring(grade_junit(grades, "samples"))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
