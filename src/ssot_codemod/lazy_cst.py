"""``cst``: LibCST, imported the first time one of its names is read.

``import libcst`` costs ~0.3 s, as much as ruff's cold run over the stdlib. Many runs parse no
file at all (a clean tree, a tree served from the results cache), yet the modules that hold each
rule's metadata and prefilter (what the first pass needs) also hold its ``analyze``. Those
modules write ``from ssot_codemod.lazy_cst import cst`` instead of ``import libcst as cst``: for
mypy it is LibCST itself; at run time it is a module object that imports LibCST on the first
attribute read (only code that already has a parsed tree reads one), copies LibCST's names into
its own ``__dict__`` and becomes a plain module, so later lookups cost what any module attribute
costs (a ``__getattr__`` left on the type would slow down every ``cst.Name`` in the rules).

What must be LibCST at import time - a class that subclasses a LibCST class - cannot live in
such a module: the rules' visitors are in ``rules/_visitors.py``, imported where they are used.
``tests/test_lazy_import.py`` checks that a run which parses nothing never imports LibCST.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any

__all__ = ["cst"]


class _LazyModule(types.ModuleType):
    """A stand-in for the module named ``__name__``; imports it on first attribute access."""

    def __getattr__(self, name: str) -> Any:
        # Only reached on the first read: afterwards this object is a plain module holding the
        # real module's names (the package's public API; its submodules are not used this way).
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        self.__class__ = types.ModuleType  # type: ignore[assignment]
        return getattr(module, name)


if TYPE_CHECKING:
    import libcst as cst
else:
    cst = _LazyModule("libcst")
