"""The library API: check, apply and revert whole trees. The CLI is a thin layer over this.

User files are read here (and, for the rest of a project, in :mod:`ssot_codemod.project.view`)
and written only through :mod:`ssot_codemod.backup`: here, by :mod:`ssot_codemod.helper_plan`
(the ``--helper-module`` file) and by :mod:`ssot_codemod.verify` (rollback). Every file ends
as a :class:`FileResult` value - a file the engine cannot handle is a result with
``status="error"``, never an exception that stops the run.

Speed: files are read and prefiltered (:func:`~ssot_codemod.engine.could_match`, a byte search)
in this process; only candidates are decoded and parsed, in a process pool when there are enough
of them (:mod:`ssot_codemod.parallel`). Writes happen here, in path order, after the results
come back.

This module is the public facade: the result values (:mod:`ssot_codemod.results`) and
``apply --verify`` (:mod:`ssot_codemod.verify`) are importable from here as well.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ssot_codemod.helper_plan import HelperTarget, ensure_helper_module, uses_helper
from ssot_codemod.helper_source import HELPER_NAME
from ssot_codemod.parallel import Computed, EarlyPool, Task, compute_all, effective_jobs
from ssot_codemod.results import (
    FAILED_STATUSES,
    REVERT_STATUS,
    BaselineRecount,
    FileResult,
    FileStatus,
    RunResult,
    display,
    one_line,
    read_error,
)
from ssot_codemod.verify import VerifyResult, rollback, run_verify, split_command
from ssot_codemod.write_queue import WriteQueue

if TYPE_CHECKING:
    from ssot_codemod.backup import Committed
    from ssot_codemod.cache import ResultsCache
    from ssot_codemod.engine import TreeVerdict
    from ssot_codemod.files import Discovery
    from ssot_codemod.project.context import ProjectContext
    from ssot_codemod.project.modules import ModuleSummary
    from ssot_codemod.project.run import ProjectReport
    from ssot_codemod.project.view import ProjectView
    from ssot_codemod.rules.base import Rule

__all__ = [
    "DEFAULT_FILE_TIMEOUT",
    "options_from_config",
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

#: ``progress(done, total)`` is called in the calling thread after each file is finished.
ProgressCallback = Callable[[int, int], None]

#: Seconds one file's work (prefilter, parse, rules, verify) may take before it is abandoned
#: and reported as an error (``Options.file_timeout``; ``--file-timeout``).
DEFAULT_FILE_TIMEOUT = 120.0

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
    # Internal (tests compare both ways): False sends every candidate to the engine (LibCST),
    # also those whose findings ``check`` reads from the project index's ``ast`` trees.
    ast_findings: bool = True
    # Internal (tests compare both ways): False sends every candidate to LibCST, also those the
    # rules' gates over CPython's ast tree rule out (``Rule.could_match_tree``).
    tree_gates: bool = True


def options_from_config(
    config: Mapping[str, Any],
    config_path: Path | None,
    *,
    select: tuple[str, ...] | None = None,
    ignore: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
    unsafe_fixes: bool | None = None,
    helper_module: str | None = None,
    jobs: int | None = None,
    force_exclude: bool | None = None,
    file_timeout: float | None = None,
    cache: bool = False,
) -> Options:
    """``[tool.ssot-codemod]`` (*config*, read from *config_path*; see
    :func:`ssot_codemod.config.load_config`) with what the user gave over it: an argument that is
    not None wins, *exclude* extends the configured patterns. The one place where configuration
    becomes options, for the CLI and the all-repos fixer alike.

    With *cache*, results are cached in ``cache-dir`` (relative to the configuration file) or
    ``.ssot_codemod_cache`` next to it (without a configuration: in the current directory).
    """
    base = config_path.parent if config_path is not None else None
    if select is None and "select" in config:
        select = tuple(code.upper() for code in config["select"])
    if ignore is None:
        ignore = tuple(code.upper() for code in config.get("ignore", ()))
    cache_dir = None
    if cache:
        from ssot_codemod.cache import DEFAULT_CACHE_DIR

        cache_dir = (base or Path.cwd()) / str(config.get("cache-dir", DEFAULT_CACHE_DIR))
    return Options(
        select=select,
        ignore=ignore,
        exclude=(*config.get("exclude", ()), *config.get("extend-exclude", ()), *exclude),
        unsafe_fixes=(
            unsafe_fixes if unsafe_fixes is not None else bool(config.get("unsafe-fixes", False))
        ),
        helper_module=helper_module if helper_module is not None else config.get("helper-module"),
        jobs=jobs,
        exclude_base=base,
        force_exclude=(
            force_exclude if force_exclude is not None else bool(config.get("force-exclude", False))
        ),
        project_root=base,
        file_timeout=(
            file_timeout
            if file_timeout is not None
            else config.get("file-timeout", DEFAULT_FILE_TIMEOUT)
        ),
        cache_dir=cache_dir,
        src=tuple(base / entry for entry in config.get("src", ())) if base is not None else (),
    )


# --------------------------------------------------------------------------------------------
# rules


def resolve_rules(options: Options) -> list[Rule]:
    """The rules *options* select. Raises ValueError (one line) for an unknown code."""
    from ssot_codemod.rules import select_rules

    select = list(options.select) if options.select is not None else None
    return select_rules(select, list(options.ignore))


# --------------------------------------------------------------------------------------------
# the file loop: read, prefilter, project context, cache, compute (parallel.py), write


def _run(
    paths: Sequence[Path | str],
    options: Options,
    *,
    mode: Literal["check", "apply", "dry-run"],
    progress: ProgressCallback | None,
) -> RunResult:
    started = time.perf_counter()
    started_ns = time.time_ns()  # before any file is looked at (snapshot's racy rule)
    rules = resolve_rules(options)  # ValueError before any file is touched
    cache = _open_cache(options, rules, mode)
    run_key = None
    if cache is not None:
        from ssot_codemod.snapshot import run_key as snapshot_key

        run_key = snapshot_key(paths, options)
        cache.prepare()  # before any folder is listed: a later run must see the same listing
        replayed = _replay(cache, run_key, started, progress)
        if replayed is not None:
            return replayed

    from ssot_codemod.files import discover
    from ssot_codemod.project.ast_findings import ANSWERED as ast_answered
    from ssot_codemod.project.run import merge_notes
    from ssot_codemod.project.view import ProjectView
    from ssot_codemod.screening import screen_all

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

    helper = HelperTarget.find(paths, options) if mode != "check" else None
    budget = options.file_timeout if options.file_timeout and options.file_timeout > 0 else None

    # Workers for the engine start as soon as enough files are sure to need them (their
    # imports overlap the rest of the first pass and the project index).
    # Without --helper-module no rewrite waits for another file's: each is written while
    # the engine works on the others (write_queue.py).
    writes_meanwhile = mode == "apply" and helper is None
    early = EarlyPool(effective_jobs(options.jobs), writes_meanwhile=writes_meanwhile)
    try:
        results: dict[int, FileResult] = {}
        originals: dict[int, bytes] = {}
        tasks: list[Task] = []
        # First pass: read and prefilter every file; keep the bytes of candidates and of files the
        # project index will want (only those: a big tree must not sit in memory).
        use_project = options.project_view and bool(rules)
        kept: dict[str, bytes] = {}
        summaries: dict[str, ModuleSummary] = {}  # of kept files, made by the first pass
        notes: dict[str, object] = {}  # what the first pass learnt for the index (hook keys)
        spent: dict[int, float] = {}  # seconds of its budget each file's prefilter used
        pending: list[tuple[int, Path, bytes | None, tuple[str, ...]]] = []
        # The first pass's crash guard and tree gates, where it parsed a file (the engine then
        # does not parse it again): plain data, dropped as each task is made.
        verdicts: dict[int, TreeVerdict] = {}
        # With the project view, SSC004's candidates come from the index (which analyses every
        # file with async tests anyway): its ast prefilter is not run twice.
        screened = screen_all(
            discovery.files,
            rules,
            skip=_PROJECT_DECIDES if use_project else frozenset(),
            use_project=use_project,
            budget=budget,
            early=early,
        )
        for seen in screened:
            index, path = seen.index, discovery.files[seen.index]
            if helper is not None and helper.is_file(path):
                helper.index = index
            if seen.error is not None:
                results[index] = FileResult(path, "error", error=seen.error)
                tick()
                continue
            if seen.notes:
                merge_notes(notes, seen.notes)
            spent[index] = seen.spent
            matched, data = seen.matched, seen.data
            if seen.wanted or seen.summary is not None:
                # (A candidate's summary comes with its bytes: the index reads the file for
                # its context otherwise; the engine gets these same bytes.)
                assert data is not None
                kept[os.path.abspath(path)] = data
                if seen.summary is not None:
                    summaries[os.path.abspath(path)] = seen.summary
            pending.append((index, path, data if matched else None, matched))
            if seen.verdict is not None:
                verdicts[index] = seen.verdict
            if matched and (cache is None or not cache.knows(path, data or b"")):
                early.expect_task()
            if not use_project and not matched:
                results[index] = FileResult(path, "unchanged")
                tick()
                pending.pop()
        early.first_pass_done()
        project = (
            ProjectView.build(paths, discovery.files, kept, notes, options, summaries)
            if use_project
            else None
        )

        def prepared() -> Iterator[Task]:
            """The engine's tasks, made one by one: compute_all hands each to a worker as
            soon as it exists (the others' project contexts and ast findings meanwhile).

            Where no edit can come of them (``check``, or no unsafe fixes), the files only SSC004
            matched are answered from ``ast`` after every other task is out (their contexts
            are still made here, in file order): the workers start on all the LibCST work
            while this process does that."""
            deferred: list[tuple[int, Path, bytes, tuple[str, ...], ProjectContext]] = []
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
                        results[index] = FileResult(path, "error", error=read_error(exc))
                        tick()
                        continue
                context = project.context_for(path) if project is not None else None
                # The cache key includes what the project index resolved for this file, so a
                # file whose base class changed in another module is not served stale.
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
                if options.tree_gates and not ast_answered >= {*matched}:
                    # The rules' tree gates, answered by the first pass where it parsed the file
                    # (the engine's first step, done here): a rule they rule out (SSC001's near
                    # misses: a decorator that runs the coroutine) no longer keeps the file from
                    # the ast answers below, nor, when none is left, sends it to the engine.
                    matched = _left_by_verdict(rules, matched, verdicts.get(index), data, context)
                    if not matched:
                        results[index] = FileResult(path, "unchanged")
                        tick()
                        continue
                # -- issue 11: a file only SSC004 matched needs no LibCST when no edit can come
                # of it - in check, and without unsafe fixes (SSC004's only fix is unsafe) - the
                # project index parsed it with ast already; None: a shape the engine decides.
                # In check, SSC002's findings (alone or with SSC004's) come from there too:
                # its fixes are edits, so apply leaves it to the engine.
                if (
                    options.ast_findings
                    and project is not None
                    and context is not None
                    and (
                        (matched == ("SSC004",) and (mode == "check" or not options.unsafe_fixes))
                        or (mode == "check" and "SSC002" in matched and ast_answered >= {*matched})
                    )
                ):
                    deferred.append((index, path, data, matched, context))
                    continue
                yield task_for(index, path, data, matched, context)
            if deferred:
                from ssot_codemod.project.ast_findings import check_findings

                assert project is not None
                for index, path, data, matched, context in deferred:
                    fast = check_findings(
                        project.index, path, data, context, matched, tree_gates=options.tree_gates
                    )
                    if fast is not None:
                        results[index] = FileResult(path, "unchanged", fast[0], parsed=fast[1])
                        tick()
                        continue
                    yield task_for(index, path, data, matched, context)
                # -- end issue 11

        def task_for(
            index: int,
            path: Path,
            data: bytes,
            matched: tuple[str, ...],
            context: ProjectContext | None,
        ) -> Task:
            left = None if budget is None else budget - spent.get(index, 0.0)
            originals[index] = data
            # The helper module itself must not import the helper from itself: it gets the
            # helper inline, as without --helper-module.
            helper_module = (
                None if helper is not None and helper.index == index else options.helper_module
            )
            task = Task(
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
                tree_gates=options.tree_gates,
                verdict=verdicts.pop(index, None),
            )
            tasks.append(task)
            return task

        streamed = WriteQueue() if writes_meanwhile else None
        queued: list[tuple[int, FileResult]] = []  # (their results, in the order written)

        def finished(outcome: Computed) -> None:
            assert streamed is not None
            index = outcome.index
            path = discovery.files[index]
            results[index], write = _finish(path, outcome, originals[index], mode)
            if write:
                assert outcome.new_bytes is not None
                queued.append((index, results[index]))
                streamed.add((path, originals[index], outcome.new_bytes))

        def computed_one(outcome: Computed) -> None:
            if streamed is not None:
                finished(outcome)
            tick()

        try:
            computed = compute_all(
                prepared(),
                effective_jobs(options.jobs),
                computed_one,
                early,
                writes_meanwhile=writes_meanwhile,
                computing_here=streamed.hold if streamed is not None else None,
            )
            if streamed is not None:
                for index in sorted(computed.keys() - results.keys()):  # (none: each is ticked)
                    finished(computed[index])
        except BaseException:
            if streamed is not None:
                streamed.stop()  # the batch being written completes; the queued ones are dropped
            raise
        tasks.sort(key=lambda task: task.index)  # path order again (check defers some files)
    finally:
        early.discard()  # interrupted before compute_all took it over
    if streamed is not None:
        # Every computed file has its result; the rewrites are written once the queue is done.
        _record_commits(queued, streamed.finish(), results)
        helper_result = None
    else:
        helper_result = _finish_tasks(
            tasks, computed, originals, results, helper, options, mode, discovery.files
        )

    ordered_results = [results[i] for i in range(total)]
    project_report = project.report() if project is not None else None
    if cache is not None:
        assert run_key is not None
        _keep_snapshot(
            cache, run_key, started_ns, ordered_results, discovery, project, project_report
        )
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
        project=project_report,
    )


def _finish_tasks(
    tasks: Sequence[Task],
    computed: dict[int, Computed],
    originals: dict[int, bytes],
    results: dict[int, FileResult],
    helper: HelperTarget | None,
    options: Options,
    mode: Literal["check", "apply", "dry-run"],
    files: Sequence[Path],
) -> FileResult | None:
    """Every task's result from its computed outcome, in path order; apply writes the rewrites
    together (:func:`_write_out`), after the --helper-module file if they need it (whose result
    is returned)."""
    # The helper module first: the rewritten files that import from it are written only once it
    # defines the helper.
    helper_result: FileResult | None = None
    blocked = False
    if helper is not None:
        assert options.helper_module is not None
        needing = [
            t.index
            for t in tasks
            if t.index != helper.index and uses_helper(computed[t.index], originals[t.index])
        ]
        if needing:
            helper_result = ensure_helper_module(
                options.helper_module, helper, computed, originals, results, mode
            )
            blocked = helper_result is not None and helper_result.status == "error"

    writes: list[tuple[int, Path, FileResult, bytes, bytes]] = []  # committed together
    for task in tasks:  # path order
        path = files[task.index]
        outcome = computed[task.index]
        if helper_result is not None and helper is not None and task.index == helper.index:
            continue
        if blocked and uses_helper(outcome, originals[task.index]):
            assert helper_result is not None
            results[task.index] = FileResult(
                path,
                "error",
                findings=outcome.findings,
                error=f"not rewritten: it would import {HELPER_NAME} from "
                f"{options.helper_module}, which could not be written "
                f"({display(helper_result.path)})",
                parsed=True,
            )
            continue
        results[task.index], write = _finish(path, outcome, originals[task.index], mode)
        if write:
            assert outcome.new_bytes is not None
            writes.append(
                (task.index, path, results[task.index], originals[task.index], outcome.new_bytes)
            )
    if writes:
        _write_out(writes, results)
    return helper_result


def _finish(
    path: Path, outcome: Computed, original: bytes, mode: Literal["check", "apply", "dry-run"]
) -> tuple[FileResult, bool]:
    """Turn a computed outcome into the file's result; True: apply must write it
    (:func:`_write_out`, which turns the result into "changed" or an error)."""
    if outcome.error is not None:
        return FileResult(path, "error", error=outcome.error, parsed=True), False
    base = FileResult(
        path,
        "unchanged",
        findings=outcome.findings,
        original=outcome.original,
        new=outcome.new,
        parsed=outcome.parsed,
    )
    if outcome.new_bytes is None or outcome.new_bytes == original:
        return base, False
    if mode != "apply":
        return replace(base, status="would-change"), False
    return base, True


def _write_out(
    writes: Sequence[tuple[int, Path, FileResult, bytes, bytes]], results: dict[int, FileResult]
) -> None:
    """Write apply's rewrites, all in one :func:`~ssot_codemod.backup.commit_rewrites` (its
    fsyncs paid per directory, not per file); a file that cannot be written is an error of its
    own, the others are written."""
    from ssot_codemod.backup import commit_rewrites

    done = commit_rewrites([(path, original, new) for _, path, _, original, new in writes])
    _record_commits([(index, base) for index, _, base, _, _ in writes], done, results)


def _record_commits(
    written: Sequence[tuple[int, FileResult]],
    done: Sequence[Committed],
    results: dict[int, FileResult],
) -> None:
    """Each written file's result: "changed", or the error that kept it unchanged."""
    from ssot_codemod.backup import ApplyRefused

    for (index, base), committed in zip(written, done):
        error = committed.error
        if error is None:
            results[index] = replace(base, status="changed")
        elif isinstance(error, ApplyRefused):
            results[index] = replace(base, status="error", error=one_line(str(error)))
        else:
            results[index] = replace(base, status="error", error=read_error(error))


