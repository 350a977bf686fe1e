"""Moved to console.validation (the kernel); this name stays until every import is updated."""

from __future__ import annotations

from console.validation import *  # noqa: F403
