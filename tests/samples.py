"""Source texts several test modules share."""

# The smallest module with a finding: a plain TestCase whose setUp bridges asyncSetUp.
SAMPLE = """\
import asyncio
import unittest

class Base(unittest.TestCase):
    def setUp(self):
        loop = asyncio.get_event_loop()
        loop.run_until_complete(self.asyncSetUp())

    async def asyncSetUp(self):
        pass
"""
