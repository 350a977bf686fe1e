"""Sample credentials provider job: keys derived from another secret, read through the API (§5.5).

Run as ``python derived_key_provider.py`` with the job environment of §5.4. Job declaration::

    SMIN_SOURCE_SECRET_ID="type:secret_id, required:true"
    SMIN_CONTEXT="type:string, required:false"
    SMOUT_DERIVED_KEY="type:string, required:true"

Create reads the source secret with ``GET {SM_INSTANCE_URL}/api/v2/secrets/{source_secret_id}``
(with the access token of ``SM_ACCESS_APIKEY``), takes its value (an arbitrary secret's
``payload``, an IAM credentials secret's ``api_key``, a custom credentials secret's
``credentials_content``) and reports ``derived_key`` = HMAC-SHA256(value, "<context>:<secret
id>:<credentials id>") in hex, under a fresh credentials id. So the source (a master key) never
leaves Secrets Manager, each secret gets its own key, and rotating the secret derives a new one. Delete has nothing to revoke (the key is not stored
anywhere else) and reports success.

**Its service ID needs the SecretsReader role on the source secret's group** (besides
SecretTaskUpdater on the group of the secrets it serves); without it the read is refused
(403, or 404 outside its scope) and the task fails with ERR20001.

Error codes: ERR20000 unknown action, ERR20001 the source secret cannot be read (missing, or
no SecretsReader), ERR20002 invalid input, ERR20003 a source type without a usable value,
ERR20004 Secrets Manager did not answer the read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid

TYPE_CHECKING = False  # as typing's for mypy, without importing typing (see _protocol)
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING or __package__:  # mypy checks the package form only
    from . import _protocol
else:  # run as a script: the sample_jobs directory is sys.path[0]
    import _protocol

ERR_UNKNOWN_ACTION = "ERR20000"
ERR_SOURCE_UNREADABLE = "ERR20001"
ERR_INVALID_INPUT = "ERR20002"
ERR_SOURCE_TYPE = "ERR20003"
ERR_READ_FAILED = "ERR20004"

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DEFAULT_CONTEXT = "derived-key"


def _source_id(ctx: _protocol.JobContext) -> str:
    raw = ctx.param("source_secret_id")
    if raw is None or not UUID_RE.match(raw.strip()):
        raise _protocol.JobError(ERR_INVALID_INPUT, "source_secret_id must be a secret id (UUID)")
    return raw.strip()


def source_value(secret: dict[str, Any]) -> bytes:
    """The value a key is derived from, by the source's type (as IBM's Go jobs type-switch)."""
    kind = secret.get("secret_type")
    if kind == "arbitrary" and isinstance(secret.get("payload"), str):
        return str(secret["payload"]).encode()
    if kind == "iam_credentials" and isinstance(secret.get("api_key"), str):
        return str(secret["api_key"]).encode()
    if kind == "custom_credentials" and isinstance(secret.get("credentials_content"), dict):
        return json.dumps(secret["credentials_content"], sort_keys=True).encode()
    raise _protocol.JobError(
        ERR_SOURCE_TYPE,
        f"the source secret is of type {_protocol.printable(str(kind))} or holds no value; "
        "use an arbitrary, IAM credentials or custom credentials secret",
    )


def derive(value: bytes, *, context: str, secret_id: str, credentials_id: str) -> str:
    message = f"{context}:{secret_id}:{credentials_id}".encode()
    return hmac.new(value, message, hashlib.sha256).hexdigest()


def _read_source(ctx: _protocol.JobContext, source_id: str) -> dict[str, Any]:
    try:
        token = _protocol.fetch_access_token(ctx)
        status, body = _protocol.read_secret(ctx, token, source_id)
    except _protocol.DeliveryError as exc:
        ctx.warn(str(exc))
        raise _protocol.JobError(ERR_READ_FAILED, "Secrets Manager did not answer") from None
    if status in (403, 404):
        raise _protocol.JobError(
            ERR_SOURCE_UNREADABLE,
            f"source secret {source_id} cannot be read (HTTP {status}): it must exist, and the "
            "job's service ID needs the SecretsReader role on its secret group",
        )
    if status != 200 or not isinstance(body, dict):
        raise _protocol.JobError(ERR_READ_FAILED, f"reading the source secret gave HTTP {status}")
    return body


def create(ctx: _protocol.JobContext) -> _protocol.Created:
    source_id = _source_id(ctx)
    context = (ctx.param("context") or DEFAULT_CONTEXT).strip()
    secret = _read_source(ctx, source_id)
    credentials_id = f"derived-{uuid.uuid4()}"
    key = derive(
        source_value(secret),
        context=context,
        secret_id=ctx.secret_id,
        credentials_id=credentials_id,
    )

    def undo() -> None:  # nothing was stored outside Secrets Manager
        return None

    return _protocol.Created(
        credentials_id=credentials_id,
        payload={"derived_key": key},
        undo=undo,
        summary=f"key {credentials_id} derived from secret {source_id}",
    )


def delete(ctx: _protocol.JobContext) -> str:
    shown = _protocol.printable(ctx.credentials_id or "(none)")
    return f"derived key {shown} forgotten (nothing to revoke)"


PROVIDER = _protocol.Provider(
    name="derived-key-provider",
    create=create,
    delete=delete,
    unknown_action_code=ERR_UNKNOWN_ACTION,
    internal_error_code=ERR_READ_FAILED,
    internal_error_message="the derived key provider failed unexpectedly",
)


if __name__ == "__main__":
    raise SystemExit(_protocol.main(PROVIDER))
