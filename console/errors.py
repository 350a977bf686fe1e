"""Errors that services raise for the callers (console views, API views) to present.

Field-level input problems are django ValidationErrors keyed by field; these are the rest. Each
carries a snake_case code and an HTTP status for IBM's error body (reference/sm-api.md §7.1).
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(ServiceError):
    code = "not_found"
    status = 404


class ConflictError(ServiceError):
    code = "conflict"
    status = 409


class LimitExceededError(ServiceError):
    code = "limit_exceeded"
    status = 400


class AccessDeniedError(ServiceError):
    code = "forbidden"
    status = 403
