"""Async services of the order platform, backed by in-memory stores for tests."""

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Dict, List


@dataclass
class User:
    id: int
    name: str
    email: str
    verified: bool = False


class UserStore:
    """In-memory user repository with an async API, like the real database client."""

    def __init__(self) -> None:
        self._users: Dict[int, User] = {}
        self._next_id = 1
        self.closed = False

    async def create(self, name: str, email: str) -> User:
        await asyncio.sleep(0)
        user = User(id=self._next_id, name=name.strip(), email=email.strip().lower())
        self._users[user.id] = user
        self._next_id += 1
        return user

    async def verify(self, user_id: int) -> User:
        await asyncio.sleep(0)
        user = self._users[user_id]
        user.verified = True
        return user

    async def count(self) -> int:
        await asyncio.sleep(0)
        return len(self._users)

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Cart:
    owner: str
    lines: List[Dict[str, object]] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        return sum(
            (Decimal(str(line["price"])) * int(line["qty"]) for line in self.lines),
            Decimal("0"),
        )


class PricingService:
    """Computes totals; tax rates are looked up asynchronously (a remote call in production)."""

    TAX_RATES = {"DE": Decimal("0.19"), "FR": Decimal("0.20"), "US-CA": Decimal("0.0725")}

    async def tax_rate(self, region: str) -> Decimal:
        await asyncio.sleep(0)
        return self.TAX_RATES[region]

    async def total(self, cart: Cart, region: str) -> Decimal:
        rate = await self.tax_rate(region)
        return (cart.subtotal * (1 + rate)).quantize(Decimal("0.01"))


class WebhookInbox:
    """Receives payment-provider webhooks through an asyncio queue."""

    def __init__(self) -> None:
        self.queue: "asyncio.Queue[Dict[str, object]]" = asyncio.Queue()

    async def deliver(self, event: Dict[str, object]) -> None:
        await self.queue.put(event)

    async def drain(self) -> List[Dict[str, object]]:
        events = []
        while not self.queue.empty():
            events.append(await self.queue.get())
            self.queue.task_done()
        return events
