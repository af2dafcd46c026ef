"""A stand-alone relay with a self-signed certificate (``--certfile/--keyfile``):
a student's Python trusts it with ``SSL_CERT_FILE`` (docs/deploying.md), and
without it gets a named error that says what to do.

The certificate is made at test time with the ``cryptography`` package.  Each
student runs in a fresh Python process, as a kernel would, so the environment
variable is read exactly as it is in class.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.relay_load import RelayProcess
from support.nbtools import REPO

pytestmark = pytest.mark.integration

STUDENT = """
import sys
from toychat import Client
from toychat.relay import RemoteServer, RelayUnavailable
url = sys.argv[1]
try:
    alice, bob = Client("alice-" + sys.argv[2], RemoteServer(url)), Client("bob-" + sys.argv[2], RemoteServer(url))
except RelayUnavailable as exc:
    print("RelayUnavailable:", exc)
    raise SystemExit(3)
alice.send(bob.name, "over https")
print([m.text for m in bob.receive()])
"""


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        pytest.fail("the cryptography package is needed to make the test certificate (requirements.txt)")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "toychat class relay")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay-cert.pem", folder / "relay-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture
def tls_relay(tmp_path: Path) -> Iterator[tuple[RelayProcess, Path]]:
    cert, key = self_signed(tmp_path)
    relay = RelayProcess(
        db=tmp_path / "class.sqlite",
        log_path=tmp_path / "relay.log",
        extra_args=("--certfile", str(cert), "--keyfile", str(key)),
    )
    relay.start()
    yield relay, cert
    relay.stop()


def student(url: str, tag: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    environment.update(env, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-c", STUDENT, url, tag],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def test_self_signed_relay_is_trusted_with_ssl_cert_file(tls_relay: tuple[RelayProcess, Path]) -> None:
    relay, cert = tls_relay
    assert relay.url.startswith("https://")
    done = student(relay.url, "trusted", SSL_CERT_FILE=str(cert))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "['over https']"


def test_self_signed_relay_without_ssl_cert_file_is_a_named_error_saying_what_to_do(
    tls_relay: tuple[RelayProcess, Path],
) -> None:
    relay, _ = tls_relay
    done = student(relay.url, "untrusted")
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout.startswith("RelayUnavailable:")
    assert "CERTIFICATE_VERIFY_FAILED" in done.stdout
    assert "SSL_CERT_FILE" in done.stdout
