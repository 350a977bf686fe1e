from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings

from console.audit import AuditSubject
from console.identity import Actor
from engines_app.providers.embedded import seed
from engines_app.providers.embedded.iam import services, tokens
from engines_app.providers.embedded.iam.models import AccessGroup, AccessPolicy, ServiceId
from engines_app.providers.iam import (
    AccessGroupInfo,
    AuthorizationInfo,
    IssuedApiKey,
    Principal,
    ServiceIdInfo,
)


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

    def lock_api_key(self, *, actor: Actor, api_key_id: str) -> None:
        # IBM's lock (the key keeps working) is the embedded IAM's "protected", not its "locked".
        services.api_key_protect(actor=actor, api_key_id=api_key_id)

    def verify_token(self, token: str) -> Principal:
        return tokens.token_verify(token)

    def api_key_is_valid(self, value: str) -> bool:
        try:
            tokens.token_issue(apikey=value, audited=False)
        except tokens.InvalidApiKeyError:
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

    # --- Access decisions ---

    def principal_for_user(self, user: Any) -> Principal:
        return services.principal_for_user(user)

    def principal_for_actor(self, actor: Actor) -> Principal:
        return services.principal_for_actor(actor)

    def is_allowed(self, principal: Principal, action: str, *, secret_group_id: str | None) -> bool:
        return services.is_allowed(principal, action, secret_group_id=secret_group_id)

    def allowed_actions(
        self, principal: Principal, *, secret_group_id: str | None
    ) -> frozenset[str]:
        return services.allowed_actions(principal, secret_group_id=secret_group_id)

    def authorize(
        self,
        principal: Principal,
        action: str,
        *,
        secret_group_id: str | None,
        subject: AuditSubject | None = None,
        allowed: frozenset[str] | None = None,
    ) -> None:
        services.authorize(
            principal, action, secret_group_id=secret_group_id, subject=subject, allowed=allowed
        )

    def group_ids_allowing(self, principal: Principal, action: str) -> set[str] | None:
        return services.group_ids_allowing(principal, action)

    def roles_not_held(
        self,
        principal: Principal,
        *,
        service_id: str | None = None,
        access_group_ids: Iterable[str] = (),
    ) -> list[str]:
        sid = ServiceId.objects.filter(pk=service_id).first() if service_id else None
        if service_id and sid is None:
            return []
        return services.roles_not_held(principal, service_id=sid, access_group_ids=access_group_ids)

    # --- Identities ---

    @staticmethod
    def _info(sid: ServiceId) -> ServiceIdInfo:
        return ServiceIdInfo(
            id=sid.pk,
            name=sid.name,
            crn=sid.crn,
            locked=sid.locked,
            managed_by_secrets_manager=sid.managed_by_secrets_manager,
        )

    def service_ids(self, *, assignable_only: bool = False) -> list[ServiceIdInfo]:
        rows = ServiceId.objects.order_by("name")
        if assignable_only:
            rows = rows.filter(locked=False, managed_by_secrets_manager=False)
        return [self._info(sid) for sid in rows]

    def service_id_info(self, service_id: str) -> ServiceIdInfo | None:
        sid = ServiceId.objects.filter(pk=service_id).first()
        return self._info(sid) if sid else None

    def access_groups(self) -> list[AccessGroupInfo]:
        return [AccessGroupInfo(id=g.pk, name=g.name) for g in AccessGroup.objects.order_by("name")]

    def role_summary(self, service_id: str) -> list[str]:
        policies = AccessPolicy.objects.filter(service_id=service_id).select_related("secret_group")
        return [
            f"{p.role} on {p.secret_group.name if p.secret_group else 'the instance'}"
            for p in policies
        ]

    # --- Demo data and grants ---

    def seed_service_id(self, *, actor: Actor, name: str, description: str) -> ServiceIdInfo:
        return self._info(seed.service_id_ensure(actor=actor, name=name, description=description))

    def seed_access_groups(self, *, actor: Actor, groups: dict[str, str]) -> list[AccessGroup]:
        return seed.access_groups_ensure(actor=actor, groups=groups)

    def grant(
        self, *, actor: Actor, role: str, service_id: str, secret_group_id: str | None
    ) -> None:
        services.policy_grant(
            actor=actor,
            role=role,
            secret_group_id=secret_group_id,
            service_id=services.service_id_get(service_id),
        )

    # --- Authorizations ---

    def ensure_authorization(
        self,
        *,
        actor: Actor,
        source_service: str,
        target_service: str,
        target_resource: str,
        roles: Iterable[str],
    ) -> AuthorizationInfo:
        auth = services.authorization_ensure(
            actor=actor,
            source_service=source_service,
            target_service=target_service,
            target_resource=target_resource,
            roles=list(roles),
        )
        return AuthorizationInfo(
            pk=str(auth.pk),
            source_service=auth.source_service,
            target_service=auth.target_service,
            target_resource=auth.target_resource,
            roles=list(auth.roles),
        )
