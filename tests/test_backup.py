"""Backups, journal, atomic writes and revert: nothing is ever lost."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ssot_codemod.backup import (
    JOURNAL_NAME,
    ApplyRefused,
    RevertOutcome,
    _discard_fresh_backup,
    _Job,
    _link_backup_of,
    _parse_journal_line,
    _prepare,
    atomic_write,
    backup_path_for,
    commit_followup,
    commit_rewrite,
    find_backups,
    read_journal,
    revert_file,
)

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
POSIX = sys.platform != "win32"

ORIGINAL = b"# -*- coding: latin-1 -*-\r\nclass T:\r\n    x = '\xe9'\r\n"
NEW = b"# -*- coding: latin-1 -*-\r\nclass T:\r\n    y = '\xe9'\r\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".ssot-tmp"))


def make(path: Path, data: bytes = ORIGINAL, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


def journal_line(file: str, original: bytes, written: bytes) -> str:
    record = {
        "file": file,
        "original_sha256": sha(original),
        "written_sha256": sha(written),
        "version": 1,
    }
    return json.dumps(record) + "\n"


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i``: even root cannot modify *path* (or create entries in it, for a dir)."""
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("chattr not available")
    proc = subprocess.run([chattr, "+i", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("filesystem does not support the immutable attribute")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """RLIMIT_FSIZE: writes past *limit* bytes fail with EFBIG (a real ENOSPC-like failure)."""
    resource = pytest.importorskip("resource")
    import signal

    old_limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old_limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limits)
        signal.signal(signal.SIGXFSZ, old_handler)


# --------------------------------------------------------------------------------------------
# atomic_write / backup_path_for


def test_backup_path_is_sibling() -> None:
    assert backup_path_for(Path("pkg/foo.py")) == Path("pkg/foo.py.backup")


def test_atomic_write_replaces_and_keeps_mode(tmp_path: Path) -> None:
    target = make(tmp_path / "a.py", mode=0o751)
    atomic_write(target, b"new\r\n")
    assert target.read_bytes() == b"new\r\n"
    assert mode_of(target) == 0o751
    assert leftovers(tmp_path) == []


def test_atomic_write_explicit_mode_and_new_file(tmp_path: Path) -> None:
    target = tmp_path / "new.py"
    atomic_write(target, b"x", mode=0o600)
    assert target.read_bytes() == b"x" and mode_of(target) == 0o600
    other = tmp_path / "other.py"
    atomic_write(other, b"y")
    assert other.read_bytes() == b"y"


def test_atomic_write_through_symlink_keeps_link(tmp_path: Path) -> None:
    real = make(tmp_path / "real.py")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    atomic_write(link, b"changed")
    assert link.is_symlink() and real.read_bytes() == b"changed"


def test_atomic_write_failure_removes_temp_file(tmp_path: Path) -> None:
    # A directory occupies the target name: os.replace fails for real (even as root).
    target = tmp_path / "pkg.py"
    target.mkdir()
    (target / "inside").write_bytes(b"keep")
    with pytest.raises(OSError):
        atomic_write(target, b"data")
    assert target.is_dir() and (target / "inside").read_bytes() == b"keep"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not POSIX, reason="RLIMIT_FSIZE is POSIX")
def test_atomic_write_write_error_keeps_original(tmp_path: Path) -> None:
    target = make(tmp_path / "a.py", b"small\n")
    with file_size_limit(64), pytest.raises(OSError) as info:
        atomic_write(target, b"x" * 4096)
    assert info.value.errno == errno.EFBIG
    assert target.read_bytes() == b"small\n"
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# commit_rewrite


def test_commit_rewrite_writes_backup_journal_and_file(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    commit_rewrite(target, ORIGINAL, NEW)
    assert target.read_bytes() == NEW
    assert backup_path_for(target).read_bytes() == ORIGINAL
    lines = (tmp_path / JOURNAL_NAME).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "file": "t.py",
            "original_sha256": sha(ORIGINAL),
            "written_sha256": sha(NEW),
            "version": 1,
        }
    ]
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", [0o640, 0o755])
def test_mode_bits_kept_on_file_and_backup(tmp_path: Path, mode: int) -> None:
    target = make(tmp_path / "t.py", mode=mode)
    commit_rewrite(target, ORIGINAL, NEW)
    assert mode_of(target) == mode
    assert mode_of(backup_path_for(target)) == mode
    assert revert_file(target).status == "restored"
    assert mode_of(target) == mode


