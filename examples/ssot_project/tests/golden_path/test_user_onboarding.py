"""Golden path: a new customer signs up, verifies the e-mail address and can log in."""

from acme.services import UserStore
from test_framework.ssot import SSotAsyncTestCase


class UserOnboardingTest(SSotAsyncTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.users = self.register_async_resource("users", UserStore())
        self.user = await self.users.create("Ada Lovelace", "  Ada@Example.COM ")
        self.verified = await self.wait_for(self.users.verify(self.user.id))
        self.user_count = await self.users.count()

    def test_user_is_created_with_the_given_name(self):
        self.assertEqual(self.user.name, "Ada Lovelace")

    def test_email_is_normalised(self):
        self.assertEqual(self.user.email, "ada@example.com")

    def test_user_is_verified(self):
        self.assertTrue(self.verified.verified)
        self.assertEqual(self.user_count, 1)

    def test_runs_in_the_isolated_test_environment(self):
        self.assertEqual(self.get_env_var("ACME_ENV"), "test")
        self.set_env_var("ACME_ENV", "staging")
        self.assertEqual(self.get_env_var("ACME_ENV"), "staging")
        self.assertTrue(self.metrics.values["async_setup"])
