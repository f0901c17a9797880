"""SourceMap's texts, positions and ancestors are LibCST's own, for every node.

The reference is LibCST's metadata: ``WhitespaceInclusivePositionProvider`` (the range a node's
code generation covers, whitespace it owns included: what ``SourceMap.text`` returns) and
``ParentNodeProvider``. Modules: every fixture, a sample of the running interpreter's stdlib,
edge shapes (empty, comments only, no trailing newline, CRLF, tabs), and trees a rewrite builds,
in which one node object may occur twice (LibCST allows it; the map then falls back to pairing
markers one by one).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import libcst as cst
import pytest
from cst_nodes import all_nodes
from libcst._nodes.base import CSTCodegenError  # internal: LibCST does not export it
from libcst.metadata import (
    MetadataWrapper,
    ParentNodeProvider,
    WhitespaceInclusivePositionProvider,
)

from ssot_codemod.sourcemap import SourceMap

FIXTURES = Path(__file__).parent / "fixtures"
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _line_offsets(code: str) -> list[int]:
    starts = [0]
    for line in code.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _check(module: cst.Module) -> None:
    source = SourceMap(module)
    assert source.code == module.code
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(WhitespaceInclusivePositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    starts = _line_offsets(source.code)
    nodes = all_nodes(module)
    for node in nodes:
        where = positions[node]
        begin = starts[where.start.line - 1] + where.start.column
        finish = starts[where.end.line - 1] + where.end.column
        assert source.text(node) == source.code[begin:finish], node
        # As offsets: at the end of a file with no final newline LibCST says "the start of the
        # next line", where SourceMap says "the end of the last one".
        line, column = source.start(node)
        assert starts[line - 1] + column - 1 == begin
        line, column = source.end(node)
        assert starts[line - 1] + column - 1 == finish
        assert source.mentions(node, ("\n",)) is ("\n" in source.code[begin:finish])
        # A node's text in the module differs from its own code generation only in whitespace
        # (the indentation of blocks in it): what messages (rules._common.source_of) and
        # searches for names in it rely on when they read the recorded text.
        # (Or in an ``elif``: generated alone, that ``If`` is an ``if``.)
        try:
            own = " ".join(module.code_for_node(node).split())
        except CSTCodegenError:  # some nodes (a Param, in some LibCST versions) need a parent
            continue
        in_module = " ".join(source.code[begin:finish].split())
        if isinstance(node, cst.If) and in_module != own:
            at = next(i for i, (a, b) in enumerate(zip(in_module, own)) if a != b)
            if in_module[at : at + 5] == "elif " and own[at : at + 3] == "if ":
                in_module = in_module[:at] + in_module[at + 2 :]
        assert in_module == own, node
    # Ancestors of a few nodes at once and of each alone: the parent chain, module included.
    for chosen in (nodes[-1:], nodes[len(nodes) // 2 : len(nodes) // 2 + 3], nodes[1:2]):
        expected: set[int] = set()
        for node in chosen:
            up = node
            while up is not module:
                up = parents[up]
                expected.add(id(up))
        assert source.ancestors({id(n) for n in chosen}) == expected


def _fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.py") if p.is_file())


def _stdlib_files() -> list[Path]:
    picked = sorted(STDLIB.glob("*.py"))[::9]
    return [p for p in picked if p.stat().st_size < 120_000]


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_modules(path: Path) -> None:
    try:
        module = cst.parse_module(path.read_bytes())
    except cst.ParserSyntaxError:
        pytest.skip("not a module LibCST parses")
    _check(module)


@pytest.mark.parametrize("path", _stdlib_files(), ids=lambda p: p.name)
def test_stdlib_modules(path: Path) -> None:
    try:
        module = cst.parse_module(path.read_bytes())
    except cst.ParserSyntaxError:
        pytest.skip("newer grammar than LibCST's")
    _check(module)


@pytest.mark.parametrize(
    "code",
    [
        "",
        "\n",
        "# only a comment\n",
        "x = 1",
        "x = 1\r\ny = 2\r\n",
        "class A:\n\tdef f(self):\n\t\treturn (1,\n\t\t\t2)\n",
        "if x:\n    pass\nelse:  # c\n    y = [\n        1,\n    ]\n# footer\n",
        "def f(\n    a,\n    b,\n):\n    '''doc'''\n",
    ],
)
def test_edge_shapes(code: str) -> None:
    module = cst.parse_module(code)
    _check(module)


def test_a_node_occurring_twice_keeps_its_first_place() -> None:
    """A rewrite may put one node object in two places: texts and positions are those of its
    first place, as a code generation pairs the markers, and every other node is still right."""
    module = cst.parse_module("class A:\n    def f(self):\n        x = g(1)\n")
    shared = cst.parse_statement("y = h(2)\n")
    klass = module.body[0]
    assert isinstance(klass, cst.ClassDef)
    body = klass.body
    assert isinstance(body, cst.IndentedBlock)
    doubled = module.with_changes(
        body=[
            shared,
            klass.with_changes(body=body.with_changes(body=[*body.body, shared])),
        ]
    )
    source = SourceMap(doubled)
    assert source.code == doubled.code
    assert source.text(shared) == "y = h(2)\n"
    assert source.start(shared) == (1, 1)
    unique = cst.ensure_type(cst.ensure_type(doubled.body[1], cst.ClassDef).body, cst.IndentedBlock)
    method = unique.body[0]
    assert source.text(method) == "    def f(self):\n        x = g(1)\n"
    assert source.start(method) == (3, 1)
    # Ancestors still lead from the module to the node.
    assert source.ancestors({id(method)}) == {id(doubled), id(doubled.body[1]), id(unique)}
    assert source.text(cst.Name("nowhere")) is None
    assert source.mentions(cst.Name("nowhere"), ("x",)) is None


def test_nodes_outside_the_module_are_unknown() -> None:
    module = cst.parse_module("x = 1\n")
    source = SourceMap(module)
    stranger = cst.parse_statement("x = 1\n")
    assert source.text(stranger) is None
    assert source.ancestors({id(stranger)}) == set()
