"""The query planner's statistics: kept fresh on SQLite, which has no daemon that does it.

PostgreSQL's autovacuum analyses a table as it changes. SQLite analyses only when told to, and
without statistics its planner guesses: at 100k secrets it took the secret group (or type)
index for a Secrets page of a user who reads 19 of 20 groups, or filters by type, and sorted
every matching row, 110 to 150 ms a page; with statistics it walks the order's index, 1 to 4
ms (issue 13's profile). `ANALYZE` reads every index once (0.2 s at 100k secrets, done while
other connections read on, WAL) and writes its figures in one short transaction; an
approximate one (`PRAGMA analysis_limit`) was measured too, and did not change these plans.
So the `database-statistics` schedule runs it every hour (engines_app/schedules.py).
"""

from __future__ import annotations

import logging
import time

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)


def planner_statistics_refresh(*, using: str = DEFAULT_DB_ALIAS) -> float | None:
    """ANALYZE the SQLite database `using`; the seconds it took, or None where the database
    keeps its statistics itself (PostgreSQL)."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return None
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    took = time.perf_counter() - started
    logger.info("SQLite planner statistics refreshed in %.2f s.", took)
    return took
