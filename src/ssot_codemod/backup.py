"""Nothing lost, ever: atomic writes, ``<file>.backup`` files, the journal, and revert.

Write protocol of ``apply`` (:func:`commit_rewrite`; :func:`commit_rewrites` for many files,
each step once per directory), crash-safe at every step:

1. refuse if ``<file>.backup`` exists (it is the true original of an earlier apply), or if the
   file no longer holds the bytes the rewrite was computed from;
2. write the new bytes to a temporary file in the file's directory and fsync it, and fsync the
   file itself (a batch: all of a directory's, concurrently);
3. ``os.link`` the file to ``<file>.backup`` (atomic, and fails rather than clobber): the backup
   is the original's own inode, which the replace in step 6 leaves alone. Where a file has other
   hard links (the backup must not share their later edits) or the platform has no such link,
   the backup is a copy instead: the original bytes in an fsynced temporary file, linked into
   place;
4. append ``{"file", "original_sha256", "written_sha256", "version"}`` to the directory's
   ``.ssot-codemod.journal`` (O_APPEND + fsync; a batch: one append for the directory);
5. fsync the directory: backups and journal are durable before any file is replaced;
6. check the file still has the original bytes, then replace it with the new temporary file
   (``os.rename``: atomic, mode kept); fsync the directory.

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

__all__ = [
    "BACKUP_SUFFIX",
    "JOURNAL_NAME",
    "ApplyRefused",
    "JournalEntry",
    "RevertOutcome",
    "RevertStatus",
    "Committed",
    "atomic_write",
    "backup_path_for",
    "commit_followup",
    "commit_rewrite",
    "commit_rewrites",
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


def _create_fsynced(path: Path, data: bytes, permissions: int) -> None:
    """Create *path* holding *data*, on disk when this returns; FileExistsError if it exists
    (never clobbers). A write that fails removes the file it created (only a crash can leave
    a short one)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0), permissions)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


@contextlib.contextmanager
def _temp_file(path: Path, data: bytes, mode: int | None) -> Iterator[Path]:
    """A fsynced temporary sibling of *path* holding *data*; removed on exit unless renamed."""
    tmp = _tmp_path_for(path)
    _create_fsynced(tmp, data, 0o600 if mode is not None else 0o666)
    try:
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
    # What earlier lines for the same original recorded as written (a followup such as
    # quarantine after apply appends a line before it replaces the file: if that replace
    # failed, the file still holds one of these, which the tool wrote, not the user).
    earlier_written: frozenset[str] = frozenset()

    def wrote(self, sha256: str) -> bool:
        """Whether the tool wrote content with this digest for the file (from this original)."""
        return sha256 == self.written_sha256 or sha256 in self.earlier_written


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
            before = entries.get(entry.file)
            if before is not None and before.original_sha256 == entry.original_sha256:
                history = before.earlier_written | {before.written_sha256}
                entry = replace(entry, earlier_written=history - {entry.written_sha256})
            entries[entry.file] = entry
    _PARSED_JOURNALS[journal] = (data, entries)
    _PARSED_JOURNALS.move_to_end(journal)
    while len(_PARSED_JOURNALS) > _PARSED_JOURNALS_KEPT:
        _PARSED_JOURNALS.popitem(last=False)
    return dict(entries)


def _append_journal(
    directory: Path, entries: Sequence[JournalEntry], *, sync_dir: bool = True
) -> bool:
    """Append *entries* to the journal of *directory* in one write, fsynced; True if this
    created the journal (then its directory entry is durable only after a directory fsync,
    done here unless *sync_dir* is False)."""
    data = b"".join(
        json.dumps(
            {
                "file": entry.file,
                "original_sha256": entry.original_sha256,
                "written_sha256": entry.written_sha256,
                "version": JOURNAL_VERSION,
            },
            sort_keys=True,
            ensure_ascii=True,
        ).encode("ascii")
        + b"\n"
        for entry in entries
    )
    journal = _journal_path(directory)
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(journal, flags, 0o644)
    try:
        size = os.fstat(fd).st_size
        created = size == 0
        if size and _last_byte(fd, size) != b"\n":
            data = b"\n" + data  # the previous append was cut short: keep ours on its own line
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created and sync_dir:
        _fsync_dir(directory)
    return created


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
            if not _create_without_link(path, data, mode):
                return False
    _fsync_dir(path.parent)
    return True


