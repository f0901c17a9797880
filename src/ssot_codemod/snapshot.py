"""A run's snapshot: a second ``check`` over an unchanged tree is answered from ``stat`` calls.

After a ``check`` that used the results cache, the api records, per *run key* (the working
directory, the PATHs as given and every option that changes which files are read or what the
project view resolves), what the run was decided from and what it answered:

- the files it reported on, in order, each with its ``stat`` and its result;
- every other path whose state could change the answer (``watched``): the directories
  discovery listed, the ``.gitignore`` files and git index it read, the directories above the
  PATHs where the project root and repository were looked for, and every file and directory
  listing the project index read (a base class in another module, a file outside the PATHs);
- the project view's report (never-run tests by root, unresolved bases).

The next run with the same key stats those paths (no reading, no parsing) and, when every
``stat`` is identical, returns the recorded answer. Any difference - a file added, removed,
edited, a base class changed in a module outside the PATHs - and the run is done as usual (the
results cache still serves each file whose bytes and project context did not change).

A ``stat`` is (mtime_ns, size, inode, ctime_ns). Racy entries (git's rule): an edit within the
timestamp granularity of the one the run saw leaves the ``stat`` unchanged, so an entry whose
mtime is not older than the start of the recording run by :data:`RACY_MARGIN_NS` is not
trusted, and the run is done as usual (which records a new snapshot). Anything modified while
the recording run read it has such an mtime, so stats taken after the run are safe to keep. A
folder changed within that window (the cache folder the recording run created in the folder it
walks) is trusted while its entry names are those the walk saw (``Discovery.listings``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssot_codemod.types import Finding

if TYPE_CHECKING:
    from ssot_codemod.project.run import ProjectReport
    from ssot_codemod.results import FileResult

__all__ = ["RACY_MARGIN_NS", "Replayed", "record", "replay", "run_key"]

#: A file modified less than this before the recording run started is re-read (covers coarse
#: filesystem timestamps - FAT's are 2 s - and a file system clock slightly behind ours).
RACY_MARGIN_NS = 2_000_000_000

Stat = list[int]
Replayed = tuple[tuple["FileResult", ...], "ProjectReport | None"]


def run_key(paths: Sequence[Path | str], options: Any) -> str:
    """What decides which files a run reads and what the project view resolves.

    The settings that change results (rules, ``unsafe-fixes``, ...) select the cache's pack;
    this key selects a snapshot within it.
    """
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    key = {
        "cwd": cwd,
        "paths": [os.fspath(p) for p in paths],
        "exclude": list(options.exclude),
        "exclude_base": os.fspath(options.exclude_base) if options.exclude_base else None,
        "force_exclude": options.force_exclude,
        "project_root": os.fspath(options.project_root) if options.project_root else None,
        "src": [os.fspath(s) for s in options.src],
        "project_view": options.project_view,
    }
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def _stat(path: str) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns]


# --------------------------------------------------------------------------------------------
# recording


def _finding_json(f: Finding) -> list[object]:
    return [f.code, f.message, f.line, f.column, f.end_line, f.end_column, f.fix, f.applied]


def _result_json(result: FileResult) -> list[object] | None:
    if result.status == "unchanged" and not result.findings and not result.parsed:
        return None  # most files: ruled out by the prefilter
    return [
        result.status,
        result.parsed,
        result.error,
        [_finding_json(f) for f in result.findings],
    ]


def _report_json(report: ProjectReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "roots": [
            [r.name, r.path, r.line, r.tests, r.files, r.blocker, r.named] for r in report.roots
        ],
        "unresolved": [[u.path, u.class_name, u.line, u.base, u.reason] for u in report.unresolved],
        "skipped": [list(s) for s in report.skipped_tests],
        "unsafe_fixes": report.unsafe_fixes,
    }


def record(
    started_ns: int,
    results: Sequence[FileResult],
    watched: Iterable[str],
    probed: Iterable[str],
    listings: Mapping[str, str],
    report: ProjectReport | None,
) -> dict[str, Any] | None:
    """The snapshot of a finished run, or None when it cannot be replayed (a result that is
    an error may be transient and is recomputed every run)."""
    if any(r.status not in ("unchanged", "would-change") for r in results):
        return None
    files = []
    named = set()
    for result in results:
        path = os.fspath(result.path)
        named.add(os.path.abspath(path))
        files.append([path, _stat(path), _result_json(result)])
    racy_from = started_ns - RACY_MARGIN_NS
    listings = {os.path.abspath(k): v for k, v in listings.items()}
    watch: list[list[Any]] = []
    for path in dict.fromkeys(os.path.abspath(p) for p in watched):
        if path in named:
            continue
        stat = _stat(path)
        if stat is not None and stat[0] >= racy_from and path in listings:
            # A folder changed around the time it was listed (the cache folder appearing in
            # the working directory): trusted while it holds the names the walk saw.
            watch.append([path, stat, listings[path]])
        else:
            watch.append([path, stat])
    probe = [[p, os.path.lexists(p)] for p in dict.fromkeys(os.path.abspath(p) for p in probed)]
    return {
        "started": started_ns,
        "files": files,
        "watched": watch,
        "probed": probe,
        "project": _report_json(report),
    }


# --------------------------------------------------------------------------------------------
# replaying: every value validated (a corrupt snapshot is a miss, never an error)


def _unchanged(path: object, stat: object, trusted_before: int | None) -> bool:
    """The path's stat is *stat*, and older than *trusted_before* (None: any age)."""
    if type(path) is not str:
        raise ValueError("bad path")
    if stat is None:
        return _stat(path) is None
    if type(stat) is not list or len(stat) != 4 or any(type(v) is not int for v in stat):
        raise ValueError("bad stat")
    if trusted_before is not None and stat[0] >= trusted_before:
        return False
    return _stat(path) == stat


