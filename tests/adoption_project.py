"""Fixture projects and subprocess helpers for the adoption tests (quarantine, release, guard).

Everything runs for real: pytest and ``python -m unittest`` in subprocesses (pytest-timeout in
the child, a hard timeout around it), ``python -m ssot_codemod`` for the tool.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ssot_codemod.junit import TestResult, read_junit

SUBPROCESS_TIMEOUT = 180
PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider --timeout=60"

# A framework class with the hand-written bridge and the test classes in one module: what
# `apply --unsafe-fixes` rebases today (the base in another module needs the project view).
SINGLE_MODULE = '''"""Orders: an SSOT-shaped test module."""
import asyncio
import os
import unittest
from unittest.mock import patch


async def fetch_total():
    await asyncio.sleep(0)
    return 41


class SSotAsyncTestCase(unittest.TestCase):
    def setUp(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.asyncSetUp())

    async def asyncSetUp(self):
        self.ready = True

    async def test_framework_ready(self):
        self.assertTrue(self.ready)


class TestOrders(SSotAsyncTestCase):
    def test_sync_ready(self):
        self.assertTrue(self.ready)

    async def test_total_positive(self):
        self.assertGreater(await fetch_total(), 0)

    async def test_total_is_42(self):
        self.assertEqual(await fetch_total(), 42)

    @patch("os.getcwd", return_value="/nowhere")
    async def test_patched_cwd(self, _getcwd):
        self.assertEqual(os.getcwd(), "/nowhere")

    async def test_missing_key(self):
        {}["customer"]

    async def test_flaky_first_run(self):
        marker = os.environ.get("ADOPTION_FLAKY_MARKER")
        if marker and not os.path.exists(marker):
            open(marker, "w").close()
            self.fail("fails on its first run only")


class TestLoopBound(SSotAsyncTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError("queue bound to the setUp loop")

    def test_sync_uses_queue(self):
        self.assertTrue(self.ready)

    async def test_async_uses_queue(self):
        self.assertTrue(self.ready)


class TestPlainSync(unittest.TestCase):
    def test_untouched(self):
        self.assertEqual(1 + 1, 2)
'''

# The ids that fail once the async tests run (the flaky one passes on its rerun).
SINGLE_MODULE_FAILING = (
    "tests/test_orders.py::TestOrders::test_total_is_42",
    "tests/test_orders.py::TestOrders::test_missing_key",
    "tests/test_orders.py::TestLoopBound::test_sync_uses_queue",
    "tests/test_orders.py::TestLoopBound::test_async_uses_queue",
    "tests/test_orders.py::TestLoopBound::test_framework_ready",
)
SINGLE_MODULE_FLAKY = "tests/test_orders.py::TestOrders::test_flaky_first_run"

# The same suite with the framework in its own module (the SSOT layout).
FRAMEWORK_MODULE = '''"""The test framework: a plain base with the bridge, and the async base."""
import asyncio
import unittest


class SSotBaseTestCase:
    def setUp(self):
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self.asyncSetUp())


class SSotAsyncTestCase(SSotBaseTestCase, unittest.TestCase):
    async def asyncSetUp(self):
        self.ready = True
'''

MULTI_MODULE_TESTS = '''"""Orders, on the shared framework."""
import asyncio

from tests.framework import SSotAsyncTestCase


async def fetch_total():
    await asyncio.sleep(0)
    return 41


class TestOrders(SSotAsyncTestCase):
    def test_sync_ready(self):
        self.assertTrue(self.ready)

    async def test_total_positive(self):
        self.assertGreater(await fetch_total(), 0)

    async def test_total_is_42(self):
        self.assertEqual(await fetch_total(), 42)
'''

PYTEST_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def write_single_module_project(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_orders.py").write_text(SINGLE_MODULE)
    (root / "pytest.ini").write_text(PYTEST_INI)
    return root


def write_multi_module_project(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "framework.py").write_text(FRAMEWORK_MODULE)
    (root / "tests" / "test_orders.py").write_text(MULTI_MODULE_TESTS)
    (root / "pytest.ini").write_text(PYTEST_INI)
    return root


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    env.update(extra)
    return env


@dataclass(frozen=True)
class PytestRun:
    returncode: int
    results: tuple[TestResult, ...]
    output: str

    def ids(self, status: str) -> set[str]:
        return {_node_id(r) for r in self.results if r.status == status}

    def skipped_reasons(self) -> dict[str, str]:
        return {_node_id(r): r.reason for r in self.results if r.status == "skipped"}


def _node_id(result: TestResult) -> str:
    module = (result.file or "")[:-3].replace("/", ".")
    inner = result.classname[len(module) + 1 :] if result.classname.startswith(module) else ""
    parts = [result.file or result.classname, *([inner.replace(".", "::")] if inner else [])]
    return "::".join([*parts, result.name])


def run_pytest(
    project: Path, *args: str, env: dict[str, str] | None = None, keep_junit: Path | None = None
) -> PytestRun:
    junit = keep_junit or project.parent / f"{project.name}-junit.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--timeout=60",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={junit}",
        *(args or ("tests",)),
    ]
    done = subprocess.run(
        command,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env=env or child_env(),
    )
    results = tuple(read_junit(junit)) if junit.exists() else ()
    if keep_junit is None:
        junit.unlink(missing_ok=True)
    return PytestRun(done.returncode, results, done.stdout + done.stderr)


def run_unittest(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, "-m", "unittest", "discover", "-s", "tests", "-t", "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env=env or child_env(),
    )


def ssot(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssot_codemod", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env=env or child_env(),
    )


_SNAPSHOT_SKIP = {"__pycache__", ".pytest_cache"}


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under *root* by relative path (caches left out)."""
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if any(part in _SNAPSHOT_SKIP for part in path.relative_to(root).parts):
            continue
        if path.is_file():
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out
