"""Access helpers of the embedded IAM's Access page, one per object type (see also
engines_app.providers.access, which decides who may open the page at all)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404

from engines_app.providers.access import require_access_manager
from engines_app.providers.embedded.iam.models import AccessPolicy


def get_policy_for_user(user: AbstractBaseUser | AnonymousUser, policy_id: str) -> AccessPolicy:
    """A policy on a scope the user manages; 404 for any other, so its existence stays unknown.

    403 (from require_access_manager) for a user who manages no scope at all.
    """
    scopes = require_access_manager(user)
    policy = (
        AccessPolicy.objects.select_related(
            "user__user", "service_id", "access_group", "secret_group"
        )
        .filter(pk=policy_id)
        .first()
    )
    if policy is None:
        raise Http404("No such access policy.")
    if scopes is not None and str(policy.secret_group_id) not in scopes:
        # The instance's own policies (secret_group None) belong to its Managers only.
        raise Http404("No such access policy.")
    return policy
