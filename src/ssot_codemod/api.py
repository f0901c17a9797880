"""The library API: check, apply and revert whole trees. The CLI is a thin layer over this.

This is the only module that reads and (through :mod:`ssot_codemod.backup`) writes user files.
Every file ends as a :class:`FileResult` value - a file the engine cannot handle is a result
with ``status="error"``, never an exception that stops the run.

Speed: files are read and prefiltered (:func:`~ssot_codemod.engine.could_match`, a byte search)
in this process; only candidates are decoded and parsed, in a process pool when there are enough
of them. Writes happen here, in path order, after the results come back.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ssot_codemod.helper_source import HELPER_NAME
from ssot_codemod.types import EngineError, Finding

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from ssot_codemod.cache import ResultsCache
    from ssot_codemod.project.context import ProjectContext
    from ssot_codemod.project.run import ProjectReport
    from ssot_codemod.rules.base import Rule

__all__ = [
    "DEFAULT_FILE_TIMEOUT",
    "FileResult",
    "FileStatus",
    "Options",
    "ProgressCallback",
    "RunResult",
    "VerifyResult",
    "apply_paths",
    "check_paths",
    "resolve_rules",
    "revert_paths",
    "rollback",
    "run_verify",
    "split_command",
]

FileStatus = Literal[
    "unchanged",
    "changed",
    "would-change",
    "error",
    "skipped",
    "reverted",
    "refused",
    "already-original",
]

#: ``progress(done, total)`` is called in the calling thread after each file is finished.
ProgressCallback = Callable[[int, int], None]

# Spawning workers costs an interpreter start plus ``import libcst`` (~0.5 s each, more on a
# busy machine); below this many candidate files one process is faster.
_MIN_POOL_CANDIDATES = 8

#: Seconds one file's work (prefilter, parse, rules, verify) may take before it is abandoned
#: and reported as an error (``Options.file_timeout``; ``--file-timeout``).
DEFAULT_FILE_TIMEOUT = 60.0
# Starting a pool's workers (interpreter + imports) may take this long on a busy machine.
_POOL_STARTUP = 60.0


def _kill_after(budget: float) -> float:
    """A worker still busy on a file this long (twice its budget, at least one second more)
    is stuck in a native call its own timer cannot interrupt: it is killed and replaced."""
    return budget + max(budget, 1.0)


_FAILED_STATUSES: frozenset[str] = frozenset({"error", "refused"})

# Rules whose candidate files the project index chooses when it is on.
_PROJECT_DECIDES = frozenset({"SSC004"})


@dataclass(frozen=True)
class Options:
    """What to look for and how to fix it. ``select=None`` means every rule."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    helper_module: str | None = None
    jobs: int | None = None  # None: os.cpu_count()
    # Exclude globs are also matched relative to this directory (the config file's project).
    exclude_base: Path | None = None
    force_exclude: bool = False  # exclude patterns apply to files named explicitly too
    # Where --helper-module is resolved (the config file's directory); None: derived from the
    # PATHs (see helper_module.project_root).
    project_root: Path | None = None
    # Per-file budget in seconds (prefilter + parse + rules + verify); None or 0: no limit.
    file_timeout: float | None = DEFAULT_FILE_TIMEOUT
    # The results cache directory (check only; see ssot_codemod.cache); None: no cache.
    cache_dir: Path | None = None
    # Configured import roots (``src = [...]``), absolute; the project view also uses the
    # project root, ``src/`` and each file's package chain.
    src: tuple[Path, ...] = ()
    # False: the single-file view (no project index); for comparisons and debugging.
    project_view: bool = True


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file.

    ``original``/``new`` hold the decoded texts only when the engine produced a different text
    (for diffs). ``parsed`` tells whether the file passed the byte prefilter and was parsed.
    ``created`` lists the paths apply created for this result (a new helper module, its package
    directories and ``__init__.py`` files), in creation order; with ``--dry-run``, those it
    would create.
    """

    path: Path
    status: FileStatus
    findings: tuple[Finding, ...] = ()
    original: str | None = None
    new: str | None = None
    error: str | None = None
    parsed: bool = False
    created: tuple[Path, ...] = ()


@dataclass(frozen=True)
class RunResult:
    """All file results in path order, plus paths that could not be walked."""

    files: tuple[FileResult, ...]
    discovery_errors: tuple[tuple[Path, str], ...] = ()
    elapsed: float = 0.0
    # The --helper-module file, when this run created or extended it (or would, in a dry run).
    helper_module_path: Path | None = None
    # The project view: never-run tests grouped by root class, unresolved bases, skipped tests.
    project: ProjectReport | None = None

    def count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def parsed(self) -> int:
        return sum(1 for f in self.files if f.parsed)

    @property
    def findings(self) -> tuple[tuple[Path, Finding], ...]:
        return tuple((f.path, finding) for f in self.files for finding in f.findings)

    def findings_by_code(self) -> dict[str, int]:
        counts = Counter(finding.code for f in self.files for finding in f.findings)
        return dict(sorted(counts.items()))

    @property
    def failed(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status in _FAILED_STATUSES)

    @property
    def has_errors(self) -> bool:
        return bool(self.discovery_errors) or any(f.status in _FAILED_STATUSES for f in self.files)

    @property
    def unsafe_fixable(self) -> int:
        """Findings that only ``--unsafe-fixes`` would fix."""
        return sum(1 for _, f in self.findings if f.fix == "unsafe" and not f.applied)

    @property
    def fixable(self) -> int:
        """Findings whose fix is part of the computed rewrite."""
        return sum(1 for _, f in self.findings if f.applied)


# --------------------------------------------------------------------------------------------
# rules


def resolve_rules(options: Options) -> list[Rule]:
    """The rules *options* select. Raises ValueError (one line) for an unknown code."""
    from ssot_codemod.rules import select_rules

    select = list(options.select) if options.select is not None else None
    return select_rules(select, list(options.ignore))


# --------------------------------------------------------------------------------------------
# per-file work (top-level and picklable: it also runs in pool workers)


@dataclass(frozen=True)
class _Task:
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


@dataclass(frozen=True)
class _Computed:
    index: int
    findings: tuple[Finding, ...] = ()
    original: str | None = None
    new: str | None = None
    new_bytes: bytes | None = None
    error: str | None = None


_RULE_CACHE: dict[tuple[str, ...], list[Any]] = {}


def _rules_for(codes: tuple[str, ...]) -> list[Any]:
    rules = _RULE_CACHE.get(codes)
    if rules is None:
        from ssot_codemod.rules import select_rules

        rules = select_rules(list(codes), [])
        _RULE_CACHE[codes] = rules
    return rules


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def _gave_up(task: _Task) -> _Computed:
    from ssot_codemod.deadline import gave_up

    return _Computed(task.index, error=gave_up(task.file_timeout or task.budget or 0.0))


def _compute(task: _Task) -> _Computed:
    """Decode, fix and re-encode one candidate file within its budget. Never raises."""
    from ssot_codemod.deadline import FileTimeout, deadline

    try:
        with deadline(task.budget):
            return _compute_unbounded(task)
    except FileTimeout:
        return _gave_up(task)


def _warm() -> None:
    """Import what the work needs, so that start-up is not charged to the first file's budget."""
    import ssot_codemod.engine
    import ssot_codemod.files  # noqa: F401


