"""A self-signed certificate for 127.0.0.1 and localhost, as a site's ``deploy/certs`` (the
broker's ``server.*`` and the proxy's ``hub.*``)."""

from __future__ import annotations

import ipaddress
import shutil
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.instants import machine_now


def write_certificate(directory: Path) -> Path:
    """Write ``server.crt`` and ``server.key`` (readable by the services' users) into
    ``directory``; return the certificate (the clients' CA: it signs itself)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = machine_now()  # validity is checked against the machine's clock by OpenSSL
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    crt = directory / "server.crt"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    # The same certificate for the proxy (hub.crt/hub.key: the hub's public name).
    shutil.copyfile(crt, directory / "hub.crt")
    shutil.copyfile(directory / "server.key", directory / "hub.key")
    for path in (directory, *directory.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return crt
