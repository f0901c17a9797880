"""Properties of the engine and of apply/revert over generated programs.

- ``fix_source`` raises nothing but ``EngineError``;
- a text without findings comes out identical (and so does one whose findings have no fix);
- every rewrite compiles, and a second pass changes nothing;
- apply then revert (library API, real files) gives back the exact bytes.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssot_codemod.api import Options, apply_paths, revert_paths
from ssot_codemod.engine import fix_source
from ssot_codemod.types import EngineError, FixResult

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith's compile()

BRIDGE_CLASS = """\
import asyncio
import unittest

class Base(unittest.TestCase):
    def setUp(self):
        loop = asyncio.get_event_loop()
        loop.run_until_complete(self.asyncSetUp())

    async def asyncSetUp(self):
        pass
"""

SETTINGS = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
    derandomize=True,  # the same examples on every run and every machine (CI is a gate)
)


def run_engine(source: str, *, unsafe_fixes: bool = False) -> FixResult | None:
    """fix_source's result, None for EngineError; any other exception fails the test."""
    try:
        return fix_source(source, unsafe_fixes=unsafe_fixes)
    except EngineError as exc:
        assert str(exc) and "\n" not in str(exc)  # a one-line reason for the user
        return None


def compiles(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for generated nonsense like 1()
            compile(source, "<generated>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def check_engine_properties(source: str, *, unsafe_fixes: bool = False) -> FixResult | None:
    result = run_engine(source, unsafe_fixes=unsafe_fixes)
    if result is None:
        return None
    assert result.source == source
    if not any(f.applied for f in result.findings):
        assert result.code == source, "no fix applied, yet the text changed"
    if not result.findings:
        assert not result.changed
    if result.changed:
        assert compiles(result.code), result.code
        again = fix_source(result.code, unsafe_fixes=unsafe_fixes)
        assert again.code == result.code, "a second pass changes the rewrite again"
        assert not any(f.applied for f in again.findings)
    return result


def check_apply_revert(data: bytes, *, unsafe_fixes: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated_test.py"
        path.write_bytes(data)
        options = Options(jobs=1, unsafe_fixes=unsafe_fixes)
        applied = apply_paths([path], options)
        assert len(applied.files) == 1
        status = applied.files[0].status
        assert status in ("changed", "unchanged", "error"), applied.files[0]
        backup = path.with_name(path.name + ".backup")
        if status == "changed":
            assert backup.read_bytes() == data
            assert path.read_bytes() != data
        else:
            assert path.read_bytes() == data
            assert not backup.exists()
        reverted = revert_paths([Path(tmp)])
        assert not reverted.has_errors, reverted
        assert path.read_bytes() == data
        assert sorted(p.name for p in Path(tmp).iterdir()) == [path.name]


# -------------------------------------------------------------------------------------------
# programs from the Python grammar


@settings(SETTINGS, max_examples=60)
@given(source=hypothesmith.from_grammar())
def test_grammar_programs(source: str) -> None:
    check_engine_properties(source)


@settings(SETTINGS, max_examples=60)
@given(program=hypothesmith.from_grammar(), before=st.booleans())
def test_grammar_programs_around_a_bridge(program: str, before: bool) -> None:
    """Random code before or after a class the engine rewrites: parsed, analysed, verified."""
    if program and not program.endswith(("\n", "\r")):
        program += "\n"
    source = BRIDGE_CLASS + "\n" + program if before else program + "\n" + BRIDGE_CLASS
    result = check_engine_properties(source)
    if result is not None and result.changed:
        assert "run_coroutine_sync(self.asyncSetUp(), loop)" in result.code
        check_apply_revert(source.encode("utf-8", "surrogatepass"))


# -------------------------------------------------------------------------------------------
# test classes mixing the patterns the rules look for

LOOP_EXPRESSIONS = [
    "asyncio.get_event_loop()",
    "asyncio.new_event_loop()",
    "asyncio.get_event_loop_policy().get_event_loop()",
    "self.loop",
    "self._loop",
    "getattr(self, 'loop', None) or asyncio.get_event_loop()",
    "type(self).loop",
]
BASES = [
    "unittest.TestCase",
    "TestCase",
    "unittest.IsolatedAsyncioTestCase",
    "IsolatedAsyncioTestCase",
    "object",
    "Mixin, unittest.TestCase",
    "Base0",
    "Base1, unittest.TestCase",
    "metaclass=Meta",
]
SIMPLE_STATEMENTS = [
    "self.value = 1",
    "self.items = [i * 2 for i in range(3)]",
    "x = {'a': 1}  # a comment",
    "pass",
    "print('hello', end='')",
    "del self.value",
    "self.client = None",
    "assert True, 'message'",
    "'''a docstring-like string'''",
]
AWAIT_STATEMENTS = [
    "await asyncio.sleep(0)",
    "self.conn = await asyncio.sleep(0, result='conn')",
    "async with contextlib.AsyncExitStack() as stack:\n{i}pass",
    "async for _ in agen():\n{i}pass",
]


@st.composite
def bridge(draw: st.DrawFn, host: str, hook: str) -> list[str]:
    loop = draw(st.sampled_from(LOOP_EXPRESSIONS))
    form = draw(st.integers(0, 4))
    call = f"self.{hook}()"
    if form == 0:
        return [f"loop = {loop}", f"loop.run_until_complete({call})"]
    if form == 1:
        return [f"{loop}.run_until_complete({call})"]
    if form == 2:
        return [f"asyncio.run({call})"]
    if form == 3:
        return [
            "try:",
            "{i}loop = asyncio.get_event_loop()",
            "except RuntimeError:",
            "{i}loop = asyncio.new_event_loop()",
            f"loop.run_until_complete({call})",
        ]
    return [
        f"if hasattr(self, '{hook}') and asyncio.iscoroutinefunction(self.{hook}):",
        f"{{i}}{loop}.run_until_complete({call})",
    ]


@st.composite
def method(draw: st.DrawFn, name: str, *, is_async: bool, body: list[str]) -> list[str]:
    decorator = draw(st.sampled_from(["", "", "", "@staticmethod_like"]))
    lines = [decorator] if decorator else []
    lines.append(f"{'async ' if is_async else ''}def {name}(self):")
    docstring = draw(st.booleans())
    if docstring:
        lines.append('{i}"""Docstring."""')
    lines.extend("{i}" + line for line in body or ["pass"])
    return lines


@st.composite
def statements(draw: st.DrawFn, *, awaits: bool) -> list[list[str]]:
    """Whole statements (a compound one spans several lines), so insertions stay between them."""
    pool = SIMPLE_STATEMENTS + (AWAIT_STATEMENTS if awaits else [])
    return [stmt.split("\n") for stmt in draw(st.lists(st.sampled_from(pool), max_size=3))]


def flat(blocks: list[list[str]]) -> list[str]:
    return [line for block in blocks for line in block]


@st.composite
def case_class(draw: st.DrawFn, index: int) -> list[str]:
    base = draw(st.sampled_from(BASES))
    methods: list[list[str]] = []
    kinds = draw(
        st.lists(
            st.sampled_from(
                [
                    "setUp-bridge",
                    "tearDown-bridge",
                    "asyncSetUp",
                    "asyncTearDown",
                    "twin-setUp",
                    "async-test",
                    "sync-test",
                    "setUpClass",
                    "plain",
                ]
            ),
            min_size=1,
            max_size=6,
        )
    )
    for kind in kinds:
        if kind in ("setUp-bridge", "tearDown-bridge"):
            host = "setUp" if kind == "setUp-bridge" else "tearDown"
            hook = "asyncSetUp" if host == "setUp" else "asyncTearDown"
            blocks = draw(statements(awaits=False))
            if draw(st.booleans()):
                blocks.insert(0, [f"super().{host}()"])
            position = draw(st.integers(0, len(blocks)))
            blocks.insert(position, draw(bridge(host, hook)))
            methods.append(draw(method(host, is_async=False, body=flat(blocks))))
        elif kind in ("asyncSetUp", "asyncTearDown"):
            sync = "setUp" if kind == "asyncSetUp" else "tearDown"
            blocks = draw(statements(awaits=True))
            reentry = draw(
                st.sampled_from(
                    [
                        None,
                        f"super().{sync}()",
                        f"self.{sync}()",
                        f"super({f'Case{index}'}, self).{sync}()",
                        f"if hasattr(super(), '{sync}'):\n{{i}}super().{sync}()",
                        f"await super().{kind}()",
                    ]
                )
            )
            if reentry:
                position = draw(st.integers(0, len(blocks)))
                blocks.insert(position, reentry.split("\n"))
            methods.append(draw(method(kind, is_async=True, body=flat(blocks))))
        elif kind == "twin-setUp":
            body = flat(draw(statements(awaits=False)))
            other = body if draw(st.booleans()) else flat(draw(statements(awaits=False)))
            methods.append(draw(method("setUp", is_async=False, body=body)))
            methods.append(draw(method("setUp", is_async=False, body=other)))
        elif kind == "async-test":
            body = flat(draw(statements(awaits=True)))
            methods.append(draw(method(f"test_async_{len(methods)}", is_async=True, body=body)))
        elif kind == "sync-test":
            methods.append(
                draw(
                    method(
                        f"test_sync_{len(methods)}", is_async=False, body=["self.assertTrue(True)"]
                    )
                )
            )
        elif kind == "setUpClass":
            loop = draw(st.sampled_from(LOOP_EXPRESSIONS[:3]))
            methods.append(["@classmethod", "def setUpClass(cls):", f"{{i}}cls.loop = {loop}"])
        else:
            methods.append(draw(method(f"helper_{len(methods)}", is_async=False, body=[])))
    lines = [f"class Case{index}({base}):"]
    if draw(st.booleans()):
        lines.append('{i}"""A generated test case."""')
    for m in methods:
        lines.append("")
        lines.extend("{i}" + line if line else "" for line in m)
    return lines


@st.composite
def case_modules(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(["    ", "  ", "\t"]))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    header = draw(
        st.lists(
            st.sampled_from(
                [
                    '"""Module docstring."""',
                    "# leading comment",
                    "from __future__ import annotations",
                ]
            ),
            unique=True,
        )
    )
    header = sorted(header, key=lambda h: (not h.startswith('"""'), h.startswith("# ")))
    imports = draw(
        st.lists(
            st.sampled_from(
                [
                    "import asyncio",
                    "import unittest",
                    "import contextlib",
                    "from unittest import TestCase, IsolatedAsyncioTestCase",
                    "import asyncio as aio",
                    "import threading",
                ]
            ),
            unique=True,
            min_size=1,
        )
    )
    prelude = [
        "",
        "class Mixin:",
        "{i}pass",
        "",
        "class Meta(type):",
        "{i}pass",
        "",
        "class Base0:",
        "{i}def setUp(self):",
        "{i}{i}self.value = 1",
        "",
        "class Base1:",
        "{i}pass",
        "",
        "async def agen():",
        "{i}yield 1",
    ]
    if draw(st.booleans()):
        prelude += ["", "def run_coroutine_sync(coro, loop=None):", "{i}return None"]
    lines = [*header, *imports, *prelude]
    for index in range(draw(st.integers(1, 3))):
        lines += ["", ""]
        lines += draw(case_class(index))
    if draw(st.booleans()):
        lines += ["", "if __name__ == '__main__':", "{i}unittest.main()"]
    text = newline.join(line.replace("{i}", unit) for line in lines)
    if draw(st.booleans()):
        text += newline
    return text


@settings(SETTINGS, max_examples=100)
@given(source=case_modules(), unsafe_fixes=st.booleans())
def test_generated_test_modules(source: str, unsafe_fixes: bool) -> None:
    assert compiles(source), source  # the strategy itself only produces valid modules
    result = check_engine_properties(source, unsafe_fixes=unsafe_fixes)
    if result is not None and result.changed:
        # The line ending of the file is the line ending of the rewrite.
        if "\r\n" in source:
            assert result.code.count("\n") == result.code.count("\r\n")
        check_apply_revert(source.encode(), unsafe_fixes=unsafe_fixes)


def test_the_class_strategy_reaches_every_rule() -> None:
    """Guard against a strategy that silently stops producing findings."""
    seen: set[str] = set()
    changed = 0

    @settings(SETTINGS, max_examples=150)
    @given(source=case_modules())
    def collect(source: str) -> None:
        nonlocal changed
        result = run_engine(source, unsafe_fixes=True)
        if result is not None:
            seen.update(f.code for f in result.findings)
            changed += result.changed

    collect()
    assert {"SSC001", "SSC002", "SSC003", "SSC004"} <= seen, seen
    assert changed >= 10


@settings(SETTINGS, max_examples=30)
@given(source=case_modules())
def test_apply_then_revert_is_byte_exact(source: str) -> None:
    check_apply_revert(source.encode("utf-8"))


@pytest.mark.parametrize("source", ["", "\n", "\r\n", "\ufeff", "x = 1", "# only a comment"])
def test_trivial_texts(source: str) -> None:
    result = check_engine_properties(source)
    assert result is not None and result.code == source
