"""commit_rewrites: many files written with the one-file guarantees, durability paid per directory.

Failures are real OS conditions (a file changed between compute and write, an existing backup, a
directory in the backup's place, immutable files and directories, a file size limit); crashes
and interrupts are real too: a child process is killed (SIGKILL) or interrupted
(KeyboardInterrupt) just before its k-th filesystem operation, for every k.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_backup import POSIX, file_size_limit, immutable, leftovers

from ssot_codemod.backup import (
    _CHUNK,
    JOURNAL_NAME,
    ApplyRefused,
    backup_path_for,
    commit_rewrite,
    commit_rewrites,
    read_journal,
    revert_file,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def original(name: str) -> bytes:
    return f"# {name}\nclass T:\n    x = 1\n".encode()


def rewritten(name: str) -> bytes:
    return f"# {name}\nclass T:\n    y = 2\n".encode()


def tree(root: Path, names: list[str]) -> list[tuple[Path, bytes, bytes]]:
    items = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(original(name))
        path.chmod(0o640)
        items.append((path, original(name), rewritten(name)))
    return items


def assert_rewritten(path: Path, name: str) -> None:
    assert path.read_bytes() == rewritten(name)
    assert backup_path_for(path).read_bytes() == original(name)
    entry = read_journal(path.parent)[path.name]
    assert (entry.original_sha256, entry.written_sha256) == (
        sha(original(name)),
        sha(rewritten(name)),
    )


def test_batch_writes_every_file_like_one_by_one(tmp_path: Path) -> None:
    names = [f"pkg{d}/m{i}.py" for d in range(3) for i in range(5)]
    items = tree(tmp_path / "batch", names)
    done = commit_rewrites(items)
    assert [c.error for c in done] == [None] * len(names)
    assert [c.path for c in done] == [path for path, _, _ in items]
    singles = tree(tmp_path / "single", names)
    for path, before, after in singles:
        commit_rewrite(path, before, after)
    for name in names:
        batch, single = tmp_path / "batch" / name, tmp_path / "single" / name
        assert_rewritten(batch, name)
        assert os.stat(batch).st_mode == os.stat(single).st_mode
        assert os.stat(backup_path_for(batch)).st_mode == os.stat(backup_path_for(single)).st_mode
    for d in range(3):
        # one journal line per file, as with single commits
        journal = (tmp_path / "batch" / f"pkg{d}" / JOURNAL_NAME).read_bytes()
        assert journal == (tmp_path / "single" / f"pkg{d}" / JOURNAL_NAME).read_bytes()
        assert leftovers(tmp_path / "batch" / f"pkg{d}") == []
    for path, before, _ in items:
        assert revert_file(path).status == "restored"
        assert path.read_bytes() == before and not backup_path_for(path).exists()
    assert not (tmp_path / "batch" / "pkg0" / JOURNAL_NAME).exists()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_a_large_directory_goes_in_chunks_within_the_open_files_limit(tmp_path: Path) -> None:
    resource = pytest.importorskip("resource")
    names = [f"m{i:03d}.py" for i in range(2 * _CHUNK + 7)]
    items = tree(tmp_path, names)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    # room for one chunk's temporary files and a few more, not for the whole directory's
    limit = in_use + 2 * _CHUNK + 16
    assert limit < 2 * len(names)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        done = commit_rewrites(items)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert [c.error for c in done] == [None] * len(names)
    for name in names:
        assert_rewritten(tmp_path / name, name)
    assert len((tmp_path / JOURNAL_NAME).read_bytes().splitlines()) == len(names)
    assert leftovers(tmp_path) == []


def test_a_failure_stays_with_its_file(tmp_path: Path) -> None:
    names = ["a.py", "changed.py", "has_backup.py", "dir_backup.py", "b.py", "sub/c.py"]
    items = tree(tmp_path, names)
    (tmp_path / "changed.py").write_bytes(b"edited between compute and write\n")
    backup_path_for(tmp_path / "has_backup.py").write_bytes(b"the true original\n")
    backup_path_for(tmp_path / "dir_backup.py").mkdir()
    done = commit_rewrites(items)
    errors = {c.path.name: c.error for c in done}
    assert errors["a.py"] is None and errors["b.py"] is None and errors["c.py"] is None
    assert isinstance(errors["changed.py"], ApplyRefused)
    assert "changed on disk" in str(errors["changed.py"])
    assert isinstance(errors["has_backup.py"], ApplyRefused)
    assert "has_backup.py.backup already exists" in str(errors["has_backup.py"])
    assert isinstance(errors["dir_backup.py"], ApplyRefused)
    for name in ("a.py", "b.py", "sub/c.py"):
        assert_rewritten(tmp_path / name, name)
    assert (tmp_path / "changed.py").read_bytes() == b"edited between compute and write\n"
    assert not backup_path_for(tmp_path / "changed.py").exists()
    assert (tmp_path / "has_backup.py").read_bytes() == original("has_backup.py")
    assert backup_path_for(tmp_path / "has_backup.py").read_bytes() == b"the true original\n"
    assert backup_path_for(tmp_path / "dir_backup.py").is_dir()
    assert sorted(read_journal(tmp_path)) == ["a.py", "b.py"]
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "sub") == []


def test_a_file_that_cannot_be_replaced_keeps_its_bytes_and_no_backup(tmp_path: Path) -> None:
    # Backups and journal succeed for all three, the replace of the middle one fails for real.
    items = tree(tmp_path, ["a.py", "locked.py", "z.py"])
    with immutable(tmp_path / "locked.py"):
        done = commit_rewrites(items)
    assert done[0].error is None and done[2].error is None
    assert isinstance(done[1].error, OSError)
    assert (tmp_path / "locked.py").read_bytes() == original("locked.py")
    assert not backup_path_for(tmp_path / "locked.py").exists()
    assert_rewritten(tmp_path / "a.py", "a.py")
    assert_rewritten(tmp_path / "z.py", "z.py")
    assert leftovers(tmp_path) == []
    # nothing left in the way of a later apply of that file
    commit_rewrite(*items[1])
    assert_rewritten(tmp_path / "locked.py", "locked.py")


def test_an_unwritable_directory_fails_only_its_files(tmp_path: Path) -> None:
    items = tree(tmp_path, ["ok/a.py", "ro/b.py", "ro/c.py", "ok/d.py"])
    with immutable(tmp_path / "ro"):
        done = commit_rewrites(items)
    assert done[0].error is None and done[3].error is None
    assert isinstance(done[1].error, OSError) and isinstance(done[2].error, OSError)
    assert sorted(p.name for p in (tmp_path / "ro").iterdir()) == ["b.py", "c.py"]
    assert (tmp_path / "ro/b.py").read_bytes() == original("ro/b.py")
    assert_rewritten(tmp_path / "ok/a.py", "ok/a.py")
    assert_rewritten(tmp_path / "ok/d.py", "ok/d.py")


def test_a_journal_that_cannot_be_written_fails_its_directory_only(tmp_path: Path) -> None:
    # A directory in the journal's place: the append fails for real, after the backups of
    # that directory were linked; they are removed again and its files keep their bytes.
    items = tree(tmp_path, ["bad/a.py", "bad/b.py", "good/c.py"])
    (tmp_path / "bad" / JOURNAL_NAME).mkdir()
    done = commit_rewrites(items)
    assert isinstance(done[0].error, IsADirectoryError)
    assert isinstance(done[1].error, IsADirectoryError)
    assert done[2].error is None
    assert sorted(p.name for p in (tmp_path / "bad").iterdir()) == [JOURNAL_NAME, "a.py", "b.py"]
    assert (tmp_path / "bad/a.py").read_bytes() == original("bad/a.py")
    assert_rewritten(tmp_path / "good/c.py", "good/c.py")


@pytest.mark.skipif(not POSIX, reason="RLIMIT_FSIZE is POSIX")
def test_a_write_error_fails_only_that_file(tmp_path: Path) -> None:
    items = tree(tmp_path, ["a.py", "big.py", "c.py"])
    big = tmp_path / "big.py"
    items[1] = (big, original("big.py"), b"x = 1\n" + b"#" * 8192)
    with file_size_limit(4096):
        done = commit_rewrites(items)
    assert isinstance(done[1].error, OSError) and done[1].error.errno == errno.EFBIG
    assert big.read_bytes() == original("big.py") and not backup_path_for(big).exists()
    assert done[0].error is None and done[2].error is None
    assert_rewritten(tmp_path / "a.py", "a.py")
    assert leftovers(tmp_path) == []


def test_two_paths_of_one_file_are_committed_one_after_the_other(tmp_path: Path) -> None:
    ((path, before, after),) = tree(tmp_path, ["real.py"])
    link = tmp_path / "alias.py"
    link.symlink_to(path)
    done = commit_rewrites([(path, before, after), (link, before, b"other\n")])
    assert done[0].error is None
    assert isinstance(done[1].error, ApplyRefused)  # its backup exists now: as two calls
    assert path.read_bytes() == after and backup_path_for(path).read_bytes() == before
    assert link.is_symlink() and not backup_path_for(link).exists()


def test_followups_in_one_batch(tmp_path: Path) -> None:
    items = tree(tmp_path, ["tracked.py", "edited.py", "fresh.py"])
    commit_rewrites(items[:2])
    (tmp_path / "edited.py").write_bytes(b"edited by hand\n")
    later = [
        (tmp_path / "tracked.py", rewritten("tracked.py"), b"third\n"),
        (tmp_path / "edited.py", b"edited by hand\n", b"third\n"),
        (tmp_path / "fresh.py", original("fresh.py"), b"third\n"),
        (tmp_path / "stale.py", b"not what is on disk\n", b"third\n"),
    ]
    (tmp_path / "stale.py").write_bytes(b"on disk\n")
    done = commit_rewrites(later, followup=True)
    assert [(c.error is None, c.tracked) for c in done[:3]] == [(True, True), (True, False)] + [
        (True, True)
    ]
    assert isinstance(done[3].error, ApplyRefused)
    assert (tmp_path / "stale.py").read_bytes() == b"on disk\n"
    for name in ("tracked.py", "edited.py", "fresh.py"):
        assert (tmp_path / name).read_bytes() == b"third\n"
    assert revert_file(tmp_path / "tracked.py").status == "restored"
    assert revert_file(tmp_path / "fresh.py").status == "restored"
    assert revert_file(tmp_path / "edited.py").status == "refused"
    assert (tmp_path / "tracked.py").read_bytes() == original("tracked.py")
    assert (tmp_path / "fresh.py").read_bytes() == original("fresh.py")


# --------------------------------------------------------------------------------------------
# killed or interrupted before each filesystem operation of a batch

_CHILD = r"""
import concurrent.futures, json, os, signal, sys
from pathlib import Path
from ssot_codemod.backup import commit_rewrites

