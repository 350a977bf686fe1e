"""Who may do what to a secret (IAM roles on its group, sm-api.md and DESIGN.md's security model):

    action      Reader  SecretsReader  Writer  Manager
    reveal        -          yes        yes      yes
    rotate        -           -         yes      yes
    edit          -           -         yes      yes
    delete        -           -          -       yes

Roles nest (Manager ⊇ Writer ⊇ SecretsReader ⊇ Reader); a role on another group counts for
nothing; the job's SecretTaskUpdater reports on tasks and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.errors import AccessDeniedError
from console.models import AuditEvent
from engines_app.providers.embedded.iam.models import ApiKey
from engines_app.providers.iam import Principal
from secrets_app.models import Secret, SecretVersion
from secrets_app.services.deletion import secret_delete
from secrets_app.services.editing import secret_metadata_update, secret_version_metadata_update
from secrets_app.services.reading import secret_reveal
from secrets_app.services.rotation import secret_rotate
from tests.factories import create_group, create_secret, create_user, grant
from tests.lifecycle import factories as f
from tests.lifecycle.conftest import principal

pytestmark = pytest.mark.django_db

ACTIONS: dict[str, Callable[[Principal, Secret], Any]] = {
    "reveal": lambda who, s: secret_reveal(principal=who, secret_id=s.pk, reason="check"),
    "rotate": lambda who, s: secret_rotate(principal=who, secret_id=s.pk, payload="rotated"),
    "edit": lambda who, s: secret_metadata_update(
        principal=who, secret_id=s.pk, changes={"description": "edited"}
    ),
    "edit version": lambda who, s: secret_version_metadata_update(
        principal=who, secret_id=s.pk, version="current", version_custom_metadata={"x": 1}
    ),
    "delete": lambda who, s: secret_delete(principal=who, secret_id=s.pk),
}
ALLOWED = {
    "nobody": set(),
    "Reader": set(),
    "SecretsReader": {"reveal"},
    "Writer": {"reveal", "rotate", "edit", "edit version"},
    "Manager": {"reveal", "rotate", "edit", "edit version", "delete"},
}


def unchanged(secret: Secret) -> bool:
    stored = Secret.objects.filter(pk=secret.pk).first()
    return (
        stored is not None
        and not stored.downloaded
        and stored.description == ""
        and SecretVersion.objects.filter(secret=secret).count() == 1
        and SecretVersion.objects.get(secret=secret).version_custom_metadata == {}
    )


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", list(ALLOWED))
def test_matrix(role, action, group, people):
    secret = create_secret(group=group, payload="the value")
    who = people[role]
    if action in ALLOWED[role]:
        ACTIONS[action](who, secret)
        assert AuditEvent.objects.filter(actor_id=who.iam_id).exists()
    else:
        with pytest.raises(AccessDeniedError) as exc:
            ACTIONS[action](who, secret)
        assert exc.value.status == 403
        assert unchanged(secret)
        assert not AuditEvent.objects.filter(actor_id=who.iam_id).exists()


@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_role_on_another_group_counts_for_nothing(action, group):
    other = create_group(name="other-team")
    user = create_user(username="other-manager")
    grant(user, "Manager", group=other)
    secret = create_secret(group=group)
    with pytest.raises(AccessDeniedError):
        ACTIONS[action](principal(user), secret)
    assert unchanged(secret)


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_instance_wide_role_covers_every_group(action, group):
    user = create_user(username="everywhere")
    grant(user, "Manager")
    ACTIONS[action](principal(user), create_secret(group=group))


@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_jobs_role_reports_on_tasks_only(action, group, custom_world):
    with pytest.raises(AccessDeniedError):
        ACTIONS[action](f.job_principal(), create_secret(group=group))


def test_a_refused_reveal_issues_no_key(group, people, iam_engine):
    secret = f.iam_secret(group=group, reuse=False)
    keys = ApiKey.objects.count()
    with pytest.raises(AccessDeniedError):
        secret_reveal(principal=people["Reader"], secret_id=secret.pk)
    assert ApiKey.objects.count() == keys and secret.versions.count() == 1


def test_custom_credentials_rotation_and_delete(group, people, custom_world):
    secret = f.activate(f.custom_secret(group=group))
    for role in ("Reader", "SecretsReader"):
        with pytest.raises(AccessDeniedError):
            secret_rotate(principal=people[role], secret_id=secret.pk)
    secret_rotate(principal=people["Writer"], secret_id=secret.pk)
    with pytest.raises(AccessDeniedError):
        secret_delete(principal=people["Writer"], secret_id=secret.pk, force=True)
    secret_delete(principal=people["Manager"], secret_id=secret.pk, force=True)
    assert not Secret.objects.filter(pk=secret.pk).exists()


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [("owner", set(ACTIONS)), ("teammate_ro", set()), ("stranger", set())],
)
def test_the_suites_personas(persona, allowed, group, request):
    """owner: Manager of the instance; teammate_ro: Reader of the instance; stranger: nothing."""
    who = principal(request.getfixturevalue(persona))
    for action in ACTIONS:
        secret = create_secret(group=group, payload="the value")
        if action in allowed:
            ACTIONS[action](who, secret)
        else:
            with pytest.raises(AccessDeniedError):
                ACTIONS[action](who, secret)
            assert unchanged(secret)
