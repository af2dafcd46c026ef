"""``toychat.setup()``: one line of versions, a plain refusal of a too-old version,
the course's plot style, and every lesson starts by calling it."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import matplotlib.pyplot as plt
import nacl
import nbformat
import pytest

import toychat
from support.nbtools import LESSONS
from toychat import course
from toychat.plots import COURSE_STYLE


def test_setup_prints_one_line_of_versions(capsys: pytest.CaptureFixture[str]) -> None:
    toychat.setup()
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"Python {course.sys.version.split()[0]} · PyNaCl {nacl.__version__} · toychat {toychat.__version__}"
    ]


def test_setup_applies_the_course_plot_style() -> None:
    plt.rcdefaults()
    assert plt.rcParams["font.size"] != COURSE_STYLE["font.size"]
    toychat.setup()
    assert all(
        plt.rcParams[key] == value or list(plt.rcParams[key]) == list(value) for key, value in COURSE_STYLE.items()
    )


@pytest.mark.parametrize("name, version", [("PyNaCl", "1.4.0"), ("PyNaCl", "0.9"), ("Python", "3.10.12")])
def test_setup_refuses_a_too_old_version(
    name: str, version: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = course.installed_versions()
    monkeypatch.setattr(course, "installed_versions", lambda: {**found, name: version})
    with pytest.raises(course.UnsupportedVersion, match=rf"needs {name} \d+\.\d+ or newer.* has {name} {version}\b"):
        toychat.setup()
    assert capsys.readouterr().out == "", "nothing is printed as if the setup had worked"


def test_setup_reads_pynacls_version_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nacl, "__version__", "1.4.2")
    with pytest.raises(course.UnsupportedVersion, match="PyNaCl 1.5 or newer"):
        toychat.setup()


@pytest.mark.parametrize("version", ["1.5", "1.5.0", "1.6.2", "2.0.0rc1", "1.10"])
def test_new_enough_versions_pass(version: str) -> None:
    course.check_versions({**course.installed_versions(), "PyNaCl": version})


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name[:2])
def test_every_lesson_starts_with_setup(lesson) -> None:
    nb = nbformat.read(lesson, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    code = [line for line in first.source.splitlines() if line.strip() and not line.startswith("#")]
    assert code[0] == "import toychat; toychat.setup()", f"{lesson.name}: the first code line calls toychat.setup()"
    assert "setup" in first.metadata.get("tags", []), f"{lesson.name}: the setup call is in the cell tagged 'setup'"
    assert not any(line.startswith(("assert ", "print(")) for line in code), (
        f"{lesson.name}: version checks and version lines belong to toychat.setup()"
    )


#: In a fresh interpreter: free a 16 MiB array (glibc then raises its threshold for pages of
#: their own to 16 MiB), optionally call setup(), then say whether an 8 MiB array got pages of
#: its own (mallinfo2's hblkhd: bytes in such blocks) or came from the reusable heap.
_OWN_PAGES = """
import ctypes, sys
import numpy as np
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
big = np.ones(16 << 20, np.uint8)
del big
if sys.argv[1] == "setup":
    import toychat
    toychat.setup()
before = mallinfo2().hblkhd
array = np.ones(8 << 20, np.uint8)
print(mallinfo2().hblkhd - before >= 8 << 20)
"""


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc's malloc only")
def test_setup_gives_large_arrays_pages_the_system_takes_back_when_freed() -> None:
    def own_pages(mode: str) -> bool:
        run = subprocess.run([sys.executable, "-c", _OWN_PAGES, mode], capture_output=True, text=True, check=True)
        return run.stdout.split()[-1] == "True"

    assert not own_pages("plain"), "without setup() glibc puts the array in its reusable heap (the case setup fixes)"
    assert own_pages("setup"), "after setup() an array of 8 MiB gets pages of its own, returned when it is freed"
