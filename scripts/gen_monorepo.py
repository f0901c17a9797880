"""Generate a synthetic monorepo of Python files for benchmarks (deterministic, stdlib only).

Most files are ordinary code of varied sizes (models, services, utilities, plain unittest and
pytest tests, including near misses such as several classes with *different* setUp bodies);
about 1.5 % carry the patterns ssot-codemod looks for: async-hook bridges (SSC001), sync setUp
called from asyncSetUp (SSC002), twin setUp overrides (SSC003) and async tests in a plain
TestCase (SSC004).

``--ssot`` generates an SSOT-shaped project instead: one framework module
(``test_framework/ssot/base_test_case.py``, shaped like ``examples/ssot_project``: a plain base
whose ``setUp``/``tearDown`` bridge the async hooks, a ``TestCase`` twin of ``setUp``, an
``asyncSetUp`` that re-enters ``setUp``) and test files that subclass it several levels deep
across packages (intermediate bases in other modules; relative, absolute, aliased and re-exported
imports), with decorated (``pytest.mark.*``, ``patch``) and undecorated async tests that never
run, sync tests, some subclasses whose own ``asyncSetUp`` calls ``super().setUp()``, near misses
(``IsolatedAsyncioTestCase`` classes, a decorator that runs the coroutine) and ordinary files.
The ground truth goes to ``ssot-manifest.json`` (or ``--manifest PATH``) so tests never
hard-code counts.

    python scripts/gen_monorepo.py OUT_DIR [--files N] [--seed S]
    python scripts/gen_monorepo.py OUT_DIR --ssot [--files N] [--seed S] [--manifest PATH]
        [--ordinary-share F]
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

PATTERN_SHARE = 0.015  # fraction of files that contain at least one pattern

_WORDS = (
    "account order invoice payment customer session token cache queue worker report metric "
    "event record batch stream user profile address item price tax route region tenant job "
    "schedule policy quota limit export ingest parser config setting handler client server"
).split()


def _name(rng: random.Random, parts: int = 2) -> str:
    return "_".join(rng.choice(_WORDS) for _ in range(parts))


def _camel(rng: random.Random, parts: int = 2) -> str:
    return "".join(w.capitalize() for w in _name(rng, parts).split("_"))


def _expr(rng: random.Random, names: list[str]) -> str:
    a, b = rng.choice(names), rng.choice(names)
    return rng.choice(
        [
            f"{a} + {b}",
            f"{a} * {rng.randint(2, 9)}",
            f"len({a}) if {a} else {rng.randint(0, 99)}",
            f"[x for x in {a} if x]",
            f"{{k: v for k, v in {a}.items()}}",
            f"str({a}).strip().lower()",
            f"max({a}, {b})",
            f"{a}.get({_name(rng, 1)!r}, None)",
            f'f"{{{a}}}-{{{b}}}"',
        ]
    )


def _function(rng: random.Random, indent: str, method: bool) -> str:
    fname = _name(rng, rng.randint(1, 3))
    args = [_name(rng, 1) + str(i) for i in range(rng.randint(0, 4))]
    params = ", ".join((["self"] if method else []) + [f"{a}=None" for a in args])
    names = args or ["value"]
    lines = [f"{indent}def {fname}({params}):"]
    inner = indent + "    "
    lines.append(f'{inner}"""{_name(rng, 3).replace("_", " ").capitalize()}."""')
    if not args:
        lines.append(f"{inner}value = {rng.randint(0, 1000)}")
    for _ in range(rng.randint(2, 12)):
        kind = rng.random()
        target = _name(rng, 1)
        if kind < 0.45:
            lines.append(f"{inner}{target} = {_expr(rng, names)}")
            names.append(target)
        elif kind < 0.65:
            lines.append(f"{inner}if {rng.choice(names)} is not None:")
            lines.append(f"{inner}    {target} = {_expr(rng, names)}")
            lines.append(f"{inner}else:")
            lines.append(f"{inner}    {target} = None")
            names.append(target)
        elif kind < 0.8:
            lines.append(f"{inner}for item in {rng.choice(names)} or ():")
            lines.append(f"{inner}    log.debug('seen %s', item)")
        elif kind < 0.9:
            lines.append(f"{inner}try:")
            lines.append(f"{inner}    {target} = int({rng.choice(names)})")
            lines.append(f"{inner}except (TypeError, ValueError):")
            lines.append(f"{inner}    {target} = 0  # tolerate junk input")
            names.append(target)
        else:
            lines.append(f"{inner}# {_name(rng, 4).replace('_', ' ')}")
    lines.append(f"{inner}return {rng.choice(names)}")
    return "\n".join(lines) + "\n"


def _class(rng: random.Random) -> str:
    name = _camel(rng)
    base = rng.choice(["", "(object)", "(BaseModel)", "(Exception)", "(Mapping)"])
    out = [f"class {name}{base}:", f'    """{_name(rng, 4).replace("_", " ")}."""', ""]
    out.append("    def __init__(self, config=None):")
    out.append("        self.config = config or {}")
    out.append(f"        self.{_name(rng, 1)} = None")
    for _ in range(rng.randint(1, 8)):
        out.append("")
        out.append(_function(rng, "    ", method=True).rstrip("\n"))
    return "\n".join(out) + "\n"


def _header(rng: random.Random) -> str:
    imports = rng.sample(
        [
            "import os",
            "import sys",
            "import json",
            "import logging",
            "import re",
            "import time",
            "from collections.abc import Mapping",
            "from dataclasses import dataclass, field",
            "from pathlib import Path",
            "from typing import Any, Optional",
            "import asyncio",
        ],
        rng.randint(2, 6),
    )
    doc = f'"""{_name(rng, 5).replace("_", " ").capitalize()}."""\n\n'
    return doc + "\n".join(sorted(imports)) + "\n\nlog = logging.getLogger(__name__)\n"


def _ordinary_module(rng: random.Random) -> str:
    # Heavy-tailed sizes: most files a few KB, some tens of KB.
    blocks = max(1, int(rng.lognormvariate(0.8, 0.9)))
    parts = [_header(rng)]
    for _ in range(blocks):
        parts.append(_class(rng) if rng.random() < 0.5 else _function(rng, "", method=False))
    return "\n\n".join(parts)


def _ordinary_test(rng: random.Random) -> str:
    """Near misses: unittest classes with setUp/tearDown (bodies differ), sync tests only."""
    parts = ['"""Tests."""\n\nimport unittest\nfrom unittest import mock\n']
    for i in range(rng.randint(1, 4)):
        cls = f"Test{_camel(rng)}{i}"
        body = [f"class {cls}(unittest.TestCase):"]
        body.append("    def setUp(self):")
        body.append(f"        self.{_name(rng, 1)} = {rng.randint(0, 10**6)}")
        body.append(f"        self.patcher = mock.patch({_name(rng, 2)!r})")
        if rng.random() < 0.5:
            body.append("")
            body.append("    def tearDown(self):")
            body.append(f"        self.{_name(rng, 1)}{i} = None")
        for j in range(rng.randint(1, 6)):
            body.append("")
            body.append(f"    def test_{_name(rng, 2)}_{j}(self):")
            body.append(f"        self.assertEqual({rng.randint(0, 9)}, {rng.randint(0, 9)})")
        parts.append("\n".join(body) + "\n")
    return "\n\n".join(parts)


_BRIDGE = """

