"""nbgrader pieces that make the course's grading trustworthy.

The course's ``nbgrader_config.py`` plugs these into nbgrader; nothing here runs
in a student's notebook.

* :class:`SealedExecute` runs the notebook like nbgrader's ``Execute``, but with the
  test cells *outside* the student's process: the student's cells in a sandboxed kernel,
  the test cells (their text taken from the gradebook) in a second, trusted kernel whose
  tests reach the student's functions through :mod:`toychat.sealed` and get back only
  plain data.  The course's configuration uses it.
* :class:`SandboxedKernelManager` starts the student's kernel sealed: in bubblewrap, as
  ``nobody``, seeing only the Python installation and the course package (no course
  folder, ``solutions/``, gradebook, ``.git`` or configuration), with no network (the
  grader talks to it over Unix sockets), a clean environment (``PYTHONSAFEPATH=1``, no
  ``NBGRADER_*``) and resource limits.  :class:`GuardedExecute` uses it when its
  ``sandbox`` option is on, as the course's configuration has it.
* :class:`CheckTestCells` flags a submission whose test cells were deleted, duplicated
  or moved (log and gradebook) and lets the class's grading go on.
* :class:`PassFailTests` makes a test cell score only pass (full points) or fail (0):
  nbgrader would read a displayed value as partial credit.
* :class:`GuardedExecute` (the base of :class:`SealedExecute`, and the grader to use
  only where a second kernel cannot be had) runs the notebook like nbgrader's
  ``Execute``, but just before every test cell it resets what a student's earlier cell could have
  changed in IPython itself: input and AST transformers (which can rewrite a test
  into ``pass``), methods replaced on the shell, trace functions, and global names
  that shadow the built-ins the tests use (``type``, ``len``, …).  The reset is
  sent as a *user expression* of an empty request, which IPython evaluates without
  passing it through any transformer.  If it fails, the test cell scores 0.
* :class:`RestoreTestCells` is nbgrader's ``OverwriteCells`` without the false
  alarm: nbgrader stores a test cell's checksum *with* its hidden tests but
  releases the cell *without* them, so every untouched test cell used to log
  "Attribute 'checksum' … has changed!".  Here a cell that is exactly as released
  is restored silently, and only a changed one is reported.
* :class:`ScrubHiddenTests` prepares feedback: hidden-test regions removed from the
  source, an error raised inside one replaced by "a hidden test failed", and the
  grader's file paths cut out of every traceback, with scores untouched.
* :class:`FlaggingCsvExport` is nbgrader's CSV export with two more columns saying
  which submissions still have parts waiting to be graded by hand.

Hidden tests that must run course or PyNaCl code take it from
:func:`toychat.fresh.fresh_import` (a separate module, so that a test cell does not
import nbgrader).
"""

from __future__ import annotations

import asyncio
import copy
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
import weakref
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async, run_sync
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins.export import CsvExportPlugin
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor, OverwriteCells
from traitlets import Bool, Integer, List, Unicode, default

__all__ = [
    "EXERCISE_HEADER",
    "CheckTestCells",
    "FlaggingCsvExport",
    "GuardedExecute",
    "PassFailTests",
    "RestoreTestCells",
    "SandboxedKernelManager",
    "SealedExecute",
    "ScrubHiddenTests",
    "exercise_header",
    "hidden_lines",
    "scrub_paths",
    "strip_hidden_tests",
]

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def strip_hidden_tests(source: str) -> str:
    """``source`` without its ``### BEGIN/END HIDDEN TESTS`` regions, exactly as
    ``nbgrader generate_assignment`` releases it."""
    cell = NotebookNode(cell_type="code", source=source, metadata={})
    ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(cell)
    return cell.source


def hidden_lines(source: str) -> list[tuple[int, str]]:
    """(1-based line number, text) of every line inside a hidden-test region,
    delimiters included."""
    found, inside = [], False
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN in line:
            inside = True
        if inside:
            found.append((number, line))
        if END in line:
            inside = False
    return found


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output the grader adds to a cell, as the kernel would have written it: a test
    cell carrying one scores 0."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


# --------------------------------------------------------------------------- sandbox

#: The unprivileged account the student's kernel runs as (Debian's ``nobody``).
SANDBOX_UID = 65534
#: What of ``/etc`` the kernel sees: the dynamic linker's cache, account names, time zone,
#: the ``/usr/bin`` alternatives' links, fonts and MIME types.
SANDBOX_ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "passwd",
    "group",
    "nsswitch.conf",
    "localtime",
    "timezone",
    "alternatives",
    "fonts",
    "mime.types",
    "hosts",
)


