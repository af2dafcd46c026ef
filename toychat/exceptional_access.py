"""Exceptional access, built the way a provider would have to build it.

Two proposals for letting authorities read end-to-end encrypted messages
"without breaking encryption", implemented in the toy chat so that their
consequences can be measured rather than argued:

**Key escrow** (:class:`EscrowAuthority`, :class:`EscrowClient`).  Every
message carries, beside its ciphertext, the conversation key encrypted to an
escrow authority's public key (like the 1990s Clipper chip's "law enforcement
access field", and the government-key variant of Stanford CS255's chat
project).  Whoever holds the escrow private key can open every conversation of
every user, past and future — including a thief who steals it.  "Keys Under
Doormats" (Abelson et al., MIT-CSAIL-TR-2015-026, 2015; see references:
docs/references.md#abelson2015) argues exactly this risk.

**The ghost participant** (:class:`GhostServer`).  Levy (NCSC) and Robinson
(GCHQ) proposed that it is "relatively easy for a service provider to silently
add a law enforcement participant to a group chat or call" (Lawfare, 2018;
see references: docs/references.md#levy2018).  In a 1:1 chat that means listing an extra "device" for the
target, so that senders' phones encrypt a copy to it.  The 2019 open letter
(47 signatories; see references: docs/references.md#oti2019) answers that providers would have to
"surreptitiously inject a new public key" and suppress the notifications that
would reveal it.  The toy shows which defences catch the ghost and which ones
the proposal would have to switch off: signed device lists
(:mod:`toychat.devices`), new-device notices, safety numbers, and key
transparency (:mod:`toychat.transparency`).

What this simplifies
--------------------
Real escrow schemes split keys between several holders and may escrow per
message rather than per conversation; the toy escrows each pair's static
``Box`` key, so one recovered key opens the whole conversation.  The ghost
here is added to 1:1 chats through the device list; group chats (the case the
proposal names) work the same way with one more member.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.public
import pandas as pd

from .client import Client
from .clock import Clock
from .devices import DeviceCertificate
from .errors import TamperedMessage
from .keys import Identity, PublicIdentity
from .server import Scanner, Server
from .wire import Envelope, Mode

__all__ = [
    "ESCROW_FIELD",
    "EscrowAuthority",
    "EscrowClient",
    "GhostCopy",
    "GhostServer",
    "decrypt_with_escrow_key",
    "escrow_reading",
]

#: The envelope extras field that carries the escrowed conversation key.
ESCROW_FIELD = "escrow"


class EscrowAuthority:
    """Holds the escrow key pair.  Its private key is the "golden key"."""

    def __init__(self, private_key: nacl.public.PrivateKey | None = None) -> None:
        self.private_key = private_key if private_key is not None else nacl.public.PrivateKey.generate()

    @property
    def public_key(self) -> nacl.public.PublicKey:
        """What every phone must encrypt conversation keys to."""
        return self.private_key.public_key

    def open(self, envelope: Envelope | bytes) -> str:
        """Read one message, as the authority (or anyone who stole its key) can."""
        return decrypt_with_escrow_key(envelope, self.private_key)


def decrypt_with_escrow_key(envelope: Envelope | bytes, escrow_private: nacl.public.PrivateKey) -> str:
    """Decrypt any escrowed message with the escrow private key alone.

    Raises :class:`TamperedMessage` if the envelope carries no escrow field or
    it does not open.
    """
    if not isinstance(envelope, Envelope):
        envelope = Envelope.from_bytes(envelope)
    field = envelope.extras.get(ESCROW_FIELD)
    if field is None:
        raise TamperedMessage(f"message {envelope.short_id} carries no escrowed key.")
    try:
        conversation_key = nacl.public.SealedBox(escrow_private).decrypt(base64.b64decode(field))
        text = nacl.bindings.crypto_box_open_afternm(envelope.payload, envelope.nonce, conversation_key)
    except (nacl.exceptions.CryptoError, ValueError):
        raise TamperedMessage(f"the escrowed key of message {envelope.short_id} does not open it.") from None
    return text.decode("utf-8", errors="replace")


class EscrowClient(Client):
    """A phone that complies with a key-escrow mandate: each envelope also
    carries the conversation key, sealed to the escrow authority.

    The escrow field is inside the signed envelope, so the recipient can check
    it is there — which is how a mandate would be enforced on both ends.
    """

    def __init__(self, name: str, server: Server, escrow_public: nacl.public.PublicKey, **kwargs: object) -> None:
        super().__init__(name, server, **kwargs)  # type: ignore[arg-type]
        self.escrow_public = escrow_public

    def compose(
        self,
        recipient: str,
        text: str | bytes,
        *,
        extras: dict[str, str] | None = None,
        device: PublicIdentity | None = None,
        content_type: str = "text/plain",
    ) -> Envelope:
        fields = dict(extras or {})
        if self.mode == "e2ee":
            shared = self._box_session(recipient, device).box.shared_key()
            fields[ESCROW_FIELD] = base64.b64encode(nacl.public.SealedBox(self.escrow_public).encrypt(shared)).decode()
        return super().compose(recipient, text, extras=fields, device=device, content_type=content_type)


@dataclass(frozen=True)
class GhostCopy:
    """A message copy delivered to the ghost, and what it read."""

    msg_id: str
    sender: str
    recipient: str
    sent_at: float
    text: str


class GhostServer(Server):
    """A relay that silently adds a "ghost" device to chosen users' device lists.

    The ghost's keys belong to the server's (or an agency's) :class:`Identity`;
    copies encrypted to it are kept in :attr:`ghost_reads` and never reach the
    target.  The ghost has **no certificate signed by the target** — the
    server cannot make one without the target's private key — so phones that
    check device certificates refuse it; :attr:`forge` decides what the
    server puts in the signature field instead.
    """

    GHOST_LABEL = "ghost"

    def __init__(
        self, mode: Mode = "e2ee", *, clock: Clock | None = None, scanners: list[Scanner] | None = None
    ) -> None:
        super().__init__(mode, clock=clock, scanners=scanners)
        self.ghost = Identity.generate("ghost")
        self.targets: set[str] = set()
        self.ghost_reads: list[GhostCopy] = []

    def add_ghost(self, target: str) -> DeviceCertificate:
        """List the ghost as one of ``target``'s devices from now on."""
        self.lookup(target)
        self.targets.add(target)
        return self._certificate(target)

    def _certificate(self, target: str) -> DeviceCertificate:
        # The best the server can do: a signature by its own key, not the target's.
        forged = DeviceCertificate.issue(Identity.generate(target), self.GHOST_LABEL, self.ghost.public)
        return DeviceCertificate(target, self.GHOST_LABEL, self.ghost.public, forged.signature)

    def extra_devices_for(self, asker: str, name: str) -> list[DeviceCertificate]:
        self.lookup(name)
        return [self._certificate(name)] if name in self.targets else []

    def accept(self, raw: bytes, *, authenticated_as: str) -> str:
        envelope = Envelope.from_bytes(raw)
        if envelope.extras.get("device") != self.GHOST_LABEL:
            return super().accept(raw, authenticated_as=authenticated_as)
        self._verify(envelope, authenticated_as)
        sender = self.lookup(envelope.sender)
        text = nacl.public.Box(self.ghost.box_private, sender.box_key).decrypt(envelope.payload, envelope.nonce)
        self._seen_ids.add(envelope.msg_id)
        self.ghost_reads.append(
            GhostCopy(
                envelope.msg_id,
                envelope.sender,
                envelope.recipient,
                envelope.timestamp,
                text.decode("utf-8", "replace"),
            )
        )
        return envelope.msg_id


def escrow_reading(server: Server, escrow_private: nacl.public.PrivateKey) -> pd.DataFrame:
    """Everything a holder of the escrow key can read from a server's stored envelopes."""
    rows = []
    for entry in server.log:
        envelope = Envelope.from_bytes(entry.envelope)
        try:
            text = decrypt_with_escrow_key(envelope, escrow_private)
        except TamperedMessage:
            text = None
        rows.append({"sent_at": entry.sent_at, "sender": entry.sender, "recipient": entry.recipient, "text": text})
    table = pd.DataFrame(rows, columns=["sent_at", "sender", "recipient", "text"])
    table["sent_at"] = pd.to_datetime(table["sent_at"], unit="s", utc=True)
    return table
