"""Add-secret wizards, one module per secret type, all run by console.wizards."""

from __future__ import annotations

from importlib import import_module

from console.wizards import Wizard

_MODULES = ("custom_credentials", "iam_credentials", "service_credentials", "arbitrary")


def _load() -> dict[str, Wizard]:
    wizards: dict[str, Wizard] = {}
    for name in _MODULES:
        try:
            module = import_module(f"secrets_app.wizards.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"secrets_app.wizards.{name}":
                raise
            continue
        wizards[module.WIZARD.kind] = module.WIZARD
    return wizards


WIZARDS = _load()
