"""Add-secret wizards, one module per secret type, all run by console.wizards."""

from __future__ import annotations

from console.wizards import Wizard
from secrets_app.wizards import arbitrary, custom_credentials, iam_credentials, service_credentials

WIZARDS: dict[str, Wizard] = {
    module.WIZARD.kind: module.WIZARD
    for module in (custom_credentials, iam_credentials, service_credentials, arbitrary)
}