def _create_without_link(path: Path, data: bytes, mode: int | None) -> bool:
    """No hard links on this filesystem: exclusive create (never clobbers). A crash here can
    leave a short file; revert detects a short backup through the journal's sha256."""
    try:
        _create_fsynced(path, data, 0o666 if mode is None else mode)
    except FileExistsError:
        return False
    if mode is not None:
        os.chmod(path, mode)
    return True


_BACKUP_EXISTS = (
    "{name} already exists (from an earlier apply or not written by ssot-codemod); "
    "run revert or remove it first"
)


def _changed(target: Path) -> ApplyRefused:
    return ApplyRefused(f"{target.name} changed on disk while it was processed; left untouched")


def commit_rewrite(path: Path, original: bytes, new: bytes) -> None:
    """Replace *path* (which must hold *original*) with *new*, keeping a backup and journal entry.

    Raises :class:`ApplyRefused` if ``<file>.backup`` already exists or the file no longer holds
    *original*; :class:`OSError` if the directory cannot be written. In every failure case the
    file keeps its original bytes and no pre-existing backup is touched.
    """
    (done,) = commit_rewrites([(path, original, new)])
    if done.error is not None:
        raise done.error


def commit_followup(path: Path, current: bytes, new: bytes) -> bool:
    """Rewrite *path* (which must hold *current*) to *new*, keeping revert byte-exact.

    - No ``<file>.backup``: exactly :func:`commit_rewrite` (backup, journal, atomic replace).
    - A backup whose journal entry says *current* is what was written: the backup stays the true
      original, a journal entry records *new* as written (so revert restores the original
      without ``--force``), then the file is replaced atomically.
    - A backup, but the file was edited since (or no journal entry): the file is replaced and the
      journal left alone, so revert keeps refusing that file without ``--force``, as before.

    Returns True when revert can undo the whole history without ``--force``. Raises
    :class:`ApplyRefused` when the file no longer holds *current*. A kill (or a failed replace)
    between the journal append and the replace leaves content the journal recorded earlier,
    which revert and the next followup still recognise as the tool's (``JournalEntry.wrote``).
    """
    (done,) = commit_rewrites([(path, current, new)], followup=True)
    if done.error is not None:
        raise done.error
    return done.tracked


# --------------------------------------------------------------------------------------------
# many files at once: the same protocol, its durability paid per directory


@dataclass(frozen=True)
class Committed:
    """What :func:`commit_rewrites` did for one file."""

    path: Path
    # ApplyRefused or OSError: the file kept its bytes and no backup of this run is left for it.
    error: ApplyRefused | OSError | None = None
    # (followup) revert can undo the file's whole history without --force
    tracked: bool = True


# Files of one directory that go through the stages together. Each holds two descriptors
# open until the fsync pass: 64 stays far below macOS's default limit of 256 open files.
_CHUNK = 64
# fsync blocks in the kernel without the GIL; concurrent ones share the filesystem's journal
# commit (ext4, xfs: group commit), so N files cost far less than N sequential fsyncs.
_FSYNC_THREADS = 16
# A backup can be the original's own inode (a hard link; its bytes are not written again) where
# the file can be fsynced through a read-only descriptor; elsewhere it is a copy.
_LINK_ORIGINALS = os.name == "posix"


class _Job:
    """One file of a batch on its way through :func:`_commit_chunk`."""

    def __init__(self, path: Path, current: bytes, new: bytes, followup: bool) -> None:
        self.path = path
        self.target = _real_target(path)
        self.backup = backup_path_for(self.target)
        self.current = current
        self.new = new
        self.followup = followup
        self.fresh = True  # this run makes the backup (False: a followup of a file that has one)
        self.entry: JournalEntry | None = None
        self.mode = 0
        # The file's inode (st_dev, st_ino) when its backup is a hard link to it.
        self.original_inode: tuple[int, int] | None = None
        self.backup_tmp: Path | None = None
        self.new_tmp: Path | None = None
        self.fds: list[int] = []
        self.linked = False  # the backup was created by this run
        self.replaced = False
        self.error: ApplyRefused | OSError | None = None
        self.tracked = True

    @property
    def live(self) -> bool:
        return self.error is None


