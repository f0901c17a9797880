"""Generate an SSOT-shaped project whose async tests start running after the root fix.

Every test module has a framework class with the hand-written bridge (``setUp`` runs
``asyncSetUp`` with ``run_until_complete``) on a plain ``unittest.TestCase`` and test classes
below it with async tests: before ``ssot-codemod apply --unsafe-fixes`` they "pass" without
running; after it they run, and the chosen fraction fails (a wrong expectation, an error in
the body, or an error in ``asyncSetUp`` for a whole class's worth of one test).

    python scripts/gen_quarantine_project.py OUT --modules 60 --tests 18 --fail-ratio 0.1

Prints nothing; ``generate`` returns the ids that will fail (``path::Class::test``).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

_HEADER = '''"""Generated SSOT-shaped tests (module {index})."""
import asyncio
import unittest


class SSotAsyncTestCase{index}(unittest.TestCase):
    def setUp(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.asyncSetUp())

    async def asyncSetUp(self):
        self.ready = True
        self.broken_setup = False

    def tearDown(self):
        asyncio.set_event_loop(None)
        self.loop.close()

    async def test_framework_ready(self):
        self.assertTrue(self.ready)


class TestGenerated{index}(SSotAsyncTestCase{index}):
    def test_sync_still_runs(self):
        self.assertTrue(self.ready)
'''

_PASSING = """
    async def test_case_{n}(self):
        await asyncio.sleep(0)
        self.assertEqual({n} * 2, {double})
"""

_FAILING_ASSERT = """
    async def test_case_{n}(self):
        await asyncio.sleep(0)
        self.assertEqual({n} * 2, {wrong})
"""

_FAILING_ERROR = """
    async def test_case_{n}(self):
        await asyncio.sleep(0)
        raise KeyError("missing fixture {n}")
"""


def generate(
    root: Path,
    *,
    modules: int = 60,
    tests: int = 18,
    fail_ratio: float = 0.1,
    seed: int = 15,
) -> list[str]:
    """Write the project under *root* (``tests/`` inside it) and return the failing test ids."""
    rng = random.Random(seed)
    package = root / "tests"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    failing: list[str] = []
    for index in range(modules):
        parts = [_HEADER.format(index=index)]
        for n in range(tests):
            roll = rng.random()
            if roll < fail_ratio:
                template = _FAILING_ASSERT if roll < fail_ratio / 2 else _FAILING_ERROR
                failing.append(
                    f"tests/test_gen_{index:04d}.py::TestGenerated{index}::test_case_{n}"
                )
            else:
                template = _PASSING
            parts.append(template.format(n=n, double=n * 2, wrong=n * 2 + 1))
        (package / f"test_gen_{index:04d}.py").write_text("".join(parts))
    return sorted(failing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--modules", type=int, default=60)
    parser.add_argument("--tests", type=int, default=18)
    parser.add_argument("--fail-ratio", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    generate(
        args.out,
        modules=args.modules,
        tests=args.tests,
        fail_ratio=args.fail_ratio,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
