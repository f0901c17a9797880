"""quarantine's write-out: each file parsed once (locate's tree reused, the edit verified once),
all files written in one batch, a file that cannot be written failing alone, the baseline
counted from the trees the run already has. JUnit files in, no test runs."""

from __future__ import annotations

import ast
import io
from pathlib import Path

from test_backup import immutable

from ssot_codemod.backup import backup_path_for, revert_file
from ssot_codemod.locate import SourceTree
from ssot_codemod.quarantine import BASELINE_NAME, quarantine_tests, read_baseline
from ssot_codemod.quarantine_markers import (
    add_markers,
    add_markers_parsed,
    find_markers,
    markers_in,
)

_MODULE = """import unittest


class Test{name}(unittest.TestCase):
    def test_ok(self):
        pass

    @unittest.skipIf(False, "never")
    def test_bad(self):
        self.fail("{name}")
"""

_CASE = '<testcase classname="{cls}" name="{name}" file="{file}" line="1">{body}</testcase>'
_FAIL = '<failure message="AssertionError: {name}">tb</failure>'
NAMES = ["A", "B", "C", "D"]


def project(root: Path) -> Path:
    tests = root / "tests"
    tests.mkdir(parents=True)
    (tests / "__init__.py").write_text("")
    cases = []
    for name in NAMES:
        file = f"tests/test_{name.lower()}.py"
        (root / file).write_text(_MODULE.format(name=name))
        cls = f"tests.test_{name.lower()}.Test{name}"
        cases.append(_CASE.format(cls=cls, name="test_ok", file=file, body=""))
        body = _FAIL.format(name=name)
        cases.append(_CASE.format(cls=cls, name="test_bad", file=file, body=body))
    suite = f'<testsuites><testsuite name="pytest">{"".join(cases)}</testsuite></testsuites>'
    (root / "results.xml").write_text(suite)
    return root


def recount(root: Path) -> dict[str, dict[str, str]]:
    counted = {}
    for path in sorted((root / "tests").glob("test_*.py")):
        markers = find_markers(path.read_bytes())
        if markers:
            counted[f"tests/{path.name}"] = {m.qualname: m.reason for m in markers}
    return counted


def test_every_failing_test_marked_and_the_baseline_matches_a_recount(tmp_path: Path) -> None:
    root = project(tmp_path)
    originals = {n: (root / f"tests/test_{n.lower()}.py").read_bytes() for n in NAMES}
    result = quarantine_tests([root / "tests"], root=root, junit_xml=root / "results.xml")
    assert {e.status for e in result.entries} == {"quarantined"}
    assert [f.status for f in result.files] == ["changed"] * len(NAMES)
    assert read_baseline(root) == recount(root)
    assert set(recount(root)) == {f"tests/test_{n.lower()}.py" for n in NAMES}
    assert result.baseline_total == len(NAMES)
    # run again: nothing new to mark, the baseline is unchanged
    again = quarantine_tests([root / "tests"], root=root, junit_xml=root / "results.xml")
    assert {e.status for e in again.entries} == {"already-quarantined"}
    assert read_baseline(root) == recount(root)
    for name in NAMES:
        path = root / f"tests/test_{name.lower()}.py"
        assert revert_file(path).status == "restored"
        assert path.read_bytes() == originals[name]


def test_a_file_that_cannot_be_written_fails_alone(tmp_path: Path) -> None:
    root = project(tmp_path)
    locked = root / "tests/test_b.py"
    before = locked.read_bytes()
    with immutable(locked):
        result = quarantine_tests([root / "tests"], root=root, junit_xml=root / "results.xml")
    by_file = {f.path.name: f for f in result.files}
    assert by_file["test_b.py"].status == "error"
    assert {by_file[f"test_{n}.py"].status for n in "acd"} == {"changed"}
    statuses = {e.test_id: e.status for e in result.entries}
    assert statuses["tests/test_b.py::TestB::test_bad"] == "not-marked"
    assert [s for t, s in statuses.items() if "test_b.py" not in t] == ["quarantined"] * 3
    assert locked.read_bytes() == before and not backup_path_for(locked).exists()
    assert read_baseline(root) == recount(root)
    assert "tests/test_b.py" not in read_baseline(root)
    assert (root / BASELINE_NAME).exists()
    assert result.has_errors


def test_a_dry_run_counts_and_writes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = {p: p.read_bytes() for p in (root / "tests").iterdir()}
    result = quarantine_tests(
        [root / "tests"], root=root, junit_xml=root / "results.xml", dry_run=True
    )
    assert [f.status for f in result.files] == ["would-change"] * len(NAMES)
    assert result.baseline_total == len(NAMES)
    assert {p: p.read_bytes() for p in (root / "tests").iterdir()} == before


def test_locate_hands_out_its_tree_only_for_the_same_bytes(tmp_path: Path) -> None:
    root = project(tmp_path)
    path = root / "tests/test_a.py"
    tree = SourceTree([root])
    assert tree.parsed(path, path.read_bytes()) is None  # not parsed yet
    tree.locate("tests.test_a.TestA", "test_bad", "tests/test_a.py")
    data = path.read_bytes()
    parsed = tree.parsed(path, data)
    assert isinstance(parsed, ast.Module)
    assert tree.parsed(path, data + b"\n# edited since\n") is None


