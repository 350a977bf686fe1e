"""Steps every add-secret wizard shares: Details (with in-context group creation), lease and
rotation, and the Review step's summary. Forms validate only; the wizard's finish calls services.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from console import validation
from console.identity import actor_for_user
from console.wizards import WizardForm, field_error
from secrets_app import services
from secrets_app.models import Secret, SecretGroup, SecretType
from secrets_app.permissions import can_manage_groups, writable_group_choice, writable_groups

METADATA_UPLOAD_MAX = (
    64 * 1024
)  # bytes read from an uploaded file before parsing (the JSON limit is 10 KB)


def split_labels(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class SecretTextarea(forms.Textarea):
    """A textarea that never renders its value back: secret values are not echoed into pages."""

    def format_value(self, value: Any) -> None:
        return None


class DetailsForm(WizardForm):
    """Name, description, group (or create one here), labels, metadata and version metadata."""

    secret_type: str = SecretType.ARBITRARY
    file_fields = frozenset({"custom_metadata_file", "version_custom_metadata_file"})

    name = forms.CharField(
        max_length=validation.SECRET_NAME_MAX,
        help_text="2 to 256 characters: letters, digits, dashes, dots and underscores.",
    )
    description = forms.CharField(
        required=False,
        max_length=validation.DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # A CharField with a select widget: clean_secret_group tells a stale choice (422) from a
    # forged one (403), which a ChoiceField would reduce to "not one of the choices".
    secret_group = forms.CharField(label="Secret group", widget=forms.Select)
    labels = forms.CharField(
        required=False, max_length=3000, help_text="Comma-separated, e.g. dev, us-south (up to 30)."
    )
    custom_metadata = forms.CharField(
        required=False,
        label="Metadata (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"owner": "team-a"}'}),
    )
    custom_metadata_file = forms.FileField(
        required=False, label="…or upload metadata as a JSON file"
    )
    version_custom_metadata = forms.CharField(
        required=False,
        label="Version metadata (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"reason": "initial"}'}),
    )
    version_custom_metadata_file = forms.FileField(
        required=False, label="…or upload version metadata as a JSON file"
    )
    newgroup_name = forms.CharField(
        required=False, max_length=validation.GROUP_NAME_MAX, label="New group name"
    )
    newgroup_description = forms.CharField(
        required=False, max_length=validation.DESCRIPTION_MAX, label="New group description"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups = list(writable_groups(self.user))
        self.fields["secret_group"].widget.choices = [
            ("", "Select a group"),
            *((g.pk, g.name) for g in self.groups),
        ]
        self.can_create_group = can_manage_groups(self.user, "add")

    @property
    def selected_group(self) -> SecretGroup | None:
        """The group the select shows (the one just created in context, for example)."""
        value = self["secret_group"].value()
        return next((g for g in self.groups if g.pk == value), None)

    @classmethod
    def for_type(cls, secret_type: str) -> type[DetailsForm]:
        return type(
            f"{secret_type.title().replace('_', '')}DetailsForm",
            (cls,),
            {"secret_type": secret_type},
        )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        try:
            validation.validate_name(name)
        except ValidationError as exc:
            raise field_error(exc, "name") from None
        if Secret.objects.filter(secret_type=self.secret_type, name=name).exists():
            raise ValidationError(
                f"{SecretType(self.secret_type).label} secret {name!r} already exists; names are unique per type."
            )
        return name

    def clean_secret_group(self) -> str:
        return writable_group_choice(
            self.cleaned_data["secret_group"],
            self.groups,
            user=self.user,
            purpose="to add secrets to it",
        )

    def clean_labels(self) -> list[str]:
        try:
            return validation.validate_labels(split_labels(self.cleaned_data.get("labels", "")))
        except ValidationError as exc:
            raise field_error(exc, "labels") from None

    def _metadata(self, field: str) -> dict[str, Any]:
        upload: UploadedFile | None = self.cleaned_data.get(f"{field}_file")
        text = self.cleaned_data.get(field) or ""
        if upload is not None:
            if upload.size and upload.size > METADATA_UPLOAD_MAX:
                raise ValidationError(
                    {
                        f"{field}_file": "That file is too large for metadata (10 KB of JSON at most)."
                    }
                )
            try:
                text = upload.read(METADATA_UPLOAD_MAX).decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError({f"{field}_file": "The file is not UTF-8 text."}) from None
            self.uploaded_text[field] = text
        try:
            return validation.parse_metadata_json(text, field=field)
        except ValidationError as exc:
            target = f"{field}_file" if upload is not None else field
            raise ValidationError({target: exc.message_dict[field]}) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        self.uploaded_text: dict[str, str] = {}
        for field in ("custom_metadata", "version_custom_metadata"):
            try:
                cleaned[field] = self._metadata(field)
            except ValidationError as exc:
                for key, messages in exc.message_dict.items():
                    self.add_error(key, messages)
        return cleaned

    def draft_values(self) -> dict[str, list[str]]:
        values = super().draft_values()
        for field, text in getattr(self, "uploaded_text", {}).items():
            values[field] = [text]  # an uploaded file is kept as the JSON it contained
        for field in ("newgroup_name", "newgroup_description"):
            values.pop(field, None)
        return values


def create_group_action(form: WizardForm) -> dict[str, list[str]]:
    """In-context "Create" on the Details step: make the group, select it, keep the rest."""
    if not can_manage_groups(form.user, "add"):
        raise PermissionDenied("You need the Manager role to create secret groups.")
    name = (form.data.get("newgroup_name") or "").strip()
    if not name:
        raise ValidationError({"newgroup_name": "Enter a name for the new group."})
    try:
        group = services.group_create(
            actor=actor_for_user(form.user),
            name=name,
            description=form.data.get("newgroup_description", ""),
        )
    except ValidationError as exc:
        raise ValidationError({f"newgroup_{k}": v for k, v in exc.message_dict.items()}) from None
    values = form.draft_values()
    values["secret_group"] = [group.pk]
    return values


ROTATION_UNITS = [("day", "days"), ("month", "months"), ("hour", "hours")]

# One vocabulary for every lease: "lease duration", "from <min> to <max>", "do not expire".
TTL_FORMAT = "Enter seconds, or a number followed by s, m, h or d: for example 30m, 24h or 90d."
_LEASE_CONSEQUENCE: dict[str, str] = {
    SecretType.IAM_CREDENTIALS: "When the lease ends, the API key is revoked.",
    SecretType.SERVICE_CREDENTIALS: (
        "Leave it empty, or enter 0, for credentials that do not expire. A change applies at "
        "the next rotation."
    ),
    SecretType.CUSTOM_CREDENTIALS: (
        "Leave it empty for credentials that do not expire. A change applies from the next version."
    ),
}
_ROTATION_EFFECT: dict[str, str] = {
    SecretType.IAM_CREDENTIALS: "Each rotation creates a new API key.",
    SecretType.SERVICE_CREDENTIALS: "Each rotation creates a new resource key.",
    SecretType.CUSTOM_CREDENTIALS: "Each rotation runs the job again to create new credentials.",
}


def lease_range(secret_type: str) -> str:
    minimum, maximum, _ = validation.TTL_RANGES[secret_type]
    return f"from {validation.human_duration(minimum)} to {validation.human_duration(maximum)}"


def lease_help(secret_type: str) -> str:
    """The lease duration's help text, in the same words for every type (sm-api.md §4.6)."""
    required = validation.TTL_RANGES[secret_type][2]
    return (
        f"{'Required' if required else 'Optional'}: {lease_range(secret_type)}. {TTL_FORMAT} "
        f"{_LEASE_CONSEQUENCE.get(secret_type, '')}"
    ).strip()


