"""A throwaway certificate authority standing in for Apple: a root, a WWDR-like intermediate, and
a Pass Type ID certificate issued by it, written as the files an organiser would configure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

PASS_TYPE_ID = "pass.com.example.tickets"
TEAM_ID = "A1B2C3D4E5"
KEY_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class WalletFiles:
    root: Path
    """The CA file `openssl cms -verify` trusts."""
    wwdr: Path
    """The intermediate, in DER as Apple hands it out."""
    certificate: Path
    private_key: Path
    """PEM, encrypted with `KEY_PASSWORD`."""

    def settings(self) -> dict[str, str]:
        return {
            "wallet_pass_type_id": PASS_TYPE_ID,
            "wallet_team_id": TEAM_ID,
            "wallet_organization_name": "Teatro Example",
            "wallet_certificate": str(self.certificate),
            "wallet_private_key": str(self.private_key),
            "wallet_private_key_password": KEY_PASSWORD,
            "wallet_wwdr_certificate": str(self.wwdr),
        }


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str, key: rsa.RSAPrivateKey, issuer: x509.Name, issuer_key: rsa.RSAPrivateKey, *, ca: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def make_wallet_files(folder: Path) -> WalletFiles:
    root_key, wwdr_key, pass_key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)
    )
    root = _issue("Test Root CA", root_key, _name("Test Root CA"), root_key, ca=True)
    wwdr = _issue("Test WWDR Intermediate", wwdr_key, root.subject, root_key, ca=True)
    certificate = _issue(f"Pass Type ID: {PASS_TYPE_ID}", pass_key, wwdr.subject, wwdr_key, ca=False)
    files = WalletFiles(
        root=folder / "root.pem",
        wwdr=folder / "wwdr.cer",
        certificate=folder / "pass.pem",
        private_key=folder / "pass.key",
    )
    files.root.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    files.wwdr.write_bytes(wwdr.public_bytes(serialization.Encoding.DER))
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.private_key.write_bytes(
        pass_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
        )
    )
    return files
