"""Secrets engine wizards (add configuration), run by console.wizards."""

from __future__ import annotations

from importlib import import_module

from console.wizards import Wizard

_MODULES = ("custom_configuration",)


def _load() -> dict[str, Wizard]:
    wizards: dict[str, Wizard] = {}
    for name in _MODULES:
        try:
            module = import_module(f"engines_app.wizards.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"engines_app.wizards.{name}":
                raise
            continue
        wizards[module.WIZARD.kind] = module.WIZARD
    return wizards


WIZARDS = _load()
