"""The tree gates' statement walk finds every statement ``ast.walk`` finds, and only those.

The gates look for functions and classes by visiting statements only (a statement never lies
inside an expression); if that walk missed a kind of block (an ``except*`` handler, a match
case, an ``else`` of a loop), a gate could drop a file with a finding. The reference is the
full ``ast.walk`` over the running interpreter's stdlib and handmade blocks of every kind.
"""

from __future__ import annotations

import ast
import sys
import sysconfig
import warnings
from pathlib import Path

import pytest

from ssot_codemod.rules._tree_gate import found_inside, statements

STDLIB = Path(sysconfig.get_paths()["stdlib"])

BLOCKS = """\
def f():
    class A:
        def g(self):
            pass
    for x in y:
        def h1(): pass
    else:
        def h2(): pass
    while x:
        def h3(): pass
    else:
        def h4(): pass
    try:
        def h5(): pass
    except E:
        def h6(): pass
    else:
        def h7(): pass
    finally:
        def h8(): pass
    with a:
        async def h9(): pass
    if a:
        def h10(): pass
    elif b:
        def h11(): pass
    else:
        def h12(): pass
    lam = lambda: (lambda: 1)
    value = [x for x in (1 if a else 2)]
async def k():
    async for x in y:
        def h13(): pass
    async with z:
        def h14(): pass
"""
MATCH = """\
match command:
    case [x]:
        def h15(): pass
    case _:
        class B: pass
"""
TRY_STAR = """\
try:
    pass
except* ValueError:
    def h16(): pass
"""


def _sources() -> list[tuple[str, str]]:
    out = [("blocks", BLOCKS)]
    if sys.version_info >= (3, 10):
        out.append(("match", MATCH))
    if sys.version_info >= (3, 11):
        out.append(("try-star", TRY_STAR))
    for path in sorted(STDLIB.glob("*.py"))[::5]:
        out.append((path.name, path.read_text("utf-8", "replace")))
    return out


@pytest.mark.parametrize(("name", "text"), _sources(), ids=[n for n, _ in _sources()])
def test_statements_are_those_of_a_full_walk(name: str, text: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except SyntaxError:
        pytest.skip("newer grammar")
    expected = [node for node in ast.walk(tree) if isinstance(node, ast.stmt)]
    found = list(statements(tree))
    assert sorted(map(id, found)) == sorted(map(id, expected))
    assert len(found) == len(expected)  # each once


def test_found_inside_every_kind_of_block() -> None:
    tree = ast.parse(BLOCKS + (MATCH if sys.version_info >= (3, 10) else ""))
    names = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name[0] == "h"]
    for name in names:
        assert found_inside(
            tree,
            lambda node, name=name: isinstance(node, ast.FunctionDef) and node.name == name,
            lambda node: isinstance(node, ast.Pass),
        )
    assert not found_inside(
        tree,
        lambda node: isinstance(node, ast.FunctionDef) and node.name == "nowhere",
        lambda node: True,
    )