def _course_package_dirs() -> list[Path]:
    """What of the course the kernel may read: the ``toychat`` package and its public
    ``data/`` folder (``toychat.claims`` reads the claims beside the package), nothing else
    of the repository (no ``solutions/``, no ``.git``, no configuration)."""
    package = Path(__file__).resolve().parent
    return [package] + [p for p in (package.parent / "data",) if p.is_dir()]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel inside bubblewrap (``bwrap``), as an
    unprivileged account, seeing only what it needs.

    * **Files.** A new mount namespace with read-only binds of the system (``/usr``, a few
      files of ``/etc`` (:data:`SANDBOX_ETC`), the ``/bin``-style links), the Python
      installation and virtualenv, and the course package (:func:`_course_package_dirs`);
      a fresh ``/tmp``; and one private,
      writable folder created for this kernel, holding its working directory (empty: not
      the files submitted beside the notebook, nor the notebook, into which autograde has
      put the hidden tests back) and its connection file and sockets.  The course folder,
      ``solutions/``, ``gradebook.db``, ``nbgrader_config.py``, ``.git`` and other
      submissions do not exist in there.
    * **Account.** Run as root (as CI and a grading container do), bwrap is privileged
      (no user namespace) and ``setpriv`` drops the kernel to uid/gid :data:`SANDBOX_UID`
      with no capabilities and no new privileges, so even a path bound in by mistake is
      read as ``nobody``.  Run as anyone else, bwrap uses a user namespace (the kernel
      keeps that user's uid, with no access beyond the binds).
    * **Network.** None: ``--unshare-net`` leaves the kernel only its own loopback.  The
      grader reaches it through ZeroMQ's ``ipc`` transport (Unix sockets in the private
      folder, which work across network namespaces), never TCP.
    * **Processes.** Own PID namespace, ``--die-with-parent``: when the grader stops the
      kernel, every process the student started dies with it.  Interrupts are sent as
      ``interrupt_request`` messages, so no signal goes to bwrap's process group.
    * **Environment.** Cleared, then a fixed minimal one: no ``NBGRADER_*``,
      ``PYTHONSAFEPATH=1`` (the working directory is never on ``sys.path``, so a submitted
      ``ipykernel_launcher.py`` cannot replace Jupyter's).
    * **Limits.** ``prlimit``: address space, CPU seconds, processes, file size, no core.

    Configure through :class:`GuardedExecute` (``GuardedExecute.sandbox = True``).
    """

    sandbox_uid = Integer(SANDBOX_UID, help="uid and gid the kernel runs as when the grader is root.").tag(config=True)
    memory_limit = Integer(4 * 1024**3, help="Address-space limit of the kernel, in bytes.").tag(config=True)
    cpu_limit = Integer(1800, help="CPU seconds the kernel may use in all (the whole notebook).").tag(config=True)
    process_limit = Integer(256, help="Processes the sandbox account may have.").tag(config=True)
    file_size_limit = Integer(256 * 1024**2, help="Largest file the kernel may write, in bytes.").tag(config=True)

    _private: Path | None = None
    _cleanup: weakref.finalize[Any, Any] | None = None

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _owned(self, path: Path, mode: int) -> None:
        path.chmod(mode)
        if self._as_root:
            os.chown(path, self.sandbox_uid, self.sandbox_uid)

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        if self._private is None:
            self._private = Path(tempfile.mkdtemp(prefix="toychat-sandbox-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._private), ignore_errors=True)
            self._private.chmod(0o711)  # others may pass through to their own folders, not list it
            for name in ("work", "kernel"):
                (self._private / name).mkdir()
                self._owned(self._private / name, 0o700)
            # The working directory starts empty: not the files submitted beside the notebook,
            # and not the notebook either (autograde has put its hidden tests back into it).
            self.transport = "ipc"
            self.connection_file = str(self._private / "kernel" / "connection.json")
            self.ip = str(self._private / "kernel" / "ipc")
        kw["cwd"] = str(self._private / "work")
        kw["env"] = {"PATH": os.defpath}
        return await super()._async_pre_start_kernel(**kw)

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        self._owned(Path(self.connection_file), 0o400)

    def _bwrap(self) -> list[str]:
        """bwrap's arguments up to (not including) the command."""
        assert self._private is not None
        args = [
            shutil.which("bwrap") or "bwrap",
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for name in SANDBOX_ETC:  # not all of /etc: a server's configuration may hold secrets
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        args += ["--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp"]
        seen: set[str] = set()
        # The interpreter, its environment, every site-packages folder the grader's own Python
        # uses (a .pth may add one from another environment), and the course package: never
        # a sys.path entry that is a course or repository folder.
        site_dirs = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]
        for place in (sys.base_prefix, sys.prefix, *site_dirs, *map(str, _course_package_dirs())):
            real = os.path.realpath(place)
            inside = [bound for bound in seen if real.startswith(bound + "/")]
            if real not in seen and not real.startswith("/usr/") and not inside:
                seen.add(real)
                # Folders on the way are made traversable (the host's /root, say, is not).
                for parent in reversed(Path(real).parents[:-1]):
                    args += ["--perms", "0755", "--dir", str(parent)]
                args += ["--ro-bind", real, real]
        args += ["--bind", str(self._private), str(self._private), "--chdir", str(self._private / "work")]
        package_parent = str(_course_package_dirs()[0].parent)
        environment = {
            "PATH": f"{os.path.join(sys.prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self._private / "work"),
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONSAFEPATH": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONPATH": package_parent,
            "MPLCONFIGDIR": "/tmp/matplotlib",
        }
        for name in ("MPLBACKEND", "LD_LIBRARY_PATH"):  # how to draw; where a copied interpreter's libpython is
            if name in os.environ:
                environment[name] = os.environ[name]
        args.append("--clearenv")
        for name, value in environment.items():
            args += ["--setenv", name, value]
        if self._as_root:
            args += ["--cap-add", "CAP_SETUID,CAP_SETGID"]
        else:
            args.append("--unshare-user")
        return args

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        kernel = super().format_kernel_cmd(extra_arguments)
        limits = [
            shutil.which("prlimit") or "prlimit",
            f"--as={self.memory_limit}",
            f"--cpu={self.cpu_limit}",
            f"--nproc={self.process_limit}",
            f"--fsize={self.file_size_limit}",
            "--core=0",
            "--",
        ]
        drop = []
        if self._as_root:
            drop = [
                "setpriv",
                f"--reuid={self.sandbox_uid}",
                f"--regid={self.sandbox_uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
            ]
        return [*limits, *self._bwrap(), "--", *drop, *kernel]

    async def _async_interrupt_kernel(self) -> None:
        # A signal to the process group would reach bwrap itself; the kernel interrupts
        # itself on request instead (ipykernel's control thread).
        assert self.kernel_spec is not None
        self.kernel_spec.interrupt_mode = "message"
        await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart and self._cleanup is not None:
            self._cleanup()
            self._private = None

    pre_start_kernel = _async_pre_start_kernel
    cleanup_resources = _async_cleanup_resources


# --------------------------------------------------------------------------- autograde

#: Built-ins the course's tests use: a global of the same name, set by a student's
#: cell, is removed before each test so that ``type(x) is bytes`` means what it says.
GUARDED_BUILTINS = (
    "type",
    "isinstance",
    "len",
    "abs",
    "all",
    "any",
    "int",
    "float",
    "str",
    "bytes",
    "bool",
    "list",
    "tuple",
    "set",
    "range",
    "zip",
    "sorted",
    "round",
    "sum",
    "AssertionError",
)
#: Methods of the IPython shell a student's cell could replace on the instance.
SHELL_METHODS = (
    "run_cell",
    "run_cell_async",
    "_run_cell",
    "transform_cell",
    "transform_ast",
    "run_ast_nodes",
    "run_code",
    "should_run_async",
    "showtraceback",
    "user_expressions",
    "ev",
    "ex",
)
GUARD_TOKEN = "test cell guarded"

#: One Python expression, evaluated by IPython as a user expression (never transformed).
GUARD_EXPRESSION = (
    "(lambda ip, b, sys, fresh: ("
    " setattr(ip, 'input_transformer_manager', fresh()),"
    " ip.input_transformers_post.clear(),"
    " ip.ast_transformers.clear(),"
    f" [ip.__dict__.pop(name, None) for name in {SHELL_METHODS!r}],"
    " ip.user_ns.__setitem__('__builtins__', b),"
    f" [ip.user_ns.pop(name) for name in {GUARDED_BUILTINS!r}"
    "  if name in ip.user_ns and ip.user_ns[name] is not getattr(b, name)],"
    " sys.settrace(None), sys.setprofile(None),"
    f" {GUARD_TOKEN!r})[-1])("
    "__import__('IPython').get_ipython(), __import__('builtins'), __import__('sys'),"
    " __import__('IPython.core.inputtransformer2', fromlist=['TransformerManager']).TransformerManager)"
)


class GuardedExecute(Execute):
    """nbgrader's ``Execute``, resetting IPython before every test cell (see the module
    docstring).  Configure it in place of ``Execute`` in ``Autograde.autograde_preprocessors``;
    ``Execute.timeout`` and the other ``Execute`` settings still apply.  With ``sandbox``
    on, the kernel runs in :class:`SandboxedKernelManager`'s sandbox."""

    sandbox = Bool(
        False,
        help="Run the student's kernel in bubblewrap as an unprivileged account (SandboxedKernelManager).",
    ).tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # nbgrader's Execute passes its kernel manager as an argument, so configuring
        # kernel_manager_class would be ignored: choose it here.
        if self.sandbox:
            missing = [tool for tool in ("bwrap", "prlimit", "setpriv") if shutil.which(tool) is None]
            if missing:  # never fall back to grading unsealed
                raise RuntimeError(
                    f"GuardedExecute.sandbox is on but {', '.join(missing)} is not installed "
                    "(Debian: apt-get install bubblewrap util-linux)"
                )
            self.kernel_manager_class = SandboxedKernelManager

    async def _guard(self, cell: NotebookNode) -> str | None:
        """Reset the kernel for a test cell; None if that worked, else why not."""
        assert self.kc is not None
        msg_id = await ensure_async(
            self.kc.execute("", silent=True, store_history=False, user_expressions={"guard": GUARD_EXPRESSION})
        )
        reply = await self.async_wait_for_reply(msg_id, cell)
        if reply is None:
            return "no reply from the kernel"
        content = reply["content"]
        result = content.get("user_expressions", {}).get("guard", {})
        if content.get("status") != "ok" or result.get("status") != "ok":
            return f"{result.get('ename', content.get('ename', 'error'))}: {result.get('evalue', '')}"
        if result.get("data", {}).get("text/plain") != repr(GUARD_TOKEN):
            return "an unexpected answer from the kernel"
        return None

    async def async_execute_cell(
        self, cell: NotebookNode, cell_index: int, execution_count: int | None = None, store_history: bool = True
    ) -> NotebookNode:
        problem = None
        if cell.cell_type == "code" and utils.is_grade(cell) and cell.source.strip():
            problem = await self._guard(cell)
        cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if problem is not None:
            cell.outputs.append(
                error_output(
                    "GradingGuardError", f"the grader could not reset the notebook before this test ({problem})"
                )
            )
        return cell

    # nbclient binds the synchronous wrapper to its own coroutine: bind it to ours.
    execute_cell = run_sync(async_execute_cell)


async def _shutdown(km: AsyncKernelManager, kc: Any, private: Path | None) -> None:
    """Stop a trusted kernel at once and remove its private folder."""
    if kc is not None:
        kc.stop_channels()
    try:
        if km.has_kernel:
            await ensure_async(km.shutdown_kernel(now=True))
    finally:
        await ensure_async(km.cleanup_resources())
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)


