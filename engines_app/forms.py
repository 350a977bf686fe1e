"""Forms of the Secrets engines pages: they parse and validate input. Writes happen in services."""

from __future__ import annotations

from django import forms


class ApiKeyForm(forms.Form):
    """An IAM API key. It is never rendered back into the page."""

    api_key = forms.CharField(
        label="API key",
        max_length=200,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="An API key that may create and manage service IDs and API keys in IAM.",
    )


class TaskTimeoutForm(forms.Form):
    task_timeout = forms.CharField(
        label="Task timeout",
        max_length=16,
        help_text="5 minutes to 24 hours, in seconds or with s, m, h or d (e.g. 10m, 2h).",
    )
