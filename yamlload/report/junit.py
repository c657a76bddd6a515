"""JUnit XML for CI systems: one test case per check, per `expect` kind, and one for
the run's validity, so a CI page lists exactly what passed and what failed. The grades
are the suite's properties; with a `grade>=B` gate each graded metric is a test case
too, failing when its grade is below the gate (issue 18)."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from ..checks.outcome import Outcome, describe_limit, describe_outcome
from ..checks.parse import is_grade
from ..metrics.names import EXPECT_FAILED, EXPECT_OK, EXPECT_PREFIX
from ..results.summary import Summary
from ..units import counted
from .grade_words import gate_holds, grade_line, value_text
from .outputs import write_text as write_outputs_text

# What XML 1.0 cannot hold, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def junit_xml(summary: Summary, outcomes: list[Outcome], invalid: list[str]) -> str:
    suite = ET.Element("testsuite", name=f"yamlload {summary.source}")
    _grade_properties(suite, summary)  # JUnit puts the properties before the test cases
    cases = 0
    failures = 0

    def case(
        classname: str, name: str, failure: str | None = None, skipped: str | None = None
    ) -> None:
        nonlocal cases, failures
        element = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
        cases += 1
        if failure is not None:
            failures += 1
            ET.SubElement(element, "failure", message=failure).text = failure
        elif skipped is not None:
            ET.SubElement(element, "skipped", message=skipped)

    case("yamlload.run", "run is valid", failure="; ".join(invalid) if invalid else None)
    for outcome in outcomes:
        check = outcome.check
        detail = f"measured {describe_outcome(outcome)}, limit {describe_limit(check)}"
        if outcome.ok:
            case("yamlload.ensure", check.source)
        elif check.strict:
            case("yamlload.ensure", check.source, failure=detail)
        else:
            case("yamlload.ensure", check.source, skipped=f"not strict: {detail}")
    gates = [o.check for o in outcomes if is_grade(o.check)]
    if summary.grade is not None and gates:
        limits = ", ".join(g.source for g in gates)
        for graded in summary.grade.by_metric:
            measured = f"{value_text(summary.grade, graded)}, grade {graded.grade}"
            failure = None if gate_holds(graded, gates) else f"{measured}: below {limits}"
            case("yamlload.grade", graded.key, failure=failure)
    kinds = sorted({k.split(".", 1)[1] for k in summary.counters_with(EXPECT_PREFIX) if "." in k})
    for kind in kinds:
        bad = summary.counter(f"{EXPECT_FAILED}.{kind}")
        good = summary.counter(f"{EXPECT_OK}.{kind}")
        failure = f"{bad} of {counted(bad + good, f'{kind} check')} failed" if bad else None
        case("yamlload.expect", kind, failure=failure)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("time", f"{summary.duration:.3f}")
    # ElementTree escapes & < > but writes control characters as they are, and XML 1.0
    # has no place for them: a name holding one made a file no CI could read
    return _NOT_XML.sub("\ufffd", ET.tostring(suite, encoding="unicode", xml_declaration=True))


def _grade_properties(suite: ET.Element, summary: Summary) -> None:
    """The grade, the readiness and each graded metric as `<properties>`: shown by CI
    pages that read them, never a failure (a `grade>=B` gate fails as a check)."""
    grading = summary.grade
    if grading is None:
        return
    properties = ET.SubElement(suite, "properties")
    values = [
        ("grade", grading.overall),
        ("grade.summary", grade_line(grading)),
        ("readiness", grading.verdict),
        ("readiness.rule", grading.rule),
        *((f"grade.{m.key}", f"{m.grade} ({value_text(grading, m)})") for m in grading.by_metric),
    ]
    for name, value in values:
        ET.SubElement(properties, "property", name=name, value=value)


def write_text(
    path: str | os.PathLike[str], text: str, append: bool = False, what: str = "the file"
) -> None:
    """Under the output rules of `report/outputs.py`: atomic for a regular file, in place for a
    device or FIFO; OutputError (exit 4) when it fails, with no temporary file left."""
    write_outputs_text(path, text, what, append)
