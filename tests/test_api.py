"""The library API (check/apply/revert over trees), the reporters and the configuration."""

from __future__ import annotations

import io
import json
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from samples import SAMPLE
from threads import joined_threads_gone

from ssot_codemod import parallel, report, screening
from ssot_codemod.api import (
    FileResult,
    Options,
    RunResult,
    apply_paths,
    check_paths,
    revert_paths,
)
from ssot_codemod.config import ConfigError, load_config
from ssot_codemod.types import Finding

CLEAN = "def add(a, b):\n    return a + b\n"

# Mentions the needles but does not parse.
BROKEN = "def setUp(self:\n    loop.run_until_complete(self.asyncSetUp())\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_bytes(text.encode("utf-8"))
    else:
        path.write_bytes(text)
    return path


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    write(root / "tests" / "test_a.py", SAMPLE)
    write(root / "tests" / "test_clean.py", CLEAN)
    write(root / "pkg" / "b.py", SAMPLE.replace("Base", "Other"))
    monkeypatch.chdir(root)
    return root


def by_name(result: RunResult) -> dict[str, FileResult]:
    return {f.path.name: f for f in result.files}


OPTS = Options(jobs=1)


# --------------------------------------------------------------------------------------------
# check / apply / revert


def test_check_statuses_and_prefilter(tree: Path) -> None:
    before = snapshot(tree)
    result = check_paths(["."], OPTS)
    files = by_name(result)
    assert set(files) == {"test_a.py", "test_clean.py", "b.py"}
    assert files["test_clean.py"].status == "unchanged"
    assert files["test_clean.py"].parsed is False
    assert files["test_a.py"].parsed is True
    # check only reports: it does not build (or verify) the rewrite.
    assert files["test_a.py"].status == "unchanged"
    assert [f.code for f in files["test_a.py"].findings] == ["SSC001"]
    assert files["test_a.py"].findings[0].applied  # apply would fix it
    assert files["test_a.py"].new is None
    assert result.findings_by_code() == {"SSC001": 2}
    assert result.parsed == 2
    assert not result.has_errors
    assert report.exit_code("check", result) == 1
    assert snapshot(tree) == before


def test_results_are_in_path_order(tree: Path) -> None:
    result = check_paths(["."], OPTS)
    paths = [f.path for f in result.files]
    assert paths == sorted(paths)


def test_apply_dry_run_then_apply_then_revert(tree: Path) -> None:
    before = snapshot(tree)
    dry = apply_paths(["."], OPTS, dry_run=True)
    assert by_name(dry)["test_a.py"].status == "would-change"
    assert report.exit_code("apply", dry) == 1
    assert snapshot(tree) == before

    applied = apply_paths(["."], OPTS)
    assert by_name(applied)["test_a.py"].status == "changed"
    assert report.exit_code("apply", applied) == 0
    target = tree / "tests" / "test_a.py"
    assert (tree / "tests" / "test_a.py.backup").read_bytes() == SAMPLE.encode()
    assert "run_coroutine_sync(self.asyncSetUp(), loop)" in target.read_text()

    again = apply_paths(["."], OPTS)
    assert {f.status for f in again.files} == {"unchanged"}
    assert report.exit_code("apply", again) == 0

    reverted = revert_paths(["."])
    assert {f.status for f in reverted.files} == {"reverted"}
    assert report.exit_code("revert", reverted) == 0
    assert target.read_bytes() == SAMPLE.encode()
    assert not list(tree.rglob("*.backup"))


def test_revert_refuses_edited_file(tree: Path) -> None:
    apply_paths(["."], OPTS)
    target = tree / "tests" / "test_a.py"
    target.write_text(target.read_text() + "# edited\n")
    result = revert_paths(["."])
    statuses = by_name(result)
    assert statuses["test_a.py"].status == "refused"
    assert statuses["test_a.py"].error and "edited" in statuses["test_a.py"].error
    assert statuses["b.py"].status == "reverted"
    assert report.exit_code("revert", result) == 2
    forced = revert_paths([target], force=True)
    assert forced.files[0].status == "reverted"
    assert target.read_bytes() == SAMPLE.encode()


