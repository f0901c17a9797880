"""The project index: class bases resolved through imports across a project's files."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from ssot_codemod.project.context import ExternalClass, ProjectContext
from ssot_codemod.project.index import ProjectIndex


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _index(root: Path, src: tuple[str, ...] = ()) -> ProjectIndex:
    files = [str(p) for p in root.rglob("*.py")]
    return ProjectIndex.build(root, files, src=[root / s for s in src])


def _context(root: Path, rel: str, **kwargs: object) -> ProjectContext:
    return _index(root).context_for(str(root / rel), **kwargs)  # type: ignore[arg-type]


def _resolved(context: ProjectContext, qualified: str) -> ExternalClass:
    found = context.external(qualified)
    assert found is not None, (qualified, context.names, context.unresolved)
    return found


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages show paths relative to the working directory


ASYNC_SUB = "from base import Base\n\nclass T(Base):\n    async def test_x(self):\n        pass\n"
BASE = "import unittest\n\n\nclass Base(unittest.TestCase):\n    def setUp(self):\n        pass\n"


def test_absolute_import_from_the_project_root(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "tests/__init__.py": "",
            "tests/base.py": BASE,
            "tests/test_a.py": "from tests.base import Base\n\nclass T(Base):\n    pass\n",
        },
    )
    base = _resolved(_context(tmp_path, "tests/test_a.py"), "tests.base.Base")
    assert base.id == "tests/base.py::Base"
    assert base.is_testcase and not base.is_async_aware and not base.unknown_bases
    assert base.linear == ("tests/base.py::Base", "unittest.TestCase", "builtins.object")
    assert base.where == "tests/base.py:4"
    assert base.method("setUp") is not None


@pytest.mark.parametrize(
    ("importer", "qualified"),
    [
        ("from .base import Base\n\nclass T(Base):\n    pass\n", ".base.Base"),
        ("from . import base\n\nclass T(base.Base):\n    pass\n", ".base.Base"),
        ("import pkg.base as m\n\nclass T(m.Base):\n    pass\n", "pkg.base.Base"),
        ("import pkg.base\n\nclass T(pkg.base.Base):\n    pass\n", "pkg.base.Base"),
        ("from pkg import Base as B\n\nclass T(B):\n    pass\n", "pkg.Base"),
    ],
    ids=["relative", "from-dot-module", "module-alias", "dotted-attribute", "reexport-init"],
)
def test_import_forms(tmp_path: Path, importer: str, qualified: str) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .base import Base\n",
            "pkg/base.py": BASE,
            "pkg/test_a.py": importer,
        },
    )
    assert _resolved(_context(tmp_path, "pkg/test_a.py"), qualified).id == "pkg/base.py::Base"


def test_deep_chain_diamond_and_alias_assignment(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "fw/__init__.py": "",
            "fw/base.py": BASE + "\nAlias = Base\n",
            "fw/left.py": "from fw.base import Alias\n\nclass Left(Alias):\n    pass\n",
            "fw/right.py": "from fw.base import Base\n\nclass Right(Base):\n    pass\n",
            "fw/both.py": (
                "from fw.left import Left\nfrom fw.right import Right\n\n"
                "class Both(Left, Right):\n    pass\n"
            ),
            "test_x.py": "from fw.both import Both\n\nclass T(Both):\n    pass\n",
        },
    )
    both = _resolved(_context(tmp_path, "test_x.py"), "fw.both.Both")
    assert both.linear == (
        "fw/both.py::Both",
        "fw/left.py::Left",
        "fw/right.py::Right",
        "fw/base.py::Base",
        "unittest.TestCase",
        "builtins.object",
    )
    assert both.root == "`Base` (fw/base.py:4)"


def test_same_named_classes_in_different_modules(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "a.py": "import unittest\n\nclass Case(unittest.IsolatedAsyncioTestCase):\n    pass\n",
            "b.py": "import unittest\n\nclass Case(unittest.TestCase):\n    pass\n",
            "test_a.py": "from a import Case\n\nclass T(Case):\n    pass\n",
            "test_b.py": "from b import Case\n\nclass T(Case):\n    pass\n",
        },
    )
    assert _resolved(_context(tmp_path, "test_a.py"), "a.Case").runs_async_hooks
    assert not _resolved(_context(tmp_path, "test_b.py"), "b.Case").runs_async_hooks


def test_import_cycle_is_unresolved_not_a_crash(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "one.py": "from two import B as A\n",
            "two.py": "from one import A as B\n",
            "test_c.py": "from one import A\n\nclass T(A):\n    pass\n",
        },
    )
    context = _context(tmp_path, "test_c.py")
    assert context.external("one.A") is None
    reason = context.why_unresolved("one.A")
    assert reason is not None and "circular" in reason


def test_namespace_package_and_src_layout(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "src/framework/cases/base.py": BASE,  # no __init__.py anywhere: namespace packages
            "tests/test_n.py": (
                "from framework.cases.base import Base\n\nclass T(Base):\n    pass\n"
            ),
        },
    )
    assert _resolved(_context(tmp_path, "tests/test_n.py"), "framework.cases.base.Base")


def test_configured_src_root(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "libs/kit/cases.py": BASE,
            "tests/test_k.py": "from kit.cases import Base\n\nclass T(Base):\n    pass\n",
        },
    )
    assert (
        _index(tmp_path).context_for(str(tmp_path / "tests/test_k.py")).external("kit.cases.Base")
        is None
    )
    context = _index(tmp_path, src=("libs",)).context_for(str(tmp_path / "tests/test_k.py"))
    assert _resolved(context, "kit.cases.Base").id == "libs/kit/cases.py::Base"


def test_top_of_the_package_chain_is_an_import_root(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "deep/outer/pkg/__init__.py": "",
            "deep/outer/pkg/base.py": BASE,
            "deep/outer/pkg/test_p.py": "from pkg.base import Base\n\nclass T(Base):\n    pass\n",
        },
    )
    assert _resolved(_context(tmp_path, "deep/outer/pkg/test_p.py"), "pkg.base.Base")


@pytest.mark.parametrize(
    ("source", "qualified", "why"),
    [
        ("from .missing import Nope\n", ".missing.Nope", "no module"),
        ("from lib import NotThere\n", "lib.NotThere", "not defined in lib.py"),
        ("from lib import Dynamic\n", "lib.Dynamic", "computed at runtime"),
        ("from starry import Hidden\n", "starry.Hidden", "star import"),
    ],
)
def test_unresolved_bases_say_why(tmp_path: Path, source: str, qualified: str, why: str) -> None:
    name = qualified.rsplit(".", 1)[1]
    _write(
        tmp_path,
        {
            "lib.py": "def make():\n    return object\n\nDynamic = make()\n",
            "starry.py": "from thirdparty import *\n",
            "test_u.py": f"{source}\nclass T({name}):\n    async def test_a(self):\n        pass\n",
        },
    )
    index = _index(tmp_path)
    reason = index.context_for(str(tmp_path / "test_u.py")).why_unresolved(qualified)
    assert reason is not None and why in reason
    listed = index.unresolved([str(tmp_path / "test_u.py")])
    assert [(u.class_name, u.base) for u in listed] == [("T", name)]


def test_third_party_base_is_named_as_not_part_of_the_project(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "test_t.py": (
                "from aiolib import Case\n\nclass T(Case):\n    def setUp(self):\n        pass\n"
            )
        },
    )
    index = _index(tmp_path)
    index.context_for(str(tmp_path / "test_t.py"))
    (only,) = index.unresolved([str(tmp_path / "test_t.py")])
    assert "aiolib.Case is not part of the project" in only.reason


def test_never_run_tests_are_grouped_by_root_and_decorators_are_seen_through(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            "base.py": BASE,
            "test_one.py": (
                "import pytest\nfrom unittest.mock import patch\nfrom base import Base\n\n"
                "def wrap(f):\n    return f\n\n"
                "class T(Base):\n"
                "    async def test_plain(self):\n        pass\n\n"
                "    @pytest.mark.asyncio\n    async def test_marked(self):\n        pass\n\n"
                "    @patch('os.getcwd')\n    async def test_patched(self, m):\n        pass\n\n"
                "    @wrap\n    async def test_wrapped(self):\n        pass\n"
            ),
            "test_two.py": ASYNC_SUB.replace("T(", "U("),
        },
    )
    index = _index(tmp_path)
    runs = {(os.path.basename(n.path), n.class_name, n.tests, n.root) for n in index.never_run()}
    assert runs == {
        ("test_one.py", "T", 3, "base.py::Base"),
        ("test_two.py", "U", 1, "base.py::Base"),
    }
    assert [name for _, _, name in index.skipped_tests()] == ["T.test_wrapped"]
    root = index.context_for(str(tmp_path / "base.py")).root("Base")
    assert root is not None and (root.tests, root.files) == (4, 2)


def test_rebase_marks_subclass_contexts_only_when_the_root_is_writable(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "base.py": BASE,
            "test_one.py": ASYNC_SUB,
        },
    )
    test = str(tmp_path / "test_one.py")
    base = str(tmp_path / "base.py")
    writable = _index(tmp_path).context_for(
        test, unsafe_fixes=True, writable=frozenset({test, base})
    )
    assert _resolved(writable, "base.Base").rebased_root == "`Base` (base.py:4)"
    assert _resolved(writable, "base.Base").runs_async_hooks
    alone = _index(tmp_path).context_for(test, unsafe_fixes=True, writable=frozenset({test}))
    assert _resolved(alone, "base.Base").rebased_root is None
    assert alone.unwritable("base.py::Base") == "base.py is not among the named files"


def test_context_is_a_picklable_value_with_a_stable_fingerprint(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {"base.py": BASE, "test_a.py": "from base import Base\n\nclass T(Base):\n    pass\n"},
    )
    first = _context(tmp_path, "test_a.py")
    again = _context(tmp_path, "test_a.py")
    assert first == again and first.fingerprint == again.fingerprint
    assert pickle.loads(pickle.dumps(first)) == first
    (tmp_path / "base.py").write_text(BASE.replace("pass", "self.x = 1"))
    assert _context(tmp_path, "test_a.py").fingerprint != first.fingerprint
