"""The contract a device relies on: what :class:`~toychat.client.Client` needs from a server.

Several classes play the server's role: the honest in-process
:class:`~toychat.server.Server`, its dishonest variants
(:class:`~toychat.mitm.MitmServer`, :class:`~toychat.exceptional_access.GhostServer`)
and the classroom relay's :class:`~toychat.relay.client.RemoteServer`, which speaks
HTTP.  :class:`ServerAPI` names that role once, so the client is typed against it
and a test checks each implementation provides every member with the same
parameters.  Reports with context (lesson 08) are an extra capability,
:class:`ContextReporting`, which the in-process server has and the relay does not.

>>> from toychat import Server
>>> isinstance(Server(), ServerAPI), isinstance(Server(), ContextReporting)
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from .clock import Clock
    from .devices import DeviceCertificate
    from .franking import Franked, Report
    from .keys import PublicIdentity
    from .transport import TransportChannel
    from .wire import Mode

__all__ = ["ContextReporting", "ServerAPI"]


@runtime_checkable
class ServerAPI(Protocol):
    """Everything a :class:`~toychat.client.Client` calls on its server."""

    #: Where the client's timestamps come from.
    clock: Clock

    @property
    def mode(self) -> Mode:
        """``"e2ee"`` or ``"plaintext"``: what the platform can read."""

    @property
    def franking(self) -> Any:
        """The platform's franking service, or ``None`` if messages are not franked."""

    def register(self, public: PublicIdentity) -> None:
        """Publish a user's keys in the directory."""

    def lookup_for(self, asker: str, name: str) -> PublicIdentity:
        """The directory's answer when ``asker`` looks up ``name``."""

    def extra_devices_for(self, asker: str, name: str) -> list[DeviceCertificate]:
        """Devices beyond ``name``'s main phone that the directory lists."""

    def connect(self, name: str) -> TransportChannel:
        """Open the (toy TLS) connection for a registered user; the client's end."""

    def submit(self, name: str, record: bytes) -> str:
        """Send one transport record; returns the message id."""

    def fetch(self, name: str) -> list[bytes]:
        """Take the user's queued records (settled afterwards with :meth:`settle`)."""

    def settle(self, name: str, handled: int) -> None:
        """The device handled the first ``handled`` records of its last fetch."""

    def franked_for(self, name: str, msg_id: str) -> Franked:
        """The reporting tag of a message, for its recipient."""

    def receive_report(self, report: Report) -> bytes:
        """Verify an abuse report; returns the reported message."""


@runtime_checkable
class ContextReporting(Protocol):
    """A server that takes a report with the messages around it (lesson 08)."""

    def receive_report_with_context(self, report: Report, context: Sequence[Report]) -> list[Any]:
        """Verify a report and the context reports sent with it."""

    def report_table(self) -> pd.DataFrame:
        """Every verified report, as the platform's moderators see them."""
