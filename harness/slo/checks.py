"""SLO checks and their JUnit XML form, for CI systems that show test results.

A :class:`Check` is one thing a run is judged on — "availability ≥ 99.97 % (request-based,
pds)", "p95 ≤ 500 ms (pds.retrieve)", "generator kept schedule", "p50 not worse than baseline".
Each becomes one ``<testcase>``: nothing for a pass, ``<failure>`` for a breach or regression,
``<skipped>`` with the reason for an inconclusive check, and ``<error>`` when the run is invalid
(so CI can tell a bad measurement from a regression). GitLab ignores most attributes, so the key
number is in the test case's name and in the element's text, not only in properties
(``domain/load-testing.md`` §4.3). The XML is written with the standard library's
``xml.etree.ElementTree``, which escapes text and attributes; no extra dependency is needed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.verdict import Verdict


@dataclass(frozen=True)
class Check:
    """One judged statement about a run.

    Attributes:
        name: what was checked, with the key number, e.g. ``availability ≥ 99.97 % (pds)``.
        group: the JUnit class name, e.g. ``slo.availability``.
        verdict: the outcome.
        message: one line: measured value versus limit.
        detail: longer text (bounds, counts) for the element body.
    """

    name: str
    group: str
    verdict: Verdict
    message: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        """Plain data for ``results.json`` and ``gate.json``."""
        return {
            "name": self.name,
            "group": self.group,
            "verdict": str(self.verdict),
            "message": self.message,
            "detail": self.detail,
        }


_ELEMENT = {
    Verdict.FAIL: ("failure", "breach"),
    Verdict.INVALID: ("error", "invalid-run"),
}


def junit_xml(
    checks: Sequence[Check],
    *,
    suite: str,
    properties: Mapping[str, object] | None = None,
    system_out: str = "",
) -> bytes:
    """One ``<testsuites>`` with one ``<testsuite>`` holding a ``<testcase>`` per check."""
    counts = {v: sum(1 for c in checks if c.verdict is v) for v in Verdict}
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    totals = {
        "tests": str(len(checks)),
        "failures": str(counts[Verdict.FAIL]),
        "errors": str(counts[Verdict.INVALID]),
        "skipped": str(counts[Verdict.INCONCLUSIVE]),
        "time": "0",
    }
    root = ET.Element("testsuites", {"name": suite, **totals})
    node = ET.SubElement(root, "testsuite", {"name": suite, "timestamp": stamp, **totals})
    if properties:
        holder = ET.SubElement(node, "properties")
        for key, value in properties.items():
            ET.SubElement(holder, "property", {"name": key, "value": str(value)})
    for check in checks:
        case = ET.SubElement(
            node, "testcase", {"name": check.name, "classname": check.group, "time": "0"}
        )
        if check.verdict is Verdict.INCONCLUSIVE:
            ET.SubElement(case, "skipped", {"message": check.message}).text = check.detail or None
        elif check.verdict in _ELEMENT:
            tag, kind = _ELEMENT[check.verdict]
            child = ET.SubElement(case, tag, {"message": check.message, "type": kind})
            child.text = check.detail or check.message
    if system_out:
        ET.SubElement(node, "system-out").text = system_out
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def write_junit(
    path: Path,
    checks: Sequence[Check],
    *,
    suite: str,
    properties: Mapping[str, object] | None = None,
    system_out: str = "",
) -> Path:
    """Write :func:`junit_xml` to ``path`` and return it."""
    path.write_bytes(junit_xml(checks, suite=suite, properties=properties, system_out=system_out))
    return path
