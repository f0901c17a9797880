"""Apply's writes, made while the engine is still working on other files.

Writing a rewrite (its backup, the journal, the new bytes, their fsyncs: :mod:`ssot_codemod.backup`)
waits mostly on the disk, and the engine's work on the next files needs none of it. So, where no
rewrite depends on another file being written first (no ``--helper-module``), each rewrite is
queued as soon as it is computed, and one background thread commits the queue in batches of
:data:`BATCH` with :func:`~ssot_codemod.backup.commit_rewrites` (its fsyncs paid per directory
and batch) while the engine goes on. One thread, so the journal of a directory has one writer;
each file keeps every guarantee of a single commit (backup first, atomic replace, nothing
overwritten). On a 500-file ``apply`` the writing (0.2-0.6 s, depending on fsync latency) no
longer comes after the engine's work: its waits on the disk overlap that work (its own CPU time,
hashing and copying bytes, still counts). That needs the engine in worker processes: computing
in this process, the engine holds the GIL, and the thread, which needs it back after each
system call, gets it only between the engine's switch intervals (hence
:func:`ssot_codemod.parallel.one_job_worker`): the writes then came after the engine's work
all the same, and the switching cost that work 0.3-0.45 s of a 500-file ``apply`` on one CPU.
So while the engine computes in this process (:meth:`WriteQueue.hold`), the rewrites are only
queued, and written once it is done.

If the run is interrupted, :meth:`WriteQueue.stop` lets the batch being written finish and drops
the queued ones: every file is then either untouched or rewritten with its backup and journal
entry, as with an interrupted single commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from ssot_codemod.backup import Committed

__all__ = ["BATCH", "Rewrite", "WriteQueue"]

# Files per commit: as many as backup.commit_rewrites syncs together (its chunk of a directory).
BATCH = 64

# One file to write: its path, the bytes the engine read, the bytes to write.
Rewrite = tuple[Path, bytes, bytes]


def _commit(batch: Sequence[Rewrite]) -> list[Committed]:
    from ssot_codemod.backup import commit_rewrites

    return commit_rewrites(batch)


class WriteQueue:
    """Rewrites committed in the background, batch by batch, in the order they were added."""

    def __init__(self, batch: int | None = None) -> None:
        self._batch = max(1, BATCH if batch is None else batch)
        self._waiting: list[Rewrite] = []
        self._submitted: list[Future[list[Committed]]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._held = False

    def hold(self) -> None:
        """Write nothing before :meth:`finish`: the engine computes in this thread."""
        self._held = True

    def add(self, rewrite: Rewrite) -> None:
        self._waiting.append(rewrite)
        if len(self._waiting) >= self._batch and not self._held:
            self._submit()

    def finish(self) -> list[Committed]:
        """Commit what is left, wait for every batch: one :class:`Committed` per rewrite, in
        the order they were added. An unexpected error of a batch is raised here."""
        self._submit()
        try:
            return [done for future in self._submitted for done in future.result()]
        except BaseException:
            self.stop()
            raise
        finally:
            self._shut_down()

    def stop(self) -> None:
        """Drop the batches not yet started; wait for the one being written."""
        self._waiting = []
        self._shut_down(cancel=True)

    def _submit(self) -> None:
        """Every waiting rewrite to the writing thread, batch by batch."""
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), self._batch):
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor

                self._executor = ThreadPoolExecutor(1, thread_name_prefix="ssot-codemod-write")
            batch = waiting[start : start + self._batch]
            self._submitted.append(self._executor.submit(_commit, batch))

    def _shut_down(self, *, cancel: bool = False) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel)
            self._executor = None
