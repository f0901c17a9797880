"""Run snapshots (ssot_codemod.snapshot): a check over an unchanged tree answered by stat calls.

Whether a run was replayed is observed without mocks: a test rewrites a message stored in the
snapshot; a run that returns the rewritten message replayed it, one that returns the real
message looked at the files. Files are dated an hour back (``age``) because the racy rule does
not trust a file modified just before the recording run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from samples import SAMPLE

from ssot_codemod.api import Options, RunResult, check_paths
from ssot_codemod.snapshot import RACY_MARGIN_NS

TAMPERED = "replayed from the snapshot"
SUB = """\
from pkg.base import Base


class Sub(Base):
    async def asyncSetUp(self):
        super().setUp()
"""
# Mentions the needles but does not parse.
BROKEN = "def setUp(self:\n    loop.run_until_complete(self.asyncSetUp())\n"
# Base without the bridge: Sub's super().setUp() no longer re-enters a running loop.
PLAIN_BASE = SAMPLE.replace(
    "loop = asyncio.get_event_loop()\n        loop.run_until_complete(self.asyncSetUp())",
    "self.ready = True",
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def age(*paths: Path) -> None:
    """Date files and folders (recursively) an hour back, out of the racy window."""
    old = time.time() - 3600
    for top in paths:
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            os.utime(path, (old, old))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write(root / "pyproject.toml", "[project]\nname = 'p'\n")
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "base.py", SAMPLE)
    write(root / "tests" / "test_sub.py", SUB)
    write(root / "tests" / "test_clean.py", "def test_x():\n    assert True\n")
    age(root)
    os.chdir(root)
    return root


def options(tree: Path) -> Options:
    return Options(jobs=1, cache_dir=tree.parent / "cache")


def pack(tree: Path) -> Path:
    (found,) = (tree.parent / "cache").glob("runs-*.json")
    return found


def edit_snapshots(tree: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = pack(tree)
    raw = json.loads(path.read_text())
    assert raw["runs"], "no snapshot was recorded"
    for run in raw["runs"].values():
        change(run["snapshot"])
    path.write_text(json.dumps(raw))


def tamper(snapshot: dict[str, Any]) -> None:
    for _path, _stat, result in snapshot["files"]:
        if result is not None:
            for finding in result[3]:
                finding[1] = TAMPERED


def messages(result: RunResult, name: str) -> set[str]:
    return {f.message for r in result.files if r.path.name == name for f in r.findings}


def outcome(result: RunResult) -> list[tuple[object, ...]]:
    return [(r.path, r.status, r.findings, r.error) for r in result.files]


def test_unchanged_tree_is_replayed(tree: Path) -> None:
    cold = check_paths(["."], options(tree))
    assert messages(cold, "test_sub.py")  # SSC002: Base.setUp bridges asyncSetUp
    replayed = check_paths(["."], options(tree))
    assert outcome(replayed) == outcome(cold)
    assert replayed.project == cold.project
    edit_snapshots(tree, tamper)
    assert messages(check_paths(["."], options(tree)), "test_sub.py") == {TAMPERED}


@pytest.mark.parametrize("paths", [["."], ["tests"], ["tests/test_sub.py"]])
def test_base_edited_in_another_file_is_not_served_stale(tree: Path, paths: list[str]) -> None:
    """Whether the base is among the PATHs, outside them, or in the rest of the project."""
    cold = check_paths(paths, options(tree))
    assert messages(cold, "test_sub.py")
    edit_snapshots(tree, tamper)
    stat_before = os.stat(tree / "tests" / "test_sub.py")
    write(tree / "pkg" / "base.py", PLAIN_BASE)
    age(tree / "pkg" / "base.py")
    assert os.stat(tree / "tests" / "test_sub.py") == stat_before
    warm = check_paths(paths, options(tree))
    assert messages(warm, "test_sub.py") == set()
    assert outcome(warm) == outcome(check_paths(paths, Options(jobs=1)))


def test_a_new_file_and_a_new_gitignore_are_seen(tree: Path) -> None:
    check_paths(["."], options(tree))
    edit_snapshots(tree, tamper)
    write(tree / "tests" / "test_new.py", SAMPLE.replace("Base", "Fresh"))
    age(tree)
    found = check_paths(["."], options(tree))
    assert any("Fresh.setUp" in m for m in messages(found, "test_new.py"))
    assert TAMPERED not in messages(found, "test_sub.py")  # recomputed or from the entries

    check_paths(["."], options(tree))
    write(tree / "tests" / ".gitignore", "test_new.py\n")
    age(tree)
    assert not [r for r in check_paths(["."], options(tree)).files if r.path.name == "test_new.py"]


def restat(tree: Path, name: str) -> Callable[[dict[str, Any]], None]:
    """Record *name*'s current stat in the snapshot: what a file system with coarse timestamps
    shows after an edit of the same size within the same tick."""

    def change(snapshot: dict[str, Any]) -> None:
        st = os.stat(tree / "tests" / name)
        for entry in snapshot["files"]:
            if Path(entry[0]).name == name:
                entry[1] = [st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns]

    return change


@pytest.mark.parametrize("trusted", [False, True])
def test_same_stat_edit_within_the_racy_window_is_reread(tree: Path, trusted: bool) -> None:
    sub = tree / "tests" / "test_sub.py"
    write(sub, SUB)  # modified just now: within the racy window of the next run
    assert messages(check_paths(["."], options(tree)), "test_sub.py")
    write(sub, SUB.replace("super().setUp()", "super().xxxxx()"))  # same size
    edit_snapshots(tree, restat(tree, "test_sub.py"))
    if trusted:
        # The control: a snapshot recorded long after the edit is trusted, and then the same
        # stat serves the old answer - which is what the racy rule prevents.
        def later(snapshot: dict[str, Any]) -> None:
            snapshot["started"] = time.time_ns() + 10 * RACY_MARGIN_NS

        edit_snapshots(tree, later)
        assert messages(check_paths(["."], options(tree)), "test_sub.py")
    else:
        assert messages(check_paths(["."], options(tree)), "test_sub.py") == set()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.update(files="nonsense"),
        lambda s: s.update(started="yesterday"),
        lambda s: s["files"][0].__setitem__(1, ["a", "b", "c", "d"]),
        lambda s: s["files"][-1].__setitem__(2, ["would-change", True, None, [["SSC001"]]]),
        lambda s: s["watched"].append([3, None]),
        lambda s: s.update(project={"roots": 5}),
        lambda s: s.clear(),
    ],
)
def test_corrupt_snapshot_is_ignored_and_rebuilt(
    tree: Path, mangle: Callable[[dict[str, Any]], None]
) -> None:
    cold = check_paths(["."], options(tree))
    edit_snapshots(tree, mangle)
    assert outcome(check_paths(["."], options(tree))) == outcome(cold)
    edit_snapshots(tree, tamper)  # rebuilt: valid again, and replayed
    assert messages(check_paths(["."], options(tree)), "test_sub.py") == {TAMPERED}


def test_a_run_with_an_error_records_no_snapshot(tree: Path) -> None:
    write(tree / "tests" / "test_broken.py", BROKEN)
    age(tree)
    first = check_paths(["."], options(tree))
    assert first.count("error") == 1
    runs = [json.loads(p.read_text())["runs"] for p in (tree.parent / "cache").glob("runs-*")]
    assert runs in ([], [{}])
    assert list((tree.parent / "cache").glob("results-*.json"))  # the entries are kept


def test_cache_folder_in_the_tree_does_not_spoil_the_next_run(tree: Path) -> None:
    """The first run creates the cache folder in the folder it walks (the default): the second
    run is replayed all the same (that folder's names are as the walk saw them)."""
    inside = Options(jobs=1, cache_dir=tree / ".ssot_codemod_cache")
    cold = check_paths(["."], inside)
    (found,) = (tree / ".ssot_codemod_cache").glob("runs-*.json")
    raw = json.loads(found.read_text())
    for run in raw["runs"].values():
        tamper(run["snapshot"])
    found.write_text(json.dumps(raw))
    assert messages(check_paths(["."], inside), "test_sub.py") == {TAMPERED}
    write(tree / "tests" / "test_new.py", SAMPLE.replace("Base", "Fresh"))  # a new name
    warm = check_paths(["."], inside)
    assert any("Fresh.setUp" in m for m in messages(warm, "test_new.py"))
    assert len(warm.files) == len(cold.files) + 1


def test_overlapping_runs_keep_each_others_snapshots(tmp_path: Path) -> None:
    from ssot_codemod.cache import MAX_RUNS, ResultsCache

    settings = {"mode": "check"}
    first = ResultsCache.open(tmp_path, settings)
    second = ResultsCache.open(tmp_path, settings)
    assert first.run_snapshot("a") is None and second.run_snapshot("b") is None
    first.keep_run("a", {"x": 1})
    second.keep_run("b", {"x": 2})
    assert first.save() and second.save()  # the second merges what the first wrote
    again = ResultsCache.open(tmp_path, settings)
    assert (again.run_snapshot("a"), again.run_snapshot("b")) == ({"x": 1}, {"x": 2})
    many = ResultsCache.open(tmp_path, settings)
    for i in range(MAX_RUNS + 3):
        many.keep_run(f"k{i}", i)
    assert many.save()
    kept = ResultsCache.open(tmp_path, settings)
    assert sum(kept.run_snapshot(f"k{i}") is not None for i in range(MAX_RUNS + 3)) == MAX_RUNS
