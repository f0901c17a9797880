"""The first pass on big trees: chunks screened by the pool's workers and by this process give
exactly what one process gives (screening.py), and a whole run does not change with it."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gen_monorepo
import pytest
from threads import joined_threads_gone

from ssot_codemod import screening
from ssot_codemod.api import Options, apply_paths, check_paths
from ssot_codemod.files import discover
from ssot_codemod.parallel import EarlyPool, start_method
from ssot_codemod.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("screening") / "repo"
    gen_monorepo.generate_ssot(root, 400, 77)
    return root


def _share_from(monkeypatch: pytest.MonkeyPatch, files: int) -> None:
    """The first pass is shared with workers from this many files on, however they start."""
    monkeypatch.setattr(screening, "PARALLEL_MIN_FILES", {"spawn": files, "fork": files})


def _plain(seen: screening.FirstPass) -> dict[str, object]:
    """Everything but the time the prefilter took."""
    return {k: v for k, v in dataclasses.asdict(seen).items() if k != "spent"}


def _screen(files: list[Path], jobs: int, *, starts_pool: bool = False) -> list[dict[str, object]]:
    """Every file's first pass; *starts_pool*: a caller like the api's, which starts the
    engine's workers once enough files matched."""
    early = EarlyPool(jobs)
    seen = []
    try:
        for first in screening.screen_all(
            files,
            list(ALL_RULES),
            skip=frozenset({"SSC004"}),
            use_project=True,
            budget=60.0,
            early=early,
        ):
            seen.append(_plain(first))
            if starts_pool and first.matched:
                early.expect_task()  # the pool starts at the MIN_POOL_CANDIDATES-th
    finally:
        early.discard()
    return seen


@pytest.fixture(params=["fork", "spawn"])
def workers_start(request: pytest.FixtureRequest) -> Iterator[str]:
    """Pools made during the test start their workers this way: ``spawn`` because another
    thread is running (as the progress bar's may), ``fork`` where this process runs none."""
    wanted: str = request.param
    other = None
    release = threading.Event()
    if wanted == "spawn":
        other = threading.Thread(target=release.wait, name="another thread")
        other.start()
    else:
        joined_threads_gone()  # (another test's)
    try:
        if start_method() != wanted:
            pytest.skip(f"workers cannot be started by {wanted} here")
        yield wanted
    finally:
        release.set()
        if other is not None:
            other.join()


def test_start_method_forks_only_without_other_threads() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert start_method() == "spawn"
    finally:
        release.set()
        other.join()
    joined_threads_gone()
    if sys.platform == "linux" and threading.active_count() == 1:
        assert start_method() == "fork"
    elif sys.platform != "linux":
        assert start_method() == "spawn"


def test_workers_screen_exactly_what_one_process_screens(
    repo: Path, monkeypatch: pytest.MonkeyPatch, workers_start: str
) -> None:
    files = discover([repo]).files
    missing = repo / "gone.py"  # listed, then gone before it is read: an error for that file
    files = [*files, missing]
    _share_from(monkeypatch, 1)
    monkeypatch.setattr(screening, "_CHUNK", 25)  # chunks for the workers and for this process
    parallel = _screen(files, jobs=2)
    _share_from(monkeypatch, 10**9)
    serial = _screen(files, jobs=2)
    assert parallel == serial
    assert [row["index"] for row in serial] == list(range(len(files)))  # file order
    assert any(row["matched"] for row in serial)
    assert any(row["wanted"] and row["notes"] for row in serial)
    assert serial[-1]["error"] == "file disappeared before it could be read"


def test_a_run_with_parallel_screening_gives_the_same_results(
    repo: Path, monkeypatch: pytest.MonkeyPatch, workers_start: str
) -> None:
    monkeypatch.chdir(repo)

    def outcome() -> list[tuple[object, ...]]:
        result = check_paths(["."], Options(jobs=2, cache_dir=None))
        return [(os.fspath(f.path), f.status, f.findings, f.error) for f in result.files]

    monkeypatch.setattr(screening, "_CHUNK", 25)
    shared_after_the_pool_started = outcome()  # (the default for a tree this size)
    _share_from(monkeypatch, 1)
    parallel = outcome()
    _share_from(monkeypatch, 10**9)
    monkeypatch.setattr(screening, "SHARE_MIN_FILES_LEFT", 10**9)
    serial = outcome()
    assert parallel == serial
    assert shared_after_the_pool_started == serial
    assert any(findings for _p, _s, findings, _e in serial)


