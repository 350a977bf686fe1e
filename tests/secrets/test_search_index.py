"""The search index (secrets_app/search_index.py) stays in step with every write of secrets:
creates, renames, description and label edits, bulk inserts and deletes; on SQLite it repairs
itself after a table rebuild drops its triggers. The index only narrows: the table's search
answers the same with or without it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from engines_app.providers.iam import get_iam
from secrets_app import search_index
from secrets_app.models import Secret, SecretLabel, SecretType
from secrets_app.selectors import secret_table
from secrets_app.services.deletion import secret_delete
from secrets_app.services.editing import secret_metadata_update
from tests.factories import create_secret

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the FTS5 table and its triggers are SQLite's"
)


def indexed(term: str) -> set[str]:
    """The names of the secrets that the index (alone) gives as candidates for `term`."""
    narrowed = search_index.narrow(Secret.all_objects.all(), [term])
    assert narrowed.query.where or narrowed.query.extra_tables, "the index was not asked"
    return set(narrowed.values_list("name", flat=True))


@pytest.fixture
def manager(owner):
    return get_iam().principal_for_user(owner)


def test_the_index_follows_creates_renames_label_edits_and_deletes(manager):
    secret = create_secret(name="alpha-orders", labels=["blue-team"], description="Card token")
    create_secret(name="beta-billing", labels=["red-team"])
    assert indexed("pha-ord") == {"alpha-orders"}
    assert indexed("BLUE-T") == {"alpha-orders"}
    assert indexed("card tok") == {"alpha-orders"}
    assert indexed("-team") == {"alpha-orders", "beta-billing"}

    secret_metadata_update(principal=manager, secret_id=secret.pk, changes={"name": "gamma-pay"})
    assert indexed("alpha") == set() and indexed("gamma-p") == {"gamma-pay"}
    assert indexed("blue-team") == {"gamma-pay"}, "a rename keeps the other columns"

    secret_metadata_update(
        principal=manager, secret_id=secret.pk, changes={"labels": ["green-zone", "prod-eu"]}
    )
    assert indexed("blue-team") == set()
    assert indexed("green-zone") == indexed("prod-eu") == {"gamma-pay"}

    secret_metadata_update(
        principal=manager, secret_id=secret.pk, changes={"description": "Webhook signing"}
    )
    assert indexed("card tok") == set() and indexed("hook sig") == {"gamma-pay"}

    secret_delete(principal=manager, secret_id=secret.pk)
    assert indexed("gamma") == set() and indexed("green-zone") == set()
    assert indexed("-team") == {"beta-billing"}


def test_the_index_follows_bulk_inserts_and_finds_ids():
    rows = [
        Secret(name=f"bulk-{i}", secret_type=SecretType.ARBITRARY, secret_group_id="default")
        for i in range(3)
    ]
    Secret.objects.bulk_create(rows)
    SecretLabel.objects.bulk_create([SecretLabel(secret=rows[0], name="x-ray")])
    assert indexed("bulk-") == {"bulk-0", "bulk-1", "bulk-2"}
    hex_id = rows[1].pk.hex
    assert "bulk-1" in indexed(hex_id[5:17])


@sqlite_only
def test_the_index_holds_one_row_per_secret():
    for i in range(4):
        create_secret(name=f"counted-{i}", labels=["a1", "b2"])
    secret = Secret.objects.get(name="counted-0")
    Secret.objects.filter(pk=secret.pk).update(name="counted-renamed")
    Secret.objects.filter(pk=secret.pk).update(versions_total=9)  # not a searched column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret_id, name, labels FROM {search_index.FTS_TABLE}")
        rows = cursor.fetchall()
    assert len(rows) == Secret.all_objects.count()
    assert (secret.pk.hex, "counted-renamed", "a1\nb2") in rows


@sqlite_only
def test_a_table_rebuild_that_drops_the_triggers_is_repaired():
    create_secret(name="before-rebuild")
    with connection.cursor() as cursor:
        for name in search_index.SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")  # what a table rebuild does to them
    create_secret(name="while-unindexed")
    assert indexed("while-unind") == set()
    assert search_index.search_index_repair(connection) is True
    assert indexed("while-unind") == {"while-unindexed"}
    assert indexed("before-rebu") == {"before-rebuild"}
    assert search_index.search_index_repair(connection) is False, "whole again: nothing to do"
    create_secret(name="after-repair")
    assert indexed("after-rep") == {"after-repair"}


SEARCHES = [
    "svc",
    "SVC-1",
    "needle",
    "eu-",
    "US-SOUTH",  # in a label only, in another case
    "de",
    'quote"d',
    "50%",
    "a_b",
    "xy",
    "日本語",
    "Ünï",
]


@pytest.mark.parametrize("term", SEARCHES)
def test_the_search_answers_the_same_with_and_without_the_index(term):
    for name, labels, description in [
        ("svc-1-needle", ["eu-de"], "first"),
        ("svc-2", ["us-south"], "second"),
        ("quoted", [], 'a quote"d word'),
        ("rate-50", ["a_b"], "rate 50% off"),
        ("axyb", ["日本語-label"], "third"),
        ("unicode", ["x1"], "Ünïcode text"),
    ]:
        create_secret(name=name, labels=labels, description=description)
    with_index = list(secret_table(search=term).values_list("name", flat=True))
    without = list(secret_table(search=term, many_matches=True).values_list("name", flat=True))
    assert with_index == without


def test_the_table_search_finds_what_the_index_narrowed(owner_client):
    secret = create_secret(name="payments-prod", labels=["pci-zone"], description="Stripe key")
    create_secret(name="other")
    url = reverse("secrets:list")
    for term in ["payments", "PCI-ZONE", "stripe", str(secret.pk)[:13], "ts-pr"]:
        html = owner_client.get(url, {"q": term}).content.decode()
        assert "payments-prod" in html and ">other<" not in html, term


def _trigram_index_options() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE relname = %s", [search_index.PG_INDEX]
        )
        return list(cursor.fetchone()[0] or [])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's GIN index")
def test_the_trigram_index_has_no_pending_list_for_searches_to_read():
    """Writes update the index itself, so a search reads no list of recent writes; migration
    0012 turns the list off on an index made with one and merges what it holds."""
    assert "fastupdate=off" in _trigram_index_options()
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER INDEX {search_index.PG_INDEX} SET (fastupdate = on)")
    create_secret(name="pending-entry")
    search_index.turn_off_pending_list(connection)
    assert "fastupdate=off" in _trigram_index_options()
    assert indexed("pending-entry") == {"pending-entry"}


def _trigram_index_definition() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", [search_index.PG_INDEX]
        )
        return str(cursor.fetchone()[0])


def _search_text_column() -> tuple[str, str] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT is_generated, generation_expression FROM information_schema.columns "
            "WHERE table_name = 'secrets_app_secret' AND column_name = %s",
            [search_index.PG_COLUMN],
        )
        row = cursor.fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's stored column")
def test_on_postgresql_the_index_is_on_a_stored_column_that_follows_each_write(manager):
    """Migration 0013: the search text is a generated column the database stores with each
    row (so a walk tests it instead of computing it), and the trigram index is on it; a count
    of the candidates reads that index."""
    generated, expression = _search_text_column() or ("", "")
    assert generated == "ALWAYS" and search_index.PG_FUNCTION in expression
    assert f"gin ({search_index.PG_COLUMN} gin_trgm_ops)" in _trigram_index_definition()
    secret = create_secret(name="stored-orders", labels=["Blue-Team"], description="Card")
    secret_metadata_update(
        principal=manager,
        secret_id=secret.pk,
        changes={"name": "stored-invoices", "labels": ["green-team"]},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {search_index.PG_COLUMN} FROM secrets_app_secret WHERE id = %s", [secret.pk]
        )
        (text,) = cursor.fetchone()
    assert "STORED-INVOICES" in text and "GREEN-TEAM" in text and "BLUE-TEAM" not in text
    narrowed = search_index.narrow(Secret.all_objects.all(), ["invoices"])
    sql, params = narrowed.order_by().values("pk").query.get_compiler("default").as_sql()
    with connection.cursor() as cursor:
        # A table of a few rows would otherwise be read whole, or through another index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("ANALYZE secrets_app_secret")
        cursor.execute(f"EXPLAIN SELECT COUNT(*) FROM ({sql}) AS counted", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Bitmap Index Scan on {search_index.PG_INDEX}" in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's stored column")
def test_on_postgresql_migration_0013_goes_back_to_the_index_on_the_function_and_forth():
    # (Before any write: PostgreSQL alters no table with deferred constraint checks pending.)
    search_index.unstore_search_text(connection)
    assert _search_text_column() is None
    assert f"{search_index.PG_FUNCTION}(" in _trigram_index_definition()
    search_index.store_search_text(connection)
    assert _search_text_column() is not None
    assert f"gin ({search_index.PG_COLUMN} gin_trgm_ops)" in _trigram_index_definition()
    create_secret(name="there-and-back")
    assert indexed("there-and") == {"there-and-back"}
