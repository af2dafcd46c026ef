"""A toy stand-in for TLS: the encrypted connection between a device and the server.

Both modes of the toy platform encrypt *in transit*: an eavesdropper on the
network sees only :class:`TransportChannel` ciphertext.  The difference between
the modes is what the *server* sees once it has removed this layer: the text
(plaintext platform) or another layer of ciphertext it has no key for (E2EE).

What this simplifies compared with TLS
--------------------------------------
TLS 1.3 (RFC 8446) agrees a fresh session key with an authenticated
Diffie-Hellman handshake and the server's certificate.  Here the server simply
hands the client a random 32-byte session key in-process (there is no network
to cross), and the channel is one :class:`nacl.secret.SecretBox` with random
nonces.  It protects confidentiality and integrity on the "wire"; it does not
model certificates, handshakes or key updates.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.secret
import nacl.utils

from .errors import MalformedEnvelope, TamperedMessage, UnknownSender

__all__ = ["Connections", "TransportChannel"]

#: The shortest record a channel can open: a nonce and an authenticator, no ciphertext.
_RECORD_OVERHEAD = nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES


class TransportChannel:
    """One device's encrypted connection to the server (a toy TLS session).

    >>> channel = TransportChannel.new("alice")
    >>> channel.open(channel.seal(b"hello")) == b"hello"
    True
    """

    def __init__(self, owner: str, key: bytes) -> None:
        if len(key) != nacl.secret.SecretBox.KEY_SIZE:
            raise ValueError("a transport key is 32 bytes")
        self.owner = owner
        self._box = nacl.secret.SecretBox(key)
        self._key = key

    @classmethod
    def new(cls, owner: str) -> TransportChannel:
        """A channel with a fresh random session key."""
        return cls(owner, nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE))

    def peer(self) -> TransportChannel:
        """The other end of this channel (the same session key)."""
        return TransportChannel(self.owner, self._key)

    def seal(self, data: bytes) -> bytes:
        """Encrypt ``data`` for the other end: nonce ‖ ciphertext ‖ tag."""
        return bytes(self._box.encrypt(bytes(data)))

    def open(self, data: bytes) -> bytes:
        """Decrypt what the other end sealed; a changed byte raises :class:`TamperedMessage`."""
        if not isinstance(data, (bytes, bytearray)):
            raise MalformedEnvelope(f"transport data must be bytes, not {type(data).__name__}.")
        overhead = _RECORD_OVERHEAD
        if len(data) < overhead:
            raise MalformedEnvelope(
                f"transport record of {len(data)} bytes is shorter than the {overhead}-byte minimum: truncated."
            )
        try:
            return self._box.decrypt(bytes(data))
        except nacl.exceptions.CryptoError:
            raise TamperedMessage(
                f"the connection record for {self.owner!r} failed its integrity check: "
                "it was changed in transit (or sealed with another session's key)."
            ) from None

    def __repr__(self) -> str:
        return f"TransportChannel(owner={self.owner!r})"


class Connections:
    """The server's ends of its users' toy-TLS connections, one per user.

    Both servers a :class:`~toychat.client.Client` talks to keep one: the
    in-process :class:`~toychat.server.Server` and the relay's
    :class:`~toychat.relay.client.RemoteServer`, which ends the toy layer on
    the student's own machine (HTTPS protects the network hop there).

    >>> connections = Connections()
    >>> device_end = connections.open("alice")
    >>> connections.end("alice").open(device_end.seal(b"hi"))
    b'hi'
    >>> connections.end("bob")
    Traceback (most recent call last):
    ...
    toychat.errors.UnknownSender: 'bob' has no open connection to this server.
    """

    def __init__(self) -> None:
        self._ends: dict[str, TransportChannel] = {}

    def open(self, name: str) -> TransportChannel:
        """A new connection for ``name`` (replacing any earlier one): keeps the server's end,
        returns the device's.  Whether ``name`` may connect is the server's to check first."""
        channel = TransportChannel.new(name)
        self._ends[name] = channel
        return channel.peer()

    def end(self, name: str) -> TransportChannel:
        """The server's end of ``name``'s connection; :class:`UnknownSender` if none is open."""
        try:
            return self._ends[name]
        except (KeyError, TypeError):
            raise UnknownSender(f"{name!r} has no open connection to this server.") from None
