"""The Secrets table's search index: a trigram index over what the search looks in.

The search (secrets_app.selectors.secret_table) looks for a substring in a secret's name, description, type,
labels and id. `LIKE '%q%'` cannot use a B-tree index, so each database gets a trigram index of
its own, which finds the candidate rows; the search's exact conditions then keep only the rows
that really match. Candidates are always a superset of the matches, so the index narrows the
search and never changes its answer:

- SQLite: an FTS5 table with the trigram tokenizer (`secrets_app_secret_search`), one row per
  secret (its id as 32 hex digits, name, description, type, labels one a line), kept in step
  with every write of the secrets table by triggers: creates, bulk inserts, renames, label
  edits and deletes alike, whatever code does them. A later migration that rebuilds the secrets
  table (as SQLite's schema editor does for most column changes) drops its triggers; the
  post_migrate check (`search_index_repair`) puts them back and refills the index.
  Since migration 0014 the index is exact: it holds only the secrets the table shows (live,
  not configuration probes), their text lower-cased by SQLite's lower() (ASCII letters only),
  with a case-sensitive tokenizer, and is asked for the term lower-cased the same way
  (`ascii_lower`). SQLite's LIKE ignores the case of ASCII letters only, so a row holds a term
  as the index says exactly when the search's LIKE conditions hold, and a search alone counts
  its matches on the index without reading a secret (`exact_matches`: 0.26 ms against
  0.93 ms for the join for "payments" at 100k secrets, issue 13's profile).
- PostgreSQL: a stored generated column (`search_text`, migration 0013) holding one immutable
  function of the same columns, upper-cased, and a GIN `pg_trgm` index on it, both of which the
  database keeps in step itself; the index without GIN's pending list (`fastupdate = off`,
  migration 0012), which every search would otherwise read whole. The column is not a model
  field: only the search reads it. Without the pg_trgm extension (and the right to create it)
  the column is still there and the search still answers, without the index.

A search term shorter than three characters has no trigram; the search then reads the table.

When a search or label filter matches many secrets, the table reads its page by walking the
default order and testing each row (secrets_app.table_page). On SQLite that walk has an index of
its own (`secrets_app_secret_walk`, migration 0010): the default order's columns followed by
every column the table's filters test and its rows show, over the rows it shows, so the walk
reads the index alone instead of a table row per secret tested (issue 13's profile: 712 rows
read for a page of "payments" at 100k secrets, 1.7 ms cold, 0.3 ms on this index). PostgreSQL
plans its own way (a B-tree entry there is limited in size, and labels are not). A table
rebuild drops this index too; the same repair puts it back.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

if TYPE_CHECKING:
    from secrets_app.models import Secret

logger = logging.getLogger(__name__)

FTS_TABLE = "secrets_app_secret_search"
PG_FUNCTION = "secrets_app_search_text"
PG_INDEX = "secrets_app_secret_search_trgm"
PG_COLUMN = "search_text"
TRIGRAM = 3  # a term shorter than this has no trigram to look up
# The migration that made SQLite's index exact (lower-cased, case-sensitive, live rows only).
EXACT_MIGRATION = ("secrets_app", "0014_exact_search_index")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Characters that JSON writes escaped: a term holding one may not appear as such in the labels'
# JSON text, so PostgreSQL's index is not asked for it.
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')

# SQLite ------------------------------------------------------------------------------------

_SQLITE_COLUMNS = f"{FTS_TABLE}(secret_id, name, description, secret_type, labels)"
_SQLITE_LABELS = "(SELECT group_concat(value, char(10)) FROM json_each({row}.labels))"
# Before migration 0014: every secret, as it is (the tokenizer ignores case).
_SQLITE_INSERT = (
    f"INSERT INTO {_SQLITE_COLUMNS} "
    "VALUES ({row}.id, {row}.name, {row}.description, {row}.secret_type, " + _SQLITE_LABELS + ")"
)
# Since 0014: the rows the table shows, lower-cased as SQLite's LIKE compares.
_SQLITE_EXACT_INSERT = (
    f"INSERT INTO {_SQLITE_COLUMNS} "
    "SELECT {row}.id, lower({row}.name), lower({row}.description), lower({row}.secret_type), "
    "lower(" + _SQLITE_LABELS + ") WHERE {row}.deleted_at IS NULL AND NOT {row}.probe"
)
# The row of a secret, found through the index of its id column (a full-table scan otherwise).
_SQLITE_DELETE = (
    f"DELETE FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH 'secret_id : \"' || OLD.id || '\"' "
    "AND secret_id = OLD.id"
)
_SEARCHED = ("id", "name", "description", "secret_type", "labels")


def _sqlite_triggers(*, exact: bool) -> dict[str, str]:
    """The triggers that keep the index in step: the exact index also follows a secret's
    deletion mark and probe flag (a row leaves it when the table stops showing the secret)."""
    insert = _SQLITE_EXACT_INSERT if exact else _SQLITE_INSERT
    columns = (*_SEARCHED, "deleted_at", "probe") if exact else _SEARCHED
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in columns)
    return {
        f"{FTS_TABLE}_insert": (
            "AFTER INSERT ON secrets_app_secret BEGIN " + insert.format(row="NEW") + "; END"
        ),
        f"{FTS_TABLE}_update": (
            f"AFTER UPDATE OF {', '.join(columns)} ON secrets_app_secret WHEN {changed} "
            f"BEGIN {_SQLITE_DELETE}; " + insert.format(row="NEW") + "; END"
        ),
        f"{FTS_TABLE}_delete": f"AFTER DELETE ON secrets_app_secret BEGIN {_SQLITE_DELETE}; END",
    }


SQLITE_TRIGGERS = _sqlite_triggers(exact=True)
# The walk's index: the default order (as the `secret_live_by_updated` index), then what the
# walk tests and reads, so SQLite's planner finds it covering and reads no table row.
WALK_INDEX = "secrets_app_secret_walk"
WALK_MIGRATION = ("secrets_app", "0010_search_walk_index")
_WALK_COLUMNS = (
    "updated_at DESC",
    "id",
    "name",
    "description",
    "secret_type",
    "labels",
    "secret_group_id",
    "state",
    "expiration_date",
    "created_at",
    "deleted_at",
    "probe",
)
_WALK_INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS {WALK_INDEX} ON secrets_app_secret ({', '.join(_WALK_COLUMNS)}) "
    'WHERE ("deleted_at" IS NULL AND NOT "probe")'
)
_SQLITE_FILL = (
    f"INSERT INTO {_SQLITE_COLUMNS} "
    "SELECT s.id, s.name, s.description, s.secret_type, "
    + _SQLITE_LABELS.format(row="s")
    + " FROM secrets_app_secret AS s"
)
_SQLITE_EXACT_FILL = (
    f"INSERT INTO {_SQLITE_COLUMNS} "
    "SELECT s.id, lower(s.name), lower(s.description), lower(s.secret_type), lower("
    + _SQLITE_LABELS.format(row="s")
    + ") FROM secrets_app_secret AS s WHERE s.deleted_at IS NULL AND NOT s.probe"
)

# PostgreSQL --------------------------------------------------------------------------------

# Upper-cased, as the search's own conditions compare (Django's icontains: UPPER(x) LIKE
# UPPER(pattern)); one line per column, so a term never spans two of them. The labels are the
# jsonb column's text (["a", "b"]): stored with each row (migration 0013), and holding
# every label as it is except for the characters JSON escapes (", \ and control characters),
# which is why a term holding one of those is not looked up in this index (`narrow`).
_PG_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}(
    name text, description text, secret_type text, labels jsonb, id uuid
) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT upper(
        name || chr(10) || description || chr(10) || secret_type || chr(10)
        || coalesce(labels::text, '') || chr(10) || replace(id::text, '-', '')
    )
$$
"""
_PG_COLUMNS = "name, description, secret_type, labels, id"
# Without GIN's pending list (fastupdate): with it, writes went to an unsorted list that every
# search read whole until a VACUUM merged it, up to gin_pending_list_limit (4 MB). A bulk-seeded
# table's list held every row: 250 pages at 1k secrets, and at 100k most of a search's time
# (issue 13's profile). A write now updates the index itself, a few dozen trigram entries.
_PG_INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON secrets_app_secret "
    f"USING gin ({PG_FUNCTION}({_PG_COLUMNS}) gin_trgm_ops) WITH (fastupdate = off)"
)
# The function's value stored with each row (migration 0013), and the index on that column.
# Stored, a walk of the default order (secrets_app.table_page) tests one column with LIKE
# before the search's exact conditions, instead of those conditions' UPPER() of four columns
# and the labels' JSON text on every row it reads (1.4 µs a row); the capped count's recheck
# reads it instead of computing it. A search of "payments" at 100k secrets went from 4.7 to
# 3.5 ms (issue 13's profile: the walk of 712 rows from 3.2 to 1.1 ms). A later migration that
# changes the type of one of these columns must drop the column first and add it back.
_PG_COLUMN_SQL = (
    f"ALTER TABLE secrets_app_secret ADD COLUMN IF NOT EXISTS {PG_COLUMN} text "
    f"GENERATED ALWAYS AS ({PG_FUNCTION}({_PG_COLUMNS})) STORED"
)
_PG_COLUMN_INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON secrets_app_secret "
    f"USING gin ({PG_COLUMN} gin_trgm_ops) WITH (fastupdate = off)"
)


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the index on this database and fill it (migration 0009; on SQLite as it was
    then, which migration 0014 makes exact)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            _sqlite_build(cursor, exact=False)
        elif connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION_SQL)
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                    cursor.execute(_PG_INDEX_SQL)
            except DatabaseError as exc:
                logger.warning(
                    "No trigram index for the secrets search (the pg_trgm extension is missing "
                    "or may not be created by this database user: %s). Searches still answer, "
                    "by reading the whole table; create the extension and migrate again.",
                    exc.__class__.__name__,
                )


