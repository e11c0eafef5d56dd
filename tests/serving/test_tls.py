"""mesonet.serving.tls: the self-signed certificate of `mesonet serve --https`."""

from __future__ import annotations

import ipaddress

from cryptography import x509

from mesonet.serving import tls


def alternative_names(cert_path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n) for n in names.get_values_for_type(x509.DNSName)} | {
        str(n) for n in names.get_values_for_type(x509.IPAddress)
    }


def test_made_once_for_this_machines_names_with_a_private_key(tmp_path):
    cert_path, key_path = tls.certificate(tmp_path)
    assert {"localhost", "127.0.0.1"} <= alternative_names(cert_path) == set(tls.certificate_names())
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert all(not ipaddress.ip_address(a).is_loopback for a in tls.lan_addresses())
    made = cert_path.read_bytes()
    assert tls.certificate(tmp_path)[0].read_bytes() == made  # kept, not made again


def test_made_again_on_another_network(tmp_path, monkeypatch):
    cert_path, _ = tls.certificate(tmp_path)
    monkeypatch.setattr(tls, "lan_addresses", lambda: ["10.20.30.40"])
    again, _ = tls.certificate(tmp_path)
    assert "10.20.30.40" in alternative_names(again)
