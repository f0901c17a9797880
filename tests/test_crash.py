"""Nothing lost, ever: kill -9 during apply, edits before revert, bad backups, failing writes.

After any kill, every file is either its original bytes or the complete rewrite (what
``fix_source`` produces) with a byte-exact ``.backup``; ``revert`` then brings the whole tree
back to the original bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from samples import SAMPLE

from ssot_codemod.engine import fix_source

REWRITE = fix_source(SAMPLE).code
N_FILES = 240
N_DIRS = 4
TIMEOUT = 120


def original_text(i: int) -> str:
    return SAMPLE.replace("class Base(", f"class Case{i:03d}(")


def expected_text(i: int) -> str:
    return REWRITE.replace("class Base(", f"class Case{i:03d}(")


def rel(i: int) -> str:
    return f"pkg{i % N_DIRS}/test_m{i:03d}.py"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash") / "template"
    for i in range(N_FILES):
        path = root / rel(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(original_text(i).encode())
    # The cheap expected rewrite really is what the engine produces, for a spread of files.
    for i in (0, 1, 57, N_FILES - 1):
        assert fix_source(original_text(i)).code == expected_text(i)
    return root


def cli(*args: str, cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssot_codemod", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        **kwargs,  # type: ignore[arg-type]
    )


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def count_backups(root: Path) -> int:
    total = 0
    for d in range(N_DIRS):
        try:
            with os.scandir(root / f"pkg{d}") as it:
                total += sum(1 for e in it if e.name.endswith(".backup"))
        except FileNotFoundError:
            pass
    return total


def backups(root: Path) -> list[Path]:
    return sorted(root.rglob("*.backup"))


def assert_consistent(root: Path) -> tuple[int, int]:
    """Every file is the original (backup absent or equal to it) or the full rewrite + backup."""
    originals = rewritten = 0
    for i in range(N_FILES):
        path = root / rel(i)
        data = path.read_bytes()
        backup = path.with_name(path.name + ".backup")
        if data == original_text(i).encode():
            originals += 1
            if backup.exists():  # killed between the backup and the replace
                assert backup.read_bytes() == data, rel(i)
        else:
            assert data == expected_text(i).encode(), f"{rel(i)} is neither original nor rewrite"
            assert backup.read_bytes() == original_text(i).encode(), rel(i)
            rewritten += 1
    return originals, rewritten


def assert_all_original(root: Path) -> None:
    for i in range(N_FILES):
        assert (root / rel(i)).read_bytes() == original_text(i).encode(), rel(i)
    assert backups(root) == []


def kill_apply(root: Path, jobs: str, *, after_backups: int | None, after_seconds: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ssot_codemod", "apply", "-j", jobs, "."],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so the kill reaches pool workers too
    )
    deadline = time.monotonic() + TIMEOUT
    started = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if after_backups is not None:
                if count_backups(root) >= after_backups:
                    break
            elif time.monotonic() - started >= after_seconds:
                break
            time.sleep(0.001)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)


_rng = random.Random(20240607)
KILL_POINTS = [
    ("1", 1, 0.0),
    ("1", 40, 0.0),
    ("1", 120, 0.0),
    ("1", N_FILES - 5, 0.0),
    ("1", None, round(_rng.uniform(0.05, 1.5), 3)),
    ("1", None, round(_rng.uniform(0.05, 1.5), 3)),
    ("2", 1, 0.0),
    ("2", 100, 0.0),
    ("2", None, round(_rng.uniform(0.05, 1.5), 3)),
]


@pytest.mark.slow  # ~6 s per kill point, ~60 s in all on 2 cores
@pytest.mark.parametrize(
    ("jobs", "after_backups", "after_seconds"),
    KILL_POINTS,
    ids=[f"j{j}-" + (f"{b}backups" if b else f"{s}s") for j, b, s in KILL_POINTS],
)
def test_kill_9_during_apply_loses_nothing(
    template: Path, tmp_path: Path, jobs: str, after_backups: int | None, after_seconds: float
) -> None:
    root = tmp_path / "tree"
    shutil.copytree(template, root)
    kill_apply(root, jobs, after_backups=after_backups, after_seconds=after_seconds)

    originals, rewritten = assert_consistent(root)
    print(f"killed: {rewritten} rewritten, {originals} original")
    if after_backups is not None:
        assert len(backups(root)) >= min(after_backups, 1)  # the kill hit the write phase

    reverted = cli("revert", ".", cwd=root)
    assert reverted.returncode == 0, reverted.stderr
    assert "Traceback" not in reverted.stderr
    assert_all_original(root)

    # And the tree is as good as new: apply runs to the end, revert undoes it again.
    again = cli("apply", "-j", jobs, ".", cwd=root)
    assert again.returncode == 0, again.stderr
    assert assert_consistent(root) == (0, N_FILES)
    back = cli("revert", ".", cwd=root)
    assert back.returncode == 0, back.stderr
    assert_all_original(root)


# -------------------------------------------------------------------------------------------
# revert's refusals


def small_tree(tmp_path: Path, names: tuple[str, ...] = ("a.py", "b.py", "c.py")) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    for name in names:
        (root / name).write_bytes(SAMPLE.replace("Base", name[0].upper()).encode())
    return root


def test_revert_refuses_a_file_edited_since_apply_unless_forced(tmp_path: Path) -> None:
    root = small_tree(tmp_path)
    originals = {p.name: p.read_bytes() for p in root.glob("*.py")}
    assert cli("apply", "-j", "1", ".", cwd=root).returncode == 0
    edited = (root / "b.py").read_bytes() + b"\n# my edit after apply\n"
    (root / "b.py").write_bytes(edited)

    refused = cli("revert", ".", cwd=root)
    assert refused.returncode == 2, refused.stderr
    assert len(errors(refused.stderr)) == 1
    line = errors(refused.stderr)[0]
    assert line.startswith("error: b.py: ") and "edited since apply" in line and "--force" in line
    assert (root / "b.py").read_bytes() == edited
    assert (root / "b.py.backup").read_bytes() == originals["b.py"]
    for name in ("a.py", "c.py"):
        assert (root / name).read_bytes() == originals[name]
        assert not (root / (name + ".backup")).exists()

    forced = cli("revert", "--force", ".", cwd=root)
    assert forced.returncode == 0, forced.stderr
    assert (root / "b.py").read_bytes() == originals["b.py"]
    assert list(root.glob("*.backup")) == []


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_revert_refuses_a_damaged_backup(tmp_path: Path, damage: str) -> None:
    root = small_tree(tmp_path)
    originals = {p.name: p.read_bytes() for p in root.glob("*.py")}
    assert cli("apply", "-j", "1", ".", cwd=root).returncode == 0
    rewritten = (root / "a.py").read_bytes()
    backup = root / "a.py.backup"
    if damage == "truncated":
        backup.write_bytes(originals["a.py"][:50])
    else:
        backup.write_bytes(originals["a.py"].replace(b"pass", b"boom"))
    damaged = backup.read_bytes()

    result = cli("revert", ".", cwd=root)
    assert result.returncode == 2, result.stderr
    assert len(errors(result.stderr)) == 1
    assert errors(result.stderr)[0].startswith("error: a.py: ")
    assert "corrupt or truncated" in errors(result.stderr)[0]
    assert (root / "a.py").read_bytes() == rewritten  # nothing written
    assert backup.read_bytes() == damaged  # nor removed
    for name in ("b.py", "c.py"):
        assert (root / name).read_bytes() == originals[name]


def test_revert_never_follows_a_journal_entry_out_of_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    sub = root / "sub"
    sub.mkdir(parents=True)
    (sub / "a.py").write_bytes(SAMPLE.encode())
    assert cli("apply", "-j", "1", "sub", cwd=root).returncode == 0
    journals = [p for p in sub.iterdir() if "journal" in p.name]
    assert len(journals) == 1, list(sub.iterdir())

    outside = root / "outside.py"
    outside.write_bytes(b"current = 'outside'\n")
    payload = b"import os; os.system('evil')\n"
    (root / "outside.py.backup").write_bytes(payload)
    for name in ("../outside.py", "..", str(outside)):
        entry = {
            "file": name,
            "original_sha256": hashlib.sha256(payload).hexdigest(),
            "written_sha256": hashlib.sha256(outside.read_bytes()).hexdigest(),
            "version": 1,
        }
        with journals[0].open("a") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
    # A backup that is a symlink to a file elsewhere is not a source to restore from either.
    (sub / "b.py").write_bytes(b"b = 1\n")
    (sub / "b.py.backup").symlink_to(root / "outside.py.backup")

    result = cli("revert", "sub", cwd=root)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert [e for e in errors(result.stderr) if not e.startswith("error: sub/b.py: ")] == []
    assert outside.read_bytes() == b"current = 'outside'\n"
    assert (root / "outside.py.backup").read_bytes() == payload
    assert (sub / "b.py").read_bytes() == b"b = 1\n"
    assert (sub / "a.py").read_bytes() == SAMPLE.encode()  # the legitimate entry still works


# -------------------------------------------------------------------------------------------
# a write that really fails


def _limit_file_size() -> None:
    # Writes past 1 KiB fail with EFBIG (Python ignores SIGXFSZ): the backup (221 bytes) and
    # the journal fit, the rewrite (~4 KB, with the helper) does not.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


def test_failing_write_keeps_the_original(tmp_path: Path) -> None:
    root = small_tree(tmp_path, ("a.py",))
    original = (root / "a.py").read_bytes()
    assert len(original) < 1024 < len(fix_source(original.decode()).code)

    result = cli("apply", "-j", "1", ".", cwd=root, preexec_fn=_limit_file_size)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(errors(result.stderr)) == 1
    line = errors(result.stderr)[0]
    assert line.startswith("error: a.py: ") and "too large" in line.lower(), line
    assert (root / "a.py").read_bytes() == original
    assert sorted(p.name for p in root.iterdir()) == ["a.py"]  # no backup, journal, temp file

    # Nothing is in the way of the next, unrestricted run.
    ok = cli("apply", "-j", "1", ".", cwd=root)
    assert ok.returncode == 0, ok.stderr
    assert (root / "a.py.backup").read_bytes() == original
