"""A StatementSourceMap (code generated statement by statement, only where asked) answers every
question exactly as a SourceMap of the whole module does, or declines to be made, or says it is
inexact; and the engine's rewrites are the same either way.

The reference is SourceMap itself (``test_sourcemap.py`` checks it against LibCST's metadata).
Modules: every fixture, a sample of the running interpreter's stdlib, and shapes chosen for
where a statement's lines start and end (comments above, between and below decorators, block
footers, dedented comments, semicolons, one-line compound statements, strings holding lines
that look like comments, continuation lines, form feeds, tabs, CRLF, CR).
"""

from __future__ import annotations

import ast
import bisect
import contextlib
import random
import sysconfig
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from cst_nodes import all_nodes

from ssot_codemod import engine
from ssot_codemod.analysis import ModuleIndex
from ssot_codemod.sourcemap import (
    SourceMap,
    StatementSourceMap,
    block_offsets,
    line_starts,
    statement_offsets,
    statement_source_map,
)

FIXTURES = Path(__file__).parent / "fixtures"
STDLIB = Path(sysconfig.get_paths()["stdlib"])

SHAPES = {
    "comments-around-decorators": (
        "# header\n\nimport os\n\n\n# above\n@dec\n# between\n@dec2(\n    1)\n"
        "def f():\n    pass\n    # in the block\n# dedented\n\nx = 1; y = 2\n# footer\n\n"
    ),
    "one-line-compounds": "if x: pass\nelse: y = 1\nz = 3\nclass C: pass\n",
    "string-with-comment-lines": 'x = """\n# not a comment\n\n"""\ny = 1\n',
    "tabs-and-block-footers": (
        "class A:\n\tdef f(self):\n\t\tpass\n\n\t# tab comment\n\n\t\t# deeper\n\nclass B: pass\n"
    ),
    "continuation-lines": "x = 1 \\\n  + 2\ny = (3,\n     4)\n",
    # A line of only a backslash joins the next one: LibCST gives it back otherwise.
    "lone-backslash": "x = 1\n\\\ny = 2\n",
    "form-feeds": "\x0cimport os\n\x0c\ndef f():\n    pass\n\x0c\n# c\ndef g():\n    pass\n",
    "nested-compounds": (
        "try:\n    import a\nexcept ImportError:\n    a = None\n    # c\nelse:\n    pass\n"
        "finally:\n    pass\n\nwhile b:\n    pass\nelse:\n    pass\n"
        "with a as b, c:\n    if d:\n        pass\n    elif e:\n        pass\n"
    ),
    "async": "async def f():\n    async with a:\n        await g()\n",
    "module-docstring": '"""Doc."""\n\nfrom __future__ import annotations\n',
    "class-bodies": (
        "class A(  # header comment\n    Base,\n\n):  # after the colon\n"
        '    # above the docstring\n\n    """Doc."""\n    x = 1; y = 2\n'
        "# dedented, between\n    @dec\n    # between decorators\n    @dec2\n"
        "    def f(self):\n        pass\n        # the method's footer\n\n"
        "    # above g\n    async def g(self):\n        await h()\n\n"
        "    class Inner:\n        z = 3\n\n            # deeper\n    # the class's footer\n"
        "\n\nclass B: pass\n\n\nclass C:\n    pass\n# after C\n"
        "class D:\n\tdef f(self):\n\t\treturn 1\n\n\t# tab comment\n\n\t\t# deeper\n"
    ),
}
SHAPES["crlf"] = SHAPES["comments-around-decorators"].replace("\n", "\r\n")
SHAPES["cr"] = SHAPES["nested-compounds"].replace("\n", "\r")
SHAPES["class-bodies-crlf"] = SHAPES["class-bodies"].replace("\n", "\r\n")
SHAPES["class-bodies-cr"] = SHAPES["class-bodies"].replace("\n", "\r")


def _fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.py") if p.is_file())


def _stdlib_files() -> list[Path]:
    picked = sorted(STDLIB.glob("*.py"))[::9]
    return [p for p in picked if p.stat().st_size < 120_000]


def _text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")  # newlines as they are
    except UnicodeDecodeError:
        return None


