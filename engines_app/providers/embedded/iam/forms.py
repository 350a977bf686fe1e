"""Forms of the embedded IAM's Access page. They validate only: the services decide."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from engines_app.providers.embedded.iam.access_selectors import (
    INSTANCE,
    ROLE_HELP,
    SUBJECT_KINDS,
    Scope,
    Subject,
)
from engines_app.providers.embedded.iam.models import Role

_GROUP_LABELS = {"user": "Users", "service_id": "Service IDs", "access_group": "Access groups"}


class PolicyAssignForm(forms.Form):
    """Assign a role: to whom (a user, service ID or access group), which role, and where."""

    subject = forms.ChoiceField(label="Assign to")
    role = forms.ChoiceField(
        label="Role",
        choices=[(role.value, f"{role.label}: {ROLE_HELP[role]}") for role in Role],
        widget=forms.RadioSelect,
    )
    scope = forms.ChoiceField(label="Scope")

    def __init__(
        self,
        *args: Any,
        subjects: dict[str, list[Subject]],
        scopes: list[Scope],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._subjects = {s.value: s for group in subjects.values() for s in group}
        subject_field = cast(forms.ChoiceField, self.fields["subject"])
        subject_field.choices = [("", "Choose a user, service ID or access group")] + [
            (_GROUP_LABELS[kind], [(s.value, s.label) for s in group])
            for kind, group in subjects.items()
            if group
        ]
        scope_field = cast(forms.ChoiceField, self.fields["scope"])
        scope_field.choices = [(s.value, s.label) for s in scopes]
        if len(scopes) == 1:
            self.fields["scope"].initial = scopes[0].value

    def clean_subject(self) -> Subject:
        value = self.cleaned_data["subject"]
        subject = self._subjects.get(value)
        if subject is None:  # the choices check this already; kept for the type
            raise forms.ValidationError("Choose a user, service ID or access group.")
        return subject

    def secret_group_id(self) -> str | None:
        scope = self.cleaned_data["scope"]
        return None if scope == INSTANCE else str(scope)


class AccessFilterForm(forms.Form):
    """The page's filters (a GET form): one scope, and one kind of subject."""

    scope = forms.ChoiceField(label="Show scope", required=False)
    kind = forms.ChoiceField(
        label="Show subjects",
        required=False,
        choices=[("", "Every kind")] + [(k, f"{label}s") for k, label in SUBJECT_KINDS.items()],
    )

    def __init__(self, *args: Any, scopes: list[Scope], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scope_field = cast(forms.ChoiceField, self.fields["scope"])
        scope_field.choices = [("", "Every scope")] + [(s.value, s.label) for s in scopes]
