"""Parallel execution of the per-file work, each file under its time budget.

:class:`Task` (one candidate file: its bytes, the rules it passed, its project context) and
:class:`Computed` (findings, the rewrite or an error) are the work unit; :func:`compute` runs
one task and never raises. :func:`compute_all` runs them in this process or in a process pool
and guards the pool: a crashed worker costs only its file, and a worker stuck in a native call
its own timer cannot interrupt is killed (:func:`kill`) and its file given up (see "Per-file
budget" in docs/architecture.md). Pool workers pickle ``Task`` and call ``compute`` by
reference, so both stay top-level here.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ssot_codemod.cpus import available_cpus as usable_cpus  # its affinity and CPU quota
from ssot_codemod.results import one_line
from ssot_codemod.types import EngineError, Finding

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from ssot_codemod.engine import Screened, TreeVerdict
    from ssot_codemod.files import SourceText
    from ssot_codemod.project.context import ProjectContext

__all__ = [
    "MIN_POOL_CANDIDATES",
    "Computed",
    "EarlyPool",
    "Task",
    "compute",
    "compute_all",
    "effective_jobs",
    "kill",
    "new_pool",
    "one_job_worker",
    "rules_for",
    "start_method",
    "usable_cpus",
    "wants_workers",
]

# Starting workers costs ``import libcst`` (~0.3 s each, more on a busy machine; a spawned
# one also an interpreter start); below this many candidate files one process is faster.
MIN_POOL_CANDIDATES = 8
# Starting a pool's workers (interpreter + imports) may take this long on a busy machine.
_POOL_STARTUP = 60.0
# A killed worker is gone at once; waiting for it longer means it is stuck in the kernel.
_REAP_AFTER_KILL = 1.0


def _kill_after(budget: float) -> float:
    """A worker still busy on a file this long (twice its budget, at least one second more)
    is stuck in a native call its own timer cannot interrupt: it is killed and replaced."""
    return budget + max(budget, 1.0)


@dataclass(frozen=True)
class Task:
    index: int
    path: str
    data: bytes
    codes: tuple[str, ...]  # the selected rules whose prefilter this file passed
    unsafe_fixes: bool
    helper_module: str | None
    fix: bool = True  # False for check: findings only, no rewrite to build and verify
    budget: float | None = None  # seconds left for this file after its prefilter; None: no limit
    file_timeout: float | None = None  # the configured limit, named when the file is given up
    # What the project index knows about the other files, for this one (None: single file).
    context: ProjectContext | None = None
    tree_gates: bool = True  # False: LibCST parses every candidate (tests compare both ways)
    # The first pass's findings on CPython's tree of these bytes, where it parsed them (the
    # engine then does not parse them again); None: the engine parses.
    verdict: TreeVerdict | None = None


@dataclass(frozen=True)
class Computed:
    index: int
    findings: tuple[Finding, ...] = ()
    original: str | None = None
    new: str | None = None
    new_bytes: bytes | None = None
    error: str | None = None
    parsed: bool = True  # False: the tree gates ruled every rule out before LibCST's parse


_RULE_CACHE: dict[tuple[str, ...], list[Any]] = {}


def rules_for(codes: tuple[str, ...]) -> list[Any]:
    """The rules with exactly these codes (none for none), once per process: what a worker
    gets instead of rule objects (tasks and screening chunks carry codes)."""
    rules = _RULE_CACHE.get(codes)
    if rules is None:
        from ssot_codemod.rules import select_rules

        rules = select_rules(list(codes), []) if codes else []
        _RULE_CACHE[codes] = rules
    return rules


def _gave_up(task: Task) -> Computed:
    from ssot_codemod.deadline import gave_up

    return Computed(task.index, error=gave_up(task.file_timeout or task.budget or 0.0))


def compute(task: Task) -> Computed:
    """Decode, fix and re-encode one candidate file within its budget. Never raises.

    In two steps: CPython's parser and the rules' tree gates (:func:`engine.screen`), then
    LibCST for a file that some rule still wants. LibCST is imported in between, outside the
    file's budget: it is the process's start-up, not this file's work (pool workers import it
    before their first file), and a run whose candidates all fail the tree gates never does.
    """
    import time

    from ssot_codemod.deadline import FileTimeout, deadline

    started = time.monotonic()
    try:
        with deadline(task.budget):
            first = _guarded(task, _screen)
        spent = time.monotonic() - started
        if isinstance(first, Computed):
            return first
        source, screened = first
        loaded = _guarded(task, _load_libcst)
        if isinstance(loaded, Computed):
            return loaded
        left = None if task.budget is None else max(task.budget - spent, 1e-3)
        with deadline(left):
            return _guarded(task, lambda task: _fix(task, source, screened))
    except FileTimeout:
        return _gave_up(task)


def _warm() -> None:
    """Import what the work needs, so that start-up is not charged to the first file's budget
    (LibCST only where a file needs it: see :func:`compute`)."""
    import ssot_codemod.engine
    import ssot_codemod.files  # noqa: F401


def _warm_worker() -> None:
    """A pool worker imports LibCST too before its first file (the workers exist because there
    are many candidates; the parent's kill timers count from when a file was handed over)."""
    _warm()
    _load_libcst(None)


def _start_worker() -> None:
    """A worker's first step: what screening and the tree gates need (cheap). LibCST comes
    with :func:`_warm_worker` (:meth:`EarlyPool.warm`, or :func:`compute` outside the file's
    budget), so a worker can screen files before it is imported."""
    import ssot_codemod.screening  # noqa: F401
    from ssot_codemod.gc_policy import for_worker

    for_worker()
    _warm()


def _load_libcst(task: Task | None) -> None:
    from ssot_codemod.engine import load_libcst

    load_libcst()


def _screen(task: Task) -> Computed | tuple[SourceText, Screened]:
    """The file's text and the rules left after the gates; a result when none is left."""
    from ssot_codemod.engine import screen
    from ssot_codemod.files import read_source

    source = read_source(task.data)
    screened = screen(
        source.text,
        rules=rules_for(task.codes),
        prefiltered=True,
        tree_gates=task.tree_gates,
        context=task.context,
        verdict=task.verdict,
    )
    if not screened.rules:
        return Computed(task.index, parsed=False)  # what a file no rule matched gets
    return source, screened


def _fix(task: Task, source: SourceText, screened: Screened) -> Computed:
    from ssot_codemod.engine import fix_source
    from ssot_codemod.files import encode_source

    result = fix_source(
        source.text,
        rules=rules_for(task.codes),
        unsafe_fixes=task.unsafe_fixes,
        helper_module=task.helper_module,
        fix=task.fix,
        prefiltered=True,
        context=task.context,
        tree_gates=task.tree_gates,
        screened=screened,
    )
    if not result.changed:
        return Computed(task.index, findings=result.findings, parsed=result.parsed)
    new_bytes = encode_source(result.code, source)
    return Computed(
        task.index,
        findings=result.findings,
        original=result.source,
        new=result.code,
        new_bytes=new_bytes,
    )


_T = TypeVar("_T")


def _guarded(task: Task, step: Callable[[Task], _T]) -> _T | Computed:
    """*step*'s value, or the file's error result: a bug must cost one file, not the run."""
    try:
        return step(task)
    except EngineError as exc:
        return Computed(task.index, error=one_line(str(exc)))
    except RecursionError:
        return Computed(task.index, error="too deeply nested to parse (recursion limit)")
    except MemoryError:
        return Computed(task.index, error="out of memory while processing this file")
    except Exception as exc:  # a bug must cost one file, not the run
        return Computed(task.index, error=f"internal error: {type(exc).__name__}: {exc}")


def _compute_one_by_one(
    tasks: list[Task], results: dict[int, Computed], tick: Callable[[Computed], None]
) -> None:
    """Finish *tasks* not in *results* one at a time in a single worker process.

    After a worker died, this pins the crash on the file being processed when it happened
    (that file fails; the worker is replaced once per crash, not once per file). A file still
    running past its budget (plus a grace for the worker's own timer) has its worker killed
    and replaced, and is reported as given up.
    """
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    pool: ProcessPoolExecutor | None = None
    try:
        for task in tasks:
            if task.index in results:
                continue
            try:
                if pool is None:
                    pool = new_pool(1)
                    try:
                        pool.submit(_warm_worker).result(timeout=_POOL_STARTUP)
                    except FutureTimeout:  # not this file's fault: no usable worker
                        kill(pool)
                        pool = None
                        raise OSError("worker did not start") from None
                limit = None if task.budget is None else _kill_after(task.budget)
                results[task.index] = pool.submit(compute, task).result(timeout=limit)
            except FutureTimeout:
                results[task.index] = _gave_up(task)
                if pool is not None:
                    kill(pool)
                pool = None
            except BrokenProcessPool:
                error = "worker process crashed while processing this file"
                results[task.index] = Computed(task.index, error=error)
                if pool is not None:
                    pool.shutdown(wait=False)
                pool = None
            except (OSError, NotImplementedError):
                results[task.index] = compute(task)  # no subprocesses after all
            except Exception as exc:
                error = f"internal error: {type(exc).__name__}: {exc}"
                results[task.index] = Computed(task.index, error=error)
            tick(results[task.index])
        if pool is not None:
            pool.shutdown()
            pool = None
    finally:
        if pool is not None:  # interrupted (Ctrl-C): do not wait for the running file
            kill(pool)


def new_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(start_method()),
        initializer=_start_worker,
    )


