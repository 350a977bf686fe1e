"""Helpers for driving wizards with the Django client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.models import WizardDraft


class WizardDriver:
    """Starts a wizard and posts its steps, as a browser without JavaScript would."""

    def __init__(self, client: Client, kind: str, *, htmx: bool = False) -> None:
        self.client = client
        self.kind = kind
        self.headers = {"HX-Request": "true"} if htmx else {}
        response = client.post(reverse("wizard-start", args=[kind]), headers=self.headers)
        assert response.status_code in (200, 302), response.status_code
        location = response.get("HX-Redirect") or response["Location"]
        self.draft_id = re.search(r"/wizards/[^/]+/([0-9a-f-]{36})/", location).group(1)

    def url(self, step: str) -> str:
        return reverse("wizard-step", args=[self.kind, self.draft_id, step])

    def get(self, step: str, **kwargs: Any):
        return self.client.get(self.url(step), headers=self.headers, **kwargs)

    def post(self, step: str, data: dict[str, Any], **kwargs: Any):
        return self.client.post(self.url(step), data, headers=self.headers, **kwargs)

    @property
    def draft(self) -> WizardDraft:
        return WizardDraft.objects.get(pk=self.draft_id)


@pytest.fixture
def wizard(owner_client):
    def start(kind: str, *, htmx: bool = False, client: Client | None = None) -> WizardDriver:
        return WizardDriver(client or owner_client, kind, htmx=htmx)

    return start
