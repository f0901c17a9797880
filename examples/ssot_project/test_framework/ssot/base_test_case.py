"""SSOT base test cases.

Every test in the repository derives from one of the two classes below, so that
environment isolation, metrics and async fixtures are set up the same way
everywhere:

* :class:`SSotBaseTestCase` -- framework-neutral base (works as a pytest class
  through ``setup_method``/``teardown_method`` and as a unittest mixin through
  ``setUp``/``tearDown``).
* :class:`SSotAsyncTestCase` -- ``unittest.TestCase`` with ``asyncSetUp`` /
  ``asyncTearDown`` hooks for tests that need async fixtures.
"""

import asyncio
import logging
import os
import time
import unittest
import uuid
from typing import Any, Callable, Dict, List, Optional

logger = logging.getLogger(__name__)


class IsolatedEnvironment:
    """A copy-on-write view of the process environment.

    Tests read and write configuration through this object instead of
    ``os.environ``, so nothing a test sets can leak into the next one.
    """

    def __init__(self, defaults: Optional[Dict[str, str]] = None) -> None:
        self._defaults = dict(defaults or {})
        self._overrides: Dict[str, str] = {}
        self._sources: Dict[str, str] = {}

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        if key in self._overrides:
            return self._overrides[key]
        if key in self._defaults:
            return self._defaults[key]
        return os.environ.get(key, default)

    def set(self, key: str, value: str, source: str = "test") -> None:
        self._overrides[key] = value
        self._sources[key] = source

    def source_of(self, key: str) -> str:
        return self._sources.get(key, "default" if key in self._defaults else "process")

    def snapshot(self) -> Dict[str, str]:
        merged = dict(self._defaults)
        merged.update(self._overrides)
        return merged

    def reset(self) -> None:
        self._overrides.clear()
        self._sources.clear()


class ExecutionMetrics:
    """Wall-clock timing plus free-form counters for one test."""

    def __init__(self) -> None:
        self.started_at: Optional[float] = None
        self.finished_at: Optional[float] = None
        self.values: Dict[str, Any] = {}

    def start(self) -> None:
        self.started_at = time.perf_counter()
        self.finished_at = None

    def stop(self) -> None:
        if self.started_at is not None and self.finished_at is None:
            self.finished_at = time.perf_counter()

    @property
    def duration(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return end - self.started_at

    def record(self, name: str, value: Any) -> None:
        self.values[name] = value


class SSotBaseTestCase:
    """Single source of truth for test setup.

    Provides an isolated environment (``self.env``), per-test metrics
    (``self.metrics``), a unique ``self.test_id`` and cleanup callbacks.
    """

    DEFAULT_ENV: Dict[str, str] = {
        "ACME_ENV": "test",
        "DATABASE_URL": "sqlite:///:memory:",
        "PAYMENTS_MODE": "sandbox",
    }

    def setup_method(self, method: Optional[Callable[..., Any]] = None) -> None:
        """Prepare isolation and metrics for one test (pytest xunit hook)."""
        name = getattr(method, "__name__", None) or getattr(self, "_testMethodName", "unknown")
        self.test_id = f"{self.__class__.__name__}.{name}-{uuid.uuid4().hex[:8]}"
        self.env = IsolatedEnvironment(self.DEFAULT_ENV)
        self.metrics = ExecutionMetrics()
        self.metrics.start()
        self._cleanups: List[Callable[[], None]] = []
        logger.debug("SSOT setup for %s", self.test_id)

    def teardown_method(self, method: Optional[Callable[..., Any]] = None) -> None:
        """Run registered cleanups (last in, first out) and stop the metrics."""
        cleanups = getattr(self, "_cleanups", [])
        while cleanups:
            callback = cleanups.pop()
            try:
                callback()
            except Exception as exc:  # a failing cleanup must not hide the test result
                logger.warning("cleanup %r failed in %s: %s", callback, self.test_id, exc)
        if hasattr(self, "metrics"):
            self.metrics.stop()
            logger.debug("SSOT teardown for %s after %.3fs", self.test_id, self.metrics.duration)
        if hasattr(self, "env"):
            self.env.reset()

    # -- helpers used by the tests -------------------------------------------------

    def add_ssot_cleanup(self, callback: Callable[[], None]) -> None:
        self._cleanups.append(callback)

    def record_metric(self, name: str, value: Any) -> None:
        self.metrics.record(name, value)

    def get_env_var(self, key: str, default: Optional[str] = None) -> Optional[str]:
        return self.env.get(key, default)

    def set_env_var(self, key: str, value: str) -> None:
        self.env.set(key, value, source=self.test_id)

    # -- unittest entry points -----------------------------------------------------

    def setUp(self):
        """Run the SSOT setup, then the test's async fixtures if it has any."""
        self.setup_method()
        if hasattr(self, 'asyncSetUp') and asyncio.iscoroutinefunction(self.asyncSetUp):
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
                logger.error(f"asyncSetUp failed in {self.__class__.__name__}: {e}")
                raise

    def tearDown(self):
        """Run the test's async teardown if it has one, then the SSOT teardown."""
        if hasattr(self, 'asyncTearDown') and asyncio.iscoroutinefunction(self.asyncTearDown):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    raise RuntimeError("Event loop is closed")
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncTearDown())
            except Exception as e:
                logger.error(f"asyncTearDown failed in {self.__class__.__name__}: {e}")
                raise
        self.teardown_method()


class SSotAsyncTestCase(SSotBaseTestCase, unittest.TestCase):
    """SSOT base for tests with async fixtures.

    Subclasses override ``asyncSetUp`` / ``asyncTearDown`` and call
    ``await super().asyncSetUp()`` first; test methods stay synchronous and
    assert on what the async fixtures prepared.
    """

    def setUp(self):
        """Set up the SSOT environment and run asyncSetUp on the event loop."""
        self.setup_method()
        if hasattr(self, 'asyncSetUp') and asyncio.iscoroutinefunction(self.asyncSetUp):
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
                logger.error(f"asyncSetUp failed in {self.__class__.__name__}: {e}")
                raise

    async def asyncSetUp(self):
        """Prepare async resources; make sure the sync SSOT setup has run."""
        if hasattr(super(), 'setUp'):
            super().setUp()
        self.async_resources: Dict[str, Any] = {}
        self.setup_loop = asyncio.get_running_loop()
        await asyncio.sleep(0)
        self.record_metric("async_setup", True)

    async def asyncTearDown(self):
        """Close every registered async resource, newest first."""
        resources = getattr(self, "async_resources", {})
        for name in reversed(list(resources)):
            resource = resources.pop(name)
            closer = getattr(resource, "aclose", None) or getattr(resource, "close", None)
            if closer is None:
                continue
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:
                logger.warning("closing %s failed in %s: %s", name, self.test_id, exc)
        await asyncio.sleep(0)

    # -- async helpers ---------------------------------------------------------------

    def register_async_resource(self, name: str, resource: Any) -> Any:
        """Keep ``resource`` until teardown, where its ``aclose()``/``close()`` is called."""
        self.async_resources[name] = resource
        return resource

    async def wait_for(self, awaitable: Any, timeout: float = 5.0) -> Any:
        """Await ``awaitable`` with a timeout, recording how long it took."""
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(awaitable, timeout)
        finally:
            self.record_metric("last_wait_seconds", time.perf_counter() - started)