def commit_rewrites(
    rewrites: Sequence[tuple[Path, bytes, bytes]], *, followup: bool = False
) -> list[Committed]:
    """:func:`commit_rewrite` (or, with *followup*, :func:`commit_followup`) for many files.

    Each ``(path, current, new)`` gets the same guarantees as one call, and a failure stays
    with its file (the others are still written): its :class:`Committed` carries the error and
    the file keeps its bytes with no backup of this run left beside it (only a journal that
    cannot be appended to fails every file of its directory). The durability costs
    are paid per directory instead of per file: the temporary files (backups and new contents)
    of a directory are written first and fsynced together, the backups linked into place, one
    journal append (one fsync) records them all, one directory fsync makes the backups and the
    journal durable before any file is replaced, and one more makes the replacements durable.
    A kill at any point leaves every file either untouched (possibly with a complete backup
    equal to it) or rewritten with its complete backup and journal entry.
    """
    jobs = [_Job(Path(path), current, new, followup) for path, current, new in rewrites]
    # Two paths may name one file (a symlink and its target): those are committed one after
    # the other, as separate calls would be.
    rounds: list[dict[Path, _Job]] = []
    for job in jobs:
        for round_ in rounds:
            if job.target not in round_:
                round_[job.target] = job
                break
        else:
            rounds.append({job.target: job})
    for round_ in rounds:
        by_directory: dict[Path, list[_Job]] = {}
        for job in round_.values():
            by_directory.setdefault(job.target.parent, []).append(job)
        for directory, members in by_directory.items():
            for start in range(0, len(members), _CHUNK):
                _commit_chunk(directory, members[start : start + _CHUNK])
    return [Committed(job.path, job.error, job.tracked) for job in jobs]