class {cls}(unittest.TestCase):
    def setUp(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.asyncSetUp())

    def tearDown(self):
        self.loop.run_until_complete(self.asyncTearDown())
        self.loop.close()
        asyncio.set_event_loop(None)

    async def asyncSetUp(self):
        self.conn = object()

    async def asyncTearDown(self):
        self.conn = None

    def test_{name}(self):
        self.assertIsNotNone(self.conn)
"""

_REENTRY = """

class {cls}Base(unittest.TestCase):
    def setUp(self):
        self.env = {{"name": {name!r}}}


class {cls}(unittest.IsolatedAsyncioTestCase, {cls}Base):
    async def asyncSetUp(self):
        super().setUp()
        self.client = object()

    async def test_{name}(self):
        self.assertIsNotNone(self.client)
"""

_TWIN = '''

class {cls}Base(unittest.TestCase):
    def setUp(self):
        self.env = make_env({name!r})
        self.items = []


class {cls}(({cls}Base)):
    def setUp(self):
        """Same as the base."""
        self.env = make_env({name!r})
        self.items = []

    def test_{name}(self):
        self.assertEqual(self.items, [])
'''

_ASYNC_TEST = """

class {cls}(unittest.TestCase):
    def setUp(self):
        self.value = {value}

    async def test_{name}(self):
        await asyncio.sleep(0)
        self.assertEqual(self.value, {value})
