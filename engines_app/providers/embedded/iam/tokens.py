"""Embedded IAM tokens: /identity/token's exchange of an API key, and verifying a bearer token.

Access tokens are HS256 JWTs signed with a key derived from SECRET_KEY.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid

import jwt
from django.conf import settings

from console.audit import AuditSubject, audit_denied, audit_record
from console.errors import ServiceError
from console.identity import Actor
from engines_app.providers.embedded.iam.models import ApiKey
from engines_app.providers.embedded.iam.services import _digest
from engines_app.providers.iam import Principal

APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"


class InvalidApiKeyError(ServiceError):
    code = "invalid_api_key"
    status = 400


class InvalidTokenError(ServiceError):
    code = "invalid_token"
    status = 401


def _signing_key() -> bytes:
    return hmac.new(
        settings.SECRET_KEY.encode(), b"sm-embedded-iam-token-signing", hashlib.sha256
    ).digest()


def _refusal(key: ApiKey | None, *, owner_locked: bool, owner_inactive: bool) -> str:
    if key is None:
        return "unknown API key"
    if key.locked:
        return "API key locked"
    return "owner locked" if owner_locked else "owner disabled" if owner_inactive else ""


def token_issue(*, apikey: str, audited: bool = True) -> dict[str, object]:
    """Exchange an API key for an access token, as IAM's /identity/token does (§1.2).

    Each exchange is a sign-in with the key, so it is audited (`iam.token.issue`, as IBM's
    activity tracking records API key logins), refused ones too, naming the key when it is known;
    the token and the key's value are never recorded. `audited=False` only checks a key.
    """
    key = (
        ApiKey.objects.select_related("service_id", "user__user")
        .filter(key_sha256=_digest(apikey or ""))
        .first()
        if apikey
        else None
    )
    owner_locked = key is not None and key.service_id is not None and key.service_id.locked
    owner_inactive = key is not None and key.user is not None and not key.user.user.is_active
    if key is None or key.locked or owner_locked or owner_inactive:
        if audited:
            audit_denied(
                actor=_owner(key) if key is not None else None,
                action="iam.token.issue",
                subject=AuditSubject("api_key", key.pk, key.name)
                if key
                else AuditSubject("api_key", ""),
                detail={
                    "reason": _refusal(
                        key, owner_locked=owner_locked, owner_inactive=owner_inactive
                    )
                },
            )
        # One message for every cause, so a caller learns nothing about which part was wrong.
        raise InvalidApiKeyError("Provided API key could not be found.")
    now = int(time.time())
    owner = _owner(key)
    iam_id, name = owner.iam_id, owner.name
    sub_type = "ServiceId" if key.service_id is not None else "user"
    claims = {
        "iss": f"{settings.SM_PUBLIC_URL}/identity",
        "sub": iam_id,
        "iam_id": iam_id,
        "name": name,
        "sub_type": sub_type,
        "identifier": key.pk,
        "account": {"bss": key.account_id},
        "grant_type": APIKEY_GRANT,
        "iat": now,
        "exp": now + settings.SM_TOKEN_TTL,
        "jti": str(uuid.uuid4()),
    }
    token = jwt.encode(claims, _signing_key(), algorithm="HS256")
    if audited:
        audit_record(
            actor=owner,
            action="iam.token.issue",
            object_type="api_key",
            object_id=key.pk,
            object_name=key.name,
            detail={"expires_in": settings.SM_TOKEN_TTL},
        )
    return {
        "access_token": token,
        "refresh_token": secrets.token_urlsafe(32),
        "token_type": "Bearer",
        "expires_in": settings.SM_TOKEN_TTL,
        "expiration": now + settings.SM_TOKEN_TTL,
        "scope": "ibm openid",
    }


def _owner(key: ApiKey) -> Actor:
    """Who signs in with the key: its service ID or its user."""
    if key.service_id is not None:
        return Actor(iam_id=key.service_id.iam_id, name=key.service_id.name)
    assert key.user is not None
    return Actor(iam_id=key.user.iam_id, name=key.user.user.get_username())


# Tolerated clock difference for a token's issue time.
TOKEN_LEEWAY_SECONDS = 60


def token_verify(token: str, *, now: float | None = None) -> Principal:
    """The principal of a token that this IAM issued, whose API key still exists and is unlocked.

    A token dies with its key: it names the key (`identifier`), which is looked up on every call,
    so locking or deleting a key (rotation deletes keys) ends the tokens issued for it at once.
    A token that claims a longer lifetime than SM_TOKEN_TTL, or an issue time in the future, is
    refused even when its signature is good.
    """
    now = time.time() if now is None else now
    try:
        claims = jwt.decode(
            token,
            _signing_key(),
            algorithms=["HS256"],
            options={"require": ["exp", "iat", "iam_id", "identifier"], "verify_exp": False},
            issuer=f"{settings.SM_PUBLIC_URL}/identity",
        )
        issued, expires = int(claims["iat"]), int(claims["exp"])
    except (jwt.InvalidTokenError, TypeError, ValueError):
        raise InvalidTokenError("The access token is not valid.") from None
    if expires <= now:
        raise InvalidTokenError("The access token has expired; request a new one.")
    if expires - issued > settings.SM_TOKEN_TTL or issued > now + TOKEN_LEEWAY_SECONDS:
        raise InvalidTokenError("The access token is not valid.")
    iam_id = str(claims["iam_id"])
    key = (
        ApiKey.objects.select_related("service_id", "user__user")
        .filter(pk=str(claims["identifier"]))
        .first()
    )
    if key is None or key.locked or key.owner_iam_id != iam_id:
        raise InvalidTokenError(
            "The API key behind this access token was deleted or locked; request a new token "
            "with a valid API key."
        )
    if key.service_id is not None:
        if key.service_id.locked:
            raise InvalidTokenError(
                "The identity behind this access token no longer exists or is locked."
            )
        return Principal(iam_id=iam_id, name=key.service_id.name, kind="service_id")
    assert key.user is not None
    if not key.user.user.is_active:
        raise InvalidTokenError(
            "The identity behind this access token no longer exists or is disabled."
        )
    return Principal(
        iam_id=iam_id,
        name=key.user.user.get_username(),
        kind="user",
        is_superuser=key.user.user.is_superuser,
    )
