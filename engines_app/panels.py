"""Parts of the engines' pages that other apps contribute, without engines_app importing them.

A configuration's page shows the secrets that use it and the "Test configuration" panel; both
belong to secrets_app, which registers a panel from AppConfig.ready(). A panel returns context
for engines/config_detail.html.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from engines_app.models import Configuration

ConfigurationPanel = Callable[[HttpRequest, Configuration], dict[str, Any]]
_configuration_panels: list[ConfigurationPanel] = []


def register_configuration_panel(panel: ConfigurationPanel) -> None:
    if panel not in _configuration_panels:
        _configuration_panels.append(panel)


def configuration_panel_context(request: HttpRequest, config: Configuration) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for panel in _configuration_panels:
        context.update(panel(request, config))
    return context