def start_method() -> str:
    """How a new pool starts its workers: ``fork`` on Linux while this process runs no other
    thread, ``spawn`` anywhere else.

    A forked worker has every module this process imported: a spawned one starts an
    interpreter and imports the first pass's modules again (~0.15 s of CPU each, while the
    main process screens on the same cores: a tenth of a 10,000-file ``check`` on two).
    Forking is unsafe once another thread may hold a lock the child would need (the progress
    bar's, or a thread of a program calling the library), and on macOS, whose system libraries
    are not fork-safe; those get ``spawn``, which works the same everywhere. So does a Python
    whose ProcessPoolExecutor would fork workers on demand, once its own manager thread runs
    (CPython issue 90622; the fix, ``_launch_processes``, starts forked ones all at once).
    """
    import multiprocessing
    import sys
    import threading
    from concurrent.futures import ProcessPoolExecutor

    if (
        sys.platform == "linux"
        and threading.active_count() == 1
        and _system_threads() == 1  # a native library's threads are not in ``threading``
        and "fork" in multiprocessing.get_all_start_methods()
        and hasattr(ProcessPoolExecutor, "_launch_processes")
    ):
        return "fork"
    return "spawn"


def wants_workers(jobs: int, writes_meanwhile: bool) -> bool:
    """Whether the engine's files go to worker processes: for more than one job, and for one
    where :func:`one_job_worker` says so."""
    return jobs > 1 or (jobs == 1 and one_job_worker(writes_meanwhile))


