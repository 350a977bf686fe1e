"""The Secrets table's page read in its sort order (secrets_app.table_page): on SQLite the walk's
index (search_index.WALK_INDEX, migration 0010) holds every column that read tests and shows, so
it reads no table row; a table rebuild that drops the index is repaired; and the default
order's list, read that way, shows what the ids pass showed, on every page and past the cap.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from django.db import connection
from django.db.models import CharField
from django.db.models.functions import Cast
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from secrets_app import search_index, table_page
from secrets_app.forms import PAGE_SIZE
from secrets_app.models import Secret, SecretLabel, SecretState, SecretType
from secrets_app.selectors import _ROW_COLUMNS, COUNT_CAP, DEFAULT_SECRET_SORT, secret_table
from secrets_app.table_page import secret_table_page
from tests.factories import create_group
from tests.secrets.test_table_scale import add_secrets

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the walk's index is SQLite's"
)


def plan(queryset) -> str:
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def walk_index_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = %s",
            [search_index.WALK_INDEX],
        )
        return cursor.fetchone() is not None


WALKS = {
    "search": {"search": "svc"},
    "label": {"labels": ["common"]},
    "search and label": {"search": "svc", "labels": ["team-1"]},
    "id search": {"search": "00ab"},
    # (A type or group filter has an index of its own, which SQLite's planner prefers.)
    "state and expiry": {"states": [SecretState.ACTIVE], "expires_within": timedelta(days=7)},
    "no filter": {},
}


@sqlite_only
@pytest.mark.parametrize("filters", WALKS.values(), ids=WALKS.keys())
def test_the_walk_reads_its_index_alone(filters):
    groups = [create_group(name="bulk-a"), create_group(name="bulk-b")]
    add_secrets(30, groups=groups)
    walking = secret_table(**filters, many_matches=True).values_list(*_ROW_COLUMNS)[:PAGE_SIZE]
    assert f"COVERING INDEX {search_index.WALK_INDEX}" in plan(walking)


@sqlite_only
def test_a_table_rebuild_that_drops_the_walk_index_is_repaired(caplog):
    assert walk_index_exists(), "migration 0010 creates it"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {search_index.WALK_INDEX}")  # what a table rebuild does
    assert search_index.search_index_repair(connection) is True
    assert walk_index_exists()
    assert "walk's index" in caplog.text
    assert search_index.search_index_repair(connection) is False, "whole again: nothing to do"


@sqlite_only
def test_the_walk_index_is_not_put_back_before_its_migration(monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {search_index.WALK_INDEX}")
    monkeypatch.setattr(search_index, "_applied_migrations", lambda connection: set())
    assert search_index.search_index_repair(connection) is False
    assert not walk_index_exists()
    monkeypatch.undo()
    search_index.install_walk_index(connection)
    assert walk_index_exists()


def ids_pass_page(page: int, **filters) -> tuple[list[str], int, bool]:
    """The page as the ids pass reads it: the ids in the order up to the cap, then the slice."""
    limit = max(COUNT_CAP, page * PAGE_SIZE) + 1
    ids = list(
        secret_table(**filters)
        .annotate(key_text=Cast("pk", CharField()))
        .values_list("key_text", flat=True)[:limit]
    )
    exact = len(ids) < limit
    if exact:
        page = min(page, max(1, -(-len(ids) // PAGE_SIZE)))
    by_id = dict(Secret.objects.values_list("id", "name"))
    offset = (page - 1) * PAGE_SIZE
    shown = [by_id[UUID(key)] for key in ids[offset : offset + PAGE_SIZE]]
    return shown, (len(ids) if exact else limit - 1), exact


LISTS = {
    "all": {},
    "a type": {"secret_types": [SecretType.ARBITRARY]},
    "a state": {"states": [SecretState.DEACTIVATED]},
    "expiring": {"expires_within": timedelta(days=7)},
}


@pytest.mark.parametrize("filters", LISTS.values(), ids=LISTS.keys())
def test_the_default_order_read_in_order_shows_what_the_ids_pass_showed(filters):
    add_secrets(COUNT_CAP + 40)
    # Secrets updated at the same moment: the id breaks the tie, in both reads.
    Secret.objects.filter(name__endswith="7").update(updated_at=timezone.now())
    last = -(-(COUNT_CAP + 40) // PAGE_SIZE)
    for page in (1, 2, COUNT_CAP // PAGE_SIZE + 1, last, last + 5):
        read = secret_table_page(
            page=page, page_size=PAGE_SIZE, sort=DEFAULT_SECRET_SORT, **filters
        )
        shown, count, exact = ids_pass_page(page, **filters)
        assert [row["name"] for row in read.rows] == shown, (filters, page)
        assert (read.count, read.count_exact) == (count, exact), (filters, page)
        assert read.rows or not shown


def test_the_list_in_the_default_order_counts_past_the_cap_as_more_than(owner_client):
    add_secrets(COUNT_CAP + 30)
    html = owner_client.get(reverse("secrets:list")).content.decode()
    assert f"More than {COUNT_CAP} secrets" in html
    assert f"Page 1 of more than {COUNT_CAP // PAGE_SIZE}" in html
    assert 'rel="next"' in html


PAGED = {
    "search": {"search": "svc"},
    "search, some": {"search": "svc-001"},
    "id search": {"search": "0"},
    "search and label": {"search": "svc", "labels": ["team-1"]},
    "label": {"labels": ["common"]},
    "search, by name": {"search": "svc", "sort": "name"},
}


@pytest.mark.parametrize("filters", PAGED.values(), ids=PAGED.keys())
def test_a_page_read_by_walking_is_the_page_read_from_the_candidates(monkeypatch, filters):
    """With many candidates the page walks the sort order (and a search alone counts on the
    walk's own query); with few, it sorts the candidates. A search past the cap on SQLite first
    walks the newest rows alone (WALK_BOUND of them for each row wanted), and with none of
    those (a bound of 0: only the newest, who tie, 24 secrets) falls back to either. Every way
    reads the same page."""
    add_secrets(COUNT_CAP + 40)
    Secret.objects.filter(name__endswith="3").update(updated_at=timezone.now())
    last = -(-(COUNT_CAP + 40) // PAGE_SIZE)

    def pages(walk_after: int, walk_bound: int) -> list[tuple[list[str], int, bool, int]]:
        monkeypatch.setattr(table_page, "WALK_AFTER", walk_after)
        monkeypatch.setattr(table_page, "WALK_BOUND", walk_bound)
        read = []
        for page in (1, 2, COUNT_CAP // PAGE_SIZE + 1, last, last + 3):
            got = secret_table_page(page=page, page_size=PAGE_SIZE, **filters)
            read.append(([row["name"] for row in got.rows], got.count, got.count_exact, got.number))
        return read

    walked = pages(10, 100)
    assert walked == pages(10**9, 100)
    assert walked == pages(10, 0)
    assert walked == pages(10**9, 0)
    assert walked == pages(10, 1)
    assert any(rows for rows, *_ in walked)


@sqlite_only
def test_a_search_past_the_cap_dense_among_the_newest_reads_two_queries(monkeypatch):
    """Its capped count on the search index, then the walk of the newest rows: no look at the
    index's candidates first (table_page._sqlite_search_page). Sparse among the newest, it also
    asks the index how many candidates it holds, then reads the page from the sorted matches."""
    add_secrets(COUNT_CAP + 40)
    Secret.objects.filter(name__endswith="3").update(updated_at=timezone.now())

    def read(search: str) -> tuple[list[str], list[str]]:
        with CaptureQueriesContext(connection) as captured:
            got = secret_table_page(page=1, page_size=PAGE_SIZE, search=search)
        assert not got.count_exact and len(got.rows) == PAGE_SIZE
        return [row["name"] for row in got.rows], [q["sql"] for q in captured.captured_queries]

    dense, asked = read("svc")
    assert len(asked) == 2, asked
    assert search_index.FTS_TABLE in asked[0] and "LIMIT 201" in asked[0]
    assert "COALESCE((SELECT bound." in asked[1]
    assert dense == ids_pass_page(1, search="svc")[0]
    # "Token number 1": 111 of the 240 (1, 10-19, 100-199), past a cap of 50; of the first 25
    # rows (the 24 tied newest, whose numbers end in 3, and one more) 11 or 12 match.
    monkeypatch.setattr(table_page, "COUNT_CAP", 50)
    monkeypatch.setattr(table_page, "WALK_BOUND", 1)
    sparse, asked = read("Token number 1")
    assert len(asked) == 4, asked
    assert "COALESCE((SELECT bound." in asked[1]
    assert search_index.FTS_TABLE in asked[2] and "LIMIT 1001" in asked[2]
    assert sparse == ids_pass_page(1, search="Token number 1")[0]


SEARCHES = {
    "many matches": {"search": "svc"},
    "a label, many": {"search": "team-1"},
    "a label, upper case": {"search": "TEAM-1"},
    "a label, few": {"search": "rare-7"},
    "few": {"search": "needle"},
    "an id": {"search": "0"},
    "a wildcard, literally": {"search": "team_1"},
    "and a label filter": {"search": "svc", "labels": ["team-1"]},
    "in name order": {"search": "svc", "sort": "name"},
}


@pytest.mark.parametrize("filters", SEARCHES.values(), ids=SEARCHES.keys())
def test_a_search_page_is_the_page_of_its_sorted_matches(filters):
    """However a search reads its page (on PostgreSQL: a capped count, then a walk of the sort
    order past the cap), it is the page of all its matches sorted, with the same count."""
    add_secrets(COUNT_CAP + 40)
    Secret.objects.filter(name__endswith="3").update(updated_at=timezone.now())
    last = -(-(COUNT_CAP + 40) // PAGE_SIZE)
    for page in (1, 2, COUNT_CAP // PAGE_SIZE + 1, last, last + 3):
        read = secret_table_page(page=page, page_size=PAGE_SIZE, **filters)
        shown, count, exact = ids_pass_page(page, **filters)
        assert [row["name"] for row in read.rows] == shown, (filters, page)
        assert (read.count, read.count_exact) == (count, exact), (filters, page)


@pytest.mark.parametrize("term", ["team-1", "TEAM-1", "rare", "am-", "team_1", "%"])
def test_a_search_finds_the_secrets_whose_label_rows_hold_the_term(term):
    """The search looks in a secret's labels (on PostgreSQL in the row's labels column): it
    finds exactly the secrets whose label rows hold the term, case-insensitively, with LIKE's
    wildcards taken literally."""
    add_secrets(60)
    by_label = set(
        SecretLabel.objects.filter(name__icontains=term).values_list("secret__name", flat=True)
    )
    found = set(secret_table(search=term).values_list("name", flat=True))
    assert found == by_label
    assert (len(by_label) > 0) == (term not in {"team_1", "%"})


def enable_sort() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_sort")
        return str(cursor.fetchone()[0])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner setting")
@pytest.mark.parametrize(
    "in_transaction",
    [
        pytest.param(True, id="in a transaction"),
        pytest.param(False, id="autocommit", marks=pytest.mark.django_db(transaction=True)),
    ],
)
def test_a_search_past_the_cap_plans_without_sorts_for_its_page_alone(in_transaction):
    """The walk past the cap is planned with sorts off (table_page._read_without_sorts), in the
    same message as its query: the next query, on the same connection, may sort again."""
    add_secrets(COUNT_CAP + 40)
    assert connection.in_atomic_block is in_transaction
    with CaptureQueriesContext(connection) as captured:
        read = secret_table_page(page=2, page_size=PAGE_SIZE, search="svc")
    assert not read.count_exact and len(read.rows) == PAGE_SIZE
    assert [q["sql"].split(";")[0] for q in captured.captured_queries].count(
        "SET LOCAL enable_sort = off"
    ) == 1
    assert enable_sort() == "on"
    assert [row["name"] for row in read.rows] == ids_pass_page(2, search="svc")[0]
