"""guard: the measured filterwarnings entries in the project's pytest configuration.

Behaviour is proven by running pytest: before the guard a never-awaited async test in a plain
TestCase passes (plain, under ``@patch`` and under ``@pytest.mark.asyncio``); after it, those
fail while sync tests and IsolatedAsyncioTestCase tests are unaffected.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from adoption_project import child_env, run_pytest, run_unittest, ssot

from ssot_codemod.guard import (
    CONFTEST_GUARD,
    GUARD_FILTERS,
    GuardError,
    find_pytest_config,
    guard_ini,
    guard_toml,
)

pytestmark = pytest.mark.timeout(300)

NEW_TESTS = """import unittest
from unittest.mock import patch

import pytest


class TestNewPlainAsync(unittest.TestCase):
    async def test_plain(self):
        self.fail("never runs without the guard")

    @patch("os.getcwd")
    async def test_patched(self, _getcwd):
        self.fail("never runs without the guard")

    @pytest.mark.asyncio
    async def test_marked(self):
        self.fail("never runs without the guard")

    def test_sync(self):
        self.assertTrue(True)


class TestIsolated(unittest.IsolatedAsyncioTestCase):
    async def test_async(self):
        self.assertTrue(True)


class TestSync(unittest.TestCase):
    def test_sync(self):
        self.assertEqual(2, 1 + 1)
"""

NEVER_RUN = {
    "tests/test_new.py::TestNewPlainAsync::test_plain",
    "tests/test_new.py::TestNewPlainAsync::test_patched",
    "tests/test_new.py::TestNewPlainAsync::test_marked",
}
UNAFFECTED = {
    "tests/test_new.py::TestNewPlainAsync::test_sync",
    "tests/test_new.py::TestIsolated::test_async",
    "tests/test_new.py::TestSync::test_sync",
}

PYPROJECT = """[project]
name = "demo"

[tool.pytest.ini_options]
# pytest-asyncio needs this quiet
asyncio_default_fixture_loop_scope = "function"
filterwarnings = [
    "ignore::ResourceWarning",  # unclosed loops in old tests
]

[tool.ruff]
line-length = 100
"""

SETUP_CFG = """[metadata]
name = demo