def one_job_worker(writes_meanwhile: bool) -> bool:
    """Whether one job's files go to one worker process instead of being computed here.

    Only where this process has work of its own meanwhile: ``apply`` writing each rewrite while
    the engine computes the next (write_queue.py). Computed here, the engine holds the GIL and
    the writing thread gets it back only between the engine's switch intervals, so the writes
    wait for the engine's last file (0.3-0.7 s of a 500-file ``apply``). In a worker, the engine
    has a core and a GIL of its own, imports LibCST while this process still reads and indexes,
    and the writes overlap it. Worth it only with a second CPU to run this process on, and a
    forked worker (a spawned one costs an interpreter start and imports); never from a daemonic
    process (a ``multiprocessing.Pool`` worker, as all-repos runs us), which may not have
    children.
    """
    import multiprocessing

    return (
        writes_meanwhile
        and usable_cpus() >= 2
        and not multiprocessing.current_process().daemon
        and start_method() == "fork"
    )


def _system_threads() -> int:
    """This process's threads as Linux counts them (0: it cannot tell)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def kill(pool: ProcessPoolExecutor) -> None:
    """Stop a pool without waiting for its running work: its workers (our own children,
    by their process handles) are killed, queued work is cancelled."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # private, stable
    manager = getattr(pool, "_executor_manager_thread", None)  # private; shutdown forgets it
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:  # reaped now: a caller of the library API keeps no zombies
        try:
            process.join(timeout=_REAP_AFTER_KILL)
        except (OSError, ValueError, AttributeError, AssertionError):
            pass
    # Nor the pool's thread, which ends once it has seen the workers gone: a later pool may
    # then fork (start_method).
    if manager is not None and manager.is_alive():
        manager.join(timeout=_REAP_AFTER_KILL)


