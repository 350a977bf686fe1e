"""Secrets engine wizards (Add configuration), run by console.wizards.

The Add configuration wizard is built by engines_app.wizards.custom_configuration.build_wizard
around a step that secrets_app supplies, and secrets_app registers it.
"""

from __future__ import annotations
