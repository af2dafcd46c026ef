"""A real class on one machine, as The Littlest JupyterHub runs it, with the configuration the
course ships for it.

Real Unix accounts (``useradd``: an instructor and five students) and a real JupyterHub that
loads exactly ``deploy/tljh/jupyterhub_config.d/`` the way TLJH's own ``jupyterhub_config.py``
does (``load_subconfig`` of each file, in name order, last), with ``TLJH_INSTALL_PREFIX``
(TLJH's own setting) pointing at a stand-in ``/opt/tljh`` whose ``user`` environment is the
course's, with the course package installed as a wheel (docs/deploying.md; no account imports it
from the checkout, and the hub passes no PYTHONPATH on): the LTI 1.3 login with groups from the LMS
role, the LMS frame policy, the role folders, and the classroom relay as a hub service run by the
user environment's Python.  Only
the addresses (ports, database, proxy, the LMS's URLs) and the spawner are the test's: each
server runs *as its Unix account* (``LocalProcessSpawner``).  Everyone logs in by clicking the
course link in a simulated LMS (tests/support/lms.py), whose LTI user ids are the Unix names.
The hub is ready only when the relay answers behind it, authenticating through the hub; the log
shows the LTI authenticator and the relay started with the user environment's Python.  (This
was tests/test_hub_config.py's start-up test, folded in here so that CI starts this hub once.)

The exchange has the permissions nbgrader documents (mode ``1777`` on the exchange root, as
docs/deploying.md says; nbgrader makes ``inbound`` write-only for students and ``feedback``
unlistable).  The instructor (a Unix account, in a terminal) releases ex01; the LMS's instructor
gets formgrader and the relay's server view, a student neither; Voila runs a notebook as the
student, whose ``toychat`` is the wheel's, with no ``solutions/`` beside it. Every student
fetches, answers, saves and submits through their own server (nbgrader's server-extension HTTP API
and Jupyter's contents API, what JupyterLab's Assignments tab calls).  One student submits in
another's name and ``nbgrader collect``'s ownership check catches it.  Isolation is checked *as
the students*: nobody can list the inbound or feedback folders or read another's home.  The
instructor grades with ``scripts/grade_in_parallel.py`` and releases feedback; every student
fetches their own, and the impostor cannot fetch the victim's.

It needs root (accounts, and a hub that switches users): skipped otherwise, and failed under
``CI`` (which runs as root).  Accounts and files are removed afterwards.  docs/deploying.md
describes the same set-up.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.classroom import read_grades, solution_answers
from support.browser import free_port, require
from support.grading import grade_points
from support.hub import configurable_http_proxy, local_hub_lines, loopback_browser_session, running_hub
from support.lms import LMS, ROLE, hub_lms_lines
from support.nbtools import REPO, record_timing

pytestmark = [pytest.mark.nbgrader, pytest.mark.hub]  # it starts JupyterHub

ASSIGNMENT = "ex01_encryption"
COURSE_ID = "e2ee-online-safety"
INSTRUCTOR = "tcs-teach"
STUDENTS = tuple(f"tcs-stu{k}" for k in range(1, 6))
#: Who answers everything (the others hand in the release untouched).
ANSWERING = {"tcs-stu1", "tcs-stu3", "tcs-stu5"}
#: The impostor and the classmate whose name they use.
IMPOSTOR, VICTIM = "tcs-stu5", "tcs-stu1"
HIDDEN_MESSAGE = "a different key must not decrypt"
#: The hub configuration the course ships for The Littlest JupyterHub.
TLJH_FILES = REPO / "deploy" / "tljh" / "jupyterhub_config.d"


# --------------------------------------------------------------------------- the machine


def _require_root_and_tools() -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        require("the class test creates Unix accounts and runs a hub that switches users: it needs root")
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            require(f"{tool} is not installed (the passwd package); the class test creates real accounts")
    try:
        import requests  # noqa: F401
    except ImportError as exc:
        require(f"{exc.name} is not installed (a JupyterHub dependency); the class test logs in over HTTP")


def _userdel(name: str) -> None:
    subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
    subprocess.run(["groupdel", name], check=False, capture_output=True)


def _stop_processes_of(users: tuple[str, ...]) -> None:
    """Kill, by pid, whatever still runs as this test's own accounts (userdel refuses otherwise)."""
    import psutil

    mine = [p for p in psutil.process_iter(["username"]) if p.info["username"] in users]
    for proc in mine:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(mine, timeout=10)