def _open_temp(job: _Job, data: bytes, *, backup: bool) -> None:
    """A temporary sibling of the file (for its backup, or its new bytes) holding *data* with
    the file's mode, left open (in ``job.fds``) for the chunk's fsync pass."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    tmp = _tmp_path_for(job.backup if backup else job.target)
    fd = os.open(tmp, flags, 0o600)
    job.fds.append(fd)
    if backup:
        job.backup_tmp = tmp
    else:
        job.new_tmp = tmp
    _write_all(fd, data)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, job.mode)
    else:  # pragma: no cover - Windows before 3.13
        os.chmod(tmp, job.mode)


def _prepare(job: _Job, journal: dict[str, JournalEntry] | None) -> None:
    """Check the file and write its temporary files (not yet fsynced)."""
    if os.path.lexists(job.backup):
        if not job.followup:
            raise ApplyRefused(_BACKUP_EXISTS.format(name=job.backup.name))
        job.fresh = False
    fd = os.open(job.target, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    job.fds.append(fd)  # closed by the chunk, after the fsync pass
    status = os.fstat(fd)
    job.mode = stat.S_IMODE(status.st_mode)
    with open(fd, "rb", closefd=False) as handle:
        on_disk = handle.read()
    if on_disk != job.current:
        raise _changed(job.target)
    if job.fresh and _LINK_ORIGINALS and status.st_nlink == 1:
        # The backup will be this very inode: the fsync pass puts its bytes on disk before the
        # file's name points elsewhere (cheap when they are there already).
        job.original_inode = (status.st_dev, status.st_ino)
    else:
        job.fds.remove(fd)
        os.close(fd)
    written = _sha256(job.new)
    if job.fresh:
        job.entry = JournalEntry(job.target.name, _sha256(job.current), written)
    else:
        assert journal is not None
        known = journal.get(job.target.name)
        job.tracked = (
            known is not None and known.wrote(_sha256(job.current)) and job.backup.is_file()
        )
        if known is not None and job.tracked:
            job.entry = JournalEntry(job.target.name, known.original_sha256, written)
    if job.fresh and job.original_inode is None:
        _open_temp(job, job.current, backup=True)
    _open_temp(job, job.new, backup=False)


def _fsync_jobs(jobs: Sequence[_Job]) -> None:
    """fsync and close every open temporary file of *jobs*; a failure goes to its job."""
    pairs = [(job, fd) for job in jobs if job.live for fd in job.fds]

    def sync(pair: tuple[_Job, int]) -> OSError | None:
        try:
            os.fsync(pair[1])
        except OSError as exc:
            return exc
        return None

    if len(pairs) <= 2:
        outcomes = [sync(pair) for pair in pairs]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max(2, min(_FSYNC_THREADS, len(pairs) // 4))) as pool:
            outcomes = list(pool.map(sync, pairs))
    for (job, _), error in zip(pairs, outcomes):
        if error is not None and job.error is None:
            job.error = error
    _close_fds(jobs)


def _close_fds(jobs: Sequence[_Job]) -> None:
    for job in jobs:
        while job.fds:
            with contextlib.suppress(OSError):
                os.close(job.fds.pop())


def _link_backup_of(job: _Job) -> None:
    """Put the job's backup in place as ``<file>.backup``, never clobbering: a second name of
    the file's inode (the one whose bytes were read), or of the fsynced temporary copy of its
    bytes."""
    source = job.target if job.original_inode is not None else job.backup_tmp
    assert source is not None
    try:
        os.link(source, job.backup, follow_symlinks=False)
    except FileExistsError:
        raise ApplyRefused(_BACKUP_EXISTS.format(name=job.backup.name)) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if not _create_without_link(job.backup, job.current, job.mode):
            raise ApplyRefused(_BACKUP_EXISTS.format(name=job.backup.name)) from None
        job.linked = True
        return
    if (
        job.original_inode is not None
        and _inode(job.backup) != job.original_inode
        and not _holds(job.backup, job.current)
    ):
        # The name was given to another file since it was read (an editor's save): that is
        # not the original, and the file is left to its new owner. (Another inode number with
        # the original's bytes is still a true backup: overlayfs may number a file anew when
        # the link copies it up from a lower layer.)
        with contextlib.suppress(OSError):
            os.unlink(job.backup)
        raise _changed(job.target)
    job.linked = True


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        status = os.lstat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _commit_chunk(directory: Path, jobs: Sequence[_Job]) -> None:
    """The write protocol for *jobs* (distinct files of *directory*), each stage once for all."""
    try:
        journal = read_journal(directory) if any(job.followup for job in jobs) else None
        # 1. checks, temporary files (backup bytes, new bytes) written but not yet synced
        for job in jobs:
            try:
                _prepare(job, journal)
            except (ApplyRefused, OSError) as exc:
                job.error = exc
        # 2. their data durable: one (parallel) fsync pass
        _fsync_jobs(jobs)
        # 3. the backups in place (hard link: atomic, never overwrites)
        for job in jobs:
            if job.live and job.fresh:
                try:
                    _link_backup_of(job)
                except (ApplyRefused, OSError) as exc:
                    job.error = exc
        # 4. one journal append for the directory
        recorded = [job for job in jobs if job.live and job.entry is not None]
        created = False
        if recorded:
            try:
                created = _append_journal(
                    directory, [job.entry for job in recorded if job.entry], sync_dir=False
                )
            except OSError as exc:
                for job in recorded:
                    job.error = exc
        # 5. backups and journal durable before any file is replaced
        if created or any(job.linked for job in jobs):
            _fsync_dir(directory)
        # 6. the atomic replacements, each after a last check of the file's bytes
        for job in jobs:
            if not job.live:
                continue
            assert job.new_tmp is not None
            try:
                with open(job.target, "rb") as handle:
                    on_disk = handle.read()
                if on_disk != job.current:
                    raise _changed(job.target)
                os.replace(job.new_tmp, job.target)
                job.replaced = True
                job.new_tmp = None
            except (ApplyRefused, OSError) as exc:
                job.error = exc
        if any(job.replaced for job in jobs):
            _fsync_dir(directory)
    finally:
        # Also on an interrupt: a backup made for a file left unchanged is redundant, and
        # leaving it would make the next apply refuse.
        _close_fds(jobs)
        for job in jobs:
            for tmp in (job.backup_tmp, job.new_tmp):
                if tmp is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
            job.backup_tmp = job.new_tmp = None
        failed = [job for job in jobs if job.linked and not job.replaced]
        if failed:
            for job in failed:
                _discard_fresh_backup(job.target, job.backup, job.current, job.new)
            _fsync_dir(directory)
            with contextlib.suppress(OSError):
                _remove_journal_if_unused(directory)


def _discard_fresh_backup(target: Path, backup: Path, original: bytes, new: bytes) -> None:
    """Remove the backup this run made for *target*, which it did not replace after all.

    Kept when the file holds the new bytes (an interrupt right after the replace) or cannot be
    read, and when the backup is no longer what this run wrote; removed whatever the file holds
    while it is still a second name of the file itself (a hard link: nothing of it is lost).
    """
    inode = _inode(target)
    try:
        if (inode is not None and inode == _inode(backup)) or (
            target.read_bytes() != new and _holds(backup, original)
        ):
            backup.unlink()
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
    elif not entry.wrote(_sha256(current)):
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