def _modules() -> list[tuple[str, str]]:
    named = [(str(p.relative_to(FIXTURES)), p) for p in _fixture_files()]
    named += [(f"stdlib/{p.name}", p) for p in _stdlib_files()]
    found = [(name, text) for name, path in named if (text := _text(path)) is not None]
    return found + sorted(SHAPES.items())


MODULES = _modules()


def _parsed(code: str) -> tuple[cst.Module, ast.Module]:
    try:
        tree = ast.parse(code)
        module = cst.parse_module(code)
    except (SyntaxError, cst.ParserSyntaxError):
        pytest.skip("not a module both parsers read")
    return module, tree


def _may_decline(module: cst.Module, code: str) -> bool:
    """What a StatementSourceMap is not made for: no statement, no final newline (as LibCST
    sees it), a BOM, or a text LibCST does not give back as it is (where that is known
    without generating a statement: its first and last lines)."""
    return (
        not module.body
        or not module.has_trailing_newline
        or code.startswith("\ufeff")
        or module.code != code
    )


@pytest.mark.parametrize(("name", "code"), MODULES, ids=[name for name, _ in MODULES])
def test_statements_start_where_a_whole_module_generation_puts_them(name: str, code: str) -> None:
    module, tree = _parsed(code)
    offsets = statement_offsets(module, code, engine.statement_lines(tree), line_starts(code))
    full = SourceMap(module)
    if offsets is None:
        assert _may_decline(module, code), "declined a module it could place"
        return
    if full.code == code:
        expected = [full._spans[id(stmt)][0] for stmt in module.body]
        assert offsets == [*expected, full._spans[id(module.body[-1])][1]]


@pytest.mark.parametrize(("name", "code"), MODULES, ids=[name for name, _ in MODULES])
def test_class_bodies_start_where_a_whole_module_generation_puts_them(name: str, code: str) -> None:
    module, tree = _parsed(code)
    starts = line_starts(code)
    offsets = statement_offsets(module, code, engine.statement_lines(tree), starts)
    full = SourceMap(module)
    if offsets is None or full.code != code:
        return
    members = dict(engine.member_lines(tree))
    position = 0
    for number, stmt in enumerate(module.body):
        if position in members and isinstance(stmt, cst.ClassDef):
            block = stmt.body
            placed = None
            if isinstance(block, cst.IndentedBlock):
                placed = block_offsets(
                    block,
                    code,
                    members[position],
                    starts,
                    owner_first=engine.statement_lines(tree)[position][0],
                    owner_end=bisect.bisect_right(starts, offsets[number + 1] - 1),
                )
            if isinstance(block, cst.IndentedBlock):
                assert placed is not None, "declined a class body it could place"
                expected = [full._spans[id(member)][0] for member in block.body]
                assert placed == [*expected, full._spans[id(block.body[-1])][1]]
        position += len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1


@pytest.mark.parametrize(("name", "code"), MODULES, ids=[name for name, _ in MODULES])
@pytest.mark.parametrize("members", [True, False], ids=["members", "statements"])
def test_every_node_is_answered_as_by_a_whole_module_map(
    name: str, code: str, members: bool
) -> None:
    module, tree = _parsed(code)
    lazy = statement_source_map(
        module, code, engine.statement_lines(tree), engine.member_lines(tree) if members else ()
    )
    full = SourceMap(module)
    if lazy is None:
        assert _may_decline(module, code)
        return
    nodes = all_nodes(module)
    if full.code != code:
        # LibCST does not give this text back as it is (a form feed before a statement is
        # dropped): a statement it changes is never taken as exact once generated.
        for node in nodes:
            lazy.text(node)
        assert lazy.inexact
        return
    # Asked in an order unlike the source's, half of them with the hints an index gives.
    random.Random(len(code)).shuffle(nodes)
    if len(code) % 2:
        ModuleIndex(module, source=lazy)
    for node in nodes:
        assert lazy.text(node) == full.text(node), node
        assert lazy.start(node) == full.start(node)
        assert lazy.end(node) == full.end(node)
        assert lazy.ancestors({id(node)}) == full.ancestors({id(node)})
    assert not lazy.inexact
    assert lazy.text(cst.Name("nowhere")) is None


