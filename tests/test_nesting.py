"""nesting.deeper_than walks statements only; its answer must be the full visit's, exactly."""

from __future__ import annotations

import ast
import sys

import pytest

from ssot_codemod.nesting import deeper_than


def _deepest(tree: ast.AST) -> int:
    """The reference: every node visited (the module is level 1)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _sources() -> list[str]:
    out: list[str] = []
    for n in (1, 3, 8, 20, 45):
        neg = "-" * n + "x"
        nested = "[" * n + "1" + "]" * n
        lam = "lambda a=" * n + "1" + ":1" * n
        calls = "f(" * n + "1" + ")" * n
        out += [
            f"x = {neg}\n",
            f"x = {nested}\n",
            f"y = {lam}\n",
            f"z = a{'.b' * n}\n",
            f"w = {'+'.join(['1'] * n)}\n",
            f"v = (\n    {calls}\n)\n",
            f"class A(B, metaclass={neg}):\n    @d({nested})\n"
            f"    async def test_x(self, a={lam}):\n        pass\n",
            f"try:\n    pass\nexcept {neg} as e:\n    pass\nelse:\n    x = {nested}\n",
            *(
                [
                    f"match x:\n    case [{nested}, y] if {neg}:\n        pass\n"
                    "    case _:\n        pass\n"
                ]
                if sys.version_info >= (3, 10)  # ``match`` is 3.10 grammar
                else []
            ),
            f"with a({calls}) as b, c:\n    s = 'é{neg}'\n",
            f"if a:\r\n    x = {nested}\r\nelif b:\r\n    y = {neg}\r\n",
            "".join(f"{' ' * i}if x:\n" for i in range(n)) + " " * n + f"x = {neg}\n",
            f"def f():\n    return f'{{{calls}:>{{w}}}}'\n",
            "if a:\n    pass\n" + "".join(f"elif b{i}:\n    pass\n" for i in range(n)),
        ]
    return out


@pytest.mark.parametrize("source", _sources())
@pytest.mark.parametrize("limit", [2, 5, 10, 20, 30, 60, 100])
def test_same_answer_as_a_full_visit(source: str, limit: int) -> None:
    tree = ast.parse(source)
    expected = _deepest(tree) > limit
    assert deeper_than(tree, source.encode("utf-8"), limit) is expected


@pytest.mark.parametrize("source", _sources())
def test_at_the_exact_depth(source: str) -> None:
    tree = ast.parse(source)
    deepest = _deepest(tree)
    data = source.encode("utf-8")
    assert deeper_than(tree, data, deepest - 1)
    assert not deeper_than(tree, data, deepest)
