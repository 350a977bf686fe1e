"""Forms: they parse and validate input. Writes happen in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from console import validation
from secrets_app.models import SecretGroup, SecretState, SecretType
from secrets_app.selectors import DEFAULT_SECRET_SORT, SECRET_SORTS

PAGE_SIZE = 25


def _only(exc: ValidationError, field: str) -> ValidationError:
    """The messages of a field-keyed ValidationError, for use inside clean_<field>."""
    return ValidationError(exc.message_dict.get(field, exc.messages))


class GroupForm(forms.Form):
    name = forms.CharField(
        max_length=validation.GROUP_NAME_MAX,
        help_text="2 to 64 characters: letters, digits, dashes, dots and underscores.",
    )
    description = forms.CharField(
        required=False,
        max_length=validation.DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        try:
            return validation.validate_group_name(name)
        except ValidationError as exc:
            raise _only(exc, "name") from None


class SecretFilterForm(forms.Form):
    """The Secrets table's state: everything lives in the query string."""

    q = forms.CharField(required=False, max_length=128, label="Search")
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *SecretType.choices])
    group = forms.ChoiceField(required=False, choices=[("", "Any group")])
    state = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any state"), *SecretState.choices],
    )
    labels = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Comma-separated; a secret must carry every label listed.",
    )
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in SECRET_SORTS])
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: Any, groups: list[SecretGroup], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        group_field = self.fields["group"]
        assert isinstance(group_field, forms.ChoiceField)
        group_field.choices = [("", "Any group"), *((g.pk, g.name) for g in groups)]

    def clean_q(self) -> str:
        return str(self.cleaned_data.get("q") or "").strip()

    def clean_labels(self) -> list[str]:
        raw = self.cleaned_data.get("labels") or ""
        return [part.strip() for part in raw.split(",") if part.strip()]

    def clean_sort(self) -> str:
        return self.cleaned_data.get("sort") or DEFAULT_SECRET_SORT

    def clean_page(self) -> int:
        return self.cleaned_data.get("page") or 1
