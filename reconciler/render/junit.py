"""A drift report as JUnit XML, so CI test reporters show each drifted customer as a failure.

Azure DevOps (PublishTestResults) and GitHub test-report actions read this dialect. Each
drifted key is a failed test case named after the customer; the keys without drift are one
passing case, so a nightly check of 100,000 customers stays a small file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reconciler.drift import DriftItem, DriftReport
from reconciler.render.safe import visible
from reconciler.words import plural

SUITE = "reconciler drift"


def _case(item: DriftItem) -> ET.Element:
    name = f"{item.customer_id} {item.product_family}"
    if item.customer_name:
        # XML 1.0 cannot hold most control characters, and a report reader shows the rest.
        name += f" ({visible(item.customer_name)})"
    case = ET.Element("testcase", classname=f"drift.{item.kind.value}", name=name, time="0")
    failure = ET.SubElement(case, "failure", type=item.kind.value,
                            message=f"{item.kind.heading}: {visible(item.detail)}")
    failure.text = "\n".join([
        f"customer: {item.customer_id}",
        f"product family: {item.product_family}",
        f"recorded: {item.recorded or '(not in state)'}",
        f"observed: {item.observed}",
        f"upgrade id: {item.upgrade_id or '(none)'}",
        f"source: {item.source or '(unknown)'}",
        f"detail: {visible(item.detail)}",
        f"what to do: {item.remedy}",
    ])
    return case


def render(report: DriftReport) -> str:
    """The JUnit XML document, with an XML declaration and a trailing newline."""
    clean = report.checked - len(report.items)
    tests = len(report.items) + (1 if clean > 0 else 0)
    suites = ET.Element("testsuites", name=SUITE, tests=str(tests),
                        failures=str(len(report.items)), errors="0", time="0")
    suite = ET.SubElement(suites, "testsuite", name=SUITE, tests=str(tests),
                          failures=str(len(report.items)), errors="0", skipped="0", time="0",
                          timestamp=report.created_at.removesuffix("Z"))
    for item in report.items:
        suite.append(_case(item))
    if clean > 0:
        ET.SubElement(suite, "testcase", classname="drift.none",
                      name=f"{plural(clean, 'managed upgrade')} without drift", time="0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + \
        ET.tostring(suites, encoding="unicode") + "\n"
