"""What user reporting can and cannot bring to a platform's attention (lesson 08).

A recipient's phone reports a message with :func:`report_message`, or with
the messages before it as context with :func:`report_with_context`.

Message franking (:mod:`toychat.franking`) makes a report *verifiable*; it
does not make anyone report.  Under end-to-end encryption a harmful message
reaches the platform only if a participant chooses to show it.  This module
simulates that choice, seeded and vectorised with numpy, so a lesson can put
numbers on the National Crime Agency's point that "The onus should not be
entirely on children to report abuse." (James Babbage, quoted in Police
Professional, 11 Dec 2023), and on Pfefferkorn's finding that "More providers
use abuse-reporting features (which are content oblivious) than other
abuse-detection techniques" (Journal of Online Trust and Safety, 2022;
see references: docs/references.md#pfefferkorn2022).

The model is deliberately simple — every harmful message is reported
independently with the same probability — and its assumptions are the
lesson's talking points: real report rates are unknown, differ by abuse
type, and are zero when everyone in the conversation wants the material.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .client import Client, ReceivedMessage
from .clock import SimulatedClock
from .errors import UnknownMessage, UnreportableMessage
from .franking import FrankingService, Report
from .keys import Identity
from .protocols import ContextReporting
from .server import Server
from .wire import short_id

__all__ = ["report_conversation", "report_message", "report_with_context", "reports_reaching_platform"]


def report_message(client: Client, msg_id: str) -> bytes:
    """``client`` reports a message it received to the platform (message franking, lesson 08).

    Sends the message, its franking key and the platform's tag; returns what
    the platform verified.  Only this one message is revealed.  Raises
    :class:`~toychat.errors.UnknownMessage` if the message is not in the
    phone's inbox and :class:`~toychat.errors.UnreportableMessage` if it
    arrived without message franking.
    """
    message = _reportable(client, msg_id)
    franked = client.server.franked_for(client.name, msg_id)
    return client.server.receive_report(Report(message.data, message.franking_key, franked))


def _reportable(client: Client, msg_id: str) -> ReceivedMessage:
    """The message ``msg_id`` in ``client``'s inbox, if it can be reported."""
    message = next((m for m in client.inbox if m.msg_id == msg_id), None)
    if message is None:
        raise UnknownMessage(
            f"no message {short_id(msg_id)} in {client.name!r}'s inbox: a phone can only report messages it received."
        )
    if not message.franking_key:
        raise UnreportableMessage(
            f"message {short_id(msg_id)} from {message.sender!r} arrived without message franking (this platform "
            "does not run it), so the platform could not verify a report of it."
        )
    return message


def report_with_context(client: Client, msg_id: str, last: int = 5) -> pd.DataFrame:
    """``client`` reports a received message together with the ``last`` messages before it from the same sender.

    This is WhatsApp's design — "WhatsApp receives the last five messages
    sent to you by the reported user or group" (WhatsApp Help Center;
    see references: docs/references.md#whatsapp2024) — but where WhatsApp's context is not
    cryptographic, here
    every message is franked, so the platform verifies each one.  Context
    messages are the franked messages in the phone's inbox from the
    reported message's sender, received before it, newest first, at most
    ``last`` of them (fewer if fewer exist).  Nothing from other senders
    is sent.  ``last=0`` reports the message alone.

    Returns the rows this report added to :meth:`Server.report_table`:
    what the platform now knows.  Raises
    :class:`~toychat.errors.UnknownMessage` if the message is not in
    the inbox, :class:`~toychat.errors.UnreportableMessage` if it was not
    franked, :class:`~toychat.errors.ForgedReport` if the platform cannot verify it, and
    :class:`~toychat.errors.ReplayedMessage` if it was already reported.
    """
    if not isinstance(last, int) or isinstance(last, bool) or last < 0:
        raise ValueError(f"last must be a whole number of messages, 0 or more, not {last!r}")
    server = client.server
    if not isinstance(server, ContextReporting):
        raise NotImplementedError(
            f"{type(server).__name__} takes reports of one message at a time; use "
            "report_message(client, msg_id), or the in-process Server for reports with context."
        )
    message = _reportable(client, msg_id)
    position = next(i for i, m in enumerate(client.inbox) if m.msg_id == msg_id)
    earlier = [m for m in client.inbox[:position] if m.sender == message.sender and m.franking_key]
    chosen = earlier[max(0, len(earlier) - last) :] if last else []
    context = [Report(m.data, m.franking_key, server.franked_for(client.name, m.msg_id)) for m in chosen]
    main = Report(message.data, message.franking_key, server.franked_for(client.name, msg_id))
    rows = server.receive_report_with_context(main, context)
    table = server.report_table()
    added: pd.DataFrame = table[table["report"] == rows[0].report].reset_index(drop=True)
    return added


