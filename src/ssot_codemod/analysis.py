"""What a module tells us about itself: imports, aliases, classes and their local MRO.

Rules ask this index questions such as "is this class a plain ``unittest.TestCase``?" or "which
``setUp`` does ``super()`` reach from here?". Anything that depends on code outside the module is
answered with ``UNKNOWN`` instead of a guess, so rules can report rather than rewrite.
"""

from __future__ import annotations

import ast
import contextlib
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

# Only code that has a parsed tree touches LibCST: the project index imports this module's
# constants and ``ast`` helpers in runs that parse nothing (see lazy_cst.py).
from ssot_codemod.lazy_cst import cst
from ssot_codemod.project.context import EMPTY_CONTEXT, ExternalClass, MethodSummary, ProjectContext

if TYPE_CHECKING:
    from ssot_codemod.sourcemap import SourceMap

UNKNOWN = "?"
LOCAL_PREFIX = "local:"
BUILTIN_OBJECT = "builtins.object"

TESTCASE_BASES = frozenset({"unittest.TestCase", "unittest.case.TestCase"})

# Bases whose runner calls setUp and then awaits asyncSetUp/asyncTearDown itself: a hand-written
# bridge there is a version-gated fallback, and ``super().setUp()`` in asyncSetUp runs setUp twice.
RUNS_ASYNC_HOOKS_BASES = frozenset(
    {
        "unittest.IsolatedAsyncioTestCase",
        "unittest.async_case.IsolatedAsyncioTestCase",
        "aiohttp.test_utils.AioHTTPTestCase",  # an IsolatedAsyncioTestCase since aiohttp 3.8
    }
)

# Bases under which ``async def test_*`` does run (they await coroutine tests themselves). Only
# those in RUNS_ASYNC_HOOKS_BASES know about asyncSetUp: in a Django or aiounittest class the
# hand-written bridge is still the only path to asyncSetUp, and it fails the same way.
ASYNC_AWARE_BASES = RUNS_ASYNC_HOOKS_BASES | frozenset(
    {
        "aiounittest.AsyncTestCase",
        "aiounittest.case.AsyncTestCase",
        "asynctest.TestCase",
        "asynctest.case.TestCase",
        "asynctest.ClockedTestCase",
        "asynctest.case.ClockedTestCase",
        "django.test.SimpleTestCase",
        "django.test.TestCase",
        "django.test.TransactionTestCase",
        "django.test.LiveServerTestCase",
        "django.test.testcases.SimpleTestCase",
        "django.test.testcases.TestCase",
        "django.test.testcases.TransactionTestCase",
        "django.test.testcases.LiveServerTestCase",
        "rest_framework.test.APISimpleTestCase",
        "rest_framework.test.APITestCase",
        "rest_framework.test.APITransactionTestCase",
        "rest_framework.test.APILiveServerTestCase",
        "tornado.testing.AsyncTestCase",
        "tornado.testing.AsyncHTTPTestCase",
        "twisted.trial.unittest.TestCase",
    }
)

_SYNC_HOOKS = frozenset({"setUp", "tearDown", "setUpClass", "tearDownClass"})
_ASYNC_HOOKS = frozenset({"asyncSetUp", "asyncTearDown"})

# Methods these well-known bases define, none of which runs an async hook through a bridge; any
# other name on them is "not defined". (Django's and the others' setUp never call asyncSetUp.)
_KNOWN_BASE_METHODS: dict[str, frozenset[str]] = {
    **{name: _SYNC_HOOKS for name in TESTCASE_BASES | ASYNC_AWARE_BASES},
    **{name: _SYNC_HOOKS | _ASYNC_HOOKS for name in RUNS_ASYNC_HOOKS_BASES},
    BUILTIN_OBJECT: frozenset(),
}

# unittest machinery: a class that overrides these drives its own test execution (for example a
# backport of IsolatedAsyncioTestCase), so what we know about TestCase no longer holds for it.
RUNNER_METHODS = frozenset(
    {"run", "debug", "__call__", "_callSetUp", "_callTearDown", "_callTestMethod"}
)