class SealedExecute(GuardedExecute):
    """Autograde with the hidden tests *outside* the student's process.

    The student's kernel (sandboxed, :class:`SandboxedKernelManager`) runs every cell a
    student could write.  A second, *trusted* kernel, started here with a clean
    environment and a private empty folder, runs the exercise's locked setup cells and its
    test cells, visible and hidden, taking their text from the gradebook (never from the
    submission, whose metadata a student can edit).  A test cell reaches the student's
    functions through :mod:`toychat.sealed`: a call crosses into the student's kernel and
    only plain data comes back.  So the student's code never sees a line of a test (not
    in a frame, ``In``, a traceback or a file), cannot change how a test runs (the test
    runs in a process it cannot reach), and cannot hand a test a live object.

    The outputs of a test cell are those of the trusted kernel; nbgrader records its score
    from them as usual, and :class:`PassFailTests` still makes it all or nothing.  A locked
    setup cell runs in both kernels (the student's copy is what their later cells see).
    Configure it in place of ``Execute`` in ``Autograde.autograde_preprocessors`` with
    ``GuardedExecute.sandbox = True``."""

    call_timeout = Integer(50, help="Seconds one call into the student's code may take before its test fails.").tag(
        config=True
    )

    @default("shutdown_kernel")
    def _stop_at_once(self) -> str:
        """Stop the student's kernel at once rather than ask it to: nothing in it is kept, and
        a graceful stop would run the student's exit handlers and wait for them."""
        return "immediate"

    _trusted_km: AsyncKernelManager | None = None
    _trusted_kc: Any = None
    _trusted_private: Path | None = None
    _trusted_launch: asyncio.Future[tuple[AsyncKernelManager, Any, Path]] | None = None
    _trusted_cells: dict[str, str] = {}
    _test_cells: frozenset[str] = frozenset()
    _trusted_sent: set[str] = set()
    _tested_since_drain = False

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict, *args: Any, **kwargs: Any) -> Any:
        info = resources.get("nbgrader", {})
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            answers = {cell.name for cell in notebook.solution_cells}
            graded = {cell.name for cell in notebook.grade_cells}
            tests = graded - answers
            self._trusted_cells = {
                cell.name: cell.source
                for cell in notebook.source_cells
                if cell.cell_type == "code"
                and (cell.name in tests or (cell.locked and cell.name not in graded | answers))
            }
        self._test_cells = frozenset(tests)
        self._trusted_sent = set()
        try:
            return super().preprocess(nb, resources, *args, **kwargs)
        finally:
            run_sync(self._stop_trusted)()

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        """Start the student's kernel and, at the same time, the trusted one: two processes,
        so on two cores neither start waits for the other."""
        executor: Any = self
        if executor.km is None:
            self.create_kernel_manager()
        launch = asyncio.ensure_future(self._launch_trusted(executor.km.kernel_name))
        self._trusted_launch = launch
        await super().async_start_new_kernel(**kwargs)

    # nbclient binds the synchronous wrapper to its own coroutine: bind it to ours.
    start_new_kernel = run_sync(async_start_new_kernel)

    async def _async_cleanup_kernel(self) -> None:
        """Stop both kernels at once (each stop waits for its process to exit)."""
        await asyncio.gather(super()._async_cleanup_kernel(), self._stop_trusted())

    _cleanup_kernel = run_sync(_async_cleanup_kernel)

    async def _launch_trusted(self, kernel_name: str) -> tuple[AsyncKernelManager, Any, Path]:
        """Start a trusted kernel (clean environment, private empty folder) and wait until it answers."""
        private = Path(tempfile.mkdtemp(prefix="toychat-trusted-"))
        private.chmod(0o700)
        km = AsyncKernelManager(kernel_name=kernel_name)
        km.transport = "ipc"
        km.ip = str(private / "ipc")
        km.connection_file = str(private / "connection.json")
        package_parent = str(_course_package_dirs()[0].parent)
        environment = {
            "PATH": f"{os.path.join(sys.prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(private),
            "LANG": "C.UTF-8",
            "PYTHONSAFEPATH": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONPATH": package_parent,
            "MPLCONFIGDIR": str(private / "matplotlib"),
            "MPLBACKEND": "agg",
        }
        if "LD_LIBRARY_PATH" in os.environ:
            environment["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
        kc: Any = None
        try:
            await ensure_async(km.start_kernel(extra_arguments=self.extra_arguments, cwd=str(private), env=environment))
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=self.startup_timeout)
        except BaseException:
            await _shutdown(km, kc, private)
            raise
        return km, kc, private

    async def _start_trusted(self) -> None:
        """Take the trusted kernel started beside the student's and connect it to the student's."""
        student_km: Any = self.km  # nbclient's attribute, untyped here
        assert student_km is not None
        launch, self._trusted_launch = self._trusted_launch, None
        if launch is None:  # a kernel started some other way (nbclient's km passed in)
            launch = asyncio.ensure_future(self._launch_trusted(student_km.kernel_name))
        self._trusted_km, self._trusted_kc, self._trusted_private = await launch
        connection = student_km.get_connection_info(session=False)
        connection = {k: (v.decode("ascii") if isinstance(v, bytes) else v) for k, v in connection.items()}
        code = (
            "import toychat.sealed as __sealed__\n"
            f"__sealed__.connect({json.dumps(connection)!r}, timeout={self._call_deadline()!r})"
        )
        reply = await self._trusted_run(code)
        if reply is None or reply["content"].get("status") != "ok":
            raise RuntimeError("the grader's trusted kernel could not connect to the student's kernel")

    async def _drain_student_output(self) -> None:
        """Discard what the student's kernel sent while a test called it (output with another
        client's request as its parent, which nothing reads), so that a flood there cannot
        make the next student cell wait past its timeout.

        A barrier marks the end: an empty, silent request to the student's kernel, which runs
        after every call the test made (one shell queue, in order), so its "idle" status on the
        output channel comes after everything those calls published.  Bounded by
        ``Execute.timeout``; a kernel that never answers is interrupted, one that died is left
        for the next cell to report."""
        if not self._tested_since_drain:
            return  # no test has called the student's code since the last drain
        self._tested_since_drain = False
        executor: Any = self
        kc = executor.kc
        deadline = time.monotonic() + (self.timeout or 60)
        barrier = await ensure_async(kc.execute("", silent=True, store_history=False))
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(kc.iopub_channel.get_msg(timeout=min(left, 1.0)))
            except Empty:
                if not await ensure_async(executor.km.is_alive()):
                    return  # it died during the test: the next cell reports that
                continue
            if (
                msg["parent_header"].get("msg_id") == barrier
                and msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
            ):
                return
        await ensure_async(executor.km.interrupt_kernel())

    def _call_deadline(self) -> float:
        """Seconds a call into the student's code may take: ``call_timeout``, and less than the
        test cell's own ``Execute.timeout``, so that the test fails with the reason."""
        cell = self.timeout if self.timeout and self.timeout > 0 else None
        return float(self.call_timeout if cell is None else max(1, min(self.call_timeout, cell - 2)))

    async def _trusted_run(self, code: str, wait: bool = True) -> dict[str, Any] | None:
        """Run ``code`` silently in the trusted kernel; its reply, if ``wait``."""
        kc = self._trusted_kc
        msg_id = await ensure_async(kc.execute(code, silent=True, store_history=False))
        if not wait:
            return None
        deadline = self.startup_timeout + (self.timeout or 60)
        while True:
            reply = await ensure_async(kc.get_shell_msg(timeout=deadline))
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    async def _stop_trusted(self) -> None:
        km, kc, private = self._trusted_km, self._trusted_kc, self._trusted_private
        self._trusted_km = self._trusted_kc = self._trusted_private = None
        launch, self._trusted_launch = self._trusted_launch, None
        if launch is not None:  # started beside the student's but never used (no test cell ran)
            try:
                km, kc, private = await launch
            except Exception:  # noqa: BLE001 - it failed to start: nothing left to stop
                return
        if km is not None:
            await _shutdown(km, kc, private)

    async def async_execute_cell(
        self, cell: NotebookNode, cell_index: int, execution_count: int | None = None, store_history: bool = True
    ) -> NotebookNode:
        run_student = super(GuardedExecute, self).async_execute_cell
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or grade_id not in self._trusted_cells:
            await self._drain_student_output()
            return await run_student(cell, cell_index, execution_count, store_history)
        if self._trusted_km is None:
            await self._start_trusted()
        if grade_id not in self._test_cells:  # a locked setup cell: both kernels run it
            if grade_id not in self._trusted_sent:
                self._trusted_sent.add(grade_id)
                await self._trusted_run(self._trusted_cells[grade_id], wait=False)
            return await run_student(cell, cell_index, execution_count, store_history)
        source = self._trusted_cells[grade_id]
        reply = await self._trusted_run(f"__sealed__.prepare({source!r})")
        problem = None
        if reply is None or reply["content"].get("status") != "ok":
            problem = (
                f"{reply['content'].get('ename', 'error')}: {reply['content'].get('evalue', '')}"
                if reply
                else "no reply"
            )
        cell.source = source
        self._tested_since_drain = True
        executor: Any = self  # nbclient's km and kc, swapped for the trusted kernel's for this cell
        student = (executor.km, executor.kc)
        executor.km, executor.kc = self._trusted_km, self._trusted_kc
        try:
            cell = await run_student(cell, cell_index, execution_count, store_history)
        finally:
            executor.km, executor.kc = student
        if problem is not None:
            cell.outputs.append(
                error_output("GradingError", f"the grader could not reach the student's code for this test ({problem})")
            )
        return cell

    execute_cell = run_sync(async_execute_cell)


