"""The first pass over every file: read it, run the byte prefilters, note what the project
index needs - in this process, or on big trees in the pool's workers too.

On a tree of thousands of files the first pass is a second's work for one core while the other
waits for the engine's work to start. Each file's screening depends only on its own bytes, so
chunks of files go to the pool's workers (started for the engine anyway, see
:class:`ssot_codemod.parallel.EarlyPool`) while the main process screens other chunks; the
results are used in file order, so a run's outcome does not depend on who screened what. A
chunk whose worker fails is screened again here.

The same pass summarises the modules the project index will parse (files it keeps that may
hold never-run async tests: :meth:`ProjectIndex.never_run`), where their bytes are: the summary
is plain data (:mod:`ssot_codemod.project.modules`), cheap to send back, and the ``ast`` work
is shared by the processes instead of done by the main one after the pass.
"""

from __future__ import annotations

import ast
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ssot_codemod.deadline import FileTimeout, alarm_handler, deadline, gave_up
from ssot_codemod.project.index import will_summarise
from ssot_codemod.project.modules import ModuleSummary, summarise_with_tree
from ssot_codemod.project.run import index_wants
from ssot_codemod.results import read_error

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from ssot_codemod.engine import TreeVerdict
    from ssot_codemod.parallel import EarlyPool
    from ssot_codemod.rules.base import Rule

__all__ = ["PARALLEL_MIN_FILES", "FirstPass", "screen_all"]

# Below this many files the first pass takes less than the workers need to start, by how they
# start (parallel.start_method): a spawned worker's interpreter and imports cost ~0.15 s of CPU
# on the cores the pass is using, a forked one's ~20 ms (measured on the stdlib, 1,790 files:
# shared with forked workers, 0.78-0.91 s instead of 0.90-1.01 s; 820 of its largest: no gain).
PARALLEL_MIN_FILES = {"spawn": 4_000, "fork": 1_500}
# Workers started for the engine (enough candidates seen) share the rest of the first pass when
# at least this many files are left: the pass costs up to ~1.5 ms a file (a candidate's module
# is parsed and summarised), a chunk's round trip well under one.
SHARE_MIN_FILES_LEFT = 100
# Files per chunk: large enough that sending a chunk costs little next to screening it; towards
# the end chunks get smaller, down to _MIN_CHUNK, so that the processes finish together (the
# main one waits for the last chunks of the workers before the project index can start).
_CHUNK = 400
_MIN_CHUNK = 100


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
    summary: ModuleSummary | None = None  # made ahead for the index (only where it will ask)
    # The crash guard and tree gates on the summary's tree, for the engine (no second parse).
    verdict: TreeVerdict | None = None


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
    from ssot_codemod.parallel import start_method

    codes = tuple(rule.code for rule in rules if rule.code not in skip)
    # Rules the project view may make a file a candidate for: the verdicts cover them too.
    decided = tuple(rule.code for rule in rules if rule.code in skip) if use_project else ()
    items = [(index, os.fspath(path)) for index, path in enumerate(files)]
    shared = len(items) >= PARALLEL_MIN_FILES[start_method()]
    pool = early.start(screening=True) if shared else None
    if pool is not None:
        yield from _screen_shared(items, pool, early.jobs, codes, use_project, budget, decided)
        return
    # One file at a time: the caller sees the candidates as they are found, and starts the
    # engine's workers (EarlyPool.expect_task) while this pass goes on. Once they exist (enough
    # candidates seen), they import LibCST and then share what is left of the pass.
    from ssot_codemod.parallel import rules_for

    selected = rules_for(codes)
    others = rules_for(decided)
    with alarm_handler():
        for position, (index, path) in enumerate(items, start=1):
            yield screen_one(index, path, selected, use_project, budget, others)
            if early.pool is not None and len(items) - position >= SHARE_MIN_FILES_LEFT:
                left = items[position:]
                yield from _screen_shared(
                    left, early.pool, early.jobs, codes, use_project, budget, decided
                )
                return