def test_a_statement_nobody_asks_about_is_never_generated() -> None:
    # LibCST writes ``except OSError :`` back as ``except OSError:``: generating that
    # statement would show it.
    code = (
        "import os\n\n\nclass A:\n    def f(self):\n        return 1\n\n\n"
        "def g():\n    try:\n        pass\n    except OSError :\n        pass\n"
    )
    module, tree = _parsed(code)
    lazy = statement_source_map(module, code, engine.statement_lines(tree))
    assert isinstance(lazy, StatementSourceMap)
    index = ModuleIndex(module, source=lazy)
    method = index.classes["A"].method("f")
    assert method is not None
    assert lazy.text(method) == "    def f(self):\n        return 1\n"
    assert lazy.start(method) == (5, 1)
    assert lazy.code == code and not lazy.inexact
    # Asked about, it is generated, does not match its lines, and the map says so.
    function = module.body[2]
    assert lazy.text(cst.ensure_type(function, cst.FunctionDef).body) is None
    assert lazy.inexact


@pytest.mark.parametrize(("name", "code"), MODULES, ids=[name for name, _ in MODULES])
def test_a_method_is_parsed_from_its_lines_as_from_its_own_code(name: str, code: str) -> None:
    """``function_key`` and ``depends_on_defining_class`` read a method's ``ast``: from its
    placed lines, the same tree (but for positions) as from its own code generation."""
    module, tree = _parsed(code)
    lazy = statement_source_map(
        module, code, engine.statement_lines(tree), engine.member_lines(tree)
    )
    if lazy is None:
        return
    index = ModuleIndex(module, source=lazy)
    placed = 0
    for stmt in module.body:
        block = stmt.body if isinstance(stmt, cst.ClassDef) else None
        if not isinstance(block, cst.IndentedBlock):
            continue
        for method in block.body:
            if not isinstance(method, cst.FunctionDef):
                continue
            text = textwrap.dedent(module.code_for_node(method.with_changes(leading_lines=())))
            try:
                expected: str | None = ast.dump(ast.parse(text))
            except SyntaxError:
                expected = None
            from_lines = index._placed_function_tree(method)
            if from_lines is not None:
                placed += 1
                assert ast.dump(from_lines) == expected, method.name.value
            found = index._function_tree(method)
            assert (ast.dump(found) if found is not None else None) == expected
    if name == "class-bodies":
        assert placed == 3


def test_a_method_nobody_looks_into_is_never_generated() -> None:
    """A top-level class's methods are placed by CPython's lines: one is read (words, text,
    position, ancestors) without generating the class, and generated alone when a node in it
    is asked about. LibCST writes ``g``'s ``except OSError :`` back otherwise: generating it
    would show."""
    code = (
        "import os\n\n\nclass A:\n    def f(self):\n        return os.sep\n\n"
        "    def g(self):\n        try:\n            pass\n        except OSError :\n"
        "            pass\n"
    )
    module, tree = _parsed(code)
    lazy = statement_source_map(
        module, code, engine.statement_lines(tree), engine.member_lines(tree)
    )
    assert isinstance(lazy, StatementSourceMap)
    index = ModuleIndex(module, source=lazy)
    f, g = index.classes["A"].method("f"), index.classes["A"].method("g")
    assert f is not None and g is not None
    assert lazy.mentions(g, ("OSError",)) is True
    assert lazy.text(g) == code[code.index("\n\n    def g") + 1 :]
    assert lazy.start(f.name) == (5, 9)
    assert lazy.start(g.name) == (8, 9)  # only what comes before the name is generated
    assert lazy.end(g) == (13, 1)
    returned = cst.ensure_type(f.body, cst.IndentedBlock).body[0]
    # Read last, f is where a node nobody placed is looked for first (a rule reads a method,
    # then looks at what is in it).
    assert lazy.mentions(f, ("os.sep",)) is True
    cls = cst.ensure_type(module.body[1], cst.ClassDef)
    assert lazy.ancestors({id(returned)}) == {id(module), id(cls), id(cls.body), id(f), id(f.body)}
    assert lazy.start(g.name) == (8, 9)  # only what comes before the name is generated
    assert not lazy.inexact
    # The class itself asked about is generated whole, g with it: not its lines.
    assert lazy.text(cls.name) is None
    assert lazy.inexact


