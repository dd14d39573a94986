"""The DTLS certificate every viewer's webrtcbin presents: ECDSA P-256, made once per run.

GStreamer's own DTLS certificate is RSA. Browsers accept either, but WebRTC stacks that
offer only ECDHE-ECDSA cipher suites (aiortc, for one) then find no shared cipher and the
handshake fails. An ECDSA certificate serves both, and signs handshakes faster. Only its
fingerprint matters to the viewer (it travels in the signed-over signaling channel), so
it is self-signed and never stored.
"""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALIDITY = timedelta(days=365)
_lock = threading.Lock()


def dtls_certificate_pem() -> str:
    """Certificate and private key, PEM, as dtlssrtpdec's `pem` property takes them.

    Made on first use, once: webrtcbin threads of viewers joining together may ask at the
    same moment, and each must get the same certificate the offers' fingerprint names.
    """
    with _lock:
        return _make_certificate_pem()


@functools.cache
def _make_certificate_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aether")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert_pem + key_pem


@functools.cache
def dtls_fingerprint() -> str:
    """SHA-256 fingerprint of the certificate, as SDP writes it (RFC 8122)."""
    pem = dtls_certificate_pem().encode()
    digest = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256())
    return digest.hex(":").upper()


def with_fingerprint(sdp: str, fingerprint: str) -> str:
    """The SDP with every `a=fingerprint` line naming this SHA-256 fingerprint.

    webrtcbin 1.22 derives the offer's fingerprint from the certificate text without
    telling a certificate from the key that follows it, so its line is wrong once the
    certificate is replaced; the DTLS handshake itself presents the right one.
    """
    lines = sdp.split("\r\n")
    for i, line in enumerate(lines):
        if line.startswith("a=fingerprint:"):
            lines[i] = f"a=fingerprint:sha-256 {fingerprint}"
    return "\r\n".join(lines)
