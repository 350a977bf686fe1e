"""Forms of the Code Engine pages. They parse input; definitions.py validates and writes.

A job's variables are edited as rows (name, value, remove). A secret variable's value is never
rendered back: its row shows a masked, empty input, and leaving it empty keeps the sealed value.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from engines_app.providers.embedded.code_engine import commands
from engines_app.providers.embedded.code_engine.definitions import ENV_NAME_MAX, ENV_VALUE_MAX
from engines_app.providers.embedded.code_engine.job_config import MAX_BYTES
from engines_app.providers.embedded.code_engine.services import is_secret_env_name
from engines_app.regions import REGIONS

BLANK_ROWS = 3
MAX_ROWS = 150
_ROW_COUNT_RE = re.compile(r"^[0-9]{1,4}$")

COMMAND_HELP = (
    "The program the job runs, with its arguments: an executable in the jobs directory "
    f"({commands.JOBS_DIR}/NAME, or just NAME), or {commands.PYTHON} and a script of the jobs "
    f"directory or of the sample jobs ({commands.SAMPLE_JOBS_DIR}/NAME.py)."
)


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=128, help_text="1 to 128 characters, unique in its region.")
    region = forms.ChoiceField(
        choices=[(r, r) for r in REGIONS],
        initial="us-south",
        help_text="Configurations pick their job by region.",
    )


class CommandForm(forms.Form):
    command = forms.CharField(
        max_length=commands.COMMAND_MAX_LENGTH,
        help_text=COMMAND_HELP,
        widget=forms.TextInput(
            attrs={"list": "command-suggestions", "spellcheck": "false", "autocomplete": "off"}
        ),
    )

    def clean_command(self) -> list[str]:
        try:
            return commands.parse(self.cleaned_data["command"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["command"]) from None


class JobConfigForm(forms.Form):
    job_config = forms.FileField(
        required=False,
        label="job_config.json",
        help_text=(
            "Optional: the file of IBM's job generator. Its SMIN_/SMOUT_ declarations replace "
            "those among the variables."
        ),
    )

    def clean_job_config(self) -> bytes | None:
        upload = self.cleaned_data.get("job_config")
        if not upload:
            return None
        if upload.size > MAX_BYTES:
            raise ValidationError(f"job_config.json is larger than {MAX_BYTES // 1024} KiB.")
        return bytes(upload.read())


class JobForm(CommandForm, JobConfigForm):
    name = forms.CharField(
        max_length=63,
        help_text="Lowercase letters, digits and dashes, at most 63 characters.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    field_order = ["name", "command", "job_config"]


class EnvRowForm(forms.Form):
    name = forms.CharField(required=False, max_length=ENV_NAME_MAX)
    value = forms.CharField(required=False, max_length=ENV_VALUE_MAX, strip=False)
    remove = forms.BooleanField(required=False)

    def __init__(self, *args: Any, existing: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.existing_names = existing

    @property
    def current_name(self) -> str:
        if self.is_bound:
            return str(self.data.get(self.add_prefix("name"), "")).strip()
        return str(self.initial.get("name", ""))

    @property
    def is_existing(self) -> bool:
        """A variable the job already has: its name is fixed (remove it and add another)."""
        return self.current_name in self.existing_names

    @property
    def is_secret(self) -> bool:
        return is_secret_env_name(self.current_name) if self.current_name else False

    @property
    def shown_value(self) -> str:
        """What the value input may show: never a secret one."""
        if self.is_secret:
            return ""
        if self.is_bound:
            return str(self.data.get(self.add_prefix("value"), ""))
        return str(self.initial.get("value", ""))

    @property
    def secret_entered(self) -> bool:
        """A new secret value was typed in this request (it is not shown again)."""
        return (
            self.is_bound and self.is_secret and bool(self.data.get(self.add_prefix("value"), ""))
        )

    @property
    def marked_removed(self) -> bool:
        if self.is_bound:
            return self.data.get(self.add_prefix("remove")) in {"on", "true", "1"}
        return bool(self.initial.get("remove"))


class BaseEnvRowFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def __init__(self, *args: Any, existing: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        self.existing = existing
        # Problems that a service found with variables that have no row here.
        self.extra_errors: list[str] = []
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "existing": self.existing}

    def rows(self) -> list[tuple[str, str, bool]]:
        """(name, value, remove) of every non-blank row, after is_valid()."""
        found = []
        for form in self.forms:
            data = form.cleaned_data
            name, value = str(data.get("name", "")).strip(), str(data.get("value", ""))
            if name or value:
                found.append((name, value, bool(data.get("remove"))))
        return found

    def clean(self) -> None:
        seen: set[str] = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", {})
            name, value = str(data.get("name", "")).strip(), str(data.get("value", ""))
            if value and not name:
                form.add_error("name", "Give the variable a name.")
            elif name in seen:
                form.add_error("name", f"{name} is listed twice.")
            if name:
                seen.add(name)

    def env(self) -> dict[str, str]:
        """The variables of a new job (a removed row is left out)."""
        return {name: value for name, value, remove in self.rows() if name and not remove}

    def edits(self, current: dict[str, bool]) -> tuple[dict[str, str], list[str]]:
        """(new values, names to remove) against the job's variables (name -> is secret).

        An existing secret variable left empty keeps its value; a variable not in the form at
        all is not touched.
        """
        changes: dict[str, str] = {}
        remove: list[str] = []
        for name, value, removed in self.rows():
            if removed:
                remove.append(name)
            elif not (value == "" and current.get(name, False)):
                changes[name] = value
        return changes, remove

    def initial_rows(self, *, blank: int = BLANK_ROWS) -> list[dict[str, Any]]:
        """The rows as posted, for a form shown again: secret values left out."""
        rows: list[dict[str, Any]] = [
            {"name": f.current_name, "value": f.shown_value, "remove": f.marked_removed}
            for f in self.forms
            if f.current_name or f.shown_value
        ]
        return rows + [{} for _ in range(blank)]


EnvRowFormSet = cast(
    "type[BaseEnvRowFormSet]",
    forms.formset_factory(
        EnvRowForm,
        formset=BaseEnvRowFormSet,
        extra=0,
        max_num=MAX_ROWS,
        absolute_max=MAX_ROWS,
        validate_max=True,
    ),
)


def posted_row_count(data: Any) -> int:
    """The number of rows a form says it posts (env-TOTAL_FORMS), at most MAX_ROWS; 0 when it
    is not a number. The formset checks the management form itself; this is for the views that
    add rows to what was posted."""
    text = str(data.get("env-TOTAL_FORMS", "") or "")
    return min(int(text), MAX_ROWS) if _ROW_COUNT_RE.match(text) else 0


def env_formset(
    *,
    data: Any = None,
    rows: list[dict[str, Any]] | None = None,
    existing: frozenset[str] = frozenset(),
) -> BaseEnvRowFormSet:
    if data is not None:
        return EnvRowFormSet(data, prefix="env", existing=existing)
    return EnvRowFormSet(
        initial=rows or [{} for _ in range(BLANK_ROWS)], prefix="env", existing=existing
    )