def test_a_node_of_another_tree_is_not_searched_for_by_mentions() -> None:
    """``mentions`` is asked of a rewrite's new nodes too: those are not looked for by
    generating every statement (only a hinted node's statement is generated)."""
    code = "x = 1\n\n\nclass A:\n    def f(self):\n        return x\n"
    module, tree = _parsed(code)
    lazy = statement_source_map(module, code, engine.statement_lines(tree))
    assert isinstance(lazy, StatementSourceMap)
    assert lazy.mentions(cst.Name("x"), ("x",)) is None
    assert lazy.mentions(module.body[1], ("return x",)) is True  # a top-level statement
    method = cst.ensure_type(cst.ensure_type(module.body[1], cst.ClassDef).body, cst.IndentedBlock)
    assert lazy.mentions(method.body[0], ("return",)) is None  # nobody said where it is
    ModuleIndex(module, source=lazy)
    assert lazy.mentions(method.body[0], ("return",)) is True


def _both_ways(code: str, **options: object) -> tuple[object, object]:
    settings = engine._Settings(
        options.get("rules"),  # type: ignore[arg-type]
        bool(options.get("unsafe_fixes", False)),
        options.get("helper_module"),  # type: ignore[arg-type]
        None,
        True,
    )

    def run(attempt: engine._Attempt | None) -> object:
        try:
            return engine._fix(code, settings, True, False, None, attempt)
        except engine.EngineError as exc:
            return str(exc)

    return run(engine._Attempt()), run(None)


@pytest.mark.parametrize(("name", "code"), MODULES, ids=[name for name, _ in MODULES])
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_the_engine_rewrites_alike_with_either_map(name: str, code: str, unsafe: bool) -> None:
    lazy, whole = _both_ways(code, unsafe_fixes=unsafe)
    assert lazy == whole


_ODD_TEAR_DOWN = (
    "    def tearDown(self):\n        try:\n            self.loop.close()\n"
    "        except RuntimeError :\n            pass\n\n"
)
_ODD_SET_UP = (
    "    def setUp(self):\n        try:\n            self.loop = asyncio.new_event_loop()\n"
    "        except RuntimeError :\n            raise\n\n"
    "        self.loop.run_until_complete(self.asyncSetUp())\n\n"
)
_PLAIN_SET_UP = (
    "    def setUp(self):\n        self.loop = asyncio.new_event_loop()\n"
    "        self.loop.run_until_complete(self.asyncSetUp())\n\n"
)


@pytest.mark.parametrize(
    ("methods", "inexact"),
    [
        # The bridge's method holds it: generated, it is not its lines, so the engine starts
        # again with whole-module maps, whose splice keeps that line as written.
        pytest.param(_ODD_SET_UP, True, id="in-the-rewritten-method"),
        # Another method holds it: never generated, kept as its own lines; the map stays exact.
        pytest.param(_PLAIN_SET_UP + _ODD_TEAR_DOWN, False, id="beside-it"),
    ],
)
def test_a_rewrite_near_a_statement_libcst_does_not_reproduce(methods: str, inexact: bool) -> None:
    """``except RuntimeError :`` comes back from LibCST as ``except RuntimeError:``."""
    code = (
        "import asyncio\nimport unittest\n\n\nclass Base(unittest.TestCase):\n"
        + methods
        + "    async def asyncSetUp(self):\n        self.ready = True\n"
    )
    attempt = engine._Attempt()
    settings = engine._Settings(None, False, None, None, True)
    with contextlib.suppress(Exception):  # an inexact map may fail anywhere: it is redone
        engine._fix(code, settings, True, False, None, attempt)
    assert attempt.maps and attempt.inexact() == inexact
    result = engine.fix_source(code)
    assert result == engine._fix(code, settings, True, False, None, None)
    assert result.changed and "except RuntimeError :" in result.code
    assert "run_coroutine_sync(self.asyncSetUp(), self.loop)" in result.code
