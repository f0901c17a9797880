"""Behaviour tests for the pattern *variants*: run them before and after the codemod.

Like ``test_behaviour.py``, each test writes a small project into ``tmp_path`` (a framework
directory ``fw/`` put on ``PYTHONPATH`` and a ``tests/`` directory), runs it in a subprocess under
``python -m unittest`` and/or pytest (pytest-asyncio strict mode, pytest-timeout with the thread
method, so a deadlock ends the child instead of hanging), and asserts on the runner's output and
on the event lines the instrumentation writes to ``$SSOT_BEHAVIOUR_LOG``.

1. P1 variants (``fw/fw_variants.py``, the only file rewritten, through ``fix_source``):
   (a) ``self.loop`` from ``new_event_loop()`` in setUp, closed in tearDown; (b) a class loop from
   ``setUpClass`` read as ``self.loop``; (c) inline ``get_event_loop().run_until_complete``;
   (d) try/except that closes the loop and re-raises; (e) ``try/except AttributeError: pass``;
   (f) P1r ``asyncio.run(self.asyncSetUp())``; (g) P1c ``loop.run_until_complete(
   cls.asyncSetUpClass())`` in ``setUpClass``. Each is run by plain sync tests and driven from
   inside a running loop (``asyncio.run(main())`` and a pytest-asyncio async test).
2. SSC002 in ``IsolatedAsyncioTestCase`` subclasses: ``super().setUp()`` in ``asyncSetUp`` runs the
   parent's sync setUp twice per test; after ``await super().asyncSetUp()`` once.
3. SSC004 form C: a canary async test in a plain ``TestCase`` passes without running; only
   ``apply --unsafe-fixes`` makes it an ``IsolatedAsyncioTestCase`` where it runs and fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from test_behaviour import (
    ALREADY_RUNNING,
    LOG_ENV,
    PYTEST_INI,
    SUBPROCESS_TIMEOUT,
    Run,
    child_env,
    pytest_counts,
)

CANNOT_RUN = "Cannot run the event loop while another loop is running"
ASYNCIO_RUN_NESTED = "asyncio.run() cannot be called from a running event loop"

RECORDER = r'''import os


def record(*parts):
    """Append one event line to the file named by $SSOT_BEHAVIOUR_LOG."""
    path = os.environ.get("SSOT_BEHAVIOUR_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(" ".join(str(part) for part in parts) + "\n")
'''

# --------------------------------------------------------------------------------------------
# Running a temporary project
# --------------------------------------------------------------------------------------------


def write_files(root: Path, files: dict[str, str]) -> None:
    (root / "fw").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    (root / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    (root / "fw" / "recorder.py").write_text(RECORDER, encoding="utf-8")
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")


def run_runner(root: Path, runner: str, tag: str) -> Run:
    """``runner`` is "unittest" or "pytest" (strict mode, -rA so every outcome is listed)."""
    log = root / f"events-{tag}-{runner}.log"
    if log.exists():
        log.unlink()
    if runner == "unittest":
        cmd = [sys.executable, "-m", "unittest", "-v"]
        cwd = root / "tests"
    else:
        cmd = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
            "--asyncio-mode=strict", "-p", "timeout", "--timeout", "20",
            "--timeout-method=thread", "tests",
        ]  # fmt: skip
        cwd = root
    env = child_env(root, log)
    env["COLUMNS"] = "300"  # pytest's short summary keeps the whole failure message
    assert env[LOG_ENV] == str(log)
    proc = subprocess.run(
        cmd,
        cwd=str(cwd),
        env=env,
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


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssot_codemod", *args],
        cwd=str(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=SUBPROCESS_TIMEOUT,
        encoding="utf-8",
        errors="replace",
    )


def assert_unittest_summary(run: Run, ran: int, result: str) -> None:
    assert re.search(rf"^Ran {ran} tests? in ", run.output, re.M), run.explain()
    assert re.search(rf"^{re.escape(result)}$", run.output, re.M), run.explain()


def assert_no_hang_or_breakage(run: Run) -> None:
    out = run.output
    assert "Timeout" not in out and "RecursionError" not in out, run.explain()
    assert "Too many open files" not in out and "can't start new thread" not in out, run.explain()
    assert "Event loop is closed" not in out, run.explain()


def fields_by_key(run: Run, event: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for fields in run.lines(event):
        assert fields[0] not in found, (event, fields, run.explain())
        found[fields[0]] = fields[1:]
    return found


# --------------------------------------------------------------------------------------------
# 1. P1 variants
# --------------------------------------------------------------------------------------------

FW_VARIANTS = r'''"""P1 bridge variants (behaviour tests); the codemod rewrites only this file."""
import asyncio
import threading
import unittest

from recorder import record


class HookMixin:
    variant = "?"

    def log_key(self):
        return "%s:%s" % (self.variant, getattr(self, "key", None) or self._testMethodName)

    async def asyncSetUp(self):
        record("asyncSetUp-enter", self.log_key())
        loop = asyncio.get_running_loop()
        self.setup_loop = loop
        self.setup_thread = threading.current_thread().name
        await asyncio.sleep(0)
        record("asyncSetUp-done", self.log_key(), self.setup_thread)


class NewLoopCase(HookMixin, unittest.TestCase):
    """(a) self.loop from new_event_loop() in setUp, closed in tearDown."""

    variant = "a"

    def setUp(self):
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.asyncSetUp())

    def tearDown(self):
        self.loop.run_until_complete(self.asyncTearDown())
        self.loop.close()

    async def asyncTearDown(self):
        record("asyncTearDown-enter", self.log_key())


class ClassLoopCase(HookMixin, unittest.TestCase):
    """(b) a class attribute loop created in setUpClass, read as self.loop."""

    variant = "b"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.loop = asyncio.new_event_loop()

    @classmethod
    def tearDownClass(cls):
        cls.loop.close()
        super().tearDownClass()

    def setUp(self):
        self.loop.run_until_complete(self.asyncSetUp())


class InlineLoopCase(HookMixin, unittest.TestCase):
    """(c) inline asyncio.get_event_loop().run_until_complete(...)."""

    variant = "c"

    def setUp(self):
        asyncio.get_event_loop().run_until_complete(self.asyncSetUp())


class CloseOnErrorCase(HookMixin, unittest.TestCase):
    """(d) try/except that closes the loop and re-raises."""

    variant = "d"

    def setUp(self):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.asyncSetUp())
        except Exception:
            record("closing-on-error", self.log_key())
            loop.close()
            raise
        self.loop = loop

    def tearDown(self):
        self.loop.close()


class OptionalHookCase(unittest.TestCase):
    """(e) try/except AttributeError: pass - the async hook is optional."""

    variant = "e"

    def setUp(self):
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.asyncSetUp())
        except AttributeError:
            pass


class AsyncioRunCase(HookMixin, unittest.TestCase):
    """(f) P1r: asyncio.run(self.asyncSetUp())."""

    variant = "f"

    def setUp(self):
        asyncio.run(self.asyncSetUp())


class ClassHookCase(unittest.TestCase):
    """(g) P1c: setUpClass runs cls.asyncSetUpClass() on a loop it keeps."""

    variant = "g"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        loop = asyncio.new_event_loop()
        cls.class_loop = loop
        loop.run_until_complete(cls.asyncSetUpClass())

    @classmethod
    def tearDownClass(cls):
        cls.class_loop.close()
        super().tearDownClass()

    @classmethod
    async def asyncSetUpClass(cls):
        key = "g:" + getattr(cls, "key", cls.__name__)
        record("asyncSetUpClass-enter", key)
        loop = asyncio.get_running_loop()
        cls.setup_loop = loop
        cls.setup_thread = threading.current_thread().name
        await asyncio.sleep(0)
        record("asyncSetUpClass-done", key, cls.setup_thread)
'''

# Cases driven by hand from inside a running loop (only a ``check`` method: nothing collects them).
VARIANT_CASES = r'''import asyncio
import contextlib
import threading
import traceback

from fw_variants import (
    AsyncioRunCase, ClassHookCase, ClassLoopCase, CloseOnErrorCase, HookMixin, InlineLoopCase,
    NewLoopCase, OptionalHookCase,
)
from recorder import record


class DriveA(NewLoopCase):
    def check(self):
        pass


class DriveB(ClassLoopCase):
    def check(self):
        pass


class DriveC(InlineLoopCase):
    def check(self):
        pass


class DriveD(CloseOnErrorCase):
    def check(self):
        pass


class DriveE(HookMixin, OptionalHookCase):
    variant = "e"

    def check(self):
        pass


class DriveENoHook(OptionalHookCase):
    """The no-op twin of (e): no asyncSetUp at all; the AttributeError is swallowed."""

    variant = "e0"

    def check(self):
        pass


class DriveF(AsyncioRunCase):
    def check(self):
        pass


class DriveG(ClassHookCase):
    def check(self):
        pass


class DBoom(Exception):
    pass


BOOM_LINE = 'raise DBoom("boom-d")'


class DriveDBoom(CloseOnErrorCase):
    variant = "dboom"

    async def asyncSetUp(self):
        record("asyncSetUp-enter", self.log_key())
        await asyncio.sleep(0)
        raise DBoom("boom-d")

    def check(self):
        pass


DRIVEN = {
    "a": DriveA, "b": DriveB, "c": DriveC, "d": DriveD, "e": DriveE, "e0": DriveENoHook,
    "f": DriveF, "g": DriveG,
}


@contextlib.contextmanager
def reporting(key):
    try:
        yield
    except BaseException as exc:
        record("caller-error", key, type(exc).__name__, str(exc).replace(" ", "_"))
        raise


async def drive(variant, driver):
    """setUpClass/setUp/tearDown/tearDownClass called by sync code inside a running loop."""
    case_class = DRIVEN[variant]
    key = "%s:%s" % (variant, driver)
    caller_loop = asyncio.get_running_loop()
    here = threading.current_thread().name
    case_class.key = driver
    with reporting(key):
        case_class.setUpClass()
        try:
            case = case_class("check")
            case.setUp()
            try:
                setup_loop = getattr(case, "setup_loop", None)
                kept = getattr(case, "loop", None)
                record(
                    "caller", key,
                    "hook_ran=%s" % (setup_loop is not None),
                    "same_loop=%s" % (setup_loop is caller_loop),
                    "same_thread=%s" % (getattr(case, "setup_thread", here) == here),
                    "kept_loop_open=%s" % (None if kept is None else not kept.is_closed()),
                )
            finally:
                case.tearDown()
        finally:
            case_class.tearDownClass()


def set_up_failing_case(driver):
    """(d) with an asyncSetUp that raises: the loop is closed, the same exception re-raised."""
    case = DriveDBoom("check")
    case.key = driver
    try:
        case.setUp()
    except DBoom as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        original = any(f.name == "asyncSetUp" and f.line == BOOM_LINE for f in frames)
        record("boom-caught", case.log_key(), "raise_frame=%s" % original)
        return
    raise AssertionError("asyncSetUp's DBoom did not reach the caller")


async def drive_failing_setup(driver):
    with reporting("dboom:" + driver):
        set_up_failing_case(driver)
'''

VARIANTS_PLAIN = r"""import asyncio
import unittest

