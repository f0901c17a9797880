"""Where module-level edits land: isort's sections and order, black's blank lines.

The placement fixtures (tests/fixtures/SSC001/placement_*.py) cover the helper; these cases
cover the import mechanics on their own, and the ``--helper-module`` import.
"""

from __future__ import annotations

import sys

import libcst as cst
import pytest

from ssot_codemod.engine import fix_source, parse_module
from ssot_codemod.module_edits import defines_name, drop_imports_left_unused, ensure_imports
from ssot_codemod.rules import select_rules
from ssot_codemod.types import EngineError


def added(source: str, *imports: tuple[str, str | None]) -> str:
    return ensure_imports(cst.parse_module(source), list(imports)).code


@pytest.mark.parametrize(
    ("source", "imports", "expected"),
    [
        # sorted among the plain stdlib imports, before the from-imports
        (
            "import os\nimport sys\nfrom typing import Any\n",
            [("json", None)],
            "import json\nimport os\nimport sys\nfrom typing import Any\n",
        ),
        # the first stdlib line: before the from-imports, taking their leading lines
        (
            '"""Doc."""\n\nfrom typing import Any\n\nimport pytest\n',
            [("json", None)],
            '"""Doc."""\n\nimport json\nfrom typing import Any\n\nimport pytest\n',
        ),
        # a new stdlib section between __future__ and third-party imports
        (
            "from __future__ import annotations\n\nimport pytest\n",
            [("json", None)],
            "from __future__ import annotations\n\nimport json\n\nimport pytest\n",
        ),
        # after the stdlib section, before the blank line that opens the next section
        (
            "import asyncio\n\nimport aiounittest\n",
            [("threading", None)],
            "import asyncio\nimport threading\n\nimport aiounittest\n",
        ),
        # merged into an existing from-import in isort's order (Classes before functions)
        (
            "from unittest import TestCase, mock\n",
            [("unittest", "IsolatedAsyncioTestCase")],
            "from unittest import IsolatedAsyncioTestCase, TestCase, mock\n",
        ),
        # a first-party from-import closes the import block, as its own section
        (
            "import unittest\n\nimport pytest\n\n\nclass A:\n    pass\n",
            [("tests.compat", "run_coroutine_sync")],
            "import unittest\n\nimport pytest\nfrom tests.compat import run_coroutine_sync\n"
            "\n\nclass A:\n    pass\n",
        ),
        # no imports at all: after the docstring, one blank line each side
        (
            '"""Doc."""\nX = 1\n',
            [("json", None)],
            '"""Doc."""\n\nimport json\n\nX = 1\n',
        ),
        # imports after code: only the first import block receives new imports
        (
            "import sys\n\nsys.path.insert(0, '.')\n\nimport unittest\n",
            [("json", None)],
            "import json\nimport sys\n\nsys.path.insert(0, '.')\n\nimport unittest\n",
        ),
    ],
)
def test_ensure_imports(source: str, imports: list[tuple[str, str | None]], expected: str) -> None:
    assert added(source, *imports) == expected


def test_ensure_imports_leaves_present_imports_alone() -> None:
    source = "import json\nfrom unittest import TestCase\n"
    assert added(source, ("json", None), ("unittest", "TestCase")) == source


def test_drop_imports_left_unused_only_drops_stdlib_names_the_rewrite_stopped_using() -> None:
    original = cst.parse_module(
        "from asyncio import run, sleep\nimport pytest\n\nrun(x)\nsleep\npytest.fail\n"
    )
    rewritten = cst.parse_module(
        "from asyncio import run, sleep\nimport pytest\n\nother(x)\nsleep\n"
    )
    code = drop_imports_left_unused(original, rewritten).code
    assert code == "from asyncio import sleep\nimport pytest\n\nother(x)\nsleep\n"


