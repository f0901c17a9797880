"""Waiting for the threads a test (or an earlier one) has joined to be gone from the system."""

from __future__ import annotations

import sys
import threading
import time

from ssot_codemod.parallel import start_method


def joined_threads_gone() -> None:
    """Wait for the system to finish threads that Python has joined already (well under a
    millisecond; until then Linux still counts them, and start_method with them)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and start_method() != "fork":
        if sys.platform != "linux" or threading.active_count() > 1:
            return
        time.sleep(0.001)