def turn_off_pending_list(connection: BaseDatabaseWrapper) -> None:
    """PostgreSQL: an index made before _PG_INDEX_SQL said fastupdate = off gets that setting,
    and what its pending list holds is merged into it (migration 0012). Nothing without the
    index (no pg_trgm) or elsewhere."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [PG_INDEX])
        if not cursor.fetchone()[0]:
            return
        cursor.execute(f"ALTER INDEX {PG_INDEX} SET (fastupdate = off)")
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [PG_INDEX])


def store_search_text(connection: BaseDatabaseWrapper) -> None:
    """PostgreSQL: the search text as a stored column, and the trigram index on that column
    instead of the function (migration 0013; the index only where pg_trgm is). Nothing
    elsewhere."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(_PG_COLUMN_SQL)
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [PG_INDEX])
        if cursor.fetchone()[0]:
            cursor.execute(f"DROP INDEX {PG_INDEX}")
            cursor.execute(_PG_COLUMN_INDEX_SQL)


def unstore_search_text(connection: BaseDatabaseWrapper) -> None:
    """PostgreSQL: back to the index on the function, without the column."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [PG_INDEX])
        indexed = cursor.fetchone()[0]
        cursor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        cursor.execute(f"ALTER TABLE secrets_app_secret DROP COLUMN IF EXISTS {PG_COLUMN}")
        if indexed:
            cursor.execute(_PG_INDEX_SQL)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        elif connection.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
            cursor.execute(f"ALTER TABLE secrets_app_secret DROP COLUMN IF EXISTS {PG_COLUMN}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}(text, text, text, jsonb, uuid)")


def install_walk_index(connection: BaseDatabaseWrapper) -> None:
    """Create the walk's index on SQLite (migration 0010); nothing elsewhere."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(_WALK_INDEX_SQL)


