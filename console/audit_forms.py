"""The Audit page's filters: the URL's query, validated (the page and both exports use them)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from console.models import AuditEvent

# Filters the URL carries, in the order the page shows them.
FILTER_NAMES = ("actor", "action", "object_type", "object_id", "outcome", "date_from", "date_to")
PAGE_MAX = 10_000


class AuditFilterForm(forms.Form):
    # A username, a service ID's name or an IAM id.
    actor = forms.CharField(max_length=150, required=False)
    # Exact, or a family when it ends with a dot ("iam.").
    action = forms.CharField(max_length=64, required=False)
    object_type = forms.CharField(max_length=64, required=False, label="Object type")
    object_id = forms.CharField(max_length=64, required=False, label="Object id")
    outcome = forms.ChoiceField(choices=[("", "Any"), *AuditEvent.Outcome.choices], required=False)
    # Days in the console's time zone (UTC), both included.
    date_from = forms.DateField(required=False, label="From")
    date_to = forms.DateField(required=False, label="To")
    page = forms.IntegerField(min_value=1, max_value=PAGE_MAX, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start: date | None = cleaned.get("date_from")
        end: date | None = cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def filters(self) -> dict[str, Any]:
        """The filters in use (validated), without empty ones and without the page."""
        data = self.cleaned_data
        return {name: data[name] for name in FILTER_NAMES if data.get(name) not in (None, "")}
