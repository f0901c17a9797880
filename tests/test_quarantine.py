"""quarantine / --release: proven by running real pytest and unittest on fixture projects.

The flow under test is the adoption of the root fix: before it every async test "passes"
unrun; after ``apply --unsafe-fixes`` they run and some fail; ``quarantine`` marks exactly the
failing ones so the suite is green while every other newly running test keeps running; after a
test is mended, ``--release`` lets it run again; ``revert`` puts back the original bytes.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from adoption_project import (
    PYTEST,
    SINGLE_MODULE_FAILING,
    SINGLE_MODULE_FLAKY,
    child_env,
    run_pytest,
    run_unittest,
    snapshot,
    ssot,
    write_multi_module_project,
    write_single_module_project,
)

from ssot_codemod.quarantine import BASELINE_NAME, quarantine_tests, read_baseline
from ssot_codemod.quarantine_markers import TAG, add_markers, find_markers, remove_markers

pytestmark = pytest.mark.timeout(600)

MARKER_PREFIX = f'@unittest.skip("{TAG}'


def _changed_lines(before: bytes, after: bytes) -> list[str]:
    diff = difflib.ndiff(before.decode().splitlines(), after.decode().splitlines())
    return [line for line in diff if line[:2] in ("+ ", "- ")]


def _only_markers_added(before: bytes, after: bytes) -> None:
    for line in _changed_lines(before, after):
        assert line.startswith("+ "), f"a line was removed or changed: {line!r}"
        assert line[2:].strip().startswith(MARKER_PREFIX) or line[2:] == "import unittest", line


# --------------------------------------------------------------------------------------------
# the whole flow on the single-module project (what apply --unsafe-fixes rebases today)


def test_single_module_apply_quarantine_release(tmp_path: Path) -> None:
    project = write_single_module_project(tmp_path / "proj")
    test_file = project / "tests" / "test_orders.py"

    before = run_pytest(project)
    assert before.returncode == 0, before.output
    assert not before.ids("failed") and not before.ids("error")

    applied = ssot(project, "apply", "--unsafe-fixes", "tests")
    assert applied.returncode == 0, applied.stderr
    after_apply = test_file.read_bytes()
    assert b"IsolatedAsyncioTestCase" in after_apply

    broken = run_pytest(project)
    assert broken.returncode != 0
    assert broken.ids("failed") | broken.ids("error") == set(SINGLE_MODULE_FAILING)

    flaky_env = child_env(ADOPTION_FLAKY_MARKER=str(tmp_path / "flaky.seen"))
    quarantined = ssot(project, "quarantine", "--run", f"{PYTEST} tests", "tests", env=flaky_env)
    assert quarantined.returncode == 0, quarantined.stdout + quarantined.stderr
    for test_id in SINGLE_MODULE_FAILING:
        assert f"quarantined: {test_id} - " in quarantined.stdout
    assert f"flaky (not quarantined): {SINGLE_MODULE_FLAKY}" in quarantined.stdout
    assert "quarantined 5 (3 markers in 1 file)" in quarantined.stderr
    _only_markers_added(after_apply, test_file.read_bytes())

    baseline = json.loads((project / BASELINE_NAME).read_text())
    # An error in asyncSetUp fails every test of TestLoopBound, inherited ones too: the class
    # is marked.
    assert baseline["total"] == 3
    assert baseline["files"]["tests/test_orders.py"]["count"] == 3
    assert baseline["files"]["tests/test_orders.py"]["tests"]["TestLoopBound"] == (
        "RuntimeError: queue bound to the setUp loop"
    )
    assert baseline["files"]["tests/test_orders.py"]["tests"]["TestOrders.test_total_is_42"] == (
        "AssertionError: 41 != 42"
    )

    green = run_pytest(project)
    assert green.returncode == 0, green.output
    assert set(green.skipped_reasons()) == set(SINGLE_MODULE_FAILING)
    assert all(r.startswith(TAG) for r in green.skipped_reasons().values())
    # Every other newly running test still runs, and passes.
    newly_running = {
        "tests/test_orders.py::SSotAsyncTestCase::test_framework_ready",
        "tests/test_orders.py::TestOrders::test_framework_ready",
        "tests/test_orders.py::TestOrders::test_total_positive",
        "tests/test_orders.py::TestOrders::test_patched_cwd",
        SINGLE_MODULE_FLAKY,
    }
    assert newly_running <= green.ids("passed")
    assert "tests/test_orders.py::TestPlainSync::test_untouched" in green.ids("passed")

    under_unittest = run_unittest(project)
    assert under_unittest.returncode == 0, under_unittest.stderr
    assert "skipped=5" in under_unittest.stderr

    # Mend one test; --release lets it run again and keeps the others quarantined.
    test_file.write_bytes(test_file.read_bytes().replace(b"return 41", b"return 42"))
    released = ssot(project, "quarantine", "--release", "--run", f"{PYTEST} tests", "tests")
    assert released.returncode == 0, released.stdout + released.stderr
    assert "released 1, still quarantined 2" in released.stderr
    assert "released: tests/test_orders.py::TestOrders::test_total_is_42" in released.stdout
    assert read_baseline(project)["tests/test_orders.py"].keys() == {
        "TestOrders.test_missing_key",
        "TestLoopBound",
    }
    final = run_pytest(project)
    assert final.returncode == 0, final.output
    assert "tests/test_orders.py::TestOrders::test_total_is_42" in final.ids("passed")
    assert len(final.skipped_reasons()) == 4


def test_revert_is_byte_exact_over_apply_and_quarantine(tmp_path: Path) -> None:
    project = write_single_module_project(tmp_path / "proj")
    original = snapshot(project)
    assert ssot(project, "apply", "--unsafe-fixes", "tests").returncode == 0
    done = ssot(project, "quarantine", "--no-rerun", "--run", f"{PYTEST} tests", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert find_markers((project / "tests" / "test_orders.py").read_bytes())

    assert (project / BASELINE_NAME).exists()

    reverted = ssot(project, "revert", ".")
    assert reverted.returncode == 0, reverted.stderr
    # The sources are the originals again, and the baseline, recounted, lists nothing: gone.
    assert f"Quarantine baseline {BASELINE_NAME} removed" in reverted.stderr
    assert snapshot(project) == original


def test_dry_run_shows_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    project = write_single_module_project(tmp_path / "proj")
    assert ssot(project, "apply", "--unsafe-fixes", "tests").returncode == 0
    run = run_pytest(project, keep_junit=tmp_path / "results.xml")
    assert run.returncode != 0
    state = snapshot(project)
    dry = ssot(project, "quarantine", "--dry-run", "--junit-xml", str(tmp_path / "results.xml"))
    assert dry.returncode == 1, dry.stderr
    assert f'+    {MARKER_PREFIX} AssertionError: 41 != 42")' in dry.stdout
    assert "would be quarantined: tests/test_orders.py::TestOrders::test_missing_key" in dry.stdout
    assert snapshot(project) == state


def test_json_output_and_collection_errors(tmp_path: Path) -> None:
    project = write_single_module_project(tmp_path / "proj")
    (project / "tests" / "test_broken.py").write_text("import no_such_module_for_adoption\n")
    assert ssot(project, "apply", "--unsafe-fixes", "tests").returncode == 0
    done = ssot(
        project,
        "quarantine",
        "--no-rerun",
        "--output-format",
        "json",
        "--run",
        f"{PYTEST} tests",
        "tests",
    )
    assert done.returncode == 1, done.stderr  # a collection error needs a person
    report = json.loads(done.stdout)
    assert report["summary"]["collection_error"] == 1
    errors = [e for e in report["entries"] if e["status"] == "collection-error"]
    assert errors[0]["test_id"] == "tests/test_broken.py"
    assert "no_such_module_for_adoption" in errors[0]["reason"]
    marked = {e["test_id"] for e in report["entries"] if e["status"] == "quarantined"}
    assert marked == set(SINGLE_MODULE_FAILING)


def test_usage_errors(tmp_path: Path) -> None:
    assert ssot(tmp_path, "quarantine", "--release").returncode == 2
    assert ssot(tmp_path, "quarantine").returncode == 2
    bad = ssot(tmp_path, "quarantine", "--junit-xml", str(tmp_path / "missing.xml"))
    assert bad.returncode == 2
    assert "cannot read" in bad.stderr


# --------------------------------------------------------------------------------------------
# the SSOT layout: the framework in its own module (needs the cross-module project view)


def test_multimodule_root_fix_quarantine_release(tmp_path: Path) -> None:
    """Fails on a branch without cross-module rebasing: apply cannot switch the root yet."""
    project = write_multi_module_project(tmp_path / "proj")
    before = run_pytest(project)
    assert before.returncode == 0, before.output
    original = snapshot(project)

    assert ssot(project, "apply", "--unsafe-fixes", "tests").returncode == 0
    broken = run_pytest(project)
    failing = broken.ids("failed") | broken.ids("error")
    assert failing == {"tests/test_orders.py::TestOrders::test_total_is_42"}, broken.output

    done = ssot(project, "quarantine", "--run", f"{PYTEST} tests", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    green = run_pytest(project)
    assert green.returncode == 0
    assert "tests/test_orders.py::TestOrders::test_total_positive" in green.ids("passed")

    orders = project / "tests" / "test_orders.py"
    orders.write_bytes(orders.read_bytes().replace(b"return 41", b"return 42"))
    released = ssot(project, "quarantine", "--release", "--run", f"{PYTEST} tests", "tests")
    assert "released 1, still quarantined 0" in released.stderr
    orders.write_bytes(orders.read_bytes().replace(b"return 42", b"return 41"))
    assert ssot(project, "revert", "--force", ".").returncode == 0
    assert snapshot(project) == original


# --------------------------------------------------------------------------------------------
# locating failures: inherited tests, class-level errors, stale ids (JUnit files, no runs)

_MIXINS = """import unittest