class PassFailTests(NbGraderPreprocessor):
    """Test cells score all or nothing: every ``execute_result`` of a test cell becomes a
    ``display_data`` with the same content, so nbgrader's rule that a test cell's first
    ``execute_result`` is a partial-credit score (and a non-numeric one full points) never
    applies.  Anything a student's code displays while a test runs (an IPython
    ``pre_run_cell`` event, a display hook called from inside their function) is still
    shown, and earns nothing: a test cell scores its points when it raises no error,
    and 0 otherwise.  Configure it just before ``SaveAutoGrades`` in
    ``Autograde.autograde_preprocessors``."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "execute_result":
                    output.output_type = "display_data"
                    output.pop("execution_count", None)
        return cell, resources


class CheckTestCells(NbGraderPreprocessor):
    """One malformed notebook never stops the class's grading.  Before anything else
    sanitises a submission, its graded cells are compared with the gradebook (and with
    the release, for their order): a test cell deleted, duplicated or moved, or any
    graded cell duplicated, marks the submitted notebook *flagged* in the gradebook
    (formgrader shows the flag) and logs a warning naming the student and the reason.
    A later copy of a duplicated cell loses its nbgrader metadata (nbgrader would
    otherwise stop the whole ``autograde`` run, every student sorted after this one
    ungraded); the rest is graded as usual (a deleted test scores nothing).
    Configure it first in ``Autograde.sanitize_preprocessors``."""

    def _release_order(self, assignment: str, notebook: str) -> list[str] | None:
        """The graded cells' ids in the release notebook, if the course folder has it."""
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.format_path(coursedir.release_directory, ".", assignment)) / f"{notebook}.ipynb"
        if not path.is_file():
            return None
        released = nbformat.read(path, as_version=4)
        return [c.metadata["nbgrader"]["grade_id"] for c in released.cells if utils.is_grade(c)]

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            answers = {cell.name for cell in notebook.solution_cells}
            tests = [cell.name for cell in notebook.grade_cells if cell.name not in answers]
        reasons, seen = [], set()
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id is None:
                continue
            if grade_id in seen:
                reasons.append(f"cell {grade_id} appears more than once (later copies not graded)")
                del cell.metadata["nbgrader"]
            seen.add(grade_id)
        reasons += [f"test cell {name} was deleted" for name in sorted(set(tests) - seen)]
        release = self._release_order(info["assignment"], info["notebook"])
        if release is not None:
            graded = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if utils.is_grade(c)]
            present = [name for name in release if name in graded]
            if [name for name in graded if name in release] != present:
                reasons.append("graded cells are not in the released order")
        if reasons:
            why = "; ".join(reasons)
            self.log.warning(
                "FLAGGED submission of %s (%s/%s): %s", info["student"], info["assignment"], info["notebook"], why
            )
            resources["nbgrader"]["flagged"] = why
            with Gradebook(info["db_url"]) as gb:
                submitted = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
                submitted.flagged = True
                gb.db.commit()
        return nb, resources