spec = json.loads(sys.argv[1])
FS = {"open", "os.link", "os.rename", "os.remove", "os.chmod", "os.truncate"}
count = 0
active = False

edit = spec.get("edit")  # [event, path, hex bytes]: another writer, just before that event

def hook(event, args):
    global count, edit
    if active and edit and event == edit[0]:
        path, data, edit = edit[1], bytes.fromhex(edit[2]), None
        with open(path, "wb") as handle:
            handle.write(data)
    if active and event in FS:
        count += 1
        if count == spec["k"]:
            if spec["how"] == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise KeyboardInterrupt

sys.addaudithook(hook)
items = [(Path(p), bytes.fromhex(a), bytes.fromhex(b)) for p, a, b in spec["items"]]
active = True
try:
    done = commit_rewrites(items)
except KeyboardInterrupt:
    print(json.dumps({"interrupted": True, "events": count}))
    sys.exit(0)
active = False
print(json.dumps({"interrupted": False, "events": count,
                  "errors": [type(c.error).__name__ if c.error else None for c in done]}))
"""

CRASH_NAMES = ["a/x.py", "a/y.py", "a/gone.py", "b/z.py", "b/w.py"]


def run_child(
    items: list[tuple[Path, bytes, bytes]],
    k: int,
    how: str,
    edit: tuple[str, Path, bytes] | None = None,
) -> dict[str, object]:
    spec: dict[str, object] = {
        "k": k,
        "how": how,
        "items": [(str(p), a.hex(), b.hex()) for p, a, b in items],
    }
    if edit is not None:
        spec["edit"] = [edit[0], str(edit[1]), edit[2].hex()]
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if how == "kill" and proc.returncode == -9:
        return {"killed": True}
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def crash_tree(root: Path) -> list[tuple[Path, bytes, bytes]]:
    items = tree(root, CRASH_NAMES)
    # changed between compute and write: refused, never gets a backup
    (root / "a/gone.py").write_bytes(b"someone else's edit\n")
    return items


def assert_each_file_whole(root: Path) -> int:
    """Each file: its original (no backup, or one equal to it), or the rewrite with its
    complete backup and journal entry. Returns how many were rewritten."""
    done = 0
    for name in CRASH_NAMES:
        path = root / name
        data = path.read_bytes()
        backup = backup_path_for(path)
        if name == "a/gone.py":
            assert data == b"someone else's edit\n" and not backup.exists()
        elif data == original(name):
            assert not backup.exists() or backup.read_bytes() == data, name
        else:
            assert_rewritten(path, name)
            done += 1
    return done


def recover_and_apply_again(root: Path, items: list[tuple[Path, bytes, bytes]]) -> None:
    for path, before, _ in items:
        if backup_path_for(path).exists():
            assert revert_file(path).status in ("restored", "already-original"), path
        if path.name != "gone.py":
            assert path.read_bytes() == before
    assert sorted(root.rglob("*.backup")) == []
    done = commit_rewrites(items)
    assert [type(c.error).__name__ if c.error else None for c in done] == [
        None,
        None,
        "ApplyRefused",
        None,
        None,
    ]


@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_killed_or_interrupted_before_any_step_loses_nothing(tmp_path: Path, how: str) -> None:
    clean = run_child(crash_tree(tmp_path / "count"), 0, how)
    assert clean["interrupted"] is False
    assert clean["errors"] == [None, None, "ApplyRefused", None, None]
    events = clean["events"]
    assert isinstance(events, int) and events > 20
    seen = set()
    for k in range(1, events + 1):
        root = tmp_path / f"k{k}"
        items = crash_tree(root)
        outcome = run_child(items, k, how)
        assert outcome.get("killed") or outcome.get("interrupted"), (k, outcome)
        seen.add(assert_each_file_whole(root))
        recover_and_apply_again(root, items)
    assert seen == {0, 1, 2, 3, 4}  # the kills hit before, between and after the replaces


@pytest.mark.parametrize("when", ["os.link", "os.rename"])
def test_a_file_changed_after_its_backup_was_made_is_refused(tmp_path: Path, when: str) -> None:
    # Another writer changes y.py after the batch checked it: just before the backups are
    # linked, or just before the first file (x.py) is replaced.
    items = tree(tmp_path, ["x.py", "y.py", "z.py"])
    y = tmp_path / "y.py"
    outcome = run_child(items, 0, "interrupt", edit=(when, y, b"edited meanwhile\n"))
    assert outcome["errors"] == [None, "ApplyRefused", None]
    assert y.read_bytes() == b"edited meanwhile\n"
    assert not backup_path_for(y).exists()
    assert_rewritten(tmp_path / "x.py", "x.py")
    assert_rewritten(tmp_path / "z.py", "z.py")
    assert leftovers(tmp_path) == []
    assert revert_file(tmp_path / "x.py").status == "restored"
    assert revert_file(tmp_path / "z.py").status == "restored"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.py", "y.py", "z.py"]
