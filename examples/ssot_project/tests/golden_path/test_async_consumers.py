"""Golden path fixtures reused from async code (pytest-asyncio).

The notification service's tests are written as ``async def`` pytest tests. They
reuse the checkout fixtures by instantiating the SSOT test case and calling its
``setUp()`` -- from inside the event loop pytest-asyncio is running.
"""

from decimal import Decimal

import pytest
import pytest_asyncio

# Import the module, not the class: a TestCase class imported here would be collected twice.
from tests.golden_path import test_order_checkout


@pytest_asyncio.fixture
async def checkout():
    case = test_order_checkout.CheckoutTest("test_subtotal")
    case.setUp()
    yield case
    case.tearDown()


@pytest.mark.asyncio
async def test_confirmation_mail_quotes_the_total(checkout):
    body = f"Thank you for your order. Total: {checkout.total} EUR"
    assert checkout.total == Decimal("142.55")
    assert "142.55 EUR" in body


@pytest.mark.asyncio
async def test_setup_from_a_running_loop():
    case = test_order_checkout.CheckoutTest("test_total_includes_regional_tax")
    case.setUp()
    try:
        assert case.region == "DE"
        assert case.cart.subtotal == Decimal("119.79")
    finally:
        case.tearDown()
