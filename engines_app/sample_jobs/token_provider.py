"""Sample credentials provider job: access tokens of the embedded token service (§5).

Run as ``python token_provider.py`` with the job environment of §5.4 plus ``TOKEN_SERVICE_DB``
(the path of the ``token_service.py`` store). Job declaration::

    SMIN_USER_NAME="type:string, required:true"
    SMIN_SCOPE="type:enum[admin|user], required:false"
    SMIN_EXPIRES="type:integer, required:false"
    SMOUT_TOKEN="type:string, required:true"

Create checks that ``user_name`` is known, issues a token with ``scope`` (default user) valid for
``expires`` seconds (default 3600, 60..31536000) and reports ``{"token": <value>}`` with the token
id as the credentials id. If that report is refused, the token is deleted again. Delete revokes
the token whose id is ``SM_CREDENTIALS_ID``; a token that is already gone counts as deleted.

Error codes: ERR10000 unknown action, ERR10001 unknown user, ERR10002 invalid input,
ERR10003 token store missing or unusable, ERR10004 delete without ``SM_CREDENTIALS_ID``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing's for mypy, without importing typing (see _protocol)

if TYPE_CHECKING or __package__:  # mypy checks the package form only
    from . import _protocol, token_service
else:  # run as a script: the sample_jobs directory is sys.path[0]
    import _protocol
    import token_service

ERR_UNKNOWN_ACTION = "ERR10000"
ERR_UNKNOWN_USER = "ERR10001"
ERR_INVALID_INPUT = "ERR10002"
ERR_STORE = "ERR10003"
ERR_NO_CREDENTIALS_ID = "ERR10004"

DEFAULT_SCOPE = "user"
DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 31_536_000

STORE_ENV = "TOKEN_SERVICE_DB"


def _store_path(ctx: _protocol.JobContext) -> str:
    path = ctx.environ.get(STORE_ENV, "").strip()
    if not path:
        raise _protocol.JobError(
            ERR_STORE, f"the token service is not configured ({STORE_ENV} is not set)"
        )
    return path


def _store_failure(ctx: _protocol.JobContext, exc: token_service.StoreError) -> _protocol.JobError:
    ctx.warn(str(exc))
    return _protocol.JobError(ERR_STORE, "the token service store is missing or unreadable")


def _user_name(ctx: _protocol.JobContext) -> str:
    raw = ctx.param("user_name")
    if raw is None:
        raise _protocol.JobError(ERR_INVALID_INPUT, "user_name is required")
    return raw.strip()


def _scope(ctx: _protocol.JobContext) -> str:
    raw = ctx.param("scope")
    if raw is None:
        return DEFAULT_SCOPE
    scope = raw.strip()
    if scope not in token_service.SCOPES:
        raise _protocol.JobError(ERR_INVALID_INPUT, "scope must be admin or user")
    return scope


def create(ctx: _protocol.JobContext) -> _protocol.Created:
    user_name = _user_name(ctx)
    scope = _scope(ctx)
    expires = _protocol.int_param(
        ctx,
        "expires",
        default=DEFAULT_EXPIRES,
        low=MIN_EXPIRES,
        high=MAX_EXPIRES,
        code=ERR_INVALID_INPUT,
    )
    store = _store_path(ctx)
    shown_user = _protocol.printable(user_name)
    unknown = _protocol.JobError(
        ERR_UNKNOWN_USER, f"user '{shown_user}' is not known to the token service"
    )
    try:
        if not token_service.known_user(store, user_name):
            raise unknown
        token_id, token_value = token_service.create_token(
            store, user_name=user_name, scope=scope, expires_seconds=expires
        )
    except token_service.UnknownUserError:
        raise unknown from None
    except token_service.StoreError as exc:
        raise _store_failure(ctx, exc) from None

    def undo() -> None:
        token_service.delete_token(store, token_id)

    return _protocol.Created(
        credentials_id=token_id,
        payload={"token": token_value},
        undo=undo,
        summary=f"token {token_id} created for user {shown_user} (scope {scope}, {expires}s)",
    )


def delete(ctx: _protocol.JobContext) -> str:
    if ctx.credentials_id is None:
        raise _protocol.JobError(
            ERR_NO_CREDENTIALS_ID, "no credentials id was given: SM_CREDENTIALS_ID is empty"
        )
    store = _store_path(ctx)
    try:
        removed = token_service.delete_token(store, ctx.credentials_id)
    except token_service.StoreError as exc:
        raise _store_failure(ctx, exc) from None
    token = _protocol.printable(ctx.credentials_id)
    return f"token {token} deleted" if removed else f"token {token} was already deleted"


PROVIDER = _protocol.Provider(
    name="token-provider",
    create=create,
    delete=delete,
    unknown_action_code=ERR_UNKNOWN_ACTION,
    internal_error_code=ERR_STORE,
    internal_error_message="the token service failed unexpectedly",
)


if __name__ == "__main__":
    raise SystemExit(_protocol.main(PROVIDER))