def rotation_help(secret_type: str) -> str:
    """The rotation interval's limits (sm-api.md §4.5), in the same words for every type."""
    minimum, _ = validation.ROTATION_RANGES[secret_type]
    return (
        f"The interval is from {validation.human_duration(minimum)} to 3 months, and never "
        f"longer than the lease duration. {_ROTATION_EFFECT.get(secret_type, '')}"
    ).strip()


class LeaseRotationForm(WizardForm):
    """Lease duration (ttl) and automatic rotation, with the type's limits."""

    secret_type: str = SecretType.CUSTOM_CREDENTIALS
    ttl = forms.CharField(
        required=False,
        max_length=10,
        label="Lease duration (TTL)",
    )
    auto_rotate = forms.BooleanField(required=False, label="Rotate automatically")
    interval = forms.IntegerField(required=False, min_value=1, label="Rotation interval")
    unit = forms.ChoiceField(required=False, choices=ROTATION_UNITS, initial="day")

    @classmethod
    def for_type(cls, secret_type: str) -> type[LeaseRotationForm]:
        return type(
            f"{secret_type.title().replace('_', '')}LeaseForm", (cls,), {"secret_type": secret_type}
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ttl"].help_text = lease_help(self.secret_type)
        self.fields["interval"].help_text = rotation_help(self.secret_type)

    def rotation_allowed(self) -> tuple[bool, str]:
        return True, ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        ttl_seconds = None
        try:
            ttl_seconds = validation.parse_ttl(
                cleaned.get("ttl") or None, secret_type=self.secret_type
            )
        except ValidationError as exc:
            self.add_error("ttl", exc.message_dict["ttl"])
        cleaned["ttl_seconds"] = ttl_seconds
        rotation = None
        if cleaned.get("auto_rotate"):
            allowed, reason = self.rotation_allowed()
            if not allowed:
                self.add_error("auto_rotate", reason)
            else:
                policy = {
                    "auto_rotate": True,
                    "interval": cleaned.get("interval"),
                    "unit": cleaned.get("unit") or "day",
                }
                if policy["interval"] is None:
                    self.add_error("interval", "Enter how often to rotate.")
                else:
                    try:
                        rotation = validation.validate_rotation(
                            policy, secret_type=self.secret_type, ttl_seconds=ttl_seconds
                        )
                    except ValidationError as exc:
                        self.add_error("interval", exc.message_dict["rotation"])
        cleaned["rotation"] = rotation
        return cleaned


def details_kwargs(details: dict[str, Any]) -> dict[str, Any]:
    """The Details step's cleaned data as the keyword arguments every secret service takes."""
    return {
        "name": details["name"],
        "secret_group_id": details["secret_group"],
        "description": details.get("description") or "",
        "labels": details.get("labels") or [],
        "custom_metadata": details.get("custom_metadata") or {},
        "version_custom_metadata": details.get("version_custom_metadata") or {},
    }


def details_rows(cleaned: dict[str, Any]) -> list[tuple[str, str]]:
    group = SecretGroup.objects.filter(pk=cleaned["secret_group"]).first()
    rows = [
        ("Name", cleaned["name"]),
        ("Description", cleaned.get("description") or "—"),
        ("Secret group", group.name if group else cleaned["secret_group"]),
        ("Labels", ", ".join(cleaned.get("labels") or []) or "—"),
    ]
    if cleaned.get("custom_metadata"):
        rows.append(("Metadata", json.dumps(cleaned["custom_metadata"])))
    if cleaned.get("version_custom_metadata"):
        rows.append(("Version metadata", json.dumps(cleaned["version_custom_metadata"])))
    return rows


def details_api_body(cleaned: dict[str, Any], secret_type: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "secret_type": secret_type,
        "name": cleaned["name"],
        "secret_group_id": cleaned["secret_group"],
    }
    if cleaned.get("description"):
        body["description"] = cleaned["description"]
    if cleaned.get("labels"):
        body["labels"] = cleaned["labels"]
    if cleaned.get("custom_metadata"):
        body["custom_metadata"] = cleaned["custom_metadata"]
    if cleaned.get("version_custom_metadata"):
        body["version_custom_metadata"] = cleaned["version_custom_metadata"]
    return body


def lease_rows(cleaned: dict[str, Any]) -> list[tuple[str, str]]:
    rotation = cleaned.get("rotation")
    return [
        (
            "Lease duration",
            validation.human_duration(cleaned["ttl_seconds"])
            if cleaned.get("ttl_seconds")
            else "none: the credentials do not expire",
        ),
        (
            "Automatic rotation",
            f"every {rotation['interval']} {rotation['unit']}(s)" if rotation else "off",
        ),
    ]


def secret_url(secret: Secret) -> str:
    return reverse("secrets:detail", args=[secret.pk])
