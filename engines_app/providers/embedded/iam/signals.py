"""Every console user has its IAM identity from the moment it exists.

principal_for_user makes no query (the IAM id follows from the user's key), so the IamUser row
that policies, access groups, API keys and principal_for_actor refer to is made here, with the
user, instead of being looked up on every page. Users made before this existed got theirs in
migration 0003; a user inserted without signals (bulk_create) gets its row the first time a
service asks iam_user_for, and until then holds no role through principal_for_actor (it fails
closed).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser


def make_iam_user(
    sender: type[AbstractBaseUser], instance: AbstractBaseUser, created: bool, **kwargs: Any
) -> None:
    if created and not kwargs.get("raw"):  # a fixture load brings its own rows
        from engines_app.providers.embedded.iam.services import iam_user_for

        iam_user_for(instance)