# results cache (ssot_codemod.cache): opened by _run for check, looked up per file, stored at
# the end


def _left_by_verdict(
    rules: Sequence[Rule],
    matched: tuple[str, ...],
    verdict: TreeVerdict | None,
    data: bytes,
    context: ProjectContext | None,
) -> tuple[str, ...]:
    """*matched* without the rules the first pass's tree verdict rules out for *data* (all of
    *matched* when it has none, or one that does not fit: the engine then decides)."""
    if verdict is None:
        return matched
    from ssot_codemod.engine import rules_left_by_verdict

    left = rules_left_by_verdict(
        verdict, data, [rule for rule in rules if rule.code in matched], context
    )
    return matched if left is None else tuple(rule.code for rule in left)


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


def _replay(
    cache: ResultsCache, key: str, started: float, progress: ProgressCallback | None
) -> RunResult | None:
    """The whole run from the cache's snapshot, when nothing it was decided from changed."""
    from ssot_codemod.snapshot import replay

    raw = cache.run_snapshot(key)
    replayed = replay(raw) if raw is not None else None
    if replayed is None:
        return None
    files, report = replayed
    cache.hits += len(files)
    for done in range(1, len(files) + 1):
        if progress is not None:
            progress(done, len(files))
    cache.save()  # only when the snapshot's day of last use moved
    return RunResult(files, (), time.perf_counter() - started, project=report)


