"""Golden path: a verified customer fills a cart and checks out with the right total."""

from decimal import Decimal

from acme.services import Cart, PricingService
from test_framework.ssot import SSotAsyncTestCase


class CheckoutTest(SSotAsyncTestCase):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.pricing = PricingService()
        self.cart = Cart(owner="ada@example.com")
        self.cart.lines.append({"sku": "KB-01", "price": "49.90", "qty": 2})
        self.cart.lines.append({"sku": "MS-07", "price": "19.99", "qty": 1})
        self.region = self.get_env_var("ACME_REGION", "DE")
        self.total = await self.pricing.total(self.cart, self.region)

    def test_subtotal(self):
        self.assertEqual(self.cart.subtotal, Decimal("119.79"))

    def test_total_includes_regional_tax(self):
        self.assertEqual(self.region, "DE")
        self.assertEqual(self.total, Decimal("142.55"))

    def test_cart_belongs_to_the_customer(self):
        self.assertEqual(self.cart.owner, "ada@example.com")
        self.assertEqual(len(self.cart.lines), 2)
