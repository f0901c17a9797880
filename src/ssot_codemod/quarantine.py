"""Quarantine what fails on its first run, release it when it passes again.

``quarantine``: read the results of a test run (or run the user's pytest command), rerun what
failed once (a test that passes then is *flaky*: reported, not quarantined), locate every
remaining failure in the source (:mod:`ssot_codemod.locate`) and put a marker on it
(:mod:`ssot_codemod.quarantine_markers`) -- only where no passing test shares the marked
definition. Each file's edit is computed (the tree :mod:`ssot_codemod.locate` parsed is
reused, the edited text is compiled, and its markers for the baseline are known without
parsing it again), then all are written in one batch through
:func:`ssot_codemod.backup.commit_rewrites` with ``followup`` (backup, journal, atomic
replace; ``revert`` restores the state before ``apply``), and the baseline file
``.ssot-quarantine.json`` at the project root counts what is quarantined, per file.

``release``: run the quarantined tests without their markers in a temporary copy of the
project (the working tree is not touched until the end, so an interrupted release loses
nothing), then remove the markers of those that passed.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ssot_codemod.api import FileResult
from ssot_codemod.junit import JUnitError, TestResult, read_junit
from ssot_codemod.locate import ClassKey, Located, SourceTree, Unlocated, split_test_name
from ssot_codemod.quarantine_markers import (
    TAG_BYTES,
    Marker,
    add_markers_parsed,
    find_markers,
    markers_in,
)
from ssot_codemod.quarantine_markers import remove_markers as _remove_markers
from ssot_codemod.quarantine_run import TestRun, run_tests
from ssot_codemod.results import BaselineRecount, read_error

__all__ = [
    "BASELINE_NAME",
    "EntryStatus",
    "QuarantineResult",
    "TestEntry",
    "quarantine_tests",
    "read_baseline",
    "recount_baselines",
    "release_tests",
]

BASELINE_NAME = ".ssot-quarantine.json"
BASELINE_VERSION = 1

EntryStatus = Literal[
    "quarantined",  # marked now (or would be, in a dry run)
    "already-quarantined",
    "flaky",  # failed, then passed on an immediate rerun: not marked
    "not-marked",  # failing, but located nowhere it could be marked safely (note says why)
    "collection-error",  # a file that could not be collected or imported
    "released",  # passed without its marker: marker removed
    "still-quarantined",  # still fails without its marker
    "not-run",  # quarantined, but the release run did not report it
]

ProgressCallback = Callable[[int, int], None]

# Directories a release never copies into its scratch tree.
_COPY_SKIP = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
    }
)


@dataclass(frozen=True)
class TestEntry:
    """What happened to one reported test (or, for collection errors, one file)."""

    __test__ = False

    test_id: str
    status: EntryStatus
    reason: str = ""
    path: Path | None = None  # the file that holds (or would hold) the marker
    qualname: str | None = None  # the marked definition: Class.test or Class
    note: str = ""


@dataclass(frozen=True)
class QuarantineResult:
    """The outcome of one quarantine or release run."""

    command: Literal["quarantine", "release"]
    entries: tuple[TestEntry, ...]
    files: tuple[FileResult, ...]
    tests_reported: int
    dry_run: bool = False
    baseline: Path | None = None
    baseline_total: int = 0
    async_tests: int | None = None  # reported tests defined as ``async def`` (if counted)
    tool_seconds: float = 0.0  # reading results, locating, editing: the tool's own work
    run_seconds: float = 0.0  # the test command(s)
    warnings: tuple[str, ...] = field(default=())

    def count(self, status: EntryStatus) -> int:
        return sum(1 for e in self.entries if e.status == status)

    @property
    def markers(self) -> int:
        """Distinct definitions marked (quarantine) or unmarked (release)."""
        wanted = "quarantined" if self.command == "quarantine" else "released"
        return len({(e.path, e.qualname) for e in self.entries if e.status == wanted})

    @property
    def has_errors(self) -> bool:
        return any(f.status == "error" for f in self.files)


# --------------------------------------------------------------------------------------------
# helpers


def _rel(path: Path, root: Path) -> str:
    try:
        return os.path.relpath(path, root).replace(os.sep, "/")
    except ValueError:
        return str(path)


def _under(path: Path, scopes: Sequence[Path]) -> bool:
    real = os.path.realpath(path)
    for scope in scopes:
        top = os.path.realpath(scope)
        if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
            return True
    return False


def _test_id(result: TestResult, located: Located | Unlocated | None, root: Path) -> str:
    if isinstance(located, Located):
        parts = [_rel(located.path, root), *located.class_path]
        if located.method is not None:
            parts.append(result.name)
        return "::".join(parts)
    if result.file:
        module = result.file[:-3].replace("/", ".") if result.file.endswith(".py") else ""
        if result.classname == module:
            return f"{result.file}::{result.name}"
        if module and result.classname.startswith(module + "."):
            inner = result.classname[len(module) + 1 :].replace(".", "::")
            return f"{result.file}::{inner}::{result.name}"
        return f"{result.file}::{result.classname}::{result.name}"
    return f"{result.classname}::{result.name}" if result.classname else result.name


# An edit of one file's text: (source, its ast tree if the caller has it) -> (new text, what it
# did, the markers the new text holds when they are known without parsing it).
_Editor = Callable[[str, "ast.Module | None"], tuple[str, set[str], "list[Marker] | None"]]


@dataclass
class _Edit:
    """One file's edit, computed; written (or not) together with the others."""

    path: Path
    result: FileResult  # error, unchanged or would-change
    done: set[str] = field(default_factory=set)
    data: bytes = b""  # the bytes the edit was computed from
    new: bytes | None = None  # would-change: the bytes to write
    markers_now: list[Marker] | None = None  # the file's markers as it is (None: unknown)
    markers_new: list[Marker] | None = None  # its markers once written (None: unknown)