def test_syntax_error_is_one_file_error(tree: Path) -> None:
    write(tree / "tests" / "test_broken.py", BROKEN)
    result = apply_paths(["."], OPTS)
    files = by_name(result)
    assert files["test_broken.py"].status == "error"
    assert files["test_broken.py"].error and "\n" not in files["test_broken.py"].error
    assert files["test_a.py"].status == "changed"
    assert (tree / "tests" / "test_broken.py").read_text() == BROKEN
    assert report.exit_code("apply", result) == 2


def test_existing_backup_is_never_overwritten(tree: Path) -> None:
    backup = write(tree / "tests" / "test_a.py.backup", b"precious")
    result = apply_paths(["."], OPTS)
    files = by_name(result)
    assert files["test_a.py"].status == "error"
    assert files["test_a.py"].error and "already exists" in files["test_a.py"].error
    assert backup.read_bytes() == b"precious"
    assert (tree / "tests" / "test_a.py").read_text() == SAMPLE
    assert files["b.py"].status == "changed"


def test_unreadable_file_is_reported(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "test_a.py":
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    real_read_file = screening.read_file

    def read_file(path: str) -> bytes:  # what the first pass reads with
        if os.path.basename(path) == "test_a.py":
            raise PermissionError(13, "Permission denied")
        return real_read_file(path)

    monkeypatch.setattr(screening, "read_file", read_file)
    result = check_paths(["."], OPTS)
    files = by_name(result)
    assert files["test_a.py"].status == "error"
    assert files["test_a.py"].error == "permission denied"
    assert files["b.py"].status == "unchanged" and files["b.py"].findings


def test_undecodable_file_is_reported(tree: Path) -> None:
    write(tree / "latin.py", b"# \xe9\xe9\n" + SAMPLE.encode())
    result = check_paths(["."], OPTS)
    latin = by_name(result)["latin.py"]
    assert latin.status == "error"
    assert latin.error and "decode" in latin.error


def test_missing_path_is_a_discovery_error(tree: Path) -> None:
    result = check_paths(["nope", "tests"], OPTS)
    assert result.discovery_errors and result.discovery_errors[0][0] == Path("nope")
    assert report.exit_code("check", result) == 2
    assert any(f.path.name == "test_a.py" for f in result.files)


def test_unknown_code_raises_value_error(tree: Path) -> None:
    with pytest.raises(ValueError):
        check_paths(["."], Options(select=("XYZ999",)))


def test_ignore_everything_parses_nothing(tree: Path) -> None:
    result = check_paths(["."], Options(ignore=("SSC",), jobs=1))
    assert result.parsed == 0
    assert not result.findings


def _many_to_rewrite(root: Path) -> None:
    for i in range(parallel.MIN_POOL_CANDIDATES + 2):
        write(root / "many" / f"test_{i}.py", SAMPLE.replace("Base", f"Base{i}"))
    write(root / "many" / "test_broken.py", BROKEN)


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker count of every pool started (the pools themselves are real)."""
    started: list[int] = []
    real_new_pool = parallel.new_pool

    def counting_new_pool(workers: int) -> ProcessPoolExecutor:
        started.append(workers)
        return real_new_pool(workers)

    monkeypatch.setattr(parallel, "new_pool", counting_new_pool)
    return started


def test_process_pool_gives_the_same_results(tree: Path, pools: list[int]) -> None:
    _many_to_rewrite(tree)
    serial = apply_paths(["."], Options(jobs=1), dry_run=True)
    assert pools == []
    pooled = apply_paths(["."], Options(jobs=2), dry_run=True)
    assert pools == [2]
    assert serial.files == pooled.files
    assert by_name(pooled)["test_broken.py"].status == "error"


def test_one_job_apply_writes_while_one_worker_computes(tree: Path, pools: list[int]) -> None:
    """``apply -j 1`` gives the engine one worker where this process has a second CPU to
    write on; the files come out as the in-process engine of ``--dry-run`` computes them."""
    _many_to_rewrite(tree)
    preview = apply_paths(["."], Options(jobs=1), dry_run=True)
    assert pools == []  # nothing to write meanwhile: computed here
    expected = {r.path: r.new for r in preview.files if r.status == "would-change"}
    assert len(expected) == parallel.MIN_POOL_CANDIDATES + 4  # test_a, pkg/b and the many

    joined_threads_gone()  # the decision reads this process's threads: as apply will see them
    worker_wanted = parallel.one_job_worker(True)
    applied = apply_paths(["."], Options(jobs=1))
    assert pools == ([1] if worker_wanted else [])
    assert [(r.path, r.findings, r.error) for r in applied.files] == [
        (r.path, r.findings, r.error) for r in preview.files
    ]
    assert {r.path for r in applied.files if r.status == "changed"} == set(expected)
    for path, new in expected.items():
        assert path.read_text(encoding="utf-8") == new
        assert path.with_name(path.name + ".backup").is_file()
    assert by_name(applied)["test_broken.py"].status == "error"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_one_job_worker_needs_writes_a_second_cpu_and_a_parent_allowed_children() -> None:
    assert not parallel.one_job_worker(False)
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        assert parallel.usable_cpus() == 1
        assert not parallel.one_job_worker(True)
    finally:
        os.sched_setaffinity(0, cpus)
    import multiprocessing

    # all-repos maps repos over a multiprocessing.Pool, whose daemonic workers may not start
    # processes of their own: apply runs there with one job.
    with multiprocessing.get_context("spawn").Pool(1) as daemonic:
        assert daemonic.apply(parallel.one_job_worker, (True,)) is False


def test_one_job_apply_inside_a_daemonic_process(tree: Path) -> None:
    """What all-repos does with ``-j 2``: each repository's apply in a Pool worker, one job."""
    import multiprocessing

    _many_to_rewrite(tree)
    with multiprocessing.get_context("spawn").Pool(1) as daemonic:
        result = daemonic.apply(apply_paths, (["."], Options(jobs=1)))
    statuses = sorted(r.status for r in result.files)
    assert statuses.count("changed") == parallel.MIN_POOL_CANDIDATES + 4
    assert statuses.count("error") == 1
    assert (tree / "many" / "test_0.py.backup").is_file()


class _KillsTheWorker(bytes):
    """Unpickling this in a pool worker ends that process, like a segfault in a parser would."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return (os._exit, (3,))


def test_a_crashing_worker_fails_only_its_file() -> None:
    good = SAMPLE.encode()
    tasks = [
        parallel.Task(i, f"f{i}.py", good, ("SSC001",), False, None)
        for i in range(parallel.MIN_POOL_CANDIDATES)
    ]
    crasher = parallel.Task(len(tasks), "crash.py", _KillsTheWorker(b"x"), ("SSC001",), False, None)
    tasks.insert(2, crasher)
    ticks: list[int] = []
    results = parallel.compute_all(tasks, 2, lambda done: ticks.append(done.index))
    assert sorted(ticks) == sorted(task.index for task in tasks)  # each result once, as it came
    assert results[crasher.index].error == "worker process crashed while processing this file"
    for task in tasks:
        if task is not crasher:
            assert results[task.index].error is None
            assert results[task.index].new is not None


def test_progress_callback_counts_every_file(tree: Path) -> None:
    calls: list[tuple[int, int]] = []
    check_paths(["."], OPTS, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3, 3)
    assert [c[0] for c in calls] == [1, 2, 3]


# --------------------------------------------------------------------------------------------
# report


def finding(code: str = "SSC001", fix: str = "safe", applied: bool = True) -> Finding:
    return Finding(code, "msg, with: 100% odd\nchars", 7, 9, 7, 51, fix, applied)  # type: ignore[arg-type]


def run(*files: FileResult, errors: tuple[tuple[Path, str], ...] = ()) -> RunResult:
    return RunResult(files, errors, 0.5)


@pytest.mark.parametrize(
    ("files", "errors", "check", "apply", "revert"),
    [
        ((FileResult(Path("a.py"), "unchanged"),), (), 0, 0, 0),
        ((FileResult(Path("a.py"), "unchanged", findings=(finding(),)),), (), 1, 0, 0),
        ((FileResult(Path("a.py"), "would-change", findings=(finding(),)),), (), 1, 1, 0),
        ((FileResult(Path("a.py"), "changed", findings=(finding(),)),), (), 1, 0, 0),
        ((FileResult(Path("a.py"), "reverted"),), (), 0, 0, 0),
        ((FileResult(Path("a.py"), "refused", error="edited"),), (), 2, 2, 2),
        (
            (
                FileResult(Path("a.py"), "would-change", findings=(finding(),)),
                FileResult(Path("b.py"), "error", error="syntax"),
            ),
            (),
            2,
            2,
            2,
        ),
        ((), ((Path("x"), "path does not exist"),), 2, 2, 2),
    ],
)
def test_exit_codes(
    files: tuple[FileResult, ...],
    errors: tuple[tuple[Path, str], ...],
    check: int,
    apply: int,
    revert: int,
) -> None:
    result = run(*files, errors=errors)
    assert report.exit_code("check", result) == check
    assert report.exit_code("apply", result) == apply
    assert report.exit_code("revert", result) == revert


def test_text_format_is_one_line_per_finding() -> None:
    result = run(
        FileResult(Path("b.py"), "unchanged", findings=(finding("SSC004", "unsafe", False),)),
        FileResult(Path("a.py"), "unchanged", findings=(finding("SSC002", "none", False),)),
    )
    lines = report.format_text(result).splitlines()
    assert lines == [
        "b.py:7:9: SSC004 [unsafe-fix] msg, with: 100% odd chars",
        "a.py:7:9: SSC002 msg, with: 100% odd chars",
    ]


def test_json_format_has_stable_keys() -> None:
    items = json.loads(report.format_json(run(FileResult(Path("a.py"), "x", (finding(),)))))  # type: ignore[arg-type]
    assert items == [
        {
            "path": "a.py",
            "line": 7,
            "column": 9,
            "end_line": 7,
            "end_column": 51,
            "code": "SSC001",
            "message": "msg, with: 100% odd\nchars",
            "fix": "safe",
        }
    ]


def test_github_format_escapes() -> None:
    result = run(FileResult(Path("we,ird:dir/a%b.py"), "unchanged", findings=(finding(),)))
    line = report.format_github(result)
    assert line == (
        "::error file=we%2Cird%3Adir/a%25b.py,line=7,col=9,endLine=7,endColumn=51,title=SSC001"
        "::SSC001 msg, with: 100%25 odd%0Achars\n"
    )


def test_sarif_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # sarif-pydantic supports Python 3.10+; the main run (3.11) always validates.
    Sarif = pytest.importorskip("sarif_pydantic").Sarif

    monkeypatch.chdir(tmp_path)
    result = run(FileResult(tmp_path / "sub dir" / "a.py", "unchanged", findings=(finding(),)))
    log = json.loads(report.format_sarif(result))
    sarif = Sarif.model_validate(log)
    assert sarif.version == "2.1.0"
    driver = sarif.runs[0].tool.driver
    assert driver.name == "ssot-codemod"
    assert driver.rules and {r.id for r in driver.rules} >= {"SSC001"}
    results = sarif.runs[0].results or []
    assert len(results) == 1
    location = (results[0].locations or [])[0].physical_location
    assert location is not None and location.artifact_location is not None
    assert location.artifact_location.uri == "sub%20dir/a.py"
    assert location.region is not None and location.region.start_line == 7


def test_unified_diff_headers_and_missing_final_newline(tmp_path: Path) -> None:
    diff = report.unified_diff("a\r\nb", "a\r\nc", tmp_path / "x" / "m.py", cwd=tmp_path)
    assert diff.splitlines(keepends=True) == [
        "--- a/x/m.py\n",
        "+++ b/x/m.py\n",
        "@@ -1,2 +1,2 @@\n",
        " a\r\n",
        "-b\n",
        "\\ No newline at end of file\n",
        "+c\n",
        "\\ No newline at end of file\n",
    ]
    assert report.unified_diff("same", "same", tmp_path / "m.py") == ""


def test_summary_line() -> None:
    result = run(
        FileResult(Path("a.py"), "changed", findings=(finding(), finding())),
        FileResult(Path("b.py"), "unchanged", findings=(finding("SSC004", "unsafe", False),)),
        FileResult(Path("c.py"), "error", error="boom"),
    )
    line = report.summary_line("apply", result)
    assert re.match(
        r"Scanned 3 files \(0 parsed\) in 0\.50s: 1 changed, 1 unchanged, 1 failed", line
    )
    assert "findings: SSC001×2, SSC004×1" in line
    assert "(1 fixable with --unsafe-fixes)" in line
    assert report.error_lines(result) == ["error: c.py: boom"]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert report.colour_enabled(FakeTTY())
    assert not report.colour_enabled(io.StringIO())
    assert not report.colour_enabled(FakeTTY(), no_color=True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not report.colour_enabled(FakeTTY())


def test_coloured_diff_has_ansi_codes(tmp_path: Path) -> None:
    out = FakeTTY()
    files = [FileResult(tmp_path / "m.py", "would-change", original="a\n", new="b\n")]
    report.write_diffs(files, out, colour=True)
    assert "\x1b[" in out.getvalue()
    plain = io.StringIO()
    report.write_diffs(files, plain, colour=False)
    assert "\x1b[" not in plain.getvalue() and "+b\n" in plain.getvalue()


# --------------------------------------------------------------------------------------------
# config


def test_config_nearest_pyproject_with_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.ssot-codemod]\nselect = ["SSC001"]\n')
    write(tmp_path / "sub" / "pyproject.toml", "[project]\nname = 'x'\n")
    write(tmp_path / "sub" / "deep" / "m.py", CLEAN)
    config, path = load_config(tmp_path / "sub" / "deep" / "m.py")
    assert path == tmp_path / "pyproject.toml"
    assert config == {"select": ["SSC001"]}


def test_config_all_keys(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        "[tool.ssot-codemod]\n"
        'select = ["SSC"]\nignore = ["SSC003"]\nexclude = ["gen/"]\n'
        'extend-exclude = ["old/"]\nunsafe-fixes = true\nhelper-module = "tests.compat"\n',
    )
    config, _ = load_config(tmp_path)
    assert config["unsafe-fixes"] is True
    assert config["helper-module"] == "tests.compat"
    assert config["extend-exclude"] == ["old/"]


def test_no_config(tmp_path: Path) -> None:
    assert load_config(tmp_path) == ({}, None)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('selct = ["SSC001"]', "unknown key 'selct'"),
        ('select = "SSC001"', "'select' must be a list of strings"),
        ('unsafe-fixes = "yes"', "'unsafe-fixes' must be true or false"),
        ('helper-module = "not a module"', "'helper-module' must be a dotted module name"),
    ],
)
def test_config_errors_name_key_and_file(tmp_path: Path, body: str, needle: str) -> None:
    write(tmp_path / "pyproject.toml", f"[tool.ssot-codemod]\n{body}\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    message = str(info.value)
    assert needle in message
    assert str(tmp_path / "pyproject.toml") in message
    assert "\n" not in message


def test_config_invalid_toml(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.ssot-codemod\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(tmp_path)


def test_a_run_gives_the_callers_gc_thresholds_back(tree: Path) -> None:
    """Runs raise the collector's thresholds (gc_policy.py) only for their own duration."""
    import gc

    from ssot_codemod.gc_policy import RUN_THRESHOLDS

    previous = gc.get_threshold()
    gc.set_threshold(1234, 7, 8)
    try:
        seen: list[tuple[int, int, int]] = []
        check_paths(["."], OPTS, progress=lambda done, total: seen.append(gc.get_threshold()))
        assert seen and set(seen) == {RUN_THRESHOLDS}
        assert gc.get_threshold() == (1234, 7, 8)
        apply_paths(["."], OPTS, dry_run=True)
        assert gc.get_threshold() == (1234, 7, 8)
        with pytest.raises(ValueError):
            check_paths(["."], Options(jobs=1, select=("SSC999",)))
        assert gc.get_threshold() == (1234, 7, 8)
    finally:
        gc.set_threshold(*previous)
