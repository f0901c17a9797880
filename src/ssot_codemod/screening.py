"""The first pass over every file: read it, run the byte prefilters, note what the project
index needs - in this process, or on big trees in the pool's workers too.

On a tree of thousands of files the first pass is a second's work for one core while the other
waits for the engine's work to start. Each file's screening depends only on its own bytes, so
chunks of files go to the pool's workers (started for the engine anyway, see
:class:`ssot_codemod.parallel.EarlyPool`) while the main process screens other chunks; the
results are used in file order, so a run's outcome does not depend on who screened what. A
chunk whose worker fails is screened again here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ssot_codemod.deadline import FileTimeout, alarm_handler, deadline, gave_up
from ssot_codemod.project.run import index_wants
from ssot_codemod.results import read_error

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ssot_codemod.parallel import EarlyPool
    from ssot_codemod.rules.base import Rule

__all__ = ["PARALLEL_MIN_FILES", "FirstPass", "screen_all"]

# Below this many files the first pass takes less than a worker needs to start.
PARALLEL_MIN_FILES = 4_000
# Files per chunk: small enough to balance the processes at the end, large enough that sending
# a chunk costs little next to screening it.
_CHUNK = 400


@dataclass(frozen=True)
class FirstPass:
    """What the first pass learnt about one file."""

    index: int
    matched: tuple[str, ...] = ()  # rules whose prefilter passed
    wanted: bool = False  # the project index keeps its bytes
    spent: float = 0.0  # seconds of the file's budget the prefilter used
    data: bytes | None = None  # kept only when matched or wanted
    error: str | None = None  # unreadable, or its prefilter ran out of time
    notes: dict[str, object] | None = None  # this file's notes for the project index


def screen_all(
    files: Sequence[Path],
    rules: Sequence[Rule],
    *,
    skip: frozenset[str],
    use_project: bool,
    budget: float | None,
    early: EarlyPool,
) -> Iterator[FirstPass]:
    """Every file's :class:`FirstPass`, in file order. *skip*: codes the project view decides."""
    codes = tuple(rule.code for rule in rules if rule.code not in skip)
    items = [(index, os.fspath(path)) for index, path in enumerate(files)]
    pool = early.start() if len(items) >= PARALLEL_MIN_FILES else None
    if pool is None:
        yield from screen_chunk(items, codes, use_project, budget)
        return
    chunks = [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]
    mine: dict[int, list[FirstPass]] = {}
    theirs: dict[int, Future[list[FirstPass]]] = {}
    queued = 2 * early.jobs  # each worker has its next chunk waiting when it finishes one
    for number, chunk in enumerate(chunks):
        if sum(not f.done() for f in theirs.values()) < queued:
            try:
                theirs[number] = pool.submit(screen_chunk, chunk, codes, use_project, budget)
                continue
            except Exception:  # a broken pool: this process screens the rest
                pass
        mine[number] = screen_chunk(chunk, codes, use_project, budget)
    for number, chunk in enumerate(chunks):
        if number in mine:
            yield from mine.pop(number)
            continue
        try:
            found = theirs.pop(number).result()
        except Exception:  # the worker died or the result did not come back: redo it here
            found = screen_chunk(chunk, codes, use_project, budget)
        yield from found


def screen_chunk(
    items: Sequence[tuple[int, str]],
    codes: tuple[str, ...],
    use_project: bool,
    budget: float | None,
) -> list[FirstPass]:
    """Screen these files (a pool task: plain arguments, plain results)."""
    from ssot_codemod.parallel import rules_for

    rules = rules_for(codes)
    with alarm_handler():  # installed once for the chunk; each file's deadline sets the timer
        return [screen_one(index, path, rules, use_project, budget) for index, path in items]


def screen_one(
    index: int, path: str, rules: Sequence[Rule], use_project: bool, budget: float | None
) -> FirstPass:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return FirstPass(index, error=read_error(exc))
    # The prefilter scans user text too, so it runs under the file's budget.
    started = time.monotonic()
    notes: dict[str, object] = {}
    try:
        with deadline(budget):
            matched = tuple(rule.code for rule in rules if rule.could_match(data))
            wanted = use_project and index_wants(notes, path, data)
    except FileTimeout:
        return FirstPass(index, error=gave_up(budget or 0.0))
    return FirstPass(
        index,
        matched,
        wanted,
        time.monotonic() - started,
        data if matched or wanted else None,
        notes=notes or None,
    )
