"""A dishonest key directory: the server as a man in the middle.

End-to-end encryption is only as good as the public keys the devices use.
Our clients ask the server's directory for a contact's keys (*trust on first
use*).  :class:`MitmServer` is a relay that, once :meth:`MitmServer.intercept`
is switched on for a pair of users, answers each one's look-up with keys **the
server** made, then sits in the middle: it decrypts every message with its
fake key, keeps a copy of the text, re-encrypts it to the real recipient and
re-signs it with the fake sender key that recipient was given.  Both phones
show a working, "end-to-end encrypted" chat; the server reads everything.

The defence is to check the keys out of band: compare **safety numbers**
(:func:`toychat.keys.safety_number`; lesson 04) or rely on **key
transparency** (:mod:`toychat.transparency`).  The attack only works against
users who look each other up *after* it starts: keys already in a phone's
address book are not asked for again (that is what *trust on first use*
protects).

What this simplifies
--------------------
A real attacker would also have to keep its substitution consistent across
devices, reinstalls and key changes; Signal and WhatsApp show a "safety number
changed" notice when a contact's key changes after first use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import nacl.exceptions
import nacl.public
import nacl.utils

from .clock import Clock
from .keys import Identity, PublicIdentity
from .server import Scanner, Server
from .wire import NONCE_SIZE, Envelope, Mode

__all__ = ["MitmServer", "Intercepted"]


@dataclass(frozen=True)
class Intercepted:
    """A message the man in the middle decrypted and read."""

    msg_id: str
    sender: str
    recipient: str
    sent_at: float
    text: str


class MitmServer(Server):
    """A relay whose key directory lies to chosen users, so it can read their E2EE chats.

    >>> from toychat import Client
    >>> server = MitmServer()
    >>> alice, bob = Client("alice", server), Client("bob", server)
    >>> server.intercept("alice", "bob")
    >>> _ = alice.send("bob", "meet at 6")
    >>> bob.receive()[0].text, server.intercepted[0].text
    ('meet at 6', 'meet at 6')
    """

    def __init__(
        self, mode: Mode = "e2ee", *, clock: Clock | None = None, scanners: list[Scanner] | None = None
    ) -> None:
        super().__init__(mode, clock=clock, scanners=scanners)
        self.intercepted: list[Intercepted] = []
        self._fakes: dict[tuple[str, str], Identity] = {}  # (asker, target) -> fake identity of target
        self._asker: str | None = None

    def intercept(self, first: str, second: str) -> None:
        """From now on, lie to ``first`` about ``second``'s keys and vice versa."""
        for asker, target in ((first, second), (second, first)):
            self.lookup(target)
            self._fakes[(asker, target)] = Identity.generate(target)

    def fake_key_for(self, asker: str, target: str) -> PublicIdentity | None:
        """The fake keys the server hands ``asker`` when they look up ``target``, if any."""
        fake = self._fakes.get((asker, target))
        return fake.public if fake else None

    def lookup_for(self, asker: str, name: str) -> PublicIdentity:
        """The directory's answer to ``asker`` looking up ``name``: a lie if intercepting."""
        fake = self._fakes.get((asker, name))
        return fake.public if fake is not None else self.lookup(name)

    def accept(self, raw: bytes, *, authenticated_as: str) -> str:
        envelope = Envelope.from_bytes(raw)
        fake_recipient = self._fakes.get((envelope.sender, envelope.recipient))
        if fake_recipient is None or envelope.mode != "e2ee":
            return super().accept(raw, authenticated_as=authenticated_as)
        self._verify(envelope, authenticated_as)  # the genuine envelope must pass the honest checks
        msg_id = envelope.msg_id
        sender_real = self.lookup(envelope.sender)
        try:
            text = nacl.public.Box(fake_recipient.box_private, sender_real.box_key).decrypt(
                envelope.payload, envelope.nonce
            )
        except nacl.exceptions.CryptoError:
            # The sender already had the real keys (looked up before the attack):
            # the server cannot read this one, so it relays it honestly.
            return super().accept(raw, authenticated_as=authenticated_as)
        # Keep a copy of the text; deliver a re-encrypted copy signed with the fake sender key.
        fake_sender = self._fakes[(envelope.recipient, envelope.sender)]
        recipient_real = self.lookup(envelope.recipient)
        nonce = nacl.utils.random(NONCE_SIZE)
        forwarded = replace(
            envelope,
            nonce=nonce,
            payload=nacl.public.Box(fake_sender.box_private, recipient_real.box_key).encrypt(text, nonce).ciphertext,
            signature=b"",
        )
        forwarded = forwarded.with_signature(fake_sender.signing_private.sign(forwarded.signed_bytes()).signature)
        self.intercepted.append(
            Intercepted(
                msg_id, envelope.sender, envelope.recipient, envelope.timestamp, text.decode("utf-8", "replace")
            )
        )
        self._store(forwarded, forwarded.to_bytes())
        return msg_id