def _listing(path: str) -> str | None:
    from ssot_codemod.files import listing_digest

    try:
        return listing_digest(os.listdir(path))
    except OSError:
        return None


_FINDING_TYPES = [str, str, int, int, int, int, str, bool]
_FIXES = frozenset(("safe", "unsafe", "none"))


def _finding(raw: object) -> Finding:
    # One C-level comparison of the field types (``bool`` is not ``int`` here): tens of
    # thousands of findings are replayed per run.
    if type(raw) is not list or list(map(type, raw)) != _FINDING_TYPES or raw[6] not in _FIXES:
        raise ValueError("bad finding")
    return Finding(*raw)


def _result(path: str, raw: object) -> FileResult:
    from ssot_codemod.results import FileResult

    if raw is None:
        return FileResult(Path(path), "unchanged")
    if type(raw) is not list or len(raw) != 4:
        raise ValueError("bad result")
    status, parsed, error, findings = raw
    if status not in ("unchanged", "would-change") or type(parsed) is not bool:
        raise ValueError("bad result")
    if error is not None and type(error) is not str or type(findings) is not list:
        raise ValueError("bad result")
    found = tuple(_finding(f) for f in findings)
    return FileResult(Path(path), status, found, error=error, parsed=parsed)


def _rows(raw: object, width: int) -> list[list[Any]]:
    if type(raw) is not list or any(type(r) is not list or len(r) != width for r in raw):
        raise ValueError("bad rows")
    return raw


def _typed(row: list[Any], types: Sequence[type | tuple[type, ...]]) -> list[Any]:
    if any(not isinstance(v, t) or isinstance(v, bool) and t is int for v, t in zip(row, types)):
        raise ValueError("bad row")
    return row


def _report(raw: object) -> ProjectReport | None:
    from ssot_codemod.project.run import ProjectReport, RootGroup, UnresolvedBase

    if raw is None:
        return None
    if type(raw) is not dict or type(raw.get("unsafe_fixes")) is not bool:
        raise ValueError("bad report")
    none_or_str = (str, type(None))
    roots = tuple(
        RootGroup(*_typed(r, (str, str, int, int, int, none_or_str, bool)))
        for r in _rows(raw.get("roots"), 7)
    )
    unresolved = tuple(
        UnresolvedBase(*_typed(u, (str, str, int, str, str)))
        for u in _rows(raw.get("unresolved"), 5)
    )
    skipped = tuple(
        (s[0], s[1], s[2]) for s in (_typed(r, (str, int, str)) for r in _rows(raw["skipped"], 3))
    )
    return ProjectReport(roots, unresolved, skipped, raw["unsafe_fixes"])


def replay(raw: object) -> Replayed | None:
    """The recorded answer when nothing it was decided from changed; None otherwise."""
    try:
        if type(raw) is not dict or type(raw.get("started")) is not int:
            return None
        trusted_before = raw["started"] - RACY_MARGIN_NS
        for path, exists in _rows(raw.get("probed"), 2):
            if type(path) is not str or type(exists) is not bool:
                return None
            if os.path.lexists(path) != exists:
                return None
        for entry in raw["watched"]:
            if type(entry) is not list or len(entry) not in (2, 3):
                return None
            if len(entry) == 3 and _unchanged(entry[0], entry[1], None):
                if _listing(entry[0]) != entry[2]:
                    return None
            elif not _unchanged(entry[0], entry[1], trusted_before):
                return None
        results = []
        for path, stat, result in _rows(raw.get("files"), 3):
            if stat is None or not _unchanged(path, stat, trusted_before):
                return None
            results.append(_result(path, result))
        return tuple(results), _report(raw.get("project"))
    except (ValueError, KeyError, TypeError):
        return None