@pytest.mark.parametrize("mention", ["__all__ = ['run']", '__all__ = ["run"]', 'x: "run"'])
def test_drop_imports_keeps_names_mentioned_in_strings(mention: str) -> None:
    original = cst.parse_module(f"from asyncio import run\n{mention}\nrun(x)\n")
    rewritten = cst.parse_module(f"from asyncio import run\n{mention}\nother(x)\n")
    assert drop_imports_left_unused(original, rewritten).code == rewritten.code


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def run_coroutine_sync(c):\n    pass\n", True),
        ("async def run_coroutine_sync(c):\n    pass\n", True),
        ("from x import something as run_coroutine_sync\n", True),
        ("import run_coroutine_sync\n", True),
        ("run_coroutine_sync: object = None\n", True),
        ("class A:\n    def run_coroutine_sync(self):\n        pass\n", False),
    ],
)
def test_defines_name(source: str, expected: bool) -> None:
    assert defines_name(cst.parse_module(source), "run_coroutine_sync") is expected


def test_helper_module_import_lands_in_the_import_block() -> None:
    source = (
        '"""Doc."""\n\nimport asyncio\nimport unittest\n\n__all__ = ["T"]\n\n\n'
        "class T(unittest.TestCase):\n    def setUp(self):\n"
        "        asyncio.get_event_loop().run_until_complete(self.asyncSetUp())\n"
    )
    result = fix_source(source, rules=select_rules(["SSC001"]), helper_module="tests.compat")
    assert result.code.startswith(
        '"""Doc."""\n\nimport asyncio\nimport unittest\n\n'
        "from tests.compat import run_coroutine_sync\n\n"
        '__all__ = ["T"]\n'
    )


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("x = 1\n\n\ndef f(:\n    pass\n", "line 4:7: "),
        ("class A:\n    def f(self):\n        return (1,\n\n\nx = 2\n", "line 3:16: "),
    ],
)
def test_syntax_errors_are_reported_at_cpythons_position(source: str, where: str) -> None:
    with pytest.raises(SyntaxError) as cpython:
        compile(source, "<case>", "exec")
    said = f"line {cpython.value.lineno}:{cpython.value.offset}: "
    if sys.version_info >= (3, 10):  # 3.9's parser places an unclosed bracket's error later
        assert said == where
    with pytest.raises(EngineError) as info:
        parse_module(source)
    message = str(info.value)
    assert message.startswith("cannot parse: " + said), message
    assert "\n" not in message


@pytest.mark.parametrize(
    "source",
    [
        # the removed line held the last use: dropped
        "import asyncio\nimport os\n\nclass T:\n    def f(self):\n        asyncio.run(x)\n",
        # still used elsewhere, also only inside an f-string or a nested function: kept
        "import asyncio\n\ndef g():\n    asyncio.sleep(0)\n\nasyncio.run(x)\n",
        "import asyncio\n\ny = f'{asyncio.sleep}'\nasyncio.run(x)\n",
        # only an attribute name elsewhere (``x.asyncio`` reads x): dropped
        "import asyncio\n\nz = q.asyncio\nasyncio.run(x)\n",
        # named in a string: kept
        "import asyncio\n\n__all__ = ['asyncio']\nasyncio.run(x)\n",
        # a name the removed line reads but no import binds: nothing to do
        "import os\n\nasyncio.run(x)\nos.sep\n",
    ],
)
def test_drop_imports_shortcut_gives_the_full_answer(source: str) -> None:
    """Told which nodes the rewrite removed and given the original's SourceMap, the removal
    visits little of the tree; the answer is the one two full visits give."""
    from ssot_codemod.sourcemap import SourceMap

    original = cst.parse_module(source)
    removed = next(s for s in original.body if "asyncio.run" in original.code_for_node(s))
    if isinstance(removed, cst.ClassDef):  # the statement inside the method
        func = removed.body.body[0]
        assert isinstance(func, cst.FunctionDef)
        removed = func.body.body[0]
    rewritten = original.deep_replace(removed, cst.SimpleStatementLine([cst.Pass()]))
    assert isinstance(rewritten, cst.Module)
    full = drop_imports_left_unused(original, rewritten).code
    fast = drop_imports_left_unused(
        original, rewritten, removed=[removed], source=SourceMap(original)
    ).code
    assert fast == full