"""


def _pattern_module(rng: random.Random) -> str:
    parts = [
        '"""Async tests."""\n\nimport asyncio\nimport unittest\n\n\ndef make_env(name):\n'
        "    return {'name': name}\n"
    ]
    for template in rng.sample([_BRIDGE, _REENTRY, _TWIN, _ASYNC_TEST], rng.randint(1, 3)):
        parts.append(
            template.format(cls=_camel(rng, 3), name=_name(rng, 2), value=rng.randint(0, 99))
        )
    if rng.random() < 0.5:
        parts.append("\n\n" + _ordinary_module(rng))
    return "".join(parts)


def generate(out: Path, files: int, seed: int = 20240601) -> tuple[int, int]:
    """Write *files* .py files under *out*; return (files, bytes). Same seed, same tree."""
    rng = random.Random(seed)
    total = 0
    for i in range(files):
        pkg = out / f"svc{i % 40:02d}" / f"pkg{(i // 40) % 25:02d}"
        pkg.mkdir(parents=True, exist_ok=True)
        roll = rng.random()
        if roll < PATTERN_SHARE:
            text, stem = _pattern_module(rng), f"test_async_{i}"
        elif roll < 0.2:
            text, stem = _ordinary_test(rng), f"test_mod_{i}"
        else:
            text, stem = _ordinary_module(rng), f"mod_{i}"
        data = text.encode()
        (pkg / f"{stem}.py").write_bytes(data)
        total += len(data)
    return files, total


# --------------------------------------------------------------------------------------------
# SSOT-shaped project


FRAMEWORK_PATH = "test_framework/ssot/base_test_case.py"
ROOT_CLASS = "SSotAsyncTestCase"
MANIFEST_NAME = "ssot-manifest.json"
SSOT_DEFAULT_FILES = 1_500  # about 1,100 test files subclass the framework
ORDINARY_SHARE = 0.12  # files that have nothing to do with the framework
# The SSOT repository as measured (issue 10): 10,720 files, ~1,300 of them subclass the
# framework, so ~84 % are ordinary code. The benchmark uses this share; the default keeps small
# trees dense in framework subclasses (what the behaviour tests want).
SSOT_MEASURED_ORDINARY_SHARE = 0.84
ISOLATED_SHARE = 0.04  # test files on IsolatedAsyncioTestCase: their async tests do run

SSOT_FRAMEWORK = '''"""SSOT base test cases: every test in the repository derives from these."""
import asyncio
import logging
import unittest

logger = logging.getLogger(__name__)


class SSotBaseTestCase:
    """Framework-neutral base (a pytest class through setup_method, a unittest mixin)."""

    def setup_method(self, method=None):
        self.env = {"ACME_ENV": "test"}
        self.metrics = {}

    def teardown_method(self, method=None):
        self.env.clear()

    def setUp(self):
        """Run the SSOT setup, then the test's async fixtures if it has any."""
        self.setup_method()
        if hasattr(self, 'asyncSetUp') and asyncio.iscoroutinefunction(self.asyncSetUp):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    raise RuntimeError("Event loop is closed")
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncSetUp())
            except Exception as e:
                logger.error(f"asyncSetUp failed in {self.__class__.__name__}: {e}")
                raise

    def tearDown(self):
        """Run the test's async teardown if it has one, then the SSOT teardown."""
        if hasattr(self, 'asyncTearDown') and asyncio.iscoroutinefunction(self.asyncTearDown):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    raise RuntimeError("Event loop is closed")
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncTearDown())
            except Exception as e:
                logger.error(f"asyncTearDown failed in {self.__class__.__name__}: {e}")
                raise
        self.teardown_method()


class SSotAsyncTestCase(SSotBaseTestCase, unittest.TestCase):
    """SSOT base for tests with async fixtures."""

    def setUp(self):
        """Set up the SSOT environment and run asyncSetUp on the event loop."""
        self.setup_method()
        if hasattr(self, 'asyncSetUp') and asyncio.iscoroutinefunction(self.asyncSetUp):
            try:
                loop = asyncio.get_event_loop()
                if loop.is_closed():
                    raise RuntimeError("Event loop is closed")
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.asyncSetUp())
            except Exception as e:
                logger.error(f"asyncSetUp failed in {self.__class__.__name__}: {e}")
                raise

    async def asyncSetUp(self):
        """Prepare async resources; make sure the sync SSOT setup has run."""
        if hasattr(super(), 'setUp'):
            super().setUp()
        self.async_resources = {}
        await asyncio.sleep(0)

    async def asyncTearDown(self):
        """Close the async resources, newest first."""
        resources = getattr(self, "async_resources", {})
        while resources:
            resources.popitem()
        await asyncio.sleep(0)