class RestoreTestCells(OverwriteCells):
    """nbgrader's ``OverwriteCells`` that does not report a test cell whose only
    difference from the gradebook is its hidden tests, removed at release: that is
    every untouched cell.  Any other change is reported, and every cell is restored,
    exactly as before.  Configure it in place of ``OverwriteCells`` in
    ``Autograde.sanitize_preprocessors``."""

    _as_released = False

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        self._as_released = False
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                pass
            else:
                released = copy.deepcopy(cell)
                released.source = strip_hidden_tests(source_cell.source)
                released.metadata.nbgrader["checksum"] = source_cell.checksum
                self._as_released = (
                    cell.cell_type == source_cell.cell_type
                    and cell.source == released.source
                    and utils.compute_checksum(cell) == utils.compute_checksum(released)
                )
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name: str, attr: str, old: Any, new: Any) -> None:
        if attr == "checksum" and self._as_released:
            return
        self.log.warning(
            "Cell %s was changed by the student (%s should be %s, got %s); the original is restored",
            name,
            attr,
            old,
            new,
        )


# --------------------------------------------------------------------------- feedback

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: An absolute path of at least two parts: its folders are the grader's, not the student's.
_PATH = re.compile(r"(?<![\w.~/-])/(?:[\w.+@~-]+/)+(?=[\w.+@~-])")
_FRAME = re.compile(r"Cell In\s*\[(\d+)\],\s*line (\d+)")