def test_workers_started_for_the_engine_share_the_rest_of_the_pass(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the caller has started the engine's workers (enough candidates seen), the files
    left are screened by them and this process together, with the same results in order."""
    files = discover([repo]).files
    shared: list[int] = []
    real = screening._screen_shared

    def recording(items: list[tuple[int, str]], *args: Any) -> Any:
        shared.append(len(items))
        return real(items, *args)

    monkeypatch.setattr(screening, "_screen_shared", recording)
    seen = _screen(files, jobs=2, starts_pool=True)
    assert len(shared) == 1 and screening.SHARE_MIN_FILES_LEFT <= shared[0] < len(files)
    assert seen == _screen(files, jobs=2)  # this caller starts no pool: one process


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

    _share_from(monkeypatch, 1)
    monkeypatch.setattr(screening, "_CHUNK", 10)
    parallel = outcome()
    deadline = time.monotonic() + 10  # killed workers are reaped as they exit
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []
    _share_from(monkeypatch, 10**9)
    assert parallel == outcome()
    assert sum(1 for row in parallel if row[1] == "would-change") == bridges


def test_a_small_tree_is_screened_one_file_at_a_time(tmp_path: Path) -> None:
    """Below the pool's size the first pass hands each file's result over as soon as it is
    made (so the caller can start the engine's workers early): a file changed after the
    first result was taken is read as it is then."""
    files = []
    for i in range(3):
        path = tmp_path / f"m{i}.py"
        path.write_text("x = 1\n")
        files.append(path)
    passes = screening.screen_all(
        files, ALL_RULES, skip=frozenset(), use_project=False, budget=None, early=EarlyPool(1)
    )
    first = next(passes)
    assert first.index == 0 and first.matched == ()
    files[2].write_text("loop.run_until_complete(self.asyncSetUp())\n")
    rest = list(passes)
    assert [p.index for p in rest] == [1, 2]
    assert rest[1].matched != ()


def test_workers_sharing_the_first_pass_import_libcst_after_it() -> None:
    """Workers that screen files import LibCST only once the first pass is over (while this
    process builds the project index), and only if enough files will need it; a pool started
    for the engine alone imports it as soon as it starts."""
    from ssot_codemod.parallel import MIN_POOL_CANDIDATES

    sharing = EarlyPool(2)
    try:
        if sharing.start(screening=True) is None:
            pytest.skip("no subprocesses here")
        for _ in range(MIN_POOL_CANDIDATES):
            sharing.expect_task()
        assert not sharing.warmed
        sharing.first_pass_done()
        assert sharing.warmed
    finally:
        sharing.discard()
    few = EarlyPool(2)
    try:
        few.start(screening=True)
        few.expect_task()
        few.first_pass_done()
        assert not few.warmed  # one candidate: compute_all will not use the pool
    finally:
        few.discard()
    alone = EarlyPool(2)
    try:
        for _ in range(MIN_POOL_CANDIDATES):
            alone.expect_task()
        assert alone.warmed == (alone.pool is not None)
    finally:
        alone.discard()


def _index_both_ways(root: Path) -> tuple[tuple[object, ...], tuple[object, ...], dict[str, Any]]:
    """A project index given the summaries the first pass made (sent back from a worker:
    pickled) and one that makes every summary itself, from the same bytes."""
    import pickle

    from ssot_codemod.parallel import rules_for
    from ssot_codemod.project.index import ProjectIndex

    files = discover([root]).files
    items = [(i, os.fspath(p)) for i, p in enumerate(files)]
    codes = tuple(r.code for r in ALL_RULES if r.code != "SSC004")
    assert rules_for(codes)
    seen = screening.screen_chunk(items, codes, True, 60.0)
    data = {os.path.abspath(files[s.index]): s.data for s in seen if s.wanted and s.data}
    made = {os.path.abspath(files[s.index]): s.summary for s in seen if s.summary is not None}
    made = pickle.loads(pickle.dumps(made))
    given = ProjectIndex.build(root, files, data=dict(data), summaries=made)
    own = ProjectIndex.build(root, files, data=dict(data))

    def answers(index: ProjectIndex) -> tuple[object, ...]:
        contexts = [index.context_for(os.fspath(f), unsafe_fixes=True) for f in files]
        return (
            index.never_run(),
            index.skipped_tests(),
            sorted(index.async_test_candidates()),
            index.unresolved([os.fspath(f) for f in files]),
            contexts,
            [index.context_for(os.fspath(f)) for f in files],
            {path: index.module(path) for path in sorted(index._modules)},
        )

    return answers(given), answers(own), made


def test_summaries_made_by_the_first_pass_answer_as_the_index_own(repo: Path) -> None:
    given, own, made = _index_both_ways(repo)
    assert len(made) > 20  # the generated tree's test modules
    assert given == own
    assert given[0]  # never-run tests were found (the comparison is not of empty answers)


@pytest.mark.parametrize(
    "name",
    sorted(
        p.name
        for p in (Path(__file__).parent / "fixtures" / "projects").iterdir()
        if (p / "input").is_dir()
    ),
)
def test_summaries_made_ahead_on_every_fixture_project(name: str) -> None:
    root = Path(__file__).parent / "fixtures" / "projects" / name / "input"
    given, own, _made = _index_both_ways(root)
    assert given == own


def test_read_file_reads_every_size_and_reports_os_errors(tmp_path: Path) -> None:
    for size in (0, 1, 4095, 65536, 65537, 3_000_001):
        path = tmp_path / f"f{size}"
        content = os.urandom(size)
        path.write_bytes(content)
        assert screening.read_file(os.fspath(path)) == content
    # A size the system does not report (0) does not cut a file short.
    proc = Path("/proc/version")
    if proc.exists() and proc.stat().st_size == 0:
        assert screening.read_file(os.fspath(proc)) == proc.read_bytes() != b""
    with pytest.raises(IsADirectoryError):
        screening.read_file(os.fspath(tmp_path))
    with pytest.raises(FileNotFoundError):
        screening.read_file(os.fspath(tmp_path / "missing"))


@pytest.mark.parametrize("count", [0, 1, 99, 401, 4000, 10_001])
def test_chunks_cover_the_files_in_order_and_shrink_at_the_end(count: int) -> None:
    items = [(i, f"f{i}.py") for i in range(count)]
    chunks = screening._chunks(items, 2)
    assert [item for chunk in chunks for item in chunk] == items
    sizes = [len(c) for c in chunks]
    assert all(0 < s <= screening._CHUNK for s in sizes)
    assert all(a >= b for a, b in zip(sizes, sizes[1:-1]))  # the last one is what is left
    if count >= 10_000:
        assert sizes[0] == screening._CHUNK and sizes[-2] == screening._MIN_CHUNK


@pytest.mark.parametrize("warmed", [True, False])
def test_few_files_go_to_workers_that_imported_libcst_already(
    monkeypatch: pytest.MonkeyPatch, warmed: bool
) -> None:
    """Files the ast path answered leave fewer than MIN_POOL_CANDIDATES for the engine: the
    workers started (and warmed) for them take the rest rather than this process importing
    LibCST itself; a pool not warmed yet is stopped and the few files are done here."""
    from samples import SAMPLE

    from ssot_codemod import parallel

    in_process: list[int] = []
    real_warm = parallel._warm
    monkeypatch.setattr(parallel, "_warm", lambda: in_process.append(1) or real_warm())
    early = EarlyPool(2)
    assert early.start() is not None
    if warmed:
        early.warm()
    task = parallel.Task(0, "few.py", SAMPLE.encode(), ("SSC001",), False, None)
    results = parallel.compute_all([task], 2, lambda done: None, early)
    assert results[0].error is None and results[0].new is not None
    assert in_process == ([] if warmed else [1])
