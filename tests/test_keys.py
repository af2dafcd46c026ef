"""Identity keys and fingerprints."""

from __future__ import annotations

import hashlib

import nacl.public
import nacl.signing
import pytest

from toychat.errors import InvalidKey, RegistrationError, ToyChatError
from toychat.keys import KEY_SIZE, Identity, PublicIdentity, check_name, fingerprint


def test_generate_gives_distinct_keys() -> None:
    a, b = Identity.generate("alice"), Identity.generate("alice")
    assert a.public != b.public
    assert len(a.public.encryption_key) == len(a.public.signing_key) == KEY_SIZE


def test_from_seed_is_deterministic_and_separates_the_two_key_pairs() -> None:
    one = Identity.from_seed("alice", bytes(32))
    two = Identity.from_seed("alice", bytes(32))
    other = Identity.from_seed("alice", b"\x01" + bytes(31))
    assert one == two
    assert one.public == two.public
    assert one.public != other.public
    assert one.public.encryption_key != one.public.signing_key
    assert Identity.from_label("alice", "l1") == Identity.from_label("alice", "l1")
    assert Identity.from_label("alice", "l1") != Identity.from_label("alice", "l2")


def test_public_keys_are_usable_with_pynacl() -> None:
    alice, bob = Identity.generate("alice"), Identity.generate("bob")
    box = nacl.public.Box(alice.box_private, bob.public.box_key)
    back = nacl.public.Box(bob.box_private, alice.public.box_key)
    assert back.decrypt(box.encrypt(b"hi")) == b"hi"
    signed = alice.signing_private.sign(b"msg")
    assert alice.public.verify_key.verify(signed) == b"msg"


def test_fingerprint_format_and_definition() -> None:
    ident = Identity.from_seed("bob", bytes(32))
    fp = fingerprint(ident)
    groups = fp.split(" ")
    assert len(groups) == 16
    assert all(len(g) == 4 for g in groups)
    expected = hashlib.sha256(ident.public.encryption_key + ident.public.signing_key).hexdigest()
    assert fp.replace(" ", "") == expected
    assert fingerprint(ident.public) == fp == ident.public.fingerprint


def test_fingerprint_changes_when_either_key_changes() -> None:
    base = Identity.from_seed("bob", bytes(32)).public
    other = Identity.from_seed("bob", b"\x02" * 32).public
    swapped_enc = PublicIdentity("bob", other.encryption_key, base.signing_key)
    swapped_sig = PublicIdentity("bob", base.encryption_key, other.signing_key)
    assert len({fingerprint(base), fingerprint(swapped_enc), fingerprint(swapped_sig)}) == 3


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33, "a" * 32, None])
def test_bad_keys_are_named_errors(bad: object) -> None:
    with pytest.raises(InvalidKey) as info:
        PublicIdentity("bob", bad, bytes(32))  # type: ignore[arg-type]
    assert "encryption_key" in str(info.value)
    assert isinstance(info.value, ToyChatError)


@pytest.mark.parametrize("name", ["", " alice", "a" * 65, "al ice", "-x", None, 3, "bob\n"])
def test_bad_names_rejected(name: object) -> None:
    with pytest.raises(RegistrationError):
        check_name(name)


def test_bad_seed_and_fingerprint_argument() -> None:
    with pytest.raises(InvalidKey):
        Identity.from_seed("a", b"short")
    with pytest.raises(InvalidKey):
        fingerprint(b"not an identity")  # type: ignore[arg-type]


def test_private_keys_not_in_repr() -> None:
    ident = Identity.generate("alice")
    assert "hidden" in repr(ident)
    assert bytes(ident.box_private).hex() not in repr(ident)


def test_verify_key_is_cached_per_key_and_takes_a_bytearray() -> None:
    """``verify_key`` is made once per key (issue 31) and a bytearray key still works: the cache
    is keyed on plain bytes."""
    alice, bob = Identity.generate("alice"), Identity.generate("bob")
    public = alice.public
    as_bytearray = PublicIdentity(public.name, public.encryption_key, bytearray(public.signing_key))
    assert as_bytearray.verify_key is public.verify_key
    assert bob.public.verify_key is not public.verify_key
    signed = alice.signing_private.sign(b"hello")
    assert as_bytearray.verify_key.verify(signed) == b"hello"
