"""Read JUnit XML test results (pytest's ``--junitxml``, unittest-xml-reporting) into values.

The file comes from a test run the tool does not control, so it is parsed with defusedxml:
entity declarations (billion laughs), external entities and DTD tricks are refused with a
:class:`JUnitError`, as is a truncated or malformed file. Nothing else is interpreted here;
where a test lives in the source is :mod:`ssot_codemod.locate`'s job.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

__all__ = ["JUnitError", "Outcome", "Status", "TestResult", "parse_junit", "read_junit"]

Status = Literal["passed", "failed", "error", "skipped"]

#: The cases that name a whole file that could not be collected (pytest).
COLLECTION_FAILURE = "collection failure"

# pytest wraps setup/teardown errors as: failed on setup with "ValueError: boom"
_PHASE_PREFIXES = ("failed on setup with ", "failed on teardown with ", "failed on call with ")
_MAX_REASON = 200


class JUnitError(Exception):
    """The results file cannot be used; ``str(exc)`` is one line for the user."""


@dataclass(frozen=True)
class TestResult:
    """One ``<testcase>``: its JUnit identity, where the report says it is, and how it ended.

    ``reason`` is the first line of the failure (empty for passed tests); ``phase`` is
    "setup" when pytest says the error happened before the test body ran.
    """

    __test__ = False  # not a pytest test class

    classname: str
    name: str
    file: str | None
    status: Status
    reason: str = ""
    phase: str = "call"
    detail: str = ""

    @property
    def failing(self) -> bool:
        return self.status in ("failed", "error")

    @property
    def is_collection_error(self) -> bool:
        return self.status == "error" and self.reason == COLLECTION_FAILURE

    @property
    def key(self) -> tuple[str, str]:
        return (self.classname, self.name)


Outcome = TestResult  # a shorter alias for callers


def _first_line(text: str) -> str:
    for line in text.splitlines():
        stripped = " ".join(line.split())
        if stripped:
            return stripped[:_MAX_REASON]
    return ""


def _reason(element: Element, body: str) -> tuple[str, str]:
    """(first line of the failure, phase) for a ``<failure>``/``<error>`` element."""
    message = element.get("message") or ""
    phase = "call"
    for prefix in _PHASE_PREFIXES:
        if message.startswith(prefix):
            phase = prefix.split()[2]
            message = message[len(prefix) :]
            if len(message) >= 2 and message[0] == message[-1] == '"':
                message = message[1:-1]
            break
    kind = element.get("type") or ""
    line = _first_line(message) or _first_line(body)
    # unittest-xml-reporting puts the exception class in type= and only its text in message=.
    if kind and line and not line.startswith(kind) and "." not in kind[:1]:
        short = kind.rsplit(".", 1)[-1]
        if not line.startswith(short):
            line = f"{short}: {line}"
    return (line or kind or element.tag), phase


def _cases(root: Element) -> Iterator[Element]:
    if root.tag == "testcase":
        yield root
        return
    yield from root.iter("testcase")


def _result(case: Element) -> TestResult:
    classname = case.get("classname") or ""
    name = case.get("name") or ""
    file = case.get("file") or None
    status: Status = "passed"
    reason = ""
    phase = "call"
    detail = ""
    for child in case:
        tag = child.tag
        if tag in ("failure", "error"):
            body = child.text or ""
            this_reason, this_phase = _reason(child, body)
            # A failure in the test and an error in its teardown: the first one is the reason.
            if status not in ("failed", "error"):
                reason, phase, detail = this_reason, this_phase, body
            if tag == "error" and status != "failed":
                status = "error"
            elif tag == "failure":
                status = "failed"
        elif tag == "skipped" and status == "passed":
            status = "skipped"
            reason = _first_line(child.get("message") or "")
    return TestResult(classname, name, file, status, reason, phase, detail)


def parse_junit(data: bytes) -> list[TestResult]:
    """Every ``<testcase>`` in *data* (JUnit XML), in document order.

    Raises :class:`JUnitError` for entity declarations, external references, a truncated or
    malformed document, or a root that is not ``testsuites``/``testsuite``.
    """
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    if not data.strip():
        raise JUnitError("the results file is empty (did the test run start?)")
    try:
        root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise JUnitError(
            f"refusing the results file: it declares entities or external references ({exc})"
        ) from None
    except ParseError as exc:
        raise JUnitError(f"the results file is not well-formed XML (truncated?): {exc}") from None
    if root.tag not in ("testsuites", "testsuite", "testcase"):
        raise JUnitError(f"not a JUnit results file: the root element is <{root.tag}>")
    return [_result(case) for case in _cases(root)]


def read_junit(path: Path) -> list[TestResult]:
    """:func:`parse_junit` of the file at *path*; an unreadable file is a :class:`JUnitError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JUnitError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_junit(data)
