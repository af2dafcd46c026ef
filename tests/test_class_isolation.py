"""Students never see the answers: the class set-up of docs/deploying.md, with real Unix accounts.

The guide's ``class-setup`` commands, run as written (paths moved into a temporary folder): an
instructor and two students created with the documented ``useradd`` (private homes), the exchange
root made with the documented mode (sticky bit), the instructor's course directory made
instructor-only.  The user environment has the course package as a wheel (built from this
checkout, non-editable), so no account needs to read the checkout.  The instructor generates and
releases ex01 in the course directory (which then holds ``solutions/`` and ``gradebook.db``);
one student fetches and submits with nbgrader.  Then, as the other student: the package is the
wheel's and loads its data; the solutions, the gradebook, the classmate's home and the exchange's
``inbound`` (where the classmate's submission is) are out of reach; renaming or deleting the
course's exchange folder (the hijack that lets a student read a classmate's submission) fails.

Needs root (accounts): skipped otherwise, failed under ``CI``.  Accounts and files are removed
afterwards.  Shares helpers with tests/test_class_deployment.py (a full class through a hub).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.nbtools import REPO, record_timing
from test_class_deployment import (
    Machine,
    _listing_denied,
    _python_for_accounts,
    _require_root_and_tools,
    _stop_processes_of,
    _userdel,
    install_course_wheel,
)

pytestmark = pytest.mark.nbgrader

ASSIGNMENT, COURSE_ID = "ex01_encryption", "e2ee-online-safety"
INSTRUCTOR, STUDENT, CLASSMATE = "tci-teach", "tci-stu1", "tci-stu2"
USERS = (INSTRUCTOR, STUDENT, CLASSMATE)
GUIDE = REPO / "docs" / "deploying.md"


def class_setup_commands() -> list[list[str]]:
    """The guide's ``class-setup`` block: each line a command (``sudo`` dropped: the test is root)."""
    [block] = re.findall(r"<!-- class-setup -->\s*\n\s*```bash\n(.*?)\n\s*```", GUIDE.read_text(encoding="utf-8"), re.S)
    commands = [shlex.split(line) for line in block.splitlines() if line.strip()]
    assert all(c[0] == "sudo" for c in commands), commands
    return [c[1:] for c in commands]


@pytest.fixture(scope="module")
def machine() -> Iterator[Machine]:
    _require_root_and_tools()
    _stop_processes_of(USERS)
    for user in USERS:
        _userdel(user)
    base = Path(tempfile.mkdtemp(prefix="tci-class-"))
    base.chmod(0o755)
    m = Machine(base)
    try:
        (base / "home").mkdir(mode=0o755)
        (base / "srv" / "nbgrader").mkdir(parents=True)
        for folder in (base / "srv", base / "srv" / "nbgrader"):
            folder.chmod(0o755)

        def here(word: str, user: str) -> str:
            word = word.replace("/srv/nbgrader/exchange", str(m.exchange)).replace("/home/", f"{base}/home/")
            return re.sub(r"\bINSTRUCTOR\b", INSTRUCTOR, re.sub(r"\bNAME\b", user, word))

        for command in class_setup_commands():
            if command[0] == "useradd":
                for user in USERS:
                    args = [here(w, user) for w in command]
                    subprocess.run([*args[:-1], "--home-dir", str(m.home(user)), args[-1]], check=True)
            else:
                subprocess.run([here(w, INSTRUCTOR) for w in command], check=True)
        # The user environment: the course's Python, with the course package as a wheel.
        m.prefix = _python_for_accounts(m, STUDENT, own=True)
        install_course_wheel(m)
        # The class-wide nbgrader settings (TLJH: /opt/tljh/user/etc/jupyter).
        m.etc_jupyter.mkdir(parents=True)
        for folder in (base / "etc", m.etc_jupyter):
            folder.chmod(0o755)
        shutil.copy(REPO / "deploy" / "jupyter" / "common" / "nbgrader_config.py", m.etc_jupyter)
        (m.etc_jupyter / "nbgrader_config.py").chmod(0o644)
        yield m
    finally:
        _stop_processes_of(USERS)
        for user in USERS:
            _userdel(user)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def released(machine: Machine) -> Path:
    """The instructor's course directory after ex01's release; a student has fetched and submitted."""
    course = machine.home(INSTRUCTOR) / "course"
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    shutil.copy(REPO / "solutions" / "header.ipynb", course / "solutions")
    (course / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text(encoding="utf-8"))
    for path in (course, *course.rglob("*")):
        shutil.chown(path, INSTRUCTOR, INSTRUCTOR)
    nbgrader = [machine.python, "-m", "nbgrader"]
    machine.run_as(INSTRUCTOR, [*nbgrader, "generate_assignment", ASSIGNMENT, "--force"], course)
    machine.run_as(INSTRUCTOR, [*nbgrader, "release_assignment", ASSIGNMENT], course)
    home = machine.home(STUDENT)
    machine.run_as(STUDENT, [*nbgrader, "fetch_assignment", ASSIGNMENT], home)
    machine.run_as(STUDENT, [*nbgrader, "submit", ASSIGNMENT], home)
    return course