def scrub_paths(text: str) -> str:
    r"""``text`` with the folders of every absolute path removed (file names kept), also where a
    colour code comes just before the path (as in IPython's tracebacks).

    >>> scrub_paths("File \x1b[0;32m/srv/course/toychat/sealed.py:573\x1b[0m, in call")
    'File \x1b[0;32msealed.py:573\x1b[0m, in call'
    """
    parts = re.split(r"(\x1b\[[0-9;]*[A-Za-z])", text)
    return "".join(part if part.startswith("\x1b[") else _PATH.sub("", part) for part in parts)


class ScrubHiddenTests(ClearHiddenTests):
    """Feedback without hidden tests: their source removed (as ``ClearHiddenTests``
    does), an error raised from a hidden region replaced by :attr:`notice`, no line of
    a hidden region left in any traceback, no other output of a cell with hidden tests
    (a student's code could print the hidden inputs), and no grader's folder in any
    output.  Scores come from the gradebook and are unchanged.  Configure it after
    ``GetGrades`` in ``GenerateFeedback.preprocessors``."""

    notice = Unicode(
        "A hidden test failed: the grader also checks your answer on other inputs. "
        "Read the part's instructions again and test your code on cases of your own.",
        help="What a student sees in place of an error raised by a hidden test.",
    ).tag(config=True)

    #: Set by the HTML exporter for every preprocessor; declared (as ``GetGrades`` does)
    #: so that nbgrader does not warn that the option is not recognised.
    display_data_priority = List(
        ["text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png", "image/jpeg", "text/plain"],
    ).tag(config=True)

    def _from_hidden(self, output: NotebookNode, execution_count: int | None, region: set[int]) -> bool:
        """Was this error raised in the hidden region (or can we not tell)?"""
        text = _ANSI.sub("", "\n".join(output.get("traceback", [])))
        for count, line in _FRAME.findall(text):
            if execution_count is not None and int(count) == execution_count:
                return int(line) in region
        return True

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        is_test = utils.is_grade(cell) and not utils.is_solution(cell)
        if cell.cell_type == "code":
            hidden = hidden_lines(cell.source) if is_test else []
            if hidden:
                region = {number for number, _ in hidden}
                texts = [text.strip() for _, text in hidden if text.strip()]
                outputs = []
                for output in cell.outputs:
                    if output.output_type != "error":
                        continue  # printed by a test cell with hidden inputs: dropped
                    if self._from_hidden(output, cell.get("execution_count"), region):
                        outputs.append(
                            NotebookNode(
                                output_type="error",
                                ename="HiddenTestFailed",
                                evalue=self.notice,
                                traceback=[f"HiddenTestFailed: {self.notice}"],
                            )
                        )
                    else:
                        output.traceback = [
                            line
                            for line in output.get("traceback", [])
                            if not any(text in _ANSI.sub("", line) for text in texts)
                        ]
                        outputs.append(output)
                cell.outputs = outputs
            for output in cell.outputs:
                if output.output_type == "error":
                    output.evalue = scrub_paths(output.get("evalue", ""))
                    output.traceback = [scrub_paths(line) for line in output.get("traceback", [])]
                elif output.output_type == "stream":
                    output.text = scrub_paths(output.text)
        if not is_test:  # a student's own cell may mention the delimiters: it is theirs to see
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)


