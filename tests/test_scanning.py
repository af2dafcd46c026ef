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
    assert plain["listed image, resize"] >= 0.9
    assert plain["listed image, jpeg"] >= 0.9
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
    assert len(server.flags) == 1
    assert "distance 0" in server.flags[0].label


# ---- client-side scanning ----------------------------------------------------------------
import numpy as np  # noqa: E402

from toychat import hashing  # noqa: E402
from toychat.scanning import (  # noqa: E402
    ClientSideScanner,
    account_false_flag_probability,
    binomial_tail,
    client_side_detection,
    evade,
    false_positive_table,
    force_collision,
    meme_set,
    search_summary,
)


def test_client_side_scanning_restores_detection_under_e2ee() -> None:
    table = client_side_detection(20, edits=("resize", "jpeg")).set_index("sent")["rate"]
    assert table["listed image, unedited"] == 1.0
    assert table["listed image, jpeg"] >= 0.9
    assert table["innocent look-alike"] == 0.0


def test_account_threshold_reports_only_at_the_threshold() -> None:
    listed = stand_in_set(5)
    scanner = ClientSideScanner(listed, account_threshold=3)
    server = Server(mode="e2ee")
    alice = Client("alice", server, outgoing_hooks=[scanner])
    Client("bob", server)
    for image in listed[:2]:
        alice.send("bob", encode_png(image), content_type="image/png")
    alice.send("bob", "text is not scanned")
    assert scanner.matches == {"alice": 2}
    assert scanner.reports == []
    alice.send("bob", encode_png(listed[2]), content_type="image/png")
    assert [r.account for r in scanner.reports] == ["alice"]
    assert scanner.scanned == 3
    assert server.log[-1].content_seen.startswith("ciphertext")  # still end-to-end encrypted


def test_evasion_succeeds_with_small_changes() -> None:
    results = [evade(image, seed=i) for i, image in enumerate(stand_in_set(8))]
    summary = search_summary(results)
    assert summary["success_rate"] == 1.0
    assert summary["max_abs_change"] <= 10.0
    assert summary["mean_abs_change"] < 6.0
    for image, result in zip(stand_in_set(8), results, strict=True):
        assert hashing.hamming(hashing.dct_hash([image])[0], hashing.dct_hash([result.image])[0]) > 8


def test_forced_collision_makes_an_innocent_image_match() -> None:
    targets = hashing.dct_hash(stand_in_set(10))
    results = [force_collision(image, targets[i]) for i, image in enumerate(lookalikes(10))]
    assert search_summary(results)["success_rate"] >= 0.6
    for result, target in zip(results, targets, strict=True):
        if result.success:
            assert hashing.hamming(hashing.dct_hash([result.image])[0], target) <= 8
            assert result.max_abs_change <= 48.0


def test_false_positive_table_grows_with_the_threshold() -> None:
    table = false_positive_table(200, 1000, thresholds=(0, 8, 16))
    rates = table["false_positive_rate"].tolist()
    assert rates == sorted(rates)
    assert rates[0] == 0.0
    assert rates[-1] > 0.0


def test_binomial_tail_and_account_probability() -> None:
    assert binomial_tail(10, 0.5, 0) == 1.0
    assert binomial_tail(10, 0.5, 11) == 0.0
    assert abs(binomial_tail(10, 0.5, 5) - 638 / 1024) < 1e-12
    assert abs(binomial_tail(1000, 0.01, 1) - (1 - 0.99**1000)) < 1e-9
    assert account_false_flag_probability(1e-3, 1000, 30) < 1e-20
    assert account_false_flag_probability(0.05, 1000, 30) > 0.99


def test_the_same_scanner_matches_any_list_it_is_given() -> None:
    memes = meme_set(10)
    scanner = ClientSideScanner(memes, account_threshold=1, list_name="political memes")
    server = Server(mode="e2ee")
    alice = Client("alice", server, outgoing_hooks=[scanner])
    Client("bob", server)
    for image in memes[:3]:
        alice.send("bob", encode_png(image), content_type="image/png")
    assert scanner.matches["alice"] == 3
    assert scanner.reports[0].list_name == "political memes"
    assert not np.array_equal(memes[0], stand_in_set(1)[0])
