"""``check`` and ``apply --dry-run`` over the running interpreter's standard library.

A large body of real code nobody wrote for us: no crash, no write, nothing to fix. The findings
(none) and the files that pass the byte prefilter were verified by reading the stdlib source:

- ``test/test_asyncio/test_futures2.py``, ``test/test_asyncio/test_queues.py``: ``async def
  test_*`` methods, but in ``unittest.IsolatedAsyncioTestCase`` subclasses (or a mixin used only
  with one) - awaited, not SSC004;
- ``test/test_importlib/test_zip.py``: ``TestEgg.setUp`` overrides ``TestZip.setUp`` with a
  different fixture file - not a twin (SSC003);
- ``test/test_regrtest.py``: ``asyncSetUp``/``setUp`` only inside test source strings;
- ``unittest/async_case.py``: ``IsolatedAsyncioTestCase`` itself; ``asyncSetUp`` does not call
  ``setUp`` (SSC002) and nothing bridges with ``run_until_complete``.

The last three pass a byte prefilter, but the rules' gates over CPython's ``ast`` tree
(``Rule.could_match_tree``: no ``async def asyncSetUp`` calling ``.setUp`` for SSC002; no two
``setUp`` with equal normalised bodies for SSC003) stop them before LibCST parses them. The
first two are answered by ``check``'s SSC004 path over the project index's ``ast`` trees (no
class there never awaits); ``apply`` sends them to LibCST.

``site-packages`` (inside the stdlib directory on some installs) is not the standard library and
is excluded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STDLIB = Path(sysconfig.get_paths()["stdlib"])
EXCLUDE = ("--exclude", "site-packages/", "--exclude", "dist-packages/")
TIMEOUT = 600
# Findings every supported version must produce: none (a new one needs investigating first).
KNOWN_FINDINGS: list[tuple[str, str]] = []
# Files that pass the prefilter and get parsed, verified on CPython 3.11 (see above).
KNOWN_PARSED_311 = {
    "test/test_asyncio/test_futures2.py",  # (with ast, by check's SSC004 path)
    "test/test_asyncio/test_queues.py",
}
# Files that pass the byte prefilter, then the tree gates stop (see above).
KNOWN_TREE_GATED_311 = {
    "test/test_regrtest.py",
    "unittest/async_case.py",
    "test/test_importlib/test_zip.py",  # two setUp that differ in a string only
}
SIDE_EFFECT_NAMES = re.compile(r"(\.backup|\.ssot-codemod\.journal|\.ssot-tmp)$")


def run(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ssot_codemod", *args, "-j", "2", *EXCLUDE, "."],
        cwd=STDLIB,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    elapsed = time.perf_counter() - started
    print(f"ssot-codemod {' '.join(args)} over {STDLIB}: {elapsed:.1f}s, exit {proc.returncode}")
    return proc, elapsed


def side_effect_files() -> set[Path]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(STDLIB):
        dirnames[:] = [d for d in dirnames if d not in ("site-packages", "dist-packages")]
        found.update(Path(dirpath, f) for f in filenames if SIDE_EFFECT_NAMES.search(f))
        if ".ssot-codemod" in dirnames:
            found.add(Path(dirpath, ".ssot-codemod"))
    return found


def assert_clean_exit(proc: subprocess.CompletedProcess[str], elapsed: float) -> list[str]:
    assert proc.returncode in (0, 1, 2), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert elapsed < 300, f"{elapsed:.0f}s: too slow for CI"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    for line in errors:  # every file it cannot handle is named, with a reason
        match = re.fullmatch(r"error: (?P<path>[^:]+): (?P<reason>.+)", line)
        assert match, line
        assert (STDLIB / match["path"]).exists(), line
    assert bool(errors) == (proc.returncode == 2), proc.stderr[-3000:]
    return errors


@pytest.fixture(scope="module")
def watched() -> dict[Path, int]:
    """mtimes of the files most at risk (the ones that get parsed) and a spread of others."""
    at_risk = sorted(KNOWN_PARSED_311 | KNOWN_TREE_GATED_311)
    sample = [STDLIB / rel for rel in at_risk if (STDLIB / rel).exists()]
    others = sorted(STDLIB.glob("*.py"))
    sample += others[:: max(1, len(others) // 25)]
    return {path: path.stat().st_mtime_ns for path in sample}


def test_check_over_the_stdlib(watched: dict[Path, int]) -> None:
    before = side_effect_files()
    proc, elapsed = run("check", "--no-cache", "-v", "--output-format", "json")
    errors = assert_clean_exit(proc, elapsed)
    assert errors == [], errors
    findings = sorted((f["path"], f["code"]) for f in json.loads(proc.stdout))
    assert findings == KNOWN_FINDINGS
    assert proc.returncode == (1 if findings else 0)

    summary = [line for line in proc.stderr.splitlines() if line.startswith("Scanned ")]
    assert len(summary) == 1, proc.stderr[-3000:]
    scanned = int(re.match(r"Scanned (\d+) files \((\d+) parsed\)", summary[0])[1])  # type: ignore[index]
    assert scanned > 500  # it really walked the stdlib
    parsed = {
        line.split(": ", 1)[0]
        for line in proc.stderr.splitlines()
        if line.endswith(": unchanged") and not line.startswith(("error:", "Scanned"))
    }
    print(f"scanned {scanned} files, parsed {len(parsed)}: {sorted(parsed)}")
    if sys.version_info[:2] == (3, 11):
        assert parsed == KNOWN_PARSED_311
    else:
        assert parsed, "nothing passed the prefilter: the run proves nothing"

    assert side_effect_files() == before
    assert {path: path.stat().st_mtime_ns for path in watched} == watched


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe-fixes"])
def test_apply_dry_run_over_the_stdlib_writes_nothing(
    watched: dict[Path, int], unsafe: bool
) -> None:
    before = side_effect_files()
    proc, elapsed = run("apply", "--dry-run", *(["--unsafe-fixes"] if unsafe else []))
    errors = assert_clean_exit(proc, elapsed)
    assert errors == [], errors
    assert proc.stdout == ""  # no diff at all
    assert not re.search(r"^(\+\+\+|---|@@) ", proc.stdout, re.M)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert " 0 would change" in proc.stderr
    assert side_effect_files() == before
    assert {path: path.stat().st_mtime_ns for path in watched} == watched
