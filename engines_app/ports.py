"""What the engines need to know about secrets, asked through a lookup the secrets app
registers (AppConfig.ready), so that engines_app never imports secrets_app.

A custom credentials configuration names an IAM credentials secret (api_key_ref) whose API key
its job reports with; creating the configuration checks that secret through this port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class KeySecret:
    """An IAM credentials secret, as a configuration's api_key_ref sees it."""

    id: str
    name: str
    group_name: str
    auto_rotates: bool


KeySecretLookup = Callable[[str], "KeySecret | None"]
_lookup: list[KeySecretLookup] = []


def register_key_secret_lookup(lookup: KeySecretLookup) -> None:
    _lookup[:] = [lookup]


def key_secret(secret_id: str) -> KeySecret | None:
    """The IAM credentials secret with this id, or None (also when nothing is registered)."""
    return _lookup[0](secret_id) if _lookup else None
