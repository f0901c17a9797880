"""Inserted code is reviewed code: no rewrite adds a linter finding.

For every rewrite the test suite knows (each ``tests/fixtures/**/<case>.expected.py`` against
its ``<case>.py``, and every file ``apply`` changes in ``examples/ssot_project``), ruff with an
unconfigured flake8's view (E, W, F, I and B at 79 columns, no project configuration) must not
report more findings of any code for the rewritten file than for the original (W191 aside in
files that are already indented with tabs: the helper follows the file's indentation).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ssot_codemod.api import Options, apply_paths

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLE = ROOT / "examples" / "ssot_project"

RUFF = [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--exit-zero"]
SELECT = ["--select", "E,W,F,I,B", "--line-length", "79", "--output-format", "json"]


def ruff_codes(paths: list[Path]) -> dict[Path, Counter[str]]:
    """Finding codes per file, from one ruff run over all *paths*."""
    completed = subprocess.run(
        [*RUFF, *SELECT, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    counts: dict[Path, Counter[str]] = {path.resolve(): Counter() for path in paths}
    for finding in json.loads(completed.stdout):
        counts[Path(finding["filename"]).resolve()][finding["code"] or "syntax"] += 1
    return counts


# A file indented with tabs already has W191 on every indented line; the helper follows the
# file's indentation (as a person editing it would), so more of them are not an addition.
_STYLE_OF_THE_FILE = ("W191",)


def added(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    return {
        code: n - before[code]
        for code, n in after.items()
        if n > before[code] and not (code in _STYLE_OF_THE_FILE and before[code])
    }


def fixture_pairs() -> list[tuple[Path, Path]]:
    pairs = []
    for expected in sorted(FIXTURES.rglob("*.expected.py")):
        case = expected.with_name(expected.name[: -len(".expected.py")] + ".py")
        if case.is_file():
            pairs.append((case, expected))
    return pairs


def test_no_fixture_rewrite_adds_a_ruff_finding() -> None:
    pairs = fixture_pairs()
    assert len(pairs) > 30
    counts = ruff_codes([path for pair in pairs for path in pair])
    problems = {
        str(expected.relative_to(ROOT)): extra
        for case, expected in pairs
        if (extra := added(counts[case.resolve()], counts[expected.resolve()]))
    }
    assert problems == {}


def test_no_example_project_rewrite_adds_a_ruff_finding(tmp_path: Path) -> None:
    project = tmp_path / "ssot_project"
    original = tmp_path / "original"
    shutil.copytree(EXAMPLE, project)
    shutil.copytree(EXAMPLE, original)
    result = apply_paths([project], Options(jobs=1))
    changed = [f.path for f in result.files if f.status == "changed"]
    assert changed, "the example project has bridges to rewrite"
    before = [original / path.relative_to(project) for path in changed]
    counts = ruff_codes([*changed, *before])
    problems = {
        str(path.relative_to(project)): extra
        for path, old in zip(changed, before)
        if (extra := added(counts[old.resolve()], counts[path.resolve()]))
    }
    assert problems == {}


def test_the_check_itself_sees_an_added_finding(tmp_path: Path) -> None:
    """The comparison fails on an addition (here: the old helper's B006 and E501)."""
    before = tmp_path / "before.py"
    after = tmp_path / "after.py"
    before.write_text("import os\n\nprint(os.sep)\n")
    after.write_text(
        "import os\n\nprint(os.sep)\n\n\n"
        "def run_coroutine_sync(coro, loop=None, *, worker_timeout=300.0, _running=set()):\n"
        "    return coro, loop, worker_timeout, _running\n"
    )
    counts = ruff_codes([before, after])
    assert added(counts[before.resolve()], counts[after.resolve()]) == {"B006": 1, "E501": 1}


@pytest.mark.parametrize("case", ["", "x = 1\n"])
def test_helper_module_file_is_lint_clean(tmp_path: Path, case: str) -> None:
    from ssot_codemod.helper_module import new_module_text

    path = tmp_path / "compat.py"
    path.write_text(new_module_text("tests.compat") + case)
    assert ruff_codes([path])[path.resolve()] == Counter()
