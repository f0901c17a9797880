"""The per-file time budget inside one process: ``with deadline(seconds): work()``.

A POSIX interval timer (``SIGALRM``) raises :class:`FileTimeout` in the main thread when the
time is up. That interrupts Python code and regular-expression matching (``re`` checks for
signals while it matches; measured on CPython 3.9-3.13), so a gate or a rule that runs away is
abandoned where it stands. A single native call (LibCST's parser, ``compile``) is interrupted
only when it returns; a process that must be stopped even then is a pool worker, which the api
kills from outside (see ``parallel.compute_all``). Where no timer can be armed (Windows, a thread
other than the main one) :func:`can_interrupt` is False and the api runs budgeted work in a
worker process instead.

Installing a signal handler costs more than the byte prefilter of a small file, so a run over
many files installs it once (:func:`alarm_handler`) and each file only sets the timer.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

__all__ = ["FileTimeout", "alarm_handler", "can_interrupt", "deadline", "gave_up"]


class FileTimeout(BaseException):
    """The file's budget ran out. A BaseException, so that no ``except Exception`` in a library
    on the way swallows it and carries on with the work."""


def can_interrupt() -> bool:
    """Whether :func:`deadline` can interrupt work in the calling thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def gave_up(seconds: float) -> str:
    """The error reported for a file that exceeded its budget."""
    return f"gave up after {seconds:g} s (per-file time limit, --file-timeout)"


class _State:
    installed = False
    previous: Any = None  # the handler before ours, called for an outer timer's alarm
    ours: float | None = None  # when the running deadline expires (time.monotonic)
    outer: float | None = None  # when a timer someone else armed expires


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    ours, outer = _State.ours, _State.outer
    if ours is not None and (outer is None or outer >= ours):
        raise FileTimeout
    if callable(_State.previous):  # the outer timer's turn: let its handler act
        _State.previous(signum, frame)
    if ours is not None:
        _State.outer = None
        signal.setitimer(signal.ITIMER_REAL, max(ours - time.monotonic(), 1e-6))


@contextmanager
def alarm_handler() -> Iterator[None]:
    """Keep the handler installed for many :func:`deadline` blocks (one run over many files)."""
    if _State.installed or not can_interrupt():
        yield
        return
    _State.previous = signal.signal(signal.SIGALRM, _on_alarm)
    _State.installed = True
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, _State.previous)
        _State.installed = False


class deadline:  # noqa: N801 - used like a function: ``with deadline(5):``
    """Raise :class:`FileTimeout` inside the block once *seconds* have passed (None or <= 0:
    no limit; also none where :func:`can_interrupt` is False). Not nestable.

    A timer someone else armed (pytest-timeout's signal method, say) keeps working: while the
    block runs, the earlier of the two expiries is armed, and afterwards the other timer gets
    its remaining time and its own handler back.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.active = False
        self.installed_here = False
        self.outer_interval = 0.0

    def __enter__(self) -> None:
        seconds = self.seconds
        if seconds is None or seconds <= 0 or not can_interrupt():
            return
        if not _State.installed:
            _State.previous = signal.signal(signal.SIGALRM, _on_alarm)
            _State.installed = self.installed_here = True
        started = time.monotonic()
        outer_delay, self.outer_interval = signal.getitimer(signal.ITIMER_REAL)
        _State.outer = started + outer_delay if outer_delay > 0 else None
        _State.ours = ours = started + seconds
        first = ours if _State.outer is None else min(ours, _State.outer)
        self.active = True
        signal.setitimer(signal.ITIMER_REAL, max(first - started, 1e-6))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.active:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        outer = _State.outer
        _State.ours = _State.outer = None
        self.active = False
        if self.installed_here:
            signal.signal(signal.SIGALRM, _State.previous)
            _State.installed = self.installed_here = False
        if outer is not None:
            left = max(outer - time.monotonic(), 1e-6)
            signal.setitimer(signal.ITIMER_REAL, left, self.outer_interval)
