"""What the Access page reads: the policies a Manager may see, grouped by scope, and the
subjects and scopes they may assign roles to. Scopes: None for every scope (a Manager of the
instance), otherwise the ids of the secret groups the viewer manages."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Model

from engines_app.providers.embedded.iam.models import AccessGroup, AccessPolicy, Role, ServiceId
from engines_app.providers.embedded.iam.services import secret_groups

# The value of the instance-wide scope in forms and in the page's ?scope= filter.
INSTANCE = "instance"

SUBJECT_KINDS = {"user": "User", "service_id": "Service ID", "access_group": "Access group"}

ROLE_HELP = {
    Role.READER: "Sees secrets' metadata, secret groups, tasks and configurations; no values.",
    Role.SECRETS_READER: "Reader, and reveals secret values.",
    Role.WRITER: "SecretsReader, and creates, edits and rotates secrets.",
    Role.MANAGER: "Writer, and deletes secrets, manages groups, locks and configurations, and "
    "assigns roles where it holds it.",
    Role.SECRET_TASK_UPDATER: "For credentials provider jobs: reports task results, nothing else.",
}


@dataclass(frozen=True)
class Scope:
    value: str  # INSTANCE or a secret group's id
    label: str

    @property
    def is_instance(self) -> bool:
        return self.value == INSTANCE

    @property
    def in_text(self) -> str:
        """The label inside a sentence: "the whole instance", "secret group payments"."""
        return self.label[:1].lower() + self.label[1:]


@dataclass
class ScopeSection:
    """One scope's policies, as a block of the Access page's table."""

    scope: Scope
    policies: list[AccessPolicy] = field(default_factory=list)


@dataclass(frozen=True)
class Subject:
    value: str  # "<kind>:<id>", a form value
    kind: str
    label: str
    obj: Model


def manageable_scopes(scopes: set[str] | None) -> list[Scope]:
    """The scopes a viewer may assign on: the instance first (for its Managers), then groups by
    name."""
    groups = secret_groups().order_by("name")
    if scopes is not None:
        groups = groups.filter(pk__in=scopes)
    found = [
        Scope(str(pk), f"Secret group {name}") for pk, name in groups.values_list("pk", "name")
    ]
    return ([Scope(INSTANCE, "The whole instance")] if scopes is None else []) + found


def policy_sections(
    scopes: set[str] | None, *, only: str = "", kind: str = ""
) -> list[ScopeSection]:
    """Every policy the viewer may see, in one section per scope they manage (empty ones too),
    or only the scope `only` names; `kind` keeps one kind of subject ("user", ...)."""
    sections = {
        s.value: ScopeSection(s) for s in manageable_scopes(scopes) if only in ("", s.value)
    }
    policies = AccessPolicy.objects.select_related(
        "user__user", "service_id", "access_group", "secret_group"
    ).order_by("role", "created_at")
    if only == INSTANCE:
        policies = policies.filter(secret_group__isnull=True)
    elif only:
        policies = policies.filter(secret_group_id=only)
    elif scopes is not None:
        policies = policies.filter(secret_group_id__in=scopes)
    if kind:
        policies = policies.filter(**{f"{kind}__isnull": False})
    for policy in policies:
        key = str(policy.secret_group_id) if policy.secret_group_id else INSTANCE
        if key in sections:
            sections[key].policies.append(policy)
    for section in sections.values():
        section.policies.sort(key=lambda p: (p.subject_kind, p.subject_name.lower(), p.role))
    return list(sections.values())


def assignable_subjects() -> dict[str, list[Subject]]:
    """Who can be given a role, by kind: active users, service IDs (not locked) and access groups."""
    users = get_user_model()._default_manager.filter(is_active=True).order_by("username")
    return {
        "user": [Subject(f"user:{u.pk}", "user", u.get_username(), u) for u in users],
        "service_id": [
            Subject(f"service_id:{s.pk}", "service_id", s.name, s)
            for s in ServiceId.objects.filter(locked=False).order_by("name")
        ],
        "access_group": [
            Subject(f"access_group:{g.pk}", "access_group", g.name, g)
            for g in AccessGroup.objects.order_by("name")
        ],
    }
