"""Add secret → Arbitrary: Details, an optional expiration date, then Review with the value.

The value is entered (or uploaded) on the Review step itself, so it never sits in the draft: it
goes straight from the final POST to the service.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from console import validation
from console.identity import actor_for_user
from console.wizards import Draft, Step, Wizard, WizardForm, cleaned_steps, field_error
from secrets_app import services
from secrets_app.models import SecretType
from secrets_app.permissions import require_secret_create, require_some_writable_group
from secrets_app.wizards.common import (
    DetailsForm,
    SecretTextarea,
    create_group_action,
    details_api_body,
    details_kwargs,
    details_rows,
    secret_url,
)


class ExpirationForm(WizardForm):
    expiration_date = forms.DateTimeField(
        required=False,
        label="Expiration date (UTC, optional)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        help_text="After this date the secret is no longer served.",
    )

    def clean_expiration_date(self) -> Any:
        value = self.cleaned_data.get("expiration_date")
        if value is None:
            return None
        value = value.replace(tzinfo=UTC)  # the field is entered in UTC
        try:
            return validation.validate_expiration_date(value)
        except ValidationError as exc:
            raise field_error(exc, "expiration_date") from None


class ValueReviewForm(WizardForm):
    secret_fields = frozenset({"payload"})
    file_fields = frozenset({"payload_file"})
    payload = forms.CharField(
        required=False,
        label="Secret value",
        strip=False,
        widget=SecretTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
    )
    payload_file = forms.FileField(required=False, label="…or upload the value from a file")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        upload: UploadedFile | None = cleaned.get("payload_file")
        value = cleaned.get("payload") or ""
        if upload is not None:
            raw = upload.read(validation.ARBITRARY_PAYLOAD_MAX * 4 + 1)
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.add_error(
                    "payload_file",
                    "The file is not UTF-8 text; encode binary data as base64 first.",
                )
                return cleaned
        try:
            cleaned["payload"] = validation.validate_arbitrary_payload(value)
        except ValidationError as exc:
            self.add_error(
                "payload_file" if upload is not None else "payload", exc.message_dict["payload"]
            )
        return cleaned

    def extra_context(self) -> dict[str, Any]:
        cleaned = cleaned_steps(self.draft, self.user)
        details = cleaned.get("details")
        if not details:
            return {}
        expires = (cleaned.get("expiration") or {}).get("expiration_date")
        body = details_api_body(details, SecretType.ARBITRARY)
        body["payload"] = "<the value you enter below>"
        if expires:
            body["expiration_date"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "summary": [
                *details_rows(details),
                ("Expiration date", expires.strftime("%Y-%m-%d %H:%M UTC") if expires else "none"),
            ],
            "effects": [
                f"Create the arbitrary secret {details['name']} with its first version, encrypted at rest."
            ],
            "api_body": json.dumps(body, indent=2),
        }


def finish(
    *, request: Any, draft: Draft, cleaned: dict[str, dict[str, Any]], form: WizardForm
) -> str:
    details = cleaned["details"]
    require_secret_create(request.user, details["secret_group"])
    secret = services.arbitrary_secret_create(
        actor=actor_for_user(request.user),
        **details_kwargs(details),
        payload=form.cleaned_data["payload"],
        expiration_date=cleaned["expiration"].get("expiration_date"),
    )
    messages.success(request, f"Arbitrary secret {secret.name} is added.")
    return secret_url(secret)


WIZARD = Wizard(
    kind="arbitrary",
    title="Add an arbitrary secret",
    steps=(
        Step(
            "details",
            "Details",
            DetailsForm.for_type(SecretType.ARBITRARY),
            "wizards/secrets/details.html",
            actions={"create-group": create_group_action},
            action_focus={"create-group": "secret_group"},
        ),
        Step("expiration", "Expiration", ExpirationForm, "wizards/secrets/expiration.html"),
        Step("review", "Review", ValueReviewForm, "wizards/secrets/arbitrary_review.html"),
    ),
    finish=finish,
    cancel_url="/secrets/",
    require=require_some_writable_group,
)