def test_markers_from_a_given_tree_equal_a_fresh_parse() -> None:
    source = _MODULE.format(name="A").replace("\n", "\r\n")
    reasons = {"TestA.test_bad": "AssertionError: A", "TestA.gone": "x"}
    text, done, after = add_markers_parsed(source, reasons, ast.parse(source.encode()))
    assert (text, done) == add_markers(source, reasons)
    assert after is not None
    assert after == find_markers(text)
    # nothing to do: nothing parsed, the markers as they are
    given = ast.parse(text)
    assert add_markers_parsed(text, reasons, given) == (text, set(), markers_in(given))


_SHAPES = """import unittest
x = 1 + \\
    2


@unittest.skip("ssot-quarantine: old one")
class Outer(unittest.TestCase):
    @unittest.skip("ssot-quarantine: kept")
    def test_kept(self):
        pass

    class Inner(unittest.TestCase):
    \tdef test_tab(self):
    \t    pass

    async def test_async(self):
        pass

    def test_plain(self):
        pass
    y = 2 \\

    @unittest.skipIf(
        False, "no")
    @staticmethod
    def test_after_continuation():
        pass

    @unittest.skip("ssot-quarantine: last")
    def test_last(self):
        pass


class Second(unittest.TestCase):
    def test_one(self):
        pass
    # a comment ending in a backslash \\
    def test_two(self):
        pass
    \\
    def test_three(self): pass
"""


def test_markers_known_without_parsing_are_the_markers_a_parse_finds() -> None:
    """The inserted lines' positions are computed, not parsed: every shape of neighbour (markers
    above and below, nested classes, tabs, a line continued onto the definition's, a comment
    ending in a backslash, several inserts in one file) against a parse of the result."""
    source = _SHAPES
    defined = set()

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                defined.add(prefix + stmt.name)
                if isinstance(stmt, ast.ClassDef):
                    visit(stmt.body, f"{prefix}{stmt.name}.")

    visit(ast.parse(source).body, "")
    names = [
        "Second",
        "Outer.Inner.test_tab",
        "Outer.test_async",
        "Outer.test_plain",
        "Outer.test_after_continuation",
        "Second.test_two",
        "Second.test_three",
        "Outer.test_kept",  # already marked: left as it is
    ]
    for count in range(1, len(names) + 1):
        for variant in (source, source.replace("\n", "\r\n")):
            reasons = {name: f"AssertionError: {name}" for name in names[:count]}
            text, done, after = add_markers_parsed(variant, reasons)
            compile(text, "<shapes>", "exec")
            # (CPython 3.9 reads a def after a lone backslash as nested in the one above it.)
            expected = {name for name in reasons if name != "Outer.test_kept"} & defined
            assert done == expected
            assert {m.qualname for m in find_markers(text)} >= done
            assert after == find_markers(text)


def test_ancestors_are_exact_whatever_the_order_of_questions(tmp_path: Path) -> None:
    """Bases that resolve in a cycle (a class named like the one it imports, in three modules)
    give every class the same full answer, whichever class is asked about first: an answer met
    half-way through a cycle is never kept."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    names = ["a", "b", "c"]
    for i, name in enumerate(names):
        nxt = names[(i + 1) % 3]
        (pkg / f"{name}.py").write_text(
            f"from pkg.{nxt} import K{nxt}\n\n\nclass K{name}(K{nxt}):\n    pass\n"
        )
    keys = {name: ((pkg / f"{name}.py").resolve(), (f"K{name}",)) for name in names}
    everything = set(keys.values())
    for first in names:
        tree = SourceTree([tmp_path])
        for name in [first, *(n for n in names if n != first)]:
            assert tree.ancestors(*keys[name]) == everything, (first, name)


def test_revert_recounts_the_baseline_and_removes_it_with_the_last_marker(tmp_path: Path) -> None:
    from ssot_codemod.api import revert_paths
    from ssot_codemod.report import write_summary

    root = project(tmp_path)
    quarantine_tests([root / "tests"], root=root, junit_xml=root / "results.xml")
    assert read_baseline(root) == recount(root)
    assert len(recount(root)) == len(NAMES)

    # one file: the baseline keeps listing the others' markers
    first = root / "tests/test_a.py"
    partial = revert_paths([first])
    assert [f.status for f in partial.files] == ["reverted"]
    assert read_baseline(root) == recount(root)
    assert "tests/test_a.py" not in read_baseline(root)
    assert [(b.path, b.quarantined) for b in partial.baselines] == [
        (root / BASELINE_NAME, len(NAMES) - 1)
    ]

    # a dry run says what would happen and writes nothing
    kept = (root / BASELINE_NAME).read_bytes()
    dry = revert_paths([root / "tests"], dry_run=True)
    assert [(b.path, b.quarantined) for b in dry.baselines] == [(root / BASELINE_NAME, 0)]
    assert (root / BASELINE_NAME).read_bytes() == kept
    shown = io.StringIO()
    write_summary("revert", dry, shown, dry_run=True)
    assert "Quarantine baseline" in shown.getvalue()
    assert "would be removed: no quarantined test left" in shown.getvalue()

    # the last markers: the baseline goes, and revert says so
    done = revert_paths([root / "tests"])
    assert {f.status for f in done.files} == {"reverted"}
    assert not (root / BASELINE_NAME).exists()
    assert [(b.path, b.quarantined) for b in done.baselines] == [(root / BASELINE_NAME, 0)]
    shown = io.StringIO()
    write_summary("revert", done, shown)
    assert "removed: no quarantined test left" in shown.getvalue()
    # nothing left to recount: no line
    again = revert_paths([root / "tests"])
    assert again.baselines == ()
