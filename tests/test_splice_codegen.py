"""A rewrite's spliced SourceMap is LibCST's own code generation of the rewrite, node by node.

``splice_codegen.rewrite_source_map`` writes kept statements as the original's text and
generates only the rest. The reference is a full recording code generation of the same tree
(:class:`SourceMap`), which is what the engine used before: same code, and for every node of
the rewrite the same text, start, end and ancestors. Inputs: every fixture and fixture project
file through the engine (with and without unsafe fixes and a helper module), generated
pattern modules, CRLF and tab-indented variants, and rewrites built by hand that move a kept
statement or re-indent a block, where the original's text must not be reused.
"""

from __future__ import annotations

import random
from pathlib import Path

import gen_monorepo
import libcst as cst
import pytest
from cst_nodes import all_nodes

from ssot_codemod.engine import EngineError, _run, _Settings
from ssot_codemod.files import read_source
from ssot_codemod.plan_apply import PlanApplier
from ssot_codemod.rules.base import Plan
from ssot_codemod.sourcemap import SourceMap
from ssot_codemod.splice_codegen import rewrite_source_map

FIXTURES = Path(__file__).parent / "fixtures"


def _same_as_full(module: cst.Module, spliced: SourceMap) -> None:
    full = SourceMap(module)
    assert spliced.code == full.code == module.code
    for node in all_nodes(module):
        assert spliced.text(node) == full.text(node), node
        assert spliced.start(node) == full.start(node)
        assert spliced.end(node) == full.end(node)
        assert spliced.ancestors({id(node)}) == full.ancestors({id(node)})


def _sources() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    files = sorted(FIXTURES.glob("*/*.py")) + sorted((FIXTURES / "projects").rglob("*.py"))
    for path in files:
        if path.name.endswith(".expected.py"):
            continue
        out.append((str(path.relative_to(FIXTURES)), read_source(path.read_bytes()).text))
    rng = random.Random(20261201)
    for number in range(40):
        out.append((f"generated/{number}", gen_monorepo._pattern_module(rng)))
    # The same shapes with CRLF line ends and tab indentation.
    for number in range(8):
        text = gen_monorepo._pattern_module(rng)
        out.append((f"generated-crlf/{number}", text.replace("\n", "\r\n")))
        out.append((f"generated-tabs/{number}", text.replace("    ", "\t")))
    return out


SOURCES = _sources()


@pytest.mark.parametrize(("name", "text"), SOURCES, ids=[name for name, _ in SOURCES])
@pytest.mark.parametrize(
    ("unsafe", "helper"), [(False, None), (True, None), (False, "tests.helpers")]
)
def test_engine_rewrites(name: str, text: str, unsafe: bool, helper: str | None) -> None:
    try:
        result, rewrite = _run(text, _Settings(None, unsafe, helper, None, True))
    except EngineError:
        pytest.skip("the engine refuses this input")
    if rewrite is None:
        assert not result.changed or result.code != text
        return
    assert result.code == rewrite.source.code
    _same_as_full(rewrite.module, rewrite.source)


ORIGINAL = """\
import os


class A:
    x = 1

    def f(self):
        a = 1
        b = 2  # keep
        if a:
            c = 3
        return a


def g():
    return 4
"""


Rebuilt = dict[int, tuple[cst.CSTNode, cst.CSTNode]]


def _rebuilt(*pairs: tuple[cst.CSTNode, cst.CSTNode]) -> Rebuilt:
    """What PlanApplier.rebuilt would say of these (rebuilt node, original) pairs."""
    return {id(node): (node, old) for node, old in pairs}


def _method_rebuilt(
    module: cst.Module, new_block: cst.IndentedBlock, *, stays_in_class: bool = True
) -> tuple[cst.FunctionDef, cst.ClassDef, Rebuilt]:
    """``A.f`` with *new_block* as its body, and class ``A`` rebuilt around it (or without it)."""
    klass, body, method = _parts(module)
    block = cst.ensure_type(method.body, cst.IndentedBlock)
    new_method = method.with_changes(body=new_block)
    new_body = body.with_changes(body=[body.body[0], new_method][: 2 if stays_in_class else 1])
    new_klass = klass.with_changes(body=new_body)
    pairs = ((new_block, block), (new_method, method), (new_body, body), (new_klass, klass))
    return new_method, new_klass, _rebuilt(*pairs)


def _parts(module: cst.Module) -> tuple[cst.ClassDef, cst.IndentedBlock, cst.FunctionDef]:
    klass = cst.ensure_type(module.body[1], cst.ClassDef)
    body = cst.ensure_type(klass.body, cst.IndentedBlock)
    method = cst.ensure_type(body.body[1], cst.FunctionDef)
    return klass, body, method


