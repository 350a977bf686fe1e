"""SQLite's exact search index (migration 0014, secrets_app/search_index.py): it holds the rows
the Secrets table shows, lower-cased as SQLite's LIKE compares, so a search alone counts its
matches on the index (search_index.exact_ids) and gets the secrets the search's own conditions
get: no more (other cases of non-ASCII letters, deleted secrets, configuration probes) and no
fewer (ASCII letters in any case, labels, ids)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engines_app.providers.iam import get_iam
from secrets_app import search_index
from secrets_app.models import Secret
from secrets_app.selectors import COUNT_CAP, _search_terms, secret_table
from secrets_app.services.deletion import secret_delete
from secrets_app.services.editing import secret_metadata_update
from secrets_app.table_page import secret_table_page
from tests.factories import create_group, create_secret

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 index"),
]


def exact(search: str) -> set[str] | None:
    """The names of the secrets the exact index alone gives for `search` (None: it cannot)."""
    found = search_index.exact_matches(connection, search, _search_terms(search)[1], 1000)
    if found is None:
        return None
    names = Secret.all_objects.filter(pk__in=search_index.secrets_of(found)).values_list("name")
    assert len(names) == len(found), "one secret for each of the index's rows"
    return {name for (name,) in names}


def searched(search: str) -> set[str]:
    """The names the search's own conditions give, without the index (the walk's query)."""
    return set(secret_table(search=search, many_matches=True).values_list("name", flat=True))


@pytest.fixture
def secrets() -> dict[str, Secret]:
    made = {
        name: create_secret(name=name, labels=labels, description=description)
        for name, labels, description in [
            ("Kelvin-scale", ["Temp-Unit"], "Degrees K"),
            ("cafe-menu", ["ÉTÉ-2026"], "Café Crème"),
            ("quoted", ["a_b"], 'a quote"d word, 50% off'),
            ("two-labels", ["alpha", "beta"], "line one\nline two"),
            ("unicode-secret", ["東京都"], "日本語 text"),
        ]
    }
    made["probe"] = create_secret(name="probe-of-kelvin")
    Secret.objects.filter(pk=made["probe"].pk).update(probe=True)
    return made


TERMS = [
    "kelvin",
    "KELVIN",
    "\u212aelvin",  # the Kelvin sign: str.lower() makes it "k", LIKE does not fold it
    "temp-unit",
    "été",  # the label is ÉTÉ: LIKE folds no accented letter, and neither does the index
    "ÉTÉ",
    "CAFÉ",
    "café",
    "crème",
    'quote"d',
    "50%",
    "a_b",
    "alpha",
    "one\nline",  # not this one: the index cannot tell (below)
    "line one",
    "日本語",
    "東京都",
    "東京",  # two characters: no trigram, so the index cannot tell
    "probe-of",
    "zzz-nothing",
]


@pytest.mark.parametrize("term", TERMS)
def test_the_exact_index_finds_what_the_search_conditions_find(secrets, term):
    found = exact(term)
    if "\n" in term:
        assert found is None, "labels are one a line in the index: a line break could span two"
    elif len(term) < search_index.TRIGRAM:
        assert found is None
    else:
        assert found == searched(term), term
    assert "probe-of-kelvin" not in (found or set())


def test_ids_are_found_in_any_case_and_with_or_without_dashes(secrets):
    secret = secrets["quoted"]
    dashed = str(secret.pk)
    for term in (dashed[:13], dashed[:13].upper(), secret.pk.hex[4:20], secret.pk.hex[-8:]):
        assert exact(term) == searched(term) and "quoted" in (exact(term) or set()), term


def test_a_secret_leaves_the_exact_index_when_the_table_stops_showing_it(owner, secrets):
    manager = get_iam().principal_for_user(owner)
    secret_metadata_update(
        principal=manager, secret_id=secrets["quoted"].pk, changes={"name": "Renamed-Quote"}
    )
    assert exact("renamed-q") == {"Renamed-Quote"} and exact("quoted") == set()
    secret_delete(principal=manager, secret_id=secrets["two-labels"].pk)
    assert exact("alpha") == set() == searched("alpha")
    # A secret kept as deleted (its delete tasks still to run) is out of the index, and back
    # if the mark is lifted.
    Secret.all_objects.filter(pk=secrets["cafe-menu"].pk).update(deleted_at=timezone.now())
    assert exact("cafe") == set()
    Secret.all_objects.filter(pk=secrets["cafe-menu"].pk).update(deleted_at=None)
    assert exact("cafe") == {"cafe-menu"}
    Secret.objects.filter(pk=secrets["probe"].pk).update(probe=False)
    assert exact("probe-of") == {"probe-of-kelvin"}


def test_the_index_holds_lower_cased_text_of_shown_secrets_only(secrets):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name, labels FROM {search_index.FTS_TABLE}")
        rows = set(cursor.fetchall())
    assert ("kelvin-scale", "temp-unit") in rows
    assert ("cafe-menu", "ÉtÉ-2026") in rows, "SQLite's lower() folds ASCII letters only"
    assert ("two-labels", "alpha\nbeta") in rows
    assert len(rows) == Secret.objects.filter(probe=False).count()


def test_a_search_alone_counts_on_the_index_without_reading_a_secret(secrets):
    for i in range(COUNT_CAP + 5):
        create_secret(name=f"bulk-kelvin-{i:03d}")
    with CaptureQueriesContext(connection) as captured:
        page = secret_table_page(page=1, page_size=25, search="KELVIN")
    assert not page.count_exact and page.count == COUNT_CAP and len(page.rows) == 25
    count_sql = captured.captured_queries[0]["sql"]
    assert search_index.FTS_TABLE in count_sql and count_sql.startswith("SELECT rowid")
    assert 'secrets_app_secret"' not in count_sql, "the count joins no secret"
    assert len(captured.captured_queries) == 2, "the count, then the walk of the newest rows"
    names = [row["name"] for row in page.rows]
    assert names == list(secret_table(search="KELVIN").values_list("name", flat=True)[:25])


def test_a_search_below_the_cap_reads_its_rows_through_the_index(secrets):
    with CaptureQueriesContext(connection) as captured:
        page = secret_table_page(page=1, page_size=25, search="KELVIN")
    assert (
        page.count_exact and page.count == 1 and [r["name"] for r in page.rows] == ["Kelvin-scale"]
    )
    count, rows = (q["sql"] for q in captured.captured_queries)
    assert count.startswith("SELECT rowid") and 'secrets_app_secret"' not in count
    assert f"IN (SELECT secret_id FROM {search_index.FTS_TABLE} WHERE rowid IN (" in rows
    assert secret_table_page(page=1, page_size=25, search="zzz-none").count == 0


def test_a_viewer_of_some_groups_still_counts_on_the_join(secrets):
    """The exact index holds every group's secrets: a viewer who may read only some of them
    counts on the join, which tests each secret's group."""
    other = create_group(name="other-team")
    create_secret(name="kelvin-elsewhere", group=other)
    with CaptureQueriesContext(connection) as captured:
        page = secret_table_page(
            page=1, page_size=25, search="kelvin", readable_group_ids={"default"}
        )
    assert [row["name"] for row in page.rows] == ["Kelvin-scale"] and page.count == 1
    (count, *_) = (q["sql"] for q in captured.captured_queries)
    assert search_index.FTS_TABLE in count and 'secrets_app_secret"."secret_group_id" IN' in count
    nothing = secret_table_page(page=1, page_size=25, search="kelvin", readable_group_ids=set())
    assert nothing.count == 0 and nothing.rows == []
    everyone = secret_table_page(page=1, page_size=25, search="kelvin")
    assert {row["name"] for row in everyone.rows} == {"Kelvin-scale", "kelvin-elsewhere"}


def test_the_migration_back_and_forth_keeps_the_answers(secrets):
    before = {term: searched(term) for term in TERMS}
    search_index.make_inexact(connection)
    assert exact("kelvin") == {"Kelvin-scale", "probe-of-kelvin"}, "the old index: every row"
    assert {t: searched(t) for t in TERMS} == before
    search_index.make_exact(connection)
    assert exact("kelvin") == {"Kelvin-scale"}
    assert {t: searched(t) for t in TERMS} == before


def test_a_repair_puts_back_the_exact_triggers(secrets):
    with connection.cursor() as cursor:
        for name in search_index.SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")
    create_secret(name="Made-While-Unindexed")
    assert search_index.search_index_repair(connection) is True
    assert exact("made-while") == {"Made-While-Unindexed"}
    assert exact("probe-of") == set(), "refilled with the shown secrets only"
