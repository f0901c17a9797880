"""A run that parses no file never imports LibCST (~0.3 s: as much as ruff's cold stdlib run).

Each run happens in a fresh interpreter (a subprocess through the library API), which then
reports whether ``libcst`` is in ``sys.modules``. The runs that do parse a file prove the probe
can see LibCST, and that the lazily imported rules still find what they found before.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from samples import SAMPLE

from ssot_codemod.rules import could_match

pytestmark = pytest.mark.timeout(120)

# Runs check_paths/apply_paths over argv[1] and prints what the parent asserts on.
_PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from ssot_codemod.api import Options, apply_paths, check_paths

    mode, target, cache = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    options = Options(jobs=1, cache_dir=Path(cache) if cache else None)
    if mode == "check":
        result = check_paths([target], options)
    else:
        result = apply_paths([target], options, dry_run=True)
    print(json.dumps({
        "libcst": "libcst" in sys.modules,
        "parsed": result.parsed,
        "files": len(result.files),
        "errors": [f.error for f in result.files if f.error],
        "findings": sorted(
            (path.name, f.code, f.line, f.column) for path, f in result.findings
        ),
    }))
    """
)

# No rule's needles: most files of a real tree.
PLAIN = '''\
"""Nothing a rule looks for."""
import json


def load(path):
    with open(path) as handle:
        return json.load(handle)
'''

# Every rule's needles, yet nothing to find: each prefilter (and the project index, with
# ``ast``) must say so without a parse.
NEAR_MISS = """\
import asyncio
import unittest


class Base(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.items = []

    async def asyncSetUp(self):
        await asyncio.sleep(0)

    async def asyncTearDown(self):
        await asyncio.sleep(0)

    def tearDown(self):
        self.items.clear()

    async def test_runs(self):
        self.assertEqual(self.items, [])


class Plain(unittest.TestCase):
    def setUp(self):
        self.value = 1

    def test_value(self):
        self.assertEqual(self.value, 1)
"""

# One bridge (SSC001): this file must be parsed.
BRIDGE = SAMPLE


def _probe(mode: str, target: Path, cache: Path | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, str(target), str(cache) if cache else ""],
        capture_output=True,
        text=True,
        check=False,
        cwd=target,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return report