def _keep_snapshot(
    cache: ResultsCache,
    key: str,
    started_ns: int,
    files: list[FileResult],
    discovery: Discovery,
    project: ProjectView | None,
    report: ProjectReport | None,
) -> None:
    """Record what this run was decided from (:mod:`ssot_codemod.snapshot`) when a later run
    can check it by stat calls alone."""
    from ssot_codemod.snapshot import record

    watched, probed = list(discovery.watched), list(discovery.probed)
    replayable = discovery.replayable
    if project is not None:
        more_watched, more_probed, complete = project.dependencies()
        watched.extend(more_watched)
        probed.extend(more_probed)
        replayable = replayable and complete
    if not replayable:
        return
    listings = dict(discovery.listings)
    if project is not None:
        listings.update(project.listings)
    inside = os.path.join(os.path.abspath(cache.directory), "")
    # The cache folder changes with every run and never holds a file to check.
    watched = [p for p in watched if not os.path.join(os.path.abspath(p), "").startswith(inside)]
    snapshot = record(started_ns, files, watched, probed, listings, report)
    if snapshot is not None:
        cache.keep_run(key, snapshot)


def _store_in_cache(cache: ResultsCache, files: list[FileResult]) -> None:
    for file in files:
        # An error may be transient (a worker crash, memory, a time budget): retried every run.
        if file.status != "error":
            cache.store(file.path, file)
    cache.save()


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
    from ssot_codemod.gc_policy import fewer_collections

    # The alarm handler once per run: each file's deadline then only sets the timer.
    with alarm_handler(), fewer_collections():
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
    from ssot_codemod.gc_policy import fewer_collections

    # The alarm handler once per run: each file's deadline then only sets the timer.
    with alarm_handler(), fewer_collections():
        return _run(paths, options, mode="dry-run" if dry_run else "apply", progress=progress)


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
        return RunResult((), (*missing, (Path("."), read_error(exc))), 0.0)

    results: list[FileResult] = []
    for done, path in enumerate(targets, start=1):
        try:
            outcome = revert_file(path, force=force, dry_run=dry_run)
        except OSError as exc:
            results.append(FileResult(path, "error", error=read_error(exc)))
        except Exception as exc:  # never let one file stop the others
            error = f"internal error: {type(exc).__name__}: {exc}"
            results.append(FileResult(path, "error", error=error))
        else:
            status = REVERT_STATUS.get(outcome.status, "error")
            message = one_line(outcome.message) if outcome.message else None
            prefix = f"{outcome.path}: "
            if message is not None and message.startswith(prefix):
                message = message[len(prefix) :]  # the report names the file itself
            results.append(
                FileResult(
                    outcome.path,
                    status,
                    error=message if status in FAILED_STATUSES else None,
                )
            )
        if progress is not None:
            progress(done, len(targets))
    baselines, errors = _recount_baselines(results, dry_run=dry_run)
    elapsed = time.perf_counter() - started
    return RunResult(tuple(results), (*missing, *errors), elapsed, baselines=baselines)


def _recount_baselines(
    results: Sequence[FileResult], *, dry_run: bool
) -> tuple[tuple[BaselineRecount, ...], list[tuple[Path, str]]]:
    """The quarantine baselines above the restored files, recounted: a marker that revert took
    away is no longer listed (and a baseline listing nothing is removed)."""
    from ssot_codemod.backup import backup_path_for

    restored: dict[Path, bytes | None] = {}
    for file in results:
        if file.status == "reverted":
            restored[file.path] = None
        elif file.status == "would-change":
            try:
                restored[file.path] = backup_path_for(file.path).read_bytes()
            except OSError:
                continue
    if not restored:
        return (), []
    from ssot_codemod.quarantine import recount_baselines

    changed, errors = recount_baselines(restored, dry_run=dry_run)
    return tuple(changed), errors