def uninstall_walk_index(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {WALK_INDEX}")


def make_exact(connection: BaseDatabaseWrapper) -> None:
    """SQLite: the index rebuilt exact (migration 0014); nothing elsewhere."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            _sqlite_build(cursor, exact=True)


def make_inexact(connection: BaseDatabaseWrapper) -> None:
    """SQLite: the index rebuilt as before migration 0014; nothing elsewhere."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            _sqlite_build(cursor, exact=False)


def _sqlite_build(cursor: CursorWrapper, *, exact: bool) -> None:
    """The FTS5 table made anew (a tokenizer cannot be changed in place), its triggers, and
    its rows."""
    for name in SQLITE_TRIGGERS:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
    cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    tokenizer = "trigram case_sensitive 1" if exact else "trigram"
    cursor.execute(
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
        f"secret_id, name, description, secret_type, labels, tokenize = '{tokenizer}')"
    )
    _sqlite_triggers_and_fill(cursor, exact=exact)


def _sqlite_triggers_and_fill(cursor: CursorWrapper, *, exact: bool) -> None:
    for name, body in _sqlite_triggers(exact=exact).items():
        cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"CREATE TRIGGER {name} {body}")
    cursor.execute(f"DELETE FROM {FTS_TABLE}")
    cursor.execute(_SQLITE_EXACT_FILL if exact else _SQLITE_FILL)