from fw_variants import (
    AsyncioRunCase, ClassHookCase, ClassLoopCase, CloseOnErrorCase, HookMixin, InlineLoopCase,
    NewLoopCase, OptionalHookCase,
)
from recorder import record
from variant_cases import set_up_failing_case


async def running_loop():
    await asyncio.sleep(0)
    return asyncio.get_running_loop()


def report(case, used, kept):
    record(
        "test-loop", case.log_key(),
        "same=%s" % (used is case.setup_loop),
        "open=%s" % (not kept.is_closed()),
        "thread=%s" % case.setup_thread,
    )


class TestA(NewLoopCase):
    def test_sync_test_reuses_the_setup_loop(self):
        used = self.loop.run_until_complete(running_loop())
        report(self, used, self.loop)
        self.assertIs(used, self.setup_loop)


class TestB(ClassLoopCase):
    def test_first(self):
        used = self.loop.run_until_complete(running_loop())
        report(self, used, self.loop)
        record("b-class-loop", self.log_key(), id(self.loop))
        self.assertIs(used, self.setup_loop)

    def test_second(self):
        used = self.loop.run_until_complete(running_loop())
        report(self, used, self.loop)
        record("b-class-loop", self.log_key(), id(self.loop))
        self.assertIs(used, self.setup_loop)


