"""Canaries: async tests that must fail the moment they really run.

Each one calls ``self.fail``. As long as ``SSotAsyncTestCase`` is a plain ``unittest.TestCase``
they are reported PASSED — proof that they never ran. After
``ssot-codemod apply --unsafe-fixes`` rebases the framework on ``IsolatedAsyncioTestCase``, they
run, and fail, while the sync tests beside them still pass.
"""

from unittest.mock import patch

import pytest

from acme.services import WebhookInbox
from test_framework.ssot import SSotAsyncTestCase


class RefundCanaryTest(SSotAsyncTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.inbox = WebhookInbox()
        await self.inbox.deliver({"type": "charge.refunded", "order": "A-1001"})

    async def test_canary_plain(self):
        self.fail("canary: this async test never ran before")

    @pytest.mark.asyncio
    async def test_canary_marked_asyncio(self):
        self.fail("canary: @pytest.mark.asyncio did not make it run before")

    @patch("acme.services.asyncio.sleep")
    async def test_canary_patched(self, sleep):
        self.fail("canary: @patch did not make it run before")

    def test_refund_event_is_queued(self):
        self.assertFalse(self.inbox.queue.empty())
