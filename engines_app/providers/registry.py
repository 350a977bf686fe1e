"""Which implementation stands behind each provider interface: settings.SM_PROVIDERS names it.

The embedded cloud is the default; a real IBM Cloud adapter is a class with the same methods,
named in the setting. Loading by name keeps every import of the embedded implementation inside
engines_app/providers/embedded/ (an import-linter contract checks it).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_PROVIDERS = {
    "iam": "engines_app.providers.embedded.iam.provider.EmbeddedIAM",
    "code_engine": "engines_app.providers.embedded.code_engine.provider.EmbeddedCodeEngine",
    "resource_controller": (
        "engines_app.providers.embedded.resource_controller.embedded.EmbeddedResourceController"
    ),
}


def load_provider(kind: str) -> Any:
    configured = {**DEFAULT_PROVIDERS, **getattr(settings, "SM_PROVIDERS", {})}
    return import_string(configured[kind])()
