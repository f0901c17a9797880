"""Rules across modules, through the library API, on small projects in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssot_codemod.api import Options, RunResult, apply_paths, check_paths
from ssot_codemod.types import Finding

BASE = '''import asyncio
import unittest


class Base(unittest.TestCase):
    def setUp(self):
        """Run the async hook."""
        self.ready = True
        loop = asyncio.get_event_loop()
        loop.run_until_complete(self.asyncSetUp())

    async def asyncSetUp(self):
        pass
'''

SUBCLASS = '''import asyncio
from unittest.mock import patch

import pytest

from tests.base import Base


class TestThings(Base):
    def setUp(self):
        """Same as Base.setUp."""
        self.ready = True
        loop = asyncio.get_event_loop()
        loop.run_until_complete(self.asyncSetUp())

    async def asyncSetUp(self):
        super().setUp()

    async def test_plain(self):
        self.fail("never runs")

    @pytest.mark.asyncio
    async def test_marked(self):
        self.fail("never runs")

    @patch("os.getcwd")
    async def test_patched(self, getcwd):
        self.fail("never runs")
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "__init__.py").write_text("")
    (tests / "base.py").write_text(BASE)
    (tests / "test_things.py").write_text(SUBCLASS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _by_file(result: RunResult) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for path, finding in result.findings:
        out.setdefault(Path(path).name, []).append(finding)
    return out


def _codes(findings: list[Finding]) -> list[tuple[int, str, str, bool]]:
    return [(f.line, f.code, f.fix, f.applied) for f in findings]


def test_findings_across_modules(project: Path) -> None:
    found = _by_file(check_paths(["."], Options(jobs=1)))
    things = found["test_things.py"]
    assert _codes(things) == [
        (10, "SSC003", "safe", True),
        (14, "SSC001", "safe", True),
        (17, "SSC002", "safe", True),
        (19, "SSC004", "unsafe", False),
        (23, "SSC004", "unsafe", False),
        (27, "SSC004", "unsafe", False),
    ]
    assert "inherits from Base (tests/base.py:5)" in things[0].message
    assert "re-enters setUp" in things[2].message
    assert "`Base` (tests/base.py:5) is a plain unittest.TestCase" in things[3].message
    root = [f for f in found["base.py"] if f.code == "SSC004"]
    assert len(root) == 1
    assert root[0].message.startswith("3 async test(s) in 1 other file(s) never run because Base")


def test_named_file_gets_the_findings_of_the_whole_project(project: Path) -> None:
    whole = _by_file(check_paths(["."], Options(jobs=1)))
    for name in ("tests/test_things.py", "tests/base.py"):
        alone = _by_file(check_paths([name], Options(jobs=1)))
        assert alone[Path(name).name] == whole[Path(name).name]


def test_summary_groups_never_run_tests_by_root(project: Path) -> None:
    import io

    from ssot_codemod.report import summary_line, write_summary  # noqa: F401

    result = check_paths(["."], Options(jobs=1))
    stream = io.StringIO()
    write_summary("check", result, stream)
    assert (
        "3 async tests in 1 file never run because `Base` (tests/base.py:5) is a plain "
        "unittest.TestCase; `apply --unsafe-fixes` rebases it"
    ) in stream.getvalue()


def test_unsafe_fix_rebases_the_root_once(project: Path) -> None:
    before = (project / "tests/test_things.py").read_text()
    result = apply_paths(["."], Options(jobs=1, unsafe_fixes=True))
    assert not result.has_errors
    base = (project / "tests/base.py").read_text()
    assert "class Base(unittest.IsolatedAsyncioTestCase):" in base
    assert "run_until_complete" not in base and "loop = " not in base
    things = (project / "tests/test_things.py").read_text()
    assert things != before  # its own edits: the twin goes, super().setUp() is chained
    assert "class TestThings(Base):" in things
    assert "await super().asyncSetUp()" in things and "run_until_complete" not in things
    again = check_paths(["."], Options(jobs=1, unsafe_fixes=True))
    assert not any(f.code == "SSC004" for _, f in again.findings)


def test_root_not_named_is_not_written(project: Path) -> None:
    import io

    from ssot_codemod.report import write_summary

    base_before = (project / "tests/base.py").read_text()
    result = apply_paths(["tests/test_things.py"], Options(jobs=1, unsafe_fixes=True))
    assert (project / "tests/base.py").read_text() == base_before
    assert not any(f.applied for _, f in result.findings if f.code == "SSC004")
    stream = io.StringIO()
    write_summary("apply", result, stream)
    assert "not rebased: tests/base.py is not among the named files" in stream.getvalue()


def test_reentry_in_an_isolated_case_from_another_module_runs_setup_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.py").write_text(
        "import unittest\n\n\nclass Base(unittest.IsolatedAsyncioTestCase):\n"
        "    def setUp(self):\n        self.n = 1\n"
    )
    (tmp_path / "test_iso.py").write_text(
        "import asyncio\n\nfrom base import Base\n\n\nclass T(Base):\n"
        "    def setUp(self):\n"
        "        asyncio.get_event_loop().run_until_complete(self.asyncSetUp())\n\n"
        "    async def asyncSetUp(self):\n        super().setUp()\n"
    )
    found = _by_file(check_paths(["."], Options(jobs=1)))["test_iso.py"]
    assert [f.code for f in found] == ["SSC005", "SSC002"]
    assert "asyncSetUp runs twice per test" in found[0].message
    assert "runs twice per test" in found[1].message and "re-enters" not in found[1].message


def test_unresolved_base_is_counted_and_named(project: Path) -> None:
    import io

    from ssot_codemod.project.run import verbose_lines
    from ssot_codemod.report import write_summary

    (project / "tests/test_other.py").write_text(
        "from thirdparty import Case\n\n\nclass T(Case):\n"
        "    async def test_a(self):\n        pass\n"
    )
    result = check_paths(["."], Options(jobs=1))
    stream = io.StringIO()
    write_summary("check", result, stream)
    assert "1 class with bases that cannot be resolved" in stream.getvalue()
    assert result.project is not None
    assert verbose_lines(result.project) == [
        "tests/test_other.py:4: T: base `Case` not resolved: thirdparty.Case is not part of "
        "the project"
    ]