@dataclass(frozen=True)
class InheritedMethod:
    """Result of a method lookup along the local MRO."""

    owner: str  # class key: "local:Name", a project class id, a qualified name, or UNKNOWN
    node: cst.FunctionDef | None  # the definition when the owner is a local class
    # What the project index knows about the definition when the owner is in another file.
    external: MethodSummary | None = None
    owner_name: str = ""  # the defining class's name (local or in another file)

    @property
    def known(self) -> bool:
        return self.owner != UNKNOWN

    @property
    def defined(self) -> bool:
        """Defined by a class of the project (this file or another), not a library no-op."""
        return self.node is not None or self.external is not None


NOT_DEFINED = InheritedMethod(BUILTIN_OBJECT, None)


@dataclass
class ClassInfo:
    name: str
    node: cst.ClassDef
    methods: dict[str, list[cst.FunctionDef]] = field(default_factory=dict)
    # The module-level statement that contains the class (the class itself when top-level).
    top_level: cst.CSTNode | None = None
    # Defined at module level (possibly under if/try/with), not inside a function or class.
    module_scope: bool = True
    # Unique key in ModuleIndex.classes: the name, or "Name#2"... for later classes that
    # reuse a name (a version-gated twin, a shadowed copy, a class built in a factory).
    key: str = ""

    def method(self, name: str) -> cst.FunctionDef | None:
        """The definition that exists at runtime: the last one in the class body."""
        defs = self.methods.get(name)
        return defs[-1] if defs else None


@dataclass(frozen=True)
class ClassFacts:
    is_testcase: bool  # some ancestor is unittest.TestCase
    is_async_aware: bool  # some ancestor (possibly) awaits coroutine tests itself
    runs_async_hooks: bool  # some ancestor (possibly) awaits asyncSetUp/asyncTearDown itself
    unknown_bases: tuple[str, ...]  # base expressions we cannot resolve, as source text
    has_metaclass: bool
    overrides_runner: bool