'''

SSOT_PACKAGE_INIT = '''"""The SSOT test framework."""
from .base_test_case import SSotAsyncTestCase, SSotBaseTestCase

__all__ = ["SSotAsyncTestCase", "SSotBaseTestCase"]
'''

# How a test file reaches a base: (import line, expression used in the class statement).
# ``{d}``/``{s}`` are the domain and sub-package names, ``{D}``/``{S}`` their class prefixes.
_ROOT_IMPORTS = (
    ("from test_framework.ssot.base_test_case import SSotAsyncTestCase", "SSotAsyncTestCase"),
    ("from test_framework.ssot import base_test_case as btc", "btc.SSotAsyncTestCase"),
    ("import test_framework.ssot.base_test_case as ssot_base", "ssot_base.SSotAsyncTestCase"),
    ("from test_framework.ssot import SSotAsyncTestCase as AsyncBase", "AsyncBase"),
)
_DOMAIN_IMPORTS = (
    ("from ..base import {D}TestCase", "{D}TestCase"),
    ("from tests.{d}.base import {D}TestCase as DomainBase", "DomainBase"),
    ("from tests.{d} import base as domain_base", "domain_base.{D}TestCase"),
)
_SUB_IMPORTS = (
    ("from .support import {S}TestCase", "{S}TestCase"),
    ("from tests.{d}.{s}.support import {S}TestCase", "{S}TestCase"),
    ("from . import support", "support.{S}TestCase"),
)
_ASYNC_DECORATORS = (
    (),
    (),
    ("@pytest.mark.asyncio",),
    ("@pytest.mark.asyncio",),
    ("@pytest.mark.slow",),
    ("@pytest.mark.integration",),
    ('@patch("os.getcwd")',),
    ('@patch.object(os, "getpid")',),
    ("@pytest.mark.asyncio", '@patch("os.getcwd")'),
    ('@patch.dict(os.environ, {"MODE": "x"})',),
)
# A local decorator that runs the coroutine: the tool cannot see through it and stays silent.
_RUNS_COROUTINE = '''

def runs_coroutine(func):
    """Run the async test to completion (the test really runs)."""

    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        return asyncio.run(func(self, *args, **kwargs))

    return wrapper