def _compute_unbounded(task: _Task) -> _Computed:
    try:
        from ssot_codemod.engine import fix_source
        from ssot_codemod.files import encode_source, read_source

        source = read_source(task.data)
        result = fix_source(
            source.text,
            rules=_rules_for(task.codes),
            unsafe_fixes=task.unsafe_fixes,
            helper_module=task.helper_module,
            fix=task.fix,
            prefiltered=True,
            context=task.context,
        )
        if not result.changed:
            return _Computed(task.index, findings=result.findings)
        new_bytes = encode_source(result.code, source)
        return _Computed(
            task.index,
            findings=result.findings,
            original=result.source,
            new=result.code,
            new_bytes=new_bytes,
        )
    except EngineError as exc:
        return _Computed(task.index, error=_one_line(str(exc)))
    except RecursionError:
        return _Computed(task.index, error="too deeply nested to parse (recursion limit)")
    except MemoryError:
        return _Computed(task.index, error="out of memory while processing this file")
    except Exception as exc:  # a bug must cost one file, not the run
        return _Computed(task.index, error=f"internal error: {type(exc).__name__}: {exc}")


def _compute_one_by_one(
    tasks: list[_Task], results: dict[int, _Computed], tick: Callable[[], None]
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
                    pool = _new_pool(1)
                    try:
                        pool.submit(_warm).result(timeout=_POOL_STARTUP)
                    except FutureTimeout:  # not this file's fault: no usable worker
                        _kill(pool)
                        pool = None
                        raise OSError("worker did not start") from None
                limit = None if task.budget is None else _kill_after(task.budget)
                results[task.index] = pool.submit(_compute, task).result(timeout=limit)
            except FutureTimeout:
                results[task.index] = _gave_up(task)
                if pool is not None:
                    _kill(pool)
                pool = None
            except BrokenProcessPool:
                error = "worker process crashed while processing this file"
                results[task.index] = _Computed(task.index, error=error)
                if pool is not None:
                    pool.shutdown(wait=False)
                pool = None
            except (OSError, NotImplementedError):
                results[task.index] = _compute(task)  # no subprocesses after all
            except Exception as exc:
                error = f"internal error: {type(exc).__name__}: {exc}"
                results[task.index] = _Computed(task.index, error=error)
            tick()
        if pool is not None:
            pool.shutdown()
            pool = None
    finally:
        if pool is not None:  # interrupted (Ctrl-C): do not wait for the running file
            _kill(pool)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # "spawn": no fork of a parent that may run threads (the progress bar); same on every OS.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_warm,  # imports happen before any file's budget starts
    )


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop a pool without waiting for its running work: its workers (our own children,
    by their process handles) are killed, queued work is cancelled."""
    processes = getattr(pool, "_processes", None) or {}  # private, but stable since 3.2
    for process in list(processes.values()):
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)


def _compute_all(tasks: list[_Task], jobs: int, tick: Callable[[], None]) -> dict[int, _Computed]:
    from ssot_codemod.deadline import can_interrupt

    results: dict[int, _Computed] = {}
    if jobs <= 1 or len(tasks) < _MIN_POOL_CANDIDATES:
        if any(t.budget is not None for t in tasks) and not can_interrupt():
            # No timer can stop work in this thread (Windows, not the main thread): a worker
            # process can be killed instead.
            _compute_one_by_one(tasks, results, tick)
            return results
        if tasks:
            _warm()
        for task in tasks:
            results[task.index] = _compute(task)
            tick()
        return results

    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    budgets = [t.budget for t in tasks if t.budget is not None]
    # Workers give up on a file themselves (deadline.py). If none finishes anything for this
    # long, those still running are stuck in native code: kill them, and the unfinished files
    # go one by one below, each under its own limit.
    stuck_after = _kill_after(max(budgets)) if budgets else None
    pool: ProcessPoolExecutor | None = None
    pending: dict[Future[_Computed], _Task] = {}
    try:
        pool = _new_pool(min(jobs, len(tasks)))
        pending = {pool.submit(_compute, task): task for task in tasks}
        started = False
        while pending:
            timeout = None
            if stuck_after is not None:
                timeout = stuck_after if started else stuck_after + _POOL_STARTUP
            done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            if not done:
                break
            started = True
            for future in done:
                task = pending.pop(future)
                try:
                    results[task.index] = future.result()
                except BrokenProcessPool:
                    continue  # retried one by one below
                except Exception as exc:
                    results[task.index] = _Computed(
                        task.index, error=f"internal error: {type(exc).__name__}: {exc}"
                    )
                tick()
    except BrokenProcessPool:
        pass  # a worker died (crash, OOM kill): the unfinished files are retried one by one
    except (OSError, NotImplementedError):
        # No subprocesses available here (sandbox, limits): do the remaining work in-process.
        for task in tasks:
            if task.index not in results:
                results[task.index] = _compute(task)
                tick()
    finally:
        if pool is not None:
            if any(not f.done() for f in pending):
                _kill(pool)
            else:
                pool.shutdown()
    _compute_one_by_one(tasks, results, tick)
    return results


def _effective_jobs(jobs: int | None) -> int:
    if jobs is None:
        return os.cpu_count() or 1
    return max(1, jobs)


def _read_error(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file disappeared before it could be read"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    return _one_line(exc.strerror or str(exc) or type(exc).__name__)


def _run(
    paths: Sequence[Path | str],
    options: Options,
    *,
    mode: Literal["check", "apply", "dry-run"],
    progress: ProgressCallback | None,
) -> RunResult:
    started = time.perf_counter()
    from ssot_codemod.deadline import FileTimeout, deadline, gave_up
    from ssot_codemod.engine import could_match
    from ssot_codemod.files import discover

    rules = resolve_rules(options)  # ValueError before any file is touched
    discovery = discover(
        [Path(p) for p in paths],
        exclude=options.exclude,
        exclude_base=options.exclude_base,
        force_exclude=options.force_exclude,
    )
    total = len(discovery.files)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    helper = _HelperTarget.find(paths, options) if mode != "check" else None
    budget = options.file_timeout if options.file_timeout and options.file_timeout > 0 else None
    cache = _open_cache(options, rules, mode)

    results: dict[int, FileResult] = {}
    originals: dict[int, bytes] = {}
    tasks: list[_Task] = []
    # First pass: read and prefilter every file; keep the bytes of candidates and of files the
    # project index will want (only those: a big tree must not sit in memory).
    use_project = options.project_view and bool(rules)
    kept: dict[str, bytes] = {}
    notes: dict[str, object] = {}  # what the first pass learnt for the index (hook keys)
    spent: dict[int, float] = {}  # seconds of its budget each file's prefilter used
    pending: list[tuple[int, Path, bytes | None, tuple[str, ...]]] = []
    for index, path in enumerate(discovery.files):
        if helper is not None and helper.is_file(path):
            helper.index = index
        try:
            data = path.read_bytes()
        except OSError as exc:
            results[index] = FileResult(path, "error", error=_read_error(exc))
            tick()
            continue
        # The prefilter scans user text too, so it runs under the file's budget.
        prefilter_started = time.monotonic()
        try:
            with deadline(budget):
                # With the project view, SSC004's candidates come from the index (which
                # analyses every file with async tests anyway): its ast prefilter is not run twice.
                matched = tuple(
                    rule.code
                    for rule in rules
                    if not (use_project and rule.code in _PROJECT_DECIDES)
                    and could_match(data, [rule])
                )
                wanted = use_project and _ProjectView.wants(notes, path, data)
        except FileTimeout:
            results[index] = FileResult(path, "error", error=gave_up(budget or 0.0))
            tick()
            continue
        spent[index] = time.monotonic() - prefilter_started
        if wanted:
            kept[os.path.abspath(path)] = data
        pending.append((index, path, data if matched else None, matched))
        if not use_project and not matched:
            results[index] = FileResult(path, "unchanged")
            tick()
            pending.pop()
    project = (
        _ProjectView.build(paths, discovery.files, kept, notes, options) if use_project else None
    )
    for index, path, maybe_data, matched in pending:
        if project is not None:
            extra = project.extra_codes(path)
            matched = tuple(r.code for r in rules if r.code in matched or r.code in extra)
        if not matched:
            results[index] = FileResult(path, "unchanged")
            tick()
            continue
        found = maybe_data if maybe_data is not None else kept.get(os.path.abspath(path))
        if found is not None:
            data = found
        else:
            try:
                data = path.read_bytes()
            except OSError as exc:
                results[index] = FileResult(path, "error", error=_read_error(exc))
                tick()
                continue
        context = project.context_for(path) if project is not None else None
        # The cache key includes what the project index resolved for this file, so a file whose
        # base class changed in another module is not served stale.
        hit = (
            cache.lookup(path, data, context.fingerprint if context is not None else b"")
            if cache is not None
            else None
        )
        if hit is not None:
            results[index] = FileResult(
                path, hit.status, hit.findings, error=hit.error, parsed=hit.parsed
            )
            tick()
            continue
        left = None if budget is None else budget - spent.get(index, 0.0)
        originals[index] = data
        # The helper module itself must not import the helper from itself: it gets the helper
        # inline, as without --helper-module.
        helper_module = (
            None if helper is not None and helper.index == index else options.helper_module
        )
        tasks.append(
            _Task(
                index,
                os.fspath(path),
                data,
                matched,
                options.unsafe_fixes,
                helper_module,
                fix=mode != "check",
                budget=None if left is None else max(left, 1e-3),
                file_timeout=budget,
                context=context,
            )
        )

    computed = _compute_all(tasks, _effective_jobs(options.jobs), tick)

    # The helper module first: the rewritten files that import from it are written only once it
    # defines the helper.
    helper_result: FileResult | None = None
    blocked = False
    if helper is not None:
        assert options.helper_module is not None
        needing = [
            t.index
            for t in tasks
            if t.index != helper.index and _uses_helper(computed[t.index], originals[t.index])
        ]
        if needing:
            helper_result = _ensure_helper_module(
                options.helper_module, helper, computed, originals, results, mode
            )
            blocked = helper_result is not None and helper_result.status == "error"

    for task in tasks:  # path order
        path = discovery.files[task.index]
        outcome = computed[task.index]
        if helper_result is not None and helper is not None and task.index == helper.index:
            continue
        if blocked and _uses_helper(outcome, originals[task.index]):
            assert helper_result is not None
            results[task.index] = FileResult(
                path,
                "error",
                findings=outcome.findings,
                error=f"not rewritten: it would import {HELPER_NAME} from "
                f"{options.helper_module}, which could not be written "
                f"({_display(helper_result.path)})",
                parsed=True,
            )
            continue
        results[task.index], _ = _finish(path, outcome, originals[task.index], mode)

    ordered_results = [results[i] for i in range(total)]
    if cache is not None:
        _store_in_cache(cache, ordered_results)
    helper_path: Path | None = None
    if helper_result is not None:
        assert helper is not None
        helper_path = helper_result.path
        if helper.index is not None:
            ordered_results[helper.index] = helper_result
        else:
            ordered_results.append(helper_result)
    return RunResult(
        tuple(ordered_results),
        discovery.errors,
        time.perf_counter() - started,
        helper_module_path=helper_path,
        project=project.report() if project is not None else None,
    )


@dataclass
class _ProjectView:
    """The run's project index and what the files named in this run may write."""

    index: Any  # project.index.ProjectIndex (imported lazily)
    named: tuple[str, ...]
    unsafe_fixes: bool

    @classmethod
    def build(
        cls,
        paths: Sequence[Path | str],
        files: Sequence[Path],
        data: dict[str, bytes],
        notes: dict[str, object],
        options: Options,
    ) -> _ProjectView | None:
        if not options.project_view or not files:
            return None
        from ssot_codemod.files import discover
        from ssot_codemod.project.index import ProjectIndex
        from ssot_codemod.project.run import needs_whole_project, project_root

        as_paths = [Path(p) for p in paths]
        root = project_root(as_paths, options.project_root)
        named = tuple(os.path.abspath(f) for f in files)
        everything: list[str] = list(named)
        extra: list[str] = []
        if needs_whole_project(as_paths):
            # Files named one by one (pre-commit): read the rest of the project as well, so
            # they get the findings a scan of the whole project gives them.
            walked = discover([root], exclude=options.exclude, exclude_base=options.exclude_base)
            extra = [os.path.abspath(f) for f in walked.files if os.path.abspath(f) not in data]
            everything.extend(extra)
        src = [root / entry for entry in options.src]  # relative entries: to the project
        index = ProjectIndex.build(root, everything, src=src, data=data)
        index.memo.update(notes)
        from ssot_codemod.project.run import index_wants

        for path in dict.fromkeys(extra):
            if path in named:
                continue
            try:
                with open(path, "rb") as fh:
                    content = fh.read()
            except OSError:
                continue
            if index_wants(index.memo, path, content):
                index.data[path] = content
        return cls(index, named, options.unsafe_fixes)

    @staticmethod
    def wants(notes: dict[str, object], path: Path, data: bytes) -> bool:
        """Whether the index will parse this file whatever the run asks (kept in memory);
        what it needs from the bytes of the others is noted in *notes*."""
        from ssot_codemod.project.run import index_wants

        return index_wants(notes, os.fspath(path), data)

    def extra_codes(self, path: Path) -> set[str]:
        from ssot_codemod.project.run import extra_codes

        return extra_codes(self.index, os.fspath(path))

    def context_for(self, path: Path) -> ProjectContext:
        context: ProjectContext = self.index.context_for(
            os.fspath(path), unsafe_fixes=self.unsafe_fixes, writable=frozenset(self.named)
        )
        return context

    def report(self) -> ProjectReport:
        from ssot_codemod.project.run import report

        result: ProjectReport = report(self.index, self.named, unsafe_fixes=self.unsafe_fixes)
        return result


