"""policy_grant and policy_revoke: who may assign and revoke which role where, the last Manager of
the instance, duplicates, and the audit rows both write."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from console.errors import AccessDeniedError, NotFoundError
from console.identity import actor_for_user
from console.models import AuditEvent
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import AccessPolicy, Role
from engines_app.providers.embedded.iam.policies import LastManagerError, policy_revoke
from tests.access.conftest import SETUP
from tests.factories import create_user, grant

pytestmark = pytest.mark.django_db


def _subject(kind: str, *, user, service_id, access_group) -> dict:
    if kind == "user":
        return {"user": iam.iam_user_for(user)}
    return {"service_id": service_id} if kind == "service_id" else {"access_group": access_group}


@pytest.mark.parametrize("kind", ["user", "service_id", "access_group"])
@pytest.mark.parametrize("scope", ["instance", "group"])
def test_a_manager_grants_and_revokes_for_every_subject_kind_and_scope(
    kind, scope, manager, group_a, service_id, access_group
):
    target = create_user(username="target")
    subject = _subject(kind, user=target, service_id=service_id, access_group=access_group)
    group_id = group_a.pk if scope == "group" else None
    actor = actor_for_user(manager)

    policy = iam.policy_grant(
        actor=actor, role=Role.WRITER, secret_group_id=group_id, exists_ok=False, **subject
    )
    assert policy.secret_group_id == group_id and policy.role == Role.WRITER
    granted = AuditEvent.objects.get(action="iam.policy.grant", object_id=str(policy.pk))
    assert granted.actor_id == actor.iam_id
    assert granted.detail["role"] == "Writer" and granted.detail["secret_group_id"] == group_id

    revoked = policy_revoke(actor=actor, policy_id=str(policy.pk))
    assert revoked.pk == policy.pk
    assert not AccessPolicy.objects.filter(pk=policy.pk).exists()
    row = AuditEvent.objects.get(action="iam.policy.revoke", object_id=str(policy.pk))
    assert row.actor_id == actor.iam_id and row.outcome == "allowed"
    assert row.detail == {
        "role": "Writer",
        "secret_group_id": group_id,
        "subject": policy.subject_label,
        "subject_kind": kind,
    }
    where = "secret group group-a" if scope == "group" else "the instance"
    assert row.object_name.endswith(f"Writer on {where}")


def test_a_group_manager_assigns_on_their_group_only(group_manager, group_a, group_b, service_id):
    actor = actor_for_user(group_manager)
    iam.policy_grant(
        actor=actor, role=Role.MANAGER, secret_group_id=group_a.pk, service_id=service_id
    )
    # Another group, or the instance: roles they do not hold there.
    with pytest.raises(AccessDeniedError, match="Reader role on secret group group-b"):
        iam.policy_grant(
            actor=actor, role=Role.READER, secret_group_id=group_b.pk, service_id=service_id
        )
    with pytest.raises(AccessDeniedError, match="on the instance: you do not hold it"):
        iam.policy_grant(actor=actor, role=Role.READER, service_id=service_id)
    assert AccessPolicy.objects.filter(service_id=service_id).count() == 1


def test_holding_a_role_is_not_enough_to_hand_it_out(group_a, service_id):
    """A Writer holds Writer, but only a Manager of the scope assigns roles there."""
    writer = create_user(username="writer")
    grant(writer, "Writer", group=group_a)
    with pytest.raises(AccessDeniedError, match="needs the Manager role there") as caught:
        iam.policy_grant(
            actor=actor_for_user(writer),
            role=Role.READER,
            secret_group_id=group_a.pk,
            service_id=service_id,
        )
    assert caught.value.field == "scope"
    assert not AccessPolicy.objects.filter(service_id=service_id).exists()


def test_the_job_role_holder_cannot_delegate_anything(group_a, service_id):
    job_user = create_user(username="job-like")
    grant(job_user, "SecretTaskUpdater", group=group_a)
    with pytest.raises(AccessDeniedError, match="Reader role on secret group group-a"):
        iam.policy_grant(
            actor=actor_for_user(job_user),
            role=Role.READER,
            secret_group_id=group_a.pk,
            service_id=service_id,
        )


def test_a_duplicate_is_refused_when_asked_and_returned_otherwise(manager, service_id):
    actor = actor_for_user(manager)
    first = iam.policy_grant(actor=actor, role=Role.READER, service_id=service_id)
    assert iam.policy_grant(actor=actor, role=Role.READER, service_id=service_id) == first
    with pytest.raises(ValidationError) as caught:
        iam.policy_grant(actor=actor, role=Role.READER, service_id=service_id, exists_ok=False)
    assert caught.value.message_dict == {
        "role": ["deploy-bot already holds Reader on the instance."]
    }
    assert AccessPolicy.objects.filter(service_id=service_id).count() == 1


def test_unknown_role_and_group_are_refused(manager, service_id):
    actor = actor_for_user(manager)
    with pytest.raises(ValidationError, match="Unknown role"):
        iam.policy_grant(actor=actor, role="Owner", service_id=service_id)
    with pytest.raises(NotFoundError, match="does not exist"):
        iam.policy_grant(
            actor=actor, role=Role.READER, secret_group_id="no-such-group", service_id=service_id
        )


def test_the_last_manager_of_the_instance_cannot_be_revoked(manager):
    actor = actor_for_user(manager)
    only = AccessPolicy.objects.get(role=Role.MANAGER, secret_group__isnull=True)
    with pytest.raises(LastManagerError, match="last person with the Manager role") as caught:
        policy_revoke(actor=actor, policy_id=str(only.pk))
    assert caught.value.status == 409
    assert AccessPolicy.objects.filter(pk=only.pk).exists()


def test_a_manager_may_step_down_once_another_person_manages(manager, access_group):
    actor = actor_for_user(manager)
    own = AccessPolicy.objects.get(role=Role.MANAGER, user=iam.iam_user_for(manager))
    # A service ID holding Manager is no person: it does not count.
    sid = iam.service_id_create(actor=SETUP, name="robot")
    iam.policy_grant(actor=actor, role=Role.MANAGER, service_id=sid)
    with pytest.raises(LastManagerError):
        policy_revoke(actor=actor, policy_id=str(own.pk))
    # An access group with Manager but no active member does not count either.
    iam.policy_grant(actor=actor, role=Role.MANAGER, access_group=access_group)
    with pytest.raises(LastManagerError):
        policy_revoke(actor=actor, policy_id=str(own.pk))
    # A member of that group does.
    colleague = create_user(username="colleague")
    access_group.users.add(iam.iam_user_for(colleague))
    policy_revoke(actor=actor, policy_id=str(own.pk))
    assert not iam.is_allowed(iam.principal_for_user(manager), "iam.manage", secret_group_id=None)


def test_revoking_a_group_managers_policy_is_never_the_last_manager_rule(
    manager, group_manager, group_a
):
    policy = AccessPolicy.objects.get(user=iam.iam_user_for(group_manager))
    # The group Manager may revoke their own group role: the instance keeps its Manager.
    policy_revoke(actor=actor_for_user(group_manager), policy_id=str(policy.pk))
    assert not AccessPolicy.objects.filter(pk=policy.pk).exists()


def test_a_group_manager_cannot_revoke_elsewhere(manager, group_manager, group_b):
    target = create_user(username="b-reader")
    grant(target, "Reader", group=group_b)
    on_b = AccessPolicy.objects.get(user=iam.iam_user_for(target))
    with pytest.raises(AccessDeniedError, match="secret group group-b"):
        policy_revoke(actor=actor_for_user(group_manager), policy_id=str(on_b.pk))
    instance = AccessPolicy.objects.get(user=iam.iam_user_for(manager))
    with pytest.raises(AccessDeniedError, match="the instance"):
        policy_revoke(actor=actor_for_user(group_manager), policy_id=str(instance.pk))
    assert AccessPolicy.objects.filter(pk__in=[on_b.pk, instance.pk]).count() == 2


def test_an_unknown_policy_is_not_found(manager):
    with pytest.raises(NotFoundError):
        policy_revoke(
            actor=actor_for_user(manager), policy_id="00000000-0000-0000-0000-000000000000"
        )
