"""Nothing lost, ever: atomic writes, ``<file>.backup`` files, the journal, and revert.

Write protocol of ``apply`` (:func:`commit_rewrite`), crash-safe at every step:

1. refuse if ``<file>.backup`` exists (it is the true original of an earlier apply);
2. write the original bytes to a temporary file, fsync, ``os.link`` it to ``<file>.backup``
   (atomic, and fails rather than clobber), fsync the directory;
3. append ``{"file", "original_sha256", "written_sha256", "version"}`` to the directory's
   ``.ssot-codemod.journal`` (O_APPEND + fsync);
4. check the file still has the original bytes, then replace it atomically (mode kept).

A kill at any point leaves either the untouched original (possibly with a backup equal to it) or
the new file with a complete backup and a journal entry; :func:`revert_file` handles every case.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import stat
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "BACKUP_SUFFIX",
    "JOURNAL_NAME",
    "ApplyRefused",
    "JournalEntry",
    "RevertOutcome",
    "RevertStatus",
    "atomic_write",
    "backup_path_for",
    "commit_followup",
    "commit_rewrite",
    "find_backups",
    "read_journal",
    "revert_file",
]

BACKUP_SUFFIX = ".backup"
JOURNAL_NAME = ".ssot-codemod.journal"
JOURNAL_VERSION = 1
_TMP_SUFFIX = ".ssot-tmp"

# Directory names find_backups never enters (DEFAULT_EXCLUDES of files.py, minus "*.backup").
_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "node_modules",
        "__pycache__",
        "build",
        "dist",
        ".eggs",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".ssot-codemod",
    }
)


class ApplyRefused(Exception):
    """apply will not touch this file; ``str(exc)`` is a one-line reason for the user."""


def backup_path_for(path: Path) -> Path:
    """The backup of *path*: its sibling ``<name>.backup``."""
    return path.with_name(path.name + BACKUP_SUFFIX)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# low-level file operations


def _fsync_dir(directory: Path) -> None:
    """Make a rename/link/unlink in *directory* durable (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _tmp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{_TMP_SUFFIX}")


@contextlib.contextmanager
def _temp_file(path: Path, data: bytes, mode: int | None) -> Iterator[Path]:
    """A fsynced temporary sibling of *path* holding *data*; removed on exit unless renamed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    tmp = _tmp_path_for(path)
    fd = os.open(tmp, flags, 0o600 if mode is not None else 0o666)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(tmp, mode)
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _real_target(path: Path) -> Path:
    """*path*, or the file it points to when it is a symlink (so the link is not replaced)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace *path* with *data* atomically: same-directory temp file, fsync, ``os.replace``.

    The file gets *mode* (default: the mode bits of the existing file; the umask default for a
    new one). A symlink is written through (its target is replaced, the link stays). On any
    error the temporary file is removed and *path* is left as it was.
    """
    target = _real_target(path)
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = None
    with _temp_file(target, data, mode) as tmp:
        os.replace(tmp, target)
    _fsync_dir(target.parent)


# --------------------------------------------------------------------------------------------
# journal


@dataclass(frozen=True)
class JournalEntry:
    """What apply recorded for one file of a directory (the last valid line for it wins)."""

    file: str
    original_sha256: str
    written_sha256: str


def _journal_path(directory: Path) -> Path:
    return directory / JOURNAL_NAME


def _valid_file_name(name: str) -> bool:
    """A bare file name: no separator, not ``.``/``..``, nothing that names another path."""
    if not name or name in (os.curdir, os.pardir) or "\x00" in name:
        return False
    seps = {"/", "\\", os.sep}
    if os.altsep:
        seps.add(os.altsep)
    return not any(sep in name for sep in seps)


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _valid_sha(value: object) -> bool:
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


def _parse_journal_line(line: bytes) -> JournalEntry | None:
    try:
        obj = json.loads(line)
    except ValueError:  # truncated (kill -9) or garbage: ignored
        return None
    if not isinstance(obj, dict) or obj.get("version") != JOURNAL_VERSION:
        return None
    name = obj.get("file")
    original = obj.get("original_sha256")
    written = obj.get("written_sha256")
    if not isinstance(name, str) or not _valid_file_name(name):
        return None  # would name a path outside this directory: refused
    if not _valid_sha(original) or not _valid_sha(written):
        return None
    assert isinstance(original, str) and isinstance(written, str)
    return JournalEntry(file=name, original_sha256=original, written_sha256=written)


# The journals read last, with the bytes their entries were parsed from. A journal only grows
# (appends) until it is removed, and a run writing many files of one directory reads it once per
# file: only the lines after what was parsed before are parsed again.
_PARSED_JOURNALS: OrderedDict[Path, tuple[bytes, dict[str, JournalEntry]]] = OrderedDict()
_PARSED_JOURNALS_KEPT = 64


def read_journal(directory: Path) -> dict[str, JournalEntry]:
    """The valid journal entries of *directory* by bare file name (last entry wins).

    Unparsable lines and entries whose ``file`` is not a bare name (``../x``, ``a/b``, ``.``)
    are ignored. A missing or unreadable journal reads as empty.
    """
    journal = _journal_path(directory)
    try:
        data = journal.read_bytes()
    except OSError:
        _PARSED_JOURNALS.pop(journal, None)
        return {}
    parsed, entries = _PARSED_JOURNALS.get(journal, (b"", {}))
    if parsed and parsed.endswith(b"\n") and data.startswith(parsed):
        entries, rest = dict(entries), data[len(parsed) :]
    else:
        entries, rest = {}, data
    for line in rest.splitlines():
        if not line.strip():
            continue
        entry = _parse_journal_line(line)
        if entry is not None:
            entries[entry.file] = entry
    _PARSED_JOURNALS[journal] = (data, entries)
    _PARSED_JOURNALS.move_to_end(journal)
    while len(_PARSED_JOURNALS) > _PARSED_JOURNALS_KEPT:
        _PARSED_JOURNALS.popitem(last=False)
    return dict(entries)


def _append_journal(directory: Path, entry: JournalEntry) -> None:
    record = {
        "file": entry.file,
        "original_sha256": entry.original_sha256,
        "written_sha256": entry.written_sha256,
        "version": JOURNAL_VERSION,
    }
    line = json.dumps(record, sort_keys=True, ensure_ascii=True).encode("ascii") + b"\n"
    journal = _journal_path(directory)
    created = not journal.exists()
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(journal, flags, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and _last_byte(fd, size) != b"\n":
            line = b"\n" + line  # the previous append was cut short: keep ours on its own line
        _write_all(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(directory)


def _last_byte(fd: int, size: int) -> bytes:
    os.lseek(fd, size - 1, os.SEEK_SET)
    return os.read(fd, 1)


def _remove_journal_if_unused(directory: Path) -> None:
    """Delete the journal of *directory* once none of its entries has a backup left."""
    journal = _journal_path(directory)
    if not journal.exists():
        return
    for name in read_journal(directory):
        if os.path.lexists(directory / (name + BACKUP_SUFFIX)):
            return
    with contextlib.suppress(FileNotFoundError):
        journal.unlink()
    _fsync_dir(directory)


# --------------------------------------------------------------------------------------------
# apply


def create_exclusive(path: Path, data: bytes, *, mode: int | None = None) -> bool:
    """Create *path* holding *data* (with *mode*, if given); False, writing nothing, if it exists.

    The bytes go to a fsynced temporary sibling that is hard-linked into place, so a reader (or a
    crash) never sees a partial file and an existing file is never replaced.
    """
    with _temp_file(path, data, mode) as tmp:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            # No hard links on this filesystem: exclusive create (never clobbers). A crash here
            # can leave a short file; revert detects a short backup through the journal's sha256.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            try:
                fd = os.open(path, flags, 0o666 if mode is None else mode)
            except FileExistsError:
                return False
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            if mode is not None:
                os.chmod(path, mode)
    _fsync_dir(path.parent)
    return True


def _link_backup(path: Path, backup: Path, original: bytes, mode: int) -> None:
    """Create *backup* holding *original* with *mode*, never overwriting an existing file."""
    if not create_exclusive(backup, original, mode=mode):
        raise ApplyRefused(
            f"{backup.name} already exists (from an earlier apply or not written by "
            "ssot-codemod); run revert or remove it first"
        )


def commit_rewrite(path: Path, original: bytes, new: bytes) -> None:
    """Replace *path* (which must hold *original*) with *new*, keeping a backup and journal entry.

    Raises :class:`ApplyRefused` if ``<file>.backup`` already exists or the file no longer holds
    *original*; :class:`OSError` if the directory cannot be written. In every failure case the
    file keeps its original bytes and no pre-existing backup is touched.
    """
    target = _real_target(path)
    backup = backup_path_for(target)
    if os.path.lexists(backup):
        raise ApplyRefused(
            f"{backup.name} already exists (from an earlier apply or not written by "
            "ssot-codemod); run revert or remove it first"
        )
    mode = stat.S_IMODE(os.stat(target).st_mode)
    if target.read_bytes() != original:
        raise ApplyRefused(f"{target.name} changed on disk while it was processed; left untouched")

    _link_backup(target, backup, original, mode)
    try:
        _append_journal(
            target.parent,
            JournalEntry(
                file=target.name,
                original_sha256=_sha256(original),
                written_sha256=_sha256(new),
            ),
        )
        if target.read_bytes() != original:
            raise ApplyRefused(
                f"{target.name} changed on disk while it was processed; left untouched"
            )
        atomic_write(target, new, mode=mode)
    except BaseException:
        # The file still has its original bytes: the backup we just made is redundant, and
        # leaving it would make the next apply refuse. Remove it only if it is still ours.
        _discard_fresh_backup(target, backup, original)
        raise


def _discard_fresh_backup(target: Path, backup: Path, original: bytes) -> None:
    try:
        if target.read_bytes() == original and backup.read_bytes() == original:
            backup.unlink()
            _fsync_dir(backup.parent)
            _remove_journal_if_unused(target.parent)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# revert

RevertStatus = Literal["restored", "already-original", "refused", "would-restore"]


@dataclass(frozen=True)
class RevertOutcome:
    """What revert did (or, with ``dry_run``, would do) for one file."""

    path: Path
    status: RevertStatus
    message: str


def find_backups(paths: Sequence[Path], *, suffix: str = ".py") -> list[Path]:
    """The original files (not the backups) under *paths* that have a ``<file>.backup``.

    Directories are walked without following symlinked directories and skipping the usual junk
    directories (``.git``, ``.venv``, ``node_modules``, ...); ``.gitignore`` is *not* honoured
    (backups are often ignored). A backup counts when its directory's journal has an entry for
    the file or the file name ends with *suffix* (so unrelated ``*.backup`` files of other tools
    are left alone). A file argument counts when it has a backup; naming ``x.py.backup`` itself
    means ``x.py``. Sorted, no duplicates.
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            _walk_backups(path, suffix, found)  # a directory named explicitly (even a link)
        elif path.name.endswith(BACKUP_SUFFIX) and len(path.name) > len(BACKUP_SUFFIX):
            found.add(path.with_name(path.name[: -len(BACKUP_SUFFIX)]))
        elif os.path.lexists(backup_path_for(path)):
            found.add(path)
    return sorted(found)


def _walk_backups(directory: Path, suffix: str, found: set[Path]) -> None:
    try:
        with os.scandir(directory) as it:
            entries = list(it)
    except OSError:
        return
    journal: dict[str, JournalEntry] | None = None
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            if entry.name not in _SKIP_DIRS:
                _walk_backups(directory / entry.name, suffix, found)
            continue
        name = entry.name
        if not name.endswith(BACKUP_SUFFIX) or len(name) == len(BACKUP_SUFFIX):
            continue
        original = name[: -len(BACKUP_SUFFIX)]
        if not original.endswith(suffix):
            if journal is None:
                journal = read_journal(directory)
            if original not in journal:
                continue
        found.add(directory / original)


def _refused(path: Path, why: str) -> RevertOutcome:
    return RevertOutcome(path=path, status="refused", message=f"{path}: {why}")


def revert_file(path: Path, *, force: bool = False, dry_run: bool = False) -> RevertOutcome:
    """Restore *path* from its ``<file>.backup`` if that is safe, then remove the backup.

    - The backup must match the journal's ``original_sha256`` (else "corrupt or truncated").
    - If the file still has what apply wrote (journal ``written_sha256``): restore.
    - If the file already equals the backup (apply was interrupted): just remove the backup.
    - Otherwise (edited or deleted since apply, or no journal entry): refuse, unless *force*.

    Symlinked backups and symlinked files are refused. With *dry_run* nothing is written or
    removed and the status is "would-restore" or "refused".
    """
    backup = backup_path_for(path)
    if backup.is_symlink():
        return _refused(path, f"{backup.name} is a symlink; refusing to restore from it")
    if not backup.exists():
        return _refused(path, f"no {backup.name} to restore from")
    if not backup.is_file():
        return _refused(path, f"{backup.name} is not a regular file")
    if path.is_symlink():
        return _refused(path, "file is a symlink; refusing to replace it from a backup beside it")
    if os.path.realpath(path.parent) != os.path.realpath(backup.parent):
        return _refused(path, "file resolves outside the backup's directory")
    if path.exists() and not path.is_file():
        return _refused(path, "not a regular file")

    try:
        backup_bytes = backup.read_bytes()
        backup_mode = stat.S_IMODE(os.stat(backup).st_mode)
    except OSError as exc:
        return _refused(path, f"cannot read {backup.name}: {exc.strerror or exc}")
    entry = read_journal(path.parent).get(path.name)
    if entry is not None and _sha256(backup_bytes) != entry.original_sha256:
        return _refused(
            path,
            f"{backup.name} is corrupt or truncated (sha256 differs from the journal); "
            "nothing restored",
        )

    try:
        current: bytes | None = path.read_bytes()
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        current = None
        mode = backup_mode
    except OSError as exc:
        return _refused(path, f"cannot read file: {exc.strerror or exc}")

    if current is not None and current == backup_bytes:
        if dry_run:
            return RevertOutcome(
                path,
                "would-restore",
                f"file already has the original bytes; would remove {backup.name}",
            )
        problem = _remove_backup(backup)
        return RevertOutcome(
            path,
            "already-original",
            f"file already has the original bytes; {problem or 'removed ' + backup.name}",
        )

    if current is None:
        why = "deleted since apply"
    elif entry is None:
        why = (
            f"differs from {backup.name} and no journal entry records what apply wrote "
            "(backup not written by ssot-codemod?)"
        )
    elif _sha256(current) != entry.written_sha256:
        why = "edited since apply (sha256 differs from what apply wrote)"
    else:
        why = ""
    if why and not force:
        return _refused(path, f"{why}; use --force to restore the backup anyway")

    forced = " (forced)" if why else ""
    if dry_run:
        return RevertOutcome(path, "would-restore", f"would restore from {backup.name}{forced}")
    try:
        atomic_write(path, backup_bytes, mode=mode)
    except OSError as exc:
        return _refused(path, f"cannot write file: {exc.strerror or exc}")
    problem = _remove_backup(backup)
    suffix = f"; {problem}" if problem else ""
    return RevertOutcome(path, "restored", f"restored from {backup.name}{forced}{suffix}")


def _remove_backup(backup: Path) -> str:
    """Remove *backup* (and the journal once unused); a one-line problem, or "" on success."""
    try:
        with contextlib.suppress(FileNotFoundError):
            backup.unlink()
        _fsync_dir(backup.parent)
        _remove_journal_if_unused(backup.parent)
    except OSError as exc:
        return f"could not remove {backup.name}: {exc.strerror or exc}"
    return ""


# --------------------------------------------------------------------------------------------
# a further rewrite of a file that already has a backup (quarantine after apply)


def commit_followup(path: Path, current: bytes, new: bytes) -> bool:
    """Rewrite *path* (which must hold *current*) to *new*, keeping revert byte-exact.

    - No ``<file>.backup``: exactly :func:`commit_rewrite` (backup, journal, atomic replace).
    - A backup whose journal entry says *current* is what was written: the backup stays the true
      original, a journal entry records *new* as written (so revert restores the original
      without ``--force``), then the file is replaced atomically.
    - A backup, but the file was edited since (or no journal entry): the file is replaced and the
      journal left alone, so revert keeps refusing that file without ``--force``, as before.

    Returns True when revert can undo the whole history without ``--force``. Raises
    :class:`ApplyRefused` when the file no longer holds *current*. A kill between the journal
    append and the replace leaves the earlier content with a journal that no longer matches it:
    revert then refuses until ``--force``, which restores the verified original.
    """
    target = _real_target(path)
    backup = backup_path_for(target)
    if not os.path.lexists(backup):
        commit_rewrite(path, current, new)
        return True
    if target.read_bytes() != current:
        raise ApplyRefused(f"{target.name} changed on disk while it was processed; left untouched")
    mode = stat.S_IMODE(os.stat(target).st_mode)
    entry = read_journal(target.parent).get(target.name)
    tracked = entry is not None and entry.written_sha256 == _sha256(current) and backup.is_file()
    if tracked:
        assert entry is not None
        _append_journal(
            target.parent,
            JournalEntry(
                file=target.name,
                original_sha256=entry.original_sha256,
                written_sha256=_sha256(new),
            ),
        )
    atomic_write(target, new, mode=mode)
    return tracked
