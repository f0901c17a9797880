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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ssot_codemod.types import EngineError, Finding

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from ssot_codemod.rules.base import Rule

__all__ = [
    "FileResult",
    "FileStatus",
    "Options",
    "ProgressCallback",
    "RunResult",
    "apply_paths",
    "check_paths",
    "resolve_rules",
    "revert_paths",
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

_FAILED_STATUSES: frozenset[str] = frozenset({"error", "refused"})


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


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file.

    ``original``/``new`` hold the decoded texts only when the engine produced a different text
    (for diffs). ``parsed`` tells whether the file passed the byte prefilter and was parsed.
    """

    path: Path
    status: FileStatus
    findings: tuple[Finding, ...] = ()
    original: str | None = None
    new: str | None = None
    error: str | None = None
    parsed: bool = False


@dataclass(frozen=True)
class RunResult:
    """All file results in path order, plus paths that could not be walked."""

    files: tuple[FileResult, ...]
    discovery_errors: tuple[tuple[Path, str], ...] = ()
    elapsed: float = 0.0

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
    codes: tuple[str, ...]
    unsafe_fixes: bool
    helper_module: str | None


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


def _compute(task: _Task) -> _Computed:
    """Decode, fix and re-encode one candidate file. Never raises."""
    try:
        from ssot_codemod.engine import fix_source
        from ssot_codemod.files import encode_source, read_source

        source = read_source(task.data)
        result = fix_source(
            source.text,
            rules=_rules_for(task.codes),
            unsafe_fixes=task.unsafe_fixes,
            helper_module=task.helper_module,
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
    (that file fails; the worker is replaced once per crash, not once per file).
    """
    from concurrent.futures.process import BrokenProcessPool

    pool: ProcessPoolExecutor | None = None
    try:
        for task in tasks:
            if task.index in results:
                continue
            try:
                if pool is None:
                    pool = _new_pool(1)
                results[task.index] = pool.submit(_compute, task).result()
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
    finally:
        if pool is not None:
            pool.shutdown()


def _new_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # "spawn": no fork of a parent that may run threads (the progress bar); same on every OS.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _compute_all(tasks: list[_Task], jobs: int, tick: Callable[[], None]) -> dict[int, _Computed]:
    results: dict[int, _Computed] = {}
    if jobs <= 1 or len(tasks) < _MIN_POOL_CANDIDATES:
        for task in tasks:
            results[task.index] = _compute(task)
            tick()
        return results

    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    try:
        with _new_pool(min(jobs, len(tasks))) as pool:
            futures: dict[Future[_Computed], _Task] = {
                pool.submit(_compute, task): task for task in tasks
            }
            for future in as_completed(futures):
                task = futures[future]
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
    from ssot_codemod.engine import could_match
    from ssot_codemod.files import discover

    rules = resolve_rules(options)  # ValueError before any file is touched
    codes = tuple(rule.code for rule in rules)
    discovery = discover(
        [Path(p) for p in paths], exclude=options.exclude, exclude_base=options.exclude_base
    )
    total = len(discovery.files)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    results: dict[int, FileResult] = {}
    originals: dict[int, bytes] = {}
    tasks: list[_Task] = []
    for index, path in enumerate(discovery.files):
        try:
            data = path.read_bytes()
        except OSError as exc:
            results[index] = FileResult(path, "error", error=_read_error(exc))
            tick()
            continue
        if not rules or not could_match(data, rules):
            results[index] = FileResult(path, "unchanged")
            tick()
            continue
        originals[index] = data
        tasks.append(
            _Task(index, os.fspath(path), data, codes, options.unsafe_fixes, options.helper_module)
        )

    computed = _compute_all(tasks, _effective_jobs(options.jobs), tick)

    any_written = False
    for task in tasks:  # path order
        path = discovery.files[task.index]
        outcome = computed[task.index]
        results[task.index], written = _finish(path, outcome, originals[task.index], mode)
        any_written = any_written or written

    if any_written and options.helper_module is not None:
        _ensure_helper_module(options.helper_module, [Path(p) for p in paths])

    ordered = tuple(results[i] for i in range(total))
    return RunResult(ordered, discovery.errors, time.perf_counter() - started)


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


def _ensure_helper_module(helper_module: str, roots: Iterable[Path]) -> None:
    """Create the ``--helper-module`` file if it does not exist yet.

    TODO(helper-module): not implemented. The engine already imports ``run_coroutine_sync``
    from *helper_module* instead of inserting the helper; writing
    ``<root>/<helper/module/path>.py`` with ``helper_source.HELPER_SOURCE`` (through
    ``backup.commit_rewrite`` so revert removes it) is a later feature. Until then the user
    creates that module once.
    """
    return None


# --------------------------------------------------------------------------------------------
# public entry points


def check_paths(
    paths: Sequence[Path | str],
    options: Options,
    *,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Report findings under *paths*. Never writes. Raises ValueError for unknown rule codes."""
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