def report_conversation(
    messages: Sequence[tuple[str, str]],
    last: int = 0,
    *,
    reporter: str = "bob",
    reported: int = -1,
) -> pd.DataFrame:
    """Replay a conversation on a fresh franking E2EE platform, report one message, return what the platform learned.

    ``messages`` are ``(sender, text)`` pairs, all sent to ``reporter`` in
    order, one minute apart.  The reporter then reports ``messages[reported]``
    (default: the last) with up to ``last`` earlier messages from the same
    sender as context (:func:`report_with_context`).  The
    result is the report's rows of :meth:`toychat.Server.report_table`,
    without the random message ids, so the same arguments always give the
    same table.

    >>> chat = [("eve", "hi"), ("dan", "lunch?"), ("eve", "[placeholder]")]
    >>> report_conversation(chat, last=5)[["reported_sender", "role", "text"]].values.tolist()
    [['eve', 'context', 'hi'], ['eve', 'reported message', '[placeholder]']]
    """
    if not messages:
        raise ValueError("a conversation needs at least one message to report")
    server = Server(mode="e2ee", clock=SimulatedClock(step=60.0), franking=FrankingService())
    people = {
        name: Client(name, server, identity=Identity.from_label(name, "lesson-08"))
        for name in dict.fromkeys([reporter, *(sender for sender, _ in messages)])
    }
    ids = [people[sender].send(reporter, text).msg_id for sender, text in messages]
    people[reporter].receive()
    table = report_with_context(people[reporter], ids[reported], last=last)
    return table.drop(columns="msg_id")


def reports_reaching_platform(
    harmful_messages: int,
    report_rate: float | Sequence[float] | np.ndarray,
    seed: int = 0,
    *,
    willing_share: float = 0.0,
) -> pd.DataFrame:
    """Simulate which harmful messages a platform learns about through user reports.

    Each of ``harmful_messages`` is reported with probability ``report_rate``
    — unless it went to a *willing* recipient (a share ``willing_share`` of
    the messages, e.g. offenders trading material with each other), who never
    reports it.  One row per report rate, so a whole curve is one call.

    Parameters
    ----------
    harmful_messages:
        How many harmful messages are sent (0 or more).
    report_rate:
        The probability that an unwilling recipient reports a harmful message:
        one number in [0, 1], or several.
    seed:
        Seeds numpy's generator: the same arguments always give the same table.
    willing_share:
        The share of harmful messages whose recipient wanted them (default 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``report_rate``, ``harmful_messages``, ``reported``,
        ``detected_share`` (``reported / harmful_messages``) and
        ``expected_share`` (``report_rate × (1 − willing_share)``).

    >>> reports_reaching_platform(10_000, [0.0, 0.1, 1.0], seed=1)[["report_rate", "reported"]].to_dict("list")
    {'report_rate': [0.0, 0.1, 1.0], 'reported': [0, 1029, 10000]}
    """
    if not isinstance(harmful_messages, (int, np.integer)) or harmful_messages < 0:
        raise ValueError(f"harmful_messages must be a whole number, 0 or more, not {harmful_messages!r}")
    rates = np.atleast_1d(np.asarray(report_rate, dtype=float))
    if rates.ndim != 1 or np.any((rates < 0) | (rates > 1)) or np.any(np.isnan(rates)):
        raise ValueError(f"report rates are probabilities between 0 and 1, not {report_rate!r}")
    if not 0.0 <= willing_share <= 1.0:
        raise ValueError(f"willing_share is a share between 0 and 1, not {willing_share!r}")
    rng = np.random.default_rng(seed)
    willing = rng.random(harmful_messages) < willing_share  # the same conversations at every rate
    draws = rng.random(harmful_messages)  # common random numbers: a higher rate never reports fewer
    reported = ((draws[None, :] < rates[:, None]) & ~willing[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(harmful_messages > 0, reported / max(harmful_messages, 1), np.nan)
    return pd.DataFrame(
        {
            "report_rate": rates,
            "harmful_messages": harmful_messages,
            "reported": reported.astype(int),
            "detected_share": share,
            "expected_share": rates * (1.0 - willing_share),
        }
    )