class TestC(InlineLoopCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.current = asyncio.new_event_loop()
        asyncio.set_event_loop(cls.current)

    @classmethod
    def tearDownClass(cls):
        asyncio.set_event_loop(None)
        cls.current.close()
        super().tearDownClass()

    def test_hook_ran_on_the_current_loop(self):
        used = asyncio.get_event_loop().run_until_complete(running_loop())
        report(self, used, used)
        self.assertIs(used, self.current)


class TestD(CloseOnErrorCase):
    def test_loop_kept_after_setup(self):
        used = self.loop.run_until_complete(running_loop())
        report(self, used, self.loop)


class TestDErrorPath(unittest.TestCase):
    def test_error_closes_the_loop_and_reraises(self):
        set_up_failing_case("plain")


class TestE(HookMixin, OptionalHookCase):
    variant = "e"

    def test_optional_hook_ran(self):
        used = asyncio.get_event_loop().run_until_complete(running_loop())
        report(self, used, used)


class TestENoHook(OptionalHookCase):
    def test_without_hook(self):
        record("e-nohook-body", self._testMethodName, hasattr(self, "setup_loop"))


class TestF(AsyncioRunCase):
    def test_hook_ran_in_asyncio_run(self):
        # asyncio.run semantics: a fresh loop, closed afterwards
        record("f-loop", self.log_key(), "closed=%s" % self.setup_loop.is_closed(),
               "thread=%s" % self.setup_thread)


class TestG(ClassHookCase):
    def test_first(self):
        used = self.class_loop.run_until_complete(running_loop())
        record("test-loop", "g:" + self._testMethodName, "same=%s" % (used is self.setup_loop),
               "open=%s" % (not self.class_loop.is_closed()), "thread=%s" % self.setup_thread)

    def test_second(self):
        used = self.class_loop.run_until_complete(running_loop())
        record("test-loop", "g:" + self._testMethodName, "same=%s" % (used is self.setup_loop),
               "open=%s" % (not self.class_loop.is_closed()), "thread=%s" % self.setup_thread)
"""

VARIANT_NAMES = ("a", "b", "c", "d", "e", "e0", "f", "g")

VARIANTS_DRIVER_HEAD = r"""import asyncio
import unittest

from variant_cases import drive, drive_failing_setup


class TestFromAsyncioRun(unittest.TestCase):
    def test_dboom(self):
        asyncio.run(drive_failing_setup("asyncio-run"))
"""
VARIANTS_DRIVER = VARIANTS_DRIVER_HEAD + "".join(
    f"""
    def test_{name}(self):
        asyncio.run(drive("{name}", "asyncio-run"))
"""
    for name in VARIANT_NAMES
)

VARIANTS_ASYNC_DRIVER = r"""# pytest only (unittest discovery skips *_test.py)
import pytest

from variant_cases import DRIVEN, drive, drive_failing_setup


@pytest.mark.asyncio
@pytest.mark.parametrize("variant", sorted(DRIVEN))
async def test_from_async_test(variant):
    await drive(variant, "async-test")


@pytest.mark.asyncio
async def test_dboom_from_async_test():
    await drive_failing_setup("async-test")
"""

# What each variant's bridge raises when reached inside a running loop, before the rewrite.
ORIGINAL_ERRORS = {
    "a": CANNOT_RUN,  # a new, not running loop: run_until_complete refuses a second loop
    "b": CANNOT_RUN,
    "c": ALREADY_RUNNING,  # get_event_loop() returns the running loop
    "d": CANNOT_RUN,
    "e": ALREADY_RUNNING,
    "f": ASYNCIO_RUN_NESTED,
    "g": CANNOT_RUN,
    "dboom": CANNOT_RUN,
}

# Sync test bodies (no running loop): identical before and after.
PLAIN_TEST_LOOPS = {
    "a:test_sync_test_reuses_the_setup_loop": ["same=True", "open=True", "thread=MainThread"],
    "b:test_first": ["same=True", "open=True", "thread=MainThread"],
    "b:test_second": ["same=True", "open=True", "thread=MainThread"],
    "c:test_hook_ran_on_the_current_loop": ["same=True", "open=True", "thread=MainThread"],
    "d:test_loop_kept_after_setup": ["same=True", "open=True", "thread=MainThread"],
    "e:test_optional_hook_ran": ["same=True", "open=True", "thread=MainThread"],
    "g:test_first": ["same=True", "open=True", "thread=MainThread"],
    "g:test_second": ["same=True", "open=True", "thread=MainThread"],
}
PLAIN_HOOK_KEYS = {k for k in PLAIN_TEST_LOOPS if not k.startswith("g:")} | {
    "f:test_hook_ran_in_asyncio_run"
}


def drivers(runner: str) -> tuple[str, ...]:
    return ("asyncio-run", "async-test") if runner == "pytest" else ("asyncio-run",)


def write_variants_project(root: Path, framework: str) -> None:
    write_files(
        root,
        {
            "fw/fw_variants.py": framework,
            "tests/variant_cases.py": VARIANT_CASES,
            "tests/test_variants_plain.py": VARIANTS_PLAIN,
            "tests/test_variants_driver.py": VARIANTS_DRIVER,
            "tests/variants_async_driver_test.py": VARIANTS_ASYNC_DRIVER,
        },
    )


def assert_plain_runs_unchanged(run: Run) -> None:
    """The sync tests (no running loop) behave the same before and after the rewrite."""
    assert fields_by_key(run, "test-loop") == PLAIN_TEST_LOOPS, run.explain()
    b_loops = fields_by_key(run, "b-class-loop")
    assert b_loops["b:test_first"] == b_loops["b:test_second"], run.explain()  # one class loop
    assert fields_by_key(run, "f-loop") == {
        "f:test_hook_ran_in_asyncio_run": ["closed=True", "thread=MainThread"]
    }, run.explain()
    assert run.lines("e-nohook-body") == [["test_without_hook", "False"]], run.explain()
    assert fields_by_key(run, "boom-caught")["dboom:plain"] == ["raise_frame=True"], run.explain()
    assert "dboom:plain" in {f[0] for f in run.lines("closing-on-error")}, run.explain()
    hooks = run.count("asyncSetUp-enter")
    for key in PLAIN_HOOK_KEYS | {"dboom:plain"}:
        assert hooks[key] == 1, (key, run.explain())
    done = fields_by_key(run, "asyncSetUp-done")
    for key in PLAIN_HOOK_KEYS:
        assert done[key] == ["MainThread"], (key, run.explain())
    assert run.count("asyncSetUpClass-enter")["g:TestG"] == 1, run.explain()
    assert run.count("asyncTearDown-enter")["a:test_sync_test_reuses_the_setup_loop"] == 1


@pytest.mark.parametrize("runner", ["unittest", "pytest"])
def test_p1_variants_original_fail_inside_a_running_loop(tmp_path: Path, runner: str) -> None:
    write_variants_project(tmp_path, FW_VARIANTS)
    run = run_runner(tmp_path, runner, "before")
    assert_plain_runs_unchanged(run)

    errors = fields_by_key(run, "caller-error")
    expected = {
        f"{variant}:{driver}": ["RuntimeError", message.replace(" ", "_")]
        for driver in drivers(runner)
        for variant, message in ORIGINAL_ERRORS.items()
    }
    assert errors == expected, run.explain()
    for message in set(ORIGINAL_ERRORS.values()):
        assert message in run.output, run.explain()
    # The bridge refused before the coroutine started: no hook entered from a running loop ...
    driven = {f"{v}:{d}" for v in (*VARIANT_NAMES, "dboom") for d in drivers(runner)}
    assert not driven & set(run.count("asyncSetUp-enter")), run.explain()
    assert not driven & set(run.count("asyncSetUpClass-enter")), run.explain()
    # (Its "never awaited" RuntimeWarning is not asserted: the traceback keeps the coroutine
    # alive, so when it is collected, and whether the runner shows the warning, varies.)
    # ... except the no-op twin of (e), which has no hook and passes.
    assert fields_by_key(run, "caller") == {
        f"e0:{d}": ["hook_ran=False", "same_loop=False", "same_thread=True", "kept_loop_open=None"]
        for d in drivers(runner)
    }, run.explain()
    # (d) closed its loop on the way out, as written.
    closed = {f[0] for f in run.lines("closing-on-error")}
    assert {f"d:{d}" for d in drivers(runner)} <= closed, run.explain()

    assert run.returncode == 1, run.explain()
    if runner == "unittest":
        assert_unittest_summary(run, 20, "FAILED (errors=8)")
    else:
        assert pytest_counts(run.output) == {"passed": 13, "failed": 16}, run.explain()


@pytest.fixture(scope="module")
def rewritten_variants() -> str:
    from ssot_codemod.engine import fix_source

    result = fix_source(FW_VARIANTS)
    code = result.code
    applied = sorted((f.code, f.line) for f in result.findings if f.applied)
    assert [c for c, _ in applied] == ["SSC001"] * 8, result.findings
    statements = {line.strip() for line in code.splitlines()}
    for old in (
        "self.loop.run_until_complete(self.asyncSetUp())",
        "self.loop.run_until_complete(self.asyncTearDown())",
        "asyncio.get_event_loop().run_until_complete(self.asyncSetUp())",
        "loop.run_until_complete(self.asyncSetUp())",
        "asyncio.run(self.asyncSetUp())",
        "loop.run_until_complete(cls.asyncSetUpClass())",
    ):
        assert old not in statements, (old, code)
    for call in (
        "run_coroutine_sync(self.asyncSetUp(), self.loop)",
        "run_coroutine_sync(self.asyncTearDown(), self.loop)",
        "run_coroutine_sync(self.asyncSetUp(), asyncio.get_event_loop())",
        "run_coroutine_sync(self.asyncSetUp())",
        "run_coroutine_sync(cls.asyncSetUpClass(), loop)",
    ):
        assert call in code, (call, code)
    assert code.count("def run_coroutine_sync(") == 1, code
    # The code around the call sites is kept: the except clauses are still there.
    assert "        except AttributeError:\n            pass\n" in code, code
    assert 'record("closing-on-error", self.log_key())\n            loop.close()\n' in code, code
    return code


@pytest.mark.parametrize("runner", ["unittest", "pytest"])
def test_p1_variants_rewritten_pass_everywhere(
    tmp_path: Path, runner: str, rewritten_variants: str
) -> None:
    write_variants_project(tmp_path, rewritten_variants)
    run = run_runner(tmp_path, runner, "after")
    out = run.output
    assert_no_hang_or_breakage(run)
    for message in (ALREADY_RUNNING, CANNOT_RUN, ASYNCIO_RUN_NESTED, "was never awaited"):
        assert message not in out, (message, run.explain())
    assert run.lines("caller-error") == [], run.explain()
    assert_plain_runs_unchanged(run)

    # Inside a running loop every variant completes: the hook ran on another loop, in a worker
    # thread; (a) and (b) still hold their own loop, open.
    callers = fields_by_key(run, "caller")
    expected = {}
    for driver in drivers(runner):
        for variant in VARIANT_NAMES:
            if variant == "e0":
                flags = ["hook_ran=False", "same_loop=False", "same_thread=True"]
            else:
                flags = ["hook_ran=True", "same_loop=False", "same_thread=False"]
            flags.append("kept_loop_open=%s" % ("True" if variant in ("a", "b") else "None"))
            if variant == "d":
                flags[-1] = "kept_loop_open=True"  # (d) keeps its loop as self.loop on success
            expected[f"{variant}:{driver}"] = flags
    assert callers == expected, run.explain()

    # The hook entered, and completed, exactly once per driven setUp; the worker thread ran it.
    hooks = run.count("asyncSetUp-enter")
    done = fields_by_key(run, "asyncSetUp-done")
    class_hooks = run.count("asyncSetUpClass-enter")
    for driver in drivers(runner):
        for variant in ("a", "b", "c", "d", "e", "f"):
            key = f"{variant}:{driver}"
            assert hooks[key] == 1, (key, run.explain())
            assert done[key] == ["run_coroutine_sync"], (key, run.explain())
        assert class_hooks[f"g:{driver}"] == 1, run.explain()
        assert fields_by_key(run, "asyncSetUpClass-done")[f"g:{driver}"] == ["run_coroutine_sync"]
        assert f"e0:{driver}" not in hooks, run.explain()
        assert run.count("asyncTearDown-enter")[f"a:{driver}"] == 1, run.explain()
        # (d)'s error path from a running loop: the same DBoom, with the frame that raised it,
        # after the except clause closed the loop.
        assert hooks[f"dboom:{driver}"] == 1, run.explain()
        assert fields_by_key(run, "boom-caught")[f"dboom:{driver}"] == ["raise_frame=True"]
        assert f"dboom:{driver}" in {f[0] for f in run.lines("closing-on-error")}, run.explain()
    assert set(hooks.values()) == {1}, run.explain()

    assert run.returncode == 0, run.explain()
    if runner == "unittest":
        assert_unittest_summary(run, 20, "OK")
    else:
        assert pytest_counts(out) == {"passed": 29}, run.explain()


# --------------------------------------------------------------------------------------------
# 2. SSC002 in IsolatedAsyncioTestCase subclasses
# --------------------------------------------------------------------------------------------

FW_ISO = r'''"""IsolatedAsyncioTestCase subclasses whose asyncSetUp calls super().setUp()."""
import unittest
from unittest import mock

from recorder import record


class Service:
    @staticmethod
    def connect():
        return "real"


class CountingBase(unittest.TestCase):
    """A plain base whose sync setUp starts a mock patch and counts its calls."""

    def setUp(self):
        patcher = mock.patch.object(Service, "connect", return_value="mocked")
        patcher.start()
        self.addCleanup(patcher.stop)
        self.parent_setups = getattr(self, "parent_setups", 0) + 1
        record("parent-setUp", self.id(), self.parent_setups)


class MixedChild(CountingBase, unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        super().setUp()
        record("child-asyncSetUp", self.id())


class IsoParent(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.parent_setups = getattr(self, "parent_setups", 0) + 1
        record("parent-setUp", self.id(), self.parent_setups)


class IsoChild(IsoParent):
    async def asyncSetUp(self):
        if hasattr(super(), "setUp"):
            super().setUp()
        record("child-asyncSetUp", self.id())
'''

ISO_USER = r"""import asyncio
import unittest

from fw_iso import IsoChild, MixedChild, Service
from recorder import record


class TestMixed(MixedChild):
    async def test_async(self):
        await asyncio.sleep(0)
        record("test-body", self.id(), self.parent_setups, Service.connect())

    def test_sync(self):
        record("test-body", self.id(), self.parent_setups, Service.connect())


class TestIso(IsoChild):
    async def test_async(self):
        await asyncio.sleep(0)
        record("test-body", self.id(), self.parent_setups, Service.connect())


class TestZPatchesStopped(unittest.TestCase):
    def test_all_patches_were_stopped(self):
        record("after-all", Service.connect())
"""

ISO_TESTS = ("TestMixed.test_async", "TestMixed.test_sync", "TestIso.test_async")


def run_iso(root: Path, framework: str, runner: str, tag: str) -> Run:
    write_files(root, {"fw/fw_iso.py": framework, "tests/test_iso_user.py": ISO_USER})
    run = run_runner(root, runner, tag)
    assert run.returncode == 0, run.explain()
    if runner == "unittest":
        assert_unittest_summary(run, 4, "OK")
    else:
        assert pytest_counts(run.output) == {"passed": 4}, run.explain()
    return run


@pytest.mark.parametrize("runner", ["unittest", "pytest"])
def test_ssc002_isolated_parent_setup_runs_once_after_rewrite(tmp_path: Path, runner: str) -> None:
    from ssot_codemod.engine import fix_source

    result = fix_source(FW_ISO)
    assert [(f.code, f.applied) for f in result.findings] == [("SSC002", True)] * 2
    assert all("runs twice per test" in f.message for f in result.findings), result.findings
    assert result.code.count("await super().asyncSetUp()") == 2, result.code
    statements = {line.strip() for line in result.code.splitlines()}
    assert "super().setUp()" not in statements, result.code
    assert 'if hasattr(super(), "setUp"):' not in statements, result.code

    def body(run: Run) -> dict[str, list[str]]:
        return {f[0].split(".", 1)[1]: f[1:] for f in run.lines("test-body")}

    def counts(run: Run, event: str) -> dict[str, int]:
        return {k.split(".", 1)[1]: v for k, v in run.count(event).items()}

    before = run_iso(tmp_path / "before", FW_ISO, runner, "before")
    # The runner calls setUp, then asyncSetUp calls it again: twice per test, patch started twice.
    assert counts(before, "parent-setUp") == dict.fromkeys(ISO_TESTS, 2), before.explain()
    assert body(before) == {
        "TestMixed.test_async": ["2", "mocked"],
        "TestMixed.test_sync": ["2", "mocked"],
        "TestIso.test_async": ["2", "real"],
    }, before.explain()
    assert counts(before, "child-asyncSetUp") == dict.fromkeys(ISO_TESTS, 1), before.explain()
    assert before.lines("after-all") == [["real"]], before.explain()

    after = run_iso(tmp_path / "after", result.code, runner, "after")
    assert counts(after, "parent-setUp") == dict.fromkeys(ISO_TESTS, 1), after.explain()
    assert body(after) == {
        "TestMixed.test_async": ["1", "mocked"],
        "TestMixed.test_sync": ["1", "mocked"],
        "TestIso.test_async": ["1", "real"],
    }, after.explain()
    assert counts(after, "child-asyncSetUp") == dict.fromkeys(ISO_TESTS, 1), after.explain()
    assert after.lines("after-all") == [["real"]], after.explain()


# --------------------------------------------------------------------------------------------
# 3. SSC004 canary, form C (opt-in)
# --------------------------------------------------------------------------------------------

CANARY = r"""import asyncio
import unittest

from recorder import record


class TestCanary(unittest.TestCase):
    def setUp(self):
        self.sync_ready = True
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self.asyncSetUp())

    def tearDown(self):
        loop = asyncio.get_event_loop()
        loop.run_until_complete(self.asyncTearDown())
        asyncio.set_event_loop(None)
        loop.close()

    async def asyncSetUp(self):
        record("asyncSetUp-enter", self._testMethodName)
        self.resource = await asyncio.sleep(0, result="resource")

    async def asyncTearDown(self):
        record("asyncTearDown-enter", self._testMethodName)

    async def test_canary(self):
        record("canary-body", self._testMethodName)
        self.fail("canary ran")

    async def test_ok(self):
        value = await asyncio.sleep(0, result=42)
        record("ok-body", self._testMethodName)
        self.assertEqual(value, 42)
        self.assertEqual(self.resource, "resource")
        self.assertTrue(self.sync_ready)
