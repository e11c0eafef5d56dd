"""A self-signed certificate for serving the app to a class over HTTPS from one machine.

Browsers give the camera only to localhost or to HTTPS pages, so students' laptops need HTTPS to
use the Live camera page. `certificate` makes a key and a certificate once, for this machine's
host name and LAN addresses, and keeps them in the cache folder; it makes new ones when those
names change (another network) or the certificate is about to expire. Students accept it once in
their browser. For a public server, a reverse proxy with a real certificate is the better way
(README, "Serving to a class").
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import socket
from pathlib import Path

from mesonet import config

VALID_DAYS = 365
RENEW_BEFORE_DAYS = 7


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses that others can reach: the default route's, and the host name's."""
    found = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # a documentation address: nothing is sent, only a route is picked
        found.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        found += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    return sorted({a for a in found if not ipaddress.ip_address(a).is_loopback})


def certificate_names() -> list[str]:
    """The names the certificate is valid for: localhost, 127.0.0.1, the host name and the LAN addresses."""
    return sorted({"localhost", "127.0.0.1", socket.gethostname(), *lan_addresses()})


def certificate(folder: Path | None = None) -> tuple[Path, Path]:
    """(certificate, private key) PEM files for this machine, made once and kept in `folder`.

    Args:
        folder: where to keep them (default: the cache folder's "tls" subfolder).
    """
    folder = folder or config.cache_dir() / "tls"
    cert_path, key_path, names_path = folder / "cert.pem", folder / "key.pem", folder / "names.json"
    names = certificate_names()
    if cert_path.exists() and key_path.exists() and names_path.exists():
        from cryptography import x509

        current = x509.load_pem_x509_certificate(cert_path.read_bytes())
        renew_at = current.not_valid_after_utc - datetime.timedelta(days=RENEW_BEFORE_DAYS)
        if json.loads(names_path.read_text()) == names and datetime.datetime.now(datetime.UTC) < renew_at:
            return cert_path, key_path
    folder.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = _self_signed(names)
    # The private key is readable by this user only.
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(key_pem)
    cert_path.write_bytes(cert_pem)
    names_path.write_text(json.dumps(names))
    return cert_path, key_path


def _self_signed(names: list[str]) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"MesoNet Studio on {socket.gethostname()}")])
    alternatives = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
