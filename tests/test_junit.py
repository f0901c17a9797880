"""Reading JUnit XML: pytest's and unittest-xml-reporting's shapes, and hostile files."""

from __future__ import annotations

from pathlib import Path

import pytest
from adoption_project import run_pytest

from ssot_codemod.junit import JUnitError, parse_junit, read_junit
from ssot_codemod.locate import Located, SourceTree, Unlocated, split_test_name

PYTEST_SHAPES = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="2" failures="2" tests="6">
<testcase classname="" name="tests.test_bad" file="tests/test_bad.py" time="0.000">
  <error message="collection failure">ImportError while importing test module
E   ModuleNotFoundError: No module named 'nope'</error></testcase>
<testcase classname="tests.test_a.TestA" name="test_ok" file="tests/test_a.py" line="3"/>
<testcase classname="tests.test_a.TestA" name="test_bad" file="tests/test_a.py" line="5">
  <failure message="AssertionError: 1 != 2&#10;second line">tb</failure></testcase>
<testcase classname="tests.test_a.TestA" name="test_setup" file="tests/test_a.py" line="7">
  <error message="failed on setup with &quot;ValueError: class boom&quot;">tb</error></testcase>
<testcase classname="tests.test_a" name="test_param[1-2]" file="tests/test_a.py" line="9">
  <failure message="assert 2 == 1">tb</failure>
  <error message="failed on teardown with &quot;OSError: late&quot;">tb</error></testcase>
<testcase classname="tests.test_a.TestA" name="test_skip" file="tests/test_a.py" line="11">
  <skipped type="pytest.skip" message="ssot-quarantine: AssertionError: x">skip</skipped>
</testcase>
</testsuite></testsuites>
"""


def test_pytest_shapes() -> None:
    results = parse_junit(PYTEST_SHAPES)
    by_name = {r.name: r for r in results}
    assert by_name["tests.test_bad"].is_collection_error
    assert by_name["test_ok"].status == "passed" and not by_name["test_ok"].failing
    assert by_name["test_bad"].status == "failed"
    assert by_name["test_bad"].reason == "AssertionError: 1 != 2"
    assert (by_name["test_setup"].status, by_name["test_setup"].phase) == ("error", "setup")
    assert by_name["test_setup"].reason == "ValueError: class boom"
    # A failure plus a teardown error: failed, and the reason is the failure's.
    assert by_name["test_param[1-2]"].status == "failed"
    assert by_name["test_param[1-2]"].reason == "assert 2 == 1"
    assert by_name["test_skip"].status == "skipped"
    assert split_test_name("test_param[1-2]") == "test_param"
    assert split_test_name("test_x[a[b]]") == "test_x"


def test_unittest_xml_reporting_shape() -> None:
    data = b"""<testsuites><testsuite name="tests.test_a.TestA-20260101" tests="2">
    <testcase classname="tests.test_a.TestA" name="test_bad" time="0.001">
      <failure type="AssertionError" message="1 != 2">Traceback</failure></testcase>
    <testcase classname="unittest.suite._ErrorHolder" name="setUpClass (tests.test_a.TestDb)">
      <error type="ConnectionError" message="no database">Traceback</error></testcase>
    </testsuite></testsuites>"""
    bad, holder = parse_junit(data)
    assert bad.reason == "AssertionError: 1 != 2"
    assert holder.reason == "ConnectionError: no database"


def test_real_pytest_output_round_trips(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import unittest\nclass T(unittest.TestCase):\n"
        "    def test_a(self):\n        self.assertEqual(1, 2)\n"
        "    def test_b(self):\n        pass\n"
    )
    run = run_pytest(tmp_path, keep_junit=tmp_path / "r.xml")
    results = read_junit(tmp_path / "r.xml")
    assert run.returncode == 1
    assert [(r.name, r.status, r.reason) for r in results] == [
        ("test_a", "failed", "AssertionError: 1 != 2"),
        ("test_b", "passed", ""),
    ]


# --------------------------------------------------------------------------------------------
# hostile and broken files

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<testsuites><testsuite><testcase classname="a" name="&lol3;"/></testsuite></testsuites>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuites><testsuite><testcase classname="a" name="&secret;"/></testsuite></testsuites>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE testsuites SYSTEM "http://example.invalid/junit.dtd">
<testsuites><testsuite><testcase classname="a" name="b"/></testsuite></testsuites>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL], ids=["entity-expansion", "xxe"])
def test_entities_are_refused(data: bytes) -> None:
    with pytest.raises(JUnitError, match="refusing the results file"):
        parse_junit(data)


def test_external_dtd_is_not_fetched() -> None:
    # defusedxml never loads the DTD; the document itself is plain and parses.
    [case] = parse_junit(EXTERNAL_DTD)
    assert case.name == "b"


def test_truncated_file_is_a_clear_error() -> None:
    with pytest.raises(JUnitError, match="not well-formed XML \\(truncated\\?\\)"):
        parse_junit(PYTEST_SHAPES[: len(PYTEST_SHAPES) // 2])


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"<html><body/></html>", "root element is <html>"), (b"\x00\x01", "XML")],
)
def test_not_junit(data: bytes, message: str) -> None:
    with pytest.raises(JUnitError, match=message):
        parse_junit(data)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(JUnitError, match="cannot read"):
        read_junit(tmp_path / "missing.xml")


# --------------------------------------------------------------------------------------------
# the locator: static, across modules, never importing user code


def test_locator_follows_imports_without_importing(tmp_path: Path) -> None:
    pkg = tmp_path / "tests"
    (pkg / "framework").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "framework" / "__init__.py").write_text("from .bases import Shared as Shared\n")
    (pkg / "framework" / "bases.py").write_text(
        "raise SystemExit('imported!')\n"
        "class Shared:\n    async def test_inherited(self):\n        pass\n"
    )
    (pkg / "test_user.py").write_text(
        "raise SystemExit('imported!')\n"
        "import unittest\nfrom tests.framework import Shared\nimport tests.framework.bases as b\n"
        "class TestUser(Shared, unittest.IsolatedAsyncioTestCase):\n"
        "    class Nested(b.Shared):\n        def test_n(self):\n            pass\n"
        "    async def test_own(self):\n        pass\n"
    )
    tree = SourceTree([tmp_path])
    own = tree.locate("tests.test_user.TestUser", "test_own", None)
    assert isinstance(own, Located) and not own.inherited
    inherited = tree.locate("tests.test_user.TestUser", "test_inherited", "tests/test_user.py")
    assert isinstance(inherited, Located) and inherited.inherited
    assert inherited.definition.path == pkg / "framework" / "bases.py"
    assert inherited.definition.qualname == "Shared.test_inherited"
    nested = tree.locate("tests.test_user.TestUser.Nested", "test_inherited", None)
    assert isinstance(nested, Located) and nested.definition.qualname == "Shared.test_inherited"
    gone = tree.locate("tests.test_user.TestUser", "test_removed", None)
    assert isinstance(gone, Unlocated) and "not found" in gone.reason
