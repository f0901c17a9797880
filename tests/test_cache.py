"""The results cache (ssot_codemod.cache) on its own, through check_paths, and through the CLI.

Whether a result was served from the cache is observed without mocks: a test rewrites the
message stored in the pack; a run that returns the rewritten message read it from the cache,
one that returns the real message recomputed it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from clirunner import separate_stderr_runner
from samples import SAMPLE

import ssot_codemod
from ssot_codemod.api import FileResult, Options, RunResult, apply_paths, check_paths
from ssot_codemod.cache import DEFAULT_CACHE_DIR, MAX_AGE_DAYS, CachedResult, ResultsCache
from ssot_codemod.cli import cli
from ssot_codemod.types import Finding

SETTINGS = {"mode": "check", "rules": ["SSC001"], "unsafe_fixes": False, "helper_module": None}
FINDING = Finding("SSC001", "bridge in Base.setUp — ünïcode", 7, 9, 7, 51, "safe", applied=False)
CLEAN = "def add(a, b):\n    return a + b\n"
TAMPERED = "served from the cache"
# Mentions the needles but does not parse.
BROKEN = "def setUp(self:\n    loop.run_until_complete(self.asyncSetUp())\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def packs(directory: Path) -> list[Path]:
    return sorted(directory.glob("results-*.json"))


def fill(
    directory: Path, path: Path, data: bytes, result: CachedResult, **settings: object
) -> None:
    cache = ResultsCache.open(directory, {**SETTINGS, **settings})
    assert cache.lookup(path, data) is None
    assert cache.store(path, result)
    assert cache.save()


# --------------------------------------------------------------------------------------------
# the cache on its own


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    src = tmp_path / "a.py"
    stored = CachedResult("unchanged", (FINDING, replace(FINDING, fix="unsafe")), None, True)
    fill(directory, src, b"data", stored)
    again = ResultsCache.open(directory, SETTINGS)
    assert again.lookup(src, b"data") == stored
    assert (again.hits, again.misses) == (1, 0)


def test_error_text_round_trips(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    stored = CachedResult("error", (), "cannot parse: line 1", True)
    fill(directory, tmp_path / "a.py", b"x(", stored)
    assert ResultsCache.open(directory, SETTINGS).lookup(tmp_path / "a.py", b"x(") == stored


def test_cache_directory_ignores_itself_and_is_tagged(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    fill(directory, tmp_path / "a.py", b"data", CachedResult("unchanged"))
    assert (directory / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (directory / "CACHEDIR.TAG").read_bytes().startswith(b"Signature: 8a477f597d28d172")
    assert len(packs(directory)) == 1


@pytest.mark.parametrize(
    "change",
    ["bytes", "context", "settings", "version", "path"],
)
def test_any_input_change_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    directory = tmp_path / "c"
    src = tmp_path / "a.py"
    cache = ResultsCache.open(directory, SETTINGS)
    assert cache.lookup(src, b"data", b"base=pkg.Base@1") is None
    cache.store(src, CachedResult("unchanged", (FINDING,), None, True))
    cache.save()

    settings = dict(SETTINGS)
    data, context, path = b"data", b"base=pkg.Base@1", src
    if change == "bytes":
        data = b"datb"
    elif change == "context":
        context = b"base=pkg.Base@2"  # the project index resolved the base class differently
    elif change == "settings":
        settings["unsafe_fixes"] = True
    elif change == "version":
        monkeypatch.setattr(ssot_codemod, "__version__", ssot_codemod.__version__ + ".post1")
    else:
        path = tmp_path / "b.py"
    assert ResultsCache.open(directory, settings).lookup(path, data, context) is None
    # and unchanged inputs still hit (the change above is what made the miss)
    monkeypatch.undo()
    assert ResultsCache.open(directory, SETTINGS).lookup(src, b"data", b"base=pkg.Base@1")


def test_str_and_bytes_context_are_the_same_key(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    src = tmp_path / "a.py"
    cache = ResultsCache.open(directory, SETTINGS)
    cache.lookup(src, b"data", "ctx ü")
    cache.store(src, CachedResult("unchanged"))
    cache.save()
    assert ResultsCache.open(directory, SETTINGS).lookup(src, b"data", "ctx ü".encode())


def test_store_needs_a_miss_of_this_run(tmp_path: Path) -> None:
    cache = ResultsCache.open(tmp_path / "c", SETTINGS)
    assert not cache.store(tmp_path / "never-looked-up.py", CachedResult("unchanged"))
    cache.lookup(tmp_path / "a.py", b"x")
    assert not cache.store(tmp_path / "a.py", FileResult(tmp_path / "a.py", "changed"))
    assert not cache.save()  # nothing to write: no directory created
    assert not (tmp_path / "c").exists()


def test_unchanged_hits_do_not_rewrite_the_pack(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    fill(directory, tmp_path / "a.py", b"data", CachedResult("unchanged"))
    before = packs(directory)[0].stat().st_mtime_ns
    cache = ResultsCache.open(directory, SETTINGS)
    assert cache.lookup(tmp_path / "a.py", b"data") is not None
    assert not cache.save()
    assert packs(directory)[0].stat().st_mtime_ns == before


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"{",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'{"format": 1, "entries": []}',
        b'{"format": 999, "entries": {}}',
        b"[" * 100_000,  # deeper than the JSON decoder's recursion limit
    ],
)
def test_corrupt_pack_is_ignored_and_rebuilt(tmp_path: Path, garbage: bytes) -> None:
    directory = tmp_path / "c"
    src = tmp_path / "a.py"
    fill(directory, src, b"data", CachedResult("unchanged", (FINDING,), None, True))
    pack = packs(directory)[0]
    pack.write_bytes(garbage)
    cache = ResultsCache.open(directory, SETTINGS)
    assert cache.lookup(src, b"data") is None
    cache.store(src, CachedResult("unchanged", (FINDING,), None, True))
    assert cache.save()
    json.loads(pack.read_bytes())  # valid again
    assert ResultsCache.open(directory, SETTINGS).lookup(src, b"data") is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda e: e[:7],  # too short
        lambda e: [*e[:4], "deleted", *e[5:]],  # unknown status
        lambda e: [*e[:7], [["SSC001", "m", "7", 9, 7, 51, "safe", False]]],  # str line
        lambda e: [*e[:7], [["SSC001", "m", 7, 9, 7, 51, "rm -rf", False]]],  # unknown fix
        lambda e: [*e[:7], [["SSC001", "m", 7, 9, 7, 51, "safe", 0]]],  # int, not bool
        lambda e: [*e[:7], {"__class__": "os.system"}],  # not a list
        lambda e: {"entry": e},
    ],
)
def test_corrupt_entry_is_a_miss_and_spares_the_others(tmp_path: Path, mangle: object) -> None:
    directory = tmp_path / "c"
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    cache = ResultsCache.open(directory, SETTINGS)
    for path in (a, b):
        cache.lookup(path, b"data")
        cache.store(path, CachedResult("unchanged", (FINDING,), None, True))
    cache.save()
    pack = packs(directory)[0]
    raw = json.loads(pack.read_bytes())
    assert callable(mangle)
    raw["entries"][str(a)] = mangle(raw["entries"][str(a)])
    pack.write_text(json.dumps(raw))
    again = ResultsCache.open(directory, SETTINGS)
    assert again.lookup(a, b"data") is None
    assert again.lookup(b, b"data") == CachedResult("unchanged", (FINDING,), None, True)


def test_unwritable_cache_directory_is_not_an_error(tmp_path: Path) -> None:
    blocker = write(tmp_path / "c", "a file where the directory should be")
    cache = ResultsCache.open(blocker, SETTINGS)
    assert cache.lookup(tmp_path / "a.py", b"data") is None
    cache.store(tmp_path / "a.py", CachedResult("unchanged"))
    assert not cache.save()
    assert blocker.read_text() == "a file where the directory should be"


def test_runs_that_overlap_merge_their_entries(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    first = ResultsCache.open(directory, SETTINGS)
    second = ResultsCache.open(directory, SETTINGS)  # loaded before the first one saved
    first.lookup(a, b"A")
    first.store(a, CachedResult("unchanged", (FINDING,), None, True))
    second.lookup(b, b"B")
    second.store(b, CachedResult("unchanged"))
    assert first.save() and second.save()
    after = ResultsCache.open(directory, SETTINGS)
    assert after.lookup(a, b"A") == CachedResult("unchanged", (FINDING,), None, True)
    assert after.lookup(b, b"B") == CachedResult("unchanged")


def test_old_entries_packs_and_temp_files_are_pruned(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    cache = ResultsCache.open(directory, SETTINGS)
    for path in (a, b):
        cache.lookup(path, b"data")
        cache.store(path, CachedResult("unchanged"))
    cache.save()
    pack = packs(directory)[0]
    raw = json.loads(pack.read_bytes())
    raw["entries"][str(a)][3] -= MAX_AGE_DAYS + 1  # not seen for longer than the limit
    pack.write_text(json.dumps(raw))
    old = time.time() - (MAX_AGE_DAYS + 1) * 86_400
    stale_pack = write(directory / "results-0000.json", "{}")
    stale_tmp = write(directory / ".results-x.json.123.ssot-tmp", "partial")
    fresh_tmp = write(directory / ".results-y.json.456.ssot-tmp", "being written")
    for path in (stale_pack, stale_tmp):
        os.utime(path, (old, old))

    cache = ResultsCache.open(directory, SETTINGS)
    c = tmp_path / "c.py"
    cache.lookup(c, b"data")
    cache.store(c, CachedResult("unchanged"))
    assert cache.save()
    kept = json.loads(pack.read_bytes())["entries"]
    assert sorted(kept) == sorted([str(b), str(c)])
    assert not stale_pack.exists() and not stale_tmp.exists()
    assert fresh_tmp.exists()


# --------------------------------------------------------------------------------------------
# through check_paths


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    write(root / "tests" / "test_a.py", SAMPLE)
    write(root / "tests" / "test_clean.py", CLEAN)
    write(root / "tests" / "test_broken.py", BROKEN)
    write(root / "pkg" / "b.py", SAMPLE.replace("Base", "Other"))
    monkeypatch.chdir(root)
    return root


def outcome(result: RunResult) -> list[tuple[str, str, tuple[Finding, ...], str | None, bool]]:
    return [(f.path.as_posix(), f.status, f.findings, f.error, f.parsed) for f in result.files]


def tamper(cache_dir: Path) -> None:
    """Replace every stored finding message: a run that returns it read the cache."""
    (pack,) = packs(cache_dir)
    raw = json.loads(pack.read_bytes())
    for entry in raw["entries"].values():
        for finding in entry[7]:
            finding[1] = TAMPERED
    pack.write_text(json.dumps(raw))


def messages(result: RunResult, name: str) -> set[str]:
    return {f.message for f in result.files if f.path.name == name for f in f.findings}


def test_second_check_is_identical_and_served_from_the_cache(tree: Path) -> None:
    options = Options(jobs=1, cache_dir=tree / DEFAULT_CACHE_DIR)
    cold = check_paths(["."], options)
    assert sum(len(f.findings) for f in cold.files) == 2
    assert cold.count("error") == 1
    warm = check_paths(["."], options)
    assert outcome(warm) == outcome(cold)

    tamper(tree / DEFAULT_CACHE_DIR)
    served = check_paths(["."], options)
    assert messages(served, "test_a.py") == {TAMPERED}
    assert messages(served, "b.py") == {TAMPERED}
    # errors are never cached: recomputed every run
    broken = [f for f in served.files if f.path.name == "test_broken.py"]
    assert broken[0].status == "error" and broken[0].parsed
    # the cache is a check-only affair
    assert messages(apply_paths(["."], replace(options), dry_run=True), "b.py") != {TAMPERED}


def test_changing_a_file_recomputes_that_file_only(tree: Path) -> None:
    options = Options(jobs=1, cache_dir=tree / DEFAULT_CACHE_DIR)
    check_paths(["."], options)
    tamper(tree / DEFAULT_CACHE_DIR)
    write(tree / "pkg" / "b.py", SAMPLE.replace("Base", "Changed"))
    result = check_paths(["."], options)
    assert messages(result, "test_a.py") == {TAMPERED}
    assert messages(result, "b.py") != {TAMPERED}
    assert any("Changed.setUp" in m for m in messages(result, "b.py"))


@pytest.mark.parametrize(
    "change",
    [
        {"unsafe_fixes": True},
        {"select": ("SSC001",)},
        {"helper_module": "tests.compat"},
    ],
)
def test_changing_a_setting_recomputes(tree: Path, change: dict[str, object]) -> None:
    options = Options(jobs=1, cache_dir=tree / DEFAULT_CACHE_DIR)
    check_paths(["."], options)
    tamper(tree / DEFAULT_CACHE_DIR)
    result = check_paths(["."], replace(options, **change))  # type: ignore[arg-type]
    assert TAMPERED not in messages(result, "test_a.py")
    assert messages(check_paths(["."], options), "test_a.py") == {TAMPERED}


def test_changing_the_tool_version_recomputes(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = Options(jobs=1, cache_dir=tree / DEFAULT_CACHE_DIR)
    check_paths(["."], options)
    tamper(tree / DEFAULT_CACHE_DIR)
    monkeypatch.setattr(ssot_codemod, "__version__", "99.0")
    assert TAMPERED not in messages(check_paths(["."], options), "test_a.py")


def test_corrupt_cache_gives_the_same_results(tree: Path) -> None:
    options = Options(jobs=1, cache_dir=tree / DEFAULT_CACHE_DIR)
    cold = check_paths(["."], options)
    (pack,) = packs(tree / DEFAULT_CACHE_DIR)
    data = pack.read_bytes()
    pack.write_bytes(data[: len(data) // 2])  # as if a writer died half way (it cannot)
    assert outcome(check_paths(["."], options)) == outcome(cold)
    assert outcome(check_paths(["."], options)) == outcome(cold)
    json.loads(pack.read_bytes())


def test_concurrent_checks_agree_and_leave_a_valid_pack(tree: Path) -> None:
    for i in range(30):
        write(tree / "more" / f"m{i}.py", SAMPLE.replace("Base", f"C{i}") if i % 3 else CLEAN)
    cmd = [sys.executable, "-m", "ssot_codemod", "check", "-q", "-j", "1", "--output-format",
           "json", "."]  # fmt: skip
    procs = [
        subprocess.Popen(cmd, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert {p.returncode for p in procs} == {2}  # findings and the broken file
    assert len({out for out, _ in outs}) == 1
    (pack,) = packs(tree / DEFAULT_CACHE_DIR)
    json.loads(pack.read_bytes())
    again = subprocess.run(cmd, cwd=tree, capture_output=True, timeout=120, check=False)
    assert again.stdout == outs[0][0]


# --------------------------------------------------------------------------------------------
# through the CLI


def run_cli(*args: str) -> tuple[int, str, str]:
    result = separate_stderr_runner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_check_caches_in_the_current_directory_and_no_cache_writes_nothing(
    tree: Path,
) -> None:
    assert run_cli("check", "--no-cache", "-j", "1", ".")[0] == 2
    assert not (tree / DEFAULT_CACHE_DIR).exists()
    first = run_cli("check", "-j", "1", ".")
    assert (tree / DEFAULT_CACHE_DIR / ".gitignore").is_file()
    second = run_cli("check", "-j", "1", ".")
    assert second[:2] == first[:2]
    assert re.sub(r"in [0-9.]+s", "", second[2]) == re.sub(r"in [0-9.]+s", "", first[2])


def test_cli_cache_dir_from_configuration(tree: Path) -> None:
    write(tree / "pyproject.toml", '[tool.ssot-codemod]\ncache-dir = "build/ssot"\n')
    (tree / "sub").mkdir()
    os.chdir(tree / "sub")  # relative to the configuration file, not the current directory
    code, _, _ = run_cli("check", "-j", "1", "..")
    assert code == 2
    assert packs(tree / "build" / "ssot")
    assert not (tree / "sub" / DEFAULT_CACHE_DIR).exists()
    assert not (tree / DEFAULT_CACHE_DIR).exists()


@pytest.mark.parametrize("value", ["1", '""', "[]"])
def test_cli_cache_dir_must_be_a_path(tree: Path, value: str) -> None:
    write(tree / "pyproject.toml", f"[tool.ssot-codemod]\ncache-dir = {value}\n")
    code, _, err = run_cli("check", ".")
    assert code == 2
    assert "'cache-dir' must be a non-empty path" in err


def test_apply_then_check_sees_the_new_bytes(tree: Path) -> None:
    options = Options(jobs=1, cache_dir=tree / DEFAULT_CACHE_DIR)
    before = check_paths(["."], options)
    assert before.findings
    apply_paths(["tests/test_a.py"], Options(jobs=1))
    after = check_paths(["."], options)
    assert not [f for f in after.files if f.path.name == "test_a.py" and f.findings]
    assert isinstance(after.files[0], FileResult)
