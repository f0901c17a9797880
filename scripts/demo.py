"""End-to-end demo of ssot-codemod on the bundled SSOT example (``make demo``).

Works on a temporary copy of ``examples/ssot_project`` and walks through:

1. the example's tests fail with "This event loop is already running";
2. ``ssot-codemod apply --dry-run .`` shows the diff (exit 1, nothing written);
3. ``ssot-codemod apply .`` rewrites the files (exit 0, ``*.backup`` kept);
4. the tests pass; a second dry run finds nothing left to change;
5. ``ssot-codemod revert .`` (exit 0) restores every file byte for byte (sha256),
   and no ``*.backup`` remains;
6. ``ssot-codemod check .`` counts the async tests that never ran (they sit in test modules
   that subclass the framework from other files);
7. ``ssot-codemod apply --unsafe-fixes .`` fixes them at the root: one file, the framework
   module, is rewritten (its ``SSotAsyncTestCase`` is rebased on ``IsolatedAsyncioTestCase``);
8. the canary async tests (plain, ``@pytest.mark.asyncio``, ``@patch``) now run and fail,
   the other tests still pass;
9. adoption: ``ssot-codemod quarantine --run "python -m pytest -q" .`` marks the 3 canaries
   ``@unittest.skip`` (baseline ``.ssot-quarantine.json``) and reports the 2 plain functions it
   cannot mark; the demo mends those by hand (``await case.asyncSetUp()``); the suite is green;
   ``ssot-codemod guard .`` appends the guard to ``pytest.ini``; a newly added plain-TestCase
   async test (plain, ``@patch``, ``@pytest.mark.asyncio``) fails the run;
10. the demo undoes its own edit, ``revert`` restores apply + quarantine + guard byte for byte
   and removes the quarantine baseline (no marker is left for it to list).

Every step is checked, so the script doubles as an end-to-end test: it exits 1 as
soon as a step does not behave as expected (the copy is then kept for inspection).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ssot_project"
ERROR_TEXT = "This event loop is already running"
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
CODEMOD = [sys.executable, "-m", "ssot_codemod"]
# Never part of the example; created by running it.
JUNK_DIRS = {"__pycache__", ".pytest_cache"}
# The codemod's journal (cli.md); tolerated after revert, but reported.
JOURNAL_DIR = ".ssot-codemod"
# The results cache `check` writes (like .ruff_cache; it ignores itself); tolerated, reported.
CACHE_DIR = ".ssot_codemod_cache"
COMMAND_TIMEOUT = 300
TAIL_LINES = 22
MAX_DIFF_LINES = 200
# pytest's "____ test name ____" section headers
HEADER = re.compile(r"^_{3,} .+ _{3,}$")
# pytest's final "11 failed, 1 error in 1.05s" line
RESULT_LINE = re.compile(r"\d+ (failed|passed|errors?)\b.* in [\d.]+s")
# pytest -rA summary lines: "FAILED tests/x.py::Class::test_name - message"
OUTCOME_LINE = re.compile(r"^(PASSED|FAILED|ERROR) (\S+?)::(?:\w+::)?(test_\w+)", re.M)
# pytest's warning for an async test method that a plain TestCase called but never awaited
NEVER_AWAITED = re.compile(r"RuntimeWarning: coroutine '(\w+\.test_\w+)' was never awaited")
FRAMEWORK = "test_framework/ssot/base_test_case.py"
CANARY_MODULE = "tests/golden_path/test_refund_canaries.py"
CANARY_PREFIX = "test_canary_"
CANARY_MESSAGE = "canary: "
# Async code that calls setUp() itself: after the rebase setUp no longer runs asyncSetUp (the
# runner awaits it), so these need ``await case.asyncSetUp()`` - form C is opt-in for this reason.
SETUP_FROM_ASYNC_MODULE = "tests/golden_path/test_async_consumers.py"
# Adoption (issue 15): the quarantine baseline, the config guard writes, and a test added later.
BASELINE = ".ssot-quarantine.json"
PYTEST_INI = "pytest.ini"
ADDED_TEST = "tests/golden_path/test_added_later.py"
ADDED_ASYNC = ("test_marked_asyncio", "test_patched", "test_plain")
ADDED_SOURCE = """\
import unittest
from unittest.mock import patch

