from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from console.identity import Actor
from engines_app.providers.embedded.iam import services
from engines_app.providers.embedded.iam.models import AccessGroup, ServiceId
from engines_app.providers.iam import IssuedApiKey


class EmbeddedIAM:
    """IAMProvider backed by the console's own database."""

    def account_id(self) -> str:
        return str(settings.SM_ACCOUNT_ID)

    def service_id_exists(self, service_id: str) -> bool:
        return ServiceId.objects.filter(pk=service_id, locked=False).exists()

    def missing_access_groups(self, access_group_ids: Iterable[str]) -> list[str]:
        wanted = list(access_group_ids)
        found = set(AccessGroup.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        return [g for g in wanted if g not in found]

    def create_service_id(
        self, *, actor: Actor, name: str, description: str, access_group_ids: Iterable[str]
    ) -> str:
        sid = services.service_id_create(
            actor=actor, name=name, description=description, managed=True
        )
        for group_id in access_group_ids:
            services.access_group_add_member(actor=actor, access_group_id=group_id, service_id=sid)
        return sid.pk

    def delete_service_id(self, *, actor: Actor, service_id: str) -> None:
        services.service_id_delete(actor=actor, service_id=service_id)

    def create_api_key(
        self, *, actor: Actor, service_id: str, name: str, description: str
    ) -> IssuedApiKey:
        key, value = services.api_key_create(
            actor=actor,
            name=name,
            description=description,
            service_id=services.service_id_get(service_id),
        )
        return IssuedApiKey(api_key_id=key.pk, value=value)

    def delete_api_key(self, *, actor: Actor, api_key_id: str) -> None:
        services.api_key_delete(actor=actor, api_key_id=api_key_id)

    def verify_token(self, token: str) -> services.Principal:
        return services.token_verify(token)

    def api_key_is_valid(self, value: str) -> bool:
        try:
            services.token_issue(apikey=value)
        except services.InvalidApiKeyError:
            return False
        return True

    def authorization_exists(
        self,
        *,
        source_service: str,
        target_service: str,
        target_resource: str,
        roles: Iterable[str],
    ) -> bool:
        return services.authorization_exists(
            source_service=source_service,
            target_service=target_service,
            target_resource=target_resource,
            roles=roles,
        )
