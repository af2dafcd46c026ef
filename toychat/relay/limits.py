"""How much the relay takes: request sizes, long-poll waits, batch sizes, and requests per user.

The sizes are checked by :mod:`toychat.relay.api` before a body is read; the
per-user request rate is a :class:`TokenBucket`.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..wire import MAX_ENVELOPE_BYTES, MAX_PAYLOAD_BYTES

__all__ = [
    "ADDRESS_SHARE",
    "MAX_BATCH",
    "MAX_PAGE_BYTES",
    "MAX_SEND_BATCH",
    "Quota",
    "MAX_HTTP_BODY",
    "MAX_REPORT_BODY",
    "MAX_SMALL_BODY",
    "MAX_WAIT_SECONDS",
    "VIEW_ROWS",
    "TokenBucket",
]

#: Largest body of any request that carries neither an envelope nor a message (registration, acks).
MAX_SMALL_BODY = 64 * 1024
#: Largest abuse report: it carries the whole reported message, which may be as long as an
#: envelope's payload (:data:`~toychat.wire.MAX_PAYLOAD_BYTES`), in base64 (4 characters per 3
#: bytes), plus the franking key, the tag and JSON punctuation (well within one small body).
#: Sized from the message limit, so every message the relay accepted can be reported.
MAX_REPORT_BODY = 4 * math.ceil(MAX_PAYLOAD_BYTES / 3) + MAX_SMALL_BODY
#: Bodies up to this size are read (and dropped) before a 413, so the client, still
#: sending, is not cut off mid-request and can read the answer; larger ones are cut off.
MAX_HTTP_BODY = 2 * MAX_ENVELOPE_BYTES
#: By default one network address may make as many requests as this many users together:
#: enough for a class behind one NAT or proxy, and a cap that registering more names
#: cannot raise (each account also has its own, smaller limit).
ADDRESS_SHARE = 50
#: Longest long-poll wait a client may ask for, in seconds.
MAX_WAIT_SECONDS = 30.0
#: Most messages one mailbox request returns.
MAX_BATCH = 100
#: Most bytes of envelopes one mailbox request returns (but always at least one message):
#: a full batch of the largest envelopes would be hundreds of megabytes in one answer.
MAX_PAGE_BYTES = 8 * 1024 * 1024
#: Most envelopes one ``POST /api/messages/batch`` may carry (a group's message, one envelope per
#: member; the toy has no group encryption).  Each costs one request of its sender's rate limit.
MAX_SEND_BATCH = 32
#: How many log rows the server view returns (the newest).
VIEW_ROWS = 200


@dataclass
class TokenBucket:
    """A per-key token bucket: ``burst`` requests at once, refilled at ``rate`` per second.

    >>> bucket = TokenBucket(rate=1.0, burst=2, clock=lambda: 0.0)
    >>> [bucket.allow("alice") for _ in range(3)]
    [True, True, False]
    """

    rate: float = 20.0
    burst: int = 60
    clock: Callable[[], float] = time.monotonic
    #: key -> (tokens left, when last used), least recently used first.
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def allow(self, key: str, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens for ``key`` (one per request; a batch of envelopes pays one per
        envelope); ``False``, taking none, if there are not that many left.

        >>> bucket = TokenBucket(rate=1.0, burst=3, clock=lambda: 0.0)
        >>> bucket.allow("bob", 2), bucket.allow("bob", 2), bucket.allow("bob")
        (True, False, True)
        """
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        self._forget_full(now)
        allowed = tokens >= cost
        self._buckets[key] = (tokens - cost if allowed else tokens, now)  # now the most recently used
        return allowed

    def _forget_full(self, now: float) -> None:
        """Drop least recently used buckets that have refilled: a full bucket is the
        same as no bucket, so forgetting it lets nobody past the limit.  A bucket
        refills within ``burst / rate`` seconds, so what is kept is bounded by the
        requests of that window -- many accounts cannot wipe anyone's limit."""
        while self._buckets:
            oldest = next(iter(self._buckets))
            tokens, last = self._buckets[oldest]
            if self.rate <= 0 or tokens + (now - last) * self.rate < self.burst:
                break
            del self._buckets[oldest]

    def retry_after(self) -> int:
        """Seconds until one more request is allowed (at least 1)."""
        return max(1, math.ceil(1.0 / self.rate)) if self.rate > 0 else 60


@dataclass(frozen=True)
class Quota:
    """How much may wait undelivered on the relay: in one user's mailbox, and sent by one
    user into anyone's (so one sender cannot fill a mailbox alone).  A message over either
    is refused with :class:`~toychat.relay.errors.MailboxFull` (HTTP 409), stored nowhere.

    >>> Quota().mailbox_messages > Quota().sender_messages
    True
    """

    mailbox_messages: int = 5_000
    mailbox_bytes: int = 256 * 1024 * 1024
    sender_messages: int = 1_000
    sender_bytes: int = 64 * 1024 * 1024
