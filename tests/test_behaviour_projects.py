"""Behaviour across modules: run a multi-module SSOT-shaped project before and after the codemod.

The project (written into a temporary directory) has the framework in its own module
(``framework/ssot/base_test_case.py``: a plain base with the bridge, a ``TestCase`` twin, an
``asyncSetUp`` that re-enters ``setUp``), an intermediate base in another package imported
through a module alias, a test module whose ``asyncSetUp`` calls ``super().setUp()`` again
(a re-entry whose bridge lives in another module), and a test module with canary async tests
(plain, ``@pytest.mark.asyncio``, ``@patch``) that call ``self.fail`` and sync tests that pass.
The plain base also bridges ``asyncTearDown`` in a ``tearDown`` the ``TestCase`` inherits.

Each run happens in a subprocess (pytest strict and auto mode with pytest-timeout, and
``python -m unittest``). Instrumentation appends one line per event to ``$SSOT_PROJECT_LOG``:

* before: every runner fails with "This event loop is already running";
* after ``apply``: no re-entry; the sync setup and ``asyncSetUp`` run exactly once per test; the
  canaries are still reported PASSED without running (the codemod reports them, fixes them only
  with ``--unsafe-fixes``);
* after ``apply --unsafe-fixes``: the canaries FAIL because they now run, the sync tests still
  pass, setup and ``asyncSetUp`` still run once each, and only the framework module and the
  subclass that needs its own edit were written;
* ``revert`` restores every touched file byte for byte.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from ssot_codemod.api import Options, apply_paths, revert_paths

ALREADY_RUNNING = "This event loop is already running"
SUBPROCESS_TIMEOUT = 120  # pytest-timeout inside the child fires long before this
LOG_ENV = "SSOT_PROJECT_LOG"

FRAMEWORK_PATH = "framework/ssot/base_test_case.py"
REENTRY_PATH = "tests/unit/test_reentry.py"

FRAMEWORK = r'''"""SSOT base test cases (a model of the real framework module)."""
import asyncio
import logging
import os
import unittest

logger = logging.getLogger(__name__)


def record(*parts):
    """Append one event line to the file named by $SSOT_PROJECT_LOG."""
    path = os.environ.get("SSOT_PROJECT_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(" ".join(str(part) for part in parts) + "\n")


class SSotBaseTestCase:
    """Framework-neutral base: not a TestCase itself."""

    def setup_method(self, method=None):
        # pytest also calls setup_method itself (xunit hook); count the setUp calls only
        if method is None:
            record("setup", self.id())
        self.sync_ready = True

    def setUp(self):
        """Run the SSOT setup, then the test's async fixtures."""
        self.setup_method()
        if hasattr(self, "asyncSetUp") and asyncio.iscoroutinefunction(self.asyncSetUp):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    raise RuntimeError("Event loop is closed")
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncSetUp())
            except Exception as e:
                logger.error(f"asyncSetUp failed: {e}")
                raise

    def tearDown(self):
        """Run the test's async teardown, then the SSOT teardown (inherited, not twinned)."""
        if hasattr(self, "asyncTearDown") and asyncio.iscoroutinefunction(self.asyncTearDown):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    raise RuntimeError("Event loop is closed")
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            loop.run_until_complete(self.asyncTearDown())
        record("teardown", self.id())


class SSotAsyncTestCase(SSotBaseTestCase, unittest.TestCase):
    """SSOT base for tests with async fixtures."""

    def setUp(self):
        """Set up the SSOT environment and run asyncSetUp on the event loop."""
        self.setup_method()
        if hasattr(self, "asyncSetUp") and asyncio.iscoroutinefunction(self.asyncSetUp):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    raise RuntimeError("Event loop is closed")
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncSetUp())
            except Exception as e:
                logger.error(f"asyncSetUp failed: {e}")
                raise

    async def asyncSetUp(self):
        """Async fixtures; make sure the sync SSOT setup has run."""
        if hasattr(super(), "setUp"):
            super().setUp()
        record("asyncSetUp", self.id())
        await asyncio.sleep(0)
        self.async_ready = True

    async def asyncTearDown(self):
        record("asyncTearDown", self.id())
        await asyncio.sleep(0)
'''

HELPERS = '''"""An intermediate base in another package, reached through a module alias."""
from framework.ssot import base_test_case as btc


class ServiceTestCase(btc.SSotAsyncTestCase):
    def make_service(self):
        return {"name": "svc"}
