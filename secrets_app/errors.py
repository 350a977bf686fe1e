"""Moved to console.errors (the kernel); this name stays until every import is updated."""

from __future__ import annotations

from console.errors import *  # noqa: F403
