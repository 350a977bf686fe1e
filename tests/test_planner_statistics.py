"""The query planner's statistics (console/planner_statistics.py): the hourly
`database-statistics` schedule ANALYZEs SQLite, after which a Secrets page of a user who reads
most groups walks the default order's index instead of sorting every row of those groups."""

from __future__ import annotations

import pytest
from django.db import connection

from console.tasks import refresh_planner_statistics
from engines_app.schedules import SCHEDULES
from secrets_app import selectors
from secrets_app.models import SecretGroup
from tests.factories import create_group
from tests.secrets.test_table_scale import add_secrets

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's statistics")


def test_the_statistics_are_refreshed_every_hour():
    funcs = {s.name: (s.func, s.minutes) for s in SCHEDULES}
    assert funcs["database-statistics"] == ("console.tasks.refresh_planner_statistics", 60)


def secret_table_stats() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return []
        cursor.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'secrets_app_secret'")
        return cursor.fetchall()


def page_plan(**filters) -> str:
    queryset = selectors.secret_table(**filters).values_list("pk")[:25]
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


@sqlite_only
def test_analyze_gives_the_planner_the_figures_it_needs():
    groups = [create_group(name=f"bulk-{i:02d}") for i in range(20)]
    add_secrets(2000, groups=groups)
    readable = set(SecretGroup.objects.exclude(pk=groups[0].pk).values_list("pk", flat=True))
    # Without figures SQLite takes the group index and sorts every secret of 19 groups.
    assert secret_table_stats() == []
    assert "USE TEMP B-TREE FOR ORDER BY" in page_plan(readable_group_ids=readable)

    assert refresh_planner_statistics().startswith("planner statistics refreshed in ")

    stats = dict(secret_table_stats())
    assert stats and all(stat.split()[0] == "2000" for stat in stats.values())
    after = page_plan(readable_group_ids=readable)
    assert "USE TEMP B-TREE FOR ORDER BY" not in after and "secrets_app_secret_walk" in after


@pytest.mark.skipif(connection.vendor == "sqlite", reason="PostgreSQL keeps its own")
def test_postgresql_keeps_its_statistics_itself():
    assert refresh_planner_statistics() == "planner statistics: kept by the database itself"
