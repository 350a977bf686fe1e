"""Load demo data: a few secret groups and enough arbitrary secrets to page through. Idempotent."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console.identity import SYSTEM, Actor, actor_for_user
from secrets_app import services
from secrets_app.models import Secret, SecretGroup, SecretType
from secrets_app.seed import seed_embedded_cloud

GROUPS = [
    ("payments", "Card processing and payout credentials"),
    ("platform-team", "Shared infrastructure credentials"),
    ("ci-cd", "Build and deployment pipelines"),
]
# (name, group, labels, description, versions)
SERVICES = [
    "stripe",
    "adyen",
    "postgres",
    "redis",
    "github",
    "artifactory",
    "pagerduty",
    "datadog",
    "sendgrid",
    "twilio",
    "slack",
    "okta",
]
ENVIRONMENTS = ["dev", "staging", "prod"]


def demo_secrets() -> list[tuple[str, str, list[str], str, int]]:
    rows = []
    for i, service in enumerate(SERVICES):
        for j, env in enumerate(ENVIRONMENTS):
            group = GROUPS[(i + j) % len(GROUPS)][0] if (i + j) % 4 else "default"
            labels = [env, service] + (["us-south"] if j % 2 == 0 else ["eu-de"])
            description = f"{service.title()} credentials for {env}"
            versions = 1 + (i + j) % 3
            rows.append((f"{service}-{env}-token", group, labels, description, versions))
    return rows


class Command(BaseCommand):
    help = "Create demo secret groups and arbitrary secrets with versions (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self._actor()
        services.default_group_ensure()
        made_groups = 0
        for name, description in GROUPS:
            if not SecretGroup.objects.filter(name=name).exists():
                services.group_create(actor=actor, name=name, description=description)
                made_groups += 1
        group_ids = dict(SecretGroup.objects.values_list("name", "pk"))
        made_secrets = 0
        for name, group, labels, description, versions in demo_secrets():
            if Secret.objects.filter(secret_type=SecretType.ARBITRARY, name=name).exists():
                continue
            secret = services.arbitrary_secret_create(
                actor=actor,
                name=name,
                payload=f"demo-{secrets.token_urlsafe(24)}",
                secret_group_id=group_ids[group],
                description=description,
                labels=labels,
                custom_metadata={"owner": group, "demo": True},
                version_custom_metadata={"reason": "initial"},
            )
            for n in range(2, versions + 1):
                services.arbitrary_secret_rotate(
                    actor=actor,
                    secret_id=secret.pk,
                    payload=f"demo-{secrets.token_urlsafe(24)}",
                    version_custom_metadata={"reason": f"rotation {n - 1}"},
                )
            made_secrets += 1
        cloud = seed_embedded_cloud(actor=actor)
        self.stdout.write(
            f"Demo data ready: {made_groups} new groups, {made_secrets} new secrets "
            f"({Secret.objects.count()} secrets in {SecretGroup.objects.count()} groups); "
            f"embedded cloud: {cloud['configurations']} custom credentials configurations, "
            f"{cloud['service_instances']} new service instances, {cloud['custom_secrets']} new custom credentials secret."
        )

    def _actor(self) -> Actor:
        admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
        return actor_for_user(admin) if admin else SYSTEM