def test_a_plan_applied_by_the_engine_machinery() -> None:
    """An edit deep inside: everything around it is reused, and equals the full generation."""
    module = cst.parse_module(ORIGINAL)
    _klass, _body, method = _parts(module)
    block = cst.ensure_type(method.body, cst.IndentedBlock)
    plan = Plan(unsafe_fixes=False)
    plan.replacements[id(block.body[0])] = cst.parse_statement("a = 10\n")
    source = SourceMap(module)
    applier = PlanApplier(plan, source.ancestors({id(block.body[0])}))
    rewrite = module.visit(applier)
    spliced = rewrite_source_map(rewrite, module, source, applier.rebuilt)
    assert "a = 10\n        b = 2  # keep" in spliced.code
    _same_as_full(rewrite, spliced)


def test_a_kept_statement_moved_to_another_block_is_generated_again() -> None:
    """A statement object moved from a method to module level keeps its node identity, but its
    original text (indented) must not be reused: the map's guard sees another parent."""
    module = cst.parse_module(ORIGINAL)
    block = cst.ensure_type(_parts(module)[2].body, cst.IndentedBlock)
    moved = block.body[1]
    new_block = block.with_changes(body=[block.body[0], *block.body[2:]])
    _method, new_klass, rebuilt = _method_rebuilt(module, new_block)
    rewrite = module.with_changes(body=[module.body[0], new_klass, moved, module.body[2]])
    spliced = rewrite_source_map(rewrite, module, SourceMap(module), rebuilt)
    assert "\nb = 2  # keep\n" in spliced.code
    _same_as_full(rewrite, spliced)


def test_a_reindented_block_is_generated_again() -> None:
    module = cst.parse_module(ORIGINAL)
    block = cst.ensure_type(_parts(module)[2].body, cst.IndentedBlock)
    _method, new_klass, rebuilt = _method_rebuilt(module, block.with_changes(indent="  "))
    rewrite = module.with_changes(body=[module.body[0], new_klass, module.body[2]])
    spliced = rewrite_source_map(rewrite, module, SourceMap(module), rebuilt)
    assert "\n      a = 1\n" in spliced.code
    _same_as_full(rewrite, spliced)


@pytest.mark.parametrize(
    "change",
    [
        {"default_indent": "\t"},
        {"default_newline": "\r\n"},
        {"has_trailing_newline": False},
    ],
)
def test_module_wide_changes_generate_everything(change: dict[str, object]) -> None:
    module = cst.parse_module(
        ORIGINAL.replace("    ", "\t") if "default_indent" in change else ORIGINAL
    )
    rewrite = module.with_changes(**change)
    spliced = rewrite_source_map(rewrite, module, SourceMap(module), {})
    _same_as_full(rewrite, spliced)


def test_a_rebuilt_block_moved_elsewhere_is_generated_again() -> None:
    """A method rebuilt from the original's (so mapped to it) but moved out of its class: its
    statements' original text has the class's indentation, so it must not be reused."""
    module = cst.parse_module(ORIGINAL)
    block = cst.ensure_type(_parts(module)[2].body, cst.IndentedBlock)
    new_block = block.with_changes(body=[cst.parse_statement("z = 0\n"), *block.body])
    new_method, new_klass, rebuilt = _method_rebuilt(module, new_block, stays_in_class=False)
    rewrite = module.with_changes(body=[module.body[0], new_klass, new_method, module.body[2]])
    spliced = rewrite_source_map(rewrite, module, SourceMap(module), rebuilt)
    assert "\ndef f(self):\n    z = 0\n    a = 1\n" in spliced.code
    _same_as_full(rewrite, spliced)


def test_kept_statements_are_reused() -> None:
    """The engine's rewrites do take the reuse path (else the tests above prove little)."""
    from ssot_codemod.splice_codegen import _SplicedSourceMap

    text = gen_monorepo._pattern_module(random.Random(7))
    result, rewrite = _run(text, _Settings(None, False, None, None, True))
    assert rewrite is not None and result.changed
    assert isinstance(rewrite.source, _SplicedSourceMap)
    assert len(rewrite.source._shift) >= 3


def test_a_kept_statement_placed_twice() -> None:
    """LibCST allows one node object in two places: the text is still LibCST's own."""
    module = cst.parse_module(ORIGINAL)
    block = cst.ensure_type(_parts(module)[2].body, cst.IndentedBlock)
    twice = block.with_changes(body=[*block.body, block.body[1]])
    _method, new_klass, rebuilt = _method_rebuilt(module, twice)
    rewrite = module.with_changes(body=[module.body[0], new_klass, module.body[2]])
    spliced = rewrite_source_map(rewrite, module, SourceMap(module), rebuilt)
    assert spliced.code == rewrite.code
    assert spliced.code.count("b = 2  # keep") == 2
    kept = block.body[1]
    assert spliced.text(kept) == SourceMap(rewrite).text(kept)
    assert spliced.start(kept) == SourceMap(rewrite).start(kept)
    _same_as_full(rewrite, spliced)
