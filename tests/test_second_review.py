"""The low-severity findings of the second security review, one regression test each.

* a PNG decompression bomb is refused by name before the message is stored;
* a refused message does not pin its sender's directory key in ``contacts``;
* (more below, each with its finding in the docstring).
"""

from __future__ import annotations

import struct
import zlib

import pytest

from toychat import Client, Server
from toychat.errors import ImageTooLarge, TamperedMessage
from toychat.images import decode_png, encode_png, stand_in_set
from toychat.scanning import HashListScanner


# ---- a PNG decompression bomb ------------------------------------------------------------------
def bomb_png(width: int, height: int) -> bytes:
    """A valid black-and-white PNG of ``width`` × ``height`` zero pixels: a few kilobytes
    that unpack to ``width * height`` pixels (built row by row, never whole in memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [5_000, 15_000], ids=["over the course's limit", "over Pillow's bomb limit"])
def test_a_decompression_bomb_is_refused_by_name_before_it_is_stored(side: int) -> None:
    listed = stand_in_set(4)
    server = Server(mode="plaintext", scanners=[HashListScanner(listed)])
    alice, bob = Client("alice", server), Client("bob", server)
    with pytest.raises(ImageTooLarge, match="decompression bomb"):
        alice.send("bob", bomb_png(side, side), content_type="image/png")
    assert server.log == []
    assert server.pending("bob") == 0
    picture = encode_png(listed[0])
    alice.send("bob", picture, content_type="image/png")
    assert [m.data for m in bob.receive()] == [picture]
    assert len(server.flags) == 1


def test_decode_png_refuses_a_bomb_from_its_header() -> None:
    with pytest.raises(ImageTooLarge):
        decode_png(bomb_png(15_000, 15_000))


# ---- contacts ---------------------------------------------------------------------------------
def test_a_refused_message_does_not_pin_the_senders_key() -> None:
    """Trust on first use keeps a contact's keys once a message from them is accepted,
    never because of a message this phone refused."""
    server = Server()
    mallory, bob = Client("mallory", server), Client("bob", server)
    forged = mallory.compose("bob", "hi").with_signature(bytes(64))
    server.inject("bob", forged.to_bytes())
    with pytest.raises(TamperedMessage):
        bob.receive()
    assert "mallory" not in bob.contacts
    mallory.send("bob", "hello for real")
    assert [m.text for m in bob.receive()] == ["hello for real"]
    assert bob.contacts["mallory"] == mallory.public