class SharedChecks:
    async def test_shared(self):
        self.assertTrue(self.flag)
"""

_USER = """import unittest

from tests.mixins import SharedChecks


class Test{name}(SharedChecks, unittest.IsolatedAsyncioTestCase):
    flag = {flag}

    async def test_own(self):
        pass
"""

_CASE = '<testcase classname="{cls}" name="{name}" file="{file}" line="1">{body}</testcase>'
_FAIL = '<failure message="AssertionError: False is not true">tb</failure>'


def _junit(*cases: str) -> bytes:
    return (
        f'<testsuites><testsuite name="pytest">{"".join(cases)}</testsuite></testsuites>'.encode()
    )


def _mixin_project(root: Path, flag_b: bool) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "mixins.py").write_text(_MIXINS)
    (root / "tests" / "test_a.py").write_text(_USER.format(name="A", flag=False))
    (root / "tests" / "test_b.py").write_text(_USER.format(name="B", flag=flag_b))
    results = _junit(
        _CASE.format(
            cls="tests.test_a.TestA", name="test_shared", file="tests/test_a.py", body=_FAIL
        ),
        _CASE.format(cls="tests.test_a.TestA", name="test_own", file="tests/test_a.py", body=""),
        _CASE.format(
            cls="tests.test_b.TestB",
            name="test_shared",
            file="tests/test_b.py",
            body="" if flag_b else _FAIL,
        ),
    )
    (root / "results.xml").write_bytes(results)
    return root


def test_inherited_test_that_also_passes_elsewhere_is_reported_not_marked(tmp_path: Path) -> None:
    project = _mixin_project(tmp_path, flag_b=True)
    before = snapshot(project)
    result = quarantine_tests([project / "tests"], root=project, junit_xml=project / "results.xml")
    [entry] = result.entries
    assert entry.status == "not-marked"
    assert "defined in base SharedChecks.test_shared (tests/mixins.py:5)" in entry.note
    assert "TestB" in entry.note
    assert snapshot(project) == before


def test_inherited_test_failing_everywhere_is_marked_where_it_is_defined(tmp_path: Path) -> None:
    project = _mixin_project(tmp_path, flag_b=False)
    result = quarantine_tests([project / "tests"], root=project, junit_xml=project / "results.xml")
    assert {e.status for e in result.entries} == {"quarantined"}
    assert [m.qualname for m in find_markers((project / "tests" / "mixins.py").read_bytes())] == [
        "SharedChecks.test_shared"
    ]
    assert not find_markers((project / "tests" / "test_a.py").read_bytes())


_SETUP_CLASS = """import unittest