def _finish(
    path: Path, outcome: _Computed, original: bytes, mode: Literal["check", "apply", "dry-run"]
) -> tuple[FileResult, bool]:
    """Turn a computed outcome into the file's result, writing it in apply mode."""
    if outcome.error is not None:
        return FileResult(path, "error", error=outcome.error, parsed=True), False
    base = FileResult(
        path,
        "unchanged",
        findings=outcome.findings,
        original=outcome.original,
        new=outcome.new,
        parsed=True,
    )
    if outcome.new_bytes is None or outcome.new_bytes == original:
        return base, False
    if mode != "apply":
        return replace(base, status="would-change"), False

    from ssot_codemod.backup import ApplyRefused, commit_rewrite

    try:
        commit_rewrite(path, original, outcome.new_bytes)
    except ApplyRefused as exc:
        return replace(base, status="error", error=_one_line(str(exc))), False
    except OSError as exc:
        return replace(base, status="error", error=_read_error(exc)), False
    return replace(base, status="changed"), True


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path).replace(os.sep, "/")
    except ValueError:
        return str(path)


# results cache (ssot_codemod.cache): opened by _run for check, looked up per file, stored at
# the end


def _open_cache(
    options: Options, rules: list[Rule], mode: Literal["check", "apply", "dry-run"]
) -> ResultsCache | None:
    """The results cache for this run: check only (apply must write, a dry run shows diffs)."""
    if mode != "check" or options.cache_dir is None:
        return None
    from ssot_codemod.cache import ResultsCache

    settings = {
        "mode": mode,
        "rules": sorted(rule.code for rule in rules),
        "unsafe_fixes": options.unsafe_fixes,
        "helper_module": options.helper_module,
    }
    return ResultsCache.open(options.cache_dir, settings)