"""

BOTH_TESTS = {"test_canary": 1, "test_ok": 1}
PYTEST_CANARY = "tests/test_canary.py::TestCanary::test_canary"
PYTEST_OK = "tests/test_canary.py::TestCanary::test_ok"


def assert_canary_never_ran(run: Run) -> None:
    """Both async tests reported as passing while their bodies never ran."""
    assert run.returncode == 0, run.explain()
    assert "was never awaited" in run.output, run.explain()
    assert "canary ran" not in run.output, run.explain()
    assert run.lines("canary-body") == [] and run.lines("ok-body") == [], run.explain()
    # The hand-written bridge did run the hooks, once per test.
    assert run.count("asyncSetUp-enter") == Counter(BOTH_TESTS), run.explain()
    assert run.count("asyncTearDown-enter") == Counter(BOTH_TESTS), run.explain()
    if run.runner == "unittest":
        assert_unittest_summary(run, 2, "OK")
    else:
        assert f"PASSED {PYTEST_CANARY}" in run.output, run.explain()
        assert f"PASSED {PYTEST_OK}" in run.output, run.explain()
        assert pytest_counts(run.output) == {"passed": 2}, run.explain()


def canary_project(root: Path) -> Path:
    write_files(root, {"tests/test_canary.py": CANARY})
    return root / "tests" / "test_canary.py"


def test_ssc004_canary_before_and_safe_apply_never_run_it(tmp_path: Path) -> None:
    target = canary_project(tmp_path)
    for runner in ("unittest", "pytest"):
        assert_canary_never_ran(run_runner(tmp_path, runner, "before"))

    check = run_cli(tmp_path, "check", "tests")
    assert check.returncode == 1, check.stdout
    for name in ("test_canary", "test_ok"):
        assert re.search(
            rf"test_canary\.py:\d+:\d+: SSC004 \[unsafe-fix\] TestCanary\.{name} is an async test "
            r"in a unittest\.TestCase that is not an IsolatedAsyncioTestCase: it is never awaited "
            r"and is reported PASSED without running",
            check.stdout,
        ), check.stdout

    apply = run_cli(tmp_path, "apply", "tests")
    assert apply.returncode == 0, apply.stdout
    assert apply.stdout.count("SSC004 [unsafe-fix]") == 2, apply.stdout
    assert "fixable with --unsafe-fixes" in apply.stdout, apply.stdout
    code = target.read_text(encoding="utf-8")
    # Only the safe bridge rewrite: the class is still a plain TestCase ...
    assert "class TestCanary(unittest.TestCase):" in code, code
    assert "IsolatedAsyncioTestCase" not in code, code
    assert "run_coroutine_sync(self.asyncSetUp(), loop)" in code, code
    # ... so the async tests still pass without running.
    for runner in ("unittest", "pytest"):
        assert_canary_never_ran(run_runner(tmp_path, runner, "after-safe"))


def test_ssc004_unsafe_fix_makes_the_canary_run_and_fail(tmp_path: Path) -> None:
    target = canary_project(tmp_path)
    apply = run_cli(tmp_path, "apply", "--unsafe-fixes", "tests")
    assert apply.returncode == 0, apply.stdout
    code = target.read_text(encoding="utf-8")
    assert "class TestCanary(unittest.IsolatedAsyncioTestCase):" in code, code
    # The bridge is gone from setUp/tearDown (keeping it would run asyncSetUp twice).
    assert "self.asyncSetUp()" not in code and "self.asyncTearDown()" not in code, code
    assert "run_until_complete" not in code and "run_coroutine_sync" not in code, code
    assert "self.sync_ready = True" in code, code

    for runner in ("unittest", "pytest"):
        run = run_runner(tmp_path, runner, "after-unsafe")
        out = run.output
        assert_no_hang_or_breakage(run)
        assert run.returncode == 1, run.explain()
        assert "was never awaited" not in out, run.explain()
        assert "AssertionError: canary ran" in out, run.explain()
        # Both bodies ran now; the hooks ran exactly once per test (the runner's, not the bridge).
        assert run.count("canary-body") == Counter({"test_canary": 1}), run.explain()
        assert run.count("ok-body") == Counter({"test_ok": 1}), run.explain()
        assert run.count("asyncSetUp-enter") == Counter(BOTH_TESTS), run.explain()
        assert run.count("asyncTearDown-enter") == Counter(BOTH_TESTS), run.explain()
        if runner == "unittest":
            assert re.search(r"^FAIL: test_canary \(", out, re.M), run.explain()
            assert re.search(r"^test_ok \(.*\) \.\.\. ok$", out, re.M), run.explain()
            assert_unittest_summary(run, 2, "FAILED (failures=1)")
        else:
            assert f"FAILED {PYTEST_CANARY} - AssertionError: canary ran" in out, run.explain()
            assert f"PASSED {PYTEST_OK}" in out, run.explain()
            assert pytest_counts(out) == {"passed": 1, "failed": 1}, run.explain()
