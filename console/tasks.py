"""django-q2 entry points of the console app."""

from __future__ import annotations

from console.wizards import drafts_cleanup


def cleanup_wizard_drafts() -> str:
    return f"wizard drafts removed: {drafts_cleanup()}"
