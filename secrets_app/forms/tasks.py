"""Forms of the Tasks page (the failed-task inbox): its filters and the notes of its actions.
They validate only; secrets_app.services.inbox acts."""

from __future__ import annotations

from typing import Any

from django import forms

from secrets_app.models import TaskTrigger, TaskType
from secrets_app.services.inbox import NOTE_MAX
from secrets_app.services.inbox_reading import AGES, VIEWS, InboxFilters


def _blank(label: str, choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", label), *choices]


class TaskFilterForm(forms.Form):
    view = forms.ChoiceField(choices=list(VIEWS.items()), required=False)
    configuration = forms.ChoiceField(required=False)
    code = forms.ChoiceField(required=False, label="Error code")
    type = forms.ChoiceField(choices=_blank("Any type", list(TaskType.choices)), required=False)
    trigger = forms.ChoiceField(
        choices=_blank("Any trigger", list(TaskTrigger.choices)), required=False
    )
    group = forms.ChoiceField(required=False, label="Secret group")
    age = forms.ChoiceField(
        choices=_blank("Any age", [(k, v[0]) for k, v in AGES.items()]), required=False
    )
    by = forms.ChoiceField(
        choices=[("", "One row per task"), ("code", "Grouped by error code")],
        required=False,
        label="Show",
    )
    page = forms.IntegerField(min_value=1, required=False)

    def __init__(
        self,
        *args: Any,
        configurations: list[str],
        codes: list[str],
        groups: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["configuration"].choices = _blank(  # type: ignore[attr-defined]
            "Any configuration", [(c, c) for c in configurations]
        )
        self.fields["code"].choices = _blank("Any error code", [(c, c) for c in codes])  # type: ignore[attr-defined]
        self.fields["group"].choices = _blank("Any group", groups)  # type: ignore[attr-defined]

    def filters(self) -> InboxFilters:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return InboxFilters(
            view=data.get("view") or "failed",
            configuration=data.get("configuration") or "",
            error_code=data.get("code") or "",
            task_type=data.get("type") or "",
            trigger=data.get("trigger") or "",
            group=data.get("group") or "",
            age=data.get("age") or "",
        )


class TaskNoteForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    next = forms.CharField(required=False)

    def __init__(self, *args: Any, note_required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].required = note_required
        if note_required:
            self.fields["note"].error_messages["required"] = (
                "Say why this failure needs nothing more (a short note)."
            )


class BulkRetryForm(forms.Form):
    """The confirmation of a bulk retry: the previewed tasks, each `task_id:stamp`."""

    previewed = forms.CharField(widget=forms.MultipleHiddenInput, required=False)

    def clean_previewed(self) -> list[tuple[str, str]]:
        values = self.data.getlist("previewed") if hasattr(self.data, "getlist") else []
        items = []
        for value in values:
            task_id, _, stamp = str(value).partition(":")
            if not task_id.startswith("sm-task-") or len(stamp) != 16:
                raise forms.ValidationError("The preview was altered: open it again.")
            items.append((task_id, stamp))
        if not items:
            raise forms.ValidationError("Nothing was previewed: choose failed tasks first.")
        return items