def dotted_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted_name(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None


class ModuleIndex:
    """Bindings and classes of one module, computed once and shared by all rules."""

    def __init__(
        self,
        module: cst.Module,
        context: ProjectContext | None = None,
        *,
        source: SourceMap | None = None,
    ) -> None:
        self.module = module
        # Facts about classes in other files of the project (empty: the single-file view).
        self.context = context if context is not None else EMPTY_CONTEXT
        self.bindings: dict[str, set[str]] = {}
        self.star_import = False
        self.classes: dict[str, ClassInfo] = {}
        self.class_of_node: dict[int, ClassInfo] = {}
        self._facts: dict[str, ClassFacts] = {}
        self._mro: dict[str, list[str] | None] = {}
        self._pending_aliases: list[tuple[str, cst.BaseExpression]] = []
        self._source = source  # the module's SourceMap when its code generation already ran
        # Per-module memo for rules (keyed by a label and a node id).
        self.memo: dict[tuple[str, int], object] = {}
        for stmt in module.body:
            self._index_statement(stmt, top_level=True)
        for name, value in self._pending_aliases:
            self.bindings.setdefault(name, set()).update(self.resolve(value))
        found = _collect_classes(module)
        # Every class is analysed, under a unique key. The plain name goes to the first class
        # defined at module level, which is what the module-level binding of the name means;
        # two module-level classes with one name make that binding ambiguous.
        taken: set[str] = set()
        for info in sorted(found, key=lambda i: not i.module_scope):
            if info.name in taken and info.module_scope:
                self.bindings.setdefault(info.name, set()).add(UNKNOWN)
            key, number = info.name, 2
            while key in taken:
                key, number = f"{info.name}#{number}", number + 1
            info.key = key
            taken.add(key)
        for info in found:  # source order
            self.class_of_node[id(info.node)] = info
            self.classes[info.key] = info
        hint = getattr(source, "hint", None)  # a StatementSourceMap: where classes are
        if hint is not None:
            for info in found:
                hint(info.top_level, [info.node, *(f for fs in info.methods.values() for f in fs)])

    @property
    def source(self) -> SourceMap:
        """Text and positions of every node, from one code generation pass made on demand."""
        if self._source is None:
            from ssot_codemod.sourcemap import SourceMap  # LibCST's codegen: parsed files only

            self._source = SourceMap(self.module)
        return self._source

    def function_key(self, node: cst.FunctionDef) -> str | None:
        """:func:`function_key` of a function of this module (memoised)."""
        memo_key = ("function_key", id(node))
        if memo_key not in self.memo:
            tree = self._function_tree(node)
            first = tree.body[0] if tree is not None and tree.body else None
            self.memo[memo_key] = (
                normalized_ast_function(first)
                if isinstance(first, (ast.FunctionDef, ast.AsyncFunctionDef))
                else None
            )
        cached = self.memo[memo_key]
        return cached if isinstance(cached, str) else None

    def depends_on_defining_class(self, node: cst.FunctionDef) -> str | None:
        """:func:`depends_on_defining_class` of a function of this module, from the parse
        its :meth:`function_key` made (the same text)."""
        tree = self._function_tree(node)
        if tree is None:  # the function raises as it always did
            return depends_on_defining_class(self.module, node)
        return depends_on_class_ast(tree)

    def _function_tree(self, node: cst.FunctionDef) -> ast.Module | None:
        """``ast`` of the function's own text, as :func:`function_key` and
        :func:`depends_on_defining_class` parse it (memoised; None: it does not parse)."""
        memo_key = ("function_tree", id(node))
        if memo_key not in self.memo:
            tree = self._placed_function_tree(node)
            if tree is None:
                text = textwrap.dedent(
                    self.module.code_for_node(node.with_changes(leading_lines=()))
                )
                with contextlib.suppress(SyntaxError):
                    tree = ast.parse(text)
            self.memo[memo_key] = tree
        cached = self.memo[memo_key]
        return cached if isinstance(cached, ast.Module) else None

    def _placed_function_tree(self, node: cst.FunctionDef) -> ast.Module | None:
        """``ast`` of the function's lines in the module, where its map knows them without
        generating code (a method of a top-level class), parsed as the body of an ``if``
        (they are indented); None where that cannot be done. The same tree as that of its
        own code generation but for positions: LibCST writes a node's tokens back as they
        are, and the indentation it regenerates is not in the tree."""
        lines = None
        if self._source is not None:
            lines = self._source.known_lines(node, len(node.leading_lines))
        if lines is None or not lines.startswith((" ", "\t")):
            return None
        try:
            wrapper = ast.parse("if 1:\n" + lines)
        except SyntaxError:
            return None
        body = wrapper.body[0].body if isinstance(wrapper.body[0], ast.If) else []
        if len(body) != 1 or not isinstance(body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        return ast.Module(body=body, type_ignores=[])

    def code_for(self, node: cst.CSTNode) -> str:
        """Source text of a node of this module (memoised)."""
        text = self.source.text(node)
        return text if text is not None else self.module.code_for_node(node)

    def mentions(self, node: cst.CSTNode, words: Iterable[str]) -> bool:
        """Whether the node's text contains any of *words* (none spanning whitespace): from the
        module's map if there is one, else from the node's own code generation (which differs
        from it in indentation only), never by building a map of the whole module."""
        words = tuple(words)
        found = self._source.mentions(node, words) if self._source is not None else None
        if found is None:
            text = self.module.code_for_node(node)
            return any(word in text for word in words)
        return found

    # -- bindings ---------------------------------------------------------------------------
    def _bind(self, name: str, target: str) -> None:
        self.bindings.setdefault(name, set()).add(target)

    def _index_statement(self, stmt: cst.CSTNode, *, top_level: bool) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._index_small(small)
        elif isinstance(stmt, cst.ClassDef):
            self._bind(stmt.name.value, LOCAL_PREFIX + stmt.name.value)
        elif isinstance(stmt, cst.FunctionDef):
            self._bind(stmt.name.value, UNKNOWN)
        elif isinstance(stmt, (cst.If, cst.Try, cst.With)):
            # Version gates and optional imports: every branch may bind, so take the union.
            for inner in child_statements(stmt):
                self._index_statement(inner, top_level=False)

    def _index_small(self, small: cst.BaseSmallStatement) -> None:
        if isinstance(small, cst.Import):
            for alias in small.names:
                full = dotted_name(alias.name) or UNKNOWN
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    self._bind(alias.asname.name.value, full)
                else:
                    head = full.split(".")[0]
                    self._bind(head, head)
        elif isinstance(small, cst.ImportFrom):
            module_name = dotted_name(small.module) if small.module is not None else ""
            if small.relative:
                module_name = "." * len(small.relative) + (module_name or "")
            if isinstance(small.names, cst.ImportStar):
                self.star_import = True
                return
            for alias in small.names:
                imported = dotted_name(alias.name) or UNKNOWN
                local = imported
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    local = alias.asname.name.value
                if not module_name or module_name.endswith("."):  # from . import name
                    self._bind(local, f"{module_name}{imported}")
                else:
                    self._bind(local, f"{module_name}.{imported}")
        elif isinstance(small, (cst.Assign, cst.AnnAssign)):
            targets: Sequence[cst.BaseExpression]
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            else:
                targets = [small.target]
            value = small.value
            for target in targets:
                if isinstance(target, cst.Name):
                    if value is None:
                        continue
                    self._pending_aliases.append((target.value, value))
                else:
                    for name in _names_in_target(target):
                        self._bind(name, UNKNOWN)

    def resolve(self, expr: cst.BaseExpression, _depth: int = 0) -> set[str]:
        """Possible qualified names of an expression used as a base or callee."""
        if _depth > 20:
            return {UNKNOWN}
        if isinstance(expr, cst.IfExp):
            return self.resolve(expr.body, _depth + 1) | self.resolve(expr.orelse, _depth + 1)
        if isinstance(expr, cst.Name):
            bound = self.bindings.get(expr.value)
            if bound is None:
                if expr.value == "object":
                    return {BUILTIN_OBJECT}
                return {UNKNOWN}
            result: set[str] = set()
            for target in bound:
                if target.startswith(LOCAL_PREFIX) or target == UNKNOWN or "." in target:
                    result.add(target)
                else:
                    result.add(target)
            return result
        if isinstance(expr, cst.Attribute):
            heads = self.resolve(expr.value, _depth + 1)
            return {
                UNKNOWN if h == UNKNOWN or h.startswith(LOCAL_PREFIX) else f"{h}.{expr.attr.value}"
                for h in heads
            }
        return {UNKNOWN}

    def external_class(self, key: str) -> ExternalClass | None:
        """A class of another project file, by MRO key (its id) or by qualified spelling."""
        return self.context.by_id(key) or self.context.external(key)

    def method_key(self, found: InheritedMethod) -> str | None:
        """The normalised body of a found method, local or in another file."""
        if found.node is not None:
            return self.function_key(found.node)
        return found.external.key if found.external is not None else None

    def resolves_to(self, expr: cst.BaseExpression, qualified: str) -> bool:
        return self.resolve(expr) == {qualified}

    # -- classes ----------------------------------------------------------------------------
    def class_for(self, node: cst.ClassDef) -> ClassInfo | None:
        return self.class_of_node.get(id(node))

    def base_keys(self, info: ClassInfo) -> list[set[str]]:
        return [self.resolve(arg.value) for arg in info.node.bases]

    def facts(self, info: ClassInfo) -> ClassFacts:
        cached = self._facts.get(info.key)
        if cached is None:
            cached = self._compute_facts(info, seen=set())
            self._facts[info.key] = cached
        return cached

    def _compute_facts(self, info: ClassInfo, seen: set[str]) -> ClassFacts:
        seen = seen | {info.key}
        is_testcase = False
        is_async = False
        runs_hooks = False
        unknown: list[str] = []
        has_metaclass = any(
            kw.keyword is not None and kw.keyword.value == "metaclass" for kw in info.node.keywords
        )
        overrides_runner = any(name in info.methods for name in RUNNER_METHODS)
        for arg in info.node.bases:
            for key in self.resolve(arg.value):
                if key.startswith(LOCAL_PREFIX):
                    parent = self.classes.get(key[len(LOCAL_PREFIX) :])
                    if parent is None or parent.key in seen:
                        unknown.append(self.module.code_for_node(arg.value))
                        continue
                    sub = self._compute_facts(parent, seen)
                    is_testcase |= sub.is_testcase
                    is_async |= sub.is_async_aware
                    runs_hooks |= sub.runs_async_hooks
                    unknown.extend(sub.unknown_bases)
                    has_metaclass |= sub.has_metaclass
                    overrides_runner |= sub.overrides_runner
                elif key in ASYNC_AWARE_BASES:
                    is_async = True
                    runs_hooks |= key in RUNS_ASYNC_HOOKS_BASES
                elif key in TESTCASE_BASES:
                    is_testcase = True
                elif (external := self.context.external(key)) is not None:
                    is_testcase |= external.is_testcase
                    is_async |= external.is_async_aware
                    runs_hooks |= external.runs_async_hooks
                    unknown.extend(external.unknown_bases)
                    has_metaclass |= external.has_metaclass
                    overrides_runner |= external.overrides_runner
                elif key != BUILTIN_OBJECT:
                    text = self.module.code_for_node(arg.value)
                    why = self.context.why_unresolved(key)
                    unknown.append(f"{text} ({why})" if why else text)
        return ClassFacts(
            is_testcase=is_testcase,
            is_async_aware=is_async,
            runs_async_hooks=runs_hooks,
            unknown_bases=tuple(dict.fromkeys(unknown)),
            has_metaclass=has_metaclass,
            overrides_runner=overrides_runner,
        )

    def mro(self, info: ClassInfo) -> list[str] | None:
        """C3 linearisation over local classes; external bases are opaque leaves."""
        key = LOCAL_PREFIX + info.key
        if key not in self._mro:
            self._mro[key] = None  # guards against cycles while computing
            self._mro[key] = self._linearise(info)
        return self._mro[key]

    def _linearise(self, info: ClassInfo) -> list[str] | None:
        def local_mro(name: str) -> list[str] | None:
            parent = self.classes.get(name)
            return None if parent is None else self.mro(parent)

        return linearise(info.key, self.base_keys(info), local_mro, self.context)

    def lookup(self, info: ClassInfo, name: str, *, after: str | None = None) -> InheritedMethod:
        """The definition of ``name`` an instance sees, or ``super()`` sees from ``after``."""
        mro = self.mro(info)
        if mro is None:
            return InheritedMethod(UNKNOWN, None)
        if after is not None:
            if after not in mro:
                return InheritedMethod(UNKNOWN, None)
            mro = mro[mro.index(after) + 1 :]
        for key in mro:
            if key.startswith(LOCAL_PREFIX):
                owner = self.classes[key[len(LOCAL_PREFIX) :]]
                node = owner.method(name)
                if node is not None:
                    return InheritedMethod(key, node, owner_name=owner.name)
            elif (external := self.context.by_id(key)) is not None:
                summary = external.method(name)
                if summary is not None:
                    return InheritedMethod(key, None, summary, owner_name=external.name)
                if name in external.method_names:
                    return InheritedMethod(UNKNOWN, None)  # defined there, not summarised
            elif key in _KNOWN_BASE_METHODS:
                if name in _KNOWN_BASE_METHODS[key]:
                    return InheritedMethod(key, None)
            else:
                return InheritedMethod(UNKNOWN, None)
        return NOT_DEFINED


def _collect_classes(module: cst.Module) -> list[ClassInfo]:
    """Every class, in source order, found by walking statements only (never expressions:
    a full LibCST visit costs as much as the parse)."""
    found: list[ClassInfo] = []
    _walk_classes(module.body, None, True, found)
    return found


# Recursion through a module-level function, never a nested one: a nested function that calls
# itself is a reference cycle, and whatever its closure holds (here, the classes' subtrees)
# would outlive the file until the cyclic collector's next pass.
def _walk_classes(
    statements: Sequence[cst.CSTNode],
    top: cst.CSTNode | None,
    scope: bool,
    found: list[ClassInfo],
) -> None:
    for stmt in statements:
        if type(stmt) is cst.SimpleStatementLine:
            continue  # most statements: no class, no statement inside
        anchor = top if top is not None else stmt
        if isinstance(stmt, cst.ClassDef):
            info = ClassInfo(stmt.name.value, stmt, top_level=anchor, module_scope=scope)
            for inner in class_body(stmt):
                if isinstance(inner, cst.FunctionDef):
                    info.methods.setdefault(inner.name.value, []).append(inner)
            found.append(info)
        inner_scope = scope and not isinstance(stmt, (cst.ClassDef, cst.FunctionDef))
        _walk_classes(child_statements(stmt), anchor, inner_scope, found)


def class_body(node: cst.ClassDef) -> Sequence[cst.BaseStatement | cst.BaseSmallStatement]:
    body = node.body
    return body.body if isinstance(body, cst.IndentedBlock) else ()


def child_statements(stmt: cst.CSTNode) -> list[cst.CSTNode]:
    """The statements directly nested in a compound statement (an ``elif`` is one ``If``)."""
    if type(stmt) is cst.SimpleStatementLine:
        # Most statements: none of the checks below (each an ABC isinstance) can match.
        return []
    suites: list[cst.BaseSuite] = []
    if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
        suites.append(stmt.body)
    elif isinstance(stmt, (cst.If, cst.While, cst.For, cst.With)):
        suites.append(stmt.body)
        orelse = getattr(stmt, "orelse", None)
        if isinstance(orelse, cst.If):
            return [*block_statements(stmt.body), orelse]
        if orelse is not None:
            suites.append(orelse.body)
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        suites.append(stmt.body)
        suites.extend(handler.body for handler in stmt.handlers)
        if stmt.orelse is not None:
            suites.append(stmt.orelse.body)
        if stmt.finalbody is not None:
            suites.append(stmt.finalbody.body)
    elif isinstance(stmt, cst.Match):
        suites.extend(case.body for case in stmt.cases)
    return [inner for suite in suites for inner in block_statements(suite)]


def block_statements(suite: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    """The statements of a suite; a one-line suite (``if x: a; b``) counts as one line."""
    if isinstance(suite, cst.IndentedBlock):
        return suite.body
    if isinstance(suite, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=suite.body)]
    return ()


def _names_in_target(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _names_in_target(element.value)


# -- comparing method bodies ------------------------------------------------------------------
def normalized_function(source: str) -> str | None:
    """A canonical form of one function's source: comments, whitespace and docstring ignored.

    Returns None when the text does not parse on its own (it should always parse).
    """
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    if not tree.body or not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    return normalized_ast_function(tree.body[0])


def normalized_ast_function(func: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    body = list(func.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    parts = [
        type(func).__name__,
        ast.dump(func.args),
        "|".join(ast.dump(d) for d in func.decorator_list),
        ast.dump(func.returns) if func.returns is not None else "",
        "|".join(ast.dump(stmt) for stmt in body),
    ]
    return "\n".join(parts)


def function_key(module: cst.Module, node: cst.FunctionDef) -> str | None:
    return normalized_function(module.code_for_node(node.with_changes(leading_lines=())))


def depends_on_defining_class(module: cst.Module, node: cst.FunctionDef) -> str | None:
    """Why moving this body to another class would change what it does, or None."""
    tree = ast.parse(textwrap.dedent(module.code_for_node(node.with_changes(leading_lines=()))))
    return depends_on_class_ast(tree)


def depends_on_class_ast(tree: ast.AST) -> str | None:
    """:func:`depends_on_defining_class` over an ``ast`` tree."""
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Name) and sub.id in ("super", "__class__"):
            return f"it uses {sub.id}"
        if isinstance(sub, ast.Attribute) and _is_private(sub.attr):
            return f"it uses the name-mangled attribute {sub.attr}"
        if isinstance(sub, ast.Name) and _is_private(sub.id):
            return f"it uses the name-mangled name {sub.id}"
    return None


def _is_private(name: str) -> bool:
    return name.startswith("__") and not name.endswith("__")


# -- decorators on async tests --------------------------------------------------------------
# Decorators that leave a coroutine test a coroutine function: pytest marks (pytest-asyncio
# ignores unittest classes) and mock's patchers. Anything else may run the coroutine itself.
_TRANSPARENT_EXACT = frozenset(
    f"{mock}.{name}"
    for mock in ("unittest.mock", "mock")
    for name in ("patch", "patch.object", "patch.dict", "patch.multiple")
)


def decorator_transparent(qualified: set[str]) -> bool:
    """Whether a decorator (its callee's possible qualified names) keeps a coroutine test one."""
    return bool(qualified) and all(
        name.startswith("pytest.mark.") or name in _TRANSPARENT_EXACT for name in qualified
    )


def decorators_transparent(decorators: Sequence[set[str]]) -> bool:
    return all(decorator_transparent(q) for q in decorators)


def linearise(
    name: str,
    base_keys: Iterable[set[str]],
    local_mro: Callable[[str], list[str] | None],
    context: ProjectContext,
) -> list[str] | None:
    """C3 linearisation of the local class *name* from the possible keys of each of its bases
    (None when a base is ambiguous or unknown). A local base's MRO comes from *local_mro* (by
    class name; None: unknown), a base in another file from *context*; the engine's
    ``ModuleIndex`` and check's ast path (``project.ast_findings``) share it."""
    sequences: list[list[str]] = []
    direct: list[str] = []
    for keys in base_keys:
        if len(keys) != 1:
            return None
        (key,) = keys
        if key == UNKNOWN:
            return None
        direct.append(key)
        if key.startswith(LOCAL_PREFIX):
            parent_mro = local_mro(key[len(LOCAL_PREFIX) :])
            if parent_mro is None:
                return None
            sequences.append(list(parent_mro))
        elif (external := context.external(key)) is not None:
            if external.linear is None:
                return None
            direct[-1] = external.id
            sequences.append(list(external.linear))
        else:
            sequences.append([key] if key == BUILTIN_OBJECT else [key, BUILTIN_OBJECT])
    sequences.append(direct)
    return c3_merge(LOCAL_PREFIX + name, sequences)


def c3_merge(head: str, sequences: list[list[str]]) -> list[str] | None:
    """Python's C3 linearisation: *head*, then the merge of its bases' MROs and the list of
    its bases (*sequences*, consumed); None where Python itself would refuse the class."""
    if len(sequences) == 2 and len(sequences[1]) == 1:
        # One base (most classes): its MRO, when that is one (starts with the base, no
        # repeats), is what the merge below would take element by element.
        (only,), linear = sequences[1], sequences[0]
        if linear and linear[0] == only and len(set(linear)) == len(linear):
            return [head, *linear]
    result = [head]
    while True:
        sequences = [s for s in sequences if s]
        if not sequences:
            return result
        for seq in sequences:
            candidate = seq[0]
            if not any(candidate in s[1:] for s in sequences):
                break
        else:
            return None
        result.append(candidate)
        for seq in sequences:
            if seq and seq[0] == candidate:
                del seq[0]
