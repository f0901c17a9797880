"""``cst``: LibCST, imported the first time one of its names is read.

``import libcst`` costs ~0.3 s, as much as a whole warm ``check``. Most runs parse no file at
all (a clean tree, a tree served from the results cache), yet the modules that hold each rule's
metadata and prefilter (what the first pass needs) also hold its ``analyze``. Those modules
write ``from ssot_codemod.lazy_cst import cst`` instead of ``import libcst as cst``: for mypy it
is LibCST itself; at run time it is a module object that imports LibCST on the first attribute
read (only code that already has a parsed tree reads one) and then keeps LibCST's names in its
own ``__dict__``, so later lookups cost what a module attribute costs.

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
        # Only reached for names not copied yet: the first read, or a submodule the real
        # module gained afterwards (``libcst.matchers`` once something imports it).
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, name)


if TYPE_CHECKING:
    import libcst as cst
else:
    cst = _LazyModule("libcst")
