"""Behaviour tests: prove the rewrite by *running* the code before and after it.

A small SSOT-shaped framework (``FRAMEWORK``) and user test modules that subclass it are written
into a temporary project and run in subprocesses under pytest (pytest-asyncio strict and auto
mode, pytest-timeout) and under ``python -m unittest``:

* before the codemod every runner fails with "This event loop is already running";
* after the codemod has rewritten the framework file (and only that file) every runner is green
  except the one test whose ``asyncSetUp`` raises on purpose, whose exception reaches the runner
  with its original traceback line.

The instrumentation writes one line per event to the file named by ``$SSOT_BEHAVIOUR_LOG``, so
the tests can count how often ``asyncSetUp`` was entered, which loop it ran on, and whether that
loop was still open and current in the test body.

The second half exercises ``HELPER_SOURCE`` directly, in-process.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import os
import re
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from ssot_codemod.helper_source import HELPER_SOURCE

ALREADY_RUNNING = "This event loop is already running"
SUBPROCESS_TIMEOUT = 60  # seconds; pytest-timeout inside the child fires long before this
LOG_ENV = "SSOT_BEHAVIOUR_LOG"

# --------------------------------------------------------------------------------------------
# The project under test
# --------------------------------------------------------------------------------------------

# The framework, modelled on compatible-form.md "What actually goes wrong". This is the only file
# the codemod is run on.
FRAMEWORK = r'''"""A small model of the SSOT test framework (ssot-codemod behaviour tests)."""
import asyncio
import logging
import os
import threading
import unittest

logger = logging.getLogger(__name__)


def record(*parts):
    """Append one event line to the file named by $SSOT_BEHAVIOUR_LOG."""
    path = os.environ.get("SSOT_BEHAVIOUR_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(" ".join(str(part) for part in parts) + "\n")


class SSotBaseTestCase:
    """Plain base class: not a TestCase itself."""

    def log_key(self):
        return getattr(self, "key", None) or self.id()

    def setup_method(self, method=None):
        record("setup_method", self.log_key(), "pytest" if method is not None else "setUp")
        self.sync_ready = True

    def teardown_method(self, method=None):
        record("teardown_method", self.log_key(), "pytest" if method is not None else "tearDown")

    def setUp(self):
        """Base setUp: the sync setup, then the async hook."""
        self.setup_method()
        if hasattr(self, "asyncSetUp") and asyncio.iscoroutinefunction(self.asyncSetUp):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    loop = asyncio.new_event_loop()
                    asyncio.set_event_loop(loop)
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncSetUp())
            except Exception as e:
                logger.error(f"Async setup failed: {e}")
                raise

    def tearDown(self):
        """Base tearDown: the async hook, then the sync teardown."""
        if hasattr(self, "asyncTearDown") and asyncio.iscoroutinefunction(self.asyncTearDown):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    loop = asyncio.new_event_loop()
                    asyncio.set_event_loop(loop)
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncTearDown())
            except Exception as e:
                logger.error(f"Async teardown failed: {e}")
                raise
        self.teardown_method()


class SSotAsyncTestCase(SSotBaseTestCase, unittest.TestCase):
    """Async-capable SSOT test case."""

    def setUp(self):
        """Set up the test: sync setup first, then asyncSetUp on the event loop."""
        self.setup_method()
        if hasattr(self, "asyncSetUp") and asyncio.iscoroutinefunction(self.asyncSetUp):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    loop = asyncio.new_event_loop()
                    asyncio.set_event_loop(loop)
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncSetUp())
            except Exception as e:
                logger.error(f"Async setup failed: {e}")
                raise

    def tearDown(self):
        """Tear down the test: asyncTearDown on the event loop, then the sync teardown."""
        if hasattr(self, "asyncTearDown") and asyncio.iscoroutinefunction(self.asyncTearDown):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    loop = asyncio.new_event_loop()
                    asyncio.set_event_loop(loop)
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncTearDown())
            except Exception as e:
                logger.error(f"Async teardown failed: {e}")
                raise
        self.teardown_method()

    async def asyncSetUp(self):
        """Async setup: the shared sync setup, then async resources."""
        record("asyncSetUp-enter", self.log_key())
        if hasattr(super(), "setUp"):
            super().setUp()
        loop = asyncio.get_running_loop()
        self.setup_loop = loop
        self.setup_thread = threading.current_thread().name
        self.background = loop.create_task(asyncio.sleep(3600))
        await asyncio.sleep(0)
        record("asyncSetUp-done", self.log_key(), id(loop), self.setup_thread)

    async def asyncTearDown(self):
        """Async teardown: stop the background task, then the shared sync teardown."""
        record("asyncTearDown-enter", self.log_key())
        background = getattr(self, "background", None)
        if background is not None and background.get_loop() is asyncio.get_running_loop():
            background.cancel()
            try:
                await background
            except asyncio.CancelledError:
                pass
        if hasattr(super(), "tearDown"):
            super().tearDown()
'''

# Test cases instantiated by hand from async code (no test methods: no runner collects them).
USER_CASES = r'''import asyncio
import threading

from ssot_framework import SSotAsyncTestCase, record


class PlainCase(SSotAsyncTestCase):
    def check(self):
        pass


class ReenteringCase(PlainCase):
    """User code the codemod never sees: re-enters setUp from its own asyncSetUp."""

    async def asyncSetUp(self):
        record("user-asyncSetUp-enter", self.log_key())
        await super().asyncSetUp()
        super().setUp()
        record("user-asyncSetUp-done", self.log_key())


async def set_up_from_async_code(case_class, key):
    """Call the sync setUp()/tearDown() from inside a running event loop."""
    case = case_class("check")
    case.key = key
    caller_loop = asyncio.get_running_loop()
    case.setUp()
    try:
        record(
            "caller", key,
            "same_loop=%s" % (case.setup_loop is caller_loop),
            "same_thread=%s" % (case.setup_thread == threading.current_thread().name),
            "sync_ready=%s" % case.sync_ready,
        )
        assert case.setup_loop is not caller_loop
    finally:
        case.tearDown()
    return case
'''

USER_BASIC = r"""import asyncio
import unittest

