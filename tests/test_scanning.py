"""Server-side scanning: it works on the plaintext platform and fails on E2EE ciphertext."""

from __future__ import annotations

from toychat import Client, Server
from toychat.images import encode_png, lookalikes, stand_in_set
from toychat.scanning import ExactCiphertextScanner, HashListScanner, server_side_detection


def test_detection_on_plaintext_and_on_ciphertext() -> None:
    table = server_side_detection(20, edits=("resize", "jpeg", "border"))
    plain = table[table["platform"] == "plaintext"].set_index("sent")["rate"]
    e2ee = table[table["platform"] == "E2EE"].set_index("sent")["rate"]
    assert plain["listed image, unedited"] == 1.0
    assert plain["listed image, resize"] >= 0.9 and plain["listed image, jpeg"] >= 0.9
    assert plain["innocent look-alike"] == 0.0
    assert (e2ee == 0.0).all()  # nothing is ever caught on ciphertext


def test_same_image_twice_gives_unrelated_ciphertexts_so_exact_matching_fails() -> None:
    picture = encode_png(stand_in_set(1)[0])
    server = Server(mode="e2ee")
    alice, _ = Client("alice", server), Client("bob", server)
    first = alice.send("bob", picture, content_type="image/png")
    import hashlib

    scanner = ExactCiphertextScanner({hashlib.sha256(first.payload).hexdigest()})
    server.scanners.append(scanner)
    second = alice.send("bob", picture, content_type="image/png")
    assert first.payload != second.payload
    assert server.flags == []


def test_scanner_ignores_text_and_non_images() -> None:
    scanner = HashListScanner(stand_in_set(5))
    server = Server(mode="plaintext", scanners=[scanner])
    alice, _ = Client("alice", server), Client("bob", server)
    alice.send("bob", "just text")
    alice.send("bob", encode_png(lookalikes(1)[0]), content_type="image/png")
    alice.send("bob", encode_png(stand_in_set(5)[2]), content_type="image/png")
    assert len(server.flags) == 1 and "distance 0" in server.flags[0].label
