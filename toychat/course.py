"""One setup call for every lesson: check the versions, set the plot style, say what runs.

Each lesson's first code cell is ``import toychat; toychat.setup()`` followed by the
imports that lesson uses, so the version checks and the matplotlib style live in one
place rather than drift apart in eleven notebooks.

>>> import toychat
>>> toychat.setup()  # doctest: +ELLIPSIS
Python ... · PyNaCl ... · toychat ...
"""

from __future__ import annotations

import ctypes
import sys

import nacl

__all__ = [
    "LARGE_BLOCK_BYTES",
    "REQUIRED",
    "UnsupportedVersion",
    "check_versions",
    "installed_versions",
    "return_large_blocks_at_once",
    "setup",
]

#: Blocks from this size up (bytes) get pages of their own from the operating system, which
#: go back to it when the block is freed: every numpy array of 4 MiB or more (see
#: :func:`return_large_blocks_at_once`).  Not lower: numpy asks for huge pages from 4 MiB up,
#: and below that every new array pays a page fault per 4 KiB page (at 1 MiB lesson 09 took
#: about 6 of 20 CPU seconds more, at 4 MiB under 1; two runs each at load average 1 on 2 cores).
LARGE_BLOCK_BYTES = 4 << 20
#: glibc's ``mallopt`` parameter number for that threshold (``M_MMAP_THRESHOLD`` in malloc.h).
_M_MMAP_THRESHOLD = -3

#: The oldest version of each piece the course runs on (pyproject.toml says the same).
REQUIRED: dict[str, tuple[int, int]] = {"Python": (3, 11), "PyNaCl": (1, 5)}


class UnsupportedVersion(RuntimeError):
    """Python or a library is older than the course needs."""


def installed_versions() -> dict[str, str]:
    """The versions this kernel runs, read now: Python, PyNaCl and the course package."""
    from . import __version__

    return {"Python": sys.version.split()[0], "PyNaCl": nacl.__version__, "toychat": __version__}


def _major_minor(version: str) -> tuple[int, int]:
    """``"1.5.0"`` -> ``(1, 5)``; a suffix such as ``"0rc1"`` on the minor number is ignored."""
    major, minor = (version.split(".") + ["0"])[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def check_versions(found: dict[str, str]) -> None:
    """Raise :class:`UnsupportedVersion`, in plain words, if anything in ``found`` is
    older than :data:`REQUIRED` asks."""
    for name, oldest in REQUIRED.items():
        if _major_minor(found[name]) < oldest:
            wanted = ".".join(map(str, oldest))
            raise UnsupportedVersion(
                f"This course needs {name} {wanted} or newer, but this kernel has {name} {found[name]}. "
                f"Install a newer {name} (see README.md) and restart the kernel."
            )


def return_large_blocks_at_once() -> bool:
    """Make this process give a freed block of :data:`LARGE_BLOCK_BYTES` or more straight back
    to the operating system; ``False`` (and nothing changed) without glibc.

    By default glibc raises that threshold each time such a block is freed (up to 32 MiB), so
    the arrays a lesson frees stay in the kernel as reusable heap: lesson 09's kernel held
    90 MiB of freed heap once its mimicry experiment had run, and its peak counted it
    (benchmarks/sizing.py measures resident memory).  Fixing
    the threshold turns that off.  Values are untouched; what it costs is a fresh page fault
    for each page of each new large array.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES))


def setup() -> None:
    """Get a lesson ready: check the versions, apply the course's plot style, return large
    freed arrays to the system at once (:func:`return_large_blocks_at_once`), and print one
    line saying which Python, PyNaCl and toychat run the lesson."""
    from .plots import use_course_style  # matplotlib only when a lesson asks for it

    found = installed_versions()
    check_versions(found)
    use_course_style()
    return_large_blocks_at_once()
    print(" · ".join(f"{name} {version}" for name, version in found.items()))