'''

# The subclass re-enters setUp from its own asyncSetUp: the bridge lives in another module.
REENTRY = """from framework.ssot.base_test_case import SSotAsyncTestCase, record


class TestReentry(SSotAsyncTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        super().setUp()
        record("user-asyncSetUp", self.id())
        self.orders = []

    def test_orders_empty(self):
        record("ran", self.id())
        self.assertEqual(self.orders, [])
        self.assertTrue(self.async_ready)

    def test_sync_ready(self):
        record("ran", self.id())
        self.assertTrue(self.sync_ready)
"""

CANARIES = """from unittest.mock import patch

import pytest

from framework.ssot.base_test_case import record
from tests.unit.helpers import ServiceTestCase


class TestCanaries(ServiceTestCase):
    async def test_plain(self):
        record("canary", self.id())
        self.fail("canary test_plain ran")

    @pytest.mark.asyncio
    async def test_marked(self):
        record("canary", self.id())
        self.fail("canary test_marked ran")

    @patch("os.getcwd", return_value="/nowhere")
    async def test_patched(self, getcwd):
        record("canary", self.id())
        self.fail("canary test_patched ran")

    def test_sync(self):
        record("ran", self.id())
        self.assertEqual(self.make_service()["name"], "svc")
        self.assertTrue(self.async_ready)
"""

FILES = {
    "pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = function\n",
    "framework/__init__.py": "",
    "framework/ssot/__init__.py": "",
    FRAMEWORK_PATH: FRAMEWORK,
    "tests/__init__.py": "",
    "tests/unit/__init__.py": "",
    "tests/unit/helpers.py": HELPERS,
    REENTRY_PATH: REENTRY,
    "tests/unit/test_canaries.py": CANARIES,
}

CANARY_NAMES = ("test_plain", "test_marked", "test_patched")
SYNC_NAMES = ("test_orders_empty", "test_sync_ready", "test_sync")
ALL_NAMES = CANARY_NAMES + SYNC_NAMES
RUNNERS = ("pytest-strict", "pytest-auto", "unittest")


@dataclass
class Run:
    runner: str
    returncode: int
    output: str
    events: list[list[str]]

    def by_test(self, event: str) -> Counter[str]:
        """How often *event* happened, by test method name."""
        return Counter(f[1].rsplit(".", 1)[-1] for f in self.events if f[0] == event)

    def explain(self) -> str:
        return f"runner={self.runner} rc={self.returncode}\n{self.output[-6000:]}"


def write_project(root: Path) -> dict[str, bytes]:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tree(root)


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("events-")
    }


def sources(root: Path) -> dict[str, bytes]:
    """The project's own files (no backups or journal)."""
    return {rel: data for rel, data in tree(root).items() if rel in FILES}


def run_project(root: Path, runner: str, tag: str) -> Run:
    log = root / f"events-{tag}-{runner}.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "PYTHON", "COV_CORE"))
    }
    env.update(
        PYTHONPATH=str(root),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
        **{LOG_ENV: str(log)},
    )
    if runner == "unittest":
        cmd = [sys.executable, "-m", "unittest", "discover", "-v", "-s", "tests", "-t", "."]
    else:
        mode = runner.split("-", 1)[1]
        cmd = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
            f"--asyncio-mode={mode}", "-p", "timeout", "--timeout", "30",
            "--timeout-method=thread", "tests",
        ]  # fmt: skip
    proc = subprocess.run(
        cmd,
        cwd=str(root),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=SUBPROCESS_TIMEOUT,
        encoding="utf-8",
        errors="replace",
    )
    events = []
    if log.exists():
        events = [line.split(" ") for line in log.read_text(encoding="utf-8").splitlines()]
    return Run(runner, proc.returncode, proc.stdout, events)


def outcomes(run: Run) -> dict[str, str]:
    """Test method name -> PASSED / FAILED / ERROR, from pytest -rA or unittest -v."""
    found: dict[str, str] = {}
    if run.runner == "unittest":
        # -v prints "name (id) ... ok", but log lines may land between "..." and the verdict;
        # the failure sections ("FAIL: name (id)") are unambiguous.
        for name in re.findall(r"^(test_\w+) \(", run.output, re.M):
            found[name] = "PASSED"
        for word, name in re.findall(r"^(FAIL|ERROR): (test_\w+) \(", run.output, re.M):
            found[name] = "FAILED" if word == "FAIL" else "ERROR"
    else:
        for word, name in re.findall(r"^(PASSED|FAILED|ERROR) \S+::(test_\w+)", run.output, re.M):
            if found.get(name) != "ERROR":
                found[name] = word
    return found


def once_each(names: tuple[str, ...]) -> Counter[str]:
    return Counter(dict.fromkeys(names, 1))


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_before_the_cross_module_reentry_fails(tmp_path: Path, runner: str) -> None:
    write_project(tmp_path)
    run = run_project(tmp_path, runner, "before")
    assert run.returncode != 0, run.explain()
    assert ALREADY_RUNNING in run.output, run.explain()
    assert run.by_test("asyncSetUp") == Counter(), run.explain()
    assert run.by_test("ran") == Counter(), run.explain()
    assert run.by_test("canary") == Counter(), run.explain()


@pytest.fixture(scope="module")
def safe_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("safe")
    original = write_project(root)
    result = apply_paths([root], Options(jobs=1))
    assert not result.failed, [(f.path, f.error) for f in result.failed]
    return root, original


@pytest.fixture(scope="module")
def unsafe_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("unsafe")
    original = write_project(root)
    result = apply_paths([root], Options(jobs=1, unsafe_fixes=True))
    assert not result.failed, [(f.path, f.error) for f in result.failed]
    return root, original


def changed_files(root: Path, original: dict[str, bytes]) -> list[str]:
    now = sources(root)
    return sorted(rel for rel in original if rel in FILES and now[rel] != original[rel])


@pytest.mark.parametrize("project", ["safe_project", "unsafe_project"])
def test_apply_touches_the_framework_and_the_reentering_subclass_only(
    project: str, request: pytest.FixtureRequest
) -> None:
    root, original = request.getfixturevalue(project)
    assert changed_files(root, original) == sorted([FRAMEWORK_PATH, REENTRY_PATH])
    reentry = (root / REENTRY_PATH).read_text(encoding="utf-8")
    assert "super().setUp()" not in reentry
    assert "await super().asyncSetUp()" in reentry


@pytest.mark.parametrize("runner", RUNNERS)
def test_after_apply_no_reentry_and_setup_runs_once(
    runner: str, safe_project: tuple[Path, dict[str, bytes]]
) -> None:
    root, _ = safe_project
    run = run_project(root, runner, "safe")
    assert ALREADY_RUNNING not in run.output, run.explain()
    assert run.returncode == 0, run.explain()
    # The sync setup and asyncSetUp ran exactly once for every test, sync or async.
    assert run.by_test("setup") == once_each(ALL_NAMES), run.explain()
    assert run.by_test("asyncSetUp") == once_each(ALL_NAMES), run.explain()
    assert run.by_test("asyncTearDown") == once_each(ALL_NAMES), run.explain()
    assert run.by_test("teardown") == once_each(ALL_NAMES), run.explain()
    assert run.by_test("user-asyncSetUp") == once_each(("test_orders_empty", "test_sync_ready"))
    assert run.by_test("ran") == once_each(SYNC_NAMES), run.explain()
    # The canaries are still reported as passing without running: form A does not change that.
    assert run.by_test("canary") == Counter(), run.explain()
    assert outcomes(run) == dict.fromkeys(ALL_NAMES, "PASSED"), run.explain()


@pytest.mark.parametrize("runner", RUNNERS)
def test_after_unsafe_apply_canaries_run_and_fail(
    runner: str, unsafe_project: tuple[Path, dict[str, bytes]]
) -> None:
    root, _ = unsafe_project
    run = run_project(root, runner, "unsafe")
    assert ALREADY_RUNNING not in run.output, run.explain()
    assert run.returncode == 1, run.explain()
    found = outcomes(run)
    assert found == {
        **dict.fromkeys(CANARY_NAMES, "FAILED"),
        **dict.fromkeys(SYNC_NAMES, "PASSED"),
    }, run.explain()
    for name in CANARY_NAMES:
        assert f"canary {name} ran" in run.output, run.explain()
    assert run.by_test("canary") == once_each(CANARY_NAMES), run.explain()
    assert run.by_test("ran") == once_each(SYNC_NAMES), run.explain()
    # asyncSetUp is awaited by IsolatedAsyncioTestCase now: still exactly once per test, and
    # the sync setup still exactly once.
    assert run.by_test("setup") == once_each(ALL_NAMES), run.explain()
    assert run.by_test("asyncSetUp") == once_each(ALL_NAMES), run.explain()
    # The tearDown bridge SSotAsyncTestCase inherits from the plain base must not run
    # asyncTearDown a second time once the runner awaits it; the sync teardown still runs.
    assert run.by_test("asyncTearDown") == once_each(ALL_NAMES), run.explain()
    assert run.by_test("teardown") == once_each(ALL_NAMES), run.explain()


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_revert_is_byte_exact_across_touched_files(tmp_path: Path, unsafe: bool) -> None:
    original = write_project(tmp_path)
    applied = apply_paths([tmp_path], Options(jobs=1, unsafe_fixes=unsafe))
    assert not applied.failed
    touched = sorted(
        f.path.resolve().relative_to(tmp_path.resolve()).as_posix()
        for f in applied.files
        if f.status == "changed"
    )
    assert touched == sorted([FRAMEWORK_PATH, REENTRY_PATH])
    result = revert_paths([tmp_path])
    assert not result.failed, [(f.path, f.error) for f in result.failed]
    assert tree(tmp_path) == original
