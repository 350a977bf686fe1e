"""Secret versions: the /api/v2 operations of sm-api.md §2."""

from __future__ import annotations

from secrets_app.api.base import ApiRouter

router = ApiRouter(tags=["Secret versions"])