def search_index_repair(connection: BaseDatabaseWrapper) -> bool:
    """Put back the SQLite triggers if a table rebuild dropped them, and refill the index; put
    back the walk's index if the rebuild dropped it.

    Does nothing where the index is not installed (migration 0009, or 0010 for the walk's
    index, not applied) or is whole. Answers whether it repaired anything.
    """
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT type, name FROM sqlite_master WHERE name IN (%s, %s) OR (type = 'trigger' "
            "AND tbl_name = 'secrets_app_secret' AND name LIKE %s)",
            [FTS_TABLE, WALK_INDEX, f"{FTS_TABLE}%"],
        )
        found = {name for _, name in cursor.fetchall()}
        repaired = False
        applied: set[tuple[str, str]] | None = None
        if FTS_TABLE in found and not set(SQLITE_TRIGGERS) <= found:
            applied = _applied_migrations(connection)
            with transaction.atomic(using=connection.alias):
                _sqlite_triggers_and_fill(cursor, exact=EXACT_MIGRATION in applied)
            logger.warning(
                "The secrets search index lost its triggers; they are back and it is refilled."
            )
            repaired = True
        if WALK_INDEX not in found and WALK_MIGRATION in (
            applied if applied is not None else _applied_migrations(connection)
        ):
            cursor.execute(_WALK_INDEX_SQL)
            logger.warning("The secrets table lost the search walk's index; it is back.")
            repaired = True
    return repaired


def _applied_migrations(connection: BaseDatabaseWrapper) -> set[tuple[str, str]]:
    from django.db.migrations.recorder import MigrationRecorder

    return set(MigrationRecorder(connection).applied_migrations())


