"""Extra devices: how a user's other phones and laptops get their own keys.

When Bob uses a second device, senders must encrypt every message to that
device's key too (a *fan-out*).  The danger is obvious: whoever can add a
"device" to Bob's list receives a copy of every message to Bob.  So the
owner's main identity key **signs** each extra device's keys — a
:class:`DeviceCertificate` — and senders refuse devices without a valid one.
WhatsApp's multi-device design works this way (the primary device signs the
companion device list; WhatsApp, "How WhatsApp enables multi-device capability", 2021;
see references: docs/references.md#whatsapp2021).

This is the mechanism the "ghost" proposal (Levy & Robinson, Lawfare, 2018;
see references: docs/references.md#levy2018) would have to get around: a silently added participant has no
certificate from Bob, so clients must be changed to accept it, and to stay
quiet about a new device.

What this simplifies
--------------------
The toy has no legitimate extra devices of its own (one device per user); the
only "extra device" lessons meet is a ghost.  Certificates never expire and
cannot be revoked here; WhatsApp's device lists carry timestamps and indexes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import nacl.exceptions

from .errors import UnexpectedKey
from .keys import Identity, PublicIdentity, check_name

__all__ = ["DeviceCertificate"]


def _certified_bytes(owner: str, label: str, device: PublicIdentity) -> bytes:
    return json.dumps(
        {
            "owner": owner,
            "label": label,
            "encryption_key": device.encryption_key.hex(),
            "signing_key": device.signing_key.hex(),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


@dataclass(frozen=True)
class DeviceCertificate:
    """``owner`` vouches, with a signature by their identity key, that ``device`` is theirs."""

    owner: str
    label: str
    device: PublicIdentity
    signature: bytes

    @classmethod
    def issue(cls, owner: Identity, label: str, device: PublicIdentity) -> DeviceCertificate:
        """Sign ``device`` as one of ``owner``'s devices (done on the owner's main phone)."""
        check_name(label)
        signature = owner.signing_private.sign(_certified_bytes(owner.name, label, device)).signature
        return cls(owner.name, label, device, signature)

    def verify(self, owner: PublicIdentity) -> PublicIdentity:
        """Return the device's keys if ``owner`` really signed them; else raise :class:`UnexpectedKey`."""
        if owner.name != self.owner:
            raise UnexpectedKey(f"a device certificate for {self.owner!r} was offered as {owner.name!r}'s.")
        try:
            owner.verify_key.verify(_certified_bytes(self.owner, self.label, self.device), self.signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            raise UnexpectedKey(
                f"the directory lists a device {self.label!r} for {self.owner!r} that {self.owner!r} "
                f"never signed (fingerprint {self.device.fingerprint[:19]}…): it may be someone "
                "else's key added to the conversation. Refusing to encrypt to it."
            ) from None
        return self.device
