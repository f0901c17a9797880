"""The results cache: a second ``check`` over an unchanged tree reads its answers from disk.

Like ruff's ``.ruff_cache``: a directory (default ``.ssot_codemod_cache/`` next to the
configuration, else in the current directory) holding its own ``.gitignore`` (``*``) and a
``CACHEDIR.TAG``. Inside, one *pack* per combination of settings that change results - the tool
(version and the mtimes and sizes of its own modules, so an edited checkout never serves stale
answers), the Python version, the installed LibCST, the selected rules, ``unsafe-fixes``,
``helper-module`` and the mode. A pack maps each source path to its last result together with
what that result was computed from: the SHA-1 and size of the file's bytes and a digest of the
caller's per-file *context* (the project index's view for that file, so a file whose base class
changed in another module is recomputed). Any difference is a miss.

Why one packed JSON file per settings, not one file per source file: loading 10,000 entries
from one file takes a few milliseconds; opening 10,000 small files costs tens of times more
(``scripts/bench.py`` measures both). JSON, never pickle: a corrupt or hostile entry can at worst
be ignored, it cannot execute anything. Every value is validated on the way in; an invalid pack
or entry is a miss and is rebuilt.

Concurrency: a pack is written to a temporary file and ``os.replace``d
(:func:`ssot_codemod.backup.atomic_write`), so readers see the old or the new pack, never a
partial one. When another run replaced the pack since this run loaded it, the two are merged
(this run's entries win for the paths it saw). Growth is bounded: an entry not seen for
:data:`MAX_AGE_DAYS` days is dropped, and so is a pack not written for that long.

A pack also holds the last :data:`MAX_RUNS` run snapshots (:mod:`ssot_codemod.snapshot`, opaque
here): with one, a run over an unchanged tree needs no file's bytes at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from ssot_codemod.types import Finding

__all__ = [
    "DEFAULT_CACHE_DIR",
    "MAX_AGE_DAYS",
    "CachedResult",
    "ResultsCache",
    "tool_fingerprint",
]

DEFAULT_CACHE_DIR = ".ssot_codemod_cache"
MAX_AGE_DAYS = 30

#: Bump when the pack layout changes: older packs are then simply never read again.
_FORMAT = 2
#: Snapshots (:mod:`ssot_codemod.snapshot`) kept per pack: one per PATHs/options a project is
#: checked with (the whole tree, a folder, pre-commit's file lists), most recent first.
MAX_RUNS = 16
_PACK_PREFIX = "results-"
_RUNS_PREFIX = "runs-"
_PACK_SUFFIX = ".json"
_GITIGNORE = b"# Automatically created by ssot-codemod.\n*\n"
_CACHEDIR_TAG = (
    b"Signature: 8a477f597d28d172789f06886806bc55\n"
    b"# This file is a cache directory tag created by ssot-codemod.\n"
    b"# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_TMP_SUFFIX = ".ssot-tmp"  # backup.atomic_write's temporary files
_DAY = 86_400

#: The statuses a result may have in the cache (a subset of ``api.FileStatus``).
CachedStatus = Literal["unchanged", "would-change", "error"]
_STATUSES: frozenset[str] = frozenset(("unchanged", "would-change", "error"))
_FIXES: frozenset[str] = frozenset(("safe", "unsafe", "none"))


class _Outcome(Protocol):
    """What :meth:`ResultsCache.store` keeps of a result (``api.FileResult`` has these)."""

    @property
    def status(self) -> str: ...
    @property
    def findings(self) -> tuple[Finding, ...]: ...
    @property
    def error(self) -> str | None: ...
    @property
    def parsed(self) -> bool: ...


@dataclass(frozen=True)
class CachedResult:
    """A result read back from the cache."""

    status: CachedStatus
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    parsed: bool = False


# --------------------------------------------------------------------------------------------
# keys


def _sha1(data: bytes) -> str:
    # A content key, not a security boundary; SHA-1 runs at memory speed on current CPUs.
    return hashlib.sha1(data).hexdigest()


def _package_stats(directory: Path) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                full = os.path.join(dirpath, name)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                out.append((os.path.relpath(full, directory), st.st_size, st.st_mtime_ns))
    return out


def tool_fingerprint() -> dict[str, Any]:
    """What identifies the code computing results: version, its module files, Python, LibCST.

    LibCST is located without importing it (a cache hit must not pay for the import).
    """
    import importlib.util

    import ssot_codemod

    libcst: list[object] = []
    try:
        spec = importlib.util.find_spec("libcst")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        with contextlib.suppress(OSError):
            st = os.stat(spec.origin)
            libcst = [spec.origin, st.st_size, st.st_mtime_ns]
    return {
        "version": ssot_codemod.__version__,
        "modules": _package_stats(Path(ssot_codemod.__file__).parent),
        "python": [sys.implementation.name, *sys.version_info[:3]],
        "libcst": libcst,
    }


def _context_digest(context: bytes | str) -> str:
    if not context:
        return ""
    return _sha1(context.encode("utf-8") if isinstance(context, str) else context)


# --------------------------------------------------------------------------------------------
# (de)serialisation: explicit, validated field by field


def _finding_to_json(f: Finding) -> list[object]:
    return [f.code, f.message, f.line, f.column, f.end_line, f.end_column, f.fix, f.applied]


def _int(value: object) -> int:
    if type(value) is not int:
        raise ValueError("not an int")
    return value


def _str(value: object) -> str:
    if type(value) is not str:
        raise ValueError("not a str")
    return value


def _finding_from_json(raw: object) -> Finding:
    if type(raw) is not list or len(raw) != 8:
        raise ValueError("bad finding")
    code, message, line, column, end_line, end_column, fix, applied = raw
    if fix not in _FIXES or type(applied) is not bool:
        raise ValueError("bad finding")
    return Finding(
        _str(code),
        _str(message),
        _int(line),
        _int(column),
        _int(end_line),
        _int(end_column),
        fix,
        applied,
    )


# An entry: [sha1, size, context digest, day last seen, status, parsed, error, findings].
_Entry = list[Any]


def _valid_entry(raw: object) -> bool:
    return (
        type(raw) is list
        and len(raw) == 8
        and type(raw[0]) is str
        and type(raw[1]) is int
        and type(raw[2]) is str
        and type(raw[3]) is int
        and raw[4] in _STATUSES
        and type(raw[5]) is bool
        and (raw[6] is None or type(raw[6]) is str)
        and type(raw[7]) is list
    )


def _valid_run(raw: object) -> bool:
    return type(raw) is dict and type(raw.get("day")) is int and "snapshot" in raw


def _decode_result(entry: _Entry) -> CachedResult | None:
    try:
        findings = tuple(_finding_from_json(f) for f in entry[7])
    except ValueError:
        return None
    return CachedResult(entry[4], findings, entry[6], entry[5])


# --------------------------------------------------------------------------------------------
# the cache


class ResultsCache:
    """One run's view of one pack: :meth:`lookup` each file, :meth:`store` the misses, :meth:`save`.

    Never raises for cache trouble (unreadable, corrupt, unwritable): the cache is then simply
    empty, or not written.
    """

    def __init__(self, directory: Path, settings: Mapping[str, Any]) -> None:
        self.directory = directory
        key = json.dumps(
            {"format": _FORMAT, "tool": tool_fingerprint(), "settings": dict(settings)},
            sort_keys=True,
            default=str,
        )
        name = f"{_sha1(key.encode())[:20]}{_PACK_SUFFIX}"
        self.pack = directory / f"{_PACK_PREFIX}{name}"
        # Snapshots live in a file of their own: a replayed run never loads the entries.
        self.runs_pack = directory / f"{_RUNS_PREFIX}{name}"
        self.today = int(time.time()) // _DAY
        try:
            self._cwd = os.getcwd()  # paths are keyed absolute; one getcwd, not one per file
        except OSError:  # the current directory was removed: relative keys, fewer hits
            self._cwd = ""
        self.hits = 0
        self.misses = 0
        self._entries_file = _JsonFile(self.pack, "entries", _valid_entry)
        self._runs_file = _JsonFile(self.runs_pack, "runs", _valid_run)
        self._missed: dict[str, tuple[str, int, str]] = {}  # path -> key of this run's bytes

    @classmethod
    def open(cls, directory: Path | str, settings: Mapping[str, Any]) -> ResultsCache:
        """The cache in *directory* for these *settings* (JSON-serialisable values)."""
        return cls(Path(directory), settings)

    # ---- snapshots (ssot_codemod.snapshot)

    def run_snapshot(self, key: str) -> object:
        """The snapshot stored for run *key* (unvalidated beyond its envelope), or None."""
        found = self._runs_file.items().get(key)
        if found is None:
            return None
        if found["day"] != self.today:  # keep a snapshot in use from being pruned
            self._runs_file.changed[key] = {**found, "day": self.today}
        return found["snapshot"]

    def keep_run(self, key: str, snapshot: object) -> None:
        """Store *snapshot* for run *key* (JSON values) on :meth:`save`."""
        self._runs_file.changed[key] = {"day": self.today, "snapshot": snapshot}

    def prepare(self) -> None:
        """Create the cache directory now (a snapshot must not see it appear afterwards)."""
        with contextlib.suppress(OSError):
            self._ensure_directory()

    def _ensure_directory(self) -> None:
        from ssot_codemod.backup import create_exclusive

        self.directory.mkdir(parents=True, exist_ok=True)
        create_exclusive(self.directory / ".gitignore", _GITIGNORE)
        create_exclusive(self.directory / "CACHEDIR.TAG", _CACHEDIR_TAG)

    # ---- entries

    def lookup(
        self, path: Path | str, data: bytes, context: bytes | str = b""
    ) -> CachedResult | None:
        """The cached result for *path* if it was computed from these bytes and this context."""
        key = os.path.join(self._cwd, path)
        wanted = (_sha1(data), len(data), _context_digest(context))
        entry = self._entries_file.items().get(key)
        if entry is not None and _valid_entry(entry) and (entry[0], entry[1], entry[2]) == wanted:
            result = _decode_result(entry)
            if result is not None:
                self.hits += 1
                if entry[3] != self.today:
                    self._entries_file.changed[key] = [*entry[:3], self.today, *entry[4:]]
                return result
        self.misses += 1
        self._missed[key] = wanted
        return None

    def knows(self, path: Path | str, data: bytes) -> bool:
        """Whether a result for these bytes of *path* is held (for some context): a hint that
        :meth:`lookup` will hit, before the context is known. Counts neither hit nor miss."""
        entry = self._entries_file.items().get(os.path.join(self._cwd, path))
        return (
            entry is not None
            and _valid_entry(entry)
            and entry[1] == len(data)
            and entry[0] == _sha1(data)
        )

    def store(self, path: Path | str, result: _Outcome) -> bool:
        """Remember *result* for *path*, keyed by what :meth:`lookup` saw this run.

        Only paths that missed in this run's :meth:`lookup` are stored (the key is the bytes it
        saw), and only statuses in :data:`CachedStatus`. Returns whether it was stored.
        """
        key = os.path.join(self._cwd, path)
        seen = self._missed.get(key)
        if seen is None or result.status not in _STATUSES:
            return False
        self._entries_file.changed[key] = [
            *seen,
            self.today,
            result.status,
            bool(result.parsed),
            result.error,
            [_finding_to_json(f) for f in result.findings],
        ]
        return True

    def save(self) -> bool:
        """Write what changed; prune old packs. Returns whether it wrote."""
        oldest = self.today - MAX_AGE_DAYS
        wrote = False
        try:
            if self._entries_file.loaded or self._entries_file.changed:
                wrote = self._entries_file.save(
                    lambda e: e[3] >= oldest, None, self._ensure_directory
                )
            if self._runs_file.loaded or self._runs_file.changed:
                runs = self._runs_file
                saved = runs.save(lambda r: r["day"] >= oldest, MAX_RUNS, self._ensure_directory)
                wrote = saved or wrote
        except OSError:
            return False
        if wrote:
            self._prune()
        return wrote

    def _prune(self) -> None:
        """Remove packs not written for MAX_AGE_DAYS and temporary files older than a day."""
        now = time.time()
        try:
            with os.scandir(self.directory) as it:
                for entry in it:
                    name = entry.name
                    if name.startswith((_PACK_PREFIX, _RUNS_PREFIX)) and name.endswith(
                        _PACK_SUFFIX
                    ):
                        limit = MAX_AGE_DAYS * _DAY
                    elif name.endswith(_TMP_SUFFIX):
                        limit = _DAY  # left by a run that was killed while writing
                    else:
                        continue
                    with contextlib.suppress(OSError):
                        if now - entry.stat(follow_symlinks=False).st_mtime > limit:
                            os.unlink(entry.path)
        except OSError:
            return


class _JsonFile:
    """One JSON file ``{"format": ..., <field>: {key: value}}``, loaded on first use, written
    atomically with the changes of this run merged into what another run wrote meanwhile."""

    def __init__(self, path: Path, field: str, valid: Callable[[object], bool]) -> None:
        self.path = path
        self.field = field
        self.valid = valid
        self.loaded = False
        self.changed: dict[str, Any] = {}
        self._items: dict[str, Any] = {}
        self._loaded_stat: tuple[int, int, int] | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def items(self) -> dict[str, Any]:
        if not self.loaded:
            self._items, self._loaded_stat = self._load()
            self.loaded = True
        return self._items

    def _load(self) -> tuple[dict[str, Any], tuple[int, int, int] | None]:
        stat_before = self._stat()
        if stat_before is None:
            return {}, None
        try:
            with open(self.path, "rb") as fh:
                raw = json.loads(fh.read())
        except (OSError, ValueError, RecursionError):
            return {}, stat_before  # corrupt or vanished: start afresh, overwrite on save
        if type(raw) is not dict or raw.get("format") != _FORMAT:
            return {}, stat_before
        items = raw.get(self.field)
        if type(items) is not dict:
            return {}, stat_before
        return items, stat_before

    def save(
        self, fresh: Callable[[Any], bool], limit: int | None, prepare: Callable[[], None]
    ) -> bool:
        """Write if anything changed (items for which *fresh* is False are dropped; with
        *limit*, only that many are kept, this run's first). Raises OSError."""
        items = self.items()
        if self._stat() != self._loaded_stat:
            items, _ = self._load()  # another run wrote meanwhile: keep its items too
        merged = {**items, **self.changed}
        kept = {k: v for k, v in merged.items() if self.valid(v) and fresh(v)}
        if limit is not None and len(kept) > limit:
            order = sorted(kept, key=lambda k: k not in self.changed)  # stable: this run's first
            kept = {k: kept[k] for k in order[:limit]}
        if not self.changed and len(kept) == len(merged):
            return False
        from ssot_codemod.backup import atomic_write

        data = json.dumps(
            {"format": _FORMAT, self.field: kept}, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
        prepare()
        atomic_write(self.path, data)
        self._items, self._loaded_stat = kept, self._stat()
        self.changed = {}
        return True
