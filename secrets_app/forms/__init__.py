"""Forms of secrets_app: they parse and validate input, and write nothing (services do).

`secrets` holds the table's, the groups', the Add secret tiles' and Test configuration's forms;
`lifecycle` those of Reveal, Rotate, Edit, version metadata and Delete.
"""

from __future__ import annotations

from secrets_app.forms.lifecycle import (
    RevealForm,
    RotateForm,
    SecretDeleteForm,
    SecretEditForm,
    VersionMetadataForm,
    compact_duration,
)
from secrets_app.forms.secrets import (
    PAGE_SIZE,
    ConfigTestForm,
    GroupForm,
    SecretFilterForm,
    SecretTypeForm,
)

__all__ = [
    "PAGE_SIZE",
    "ConfigTestForm",
    "GroupForm",
    "RevealForm",
    "RotateForm",
    "SecretDeleteForm",
    "SecretEditForm",
    "SecretFilterForm",
    "SecretTypeForm",
    "VersionMetadataForm",
    "compact_duration",
]
