"""toychat: the support package of the course *End-to-end encryption and online safety*.

A toy end-to-end encrypted chat built on PyNaCl, and (in later parts) the
safety tools argued about in the E2EE debate.  Lessons import from here
rather than copy code between notebooks.

>>> from toychat import Server, Client
>>> server = Server(mode="e2ee")
>>> alice, bob = Client("alice", server), Client("bob", server)
>>> _ = alice.send("bob", "hi")
>>> bob.receive()[0].text
'hi'
"""

from .client import Client, ReceivedMessage, Rejected
from .clock import SimulatedClock
from .course import setup
from .errors import (
    InvalidKey,
    MalformedEnvelope,
    MisaddressedMessage,
    RegistrationError,
    ReplayedMessage,
    SentToPreviousKeys,
    TamperedMessage,
    TimestampOutOfRange,
    ToyChatError,
    UnknownMessage,
    UnknownRecipient,
    UnknownSender,
    UnknownUser,
    UnreportableMessage,
)
from .keys import Identity, PublicIdentity, fingerprint
from .server import Server
from .wire import Envelope

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Envelope",
    "Identity",
    "InvalidKey",
    "MalformedEnvelope",
    "MisaddressedMessage",
    "PublicIdentity",
    "ReceivedMessage",
    "RegistrationError",
    "Rejected",
    "ReplayedMessage",
    "SentToPreviousKeys",
    "Server",
    "SimulatedClock",
    "TamperedMessage",
    "TimestampOutOfRange",
    "ToyChatError",
    "UnknownMessage",
    "UnknownRecipient",
    "UnknownSender",
    "UnknownUser",
    "UnreportableMessage",
    "fingerprint",
    "setup",
]