def _store_in_cache(cache: ResultsCache, files: list[FileResult]) -> None:
    for file in files:
        # An error may be transient (a worker crash, memory, a time budget): retried every run.
        if file.status != "error":
            cache.store(file.path, file)
    cache.save()


@dataclass
class _HelperTarget:
    """Where the ``--helper-module`` file is, and which discovered file it is (if any)."""

    root: Path
    path: Path
    key: str
    index: int | None = None

    @classmethod
    def find(cls, paths: Sequence[Path | str], options: Options) -> _HelperTarget | None:
        if options.helper_module is None:
            return None
        from ssot_codemod.helper_module import locate_helper_module, project_root

        root = project_root([Path(p) for p in paths], options.helper_module, options.project_root)
        path = locate_helper_module(options.helper_module, root)
        return cls(root, path, os.path.normcase(os.path.realpath(path)))

    def is_file(self, path: Path) -> bool:
        return os.path.normcase(os.path.realpath(path)) == self.key


def _uses_helper(outcome: _Computed, original: bytes) -> bool:
    """Whether this outcome rewrites the file into one that calls the helper."""
    return (
        outcome.error is None
        and outcome.new_bytes is not None
        and outcome.new_bytes != original
        and outcome.new is not None
        and HELPER_NAME in outcome.new
    )


