"""SSOT (single source of truth) base classes for every test in the repository."""

from test_framework.ssot.base_test_case import SSotAsyncTestCase, SSotBaseTestCase

__all__ = ["SSotAsyncTestCase", "SSotBaseTestCase"]
