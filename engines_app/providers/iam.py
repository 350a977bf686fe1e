"""The IAM provider interface: identities, keys and authorizations the secrets code relies on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from console.identity import Actor
from engines_app.providers.registry import load_provider


@dataclass(frozen=True)
class IssuedApiKey:
    api_key_id: str
    value: str  # shown once; never stored in clear


class IAMProvider(Protocol):
    def account_id(self) -> str: ...

    def service_id_exists(self, service_id: str) -> bool: ...

    def missing_access_groups(self, access_group_ids: Iterable[str]) -> list[str]: ...

    def create_service_id(
        self, *, actor: Actor, name: str, description: str, access_group_ids: Iterable[str]
    ) -> str:
        """Create a service ID managed by Secrets Manager, as a member of the given groups."""
        ...

    def delete_service_id(self, *, actor: Actor, service_id: str) -> None: ...

    def create_api_key(
        self, *, actor: Actor, service_id: str, name: str, description: str
    ) -> IssuedApiKey: ...

    def delete_api_key(self, *, actor: Actor, api_key_id: str) -> None: ...

    def api_key_is_valid(self, value: str) -> bool: ...

    def verify_token(self, token: str) -> Any:
        """The principal an access token stands for, or a ServiceError with status 401."""
        ...

    def authorization_exists(
        self,
        *,
        source_service: str,
        target_service: str,
        target_resource: str,
        roles: Iterable[str],
    ) -> bool: ...


def get_iam() -> IAMProvider:
    """The implementation named in settings.SM_PROVIDERS (the embedded cloud by default)."""
    return cast(IAMProvider, load_provider("iam"))


def verify_access_token(token: str) -> Any:
    """settings.SM_API_TOKEN_VERIFIER: what console.api calls for every bearer token."""
    return get_iam().verify_token(token)
