"""apply writes each rewrite while the engine still works on other files (write_queue.py), with
the guarantees of writing them all at the end: same bytes, backups and journal, a failure kept
to its file, and an interrupted run leaves every file untouched or rewritten with its backup."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from samples import SAMPLE

from ssot_codemod import api, write_queue
from ssot_codemod.api import Options, apply_paths, revert_paths
from ssot_codemod.backup import Committed, backup_path_for, read_journal

FILES_PER_DIRECTORY = 7


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Files to rewrite in three directories, clean files among them; batches of 3."""
    root = tmp_path / "proj"
    for package in ("a", "b", "c/deep"):
        for i in range(FILES_PER_DIRECTORY):
            path = root / package / f"test_{i}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(SAMPLE.replace("Base", f"Base{i}") if i % 3 else "x = 1\n")
    monkeypatch.chdir(root)
    monkeypatch.setattr(write_queue, "BATCH", 3)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("jobs", [1, 2])
def test_streamed_writes_give_what_the_dry_run_computed(tree: Path, jobs: int) -> None:
    before = _files(tree)
    planned = apply_paths(["."], Options(jobs=jobs), dry_run=True)
    assert _files(tree) == before
    applied = apply_paths(["."], Options(jobs=jobs))
    would = {f.path: f for f in planned.files if f.status == "would-change"}
    assert len(would) == 3 * (FILES_PER_DIRECTORY - 3)
    for result in applied.files:
        if result.path in would:
            assert result.status == "changed"
            assert result.findings == would[result.path].findings
            assert result.path.read_text(encoding="utf-8") == would[result.path].new
            assert backup_path_for(result.path).read_bytes() == before[str(result.path)]
            assert read_journal(result.path.parent)[result.path.name].written_sha256
        else:
            assert result.status == "unchanged"
            assert not backup_path_for(result.path).exists()
    revert_paths(["."])
    assert _files(tree) == before


def test_a_file_that_cannot_be_written_is_its_own_error(tree: Path) -> None:
    refused = tree / "b" / "test_1.py"
    backup_path_for(refused).write_text("a backup from an earlier apply\n")
    result = apply_paths(["."], Options(jobs=1))
    by_path = {f.path: f for f in result.files}
    assert by_path[Path("b/test_1.py")].status == "error"
    assert "backup" in (by_path[Path("b/test_1.py")].error or "")
    assert refused.read_text(encoding="utf-8").startswith("import asyncio")  # untouched
    assert result.count("changed") == 3 * (FILES_PER_DIRECTORY - 3) - 1


def test_rewrites_are_handed_to_the_writer_before_the_engine_is_done(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_add = write_queue.WriteQueue.add

    def add(self: write_queue.WriteQueue, rewrite: write_queue.Rewrite) -> None:
        events.append("write")
        real_add(self, rewrite)

    monkeypatch.setattr(write_queue.WriteQueue, "add", add)
    result = apply_paths(["."], Options(jobs=1), progress=lambda done, total: events.append("file"))
    assert result.count("changed") == events.count("write") > write_queue.BATCH
    assert events.index("write") < len(events) - 1 - events[::-1].index("file")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_with_the_engine_in_this_process_the_writes_wait_for_it(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one CPU, ``-j 1`` computes in this process: a writing thread would only take the
    GIL from the engine, so the batches are committed once the last file is computed."""
    events: list[str] = []
    real_commit = write_queue._commit

    def commit(batch: Sequence[write_queue.Rewrite]) -> list[Committed]:
        events.append("commit")
        return real_commit(batch)

    monkeypatch.setattr(write_queue, "_commit", commit)
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        result = apply_paths(["."], Options(jobs=1), progress=lambda d, t: events.append("file"))
    finally:
        os.sched_setaffinity(0, cpus)
    changed = result.count("changed")
    assert changed == 3 * (FILES_PER_DIRECTORY - 3)
    assert events.count("commit") == -(-changed // write_queue.BATCH)  # batches of 3, as before
    assert events == ["file"] * len(result.files) + ["commit"] * events.count("commit")


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("stop_after", [1, 6, 12, 20])
def test_an_interrupted_apply_leaves_each_file_whole(
    tree: Path, stop_after: int, jobs: int
) -> None:
    before = _files(tree)
    threads = threading.active_count()

    def progress(done: int, total: int) -> None:
        if done == stop_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        apply_paths(["."], Options(jobs=jobs), progress=progress)
    assert threading.active_count() == threads  # the writer thread and the pool's are gone
    for name, original in before.items():
        path = tree / name
        backup = backup_path_for(path)
        if path.read_bytes() == original:
            assert not backup.exists()
        else:
            assert backup.read_bytes() == original
            assert read_journal(path.parent)[path.name].written_sha256
    revert_paths(["."])
    assert _files(tree) == before


def test_with_a_helper_module_the_writes_wait_for_it(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper module is written first: no file is handed over while the engine runs."""
    handed: list[object] = []
    monkeypatch.setattr(api, "WriteQueue", lambda: handed.append(1))
    result = apply_paths(["."], Options(jobs=1, helper_module="a.helpers"))
    assert handed == []
    assert result.count("changed") == 3 * (FILES_PER_DIRECTORY - 3) + 1  # and the helper module
    assert result.helper_module_path is not None and result.helper_module_path.is_file()
