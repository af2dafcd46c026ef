"""The client side of the classroom relay: :class:`RemoteServer`.

A :class:`RemoteServer` has the methods a :class:`~toychat.client.Client`
calls on its server, so the same lesson code runs in-process or over the
network::

    alice = Client("alice", RemoteServer("http://127.0.0.1:8765"))

It talks HTTP with the standard library only (:mod:`http.client`, or
:mod:`urllib.request` where a proxy is configured), which works inside a running
Jupyter kernel, and turns the relay's error bodies back into the named
:mod:`toychat.errors` exceptions.  Each thread keeps one connection to the relay
open and sends its requests over it (HTTP keep-alive): a new TCP connection per
request added accepting and closing it to the relay's CPU for every request.

Two details make delivery reliable:

* **at least once** — :meth:`fetch` acknowledges the previous batch only at
  the start of the next fetch, and only the messages the ``Client`` reported
  as handled (:meth:`settle`), so a message is never lost between the relay
  and the notebook (if the kernel dies, or the device crashes mid-batch, the
  relay sends it again);
* **exactly once for the learner** — messages are de-duplicated by
  ``msg_id``, so a message sent again after a lost acknowledgement is not
  shown twice (and is not mistaken for a replay attack by the ``Client``).

The toy TLS layer (:mod:`toychat.transport`) that ``Client`` expects is kept
*inside this object*: ``connect`` hands the Client one end of a channel and
keeps the other, so nothing changes for the Client.  Over the network the real
protection in transit is HTTPS (or, on one machine, the fact that traffic
never leaves it); the toy layer adds nothing there.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import select
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import Clock, real_clock
from ..devices import DeviceCertificate
from ..errors import InvalidKey, MalformedEnvelope, ToyChatError, UnknownSender
from ..franking import Franked, Report
from ..keys import PublicIdentity, check_name, read_private_file, write_private_file
from ..transport import Connections, TransportChannel
from ..wire import MAX_ENVELOPE_BYTES, Mode, is_mode
from . import codec
from .errors import RelayError, RelayUnavailable
from .limits import MAX_SEND_BATCH

if TYPE_CHECKING:  # a device loads without pandas: only the instructor's log_table needs it
    import pandas as pd

__all__ = ["RemoteFranking", "RemoteServer"]


#: A request refused with 429 is retried once if the relay asks to wait at most this long (seconds).
MAX_RETRY_WAIT = 3.0
#: A kept-alive connection idle longer than this (seconds) is closed rather than reused: a proxy
#: between the notebook and the relay (JupyterHub's) may close idle connections after a few seconds,
#: and a request sent just as it does so fails.
KEEP_ALIVE_IDLE = 4.0
#: Requests that may be sent again when a reused connection turns out to be closed: sending them
#: twice changes nothing (reads; acknowledgements, which ignore ids already deleted; the mode).
_REPEATABLE = ("/api/mailbox", "/api/mode")


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    """The relay's ``Retry-After`` in seconds, if it sent a usable one."""
    try:
        return max(0.0, float(exc.headers.get("Retry-After", "")))
    except (TypeError, ValueError, AttributeError):
        return None


def _proxied(url: str) -> bool:
    """Whether the environment sends requests to ``url`` through a proxy (``https_proxy`` and
    friends, minus ``no_proxy``): then :mod:`urllib.request` makes them, as it honours those.
    (Its answer depends on the environment; ``tests/test_relay_keepalive.py`` sets one.)
    """
    parsed = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    return parsed.scheme in proxies and not urllib.request.proxy_bypass(parsed.hostname or "")


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle kept-alive connection was closed by the relay (it restarted, or its idle
    timeout passed): an idle socket that is readable holds only the end of the stream.  Checked
    before each reuse, so a request is not sent into a connection the relay no longer reads."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _send(
    connection: http.client.HTTPConnection,
    path: str,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float,
) -> tuple[int, str, Any, bytes]:
    """One request over ``connection``: (status, reason, headers, body) of the answer, read whole."""
    connection.timeout = timeout
    if connection.sock is not None:
        connection.sock.settimeout(timeout)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    return response.status, response.reason, response.headers, payload


