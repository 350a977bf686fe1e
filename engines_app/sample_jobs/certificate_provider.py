"""Sample credentials provider job: self-signed X.509 certificates (reference/sm-api.md §5).

Run as ``python certificate_provider.py`` with the job environment of §5.4. Job declaration::

    SMIN_COMMON_NAME="type:string, required:true"
    SMIN_EXPIRATION_DAYS="type:integer, required:false"
    SMIN_KEY_ALGO="type:enum[RSA|ECDSA], required:false"
    SMOUT_CERTIFICATE_BASE64="type:string, required:true"
    SMOUT_PRIVATE_KEY_BASE64="type:string, required:true"

Create makes an RSA 2048 or ECDSA P-256 key and a self-signed certificate whose CN is
``common_name`` (plus a SAN when the name looks like a host name or an IP address), valid for
``expiration_days`` days. The credentials id is the certificate serial number in lowercase hex.
Delete has nothing external to revoke, so it reports ``credentials_deleted``.

Error codes: Err10001 unknown action, Err10002 invalid input, Err10003 generation failed.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import re
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING or __package__:  # mypy checks the package form only
    from . import _protocol
else:  # run as a script: the sample_jobs directory is sys.path[0]
    import _protocol

ERR_UNKNOWN_ACTION = "Err10001"
ERR_INVALID_INPUT = "Err10002"
ERR_GENERATION_FAILED = "Err10003"

DEFAULT_EXPIRATION_DAYS = 90
MAX_EXPIRATION_DAYS = 825
KEY_ALGOS = ("RSA", "ECDSA")
MAX_COMMON_NAME_CHARS = 64  # X.509 ub-common-name

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*\.?")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _common_name(ctx: _protocol.JobContext) -> str:
    raw = ctx.param("common_name")
    if raw is None:
        raise _protocol.JobError(ERR_INVALID_INPUT, "common_name is required")
    name = raw.strip()
    if len(name) > MAX_COMMON_NAME_CHARS:
        raise _protocol.JobError(
            ERR_INVALID_INPUT, f"common_name must be at most {MAX_COMMON_NAME_CHARS} characters"
        )
    if not name.isprintable():
        raise _protocol.JobError(
            ERR_INVALID_INPUT, "common_name must not contain control characters"
        )
    return name


def _key_algo(ctx: _protocol.JobContext) -> str:
    raw = ctx.param("key_algo")
    if raw is None:
        return "RSA"
    algo = raw.strip()
    if algo not in KEY_ALGOS:
        raise _protocol.JobError(ERR_INVALID_INPUT, "key_algo must be RSA or ECDSA")
    return algo


def _subject_alt_name(common_name: str) -> x509.SubjectAlternativeName | None:
    """A SAN for a common name that is an IP address or looks like a DNS host name."""
    try:
        address = ipaddress.ip_address(common_name)
    except ValueError:
        pass
    else:
        return x509.SubjectAlternativeName([x509.IPAddress(address)])
    if len(common_name) <= 253 and _HOST_NAME.fullmatch(common_name):
        return x509.SubjectAlternativeName([x509.DNSName(common_name.rstrip(".").lower())])
    return None


def _generate_key(algo: str) -> PrivateKey:
    if algo == "ECDSA":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _self_signed(common_name: str, days: int, key: PrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    # Certificates carry whole seconds, so the validity is exactly ``days`` days.
    not_before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    public_key = key.public_key()
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    san = _subject_alt_name(common_name)
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(key, hashes.SHA256())


def create(ctx: _protocol.JobContext) -> _protocol.Created:
    common_name = _common_name(ctx)
    days = _protocol.int_param(
        ctx,
        "expiration_days",
        default=DEFAULT_EXPIRATION_DAYS,
        low=1,
        high=MAX_EXPIRATION_DAYS,
        code=ERR_INVALID_INPUT,
    )
    algo = _key_algo(ctx)
    try:
        key = _generate_key(algo)
        certificate = _self_signed(common_name, days, key)
        certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    except Exception as exc:
        # The message of a cryptography error is not shown: only its class is logged.
        ctx.warn(f"certificate generation failed ({type(exc).__name__})")
        raise _protocol.JobError(
            ERR_GENERATION_FAILED, f"the {algo} certificate could not be generated"
        ) from None
    serial = format(certificate.serial_number, "x")

    def undo() -> None:
        """Nothing exists outside this process: dropping the key material is the undo."""

    return _protocol.Created(
        credentials_id=serial,
        payload={
            "certificate_base64": base64.b64encode(certificate_pem).decode("ascii"),
            "private_key_base64": base64.b64encode(key_pem).decode("ascii"),
        },
        undo=undo,
        summary=f"certificate {serial} created ({algo}, {days} days)",
    )


def delete(ctx: _protocol.JobContext) -> str:
    serial = ctx.credentials_id or "(no credentials id)"
    return f"certificate {serial}: nothing to revoke for a self-signed certificate"


PROVIDER = _protocol.Provider(
    name="certificate-provider",
    create=create,
    delete=delete,
    unknown_action_code=ERR_UNKNOWN_ACTION,
    internal_error_code=ERR_GENERATION_FAILED,
    internal_error_message="the certificate could not be generated",
)


if __name__ == "__main__":
    raise SystemExit(_protocol.main(PROVIDER))
