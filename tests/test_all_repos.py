"""``ssot-codemod-all-repos``: a fleet of local git repositories, all-repos' ``json_file`` source
and ``merge_to_master`` push; each remote's master is checked after the run.

No network: the remotes are bare repositories in tmp_path. ``all-repos-clone`` and the autofixer
run as the installed console scripts (one test runs ``main(argv)`` in-process).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssot_codemod.engine import fix_source

pytest.importorskip("all_repos", reason="all-repos needs Python 3.10+")

BIN = Path(sys.executable).parent
PY = shlex.quote(sys.executable)
# Each repository's own tests, run in the rewritten clone by --verify and in a clone of the
# pushed master afterwards.
UNITTEST = f"{PY} -m unittest discover -s tests -t ."

BRIDGE = """\
import asyncio
import unittest


class BaseTestCase(unittest.TestCase):
    def setUp(self):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.asyncSetUp())
        finally:
            loop.close()

    async def asyncSetUp(self):
        self.ready = True


class TestReady(BaseTestCase):
    def test_ready(self):
        self.assertTrue(self.ready)
"""

# Fails before the fix (asyncSetUp re-enters setUp: 'This event loop is already running' /
# 'Cannot run the event loop while another loop is running'), passes after it.
REENTRY = """\
import asyncio
import unittest


class Base(unittest.TestCase):
    def setUp(self):
        self.events = ["setUp"]
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.asyncSetUp())
        finally:
            loop.close()

    async def asyncSetUp(self):
        pass


class TestSub(Base):
    async def asyncSetUp(self):
        if hasattr(super(), "setUp"):
            super().setUp()
        self.events.append("asyncSetUp")

    def test_events(self):
        self.assertEqual(self.events, ["setUp", "asyncSetUp"])
"""

CLEAN = """\
import unittest


class TestPlain(unittest.TestCase):
    def setUp(self):
        self.value = 1

    def test_value(self):
        self.assertEqual(self.value, 1)
"""

# Passes the byte gate (asyncSetUp, setUp) but has nothing to fix.
NEAR_MISS = """\
import asyncio
import unittest


