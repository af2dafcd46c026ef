"""The classroom relay: the toy chat over a real network.

Self-study runs everything in one Python process: ``Server()`` and two
``Client`` objects.  In class, everyone's notebook talks to **one relay** the
instructor runs, and the instructor's screen shows what that server stores::

    python -m toychat.relay --db class.sqlite            # the instructor
    export TOYCHAT_RELAY=http://host:8765                # each student, then:

    >>> from toychat import Client
    >>> from toychat.relay import relay_from_env
    >>> server = relay_from_env()      # RemoteServer(...) if TOYCHAT_RELAY is set, else Server()
    >>> alice = Client("alice", server)

Pieces
------
* :mod:`toychat.relay.app` — the relay: a tornado web application wrapping
  :class:`~toychat.server.Server` (so every envelope check is the one lessons
  teach), with mailboxes and the log in SQLite (:mod:`toychat.relay.persistent`
  on :mod:`toychat.relay.store`), per-user login tokens, a token-bucket rate
  limit (:mod:`toychat.relay.limits`), long polling (the endpoints:
  :mod:`toychat.relay.handlers` on :mod:`toychat.relay.api`), and the
  instructor dashboard (:mod:`toychat.relay.dashboard`).
  :mod:`toychat.relay.runner` serves it in a background thread;
  :mod:`toychat.relay.cli` is ``python -m toychat.relay``.
* :mod:`toychat.relay.client` — :class:`RemoteServer`, which has the methods
  a :class:`~toychat.client.Client` calls on its server, so
  ``Client("alice", RemoteServer(url))`` works unchanged.
* :mod:`toychat.relay.codec` — the wire format: every JSON object the relay
  and :class:`RemoteServer` exchange, encoded and decoded by the same functions
  on both sides.
* :mod:`toychat.relay.hub` — optional: run as a JupyterHub service, so the
  hub login is the chat identity (``--hub``; needs ``jupyterhub``).

Why tornado
-----------
Tornado is the web server Jupyter itself runs on (``jupyter_server`` and
JupyterHub are tornado applications), so every course environment already has
it: the relay adds **no new dependency**, and its handlers look like the
JupyterHub service examples instructors will meet.  The client side needs only
the standard library (``http.client``, one kept-alive connection per thread;
``urllib`` where a proxy is configured), which also works inside a running kernel.

What the toy TLS layer is for, here
-----------------------------------
:mod:`toychat.transport` simulates TLS between a device and an in-process
server.  Across HTTP on one machine (``127.0.0.1``) traffic never leaves the
computer, so that layer is not needed; across a network, the real protection
in transit is HTTPS (``--certfile/--keyfile``, or the hub's proxy).
:class:`RemoteServer` keeps the toy channel inside itself only so that
``Client`` runs unchanged.  Either way the relay sees exactly what lesson 03
says it sees: metadata always, content only on the plaintext platform.
"""

from __future__ import annotations

import os

from ..server import Server
from ..wire import Mode
from .client import RemoteServer
from .errors import (
    Forbidden,
    MailboxFull,
    RateLimited,
    RelayError,
    RelayStorageError,
    RelayUnavailable,
    RequestTooLarge,
    Unauthenticated,
)

__all__ = [
    "RELAY_VARIABLE",
    "Forbidden",
    "MailboxFull",
    "RateLimited",
    "RelayError",
    "RelayStorageError",
    "RelayUnavailable",
    "RemoteServer",
    "RequestTooLarge",
    "Unauthenticated",
    "relay_from_env",
]

#: The environment variable that points notebooks at the class relay.
RELAY_VARIABLE = "TOYCHAT_RELAY"


def relay_from_env(mode: Mode = "e2ee", *, login_file: str | os.PathLike[str] | None = None) -> Server | RemoteServer:
    """The server lessons should use: the class relay if ``TOYCHAT_RELAY`` is set,
    else a fresh in-process :class:`~toychat.server.Server` in ``mode`` (self-study).

    On the class relay the instructor chooses the mode, so ``mode`` is ignored there;
    ``login_file`` keeps the relay's login tokens across kernel restarts (see
    :class:`RemoteServer`).
    In a JupyterHub service deployment, the hub API token of the user's server
    (``JUPYTERHUB_API_TOKEN``) is sent as the login.

    >>> import os
    >>> os.environ.pop(RELAY_VARIABLE, None) and None
    >>> relay_from_env("plaintext")
    Server(mode='plaintext', users=[], messages_seen=0)
    """
    url = os.environ.get(RELAY_VARIABLE, "").strip()
    if not url:
        return Server(mode=mode)
    hub_token = os.environ.get("JUPYTERHUB_API_TOKEN")
    headers = {"Authorization": f"token {hub_token}"} if hub_token and os.environ.get("TOYCHAT_RELAY_HUB") else None
    return RemoteServer(url, headers=headers, login_file=login_file)