def _tree(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'probe'\n")
    for name, text in files.items():
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("mode", ["check", "apply"])
def test_files_matching_no_needle_do_not_import_libcst(tmp_path: Path, mode: str) -> None:
    root = _tree(tmp_path / "plain", {f"mod{i}.py": PLAIN for i in range(3)})
    report = _probe(mode, root)
    assert report["files"] == 3 and report["parsed"] == 0 and not report["errors"]
    assert report["libcst"] is False


@pytest.mark.parametrize("mode", ["check", "apply"])
def test_clean_test_files_do_not_import_libcst(tmp_path: Path, mode: str) -> None:
    root = _tree(tmp_path / "clean", {"test_a.py": NEAR_MISS, "test_b.py": PLAIN})
    report = _probe(mode, root)
    assert report["files"] == 2 and report["parsed"] == 0 and not report["errors"]
    assert report["findings"] == []
    assert report["libcst"] is False


@pytest.mark.parametrize("mode", ["check", "apply"])
def test_a_run_that_parses_imports_libcst_and_finds(tmp_path: Path, mode: str) -> None:
    root = _tree(tmp_path / "bridge", {"test_bridge.py": BRIDGE, "test_clean.py": NEAR_MISS})
    report = _probe(mode, root)
    assert report["parsed"] == 1 and not report["errors"]
    assert report["findings"] == [["test_bridge.py", "SSC001", 7, 9]]
    assert report["libcst"] is True


@pytest.mark.parametrize("mode", ["check", "apply"])
def test_a_tree_gate_near_miss_does_not_import_libcst(tmp_path: Path, mode: str) -> None:
    """The stdlib's unittest/async_case.py passes SSC002's byte prefilter (it defines
    asyncSetUp and calls setUp), so it goes to the engine; the rule's gate over CPython's ast
    tree rules it out (no async hook calls a sync one) before LibCST is imported or parses it."""
    stdlib = Path(sysconfig.get_paths()["stdlib"]) / "unittest" / "async_case.py"
    if not stdlib.is_file():
        pytest.skip("no unittest/async_case.py in this interpreter's stdlib")
    data = stdlib.read_bytes()
    assert could_match(data), "the file must pass a byte prefilter for this test to mean much"
    root = _tree(tmp_path / "near", {"async_case.py": data.decode("utf-8"), "plain.py": PLAIN})
    report = _probe(mode, root)
    assert report["files"] == 2 and report["parsed"] == 0 and not report["errors"]
    assert report["findings"] == []
    assert report["libcst"] is False


def test_a_warm_check_served_from_the_cache_does_not_import_libcst(tmp_path: Path) -> None:
    root = _tree(tmp_path / "warm", {"test_bridge.py": BRIDGE, "test_clean.py": NEAR_MISS})
    cache = tmp_path / "cache"
    cold = _probe("check", root, cache)
    assert cold["libcst"] is True and cold["findings"]
    warm = _probe("check", root, cache)
    assert warm["findings"] == cold["findings"]
    assert warm["libcst"] is False


def test_cli_report_docs_and_rules_import_without_libcst() -> None:
    """What ``ssot-codemod rules``/``docs`` and the first pass use needs no LibCST."""
    code = textwrap.dedent(
        """
        import sys
        import ssot_codemod.api, ssot_codemod.cli, ssot_codemod.report, ssot_codemod.docs
        import ssot_codemod.project.view, ssot_codemod.project.run
        from ssot_codemod.rules import ALL_RULES, KNOWN_CODES, could_match, select_rules
        from ssot_codemod.docs import render_rules
        assert render_rules() and KNOWN_CODES and select_rules(["SSC"])
        assert not could_match(b"x = 1\\n", ALL_RULES)
        print("libcst" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_importing_libcst_is_not_charged_to_a_files_budget(tmp_path: Path) -> None:
    """In-process (``-j 1``), LibCST is imported when the first file passes the tree gates,
    between that file's two budgeted steps: with a budget shorter than the import itself
    (~0.15 s), a fresh process still finds the bridge instead of giving the file up."""
    root = _tree(tmp_path / "budget", {"test_bridge.py": BRIDGE})
    done = subprocess.run(
        [sys.executable, "-m", "ssot_codemod", "check", "-j", "1", "--no-cache"]
        + ["--file-timeout", "0.05", str(root)],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    assert "gave up" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    assert "test_bridge.py:7:9: SSC001" in done.stdout


def test_quarantine_that_inserts_marker_lines_does_not_import_libcst(tmp_path: Path) -> None:
    """Markers go in as lines where ``ast`` puts each failing test (the usual case: the module
    imports unittest); LibCST is imported only for unusual files and for release."""
    root = _tree(
        tmp_path / "quarantine",
        {
            "test_q.py": "import unittest\n\n\nclass TestQ(unittest.TestCase):\n"
            "    def test_broken(self):\n        self.fail()\n\n"
            "    def test_fine(self):\n        pass\n"
        },
    )
    (root / "results.xml").write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="test_q.TestQ" name="test_broken" file="test_q.py" line="5">'
        '<failure message="AssertionError: fail">tb</failure></testcase>'
        '<testcase classname="test_q.TestQ" name="test_fine" file="test_q.py" line="8"/>'
        "</testsuite></testsuites>"
    )
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from ssot_codemod.quarantine import quarantine_tests

        root = Path(sys.argv[1])
        result = quarantine_tests([root], root=root, junit_xml=root / "results.xml")
        print(result.markers, "libcst" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "False"]
    assert "ssot-quarantine:" in (root / "test_q.py").read_text()