class TestNative(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.ready = True

    async def test_ready(self):
        self.assertTrue(self.ready)


class TestOtherHook(unittest.TestCase):
    def setUp(self):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(self.setUpAsync())
        loop.close()

    async def setUpAsync(self):
        self.ready = True

    def test_ready(self):
        self.assertTrue(self.ready)
"""

# A bridge, and a test that fails whatever the codemod does: --verify must reject this one.
BROKEN = (
    BRIDGE
    + """

class TestBroken(unittest.TestCase):
    def test_always_fails(self):
        self.assertEqual(1, 2)
"""
)

LEGACY_CONFIG = """\
[tool.ssot-codemod]
exclude = ["legacy/"]
"""

REPOS: dict[str, dict[str, str]] = {
    "bridge": {
        "tests/__init__.py": "",
        "tests/test_base.py": BRIDGE,
        # The repository's own configuration excludes legacy/: left as it is.
        "pyproject.toml": LEGACY_CONFIG,
        "legacy/__init__.py": "",
        "legacy/test_old.py": BRIDGE,
    },
    "reentry": {"tests/__init__.py": "", "tests/test_sub.py": REENTRY},
    "clean": {"tests/__init__.py": "", "tests/test_plain.py": CLEAN},
    "nearmiss": {"tests/__init__.py": "", "tests/test_native.py": NEAR_MISS},
}


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An isolated git identity and configuration, for subprocesses and in-process runs."""
    home = tmp_path / "home"
    home.mkdir()
    settings = {
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Fleet Tester",
        "GIT_AUTHOR_EMAIL": "fleet@example.invalid",
        "GIT_COMMITTER_NAME": "Fleet Tester",
        "GIT_COMMITTER_EMAIL": "fleet@example.invalid",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALL_REPOS_CONFIG_FILENAME", raising=False)
    return {**os.environ, **settings}


def git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ("git", *args), cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


class Fleet:
    """Bare remotes, an all-repos config listing them, and its clones."""

    def __init__(self, root: Path, env: dict[str, str], repos: dict[str, dict[str, str]]) -> None:
        self.root = root
        self.env = env
        self.remotes: dict[str, Path] = {}
        for name, files in repos.items():
            work = root / "work" / name
            for rel, text in files.items():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / rel).write_text(text)
            git("init", "--quiet", "-b", "master", cwd=work, env=env)
            git("add", ".", cwd=work, env=env)
            git("commit", "--quiet", "-m", "initial", cwd=work, env=env)
            bare = root / "remotes" / f"{name}.git"
            bare.parent.mkdir(exist_ok=True)
            git("clone", "--quiet", "--bare", str(work), str(bare), cwd=root, env=env)
            self.remotes[name] = bare
        (root / "repos.json").write_text(json.dumps({n: str(p) for n, p in self.remotes.items()}))
        self.config = root / "all-repos.json"
        self.config.write_text(
            json.dumps(
                {
                    "output_dir": "output",
                    "source": "all_repos.source.json_file",
                    "source_settings": {"filename": "repos.json"},  # as in the README
                    "push": "all_repos.push.merge_to_master",
                    "push_settings": {},
                }
            )
        )
        self.config.chmod(0o600)  # all-repos refuses a config others can read
        self.clone()
        self.initial = self.heads()

    def clone(self) -> None:
        self.run("all-repos-clone", "-C", str(self.config))

    def run(
        self, script: str, *args: str, check: bool = True, answers: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            (str(BIN / script), *args),
            cwd=self.root,
            env=self.env,
            input=answers,
            stdin=None if answers is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=240,
        )
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def fixer(self, *args: str, answers: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(
            "ssot-codemod-all-repos", "-C", str(self.config), *args, check=False, answers=answers
        )

    def heads(self) -> dict[str, str]:
        return {
            name: git("rev-parse", "master", cwd=bare, env=self.env).strip()
            for name, bare in self.remotes.items()
        }

    def files(self, name: str) -> list[str]:
        out = git("ls-tree", "-r", "--name-only", "master", cwd=self.remotes[name], env=self.env)
        return out.splitlines()

    def show(self, name: str, path: str) -> str:
        return git("show", f"master:{path}", cwd=self.remotes[name], env=self.env)

    def fix_message(self, name: str) -> str:
        # Only commits made since the fleet was created: with equal commit dates (all in one
        # second), ``git log -1`` may otherwise list the initial commit first.
        out = git(
            "log",
            "-1",
            "--no-merges",
            "--format=%B",
            "master",
            "--not",
            self.initial[name],
            cwd=self.remotes[name],
            env=self.env,
        )
        return out

    def checkout(self, name: str) -> Path:
        """A fresh clone of the remote's master: what a colleague would pull."""
        dest = self.root / "pulled" / name
        git("clone", "--quiet", str(self.remotes[name]), str(dest), cwd=self.root, env=self.env)
        return dest


@pytest.fixture
def fleet(tmp_path: Path, git_env: dict[str, str]) -> Iterator[Fleet]:
    yield Fleet(tmp_path, git_env, REPOS)


def fixed(text: str, helper_module: str | None = None) -> str:
    """What ssot-codemod makes of *text* (the oracle for the pushed file)."""
    return fix_source(text, helper_module=helper_module).code


def run_tests(directory: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        shlex.split(UNITTEST), cwd=directory, env=env, capture_output=True, text=True, timeout=120
    )


def assert_no_leftovers(fleet: Fleet) -> None:
    for name in fleet.remotes:
        leftovers = [f for f in fleet.files(name) if f.endswith(".backup") or ".ssot-codemod" in f]
        assert leftovers == [], name


# --------------------------------------------------------------------------------------------


def test_fixes_and_pushes_only_the_repositories_with_something_to_fix(fleet: Fleet) -> None:
    done = fleet.fixer("-j", "2")
    assert done.returncode == 0, done.stdout + done.stderr

    heads = fleet.heads()
    assert heads["clean"] == fleet.initial["clean"]
    assert heads["nearmiss"] == fleet.initial["nearmiss"]
    assert heads["bridge"] != fleet.initial["bridge"]
    assert heads["reentry"] != fleet.initial["reentry"]

    assert fleet.show("bridge", "tests/test_base.py") == fixed(BRIDGE) != BRIDGE
    assert fleet.show("bridge", "legacy/test_old.py") == BRIDGE  # the repository's exclude
    assert fleet.show("reentry", "tests/test_sub.py") == fixed(REENTRY) != REENTRY
    assert_no_leftovers(fleet)
    assert sorted(fleet.files("bridge")) == sorted(REPOS["bridge"])

    message = fleet.fix_message("reentry")
    assert message.startswith("ssot-codemod: fix hand-rolled async setUp bridges\n")
    assert "fixed 2 findings in 1 file" in message
    assert "- SSC001 async-hook-bridge: 1" in message
    assert "- SSC002 sync-setup-from-async-hook: 1" in message
    assert "- tests/test_sub.py" in message
    bridge_message = fleet.fix_message("bridge")
    assert "- SSC001 async-hook-bridge: 1" in bridge_message
    assert "SSC002" not in bridge_message and "legacy" not in bridge_message

    # What was pushed works: the re-entry tests failed before and pass in a fresh clone now.
    assert run_tests(fleet.root / "work" / "reentry", fleet.env).returncode != 0
    for name in ("bridge", "reentry"):
        pulled = run_tests(fleet.checkout(name), fleet.env)
        assert pulled.returncode == 0, pulled.stderr

    assert "4 repositories scanned: 2 fixed, 0 skipped, 2 with nothing to fix" in done.stderr
    assert "findings fixed: SSC001×2, SSC002×1" in done.stderr

    # A second run, after all-repos-clone fetched the fixes, has nothing left to do.
    fleet.clone()
    after = fleet.heads()
    again = fleet.fixer()
    assert again.returncode == 0, again.stdout + again.stderr
    assert fleet.heads() == after
    assert "0 fixed, 0 skipped, 4 with nothing to fix" in again.stderr


def test_dry_run_shows_the_diffs_and_pushes_nothing(
    fleet: Fleet, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssot_codemod.all_repos_fixer import main

    monkeypatch.chdir(fleet.root)
    assert main(["-C", str(fleet.config), "--dry-run"]) == 0
    out, err = capfd.readouterr()  # git writes the diffs to fd 1 itself

    assert fleet.heads() == fleet.initial
    assert "-            loop.run_until_complete(self.asyncSetUp())" in out
    assert "+            run_coroutine_sync(self.asyncSetUp(), loop)" in out
    assert "-            super().setUp()" in out
    assert "4 repositories scanned: 2 would fix, 0 skipped, 2 with nothing to fix" in err
    assert "findings would fix: SSC001×2, SSC002×1" in err


def test_failing_verify_leaves_that_remote_unchanged(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    fleet = Fleet(
        tmp_path,
        git_env,
        {
            "bridge": REPOS["bridge"],
            "reentry": REPOS["reentry"],
            "broken": {"tests/__init__.py": "", "tests/test_base.py": BROKEN},
        },
    )
    # The verify command scribbles on a tracked file, then runs the repository's tests.
    scribble = "open('tests/__init__.py', 'w').write('# scribbled')"
    run_after = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
    verify = f'{PY} -c "{scribble}; {run_after}" {UNITTEST}'
    done = fleet.fixer("--verify", verify)
    assert done.returncode == 1, done.stdout + done.stderr

    heads = fleet.heads()
    assert heads["broken"] == fleet.initial["broken"]
    # The re-entry suite fails on the original code: its verify passed on the rewrite.
    assert heads["reentry"] != fleet.initial["reentry"]
    assert heads["bridge"] != fleet.initial["bridge"]
    assert fleet.show("reentry", "tests/test_sub.py") == fixed(REENTRY)
    assert_no_leftovers(fleet)
    assert fleet.show("reentry", "tests/__init__.py") == ""
    assert f"Verified with: {verify}" in fleet.fix_message("reentry")

    assert "3 repositories scanned: 2 fixed, 1 skipped, 0 with nothing to fix" in done.stderr
    broken = str(fleet.root / "output" / "broken")
    assert f"skipped: {broken}: --verify failed: {verify} exited with status 1" in done.stderr
    assert "rolled back 1 file" in done.stdout
    assert "FAIL: test_always_fails" in done.stdout  # the verify output's tail, in its section


def test_helper_module_is_committed_with_the_rewrite(fleet: Fleet) -> None:
    # The verify command also scribbles on a tracked file: that must not be committed.
    scribble = f"{PY} -c \"open('tests/__init__.py', 'w').write('# generated')\""
    reentry = str(fleet.root / "output" / "reentry")
    done = fleet.fixer(
        "--helper-module", "testing_compat", "--repos", reentry, "--verify", scribble
    )
    assert done.returncode == 0, done.stdout + done.stderr

    heads = fleet.heads()
    assert {n for n in heads if heads[n] != fleet.initial[n]} == {"reentry"}
    assert "testing_compat.py" in fleet.files("reentry")
    rewritten = fleet.show("reentry", "tests/test_sub.py")
    assert rewritten == fixed(REENTRY, helper_module="testing_compat")
    assert "from testing_compat import run_coroutine_sync" in rewritten
    assert_no_leftovers(fleet)
    assert fleet.show("reentry", "tests/__init__.py") == ""
    assert "not committed (not written by ssot-codemod): tests/__init__.py" in done.stdout
    pulled = run_tests(fleet.checkout("reentry"), fleet.env)
    assert pulled.returncode == 0, pulled.stderr
    assert "1 repository scanned: 1 fixed" in done.stderr


def test_a_default_branch_that_moved_since_the_clone_is_skipped(fleet: Fleet) -> None:
    # Someone pushes another bridge after all-repos-clone: the planned commit message would be
    # wrong, so the repository is skipped with the reason, and the next clone + run fixes it.
    work = fleet.root / "work" / "bridge"
    (work / "tests" / "test_more.py").write_text(BRIDGE)
    git("add", ".", cwd=work, env=fleet.env)
    git("commit", "--quiet", "-m", "more", cwd=work, env=fleet.env)
    git("push", "--quiet", str(fleet.remotes["bridge"]), "master", cwd=work, env=fleet.env)
    moved = fleet.heads()

    done = fleet.fixer("--limit", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert fleet.heads() == moved
    assert "the default branch differs from the all-repos clone" in done.stderr
    assert "not processed (--limit 1)" in done.stderr  # reentry, the second one with a fix

    fleet.clone()
    again = fleet.fixer()
    assert again.returncode == 0, again.stdout + again.stderr
    assert fleet.show("bridge", "tests/test_more.py") == fixed(BRIDGE)
    assert "findings fixed: SSC001×3, SSC002×1" in again.stderr


def test_interactive_pushes_what_is_approved_and_reports_what_is_declined(fleet: Fleet) -> None:
    # all-repos' own prompt (-i): one answer per repository with a fix, in plan order.
    done = fleet.fixer("-i", answers="y\nn\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Looks good [y,n,s,q,?]?") == 2, done.stdout
    heads = fleet.heads()
    assert heads["bridge"] != fleet.initial["bridge"]
    assert fleet.show("bridge", "tests/test_base.py") == fixed(BRIDGE)
    assert heads["reentry"] == fleet.initial["reentry"]
    assert "4 repositories scanned: 1 fixed, 1 skipped, 2 with nothing to fix" in done.stderr
    assert "declined: " in done.stderr and "reentry: not approved" in done.stderr
    assert "findings fixed: SSC001×1\n" in done.stderr
    assert_no_leftovers(fleet)
