from __future__ import annotations

import os

# pytest-playwright keeps an asyncio loop running in the main thread; without this Django refuses
# ORM calls in every test that runs after the first browser test (tooling.md §4).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest  # noqa: E402
from django.test import Client  # noqa: E402

from tests.factories import create_user  # noqa: E402

pytest_plugins = ["tests.cloud_fixtures"]

HX = {"HX-Request": "true"}


@pytest.fixture
def hx() -> dict[str, str]:
    return dict(HX)


@pytest.fixture
def owner(db):
    """Manages secret groups."""
    return create_user(username="owner", manage_groups=True)


@pytest.fixture
def teammate_ro(db):
    """Signed in, Reader on the whole instance: sees metadata, changes nothing."""
    from tests.factories import grant

    user = create_user(username="reader")
    grant(user, "Reader")
    return user


@pytest.fixture
def stranger(db):
    """Signed in, with no permissions at all."""
    return create_user(username="stranger")


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def ro_client(teammate_ro) -> Client:
    client = Client()
    client.force_login(teammate_ro)
    return client


@pytest.fixture(autouse=True)
def _clear_cache(request):
    """The throttles count in the (database) cache; each test that can reach it starts clean."""
    if not _uses_db(request):
        yield
        return
    from django.core.cache import cache

    request.getfixturevalue("transactional_db" if _is_transactional(request) else "db")
    cache.clear()
    yield
    cache.clear()


def _uses_db(request) -> bool:
    return bool(
        {"db", "transactional_db", "live_server"} & set(request.fixturenames)
        or request.node.get_closest_marker("django_db")
    )


@pytest.fixture(autouse=True)
def _default_group(request):
    """Transactional tests flush the database, taking the migration-made default group with it."""
    if _uses_db(request):
        request.getfixturevalue("transactional_db" if _is_transactional(request) else "db")
        from secrets_app.services import default_group_ensure

        default_group_ensure()


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(
        "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
        or (marker and marker.kwargs.get("transaction"))
    )