def repair_after_migrate(*, using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver (SecretsAppConfig.ready)."""
    search_index_repair(connections[using])


def answers(connection: BaseDatabaseWrapper, terms: list[str]) -> bool:
    """Whether SQLite's index finds the candidates for `terms` (each long enough for it)."""
    return connection.vendor == "sqlite" and bool(terms) and all(len(t) >= TRIGRAM for t in terms)


def narrow(qs: QuerySet[Secret], terms: list[str]) -> QuerySet[Secret]:
    """`qs` kept to the secrets that contain one of `terms` in a searched column, as the index
    says (maybe a few more: the search's exact conditions decide). `qs` itself when a term is
    too short for the index, or the database has none.

    On SQLite the index is joined rather than asked in a subquery, so a query that stops early
    (a capped count) reads only as many index rows as it needs. On PostgreSQL it is a LIKE on
    the stored column, cheap enough to test on each row a walk reads (`tests_each_row`).
    """
    if not terms or any(len(term) < TRIGRAM for term in terms):
        return qs
    vendor = connections[qs.db].vendor
    if vendor == "sqlite":
        match = _sqlite_any(terms)
        return qs.extra(
            tables=[FTS_TABLE],
            where=[f'{FTS_TABLE}.secret_id = "secrets_app_secret"."id"', f"{FTS_TABLE} MATCH %s"],
            params=[match],
        )
    if vendor == "postgresql":
        if any(_JSON_ESCAPED.search(term) for term in terms):
            return qs
        ops = connections[qs.db].ops
        patterns = [f"%{ops.prep_for_like_query(term)}%" for term in terms]
        column = f'"secrets_app_secret"."{PG_COLUMN}"'
        return qs.filter(
            RawSQL(
                "(" + " OR ".join(f"{column} LIKE UPPER(%s)" for _ in patterns) + ")",
                patterns,
                output_field=BooleanField(),
            )
        )
    return qs


def tests_each_row(connection: BaseDatabaseWrapper) -> bool:
    """Whether `narrow` suits a query that reads rows in the sort order and tests each one
    (PostgreSQL's stored column) rather than only one that asks the index (SQLite's join)."""
    return connection.vendor == "postgresql"


def candidates_over(connection: BaseDatabaseWrapper, terms: list[str], limit: int) -> bool | None:
    """Whether the index holds more than `limit` candidates for `terms` (read from the index
    alone, cheaply); None where that cannot be told (no index for these terms here)."""
    if not answers(connection, terms):
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s "
            "LIMIT %s)",
            [_sqlite_any(terms), limit + 1],
        )
        (found,) = cursor.fetchone()
    return bool(found > limit)


def exact_matches(
    connection: BaseDatabaseWrapper, search: str, hex_part: str, limit: int
) -> list[int] | None:
    """SQLite: the secrets the table shows whose name, description, type or a label holds
    `search`, or whose id holds `hex_part` (if any), as the search's own conditions say
    (secrets_app.selectors._matches): at most `limit` of them, in no order, as the index's row
    numbers (`secrets_of` gives their ids). Read on the exact index alone. None where the
    index cannot tell: another database, a term too short for it, or one holding a line break
    (the index keeps labels one a line, so such a term could span two labels there).

    Row numbers, not the secret_id column: each of that column's values is a lookup in the
    FTS5 table's content, which doubled the count's time (0.53 ms against 0.26 for "payments"
    at 100k secrets, issue 13's profile); past the cap they are only counted."""
    terms = [search, hex_part] if hex_part else [search]
    if not answers(connection, terms) or "\n" in search:
        return None
    match = "{name description secret_type labels} : " + _phrase(search)
    if hex_part:
        match += " OR secret_id : " + _phrase(hex_part)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s LIMIT %s", [match, limit]
        )
        return [number for (number,) in cursor.fetchall()]


def secrets_of(numbers: list[int]) -> RawSQL:
    """The ids of the secrets of these index rows (`exact_matches`), as a subquery for an
    `__in` lookup: one look-up in the index per row (SQLite plans it as a list, then a look-up
    of each secret by its primary key)."""
    marks = ", ".join(["%s"] * len(numbers))
    return RawSQL(f"SELECT secret_id FROM {FTS_TABLE} WHERE rowid IN ({marks})", numbers)


def ascii_lower(term: str) -> str:
    """`term` lower-cased as SQLite's lower() and LIKE do: ASCII letters only (str.lower() also
    folds others, such as the Kelvin sign to "k", which LIKE does not)."""
    return term.translate(_ASCII_LOWER)


def _phrase(term: str) -> str:
    """An FTS5 phrase for `term` as the exact index holds text: a substring, literally."""
    return '"' + ascii_lower(term).replace('"', '""') + '"'


def _sqlite_any(terms: list[str]) -> str:
    """A MATCH expression for the rows holding any of `terms` in any column (the candidates)."""
    return " OR ".join(_phrase(term) for term in terms)