import pytest


class AddedLaterTest(unittest.TestCase):  # a plain TestCase: nothing awaits these
    async def test_plain(self):
        self.assertTrue(True)

    @patch("acme.services.asyncio.sleep")
    async def test_patched(self, sleep):
        self.assertTrue(True)

    @pytest.mark.asyncio
    async def test_marked_asyncio(self):
        self.assertTrue(True)

    def test_sync(self):
        self.assertTrue(True)
"""


class DemoFailure(Exception):
    """A step did not behave as documented."""


def _env(columns: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep the copy free of __pycache__
    env["NO_COLOR"] = "1"  # plain output from the subprocesses; we colour it ourselves
    env["COLUMNS"] = str(columns)  # pytest sizes its summary lines to our panels
    return env


def run(cmd: Sequence[str], cwd: Path, columns: int = 100) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(cmd),
            cwd=cwd,
            env=_env(columns),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise DemoFailure(
            f"`{shown(cmd)}` did not finish within {COMMAND_TIMEOUT}s (hang or deadlock?)"
        ) from exc


def shown(cmd: Sequence[str]) -> str:
    """The command as a person would type it."""
    if list(cmd[: len(CODEMOD)]) == CODEMOD:
        return " ".join(["ssot-codemod", *cmd[len(CODEMOD) :]])
    if list(cmd[: len(PYTEST)]) == PYTEST:
        return " ".join(["python -m pytest", *cmd[3:]])
    return " ".join(cmd)


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative POSIX path -> hex digest)."""
    digests: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in JUNK_DIRS for part in rel.parts) or path.is_dir():
            continue
        digests[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


class Demo:
    def __init__(self, console: Console, workdir: Path) -> None:
        self.console = console
        self.workdir = workdir
        self.copy = workdir / EXAMPLE.name
        self.step_no = 0
        self.results: list[tuple[str, bool, str]] = []

    # -- presentation ----------------------------------------------------------------

    def step(self, title: str) -> None:
        self.step_no += 1
        self.console.print()
        self.console.print(Rule(f"[bold]{self.step_no}. {title}", align="left"))

    def command(self, cmd: Sequence[str]) -> None:
        self.console.print(Text.assemble(("$ ", "dim"), (shown(cmd), "bold cyan")))

    def ok(self, what: str, detail: str = "") -> None:
        self.results.append((what, True, detail))
        self.console.print(Text.assemble(("  ✔ ", "bold green"), what))

    def fail(self, what: str, detail: str = "") -> DemoFailure:
        self.results.append((what, False, detail))
        self.console.print(Text.assemble(("  ✘ ", "bold red"), what))
        return DemoFailure(f"{what}: {detail}" if detail else what)

    def styled(self, line: str) -> Text:
        if ERROR_TEXT in line:
            text = Text(line, style="red")
            text.highlight_words([ERROR_TEXT], style="bold white on red")
        elif line.startswith(("FAILED", "ERROR")) or " failed" in line or " error" in line:
            text = Text(line, style="red")
        elif " passed" in line:
            text = Text(line, style="bold green")
        else:
            text = Text(line)
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def show_output(
        self, output: str, style: str, tail: int = TAIL_LINES, title: str | None = None
    ) -> None:
        lines = output.rstrip("\n").splitlines()
        rendered = []
        if len(lines) > tail:
            rendered.append(Text(f"… {len(lines) - tail} lines above …", style="dim"))
            lines = lines[-tail:]
        rendered.extend(self.styled(line) for line in lines)
        self.console.print(Panel(Group(*rendered), border_style=style, padding=(0, 1), title=title))

    def show_red_run(self, output: str) -> None:
        """The first traceback through the re-entry, then pytest's short summary."""
        lines = output.splitlines()
        blocks: list[list[str]] = []
        for line in lines:
            if HEADER.match(line) or not blocks:
                blocks.append([])
            blocks[-1].append(line)
        with_error = [b for b in blocks if any(ERROR_TEXT in line for line in b)]
        reentry = [b for b in with_error if any("super().setUp()" in line for line in b)]
        if reentry or with_error:
            block = (reentry or with_error)[0]
            last = max(
                i for i, line in enumerate(block) if line.startswith("E ") or ERROR_TEXT in line
            )
            self.show_output("\n".join(block[: last + 1]), "red", tail=40, title="first failure")
        start = next((i for i, line in enumerate(lines) if "short test summary" in line), None)
        if start is None:
            self.show_output(output, "red", title="pytest output (tail)")
            return
        summary = [
            line
            for line in lines[start + 1 :]
            if line.startswith(("FAILED", "ERROR")) or RESULT_LINE.search(line)
        ]
        self.show_output("\n".join(summary), "red", tail=40, title="short test summary")

    def show_diff(self, diff: str) -> None:
        lines = diff.rstrip("\n").splitlines()
        hidden = max(0, len(lines) - MAX_DIFF_LINES)
        body = "\n".join(lines[:MAX_DIFF_LINES])
        self.console.print(
            Syntax(body, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
        )
        if hidden:
            self.console.print(f"[dim]… {hidden} more diff lines not shown …[/]")

    # -- the steps -----------------------------------------------------------------

    def prepare(self) -> dict[str, str]:
        self.step("Copy the example to a temporary directory")
        if not EXAMPLE.is_dir():
            raise self.fail("example not found", str(EXAMPLE))
        shutil.copytree(EXAMPLE, self.copy, ignore=shutil.ignore_patterns(*JUNK_DIRS, "*.pyc"))
        original = snapshot(EXAMPLE)
        if snapshot(self.copy) != original:
            raise self.fail("the copy differs from the example")
        self.console.print(f"  {EXAMPLE.relative_to(ROOT)} → [bold]{self.copy}[/]")
        self.ok(f"copy: {len(original)} files")
        return original

    def tests_red(self) -> None:
        self.step("Run the example's tests: they fail")
        self.command(PYTEST)
        proc = run(PYTEST, self.copy, columns=self.console.width - 4)
        output = proc.stdout + proc.stderr
        self.show_red_run(output)
        hits = sum(ERROR_TEXT in line for line in output.splitlines())
        if proc.returncode == 0:
            raise self.fail("the tests passed before the codemod", "expected them to fail")
        if proc.returncode not in (1,):
            raise self.fail(f"pytest exited {proc.returncode}", "expected 1 (tests failed)")
        if hits == 0:
            raise self.fail("the tests failed, but not with the expected error", ERROR_TEXT)
        self.ok(f"before: tests red (exit {proc.returncode}), {hits} lines say {ERROR_TEXT!r}")

    def cli_available(self) -> None:
        proc = run([*CODEMOD, "--help"], self.copy)
        if proc.returncode != 0:
            self.console.print(Panel(proc.stderr.strip() or proc.stdout, border_style="red"))
            raise self.fail("`python -m ssot_codemod --help` does not work")

    def dry_run(self, before: dict[str, str]) -> None:
        self.step("Preview the rewrite: ssot-codemod apply --dry-run .")
        cmd = [*CODEMOD, "apply", "--dry-run", "."]
        self.command(cmd)
        proc = run(cmd, self.copy)
        if proc.stdout.strip():
            self.show_diff(proc.stdout)
        if proc.stderr.strip():
            self.console.print(Text(proc.stderr.rstrip(), style="dim"))
        if proc.returncode != 1:
            raise self.fail(
                f"apply --dry-run exited {proc.returncode}",
                "expected 1 (it would change something)",
            )
        if "@@" not in proc.stdout and "@@" not in proc.stderr:
            raise self.fail("apply --dry-run printed no unified diff")
        if snapshot(self.copy) != before:
            raise self.fail("apply --dry-run modified files", "a dry run must write nothing")
        self.ok("apply --dry-run: exit 1 (would change), diff shown, nothing written")

    def apply(self, before: dict[str, str]) -> None:
        self.step("Rewrite: ssot-codemod apply .")
        cmd = [*CODEMOD, "apply", "."]
        self.command(cmd)
        proc = run(cmd, self.copy)
        self.show_output(proc.stdout + proc.stderr, "blue", tail=40)
        if proc.returncode != 0:
            raise self.fail(f"apply exited {proc.returncode}", "expected 0")
        after = snapshot(self.copy)
        changed = sorted(p for p in before if after.get(p) != before[p])
        if not changed:
            raise self.fail("apply changed no file")
        missing = [p for p in changed if f"{p}.backup" not in after]
        if missing:
            raise self.fail("no .backup for changed files", ", ".join(missing))
        wrong = [p for p in changed if after[f"{p}.backup"] != before[p]]
        if wrong:
            raise self.fail(".backup does not hold the original bytes", ", ".join(wrong))
        for path in changed:
            self.console.print(f"  rewritten: [bold]{path}[/]  (original in {path}.backup)")
        self.ok(f"apply: exit 0, {len(changed)} file(s) rewritten, originals in *.backup")

    def tests_green(self) -> None:
        self.step("Run the tests again: they pass")
        self.command(PYTEST)
        proc = run(PYTEST, self.copy, columns=self.console.width - 4)
        output = proc.stdout + proc.stderr
        self.show_output(output, "green" if proc.returncode == 0 else "red")
        if proc.returncode != 0:
            raise self.fail(f"the tests still fail after apply (pytest exit {proc.returncode})")
        if ERROR_TEXT in output:
            raise self.fail(f"{ERROR_TEXT!r} still appears in the output")
        never = sorted(set(NEVER_AWAITED.findall(output)))
        if never:
            self.console.print(
                f"  [yellow]but {len(never)} of the passing tests are async tests that never "
                "ran: pytest only warns 'coroutine ... was never awaited' (see step 9)[/]"
            )
        self.ok("after: tests green (exit 0)")

    def idempotent(self) -> None:
        self.step("Run the dry run again: nothing left to change")
        cmd = [*CODEMOD, "apply", "--dry-run", "."]
        self.command(cmd)
        proc = run(cmd, self.copy)
        if proc.returncode != 0:
            self.show_output(proc.stdout + proc.stderr, "red", tail=40)
            raise self.fail(
                f"second apply --dry-run exited {proc.returncode}", "expected 0 (idempotent)"
            )
        self.ok("apply --dry-run again: exit 0, the rewrite is idempotent")

    def revert(self) -> None:
        self.step("Undo: ssot-codemod revert .")
        cmd = [*CODEMOD, "revert", "."]
        self.command(cmd)
        proc = run(cmd, self.copy)
        self.show_output(proc.stdout + proc.stderr, "blue", tail=40)
        if proc.returncode != 0:
            raise self.fail(f"revert exited {proc.returncode}", "expected 0")
        self.ok("revert: exit 0")

    def compare(self, original: dict[str, str]) -> None:
        self.step("Compare the copy with the original example (sha256)")
        now = snapshot(self.copy)
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
        table.add_column("file")
        table.add_column("sha256", style="dim")
        table.add_column("")
        differing = []
        for path, digest in original.items():
            same = now.get(path) == digest
            if not same:
                differing.append(path)
            table.add_row(path, digest[:16], "[green]identical" if same else "[bold red]DIFFERS")
        self.console.print(table)
        backups = sorted(p for p in now if p.endswith(".backup"))
        journal = sorted(p for p in now if p.split("/")[0] == JOURNAL_DIR)
        cache = sorted(p for p in now if p.split("/")[0] == CACHE_DIR)
        extra = sorted(p for p in now if p not in original and p not in backups + journal + cache)
        if differing:
            raise self.fail("files differ from the original", ", ".join(differing))
        if backups:
            raise self.fail("*.backup files remain after revert", ", ".join(backups))
        if extra:
            raise self.fail("files that were not in the example remain", ", ".join(extra))
        if journal:
            self.console.print(f"  [dim]note: the codemod's journal remains: {', '.join(journal)}")
        if cache:
            self.console.print(f"  [dim]note: the results cache remains: {CACHE_DIR}/")
        self.ok(f"byte-identical: all {len(original)} files (sha256), no *.backup files remain")

    # -- fix at the root: the async tests that never ran ---------------------------------

    def never_ran(self) -> int:
        self.step("Count the async tests that never ran: ssot-codemod check .")
        cmd = [*CODEMOD, "check", "--output-format", "json", "."]
        self.command([*CODEMOD, "check", "."])
        proc = run(cmd, self.copy)
        if proc.returncode != 1:
            self.show_output(proc.stdout + proc.stderr, "red", tail=40)
            raise self.fail(f"check exited {proc.returncode}", "expected 1 (findings)")
        try:
            findings = json.loads(proc.stdout)
        except ValueError as exc:
            raise self.fail("check --output-format json printed no JSON", str(exc)) from exc
        ssc004 = [f for f in findings if f["code"] == "SSC004"]
        tests = [f for f in ssc004 if f["path"] != FRAMEWORK]
        roots = [f for f in ssc004 if f["path"] == FRAMEWORK]
        lines = [f"{f['path']}:{f['line']}:{f['column']}: SSC004 {f['message']}" for f in ssc004]
        self.show_output("\n".join(lines + [proc.stderr.strip()]), "yellow", tail=30)
        files = sorted({f["path"] for f in tests})
        canaries = [f for f in tests if f["path"] == CANARY_MODULE]
        if not tests:
            raise self.fail("check reported no async test that never ran")
        if len(canaries) != 3:
            raise self.fail("check did not report the three canaries", f"got {len(canaries)}")
        if not roots:
            raise self.fail(f"no root-cause finding in {FRAMEWORK}")
        not_fixable = [f for f in ssc004 if f["fix"] != "unsafe"]
        if not_fixable:
            raise self.fail(
                "SSC004 findings must be fixable with --unsafe-fixes", not_fixable[0]["message"]
            )
        self.ok(
            f"check: {len(tests)} async tests in {len(files)} files never ran "
            f"(reported PASSED), all because of one class in {FRAMEWORK}"
        )
        return len(tests)

    def root_fix(self, before: dict[str, str]) -> None:
        self.step("Fix them at the root: ssot-codemod apply --unsafe-fixes .")
        cmd = [*CODEMOD, "apply", "--unsafe-fixes", "."]
        self.command(cmd)
        proc = run(cmd, self.copy)
        self.console.print(Text(proc.stderr.rstrip(), style="dim"))
        if proc.returncode != 0:
            self.show_output(proc.stdout + proc.stderr, "red", tail=40)
            raise self.fail(f"apply --unsafe-fixes exited {proc.returncode}", "expected 0")
        after = snapshot(self.copy)
        changed = sorted(p for p in before if after.get(p) != before[p])
        if changed != [FRAMEWORK]:
            raise self.fail("expected exactly one file rewritten", ", ".join(changed) or "none")
        new = (self.copy / FRAMEWORK).read_text(encoding="utf-8")
        old = (self.copy / f"{FRAMEWORK}.backup").read_text(encoding="utf-8")
        self.show_diff(self.root_hunks(old, new))
        if "IsolatedAsyncioTestCase" not in new:
            raise self.fail("the framework was not rebased on IsolatedAsyncioTestCase")
        self.ok(f"apply --unsafe-fixes: 1 file rewritten ({FRAMEWORK}); no test module touched")

    @staticmethod
    def root_hunks(old: str, new: str) -> str:
        """The unified diff without the hunk that inserts the (long, unchanged) helper."""
        diff = list(
            difflib.unified_diff(
                old.splitlines(), new.splitlines(), f"a/{FRAMEWORK}", f"b/{FRAMEWORK}", lineterm=""
            )
        )
        kept: list[str] = diff[:2]
        hunk: list[str] = []
        for line in [*diff[2:], "@@"]:
            if line.startswith("@@"):
                if hunk and not any(h.startswith("+def run_coroutine_sync") for h in hunk):
                    kept.extend(hunk)
                hunk = []
            hunk.append(line)
        return "\n".join(kept)

    def canaries_fail(self, never_ran: int) -> None:
        self.step("Run the tests: the async tests now run, and the canaries fail")
        cmd = [*PYTEST, "-rA"]
        self.command(cmd)
        proc = run(cmd, self.copy, columns=self.console.width - 4)
        output = proc.stdout + proc.stderr
        outcomes = {f"{path}::{name}": word for word, path, name in OUTCOME_LINE.findall(output)}
        failed = sorted(t for t, word in outcomes.items() if word != "PASSED")
        canaries = [t for t in failed if t.startswith(CANARY_MODULE) and CANARY_PREFIX in t]
        from_async = [t for t in failed if t.startswith(SETUP_FROM_ASYNC_MODULE)]
        other = [t for t in failed if t not in canaries and t not in from_async]
        shown_lines = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
        shown_lines += [line for line in output.splitlines() if RESULT_LINE.search(line)][-1:]
        self.show_output("\n".join(shown_lines), "yellow", tail=30, title="pytest -rA")
        if ERROR_TEXT in output:
            raise self.fail(f"{ERROR_TEXT!r} is back")
        if proc.returncode != 1:
            raise self.fail(f"pytest exited {proc.returncode}", "expected 1 (the canaries fail)")
        if len(canaries) != 3 or output.count(CANARY_MESSAGE) < 3:
            raise self.fail("the three canaries did not fail by running", ", ".join(canaries))
        if other:
            raise self.fail("tests other than the canaries fail", ", ".join(other))
        passed = sum(1 for word in outcomes.values() if word == "PASSED")
        if passed == 0:
            raise self.fail("no test passed")
        if from_async:
            self.console.print(
                f"  [dim]{len(from_async)} test(s) in {SETUP_FROM_ASYNC_MODULE} call setUp() "
                "from async code: after the rebase setUp no longer runs asyncSetUp, so they "
                "need `await case.asyncSetUp()` (SSC001's message says so) — the reason this "
                "fix is opt-in[/]"
            )
        self.ok(
            f"after --unsafe-fixes: the 3 canaries run and fail; {passed} tests pass, "
            f"including the {never_ran - 3} other async tests that never ran before"
        )

    # -- adopting the root fix: quarantine, guard ----------------------------------------

    def quarantine(self, never_ran: int) -> None:
        self.step("Quarantine what fails on its first run: ssot-codemod quarantine --run ...")
        pytest_line = shlex.join(PYTEST)
        cmd = [*CODEMOD, "quarantine", "--output-format", "json", "--run", pytest_line, "."]
        self.command([*CODEMOD, "quarantine", "--run", '"python -m pytest -q"', "."])
        proc = run(cmd, self.copy)
        try:
            entries = json.loads(proc.stdout)["entries"]
        except (ValueError, KeyError) as exc:
            self.show_output(proc.stdout + proc.stderr, "red", tail=40)
            raise self.fail("quarantine --output-format json printed no entries", str(exc)) from exc
        lines = [f"{e['status']}: {e['test_id']} - {e['reason']}" for e in entries]
        lines += [line for line in proc.stderr.splitlines() if "quarantined" in line][-1:]
        self.show_output("\n".join(lines), "yellow", tail=30, title="quarantine")
        by_status: dict[str, list[str]] = {}
        for entry in entries:
            by_status.setdefault(entry["status"], []).append(entry["test_id"])
        marked = sorted(by_status.pop("quarantined", []))
        unmarked = sorted(by_status.pop("not-marked", []))
        canaries = [t for t in marked if t.startswith(CANARY_MODULE) and CANARY_PREFIX in t]
        if len(canaries) != 3 or marked != canaries:
            raise self.fail("quarantine did not mark exactly the 3 canaries", ", ".join(marked))
        if len(unmarked) != 2 or not all(t.startswith(SETUP_FROM_ASYNC_MODULE) for t in unmarked):
            raise self.fail(
                f"expected the 2 plain functions in {SETUP_FROM_ASYNC_MODULE} reported",
                ", ".join(unmarked),
            )
        if by_status:
            raise self.fail("unexpected quarantine outcomes", ", ".join(sorted(by_status)))
        if proc.returncode != 1:
            raise self.fail(f"quarantine exited {proc.returncode}", "expected 1 (2 not marked)")
        baseline = self.copy / BASELINE
        if json.loads(baseline.read_text(encoding="utf-8")).get("total") != 3:
            raise self.fail(f"{BASELINE} does not count 3 quarantined tests")
        self.ok(
            f"{never_ran} async tests run for the first time: {never_ran - 3} pass, the 3 that "
            f"fail are quarantined (@unittest.skip, counted in {BASELINE}); 2 plain functions "
            "that call setUp() from async code are reported, not marked (exit 1)"
        )

    def mend(self) -> None:
        self.step("Mend the 2 reported tests as SSC001 says: await case.asyncSetUp()")
        path = self.copy / SETUP_FROM_ASYNC_MODULE
        old = path.read_text(encoding="utf-8")
        new = old.replace("    case.setUp()\n", "    case.setUp()\n    await case.asyncSetUp()\n")
        if new.count("await case.asyncSetUp()") != 2:
            raise self.fail(f"{SETUP_FROM_ASYNC_MODULE} no longer has the 2 setUp() calls")
        path.write_text(new, encoding="utf-8")
        diff = difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            f"a/{SETUP_FROM_ASYNC_MODULE}",
            f"b/{SETUP_FROM_ASYNC_MODULE}",
            lineterm="",
        )
        self.show_diff("\n".join(diff))
        self.ok(f"mended by hand (the demo edits {SETUP_FROM_ASYNC_MODULE}; undone before revert)")

    def suite_green(self) -> None:
        self.step("Run the tests: green, the quarantined ones skipped with their reason")
        cmd = [*PYTEST, "-rs"]
        self.command(cmd)
        proc = run(cmd, self.copy, columns=self.console.width - 4)
        output = proc.stdout + proc.stderr
        kept = [line for line in output.splitlines() if line.startswith("SKIPPED")]
        kept += [line for line in output.splitlines() if RESULT_LINE.search(line)][-1:]
        self.show_output("\n".join(kept), "green" if proc.returncode == 0 else "red")
        if proc.returncode != 0:
            raise self.fail(f"the suite is not green after quarantine (exit {proc.returncode})")
        skipped = sum("ssot-quarantine:" in line for line in kept)
        if skipped != 3:
            raise self.fail("expected 3 tests skipped by the quarantine", f"got {skipped}")
        self.ok("the suite is green: 3 quarantined tests skipped, every other test runs")

    def guard(self) -> None:
        self.step("Guard against the next never-run async test: ssot-codemod guard .")
        cmd = [*CODEMOD, "guard", "."]
        self.command(cmd)
        before = (self.copy / PYTEST_INI).read_text(encoding="utf-8")
        proc = run(cmd, self.copy)
        self.show_output(proc.stdout + proc.stderr, "blue", tail=20)
        if proc.returncode != 0:
            raise self.fail(f"guard exited {proc.returncode}", "expected 0")
        after = (self.copy / PYTEST_INI).read_text(encoding="utf-8")
        if not after.startswith(before) or after.count("\n    error:") != 3:
            raise self.fail(f"guard did not append 3 filterwarnings entries to {PYTEST_INI}")
        self.show_diff(
            "\n".join(
                difflib.unified_diff(
                    before.splitlines(), after.splitlines(), PYTEST_INI, PYTEST_INI, lineterm=""
                )
            )
        )
        self.ok(f"guard: 3 filterwarnings entries appended to {PYTEST_INI} (backup kept)")

    def new_test_fails(self) -> None:
        self.step("Add a new async test on a plain TestCase: the guard fails the run")
        path = self.copy / ADDED_TEST
        path.write_text(ADDED_SOURCE, encoding="utf-8")
        self.console.print(Syntax(ADDED_SOURCE, "python", theme="ansi_dark"))
        cmd = [*PYTEST, "-rA"]
        self.command(cmd)
        try:
            proc = run(cmd, self.copy, columns=self.console.width - 4)
        finally:
            path.unlink()
        output = proc.stdout + proc.stderr
        outcomes = {f"{f}::{name}": word for word, f, name in OUTCOME_LINE.findall(output)}
        failed = sorted(t for t, word in outcomes.items() if word != "PASSED")
        kept = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
        kept += [line for line in output.splitlines() if RESULT_LINE.search(line)][-1:]
        self.show_output("\n".join(kept), "yellow", tail=20, title="pytest -rA")
        expected = [f"{ADDED_TEST}::{name}" for name in ADDED_ASYNC]
        if proc.returncode != 1 or failed != sorted(expected):
            raise self.fail(
                "expected exactly the 3 new async tests to fail", ", ".join(failed) or "none"
            )
        if outcomes.get(f"{ADDED_TEST}::test_sync") != "PASSED":
            raise self.fail("the new sync test did not pass under the guard")
        self.ok(
            "under the guard the 3 new plain-TestCase async tests (plain, @patch, "
            "@pytest.mark.asyncio) fail the run; the sync test beside them and the suite pass"
        )

    def undo_demo_edits(self) -> None:
        """Put back what the demo edited by hand; the codemod's own edits are revert's job."""
        shutil.copyfile(EXAMPLE / SETUP_FROM_ASYNC_MODULE, self.copy / SETUP_FROM_ASYNC_MODULE)
        self.console.print(f"  [dim]the demo restores its own edit of {SETUP_FROM_ASYNC_MODULE}")

    def baseline_removed(self) -> None:
        """``revert`` recounts the quarantine baseline above the files it restored: with every
        marker gone, the baseline goes too."""
        if (self.copy / BASELINE).exists():
            raise self.fail(f"{BASELINE} is still there after revert", "expected it removed")
        self.ok(f"revert removed {BASELINE} (no quarantined test left)")

    def summary(self, passed: bool, seconds: float) -> None:
        self.console.print()
        table = Table(show_header=False, box=None, padding=(0, 1))
        for what, ok, detail in self.results:
            mark = "[bold green]✔" if ok else "[bold red]✘"
            table.add_row(mark, what + (f" [dim]({detail})" if detail and not ok else ""))
        title = "demo passed" if passed else "demo FAILED"
        self.console.print(
            Panel(
                table,
                title=f"[bold]{title}[/] in {seconds:.1f}s",
                border_style="green" if passed else "red",
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("--no-color", action="store_true", help="plain output")
    args = parser.parse_args(argv)

    console = Console(highlight=False, no_color=args.no_color or None)
    console.print(
        Panel(
            "The SSOT test framework bridges [bold]asyncSetUp[/] with "
            "[bold]loop.run_until_complete()[/] and re-enters it from inside the loop.\n"
            "red → diff → apply → green → revert → byte-identical\n"
            "Async tests that never ran → one root fix with --unsafe-fixes → the canaries fail "
            "→ quarantine → green → guard → a new never-run test fails → revert → byte-identical",
            title="[bold]ssot-codemod demo",
            border_style="cyan",
        )
    )
    workdir = Path(tempfile.mkdtemp(prefix="ssot-demo-"))
    demo = Demo(console, workdir)
    started = time.monotonic()
    passed = False
    try:
        original = demo.prepare()
        demo.tests_red()
        demo.cli_available()
        demo.dry_run(original)
        demo.apply(original)
        demo.tests_green()
        demo.idempotent()
        demo.revert()
        demo.compare(original)
        never_ran = demo.never_ran()
        demo.root_fix(original)
        demo.canaries_fail(never_ran)
        demo.quarantine(never_ran)
        demo.mend()
        demo.suite_green()
        demo.guard()
        demo.new_test_fails()
        demo.undo_demo_edits()
        demo.revert()
        demo.baseline_removed()
        demo.compare(original)
        passed = True
    except DemoFailure as exc:
        console.print(f"\n[bold red]demo failed:[/] {exc}")
    finally:
        demo.summary(passed, time.monotonic() - started)
        if passed and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            console.print(f"[dim]copy kept in {demo.copy}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
