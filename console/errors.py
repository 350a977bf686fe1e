"""Errors that services raise for the callers (console views, API views) to present.

Field-level input problems are django ValidationErrors keyed by field; these are the rest. Each
carries a snake_case code and an HTTP status for IBM's error body (reference/sm-api.md §7.1).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class ServiceError(Exception):
    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @classmethod
    def unauthorized(cls, message: str) -> ServiceError:
        error = cls(message)
        error.code, error.status = "unauthorized", 401
        return error


class NotFoundError(ServiceError):
    code = "not_found"
    status = 404


class ConflictError(ServiceError):
    code = "conflict"
    status = 409


class LockedError(ServiceError):
    """A lock forbids it: IBM answers 412 Precondition Failed when a lock blocks deleting data,
    rotating past a locked version or deleting a locked secret (its secret-locks docs)."""

    code = "secret_version_locked"
    status = 412


class LimitExceededError(ServiceError):
    code = "limit_exceeded"
    status = 400


class AccessDeniedError(ServiceError):
    code = "forbidden"
    status = 403


class DuplicateNameError(ValidationError):
    """A name that is already taken.

    A field error like any other in the console (422 with the message under the field); the API
    answers it with 409 Conflict (sm-api.md §7.2), naming the field in `target`.
    """

    code = "conflict"
    status = 409

    def __init__(self, field: str, message: str) -> None:
        super().__init__({field: message})
        self.field = field
        self.message = message
