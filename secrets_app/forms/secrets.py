"""Forms of the Secrets table, groups, the Add secret tiles and Test configuration."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from console import validation
from engines_app import schema as schemas
from engines_app.models import Configuration
from secrets_app.models import SecretState, SecretType
from secrets_app.permissions import writable_group_choice, writable_groups
from secrets_app.selectors import DEFAULT_SECRET_SORT, EXPIRES_WITHIN, SECRET_SORTS
from secrets_app.services.config_tests import job_reporting_group_ids

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


class _SharedChoicesSelect(forms.Select):
    """A Select whose copy shares its choices (a list that is replaced, never changed in place).

    Every form instance deep-copies its class's fields, and Django's ChoiceWidget.__deepcopy__
    normalizes each choice again on the way: with ChoiceField's own deep copy of the choices,
    0.4 ms of the Secrets table's 1 ms filter form (issue 13's profile, at 20 groups)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedChoicesSelect:
        copied = copy.copy(self)
        copied.attrs = self.attrs.copy()
        memo[id(self)] = copied
        return copied


class _SharedChoiceField(forms.ChoiceField):
    """A ChoiceField copied as any Field is (its choices shared: see _SharedChoicesSelect)."""

    widget = _SharedChoicesSelect

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedChoiceField:
        return cast(_SharedChoiceField, forms.Field.__deepcopy__(self, memo))


class _SharedTypedChoiceField(forms.TypedChoiceField):
    widget = _SharedChoicesSelect

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedTypedChoiceField:
        return cast(_SharedTypedChoiceField, forms.Field.__deepcopy__(self, memo))


class SecretFilterForm(forms.Form):
    """The Secrets table's state: everything lives in the query string."""

    q = forms.CharField(required=False, max_length=128, label="Search")
    type = _SharedChoiceField(required=False, choices=[("", "Any type"), *SecretType.choices])
    group = _SharedChoiceField(required=False, choices=[("", "Any group")])
    state = _SharedTypedChoiceField(
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
    expires = _SharedChoiceField(
        required=False,
        label="Expires within",
        choices=[("", "Any time"), *((k, label) for k, (label, _) in EXPIRES_WITHIN.items())],
    )
    sort = _SharedChoiceField(required=False, choices=[(k, k) for k in SECRET_SORTS])
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: Any, groups: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        """`groups`: the (id, name) of each group the filter offers."""
        super().__init__(*args, **kwargs)
        group_field = self.fields["group"]
        assert isinstance(group_field, forms.ChoiceField)
        group_field.choices = [("", "Any group"), *groups]

    def clean_q(self) -> str:
        return str(self.cleaned_data.get("q") or "").strip()

    def clean_labels(self) -> list[str]:
        raw = self.cleaned_data.get("labels") or ""
        return [part.strip() for part in raw.split(",") if part.strip()]

    def clean_sort(self) -> str:
        return self.cleaned_data.get("sort") or DEFAULT_SECRET_SORT

    def clean_page(self) -> int:
        return self.cleaned_data.get("page") or 1


# ---------------------------------------------------------------------------------------------
# Test configuration: the group to run in and the job's parameters


PARAM_PREFIX = "param_"
BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


def _parameter_field(decl: schemas.Declaration) -> forms.Field:
    help_text = f"{decl.format} · passed to the job as SM_{decl.name.upper()}_VALUE"
    common: dict[str, Any] = {"label": decl.name, "required": decl.required, "help_text": help_text}
    if decl.type == "integer":
        return forms.IntegerField(**common)
    if decl.type == "boolean":
        choices = BOOLEAN_CHOICES if decl.required else [("", "—"), *BOOLEAN_CHOICES]
        return forms.ChoiceField(choices=choices, **common)
    if decl.type == "enum":
        options = [(o, o) for o in decl.options]
        return forms.ChoiceField(
            choices=options if decl.required else [("", "—"), *options], **common
        )
    if decl.type == "secret_id":
        return forms.CharField(
            max_length=36,
            validators=[
                RegexValidator(schemas.UUID_PATTERN, "Enter a secret ID (a lowercase UUID).")
            ],
            **common,
        )
    return forms.CharField(max_length=schemas.PARAMETER_STRING_MAX, **common)


class ConfigTestForm(forms.Form):
    """The group to run in and the job's parameters, as the configuration's schema declares them."""

    secret_group = forms.CharField(label="Secret group to run in", widget=forms.Select)

    def __init__(
        self,
        data: Any = None,
        *,
        config: Configuration,
        user: AbstractBaseUser | AnonymousUser,
    ) -> None:
        super().__init__(data)
        self.config = config
        self.user = user
        self.groups = list(writable_groups(user))
        reporting = job_reporting_group_ids(config)
        self.reporting_groups = [g for g in self.groups if reporting is None or g.pk in reporting]
        self.fields["secret_group"].widget.choices = [
            (
                g.pk,
                f"{g.name} (the job can report here)" if g in self.reporting_groups else g.name,
            )
            for g in self.groups
        ]
        if self.reporting_groups:
            self.fields["secret_group"].initial = self.reporting_groups[0].pk
        # Required parameters first, each group in the schema's order.
        self.declarations = sorted(
            schemas.declarations(config.schema, "parameter"), key=lambda d: not d.required
        )
        for decl in self.declarations:
            self.fields[PARAM_PREFIX + decl.name] = _parameter_field(decl)

    @property
    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[PARAM_PREFIX + d.name] for d in self.declarations]

    def clean_secret_group(self) -> str:
        return writable_group_choice(
            self.cleaned_data["secret_group"],
            self.groups,
            user=self.user,
            purpose="to run a test in it",
        )

    def parameters(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for decl in self.declarations:
            value = self.cleaned_data.get(PARAM_PREFIX + decl.name)
            if value in (None, ""):
                continue
            values[decl.name] = value == "true" if decl.type == "boolean" else value
        return values


class SecretTypeForm(forms.Form):
    """Add a secret: the type tile that was chosen. `unavailable` maps a type to why it cannot
    be used yet (no configuration, no engine, no instance)."""

    secret_type = forms.ChoiceField(
        label="Type of secret",
        choices=[
            (SecretType.CUSTOM_CREDENTIALS, "Custom credentials"),
            (SecretType.IAM_CREDENTIALS, "IAM credentials"),
            (SecretType.SERVICE_CREDENTIALS, "Service credentials"),
            (SecretType.ARBITRARY, "Arbitrary"),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose the type of secret to add, then click Next.",
            "invalid_choice": "Choose one of the types of secret listed.",
        },
    )

    def __init__(self, *args: Any, unavailable: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unavailable = unavailable

    def clean_secret_type(self) -> str:
        kind: str = self.cleaned_data["secret_type"]
        if kind in self.unavailable:
            raise ValidationError(
                f"{SecretType(kind).label} secrets are unavailable: {self.unavailable[kind]}"
            )
        return kind