class EarlyPool:
    """A process pool whose workers start while the run is still reading and indexing.

    A worker costs ``import libcst`` (~0.3 s; a spawned one also an interpreter start and the
    first pass's imports: :func:`start_method`), paid before its first file. The first pass
    already knows which files will reach the engine (their byte prefilters matched and the
    cache holds no answer for them): once :data:`MIN_POOL_CANDIDATES` such files are seen, the
    workers are started and import LibCST (:meth:`warm`) while the main process goes on with
    the other files and the project index. On a big tree the first pass starts the pool itself
    (:meth:`start`), to share its own work with the workers (:mod:`ssot_codemod.screening`).
    :func:`compute_all` then takes the pool over; a pool it does not want (too few tasks after
    all) is discarded unused.
    """

    def __init__(self, jobs: int, *, writes_meanwhile: bool = False) -> None:
        self.jobs = jobs
        self.writes_meanwhile = writes_meanwhile  # see wants_workers
        self.expected = 0
        self.started = False  # tried once: a pool that could not start is not retried
        self.warmed = False
        # The workers share the first pass: LibCST waits for its end (:meth:`first_pass_done`),
        # when they would otherwise idle while this process builds the project index.
        self.screening = False
        self.pool: ProcessPoolExecutor | None = None

    def expect_task(self) -> None:
        """One more file will (most likely) reach the engine."""
        self.expected += 1
        if self.expected == MIN_POOL_CANDIDATES and self.start() is not None and not self.screening:
            self.warm()

    def first_pass_done(self) -> None:
        """The first pass is over: workers that shared it import LibCST now, if files will
        need it."""
        if self.screening and self.expected >= MIN_POOL_CANDIDATES:
            self.warm()

    def start(self, *, screening: bool = False) -> ProcessPoolExecutor | None:
        """The pool, started now if it was not (None: one job computed in this process, or
        no subprocesses here).
        *screening*: it is started to share the first pass."""
        if screening and self.pool is None and not self.started:
            self.screening = True
        if (
            self.pool is None
            and not self.started
            and wants_workers(self.jobs, self.writes_meanwhile)
        ):
            self.started = True
            try:
                pool = new_pool(self.jobs)
                # Spawned workers start on demand, one per waiting submission (forked ones
                # all at the first): one submission each.
                for _ in range(self.jobs):
                    pool.submit(os.getpid)
            except (OSError, NotImplementedError):
                return None  # compute_all finds out again and works in-process
            self.pool = pool
        return self.pool

    def warm(self) -> None:
        """Have the workers import the engine (LibCST) now, while this process is busy."""
        if self.pool is not None and not self.warmed:
            self.warmed = True
            _warm_pool(self.pool, self.jobs)

    def take(self) -> ProcessPoolExecutor | None:
        pool, self.pool = self.pool, None
        return pool

    def discard(self) -> None:
        """Stop an unused pool without waiting for its workers' imports."""
        pool = self.take()
        if pool is not None:
            kill(pool)


def _warm_pool(pool: ProcessPoolExecutor, workers: int) -> None:
    """One LibCST import per worker, queued before any file (best effort: a worker that did not
    get one imports it in :func:`compute`, outside the file's budget)."""
    for _ in range(workers):
        try:
            pool.submit(_warm_worker)
        except Exception:  # a broken pool: the caller finds out with its first file
            return


