"""The DTLS certificate and the fingerprint the offer announces for it."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from aether.peers.certificate import dtls_certificate_pem, dtls_fingerprint, with_fingerprint
from tests.sdp_samples import ANSWER


def test_certificate_is_ecdsa_p256_with_its_key_and_stable_for_the_run() -> None:
    pem = dtls_certificate_pem()
    assert "-----BEGIN PRIVATE KEY-----" in pem
    certificate = x509.load_pem_x509_certificate(pem.encode())
    key = certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"
    assert dtls_certificate_pem() == pem


def test_fingerprint_is_the_certificates_sha256_in_sdp_form() -> None:
    certificate = x509.load_pem_x509_certificate(dtls_certificate_pem().encode())
    digest = certificate.fingerprint(hashes.SHA256())
    fingerprint = dtls_fingerprint()
    assert fingerprint == ":".join(f"{b:02X}" for b in digest)
    assert len(fingerprint.split(":")) == 32


def test_every_fingerprint_line_is_replaced_and_nothing_else() -> None:
    assert ANSWER.count("a=fingerprint:") >= 1
    sdp = ANSWER + "a=fingerprint:sha-1 00:11\r\n"
    out = with_fingerprint(sdp, "AB:CD")
    fingerprints = [line for line in out.split("\r\n") if line.startswith("a=fingerprint:")]
    assert fingerprints and all(line == "a=fingerprint:sha-256 AB:CD" for line in fingerprints)
    others = [line for line in out.split("\r\n") if not line.startswith("a=fingerprint:")]
    assert others == [line for line in sdp.split("\r\n") if not line.startswith("a=fingerprint:")]