def _edit(path: Path, edit: _Editor, tree: SourceTree | None) -> _Edit:
    """Apply *edit* to the text of *path* and check the result compiles; nothing written."""
    from ssot_codemod.files import encode_source, read_source
    from ssot_codemod.types import EngineError

    try:
        data = path.read_bytes()
        source = read_source(data)
        parsed = tree.parsed(path, data) if tree is not None else None
        new_text, done, after = edit(source.text, parsed)
        now = markers_in(parsed) if parsed is not None else None
        if not done:
            return _Edit(path, FileResult(path, "unchanged", parsed=True), markers_now=now)
        compile(new_text, str(path), "exec", dont_inherit=True)
        new = encode_source(new_text, source)
    except (OSError, EngineError, SyntaxError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return _Edit(path, FileResult(path, "error", error=reason, parsed=True))
    except Exception as exc:  # LibCST parser errors and the like cost this file, not the run
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        return _Edit(path, FileResult(path, "error", error=reason, parsed=True))
    result = FileResult(path, "would-change", original=source.text, new=new_text, parsed=True)
    return _Edit(path, result, done, data, new, markers_now=now, markers_new=after)


def _write_edits(
    edits: Sequence[_Edit], *, dry_run: bool
) -> tuple[list[FileResult], dict[Path, set[str]], dict[Path, list[Marker]]]:
    """Write the edits that change their file, all in one batch
    (:func:`ssot_codemod.backup.commit_rewrites`: backup, journal, atomic replace; revert keeps
    restoring the state before ``apply``). Returns each file's result, the qualnames done per
    file, and the markers each file holds afterwards where they are known without parsing."""
    from ssot_codemod.backup import ApplyRefused, commit_rewrites

    results = [e.result for e in edits]
    done = {e.path: e.done for e in edits}
    known = {e.path: e.markers_now for e in edits if e.markers_now is not None}
    writing = [i for i, e in enumerate(edits) if e.new is not None]
    if dry_run or not writing:
        return results, done, known
    committed = commit_rewrites(
        [(edits[i].path, edits[i].data, edits[i].new or b"") for i in writing], followup=True
    )
    for i, outcome in zip(writing, committed):
        e = edits[i]
        if isinstance(outcome.error, (ApplyRefused, OSError)):
            reason = " ".join(str(outcome.error).split())
            results[i] = FileResult(e.path, "error", error=reason, parsed=True)
            done[e.path] = set()
            continue
        results[i] = replace(e.result, status="changed")
        if e.markers_new is not None:
            known[e.path] = e.markers_new
        else:
            known.pop(e.path, None)
    return results, done, known


def _adding(reasons: dict[str, str]) -> _Editor:
    return lambda source, tree: add_markers_parsed(source, reasons, tree)


def _removing(qualnames: list[str]) -> _Editor:
    return lambda source, _tree: (*_remove_markers(source, qualnames), None)


# --------------------------------------------------------------------------------------------
# baseline


def read_baseline(root: Path) -> dict[str, dict[str, str]]:
    """The baseline at *root*: relative file -> {qualname: reason}. Missing or unusable: {}."""
    try:
        data = json.loads((root / BASELINE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    out: dict[str, dict[str, str]] = {}
    if isinstance(files, dict):
        for name, entry in files.items():
            tests = entry.get("tests") if isinstance(entry, dict) else None
            if isinstance(name, str) and isinstance(tests, dict):
                out[name] = {str(k): str(v) for k, v in tests.items()}
    return out


def _baseline_text(files: dict[str, dict[str, str]]) -> str:
    total = sum(len(tests) for tests in files.values())
    document = {
        "version": BASELINE_VERSION,
        "about": "Tests marked @unittest.skip('ssot-quarantine: ...') by ssot-codemod "
        "quarantine. Mend them, then: ssot-codemod quarantine --release --run CMD PATH",
        "total": total,
        "files": {
            name: {"count": len(tests), "tests": dict(sorted(tests.items()))}
            for name, tests in sorted(files.items())
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _update_baseline(
    root: Path,
    files: Iterable[Path],
    *,
    dry_run: bool,
    known: Mapping[Path, list[Marker]] | None = None,
) -> tuple[Path | None, int]:
    """Recount the markers of *files* and of every file the baseline already lists; *known*:
    the markers of files this run just parsed or wrote (not parsed again)."""
    counted = _count_baseline(root, files, known)
    total = sum(len(t) for t in counted.values())
    target = root / BASELINE_NAME
    if dry_run:
        return target, total
    _write_baseline(target, counted)
    return (target if counted else None), total


def _count_baseline(
    root: Path, files: Iterable[Path], known: Mapping[Path, list[Marker]] | None
) -> dict[str, dict[str, str]]:
    current = read_baseline(root)
    paths = {(root / name).resolve() for name in current} | {Path(p).resolve() for p in files}
    resolved = {Path(p).resolve(): markers for p, markers in (known or {}).items()}
    counted: dict[str, dict[str, str]] = {}
    for path in sorted(paths):
        markers = resolved.get(path)
        if markers is None:
            try:
                markers = find_markers(path.read_bytes())
            except (OSError, SyntaxError, ValueError):
                continue
        if markers:
            counted[_rel(path, root)] = {m.qualname: m.reason for m in markers}
    return counted


def _write_baseline(
    target: Path, counted: dict[str, dict[str, str]], *, write: bool = True
) -> bool:
    """Bring the baseline file to *counted* (no file when nothing is quarantined); whether
    that changes it (with ``write=False``: would change it)."""
    from ssot_codemod.backup import atomic_write

    text = _baseline_text(counted) if counted else None
    try:
        now: str | None = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        now = None
    except OSError:
        now = ""
    if now == text:
        return False
    if write:
        if text is None:
            target.unlink()
        else:
            atomic_write(target, text.encode("utf-8"))
    return True


def recount_baselines(
    restored: Mapping[Path, bytes | None], *, dry_run: bool
) -> tuple[list[BaselineRecount], list[tuple[Path, str]]]:
    """After ``revert``: every quarantine baseline in a directory above a restored file,
    recounted (*restored*: each restored file and, for a dry run, the bytes it would get back;
    None: read the file). The baselines that change (or would), with what they still list, and
    the baselines that could not be brought up to date, with why."""
    roots: set[Path] = set()
    looked: set[Path] = set()
    for path in restored:
        for directory in Path(os.path.abspath(path)).parents:
            if directory in looked:
                break  # its parents were looked at too
            looked.add(directory)
            if (directory / BASELINE_NAME).is_file():
                roots.add(directory)
    known: dict[Path, list[Marker]] = {}
    for path, data in restored.items():
        try:
            known[path] = find_markers(data if data is not None else path.read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
    changed: list[BaselineRecount] = []
    errors: list[tuple[Path, str]] = []
    for root in sorted(roots):
        counted = _count_baseline(root, [], known)
        target = root / BASELINE_NAME
        try:
            if _write_baseline(target, counted, write=not dry_run):
                changed.append(BaselineRecount(target, sum(len(t) for t in counted.values())))
        except OSError as exc:
            errors.append((target, f"quarantine baseline not recounted: {read_error(exc)}"))
    return changed, errors


# --------------------------------------------------------------------------------------------
# quarantine


@dataclass
class _Plan:
    """Markers to add: file -> qualname -> reason, and what each reported test became."""

    reasons: dict[Path, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    entries: list[TestEntry] = field(default_factory=list)


def _class_level(tree: SourceTree, located: Located, siblings: Sequence[TestResult]) -> bool:
    """Whether the class, not each test, gets the marker: every test of it failed the same way,
    and either before its body ran (setUpClass, setUp) or including tests it inherits (an
    error in ``asyncSetUp`` fails those too, and their shared definition cannot be marked)."""
    if located.method is None:
        return True
    if not siblings or not all(s.failing for s in siblings):
        return False
    if len({s.reason for s in siblings}) != 1:
        return False
    if all(s.phase == "setup" for s in siblings):
        return True
    for sibling in siblings:
        found = tree.locate(sibling.classname, sibling.name, sibling.file)
        if isinstance(found, Located) and found.inherited:
            return True
    return False


def _plan_markers(
    results: Sequence[TestResult],
    failing: Sequence[TestResult],
    flaky: set[tuple[str, str]],
    tree: SourceTree,
    scopes: Sequence[Path],
    root: Path,
) -> _Plan:
    plan = _Plan()
    located: dict[tuple[str, str, str | None], Located | Unlocated] = {}

    def locate(r: TestResult) -> Located | Unlocated:
        key = (r.classname, r.name, r.file)
        if key not in located:
            located[key] = tree.locate(r.classname, r.name, r.file)
        return located[key]

    by_class: dict[str, list[TestResult]] = defaultdict(list)
    by_method: dict[str, list[TestResult]] = defaultdict(list)
    for r in results:
        by_class[r.classname].append(r)
        by_method[split_test_name(r.name)].append(r)

    def passing(r: TestResult) -> bool:
        return r.status == "passed" or r.key in flaky

    lineages: dict[tuple[str, str | None], set[ClassKey] | None] = {}

    def may_inherit(r: TestResult, owner: ClassKey) -> bool:
        """Whether the class of *r* is *owner* or inherits from it, as far as bases can be
        followed (True when that is unknown): a test of another class cannot share *owner*'s
        method, so it is not located one by one (a suite reuses method names a lot)."""
        key = (r.classname, r.file)
        if key not in lineages:
            split = tree.split_classname(r.classname, r.file)
            if isinstance(split, Unlocated) or not split[1]:
                lineages[key] = None
            else:
                own = (Path(os.path.abspath(split[0])), split[1])
                lineages[key] = {own} | tree.ancestors(*own)
        lineage = lineages[key]
        return lineage is None or owner in lineage

    class_ancestry: dict[str, set[tuple[Path, tuple[str, ...]]]] | None = None

    def classes_inheriting(target: tuple[Path, tuple[str, ...]]) -> list[str]:
        nonlocal class_ancestry
        if class_ancestry is None:
            class_ancestry = {}
            for name, members in by_class.items():
                loc = locate(members[0])
                if isinstance(loc, Located):
                    class_ancestry[name] = tree.ancestors(loc.path, loc.class_path)
        return [name for name, anc in class_ancestry.items() if target in anc]

    for r in failing:
        loc = locate(r)
        test_id = _test_id(r, loc, root)
        if isinstance(loc, Unlocated):
            plan.entries.append(TestEntry(test_id, "not-marked", r.reason, note=loc.reason))
            continue
        definition = loc.definition
        if _class_level(tree, loc, by_class.get(r.classname, [])):
            target_path, qualname = loc.path, ".".join(loc.class_path)
            heirs = classes_inheriting((loc.path, loc.class_path))
            blocked = [s for name in heirs for s in by_class[name] if passing(s)]
            if blocked:
                plan.entries.append(
                    TestEntry(
                        test_id,
                        "not-marked",
                        r.reason,
                        note=f"class {qualname} fails in setUpClass, but subclasses that pass "
                        f"inherit it (e.g. {blocked[0].classname}); not marked",
                    )
                )
                continue
        else:
            target_path, qualname = definition.path, definition.qualname
            assert definition.method is not None
            owner = (definition.path, definition.class_path)
            blocked = []
            for other in by_method.get(definition.method, []):
                if not passing(other) or not may_inherit(other, owner):
                    continue
                other_loc = locate(other)
                if (
                    isinstance(other_loc, Located)
                    and other_loc.definition.path == definition.path
                    and other_loc.definition.qualname == qualname
                ):
                    blocked.append(other)
                    break
            if blocked:
                where = f"{_rel(definition.path, root)}:{definition.line}"
                plan.entries.append(
                    TestEntry(
                        test_id,
                        "not-marked",
                        r.reason,
                        note=f"defined in base {qualname} ({where}), which also runs and passes "
                        f"as {blocked[0].classname}.{blocked[0].name}; not marked",
                    )
                )
                continue
        if not _under(target_path, scopes):
            plan.entries.append(
                TestEntry(
                    test_id,
                    "not-marked",
                    r.reason,
                    note=f"defined in {_rel(target_path, root)}, outside the PATHs given",
                )
            )
            continue
        note = ""
        if qualname != ".".join([*loc.class_path, *([loc.method] if loc.method else [])]):
            note = f"marked on {qualname} in {_rel(target_path, root)}"
        plan.reasons[target_path].setdefault(qualname, r.reason)
        plan.entries.append(
            TestEntry(test_id, "quarantined", r.reason, target_path, qualname, note)
        )
    return plan


def _rerun_flaky(
    command: str,
    failing: Sequence[TestResult],
    tree: SourceTree,
    root: Path,
    echo: Callable[[str], None] | None,
) -> tuple[set[tuple[str, str]], float]:
    """Rerun the located failing tests once; the keys of those that pass now."""
    ids: dict[str, TestResult] = {}
    for r in failing:
        loc = tree.locate(r.classname, r.name, r.file)
        if isinstance(loc, Located):
            ids[_test_id(r, loc, root)] = r
    if not ids:
        return set(), 0.0
    started = time.perf_counter()
    files = sorted({i.split("::", 1)[0] for i in ids})
    try:
        rerun = run_tests(command, cwd=root, targets=sorted(ids), fallback_targets=files, echo=echo)
    except JUnitError:
        return set(), time.perf_counter() - started
    passed = {r.key for r in rerun.results if r.status == "passed"}
    return {r.key for r in failing if r.key in passed}, time.perf_counter() - started


def quarantine_tests(
    paths: Sequence[Path],
    *,
    root: Path,
    command: str | None = None,
    junit_xml: Path | None = None,
    dry_run: bool = False,
    rerun: bool = True,
    progress: ProgressCallback | None = None,
    count_async: bool = False,
    echo: Callable[[str], None] | None = None,
) -> QuarantineResult:
    """Mark every test that fails in the run of *command* (or in *junit_xml*) under *paths*.

    With *count_async*, also count the reported tests defined as ``async def`` (after the root
    fix: the tests that run for the first time). *echo* receives the test command's output
    line by line while it runs.

    Raises :class:`~ssot_codemod.junit.JUnitError` when the results cannot be read and
    ValueError when *command* cannot be split.
    """
    root = Path(os.path.abspath(root))
    scopes = [Path(os.path.abspath(p)) for p in paths] or [root]
    run_seconds = 0.0
    if command is not None:
        started = time.perf_counter()
        run: TestRun = run_tests(command, cwd=root, echo=echo)
        run_seconds += time.perf_counter() - started
        results: Sequence[TestResult] = run.results
        started = time.perf_counter()
    elif junit_xml is not None:
        started = time.perf_counter()  # reading the results is the tool's own work
        results = read_junit(junit_xml)
    else:
        raise ValueError("give a test command (--run) or a results file (--junit-xml)")
    tree = SourceTree([root, *(s if s.is_dir() else s.parent for s in scopes), root / "src"])
    collection = [r for r in results if r.is_collection_error]
    failing = [r for r in results if r.failing and not r.is_collection_error]
    entries: list[TestEntry] = [
        TestEntry(
            r.file or r.name,
            "collection-error",
            _collection_reason(r),
            note="the file could not be collected; its tests did not run",
        )
        for r in collection
    ]
    flaky: set[tuple[str, str]] = set()
    if rerun and command is not None and failing:
        flaky, seconds = _rerun_flaky(command, failing, tree, root, echo)
        run_seconds += seconds
        started += seconds  # the tool's own time excludes the test runs
    for r in failing:
        if r.key in flaky:
            loc = tree.locate(r.classname, r.name, r.file)
            entries.append(
                TestEntry(
                    _test_id(r, loc, root),
                    "flaky",
                    r.reason,
                    note="failed, then passed on an immediate rerun: not quarantined",
                )
            )
    still = [r for r in failing if r.key not in flaky]
    plan = _plan_markers(results, still, flaky, tree, scopes, root)

    targets = sorted(plan.reasons)
    edits: list[_Edit] = []
    for done_count, path in enumerate(targets, start=1):
        edits.append(_edit(path, _adding(plan.reasons[path]), tree))
        if progress is not None:
            progress(done_count, len(targets))
    files, marked, known = _write_edits(edits, dry_run=dry_run)
    for entry in plan.entries:
        if entry.status == "quarantined" and entry.path is not None:
            if entry.qualname not in marked.get(entry.path, set()):
                failed = next((f for f in files if f.path == entry.path), None)
                if failed is not None and failed.status == "error":
                    entry = TestEntry(
                        entry.test_id, "not-marked", entry.reason, note=failed.error or ""
                    )
                else:
                    entry = TestEntry(
                        entry.test_id,
                        "already-quarantined",
                        entry.reason,
                        entry.path,
                        entry.qualname,
                    )
        entries.append(entry)
    baseline, total = _update_baseline(root, targets, dry_run=dry_run, known=known)
    if dry_run:
        total += sum(len(names) for names in marked.values())
    async_tests = None
    if count_async:
        async_tests = 0
        for r in results:
            found = tree.locate(r.classname, r.name, r.file)
            if isinstance(found, Located) and found.definition.is_async:
                async_tests += 1
    return QuarantineResult(
        "quarantine",
        tuple(entries),
        tuple(files),
        len(results),
        dry_run=dry_run,
        async_tests=async_tests,
        baseline=baseline,
        baseline_total=total,
        tool_seconds=time.perf_counter() - started,
        run_seconds=run_seconds,
    )


def _collection_reason(result: TestResult) -> str:
    for line in result.detail.splitlines():
        stripped = line.strip()
        if stripped.startswith("E "):
            return " ".join(stripped[1:].split())[:200]
    first = result.detail.strip().splitlines()[:1]
    return " ".join(first[0].split())[:200] if first else result.reason


# --------------------------------------------------------------------------------------------
# release


def _markers_under(paths: Sequence[Path], root: Path) -> dict[Path, list[Marker]]:
    from ssot_codemod.files import discover

    found: dict[Path, list[Marker]] = {}
    discovery = discover([Path(p) for p in paths])
    for path in discovery.files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if TAG_BYTES not in data:
            continue
        try:
            markers = find_markers(data)
        except (SyntaxError, ValueError):
            continue
        if markers:
            found[Path(os.path.abspath(path))] = markers
    return found


def _copy_tree(root: Path, destination: Path) -> None:
    def ignore(directory: str, names: list[str]) -> set[str]:
        return {n for n in names if n in _COPY_SKIP or n.endswith(".backup")}

    shutil.copytree(root, destination, symlinks=True, ignore=ignore)


def _unmark_scratch(path: Path, names: Sequence[str]) -> None:
    """Remove markers in the scratch copy (not a user file: no backup needed)."""
    from ssot_codemod.files import encode_source, read_source

    source = read_source(path.read_bytes())
    text, _ = _remove_markers(source.text, names)
    path.write_bytes(encode_source(text, source))


def release_tests(
    paths: Sequence[Path],
    *,
    root: Path,
    command: str,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    echo: Callable[[str], None] | None = None,
) -> QuarantineResult:
    """Run the quarantined tests under *paths* without their markers (in a temporary copy of
    *root*) and remove the markers of those that pass."""
    root = Path(os.path.abspath(root))
    started = time.perf_counter()
    scopes = [Path(os.path.abspath(p)) for p in paths] or [root]
    markers = _markers_under(scopes, root)
    if not markers:
        baseline, total = _update_baseline(root, [], dry_run=dry_run)
        return QuarantineResult(
            "release",
            (),
            (),
            0,
            dry_run=dry_run,
            baseline=baseline,
            baseline_total=total,
            tool_seconds=time.perf_counter() - started,
        )
    run_seconds = 0.0
    outcomes: dict[tuple[str, str], list[TestResult]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="ssot-release-") as scratch:
        copy = Path(scratch) / root.name
        _copy_tree(root, copy)
        rel_files = sorted(_rel(p, root) for p in markers)
        for rel in rel_files:
            names = [m.qualname for m in markers[Path(os.path.abspath(root / rel))]]
            _unmark_scratch(copy / rel, names)
        run_started = time.perf_counter()
        run = run_tests(command, cwd=copy, targets=rel_files, fallback_targets=rel_files, echo=echo)
        run_seconds = time.perf_counter() - run_started
        tree = SourceTree([copy, copy / "src"])
        for r in run.results:
            loc = tree.locate(r.classname, r.name, r.file)
            if not isinstance(loc, Located):
                continue
            outcomes[(_rel(loc.definition.path, copy), loc.definition.qualname)].append(r)
            outcomes[(_rel(loc.path, copy), ".".join(loc.class_path))].append(r)
            for ancestor_path, ancestor in tree.ancestors(loc.path, loc.class_path):
                outcomes[(_rel(ancestor_path, copy), ".".join(ancestor))].append(r)

    entries: list[TestEntry] = []
    releasing: dict[Path, list[str]] = {}
    for path in sorted(markers):
        rel = _rel(path, root)
        for marker in markers[path]:
            ran = outcomes.get((rel, marker.qualname), [])
            test_id = f"{rel}::{marker.qualname.replace('.', '::')}"
            if not ran:
                entries.append(
                    TestEntry(
                        test_id,
                        "not-run",
                        marker.reason,
                        path,
                        marker.qualname,
                        note="the release run did not report this test; kept",
                    )
                )
            elif all(r.status == "passed" for r in ran):
                releasing.setdefault(path, []).append(marker.qualname)
                entries.append(TestEntry(test_id, "released", marker.reason, path, marker.qualname))
            else:
                now = next((r.reason for r in ran if r.failing), marker.reason)
                entries.append(TestEntry(test_id, "still-quarantined", now, path, marker.qualname))
    edits: list[_Edit] = []
    for done_count, path in enumerate(sorted(releasing), start=1):
        edits.append(_edit(path, _removing(releasing[path]), None))
        if progress is not None:
            progress(done_count, len(releasing))
    files, _, _ = _write_edits(edits, dry_run=dry_run)
    baseline, total = _update_baseline(root, list(markers), dry_run=dry_run)
    if dry_run:
        total -= sum(len(v) for v in releasing.values())
    return QuarantineResult(
        "release",
        tuple(entries),
        tuple(files),
        len(run.results),
        dry_run=dry_run,
        baseline=baseline,
        baseline_total=total,
        tool_seconds=time.perf_counter() - started - run_seconds,
        run_seconds=run_seconds,
    )