# --------------------------------------------------------------------------- export


class FlaggingCsvExport(CsvExportPlugin):
    """nbgrader's CSV export plus three columns: ``flagged`` (``yes`` if a notebook of the
    submission is flagged in the gradebook — by :class:`CheckTestCells` for a malformed
    notebook, whose reason is in autograde's log, or by a grader), ``needs_manual_grade``
    (``yes`` while any part of a submission waits for a grader, ``no`` otherwise; both
    empty for no submission) and ``ungraded_parts`` (those parts' cell ids, e.g.
    ``ex01_encryption:part-f-answer``, separated by spaces).  Use with
    ``ExportApp.plugin_class``."""

    def export(self, gradebook: Gradebook) -> None:
        super().export(gradebook)
        dest = self.to or "grades.csv"
        with open(dest, newline="") as fh:
            rows = list(csv.DictReader(fh))
        for row in rows:
            try:
                submission = gradebook.find_submission(row["assignment"], row["student_id"])
            except MissingEntry:
                row["flagged"], row["needs_manual_grade"], row["ungraded_parts"] = "", "", ""
                continue
            row["flagged"] = "yes" if any(notebook.flagged for notebook in submission.notebooks) else "no"
            waiting = [
                f"{notebook.name}:{grade.name}"
                for notebook in submission.notebooks
                for grade in notebook.grades
                if grade.needs_manual_grade
            ]
            row["needs_manual_grade"] = "yes" if waiting else "no"
            row["ungraded_parts"] = " ".join(sorted(waiting))
        fields = list(rows[0]) if rows else []
        with open(dest, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        flagged = sum(row["needs_manual_grade"] == "yes" for row in rows)
        if flagged:
            self.log.warning(
                "%d submission(s) still have parts to grade by hand: see the needs_manual_grade "
                "and ungraded_parts columns of %s",
                flagged,
                dest,
            )


#: The notebook nbgrader puts at the top of every released exercise (its
#: ``IncludeHeaderFooter.header``), relative to the course root: in the source
#: folder, as nbgrader's documentation does it, beside the assignments' folders.
EXERCISE_HEADER = Path("solutions", "header.ipynb")


def exercise_header(course_root: str | Path) -> str:
    """The absolute path of :data:`EXERCISE_HEADER`: in ``course_root`` if it is there,
    otherwise in the course repository this package is imported from (a course folder
    that copied only ``nbgrader_config.py`` and some assignments).  If neither has it,
    the path in ``course_root``: ``generate_assignment`` then stops with a missing-file
    error rather than release an exercise without it, while commands that never add the
    header (``autograde`` in a grading copy without ``solutions/``) still run."""
    candidates = [root / EXERCISE_HEADER for root in (Path(course_root).resolve(), Path(__file__).resolve().parents[1])]
    return str(next((path for path in candidates if path.is_file()), candidates[0]))