from ssot_framework import SSotAsyncTestCase, record
from user_cases import PlainCase, ReenteringCase, set_up_from_async_code


class TestLoopKept(SSotAsyncTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        record("user-asyncSetUp-enter", self.log_key())
        self.prepared = await asyncio.sleep(0, result="prepared")

    def test_loop_is_open_and_current(self):
        loop = asyncio.get_event_loop()
        record(
            "test-loop", self.log_key(), id(loop),
            "same=%s" % (loop is self.setup_loop),
            "closed=%s" % loop.is_closed(),
            "background_done=%s" % self.background.done(),
        )
        self.assertIs(loop, self.setup_loop)
        self.assertFalse(loop.is_closed())
        self.assertFalse(self.background.done())
        self.assertEqual(loop.run_until_complete(asyncio.sleep(0, result=5)), 5)
        self.assertEqual(self.prepared, "prepared")
        self.assertTrue(self.sync_ready)

    def test_second_test_gets_its_own_setup(self):
        loop = asyncio.get_event_loop()
        record(
            "test-loop", self.log_key(), id(loop),
            "same=%s" % (loop is self.setup_loop),
            "closed=%s" % loop.is_closed(),
            "background_done=%s" % self.background.done(),
        )
        self.assertIs(loop, self.setup_loop)
        self.assertEqual(self.prepared, "prepared")


class TestUserReentersSetUp(SSotAsyncTestCase):
    async def asyncSetUp(self):
        record("user-asyncSetUp-enter", self.log_key())
        await super().asyncSetUp()
        super().setUp()
        record("user-asyncSetUp-done", self.log_key())

    def test_reentry_completes(self):
        self.assertIs(asyncio.get_event_loop(), self.setup_loop)
        self.assertFalse(self.setup_loop.is_closed())


class TestSetUpFromRunningLoop(unittest.TestCase):
    def test_setup_inside_asyncio_run(self):
        case = asyncio.run(set_up_from_async_code(PlainCase, "asyncio-run"))
        self.assertTrue(case.sync_ready)

    def test_reentering_setup_inside_asyncio_run(self):
        case = asyncio.run(set_up_from_async_code(ReenteringCase, "asyncio-run-reentry"))
        self.assertTrue(case.sync_ready)
"""

BOOM_LINE = 'raise SetupBoom("boom-from-user-asyncSetUp")'
USER_BOOM = r"""from ssot_framework import SSotAsyncTestCase, record


class SetupBoom(Exception):
    pass


class TestBoom(SSotAsyncTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        record("user-asyncSetUp-enter", self.log_key())
        raise SetupBoom("boom-from-user-asyncSetUp")

    def test_never_runs(self):
        record("boom-test-body-ran", self.log_key())
"""
BOOM_LINENO = USER_BOOM.splitlines().index("        " + BOOM_LINE) + 1

# pytest only: setUp() called from an async fixture and from async tests.
USER_ASYNC_CALLERS = r"""import asyncio

import pytest
import pytest_asyncio

from ssot_framework import record
from user_cases import PlainCase, ReenteringCase, set_up_from_async_code


@pytest_asyncio.fixture
async def case_from_async_fixture():
    case = PlainCase("check")
    case.key = "async-fixture"
    case.setUp()
    yield case
    case.tearDown()


@pytest.mark.asyncio
async def test_async_fixture_called_setup(case_from_async_fixture):
    running = asyncio.get_running_loop()
    record("caller", "async-fixture",
           "same_loop=%s" % (case_from_async_fixture.setup_loop is running))
    assert case_from_async_fixture.sync_ready
    assert case_from_async_fixture.setup_loop is not running


@pytest.mark.asyncio
async def test_async_test_calls_setup():
    case = await set_up_from_async_code(PlainCase, "async-test")
    assert case.sync_ready


@pytest.mark.asyncio
async def test_async_test_calls_reentering_setup():
    case = await set_up_from_async_code(ReenteringCase, "async-test-reentry")
    assert case.sync_ready
"""

PYTEST_INI = """[pytest]
asyncio_default_fixture_loop_scope = function
"""

SYNC_TEST_KEYS = {
    "test_user_basic.TestLoopKept.test_loop_is_open_and_current",
    "test_user_basic.TestLoopKept.test_second_test_gets_its_own_setup",
    "test_user_basic.TestUserReentersSetUp.test_reentry_completes",
}
BOOM_KEY = "test_user_boom.TestBoom.test_never_runs"
RUNNING_LOOP_KEYS_ANY_RUNNER = {"asyncio-run", "asyncio-run-reentry"}
RUNNING_LOOP_KEYS_PYTEST = {"async-fixture", "async-test", "async-test-reentry"}
REENTRY_KEYS = {
    "test_user_basic.TestUserReentersSetUp.test_reentry_completes",
    "asyncio-run-reentry",
    "async-test-reentry",
}

RUNNERS = ("pytest-strict", "pytest-auto", "unittest")


@dataclass
class Run:
    runner: str
    returncode: int
    output: str
    events: list[list[str]]

    def lines(self, event: str) -> list[list[str]]:
        return [fields[1:] for fields in self.events if fields[0] == event]

    def count(self, event: str) -> Counter[str]:
        return Counter(fields[0] for fields in self.lines(event))

    def explain(self) -> str:
        return f"runner={self.runner} rc={self.returncode}\n{self.output[-6000:]}"


def write_project(root: Path, framework: str = FRAMEWORK) -> Path:
    """Write the temporary project; return the path of the framework file."""
    (root / "fw").mkdir()
    (root / "tests").mkdir()
    (root / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    framework_file = root / "fw" / "ssot_framework.py"
    framework_file.write_text(framework, encoding="utf-8")
    tests = root / "tests"
    (tests / "user_cases.py").write_text(USER_CASES, encoding="utf-8")
    (tests / "test_user_basic.py").write_text(USER_BASIC, encoding="utf-8")
    (tests / "test_user_boom.py").write_text(USER_BOOM, encoding="utf-8")
    (tests / "test_async_callers.py").write_text(USER_ASYNC_CALLERS, encoding="utf-8")
    return framework_file


def child_env(root: Path, log: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "PYTHON", "COV_CORE"))
    }
    env["PYTHONPATH"] = str(root / "fw")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env[LOG_ENV] = str(log)
    return env


def run_project(root: Path, runner: str, tag: str) -> Run:
    log = root / f"events-{tag}-{runner}.log"
    if runner == "unittest":
        cmd = [sys.executable, "-m", "unittest", "-v"]
        cwd = root / "tests"
    else:
        mode = runner.split("-", 1)[1]
        cmd = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
            f"--asyncio-mode={mode}", "-p", "timeout", "--timeout", "20",
            # a deadlock ends the whole child at once (stack dump, exit) instead of 20 s per test
            "--timeout-method=thread", "tests",
        ]  # fmt: skip
        cwd = root
    proc = subprocess.run(
        cmd,
        cwd=str(cwd),
        env=child_env(root, log),
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


def pytest_counts(output: str) -> dict[str, int]:
    """The outcome counts of pytest's final summary line."""
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    assert summary, output[-4000:]
    counts = {}
    for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed)", summary[-1]):
        counts["error" if word.startswith("error") else word] = int(number)
    return counts


def rewrite_with_engine(source: str) -> str:
    from ssot_codemod.engine import fix_source

    code = fix_source(source).code
    # Preconditions that make a failure below readable: the engine did rewrite the bridge.
    assert "run_until_complete(self.asyncSetUp())" not in code, code
    assert "run_until_complete(self.asyncTearDown())" not in code, code
    assert code.count("def run_coroutine_sync(") == 1, code
    return code


# --------------------------------------------------------------------------------------------
# Assertions shared by the runs
# --------------------------------------------------------------------------------------------


def expected_keys(runner: str) -> set[str]:
    keys = SYNC_TEST_KEYS | {BOOM_KEY} | RUNNING_LOOP_KEYS_ANY_RUNNER
    if runner != "unittest":
        keys |= RUNNING_LOOP_KEYS_PYTEST
    return keys


def assert_original_fails(run: Run) -> None:
    assert run.returncode != 0, run.explain()
    assert ALREADY_RUNNING in run.output, run.explain()
    # No asyncSetUp ever got past the re-entry (or was even started from async callers) ...
    assert run.lines("asyncSetUp-done") == [], run.explain()
    # ... so no test body that depends on it ran.
    assert run.lines("test-loop") == [], run.explain()
    if run.runner == "unittest":
        match = re.search(r"^Ran (\d+) tests?", run.output, re.M)
        assert match, run.explain()
        assert re.search(rf"^FAILED \(errors={match.group(1)}\)$", run.output, re.M), run.explain()
    else:
        counts = pytest_counts(run.output)
        assert counts.get("passed", 0) == 0, run.explain()
        # 8 tests fail in their call phase, the async fixture errors in its setup phase.
        assert counts.get("failed") == 8 and counts.get("error") == 1, run.explain()


def assert_rewrite_works(run: Run) -> None:
    out = run.output
    assert ALREADY_RUNNING not in out, run.explain()
    assert "Timeout" not in out and "RecursionError" not in out, run.explain()
    assert "Too many open files" not in out and "can't start new thread" not in out, run.explain()
    assert "Event loop is closed" not in out, run.explain()

    # Green except the deliberate SetupBoom: exactly one failure, and it is that one.
    if run.runner == "unittest":
        assert run.returncode == 1, run.explain()
        assert re.search(r"^Ran 6 tests", out, re.M), run.explain()
        assert re.search(r"^FAILED \(errors=1\)$", out, re.M), run.explain()
        assert re.search(r"^ERROR: test_never_runs \(test_user_boom\.TestBoom", out, re.M), (
            run.explain()
        )
        # The original frame of the raise, with its source line.
        assert re.search(
            rf'test_user_boom\.py", line {BOOM_LINENO}, in asyncSetUp\n\s+{re.escape(BOOM_LINE)}',
            out,
        ), run.explain()
    else:
        assert run.returncode == 1, run.explain()
        assert pytest_counts(out) == {"passed": 8, "failed": 1}, run.explain()
        assert "FAILED tests/test_user_boom.py::TestBoom::test_never_runs" in out, run.explain()
        assert f"test_user_boom.py:{BOOM_LINENO}: SetupBoom" in out, run.explain()
        assert BOOM_LINE in out, run.explain()
    assert "SetupBoom: boom-from-user-asyncSetUp" in out, run.explain()
    # The framework's try/except still logs before re-raising.
    assert "Async setup failed: boom-from-user-asyncSetUp" in out, run.explain()
    assert run.lines("boom-test-body-ran") == [], run.explain()

    keys = expected_keys(run.runner)
    # asyncSetUp entered, and completed, exactly once per test (also with the user re-entry).
    assert run.count("asyncSetUp-enter") == Counter(dict.fromkeys(keys, 1)), run.explain()
    assert run.count("asyncSetUp-done") == Counter(dict.fromkeys(keys, 1)), run.explain()
    user_keys = SYNC_TEST_KEYS | {BOOM_KEY} | (keys & REENTRY_KEYS)
    assert run.count("user-asyncSetUp-enter") == Counter(dict.fromkeys(user_keys, 1)), run.explain()
    assert run.count("user-asyncSetUp-done") == Counter(dict.fromkeys(keys & REENTRY_KEYS, 1)), (
        run.explain()
    )
    # The sync setup runs once through setUp (twice where the user re-enters setUp on purpose).
    setup_calls = Counter(f[0] for f in run.lines("setup_method") if f[1] == "setUp")
    assert setup_calls == Counter({k: 2 if k in REENTRY_KEYS else 1 for k in keys}), run.explain()
    # tearDown ran the async hook and the sync teardown exactly once for every completed setUp.
    torn_down = keys - {BOOM_KEY}
    assert run.count("asyncTearDown-enter") == Counter(dict.fromkeys(torn_down, 1)), run.explain()
    teardown_calls = Counter(f[0] for f in run.lines("teardown_method") if f[1] == "tearDown")
    assert teardown_calls == Counter(dict.fromkeys(torn_down, 1)), run.explain()

    # Where the original worked (no running loop): asyncSetUp ran on the test's current loop in
    # this thread, and that loop is still open and current, its background task still pending.
    done = {fields[0]: fields[1:] for fields in run.lines("asyncSetUp-done")}
    test_loops = run.lines("test-loop")
    assert len(test_loops) == 2, run.explain()
    for key, loop_id, *flags in test_loops:
        assert flags == ["same=True", "closed=False", "background_done=False"], run.explain()
        assert done[key][0] == loop_id, run.explain()
    for key in SYNC_TEST_KEYS | {BOOM_KEY}:
        assert done[key][1] == "MainThread", run.explain()

    # Where the original raised "already running": completed on another loop in another thread.
    callers = {fields[0]: fields[1:] for fields in run.lines("caller")}
    running_loop_keys = keys - SYNC_TEST_KEYS - {BOOM_KEY}
    assert set(callers) == running_loop_keys, run.explain()
    for key in running_loop_keys:
        assert callers[key][0] == "same_loop=False", run.explain()
        assert done[key][1] != "MainThread", run.explain()
        if key != "async-fixture":
            assert callers[key][1:] == ["same_thread=False", "sync_ready=True"], run.explain()


# --------------------------------------------------------------------------------------------
# Before / after, through the engine API and through the CLI
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_original_framework_fails_with_already_running(tmp_path: Path, runner: str) -> None:
    write_project(tmp_path)
    assert_original_fails(run_project(tmp_path, runner, "before"))


@pytest.fixture(scope="module")
def rewritten_framework() -> str:
    return rewrite_with_engine(FRAMEWORK)


@pytest.mark.parametrize("runner", RUNNERS)
def test_rewritten_framework_passes(tmp_path: Path, runner: str, rewritten_framework: str) -> None:
    write_project(tmp_path, rewritten_framework)
    assert_rewrite_works(run_project(tmp_path, runner, "after"))


def test_bridge_fix_alone_passes_with_the_twin_kept(tmp_path: Path) -> None:
    """SSC001 + SSC002 without the twin removal: the subclass's own rewritten setUp runs."""
    from ssot_codemod.engine import fix_source
    from ssot_codemod.rules import select_rules

    code = fix_source(FRAMEWORK, rules=select_rules(select=["SSC001", "SSC002"], ignore=[])).code
    assert code.count("    def setUp(self):") == 2, code
    assert code.count("run_coroutine_sync(self.asyncSetUp(), loop)") == 2, code
    write_project(tmp_path, code)
    assert_rewrite_works(run_project(tmp_path, "pytest-auto", "after"))


def test_rewritten_framework_is_a_fixed_point(rewritten_framework: str) -> None:
    from ssot_codemod.engine import fix_source

    assert not fix_source(rewritten_framework).changed


def test_cli_apply_on_framework_only_then_run(tmp_path: Path) -> None:
    framework_file = write_project(tmp_path)
    user_files = {p: p.read_bytes() for p in (tmp_path / "tests").iterdir()}

    proc = subprocess.run(
        [sys.executable, "-m", "ssot_codemod", "apply", str(tmp_path / "fw")],
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=SUBPROCESS_TIMEOUT,
        encoding="utf-8",
        errors="replace",
    )
    assert proc.returncode == 0, proc.stdout
    code = framework_file.read_text(encoding="utf-8")
    assert code != FRAMEWORK, proc.stdout
    assert "run_until_complete(self.asyncSetUp())" not in code, code
    assert code.count("def run_coroutine_sync(") == 1, code
    assert {p: p.read_bytes() for p in (tmp_path / "tests").iterdir()} == user_files

    assert_rewrite_works(run_project(tmp_path, "pytest-auto", "after"))


# --------------------------------------------------------------------------------------------
# HELPER_SOURCE on its own
# --------------------------------------------------------------------------------------------


@pytest.fixture
def run_coroutine_sync():
    namespace = {"asyncio": asyncio, "contextvars": contextvars, "threading": threading}
    exec(compile(HELPER_SOURCE, "<HELPER_SOURCE>", "exec"), namespace)
    return namespace["run_coroutine_sync"]


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


def test_helper_without_running_loop_uses_the_given_loop_and_keeps_it(run_coroutine_sync) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    seen = {}

    async def body():
        running = asyncio.get_running_loop()
        seen["loop"] = running
        seen["thread"] = threading.current_thread()
        seen["task"] = running.create_task(asyncio.sleep(3600))
        return 7

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert run_coroutine_sync(body(), loop) == 7
            assert seen["loop"] is loop
            assert seen["thread"] is threading.current_thread()
            assert not loop.is_closed()
            assert not seen["task"].done()
            assert loop.run_until_complete(asyncio.sleep(0, result="again")) == "again"
        assert [str(w.message) for w in caught] == []
        # outside the warnings check: 3.10.0-3.10.8 warn on any get_event_loop() outside a loop
        assert asyncio.get_event_loop() is loop
    finally:
        asyncio.set_event_loop(None)
        _close_loop(loop)


def test_helper_without_running_loop_and_no_loop_uses_asyncio_run(run_coroutine_sync) -> None:
    async def body():
        return asyncio.get_running_loop(), threading.current_thread()

    used, thread = run_coroutine_sync(body())
    assert thread is threading.current_thread()
    assert used.is_closed()  # asyncio.run's fresh-loop semantics


def test_helper_submits_to_a_loop_running_in_another_thread(run_coroutine_sync) -> None:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    loop.call_soon(ready.set)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        assert ready.wait(5)

        async def body():
            return asyncio.get_running_loop(), threading.current_thread()

        used, ran_in = run_coroutine_sync(body(), loop)
        assert used is loop
        assert ran_in is thread
        assert loop.is_running()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.mark.parametrize("pass_loop", [True, False])
def test_helper_inside_running_loop_uses_a_worker(run_coroutine_sync, pass_loop: bool) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def body():
        return var.get(), asyncio.get_running_loop(), threading.current_thread()

    async def main():
        var.set("caller-value")
        caller_loop = asyncio.get_running_loop()
        result = run_coroutine_sync(body(), caller_loop if pass_loop else None)
        return result, caller_loop

    (value, used, ran_in), caller_loop = asyncio.run(main())
    assert value == "caller-value"
    assert used is not caller_loop
    assert ran_in is not threading.current_thread()
    assert used.is_closed()


def test_helper_reraises_the_worker_exception_with_its_traceback(run_coroutine_sync) -> None:
    class Boom(Exception):
        pass

    raised = []

    async def failing():
        await asyncio.sleep(0)
        exc = Boom("from the worker")
        raised.append(exc)
        raise exc

    async def main():
        try:
            run_coroutine_sync(failing())
        except Boom as exc:
            return exc
        raise AssertionError("no exception")

    caught = asyncio.run(main())
    assert caught is raised[0]
    frames = traceback.extract_tb(caught.__traceback__)
    assert any(f.name == "failing" and f.line == "raise exc" for f in frames), frames


def test_helper_without_running_loop_raises_like_run_until_complete(run_coroutine_sync) -> None:
    """Invariant 1: where the original worked, an exception from the coroutine looks the same.

    ``loop.run_until_complete(coro)`` raises the coroutine's exception with no implicit
    ``__context__``; the helper must not chain it to its own ``RuntimeError("no running event
    loop")`` probe (that would add "During handling of the above exception..." to every
    setUp failure report).
    """

    class Boom(Exception):
        pass

    async def failing():
        raise Boom("plain")

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(Boom) as original:
            loop.run_until_complete(failing())
        with pytest.raises(Boom) as rewritten:
            run_coroutine_sync(failing(), loop)
    finally:
        loop.close()
    assert original.value.__context__ is None
    assert rewritten.value.__context__ is None, repr(rewritten.value.__context__)


def test_helper_times_out_when_the_coroutine_waits_for_the_blocked_loop(
    run_coroutine_sync,
) -> None:
    async def main():
        caller_loop = asyncio.get_running_loop()

        async def needs_caller():
            worker_loop = asyncio.get_running_loop()
            answer = worker_loop.create_future()

            def reply():  # runs on the caller loop, which is blocked in run_coroutine_sync
                if not worker_loop.is_closed():
                    worker_loop.call_soon_threadsafe(answer.set_result, "late")

            caller_loop.call_soon_threadsafe(reply)
            return await answer

        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            run_coroutine_sync(needs_caller(), caller_loop, worker_timeout=0.5)
        return info.value, time.monotonic() - started

    error, elapsed = asyncio.run(main())
    message = str(error)
    assert "did not finish within 0.5 s" in message
    assert "probably waits for the event loop this thread is blocking" in message
    assert 0.5 <= elapsed < 4.5
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        t.name == "run_coroutine_sync" for t in threading.enumerate()
    ):
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "run_coroutine_sync"]


@pytest.mark.parametrize("inside_running_loop", [False, True])
def test_helper_reentry_guard_is_per_instance(run_coroutine_sync, inside_running_loop) -> None:
    class Owner:
        def __init__(self, partner=None):
            self.entered = 0
            self.inner_results = []
            self.partner = partner

        async def asyncSetUp(self):
            self.entered += 1
            if self.partner is not None:  # another instance is not blocked by the guard
                self.inner_results.append(run_coroutine_sync(self.partner.asyncSetUp()))
            # the same instance and hook: returns at once instead of recursing
            self.inner_results.append(run_coroutine_sync(self.asyncSetUp()))
            return "outer"

    partner = Owner()
    owner = Owner(partner)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if inside_running_loop:

            async def main():
                return run_coroutine_sync(owner.asyncSetUp())

            assert asyncio.run(main()) == "outer"
        else:
            loop = asyncio.new_event_loop()
            try:
                assert run_coroutine_sync(owner.asyncSetUp(), loop) == "outer"
            finally:
                loop.close()
        gc.collect()
    assert (owner.entered, partner.entered) == (1, 1)
    assert owner.inner_results == ["outer", None]
    assert partner.inner_results == [None]
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
