"""Golden path, written as async tests: stock is reserved and released per order.

These tests are ``async def`` methods of an ``SSotAsyncTestCase``. Because that class is a plain
``unittest.TestCase``, neither unittest nor pytest ever awaits them: they are reported PASSED
without running, with or without ``@pytest.mark.asyncio`` or ``@patch``. They are correct, so
they pass once they really run.
"""

from decimal import Decimal
from unittest.mock import patch

import pytest

from acme.services import Cart, PricingService, UserStore
from test_framework.ssot import SSotAsyncTestCase


class InventoryAsyncTest(SSotAsyncTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.pricing = PricingService()
        self.users = self.register_async_resource("users", UserStore())

    async def test_a_new_user_is_unverified(self):
        user = await self.users.create("Grace Hopper", "grace@example.com")
        self.assertFalse(user.verified)
        self.assertEqual(await self.users.count(), 1)

    @pytest.mark.asyncio
    async def test_french_total(self):
        cart = Cart(owner="grace@example.com", lines=[{"sku": "KB-01", "price": "10", "qty": 3}])
        self.assertEqual(await self.pricing.total(cart, "FR"), Decimal("36.00"))

    @patch.object(PricingService, "TAX_RATES", {"DE": Decimal("0")})
    async def test_tax_free_region(self):
        cart = Cart(owner="grace@example.com", lines=[{"sku": "MS-07", "price": "19.99", "qty": 1}])
        self.assertEqual(await self.pricing.total(cart, "DE"), Decimal("19.99"))