[tool:pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings =
    ignore::ResourceWarning
"""


def _project(root: Path, name: str, config: str) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_new.py").write_text(NEW_TESTS)
    (root / name).write_text(config)
    return root


def _failing(run: object) -> set[str]:
    return run.ids("failed") | run.ids("error")  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize(
    ("name", "config"), [("pyproject.toml", PYPROJECT), ("setup.cfg", SETUP_CFG)]
)
def test_guard_makes_never_run_async_tests_fail(tmp_path: Path, name: str, config: str) -> None:
    project = _project(tmp_path, name, config)
    before = run_pytest(project)
    assert before.returncode == 0, before.output
    assert NEVER_RUN | UNAFFECTED <= before.ids("passed")

    guarded = ssot(project, "guard", ".")
    assert guarded.returncode == 0, guarded.stderr
    assert f"{name}: added 3 guard entries" in guarded.stderr
    assert "a sync test that returns a value other than None now fails" in guarded.stderr
    text = (project / name).read_text()
    assert "# unclosed loops in old tests" in text or name != "pyproject.toml"
    assert text.index("ignore::ResourceWarning") < text.index(GUARD_FILTERS[0])

    after = run_pytest(project)
    assert _failing(after) == NEVER_RUN, after.output
    assert UNAFFECTED <= after.ids("passed")

    again = ssot(project, "guard", ".")
    assert again.returncode == 0 and "already there" in again.stderr
    assert (project / name).read_text() == text


def test_conftest_guard_alone_fails_them_too(tmp_path: Path) -> None:
    project = _project(
        tmp_path, "pytest.ini", "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    (project / "conftest.py").write_text('"""Test configuration."""\n' + CONFTEST_GUARD)
    run = run_pytest(project)
    assert _failing(run) == NEVER_RUN, run.output
    assert UNAFFECTED <= run.ids("passed")
    assert "is an async test in a TestCase that never awaits it" in run.output


def test_conftest_guard_under_unittest_from_the_package_init(tmp_path: Path) -> None:
    project = _project(tmp_path, "pytest.ini", "[pytest]\n")
    body = NEW_TESTS.replace("import pytest\n", "").replace("    @pytest.mark.asyncio\n", "")
    (project / "tests" / "test_new.py").write_text(body)
    (project / "tests" / "__init__.py").write_text(CONFTEST_GUARD.lstrip())
    done = run_unittest(project)
    assert done.returncode == 1
    assert "FAILED (errors=3)" in done.stderr, done.stderr


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the DeprecationWarning exists on 3.11+")
def test_unittest_alternative_with_w_flag(tmp_path: Path) -> None:
    project = _project(tmp_path, "pytest.ini", "[pytest]\n")
    body = NEW_TESTS.replace("import pytest\n", "").replace("    @pytest.mark.asyncio\n", "")
    (project / "tests" / "test_new.py").write_text(body)
    unguarded = run_unittest(project, env=child_env())
    assert unguarded.returncode == 0, unguarded.stderr
    flag = f"-W{GUARD_FILTERS[0]}"
    guarded = run_unittest(project, flag)
    assert "FAILED (errors=3)" in guarded.stderr, guarded.stderr


def test_dry_run_and_conftest_option(tmp_path: Path) -> None:
    project = _project(tmp_path, "pyproject.toml", PYPROJECT)
    original = (project / "pyproject.toml").read_bytes()
    dry = ssot(project, "guard", "--dry-run", "--conftest", ".")
    assert dry.returncode == 1
    assert f'+    "{GUARD_FILTERS[1]}",' in dry.stdout
    assert "+++ b/conftest.py" in dry.stdout
    assert (project / "pyproject.toml").read_bytes() == original
    assert not (project / "conftest.py").exists()
    done = ssot(project, "guard", "--conftest", ".")
    assert done.returncode == 0, done.stderr
    assert "_ssot_guard_async_tests()" in (project / "conftest.py").read_text()
    # The config change is backed up and journaled: revert restores it.
    assert ssot(project, "revert", ".").returncode == 0
    assert (project / "pyproject.toml").read_bytes() == original


# --------------------------------------------------------------------------------------------
# text-level edits


def test_toml_multiline_array_keeps_comments_and_layout() -> None:
    new, added = guard_toml(PYPROJECT, "tool.pytest.ini_options")
    assert added == GUARD_FILTERS
    expected = PYPROJECT.replace(
        '    "ignore::ResourceWarning",  # unclosed loops in old tests\n',
        '    "ignore::ResourceWarning",  # unclosed loops in old tests\n'
        + "".join(f'    "{f}",\n' for f in GUARD_FILTERS),
    )
    assert new == expected
    assert guard_toml(new, "tool.pytest.ini_options") == (new, ())


@pytest.mark.parametrize(
    ("text", "expected_tail"),
    [
        (
            '[tool.pytest.ini_options]\nfilterwarnings = ["error"]  # strict\n',
            f'filterwarnings = ["error", "{GUARD_FILTERS[0]}", "{GUARD_FILTERS[1]}", '
            f'"{GUARD_FILTERS[2]}"]  # strict\n',
        ),
        (
            "[tool.pytest.ini_options]\nfilterwarnings = [\n  'error'\n]\n",
            "filterwarnings = [\n  'error',\n"
            + "".join(f'  "{f}",\n' for f in GUARD_FILTERS)
            + "]\n",
        ),
        (
            '[tool.pytest.ini_options]\nmarkers = [\n  "slow: [x]",\n]\n'
            "\n# about ruff\n[tool.ruff]\n",
            '  "slow: [x]",\n]\nfilterwarnings = [\n'
            + "".join(f'    "{f}",\n' for f in GUARD_FILTERS)
            + "]\n\n# about ruff\n[tool.ruff]\n",
        ),
        (
            '[project]\nname = "x"\n',
            '[project]\nname = "x"\n\n[tool.pytest.ini_options]\nfilterwarnings = [\n'
            + "".join(f'    "{f}",\n' for f in GUARD_FILTERS)
            + "]\n",
        ),
    ],
    ids=["inline", "no-trailing-comma", "no-key", "no-section"],
)
def test_toml_shapes(text: str, expected_tail: str) -> None:
    new, _ = guard_toml(text, "tool.pytest.ini_options")
    assert new.endswith(expected_tail), new
    assert guard_toml(new, "tool.pytest.ini_options")[1] == ()


def test_toml_crlf_kept() -> None:
    text = PYPROJECT.replace("\n", "\r\n")
    new, _ = guard_toml(text, "tool.pytest.ini_options")
    assert "\n" not in new.replace("\r\n", "")


def test_toml_string_value_is_refused() -> None:
    with pytest.raises(GuardError, match="single string"):
        guard_toml(
            '[tool.pytest.ini_options]\nfilterwarnings = "error"\n', "tool.pytest.ini_options"
        )


@pytest.mark.parametrize(
    ("text", "section", "expected"),
    [
        (
            "[pytest]\naddopts = -q\nfilterwarnings =\n  error\n  ; keep\n"
            "  ignore::UserWarning\n\n[x]\ny=1\n",
            "pytest",
            "[pytest]\naddopts = -q\nfilterwarnings =\n  error\n  ; keep\n  ignore::UserWarning\n"
            + "".join(f"  {f}\n" for f in GUARD_FILTERS)
            + "\n[x]\ny=1\n",
        ),
        (
            "[pytest]\nfilterwarnings = error\n",
            "pytest",
            "[pytest]\nfilterwarnings = error\n" + "".join(f"    {f}\n" for f in GUARD_FILTERS),
        ),
        (
            "[tox]\nenvlist = py311\n\n[pytest]\naddopts = -q\n\n[testenv]\ncommands = pytest\n",
            "pytest",
            "[tox]\nenvlist = py311\n\n[pytest]\naddopts = -q\nfilterwarnings =\n"
            + "".join(f"    {f}\n" for f in GUARD_FILTERS)
            + "\n[testenv]\ncommands = pytest\n",
        ),
        (
            "[metadata]\nname = x",
            "tool:pytest",
            "[metadata]\nname = x\n\n[tool:pytest]\nfilterwarnings =\n"
            + "".join(f"    {f}\n" for f in GUARD_FILTERS),
        ),
    ],
    ids=["pytest.ini", "one-line-value", "tox.ini", "setup.cfg-no-section"],
)
def test_ini_shapes(text: str, section: str, expected: str) -> None:
    new, _ = guard_ini(text, section)
    assert new == expected
    assert guard_ini(new, section) == (new, ())


def test_config_precedence(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no pytest table
    sub = tmp_path / "pkg" / "tests"
    sub.mkdir(parents=True)
    assert find_pytest_config(sub) == (tmp_path / "setup.cfg", "ini", "tool:pytest")
    (tmp_path / "tox.ini").write_text("[pytest]\n")
    assert find_pytest_config(sub) == (tmp_path / "tox.ini", "ini", "pytest")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    assert find_pytest_config(sub)[0] == tmp_path / "pyproject.toml"  # type: ignore[index]
    (tmp_path / "pkg" / "pytest.ini").write_text("")
    assert find_pytest_config(sub)[0] == tmp_path / "pkg" / "pytest.ini"  # type: ignore[index]


def test_pytest9_native_table(tmp_path: Path) -> None:
    text = '[tool.pytest]\nminversion = "9.0"\nfilterwarnings = ["error"]\n'
    (tmp_path / "pyproject.toml").write_text(text)
    assert find_pytest_config(tmp_path) == (tmp_path / "pyproject.toml", "toml", "tool.pytest")
    new, added = guard_toml(text, "tool.pytest")
    assert added == GUARD_FILTERS and "ini_options" not in new