'''


@dataclass
class SsotManifest:
    """The ground truth of a generated SSOT project (paths relative to its root, POSIX)."""

    framework: str = FRAMEWORK_PATH
    root_class: str = ROOT_CLASS
    files: int = 0
    subclass_files: list[str] = field(default_factory=list)
    # path -> [[class, test, line, column], ...]: async tests that never run (SSC004)
    never_run: dict[str, list[list[object]]] = field(default_factory=dict)
    # path -> [[class, line, column], ...]: super().setUp() in a subclass's asyncSetUp (SSC002)
    reentry: dict[str, list[list[object]]] = field(default_factory=dict)
    # path -> [[class, test, line, column], ...]: async tests that do run (near misses)
    runs: dict[str, list[list[object]]] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)  # class levels below the root, counted

    @property
    def never_run_total(self) -> int:
        return sum(len(v) for v in self.never_run.values())

    @property
    def unsafe_changed_files(self) -> list[str]:
        """What ``apply --unsafe-fixes`` writes: the framework and the files with their own
        edit (a re-entering ``super().setUp()``); every other subclass file stays untouched."""
        return sorted({self.framework, *self.reentry})

    def to_json(self) -> str:
        data = {
            "framework": self.framework,
            "root_class": self.root_class,
            "root_position": list(_class_position(SSOT_FRAMEWORK, self.root_class)),
            "files": self.files,
            "subclass_files": sorted(self.subclass_files),
            "never_run_total": self.never_run_total,
            "never_run_files": len(self.never_run),
            "never_run": dict(sorted(self.never_run.items())),
            "reentry": dict(sorted(self.reentry.items())),
            "runs": dict(sorted(self.runs.items())),
            "unsafe_changed_files": self.unsafe_changed_files,
            "depth": dict(sorted(self.depth.items())),
        }
        return json.dumps(data, indent=1) + "\n"


def _class_position(text: str, name: str) -> tuple[int, int]:
    """(line, column) of the name in ``class NAME(`` - where the root-cause finding points."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith(f"class {name}("):
            return lineno, len("class ") + 1
    raise LookupError(name)


class _Lines:
    """A file being written, line by line, so positions are known as they are produced."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> int:
        """Append *lines*; return the 1-based number of the first."""
        first = len(self.lines) + 1
        self.lines.extend(lines)
        return first

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _ssot_test_file(rng: random.Random, d: str, s: str, path: str, manifest: SsotManifest) -> str:
    dom, sub = _camel_of(d), _camel_of(s)
    level = rng.choice(("root", "domain", "sub", "sub"))
    table = {"root": _ROOT_IMPORTS, "domain": _DOMAIN_IMPORTS, "sub": _SUB_IMPORTS}[level]
    import_line, base_expr = rng.choice(table)
    fill = {"d": d, "s": s, "D": dom, "S": sub}
    import_line, base_expr = import_line.format(**fill), base_expr.format(**fill)
    depth = {"root": 1, "domain": 2, "sub": 3}[level]
    wrapped = rng.random() < 0.05

    out = _Lines()
    out.add(f'"""Tests for {d}.{s}."""', "import asyncio")
    if wrapped:
        out.add("import functools")
    out.add("import os", "from unittest.mock import patch", "", "import pytest", "", import_line)
    if wrapped:
        out.add(*_RUNS_COROUTINE.rstrip("\n").split("\n"))
    never: list[list[object]] = []
    runs: list[list[object]] = []
    reentry: list[list[object]] = []
    classes = rng.randint(1, 3)
    for c in range(classes):
        cls = f"Test{_camel(rng)}{c}"
        intermediate = c > 0 and rng.random() < 0.3
        out.add("", "")
        if intermediate:  # one more level, in this module
            out.add(f"class {cls}Base({base_expr}):", "    pass", "", "")
            out.add(f"class {cls}({cls}Base):")
            manifest.depth[f"{path}::{cls}"] = depth + 1
        else:
            out.add(f"class {cls}({base_expr}):")
            manifest.depth[f"{path}::{cls}"] = depth
        body_started = False
        if rng.random() < 0.2:
            out.add("    async def asyncSetUp(self):")
            if rng.random() < 0.7:
                out.add("        await super().asyncSetUp()")
            if rng.random() < 0.25:
                line = out.add("        super().setUp()")
                reentry.append([cls, line, 9])
            out.add(f"        self.{_name(rng, 1)} = {rng.randint(0, 99)}")
            body_started = True
        for t in range(rng.randint(1, 6)):
            if body_started:
                out.add("")
            body_started = True
            name = f"test_{_name(rng, 2)}_{t}"
            if rng.random() < 0.3:
                out.add(f"    def {name}(self):", f"        self.assertEqual({t}, {t})")
                continue
            if wrapped and t == 0:
                out.add("    @runs_coroutine")
                line = out.add(f"    async def {name}(self):")
                runs.append([cls, name, line, 15])
            else:
                decorators = rng.choice(_ASYNC_DECORATORS)
                out.add(*(f"    {dec}" for dec in decorators))
                params = "self" + "".join(", mocked" for dec in decorators if "patch(" in dec)
                params += "".join(", mocked_obj" for dec in decorators if "patch.object" in dec)
                line = out.add(f"    async def {name}({params}):")
                never.append([cls, name, line, 15])
            out.add("        await asyncio.sleep(0)", f"        self.assertTrue({t + 1})")
    if never:
        manifest.never_run[path] = never
    if runs:
        manifest.runs[path] = runs
    if reentry:
        manifest.reentry[path] = reentry
    manifest.subclass_files.append(path)
    return out.text()


def _isolated_test_file(rng: random.Random, path: str, manifest: SsotManifest) -> str:
    out = _Lines()
    out.add('"""Tests already on IsolatedAsyncioTestCase (near miss)."""', "import unittest")
    runs: list[list[object]] = []
    cls = f"Test{_camel(rng)}Isolated"
    out.add("", "", f"class {cls}(unittest.IsolatedAsyncioTestCase):")
    out.add("    async def asyncSetUp(self):", "        self.ready = True")
    for t in range(rng.randint(1, 4)):
        name = f"test_{_name(rng, 2)}_{t}"
        out.add("")
        line = out.add(f"    async def {name}(self):")
        runs.append([cls, name, line, 15])
        out.add("        self.assertTrue(self.ready)")
    manifest.runs[path] = runs
    return out.text()


def _camel_of(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _domain_base(d: str) -> str:
    dom = _camel_of(d)
    return (
        f'"""Shared base for the {d} tests."""\n'
        "from test_framework.ssot.base_test_case import SSotAsyncTestCase\n\n\n"
        f"class {dom}TestCase(SSotAsyncTestCase):\n"
        f'    """Everything {d} tests share."""\n\n'
        f"    def make_{d}(self):\n"
        f'        return {{"kind": {d!r}}}\n'
    )


def _sub_support(d: str, s: str) -> str:
    dom, sub = _camel_of(d), _camel_of(s)
    return (
        f'"""Support for the {d}.{s} tests: a base two levels below the framework."""\n'
        f"from ..base import {dom}TestCase as Parent\n\n\n"
        f"class {sub}TestCase(Parent):\n"
        f"    def make_{s}(self):\n"
        f"        return self.make_{d}()\n"
    )


def generate_ssot(
    out: Path,
    files: int = SSOT_DEFAULT_FILES,
    seed: int = 20240601,
    manifest_path: Path | None = None,
    ordinary_share: float = ORDINARY_SHARE,
) -> SsotManifest:
    """Write an SSOT-shaped project of about *files* .py files under *out* and its manifest.

    *ordinary_share* is the fraction of files that have nothing to do with the framework.
    Same seed and share, same tree. Returns the manifest (also written to *manifest_path*, by
    default ``out/ssot-manifest.json``).
    """
    rng = random.Random(seed)
    manifest = SsotManifest()
    written: dict[str, str] = {
        "test_framework/__init__.py": "",
        "test_framework/ssot/__init__.py": SSOT_PACKAGE_INIT,
        FRAMEWORK_PATH: SSOT_FRAMEWORK,
        "tests/__init__.py": "",
    }
    domains = list(_WORDS[: max(2, min(12, files // 60))])
    subs = ("api", "core", "flows", "edge", "store")
    for d in domains:
        written[f"tests/{d}/__init__.py"] = ""
        written[f"tests/{d}/base.py"] = _domain_base(d)
        for s in subs:
            written[f"tests/{d}/{s}/__init__.py"] = ""
            written[f"tests/{d}/{s}/support.py"] = _sub_support(d, s)
    i = 0
    while len(written) < files:
        roll = rng.random()
        d, s = domains[i % len(domains)], subs[(i // len(domains)) % len(subs)]
        if roll < ordinary_share:
            pkg = f"app/pkg{i % 20:02d}"
            written.setdefault(f"{pkg}/__init__.py", "")
            written[f"{pkg}/mod_{i}.py"] = (
                _ordinary_module(rng) if rng.random() < 0.6 else _ordinary_test(rng)
            )
        elif roll < ordinary_share + ISOLATED_SHARE:
            path = f"tests/{d}/{s}/test_isolated_{i}.py"
            written[path] = _isolated_test_file(rng, path, manifest)
        else:
            path = f"tests/{d}/{s}/test_{_name(rng, 1)}_{i}.py"
            written[path] = _ssot_test_file(rng, d, s, path, manifest)
        i += 1
    for rel, text in written.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    manifest.files = len(written)
    target = manifest_path if manifest_path is not None else out / MANIFEST_NAME
    target.write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--ssot", action="store_true", help="an SSOT-shaped project")
    parser.add_argument("--manifest", type=Path, default=None, help="(--ssot) ground truth JSON")
    parser.add_argument(
        "--ordinary-share",
        type=float,
        default=ORDINARY_SHARE,
        help=f"(--ssot) fraction of files unrelated to the framework (default {ORDINARY_SHARE}; "
        f"the measured SSOT repository: {SSOT_MEASURED_ORDINARY_SHARE})",
    )
    args = parser.parse_args()
    if args.ssot:
        files = args.files if args.files is not None else SSOT_DEFAULT_FILES
        m = generate_ssot(args.out, files, args.seed, args.manifest, args.ordinary_share)
        print(
            f"wrote {m.files} files under {args.out}: {len(m.subclass_files)} test files subclass "
            f"{m.root_class} ({m.framework}); {m.never_run_total} async tests in "
            f"{len(m.never_run)} files never run; {sum(len(v) for v in m.reentry.values())} "
            f"re-entering super().setUp() calls in {len(m.reentry)} files"
        )
        return
    n, size = generate(args.out, args.files if args.files is not None else 20_000, args.seed)
    print(f"wrote {n} files, {size / 1e6:.1f} MB under {args.out}")


if __name__ == "__main__":
    main()