def _screen_shared(
    items: list[tuple[int, str]],
    pool: ProcessPoolExecutor,
    jobs: int,
    codes: tuple[str, ...],
    use_project: bool,
    budget: float | None,
    decided: tuple[str, ...],
) -> Iterator[FirstPass]:
    """:func:`screen_chunk` over *items*, chunk by chunk, by the pool's workers and this
    process together; the results in file order."""
    chunks = _chunks(items, jobs)
    mine: dict[int, list[FirstPass]] = {}
    theirs: dict[int, Future[list[FirstPass]]] = {}
    queued = 2 * jobs  # each worker has its next chunk waiting when it finishes one
    for number, chunk in enumerate(chunks):
        if sum(not f.done() for f in theirs.values()) < queued:
            try:
                theirs[number] = pool.submit(
                    screen_chunk, chunk, codes, use_project, budget, decided
                )
                continue
            except Exception:  # a broken pool: this process screens the rest
                pass
        mine[number] = screen_chunk(chunk, codes, use_project, budget, decided)
    # Chunks no worker has started yet are screened here rather than waited for.
    for number, future in list(theirs.items()):
        if future.cancel():
            del theirs[number]
            mine[number] = screen_chunk(chunks[number], codes, use_project, budget, decided)
    for number, chunk in enumerate(chunks):
        if number in mine:
            yield from mine.pop(number)
            continue
        try:
            found = theirs.pop(number).result()
        except Exception:  # the worker died or the result did not come back: redo it here
            found = screen_chunk(chunk, codes, use_project, budget, decided)
        yield from found


def _chunks(items: list[tuple[int, str]], jobs: int) -> list[list[tuple[int, str]]]:
    """*items* in consecutive chunks of at most _CHUNK, shrinking (to _MIN_CHUNK) as fewer
    files are left: a few chunks' worth per process remains whenever a chunk is handed out."""
    out = []
    smallest = max(1, min(_MIN_CHUNK, _CHUNK))
    start = 0
    while start < len(items):
        size = max(smallest, min(_CHUNK, (len(items) - start) // (4 * (jobs + 1))))
        out.append(items[start : start + size])
        start += size
    return out


def screen_chunk(
    items: Sequence[tuple[int, str]],
    codes: tuple[str, ...],
    use_project: bool,
    budget: float | None,
    decided: tuple[str, ...] = (),
) -> list[FirstPass]:
    """Screen these files (a pool task: plain arguments, plain results). *decided*: the rules
    the project view may add (their prefilters are not run; verdicts cover them)."""
    from ssot_codemod.parallel import rules_for

    rules = rules_for(codes)
    others = rules_for(decided)
    with alarm_handler():  # installed once for the chunk; each file's deadline sets the timer
        return [
            screen_one(index, path, rules, use_project, budget, others) for index, path in items
        ]


def read_file(path: str) -> bytes:
    """A file's bytes, by ``os.read`` on a descriptor: ``Path.read_bytes`` (a Path object and
    a buffered file object per file) cost twice as much (0.10 s against 0.05 s of CPU for
    10,000 files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)  # one more byte: the file may have grown
        if size and len(data) == size:
            # Exactly its size, asked for one byte more: the end came first. A file that grew
            # or shrank meanwhile, a short read, or a size the system does not report (0) is
            # read on to its end.
            return data
        more = os.read(fd, max(size, 1 << 16)) if data else b""
        if not more:
            return data
        chunks = [data, more]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 20))
        return b"".join(chunks)
    finally:
        os.close(fd)


def screen_one(
    index: int,
    path: str,
    rules: Sequence[Rule],
    use_project: bool,
    budget: float | None,
    decided: Sequence[Rule] = (),
) -> FirstPass:
    try:
        data = read_file(path)
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
    spent = time.monotonic() - started
    # Outside the file's budget, as when the index parsed it after the pass (the budget is
    # the prefilter's; a summary that fails is made again, and fails again, in the index).
    summary = None
    verdict = None
    # The index summarises the files it will want (never_run) and every candidate, whose
    # context (ProjectIndex.context_for) starts from its own summary: made here, where the
    # bytes are, with the verdict from the same tree.
    if (wanted and will_summarise(data)) or (use_project and matched):
        try:
            summary, tree = summarise_with_tree(path, data)
        except Exception:  # noqa: BLE001 - the index summarises it again and raises there
            summary = tree = None
        if tree is not None and (matched or decided):
            verdict = _verdict(tree, data, rules, matched, decided, use_project)
    return FirstPass(
        index,
        matched,
        wanted,
        spent,
        data if matched or wanted else None,
        notes=notes or None,
        summary=summary,
        verdict=verdict,
    )


def _verdict(
    tree: ast.Module,
    data: bytes,
    rules: Sequence[Rule],
    matched: tuple[str, ...],
    decided: Sequence[Rule],
    use_project: bool,
) -> TreeVerdict | None:
    """The engine's crash guard and tree gates on the tree the summary was made from, for the
    rules this file may reach the engine with. Outside the file's budget, like the summary
    (the engine's own parse would run under it). None when anything fails: the engine then
    parses the file and decides itself."""
    from ssot_codemod.engine import tree_verdict

    gated = [rule for rule in rules if rule.code in matched]
    try:
        return tree_verdict(tree, data, [*gated, *decided], with_context=use_project)
    except Exception:  # noqa: BLE001 - the engine meets the same tree and reports it there
        return None