def compute_all(
    tasks: Iterable[Task],
    jobs: int,
    tick: Callable[[Computed], None],
    early: EarlyPool | None = None,
    *,
    writes_meanwhile: bool = False,
    computing_here: Callable[[], None] | None = None,
) -> dict[int, Computed]:
    """Every task's :class:`Computed`, by file index; *tick* is called with each as soon as it
    is in (the caller may act on it while the others are computed). *tasks* may be a lazy
    iterable: with a pool, each task is handed to a worker as soon as the caller yields it, so
    the workers start on the first files while the caller is still preparing the others.
    *writes_meanwhile*: the caller writes results while the others are computed
    (:func:`one_job_worker`); *computing_here* is called before they are computed in this
    process after all."""
    from ssot_codemod.deadline import can_interrupt

    warmed = early is not None and early.warmed
    started_pool = early.take() if early is not None else None
    results: dict[int, Computed] = {}
    upcoming = iter(tasks)
    try:
        # (Making a task may report a file the ast answered: the caller's tick may raise.)
        seen = list(itertools.islice(upcoming, MIN_POOL_CANDIDATES))
    except BaseException:
        if started_pool is not None:
            kill(started_pool)
        raise
    # Workers that imported LibCST already (started early, for files the ast answers then
    # took) are cheaper than importing it here, whatever the number of files left for them.
    ready = started_pool is not None and warmed and bool(seen)
    pooled = started_pool is not None or wants_workers(jobs, writes_meanwhile)
    if not pooled or (len(seen) < MIN_POOL_CANDIDATES and not ready):
        if started_pool is not None:
            kill(started_pool)
        seen.extend(upcoming)
        if any(t.budget is not None for t in seen) and not can_interrupt():
            # No timer can stop work in this thread (Windows, not the main thread): a worker
            # process can be killed instead.
            _compute_one_by_one(seen, results, tick)
            return results
        if computing_here is not None:
            computing_here()
        if seen:
            _warm()
        for task in seen:
            results[task.index] = compute(task)
            tick(results[task.index])
        return results

    import queue
    from concurrent.futures.process import BrokenProcessPool

    pool: ProcessPoolExecutor | None = None
    pending: dict[Future[Computed], Task] = {}
    # Each future as it finishes (its callback): one wait per result, where waiting for the
    # first of the pending futures installs and removes a waiter on every one of them.
    finished: queue.SimpleQueue[Future[Computed]] = queue.SimpleQueue()

    def submit(task: Task) -> None:
        assert pool is not None
        future = pool.submit(compute, task)
        pending[future] = task
        future.add_done_callback(finished.put)

    try:
        pool = started_pool if started_pool is not None else new_pool(jobs)
        if not (started_pool is not None and warmed):
            _warm_pool(pool, min(jobs, len(seen)))
        for task in seen:
            submit(task)
        for task in upcoming:
            seen.append(task)
            submit(task)
        budgets = [t.budget for t in seen if t.budget is not None]
        # Workers give up on a file themselves (deadline.py). If none finishes anything for
        # this long, those still running are stuck in native code: kill them, and the
        # unfinished files go one by one below, each under its own limit.
        stuck_after = _kill_after(max(budgets)) if budgets else None
        started = False
        while pending:
            timeout = None
            if stuck_after is not None:
                timeout = stuck_after if started else stuck_after + _POOL_STARTUP
            try:
                future = finished.get(timeout=timeout)
            except queue.Empty:
                break
            started = True
            task = pending.pop(future)
            try:
                results[task.index] = future.result()
            except BrokenProcessPool:
                continue  # retried one by one below
            except Exception as exc:
                results[task.index] = Computed(
                    task.index, error=f"internal error: {type(exc).__name__}: {exc}"
                )
            tick(results[task.index])
    except BrokenProcessPool:
        pass  # a worker died (crash, OOM kill): the unfinished files are retried one by one
    except (OSError, NotImplementedError):
        # No subprocesses available here (sandbox, limits): do the remaining work in-process.
        if computing_here is not None:
            computing_here()
        seen.extend(upcoming)
        for task in seen:
            if task.index not in results:
                results[task.index] = compute(task)
                tick(results[task.index])
    finally:
        if pool is not None:
            # Stopped by their handles even when every result is in: a worker's own exit
            # (the interpreter's finalisation, with LibCST's trees) took ~0.1 s that the run
            # waited for, and there is nothing left for it to finish.
            kill(pool)
    seen.extend(upcoming)  # tasks not handed over when the pool broke
    _compute_one_by_one(seen, results, tick)
    return results


def effective_jobs(jobs: int | None) -> int:
    """``-j``, or by default as many as :func:`usable_cpus` (not the machine's CPU count: a
    pinned process or a CPU-capped container would only run its workers by turns)."""
    if jobs is None:
        return usable_cpus()
    return max(1, jobs)