class TestDatabase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise ConnectionError("no database")

    def test_read(self):
        pass

    def test_write(self):
        pass


class TestHealthy(unittest.TestCase):
    def test_ok(self):
        pass
"""

_SETUP_ERROR = (
    '<error message="failed on setup with &quot;ConnectionError: no database&quot;">tb</error>'
)


def test_setupclass_error_marks_the_class_and_it_runs_green(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "test_db.py").write_text(_SETUP_CLASS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    first = run_pytest(tmp_path)
    assert first.ids("error") == {
        "tests/test_db.py::TestDatabase::test_read",
        "tests/test_db.py::TestDatabase::test_write",
    }
    done = ssot(tmp_path, "quarantine", "--no-rerun", "--run", f"{PYTEST} tests", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    markers = find_markers((tmp_path / "tests" / "test_db.py").read_bytes())
    assert [(m.qualname, m.reason) for m in markers] == [
        ("TestDatabase", "ConnectionError: no database")
    ]
    assert run_pytest(tmp_path).returncode == 0
    # A healthy class keeps the run non-empty: from 3.12 unittest exits 5 when no test ran.
    assert run_unittest(tmp_path).returncode == 0


def test_stale_and_function_ids_are_reported_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_db.py").write_text(_SETUP_CLASS)
    (tmp_path / "results.xml").write_bytes(
        _junit(
            _CASE.format(
                cls="tests.test_db.TestDatabase",
                name="test_gone",
                file="tests/test_db.py",
                body=_FAIL,
            ),
            _CASE.format(
                cls="tests.test_db.TestRenamed",
                name="test_read",
                file="tests/test_db.py",
                body=_FAIL,
            ),
            _CASE.format(
                cls="tests.test_db", name="test_function[1-2]", file="tests/test_db.py", body=_FAIL
            ),
            _CASE.format(
                cls="tests.test_gone", name="test_x", file="tests/test_gone.py", body=_FAIL
            ),
        )
    )
    before = snapshot(tmp_path)
    result = quarantine_tests(
        [tmp_path / "tests"], root=tmp_path, junit_xml=tmp_path / "results.xml"
    )
    notes = [e.note for e in result.entries]
    assert all(e.status == "not-marked" for e in result.entries)
    assert "TestDatabase.test_gone not found" in notes[0]
    assert "class TestRenamed not found" in notes[1]
    assert "plain test function" in notes[2]
    assert "no source file" in notes[3]
    assert snapshot(tmp_path) == before


def test_markers_round_trip_byte_exact() -> None:
    source = (
        '"""Doc."""\nimport asyncio\n\n\nclass T:\n    # comment\n    @staticmethod\n'
        "    def helper():\n        pass\n\n    async def test_x(self):\n        pass\n"
    )
    marked, done = add_markers(source, {"T.test_x": "AssertionError: " + "x" * 200})
    assert done == {"T.test_x"}
    line = next(li for li in marked.splitlines() if TAG in li)
    assert len(line) <= 79 and line.endswith('...")')
    assert "import unittest\n" in marked
    assert add_markers(marked, {"T.test_x": "again"})[1] == set()  # idempotent
    unmarked, removed = remove_markers(marked, ["T.test_x"])
    assert removed == {"T.test_x"}
    assert unmarked == source


# --------------------------------------------------------------------------------------------
# a generated SSOT-shaped project: 1,000+ tests start running, ~10% fail


def _generator():  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parent.parent / "scripts" / "gen_quarantine_project.py"
    spec = importlib.util.spec_from_file_location("gen_quarantine_project", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_generated_project_quarantine_is_exact(tmp_path: Path) -> None:
    project = tmp_path / "gen"
    failing = _generator().generate(project, modules=60, tests=18, fail_ratio=0.1)
    (project / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    assert 80 <= len(failing) <= 140
    assert ssot(project, "apply", "--unsafe-fixes", "-q", "tests").returncode == 0
    applied = snapshot(project)

    results = tmp_path / "results.xml"
    first = run_pytest(project, keep_junit=results)
    assert first.ids("failed") | first.ids("error") == set(failing)
    assert len(first.results) >= 1000

    done = ssot(project, "quarantine", "--junit-xml", str(results), "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    marked = {
        f"tests/{path.name}::{m.qualname.replace('.', '::')}"
        for path in sorted((project / "tests").glob("test_gen_*.py"))
        for m in find_markers(path.read_bytes())
    }
    assert marked == set(failing)
    now = snapshot(project)
    for name, data in applied.items():
        if name.endswith(".py"):
            _only_markers_added(data, now[name])

    green = run_pytest(project)
    assert green.returncode == 0, green.output[-2000:]
    assert set(green.skipped_reasons()) == set(failing)
    assert len(green.ids("passed")) == len(first.results) - len(failing)


def test_markers_fast_path_keeps_every_other_byte() -> None:
    source = (
        "import unittest\r\nfrom unittest.mock import patch\r\n\r\n\r\n"
        "class Outer(unittest.TestCase):\r\n"
        "    class Inner(unittest.TestCase):\r\n"
        "        async def test_deep(self):  # trailing comment\r\n            pass\r\n\r\n"
        "    @patch('os.getcwd')\r\n    # between\r\n    def test_patched(self, _cwd):\r\n"
        "        pass\r\n"
    )
    marked, done = add_markers(
        source, {"Outer.Inner.test_deep": "boom", "Outer.test_patched": "bang", "Outer.gone": "x"}
    )
    assert done == {"Outer.Inner.test_deep", "Outer.test_patched"}
    added = [line for line in marked.split("\r\n") if line not in source.split("\r\n")]
    assert added == [
        f'        @unittest.skip("{TAG} boom")',
        f'    @unittest.skip("{TAG} bang")',
    ]
    assert marked.replace("\r\n", "") == marked.replace("\r\n", "").replace("\n", "")
    assert remove_markers(marked, ["Outer.Inner.test_deep", "Outer.test_patched"])[0] == source


def test_adopt_counts_what_runs_now_and_guards(tmp_path: Path) -> None:
    from ssot_codemod.quarantine_adopt import adopt

    project = write_single_module_project(tmp_path / "proj")
    assert ssot(project, "apply", "--unsafe-fixes", "tests").returncode == 0
    done = adopt([project / "tests"], root=project, command=f"{PYTEST} tests")
    # 7 async tests in the module; test_framework_ready runs in three classes.
    assert done.async_tests_running == 9
    assert done.quarantined == len(SINGLE_MODULE_FAILING)
    assert done.guard_entries == 3
    assert "9 async tests now run; 5 failing ones quarantined" in done.summary()
    assert run_pytest(project).returncode == 0


@pytest.mark.parametrize(
    "reason",
    ["AssertionError: \"a\" != 'b'", "C:\\path\\x \\n", "caf\u00e9 \U0001f600 \x00\x1b[31m", ""],
)
def test_marker_reason_is_a_safe_literal(reason: str) -> None:
    import ast as ast_module

    text = marker_text_for(reason)
    call = ast_module.parse(text, mode="eval").body
    assert isinstance(call, ast_module.Call)
    value = call.args[0].value  # type: ignore[attr-defined]
    assert value.startswith(TAG) and value.isascii() and value.isprintable()
    assert len(text) <= 79 - 4 - 1


def marker_text_for(reason: str) -> str:
    from ssot_codemod.quarantine_markers import marker_text

    return marker_text(reason, indent=4)
