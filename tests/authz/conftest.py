"""The matrix's world, built once per module inside a transaction that is rolled back at the end.

Each test then runs in a savepoint of that transaction (pytest-django's `db`, as Django's
TestCase does with setUpTestData), so a request that deletes or changes something is undone
before the next one: every pair sees the same world, whatever order the pairs run in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from tests.authz.world import World, build_world


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
