"""Common wrong answers ("mutants") for every autograded part of every exercise.

Each entry replaces one answer cell of a solution notebook with an answer a student
plausibly writes, which is wrong.  ``tests/test_exercise_mutants.py`` runs every one
against the part's *visible* tests (the hidden tests stripped off) and requires those
tests to fail it, so that a student studying alone, who has no grader, is told the
answer is wrong — with an ``AssertionError`` whose message says why, unless ``fails_with``
names the error the wrong answer itself raises in the test cell.

Add a mutant when you meet a wrong answer that passes the visible tests, then make
the visible tests reject it without revealing a hidden test's known answer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """A wrong answer for one part: ``part`` is the grade_id prefix (``"part-a"``), so the
    answer cell is ``part-a-answer`` and the visible tests are those of ``part-a-tests``."""

    part: str
    why: str
    source: str
    fails_with: str = "AssertionError"


MUTANTS: dict[str, list[Mutant]] = {
    "ex01_encryption": [
        Mutant(
            "part-a",
            "a fixed nonce: the same text always gives the same bytes",
            "def encrypt_text(key, text):\n"
            "    return bytes(nacl.secret.SecretBox(key).encrypt(text.encode('utf-8'), bytes(24)))\n\n\n"
            "def decrypt_text(key, data):\n"
            "    return nacl.secret.SecretBox(key).decrypt(data).decode('utf-8')\n",
        ),
        Mutant(
            "part-a",
            "Latin-1 instead of UTF-8",
            "def encrypt_text(key, text):\n"
            "    return bytes(nacl.secret.SecretBox(key).encrypt(text.encode('latin-1')))\n\n\n"
            "def decrypt_text(key, data):\n"
            "    return nacl.secret.SecretBox(key).decrypt(data).decode('latin-1')\n",
            fails_with="UnicodeEncodeError",
        ),
        Mutant(
            "part-a",
            "decrypt_text hides a failed decryption behind an empty string",
            "def encrypt_text(key, text):\n"
            "    return bytes(nacl.secret.SecretBox(key).encrypt(text.encode('utf-8')))\n\n\n"
            "def decrypt_text(key, data):\n"
            "    try:\n"
            "        return nacl.secret.SecretBox(key).decrypt(data).decode('utf-8')\n"
            "    except nacl.exceptions.CryptoError:\n"
            "        return ''\n",
        ),
        Mutant(
            "part-b",
            "too-short data treated as 'cannot tell', so not tampered",
            "def is_tampered(key, data):\n"
            "    if len(data) < 40:\n"
            "        return False\n"
            "    try:\n"
            "        nacl.secret.SecretBox(key).decrypt(data)\n"
            "    except nacl.exceptions.CryptoError:\n"
            "        return True\n"
            "    return False\n",
        ),
        Mutant(
            "part-b",
            "never detects anything",
            "def is_tampered(key, data):\n    return False\n",
        ),
        Mutant(
            "part-c",
            "SealedBox (anonymous) instead of Box between the two people",
            "def send_to(sender_private, recipient_public, text):\n"
            "    return bytes(nacl.public.SealedBox(recipient_public).encrypt(text.encode('utf-8')))\n\n\n"
            "def read_from(recipient_private, sender_public, data):\n"
            "    return nacl.public.SealedBox(recipient_private).decrypt(data).decode('utf-8')\n",
        ),
        Mutant(
            "part-c",
            "a fixed nonce",
            "def send_to(sender_private, recipient_public, text):\n"
            "    box = nacl.public.Box(sender_private, recipient_public)\n"
            "    return bytes(box.encrypt(text.encode(), bytes(24)))\n\n\n"
            "def read_from(recipient_private, sender_public, data):\n"
            "    return nacl.public.Box(recipient_private, sender_public).decrypt(data).decode('utf-8')\n",
        ),
        Mutant(
            "part-c",
            "read_from hides a failed decryption, so someone else's key 'reads' an empty text",
            "def send_to(sender_private, recipient_public, text):\n"
            "    return bytes(nacl.public.Box(sender_private, recipient_public).encrypt(text.encode('utf-8')))\n\n\n"
            "def read_from(recipient_private, sender_public, data):\n"
            "    try:\n"
            "        return nacl.public.Box(recipient_private, sender_public).decrypt(data).decode('utf-8')\n"
            "    except nacl.exceptions.CryptoError:\n"
            "        return ''\n",
        ),
        Mutant(
            "part-d",
            "only BadSignatureError caught: a signature of the wrong length raises",
            "def sign(signing_key, message):\n"
            "    return signing_key.sign(message).signature\n\n\n"
            "def verify(verify_key, message, signature):\n"
            "    try:\n"
            "        verify_key.verify(message, signature)\n"
            "    except nacl.exceptions.BadSignatureError:\n"
            "        return False\n"
            "    return True\n",
        ),
        Mutant(
            "part-d",
            "the signed message (signature and message) returned instead of the signature",
            "def sign(signing_key, message):\n"
            "    return bytes(signing_key.sign(message))\n\n\n"
            "def verify(verify_key, message, signature):\n"
            "    try:\n"
            "        verify_key.verify(signature)\n"
            "    except nacl.exceptions.CryptoError:\n"
            "        return False\n"
            "    return True\n",
        ),
        Mutant(
            "part-e",
            "the keys hashed in the wrong order",
            "def fingerprint(encryption_key, verify_key):\n"
            "    digest = hashlib.sha256(bytes(verify_key) + bytes(encryption_key)).hexdigest()\n"
            "    return ' '.join(digest[i:i + 4] for i in range(0, 64, 4))\n",
        ),
        Mutant(
            "part-e",
            "another hash (SHA3-256) of the right length",
            "def fingerprint(encryption_key, verify_key):\n"
            "    digest = hashlib.sha3_256(bytes(encryption_key) + bytes(verify_key)).hexdigest()\n"
            "    return ' '.join(digest[i:i + 4] for i in range(0, 64, 4))\n",
        ),
        Mutant(
            "part-e",
            "upper-case hex",
            "def fingerprint(encryption_key, verify_key):\n"
            "    digest = hashlib.sha256(bytes(encryption_key) + bytes(verify_key)).hexdigest().upper()\n"
            "    return ' '.join(digest[i:i + 4] for i in range(0, 64, 4))\n",
        ),
    ],
    "ex02_chat": [
        Mutant(
            "part-a",
            "a plaintext server: the log shows the text",
            "def exchange(text):\n"
            "    server = Server(mode='plaintext')\n"
            "    alice, bob = Client('alice', server), Client('bob', server)\n"
            "    alice.send('bob', text)\n"
            "    [message] = bob.receive()\n"
            "    return message.text, server.log[0].content_seen\n",
        ),
        Mutant("part-b", "always True", "def numbers_match(phone_a, phone_b):\n    return True\n"),
        Mutant(
            "part-b",
            "each phone's number compared for the same contact, so always equal",
            "def numbers_match(phone_a, phone_b):\n"
            "    return phone_a.safety_number(phone_b.name) == phone_a.safety_number(phone_b.name)\n",
        ),
        Mutant(
            "part-c",
            "step 2's inner halving loop left out",
            "def root_from_proof(data, index, size, proof):\n"
            "    if not 0 <= index < size:\n"
            "        raise ValueError('index out of range')\n"
            "    fn, sn, r = index, size - 1, leaf_hash(data)\n"
            "    for p in proof:\n"
            "        if sn == 0:\n"
            "            raise ValueError('proof too long')\n"
            "        if fn % 2 == 1 or fn == sn:\n"
            "            r = node_hash(p, r)\n"
            "        else:\n"
            "            r = node_hash(r, p)\n"
            "        fn >>= 1\n"
            "        sn >>= 1\n"
            "    if sn != 0:\n"
            "        raise ValueError('proof too short')\n"
            "    return r\n\n\n"
            "def is_included(data, index, size, proof, root):\n"
            "    try:\n"
            "        return root_from_proof(data, index, size, proof) == root\n"
            "    except ValueError:\n"
            "        return False\n",
        ),
        Mutant(
            "part-c",
            "no checks for invalid proofs: too long, too short or out of range all give a root",
            "def root_from_proof(data, index, size, proof):\n"
            "    fn, sn, r = index, size - 1, leaf_hash(data)\n"
            "    for p in proof:\n"
            "        if fn % 2 == 1 or fn == sn:\n"
            "            r = node_hash(p, r)\n"
            "            if fn % 2 == 0:\n"
            "                while fn % 2 == 0 and fn != 0:\n"
            "                    fn >>= 1\n"
            "                    sn >>= 1\n"
            "        else:\n"
            "            r = node_hash(r, p)\n"
            "        fn >>= 1\n"
            "        sn >>= 1\n"
            "    return r\n\n\n"
            "def is_included(data, index, size, proof, root):\n"
            "    return root_from_proof(data, index, size, proof) == root\n",
        ),
        Mutant(
            "part-c",
            "is_included lets root_from_proof's ValueError escape instead of returning False",
            "def root_from_proof(data, index, size, proof):\n"
            "    if not 0 <= index < size:\n"
            "        raise ValueError('index out of range')\n"
            "    fn, sn, r = index, size - 1, leaf_hash(data)\n"
            "    for p in proof:\n"
            "        if sn == 0:\n"
            "            raise ValueError('proof too long')\n"
            "        if fn % 2 == 1 or fn == sn:\n"
            "            r = node_hash(p, r)\n"
            "            while fn % 2 == 0 and fn != 0:\n"
            "                fn >>= 1\n"
            "                sn >>= 1\n"
            "        else:\n"
            "            r = node_hash(r, p)\n"
            "        fn >>= 1\n"
            "        sn >>= 1\n"
            "    if sn != 0:\n"
            "        raise ValueError('proof too short')\n"
            "    return r\n\n\n"
            "def is_included(data, index, size, proof, root):\n"
            "    return root_from_proof(data, index, size, proof) == root\n",
            fails_with="ValueError",
        ),
        Mutant(
            "part-d",
            "only devices missing from my_keys: a swapped key on a real device is missed",
            "def unexpected_devices(entries, user, my_keys):\n"
            "    return sorted({e.device for e in entries if e.user == user and e.action == 'add'\n"
            "                   and e.device not in my_keys})\n",
        ),
        Mutant(
            "part-d",
            "revoke entries counted too",
            "def unexpected_devices(entries, user, my_keys):\n"
            "    return sorted({e.device for e in entries if e.user == user\n"
            "                   and my_keys.get(e.device) != e.encryption_key})\n",
        ),
        Mutant(
            "part-d",
            "a list of every matching entry: duplicates, in log order",
            "def unexpected_devices(entries, user, my_keys):\n"
            "    return [e.device for e in entries if e.user == user and e.action == 'add'\n"
            "            and my_keys.get(e.device) != e.encryption_key]\n",
        ),
        Mutant(
            "part-d",
            "other users' entries not filtered out",
            "def unexpected_devices(entries, user, my_keys):\n"
            "    return sorted({e.device for e in entries if e.action == 'add'\n"
            "                   and my_keys.get(e.device) != e.encryption_key})\n",
        ),
        Mutant(
            "part-e",
            "the two constants swapped",
            "def chain_step(chain_key):\n"
            "    return (hmac.new(chain_key, b'\\x01', hashlib.sha256).digest(),\n"
            "            hmac.new(chain_key, b'\\x02', hashlib.sha256).digest())\n",
        ),
        Mutant(
            "part-e",
            "key and message swapped in hmac.new",
            "def chain_step(chain_key):\n"
            "    return (hmac.new(b'\\x02', chain_key, hashlib.sha256).digest(),\n"
            "            hmac.new(b'\\x01', chain_key, hashlib.sha256).digest())\n",
        ),
        Mutant(
            "part-f",
            "every exception caught, so a message that is not a ratchet message is silently dropped",
            "def read_all(receiver, arrivals):\n"
            "    texts = []\n"
            "    for header, ciphertext in arrivals:\n"
            "        try:\n"
            "            texts.append(receiver.decrypt(header, ciphertext).decode('utf-8'))\n"
            "        except Exception:\n"
            "            continue\n"
            "    return texts\n",
        ),
        Mutant(
            "part-f",
            "stops at the first bad arrival",
            "def read_all(receiver, arrivals):\n"
            "    texts = []\n"
            "    for header, ciphertext in arrivals:\n"
            "        try:\n"
            "            texts.append(receiver.decrypt(header, ciphertext).decode('utf-8'))\n"
            "        except (ReplayedMessage, TamperedMessage):\n"
            "            break\n"
            "    return texts\n",
        ),
        Mutant(
            "part-f",
            "copies not expected: ReplayedMessage crashes",
            "def read_all(receiver, arrivals):\n"
            "    texts = []\n"
            "    for header, ciphertext in arrivals:\n"
            "        try:\n"
            "            texts.append(receiver.decrypt(header, ciphertext).decode('utf-8'))\n"
            "        except TamperedMessage:\n"
            "            continue\n"
            "    return texts\n",
            fails_with="ReplayedMessage",
        ),
    ],
    "ex03_scanning": [
        Mutant(
            "part-a",
            "bits column by column instead of row by row",
            "def dhash_from_thumbnail(thumb):\n"
            "    thumb = np.asarray(thumb)\n"
            "    return (thumb[:, 1:] > thumb[:, :-1]).T.ravel()\n",
        ),
        Mutant(
            "part-a",
            "'at least as bright' instead of 'brighter'",
            "def dhash_from_thumbnail(thumb):\n"
            "    thumb = np.asarray(thumb)\n"
            "    return (thumb[:, 1:] >= thumb[:, :-1]).ravel()\n",
        ),
        Mutant(
            "part-a",
            "uint8 subtraction, which wraps round",
            "def dhash_from_thumbnail(thumb):\n"
            "    thumb = np.asarray(thumb)\n"
            "    return (thumb[:, 1:] - thumb[:, :-1] > 0).ravel()\n",
        ),
        Mutant(
            "part-b",
            "a numpy integer, not a Python int",
            "def hamming(a, b):\n    return np.count_nonzero(np.asarray(a) != np.asarray(b))\n",
        ),
        Mutant(
            "part-b",
            "one-sided: counts only positions True in a and False in b",
            "def hamming(a, b):\n    return int(np.count_nonzero(np.asarray(a) & ~np.asarray(b)))\n",
        ),
        Mutant(
            "part-c",
            "only the first listed hash compared",
            "def is_match(query, listed, threshold):\n    return bool(hamming(query, listed[0]) <= threshold)\n",
        ),
        Mutant(
            "part-c",
            "threshold exclusive",
            "def is_match(query, listed, threshold):\n"
            "    return bool(any(hamming(query, row) < threshold for row in listed))\n",
        ),
        Mutant(
            "part-d",
            "always 1.0",
            "def detection_rate(mode, pictures, listed):\n    return 1.0\n",
        ),
        Mutant(
            "part-d",
            "the mode ignored: always a plaintext server",
            "def detection_rate(mode, pictures, listed):\n"
            "    server = Server(mode='plaintext', scanners=[HashListScanner(listed)])\n"
            "    alice, _ = Client('alice', server), Client('bob', server)\n"
            "    for picture in pictures:\n"
            "        alice.send('bob', encode_png(picture), content_type='image/png')\n"
            "    return len(server.flags) / len(pictures)\n",
        ),
        Mutant(
            "part-d",
            "any flag counts as all flagged",
            "def detection_rate(mode, pictures, listed):\n"
            "    server = Server(mode=mode, scanners=[HashListScanner(listed)])\n"
            "    alice, _ = Client('alice', server), Client('bob', server)\n"
            "    for picture in pictures:\n"
            "        alice.send('bob', encode_png(picture), content_type='image/png')\n"
            "    return 1.0 if server.flags else 0.0\n",
        ),
        Mutant(
            "part-e",
            "days forgotten; innocent share without the no-flags case",
            "def expected_false_flags(rate, pictures_per_day, days):\n"
            "    return float(rate * pictures_per_day)\n\n\n"
            "def innocent_share(true_flags, false_flags):\n"
            "    return false_flags / (true_flags + false_flags)\n",
        ),
        Mutant(
            "part-e",
            "no flags at all divides by zero",
            "def expected_false_flags(rate, pictures_per_day, days):\n"
            "    return rate * pictures_per_day * days\n\n\n"
            "def innocent_share(true_flags, false_flags):\n"
            "    return false_flags / (true_flags + false_flags)\n",
            fails_with="ZeroDivisionError",
        ),
        Mutant(
            "part-e",
            "the share of true flags instead of innocent ones",
            "def expected_false_flags(rate, pictures_per_day, days):\n"
            "    return rate * pictures_per_day * days\n\n\n"
            "def innocent_share(true_flags, false_flags):\n"
            "    total = true_flags + false_flags\n"
            "    return true_flags / total if total else 0.0\n",
        ),
        Mutant(
            "part-f",
            "the running change never clipped to the budget",
            "def evade_within(picture, budget):\n"
            "    rng = np.random.default_rng(0)\n"
            "    original = hashing.dct_hash([picture])[0]\n"
            "    base = picture.astype(float)\n"
            "    delta = np.zeros_like(base)\n"
            "    best = 0\n"
            "    for _ in range(3000):\n"
            "        u, v = rng.integers(0, 8, 2)\n"
            "        trial = delta + rng.choice([-3.0, 3.0]) * 4 * smooth_pattern(u, v)\n"
            "        candidate = np.clip(np.rint(base + trial), 0, 255).astype(np.uint8)\n"
            "        moved = hamming(hashing.dct_hash([candidate])[0], original)\n"
            "        if moved >= best:\n"
            "            best, delta = moved, trial\n"
            "        if best > 8:\n"
            "            break\n"
            "    return np.clip(np.rint(base + delta), 0, 255).astype(np.uint8)\n",
        ),
        Mutant(
            "part-f",
            "a float array returned, not uint8",
            "def evade_within(picture, budget):\n    return picture.astype(float) + budget / 2\n",
        ),
    ],
    "ex04_reporting_and_metadata": [
        Mutant(
            "part-a",
            "key and message swapped in hmac.new",
            "def franking_commitment(message, franking_key):\n"
            "    if len(franking_key) != 32:\n"
            "        raise ValueError('a franking key is exactly 32 bytes')\n"
            "    return hmac.new(message, franking_key, hashlib.sha256).digest()\n",
        ),
        Mutant(
            "part-a",
            "a plain hash of key and message instead of an HMAC",
            "def franking_commitment(message, franking_key):\n"
            "    if len(franking_key) != 32:\n"
            "        raise ValueError('a franking key is exactly 32 bytes')\n"
            "    return hashlib.sha256(franking_key + message).digest()\n",
        ),
        Mutant(
            "part-a",
            "no check of the key's length",
            "def franking_commitment(message, franking_key):\n"
            "    return hmac.new(franking_key, message, hashlib.sha256).digest()\n",
        ),
        Mutant(
            "part-b",
            "every error turned into None",
            "def check_report(service, report):\n"
            "    try:\n"
            "        return service.verify(report)\n"
            "    except Exception:\n"
            "        return None\n",
        ),
        Mutant(
            "part-b",
            "the report's message returned unchecked",
            "def check_report(service, report):\n    return report.message\n",
        ),
        Mutant(
            "part-c",
            "messages counted, not distinct minors",
            "def minors_contacted(events, accounts):\n"
            "    minor = accounts['is_minor'].to_numpy()[events['recipient'].to_numpy()]\n"
            "    counts = events[minor].groupby('sender')['recipient'].count()\n"
            "    return counts.reindex(range(len(accounts)), fill_value=0).astype(int)\n",
        ),
        Mutant(
            "part-c",
            "reindexed without a fill value: floats with NaN filled afterwards",
            "def minors_contacted(events, accounts):\n"
            "    minor = accounts['is_minor'].to_numpy()[events['recipient'].to_numpy()]\n"
            "    counts = events[minor].groupby('sender')['recipient'].nunique()\n"
            "    return counts.reindex(range(len(accounts))).fillna(0)\n",
        ),
        Mutant(
            "part-c",
            "only accounts that messaged a minor",
            "def minors_contacted(events, accounts):\n"
            "    minor = accounts['is_minor'].to_numpy()[events['recipient'].to_numpy()]\n"
            "    return events[minor].groupby('sender')['recipient'].nunique()\n",
        ),
        Mutant(
            "part-d",
            "minors who do follow the sender, instead of those who do not",
            "def unsolicited_minors(events, accounts):\n"
            "    minor = accounts['is_minor'].to_numpy()[events['recipient'].to_numpy()]\n"
            "    chosen = events[minor & events['recipient_follows_sender'].to_numpy()]\n"
            "    counts = chosen.groupby('sender')['recipient'].nunique()\n"
            "    return counts.reindex(range(len(accounts)), fill_value=0).astype(int)\n",
        ),
        Mutant(
            "part-d",
            "floats",
            "def unsolicited_minors(events, accounts):\n"
            "    minor = accounts['is_minor'].to_numpy()[events['recipient'].to_numpy()]\n"
            "    chosen = events[minor & ~events['recipient_follows_sender'].to_numpy()]\n"
            "    counts = chosen.groupby('sender')['recipient'].nunique()\n"
            "    return counts.reindex(range(len(accounts))).fillna(0)\n",
        ),
        Mutant(
            "part-e",
            "adults messaging minors who do not follow them, alone",
            "def my_rule(features):\n"
            "    return (features['is_adult'] == 1) & (features['minors_not_following'] >= 1)\n",
        ),
        Mutant(
            "part-e",
            "a numpy array instead of a Series",
            "def my_rule(features):\n"
            "    adult = features['is_adult'] == 1\n"
            "    new_profile = adult & (features['account_age_days'] < 30) & (features['minors_not_following'] >= 3)\n"
            "    return new_profile.to_numpy()\n",
        ),
        Mutant(
            "part-f",
            "prevalence forgotten for the innocent accounts",
            "def precision_from(recall, false_positive_rate, prevalence):\n"
            "    true = recall * prevalence\n"
            "    false = false_positive_rate\n"
            "    return true / (true + false) if true + false else 0.0\n",
        ),
        Mutant(
            "part-f",
            "nothing flagged divides by zero",
            "def precision_from(recall, false_positive_rate, prevalence):\n"
            "    true = recall * prevalence\n"
            "    return true / (true + false_positive_rate * (1 - prevalence))\n",
            fails_with="ZeroDivisionError",
        ),
        Mutant(
            "part-g",
            "innocent flags counted over all users, abusive ones included",
            "def monthly_flags(users, prevalence, recall, false_positive_rate):\n"
            "    return recall * users * prevalence, false_positive_rate * users\n",
        ),
        Mutant(
            "part-g",
            "a list, not a tuple",
            "def monthly_flags(users, prevalence, recall, false_positive_rate):\n"
            "    abusive = users * prevalence\n"
            "    return [recall * abusive, false_positive_rate * (users - abusive)]\n",
        ),
    ],
    "ex05_claims": [
        Mutant(
            "part-a",
            "the right labels and total, the counts in the wrong cells",
            "def side_by_type(claims):\n"
            "    import numpy as np\n"
            "    table = pd.crosstab(claims['side'], claims['claim_type'])\n"
            "    return pd.DataFrame(np.sort(table.to_numpy(), axis=None).reshape(table.shape),\n"
            "                        index=table.index, columns=table.columns)\n",
        ),
        Mutant(
            "part-a",
            "with totals",
            "def side_by_type(claims):\n    return pd.crosstab(claims['side'], claims['claim_type'], margins=True)\n",
        ),
        Mutant(
            "part-b",
            "the side's share of all normative claims",
            "def normative_share(claims, side):\n"
            "    mine = claims[claims['side'] == side]\n"
            "    if mine.empty:\n"
            "        raise ValueError(side)\n"
            "    normative = claims[claims['claim_type'] == 'normative']\n"
            "    return float((normative['side'] == side).mean())\n",
        ),
        Mutant(
            "part-b",
            "any plausible fraction",
            "def normative_share(claims, side):\n    return 0.5\n",
        ),
        Mutant(
            "part-b",
            "no ValueError for an unknown side",
            "def normative_share(claims, side):\n"
            "    mine = claims[claims['side'] == side]\n"
            "    return float((mine['claim_type'] == 'normative').sum() / max(len(mine), 1))\n",
        ),
        Mutant(
            "part-c",
            "claims without a figure kept",
            "def figures(claims):\n"
            "    shown = claims[['claim_id', 'value', 'unit']]\n"
            "    return shown.sort_values('value', ascending=False).reset_index(drop=True)\n",
        ),
        Mutant(
            "part-c",
            "the old index kept",
            "def figures(claims):\n"
            "    shown = claims[claims['value'].notna()][['claim_id', 'value', 'unit']]\n"
            "    return shown.sort_values('value', ascending=False)\n",
        ),
        Mutant(
            "part-d",
            "the first value taken without checking that they agree",
            "def per_year(claims, unit):\n"
            "    values = claims.loc[claims['unit'] == unit, 'value'].dropna()\n"
            "    if values.empty:\n"
            "        raise ValueError(unit)\n"
            "    return float(values.iloc[0]) * 12\n",
        ),
        Mutant(
            "part-d",
            "no claims: an IndexError instead of ValueError",
            "def per_year(claims, unit):\n"
            "    values = claims.loc[claims['unit'] == unit, 'value'].dropna().unique()\n"
            "    if len(values) > 1:\n"
            "        raise ValueError(unit)\n"
            "    return float(values[0]) * 12\n",
            fails_with="IndexError",
        ),
        Mutant(
            "part-e",
            "the word read as a regular expression",
            "def mentioning(claims, word):\n"
            "    found = claims['quote'].str.contains(word, case=False)\n"
            "    return claims.loc[found, 'claim_id'].tolist()\n",
        ),
        Mutant(
            "part-e",
            "ids sorted instead of in table order",
            "def mentioning(claims, word):\n"
            "    found = claims['quote'].str.contains(word, case=False, regex=False)\n"
            "    return sorted(claims.loc[found, 'claim_id'].tolist())\n",
        ),
        Mutant(
            "part-e",
            "case-sensitive",
            "def mentioning(claims, word):\n"
            "    found = claims['quote'].str.contains(word, regex=False)\n"
            "    return claims.loc[found, 'claim_id'].tolist()\n",
        ),
        Mutant(
            "part-f",
            "C030 left out",
            "def technique_for(claim_id):\n"
            "    return {'C092': 'server-side scanning', 'C122': 'client-side scanning',\n"
            "            'C137': 'metadata detection', 'C153': 'metadata detection',\n"
            "            'C076': 'metadata detection', 'C139': 'user reports'}[claim_id]\n",
        ),
        Mutant(
            "part-f",
            "a technique misspelt",
            "def technique_for(claim_id):\n"
            "    return {'C092': 'server-side scanning', 'C122': 'client side scanning',\n"
            "            'C137': 'metadata detection', 'C153': 'metadata detection',\n"
            "            'C076': 'metadata detection', 'C139': 'user reports',\n"
            "            'C030': 'client-side scanning'}[claim_id]\n",
        ),
        Mutant(
            "part-f",
            "Meta's two behavioural signals answered differently",
            "def technique_for(claim_id):\n"
            "    return {'C092': 'server-side scanning', 'C122': 'client-side scanning',\n"
            "            'C137': 'metadata detection', 'C153': 'metadata detection',\n"
            "            'C076': 'user reports', 'C139': 'user reports',\n"
            "            'C030': 'client-side scanning'}[claim_id]\n",
        ),
        Mutant(
            "part-f",
            "None instead of KeyError for an id not in the list",
            "def technique_for(claim_id):\n"
            "    return {'C092': 'server-side scanning', 'C122': 'client-side scanning',\n"
            "            'C137': 'metadata detection', 'C153': 'metadata detection',\n"
            "            'C076': 'metadata detection', 'C139': 'user reports',\n"
            "            'C030': 'client-side scanning'}.get(claim_id)\n",
        ),
    ],
}


#: Per exercise, a wrong answer that passes the visible tests and fails only the hidden ones:
#: no visible test can catch every wrong answer without giving the hidden inputs away.
#: ``tests/test_exercise_mutants.py`` checks that each passes its visible tests;
#: ``tests/test_nbgrader_pipeline.py`` grades it and checks that the hidden tests take the part's
#: points and that the feedback says a hidden test failed.
HIDDEN_ONLY: dict[str, Mutant] = {
    "ex01_encryption": Mutant(
        "part-a",
        "a length limit the text never asked for: only the first 1,000 characters are kept",
        "def encrypt_text(key, text):\n"
        "    return bytes(nacl.secret.SecretBox(key).encrypt(text[:1000].encode('utf-8')))\n\n\n"
        "def decrypt_text(key, data):\n"
        "    return nacl.secret.SecretBox(key).decrypt(data).decode('utf-8')\n",
    ),
    "ex02_chat": Mutant(
        "part-f",
        "TooManySkipped skipped too, although the text says to let it reach the caller",
        "def read_all(receiver, arrivals):\n"
        "    from toychat.errors import TooManySkipped\n"
        "    texts = []\n"
        "    for header, ciphertext in arrivals:\n"
        "        try:\n"
        "            texts.append(receiver.decrypt(header, ciphertext).decode('utf-8'))\n"
        "        except (ReplayedMessage, TamperedMessage, TooManySkipped):\n"
        "            continue\n"
        "    return texts\n",
    ),
    "ex03_scanning": Mutant(
        "part-a",
        "int8 to avoid uint8 wrap-around, but grey levels above 127 overflow",
        "def dhash_from_thumbnail(thumb):\n"
        "    thumb = np.asarray(thumb).astype(np.int8)\n"
        "    return (thumb[:, 1:] > thumb[:, :-1]).ravel()\n",
    ),
    "ex04_reporting_and_metadata": Mutant(
        "part-c",
        "only the first 1,000 messages looked at",
        "def minors_contacted(events, accounts):\n"
        "    events = events.iloc[:1000]\n"
        "    minor = accounts['is_minor'].to_numpy()[events['recipient'].to_numpy()]\n"
        "    counts = events[minor].groupby('sender')['recipient'].nunique()\n"
        "    return counts.reindex(range(len(accounts)), fill_value=0).astype(int)\n",
    ),
    "ex05_claims": Mutant(
        "part-c",
        "only the top 20 figures",
        "def figures(claims):\n"
        "    shown = claims[claims['value'].notna()][['claim_id', 'value', 'unit']]\n"
        "    return shown.sort_values('value', ascending=False).head(20).reset_index(drop=True)\n",
    ),
}
