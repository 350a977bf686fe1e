"""A console user's IAM identity (its IamUser row) is made with the user, so pages need not
look it up: the principal of a signed-in user costs no query (issue 13)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console.identity import actor_for_user, iam_id_for_user
from engines_app.providers.embedded.iam import services as iam
from engines_app.providers.embedded.iam.models import IamUser
from tests.factories import create_user

pytestmark = pytest.mark.django_db

backfill = importlib.import_module(
    "engines_app.providers.embedded.iam.migrations.0003_iam_user_for_every_user"
)


def test_a_new_user_has_its_iam_identity_before_it_signs_in():
    user = create_user(username="newcomer")
    row = IamUser.objects.get(user=user)
    assert row.iam_id == iam_id_for_user(user.pk)


def test_a_page_reads_no_iam_identity_row(owner_client):
    with CaptureQueriesContext(connection) as queries:
        response = owner_client.get(reverse("secrets:list"))
    assert response.status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "iam_iamuser" in q["sql"]]


def test_a_superuser_acts_as_one_through_its_identity_row():
    admin = create_user(username="root", is_superuser=True)
    assert iam.principal_for_actor(actor_for_user(admin)).is_superuser


def test_a_user_without_its_row_holds_no_role_until_the_row_exists():
    """A user inserted without signals (bulk_create) fails closed, and migration 0003 gives
    users from before the signal their rows, once."""
    admin = create_user(username="old-root", is_superuser=True)
    IamUser.objects.filter(user=admin).delete()
    assert not iam.principal_for_actor(actor_for_user(admin)).is_superuser

    backfill.make_missing_iam_users(apps, connection.schema_editor())
    backfill.make_missing_iam_users(apps, connection.schema_editor())  # nothing left to make

    assert IamUser.objects.filter(user=admin).count() == 1
    assert IamUser.objects.get(user=admin).iam_id == iam_id_for_user(admin.pk)
    assert iam.principal_for_actor(actor_for_user(admin)).is_superuser