def _account_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@dataclass
class Machine:
    """The class's server: accounts, the exchange, the class-wide Jupyter config."""

    base: Path
    #: The course's Python as the accounts run it (see :func:`_python_for_accounts`).
    prefix: Path = Path(sys.prefix)
    #: Where that Python's shared library is, when it is a copy.
    library_path: str = ""

    @property
    def python(self) -> str:
        return str(self.prefix / "bin" / "python")

    @property
    def exchange(self) -> Path:
        return self.base / "srv" / "nbgrader" / "exchange"

    @property
    def course_jupyter(self) -> Path:
        """The role folders of deploy/jupyter/ (TLJH: /srv/course/jupyter), readable by everyone."""
        return self.base / "srv" / "course" / "jupyter"

    @property
    def etc_jupyter(self) -> Path:
        """The class-wide config folder (TLJH: /opt/tljh/user/etc/jupyter), on JUPYTER_CONFIG_PATH."""
        return self.base / "etc" / "jupyter"

    def home(self, user: str) -> Path:
        return self.base / "home" / user

    def env(self, user: str) -> dict[str, str]:
        """What a login shell of ``user`` sees, with the course's Python first on PATH."""
        env = {
            "HOME": str(self.home(user)),
            "USER": user,
            "LOGNAME": user,
            "LANG": "C.UTF-8",
            "PATH": f"{self.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
            "JUPYTER_CONFIG_PATH": str(self.etc_jupyter),
            "MPLBACKEND": "Agg",
            "NBGRADER_EXCHANGE_ROOT": str(self.exchange),  # instead of /srv/nbgrader/exchange
        }
        if self.library_path:
            env["LD_LIBRARY_PATH"] = self.library_path
        return env

    def run_as(
        self, user: str, args: list[str], cwd: Path, *, check: bool = True, timeout: int = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` as the Unix account ``user`` (its uid, gid and no other group)."""
        result = subprocess.run(
            args,
            cwd=cwd,
            env=self.env(user),
            user=user,
            group=user,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"{user} ran {args} and it failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
        return result

    def python_as(self, user: str, code: str) -> str:
        """Run a Python snippet as ``user``; returns what it prints."""
        return self.run_as(user, [self.python, "-c", textwrap.dedent(code)], self.home(user)).stdout


def _python_for_accounts(m: Machine, user: str, *, own: bool = False) -> Path:
    """The prefix of a Python that ``user`` can run and that has the course's packages.

    Normally the running virtual environment itself.  Where its interpreter lives
    in a home other accounts cannot enter (a pyenv Python under /root), a copy of
    that same interpreter and standard library (not another Python: the course's
    packages are tested with this one) with a virtual environment on it that
    loads this environment's site-packages and whose scripts point at it — as
    TLJH keeps the user environment in /opt/tljh/user, readable by everyone.  With ``own``, always
    that copy, whose own site-packages come first (tests/test_class_isolation.py installs the
    course's wheel there).
    """
    probe = [sys.executable, "-c", "import nbgrader, jupyterhub"]
    try:
        if not own and (
            subprocess.run(
                probe, user=user, group=user, extra_groups=[], cwd="/", capture_output=True, check=False
            ).returncode
            == 0
        ):
            return Path(sys.prefix)
    except PermissionError:
        pass
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base, interpreter = m.base / "base-python", m.base / "base-python" / "bin" / version
    interpreter.parent.mkdir(parents=True)
    shutil.copy2(Path(sys.base_prefix, "bin", version), interpreter)
    (base / "lib").mkdir()
    for library in Path(sys.base_prefix, "lib").glob("libpython*"):
        shutil.copy2(library, base / "lib" / library.name, follow_symlinks=False)
    shutil.copytree(
        Path(sys.base_prefix, "lib", version),
        base / "lib" / version,
        symlinks=True,
        ignore=shutil.ignore_patterns("site-packages", "test", "idlelib", "tkinter", "turtledemo"),
    )
    (base / "lib" / version / "site-packages").mkdir()
    m.library_path = str(base / "lib")  # the interpreter's RUNPATH names the original folder
    prefix = m.base / "course-python"
    subprocess.run(
        [str(interpreter), "-m", "venv", "--without-pip", str(prefix)],
        check=True,
        capture_output=True,
        env={"LD_LIBRARY_PATH": m.library_path, "PATH": "/usr/bin:/bin"},
    )
    [site_packages] = prefix.glob("lib/python*/site-packages")
    ours = next(p for p in sys.path if p.startswith(sys.prefix) and p.endswith("site-packages"))
    (site_packages / "course-environment.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    for shared in ("etc", "share"):  # server extensions enabled, JupyterLab's assets, kernel specs
        if Path(sys.prefix, shared).exists() and not (prefix / shared).exists():
            (prefix / shared).symlink_to(Path(sys.prefix, shared))
    for script in Path(sys.prefix, "bin").iterdir():
        if script.is_file() and not (prefix / "bin" / script.name).exists():
            head = script.read_bytes()[:200]
            if head.startswith(f"#!{sys.prefix}/bin/python".encode()):
                body = script.read_text().split("\n", 1)[1]
                (prefix / "bin" / script.name).write_text(f"#!{prefix}/bin/python\n{body}")
                (prefix / "bin" / script.name).chmod(0o755)
    return prefix


def install_course_wheel(m: Machine) -> None:
    """Build the course package's wheel from this checkout and install it into ``m.prefix`` (a
    Python of :func:`_python_for_accounts` with ``own``), readable by every account: the user
    environment docs/deploying.md installs, which holds no ``solutions/``."""
    [site] = m.prefix.glob("lib/python*/site-packages")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(m.base / "wheel"), str(REPO)], check=True)
    [wheel] = (m.base / "wheel").glob("toychat-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    for path in site.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture(scope="module")
def machine() -> Iterator[Machine]:
    """Accounts, homes, the exchange and the class config; everything removed afterwards."""
    _require_root_and_tools()
    users = (INSTRUCTOR, *STUDENTS)
    _stop_processes_of(users)  # left over by an interrupted run: the names are this test's own
    for user in users:
        if _account_exists(user):
            _userdel(user)
    base = Path(tempfile.mkdtemp(prefix="tcs-class-"))
    base.chmod(0o755)
    m = Machine(base)
    try:
        (base / "home").mkdir(mode=0o755)
        for user in users:
            subprocess.run(
                [
                    "useradd",
                    "--create-home",
                    "--home-dir",
                    str(m.home(user)),
                    "--shell",
                    "/bin/bash",
                    "--user-group",
                    user,
                ],
                check=True,
                capture_output=True,
            )
            m.home(user).chmod(0o700)  # TLJH's and Debian's default: nobody else reads a home
        # the course's exchange set-up (docs/deploying.md): `install -d -m 1777 /srv/nbgrader/exchange`,
        # nbgrader's documented `chmod ugo+rw` plus the sticky bit
        m.exchange.mkdir(parents=True)
        for folder in (base / "srv", base / "srv" / "nbgrader"):
            folder.chmod(0o755)
        m.exchange.chmod(0o1777)
        # the user environment (TLJH: /opt/tljh/user): the course package as a wheel, as
        # docs/deploying.md installs it, so no account imports it from the checkout
        m.prefix = _python_for_accounts(m, STUDENTS[0], own=True)
        install_course_wheel(m)
        probe = m.run_as(STUDENTS[0], [m.python, "-c", "import nbgrader, jupyterhub, toychat"], base, check=False)
        if probe.returncode != 0:
            require(
                "a student account cannot import the course's packages: the checkout and its virtual "
                f"environment must be readable by every account (not inside /root):\n{probe.stderr[-1500:]}"
            )
        m.etc_jupyter.mkdir(parents=True)
        (base / "etc").chmod(0o755)
        m.etc_jupyter.chmod(0o755)
        # the files docs/deploying.md tells a TLJH admin to copy: the course id and exchange for
        # everyone; formgrader and the create-assignment toolbar off for students (the instructor
        # grades in a terminal here)
        deploy = REPO / "deploy" / "jupyter"
        shutil.copy(deploy / "common" / "nbgrader_config.py", m.etc_jupyter / "nbgrader_config.py")
        shutil.copy(deploy / "student" / "jupyter_server_config.json", m.etc_jupyter)
        shutil.copytree(deploy / "student" / "labconfig", m.etc_jupyter / "labconfig")
        (m.etc_jupyter / "labconfig").chmod(0o755)
        for path in m.etc_jupyter.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        # the role folders the shipped 20-course-roles.py puts on each server's JUPYTER_CONFIG_PATH
        shutil.copytree(deploy, m.course_jupyter)
        for path in [m.course_jupyter.parent, m.course_jupyter, *m.course_jupyter.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield m
    finally:
        _stop_processes_of(users)
        for user in users:
            _userdel(user)
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------- the hub


@pytest.fixture(scope="module")
def lms() -> Iterator[LMS]:
    """The university's LMS, simulated on 127.0.0.1 (tests/support/lms.py)."""
    try:
        import jwt  # noqa: F401
        import ltiauthenticator  # noqa: F401
    except ImportError as exc:
        require(f"{exc.name} is not installed (requirements.txt); the class logs in through the LMS")
    with LMS() as platform:
        yield platform


@pytest.fixture(scope="module")
def hub(machine: Machine, lms: LMS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    """JupyterHub as root with the shipped TLJH files, loaded as TLJH loads them; yields its URL,
    pid and log.

    A stand-in for /opt/tljh (``TLJH_INSTALL_PREFIX``, TLJH's own setting): its config folder holds
    deploy/tljh/jupyterhub_config.d/ (LTI login, LMS frame, roles, relay service), its user
    environment is the course's Python as the accounts run it, its state folder the relay's
    database; the role folders of deploy/jupyter/ are in the machine's /srv/course/jupyter.  Only
    the addresses (ports, database, proxy, the LMS's URLs) and the spawner are the test's: each
    server runs as its Unix account (``LocalProcessSpawner``; TLJH's systemd spawner also creates
    the account, which the machine fixture has done).  Ready when the relay service answers
    behind the hub, authenticating through it.
    """
    proxy = configurable_http_proxy(tmp_path_factory.mktemp("chp"))
    state = tmp_path_factory.mktemp("hub")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 10101)) == 0:
            require("port 10101, where the shipped relay service listens, is taken on this machine")
    tljh = machine.base / "tljh"
    shutil.copytree(TLJH_FILES, tljh / "config" / "jupyterhub_config.d")
    (tljh / "state").mkdir()
    # the key that encrypts the launches' claims (auth_state), as 10-course-lti.py documents it: a
    # root-only file in TLJH's state folder
    crypt_key = tljh / "state" / "jupyterhub-crypt-key"
    crypt_key.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    crypt_key.chmod(0o600)
    (tljh / "user").symlink_to(machine.prefix)
    port = free_port()
    # PATH with the course's Python first and the exchange; the spawner sets HOME and USER, and
    # 20-course-roles.py JUPYTER_CONFIG_PATH (the role folders)
    spawner_env = {
        k: v for k, v in machine.env(STUDENTS[0]).items() if k not in ("HOME", "USER", "LOGNAME", "JUPYTER_CONFIG_PATH")
    }
    config = state / "jupyterhub_config.py"
    config.write_text(
        textwrap.dedent(f"""
        import os
        from glob import glob

        c = get_config()  # noqa
        {{hub_lines}}
        c.JupyterHub.services = []
        c.JupyterHub.load_roles = []
        c.JupyterHub.spawner_class = "localprocess"          # each server runs as its user, as in TLJH
        c.Spawner.cmd = [{str(machine.prefix / "bin" / "jupyterhub-singleuser")!r}]
        c.Spawner.environment = {spawner_env!r}
        c.Spawner.default_url = "/lab"
        c.Spawner.start_timeout = 120
        c.Spawner.http_timeout = 120

        # ---- the end of TLJH's own jupyterhub_config.py, verbatim ----
        CONFIG_DIR = os.path.join(os.environ["TLJH_INSTALL_PREFIX"], "config")
        extra_configs = sorted(glob(os.path.join(CONFIG_DIR, "jupyterhub_config.d", "*.py")))
        for ec in extra_configs:
            load_subconfig(ec)

        # ---- the LMS is the test's (10-course-lti.py's values are Canvas's) ----
        {{lms_lines}}
    """)
        .replace("{hub_lines}", local_hub_lines(state, port, proxy))
        .replace("{lms_lines}", hub_lms_lines(lms))
    )
    # The hub's own environment (its servers get Spawner.environment above): this interpreter's
    # bin/ first on PATH, TLJH's prefix, and the role folders
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "JUPYTERHUB_CRYPT_KEY")}
    env["PATH"] = f"{sys.prefix}/bin:" + env.get("PATH", "/usr/bin:/bin")
    env["TLJH_INSTALL_PREFIX"] = str(tljh)
    env["COURSE_JUPYTER_CONFIG"] = str(machine.course_jupyter)
    # no PYTHONPATH: JupyterHub passes it on to the relay service and every server (env_keep), which
    # must import the course from the user environment's wheel, as on TLJH
    env.pop("PYTHONPATH", None)

    def relay_service_answers(url: str) -> bool:
        """Ready when the relay service answers behind the hub, authenticating through it."""
        with urllib.request.urlopen(f"{url}/services/toychat-relay/api/info", timeout=2) as response:
            return bool(json.load(response).get("auth") == "hub")

    with running_hub(
        config, port=port, env=env, ready=relay_service_answers, what="JupyterHub with the shipped TLJH files"
    ) as running:
        yield running.url, running.process.pid, running.log_path


class Student:
    """One student in a browser-like HTTP session: hub login, then their own server's APIs."""

    def __init__(self, base: str, name: str) -> None:
        self.base, self.name = base, name
        self.http = loopback_browser_session()  # the hub's cookies may be Secure (inside an LMS frame)
        self.server = f"{base}/user/{name}"

    def _xsrf(self, path: str) -> str:
        for cookie in self.http.cookies:
            if cookie.name == "_xsrf" and cookie.path.rstrip("/") == path.rstrip("/"):
                return cookie.value
        raise AssertionError(f"no _xsrf cookie for {path}: {[(c.name, c.path) for c in self.http.cookies]}")

    def log_in(self, lms: LMS, role: str = "Learner") -> None:
        """Click the course link in the LMS: the LTI launch logs in (the LMS user id is the Unix
        name) and lands on the hub's spawn page, which starts the server."""
        landed = lms.launch(self.http, self.base, {"sub": self.name, "name": self.name, "roles": [ROLE + role]})
        assert landed.status_code == 200, f"{self.name} could not log in through the LMS: {landed.status_code}"

    def wait_for_server(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            response = self.http.get(f"{self.server}/lab", timeout=60)
            if response.status_code == 200 and response.url.startswith(f"{self.server}/lab"):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}'s server did not start: {response.status_code} {response.url}")
            time.sleep(1)

    def call(self, method: str, path: str, **kwargs: object) -> object:
        """A request to the student's own server, authenticated as JupyterLab does (cookie + XSRF header)."""
        headers = {"X-XSRFToken": self._xsrf(f"/user/{self.name}/")}
        response = self.http.request(method, f"{self.server}/{path}", headers=headers, timeout=300, **kwargs)
        response.raise_for_status()
        return response

    def nbgrader(self, action: str) -> list | dict:
        """The Assignments tab's buttons: fetch, submit, fetch_feedback (nbgrader's server extension)."""
        return self.call(
            "POST", f"assignments/{action}", data={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT}
        ).json()

    def assignments(self) -> list[dict]:
        return self.call("GET", "assignments", params={"course_id": COURSE_ID}).json()["value"]

    def read(self, path: str) -> dict:
        return self.call("GET", f"api/contents/{path}", params={"content": "1"}).json()

    def save_text(self, path: str, text: str) -> None:
        self.call("PUT", f"api/contents/{path}", json={"type": "file", "format": "text", "content": text})

    def answer(self, answers: dict[str, str]) -> None:
        """Open the fetched notebook, type the answers, save (what the student does in JupyterLab)."""
        path = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        notebook = self.read(path)["content"]
        for cell in notebook["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell["source"] = answers[grade_id]
        self.call("PUT", f"api/contents/{path}", json={"type": "notebook", "content": notebook})


def _notebook(code: str) -> dict:
    """A one-cell notebook (nbformat 4) as JSON."""
    import nbformat

    return dict(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]))


def _submitted_timestamps(listing: list[dict]) -> set[str]:
    return {s["timestamp"] for a in listing if a["status"] == "submitted" for s in a.get("submissions", [])}


# --------------------------------------------------------------------------- the class


def _listing_denied(machine: Machine, user: str, folders: list[Path]) -> list[bool]:
    """For each folder: does listing it, as ``user``, fail with a permission error?"""
    out = machine.python_as(
        user,
        f"""
        import os
        for folder in {[str(f) for f in folders]!r}:
            try:
                os.listdir(folder)
                print("allowed")
            except PermissionError:
                print("denied")
    """,
    )
    return [line == "denied" for line in out.split()]


def test_a_class_with_real_accounts_fetches_submits_and_gets_feedback(
    machine: Machine, lms: LMS, hub: tuple[str, int, Path]
) -> None:
    start = time.perf_counter()
    base, hub_pid, hub_log = hub
    log = hub_log.read_text(errors="replace")
    assert "LTI13Authenticator" in log, "the LMS login is the hub's authenticator"
    assert f"{machine.base}/tljh/user/bin/python" in log, "the relay runs with the user environment's Python"
    teach = machine.home(INSTRUCTOR)
    course = teach / "course"

    # The instructor's course directory, in their own (private) home, and the release.
    course.mkdir()
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    # the header every release starts with: in the course directory (the guide's is a checkout),
    # since the course package, a wheel, has no repository around it to find it in
    shutil.copy(REPO / "solutions" / "header.ipynb", course / "solutions")
    from test_instructor_guide import workflow_blocks

    guide = workflow_blocks((REPO / "docs" / "instructor_guide.md").read_text(encoding="utf-8"))
    (course / "nbgrader_config.py").write_text(
        (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
        + "\n"
        + guide["instructor-config"].replace("/srv/nbgrader/exchange", str(machine.exchange))
        + "\n"
    )
    shutil.chown(course, INSTRUCTOR, INSTRUCTOR)
    for path in course.rglob("*"):
        shutil.chown(path, INSTRUCTOR, INSTRUCTOR)
    nbgrader = [machine.python, "-m", "nbgrader"]
    machine.run_as(INSTRUCTOR, [*nbgrader, "generate_assignment", ASSIGNMENT, "--force"], course)
    machine.run_as(INSTRUCTOR, [*nbgrader, "release_assignment", ASSIGNMENT], course)
    inbound = machine.exchange / COURSE_ID / "inbound"
    assert inbound.stat().st_mode & 0o7777 == 0o2733, "nbgrader makes inbound write-only for students"

    # Everyone clicks the course link in the LMS; the hub starts each server as its Unix account.
    students = {name: Student(base, name) for name in STUDENTS}
    teacher = Student(base, INSTRUCTOR)
    teacher.log_in(lms, "Instructor")
    for student in students.values():
        student.log_in(lms)
    for person in (teacher, *students.values()):
        person.wait_for_server()
    import psutil

    uids = [
        p.username()
        for p in psutil.Process(hub_pid).children(recursive=True)
        if "jupyterhub-singleuser" in " ".join(p.cmdline())
    ]
    assert sorted(uids) == sorted([INSTRUCTOR, *STUDENTS]), f"one server per person, running as them: {uids}"
    with pytest.raises(Exception, match="404"):
        students[VICTIM].call("GET", "formgrader")  # the gradebook UI is the instructor's only
    assert "<title>nbgrader formgrade</title>" in teacher.call("GET", "formgrader").text  # the LMS role's

    # The relay service knows them by their hub login (OAuth through the hub, then its dashboard):
    # what the server stores is for the LMS's instructor, not for a student.
    relay = f"{base}/services/toychat-relay"
    for person in (teacher, students[VICTIM]):
        dashboard = person.http.get(f"{relay}/login", timeout=60)
        assert dashboard.status_code == 200, (person.name, dashboard.status_code)
        assert dashboard.url == f"{relay}/dashboard", (person.name, dashboard.url)
    assert teacher.http.get(f"{relay}/api/server-view", timeout=60).status_code == 200
    assert students[VICTIM].http.get(f"{relay}/api/server-view", timeout=60).status_code == 403
    # Voila (the policy view) runs a notebook in a kernel of the student's own, whose course package
    # is the user environment's wheel: no solutions/ beside it, the checkout out of the picture.
    code = (
        "import getpass, pathlib, toychat\n"
        "print('voila runs as', getpass.getuser())\n"
        "package = pathlib.Path(toychat.__file__).resolve().parent\n"
        "print('toychat from', package)\n"
        "print('solutions beside it:', any((folder / 'solutions').exists() for folder in package.parents))"
    )
    students[VICTIM].call("PUT", "api/contents/whoami.ipynb", json={"type": "notebook", "content": _notebook(code)})
    page = students[VICTIM].call("GET", "voila/render/whoami.ipynb").text
    assert f"voila runs as {VICTIM}" in page
    [package] = re.findall(r"toychat from (\S+?)[\s<\\]", page)
    assert Path(package).is_relative_to(machine.prefix.resolve()), f"the student's toychat is the wheel's: {package}"
    assert not Path(package).is_relative_to(REPO.resolve()), (
        f"a student imports the course from the checkout: {package}"
    )
    assert "solutions beside it: False" in page
    students[VICTIM].call("DELETE", "api/contents/whoami.ipynb")

    # Fetch, answer and submit, through the student's own server.
    answers = solution_answers(ASSIGNMENT)
    for name, student in students.items():
        [listed] = [a for a in student.nbgrader("fetch")["value"] if a["assignment_id"] == ASSIGNMENT]
        assert listed["status"] == "fetched", (name, listed)
        fetched = student.read(f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
        assert HIDDEN_MESSAGE not in json.dumps(fetched["content"]), "the release has no hidden tests"
    assert (machine.home(VICTIM) / ASSIGNMENT).owner() == VICTIM, "fetched files belong to the student"
    for name, student in students.items():
        if name == IMPOSTOR:
            continue
        student.answer(answers if name in ANSWERING else {})
        result = student.nbgrader("submit")
        assert isinstance(result, dict), (name, result)
        assert result.get("success"), (name, result)
        time.sleep(1.1)  # nbgrader's timestamps order submissions; keep them distinct

    # The impostor names the victim in their own nbgrader config and submits the blank release ...
    impostor = students[IMPOSTOR]
    impostor.save_text("nbgrader_config.py", f"c.CourseDirectory.student_id = {VICTIM!r}\n")
    forged = impostor.nbgrader("submit")
    assert forged.get("success"), forged
    impostor.call("DELETE", "api/contents/nbgrader_config.py")
    time.sleep(1.1)
    # ... then hands in their own work under their own name.
    impostor.answer(answers)
    assert impostor.nbgrader("submit").get("success")
    own = {name: _submitted_timestamps(s.assignments()) for name, s in students.items()}

    # Isolation, checked as the students themselves.
    victim_home = machine.home(VICTIM)
    assert _listing_denied(machine, "tcs-stu3", [inbound, victim_home, victim_home / ".local", course]) == [True] * 4
    assert machine.python_as("tcs-stu3", f"import glob; print(len(glob.glob({str(inbound)!r} + '/*')))") == "0\n"
    # The answers and the gradebook stay the instructor's; the course's exchange folder cannot be
    # moved aside for one of the student's own (the hijack the exchange root's sticky bit stops).
    secrets_of_course = [course / "gradebook.db", course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"]
    hijack = machine.exchange / COURSE_ID, machine.exchange / "tcs-stu3-course"
    tries = machine.python_as(
        "tcs-stu3",
        f"""
        import os
        for path in {[str(p) for p in secrets_of_course]!r}:
            try:
                open(path, "rb").read(1)
                print("read")
            except PermissionError:
                print("denied")
        try:
            os.rename({str(hijack[0])!r}, {str(hijack[1])!r})
            print("moved")
        except PermissionError:
            print("denied")
    """,
    ).split()
    assert tries == ["denied", "denied", "denied"], tries
    assert (machine.exchange / COURSE_ID / "inbound").is_dir()
    names = machine.python_as(INSTRUCTOR, f"import os; print('\\n'.join(os.listdir({str(inbound)!r})))").splitlines()
    assert len(names) == len(STUDENTS) + 1
    assert all(re.fullmatch(rf"[\w-]+\+{ASSIGNMENT}\+[^+]+\+[\w=-]{{12}}", n) for n in names), (
        "each submission's folder name ends in a random part another student cannot guess"
    )

    # The instructor collects: nbgrader's ownership check names the forgery.
    collect = machine.run_as(INSTRUCTOR, [*nbgrader, "collect", ASSIGNMENT], course)
    log = collect.stdout + collect.stderr
    assert re.search(
        rf"{VICTIM}\+{ASSIGNMENT}\+[^\n]+ claims to be submitted by {VICTIM} but is owned by {IMPOSTOR}", log
    ), log
    assert len(re.findall("claims to be submitted by", log)) == 1, "honest submissions raise no warning"
    # Left alone, the forgery (the latest under the victim's name) would be graded as the victim's work.
    collected = (course / "submitted" / VICTIM / ASSIGNMENT / "timestamp.txt").read_text().strip()
    assert collected not in own[VICTIM]
    # The instructor deletes the forgery and collects the victim's own submission again.
    machine.python_as(
        INSTRUCTOR,
        f"""
        import os, pwd, shutil
        inbound = {str(inbound)!r}
        for name in os.listdir(inbound):
            if pwd.getpwuid(os.stat(os.path.join(inbound, name)).st_uid).pw_name != name.split("+")[0]:
                shutil.rmtree(os.path.join(inbound, name))
        shutil.rmtree({str(course / "submitted" / VICTIM)!r})
    """,
    )
    again = machine.run_as(INSTRUCTOR, [*nbgrader, "collect", ASSIGNMENT, "--student", VICTIM], course)
    assert "claims to be submitted" not in again.stdout + again.stderr
    collected = (course / "submitted" / VICTIM / ASSIGNMENT / "timestamp.txt").read_text().strip()
    assert collected in own[VICTIM]

    # Grading in parallel with the course's script, then feedback, as the instructor.
    graded = machine.run_as(
        INSTRUCTOR,
        [
            machine.python,
            str(REPO / "scripts" / "grade_in_parallel.py"),
            ASSIGNMENT,
            "--shards",
            "2",
            "--",
            "--Execute.timeout=30",
        ],
        course,
    )
    assert f"autograded {len(STUDENTS)} submissions" in graded.stdout
    for step in ("generate_feedback", "release_feedback"):
        machine.run_as(INSTRUCTOR, [*nbgrader, step, ASSIGNMENT], course)
    feedback = machine.exchange / COURSE_ID / "feedback"
    assert _listing_denied(machine, "tcs-stu3", [feedback]) == [True], "feedback files are named by a secret hash"
    machine.run_as(INSTRUCTOR, [*nbgrader, "export"], course)
    points = grade_points(ASSIGNMENT)
    auto = sum(p for p, by_hand in points.values() if not by_hand)
    maximum = sum(p for p, _ in points.values())
    expected = {name: (auto if name in ANSWERING else 0.0) for name in STUDENTS}
    assert read_grades(course / "grades.csv") == expected

    # Each student fetches their own feedback, for their own submission.
    for name, student in students.items():
        student.nbgrader("fetch_feedback")
        folders = [f["name"] for f in student.read(f"{ASSIGNMENT}/feedback")["content"]]
        html = student.read(f"{ASSIGNMENT}/feedback/{folders[0]}/{ASSIGNMENT}.html")["content"]
        assert len(folders) == 1, (name, folders, own[name])
        assert folders[0] in own[name], (name, folders, own[name])
        assert f"Score: {expected[name]} / {maximum}" in html, name
        assert HIDDEN_MESSAGE not in html
    # The impostor names the victim again and asks for feedback: nothing of the victim's arrives.
    impostor.save_text("nbgrader_config.py", f"c.CourseDirectory.student_id = {VICTIM!r}\n")
    impostor.nbgrader("fetch_feedback")
    impostor.call("DELETE", "api/contents/nbgrader_config.py")
    folders = [f["name"] for f in impostor.read(f"{ASSIGNMENT}/feedback")["content"]]
    assert set(folders) <= own[IMPOSTOR], folders
    assert not set(folders) & own[VICTIM], folders
    record_timing(
        "nbgrader", "class on one machine: 5 Unix accounts through JupyterHub (ex01)", time.perf_counter() - start
    )
