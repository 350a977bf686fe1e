"""Secrets engine wizards (Add configuration), run by console.wizards."""

from __future__ import annotations

from console.wizards import Wizard
from engines_app.wizards import custom_configuration

WIZARDS: dict[str, Wizard] = {custom_configuration.WIZARD.kind: custom_configuration.WIZARD}
