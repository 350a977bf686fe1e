"""Forms of what comes after Add: Reveal, Rotate, Edit, version metadata and Delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from console import validation
from engines_app import schema as schemas
from secrets_app.forms.secrets import PARAM_PREFIX, _only, _parameter_field
from secrets_app.models import Secret, SecretType, VersionAlias
from secrets_app.permissions import writable_group_choice, writable_groups
from secrets_app.services.reading import REASON_MAX
from secrets_app.wizards.common import (
    ROTATION_UNITS,
    SecretTextarea,
    lease_help,
    rotation_help,
    split_labels,
)
from secrets_app.wizards.iam_credentials import ROTATION_NEEDS_REUSE

# ---------------------------------------------------------------------------------------------
# After Add: Reveal, Rotate, Edit, version metadata and Delete (secrets_app/views/lifecycle.py).
# The services validate every value again; these forms parse what was typed or uploaded.

UTC_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


def _metadata_field(label: str, placeholder: str) -> forms.CharField:
    return forms.CharField(
        required=False,
        label=label,
        help_text="A JSON object, at most 10 KB.",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": placeholder, "spellcheck": "false"}),
    )


def _parse_json_field(form: forms.Form, field: str) -> dict[str, Any]:
    try:
        return validation.parse_metadata_json(form.cleaned_data.get(field) or "", field=field)
    except ValidationError as exc:
        raise _only(exc, field) from None


def compact_duration(seconds: int | None) -> str:
    """A ttl as the shortest text that parse_ttl reads back: 86400 → "1d", 5400 → "90m"."""
    if not seconds:
        return ""
    for size, unit in ((validation.DAY, "d"), (validation.HOUR, "h"), (validation.MINUTE, "m")):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class RevealForm(forms.Form):
    version = forms.ChoiceField(
        choices=[(VersionAlias.CURRENT, "current"), (VersionAlias.PREVIOUS, "previous")],
        error_messages={"invalid_choice": "Reveal the current or the previous version."},
    )
    reason = forms.CharField(
        required=False,
        max_length=REASON_MAX,
        label="Reason (optional)",
        help_text="Recorded with the read in the audit log.",
    )


class RotateForm(forms.Form):
    """Rotate: a new value for an arbitrary secret (typed or uploaded), version metadata for all."""

    payload = forms.CharField(
        required=False,
        label="New value",
        strip=False,
        widget=SecretTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
    )
    payload_file = forms.FileField(
        required=False,
        label="…or upload the new value from a file",
        help_text="UTF-8 text, up to 1 MB (1,000,000 characters). A file wins over typed text.",
    )
    version_custom_metadata = _metadata_field(
        "Version metadata (optional)", '{"reason": "rotated"}'
    )

    def __init__(self, *args: Any, secret: Secret, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secret = secret
        if secret.secret_type != SecretType.ARBITRARY:
            del self.fields["payload"], self.fields["payload_file"]

    def clean_version_custom_metadata(self) -> dict[str, Any]:
        return _parse_json_field(self, "version_custom_metadata")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        if self.secret.secret_type != SecretType.ARBITRARY:
            cleaned["payload"] = None
            return cleaned
        upload: UploadedFile | None = cleaned.get("payload_file")
        where, value = "payload", cleaned.get("payload") or ""
        if upload is not None:
            where = "payload_file"
            # UTF-8 takes up to 4 bytes a character: anything longer is over the limit anyway.
            if (upload.size or 0) > validation.ARBITRARY_PAYLOAD_MAX * 4:
                self.add_error(where, "The file is larger than 1 MB.")
                return cleaned
            try:
                value = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                self.add_error(where, "The file is not UTF-8 text; encode binary data as base64.")
                return cleaned
        if value == "":
            self.add_error(where, "Enter or upload the new value.")
            return cleaned
        try:
            cleaned["payload"] = validation.validate_arbitrary_payload(value, field=where)
        except ValidationError as exc:
            self.add_error(where, exc.message_dict[where])
        return cleaned


class VersionMetadataForm(forms.Form):
    version_custom_metadata = _metadata_field("Version metadata", '{"reason": "initial"}')

    def clean_version_custom_metadata(self) -> dict[str, Any]:
        return _parse_json_field(self, "version_custom_metadata")


class SecretDeleteForm(forms.Form):
    """Delete: the secret's name typed again; Force delete adds a second, explicit confirmation."""

    confirm_name = forms.CharField(label="Type the name of the secret to confirm", max_length=256)
    force = forms.BooleanField(required=False)  # sent by the Force delete button
    force_confirmed = forms.BooleanField(
        required=False,
        label="Delete it now and leave its credentials to be deleted in the background",
    )

    def __init__(self, *args: Any, secret: Secret, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secret = secret
        self.fields["confirm_name"].widget.attrs.update({"autocomplete": "off"})

    def clean_confirm_name(self) -> str:
        typed: str = self.cleaned_data["confirm_name"]
        if typed != self.secret.name:
            raise ValidationError(f"Type the name exactly as shown: {self.secret.name}.")
        return typed

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        if cleaned.get("force") and not cleaned.get("force_confirmed"):
            self.add_error("force_confirmed", "Tick this box to confirm a force delete.")
        return cleaned


def _edit_lease_help(kind: str) -> str:
    """The wizard's lease help, and when a change applies (the current lease stays as it is)."""
    text = lease_help(kind)
    return text if "A change applies" in text else f"{text} A change applies at the next rotation."


ROTATING_TYPES = (
    SecretType.IAM_CREDENTIALS,
    SecretType.SERVICE_CREDENTIALS,
    SecretType.CUSTOM_CREDENTIALS,
)
# Where the service's field errors go on the edit form.
_EDIT_ERROR_FIELDS = {"secret_group_id": "secret_group", "rotation": "interval"}


class SecretEditForm(forms.Form):
    """Edit a secret's metadata. `changes()` is the merge-patch for secret_metadata_update: only
    what differs from the secret as it is now."""

    name = forms.CharField(
        max_length=validation.SECRET_NAME_MAX,
        help_text="2 to 256 characters: letters, digits, dashes, dots and underscores.",
    )
    description = forms.CharField(
        required=False,
        max_length=validation.DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    secret_group = forms.CharField(
        label="Secret group",
        widget=forms.Select,
        help_text="Moving the secret needs the Writer role on the group it moves to.",
    )
    labels = forms.CharField(
        required=False, max_length=3000, help_text="Comma-separated, e.g. dev, us-south (up to 30)."
    )
    custom_metadata = _metadata_field("Metadata", '{"owner": "team-a"}')

    def __init__(
        self, data: Any = None, *, secret: Secret, user: AbstractBaseUser | AnonymousUser
    ) -> None:
        super().__init__(data)
        self.secret = secret
        kind = secret.secret_type
        self.user = user
        self.groups = list(writable_groups(user))
        if secret.secret_group_id not in {g.pk for g in self.groups}:
            self.groups.insert(0, secret.secret_group)
        self.fields["secret_group"].widget.choices = [(g.pk, g.name) for g in self.groups]
        self.initial = {
            "name": secret.name,
            "description": secret.description,
            "secret_group": secret.secret_group_id,
            "labels": ", ".join(secret.labels),
            "custom_metadata": json.dumps(secret.custom_metadata, indent=2, sort_keys=True)
            if secret.custom_metadata
            else "",
        }
        if kind == SecretType.ARBITRARY:
            self.fields["expiration_date"] = forms.DateTimeField(
                required=False,
                label="Expiration date (UTC)",
                widget=forms.DateTimeInput(
                    attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
                ),
                input_formats=UTC_INPUT_FORMATS,
                help_text="After this date the secret is destroyed. Leave it empty for none.",
            )
            expires = secret.expiration_date
            self.initial["expiration_date"] = expires.astimezone(UTC) if expires else None
        if kind in ROTATING_TYPES:
            self._add_rotation_fields()
        self.declarations: list[schemas.Declaration] = []
        self.schema_problem = ""
        if kind == SecretType.CUSTOM_CREDENTIALS and secret.configuration is not None:
            try:
                declared = schemas.declarations(secret.configuration.schema, "parameter")
            except ValidationError as exc:
                self.schema_problem = " ".join(exc.messages)
                declared = []
            # Required parameters first, each group in the schema's order (as Test configuration).
            self.declarations = sorted(declared, key=lambda d: not d.required)
            for decl in self.declarations:
                self.fields[PARAM_PREFIX + decl.name] = _parameter_field(decl)
                value = secret.parameters.get(decl.name)
                if isinstance(value, bool):
                    value = "true" if value else "false"
                self.initial[PARAM_PREFIX + decl.name] = value

    def _add_rotation_fields(self) -> None:
        secret, kind = self.secret, self.secret.secret_type
        self.ttl_required = validation.TTL_RANGES[kind][2]
        self.fields["ttl"] = forms.CharField(
            required=False,
            max_length=10,
            label="Lease duration (TTL)",
            help_text=_edit_lease_help(kind),
        )
        self.fields["auto_rotate"] = forms.BooleanField(
            required=False, label="Rotate automatically"
        )
        self.fields["interval"] = forms.IntegerField(
            required=False, min_value=1, label="Rotation interval", help_text=rotation_help(kind)
        )
        self.fields["unit"] = forms.ChoiceField(required=False, choices=ROTATION_UNITS)
        policy = secret.rotation or {}
        self.initial.update(
            ttl=compact_duration(secret.ttl_seconds),
            auto_rotate=bool(policy.get("auto_rotate")),
            interval=policy.get("interval"),
            unit=policy.get("unit") or "day",
        )
        self.rotation_reason = ""
        if kind == SecretType.IAM_CREDENTIALS and not secret.reuse_api_key:
            self.rotation_reason = ROTATION_NEEDS_REUSE
            for name in ("auto_rotate", "interval", "unit"):
                self.fields[name].disabled = True

    @property
    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[PARAM_PREFIX + d.name] for d in self.declarations]

    def clean_secret_group(self) -> str:
        return writable_group_choice(
            self.cleaned_data["secret_group"],
            self.groups,
            user=self.user,
            purpose="to move a secret into it",
        )

    def clean_labels(self) -> list[str]:
        return split_labels(self.cleaned_data.get("labels") or "")

    def clean_custom_metadata(self) -> dict[str, Any]:
        return _parse_json_field(self, "custom_metadata")

    def clean_expiration_date(self) -> datetime | None:
        value: datetime | None = self.cleaned_data.get("expiration_date")
        return value.replace(tzinfo=UTC) if value is not None else None  # entered in UTC

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        if cleaned.get("auto_rotate") and cleaned.get("interval") is None:
            self.add_error("interval", "Enter how often to rotate.")
        for decl in self.declarations:
            key = PARAM_PREFIX + decl.name
            empty = cleaned.get(key) in (None, "")
            if empty and decl.name in self.secret.parameters and not self.has_error(key):
                self.add_error(
                    key,
                    "This parameter is set: it can take another value, but it cannot be removed.",
                )
        return cleaned

    def _rotation(self) -> dict[str, Any]:
        if not self.cleaned_data.get("auto_rotate"):
            return {"auto_rotate": False}
        return {
            "auto_rotate": True,
            "interval": self.cleaned_data["interval"],
            "unit": self.cleaned_data.get("unit") or "day",
        }

    def changes(self) -> dict[str, Any]:
        """The fields whose value differs from the secret's, as the service takes them."""
        secret, data = self.secret, self.cleaned_data
        wanted: dict[str, Any] = {
            "name": data["name"],
            "description": data.get("description") or "",
            "secret_group_id": data["secret_group"],
            "labels": data["labels"],
            "custom_metadata": data["custom_metadata"],
        }
        now = {
            "name": secret.name,
            "description": secret.description,
            "secret_group_id": secret.secret_group_id,
            "labels": secret.labels,
            "custom_metadata": secret.custom_metadata,
        }
        if "expiration_date" in self.fields:
            wanted["expiration_date"] = data.get("expiration_date")
            # The input has minutes: a date kept as it was shown is not a change.
            current = secret.expiration_date
            now["expiration_date"] = current.replace(second=0, microsecond=0) if current else None
        if "ttl" in self.fields and data.get("ttl", "") != self.initial["ttl"]:
            wanted["ttl"] = data.get("ttl") or None
        if "auto_rotate" in self.fields and not self.rotation_reason:
            policy = secret.rotation or {}
            wanted["rotation"] = self._rotation()
            now["rotation"] = (
                {"auto_rotate": True, "interval": policy["interval"], "unit": policy["unit"]}
                if policy.get("auto_rotate")
                else {"auto_rotate": False}
            )
        parameters = {}
        for decl in self.declarations:
            value = data.get(PARAM_PREFIX + decl.name)
            if value in (None, ""):
                continue
            value = value == "true" if decl.type == "boolean" else value
            if secret.parameters.get(decl.name) != value:
                parameters[decl.name] = value
        if parameters:
            wanted["parameters"] = parameters
        return {k: v for k, v in wanted.items() if k not in now or now[k] != v}

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put the service's field errors beside the inputs they are about."""
        for key, messages in exc.message_dict.items():
            if key == "parameters":
                for message in messages:
                    self.add_error(self._parameter_for(message), message)
                continue
            field = _EDIT_ERROR_FIELDS.get(key, key)
            self.add_error(field if field in self.fields else None, messages)

    def _parameter_for(self, message: str) -> str | None:
        """The input a schema message is about: such messages start with the parameter's name."""
        named = [d for d in self.declarations if message.startswith(f"{d.name} ")]
        return PARAM_PREFIX + max(named, key=lambda d: len(d.name)).name if named else None
