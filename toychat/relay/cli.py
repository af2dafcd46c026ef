"""``python -m toychat.relay``: the command line that runs the classroom relay until stopped.

Options are listed by ``python -m toychat.relay --help``; docs/deploying.md
shows them in use (on a laptop, with TLS, as a JupyterHub service).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sqlite3

from ..errors import InvalidKey
from ..wire import MODES
from .app import build_relay, http_server, make_app
from .limits import ADDRESS_SHARE, Quota

__all__ = ["build_parser", "main", "parse_size", "quota_from_args"]

#: What ``--help`` says the program is.
DESCRIPTION = "The classroom relay: the toy platform's :class:`~toychat.server.Server` behind HTTP."


#: Binary multipliers a size on the command line may end with (``256M`` is 256 MiB).
SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "KIB": 1024, "M": 1024**2, "MIB": 1024**2, "G": 1024**3, "GIB": 1024**3}


def parse_size(text: str) -> int:
    """A positive number of bytes from ``text``: digits, optionally followed by
    ``K``/``KiB``, ``M``/``MiB`` or ``G``/``GiB`` (powers of 1024); ``_`` and ``,``
    may group digits.

    >>> parse_size("256M"), parse_size("64MiB"), parse_size("1_000")
    (268435456, 67108864, 1000)
    """
    cleaned = text.strip().replace("_", "").replace(",", "")
    digits = cleaned.rstrip("KMGIBkmgib ")
    unit = cleaned[len(digits) :].strip().upper()
    if not digits.isdigit() or unit not in SIZE_UNITS or int(digits) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: write e.g. 256M, 64MiB or 1048576 (bytes, > 0)")
    return int(digits) * SIZE_UNITS[unit]


def positive_int(text: str) -> int:
    """A whole number above zero (a quota of 0 messages would refuse every message)."""
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The relay's command line (``python -m toychat.relay --help``)."""
    parser = argparse.ArgumentParser(prog="python -m toychat.relay", description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", default=":memory:", help="SQLite file to keep mailboxes across restarts")
    parser.add_argument("--mode", choices=MODES, default="e2ee", help="platform mode of a new database")
    parser.add_argument("--franking", action="store_true", help="tag messages for verifiable reports (lesson 08)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second per user, sustained")
    parser.add_argument("--burst", type=int, default=60, help="requests per user at once")
    parser.add_argument(
        "--address-rate",
        type=float,
        default=None,
        help="requests per second per network address, however many names it registered "
        f"(default: {ADDRESS_SHARE} users' worth; off with --hub; 0 turns it off)",
    )
    parser.add_argument("--address-burst", type=int, default=None, help="requests per network address at once")
    parser.add_argument("--admin-token", default=None, help="instructor token (default: random, printed)")
    parser.add_argument("--public-view", action="store_true", help="anyone may read the server view")
    parser.add_argument("--certfile", help="TLS certificate (serve https)")
    parser.add_argument("--keyfile", help="TLS private key")
    parser.add_argument("--hub", action="store_true", help="run as a JupyterHub service: hub logins, no tokens")
    default = Quota()
    quotas = parser.add_argument_group(
        "quotas", "how much may wait undelivered; a message over any is refused with MailboxFull (HTTP 409)"
    )
    quotas.add_argument(
        "--mailbox-messages",
        type=positive_int,
        default=default.mailbox_messages,
        help="messages waiting in one user's mailbox (default: %(default)s)",
    )
    quotas.add_argument(
        "--mailbox-bytes",
        type=parse_size,
        default=default.mailbox_bytes,
        help="bytes waiting in one user's mailbox, e.g. 256M (default: %(default)s)",
    )
    quotas.add_argument(
        "--sender-messages",
        type=positive_int,
        default=default.sender_messages,
        help="messages from one sender waiting in anyone's mailboxes (default: %(default)s)",
    )
    quotas.add_argument(
        "--sender-bytes",
        type=parse_size,
        default=default.sender_bytes,
        help="bytes from one sender waiting in anyone's mailboxes, e.g. 64M (default: %(default)s)",
    )
    return parser


def quota_from_args(args: argparse.Namespace) -> Quota:
    """The :class:`~toychat.relay.limits.Quota` the parsed command line asks for."""
    return Quota(
        mailbox_messages=args.mailbox_messages,
        mailbox_bytes=args.mailbox_bytes,
        sender_messages=args.sender_messages,
        sender_bytes=args.sender_bytes,
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m toychat.relay``: run the classroom relay until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    hub_auth = None
    prefix = ""
    if args.hub:
        from .hub import hub_settings

        hub_auth, prefix, args.host, args.port = hub_settings(args.host, args.port)
    try:
        relay = build_relay(
            db=args.db,
            mode=args.mode,
            franking=args.franking,
            rate=args.rate,
            burst=args.burst,
            address_rate=args.address_rate,
            address_burst=args.address_burst,
            admin_token=args.admin_token,
            public_view=args.public_view,
            hub_auth=hub_auth,
            quota=quota_from_args(args),
        )
    except InvalidKey as exc:
        raise SystemExit(f"toychat relay: {exc}") from None
    except (sqlite3.Error, OSError) as exc:
        raise SystemExit(
            f"toychat relay: cannot use the database {args.db}: {exc}. Is the disk full, or the file (or its "
            "folder) read-only for this user? Nothing in it was changed."
        ) from None
    ssl_options = {"certfile": args.certfile, "keyfile": args.keyfile} if args.certfile else None
    scheme = "https" if ssl_options else "http"
    base = f"{scheme}://{args.host}:{args.port}{prefix}"

    async def serve() -> None:
        server = http_server(make_app(relay, prefix=prefix), ssl_options)
        server.listen(args.port, args.host)
        print(f"toychat relay ({relay.server.mode}) on {base}  database: {args.db}", flush=True)
        print(f"students:   export TOYCHAT_RELAY={base}", flush=True)
        if not args.hub:
            print(f"instructor: {base}/dashboard#token={relay.admin_token}", flush=True)
        if scheme == "http" and args.host not in ("127.0.0.1", "localhost", "::1"):
            print(
                "WARNING: plain HTTP on a network: login tokens travel readable. "
                "Use --certfile/--keyfile or run it behind JupyterHub.",
                flush=True,
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # JupyterHub stops services with these
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.stop()
        await server.close_all_connections()
        print("toychat relay stopped; everything was already saved.", flush=True)

    try:
        asyncio.run(serve())
    finally:
        relay.server.store.close()