def _ensure_helper_module(
    helper_module: str,
    target: _HelperTarget,
    computed: dict[int, _Computed],
    originals: dict[int, bytes],
    results: dict[int, FileResult],
    mode: Literal["check", "apply", "dry-run"],
) -> FileResult | None:
    """Make the ``--helper-module`` file define the helper (in apply mode, write it).

    Returns the helper module's result, or None when nothing is needed beyond the normal
    processing of that file (it already defines the helper, or the engine's rewrite of it, as
    one of the PATHs, inserts the helper inline).
    """
    from ssot_codemod.helper_module import (
        HelperModuleError,
        create_helper_module,
        plan_helper_module,
    )

    path = target.path
    index = target.index
    outcome = computed.get(index) if index is not None else None
    base = results.get(index) if index is not None else None
    findings = outcome.findings if outcome is not None else base.findings if base else ()
    parsed = outcome is not None
    disk = originals.get(index) if index is not None else None
    engine_new = None
    if outcome is not None and outcome.error is None and outcome.new_bytes is not None:
        if outcome.new_bytes != disk:
            engine_new = outcome.new_bytes
    try:
        change = plan_helper_module(helper_module, target.root, current=engine_new)
    except HelperModuleError as exc:
        return FileResult(
            path, "error", findings=findings, error=_one_line(str(exc)), parsed=parsed
        )
    if change is None:
        return None
    original_text = (
        outcome.original if engine_new is not None and outcome is not None else change.original_text
    )
    result = FileResult(
        change.path,
        "would-change",
        findings=findings,
        original=original_text,
        new=change.new_text,
        parsed=parsed,
        created=change.created,
    )
    if mode != "apply":
        return result

    from ssot_codemod.backup import ApplyRefused, commit_rewrite

    try:
        if change.original is None:
            created = create_helper_module(change)
            return replace(result, status="changed", created=created)
        on_disk = disk if engine_new is not None and disk is not None else change.original
        commit_rewrite(change.path, on_disk, change.new)
    except (ApplyRefused, HelperModuleError) as exc:
        return replace(result, status="error", error=_one_line(str(exc)), created=())
    except OSError as exc:
        return replace(result, status="error", error=_read_error(exc), created=())
    return replace(result, status="changed")


