"""No input may hang the tool: linear-time gates, and a per-file time budget behind them.

The adversarial inputs below are built to make a backtracking regex explode (runs of ``#``,
spaces, newlines and ``(``; commented-out code with inline comments after an open call; a 1 MB
line; unterminated strings full of escapes). Linear work on them takes milliseconds; each test
runs under a liveness bound of many seconds, so these are hang detectors, not speed assertions
(speed is measured by ``scripts/bench_gates.py``).

Every compiled pattern in the package is found by introspection, so a gate added later is
covered without editing this file.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ssot_codemod
from ssot_codemod.api import Options, RunResult, check_paths
from ssot_codemod.deadline import FileTimeout, deadline
from ssot_codemod.rules import ALL_RULES

# Every needle of every rule, so that the cheap byte checks pass and the regexes and scans
# behind them run over the adversarial part.
NEEDLES = (
    b"\nasyncSetUp asyncTearDown setUp tearDown async def test TestCase run_until_complete\n"
    b"class A(B):\n    def setUp(self):\n        pass\n    def setUp(self):\n        pass\n"
)
MB = 1_000_000
SIZE = 250_000  # a quadratic scan of this many bytes takes hours; a linear one, milliseconds

ADVERSARIAL: dict[str, bytes] = {
    "hashes after call": b"f(" + b"#" * SIZE + b"\n",
    "hash banner lines after call": b"x = f(\n" + b"# ### # ### #\n" * (SIZE // 14),
    "commented code with inline comments": (
        b"loop.run_until_complete(\n" + b"# a = b(c)  # d # e # f\n" * 400 + b"self.asyncSetUp())\n"
    ),
    "commented calls with comments, many": b"x = f(\n" + b"# f( # self.asyncSetUp( #\n" * 10_000,
    "spaces inside call": b"f(" + b" " * SIZE + b"x",
    "newlines inside call": b"f(" + b"\n" * SIZE + b"x",
    "open parens": b"f" + b"(" * SIZE,
    "call hash repeated": b"f(#" * (SIZE // 3),
    "one long word": b"a" * SIZE,
    "escaped quotes unterminated": b"'" + b"\\'" * (SIZE // 2),
    "escaped double quotes unterminated": b'x = "' + b'\\"' * (SIZE // 2),
    "triple quotes unterminated": b'"""' + b"'''\"" * (SIZE // 4),
    "super calls unclosed": b"super(" * (SIZE // 6),
    "dots and spaces": b". " * (SIZE // 2),
    "hook calls with comments": b".asyncSetUp(  #" * (SIZE // 15),
    "getattr prefixes": b"getattr( x , " * (SIZE // 13),
    "run words": b"run " * (SIZE // 4),
    "deep indentation": b"".join(b" " * i + b"def setUp(self):\n" for i in range(2_000)),
    "long bracketed literal": b"def setUp(self):\n x = [\n" + b"  1,\n" * (SIZE // 5) + b"]\n",
    "one megabyte line": (b"f( # self.asyncSetUp() ( '\\' \" " * (MB // 32))[:MB] + b"\n",
}


def _all_patterns() -> Iterator[tuple[str, re.Pattern[bytes] | re.Pattern[str]]]:
    """Every compiled pattern at module level in the package (also inside dicts and tuples)."""
    for info in pkgutil.walk_packages(ssot_codemod.__path__, "ssot_codemod."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            values = value.values() if isinstance(value, dict) else value
            items = values if isinstance(values, (tuple, list)) or isinstance(value, dict) else ()
            for item in (value, *items):
                if isinstance(item, re.Pattern):
                    yield f"{info.name}.{name}", item


PATTERNS = sorted(set(_all_patterns()), key=lambda p: (p[0], str(p[1].pattern)))


def test_the_pattern_inventory_finds_the_gates() -> None:
    names = {name for name, _ in PATTERNS}
    for expected in (
        "ssot_codemod.rules.ssc001_bridge._HOOK_AS_ARGUMENT",
        "ssot_codemod.rules.ssc001_bridge._LOOSE_HOOK",
        "ssot_codemod.rules.ssc002_reentry._SUPER_SYNC_CALL",
        "ssot_codemod.rules._twin_scan._LEXEMES",
        "ssot_codemod.sourcemap._NEWLINE",
    ):
        assert expected in names
    assert len(PATTERNS) >= 14


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(ADVERSARIAL), ids=str)
def test_every_pattern_finishes_on_adversarial_input(case: str) -> None:
    data = ADVERSARIAL[case] + NEEDLES
    text = data.decode("latin-1")
    for _, pattern in PATTERNS:
        if isinstance(pattern.pattern, bytes):
            assert isinstance(pattern, re.Pattern)
            list(pattern.finditer(data))  # type: ignore[arg-type]
        else:
            list(pattern.finditer(text))  # type: ignore[arg-type]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(ADVERSARIAL), ids=str)
def test_every_rule_gate_finishes_on_adversarial_input(case: str) -> None:
    data = ADVERSARIAL[case] + NEEDLES
    for rule in ALL_RULES:
        rule.could_match(data)
        rule.could_match(ADVERSARIAL[case])


@pytest.mark.timeout(120)
def test_check_paths_finishes_on_adversarial_files_without_a_budget(tmp_path: Path) -> None:
    """The whole run (prefilter, parse, rules) with no time limit: the gates alone must end."""
    for i, case in enumerate(sorted(ADVERSARIAL)):
        (tmp_path / f"case_{i}.py").write_bytes(ADVERSARIAL[case] + NEEDLES)
    result = check_paths([tmp_path], Options(jobs=1, file_timeout=0))
    assert len(result.files) == len(ADVERSARIAL)


# The regex that hung before issue 16, kept as a known-exponential input for the budget.
_EXPONENTIAL = re.compile(
    rb"(?P<callee>\w+)\s*\(\s*(?:#[^\n]*\s*)*\(*\s*\w+\s*\.\s*async(?:SetUp|TearDown)\w*\s*\("
)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="POSIX interval timers")
@pytest.mark.timeout(60)
def test_deadline_interrupts_regex_matching() -> None:
    """``re`` checks for signals while matching: a runaway match is abandoned at the deadline."""
    started = time.monotonic()
    with pytest.raises(FileTimeout), deadline(0.2):
        _EXPONENTIAL.search(b"f(" + b"#" * 80 + b"\n")
    assert time.monotonic() - started < 30  # liveness, not speed: without it, never


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="POSIX interval timers")
def test_deadline_keeps_an_outer_timer() -> None:
    """pytest-timeout (signal method) and others keep their own alarm across a file's budget."""
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    outer = signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        with deadline(50.0):
            pass
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < remaining <= 100
        with pytest.raises(FileTimeout), deadline(0.05):
            while True:
                pass
        assert not fired
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 90
    finally:
        signal.setitimer(signal.ITIMER_REAL, *outer)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------------------------
# the per-file budget, end to end


SMALL = b"""import asyncio
import unittest


class RunTests(unittest.TestCase):
    def setUp(self):
        asyncio.run(self.asyncSetUp())

    async def asyncSetUp(self):
        self.ready = True
"""


def _big_module(classes: int) -> bytes:
    """A real candidate for SSC001 that LibCST cannot parse in the budget used below: it parses
    well under 1 MB/s, and this is ~1.5 MB."""
    parts = [b"import asyncio\nimport unittest\n"]
    for i in range(classes):
        parts.append(
            b"\n\nclass T%d(unittest.TestCase):\n"
            b"    def setUp(self):\n"
            b"        loop = asyncio.get_event_loop()\n"
            b"        loop.run_until_complete(self.asyncSetUp())\n\n"
            b"    async def asyncSetUp(self):\n"
            b"        self.value = %d\n" % (i, i)
        )
    return b"".join(parts)


@pytest.fixture(scope="module")
def big_module() -> bytes:
    return _big_module(7_500)


def _tree(root: Path, big: bytes) -> dict[str, bytes]:
    files = {"big.py": big, "clean.py": b"x = 1\n"}
    # Enough candidates for the process pool (parallel.MIN_POOL_CANDIDATES) with -j 2.
    files.update({f"small_{i}.py": SMALL for i in range(9)})
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


@pytest.mark.timeout(240)
@pytest.mark.parametrize("jobs", ["1", pytest.param("2", marks=pytest.mark.slow)])
@pytest.mark.parametrize("mode", ["check", "dry-run", "apply"])
def test_a_file_over_its_budget_is_given_up_and_the_rest_completes(
    tmp_path: Path, big_module: bytes, mode: str, jobs: str
) -> None:
    files = _tree(tmp_path, big_module)
    command = (
        ["check"] if mode == "check" else ["apply", "--dry-run"] if mode == "dry-run" else ["apply"]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ssot_codemod", *command, "-j", jobs, "--file-timeout", "1", "."],
        cwd=tmp_path,
        capture_output=True,
        timeout=200,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    stderr = proc.stderr.decode()
    stdout = proc.stdout.decode()
    assert proc.returncode == 2, stderr
    assert "error: big.py: gave up after 1 s" in stderr
    assert stderr.count("gave up after") == 1, stderr  # only the big file
    # Nothing written for the abandoned file, in any mode.
    assert (tmp_path / "big.py").read_bytes() == files["big.py"]
    assert not (tmp_path / "big.py.backup").exists()
    smalls = [name for name in files if name.startswith("small_")]
    if mode == "check":
        for name in smalls:
            assert f"{name}:7:9: SSC001" in stdout
    elif mode == "dry-run":
        for name in smalls:
            assert f"+++ b/{name}" in stdout
            assert (tmp_path / name).read_bytes() == SMALL
    else:
        for name in smalls:
            assert b"run_coroutine_sync(self.asyncSetUp())" in (tmp_path / name).read_bytes()
            assert (tmp_path / f"{name}.backup").read_bytes() == SMALL
    assert (tmp_path / "clean.py").read_bytes() == b"x = 1\n"


@pytest.mark.timeout(120)
def test_a_stuck_worker_is_killed_not_waited_for() -> None:
    """The pool's kill path: a worker busy in a call its own timer cannot stop is ended from
    outside at once, its work fails with BrokenProcessPool, and no process is left behind."""
    from concurrent.futures.process import BrokenProcessPool

    from ssot_codemod.parallel import kill, new_pool

    pool = new_pool(1)
    future = pool.submit(time.sleep, 600)
    deadline_at = time.monotonic() + 60
    while not future.running() and time.monotonic() < deadline_at:
        time.sleep(0.05)
    processes = list(pool._processes.values())  # type: ignore[attr-defined]
    assert processes
    started = time.monotonic()
    kill(pool)
    with pytest.raises(BrokenProcessPool):
        future.result(timeout=60)
    assert time.monotonic() - started < 60  # liveness: not the 600 s of the sleep
    for process in processes:
        process.join(timeout=30)
        assert not _still_running(process.pid)


def _still_running(pid: int | None) -> bool:
    """Whether *pid* is a live process. ``Process.is_alive()`` cannot tell once the pool's own
    manager thread has reaped the worker (its ``waitpid`` then fails, which multiprocessing
    reads as "still running"), so ask the system: gone, or a zombie, is not running."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: signal 0 tells whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


@pytest.mark.timeout(240)
def test_without_a_timer_the_budget_uses_a_killable_worker(
    tmp_path: Path, big_module: bytes
) -> None:
    """From a thread other than the main one no SIGALRM can stop the work, so even ``-j 1``
    runs budgeted files in a worker process, which is replaced when a file overruns."""
    import threading

    _tree(tmp_path, big_module)
    out: dict[str, RunResult] = {}

    def run() -> None:
        out["result"] = check_paths([tmp_path], Options(jobs=1, file_timeout=1))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(200)
    result = out["result"]
    errors = {f.path.name: f.error or "" for f in result.files if f.status == "error"}
    assert list(errors) == ["big.py"]
    assert errors["big.py"].startswith("gave up after 1 s")
    smalls = [f for f in result.files if f.path.name.startswith("small_")]
    assert len(smalls) == 9 and all(f.findings for f in smalls)
