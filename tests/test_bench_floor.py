"""The benchmark's floor page (console/bench_views.py): routed only while SM_BENCH_FLOOR is on."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import NoReverseMatch, clear_url_caches, reverse

import console.urls
from console.bench_views import bench_urlpatterns


def _reload_urls() -> None:
    importlib.reload(console.urls)
    clear_url_caches()


@pytest.fixture
def floor_routed(settings) -> Iterator[None]:
    settings.SM_BENCH_FLOOR = True
    _reload_urls()
    yield
    settings.SM_BENCH_FLOOR = False
    _reload_urls()


def test_the_floor_is_not_routed_by_default(settings, owner_client: Client) -> None:
    assert settings.SM_BENCH_FLOOR is False
    assert bench_urlpatterns() == []
    with pytest.raises(NoReverseMatch):
        reverse("bench-floor")
    assert owner_client.get("/bench/floor/").status_code == 404


@pytest.mark.usefixtures("floor_routed")
def test_the_floor_is_a_three_line_page_for_a_signed_in_user(owner, owner_client: Client) -> None:
    assert reverse("bench-floor") == "/bench/floor/"
    response = owner_client.get("/bench/floor/")
    assert response.status_code == 200
    body = response.content.decode()
    assert len(body.strip().splitlines()) == 3
    assert f"Signed in as {owner.username}." in body
    # Through the same middleware as every console page.
    assert "Content-Security-Policy" in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.usefixtures("floor_routed")
def test_the_floor_needs_a_sign_in(db) -> None:
    response = Client().get("/bench/floor/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/")


@pytest.mark.usefixtures("floor_routed")
def test_the_floor_answers_get_only(owner_client: Client) -> None:
    assert owner_client.post("/bench/floor/").status_code == 405
