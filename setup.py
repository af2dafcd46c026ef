"""Build hook: a wheel of the course package carries the course's data (``data/*.csv``).

Everything else is in ``pyproject.toml``.  The lessons and exercises load the claims, the
sources and the bibliography through :mod:`toychat.claims`; in a checkout (or an editable
install) they are read from ``data/``, and a wheel (``pip install .``, the class hub's
student environment) gets a copy as ``toychat/data/``, since a wheel holds only what is
inside its packages.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = Path(__file__).resolve().parent / "data"


class BuildWithData(build_py):  # type: ignore[misc]
    """``build_py`` that also copies ``data/*.csv`` into the built ``toychat/data/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads data/ in place
        target = Path(self.build_lib) / "toychat" / "data"
        target.mkdir(parents=True, exist_ok=True)
        for table in sorted(DATA.glob("*.csv")):
            shutil.copy2(table, target / table.name)


setup(cmdclass={"build_py": BuildWithData})