def test_existing_backup_never_overwritten(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    backup = make(backup_path_for(target), b"the true original\n")
    with pytest.raises(ApplyRefused) as info:
        commit_rewrite(target, ORIGINAL, NEW)
    message = str(info.value)
    assert "t.py.backup already exists" in message and "\n" not in message
    assert target.read_bytes() == ORIGINAL
    assert backup.read_bytes() == b"the true original\n"
    assert not (tmp_path / JOURNAL_NAME).exists()
    assert leftovers(tmp_path) == []


def test_second_apply_refused_after_first(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    commit_rewrite(target, ORIGINAL, NEW)
    with pytest.raises(ApplyRefused):
        commit_rewrite(target, NEW, b"third\n")
    assert target.read_bytes() == NEW
    assert backup_path_for(target).read_bytes() == ORIGINAL


def test_directory_occupying_backup_name_refused(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    backup_path_for(target).mkdir()
    with pytest.raises(ApplyRefused):
        commit_rewrite(target, ORIGINAL, NEW)
    assert target.read_bytes() == ORIGINAL and backup_path_for(target).is_dir()


def test_dangling_symlink_backup_refused(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    backup_path_for(target).symlink_to(tmp_path / "nowhere")
    with pytest.raises(ApplyRefused):
        commit_rewrite(target, ORIGINAL, NEW)
    assert not (tmp_path / "nowhere").exists()
    assert target.read_bytes() == ORIGINAL


def test_file_changed_meanwhile_refused(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py", b"edited by someone else\n")
    with pytest.raises(ApplyRefused, match="changed on disk"):
        commit_rewrite(target, ORIGINAL, NEW)
    assert target.read_bytes() == b"edited by someone else\n"
    assert not backup_path_for(target).exists()


def test_commit_through_symlink_writes_target(tmp_path: Path) -> None:
    real = make(tmp_path / "real.py")
    link = tmp_path / "alias.py"
    link.symlink_to(real)
    commit_rewrite(link, ORIGINAL, NEW)
    assert link.is_symlink()
    assert real.read_bytes() == NEW
    assert backup_path_for(real).read_bytes() == ORIGINAL
    assert not backup_path_for(link).exists()


@pytest.mark.skipif(IS_ROOT, reason="root ignores directory permissions")
def test_read_only_directory_apply_fails_cleanly(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    target = make(directory / "t.py")
    directory.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            commit_rewrite(target, ORIGINAL, NEW)
    finally:
        directory.chmod(0o755)
    assert "Permission denied" in str(info.value)
    assert target.read_bytes() == ORIGINAL
    assert sorted(p.name for p in directory.iterdir()) == ["t.py"]


def test_immutable_directory_apply_fails_cleanly(tmp_path: Path) -> None:
    # Works as root too: nothing can be created in an immutable directory.
    directory = tmp_path / "ro"
    target = make(directory / "t.py")
    with immutable(directory), pytest.raises(OSError):
        commit_rewrite(target, ORIGINAL, NEW)
    assert target.read_bytes() == ORIGINAL
    assert sorted(p.name for p in directory.iterdir()) == ["t.py"]


def test_immutable_file_replace_fails_and_backup_is_discarded(tmp_path: Path) -> None:
    # Backup and journal succeed, the final os.replace fails: the file is intact and the
    # redundant backup is removed so that a later apply is not refused.
    target = make(tmp_path / "t.py")
    with immutable(target), pytest.raises(OSError):
        commit_rewrite(target, ORIGINAL, NEW)
    assert target.read_bytes() == ORIGINAL
    assert not backup_path_for(target).exists()
    assert leftovers(tmp_path) == []
    commit_rewrite(target, ORIGINAL, NEW)
    assert target.read_bytes() == NEW


@pytest.mark.skipif(not POSIX, reason="RLIMIT_FSIZE is POSIX")
def test_write_error_during_replace_keeps_original(tmp_path: Path) -> None:
    original = b"x = 1\n"
    new = b"x = 2\n" + b"#" * 8192
    target = make(tmp_path / "t.py", original)
    with file_size_limit(4096), pytest.raises(OSError) as info:
        commit_rewrite(target, original, new)
    assert info.value.errno == errno.EFBIG
    assert target.read_bytes() == original
    assert not backup_path_for(target).exists()
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not POSIX, reason="RLIMIT_FSIZE is POSIX")
def test_write_error_on_backup_keeps_original(tmp_path: Path) -> None:
    original = b"#" * 8192
    target = make(tmp_path / "t.py", original)
    os.link(target, tmp_path / "elsewhere")  # a second name: the backup is a copy
    with file_size_limit(4096), pytest.raises(OSError):
        commit_rewrite(target, original, b"x = 1\n")
    assert target.read_bytes() == original
    assert not backup_path_for(target).exists()
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# the backup as the original's own inode


@pytest.mark.skipif(not POSIX, reason="the backup is a copy elsewhere")
def test_backup_is_the_original_inode_and_nothing_is_copied(tmp_path: Path) -> None:
    original = b"#" * 8192
    target = make(tmp_path / "t.py", original, mode=0o640)
    before = os.stat(target)
    # No byte of the original is written again: a limit below its size does not stop apply.
    with file_size_limit(4096):
        commit_rewrite(target, original, NEW)
    backup = os.stat(backup_path_for(target))
    assert (backup.st_dev, backup.st_ino) == (before.st_dev, before.st_ino)
    assert backup.st_nlink == 1 and backup.st_mtime_ns == before.st_mtime_ns
    assert os.stat(target).st_ino != before.st_ino
    assert target.read_bytes() == NEW and backup_path_for(target).read_bytes() == original
    assert leftovers(tmp_path) == []
    assert revert_file(target).status == "restored"
    assert target.read_bytes() == original and mode_of(target) == 0o640
    assert leftovers(tmp_path) == []


def test_a_file_with_other_names_gets_a_copy_they_cannot_edit(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    other = tmp_path / "other_name.py"
    os.link(target, other)
    commit_rewrite(target, ORIGINAL, NEW)
    assert not os.path.samefile(backup_path_for(target), other)
    with open(other, "r+b") as handle:  # an edit in place through the other name
        handle.write(b"edited")
    assert backup_path_for(target).read_bytes() == ORIGINAL
    assert revert_file(target).status == "restored"
    assert target.read_bytes() == ORIGINAL


@contextmanager
def prepared_job(target: Path) -> Iterator[_Job]:
    """A fresh apply's job for *target* after its first stage (checked, temporary file
    written); its descriptors and temporary file are gone afterwards."""
    job = _Job(target, ORIGINAL, NEW, followup=False)
    try:
        _prepare(job, None)
        yield job
    finally:
        for fd in job.fds:
            os.close(fd)
        if job.new_tmp is not None:
            job.new_tmp.unlink()


@pytest.mark.skipif(not POSIX, reason="the backup is a copy elsewhere")
def test_a_file_saved_over_before_its_backup_is_linked_is_left_alone(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    with prepared_job(target) as job:
        assert job.original_inode is not None
        atomic_write(target, b"an editor's save\n")  # a new inode under the same name
        with pytest.raises(ApplyRefused, match="changed on disk"):
            _link_backup_of(job)
    assert not backup_path_for(target).exists()
    assert target.read_bytes() == b"an editor's save\n"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not POSIX, reason="the backup is a copy elsewhere")
def test_another_inode_with_the_original_bytes_is_still_a_backup(tmp_path: Path) -> None:
    """What overlayfs may do when the link copies a file up from a lower layer."""
    target = make(tmp_path / "t.py")
    with prepared_job(target) as job:
        atomic_write(target, ORIGINAL)  # the same bytes under a new inode number
        _link_backup_of(job)
    assert job.linked
    assert os.path.samefile(backup_path_for(target), target)
    assert backup_path_for(target).read_bytes() == ORIGINAL


@pytest.mark.skipif(not POSIX, reason="the backup is a copy elsewhere")
def test_a_linked_backup_of_a_file_not_replaced_goes_whatever_the_file_holds(
    tmp_path: Path,
) -> None:
    target = make(tmp_path / "t.py")
    backup = backup_path_for(target)
    os.link(target, backup)
    with open(target, "r+b") as handle:  # edited in place: the backup's bytes change with it
        handle.write(b"edited")
    _discard_fresh_backup(target, backup, ORIGINAL, NEW)
    assert not backup.exists()
    assert target.read_bytes().startswith(b"edited")


# --------------------------------------------------------------------------------------------
# journal


def test_journal_last_entry_wins_and_garbage_ignored(tmp_path: Path) -> None:
    (tmp_path / JOURNAL_NAME).write_text(
        journal_line("a.py", b"1", b"2")
        + "not json\n"
        + journal_line("a.py", b"3", b"4")
        + '{"file": "b.py", "version": 2}\n'
        + '{"file": "c.py", "original_sha256": "zz", "written_sha256": "zz", "version": 1}\n'
        + journal_line("d.py", b"5", b"6")[:40]  # truncated by kill -9
    )
    entries = read_journal(tmp_path)
    assert list(entries) == ["a.py"]
    assert entries["a.py"].original_sha256 == sha(b"3")


def test_journal_read_again_after_appends_rewrites_and_truncation(tmp_path: Path) -> None:
    """Reads parse only what was appended since the last read of the same journal, so each
    read must still equal a read of the whole file from scratch, whatever happened to it."""
    journal = tmp_path / JOURNAL_NAME

    def from_scratch() -> dict[str, object]:
        entries: dict[str, object] = {}
        for line in journal.read_bytes().splitlines():
            found = _parse_journal_line(line) if line.strip() else None
            if found is not None:
                entries[found.file] = found
        return entries

    journal.write_text(journal_line("a.py", b"1", b"2"))
    assert read_journal(tmp_path) == from_scratch() and len(read_journal(tmp_path)) == 1
    with journal.open("a") as fh:  # appended: a new file, and a new entry for a.py
        fh.write(journal_line("b.py", b"3", b"4") + journal_line("a.py", b"5", b"6"))
    assert read_journal(tmp_path) == from_scratch()
    assert read_journal(tmp_path)["a.py"].original_sha256 == sha(b"5")
    with journal.open("a") as fh:  # an append cut short (kill -9), then completed later
        fh.write(journal_line("c.py", b"7", b"8")[:30])
    assert read_journal(tmp_path) == from_scratch() and "c.py" not in read_journal(tmp_path)
    journal.write_text(journal_line("c.py", b"7", b"8") + journal_line("a.py", b"1", b"2"))
    assert read_journal(tmp_path) == from_scratch()  # rewritten: not a continuation
    assert sorted(read_journal(tmp_path)) == ["a.py", "c.py"]
    read_journal(tmp_path)["a.py"] = None  # type: ignore[assignment]  # a caller's copy only
    assert read_journal(tmp_path) == from_scratch()
    journal.unlink()
    assert read_journal(tmp_path) == {}
    journal.write_text(journal_line("d.py", b"9", b"0"))
    assert list(read_journal(tmp_path)) == ["d.py"]


@pytest.mark.parametrize("name", ["../x.py", "..", ".", "sub/x.py", "/etc/passwd", "a\\b.py"])
def test_journal_entry_naming_other_path_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / JOURNAL_NAME).write_text(journal_line(name, b"1", b"2"))
    assert read_journal(tmp_path) == {}


def test_journal_entry_pointing_outside_does_not_touch_outside(tmp_path: Path) -> None:
    outside = make(tmp_path / "x.py", b"outside, written by apply\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    make(sub / "x.py.backup", b"attacker content\n")
    (sub / JOURNAL_NAME).write_text(
        journal_line("../x.py", b"attacker content\n", b"outside, written by apply\n")
    )
    outcomes = [revert_file(p) for p in find_backups([sub])]
    assert [o.status for o in outcomes] == ["refused"]  # sub/x.py does not exist
    assert outside.read_bytes() == b"outside, written by apply\n"
    assert (sub / "x.py.backup").read_bytes() == b"attacker content\n"


def test_append_after_truncated_line_stays_parsable(tmp_path: Path) -> None:
    (tmp_path / JOURNAL_NAME).write_text(journal_line("old.py", b"1", b"2")[:30])
    target = make(tmp_path / "t.py")
    commit_rewrite(target, ORIGINAL, NEW)
    assert list(read_journal(tmp_path)) == ["t.py"]


# --------------------------------------------------------------------------------------------
# revert


def test_revert_is_byte_exact_and_cleans_up(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    other = make(tmp_path / "u.py", b"u\n")
    commit_rewrite(target, ORIGINAL, NEW)
    commit_rewrite(other, b"u\n", b"U\n")
    outcome = revert_file(target)
    assert outcome == RevertOutcome(target, "restored", outcome.message)
    assert target.read_bytes() == ORIGINAL
    assert not backup_path_for(target).exists()
    assert (tmp_path / JOURNAL_NAME).exists()  # u.py still has a backup
    assert revert_file(other).status == "restored"
    assert other.read_bytes() == b"u\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.py", "u.py"]


def test_revert_refuses_edited_file_and_force_restores(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    commit_rewrite(target, ORIGINAL, NEW)
    target.write_bytes(NEW + b"# my edit\n")
    outcome = revert_file(target)
    assert outcome.status == "refused"
    assert str(target) in outcome.message
    assert "edited since apply" in outcome.message and "--force" in outcome.message
    assert "\n" not in outcome.message
    assert target.read_bytes() == NEW + b"# my edit\n"
    assert backup_path_for(target).read_bytes() == ORIGINAL
    assert revert_file(target, force=True).status == "restored"
    assert target.read_bytes() == ORIGINAL
    assert not backup_path_for(target).exists()


def test_revert_deleted_file_needs_force_and_uses_backup_mode(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py", mode=0o750)
    commit_rewrite(target, ORIGINAL, NEW)
    target.unlink()
    assert revert_file(target).status == "refused"
    assert not target.exists()
    assert revert_file(target, force=True).status == "restored"
    assert target.read_bytes() == ORIGINAL and mode_of(target) == 0o750


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_revert_refuses_damaged_backup(tmp_path: Path, damage: str) -> None:
    target = make(tmp_path / "t.py")
    commit_rewrite(target, ORIGINAL, NEW)
    backup = backup_path_for(target)
    damaged = ORIGINAL[:10] if damage == "truncated" else ORIGINAL.replace(b"class", b"clasz")
    backup.write_bytes(damaged)
    for force in (False, True):
        outcome = revert_file(target, force=force)
        assert outcome.status == "refused"
        assert "corrupt or truncated" in outcome.message
    assert target.read_bytes() == NEW
    assert backup.read_bytes() == damaged


def test_revert_refuses_symlinked_backup(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py", NEW)
    elsewhere = make(tmp_path / "elsewhere", ORIGINAL)
    backup_path_for(target).symlink_to(elsewhere)
    outcome = revert_file(target, force=True)
    assert outcome.status == "refused" and "symlink" in outcome.message
    assert target.read_bytes() == NEW and elsewhere.read_bytes() == ORIGINAL


def test_revert_refuses_file_resolving_outside(tmp_path: Path) -> None:
    outside = make(tmp_path / "outside.py", NEW)
    sub = tmp_path / "sub"
    sub.mkdir()
    link = sub / "t.py"
    link.symlink_to(outside)
    make(backup_path_for(link), ORIGINAL)
    outcome = revert_file(link, force=True)
    assert outcome.status == "refused"
    assert outside.read_bytes() == NEW and link.is_symlink()


def test_revert_without_journal_and_different_refused(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py", NEW)
    make(backup_path_for(target), ORIGINAL)
    outcome = revert_file(target)
    assert outcome.status == "refused" and "journal" in outcome.message
    assert revert_file(target, force=True).status == "restored"
    assert target.read_bytes() == ORIGINAL


def test_revert_dry_run_writes_nothing(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    commit_rewrite(target, ORIGINAL, NEW)
    before = sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir())
    assert revert_file(target, dry_run=True).status == "would-restore"
    target.write_bytes(b"edited\n")
    assert revert_file(target, dry_run=True).status == "refused"
    assert revert_file(target, dry_run=True, force=True).status == "would-restore"
    target.write_bytes(NEW)
    assert sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir()) == before


def test_revert_without_backup_refused(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    assert revert_file(target).status == "refused"
    assert target.read_bytes() == ORIGINAL


# --------------------------------------------------------------------------------------------
# crash points, simulated by performing the protocol steps partially by hand


def test_crash_after_backup_before_journal(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    make(backup_path_for(target), ORIGINAL)  # step 2 done, killed before step 3
    outcome = revert_file(target)
    assert outcome.status == "already-original"
    assert target.read_bytes() == ORIGINAL
    assert not backup_path_for(target).exists()
    commit_rewrite(target, ORIGINAL, NEW)  # a new apply is possible again
    assert target.read_bytes() == NEW


def test_crash_after_journal_before_replace(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    make(backup_path_for(target), ORIGINAL)
    (tmp_path / JOURNAL_NAME).write_text(journal_line("t.py", ORIGINAL, NEW))  # step 3 done
    assert revert_file(target, dry_run=True).status == "would-restore"
    outcome = revert_file(target)
    assert outcome.status == "already-original"
    assert target.read_bytes() == ORIGINAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.py"]


def test_followup_recorded_but_not_written_still_reverts(tmp_path: Path) -> None:
    """A followup (quarantine after apply) appends its line before it replaces the file; when
    that replace fails, the file keeps what apply wrote. Those bytes are the tool's, not the
    user's: revert restores without --force (it refused, as if the file had been edited)."""
    newer = NEW + b"# quarantined\r\n"
    target = make(tmp_path / "t.py")
    commit_rewrite(target, ORIGINAL, NEW)
    assert read_journal(tmp_path)["t.py"].earlier_written == frozenset()  # parsed: then appended
    with (tmp_path / JOURNAL_NAME).open("a") as fh:
        fh.write(journal_line("t.py", ORIGINAL, newer))  # recorded; the replace never happened
    entry = read_journal(tmp_path)["t.py"]
    assert (entry.written_sha256, entry.earlier_written) == (sha(newer), frozenset({sha(NEW)}))
    assert revert_file(target, dry_run=True).status == "would-restore"
    outcome = revert_file(target)
    assert (outcome.status, outcome.message) == ("restored", "restored from t.py.backup")
    assert target.read_bytes() == ORIGINAL


def test_a_followup_after_one_that_was_recorded_but_not_written_is_tracked(
    tmp_path: Path,
) -> None:
    """The next followup (quarantine again) starts from bytes an earlier journal line
    recorded: they are the tool's, so it records its own write and revert stays --force-free."""
    newer = NEW + b"# quarantined\r\n"
    newest = NEW + b"# quarantined again\r\n"
    target = make(tmp_path / "t.py")
    commit_rewrite(target, ORIGINAL, NEW)
    with (tmp_path / JOURNAL_NAME).open("a") as fh:
        fh.write(journal_line("t.py", ORIGINAL, newer))  # recorded; the replace never happened
    assert commit_followup(target, NEW, newest) is True
    assert read_journal(tmp_path)["t.py"].written_sha256 == sha(newest)
    assert revert_file(target).status == "restored"
    assert target.read_bytes() == ORIGINAL


def test_journal_history_belongs_to_one_original(tmp_path: Path) -> None:
    """Only lines for the same original make up a file's history: after another original (a
    later apply of a file edited since), what was written for the old one is an edit."""
    other = ORIGINAL + b"# edited\r\n"
    target = make(tmp_path / "t.py", NEW)
    make(backup_path_for(target), other)
    (tmp_path / JOURNAL_NAME).write_text(
        journal_line("t.py", ORIGINAL, NEW) + journal_line("t.py", other, NEW + b"#\r\n")
    )
    assert read_journal(tmp_path)["t.py"].earlier_written == frozenset()
    assert revert_file(target).status == "refused"
    assert target.read_bytes() == NEW


def test_crash_with_temp_file_left_behind(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    make(tmp_path / ".t.py.backup.abcdef.ssot-tmp", ORIGINAL[:5])  # killed while writing
    commit_rewrite(target, ORIGINAL, NEW)
    assert revert_file(target).status == "restored"
    assert target.read_bytes() == ORIGINAL


def test_crash_after_replace_before_directory_sync(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py", NEW)
    make(backup_path_for(target), ORIGINAL)
    (tmp_path / JOURNAL_NAME).write_text(
        journal_line("t.py", ORIGINAL, NEW) + journal_line("t.py", ORIGINAL, NEW)[:20]
    )
    assert revert_file(target).status == "restored"
    assert target.read_bytes() == ORIGINAL


def test_crash_during_revert_after_restore(tmp_path: Path) -> None:
    target = make(tmp_path / "t.py")
    commit_rewrite(target, ORIGINAL, NEW)
    atomic_write(target, ORIGINAL)  # revert restored, then was killed before removing backup
    assert revert_file(target).status == "already-original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.py"]


# --------------------------------------------------------------------------------------------
# find_backups


def test_find_backups(tmp_path: Path) -> None:
    a = make(tmp_path / "a.py")
    b = make(tmp_path / "pkg/b.py")
    make(tmp_path / "pkg/gone.py")
    for path in (a, b, tmp_path / "pkg/gone.py"):
        commit_rewrite(path, ORIGINAL, NEW)
    (tmp_path / "pkg/gone.py").unlink()
    make(tmp_path / ".venv/lib/c.py.backup")  # junk dirs skipped
    make(tmp_path / "settings.ini.backup")  # not ours: no journal entry, not *.py
    elsewhere = tmp_path.parent / (tmp_path.name + "-elsewhere")
    make(elsewhere / "d.py.backup")
    (tmp_path / "linked").symlink_to(elsewhere, target_is_directory=True)  # not followed
    found = find_backups([tmp_path])
    assert found == [a, b, tmp_path / "pkg/gone.py"]
    assert find_backups([elsewhere]) == [elsewhere / "d.py"]
    assert find_backups([a, backup_path_for(b), tmp_path / "nothing.py"]) == [a, b]
    assert find_backups([tmp_path / "missing"]) == []
