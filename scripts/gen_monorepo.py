"""Generate a synthetic monorepo of Python files for benchmarks (deterministic, stdlib only).

Most files are ordinary code of varied sizes (models, services, utilities, plain unittest and
pytest tests, including near misses such as several classes with *different* setUp bodies);
about 1.5 % carry the patterns ssot-codemod looks for: async-hook bridges (SSC001), sync setUp
called from asyncSetUp (SSC002), twin setUp overrides (SSC003) and async tests in a plain
TestCase (SSC004).

    python scripts/gen_monorepo.py OUT_DIR [--files N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    n, size = generate(args.out, args.files, args.seed)
    print(f"wrote {n} files, {size / 1e6:.1f} MB under {args.out}")


if __name__ == "__main__":
    main()
