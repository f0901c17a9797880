"""Golden path: the payment provider confirms the order through webhooks."""

from acme.services import WebhookInbox
from test_framework.ssot import SSotAsyncTestCase


class PaymentWebhookTest(SSotAsyncTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.inbox = WebhookInbox()
        await self.inbox.deliver({"type": "payment_intent.created", "order": "A-1001"})
        await self.inbox.deliver({"type": "payment_intent.succeeded", "order": "A-1001"})
        self.events = await self.wait_for(self.inbox.drain(), timeout=2)
        self.teardown_log = []

    async def asyncTearDown(self):
        self.teardown_log.append("inbox drained")
        await super().asyncTearDown()

    def test_events_arrive_in_order(self):
        self.assertEqual(
            [event["type"] for event in self.events],
            ["payment_intent.created", "payment_intent.succeeded"],
        )

    def test_every_event_refers_to_the_order(self):
        self.assertEqual({event["order"] for event in self.events}, {"A-1001"})

    def test_sandbox_mode(self):
        self.assertEqual(self.get_env_var("PAYMENTS_MODE"), "sandbox")
