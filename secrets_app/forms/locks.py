"""The Add lock form of the Versions tab (secrets_app/views/locks.py).

It parses what was typed; the rules (which versions can be locked, the name's shape, the size of
the attributes, which mode a secret type allows, the limit per secret) are the locks service's,
which checks everything again: its errors land beside the field they are about.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from console import validation
from secrets_app.models import Secret, SecretType, SecretVersion, VersionAlias
from secrets_app.services.locks import (
    LOCK_NAME_MAX,
    MODE_REMOVE_PREVIOUS,
    MODE_REMOVE_PREVIOUS_AND_DELETE,
)

MODE_KEEP = ""  # no mode: the other version keeps its locks of the same name

# Where the service's field keys (those of one lock, "locks.0.<field>", and the query's) go.
_SERVICE_FIELDS = {
    "locks.0.name": "name",
    "locks.0.description": "description",
    "locks.0.attributes": "attributes",
    "mode": "mode",
}


def offers_data_deletion(
    secret: Secret, version: SecretVersion, previous: SecretVersion | None
) -> bool:
    """Whether the Add lock form of `version` offers mode remove_previous_and_delete: on the
    current version of a type other than custom credentials, while the previous version still
    has data to delete."""
    return (
        version.alias == VersionAlias.CURRENT
        and secret.secret_type != SecretType.CUSTOM_CREDENTIALS
        and previous is not None
        and previous.payload_available
    )


class LockForm(forms.Form):
    """Add a lock to one version, or replace the description and attributes of the lock of that
    name the version already holds. The inputs are written out in templates/secrets/_lock_add.html
    (one form per lockable version in the Versions table), so this form only validates."""

    name = forms.CharField(error_messages={"required": "Lock name is required."})
    description = forms.CharField(required=False)
    attributes = forms.CharField(required=False)
    mode = forms.ChoiceField(required=False)

    def __init__(
        self,
        *args: Any,
        secret: Secret,
        version: SecretVersion,
        previous: SecretVersion | None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", f"id_lock_v{version.serial}_%s")
        super().__init__(*args, **kwargs)
        self.secret, self.version = secret, version
        modes = [MODE_KEEP, MODE_REMOVE_PREVIOUS]
        if offers_data_deletion(secret, version, previous):
            modes.append(MODE_REMOVE_PREVIOUS_AND_DELETE)
        field = self.fields["mode"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(mode, mode or "keep") for mode in modes]
        field.error_messages["invalid_choice"] = "Choose one of the options shown for this version."

    def clean_name(self) -> str:
        try:
            return validation.validate_name(
                self.cleaned_data["name"], max_length=LOCK_NAME_MAX, what="Lock name"
            )
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["name"]) from None

    def clean_description(self) -> str:
        try:
            return validation.validate_description(self.cleaned_data.get("description"))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["description"]) from None

    def clean_attributes(self) -> dict[str, Any]:
        text = (self.cleaned_data.get("attributes") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        if not isinstance(value, dict):
            raise ValidationError('Attributes must be a JSON object, such as {"app": "billing"}.')
        return value

    def lock(self) -> dict[str, Any]:
        """The lock as locks_create takes it."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data.get("description") or "",
            "attributes": data.get("attributes") or {},
        }

    def mode_value(self) -> str | None:
        return self.cleaned_data.get("mode") or None

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put the service's field errors beside the inputs they are about (the rest on top)."""
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        for key, messages in errors.items():
            self.add_error(_SERVICE_FIELDS.get(key), messages)

    def add_service_error(self, message: str, *, field: str | None) -> None:
        self.add_error(_SERVICE_FIELDS.get(field or ""), message)