# --------------------------------------------------------------------------------------------
# public entry points


def check_paths(
    paths: Sequence[Path | str],
    options: Options,
    *,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Report findings under *paths*. Never writes. Raises ValueError for unknown rule codes."""
    from ssot_codemod.deadline import alarm_handler

    with alarm_handler():  # once per run: each file's deadline then only sets the timer
        return _run(paths, options, mode="check", progress=progress)


def apply_paths(
    paths: Sequence[Path | str],
    options: Options,
    *,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Rewrite files under *paths* (``<file>.backup`` first); with *dry_run*, only compute.

    Statuses: ``changed`` (written), ``would-change`` (dry run), ``unchanged``, ``error``.
    Raises ValueError for unknown rule codes.
    """
    from ssot_codemod.deadline import alarm_handler

    with alarm_handler():  # once per run: each file's deadline then only sets the timer
        return _run(paths, options, mode="dry-run" if dry_run else "apply", progress=progress)


_REVERT_STATUS: dict[str, FileStatus] = {
    "restored": "reverted",
    "already-original": "already-original",
    "refused": "refused",
    "would-restore": "would-change",
}


def revert_paths(
    paths: Sequence[Path | str],
    *,
    force: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Restore every file under *paths* that has a ``<file>.backup`` from apply.

    Statuses: ``reverted``, ``would-change`` (dry run: would be restored), ``already-original``,
    ``refused`` (edited since apply; ``force`` restores anyway) and ``error``.
    """
    started = time.perf_counter()
    from ssot_codemod.backup import find_backups, revert_file

    as_paths = [Path(p) for p in paths]
    missing = tuple((p, "path does not exist") for p in as_paths if not os.path.lexists(p))
    existing = [p for p in as_paths if os.path.lexists(p)]
    try:
        targets = find_backups(existing) if existing else []
    except OSError as exc:
        return RunResult((), (*missing, (Path("."), _read_error(exc))), 0.0)

    results: list[FileResult] = []
    for done, path in enumerate(targets, start=1):
        try:
            outcome = revert_file(path, force=force, dry_run=dry_run)
        except OSError as exc:
            results.append(FileResult(path, "error", error=_read_error(exc)))
        except Exception as exc:  # never let one file stop the others
            error = f"internal error: {type(exc).__name__}: {exc}"
            results.append(FileResult(path, "error", error=error))
        else:
            status = _REVERT_STATUS.get(outcome.status, "error")
            message = _one_line(outcome.message) if outcome.message else None
            prefix = f"{outcome.path}: "
            if message is not None and message.startswith(prefix):
                message = message[len(prefix) :]  # the report names the file itself
            results.append(
                FileResult(
                    outcome.path,
                    status,
                    error=message if status in _FAILED_STATUSES else None,
                )
            )
        if progress is not None:
            progress(done, len(targets))
    return RunResult(tuple(results), missing, time.perf_counter() - started)


# --------------------------------------------------------------------------------------------
# apply --verify: run a command after applying; roll back what this apply changed if it fails


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of the ``--verify`` command. ``returncode is None``: it could not start."""

    command: str
    returncode: int | None
    output: str
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def split_command(command: str) -> list[str]:
    """*command* as an argument list (POSIX shell quoting). Raises ValueError if unusable."""
    import shlex

    argv = shlex.split(command)
    if not argv:
        raise ValueError("the command is empty")
    return argv


def run_verify(command: str, *, cwd: Path | None = None) -> VerifyResult:
    """Run *command* without a shell (stdin closed, environment inherited, output captured).

    stdout and stderr are captured together, in the order the command wrote them. Raises
    ValueError for a command that cannot be split; KeyboardInterrupt passes through (the child
    has been stopped by then).
    """
    import subprocess

    argv = split_command(command)
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
    except FileNotFoundError:
        return VerifyResult(command, None, "", error=f"command not found: {argv[0]}")
    except OSError as exc:
        reason = _one_line(exc.strerror or str(exc))
        return VerifyResult(command, None, "", error=f"cannot run {argv[0]}: {reason}")
    output = done.stdout.decode("utf-8", "replace") if done.stdout else ""
    return VerifyResult(command, done.returncode, output)


def _remove_pycache(directory: Path) -> None:
    """Remove ``directory/__pycache__`` if it holds nothing but bytecode (a test run made it)."""
    cache = directory / "__pycache__"
    if not cache.is_dir() or cache.is_symlink():
        return
    try:
        entries = list(cache.iterdir())
        if all(e.suffix == ".pyc" and e.is_file() and not e.is_symlink() for e in entries):
            for entry in entries:
                entry.unlink()
            cache.rmdir()
    except OSError:
        return


def rollback(result: RunResult) -> RunResult:
    """Undo what the apply that produced *result* changed: restore every ``changed`` file from
    the backup this run made (:func:`ssot_codemod.backup.revert_file`) and remove the files and
    directories it created. Statuses: ``reverted``, ``refused`` or ``error``.
    """
    started = time.perf_counter()
    from ssot_codemod.backup import revert_file
    from ssot_codemod.helper_module import remove_created

    out: list[FileResult] = []
    for file in result.files:
        if file.status != "changed":
            continue
        if file.path in file.created:
            for created in file.created:
                if created.is_dir() and not created.is_symlink():
                    _remove_pycache(created)
            problems = remove_created(file.created)
            if problems:
                where, why = problems[0]
                out.append(
                    FileResult(file.path, "error", error=f"cannot remove {_display(where)}: {why}")
                )
            else:
                out.append(FileResult(file.path, "reverted"))
            continue
        try:
            outcome = revert_file(file.path)
        except OSError as exc:
            out.append(FileResult(file.path, "error", error=_read_error(exc)))
            continue
        status = _REVERT_STATUS.get(outcome.status, "error")
        if status == "already-original":
            status = "reverted"
        message = _one_line(outcome.message) if outcome.message else None
        prefix = f"{outcome.path}: "
        if message is not None and message.startswith(prefix):
            message = message[len(prefix) :]
        out.append(
            FileResult(file.path, status, error=message if status in _FAILED_STATUSES else None)
        )
    return RunResult(tuple(out), (), time.perf_counter() - started)
