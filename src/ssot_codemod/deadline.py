"""The per-file time budget inside one process: ``with deadline(seconds): work()``.

A POSIX interval timer (``SIGALRM``) raises :class:`FileTimeout` in the main thread when the
time is up. That interrupts Python code and regular-expression matching (``re`` checks for
signals while it matches; measured on CPython 3.9-3.13), so a gate or a rule that runs away is
abandoned where it stands. A single native call (LibCST's parser, ``compile``) is interrupted
only when it returns; a process that must be stopped even then is a pool worker, which the api
kills from outside (see ``api._compute_all``). Where no timer can be armed (Windows, a thread
other than the main one) :func:`can_interrupt` is False and the api runs budgeted work in a
worker process instead.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["FileTimeout", "can_interrupt", "deadline", "gave_up"]


class FileTimeout(BaseException):
    """The file's budget ran out. A BaseException, so that no ``except Exception`` in a library
    on the way swallows it and carries on with the work."""


def can_interrupt() -> bool:
    """Whether :func:`deadline` can interrupt work in the calling thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def gave_up(seconds: float) -> str:
    """The error reported for a file that exceeded its budget."""
    return f"gave up after {seconds:g} s (per-file time limit, --file-timeout)"


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`FileTimeout` inside the block once *seconds* have passed (None or <= 0:
    no limit; also none where :func:`can_interrupt` is False).

    A timer someone else armed (pytest-timeout's signal method, say) keeps working: while the
    block runs, the earlier of the two expiries is armed, and afterwards the other timer gets
    its remaining time and its own handler back.
    """
    if seconds is None or seconds <= 0 or not can_interrupt():
        yield
        return
    started = time.monotonic()
    ours = started + seconds
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    outer = started + outer_delay if outer_delay > 0 else None
    previous = signal.getsignal(signal.SIGALRM)

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if outer is not None and time.monotonic() >= outer and outer < ours:
            if callable(previous):  # the outer timer's turn: let its handler act
                previous(signum, frame)
            signal.setitimer(signal.ITIMER_REAL, max(ours - time.monotonic(), 1e-6))
            return
        raise FileTimeout

    signal.signal(signal.SIGALRM, on_alarm)
    first = ours if outer is None else min(ours, outer)
    signal.setitimer(signal.ITIMER_REAL, max(first - started, 1e-6))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer is not None:
            left = max(outer - time.monotonic(), 1e-6)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
