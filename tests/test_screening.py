"""The first pass on big trees: chunks screened by the pool's workers and by this process give
exactly what one process gives (screening.py), and a whole run does not change with it."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import pytest

from ssot_codemod import screening
from ssot_codemod.api import Options, apply_paths, check_paths
from ssot_codemod.files import discover
from ssot_codemod.parallel import EarlyPool
from ssot_codemod.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
try:
    import gen_monorepo
finally:
    sys.path.pop(0)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("screening") / "repo"
    gen_monorepo.generate_ssot(root, 400, 77)
    return root


def _plain(seen: screening.FirstPass) -> dict[str, object]:
    """Everything but the time the prefilter took."""
    return {k: v for k, v in dataclasses.asdict(seen).items() if k != "spent"}


def _screen(files: list[Path], jobs: int) -> list[dict[str, object]]:
    early = EarlyPool(jobs)
    try:
        return [
            _plain(s)
            for s in screening.screen_all(
                files,
                list(ALL_RULES),
                skip=frozenset({"SSC004"}),
                use_project=True,
                budget=60.0,
                early=early,
            )
        ]
    finally:
        early.discard()


def test_workers_screen_exactly_what_one_process_screens(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = discover([repo]).files
    missing = repo / "gone.py"  # listed, then gone before it is read: an error for that file
    files = [*files, missing]
    monkeypatch.setattr(screening, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(screening, "_CHUNK", 25)  # chunks for the workers and for this process
    parallel = _screen(files, jobs=2)
    monkeypatch.setattr(screening, "PARALLEL_MIN_FILES", 10**9)
    serial = _screen(files, jobs=2)
    assert parallel == serial
    assert [row["index"] for row in serial] == list(range(len(files)))  # file order
    assert any(row["matched"] for row in serial)
    assert any(row["wanted"] and row["notes"] for row in serial)
    assert serial[-1]["error"] == "file disappeared before it could be read"


def test_a_run_with_parallel_screening_gives_the_same_results(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)

    def outcome() -> list[tuple[object, ...]]:
        result = check_paths(["."], Options(jobs=2, cache_dir=None))
        return [(os.fspath(f.path), f.status, f.findings, f.error) for f in result.files]

    monkeypatch.setattr(screening, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(screening, "_CHUNK", 25)
    parallel = outcome()
    monkeypatch.setattr(screening, "PARALLEL_MIN_FILES", 10**9)
    serial = outcome()
    assert parallel == serial
    assert any(findings for _p, _s, findings, _e in serial)


@pytest.mark.parametrize("bridges", [0, 12], ids=["pool-unused", "pool-taken-over"])
def test_a_pool_started_by_the_first_pass_is_taken_over_or_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bridges: int
) -> None:
    """The first pass starts the pool; the engine then uses it (enough candidates) or it is
    stopped unused (none). Either way the results equal a run without it, and no worker
    process is left behind."""
    import multiprocessing

    from samples import SAMPLE

    root = tmp_path / "tree"
    root.mkdir()
    for i in range(bridges):
        (root / f"test_bridge_{i}.py").write_text(SAMPLE)
    for i in range(60):
        (root / f"mod_{i}.py").write_text(f"VALUE = {i}\n")
    monkeypatch.chdir(root)

    def outcome() -> list[tuple[object, ...]]:
        result = apply_paths(["."], Options(jobs=2), dry_run=True)
        return [(f.path.name, f.status, f.findings, f.error, f.new) for f in result.files]

    monkeypatch.setattr(screening, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(screening, "_CHUNK", 10)
    parallel = outcome()
    deadline = time.monotonic() + 10  # killed workers are reaped as they exit
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []
    monkeypatch.setattr(screening, "PARALLEL_MIN_FILES", 10**9)
    assert parallel == outcome()
    assert sum(1 for row in parallel if row[1] == "would-change") == bridges
