"""Fixtures of the version history tests: those of the secret pages (a group, a client per role,
a secret of each type made through the services)."""

from __future__ import annotations

from tests.secrets.conftest import (  # noqa: F401  (fixtures)
    CANARY,
    arbitrary,
    clients,
    custom,
    custom_world,
    group,
    iam,
    iam_engine,
)
