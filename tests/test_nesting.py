"""nesting.deeper_than walks statements only; its answer must be the full visit's, exactly.

Every case is asked at the limits around its true depth (``depth - 1``, ``depth``,
``depth + 1``), where a bound that errs downwards would show: the stdlib of the running
interpreter, handmade shapes built to sit right on the bound (the fewest marks for the most
levels), and generated programs (random trees unparsed with the fewest brackets, and
hypothesmith's). The bound itself is checked on every expression and statement of a stdlib
sample: a node's height never exceeds the pieces of its source range plus the slack.
"""

from __future__ import annotations

import ast
import random
import sys
import sysconfig
import warnings
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings

from ssot_codemod.nesting import _SLACK, _pieces, _Text, _utf8, deeper_than

# ``1if``, ``0xfor``: a number directly followed by a keyword warns (3.10 and 3.11 with a
# DeprecationWarning, from 3.12 with a SyntaxWarning) and is still read as two tokens.
pytestmark = [
    pytest.mark.filterwarnings("ignore::SyntaxWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

MATCH = sys.version_info >= (3, 10)  # ``match`` is 3.10 grammar
PEP701 = sys.version_info >= (3, 12)  # f-strings nest without running out of quotes


def _reference_depth(tree: ast.AST) -> int:
    """The reference: every node visited (the module is level 1)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _height(node: ast.AST) -> int:
    return _reference_depth(node)


def _parse(data: bytes) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _check_around(tree: ast.Module, data: bytes) -> None:
    """The same answer as the full visit at the limits where it changes."""
    depth = _reference_depth(tree)
    for limit in (depth - 1, depth, depth + 1):
        assert deeper_than(tree, data, limit) is (depth > limit), (limit, depth)


# --------------------------------------------------------------------------------------------
# handmade shapes


def _sources() -> list[str]:
    out: list[str] = []
    for n in (1, 3, 8, 20, 45, 70):
        neg = "-" * n + "x"
        nested = "[" * n + "1" + "]" * n
        lam = "lambda a=" * n + "1" + ":1" * n
        calls = "f(" * n + "1" + ")" * n
        out += [
            f"x = {neg}\n",
            f"x = {nested}\n",
            f"y = {lam}\n",
            f"y = {'lambda a:' * n}a\n",
            f"z = a{'.b' * n}\n",
            f"z = a{'()' * n}\n",
            f"z = a{'[b]' * n}\n",
            f"w = {'+'.join(['1'] * n)}\n",
            f"w = {'**'.join(['1'] * n)}\n",
            f"w = {' if 1 else '.join(['1'] * n)}\n",
            f"w = {'1if 1else ' * n}1\n",
            f"w = {'not ' * n}x\n",
            f"w = {'~' * n}x\n",
            f"w = {'await (' * n}x{')' * n}\n",
            f"w = {'(yield ' * n}x{')' * n}\n",
            f"w = {'(a:=' * n}x{')' * n}\n",
            f"w = {'[x for x in ' * n}y{']' * n}\n",
            f"w = {'f(*' * n}x{')' * n}\n",
            f"w = {'f(**' * n}x{')' * n}\n",
            f"w = {'f(k=' * n}x{')' * n}\n",
            f"w = {'{**' * n}x{'}' * n}\n",
            f"w = {'(' * n}x,{')' * n}\n",
            f"w = {'x[1:' * n}{']' * n}\n",
            f"w = {'0xf' + 'or 0xf' * n}\n",
            f"{neg}\n",
            f"{calls}\n",
            f"with {neg}:\n    pass\n",
            f"with {calls} as b, {nested}:\n    s = 'é{neg}'\n",
            f"async def f():\n    async with {neg} as {'(' * n}a,{')' * n}:\n        pass\n",
            f"def f(a: {neg}, *b: {neg}, c={lam}, **d: {nested}) -> {calls}:\n    pass\n",
            f"def f(a):\n    return {neg}\n",
            f"for {'(' * n}a,{')' * n} in {neg}:\n    pass\nelse:\n    x = {nested}\n",
            f"class A(B, metaclass={neg}):\n    @d({nested})\n"
            f"    async def test_x(self, a={lam}):\n        pass\n",
            f"@{neg}\n@{calls}\nclass A:\n    pass\n",
            f"try:\n    pass\nexcept {neg} as e:\n    pass\nelse:\n    x = {nested}\n"
            f"finally:\n    y = {neg}\n",
            f"with a({calls}) as b, c:\n    s = 'é{neg}'\n",
            f"if a:\r\n    x = {nested}\r\nelif b:\r\n    y = {neg}\r\n",
            f"if a:\r    x = {nested}\relif b:\r    y = {neg}\r",
            "".join(f"{' ' * i}if x:\n" for i in range(n)) + " " * n + f"x = {neg}\n",
            "".join(f"{chr(9) * i}while x:\n" for i in range(n)) + "\t" * n + "pass\n",
            "".join(f"{' ' * i}try:\n{' ' * (i + 1)}pass\n{' ' * i}except E:\n" for i in range(n))
            + " " * n
            + "pass\n",
            "".join(f"{' ' * i}def f():\n" for i in range(n)) + " " * n + f"x = {neg}\n",
            "if a:\n    pass\n" + "".join(f"elif b{i}:\n    pass\n" for i in range(n)),
            f"if a: x = {neg}\nelse: y = {nested}\n",
            f"x = (\n    {calls}\n)\n",
            f"x = (\n{'  (' * n}\n1{')' * n}\n)\n",
            "x = \\\n" + " \\\n".join(["-"] * n) + " x\n",
            f"x = {'(' * n}\n{'-' * n}x\n{')' * n}\n",
            f"def f():\n    return f'{{{calls}:>{{w}}}}'\n",
            f"x = f'{{x:{{y}}}}' + f'{{{neg}!r:>{{{neg}}}}}'\n",
            f"x = f'''{{f\"{{f'{{{neg}}}'}}\"}}'''\n",
            f"\ufeffx = {neg}\n",
            # (positions do not count the BOM; blanks before the node, dense marks at its end)
            f"\ufeffx = (   {neg})\n",
            f"x = '\\x0c{neg}'\n\x0cy = {neg}\n",
            f"x = {neg}  # {'(' * n}\n",
            f"import a{'.b' * n} as c\nfrom {'.' * n}a import (b as c, d)\n",
            f"global x\nassert {neg}, {nested}\ndel {'(' * n}a,{')' * n}\nraise {neg} from {neg}\n",
            f"x: {neg} = {nested}\nx[{neg}] += {calls}\n",
        ]
        if MATCH:
            out += [
                f"match x:\n    case [{nested}, y] if {neg}:\n        pass\n"
                "    case _:\n        pass\n",
                f"match {neg}:\n    case {'[' * n}1{']' * n}:\n        pass\n",
                f"match x:\n    case {'(' * n}1,{'),' * n}:\n        pass\n",
                f"match x:\n    case {'(' * n}1 | 2{')' * n} as z:\n        pass\n",
                f"match x:\n    case {'C(' * n}a.b{')' * n}:\n        pass\n",
                f"match x:\n    case {'{1: ' * n}-1{'}' * n}:\n        pass\n",
                f"match x:\n    case {'{1: [' * n}1+2j{']}' * n}:\n        pass\n",
                # (the tokenizer allows 100 levels of indentation)
                "".join(
                    f"{' ' * 2 * i}match x:\n{' ' * (2 * i + 1)}case 1:\n" for i in range(n // 2)
                )
                + " " * (n // 2 * 2)
                + "pass\n",
            ]
        if PEP701:
            q = '"'  # no backslash inside an f-string's braces before 3.12
            out += [
                "x = " + ("f" + q + "{") * n + "x" + ("}" + q) * n + "\n",
                "x = " + ("f" + q + "{x:{") * n + "x" + ("}}" + q) * n + "\n",
                "x = " + ("f" + q + "{-x!r:{") * n + neg + ("}}" + q) * n + "\n",
            ]
    return out


SOURCES = _sources()


@pytest.mark.parametrize("index", range(len(SOURCES)))
def test_handmade_shapes(index: int) -> None:
    data = SOURCES[index].encode("utf-8")
    tree = ast.parse(data)
    _check_around(tree, data)
    for limit in (2, 5, 10, 20, 30, 60, 100):
        expected = _reference_depth(tree) > limit
        assert deeper_than(tree, data, limit) is expected


def test_the_handmade_shapes_parse() -> None:
    """No case is quietly lost to a typo."""
    for source in SOURCES:
        ast.parse(source.encode("utf-8"))


@pytest.mark.parametrize("limit", [-1, 0, 1, 2])
def test_tiny_limits(limit: int) -> None:
    for source in ("", "x\n", "x = 1  # type: ignore\n"):
        tree = ast.parse(source, type_comments=True)
        expected = _reference_depth(tree) > limit
        assert deeper_than(tree, source.encode(), limit) is expected


def test_a_coding_cookie() -> None:
    """Positions count UTF-8 bytes of the decoded text, whatever the file's encoding; a ``str``
    source (the engine's, encoded to UTF-8 for the call) is parsed ignoring its cookie."""
    neg = "-" * 40 + "x"
    # A character is 1 byte in latin-1 and 2 in UTF-8; 4 bytes in GB18030 and 3 in UTF-8.
    for encoding, char in (("latin-1", "é"), ("gb18030", chr(0x20AC)), ("utf-8", "é")):
        for source in (
            f"# -*- coding: {encoding} -*-\ns = '{char * 30}'; t = {neg}\n",
            f"#!/bin/python\n# coding={encoding}\nx = (\n  '{char * 30}',\n  {neg}\n)\n",
            f"# coding: {encoding}\nx = 1\n# coding: utf-8 {char}\ny = {neg}\n",
        ):
            data = source.encode(encoding)
            _check_around(ast.parse(data), data)
            data = source.encode("utf-8")
            _check_around(ast.parse(source), data)
    source = f"# coding: no-such-codec\ns = 'é'; t = {neg}\n"
    _check_around(ast.parse(source), source.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# the bound


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)


def _inside_strings(tree: ast.AST) -> set[int]:
    """Ids of the nodes under an f-string (positions there are unreliable before 3.12)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            out.update(id(inner) for inner in ast.walk(node) if inner is not node)
    return out


def test_the_bound_holds_on_a_stdlib_sample() -> None:
    """height(N) <= pieces(N's range) + slack, for expressions and statements; checked where
    it is tight too: the sample holds many small nodes with few marks."""
    files = _stdlib_files()[::15]
    tight = 0
    for path in files:
        data = path.read_bytes()
        tree = _parse(data)
        if tree is None:
            continue
        utf8 = _utf8(data)
        if utf8 is None:
            continue  # a latin-1 file: deeper_than visits every node
        text = _Text(utf8)
        skip = _inside_strings(tree)
        for node in ast.walk(tree):
            if id(node) in skip or not isinstance(node, (ast.expr, ast.stmt)):
                continue
            first = text.offset(node.lineno, node.col_offset)
            last = text.offset(node.end_lineno, node.end_col_offset)  # type: ignore[arg-type]
            decorators = getattr(node, "decorator_list", None)
            if decorators:
                first = text.offset(decorators[0].lineno, decorators[0].col_offset)
            height = _height(node)
            bound = _pieces(text.data[first:last]) + _SLACK
            assert height <= bound, (path, node.lineno, ast.dump(node)[:200])
            tight += height == bound
    assert tight > 0


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        (b"", 0),
        (b"a", 1),
        (b"  abc  ", 1),
        (b"a.b", 3),
        (b"1if", 2),
        (b"0xfor", 2),
        (b"'a b'", 4),
        (b"x1", 1),
        (b"\xc3\xa9t\xc3\xa9", 1),
        (b"f(a, b)", 6),
    ],
)
def test_pieces_never_counts_fewer(text: bytes, pieces: int) -> None:
    assert pieces <= _pieces(text) <= pieces + 1


# --------------------------------------------------------------------------------------------
# the stdlib


def test_the_stdlib() -> None:
    """Every other stdlib file (all of them take twice the time), the same ones every run."""
    checked = 0
    for path in _stdlib_files()[::2]:
        data = path.read_bytes()
        tree = _parse(data)
        if tree is None:
            continue
        _check_around(tree, data)
        assert not deeper_than(tree, data, 1500)
        checked += 1
    assert checked >= 300


# --------------------------------------------------------------------------------------------
# generated programs

_NAMES = ("a", "b", "x")


def _expr(rng: random.Random, budget: int) -> ast.expr:
    """A random expression tree (unparsed later, with the fewest brackets)."""
    name = ast.Name(id=rng.choice(_NAMES), ctx=ast.Load())
    if budget <= 0 or rng.random() < 0.15:
        return rng.choice([name, ast.Constant(value=rng.choice([1, "s", None, 2.5]))])
    sub = budget - 1

    def e() -> ast.expr:
        # Deep but narrow: about one child in two goes on down.
        return _expr(rng, sub if rng.random() < 0.5 else min(sub, 1))

    choices = [
        lambda: ast.UnaryOp(op=rng.choice([ast.USub(), ast.Not(), ast.Invert()]), operand=e()),
        lambda: ast.BinOp(
            left=e(), op=rng.choice([ast.Add(), ast.Pow(), ast.MatMult()]), right=e()
        ),
        lambda: ast.BoolOp(op=ast.And(), values=[e(), e()]),
        lambda: ast.Compare(left=e(), ops=[ast.Lt(), ast.In()], comparators=[e(), e()]),
        lambda: ast.Attribute(value=e(), attr="y", ctx=ast.Load()),
        lambda: ast.Subscript(value=e(), slice=e(), ctx=ast.Load()),
        lambda: ast.Subscript(
            value=e(), slice=ast.Slice(lower=e(), upper=None, step=e()), ctx=ast.Load()
        ),
        lambda: ast.Call(
            func=e(),
            args=[e(), ast.Starred(value=e(), ctx=ast.Load())],
            keywords=[ast.keyword(arg="k", value=e()), ast.keyword(arg=None, value=e())],
        ),
        lambda: ast.Call(
            func=name,
            args=[
                ast.GeneratorExp(
                    elt=e(),
                    generators=[
                        ast.comprehension(
                            target=ast.Name(id="i", ctx=ast.Store()),
                            iter=e(),
                            ifs=[e()],
                            is_async=0,
                        )
                    ],
                )
            ],
            keywords=[],
        ),
        lambda: ast.Lambda(
            args=ast.arguments(
                posonlyargs=[],
                args=[ast.arg(arg="p")],
                vararg=None,
                kwonlyargs=[],
                kw_defaults=[],
                kwarg=None,
                defaults=rng.choice([[], [e()]]),
            ),
            body=e(),
        ),
        lambda: ast.IfExp(test=e(), body=e(), orelse=e()),
        lambda: ast.NamedExpr(target=ast.Name(id="w", ctx=ast.Store()), value=e()),
        lambda: ast.Await(value=e()),
        lambda: ast.Yield(value=e()),
        lambda: ast.List(elts=[e()], ctx=ast.Load()),
        lambda: ast.Tuple(elts=[e()], ctx=ast.Load()),
        lambda: ast.Dict(keys=[e(), None], values=[e(), e()]),
        lambda: ast.Set(elts=[e()]),
        lambda: ast.ListComp(
            elt=e(),
            generators=[
                ast.comprehension(
                    target=ast.Name(id="i", ctx=ast.Store()), iter=e(), ifs=[], is_async=0
                )
            ],
        ),
        lambda: ast.JoinedStr(
            values=[
                ast.Constant(value="t"),
                ast.FormattedValue(
                    value=e(),
                    conversion=-1,
                    format_spec=rng.choice(
                        [
                            None,
                            ast.JoinedStr(
                                values=[
                                    ast.FormattedValue(value=name, conversion=-1, format_spec=None)
                                ]
                            ),
                        ]
                    ),
                ),
            ]
        ),
    ]
    return rng.choice(choices)()


def _statement(rng: random.Random, expr: str, other: str) -> str:
    templates = [
        "x = {e}\n",
        "{e}\n",
        "with {e}:\n    pass\n",
        "with {o} as y, {e}:\n    pass\n",
        "def f(a={e}, *, b: {o}) -> {o}:\n    pass\n",
        "@{e}\ndef f():\n    pass\n",
        "class A({o}, k={e}):\n    pass\n",
        "for y in {e}:\n    pass\nelse:\n    z = {o}\n",
        "while {e}:\n    pass\n",
        "if {o}:\n    pass\nelif {e}:\n    pass\n",
        "try:\n    pass\nexcept {e}:\n    pass\n",
        "return {e}\n",
        "x[{o}] += {e}\n",
        "assert {e}, {o}\n",
    ]
    if MATCH:
        templates.append("match {o}:\n    case [1, {{1: (2 | a.b)}}, *r] if {e}:\n        pass\n")
    statement = rng.choice(templates).format(e=expr, o=other)
    # A few levels of blocks around it, indented with spaces or tabs.
    for level in range(rng.randrange(4)):
        indent = rng.choice([" ", "\t", "    "])
        inner = "".join(indent + line + "\n" for line in statement.splitlines())
        statement = rng.choice(["if a:\n", "async def g():\n", "class C:\n", "try:\n"]) + inner
        if statement.startswith("try"):
            statement += "finally:\n    pass\n"
        del level
    return statement


def test_generated_programs() -> None:
    """Random expression trees, unparsed with the fewest brackets (so with about as few marks
    as their height allows), in random statements and blocks, near the limits."""
    rng = random.Random(2026)
    checked = 0
    for _ in range(3000):
        expr = ast.unparse(ast.fix_missing_locations(_expr(rng, rng.randrange(2, 24))))
        other = ast.unparse(ast.fix_missing_locations(_expr(rng, rng.randrange(0, 4))))
        source = _statement(rng, expr, other)
        tree = _parse(source.encode())
        if tree is None:
            continue  # e.g. a ``yield`` where unparse left no brackets
        _check_around(tree, source.encode())
        checked += 1
    assert checked > 2000


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(hypothesmith.from_grammar())
def test_hypothesmith_programs(source: str) -> None:
    data = source.encode("utf-8", "surrogatepass")
    tree = _parse(data)
    if tree is not None:
        _check_around(tree, data)
