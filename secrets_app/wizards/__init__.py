"""Add-secret wizards, one module per secret type, all run by console.wizards."""

from __future__ import annotations

from console.wizards import Wizard
from engines_app.wizards.custom_configuration import build_wizard
from secrets_app.wizards import (
    arbitrary,
    configuration_key,
    custom_credentials,
    iam_credentials,
    service_credentials,
)

# Add configuration, with the step that picks or creates its IAM credentials secret.
CONFIGURATION_WIZARD = build_wizard(key_step=configuration_key.KEY_STEP)

WIZARDS: dict[str, Wizard] = {
    **{
        module.WIZARD.kind: module.WIZARD
        for module in (custom_credentials, iam_credentials, service_credentials, arbitrary)
    },
    CONFIGURATION_WIZARD.kind: CONFIGURATION_WIZARD,
}