def test_the_documented_modes(machine: Machine) -> None:
    assert machine.exchange.stat().st_mode & 0o7777 == 0o1777, "the exchange root has the sticky bit"
    for user in USERS:
        assert machine.home(user).stat().st_mode & 0o777 == 0o700, f"{user}'s home is private"
    course = machine.home(INSTRUCTOR) / "course"
    assert course.stat().st_mode & 0o777 == 0o700
    assert course.owner() == INSTRUCTOR


def test_a_student_cannot_reach_the_answers_or_a_classmate(machine: Machine, released: Path) -> None:
    start = time.perf_counter()
    assert (released / "gradebook.db").is_file()
    inbound = machine.exchange / COURSE_ID / "inbound"
    [submission] = inbound.iterdir()
    assert submission.owner() == STUDENT

    # The course package is the wheel's, outside the checkout, and finds its data there.
    where = machine.python_as(
        CLASSMATE, "import toychat, toychat.claims as c; print(toychat.__file__); print(len(c.load_claims()))"
    ).split()
    assert Path(where[0]).is_relative_to(machine.prefix), where
    assert not Path(where[0]).is_relative_to(REPO), where
    assert int(where[1]) > 0

    # The answers, the gradebook, the classmate's home, and the exchange's inbound: out of reach.
    answers = [str(released / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), str(released / "gradebook.db")]
    reads = machine.python_as(
        CLASSMATE,
        f"""
        for path in {answers!r}:
            try:
                open(path, "rb").read(1)
                print("read")
            except PermissionError:
                print("denied")
    """,
    ).split()
    assert reads == ["denied", "denied"]
    folders = [released, released / "solutions", machine.home(STUDENT), inbound]
    assert _listing_denied(machine, CLASSMATE, folders) == [True] * len(folders)

    # The hijack: move the course's exchange folder aside (to put one's own in its place) or delete it.
    hijack = machine.python_as(
        CLASSMATE,
        textwrap.dedent(f"""
        import os, shutil
        for attempt in (lambda: os.rename({str(machine.exchange / COURSE_ID)!r}, {str(machine.exchange / "mine")!r}),
                        lambda: shutil.rmtree({str(machine.exchange / COURSE_ID)!r})):
            try:
                attempt()
                print("done")
            except PermissionError:
                print("denied")
    """),
    ).split()
    assert hijack == ["denied", "denied"]
    assert (machine.exchange / COURSE_ID / "inbound" / submission.name).is_dir()
    record_timing(
        "nbgrader", "class isolation: 3 real accounts, the documented modes (ex01)", time.perf_counter() - start
    )
