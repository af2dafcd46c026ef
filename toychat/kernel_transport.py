"""Kernels for the course's headless runs talk to their client over Unix sockets, not TCP.

ipykernel warns, on every kernel started over TCP, "Kernel is running over TCP without
encryption. All communication (including code and outputs) is sent in plain text and is
susceptible to eavesdropping." (``ipykernel/kernelapp.py``, ``init_sockets``).  The site build
and the tests run every lesson headless, so each run greeted the reader of an encryption course
with that warning.  The warning itself suggests the remedy used here: ZeroMQ's ``ipc`` transport,
whose sockets are files in a folder only this user can open, as sealed grading already does
(``toychat.grading``).  Nothing leaves the machine either way; with ``ipc`` no other local user can
reach the kernel's ports at all.

* :class:`IpcKernelManager` starts a kernel with ``transport="ipc"`` and its sockets in a new
  private folder (mode 0700, removed with the manager).
* :func:`install` makes the notebooks that jupyter-cache executes in this process use it: MyST-NB
  1.4 (the course site) executes through jupyter-cache 1.0's ``single_nb_execution``, which calls
  nbclient's ``execute`` with no way to choose the kernel manager (MyST-NB passes only the folder,
  the timeout and ``allow_errors``, and nbclient reads no configuration file), so :func:`install`
  gives that call :class:`IpcKernelManager` as its ``kernel_manager_class``.  A caller that
  passes its own ``kernel_manager_class`` still gets its own.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import weakref
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

__all__ = ["IpcKernelManager", "install"]

_installed = False
#: The longest socket path used (bytes; the kernel's ZeroMQ needs it under 108 with its NUL).
_MAX_SOCKET_PATH = 100


class IpcKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel listens on Unix sockets in a private folder (ZeroMQ ``ipc``).

    >>> km = IpcKernelManager(kernel_name="python3")
    >>> km.transport, os.stat(os.path.dirname(km.ip)).st_mode & 0o777 == 0o700
    ('ipc', True)
    """

    @default("transport")
    def _ipc_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _private_socket_prefix(self) -> str:
        # ipc sockets are the files "<ip>-<port>" (ports 1, 2, ...), and a Unix socket's path must
        # fit in 108 bytes: a folder in a long TMPDIR gives way to one in /tmp.
        folder = tempfile.mkdtemp(prefix="toychat-kernel-")  # mkdtemp makes it 0700
        if len(os.path.join(folder, "kernel-99999")) > _MAX_SOCKET_PATH:
            os.rmdir(folder)
            folder = tempfile.mkdtemp(prefix="toychat-kernel-", dir="/tmp")
        weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        return os.path.join(folder, "kernel")


def install() -> bool:
    """Make jupyter-cache (and so MyST-NB, the course site) run notebooks with
    :class:`IpcKernelManager` in this process.  Idempotent; returns True the first time.
    Called by the site's Sphinx configuration."""
    global _installed
    if _installed:
        return False
    import jupyter_cache.executors.utils as cache_utils

    execute: Any = cache_utils.executenb
    cache_utils.executenb = functools.partial(execute, kernel_manager_class=IpcKernelManager)
    _installed = True
    return True
