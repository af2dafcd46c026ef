"""Fresh copies of modules, for tests that run in the same process as a student's code.

Hidden tests import this (not :mod:`toychat.grading`, which needs nbgrader) to take
course or PyNaCl code that no earlier cell of the notebook can have patched.
"""

from __future__ import annotations

import importlib.util
import re
import secrets
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["fresh_import"]


def fresh_import(module: str) -> ModuleType:
    """A new copy of a module (``"toychat.hashing"``, ``"nacl.bindings.crypto_box"``),
    executed from its file under a private, random name and not left in ``sys.modules``.

    Student code runs in the same Python process as the tests and can replace any
    attribute of a module it can import (``hashing.dct_hash = …``).  A copy made
    *after* that code ran, reachable only through the test's own variable, has not
    been touched.  The copy's own imports are the process's (so copy only modules
    whose work is their own: ``toychat.hashing`` and ``toychat.metadata`` use only
    numpy, PIL and pandas; PyNaCl's bindings call the compiled libsodium directly);
    a module with relative imports cannot be copied.

    >>> fresh_import("toychat.hashing") is fresh_import("toychat.hashing")
    False
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise ValueError(f"{module} is not a Python source module")
    path = Path(spec.origin)
    if re.search(r"^\s*from\s+\.", path.read_text(encoding="utf-8"), flags=re.M):
        raise ValueError(f"{module} has relative imports; it cannot be copied fresh")
    private = f"_fresh_{module.replace('.', '_')}_{secrets.token_hex(8)}"
    fresh_spec = importlib.util.spec_from_file_location(private, path)
    assert fresh_spec is not None and fresh_spec.loader is not None
    copy_ = importlib.util.module_from_spec(fresh_spec)
    sys.modules[private] = copy_  # dataclasses look their module up while it executes
    try:
        fresh_spec.loader.exec_module(copy_)
    finally:
        del sys.modules[private]
    return copy_