@dataclass(frozen=True)
class RemoteFranking:
    """Stands for the relay's franking service: the relay tags messages; the key stays there."""

    url: str


class RemoteServer:
    """A toy-chat server across HTTP, with the in-process :class:`~toychat.server.Server`'s API.

    Parameters
    ----------
    url:
        The relay's address, e.g. ``"http://127.0.0.1:8765"`` (what the
        instructor gives the class as ``TOYCHAT_RELAY``).
    tokens:
        Login tokens already issued, by user name (to continue as a user
        registered earlier); new registrations add theirs.
    admin_token:
        The instructor's token: needed for :meth:`server_view`,
        :meth:`log_table` and setting :attr:`mode`.
    timeout:
        Seconds to wait for the relay before giving up (plus any long-poll wait).
    headers:
        Extra HTTP headers on every request (e.g. a JupyterHub API token).
    info_ttl:
        Seconds to reuse the relay's answer to "which mode? franking?" (a
        ``Client`` asks several times per message).  After the instructor
        switches the mode, devices follow within this time.
    login_file:
        A file (e.g. ``"~/.toychat/logins.json"``) that keeps the login tokens
        this relay issues, readable by this Unix user only (mode 0600), so a
        restarted kernel logs in again as the same user.

    Keeping your chat identity across kernel restarts
    -------------------------------------------------
    A restarted kernel forgets its keys and its login.  New keys mean messages
    already queued for the old ones cannot be read
    (:class:`~toychat.errors.SentToPreviousKeys`), and contacts see the safety
    number change.  Keep both in files in your home directory::

        me = Identity.load_or_create("alice", "~/.toychat/alice.key")
        server = RemoteServer(url, login_file="~/.toychat/logins.json")
        alice = Client("alice", server, identity=me)

    Run the same three lines after every restart.  (On a JupyterHub relay the
    hub login is the chat login, so only the identity file is needed.)
    """

    def __init__(
        self,
        url: str,
        *,
        tokens: dict[str, str] | None = None,
        admin_token: str | None = None,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        info_ttl: float = 0.5,
        login_file: str | os.PathLike[str] | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"the relay address must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.login_file = Path(login_file).expanduser() if login_file is not None else None
        self.tokens: dict[str, str] = {**self._saved_logins().get(self.url, {}), **(tokens or {})}
        self.admin_token = admin_token
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.info_ttl = info_ttl
        self._info: tuple[float, dict[str, Any]] | None = None
        #: The two facts composing and opening a message need (``mode``, ``franking``), and when
        #: learnt: from an :meth:`info` answer or, as fresh, from any mailbox answer.
        self._platform: tuple[float, dict[str, Any]] | None = None
        #: Long polls of this object waiting at the relay now (a phone polls in one thread, sends in another).
        self._polls_open = 0
        self._poll_lock = threading.Lock()
        #: Timestamps for new messages come from this machine's clock.
        self.clock: Clock = real_clock
        #: For lessons and tests: when True, acknowledgements are "lost" (never sent).
        self.drop_acks = False
        self._connections = Connections()
        self._delivered: dict[str, set[str]] = {}
        self._unacked: dict[str, list[int]] = {}
        self._batches: dict[str, list[tuple[int, str]]] = {}
        #: What the last :meth:`wait_for_messages` received, for the :meth:`fetch` that follows it.
        self._peeked: dict[str, list[tuple[int, str, bytes]]] = {}
        #: Whether the relay acknowledges and fetches in one request (``POST /api/mailbox``).
        self._combined_ack = True
        #: Whether the relay takes several envelopes in one request (``POST /api/messages/batch``).
        self._batch_send = True
        self._registered: set[str] = set(self.tokens)
        #: Each thread's kept-alive connection (``http.client``), unless a proxy is configured.
        self._local = threading.local()
        self._direct = not _proxied(self.url)
        self._path = urllib.parse.urlsplit(self.url).path

    # ---- HTTP ----------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        data: Any = None,
        user: str | None = None,
        admin: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Send one request to the relay and return its JSON answer.

        An error answer raises the exception it names (e.g.
        :class:`~toychat.errors.UnknownRecipient`) with the relay's message;
        an unreachable relay raises :class:`RelayUnavailable`.
        """
        headers = {"Accept": "application/json", **self.headers}
        if data is not None:
            body = json.dumps(data).encode("utf-8")
        if body is not None:
            headers["Content-Type"] = "application/json"
        token = self.admin_token if admin else self.tokens.get(user) if user else None
        if token is None and not admin and method == "GET" and self.tokens:
            # Count reads against one of our users, not the whole classroom's shared address.
            token = next(iter(self.tokens.values()))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (1, 2):
            try:
                return json.loads(self._exchange(method, path, body, headers, timeout or self.timeout))
            except urllib.error.HTTPError as exc:
                wait = _retry_after(exc)
                if exc.code == 429 and attempt == 1 and wait is not None and wait <= MAX_RETRY_WAIT:
                    time.sleep(wait)  # a whole class registering at once: wait our turn, once
                    continue
                raise self._error(exc) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = exc if isinstance(exc, ssl.SSLCertVerificationError) else getattr(exc, "reason", exc)
                if isinstance(reason, ssl.SSLCertVerificationError):
                    raise RelayUnavailable(
                        f"the class relay at {self.url} answered, but this computer does not trust its "
                        f"certificate ({reason.verify_message}; {reason}). If the instructor uses a "
                        "self-signed certificate, save it as a file and set SSL_CERT_FILE to that file before "
                        "connecting (see 'TLS for the relay' in docs/deploying.md)."
                    ) from None
                raise RelayUnavailable(
                    f"cannot reach the class relay at {self.url} ({getattr(exc, 'reason', exc)}). Is it "
                    "running, and is TOYCHAT_RELAY the address the instructor gave?"
                ) from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _exchange(self, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: float) -> bytes:
        """Send one request and return the answer's body; an error status raises
        :class:`urllib.error.HTTPError` (as :func:`urllib.request.urlopen` does), a failed
        connection :class:`OSError` or :class:`http.client.HTTPException`.

        Over this thread's kept-alive connection, opened on first use and again after the relay
        closed it; through :mod:`urllib.request` (a new connection each time) when a proxy is set.
        A connection that fails is closed; a request that failed on a reused one is sent once more
        on a new one only if sending it twice changes nothing (a read, an acknowledgement): the
        relay may have closed it while it was idle.  Any other failure is the caller's to handle.
        """
        url = self.url + path
        if not self._direct:
            req = urllib.request.Request(url, data=body, method=method, headers=headers)
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return bytes(response.read())
        connection, reused = self._connection()
        try:
            status, reason, answer_headers, payload = _send(
                connection, self._path + path, method, body, headers, timeout
            )
        except (OSError, http.client.HTTPException):
            self.close()
            if not reused or not (method == "GET" or path.startswith(_REPEATABLE)):
                raise
            connection, _ = self._connection()  # closed by the relay while idle: once more, on a new one
            try:
                status, reason, answer_headers, payload = _send(
                    connection, self._path + path, method, body, headers, timeout
                )
            except BaseException:
                self.close()
                raise
        except BaseException:  # a notebook's interrupt mid-answer: never reuse a half-read connection
            self.close()
            raise
        self._local.last_used = time.monotonic()
        if not 200 <= status < 300:
            self.close()  # the relay drops a connection after refusing a request before reading its body
            raise urllib.error.HTTPError(url, status, reason, answer_headers, io.BytesIO(payload))
        return payload

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to the relay, and whether it was used before: a new one
        unless the last is open, idle for less than :data:`KEEP_ALIVE_IDLE`, and not closed by the relay."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and (
            time.monotonic() - getattr(self._local, "last_used", 0.0) > KEEP_ALIVE_IDLE or _dropped(connection)
        ):
            self.close()
            connection = None
        if connection is not None and connection.sock is not None:
            return connection, True
        parsed = urllib.parse.urlsplit(self.url)
        kind = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        connection = kind(parsed.hostname or "", parsed.port, timeout=self.timeout)
        self._local.connection = connection
        return connection, False

    def close(self) -> None:
        """Close this thread's connection to the relay (the next request opens a new one)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    @staticmethod
    def _error(exc: urllib.error.HTTPError) -> ToyChatError:
        try:
            error = codec.error_from_json(json.loads(exc.read().decode("utf-8")))
        except (ValueError, UnicodeDecodeError, OSError, MalformedEnvelope):
            error = RelayError(f"the relay answered HTTP {exc.code} ({exc.reason}).")
        error.status = exc.code  # type: ignore[attr-defined]
        return error

    # ---- the platform --------------------------------------------------------------------
    def info(self, *, fresh: bool = False) -> dict[str, Any]:
        """The relay's public description: mode, franking, limits (cached for ``info_ttl`` s)."""
        now = time.monotonic()
        if fresh or self._info is None or now - self._info[0] > self.info_ttl:
            try:
                self._info = (now, dict(self.request("GET", "/api/info")))
                self._platform = (now, {k: self._info[1].get(k) for k in ("mode", "franking")})
            except RelayUnavailable:
                if fresh or self._info is None:
                    raise
                # The relay is down for a moment (a restart): its last answer still says which
                # platform this is, so messages already fetched are opened, not refused for the outage.
        return dict(self._info[1])

    def _note_mode(self, answer: object) -> None:
        """A mailbox answer names the relay's mode and franking as it answered: as fresh as an
        :meth:`info` answer, so the next message composed needs no request of its own to ask,
        not even the first (the relay answers every waiting long poll at once when the
        instructor switches the mode).  An older relay's answer names only the mode: that
        refreshes what an earlier :meth:`info` answer said."""
        now = time.monotonic()
        platform = codec.mailbox_platform(answer)
        mode = codec.mailbox_mode(answer)
        if platform is not None:
            self._platform = (now, platform)
        elif self._platform is not None and mode is not None:
            self._platform = (now, {**self._platform[1], "mode": mode})

    def _mailbox_query(self, wait: float) -> str:
        """The mailbox path and query for a page that waits up to ``wait`` seconds, naming the mode
        this object knows: a relay whose mode differs answers at once instead of waiting."""
        known = self._platform
        mode = f"&mode={known[1]['mode']}" if known is not None and is_mode(known[1].get("mode")) else ""
        return f"/api/mailbox?wait={float(wait):g}{mode}"

    @contextlib.contextmanager
    def _polling(self, wait: float) -> Iterator[None]:
        """Count a long poll (``wait`` > 0) as open while the block runs (see :meth:`_platform_info`)."""
        if wait <= 0:
            yield
            return
        with self._poll_lock:
            self._polls_open += 1
        try:
            yield
        finally:
            with self._poll_lock:
                self._polls_open -= 1

    def _platform_info(self) -> dict[str, Any]:
        """``mode`` and ``franking``: from the last answer that named them if it is at most
        ``info_ttl`` seconds old, or while a long poll of this object waits at the relay (another
        thread's: the relay answers every waiting poll at once, naming the new mode, when the
        instructor switches it, so until then the last answer holds); otherwise asked with
        :meth:`info` (while the relay is down for a moment, the last answer is used as :meth:`info` does)."""
        known = self._platform
        if known is not None and (self._polls_open > 0 or time.monotonic() - known[0] <= self.info_ttl):
            return known[1]
        try:
            return self.info()
        except RelayUnavailable:
            if known is None:
                raise
            return known[1]

    @property
    def mode(self) -> Mode:
        """The platform the relay runs now: ``"e2ee"`` or ``"plaintext"`` (asked each time)."""
        mode = self._platform_info()["mode"]
        if not is_mode(mode):
            raise RelayError(f"the relay names an unknown platform {mode!r}; is it a toychat relay?")
        return mode

    @mode.setter
    def mode(self, mode: str) -> None:
        """Switch the platform (instructor only: needs ``admin_token``)."""
        self.request("POST", "/api/mode", data=codec.mode_to_json(mode), admin=True)
        self._info = None
        self._platform = None

    @property
    def franking(self) -> RemoteFranking | None:
        """Whether the relay tags messages for reporting (lesson 08); ``None`` if not."""
        return RemoteFranking(self.url) if self._platform_info().get("franking") else None

    # ---- key directory ---------------------------------------------------------------------
    def register(self, public: PublicIdentity) -> None:
        """Publish ``public`` on the relay and keep the login token it issues."""
        if not isinstance(public, PublicIdentity):
            raise TypeError("register() takes a PublicIdentity (identity.public).")
        answer = self.request("POST", "/api/users", data=codec.public_to_json(public), user=public.name)
        self._note_mode(answer)  # it names the platform as a mailbox answer does
        if answer.get("token"):
            self.tokens[public.name] = str(answer["token"])
            self._save_logins()
        self._registered.add(public.name)

    def _saved_logins(self) -> dict[str, dict[str, str]]:
        """Every relay's tokens kept in :attr:`login_file` (relay address -> name -> token)."""
        if self.login_file is None or not self.login_file.exists():
            return {}
        text = read_private_file(self.login_file, "login file")
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidKey(f"{self.login_file} is not a toychat login file (not JSON).") from None
        if not isinstance(data, dict) or not all(
            isinstance(tokens, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in tokens.items())
            for tokens in data.values()
        ):
            raise InvalidKey(f"{self.login_file} is not a toychat login file.")
        return data

    def _save_logins(self) -> None:
        if self.login_file is not None:
            logins = {**self._saved_logins(), self.url: dict(self.tokens)}
            write_private_file(self.login_file, json.dumps(logins, sort_keys=True, indent=1) + "\n")

    def lookup(self, name: str) -> PublicIdentity:
        """The published keys for ``name``."""
        return self.lookup_for("", name)

    def lookup_for(self, asker: str, name: str) -> PublicIdentity:
        """The directory's answer when ``asker`` looks up ``name``."""
        answer = self.request("GET", f"/api/users/{urllib.parse.quote(str(name), safe='')}", user=asker or None)
        return codec.public_from_json(answer)

    def extra_devices_for(self, asker: str, name: str) -> list[DeviceCertificate]:
        """Extra devices the relay lists for ``name`` (an honest relay lists none)."""
        answer = self.request("GET", f"/api/users/{urllib.parse.quote(str(name), safe='')}/devices", user=asker or None)
        if answer.get("devices"):
            raise RelayError("this relay lists extra devices, which the toy's remote client does not support.")
        return []

    # ---- connections ------------------------------------------------------------------------
    def connect(self, name: str) -> TransportChannel:
        """The Client's end of its (toy TLS) channel; the other end stays in this object."""
        check_name(name)
        if name not in self._registered:
            raise UnknownSender(f"{name!r} must register through this RemoteServer before connecting.")
        return self._connections.open(name)

    # ---- sending --------------------------------------------------------------------------------
    def submit(self, name: str, record: bytes) -> str:
        """Send one envelope (sealed by the Client for its channel) to the relay; returns its id."""
        raw = self._connections.end(name).open(record)
        return str(self.request("POST", "/api/messages", body=raw, user=name)["msg_id"])

    def submit_raw(self, name: str, raw: bytes) -> str:
        """Send envelope bytes as they are (lessons: what does the relay do with altered bytes?)."""
        return str(self.request("POST", "/api/messages", body=bytes(raw), user=name)["msg_id"])

    def submit_raw_batch(self, name: str, raws: list[bytes]) -> list[str]:
        """Send several envelope bytes from ``name`` (a group's message: one envelope per member)
        in one request; the relay stores all of them or, refusing one with its named error, none.
        Returns their ids.  Too many or too large for one request, or a relay from before
        ``POST /api/messages/batch``, they go one request each (then each is stored or refused alone)."""
        raws = [bytes(raw) for raw in raws]
        if self._batch_send and 1 < len(raws) <= MAX_SEND_BATCH and sum(map(len, raws)) <= MAX_ENVELOPE_BYTES:
            try:
                answer = self.request("POST", "/api/messages/batch", data=codec.batch_to_json(raws), user=name)
            except RelayError as exc:
                if getattr(exc, "status", None) not in (404, 405):
                    raise
                self._batch_send = False  # an older relay: one request per envelope from now on
            else:
                return [str(msg_id) for msg_id in answer["msg_ids"]]
        return [self.submit_raw(name, raw) for raw in raws]

    # ---- receiving ---------------------------------------------------------------------------------
    def acknowledge(self, name: str) -> int:
        """Tell the relay the messages already handed to ``name``'s Client arrived (it deletes them)."""
        ids = self._unacked.get(name, [])
        if not ids or self.drop_acks:
            return 0
        answer = self.request("POST", "/api/mailbox/ack", data=codec.ack_to_json(ids), user=name)
        self._unacked[name] = []
        return int(answer.get("acknowledged", 0))

    def fetch_envelopes(self, name: str, *, wait: float = 0.0) -> list[tuple[int, str, bytes]]:
        """What the relay has queued for ``name`` now, as ``(mailbox id, msg_id, bytes)``,
        duplicates included (no acknowledgement, no de-duplication).  ``wait`` > 0
        long-polls: the relay answers as soon as a message arrives, or after ``wait`` seconds."""
        with self._polling(wait):
            answer = self.request("GET", self._mailbox_query(wait), user=name, timeout=self.timeout + max(0.0, wait))
        self._note_mode(answer)
        return [(q.id, q.msg_id, q.envelope) for q in codec.mailbox_from_json(answer)]

    def _acknowledge_and_fetch(self, name: str, wait: float) -> list[tuple[int, str, bytes]]:
        """:meth:`acknowledge`, then :meth:`fetch_envelopes`, in one request when there is
        something to acknowledge (``POST /api/mailbox``): the relay's cost per message is
        mostly its cost per request.  A relay from before that endpoint gets the two requests."""
        ids = [] if self.drop_acks else self._unacked.get(name, [])
        if ids and self._combined_ack:
            try:
                with self._polling(wait):
                    answer = self.request(
                        "POST",
                        self._mailbox_query(wait),
                        data=codec.ack_to_json(ids),
                        user=name,
                        timeout=self.timeout + max(0.0, wait),
                    )
            except RelayError as exc:
                if getattr(exc, "status", None) != 405:
                    raise
                self._combined_ack = False  # an older relay: acknowledge separately from now on
            else:
                self._unacked[name] = []
                self._note_mode(answer)
                return [(q.id, q.msg_id, q.envelope) for q in codec.mailbox_from_json(answer)]
        self.acknowledge(name)
        return self.fetch_envelopes(name, wait=wait)

    def _page(self, name: str, wait: float) -> list[tuple[int, str, bytes]]:
        """The envelopes :meth:`fetch` hands over: what :meth:`wait_for_messages` just saw, if it
        saw something and ``wait`` is 0 (those are still queued: nothing has acknowledged them
        since), otherwise a new page from the relay."""
        peeked = self._peeked.pop(name, None)
        if peeked is not None and wait <= 0:
            return peeked
        return self._acknowledge_and_fetch(name, wait)

    def fetch(self, name: str, *, wait: float = 0.0) -> list[bytes]:
        """New messages for ``name``, sealed for its channel (what :meth:`Client.receive` calls).

        First acknowledges the previous batch (the Client has handled it by
        now), then fetches; a message whose ``msg_id`` was already handed
        over is dropped (and acknowledged again), so the learner sees it once.
        Right after :meth:`wait_for_messages` found messages, it hands over the
        page that call received instead of asking the relay again.
        """
        channel = self._connections.end(name)
        page = self._page(name, wait)
        if self._platform is None:
            self.info()  # an older relay's answer did not say: know the platform before opening messages
        seen = self._delivered.setdefault(name, set())
        unacked = self._unacked.setdefault(name, [])
        records = []
        batch: list[tuple[int, str]] = []
        for mailbox_id, msg_id, raw in page:
            unacked.append(mailbox_id)
            if msg_id in seen:
                continue  # sent again because an acknowledgement was lost: already shown once
            seen.add(msg_id)
            batch.append((mailbox_id, msg_id))
            records.append(channel.seal(raw))
        self._batches[name] = batch
        return records

    def settle(self, name: str, handled: int) -> None:
        """The Client reports that it handled the first ``handled`` records of the last
        :meth:`fetch`.  The rest are neither acknowledged nor marked as shown, so the
        relay sends them again on the next fetch: a crash mid-batch loses nothing.
        (Without a call, the whole batch counts as handled.)"""
        unhandled = self._batches.pop(name, [])[max(0, handled) :]
        unacked = self._unacked.setdefault(name, [])
        seen = self._delivered.setdefault(name, set())
        for mailbox_id, msg_id in unhandled:
            if mailbox_id in unacked:
                unacked.remove(mailbox_id)
            seen.discard(msg_id)

    def wait_for_messages(self, name: str, timeout: float = 10.0) -> bool:
        """Block until the relay holds a message for ``name`` (True) or ``timeout`` seconds
        pass (False); nothing is consumed, so ``client.receive()`` afterwards gets it.

        One long-poll request instead of calling ``receive()`` in a loop::

            if server.wait_for_messages("bob", 30):
                bob.receive()

        It first acknowledges what earlier ``receive()`` calls already handled:
        the relay answers a long poll at once while anything is queued, so
        without that, messages already read would end every wait immediately.
        """
        self._peeked.pop(name, None)
        page = self._acknowledge_and_fetch(name, timeout)
        seen = self._delivered.get(name, set())
        if any(msg_id not in seen for _, msg_id, _ in page):
            self._peeked[name] = page  # the next fetch() hands these over without asking again
            return True
        return False

    def pending(self, name: str) -> int:
        """How many messages the relay holds for ``name`` (including any not yet acknowledged)."""
        return len(self.fetch_envelopes(name))

    # ---- abuse reports (message franking) ------------------------------------------------------
    def franked_for(self, name: str, msg_id: str) -> Franked:
        """The relay's reporting tag for a message to ``name``."""
        answer = self.request("GET", f"/api/franked/{urllib.parse.quote(str(msg_id), safe='')}", user=name)
        return codec.franked_from_json(answer)

    def receive_report(self, report: Report) -> bytes:
        """Send an abuse report; returns the message the relay verified."""
        answer = self.request("POST", "/api/reports", data=codec.report_to_json(report), user=report.franked.recipient)
        return codec.verified_from_json(answer)

    # ---- what the server knows (instructor) ------------------------------------------------------
    def server_view(self) -> dict[str, Any]:
        """What the relay stores, as its dashboard shows it (needs ``admin_token``)."""
        return dict(self.request("GET", "/api/server-view", admin=True))

    def log_table(self) -> pd.DataFrame:
        """The server view's messages as a table, like :meth:`Server.log_table`."""
        import pandas as pd  # here, not at the top: a student's device never needs pandas

        columns = ["received_at", "sender", "recipient", "sent_at", "size_bytes", "content_seen", "msg_id"]
        table = pd.DataFrame(self.server_view()["messages"], columns=columns)
        for column in ("received_at", "sent_at"):
            table[column] = pd.to_datetime(table[column], unit="s", utc=True)
        return table

    def __repr__(self) -> str:
        return f"RemoteServer({self.url!r}, users={sorted(self.tokens)})"
